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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// How the lot treats what its devices report; every field has a
    /// default.
    #[serde(default)]
    pub settings: LotSettings,
    /// Grows with every change an operator makes: the configuration's
    /// entity tag.
    #[serde(default)]
    pub revision: u64,
    /// Later tariff versions, by effective time: a stay is priced by the
    /// version in force at its entry (`tariff_id` before the first one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tariff_schedule: Vec<ScheduledTariff>,
    /// The event types some webhook subscription of the lot wants
    /// ([`crate::hooks`]), kept by the subscriptions' use cases: only
    /// these are queued, so a lot nobody listens to queues none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook_events: Vec<crate::hooks::EventType>,
    /// The business that runs the lot, set when the lot is provisioned
    /// (its staff cannot move it): the lots of one operator share an
    /// unpaid register ([`crate::unpaid`]). `None`: the lot is an
    /// operator of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorId>,
}

impl Lot {
    /// Who runs it: its operator, or, when it has none, the lot itself
    /// (`lot:<id>`: an operator's own id never starts with `lot:`).
    pub fn operator(&self) -> OperatorId {
        self.operator.clone().unwrap_or_else(|| {
            let id = self.id.as_str();
            let short = &id[..id.len().min(crate::ids::MAX_ID_LEN - 4)];
            OperatorId::parse(&format!("lot:{short}"))
                .unwrap_or_else(|_| unreachable!("a lot id's characters make an operator id"))
        })
    }

    /// Whether some subscription wants `event`.
    pub fn hooked(&self, event: crate::hooks::EventType) -> bool {
        self.webhook_events.contains(&event)
    }
}

impl Lot {
    /// How close two reads of one gate must be to be one passage.
    pub fn debounce(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(i64::from(self.settings.debounce_seconds))
    }

    /// The tariff in force at `at`.
    pub fn tariff_at(&self, at: Timestamp) -> &TariffId {
        self.tariff_schedule
            .iter()
            .rev()
            .find(|v| v.effective_from <= at)
            .map_or(&self.tariff_id, |v| &v.tariff_id)
    }
}

/// A tariff version and when it takes effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledTariff {
    pub tariff_id: TariffId,
    pub effective_from: Timestamp,
}

/// A lot's thresholds and windows for device events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LotSettings {
    /// What a stay whose entry nobody saw costs, in the tariff currency's
    /// minor units.
    pub lost_entry_fee: i64,
    /// A camera read below this confidence (0 to 1) is matched against
    /// known plates before it is believed.
    pub plate_confidence_threshold: f64,
    /// A bay reading below this confidence leaves the bay `unknown`.
    pub sensor_confidence_threshold: f64,
    /// When more than this share of bays is unknown, availability falls
    /// back to gate counts and is `degraded`.
    pub degraded_unknown_share: f64,
    /// A read received more than this many seconds after it happened is
    /// history: it never commands a barrier or notifies a driver.
    pub freshness_seconds: u32,
    /// Reads of one plate at one gate and direction this close together
    /// are one passage.
    pub debounce_seconds: u32,
    /// How many minutes before its start a reservation may check in.
    pub reservation_early_minutes: u32,
    /// Who issues the lot's receipts, for a qualified invoice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Issuer>,
    /// A reservation cancelled at least this many minutes before its start
    /// costs nothing.
    pub cancellation_free_minutes: u32,
    /// What a later cancellation costs, in minor units (0: nothing).
    pub cancellation_fee: i64,
    /// After paying at the kiosk, the car may leave within this many
    /// minutes for what it paid.
    pub kiosk_exit_minutes: u32,
    /// A reservation nobody checked in on this many minutes after its
    /// start is a no-show.
    pub no_show_grace_minutes: u32,
    /// What a no-show costs, in minor units (0: nothing).
    pub no_show_fee: i64,
    /// A device that sent nothing (no read, no heartbeat, no connection
    /// event) for this many minutes is shown offline.
    pub heartbeat_timeout_minutes: u32,
    /// The same for bay sensors, which repeat their state every 15
    /// minutes rather than beat every minute: a sensor heard of nothing
    /// for this long is shown offline.
    pub sensor_timeout_minutes: u32,
    /// An open stay counts toward full for this many hours after its
    /// entry; then the sweep stops counting it (a missed exit on a lot
    /// without sensors would otherwise fill it for good). Set it to the
    /// longest stay the lot expects.
    pub open_count_hours: u32,
    /// An amount staff charge or set a fee to above this (minor units)
    /// waits for a second operator's approval ([`crate::approvals`]).
    pub approval_limit: i64,
    /// The most free minutes one shop validation gives.
    pub shop_max_minutes: u32,
    /// The most one shop validation takes off (minor units).
    pub shop_max_amount: i64,
    /// The most validations one shop makes in a day (a UTC day).
    pub shop_validations_per_day: u32,
    /// Days a car with no account is known by its plate: after them its
    /// reads and plate text are removed and its stays kept without it
    /// ([`crate::usecases::retention`]). At least 8, past the seven days
    /// a late read may reach back.
    pub plate_retention_days: u32,
    /// How price suggestions follow demand: targets, steps, bounds and
    /// timing ([`parking_core::demand`]; defaults after SFpark).
    pub demand_pricing: parking_core::demand::DemandPolicy,
    /// The lot is in the public open-data feed: its live availability and
    /// the rate in force, to anyone ([`crate::usecases::open_data`]).
    pub open_data: bool,
    /// What the entry gate does for a car with unpaid stays at any lot of
    /// the same operator: let it in and ask (`open`, the default) or
    /// hold it until it pays (`hold`) ([`crate::unpaid`]).
    pub unpaid_at_entry: crate::unpaid::UnpaidPolicy,
}

