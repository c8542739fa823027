//! Ports: what the use cases need from the outside world, free of any
//! vendor's types. Adapters live in `parking-aws`.

use std::future::Future;

use jiff::Timestamp;
use parking_core::{Plate, SessionState};

use crate::model::*;

type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} not found")]
    NotFound { what: String },
    /// An invariant refused the write; nothing was changed.
    #[error("conflict: {reason}")]
    Conflict { reason: String },
    /// The request itself is unacceptable.
    #[error("invalid: {reason}")]
    Invalid { reason: String },
    /// A stored item cannot be read back.
    #[error("stored item {key} cannot be read: {reason}")]
    Corrupt { key: String, reason: String },
    /// The store could not be reached or failed; the operation may be retried.
    #[error("store unavailable: {source}")]
    Unavailable {
        #[source]
        source: Boxed,
    },
}

impl StoreError {
    pub fn not_found(what: impl Into<String>) -> Self {
        StoreError::NotFound { what: what.into() }
    }

    pub fn conflict(reason: impl Into<String>) -> Self {
        StoreError::Conflict {
            reason: reason.into(),
        }
    }

    pub fn invalid(reason: impl Into<String>) -> Self {
        StoreError::Invalid {
            reason: reason.into(),
        }
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Lots, their gates, devices and bays.
pub trait LotStore: Send + Sync {
    fn put_lot(&self, lot: &Lot) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_lot(&self, lot_id: &str) -> impl Future<Output = StoreResult<Lot>> + Send;
    fn put_gate(&self, gate: &Gate) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_gate(
        &self,
        lot_id: &str,
        gate_id: &str,
    ) -> impl Future<Output = StoreResult<Gate>> + Send;
    fn put_device(&self, device: &Device) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_device(&self, device_id: &str) -> impl Future<Output = StoreResult<Device>> + Send;
    /// Records a sensor reading unless the bay holds one with the same or a
    /// newer sequence number.
    fn record_bay(
        &self,
        bay: &Bay,
        cause: Option<&EventRef>,
    ) -> impl Future<Output = StoreResult<BayOutcome>> + Send;
    /// Every bay of a lot, in bay id order.
    fn bays(&self, lot_id: &str) -> impl Future<Output = StoreResult<Vec<Bay>>> + Send;
}

/// Drivers, the plates registered to them and their payment methods.
pub trait DriverStore: Send + Sync {
    fn put_driver(&self, driver: &Driver) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_driver(&self, driver_id: &str) -> impl Future<Output = StoreResult<Driver>> + Send;
    /// Registers a plate to a driver; `Conflict` when another driver holds
    /// it. Registering it again to the same driver is a no-op.
    fn register_plate(
        &self,
        registration: &PlateRegistration,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Releases a plate held by this driver.
    fn unregister_plate(
        &self,
        plate: &Plate,
        driver_id: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Who a plate is registered to, if anyone. One read.
    fn plate_owner(
        &self,
        plate: &Plate,
    ) -> impl Future<Output = StoreResult<Option<PlateRegistration>>> + Send;
    /// The plates of a driver.
    fn driver_plates(
        &self,
        driver_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<PlateRegistration>>> + Send;
    /// Adds a payment method; `Conflict` when it belongs to another driver.
    fn add_payment_method(
        &self,
        method: &PaymentMethod,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn payment_methods(
        &self,
        driver_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<PaymentMethod>>> + Send;
}

/// Reservations, never more per time slot than a lot's reservable capacity.
pub trait ReservationStore: Send + Sync {
    /// Takes every slot the reservation spans, or none (`Conflict` when a
    /// slot is full).
    fn reserve(
        &self,
        reservation: &Reservation,
        lot: &Lot,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Cancels an active reservation and frees its slots.
    fn cancel_reservation(
        &self,
        reservation_id: &str,
        lot: &Lot,
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;
    fn get_reservation(
        &self,
        reservation_id: &str,
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;
    /// Reservations held in one slot of a lot.
    fn slot_count(
        &self,
        lot: &Lot,
        slot_start: Timestamp,
    ) -> impl Future<Output = StoreResult<u32>> + Send;
}

/// Parking sessions.
pub trait SessionStore: Send + Sync {
    /// Opens a session (state `open`, version 1): `Conflict` when the plate
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
        lot_id: &str,
        plate: &Plate,
    ) -> impl Future<Output = StoreResult<Option<Session>>> + Send;
    fn get_session(&self, session_id: &str) -> impl Future<Output = StoreResult<Session>> + Send;
    /// Replaces a session whose stored state and version are `expected`;
    /// `next.version` must be one more. A stale writer gets `Conflict`.
    fn update_session(
        &self,
        expected: (SessionState, u64),
        next: &Session,
        cause: Option<&EventRef>,
    ) -> impl Future<Output = StoreResult<Applied>> + Send;
}

/// Payments, idempotent by key.
pub trait PaymentStore: Send + Sync {
    /// Records a payment; recording the same key again changes nothing and
    /// returns the first record.
    fn record_payment(
        &self,
        payment: &Payment,
    ) -> impl Future<Output = StoreResult<Payment>> + Send;
    fn get_payment(
        &self,
        idempotency_key: &str,
    ) -> impl Future<Output = StoreResult<Payment>> + Send;
}

/// The ledger of processed device events.
pub trait EventLedger: Send + Sync {
    /// Records an event that changes no other state.
    fn record_event(&self, event: &EventRef) -> impl Future<Output = StoreResult<Applied>> + Send;
    fn is_processed(
        &self,
        device_id: &str,
        event_id: &str,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// All state, as one store.
pub trait Store:
    LotStore + DriverStore + ReservationStore + SessionStore + PaymentStore + EventLedger
{
}

impl<T> Store for T where
    T: LotStore + DriverStore + ReservationStore + SessionStore + PaymentStore + EventLedger
{
}

/// The time now. Use cases never read the system clock themselves.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}
