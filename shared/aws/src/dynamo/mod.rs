//! The DynamoDB store: one table, single-table design.
//!
//! # Keys
//!
//! Every item has a string partition key `PK` and sort key `SK`; items that
//! are listed by another access pattern also carry `GSI1PK`/`GSI1SK` for the
//! one global secondary index, `GSI1` (all attributes projected). Every item
//! has a `type` attribute naming what it is. Item bodies are the model
//! types, mapped with `serde_dynamo`.
//!
//! | item | PK | SK | GSI1PK / GSI1SK | notes |
//! |---|---|---|---|---|
//! | lot | `LOT#{lot}` | `LOT` | | |
//! | gate | `LOT#{lot}` | `GATE#{gate}` | | |
//! | bay | `LOT#{lot}` | `BAY#{bay}` | | written only with a newer `seq` |
//! | reservation slot | `LOT#{lot}` | `SLOT#{start}` | | `reserved` counter, `start` in epoch seconds, zero-padded |
//! | open-session hold | `LOT#{lot}` | `OPEN#{plate}` | | a copy of the session while it holds the plate |
//! | device | `DEVICE#{device}` | `DEVICE` | | |
//! | processed event | `DEVICE#{device}` | `EVENT#{event}` | | `expires_at` (TTL) |
//! | driver | `DRIVER#{driver}` | `DRIVER` | | |
//! | payment method | `DRIVER#{driver}` | `PM#{method}` | | |
//! | payment-method owner | `PM#{method}` | `OWNER` | | one driver per method |
//! | plate registration | `PLATE#{plate}` | `PLATE` | `DRIVER#{driver}` / `PLATE#{plate}` | one driver per plate |
//! | reservation | `RES#{id}` | `RES` | `LOT#{lot}#RES` / `{start}#{id}` | |
//! | session | `SESSION#{id}` | `SESSION` | `LOT#{lot}#SESSIONS` / `{entry}#{id}` | `version` guards every change |
//! | payment | `PAYMENT#{key}` | `PAYMENT` | `SESSION#{id}` / `PAYMENT#{created}#{key}` | keyed by idempotency key |
//!
//! Access patterns: a lot with its gates, bays, slots and open sessions is
//! one partition (`Query PK = LOT#…`); the plate → driver lookup and the
//! open-session lookup are one `GetItem` each; a driver's plates, a lot's
//! reservations and sessions by time, and a session's payments are `Query`
//! on `GSI1`. No request path scans.
//!
//! # Atomic writes
//!
//! Every write that an invariant guards is conditional, and every write
//! caused by a device event is one `TransactWriteItems` together with the
//! event's ledger item (`attribute_not_exists(PK) OR expires_at < now`), so
//! a replayed event changes nothing. Ledger items expire through the table's
//! TTL on `expires_at` after the retention period (default 30 days).

pub mod table;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use jiff::{SignedDuration, Timestamp};
use parking_app::ports::*;
use parking_app::rules::refusals::*;
use parking_app::rules::{
    DEFAULT_EVENT_RETENTION, check_new_session, check_session_update, reservation_slots, slot_start,
};
use parking_app::*;
use parking_core::{Plate, SessionState};
use serde::Serialize;
use serde::de::DeserializeOwned;

type Item = HashMap<String, AttributeValue>;

/// The store on a DynamoDB table laid out as described in this module.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    retention: SignedDuration,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unavailable {
        source: Box::new(e),
    }
}

fn built<T>(r: Result<T, BuildError>) -> StoreResult<T> {
    r.map_err(unavailable)
}

/// Primary and index keys of one item.
struct Keys {
    pk: String,
    sk: String,
    gsi: Option<(String, String)>,
    kind: &'static str,
}

impl Keys {
    fn new(pk: impl Into<String>, sk: impl Into<String>, kind: &'static str) -> Self {
        Keys {
            pk: pk.into(),
            sk: sk.into(),
            gsi: None,
            kind,
        }
    }

    fn gsi(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi = Some((pk.into(), sk.into()));
        self
    }

    fn key(&self) -> Item {
        HashMap::from([
            ("PK".to_owned(), s(&self.pk)),
            ("SK".to_owned(), s(&self.sk)),
        ])
    }

