//! Lots, gates, devices and bay readings.

use parking_app::ids::*;
use parking_app::rules::{self, SENSOR_RESTART_GAP};
use parking_app::*;

use super::DynamoStore;
use aws_sdk_dynamodb::types::AttributeValue;

use super::keys::{self, n, s};
use super::txn::{Cond, Step};

impl LotStore for DynamoStore {
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

    async fn bays(&self, lot_id: &LotId) -> StoreResult<Vec<Bay>> {
        self.query_bodies(keys::bays_of(lot_id)).await
    }
}
