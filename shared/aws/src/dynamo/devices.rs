//! What the device flows read and write: lot configuration, plate
//! timelines, the lot's live state, presence, and the outbox.
//!
//! A plate read is one `TransactWriteItems`: the event's ledger item, the
//! timeline guarded by its version, the sessions it changed, its outbox
//! messages, the lot's open-session counter and a reservation check-in.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, KeysAndAttributes, WriteRequest};
use jiff::Timestamp;
use parking_app::ids::*;
use parking_app::outbox::OutboxMessage;
use parking_app::ports::*;
use parking_app::rules;
use parking_app::*;
use parking_core::Plate;

use super::DynamoStore;
use super::errors::from_sdk;
use super::keys::{self, Item, body, n, s};
use super::txn::{Cond, Step};

fn kind(item: &Item) -> Option<&str> {
    match item.get("type") {
        Some(AttributeValue::S(t)) => Some(t.as_str()),
        _ => None,
    }
}

fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// The lot's occupancy from its summary's shards and its held
/// reservations; other items are passed over.
fn occupancy_of(lot: &Lot, at: Timestamp, items: Vec<Item>) -> StoreResult<Occupancy> {
    let ids = |item: &Item, name: &str| -> StoreResult<Vec<BayId>> {
        match item.get(name) {
            Some(AttributeValue::Ss(v)) => v
                .iter()
                .map(|b| {
                    BayId::parse(b).map_err(|_| StoreError::Corrupt {
                        key: format!("{name} of the lot's summary"),
                        reason: "a bay id does not parse".into(),
                    })
                })
                .collect(),
            _ => Ok(Vec::new()),
        }
    };
    let mut occupancy = Occupancy::default();
    let mut open: i64 = 0;
    for item in items {
        match kind(&item) {
            Some("held_reservation") => {
                let r: Reservation = body(item)?;
                if rules::held_at(lot, &r, at) {
                    occupancy.held_reservations += 1;
                }
            }
            Some("live") => {
                occupancy.occupied += ids(&item, "occupied")?.len() as u32;
                occupancy.free.extend(ids(&item, "free")?);
                open += number(&item, "open_sessions").unwrap_or(0);
            }
            _ => {}
        }
    }
    occupancy.free.sort();
    occupancy.open_sessions = u32::try_from(open.max(0)).unwrap_or(u32::MAX);
    Ok(occupancy)
}

/// Batch requests are retried this often for keys DynamoDB left
/// unprocessed (throttling), then the operation is unavailable.
const BATCH_ATTEMPTS: u32 = 4;

impl DynamoStore {
    /// Items of a partition with sort keys from `from` to `to`, strongly
    /// consistent, page by page.
    pub(super) async fn query_between(
        &self,
        pk: String,
        from: &str,
        to: &str,
    ) -> StoreResult<Vec<Item>> {
        self.query_range(&pk, (from, to), true, None).await
    }