    fn item<T: Serialize>(&self, body: &T) -> StoreResult<Item> {
        let mut item: Item = serde_dynamo::to_item(body).map_err(|e| {
            StoreError::invalid(format!("cannot store {}/{}: {e}", self.pk, self.sk))
        })?;
        item.insert("PK".into(), s(&self.pk));
        item.insert("SK".into(), s(&self.sk));
        item.insert("type".into(), s(self.kind));
        if let Some((pk, sk)) = &self.gsi {
            item.insert("GSI1PK".into(), s(pk));
            item.insert("GSI1SK".into(), s(sk));
        }
        Ok(item)
    }
}

/// Reads a model value back from an item, naming the key when it is bad.
fn body<T: DeserializeOwned>(mut item: Item) -> StoreResult<T> {
    let text = |k: &str, item: &Item| match item.get(k) {
        Some(AttributeValue::S(v)) => v.clone(),
        _ => "?".into(),
    };
    let key = format!("{}/{}", text("PK", &item), text("SK", &item));
    for k in ["PK", "SK", "GSI1PK", "GSI1SK", "type", "expires_at"] {
        item.remove(k);
    }
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
        key,
        reason: e.to_string(),
    })
}

fn lot_pk(lot: &str) -> String {
    format!("LOT#{lot}")
}

fn lot_keys(lot: &str) -> Keys {
    Keys::new(lot_pk(lot), "LOT", "lot")
}

fn gate_keys(lot: &str, gate: &str) -> Keys {
    Keys::new(lot_pk(lot), format!("GATE#{gate}"), "gate")
}

fn device_keys(device: &str) -> Keys {
    Keys::new(format!("DEVICE#{device}"), "DEVICE", "device")
}

fn driver_keys(driver: &str) -> Keys {
    Keys::new(format!("DRIVER#{driver}"), "DRIVER", "driver")
}

fn plate_keys(plate: &Plate) -> Keys {
    Keys::new(format!("PLATE#{}", plate.key()), "PLATE", "plate")
}

fn session_id_keys(session: &str) -> Keys {
    Keys::new(format!("SESSION#{session}"), "SESSION", "session")
}

fn reservation_id_keys(reservation: &str) -> Keys {
    Keys::new(format!("RES#{reservation}"), "RES", "reservation")
}

fn payment_keys(key: &str) -> Keys {
    Keys::new(format!("PAYMENT#{key}"), "PAYMENT", "payment")
}

fn session_keys(session: &Session) -> Keys {
    session_id_keys(&session.id).gsi(
        format!("LOT#{}#SESSIONS", session.lot_id),
        format!("{}#{}", session.entry_at.as_second(), session.id),
    )
}

fn hold_keys(lot: &str, plate: &Plate) -> Keys {
    Keys::new(lot_pk(lot), format!("OPEN#{}", plate.key()), "open_session")
}

fn slot_keys(lot: &str, start: i64) -> Keys {
    Keys::new(lot_pk(lot), format!("SLOT#{start:012}"), "slot")
}

fn ledger_keys(device: &str, event: &str) -> Keys {
    Keys::new(
        format!("DEVICE#{device}"),
        format!("EVENT#{event}"),
        "event",
    )
}

