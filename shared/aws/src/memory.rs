//! The in-memory store: the embedded default for local runs and the fast
//! twin for handler and use-case tests. It keeps every invariant the
//! DynamoDB store keeps, with the same rules (`parking_app::rules`) in the
//! same order, each operation atomic under one lock; the conformance suite
//! runs against both. It needs no AWS SDK: build this crate with
//! `default-features = false` to get it alone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::{SignedDuration, Timestamp};
use parking_app::ids::*;
use parking_app::outbox::OutboxMessage;
use parking_app::ports::*;
use parking_app::rules::{self, DEFAULT_EVENT_RETENTION};
use parking_app::timeline::PlateTimeline;
use parking_app::usecases::cost::{get_units, query_units, write_units};
use parking_app::*;
use parking_core::plate::skeleton;
use parking_core::{Plate, SessionState};

/// A processed event: when it is forgotten, and the token of the write
/// that consumed it.
#[derive(Clone)]
struct LedgerEntry {
    expires_at: i64,
    token: String,
}

#[derive(Default)]
struct State {
    lots: HashMap<LotId, Lot>,
    forecasts: HashMap<LotId, parking_app::usecases::forecast::LotForecast>,
    flags: Option<parking_app::flags::StoredFlags>,
    usage: HashMap<(LotId, jiff::civil::Date), parking_app::usecases::cost::Usage>,
    gates: HashMap<(LotId, GateId), Gate>,
    devices: HashMap<DeviceId, Device>,
    bays: BTreeMap<(LotId, BayId), Bay>,
    drivers: HashMap<DriverId, Driver>,
    plates: HashMap<String, PlateRegistration>,
    methods: BTreeMap<PaymentMethodId, PaymentMethod>,
    /// (lot, slot minutes, slot start) → reservations held.
    slots: HashMap<(LotId, u32, i64), u32>,
    reservations: HashMap<ReservationId, Reservation>,
    sessions: HashMap<SessionId, Session>,
    /// (lot, plate key) → session id, for sessions that hold their plate.
    open: HashMap<(LotId, String), SessionId>,
    payments: HashMap<IdempotencyKey, Payment>,
    ledger: HashMap<(DeviceId, EventId), LedgerEntry>,
    tariffs: HashMap<TariffId, TariffRecord>,
    /// (lot, time, id) → audit entry.
    audit: BTreeMap<(LotId, Timestamp, ActionId), AuditEntry>,
    passes: BTreeMap<(LotId, PassId), Pass>,
    attempts: HashMap<IdempotencyKey, parking_app::settlement::Attempt>,
    /// (lot, plate key) → the plate's timeline there (its head).
    timelines: HashMap<(LotId, String), PlateTimeline>,
    /// (lot, plate key, from, session) → an archived stay of the plate's.
    stays: BTreeMap<(LotId, String, Timestamp, String), parking_app::history::Stay>,
    /// OCR skeleton → keys of registered plates.
    registered_like: HashMap<String, BTreeSet<String>>,
    /// (lot, OCR skeleton) → keys of plates with an open session there.
    open_like: HashMap<(LotId, String), BTreeSet<String>>,
    open_counts: HashMap<LotId, i64>,
    /// Messages in write order, with whether each was delivered.
    outbox: Vec<(OutboxMessage, bool)>,
    /// Index of undelivered messages' positions by id.
    outbox_pending: BTreeMap<usize, String>,
}

/// What the ledger says of a write's event.
enum Seen {
    /// Not processed (or forgotten): go ahead.
    New,
    /// Consumed by this very write before: report success, change nothing.
    Mine,
    /// Consumed by another write.
    Duplicate,
}

impl State {
    /// The lot's occupancy, from its bays and counters as they are.
    fn occupancy(&self, lot: &Lot, at: Timestamp) -> Occupancy {
        let lot_id = &lot.id;
        let bays = self.bays.iter().filter(|((l, _), _)| l == lot_id);
        Occupancy {
            occupied: bays
                .clone()
                .filter(|(_, b)| b.occupied == Some(true))
                .count() as u32,
            free: bays
                .filter(|(_, b)| b.occupied == Some(false))
                .map(|((_, id), _)| id.clone())
                .collect(),
            open_sessions: u32::try_from(self.open_counts.get(lot_id).copied().unwrap_or(0).max(0))
                .unwrap_or(u32::MAX),
            held_reservations: self
                .reservations
                .values()
                .filter(|r| &r.lot_id == lot_id && rules::held_at(lot, r, at))
                .count() as u32,
        }
    }

    fn seen(&self, cause: Option<&EventRef>, token: &str) -> Seen {
        let Some(e) = cause else { return Seen::New };
        match self.ledger.get(&(e.device_id.clone(), e.event_id.clone())) {
            Some(entry) if rules::ledger_entry_live(entry.expires_at, e.processed_at) => {
                if entry.token == token {
                    Seen::Mine
                } else {
                    Seen::Duplicate
                }
            }
            _ => Seen::New,
        }
    }

    fn remember(&mut self, cause: Option<&EventRef>, token: &str, retention: SignedDuration) {
        if let Some(e) = cause {
            self.ledger.insert(
                (e.device_id.clone(), e.event_id.clone()),
                LedgerEntry {
                    expires_at: rules::ledger_expiry(e, retention),
                    token: token.to_owned(),
                },
            );
        }
    }
}

/// All state in process memory. Clones share it, as clients of one
/// table do.
#[derive(Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    retention: SignedDuration,
    requests: Arc<Requests>,
}

/// Requests made of a store, as the DynamoDB store would make them: each
/// port operation is one request.
#[derive(Debug, Default)]
pub struct Requests {
    reads: AtomicU64,
    writes: AtomicU64,
    /// Capacity units, in thousandths, estimated by DynamoDB's rules from
    /// the items' sizes (see [`parking_app::usecases::cost`]).
    read_milli: AtomicU64,
    write_milli: AtomicU64,
}

/// Capacity units consumed, as DynamoDB would report them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Consumed {
    pub read_units: f64,
    pub write_units: f64,
}

/// An item's size as DynamoDB counts it, estimated: its body as JSON, its
/// keys and attribute names.
fn item_bytes<T: serde::Serialize>(v: &T) -> usize {
    /// Counts what is written, keeping nothing.
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut n = Count(0);
    match serde_json::to_writer(&mut n, v) {
        Ok(()) => n.0 + KEY_BYTES,
        Err(_) => KEY_BYTES,
    }
}

