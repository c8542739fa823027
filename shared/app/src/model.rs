//! The records the application keeps: lots and their gates, devices and
//! bays; drivers with their plates and payment methods; reservations,
//! parking sessions, payments, and processed device events.
//!
//! Plates and payment tokens are personal data: their `Debug` output is
//! redacted (see [`parking_core::Plate`] and [`PaymentToken`]), so a record
//! can be logged whole.

use std::fmt;

use jiff::Timestamp;
use parking_core::{Money, Plate, SessionState};
use serde::{Deserialize, Serialize};

use crate::ids::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    pub id: LotId,
    pub name: String,
    pub time_zone: String,
    pub tariff_id: TariffId,
    /// Bays in the lot.
    pub capacity: u32,
    /// How many cars may hold a reservation in any one time slot (0: the
    /// lot takes no reservations).
    pub reservable: u32,
    /// Length of a reservation time slot in minutes (e.g. 15).
    pub slot_minutes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateDirection {
    Entry,
    Exit,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    pub lot_id: LotId,
    pub id: GateId,
    pub direction: GateDirection,
    /// The camera that reads plates at this gate.
    pub camera_id: DeviceId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Camera,
    Barrier,
    BaySensor,
    Kiosk,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: DeviceId,
    pub lot_id: LotId,
    pub kind: DeviceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_id: Option<GateId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bay_id: Option<BayId>,
}

/// A bay's occupancy as last reported by its sensor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bay {
    pub lot_id: LotId,
    pub id: BayId,
    pub occupied: bool,
    /// The sensor's boot epoch: a number that grows with every restart
    /// (0 for sensors that do not send one).
    #[serde(default)]
    pub boot: u64,
    /// The sensor's sequence number of this reading within its boot.
    pub seq: u64,
    /// When the sensor took the reading.
    pub reported_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Driver {
    pub id: DriverId,
    pub name: String,
    pub created_at: Timestamp,
}

/// Which driver a plate belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlateRegistration {
    pub plate: Plate,
    pub driver_id: DriverId,
    pub registered_at: Timestamp,
}

/// The payment processor's token for a card. Never printed: it has no
/// `Display`, and `Debug` shows only that there is one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaymentToken(String);

impl PaymentToken {
    pub fn new(token: impl Into<String>) -> Self {
        PaymentToken(token.into())
    }

    /// The token itself, for the payment processor only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PaymentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PaymentToken(<redacted>)")
    }
}

/// A card on file, as the payment processor's token; the card number is
/// never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethod {
    pub id: PaymentMethodId,
    pub driver_id: DriverId,
    pub brand: String,
    pub last4: String,
    pub token: PaymentToken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    Active,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub id: ReservationId,
    pub lot_id: LotId,
    pub driver_id: DriverId,
    pub plate: Plate,
    pub start: Timestamp,
    pub end: Timestamp,
    /// The lot's slot length when the reservation was made: the slots it
    /// holds, and the ones a cancellation frees, are on this grid.
    pub slot_minutes: u32,
    pub state: ReservationState,
}

/// A parking session: from the entry gate to payment.
///
/// Its identity — id, lot, plate and entry — never changes through
/// `update_session`; a misread plate is corrected with `correct_plate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub lot_id: LotId,
    pub plate: Plate,
    pub state: SessionState,
    /// Bumped by every change; writers must name the version they read.
    pub version: u64,
    pub entry_at: Timestamp,
    pub entry_gate: GateId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_gate: Option<GateId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_id: Option<DriverId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<ReservationId>,
    /// The priced fee, once priced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<Money>,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Succeeded,
    Failed,
    Refunded,
}

/// A charge (or refund) as sent to the payment processor, keyed by the
/// idempotency key the processor also receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub idempotency_key: IdempotencyKey,
    pub session_id: SessionId,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_id: Option<PaymentMethodId>,
    pub status: PaymentStatus,
    pub created_at: Timestamp,
}

/// The device event that causes a state change: recorded in the event
/// ledger in the same atomic write, so it is processed at most once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    pub device_id: DeviceId,
    pub event_id: EventId,
    /// When the event was processed (from the clock port).
    pub processed_at: Timestamp,
}

/// The result of a write caused by a device event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The change is made: by this call, or by an earlier attempt of the
    /// very same write (a retry of a write whose answer was lost).
    Done,
    /// The event was processed before by a different write; nothing changed.
    Duplicate,
}

/// The result of a bay reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BayOutcome {
    Updated,
    /// The bay already holds a newer reading.
    Stale,
    /// The event was processed before; nothing changed.
    Duplicate,
}