/// Why a transaction was cancelled.
enum Cancelled {
    /// The items at these indexes failed their conditions.
    Conditions(Vec<usize>),
    /// Another transaction touched the same items; worth retrying.
    Contention,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            retention: DEFAULT_EVENT_RETENTION,
        }
    }

    /// How long processed device events are remembered.
    pub fn with_event_retention(mut self, retention: SignedDuration) -> Self {
        self.retention = retention;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn put(
        &self,
        item: Item,
        condition: Option<&str>,
        names: &[(&str, &str)],
        values: &[(&str, AttributeValue)],
    ) -> StoreResult<TransactWriteItem> {
        let mut b = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some(c) = condition {
            b = b.condition_expression(c);
        }
        for (k, v) in names {
            b = b.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            b = b.expression_attribute_values(*k, v.clone());
        }
        Ok(TransactWriteItem::builder().put(built(b.build())?).build())
    }

    fn ledger_put(&self, e: &EventRef) -> StoreResult<TransactWriteItem> {
        let keys = ledger_keys(&e.device_id, &e.event_id);
        let mut item = keys.item(e)?;
        item.insert(
            "expires_at".into(),
            n(e.processed_at.as_second() + self.retention.as_secs()),
        );
        self.put(
            item,
            Some("attribute_not_exists(PK) OR expires_at < :now"),
            &[],
            &[(":now", n(e.processed_at.as_second()))],
        )
    }

    /// Runs one transaction; a cancelled one reports which condition failed.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> StoreResult<Result<(), Cancelled>> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let reasons = c.cancellation_reasons();
                    let failed: Vec<usize> = reasons
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                        .map(|(i, _)| i)
                        .collect();
                    if !failed.is_empty() {
                        return Ok(Err(Cancelled::Conditions(failed)));
                    }
                    if reasons
                        .iter()
                        .any(|r| r.code() == Some("TransactionConflict"))
                        || reasons.is_empty()
                    {
                        return Ok(Err(Cancelled::Contention));
                    }
                    Err(unavailable(c))
                }
                other => Err(unavailable(other)),
            },
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Runs a transaction, retrying a few times when it lost a race with
    /// another transaction on the same items. `Err` holds the indexes of
    /// the items whose conditions failed.
    async fn transact_retrying(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> StoreResult<Result<(), Vec<usize>>> {
        let mut delay = std::time::Duration::from_millis(20);
        for _ in 0..5 {
            match self.transact(items.clone()).await? {
                Ok(()) => return Ok(Ok(())),
                Err(Cancelled::Conditions(failed)) => return Ok(Err(failed)),
                Err(Cancelled::Contention) => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
        Err(StoreError::Unavailable {
            source: "transaction kept conflicting with concurrent writes".into(),
        })
    }

    /// Whether a cancelled write was a replay of an already processed event.
    async fn replayed(
        &self,
        failed: &[usize],
        ledger_at: usize,
        cause: Option<&EventRef>,
    ) -> StoreResult<bool> {
        match cause {
            None => Ok(false),
            Some(_) if failed.contains(&ledger_at) => Ok(true),
            Some(e) => {
                self.is_processed(&e.device_id, &e.event_id, e.processed_at)
                    .await
            }
        }
    }

    async fn get(&self, keys: &Keys) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys.key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    async fn get_body<T: DeserializeOwned>(
        &self,
        keys: &Keys,
        what: impl FnOnce() -> String,
    ) -> StoreResult<T> {
        match self.get(keys).await? {
            Some(item) => body(item),
            None => Err(StoreError::not_found(what())),
        }
    }

    async fn put_plain<T: Serialize>(&self, keys: &Keys, value: &T) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(keys.item(value)?))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// All items of a query, page by page.
    async fn query(
        &self,
        index: Option<&str>,
        pk: &str,
        sk_prefix: &str,
    ) -> StoreResult<Vec<Item>> {
        let (pk_name, sk_name) = if index.is_some() {
            ("GSI1PK", "GSI1SK")
        } else {
            ("PK", "SK")
        };
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":prefix", s(sk_prefix))
                .consistent_read(index.is_none())
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }
}

impl LotStore for DynamoStore {
    async fn put_lot(&self, lot: &Lot) -> StoreResult<()> {
        self.put_plain(&lot_keys(&lot.id), lot).await
    }

    async fn get_lot(&self, lot_id: &str) -> StoreResult<Lot> {
        self.get_body(&lot_keys(lot_id), || format!("lot {lot_id}"))
            .await
    }

    async fn put_gate(&self, gate: &Gate) -> StoreResult<()> {
        self.put_plain(&gate_keys(&gate.lot_id, &gate.id), gate)
            .await
    }

    async fn get_gate(&self, lot_id: &str, gate_id: &str) -> StoreResult<Gate> {
        self.get_body(&gate_keys(lot_id, gate_id), || {
            format!("gate {gate_id} of lot {lot_id}")
        })
        .await
    }

    async fn put_device(&self, device: &Device) -> StoreResult<()> {
        self.put_plain(&device_keys(&device.id), device).await
    }

    async fn get_device(&self, device_id: &str) -> StoreResult<Device> {
        self.get_body(&device_keys(device_id), || format!("device {device_id}"))
            .await
    }