/// Refuses a record the table would refuse: over DynamoDB's item limit
/// by the same estimate.
fn within_limit<T: serde::Serialize>(kind: &str, v: &T) -> StoreResult<()> {
    let bytes = item_bytes(v);
    if bytes > parking_app::ITEM_LIMIT_BYTES {
        return Err(StoreError::TooLarge {
            kind: kind.to_owned(),
            bytes,
            limit: parking_app::ITEM_LIMIT_BYTES,
        });
    }
    Ok(())
}

/// The size of items of one kind, estimated from the first: a lot's bays
/// and devices are alike.
fn alike_bytes<T: serde::Serialize>(items: &[T]) -> usize {
    items
        .first()
        .map_or(0, |first| item_bytes(first) * items.len())
}

/// Keys, index keys and attribute names of an item.
const KEY_BYTES: usize = 120;
/// A small item: a ledger entry, a counter, a key.
const SMALL_ITEM: usize = 200;
/// The shards of a lot's occupancy summary the DynamoDB store keeps.
const LIVE_SHARDS: usize = 16;

/// A count of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCount {
    pub reads: u64,
    pub writes: u64,
}

impl RequestCount {
    pub fn total(&self) -> u64 {
        self.reads + self.writes
    }

    /// What was counted since `earlier`.
    pub fn since(&self, earlier: RequestCount) -> RequestCount {
        RequestCount {
            reads: self.reads - earlier.reads,
            writes: self.writes - earlier.writes,
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(DEFAULT_EVENT_RETENTION)
    }
}

impl MemoryStore {
    /// A store that remembers processed device events for `retention`.
    pub fn new(retention: SignedDuration) -> Self {
        MemoryStore {
            state: Arc::new(Mutex::new(State::default())),
            retention,
            requests: Arc::new(Requests::default()),
        }
    }

    /// Requests made so far (the device flows' operations, each counted as
    /// the one DynamoDB request it is there).
    pub fn requests(&self) -> RequestCount {
        RequestCount {
            reads: self.requests.reads.load(Ordering::Relaxed),
            writes: self.requests.writes.load(Ordering::Relaxed),
        }
    }

    /// One read request of small items: one unit.
    fn read(&self) {
        self.read_units(1.0);
    }

    /// One write request of a small item: one unit.
    fn write(&self) {
        self.write_units(1.0);
    }

    fn read_units(&self, units: f64) {
        self.requests.reads.fetch_add(1, Ordering::Relaxed);
        let milli = (units * 1000.0).round() as u64;
        self.requests.read_milli.fetch_add(milli, Ordering::Relaxed);
    }

    fn write_units(&self, units: f64) {
        self.requests.writes.fetch_add(1, Ordering::Relaxed);
        let milli = (units * 1000.0).round() as u64;
        self.requests
            .write_milli
            .fetch_add(milli, Ordering::Relaxed);
    }

    /// Requests and units so far, as the simulator reads them.
    pub fn store_use(&self) -> parking_app::usecases::cost::StoreUse {
        let r = self.requests();
        let c = self.consumed();
        parking_app::usecases::cost::StoreUse {
            reads: r.reads,
            writes: r.writes,
            read_units: c.read_units,
            write_units: c.write_units,
        }
    }

