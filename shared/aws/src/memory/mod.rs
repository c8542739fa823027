//! The in-memory store: the embedded default for local runs and the fast
//! twin for handler and use-case tests. It keeps every invariant the
//! DynamoDB store keeps, with the same rules (`parking_app::rules`) in the
//! same order, each operation atomic under one lock; the conformance suite
//! runs against both. It needs no AWS SDK: build this crate with
//! `default-features = false` to get it alone.

mod allow_lists;
mod approvals;
mod attempts;
mod audit;
mod drivers;
mod enrolments;
mod flags;
mod forecasts;
mod history;
mod hooks;
mod ledger;
mod lots;
mod outbox;
mod passages;
mod plate_claims;
mod rate_limits;
mod reservations;
mod sessions;
mod unpaid;
mod usage;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::{SignedDuration, Timestamp};
use parking_app::ids::*;
use parking_app::outbox::OutboxMessage;
use parking_app::rules::{self, DEFAULT_EVENT_RETENTION};
use parking_app::store::prelude::*;
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
    forecasts: HashMap<LotId, parking_app::forecasts::LotForecast>,
    allow_lists: HashMap<LotId, parking_app::allow_lists::LotAllowList>,
    hooks: HashMap<LotId, parking_app::hooks::LotHooks>,
    /// (operator, plate key) → the plate's stays on the operator's unpaid
    /// register, by session.
    debts: BTreeMap<(OperatorId, String), BTreeMap<SessionId, parking_app::unpaid::Debt>>,
    tracks: HashMap<(LotId, DeviceId, TrackId), parking_app::passages::Track>,
    /// Copies erased with their driver's account: (driver, session or
    /// reservation id). The records stay, as the lots' own; a driver who
    /// signs up again lists only what comes after.
    erased_copies: BTreeSet<(DriverId, String)>,
    /// (lot, id) → a request for a second operator.
    approvals: HashMap<(LotId, ActionId), parking_app::approvals::Approval>,
    /// plate key → the plate's open claims.
    plate_claims: HashMap<String, parking_app::plate_claims::PlateClaims>,
    /// (driver, plate key) → the driver's copy of a claim.
    driver_claims: BTreeMap<(DriverId, String), parking_app::plate_claims::DriverClaim>,
    /// (key, window start) → requests counted.
    rate_windows: HashMap<(String, i64), u64>,
    enrolments: HashMap<SerialNumber, parking_app::enrolments::Enrolment>,
    flags: Option<parking_app::flags::StoredFlags>,
    usage: HashMap<(LotId, jiff::civil::Date), parking_app::usage::Usage>,
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
    ledger: HashMap<(DeviceId, EventId), LedgerEntry>,
    tariffs: HashMap<TariffId, TariffRecord>,
    /// (lot, time, id) → audit entry.
    audit: BTreeMap<(LotId, Timestamp, ActionId), AuditEntry>,
    passes: BTreeMap<(LotId, PassId), Pass>,
    /// How far each lot's retention sweep got.
    retention_marks: HashMap<LotId, Timestamp>,
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
        queue_outbox(&mut s, outbox);
        Ok(r)
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
    /// plate's head or stay, a session, a reservation, a payment's
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

/// Puts messages in the outbox, pending, in the same write as the change
/// that asks for them.
fn queue_outbox(s: &mut State, outbox: &[OutboxMessage]) {
    for m in outbox {
        let at = s.outbox.len();
        s.outbox_pending.insert(at, m.id());
        s.outbox.push((m.clone(), false));
    }
}

/// The fee among what ending a reservation queues.
fn fee_of(outbox: &[OutboxMessage]) -> Option<parking_core::Money> {
    outbox.iter().find_map(|m| match m {
        OutboxMessage::Payments(o) => Some(o.amount),
        OutboxMessage::Notifications(_) | OutboxMessage::Webhooks(_) => None,
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
    // A takeover keeps the movement the earlier holder claimed.
    let mine = match &taken_over {
        Some(prev) => parking_app::settlement::Attempt {
            state: attempt.state.clone(),
            updated_at: attempt.updated_at,
            ..prev.clone()
        },
        None => attempt.clone(),
    };
    s.attempts.insert(attempt.key.clone(), mine);
    Claim::Claimed { taken_over }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(DEFAULT_EVENT_RETENTION)
    }
}