    async fn record_bay(&self, bay: &Bay, cause: Option<&EventRef>) -> StoreResult<BayOutcome> {
        let keys = Keys::new(lot_pk(&bay.lot_id), format!("BAY#{}", bay.id), "bay");
        let mut items = vec![self.put(
            keys.item(bay)?,
            Some("attribute_not_exists(PK) OR seq < :seq"),
            &[],
            &[(":seq", n(bay.seq))],
        )?];
        if let Some(e) = cause {
            items.push(self.ledger_put(e)?);
        }
        Ok(match self.transact_retrying(items).await? {
            Ok(()) => BayOutcome::Updated,
            Err(failed) if self.replayed(&failed, 1, cause).await? => BayOutcome::Duplicate,
            Err(_) => BayOutcome::Stale,
        })
    }

    async fn bays(&self, lot_id: &str) -> StoreResult<Vec<Bay>> {
        self.query(None, &lot_pk(lot_id), "BAY#")
            .await?
            .into_iter()
            .map(body)
            .collect()
    }
}

impl DriverStore for DynamoStore {
    async fn put_driver(&self, driver: &Driver) -> StoreResult<()> {
        self.put_plain(&driver_keys(&driver.id), driver).await
    }

    async fn get_driver(&self, driver_id: &str) -> StoreResult<Driver> {
        self.get_body(&driver_keys(driver_id), || format!("driver {driver_id}"))
            .await
    }

    async fn register_plate(&self, registration: &PlateRegistration) -> StoreResult<()> {
        let key = registration.plate.key();
        let keys = plate_keys(&registration.plate).gsi(
            format!("DRIVER#{}", registration.driver_id),
            format!("PLATE#{key}"),
        );
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(keys.item(registration)?))
            .condition_expression("attribute_not_exists(PK) OR driver_id = :driver")
            .expression_attribute_values(":driver", s(&registration.driver_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(plate_registered_to_another(&registration.plate))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn unregister_plate(&self, plate: &Plate, driver_id: &str) -> StoreResult<()> {
        let key = plate.key();
        let keys = plate_keys(plate);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys.key()))
            .condition_expression("driver_id = :driver")
            .expression_attribute_values(":driver", s(driver_id))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                match self.get(&keys).await? {
                    None => Err(StoreError::not_found(format!("plate {key}"))),
                    Some(_) => Err(plate_registered_to_another(plate)),
                }
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn plate_owner(&self, plate: &Plate) -> StoreResult<Option<PlateRegistration>> {
        let keys = plate_keys(plate);
        self.get(&keys).await?.map(body).transpose()
    }

    async fn driver_plates(&self, driver_id: &str) -> StoreResult<Vec<PlateRegistration>> {
        self.query(Some("GSI1"), &format!("DRIVER#{driver_id}"), "PLATE#")
            .await?
            .into_iter()
            .map(body)
            .collect()
    }

    async fn add_payment_method(&self, method: &PaymentMethod) -> StoreResult<()> {
        #[derive(Serialize)]
        struct Owner<'a> {
            driver_id: &'a str,
        }
        let owner = Keys::new(format!("PM#{}", method.id), "OWNER", "payment_method_owner");
        let entry = Keys::new(
            format!("DRIVER#{}", method.driver_id),
            format!("PM#{}", method.id),
            "payment_method",
        );
        let items = vec![
            self.put(
                owner.item(&Owner {
                    driver_id: &method.driver_id,
                })?,
                Some("attribute_not_exists(PK) OR driver_id = :driver"),
                &[],
                &[(":driver", s(&method.driver_id))],
            )?,
            self.put(entry.item(method)?, None, &[], &[])?,
        ];
        match self.transact_retrying(items).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(method_of_another(&method.id)),
        }
    }

    async fn payment_methods(&self, driver_id: &str) -> StoreResult<Vec<PaymentMethod>> {
        self.query(None, &format!("DRIVER#{driver_id}"), "PM#")
            .await?
            .into_iter()
            .map(body)
            .collect()
    }
}

fn reservation_keys(r: &Reservation) -> Keys {
    reservation_id_keys(&r.id).gsi(
        format!("LOT#{}#RES", r.lot_id),
        format!("{}#{}", r.start.as_second(), r.id),
    )
}