    /// Capacity units consumed so far, estimated from the items' sizes on
    /// the device, outbox and settlement paths (one unit a request
    /// elsewhere).
    pub fn consumed(&self) -> Consumed {
        Consumed {
            read_units: self.requests.read_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            write_units: self.requests.write_milli.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave half a write behind:
        // every operation checks first and writes last.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn found<T: Clone>(value: Option<&T>, what: impl FnOnce() -> String) -> StoreResult<T> {
    value.cloned().ok_or_else(|| StoreError::not_found(what()))
}

impl LotStore for MemoryStore {
    async fn put_lot(&self, lot: &Lot) -> StoreResult<()> {
        self.state().lots.insert(lot.id.clone(), lot.clone());
        Ok(())
    }

    async fn get_lot(&self, lot_id: &LotId) -> StoreResult<Lot> {
        found(self.state().lots.get(lot_id), || format!("lot {lot_id}"))
    }

    async fn put_gate(&self, gate: &Gate) -> StoreResult<()> {
        self.state()
            .gates
            .insert((gate.lot_id.clone(), gate.id.clone()), gate.clone());
        Ok(())
    }

    async fn get_gate(&self, lot_id: &LotId, gate_id: &GateId) -> StoreResult<Gate> {
        found(
            self.state().gates.get(&(lot_id.clone(), gate_id.clone())),
            || format!("gate {gate_id} of lot {lot_id}"),
        )
    }

    async fn put_device(&self, device: &Device) -> StoreResult<()> {
        self.state()
            .devices
            .insert(device.id.clone(), device.clone());
        Ok(())
    }

    async fn get_device(&self, device_id: &DeviceId) -> StoreResult<Device> {
        found(self.state().devices.get(device_id), || {
            format!("device {device_id}")
        })
    }

    async fn record_bay(&self, bay: &Bay, cause: Option<&EventRef>) -> StoreResult<BayOutcome> {
        self.write_units(write_units(&[item_bytes(bay), SMALL_ITEM], true));
        let token = rules::write_token("record_bay", &(bay, cause));
        let mut s = self.state();
        match s.seen(cause, &token) {
            Seen::Duplicate => return Ok(BayOutcome::Duplicate),
            Seen::Mine => return Ok(BayOutcome::Updated),
            Seen::New => {}
        }
        let key = (bay.lot_id.clone(), bay.id.clone());
        if let Some(old) = s.bays.get(&key) {
            if old == bay {
                return Ok(BayOutcome::Updated);
            }
            if !rules::bay_reading_replaces(old, bay) {
                return Ok(BayOutcome::Stale);
            }
        }
        s.bays.insert(key, bay.clone());
        s.remember(cause, &token, self.retention);
        Ok(BayOutcome::Updated)
    }

    async fn bays(&self, lot_id: &LotId) -> StoreResult<Vec<Bay>> {
        Ok(self
            .state()
            .bays
            .iter()
            .filter(|((lot, _), _)| lot == lot_id)
            .map(|(_, b)| b.clone())
            .collect())
    }
}

impl DriverStore for MemoryStore {
    async fn put_driver(&self, driver: &Driver) -> StoreResult<()> {
        within_limit("driver", driver)?;
        self.state()
            .drivers
            .insert(driver.id.clone(), driver.clone());
        Ok(())
    }

    async fn get_driver(&self, driver_id: &DriverId) -> StoreResult<Driver> {
        found(self.state().drivers.get(driver_id), || {
            format!("driver {driver_id}")
        })
    }

    async fn register_plate(&self, registration: &PlateRegistration) -> StoreResult<()> {
        let mut s = self.state();
        let key = registration.plate.key();
        match s.plates.get(&key) {
            Some(held) if held.driver_id == registration.driver_id => Ok(()),
            Some(_) => Err(Refusal::PlateRegisteredToAnother.into()),
            None => {
                s.registered_like
                    .entry(skeleton(&key))
                    .or_default()
                    .insert(key.clone());
                s.plates.insert(key, registration.clone());
                Ok(())
            }
        }
    }

    async fn unregister_plate(&self, plate: &Plate, driver_id: &DriverId) -> StoreResult<()> {
        let mut s = self.state();
        let key = plate.key();
        match s.plates.get(&key) {
            None => Ok(()),
            Some(held) if &held.driver_id != driver_id => {
                Err(Refusal::PlateRegisteredToAnother.into())
            }
            Some(_) => {
                s.plates.remove(&key);
                if let Some(set) = s.registered_like.get_mut(&skeleton(&key)) {
                    set.remove(&key);
                }
                Ok(())
            }
        }
    }

    async fn plate_owner(&self, plate: &Plate) -> StoreResult<Option<PlateRegistration>> {
        Ok(self.state().plates.get(&plate.key()).cloned())
    }

    async fn driver_plates(&self, driver_id: &DriverId) -> StoreResult<Vec<PlateRegistration>> {
        let mut v: Vec<PlateRegistration> = self
            .state()
            .plates
            .values()
            .filter(|p| &p.driver_id == driver_id)
            .cloned()
            .collect();
        v.sort_by_key(|p| p.plate.key());
        Ok(v)
    }

    async fn add_payment_method(&self, method: &PaymentMethod) -> StoreResult<()> {
        let mut s = self.state();
        if let Some(held) = s.methods.get(&method.id)
            && held.driver_id != method.driver_id
        {
            return Err(Refusal::PaymentMethodOfAnother {
                method_id: method.id.clone(),
            }
            .into());
        }
        s.methods.insert(method.id.clone(), method.clone());
        Ok(())
    }

    async fn payment_methods(&self, driver_id: &DriverId) -> StoreResult<Vec<PaymentMethod>> {
        Ok(self
            .state()
            .methods
            .values()
            .filter(|m| &m.driver_id == driver_id)
            .cloned()
            .collect())
    }
}

impl ReservationStore for MemoryStore {
    async fn reserve(&self, reservation: &Reservation, lot: &Lot) -> StoreResult<()> {
        let slots = rules::reservation_slots(lot, reservation)?;
        let mut s = self.state();
        let stored = found(s.lots.get(&lot.id), || format!("lot {}", lot.id))?;
        if !rules::same_reservation_terms(&stored, lot) {
            return Err(Refusal::LotChanged {
                lot_id: lot.id.clone(),
            }
            .into());
        }
        if let Some(held) = s.reservations.get(&reservation.id) {
            return if held == reservation {
                Ok(())
            } else {
                Err(Refusal::ReservationExists {
                    reservation_id: reservation.id.clone(),
                }
                .into())
            };
        }
        for &slot in &slots {
            let taken = s
                .slots
                .get(&(lot.id.clone(), lot.slot_minutes, slot))
                .copied()
                .unwrap_or(0);
            if taken >= lot.reservable {
                return Err(rules::slot_full(lot, slot));
            }
        }
        for slot in slots {
            *s.slots
                .entry((lot.id.clone(), lot.slot_minutes, slot))
                .or_default() += 1;
        }
        s.reservations
            .insert(reservation.id.clone(), reservation.clone());
        Ok(())
    }

    async fn cancel_reservation(&self, reservation_id: &ReservationId) -> StoreResult<Reservation> {
        self.cancel(reservation_id, None)
    }

    async fn cancel_reservation_with_fee(
        &self,
        reservation_id: &ReservationId,
        fee: &parking_app::outbox::PaymentOrder,
    ) -> StoreResult<Reservation> {
        self.cancel(reservation_id, Some(fee))
    }

    async fn get_reservation(&self, reservation_id: &ReservationId) -> StoreResult<Reservation> {
        found(self.state().reservations.get(reservation_id), || {
            format!("reservation {reservation_id}")
        })
    }

    async fn slot_count(&self, lot: &Lot, at: Timestamp) -> StoreResult<u32> {
        let slot = rules::slot_start(lot, at);
        Ok(self
            .state()
            .slots
            .get(&(lot.id.clone(), lot.slot_minutes, slot))
            .copied()
            .unwrap_or(0))
    }
}

impl MemoryStore {
    fn cancel(
        &self,
        reservation_id: &ReservationId,
        fee: Option<&parking_app::outbox::PaymentOrder>,
    ) -> StoreResult<Reservation> {
        let outbox: Vec<OutboxMessage> = fee
            .cloned()
            .map(OutboxMessage::Payments)
            .into_iter()
            .collect();
        self.end(reservation_id, &outbox, ReservationState::Cancelled)
    }

    /// Ends an active reservation (cancelled, or a no-show), freeing its
    /// slots and queuing its fee; one not active is returned as it is.
    fn end(
        &self,
        reservation_id: &ReservationId,
        outbox: &[OutboxMessage],
        to: ReservationState,
    ) -> StoreResult<Reservation> {
        let mut s = self.state();
        let mut r = found(s.reservations.get(reservation_id), || {
            format!("reservation {reservation_id}")
        })?;
        if r.state != ReservationState::Active {
            return Ok(r);
        }
        for slot in rules::slots_of(&r)? {
            if let Some(n) = s.slots.get_mut(&(r.lot_id.clone(), r.slot_minutes, slot)) {
                *n = n.saturating_sub(1);
            }
        }
        r.state = to;
        r.cancellation_fee = fee_of(outbox);
        s.reservations.insert(r.id.clone(), r.clone());
        for m in outbox {
            let at = s.outbox.len();
            s.outbox_pending.insert(at, m.id());
            s.outbox.push((m.clone(), false));
        }
        Ok(r)
    }
}

impl SessionStore for MemoryStore {
    async fn open_session(
        &self,
        session: &Session,
        cause: Option<&EventRef>,
    ) -> StoreResult<Applied> {
        rules::check_new_session(session)?;
        let token = rules::write_token("open_session", &(session, cause));
        let mut s = self.state();
        match s.seen(cause, &token) {
            Seen::Duplicate => return Ok(Applied::Duplicate),
            Seen::Mine => return Ok(Applied::Done),
            Seen::New => {}
        }
        if s.sessions.get(&session.id) == Some(session) {
            return Ok(Applied::Done);
        }
        let hold = (session.lot_id.clone(), session.plate.key());
        if s.open.contains_key(&hold) {
            return Err(Refusal::PlateHasOpenSession {
                lot_id: session.lot_id.clone(),
            }
            .into());
        }
        if s.sessions.contains_key(&session.id) {
            return Err(Refusal::SessionExists {
                session_id: session.id.clone(),
            }
            .into());
        }
        s.open.insert(hold, session.id.clone());
        s.sessions.insert(session.id.clone(), session.clone());
        s.remember(cause, &token, self.retention);
        Ok(Applied::Done)
    }

    async fn open_session_for(
        &self,
        lot_id: &LotId,
        plate: &Plate,
    ) -> StoreResult<Option<Session>> {
        let s = self.state();
        Ok(s.open
            .get(&(lot_id.clone(), plate.key()))
            .and_then(|id| s.sessions.get(id))
            .cloned())
    }

    async fn get_session(&self, session_id: &SessionId) -> StoreResult<Session> {
        found(self.state().sessions.get(session_id), || {
            format!("session {session_id}")
        })
    }

    async fn update_session(
        &self,
        expected: (SessionState, u64),
        next: &Session,
        cause: Option<&EventRef>,
    ) -> StoreResult<Applied> {
        rules::check_session_update(expected, next)?;
        let token = rules::write_token("update_session", &(expected, next, cause));
        let mut s = self.state();
        match s.seen(cause, &token) {
            Seen::Duplicate => return Ok(Applied::Duplicate),
            Seen::Mine => return Ok(Applied::Done),
            Seen::New => {}
        }
        let Some(current) = s.sessions.get(&next.id) else {
            return Err(rules::stale_session(next, expected));
        };
        rules::check_identity(current, next)?;
        if current == next {
            return Ok(Applied::Done);
        }
        if (current.state, current.version) != expected {
            return Err(rules::stale_session(next, expected));
        }
        // The plate's hold: kept (or put back, were it ever missing) while
        // the session holds the plate, released when it stops; another
        // session's hold is never touched.
        let hold = (next.lot_id.clone(), next.plate.key());
        if expected.0.holds_plate() || next.state.holds_plate() {
            if s.open.get(&hold).is_some_and(|id| id != &next.id) {
                return Err(Refusal::PlateHasOpenSession {
                    lot_id: next.lot_id.clone(),
                }
                .into());
            }
            if next.state.holds_plate() {
                s.open.insert(hold, next.id.clone());
            } else {
                s.open.remove(&hold);
            }
        }
        s.sessions.insert(next.id.clone(), next.clone());
        s.remember(cause, &token, self.retention);
        Ok(Applied::Done)
    }

    async fn correct_plate(
        &self,
        current: &Session,
        plate: &Plate,
        at: Timestamp,
        cause: Option<&EventRef>,
    ) -> StoreResult<Applied> {
        let next = rules::corrected(current, plate, at)?;
        let expected = (current.state, current.version);
        let token = rules::write_token("correct_plate", &(current, plate, at, cause));
        let mut s = self.state();
        match s.seen(cause, &token) {
            Seen::Duplicate => return Ok(Applied::Duplicate),
            Seen::Mine => return Ok(Applied::Done),
            Seen::New => {}
        }
        match s.sessions.get(&current.id) {
            Some(stored) if stored == &next => return Ok(Applied::Done),
            Some(stored)
                if (stored.state, stored.version) == expected
                    && rules::check_identity(stored, current).is_ok() => {}
            _ => return Err(rules::stale_session(&next, expected)),
        }
        if current.state.holds_plate() {
            let new_hold = (current.lot_id.clone(), plate.key());
            if s.open.contains_key(&new_hold) {
                return Err(Refusal::PlateHasOpenSession {
                    lot_id: current.lot_id.clone(),
                }
                .into());
            }
            let old_hold = (current.lot_id.clone(), current.plate.key());
            if s.open.get(&old_hold) == Some(&current.id) {
                s.open.remove(&old_hold);
            }
            s.open.insert(new_hold, current.id.clone());
        }
        s.sessions.insert(next.id.clone(), next);
        s.remember(cause, &token, self.retention);
        Ok(Applied::Done)
    }
}

impl PaymentStore for MemoryStore {
    async fn record_payment(&self, payment: &Payment) -> StoreResult<Payment> {
        let mut s = self.state();
        match s.payments.get(&payment.idempotency_key) {
            Some(first) if rules::same_payment(first, payment) => Ok(first.clone()),
            Some(_) => Err(Refusal::PaymentKeyReused {
                key: payment.idempotency_key.clone(),
            }
            .into()),
            None => {
                s.payments
                    .insert(payment.idempotency_key.clone(), payment.clone());
                Ok(payment.clone())
            }
        }
    }

    async fn get_payment(&self, key: &IdempotencyKey) -> StoreResult<Payment> {
        found(self.state().payments.get(key), || format!("payment {key}"))
    }
}

impl EventLedger for MemoryStore {
    async fn record_event(&self, event: &EventRef) -> StoreResult<Applied> {
        let token = rules::write_token("record_event", event);
        let mut s = self.state();
        match s.seen(Some(event), &token) {
            Seen::Duplicate => return Ok(Applied::Duplicate),
            Seen::Mine => return Ok(Applied::Done),
            Seen::New => {}
        }
        s.remember(Some(event), &token, self.retention);
        Ok(Applied::Done)
    }

    async fn is_processed(
        &self,
        device_id: &DeviceId,
        event_id: &EventId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(self
            .state()
            .ledger
            .get(&(device_id.clone(), event_id.clone()))
            .is_some_and(|e| rules::ledger_entry_live(e.expires_at, now)))
    }
}

impl DeviceStore for MemoryStore {
    async fn put_tariff(&self, tariff: &TariffRecord) -> StoreResult<()> {
        self.write();
        self.state()
            .tariffs
            .insert(tariff.id.clone(), tariff.clone());
        Ok(())
    }

    async fn lot_config(&self, lot_id: &LotId) -> StoreResult<LotConfig> {
        let s = self.state();
        let lot = found(s.lots.get(lot_id), || format!("lot {lot_id}"))?;
        let mut tariffs = Vec::new();
        let ids =
            std::iter::once(&lot.tariff_id).chain(lot.tariff_schedule.iter().map(|v| &v.tariff_id));
        for id in ids {
            tariffs.push(found(s.tariffs.get(id), || format!("tariff {id}"))?);
        }
        let mut gates: Vec<Gate> = s
            .gates
            .values()
            .filter(|g| &g.lot_id == lot_id)
            .cloned()
            .collect();
        gates.sort_by(|a, b| a.id.cmp(&b.id));
        let mut devices: Vec<Device> = s
            .devices
            .values()
            .filter(|d| &d.lot_id == lot_id)
            .cloned()
            .collect();
        devices.sort_by(|a, b| a.id.cmp(&b.id));
        let config = LotConfig {
            lot,
            gates,
            devices,
            tariffs,
        };
        // One query of the lot's partition (its tariffs by a batch get).
        let bytes =
            item_bytes(&config.lot) + alike_bytes(&config.gates) + alike_bytes(&config.devices);
        let tariffs: Vec<usize> = config.tariffs.iter().map(item_bytes).collect();
        self.read_units(query_units(bytes, true) + get_units(&tariffs));
        Ok(config)
    }

    async fn plate_view(&self, lot_id: &LotId, plate: &Plate) -> StoreResult<PlateView> {
        let s = self.state();
        let key = plate.key();
        let view = PlateView {
            timeline: s.timelines.get(&(lot_id.clone(), key.clone())).cloned(),
            owner: s.plates.get(&key).cloned(),
        };
        // One batch get of the timeline and the registration.
        self.read_units(get_units(&[
            view.timeline.as_ref().map_or(0, item_bytes),
            view.owner.as_ref().map_or(0, item_bytes),
        ]));
        Ok(view)
    }

    async fn stay_before(
        &self,
        lot_id: &LotId,
        plate: &Plate,
        at: Timestamp,
    ) -> StoreResult<Option<parking_app::history::Stay>> {
        let s = self.state();
        let (lot, key) = (lot_id.clone(), plate.key());
        let found = s
            .stays
            .range(
                (lot.clone(), key.clone(), Timestamp::MIN, String::new())
                    ..=(lot, key, at, "~".to_owned()),
            )
            .next_back()
            .map(|(_, v)| v.clone());
        self.read_units(query_units(found.as_ref().map_or(0, item_bytes), true));
        Ok(found)
    }

    async fn stays_from(
        &self,
        lot_id: &LotId,
        plate: &Plate,
        from: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<parking_app::history::Stay>> {
        let s = self.state();
        let (lot, key) = (lot_id.clone(), plate.key());
        let found: Vec<parking_app::history::Stay> = s
            .stays
            .range(
                (lot.clone(), key.clone(), from, String::new())
                    ..=(lot, key, Timestamp::MAX, "~".to_owned()),
            )
            .take(limit)
            .map(|(_, v)| v.clone())
            .collect();
        self.read_units(query_units(found.iter().map(item_bytes).sum(), true));
        Ok(found)
    }

    async fn driver_view(&self, driver_id: &DriverId) -> StoreResult<DriverView> {
        let s = self.state();
        let methods = s
            .methods
            .values()
            .filter(|m| &m.driver_id == driver_id)
            .cloned()
            .collect();
        let mut reservations: Vec<Reservation> = s
            .reservations
            .values()
            .filter(|r| &r.driver_id == driver_id && r.state == ReservationState::Active)
            .cloned()
            .collect();
        reservations.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        let view = DriverView {
            methods,
            reservations,
        };
        // One query of the driver's partition.
        let bytes = view.methods.iter().map(item_bytes).sum::<usize>()
            + view.reservations.iter().map(item_bytes).sum::<usize>();
        self.read_units(query_units(bytes, true));
        Ok(view)
    }

    async fn plates_like(&self, lot_id: &LotId, skeleton: &str) -> StoreResult<Vec<LikePlate>> {
        self.read();
        let s = self.state();
        let mut keys: BTreeSet<&String> = BTreeSet::new();
        if let Some(set) = s.registered_like.get(skeleton) {
            keys.extend(set);
        }
        if let Some(set) = s.open_like.get(&(lot_id.clone(), skeleton.to_owned())) {
            keys.extend(set);
        }
        Ok(keys
            .into_iter()
            .filter_map(|k| match s.plates.get(k) {
                Some(r) => Some(LikePlate {
                    plate: r.plate.clone(),
                    registered: true,
                }),
                None => s
                    .timelines
                    .get(&(lot_id.clone(), k.clone()))
                    .map(|t| LikePlate {
                        plate: t.plate.clone(),
                        registered: false,
                    }),
            })
            .collect())
    }

    async fn occupancy(&self, lot: &Lot, at: Timestamp) -> StoreResult<Occupancy> {
        let occupancy = self.state().occupancy(lot, at);
        // One query of the lot's summary shards and held reservations.
        let ids: usize = occupancy.free.iter().map(|b| b.as_str().len()).sum();
        let bytes = ids
            + occupancy.occupied as usize * 8
            + SMALL_ITEM * (LIVE_SHARDS + occupancy.held_reservations as usize);
        self.read_units(query_units(bytes, true));
        Ok(occupancy)
    }

    async fn lot_live(&self, lot: &Lot, at: Timestamp) -> StoreResult<LotLive> {
        let s = self.state();
        let lot_id = &lot.id;
        let mut devices: Vec<Device> = s
            .devices
            .values()
            .filter(|d| &d.lot_id == lot_id)
            .cloned()
            .collect();
        devices.sort_by(|a, b| a.id.cmp(&b.id));
        let live = LotLive {
            occupancy: s.occupancy(lot, at),
            bays: s
                .bays
                .iter()
                .filter(|((lot, _), _)| lot == lot_id)
                .map(|(_, b)| b.clone())
                .collect(),
            devices,
        };
        // One query of the lot's partition: bays, devices, summary, holds.
        let bytes = alike_bytes(&live.bays)
            + alike_bytes(&live.devices)
            + SMALL_ITEM * (LIVE_SHARDS + live.occupancy.held_reservations as usize);
        self.read_units(query_units(bytes, true));
        Ok(live)
    }

    async fn commit_read(&self, commit: &TimelineCommit) -> StoreResult<Applied> {
        // One transaction: the timeline, its sessions, the outbox, the
        // ledger entry, the lot's counter, a checked-in reservation.
        within_limit("timeline", &commit.timeline)?;
        for session in &commit.changed {
            within_limit("session", session)?;
        }
        for stay in &commit.stays {
            within_limit("stay", stay)?;
        }
        let mut items = vec![item_bytes(&commit.timeline), SMALL_ITEM];
        items.extend(commit.changed.iter().map(item_bytes));
        items.extend(commit.stays.iter().map(item_bytes));
        items.extend(commit.stays_gone.iter().map(|_| SMALL_ITEM));
        items.extend(commit.outbox.iter().map(item_bytes));
        if commit.open_delta != 0 {
            items.push(SMALL_ITEM);
        }
        if let Some(r) = &commit.check_in {
            items.push(item_bytes(r));
        }
        self.write_units(write_units(&items, true));
        let t = &commit.timeline;
        let token = rules::write_token(
            "commit_read",
            &(&t.lot_id, &t.plate, t.version, commit.attempt),
        );
        let mut s = self.state();
        match s.seen(Some(&commit.event), &token) {
            Seen::Duplicate => return Ok(Applied::Duplicate),
            Seen::Mine => return Ok(Applied::Done),
            Seen::New => {}
        }
        let key = (t.lot_id.clone(), t.plate.key());
        let stored = s.timelines.get(&key).map_or(0, |t| t.version);
        if stored + 1 != t.version {
            return Err(Refusal::StaleTimeline {
                lot_id: t.lot_id.clone(),
            }
            .into());
        }
        if let Some(held) = &commit.check_in {
            match s.reservations.get_mut(&held.id) {
                Some(r) if r.state == ReservationState::Active => {
                    r.state = ReservationState::CheckedIn;
                }
                // Cancelled or used meanwhile: apply the read again.
                _ => {
                    return Err(Refusal::StaleTimeline {
                        lot_id: t.lot_id.clone(),
                    }
                    .into());
                }
            }
        }
        for session in &commit.changed {
            s.sessions.insert(session.id.clone(), session.clone());
        }
        *s.open_counts.entry(t.lot_id.clone()).or_default() += commit.open_delta;
        let like = (t.lot_id.clone(), skeleton(&key.1));
        if t.open_sessions() > 0 {
            s.open_like.entry(like).or_default().insert(key.1.clone());
        } else if let Some(set) = s.open_like.get_mut(&like) {
            set.remove(&key.1);
        }
        for m in &commit.outbox {
            let at = s.outbox.len();
            s.outbox_pending.insert(at, m.id());
            s.outbox.push((m.clone(), false));
        }
        for (from, id) in &commit.stays_gone {
            s.stays
                .remove(&(t.lot_id.clone(), key.1.clone(), *from, id.to_string()));
        }
        for stay in &commit.stays {
            s.stays.insert(
                (
                    t.lot_id.clone(),
                    key.1.clone(),
                    stay.from,
                    stay.id.to_string(),
                ),
                stay.clone(),
            );
        }
        s.timelines.insert(key, t.clone());
        if let Some(e) = &commit.audit {
            s.audit
                .insert((e.lot_id.clone(), e.at, e.id.clone()), e.clone());
        }
        if let Some(p) = &commit.pass {
            s.passes.insert((p.lot_id.clone(), p.id.clone()), p.clone());
        }
        s.remember(Some(&commit.event), &token, self.retention);
        Ok(Applied::Done)
    }

    async fn record_presence(
        &self,
        device_id: &DeviceId,
        presence: &Presence,
    ) -> StoreResult<PresenceOutcome> {
        self.write();
        let mut s = self.state();
        let device = s
            .devices
            .get_mut(device_id)
            .ok_or_else(|| StoreError::not_found(format!("device {device_id}")))?;
        match &device.presence {
            Some(held) if held == presence => Ok(PresenceOutcome::Updated),
            Some(held) if !presence.newer_than(held) => Ok(PresenceOutcome::Stale),
            _ => {
                device.presence = Some(*presence);
                Ok(PresenceOutcome::Updated)
            }
        }
    }

    async fn lot_sessions(&self, lot_id: &LotId) -> StoreResult<Vec<Session>> {
        self.read();
        let mut v: Vec<Session> = self
            .state()
            .sessions
            .values()
            .filter(|x| &x.lot_id == lot_id)
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.entry_at, &a.id).cmp(&(b.entry_at, &b.id)));
        Ok(v)
    }
}

impl OutboxStore for MemoryStore {
    async fn outbox_pending(&self, limit: usize) -> StoreResult<Vec<OutboxMessage>> {
        let s = self.state();
        let pending: Vec<OutboxMessage> = s
            .outbox_pending
            .keys()
            .take(limit)
            .map(|&i| s.outbox[i].0.clone())
            .collect();
        // One query of the outbox index.
        let bytes = pending.iter().map(item_bytes).sum::<usize>();
        self.read_units(query_units(bytes, false));
        Ok(pending)
    }

