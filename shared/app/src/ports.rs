//! Ports: what the use cases need from the outside world, free of any
//! vendor's types. Adapters live in `parking-aws`.
//!
//! Every write is idempotent for its caller: repeating the very same write
//! (a retry after a lost answer) reports success, never a conflict or a
//! duplicate of itself.

use std::future::Future;

use jiff::Timestamp;
use parking_core::{Plate, SessionState};

use crate::commands::GateCommand;
use crate::ids::*;
use crate::model::*;
use crate::outbox::OutboxMessage;
use crate::timeline::{PlateTimeline, Tariffs};

type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// Why a store operation failed.
///
/// Messages never carry a plate, a payment token or a key built from one.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} not found")]
    NotFound { what: String },
    /// An invariant refused the write; nothing was changed.
    #[error("refused: {0}")]
    Conflict(Refusal),
    /// The request itself is unacceptable.
    #[error("invalid: {reason}")]
    Invalid { reason: String },
    /// A stored item cannot be read back.
    #[error("stored item {key} cannot be read: {reason}")]
    Corrupt { key: String, reason: String },
    /// The store refused the request for a reason retrying cannot cure: a
    /// validation error, a missing table, access denied.
    #[error("store rejected the request: {source}")]
    Rejected {
        #[source]
        source: Boxed,
    },
    /// A record the store would keep is over its item limit (DynamoDB's
    /// 400 KB): nothing was written. Retrying cannot cure it; the event
    /// that caused it is kept for a person (a dead-letter queue), never
    /// dropped.
    #[error("a {kind} item of {bytes} bytes is over the store's item limit of {limit} bytes")]
    TooLarge {
        kind: String,
        bytes: usize,
        limit: usize,
    },
    /// The store could not be reached, throttled us or failed; the same
    /// operation may succeed later.
    #[error("store unavailable: {source}")]
    Unavailable {
        #[source]
        source: Boxed,
    },
}

/// The rule that refused a write. Worded once, here; callers match on the
/// variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the plate already has an open session in lot {lot_id}")]
    PlateHasOpenSession { lot_id: LotId },
    #[error("session {session_id} exists")]
    SessionExists { session_id: SessionId },
    #[error("session {session_id} is no longer {state} at version {version}")]
    StaleSession {
        session_id: SessionId,
        state: SessionState,
        version: u64,
    },
    #[error("the plate is registered to another driver")]
    PlateRegisteredToAnother,
    #[error("payment method {method_id} belongs to another driver")]
    PaymentMethodOfAnother { method_id: PaymentMethodId },
    #[error("reservation {reservation_id} exists")]
    ReservationExists { reservation_id: ReservationId },
    #[error("lot {lot_id} is fully reserved in the slot starting {slot_start}")]
    SlotFull {
        lot_id: LotId,
        slot_start: Timestamp,
    },
    #[error(
        "lot {lot_id} changed its reservable capacity or slot length since it was read; read it again"
    )]
    LotChanged { lot_id: LotId },
    #[error("idempotency key {key} already records a payment of another amount, session or method")]
    PaymentKeyReused { key: IdempotencyKey },
    #[error("the plate's timeline in lot {lot_id} changed since it was read; read it again")]
    StaleTimeline { lot_id: LotId },
    #[error("lot {lot_id} is no longer at revision {revision}")]
    StaleLot { lot_id: LotId, revision: u64 },
    #[error("the flags are no longer at revision {revision}")]
    StaleFlags { revision: u64 },
}

impl StoreError {
    pub fn not_found(what: impl Into<String>) -> Self {
        StoreError::NotFound { what: what.into() }
    }

    pub fn invalid(reason: impl Into<String>) -> Self {
        StoreError::Invalid {
            reason: reason.into(),
        }
    }

    /// Whether retrying the same operation later may succeed. A message
    /// whose processing failed with any other error is poison: retrying it
    /// forever changes nothing.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }

    /// Whether the failure is the store's, not the request's: it could
    /// not be reached, refused the request for a reason of its own (a
    /// missing table, access denied), holds an unreadable item, or would
    /// keep an item over its limit. An event that meets one must fail
    /// its message, so that it is retried and then kept in a dead-letter
    /// queue, instead of being dropped as bad input.
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable { .. }
                | StoreError::Rejected { .. }
                | StoreError::Corrupt { .. }
                | StoreError::TooLarge { .. }
        )
    }

    /// The rule that refused the write, if one did.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            StoreError::Conflict(r) => Some(r),
            _ => None,
        }
    }
}