impl DynamoStore {
    fn slot_update(&self, lot: &Lot, start: i64, delta: i64) -> StoreResult<TransactWriteItem> {
        let keys = slot_keys(&lot.id, start);
        let mut b = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys.key()))
            .update_expression("ADD reserved :delta SET #type = :type, #start = :start")
            .expression_attribute_names("#type", "type")
            .expression_attribute_names("#start", "start")
            .expression_attribute_values(":delta", n(delta))
            .expression_attribute_values(":type", s("slot"))
            .expression_attribute_values(":start", n(start));
        b = if delta > 0 {
            b.condition_expression("attribute_not_exists(reserved) OR reserved < :capacity")
                .expression_attribute_values(":capacity", n(lot.reservable))
        } else {
            b.condition_expression("reserved >= :one")
                .expression_attribute_values(":one", n(-delta))
        };
        Ok(TransactWriteItem::builder()
            .update(built(b.build())?)
            .build())
    }
}

impl ReservationStore for DynamoStore {
    async fn reserve(&self, reservation: &Reservation, lot: &Lot) -> StoreResult<()> {
        let slots = reservation_slots(lot, reservation)?;
        let mut items = vec![self.put(
            reservation_keys(reservation).item(reservation)?,
            Some("attribute_not_exists(PK)"),
            &[],
            &[],
        )?];
        for &slot in &slots {
            items.push(self.slot_update(lot, slot, 1)?);
        }
        match self.transact_retrying(items).await? {
            Ok(()) => Ok(()),
            Err(failed) if failed.contains(&0) => Err(reservation_exists(&reservation.id)),
            Err(failed) => Err(slot_full(
                &lot.id,
                failed
                    .first()
                    .and_then(|i| slots.get(i.wrapping_sub(1)))
                    .copied()
                    .unwrap_or_default(),
            )),
        }
    }

    async fn cancel_reservation(
        &self,
        reservation_id: &str,
        lot: &Lot,
    ) -> StoreResult<Reservation> {
        let keys = reservation_id_keys(reservation_id);
        let mut r: Reservation = self
            .get_body(&keys, || format!("reservation {reservation_id}"))
            .await?;
        if r.state != ReservationState::Active {
            return Err(reservation_not_active(reservation_id));
        }
        let slots = reservation_slots(lot, &r)?;
        r.state = ReservationState::Cancelled;
        let mut items = vec![self.put(
            reservation_keys(&r).item(&r)?,
            Some("#state = :active"),
            &[("#state", "state")],
            &[(":active", s("active"))],
        )?];
        for slot in slots {
            items.push(self.slot_update(lot, slot, -1)?);
        }
        match self.transact_retrying(items).await? {
            Ok(()) => Ok(r),
            Err(_) => Err(reservation_not_active(reservation_id)),
        }
    }

    async fn get_reservation(&self, reservation_id: &str) -> StoreResult<Reservation> {
        self.get_body(&reservation_id_keys(reservation_id), || {
            format!("reservation {reservation_id}")
        })
        .await
    }

    async fn slot_count(&self, lot: &Lot, at: Timestamp) -> StoreResult<u32> {
        let keys = slot_keys(&lot.id, slot_start(lot, at));
        Ok(
            match self
                .get(&keys)
                .await?
                .and_then(|mut i| i.remove("reserved"))
            {
                Some(AttributeValue::N(v)) => v.parse().map_err(|_| StoreError::Corrupt {
                    key: format!("{}/{}", keys.pk, keys.sk),
                    reason: format!("reserved is not a count: {v}"),
                })?,
                _ => 0,
            },
        )
    }
}

impl SessionStore for DynamoStore {
    async fn open_session(
        &self,
        session: &Session,
        cause: Option<&EventRef>,
    ) -> StoreResult<Applied> {
        check_new_session(session)?;
        let mut items = vec![
            self.put(
                session_keys(session).item(session)?,
                Some("attribute_not_exists(PK)"),
                &[],
                &[],
            )?,
            self.put(
                hold_keys(&session.lot_id, &session.plate).item(session)?,
                Some("attribute_not_exists(PK)"),
                &[],
                &[],
            )?,
        ];
        if let Some(e) = cause {
            items.push(self.ledger_put(e)?);
        }
        match self.transact_retrying(items).await? {
            Ok(()) => Ok(Applied::Done),
            Err(failed) if self.replayed(&failed, 2, cause).await? => Ok(Applied::Duplicate),
            Err(failed) if failed.contains(&1) => {
                Err(plate_has_open_session(&session.lot_id, &session.plate))
            }
            Err(_) => {
                // The session id exists: a replay whose ledger item expired,
                // or an id reused by mistake.
                Err(session_exists(&session.id))
            }
        }
    }