    async fn outbox_undelivered(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        self.read_units(get_units(&vec![SMALL_ITEM; ids.len()]));
        let s = self.state();
        let pending: BTreeSet<&String> = s.outbox_pending.values().collect();
        Ok(ids
            .iter()
            .filter(|id| pending.contains(id))
            .cloned()
            .collect())
    }

    async fn outbox_delivered(&self, ids: &[String]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write_units(write_units(&vec![SMALL_ITEM; ids.len()], false));
        let mut s = self.state();
        let wanted: BTreeSet<&String> = ids.iter().collect();
        let done: Vec<usize> = s
            .outbox_pending
            .iter()
            .filter(|(_, id)| wanted.contains(id))
            .map(|(&i, _)| i)
            .collect();
        for i in done {
            s.outbox_pending.remove(&i);
            s.outbox[i].1 = true;
        }
        Ok(())
    }
}

impl ApiStore for MemoryStore {
    async fn lots(&self) -> StoreResult<Vec<Lot>> {
        self.read();
        let mut v: Vec<Lot> = self.state().lots.values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    async fn remove_payment_method(
        &self,
        driver_id: &DriverId,
        method_id: &PaymentMethodId,
    ) -> StoreResult<()> {
        self.write();
        let mut s = self.state();
        match s.methods.get(method_id) {
            None => Ok(()),
            Some(m) if &m.driver_id != driver_id => Err(Refusal::PaymentMethodOfAnother {
                method_id: method_id.clone(),
            }
            .into()),
            Some(_) => {
                s.methods.remove(method_id);
                Ok(())
            }
        }
    }

    async fn driver_reservations(&self, driver_id: &DriverId) -> StoreResult<Vec<Reservation>> {
        self.read();
        let mut v: Vec<Reservation> = self
            .state()
            .reservations
            .values()
            .filter(|r| &r.driver_id == driver_id)
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        Ok(v)
    }

    async fn driver_sessions(&self, driver_id: &DriverId) -> StoreResult<Vec<Session>> {
        self.read();
        let mut v: Vec<Session> = self
            .state()
            .sessions
            .values()
            .filter(|s| {
                s.driver_id.as_ref() == Some(driver_id) && s.state != SessionState::Superseded
            })
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.entry_at, &a.id).cmp(&(b.entry_at, &b.id)));
        Ok(v)
    }

