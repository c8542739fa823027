//! The records the application keeps: lots and their gates, devices and
//! bays; drivers with their plates and payment methods; reservations,
//! parking sessions, payments, and processed device events.

use jiff::Timestamp;
use parking_core::{Plate, SessionState};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    pub id: String,
    pub name: String,
    pub time_zone: String,
    pub tariff_id: String,
    /// Bays in the lot.
    pub capacity: u32,
    /// How many cars may hold a reservation in any one time slot.
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
    pub lot_id: String,
    pub id: String,
    pub direction: GateDirection,
    /// The camera that reads plates at this gate.
    pub camera_id: String,
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
    pub id: String,
    pub lot_id: String,
    pub kind: DeviceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bay_id: Option<String>,
}

/// A bay's occupancy as last reported by its sensor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bay {
    pub lot_id: String,
    pub id: String,
    pub occupied: bool,
    /// The sensor's sequence number of this reading; older ones never win.
    pub seq: u64,
    pub reported_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Driver {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
}

/// Which driver a plate belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlateRegistration {
    pub plate: Plate,
    pub driver_id: String,
    pub registered_at: Timestamp,
}

/// A card on file, as the payment processor's token; the card number is
/// never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethod {
    pub id: String,
    pub driver_id: String,
    pub brand: String,
    pub last4: String,
    pub token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    Active,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub id: String,
    pub lot_id: String,
    pub driver_id: String,
    pub plate: Plate,
    pub start: Timestamp,
    pub end: Timestamp,
    pub state: ReservationState,
}

/// A parking session: from the entry gate to payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub lot_id: String,
    pub plate: Plate,
    pub state: SessionState,
    /// Bumped by every change; writers must name the version they read.
    pub version: u64,
    pub entry_at: Timestamp,
    pub entry_gate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_gate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<String>,
    /// The priced fee in minor units, once priced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
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
    pub idempotency_key: String,
    pub session_id: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_id: Option<String>,
    pub status: PaymentStatus,
    pub created_at: Timestamp,
}

/// The device event that causes a state change: recorded in the event
/// ledger in the same atomic write, so it is processed at most once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    pub device_id: String,
    pub event_id: String,
    /// When the event was processed (from the clock port).
    pub processed_at: Timestamp,
}

/// The result of a write caused by a device event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The change was made.
    Done,
    /// The event was processed before; nothing changed.
    Duplicate,
}

/// The result of a bay reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BayOutcome {
    Updated,
    /// The bay already holds a reading with this or a newer sequence.
    Stale,
    /// The event was processed before; nothing changed.
    Duplicate,
}