impl From<Refusal> for StoreError {
    fn from(r: Refusal) -> Self {
        StoreError::Conflict(r)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The largest item the store keeps, in bytes as DynamoDB counts them
/// (attribute names and values): its documented limit of 400 KB.
pub const ITEM_LIMIT_BYTES: usize = 400 * 1024;

/// Lots, their gates, devices and bays.
pub trait LotStore: Send + Sync {
    fn put_lot(&self, lot: &Lot) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_lot(&self, lot_id: &LotId) -> impl Future<Output = StoreResult<Lot>> + Send;
    fn put_gate(&self, gate: &Gate) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_gate(
        &self,
        lot_id: &LotId,
        gate_id: &GateId,
    ) -> impl Future<Output = StoreResult<Gate>> + Send;
    fn put_device(&self, device: &Device) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_device(&self, device_id: &DeviceId) -> impl Future<Output = StoreResult<Device>> + Send;
    /// Records a sensor reading unless the bay holds a newer one (see
    /// [`crate::rules::bay_reading_replaces`]).
    fn record_bay(
        &self,
        bay: &Bay,
        cause: Option<&EventRef>,
    ) -> impl Future<Output = StoreResult<BayOutcome>> + Send;
    /// Every bay of a lot, in bay id order.
    fn bays(&self, lot_id: &LotId) -> impl Future<Output = StoreResult<Vec<Bay>>> + Send;
}

/// Drivers, the plates registered to them and their payment methods.
pub trait DriverStore: Send + Sync {
    fn put_driver(&self, driver: &Driver) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_driver(&self, driver_id: &DriverId) -> impl Future<Output = StoreResult<Driver>> + Send;
    /// Registers a plate to a driver; refused with
    /// [`Refusal::PlateRegisteredToAnother`] when another driver holds it.
    /// Registering it again to the same driver keeps the first
    /// registration and succeeds.
    fn register_plate(
        &self,
        registration: &PlateRegistration,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Releases a plate held by this driver; a plate nobody holds is
    /// already released. Refused when another driver holds it.
    fn unregister_plate(
        &self,
        plate: &Plate,
        driver_id: &DriverId,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Who a plate is registered to, if anyone. One read.
    fn plate_owner(
        &self,
        plate: &Plate,
    ) -> impl Future<Output = StoreResult<Option<PlateRegistration>>> + Send;
    /// The plates of a driver, read-after-write consistent.
    fn driver_plates(
        &self,
        driver_id: &DriverId,
    ) -> impl Future<Output = StoreResult<Vec<PlateRegistration>>> + Send;
    /// Adds a payment method; refused when it belongs to another driver.
    fn add_payment_method(
        &self,
        method: &PaymentMethod,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn payment_methods(
        &self,
        driver_id: &DriverId,
    ) -> impl Future<Output = StoreResult<Vec<PaymentMethod>>> + Send;
}

/// Reservations, never more per time slot than a lot's reservable capacity.
pub trait ReservationStore: Send + Sync {
    /// Takes every slot the reservation spans, or none. `lot` is the lot as
    /// the caller read it: the write is refused with
    /// [`Refusal::LotChanged`] when the stored lot's reservable capacity or
    /// slot length differ, and with [`Refusal::SlotFull`] when a slot is
    /// full. `reservation.slot_minutes` must be the lot's.
    fn reserve(
        &self,
        reservation: &Reservation,
        lot: &Lot,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Cancels a reservation and frees exactly the slots it took; a
    /// cancelled one is returned as it is.
    fn cancel_reservation(
        &self,
        reservation_id: &ReservationId,
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;
    /// Cancels a reservation like [`Self::cancel_reservation`] and, in the
    /// same atomic step, queues `fee` (a late cancellation's charge) in the
    /// outbox; one already cancelled is returned as it is and queues
    /// nothing.
    fn cancel_reservation_with_fee(
        &self,
        reservation_id: &ReservationId,
        fee: &crate::outbox::PaymentOrder,
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;
    fn get_reservation(
        &self,
        reservation_id: &ReservationId,
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;
    /// Reservations held in the lot's slot that contains `at`.
    fn slot_count(&self, lot: &Lot, at: Timestamp)
    -> impl Future<Output = StoreResult<u32>> + Send;
}

/// Parking sessions.
pub trait SessionStore: Send + Sync {
    /// Opens a session (state `open`, version 1): refused when the plate
    /// already holds an open session in the lot. One atomic write with the
    /// event ledger.
    fn open_session(
        &self,
        session: &Session,
        cause: Option<&EventRef>,
    ) -> impl Future<Output = StoreResult<Applied>> + Send;
    /// The plate's open session in a lot, if any. One read.
    fn open_session_for(
        &self,
        lot_id: &LotId,
        plate: &Plate,
    ) -> impl Future<Output = StoreResult<Option<Session>>> + Send;
    fn get_session(
        &self,
        session_id: &SessionId,
    ) -> impl Future<Output = StoreResult<Session>> + Send;
    /// Replaces a session whose stored state and version are `expected`;
    /// `next.version` must be one more and its identity (id, lot, plate,
    /// entry) the stored one's. A stale writer is refused.
    fn update_session(
        &self,
        expected: (SessionState, u64),
        next: &Session,
        cause: Option<&EventRef>,
    ) -> impl Future<Output = StoreResult<Applied>> + Send;
    /// Corrects a session's plate: `current` is the session as the caller
    /// read it; the stored one must still be at its state and version. The
    /// result is `current` with the new plate, the next version and
    /// `updated_at = at`; an open session moves its hold to the new plate
    /// in the same write (refused when that plate has an open session).
    fn correct_plate(
        &self,
        current: &Session,
        plate: &Plate,
        at: Timestamp,
        cause: Option<&EventRef>,
    ) -> impl Future<Output = StoreResult<Applied>> + Send;
}

/// Payments, idempotent by key.
pub trait PaymentStore: Send + Sync {
    /// Records a payment. Recording the same key again for the same
    /// session, amount and method changes nothing and returns the first
    /// record; for anything else it is refused with
    /// [`Refusal::PaymentKeyReused`].
    fn record_payment(
        &self,
        payment: &Payment,
    ) -> impl Future<Output = StoreResult<Payment>> + Send;
    fn get_payment(
        &self,
        idempotency_key: &IdempotencyKey,
    ) -> impl Future<Output = StoreResult<Payment>> + Send;
}

/// The ledger of processed device events.
pub trait EventLedger: Send + Sync {
    /// Records an event that changes no other state.
    fn record_event(&self, event: &EventRef) -> impl Future<Output = StoreResult<Applied>> + Send;
    /// Whether the event is remembered at `now` (see
    /// [`crate::rules::ledger_entry_live`]).
    fn is_processed(
        &self,
        device_id: &DeviceId,
        event_id: &EventId,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// A lot as the device flows need it: read once and cached.
#[derive(Debug, Clone, PartialEq)]
pub struct LotConfig {
    pub lot: Lot,
    pub gates: Vec<Gate>,
    pub devices: Vec<Device>,
    /// Every tariff version the lot refers to.
    pub tariffs: Vec<TariffRecord>,
}

impl LotConfig {
    /// The lot's tariffs, compiled.
    ///
    /// # Errors
    ///
    /// A stored tariff that is missing or no longer compiles is corrupt.
    pub fn compiled(&self) -> StoreResult<Tariffs> {
        Tariffs::compile(&self.lot, &self.tariffs).map_err(|reason| StoreError::Corrupt {
            key: format!("tariffs of lot {}", self.lot.id),
            reason,
        })
    }

    /// The tariff version in force at `at`, as posted.
    pub fn record_at(&self, at: Timestamp) -> Option<&TariffRecord> {
        let id = self.lot.tariff_at(at);
        self.tariffs.iter().find(|r| &r.id == id)
    }
}

/// What a plate read needs to know about the plate: its timeline in the
/// lot and who it is registered to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlateView {
    pub timeline: Option<PlateTimeline>,
    pub owner: Option<PlateRegistration>,
}

/// A plate that looks like a doubtful read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikePlate {
    pub plate: Plate,
    /// Registered to a driver (else: only open in the lot).
    pub registered: bool,
}

/// A registered driver as a plate read needs them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DriverView {
    pub methods: Vec<PaymentMethod>,
    /// Reservations not cancelled or used, in every lot.
    pub reservations: Vec<Reservation>,
}

/// How full a lot is, as its entry gate needs it: kept exact by every bay
/// reading and every session change, read in one request whose size does
/// not grow with the number of bays taken or with the lot's history.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Occupancy {
    /// Bays whose sensor is sure they are taken.
    pub occupied: u32,
    /// Bays whose sensor is sure they are free, in bay id order.
    pub free: Vec<BayId>,
    /// Sessions counted toward full: open, and not yet past the lot's
    /// counting time ([`crate::timeline::PlateTimeline::open_sessions`]).
    pub open_sessions: u32,
    /// Reservations due at the time asked (within their window, early
    /// check-in included) whose car has not come in.
    pub held_reservations: u32,
}

/// A lot's live state, as its availability page shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LotLive {
    pub occupancy: Occupancy,
    /// Every bay with a reading, in bay id order.
    pub bays: Vec<Bay>,
    /// The lot's devices, with their presence.
    pub devices: Vec<Device>,
}

/// One read applied to a plate's timeline: every change it makes, written
/// in one atomic step.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineCommit {
    /// The timeline after the read; its version is one more than the
    /// stored one's (1 for a new timeline). Refused with
    /// [`Refusal::StaleTimeline`] when the stored version is not one less.
    pub timeline: PlateTimeline,
    /// Sessions made or changed, at their new versions.
    pub changed: Vec<Session>,
    /// Charges, refunds and notifications to deliver.
    pub outbox: Vec<OutboxMessage>,
    /// Change in the lot's count of open sessions.
    pub open_delta: i64,
    /// The reservation this read checks in, as the driver's view held it
    /// (active); refused as stale when it is no longer active.
    pub check_in: Option<Reservation>,
    /// The read, for the event ledger: a read already processed (by this
    /// timeline or another) makes the commit [`Applied::Duplicate`].
    pub event: EventRef,
    /// Random for each attempt: a repeat of this very commit (a retry
    /// after a lost answer) is recognised as done, while the same event
    /// delivered twice at once and committed by the other delivery is a
    /// duplicate.
    pub attempt: u64,
    /// Archived stays written with the change (see [`crate::history`]).
    pub stays: Vec<crate::history::Stay>,
    /// Archived stays the change removed: their content is in `stays` or
    /// the head now.
    pub stays_gone: Vec<crate::history::StayKey>,
    /// For a change made through the APIs: its entry in the lot's audit
    /// trail, written in the same step.
    pub audit: Option<AuditEntry>,
    /// A pass this change issues, listed under its lot.
    pub pass: Option<Pass>,
}

/// The result of a presence event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceOutcome {
    Updated,
    /// The device already has a newer event.
    Stale,
}

/// What the device flows read and write.
pub trait DeviceStore: Send + Sync {
    fn put_tariff(&self, tariff: &TariffRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// The lot, its gates, devices and tariff. Callers cache it.
    fn lot_config(&self, lot_id: &LotId) -> impl Future<Output = StoreResult<LotConfig>> + Send;
    /// The plate's timeline in the lot and its registration: one read.
    fn plate_view(
        &self,
        lot_id: &LotId,
        plate: &Plate,
    ) -> impl Future<Output = StoreResult<PlateView>> + Send;
    /// The plate's archived stay in the lot that begins last at or
    /// before `at`, if any: one query, read-after-write consistent.
    fn stay_before(
        &self,
        lot_id: &LotId,
        plate: &Plate,
        at: Timestamp,
    ) -> impl Future<Output = StoreResult<Option<crate::history::Stay>>> + Send;
    /// The plate's archived stays in the lot that begin at or after
    /// `from`, in order (of when they begin, then of their session), at
    /// most `limit`: one query, read-after-write consistent.
    fn stays_from(
        &self,
        lot_id: &LotId,
        plate: &Plate,
        from: Timestamp,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<crate::history::Stay>>> + Send;
    /// A driver's cards and live reservations: one read.
    fn driver_view(
        &self,
        driver_id: &DriverId,
    ) -> impl Future<Output = StoreResult<DriverView>> + Send;
    /// Plates whose OCR skeleton ([`parking_core::plate::skeleton`]) is
    /// this one: registered plates, and plates with an open session in the
    /// lot, each once, registered ones marked. One read of an index, never
    /// a scan.
    fn plates_like(
        &self,
        lot_id: &LotId,
        skeleton: &str,
    ) -> impl Future<Output = StoreResult<Vec<LikePlate>>> + Send;
    /// How full the lot is at `at` (reservations held by the lot's rules,
    /// [`crate::rules::held_at`]): one read of a few small items, whatever
    /// the number of bays.
    fn occupancy(
        &self,
        lot: &Lot,
        at: Timestamp,
    ) -> impl Future<Output = StoreResult<Occupancy>> + Send;
    /// The lot's live state at `at`: its occupancy, every bay and device.
    /// One read, growing with the lot's bays.
    fn lot_live(
        &self,
        lot: &Lot,
        at: Timestamp,
    ) -> impl Future<Output = StoreResult<LotLive>> + Send;
    /// Applies one read to a plate's timeline, atomically (see
    /// [`TimelineCommit`]).
    fn commit_read(
        &self,
        commit: &TimelineCommit,
    ) -> impl Future<Output = StoreResult<Applied>> + Send;
    /// Records a device's connection event unless it holds a newer one.
    fn record_presence(
        &self,
        device_id: &DeviceId,
        presence: &Presence,
    ) -> impl Future<Output = StoreResult<PresenceOutcome>> + Send;
    /// Sessions of a lot, every state, in entry order.
    fn lot_sessions(
        &self,
        lot_id: &LotId,
    ) -> impl Future<Output = StoreResult<Vec<Session>>> + Send;
}

/// The outbox, as a store keeps it.
pub trait OutboxStore: Send + Sync {
    /// Messages not yet delivered, oldest first.
    fn outbox_pending(
        &self,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<OutboxMessage>>> + Send;
    /// Marks messages delivered.
    fn outbox_delivered(&self, ids: &[String]) -> impl Future<Output = StoreResult<()>> + Send;
    /// Which of these messages are not yet delivered (one read).
    fn outbox_undelivered(
        &self,
        ids: &[String],
    ) -> impl Future<Output = StoreResult<Vec<String>>> + Send;
}

/// What the APIs list beyond the device flows' reads.
pub trait ApiStore: Send + Sync {
    /// Every lot, in id order. One read of an index.
    fn lots(&self) -> impl Future<Output = StoreResult<Vec<Lot>>> + Send;
    /// Removes a driver's payment method; one already gone is removed.
    /// Refused with [`Refusal::PaymentMethodOfAnother`] when it is another
    /// driver's.
    fn remove_payment_method(
        &self,
        driver_id: &DriverId,
        method_id: &PaymentMethodId,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// A driver's reservations, every state, in start order.
    fn driver_reservations(
        &self,
        driver_id: &DriverId,
    ) -> impl Future<Output = StoreResult<Vec<Reservation>>> + Send;
    /// A driver's sessions, every state but superseded, in entry order.
    fn driver_sessions(
        &self,
        driver_id: &DriverId,
    ) -> impl Future<Output = StoreResult<Vec<Session>>> + Send;
    /// Replaces a lot whose stored revision is `lot.revision - 1`, with
    /// its audit entry, in one step; refused with [`Refusal::StaleLot`]
    /// otherwise.
    fn update_lot(
        &self,
        lot: &Lot,
        audit: &AuditEntry,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Sessions of a lot that entered at or after `since`, every state, in
    /// entry order. One query of an index.
    fn lot_sessions_since(
        &self,
        lot_id: &LotId,
        since: Timestamp,
    ) -> impl Future<Output = StoreResult<Vec<Session>>> + Send;
    /// Adds an entry to a lot's audit trail (writing the same entry again
    /// changes nothing).
    fn record_audit(&self, entry: &AuditEntry) -> impl Future<Output = StoreResult<()>> + Send;
    /// A lot's audit trail between two times, oldest first.
    fn audit_trail(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = StoreResult<Vec<AuditEntry>>> + Send;
    /// A lot's passes, in id order.
    fn passes(&self, lot_id: &LotId) -> impl Future<Output = StoreResult<Vec<Pass>>> + Send;
}

/// The records: lots, drivers, reservations, sessions, payments and the
/// event ledger.
pub trait RecordStore:
    LotStore + DriverStore + ReservationStore + SessionStore + PaymentStore + EventLedger
{
}

impl<T> RecordStore for T where
    T: LotStore + DriverStore + ReservationStore + SessionStore + PaymentStore + EventLedger
{
}

/// All state, as one store: the records, what the device flows keep,
/// what the APIs list, settlement's attempts and the forecasts.
pub trait Store:
    RecordStore
    + DeviceStore
    + OutboxStore
    + ApiStore
    + SweepStore
    + crate::settlement::AttemptStore
    + ForecastStore
    + FlagStore
    + UsageStore
{
}

impl<T> Store for T where
    T: RecordStore
        + DeviceStore
        + OutboxStore
        + ApiStore
        + SweepStore
        + crate::settlement::AttemptStore
        + ForecastStore
        + FlagStore
        + UsageStore
{
}

/// What the suite consumed for each lot, by the lot's local date.
pub trait UsageStore: Send + Sync {
    /// Adds to a lot's day (one atomic increment of each counter).
    fn add_usage(
        &self,
        lot_id: &LotId,
        date: jiff::civil::Date,
        usage: &crate::usecases::cost::Usage,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// A lot's day so far (nothing recorded: zero).
    fn lot_usage(
        &self,
        lot_id: &LotId,
        date: jiff::civil::Date,
    ) -> impl Future<Output = StoreResult<crate::usecases::cost::Usage>> + Send;
}

/// The feature flags as operators set them: one document for all lots.
pub trait FlagStore: Send + Sync {
    /// The flag document, if one was ever written.
    fn flag_document(
        &self,
    ) -> impl Future<Output = StoreResult<Option<crate::flags::StoredFlags>>> + Send;
    /// Replaces the document whose stored revision is `flags.revision - 1`
    /// (none stored: 0), with the change's audit entry, in one step;
    /// refused with [`Refusal::StaleFlags`] otherwise.
    fn put_flags(
        &self,
        flags: &crate::flags::StoredFlags,
        audit: &AuditEntry,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Each lot's latest occupancy forecast: one item per lot.
pub trait ForecastStore: Send + Sync {
    /// Replaces the lot's forecast.
    fn put_forecast(
        &self,
        forecast: &crate::usecases::forecast::LotForecast,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The lot's latest forecast, if one was made.
    fn lot_forecast(
        &self,
        lot_id: &LotId,
    ) -> impl Future<Output = StoreResult<Option<crate::usecases::forecast::LotForecast>>> + Send;
}

/// What the scheduled sweeps read and write: windows of a lot's indexes,
/// never a scan.
pub trait SweepStore: Send + Sync {
    /// A lot's reservations starting in `[from, to)`, every state, in
    /// start order. One query of an index.
    fn lot_reservations_starting(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = StoreResult<Vec<Reservation>>> + Send;
    /// A lot's sessions entered in `[from, to)`, every state, in entry
    /// order. One query of an index.
    fn lot_sessions_entered(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = StoreResult<Vec<Session>>> + Send;
    /// Ends an active reservation as a no-show, frees its slots and, in
    /// the same atomic step, queues `outbox` (its fee, if any, and the
    /// driver's notification); the fee's amount is kept on the
    /// reservation. One that is not active any more is returned as it is,
    /// and queues nothing.
    fn mark_no_show(
        &self,
        reservation_id: &ReservationId,
        outbox: &[OutboxMessage],
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;
    /// Outbox messages still undelivered that were written before
    /// `before`, oldest first, at most `limit`.
    fn outbox_stale(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<OutboxMessage>>> + Send;
}

/// Why a queue or the device link did not take a message. Every such
/// failure may succeed when tried again.
#[derive(Debug, thiserror::Error)]
#[error("{what} failed: {source}")]
pub struct SendError {
    pub what: &'static str,
    #[source]
    pub source: Boxed,
}

/// The queues that settlement and notifications read.
pub trait Queues: Send + Sync {
    /// Sends one message; its [`OutboxMessage::id`] deduplicates repeats.
    fn send(&self, message: &OutboxMessage) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// The link to gates: commands published to their topics.
pub trait DeviceLink: Send + Sync {
    fn publish(
        &self,
        topic: &str,
        command: &GateCommand,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// The time now. Use cases never read the system clock themselves.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// A clock that always says the same time: for tests, replays and
/// simulations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

impl<T: Queues> Queues for &T {
    async fn send(&self, message: &OutboxMessage) -> Result<(), SendError> {
        (**self).send(message).await
    }
}

impl<T: DeviceLink> DeviceLink for &T {
    async fn publish(&self, topic: &str, command: &GateCommand) -> Result<(), SendError> {
        (**self).publish(topic, command).await
    }
}