    async fn update_lot(&self, lot: &Lot, audit: &AuditEntry) -> StoreResult<()> {
        self.write();
        let mut s = self.state();
        let stored = s.lots.get(&lot.id).map_or(0, |l| l.revision);
        if !s.lots.contains_key(&lot.id) || stored + 1 != lot.revision {
            return Err(Refusal::StaleLot {
                lot_id: lot.id.clone(),
                revision: lot.revision.saturating_sub(1),
            }
            .into());
        }
        s.lots.insert(lot.id.clone(), lot.clone());
        s.audit.insert(
            (audit.lot_id.clone(), audit.at, audit.id.clone()),
            audit.clone(),
        );
        Ok(())
    }

    async fn lot_sessions_since(
        &self,
        lot_id: &LotId,
        since: Timestamp,
    ) -> StoreResult<Vec<Session>> {
        self.read();
        let mut v: Vec<Session> = self
            .state()
            .sessions
            .values()
            .filter(|x| &x.lot_id == lot_id && x.entry_at >= since)
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.entry_at, &a.id).cmp(&(b.entry_at, &b.id)));
        Ok(v)
    }

    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.write();
        self.state().audit.insert(
            (entry.lot_id.clone(), entry.at, entry.id.clone()),
            entry.clone(),
        );
        Ok(())
    }

    async fn audit_trail(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<AuditEntry>> {
        self.read();
        Ok(self
            .state()
            .audit
            .values()
            .filter(|e| &e.lot_id == lot_id && e.at >= from && e.at < to)
            .cloned()
            .collect())
    }

    async fn passes(&self, lot_id: &LotId) -> StoreResult<Vec<Pass>> {
        self.read();
        Ok(self
            .state()
            .passes
            .values()
            .filter(|p| &p.lot_id == lot_id)
            .cloned()
            .collect())
    }
}