/// The business that issues a lot's receipts: its name and its qualified
/// invoice issuer registration number (`T` and 13 digits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issuer {
    pub name: String,
    pub registration_number: String,
}

impl Issuer {
    /// Checks the registration number's form: `T` followed by 13 digits.
    ///
    /// # Errors
    ///
    /// A sentence saying what is wrong.
    pub fn check(&self) -> Result<(), String> {
        let n = &self.registration_number;
        let ok = n.len() == 14 && n.starts_with('T') && n[1..].chars().all(|c| c.is_ascii_digit());
        if !ok {
            return Err("registration_number must be T followed by 13 digits".into());
        }
        if self.name.trim().is_empty() {
            return Err("name must not be empty".into());
        }
        Ok(())
    }
}

impl Default for LotSettings {
    fn default() -> Self {
        LotSettings {
            lost_entry_fee: 3000,
            plate_confidence_threshold: 0.8,
            sensor_confidence_threshold: 0.6,
            degraded_unknown_share: 0.3,
            freshness_seconds: 60,
            debounce_seconds: 120,
            reservation_early_minutes: 15,
            issuer: None,
            cancellation_free_minutes: 60,
            cancellation_fee: 0,
            kiosk_exit_minutes: 15,
            no_show_grace_minutes: 30,
            no_show_fee: 0,
            heartbeat_timeout_minutes: 15,
            sensor_timeout_minutes: 40,
            open_count_hours: 24,
            approval_limit: 10_000,
            shop_max_minutes: 240,
            shop_max_amount: 3_000,
            shop_validations_per_day: 200,
            plate_retention_days: 30,
            demand_pricing: parking_core::demand::DemandPolicy::default(),
            open_data: false,
            unpaid_at_entry: crate::unpaid::UnpaidPolicy::Open,
        }
    }
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

/// A device: the IoT client id it connects with, and what it speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: DeviceId,
    pub lot_id: LotId,
    pub kind: DeviceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_id: Option<GateId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bay_id: Option<BayId>,
    /// The newest connection event seen for it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<Presence>,
}

/// A device's connection as IoT Core's lifecycle events report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub connected: bool,
    pub at: Timestamp,
    /// IoT Core's `versionNumber`: grows with every connection.
    pub version: u64,
}

impl Presence {
    /// Whether this event is newer than `other`: by version, then time.
    pub fn newer_than(&self, other: &Presence) -> bool {
        (self.version, self.at) > (other.version, other.at)
    }
}

/// A tariff as stored: its id and posted form, compiled when loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TariffRecord {
    pub id: TariffId,
    pub spec: parking_core::tariff::TariffSpec,
}

/// A bay's occupancy as last reported by its sensor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bay {
    pub lot_id: LotId,
    pub id: BayId,
    /// `None`: the sensor cannot tell (snow, a fault, low confidence).
    pub occupied: Option<bool>,
    /// The sensor's boot epoch: a number that grows with every restart
    /// (0 for sensors that do not send one).
    #[serde(default)]
    pub boot: u64,
    /// The sensor's sequence number of this reading within its boot.
    pub seq: u64,
    /// When the sensor took the reading.
    pub reported_at: Timestamp,
    /// The sequence number at which this state began, when the sensor
    /// says (`None`: this reading began it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}