    /// The same, in order or in reverse, up to `limit` items (or all).
    async fn query_range(
        &self,
        pk: &str,
        (from, to): (&str, &str),
        forward: bool,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let left = limit.map(|l| l.saturating_sub(items.len()));
            if left == Some(0) {
                return Ok(items);
            }
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to))
                .scan_index_forward(forward)
                .consistent_read(true)
                .set_limit(left.and_then(|l| i32::try_from(l).ok()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(from_sdk)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// Every item of an index partition (eventually consistent).
    pub(super) async fn query_index(
        &self,
        gsi_pk: &str,
        projection: Option<&str>,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("GSI1")
                .key_condition_expression("GSI1PK = :pk")
                .expression_attribute_values(":pk", s(gsi_pk))
                .set_exclusive_start_key(start);
            if let Some(p) = projection {
                q = q
                    .projection_expression(p)
                    .expression_attribute_names("#plate", "plate");
            }
            let out = q.send().await.map_err(from_sdk)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// The oldest `limit` outbox messages listed with sort keys from
    /// `from` to `to`, over every shard: one query a shard, merged by the
    /// listing's order (creation second, then id).
    pub(super) async fn outbox_listed(
        &self,
        from: &str,
        to: &str,
        limit: usize,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let mut listed: Vec<(String, Item)> = Vec::new();
        for shard in keys::outbox_shards() {
            for item in self
                .query_index_window(&shard, from, to, Some(limit))
                .await?
            {
                let sk = match item.get("GSI1SK") {
                    Some(AttributeValue::S(v)) => v.clone(),
                    _ => String::new(),
                };
                listed.push((sk, item));
            }
        }
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        listed.truncate(limit);
        listed.into_iter().map(|(_, item)| body(item)).collect()
    }

    /// Every item of an index partition whose sort key is at least
    /// `from`.
    pub(super) async fn query_index_from(
        &self,
        gsi_pk: &str,
        from: &str,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("GSI1")
                .key_condition_expression("GSI1PK = :pk AND GSI1SK >= :from")
                .expression_attribute_values(":pk", s(gsi_pk))
                .expression_attribute_values(":from", s(from))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(from_sdk)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// Items of an index partition with sort keys from `from` to `to`
    /// (inclusive), in order, page by page until `limit` items (or all).
    pub(super) async fn query_index_window(
        &self,
        gsi_pk: &str,
        from: &str,
        to: &str,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let left = limit.map(|l| l.saturating_sub(items.len()));
            if left == Some(0) {
                return Ok(items);
            }
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("GSI1")
                .key_condition_expression("GSI1PK = :pk AND GSI1SK BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(gsi_pk))
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to))
                .set_limit(left.and_then(|l| i32::try_from(l).ok()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(from_sdk)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// Several items by key in one request (strongly consistent); keys
    /// DynamoDB leaves unprocessed are asked again.
    async fn batch_get(&self, wanted: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        let mut pending = wanted;
        for _ in 0..BATCH_ATTEMPTS {
            if pending.is_empty() {
                return Ok(found);
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(true)
                .build()
                .map_err(super::errors::build_error)?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(from_sdk)?;
            found.extend(
                out.responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default(),
            );
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        if pending.is_empty() {
            Ok(found)
        } else {
            Err(StoreError::Unavailable {
                source: "DynamoDB left keys unprocessed after every attempt".into(),
            })
        }
    }
}

impl DynamoStore {
    /// A plate's stays with sort keys from `from` to `to`, strongly
    /// consistent, in order (or in reverse), at most `limit`.
    async fn stays_between(
        &self,
        lot_id: &LotId,
        plate: &Plate,
        (from, to): (String, String),
        forward: bool,
        limit: usize,
    ) -> StoreResult<Vec<parking_app::history::Stay>> {
        let (pk, _, _) = keys::stays_of(lot_id, plate);
        self.query_range(&pk, (&from, &to), forward, Some(limit))
            .await?
            .into_iter()
            .map(body)
            .collect()
    }
}

impl DeviceStore for DynamoStore {
    /// One query, newest first, of one stay.
    async fn stay_before(
        &self,
        lot_id: &LotId,
        plate: &Plate,
        at: Timestamp,
    ) -> StoreResult<Option<parking_app::history::Stay>> {
        let (_, lowest, _) = keys::stays_of(lot_id, plate);
        let found = self
            .stays_between(
                lot_id,
                plate,
                (lowest.to_owned(), format!("{}~", keys::stay_sk(at))),
                false,
                1,
            )
            .await?;
        Ok(found.into_iter().next())
    }

    /// One query, in order.
    async fn stays_from(
        &self,
        lot_id: &LotId,
        plate: &Plate,
        from: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<parking_app::history::Stay>> {
        let (_, _, highest) = keys::stays_of(lot_id, plate);
        self.stays_between(
            lot_id,
            plate,
            (keys::stay_sk(from), highest.to_owned()),
            true,
            limit,
        )
        .await
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

    /// One `BatchGetItem`: the timeline and the plate's registration.
    async fn plate_view(&self, lot_id: &LotId, plate: &Plate) -> StoreResult<PlateView> {
        let timeline = keys::timeline(lot_id, plate, false);
        let owner = keys::plate(plate);
        let mut view = PlateView::default();
        for item in self.batch_get(vec![timeline.key(), owner.key()]).await? {
            match kind(&item) {
                Some("timeline") => view.timeline = Some(body(item)?),
                Some("plate") => view.owner = Some(body(item)?),
                _ => {}
            }
        }
        Ok(view)
    }

    /// One strongly consistent query of the driver's partition.
    async fn driver_view(&self, driver_id: &DriverId) -> StoreResult<DriverView> {
        let mut view = DriverView::default();
        for item in self.query(keys::driver_all(driver_id)).await? {
            match kind(&item) {
                Some("payment_method") => view.methods.push(body(item)?),
                Some("driver_reservation") => {
                    let r: Reservation = body(item)?;
                    if r.state == ReservationState::Active {
                        view.reservations.push(r);
                    }
                }
                _ => {}
            }
        }
        view.reservations
            .sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        Ok(view)
    }

    /// One query of the index partition of the skeleton, keys and plates
    /// only.
    async fn plates_like(&self, lot_id: &LotId, skeleton: &str) -> StoreResult<Vec<LikePlate>> {
        let open_prefix = format!("OPEN#{lot_id}#PLATE#");
        let mut plates: Vec<LikePlate> = Vec::new();
        for item in self
            .query_index(&keys::like(skeleton), Some("GSI1SK, #plate"))
            .await?
        {
            let sk = match item.get("GSI1SK") {
                Some(AttributeValue::S(v)) => v.clone(),
                _ => continue,
            };
            if !(sk.starts_with("REG#") || sk.starts_with(&open_prefix)) {
                continue;
            }
            let plate: Plate = match item.get("plate") {
                Some(v) => serde_dynamo::from_attribute_value(v.clone()).map_err(|_| {
                    StoreError::Corrupt {
                        key: keys::redact(&sk),
                        reason: "plate does not parse".into(),
                    }
                })?,
                None => continue,
            };
            let registered = sk.starts_with("REG#");
            match plates.iter_mut().find(|p| p.plate == plate) {
                Some(p) => p.registered |= registered,
                None => plates.push(LikePlate { plate, registered }),
            }
        }
        Ok(plates)
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

    async fn commit_read(&self, commit: &TimelineCommit) -> StoreResult<Applied> {
        let t = &commit.timeline;
        let token = rules::write_token(
            "commit_read",
            &(&t.lot_id, &t.plate, t.version, commit.attempt),
        );
        let cause = Some(&commit.event);
        let open = t.open_sessions() > 0 && t.plate.is_readable();
        let guard = if t.version <= 1 {
            Cond::new("attribute_not_exists(PK)")
        } else {
            Cond::new("version = :prev").value(":prev", n(t.version - 1))
        };
        let mut txn = self
            .with_ledger(self.txn(Some(token.clone())), cause, &token)?
            .put(
                Step::Timeline,
                keys::timeline(&t.lot_id, &t.plate, open).item(t)?,
                Some(guard),
            )?;
        for session in &commit.changed {
            txn = txn.put(
                Step::Session,
                keys::session_listed(session).item(session)?,
                None,
            )?;
            if let Some(driver) = &session.driver_id {
                txn = txn.put(
                    Step::DriverEntry,
                    keys::driver_session(driver, session).item(session)?,
                    None,
                )?;
            }
        }
        for m in &commit.outbox {
            txn = txn.put(
                Step::Outbox,
                keys::outbox(&m.id(), commit.event.processed_at.as_second()).item(m)?,
                None,
            )?;
        }
        // The timeline's condition on its version serialises every change
        // to the plate's stays.
        for stay in &commit.stays {
            txn = txn.put(
                Step::Stay,
                keys::stay(&t.lot_id, &t.plate, &stay.key()).item(stay)?,
                None,
            )?;
        }
        for gone in &commit.stays_gone {
            txn = txn.delete(Step::Stay, &keys::stay(&t.lot_id, &t.plate, gone), None)?;
        }
        if commit.open_delta != 0 {
            txn = txn.update(
                Step::Live,
                &keys::live_of_plate(&t.lot_id, &t.plate),
                "ADD open_sessions :d SET #type = :type",
                &[("#type", "type")],
                vec![(":d", n(commit.open_delta)), (":type", s("live"))],
                None,
            )?;
        }
        if let Some(e) = &commit.audit {
            txn = txn.put(Step::Audit, keys::audit(e).item(e)?, None)?;
        }
        if let Some(p) = &commit.pass {
            txn = txn.put(Step::Pass, keys::pass(&p.lot_id, &p.id).item(p)?, None)?;
        }
        if let Some(held) = &commit.check_in {
            // A reservation cancelled meanwhile fails the condition and the
            // read is applied again without it.
            {
                let mut r = held.clone();
                r.state = ReservationState::CheckedIn;
                txn = txn
                    .put(
                        Step::Reservation,
                        keys::reservation_listed(&r).item(&r)?,
                        Some(
                            Cond::new("#state = :active")
                                .names(&[("#state", "state")])
                                .value(":active", s("active")),
                        ),
                    )?
                    .put(
                        Step::DriverEntry,
                        keys::driver_reservation(&r.driver_id, &r.id).item(&r)?,
                        None,
                    )?
                    .delete(Step::Held, &keys::held(&r), None)?;
            }
        }
        match txn.run(&self.client).await? {
            Ok(()) => Ok(Applied::Done),
            Err(failed) => {
                if let Some(outcome) = self.ledger_outcome(&failed, cause, &token).await? {
                    return Ok(outcome);
                }
                // The timeline moved on, or the reservation did: read again.
                Err(Refusal::StaleTimeline {
                    lot_id: t.lot_id.clone(),
                }
                .into())
            }
        }
    }

    /// Reads the device (one request) and updates it and its lot's copy in
    /// one transaction, unless they hold a newer event.
    async fn record_presence(
        &self,
        device_id: &DeviceId,
        presence: &Presence,
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
        let txn = self
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
        match txn.run(&self.client).await? {
            Ok(()) => Ok(PresenceOutcome::Updated),
            Err(_) => Ok(PresenceOutcome::Stale),
        }
    }

    /// The lot's sessions from the index (eventually consistent).
    async fn lot_sessions(&self, lot_id: &LotId) -> StoreResult<Vec<Session>> {
        let mut v: Vec<Session> = self
            .query_index(&format!("LOT#{lot_id}#SESSIONS"), None)
            .await?
            .into_iter()
            .map(body)
            .collect::<StoreResult<_>>()?;
        v.sort_by(|a, b| (a.entry_at, &a.id).cmp(&(b.entry_at, &b.id)));
        Ok(v)
    }
}

impl OutboxStore for DynamoStore {
    /// Messages still listed in the outbox's shards, oldest first: the
    /// oldest `limit` of each shard, merged (the index is eventually
    /// consistent: a message written a moment ago may be missing, and
    /// comes on the next pass).
    async fn outbox_pending(&self, limit: usize) -> StoreResult<Vec<OutboxMessage>> {
        self.outbox_listed("0", "~", limit).await
    }

    /// One `BatchGetItem` per 100 ids (strongly consistent).
    async fn outbox_undelivered(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        let mut found = std::collections::HashSet::new();
        for chunk in ids.chunks(100) {
            let keys = chunk.iter().map(|id| keys::outbox(id, 0).key()).collect();
            for item in self.batch_get(keys).await? {
                if let Some(AttributeValue::S(pk)) = item.get("PK")
                    && let Some(id) = pk.strip_prefix("OUTBOX#")
                {
                    found.insert(id.to_owned());
                }
            }
        }
        Ok(ids
            .iter()
            .filter(|id| found.contains(*id))
            .cloned()
            .collect())
    }

    /// Delivered messages are deleted, 25 to a request.
    async fn outbox_delivered(&self, ids: &[String]) -> StoreResult<()> {
        for chunk in ids.chunks(25) {
            let mut requests: Vec<WriteRequest> = Vec::with_capacity(chunk.len());
            for id in chunk {
                let delete = DeleteRequest::builder()
                    .set_key(Some(keys::outbox(id, 0).key()))
                    .build()
                    .map_err(super::errors::build_error)?;
                requests.push(WriteRequest::builder().delete_request(delete).build());
            }
            let mut pending = requests;
            for _ in 0..BATCH_ATTEMPTS {
                if pending.is_empty() {
                    break;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(from_sdk)?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut u: HashMap<String, Vec<WriteRequest>>| u.remove(&self.table))
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable {
                    source: "DynamoDB left deletes unprocessed after every attempt".into(),
                });
            }
        }
        Ok(())
    }
}