impl MemoryStore {
    /// Every message the outbox has held, delivered or not, in write
    /// order.
    pub fn outbox_all(&self) -> Vec<OutboxMessage> {
        self.state().outbox.iter().map(|(m, _)| m.clone()).collect()
    }

    /// The plates' history as stored: how many heads and stays, and the
    /// largest of each by the store's estimate of an item's size.
    pub fn history_items(&self) -> HistoryItems {
        let s = self.state();
        HistoryItems {
            heads: s.timelines.len(),
            stays: s.stays.len(),
            largest_head: s.timelines.values().map(item_bytes).max().unwrap_or(0),
            largest_stay: s.stays.values().map(item_bytes).max().unwrap_or(0),
        }
    }
}

impl MemoryStore {
    /// The largest record the store keeps as an item of its own (a
    /// plate's head or stay, a session, a reservation, a payment or its
    /// attempt, an audit entry, a pass, an outbox message), in bytes as
    /// serialized, with its kind: what the DynamoDB store would write as
    /// one item.
    pub fn largest_item(&self) -> (usize, &'static str) {
        let s = self.state();
        let largest = |kind: &'static str, sizes: &mut dyn Iterator<Item = usize>| {
            (sizes.max().unwrap_or(0), kind)
        };
        [
            largest("timeline", &mut s.timelines.values().map(item_bytes)),
            largest("stay", &mut s.stays.values().map(item_bytes)),
            largest("session", &mut s.sessions.values().map(item_bytes)),
            largest("reservation", &mut s.reservations.values().map(item_bytes)),
            largest("payment", &mut s.payments.values().map(item_bytes)),
            largest("attempt", &mut s.attempts.values().map(item_bytes)),
            largest("audit", &mut s.audit.values().map(item_bytes)),
            largest("pass", &mut s.passes.values().map(item_bytes)),
            largest("outbox", &mut s.outbox.iter().map(|(m, _)| item_bytes(m))),
        ]
        .into_iter()
        .max()
        .unwrap_or((0, "none"))
    }
}