impl Bay {
    /// The sequence number at which the bay's state began.
    pub fn state_since(&self) -> u64 {
        self.since.unwrap_or(self.seq).min(self.seq)
    }
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
    /// The payment provider's customer the card is saved with, once it is
    /// (settlement saves it before its first charge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    Active,
    Cancelled,
    /// The car came in on it.
    CheckedIn,
    /// Nobody came by its start and the lot's grace period.
    NoShow,
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
    /// What cancelling it late cost, charged to the driver's card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_fee: Option<Money>,
}

/// A parking session: from the entry gate to payment, as its plate's
/// history makes it (see [`crate::timeline::reconcile`]). Its id is
/// derived from the read that starts it, so every order of arrival names
/// it the same way.
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
    /// The card the fee is charged to; `None`: paid at the kiosk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_id: Option<PaymentMethodId>,
    /// What the reads that made it say about its plate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<SessionFlag>,
    /// The read that starts it (`device/event`), for sessions made from a
    /// plate's timeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The camera frames behind it ([`crate::evidence`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<crate::evidence::FrameKey>,
    /// For a superseded session: the session that now holds the read that
    /// started it, if any (a read that arrived late was earlier still).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<SessionId>,
    /// The tariff version that priced it (the one in force at entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff_id: Option<TariffId>,
    /// What staff decided about it, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// Refunded by an operator out of the fee, in minor units.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refunded: i64,
    /// Paid at the kiosk, in minor units.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub kiosk_paid: i64,
    /// Why the card payment failed, while it has (`payment_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_failure: Option<String>,
    /// Collected by card for it at the provider, net of refunds, in minor
    /// units (its balance, [`crate::balance`]; a superseded stay's money
    /// is counted on the stay that replaced it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub collected: i64,
    pub updated_at: Timestamp,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl Session {
    /// What is still to pay for the stay, in minor units: the fee less
    /// refunds and kiosk payments (0 while it is not priced).
    pub fn outstanding(&self) -> i64 {
        self.fee
            .map_or(0, |f| (f.minor - self.refunded - self.kiosk_paid).max(0))
    }

    /// What is still to be paid for it, as staff see it: nothing for a
    /// stay cancelled or replaced (its money is on its successor); else
    /// what it owes ([`Session::outstanding`]) less what its card was
    /// charged.
    pub fn still_to_pay(&self) -> i64 {
        match self.state {
            SessionState::Voided | SessionState::Superseded => 0,
            _ => (self.outstanding() - self.collected).max(0),
        }
    }
}

/// What staff decided about a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Charge the fee as priced (or the amount given).
    Charged,
    /// Nothing is owed.
    Voided,
    /// The fee was set by hand.
    Adjusted,
}

/// Who did something through the APIs: their role and token subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub role: String,
    pub subject: String,
}

/// A monthly pass: the plate parks free in the lot within its period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pass {
    pub id: PassId,
    pub lot_id: LotId,
    pub plate: Plate,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
    pub created_by: Actor,
    pub created_at: Timestamp,
}

/// One entry of a lot's audit trail: who did what to what, when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: ActionId,
    pub lot_id: LotId,
    pub at: Timestamp,
    pub actor: Actor,
    /// What was done, e.g. `session.refund`.
    pub action: String,
    /// What it was done to: a session, gate, tariff or pass id.
    pub target: String,
    /// The note given with it (never a plate or card).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// An amount it moved, in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
}

/// Something about a session's plate an operator may need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionFlag {
    /// A doubtful read was matched to one known plate.
    PlateCorrected,
    /// A doubtful read matched no single known plate: nothing is charged
    /// automatically and the exit holds.
    PlateUnverified,
    /// Still open beyond the tariff's longest stay: for a person to look
    /// at (an abandoned car, or a missed exit).
    Overstay,
    /// Still open beyond the lot's `open_count_hours`: no longer counted
    /// toward full, so a missed exit cannot fill the lot.
    Uncounted,
    /// The cardholder disputed its charge with their bank.
    Disputed,
}

impl SessionFlag {
    pub fn name(self) -> &'static str {
        match self {
            SessionFlag::PlateCorrected => "plate_corrected",
            SessionFlag::PlateUnverified => "plate_unverified",
            SessionFlag::Overstay => "overstay",
            SessionFlag::Uncounted => "uncounted",
            SessionFlag::Disputed => "disputed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Succeeded,
    Failed,
    Refunded,
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