    async fn open_session_for(&self, lot_id: &str, plate: &Plate) -> StoreResult<Option<Session>> {
        self.get(&hold_keys(lot_id, plate))
            .await?
            .map(body)
            .transpose()
    }

    async fn get_session(&self, session_id: &str) -> StoreResult<Session> {
        self.get_body(&session_id_keys(session_id), || {
            format!("session {session_id}")
        })
        .await
    }

    async fn update_session(
        &self,
        expected: (SessionState, u64),
        next: &Session,
        cause: Option<&EventRef>,
    ) -> StoreResult<Applied> {
        check_session_update(expected, next)?;
        let guard = "#state = :state AND #version = :version";
        let names = [("#state", "state"), ("#version", "version")];
        let values = [
            (":state", s(expected.0.name())),
            (":version", n(expected.1)),
        ];
        let mut items =
            vec![self.put(session_keys(next).item(next)?, Some(guard), &names, &values)?];
        let hold = hold_keys(&next.lot_id, &next.plate);
        let session_id = [(":id", s(&next.id))];
        match (expected.0.holds_plate(), next.state.holds_plate()) {
            (true, true) => {
                items.push(self.put(hold.item(next)?, Some("id = :id"), &[], &session_id)?)
            }
            (true, false) => {
                let d = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(hold.key()))
                    .condition_expression("id = :id")
                    .expression_attribute_values(":id", s(&next.id));
                items.push(
                    TransactWriteItem::builder()
                        .delete(built(d.build())?)
                        .build(),
                );
            }
            (false, true) => items.push(self.put(
                hold.item(next)?,
                Some("attribute_not_exists(PK)"),
                &[],
                &[],
            )?),
            (false, false) => {}
        }
        let ledger_at = items.len();
        if let Some(e) = cause {
            items.push(self.ledger_put(e)?);
        }
        match self.transact_retrying(items).await? {
            Ok(()) => Ok(Applied::Done),
            Err(failed) if self.replayed(&failed, ledger_at, cause).await? => {
                Ok(Applied::Duplicate)
            }
            Err(failed) if failed.contains(&0) => Err(stale_session(&next.id, expected)),
            Err(_) if !expected.0.holds_plate() => {
                Err(plate_has_open_session(&next.lot_id, &next.plate))
            }
            Err(_) => Err(stale_session(&next.id, expected)),
        }
    }
}

impl PaymentStore for DynamoStore {
    async fn record_payment(&self, payment: &Payment) -> StoreResult<Payment> {
        let keys = payment_keys(&payment.idempotency_key).gsi(
            format!("SESSION#{}", payment.session_id),
            format!(
                "PAYMENT#{}#{}",
                payment.created_at.as_second(),
                payment.idempotency_key
            ),
        );
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(keys.item(payment)?))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(payment.clone()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                match e.into_err() {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)
                        if c.item.is_some() =>
                    {
                        body(c.item.unwrap_or_default())
                    }
                    _ => self.get_payment(&payment.idempotency_key).await,
                }
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_payment(&self, key: &str) -> StoreResult<Payment> {
        self.get_body(&payment_keys(key), || format!("payment {key}"))
            .await
    }
}

impl EventLedger for DynamoStore {
    async fn record_event(&self, event: &EventRef) -> StoreResult<Applied> {
        Ok(
            match self
                .transact_retrying(vec![self.ledger_put(event)?])
                .await?
            {
                Ok(()) => Applied::Done,
                Err(_) => Applied::Duplicate,
            },
        )
    }

    async fn is_processed(
        &self,
        device_id: &str,
        event_id: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let item = self.get(&ledger_keys(device_id, event_id)).await?;
        Ok(match item.as_ref().and_then(|i| i.get("expires_at")) {
            Some(AttributeValue::N(v)) => v.parse::<i64>().is_ok_and(|exp| exp > now.as_second()),
            _ => false,
        })
    }
}