/// What [`MemoryStore::history_items`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryItems {
    pub heads: usize,
    pub stays: usize,
    pub largest_head: usize,
    pub largest_stay: usize,
}

/// The fee among what ending a reservation queues.
fn fee_of(outbox: &[OutboxMessage]) -> Option<parking_core::Money> {
    outbox.iter().find_map(|m| match m {
        OutboxMessage::Payments(o) => Some(o.amount),
        OutboxMessage::Notifications(_) => None,
    })
}

/// A claim on an attempt, under the store's lock.
fn claim_in(
    s: &mut State,
    attempt: &parking_app::settlement::Attempt,
    now: Timestamp,
) -> parking_app::settlement::Claim {
    use parking_app::settlement::{AttemptState, Claim};
    let taken_over = match s.attempts.get(&attempt.key) {
        None => None,
        Some(a) => match &a.state {
            AttemptState::Claimed { until, .. } if *until < now => Some(a.clone()),
            AttemptState::Claimed { .. } => return Claim::Busy,
            _ => return Claim::Finished(a.clone()),
        },
    };
    s.attempts.insert(attempt.key.clone(), attempt.clone());
    Claim::Claimed { taken_over }
}

impl parking_app::UsageStore for MemoryStore {
    async fn add_usage(
        &self,
        lot_id: &LotId,
        date: jiff::civil::Date,
        usage: &parking_app::usecases::cost::Usage,
    ) -> StoreResult<()> {
        let mut s = self.state();
        let held = s.usage.entry((lot_id.clone(), date)).or_default();
        *held = held.plus(usage);
        Ok(())
    }

