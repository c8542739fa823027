//! Lots, gates, devices and bay readings.

use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;
use parking_app::ids::*;
use parking_app::rules;
use parking_app::*;

use super::DynamoStore;
use super::keys::{self, Item, body, n, s};
use super::reads::*;
use super::txn::{Cond, Step};
use parking_app::rules::SENSOR_RESTART_GAP;

impl LotStore for DynamoStore {
    /// One query of the index's `LOTS` partition.
    async fn lots(&self) -> StoreResult<Vec<Lot>> {
        let mut v: Vec<Lot> = self
            .query_index(keys::LOTS, None)
            .await?
            .into_iter()
            .map(body)
            .collect::<StoreResult<_>>()?;
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    /// One transaction: the lot, if still at the revision before, and its
    /// audit entry.
    async fn update_lot(&self, lot: &Lot, audit: &AuditEntry) -> StoreResult<()> {
        let prev = lot.revision.saturating_sub(1);
        let guard = if prev == 0 {
            Cond::new("attribute_exists(PK) AND (attribute_not_exists(#rev) OR #rev = :prev)")
        } else {
            Cond::new("attribute_exists(PK) AND #rev = :prev")
        }
        .names(&[("#rev", "revision")])
        .value(":prev", n(prev));
        let txn = self
            .txn(None)
            .put(Step::Lot, keys::lot_listed(&lot.id).item(lot)?, Some(guard))?
            .put(Step::Audit, keys::audit(audit).item(audit)?, None)?;
        match txn.run(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Refusal::StaleLot {
                lot_id: lot.id.clone(),
                revision: prev,
            }
            .into()),
        }
    }

    async fn put_tariff(&self, tariff: &TariffRecord) -> StoreResult<()> {
        self.put_plain(&keys::tariff(&tariff.id), tariff).await
    }

    /// Two reads: the lot's partition (lot, gates, devices) and its
    /// tariff. Callers cache the result.
    async fn lot_config(&self, lot_id: &LotId) -> StoreResult<LotConfig> {
        let items = self
            .query_between(keys::lot(lot_id).pk, "DEVICE#", "LOT")
            .await?;
        let mut lot = None;
        let mut gates = Vec::new();
        let mut devices = Vec::new();
        for item in items {
            match kind(&item) {
                Some("lot") => lot = Some(body::<Lot>(item)?),
                Some("gate") => gates.push(body::<Gate>(item)?),
                Some("lot_device") => devices.push(body::<Device>(item)?),
                _ => {}
            }
        }
        let lot = lot.ok_or_else(|| StoreError::not_found(format!("lot {lot_id}")))?;
        let ids: Vec<&TariffId> = std::iter::once(&lot.tariff_id)
            .chain(lot.tariff_schedule.iter().map(|v| &v.tariff_id))
            .collect();
        let tariffs: Vec<TariffRecord> = if let [only] = ids.as_slice() {
            vec![
                self.get_body(&keys::tariff(only), || format!("tariff {only}"))
                    .await?,
            ]
        } else {
            let mut unique: Vec<&TariffId> = ids.clone();
            unique.sort();
            unique.dedup();
            let wanted = unique.iter().map(|id| keys::tariff(id).key()).collect();
            let found: Vec<TariffRecord> = self
                .batch_get(wanted)
                .await?
                .into_iter()
                .map(body)
                .collect::<StoreResult<_>>()?;
            if let Some(missing) = unique
                .iter()
                .find(|id| !found.iter().any(|r| &&r.id == *id))
            {
                return Err(StoreError::not_found(format!("tariff {missing}")));
            }
            found
        };
        Ok(LotConfig {
            lot,
            gates,
            devices,
            tariffs,
        })
    }

    /// One query of the lot's partition from its held reservations that
    /// end from `at` on to its summary's last shard.
    async fn occupancy(&self, lot: &Lot, at: Timestamp) -> StoreResult<Occupancy> {
        let (from, to) = keys::occupancy_range(at);
        let items = self
            .query_between(keys::lot(&lot.id).pk, &from, &to)
            .await?;
        occupancy_of(lot, at, items)
    }

    /// One query of the lot's partition from `BAY#` to the summary's last
    /// shard: bays, devices, held reservations and the summary.
    async fn lot_live(&self, lot: &Lot, at: Timestamp) -> StoreResult<LotLive> {
        let (_, to) = keys::occupancy_range(at);
        let items = self
            .query_between(keys::lot(&lot.id).pk, "BAY#", &to)
            .await?;
        let mut live = LotLive::default();
        let mut rest = Vec::new();
        for item in items {
            match kind(&item) {
                Some("bay") => live.bays.push(body(item)?),
                Some("lot_device") => live.devices.push(body(item)?),
                _ => rest.push(item),
            }
        }
        live.occupancy = occupancy_of(lot, at, rest)?;
        Ok(live)
    }

