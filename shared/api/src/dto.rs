//! The bodies the APIs send and accept: the contract, with their JSON
//! schemas for the OpenAPI document. Times are RFC 3339; money is an
//! integer amount in the currency's minor units with its ISO 4217 code.

use jiff::Timestamp;
use parking_app::usecases::availability::Availability;
use parking_app::usecases::trips::Receipt;
use parking_app::*;
use parking_core::Money;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

pub(crate) fn ts(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "format": "date-time"})
}

pub(crate) fn ts_opt(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": ["string", "null"], "format": "date-time"})
}

pub(crate) fn object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object"})
}

/// An amount of money.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Amount {
    /// In the currency's minor units (yen have none).
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
}

impl From<Money> for Amount {
    fn from(m: Money) -> Self {
        Amount {
            amount: m.minor,
            currency: m.currency.code().to_owned(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProfileOut {
    pub id: String,
    pub name: String,
    #[schemars(schema_with = "ts")]
    pub created_at: Timestamp,
}

impl From<Driver> for ProfileOut {
    fn from(d: Driver) -> Self {
        ProfileOut {
            id: d.id.to_string(),
            name: d.name,
            created_at: d.created_at,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileIn {
    /// 1 to 100 characters.
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct VehicleOut {
    /// The plate's canonical form: the key to remove it with.
    pub plate: String,
    /// The plate as printed.
    pub plate_display: String,
    #[schemars(schema_with = "ts")]
    pub registered_at: Timestamp,
}

impl From<PlateRegistration> for VehicleOut {
    fn from(r: PlateRegistration) -> Self {
        VehicleOut {
            plate: r.plate.key(),
            plate_display: r.plate.display(),
            registered_at: r.registered_at,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VehicleIn {
    /// The plate as typed: `品川 300 さ 12-34`, full-width or half-width.
    pub plate: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PaymentMethodOut {
    pub id: String,
    pub brand: String,
    pub last4: String,
}

impl From<PaymentMethod> for PaymentMethodOut {
    fn from(m: PaymentMethod) -> Self {
        PaymentMethodOut {
            id: m.id.to_string(),
            brand: m.brand,
            last4: m.last4,
        }
    }
}

/// A card on file: the payment provider's token for it, never its number.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodIn {
    /// The provider's payment method token (`pm_…`).
    pub token: String,
    /// `visa`, `mastercard`, `amex`, `jcb`, `diners`, `discover`,
    /// `unionpay` or `unknown`.
    pub brand: String,
    /// The card's last four digits.
    pub last4: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AvailabilityOut {
    pub capacity: u32,
    pub occupied: u32,
    pub free: u32,
    /// Bays whose sensor cannot tell (or never reported).
    pub unknown: u32,
    pub open_sessions: u32,
    pub held_reservations: u32,
    /// How many more cars the lot can take now.
    pub free_estimate: u32,
    /// Too many sensors cannot tell: the estimate comes from the gates.
    pub degraded: bool,
    pub offline_devices: Vec<String>,
}

impl From<Availability> for AvailabilityOut {
    fn from(a: Availability) -> Self {
        AvailabilityOut {
            capacity: a.capacity,
            occupied: a.occupied,
            free: a.free,
            unknown: a.unknown,
            open_sessions: a.open_sessions,
            held_reservations: a.held_reservations,
            free_estimate: a.free_estimate,
            degraded: a.degraded,
            offline_devices: a.offline_devices.iter().map(ToString::to_string).collect(),
        }
    }
}

/// The tariff as posted at the lot, with its headline terms.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TariffSummary {
    pub id: String,
    pub currency: String,
    /// Consumption tax rate in basis points (1000 = 10%), if any.
    pub tax_rate_bp: Option<u32>,
    /// Whether posted prices include the tax.
    pub tax_inclusive: Option<bool>,
    pub free_minutes: u32,
    pub grace_minutes: u32,
    pub max_stay_hours: Option<u32>,
    /// The posted tariff in full.
    #[schemars(schema_with = "object")]
    pub posted: serde_json::Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LotOut {
    pub id: String,
    pub name: String,
    pub time_zone: String,
    pub capacity: u32,
    /// Bays that may be reserved in any one slot.
    pub reservable: u32,
    pub slot_minutes: u32,
    pub availability: AvailabilityOut,
    pub tariff: TariffSummary,
}

#[derive(Debug, Deserialize)]
pub struct QuoteQuery {
    pub entry: Option<String>,
    pub exit: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct QuoteLine {
    #[schemars(schema_with = "ts")]
    pub start: Timestamp,
    #[schemars(schema_with = "ts")]
    pub end: Timestamp,
    /// The band or charge the line comes from.
    pub label: String,
    pub units: i64,
    pub unit_price: i64,
    pub amount: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct QuoteOut {
    pub lot_id: String,
    pub tariff_id: String,
    #[schemars(schema_with = "ts")]
    pub entry: Timestamp,
    #[schemars(schema_with = "ts")]
    pub exit: Timestamp,
    pub currency: String,
    pub subtotal: i64,
    pub discount: i64,
    pub total: i64,
    pub tax: i64,
    pub tax_inclusive: bool,
    pub lines: Vec<QuoteLine>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationIn {
    pub lot_id: String,
    /// One of the driver's registered plates, as typed.
    pub plate: String,
    #[schemars(schema_with = "ts")]
    pub start: Timestamp,
    #[schemars(schema_with = "ts")]
    pub end: Timestamp,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReservationOut {
    pub id: String,
    pub lot_id: String,
    pub plate: String,
    pub plate_display: String,
    #[schemars(schema_with = "ts")]
    pub start: Timestamp,
    #[schemars(schema_with = "ts")]
    pub end: Timestamp,
    /// `active`, `cancelled` or `checked_in`.
    pub state: String,
}

impl From<Reservation> for ReservationOut {
    fn from(r: Reservation) -> Self {
        ReservationOut {
            id: r.id.to_string(),
            lot_id: r.lot_id.to_string(),
            plate: r.plate.key(),
            plate_display: r.plate.display(),
            start: r.start,
            end: r.end,
            state: match r.state {
                ReservationState::Active => "active",
                ReservationState::Cancelled => "cancelled",
                ReservationState::CheckedIn => "checked_in",
            }
            .to_owned(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionOut {
    pub id: String,
    pub lot_id: String,
    pub plate: String,
    pub plate_display: String,
    /// `open`, `priced`, `paid`, `payment_failed`, `needs_review`,
    /// `voided`, `entry_missing`, `exit_missing`.
    pub state: String,
    #[schemars(schema_with = "ts")]
    pub entry_at: Timestamp,
    #[schemars(schema_with = "ts_opt")]
    pub exit_at: Option<Timestamp>,
    /// The priced fee, once priced.
    pub fee: Option<Amount>,
    /// For an open session: what it would cost if the car left now.
    pub fee_if_left_now: Option<Amount>,
    pub reservation_id: Option<String>,
    /// `plate_corrected`, `plate_unverified`.
    pub flags: Vec<String>,
}

impl SessionOut {
    pub fn new(s: Session, now_fee: Option<Money>) -> Self {
        SessionOut {
            id: s.id.to_string(),
            lot_id: s.lot_id.to_string(),
            plate: s.plate.key(),
            plate_display: s.plate.display(),
            state: s.state.name().to_owned(),
            entry_at: s.entry_at,
            exit_at: s.exit_at,
            fee: s.fee.map(Amount::from),
            fee_if_left_now: now_fee.map(Amount::from),
            reservation_id: s.reservation_id.map(|r| r.to_string()),
            flags: s.flags.iter().map(|f| f.name().to_owned()).collect(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TaxLineOut {
    /// Basis points (1000 = 10%).
    pub rate_bp: u32,
    /// The amount at this rate, tax included.
    pub amount: i64,
    pub tax: i64,
}

/// A receipt that is a Japanese qualified invoice (適格請求書) when the lot
/// has an issuer registration number.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReceiptOut {
    pub number: String,
    pub issuer_name: Option<String>,
    /// `T` and 13 digits.
    pub registration_number: Option<String>,
    /// `YYYY-MM-DD` in the lot's time zone.
    pub date: String,
    pub lot_id: String,
    pub lot_name: String,
    pub entry_local: String,
    pub exit_local: String,
    #[schemars(schema_with = "ts")]
    pub entry_at: Timestamp,
    #[schemars(schema_with = "ts")]
    pub exit_at: Timestamp,
    pub description: String,
    pub amount: i64,
    pub currency: String,
    pub tax_lines: Vec<TaxLineOut>,
    /// `card` or `kiosk`.
    pub paid_by: String,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub state: String,
}

impl From<Receipt> for ReceiptOut {
    fn from(r: Receipt) -> Self {
        ReceiptOut {
            number: r.number.to_string(),
            issuer_name: r.issuer_name,
            registration_number: r.registration_number,
            date: r.date,
            lot_id: r.lot_id.to_string(),
            lot_name: r.lot_name,
            entry_local: r.entry_local,
            exit_local: r.exit_local,
            entry_at: r.entry_at,
            exit_at: r.exit_at,
            description: r.description,
            amount: r.amount,
            currency: r.currency,
            tax_lines: r
                .tax_lines
                .into_iter()
                .map(|t| TaxLineOut {
                    rate_bp: t.rate_bp,
                    amount: t.amount,
                    tax: t.tax,
                })
                .collect(),
            paid_by: r.paid_by.to_owned(),
            card_brand: r.card_brand,
            card_last4: r.card_last4,
            state: r.state.name().to_owned(),
        }
    }
}