    async fn lot_usage(
        &self,
        lot_id: &LotId,
        date: jiff::civil::Date,
    ) -> StoreResult<parking_app::usecases::cost::Usage> {
        Ok(self
            .state()
            .usage
            .get(&(lot_id.clone(), date))
            .copied()
            .unwrap_or_default())
    }
}

impl parking_app::FlagStore for MemoryStore {
    async fn flag_document(&self) -> StoreResult<Option<parking_app::flags::StoredFlags>> {
        self.read();
        Ok(self.state().flags.clone())
    }

    async fn put_flags(
        &self,
        flags: &parking_app::flags::StoredFlags,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        self.write();
        let mut s = self.state();
        let stored = s.flags.as_ref().map_or(0, |f| f.revision);
        if stored + 1 != flags.revision {
            return Err(Refusal::StaleFlags { revision: stored }.into());
        }
        s.flags = Some(flags.clone());
        s.audit.insert(
            (audit.lot_id.clone(), audit.at, audit.id.clone()),
            audit.clone(),
        );
        Ok(())
    }
}

impl parking_app::ForecastStore for MemoryStore {
    async fn put_forecast(
        &self,
        forecast: &parking_app::usecases::forecast::LotForecast,
    ) -> StoreResult<()> {
        self.write();
        self.state()
            .forecasts
            .insert(forecast.lot_id.clone(), forecast.clone());
        Ok(())
    }

    async fn lot_forecast(
        &self,
        lot_id: &LotId,
    ) -> StoreResult<Option<parking_app::usecases::forecast::LotForecast>> {
        self.read();
        Ok(self.state().forecasts.get(lot_id).cloned())
    }
}

impl parking_app::SweepStore for MemoryStore {
    async fn lot_reservations_starting(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<Reservation>> {
        self.read();
        let mut v: Vec<Reservation> = self
            .state()
            .reservations
            .values()
            .filter(|r| &r.lot_id == lot_id && r.start >= from && r.start < to)
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        Ok(v)
    }

    async fn lot_sessions_entered(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<Session>> {
        self.read();
        let mut v: Vec<Session> = self
            .state()
            .sessions
            .values()
            .filter(|x| &x.lot_id == lot_id && x.entry_at >= from && x.entry_at < to)
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.entry_at, &a.id).cmp(&(b.entry_at, &b.id)));
        Ok(v)
    }

    async fn mark_no_show(
        &self,
        reservation_id: &ReservationId,
        outbox: &[OutboxMessage],
    ) -> StoreResult<Reservation> {
        self.write();
        self.end(reservation_id, outbox, ReservationState::NoShow)
    }

    async fn outbox_stale(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<OutboxMessage>> {
        self.read();
        let s = self.state();
        Ok(s.outbox_pending
            .keys()
            .map(|&i| &s.outbox[i].0)
            .filter(|m| m.created_at() < before)
            .take(limit)
            .cloned()
            .collect())
    }
}

impl parking_app::settlement::AttemptStore for MemoryStore {
    async fn due_retries(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<parking_app::settlement::Attempt>> {
        use parking_app::settlement::AttemptState;
        self.read();
        let due = |a: &parking_app::settlement::Attempt| match a.state {
            AttemptState::Failed {
                retry_at: Some(t), ..
            } if t <= now => Some(t),
            _ => None,
        };
        let mut v: Vec<_> = self
            .state()
            .attempts
            .values()
            .filter_map(|a| due(a).map(|t| (t, a.key.clone(), a.clone())))
            .collect();
        v.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        Ok(v.into_iter().take(limit).map(|(_, _, a)| a).collect())
    }

    async fn clear_retry(&self, key: &IdempotencyKey) -> StoreResult<()> {
        use parking_app::settlement::AttemptState;
        self.write();
        if let Some(a) = self.state().attempts.get_mut(key)
            && let AttemptState::Failed { retry_at, .. } = &mut a.state
        {
            *retry_at = None;
        }
        Ok(())
    }

    async fn claim_attempt(
        &self,
        attempt: &parking_app::settlement::Attempt,
        now: Timestamp,
    ) -> StoreResult<parking_app::settlement::Claim> {
        self.write();
        Ok(claim_in(&mut self.state(), attempt, now))
    }

    async fn claim_refund(
        &self,
        attempt: &parking_app::settlement::Attempt,
        charged: parking_core::Money,
        now: Timestamp,
    ) -> StoreResult<parking_app::settlement::Claim> {
        use parking_app::settlement::{AttemptState, Claim};
        let Some(of) = &attempt.refunds else {
            return Err(StoreError::invalid("a refund attempt names its charge"));
        };
        self.write();
        let mut s = self.state();
        if s.attempts.contains_key(&attempt.key) {
            return Ok(claim_in(&mut s, attempt, now));
        }
        let charge = s
            .attempts
            .get_mut(&of.attempt)
            .filter(|c| matches!(c.state, AttemptState::Succeeded { .. }))
            .ok_or_else(|| StoreError::not_found(format!("charge attempt {}", of.attempt)))?;
        let remaining = charged.minor - charge.refunded_minor;
        if attempt.amount.minor > remaining {
            return Ok(Claim::Exceeds { remaining });
        }
        charge.refunded_minor += attempt.amount.minor;
        s.attempts.insert(attempt.key.clone(), attempt.clone());
        Ok(Claim::Claimed { taken_over: None })
    }

    async fn attempt(
        &self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<parking_app::settlement::Attempt>> {
        Ok(self.state().attempts.get(key).cloned())
    }

    async fn finish_attempt(
        &self,
        key: &IdempotencyKey,
        holder: u64,
        state: &parking_app::settlement::AttemptState,
        now: Timestamp,
    ) -> StoreResult<parking_app::settlement::Attempt> {
        use parking_app::settlement::AttemptState;
        self.write();
        let mut s = self.state();
        let a = s
            .attempts
            .get_mut(key)
            .ok_or_else(|| StoreError::not_found(format!("attempt {key}")))?;
        if matches!(a.state, AttemptState::Claimed { holder: h, .. } if h == holder) {
            a.state = state.clone();
            a.updated_at = now;
        }
        Ok(a.clone())
    }
}