    /// Reads the device (one request) and updates it and its lot's copy in
    /// one transaction, unless they hold a newer event.
    async fn record_presence(
        &self,
        device_id: &DeviceId,
        presence: &Presence,
        outbox: &[parking_app::outbox::OutboxMessage],
    ) -> StoreResult<PresenceOutcome> {
        let mut device: Device = self
            .get_body(&keys::device(device_id), || format!("device {device_id}"))
            .await?;
        if device.presence.as_ref() == Some(presence) {
            return Ok(PresenceOutcome::Updated);
        }
        device.presence = Some(*presence);
        let with_copies = |k: keys::Keys| -> StoreResult<Item> {
            let mut item = k.item(&device)?;
            item.insert("presence_v".into(), n(presence.version));
            item.insert("presence_ms".into(), n(presence.at.as_millisecond()));
            Ok(item)
        };
        let newer = || {
            Cond::new(
                "attribute_not_exists(presence_v) OR presence_v < :v OR (presence_v = :v AND presence_ms < :ms)",
            )
            .value(":v", n(presence.version))
            .value(":ms", n(presence.at.as_millisecond()))
        };
        let mut txn = self
            .txn(None)
            .put(
                Step::Device,
                with_copies(keys::device(device_id))?,
                Some(newer()),
            )?
            .put(
                Step::Device,
                with_copies(keys::lot_device(&device.lot_id, device_id))?,
                Some(newer()),
            )?;
        for m in outbox {
            txn = txn.put(
                Step::Outbox,
                keys::outbox(&m.id(), m.created_at().as_second()).item(m)?,
                None,
            )?;
        }
        match txn.run(&self.client).await? {
            Ok(()) => Ok(PresenceOutcome::Updated),
            Err(_) => Ok(PresenceOutcome::Stale),
        }
    }

    async fn put_lot(&self, lot: &Lot) -> StoreResult<()> {
        self.put_plain(&keys::lot_listed(&lot.id), lot).await
    }

    async fn get_lot(&self, lot_id: &LotId) -> StoreResult<Lot> {
        self.get_body(&keys::lot(lot_id), || format!("lot {lot_id}"))
            .await
    }

    async fn put_gate(&self, gate: &Gate) -> StoreResult<()> {
        self.put_plain(&keys::gate(&gate.lot_id, &gate.id), gate)
            .await
    }

    async fn get_gate(&self, lot_id: &LotId, gate_id: &GateId) -> StoreResult<Gate> {
        self.get_body(&keys::gate(lot_id, gate_id), || {
            format!("gate {gate_id} of lot {lot_id}")
        })
        .await
    }

    /// The device and its lot's copy, in one transaction; a device moved
    /// to another lot leaves its old lot in the same transaction.
    async fn put_device(&self, device: &Device) -> StoreResult<()> {
        let before: Option<Device> = self.get_opt(&keys::device(&device.id)).await?;
        let mut txn = self.txn(None);
        if let Some(old) = before.filter(|old| old.lot_id != device.lot_id) {
            txn = txn.delete(Step::Device, &keys::lot_device(&old.lot_id, &old.id), None)?;
        }
        let txn = txn
            .put(Step::Device, keys::device(&device.id).item(device)?, None)?
            .put(
                Step::Device,
                keys::lot_device(&device.lot_id, &device.id).item(device)?,
                None,
            )?;
        match txn.run(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::invalid("device write refused")),
        }
    }

    async fn get_device(&self, device_id: &DeviceId) -> StoreResult<Device> {
        self.get_body(&keys::device(device_id), || format!("device {device_id}"))
            .await
    }

    /// One transaction with the event's ledger item. The condition is
    /// [`rules::bay_reading_replaces`] written as an expression.
    async fn record_bay(&self, bay: &Bay, cause: Option<&EventRef>) -> StoreResult<BayOutcome> {
        let token = rules::write_token("record_bay", &(bay, cause));
        let mut item = keys::bay(&bay.lot_id, &bay.id).item(bay)?;
        let at = bay.reported_at.as_second();
        item.insert("at_s".into(), n(at));
        let txn = self.with_ledger(self.txn(cause.map(|_| token.clone())), cause, &token)?.put(
            Step::Bay,
            item,
            Some(
                Cond::new(
                    "attribute_not_exists(PK) OR #boot < :boot OR (#boot = :boot AND #seq < :seq) OR at_s < :restarted",
                )
                .names(&[("#boot", "boot"), ("#seq", "seq")])
                .value(":boot", n(bay.boot))
                .value(":seq", n(bay.seq))
                .value(":restarted", n(at - SENSOR_RESTART_GAP.as_secs())),
            ),
        )?;
        // The summary's shard of the bay moves its id to the set its
        // reading says, in the same step: the summary is exact whenever
        // the bay is.
        let moved = match bay.occupied {
            Some(true) => "ADD #occupied :bay DELETE #free :bay",
            Some(false) => "ADD #free :bay DELETE #occupied :bay",
            None => "DELETE #free :bay, #occupied :bay",
        };
        let txn = txn.update(
            Step::Live,
            &keys::live_of_bay(&bay.lot_id, &bay.id),
            &format!("SET #type = :type {moved}"),
            &[
                ("#type", "type"),
                ("#free", "free"),
                ("#occupied", "occupied"),
            ],
            vec![
                (":bay", AttributeValue::Ss(vec![bay.id.to_string()])),
                (":type", s("live")),
            ],
            None,
        )?;
        match txn.run(&self.client).await? {
            Ok(()) => Ok(BayOutcome::Updated),
            Err(failed) => Ok(match self.ledger_outcome(&failed, cause, &token).await? {
                Some(Applied::Done) => BayOutcome::Updated,
                Some(Applied::Duplicate) => BayOutcome::Duplicate,
                None => {
                    // This very reading, stored by an earlier attempt, is
                    // this call's success.
                    let stored: Option<Bay> =
                        self.get_opt(&keys::bay(&bay.lot_id, &bay.id)).await?;
                    if stored.as_ref() == Some(bay) {
                        BayOutcome::Updated
                    } else {
                        BayOutcome::Stale
                    }
                }
            }),
        }
    }

    async fn bay(&self, lot_id: &LotId, bay_id: &BayId) -> StoreResult<Option<Bay>> {
        self.get_opt(&keys::bay(lot_id, bay_id)).await
    }

    async fn bays(&self, lot_id: &LotId) -> StoreResult<Vec<Bay>> {
        self.query_bodies(keys::bays_of(lot_id)).await
    }
}
