//! The bodies the APIs send and accept: the contract, with their JSON
//! schemas for the OpenAPI document. Times are RFC 3339; money is an
//! integer amount in the currency's minor units with its ISO 4217 code.
//!
//! No body derives `Debug`: the plates in them never reach a log.

use jiff::Timestamp;
use parking_app::usecases::availability::Availability;
use parking_app::usecases::plates::{PlateStatus, Vehicle};
use parking_app::usecases::trips::Receipt;
use parking_app::*;
use parking_core::Money;
use parking_core::demand::DemandPolicy;
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
#[derive(Clone, Serialize, JsonSchema)]
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

#[derive(Serialize, JsonSchema)]
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

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileIn {
    /// 1 to 100 characters.
    pub name: String,
}

#[derive(Serialize, JsonSchema)]
pub struct VehicleOut {
    /// The plate's canonical form: the key to remove it with.
    pub plate: String,
    /// The plate as printed.
    pub plate_display: String,
    /// `pending` until proven by the code its gate shows at the car's
    /// next entry (or by support staff); only a `proven` plate's stays
    /// are shown and charged to the driver's card.
    pub status: VehicleStatus,
    /// When it was proven, or claimed.
    #[schemars(schema_with = "ts")]
    pub registered_at: Timestamp,
}

#[derive(Serialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum VehicleStatus {
    Proven,
    Pending,
}

impl From<Vehicle> for VehicleOut {
    fn from(v: Vehicle) -> Self {
        VehicleOut {
            plate: v.plate.key(),
            plate_display: v.plate.display(),
            status: match v.status {
                PlateStatus::Proven => VehicleStatus::Proven,
                PlateStatus::Pending => VehicleStatus::Pending,
            },
            registered_at: v.since,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofIn {
    /// The six digits the entry gate showed.
    pub code: String,
}

#[derive(Serialize, JsonSchema)]
pub struct PlateReviewOut {
    /// The plate's canonical form.
    pub plate: String,
    pub plate_display: String,
    pub driver_id: String,
    #[schemars(schema_with = "ts")]
    pub claimed_at: Timestamp,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlateDecisionIn {
    /// The claimant.
    pub driver_id: String,
    /// `approve` (the plate moves to the claimant) or `reject`.
    pub decision: PlateDecision,
    /// What was checked: 1 to 500 characters.
    pub note: String,
}

#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum PlateDecision {
    Approve,
    Reject,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VehicleIn {
    /// The plate as typed: `品川 300 さ 12-34`, full-width or half-width.
    pub plate: String,
}

#[derive(Serialize, JsonSchema)]
pub struct PaymentMethodOut {
    pub id: String,
    pub brand: String,
    pub last4: String,
    /// When the card was just added and its bank wants the holder to
    /// confirm it (3-D Secure): the setup's client secret, for the app's
    /// payment SDK to confirm with. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl From<PaymentMethod> for PaymentMethodOut {
    fn from(m: PaymentMethod) -> Self {
        PaymentMethodOut {
            id: m.id.to_string(),
            brand: m.brand,
            last4: m.last4,
            client_secret: None,
        }
    }
}

impl From<parking_app::usecases::account::AddedCard> for PaymentMethodOut {
    fn from(a: parking_app::usecases::account::AddedCard) -> Self {
        PaymentMethodOut {
            client_secret: a.client_secret,
            ..PaymentMethodOut::from(a.method)
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

#[derive(Serialize, JsonSchema)]
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
#[derive(Serialize, JsonSchema)]
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

#[derive(Serialize, JsonSchema)]
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

#[derive(Deserialize)]
pub struct QuoteQuery {
    pub entry: Option<String>,
    pub exit: Option<String>,
}

#[derive(Serialize, JsonSchema)]
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

#[derive(Serialize, JsonSchema)]
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

#[derive(Deserialize, JsonSchema)]
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

#[derive(Serialize, JsonSchema)]
pub struct ReservationOut {
    pub id: String,
    pub lot_id: String,
    pub plate: String,
    pub plate_display: String,
    #[schemars(schema_with = "ts")]
    pub start: Timestamp,
    #[schemars(schema_with = "ts")]
    pub end: Timestamp,
    /// `active`, `cancelled`, `checked_in` or `no_show`.
    pub state: String,
    /// What cancelling it late, or not coming, cost (charged to the
    /// driver's card).
    pub cancellation_fee: Option<Amount>,
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
                ReservationState::NoShow => "no_show",
            }
            .to_owned(),
            cancellation_fee: r.cancellation_fee.map(Amount::from),
        }
    }
}

#[derive(Serialize, JsonSchema)]
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
    /// While `payment_failed`: why the card was not charged. The app asks
    /// the driver to update the card or pay now
    /// (`POST /v1/me/sessions/{id}/payment`); the charge is tried again.
    pub payment_failure: Option<String>,
    /// Collected by card for the stay, net of refunds (minor units).
    pub collected: i64,
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
            payment_failure: s.payment_failure,
            collected: s.collected,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct TaxLineOut {
    /// Basis points (1000 = 10%).
    pub rate_bp: u32,
    /// The amount at this rate, tax included.
    pub amount: i64,
    pub tax: i64,
}

/// A receipt that is a Japanese qualified invoice (適格請求書) when the lot
/// has an issuer registration number.
#[derive(Serialize, JsonSchema)]
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
    /// A qualified return invoice (適格返還請求書) for each card refund of
    /// ¥10,000 or more: the issuer and registration number above, the
    /// refund's date, the date of the stay it refunds, what it was, and
    /// the refund by tax rate with its tax.
    pub returns: Vec<ReturnInvoiceOut>,
}

#[derive(Serialize, JsonSchema)]
pub struct ReturnInvoiceOut {
    /// The payment provider's refund id.
    pub number: String,
    /// `YYYY-MM-DD` in the lot's time zone.
    pub refund_date: String,
    /// The date of the stay refunded.
    pub original_date: String,
    pub description: String,
    /// Tax included.
    pub amount: i64,
    pub tax_lines: Vec<TaxLineOut>,
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
            returns: r
                .returns
                .into_iter()
                .map(|v| ReturnInvoiceOut {
                    number: v.number,
                    refund_date: v.refund_date,
                    original_date: v.original_date,
                    description: v.description,
                    amount: v.amount,
                    tax_lines: v
                        .tax_lines
                        .into_iter()
                        .map(|t| TaxLineOut {
                            rate_bp: t.rate_bp,
                            amount: t.amount,
                            tax: t.tax,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

// ---- Operators, shops and kiosks ----

/// A receipt issuer: name and qualified invoice registration number.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuerDto {
    pub name: String,
    /// `T` and 13 digits.
    pub registration_number: String,
}

/// What an entry gate does for a car with unpaid stays.
#[derive(Clone, Copy, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnpaidPolicyDto {
    #[default]
    Open,
    Hold,
}

impl From<parking_app::unpaid::UnpaidPolicy> for UnpaidPolicyDto {
    fn from(p: parking_app::unpaid::UnpaidPolicy) -> Self {
        match p {
            parking_app::unpaid::UnpaidPolicy::Open => UnpaidPolicyDto::Open,
            parking_app::unpaid::UnpaidPolicy::Hold => UnpaidPolicyDto::Hold,
        }
    }
}

impl From<UnpaidPolicyDto> for parking_app::unpaid::UnpaidPolicy {
    fn from(p: UnpaidPolicyDto) -> Self {
        match p {
            UnpaidPolicyDto::Open => parking_app::unpaid::UnpaidPolicy::Open,
            UnpaidPolicyDto::Hold => parking_app::unpaid::UnpaidPolicy::Hold,
        }
    }
}

/// A lot's thresholds, windows and fees.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LotSettingsDto {
    /// What a stay whose entry nobody saw costs (minor units).
    pub lost_entry_fee: i64,
    /// Camera reads below this confidence (0 to 1) are matched against
    /// known plates first.
    pub plate_confidence_threshold: f64,
    /// Bay readings below this confidence (0 to 1) leave the bay unknown.
    pub sensor_confidence_threshold: f64,
    /// Above this share of unknown bays, availability comes from the gates.
    pub degraded_unknown_share: f64,
    /// Reads older than this (seconds) are history: no barrier moves.
    pub freshness_seconds: u32,
    /// Reads of one plate at one gate this close together (seconds) are one.
    pub debounce_seconds: u32,
    /// How early (minutes) a reservation may check in.
    pub reservation_early_minutes: u32,
    /// Cancelling at least this many minutes before the start is free.
    pub cancellation_free_minutes: u32,
    /// What a later cancellation costs (minor units).
    pub cancellation_fee: i64,
    /// After paying at the kiosk, the car may leave within this many minutes.
    pub kiosk_exit_minutes: u32,
    /// A reservation nobody checked in on this many minutes after its
    /// start is a no-show (default 30).
    #[serde(default = "no_show_grace_minutes")]
    pub no_show_grace_minutes: u32,
    /// What a no-show costs (minor units; default 0).
    #[serde(default)]
    pub no_show_fee: i64,
    /// A device silent this many minutes is shown offline (default 15).
    #[serde(default = "heartbeat_timeout_minutes")]
    pub heartbeat_timeout_minutes: u32,
    /// A bay sensor heard of nothing this many minutes is shown offline
    /// (default 40: sensors repeat their state every 15 minutes).
    #[serde(default = "sensor_timeout_minutes")]
    pub sensor_timeout_minutes: u32,
    /// An open stay counts toward full this many hours after its entry,
    /// then no more (default 24): a missed exit cannot fill the lot.
    #[serde(default = "open_count_hours")]
    pub open_count_hours: u32,
    /// A charge or fee staff set above this (minor units) waits for a
    /// second operator's approval (default 10000; 0: every one does).
    #[serde(default = "approval_limit")]
    pub approval_limit: i64,
    /// The most free minutes one shop validation gives (default 240).
    #[serde(default = "shop_max_minutes")]
    pub shop_max_minutes: u32,
    /// The most one shop validation takes off, minor units (default
    /// 3000).
    #[serde(default = "shop_max_amount")]
    pub shop_max_amount: i64,
    /// The most validations one shop makes a day (default 200).
    #[serde(default = "shop_validations_per_day")]
    pub shop_validations_per_day: u32,
    /// Days a car with no account is known by its plate (default 30, at
    /// least 8): then its reads and plate text are removed.
    #[serde(default = "plate_retention_days")]
    pub plate_retention_days: u32,
    /// How price suggestions follow demand (defaults after SFpark).
    #[serde(default)]
    pub demand_pricing: DemandPricingDto,
    /// Publish the lot's live availability and current rate in the public
    /// open-data feed, `/v1/public/parking-status` (default false).
    #[serde(default)]
    pub open_data: bool,
    /// What the entry gates do for a car that owes for earlier stays at
    /// any lot of the same operator: `open` and ask for the money (the
    /// default), or `hold` it until they are paid.
    #[serde(default)]
    pub unpaid_at_entry: UnpaidPolicyDto,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<IssuerDto>,
}

/// The rule price suggestions follow: a band fuller than `target_high`
/// goes up a step, one emptier than `target_low` down a step (emptier
/// than `far_below`, the far step), within the bounds, at most every
/// `min_days_between` days and announced `announce_days` ahead. Amounts are
/// minor units per hour, scaled to each band's unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DemandPricingDto {
    /// Below this share of bays occupied a price goes down (default 0.6).
    pub target_low: f64,
    /// Above it a price goes up (default 0.8).
    pub target_high: f64,
    /// Below it a price goes down by the far step (default 0.3).
    pub far_below: f64,
    /// Default 30.
    pub step_up_per_hour: i64,
    /// Default 30.
    pub step_down_per_hour: i64,
    /// Default 60.
    pub step_down_far_per_hour: i64,
    /// Default 30.
    pub min_per_hour: i64,
    /// Default 3000.
    pub max_per_hour: i64,
    /// Default 30.
    pub min_days_between: u32,
    /// Default 7.
    pub announce_days: u32,
    /// Days measured at most (default 28).
    pub lookback_days: u32,
    /// The price elasticity the expected effect assumes (default -0.4).
    pub elasticity: f64,
}

impl Default for DemandPricingDto {
    fn default() -> Self {
        DemandPolicy::default().into()
    }
}

impl From<DemandPolicy> for DemandPricingDto {
    fn from(p: DemandPolicy) -> Self {
        DemandPricingDto {
            target_low: p.target_low,
            target_high: p.target_high,
            far_below: p.far_below,
            step_up_per_hour: p.step_up_per_hour,
            step_down_per_hour: p.step_down_per_hour,
            step_down_far_per_hour: p.step_down_far_per_hour,
            min_per_hour: p.min_per_hour,
            max_per_hour: p.max_per_hour,
            min_days_between: p.min_days_between,
            announce_days: p.announce_days,
            lookback_days: p.lookback_days,
            elasticity: p.elasticity,
        }
    }
}

impl From<DemandPricingDto> for DemandPolicy {
    fn from(p: DemandPricingDto) -> Self {
        DemandPolicy {
            target_low: p.target_low,
            target_high: p.target_high,
            far_below: p.far_below,
            step_up_per_hour: p.step_up_per_hour,
            step_down_per_hour: p.step_down_per_hour,
            step_down_far_per_hour: p.step_down_far_per_hour,
            min_per_hour: p.min_per_hour,
            max_per_hour: p.max_per_hour,
            min_days_between: p.min_days_between,
            announce_days: p.announce_days,
            lookback_days: p.lookback_days,
            elasticity: p.elasticity,
        }
    }
}

fn no_show_grace_minutes() -> u32 {
    LotSettings::default().no_show_grace_minutes
}

fn heartbeat_timeout_minutes() -> u32 {
    LotSettings::default().heartbeat_timeout_minutes
}

fn sensor_timeout_minutes() -> u32 {
    LotSettings::default().sensor_timeout_minutes
}

fn open_count_hours() -> u32 {
    LotSettings::default().open_count_hours
}

fn approval_limit() -> i64 {
    LotSettings::default().approval_limit
}

fn shop_max_minutes() -> u32 {
    LotSettings::default().shop_max_minutes
}

fn shop_max_amount() -> i64 {
    LotSettings::default().shop_max_amount
}

fn shop_validations_per_day() -> u32 {
    LotSettings::default().shop_validations_per_day
}

fn plate_retention_days() -> u32 {
    LotSettings::default().plate_retention_days
}

impl From<LotSettings> for LotSettingsDto {
    fn from(s: LotSettings) -> Self {
        LotSettingsDto {
            lost_entry_fee: s.lost_entry_fee,
            plate_confidence_threshold: s.plate_confidence_threshold,
            sensor_confidence_threshold: s.sensor_confidence_threshold,
            degraded_unknown_share: s.degraded_unknown_share,
            freshness_seconds: s.freshness_seconds,
            debounce_seconds: s.debounce_seconds,
            reservation_early_minutes: s.reservation_early_minutes,
            cancellation_free_minutes: s.cancellation_free_minutes,
            cancellation_fee: s.cancellation_fee,
            kiosk_exit_minutes: s.kiosk_exit_minutes,
            no_show_grace_minutes: s.no_show_grace_minutes,
            no_show_fee: s.no_show_fee,
            heartbeat_timeout_minutes: s.heartbeat_timeout_minutes,
            sensor_timeout_minutes: s.sensor_timeout_minutes,
            open_count_hours: s.open_count_hours,
            approval_limit: s.approval_limit,
            shop_max_minutes: s.shop_max_minutes,
            shop_max_amount: s.shop_max_amount,
            shop_validations_per_day: s.shop_validations_per_day,
            plate_retention_days: s.plate_retention_days,
            demand_pricing: s.demand_pricing.into(),
            open_data: s.open_data,
            unpaid_at_entry: s.unpaid_at_entry.into(),
            issuer: s.issuer.map(|i| IssuerDto {
                name: i.name,
                registration_number: i.registration_number,
            }),
        }
    }
}

impl From<LotSettingsDto> for LotSettings {
    fn from(s: LotSettingsDto) -> Self {
        LotSettings {
            lost_entry_fee: s.lost_entry_fee,
            plate_confidence_threshold: s.plate_confidence_threshold,
            sensor_confidence_threshold: s.sensor_confidence_threshold,
            degraded_unknown_share: s.degraded_unknown_share,
            freshness_seconds: s.freshness_seconds,
            debounce_seconds: s.debounce_seconds,
            reservation_early_minutes: s.reservation_early_minutes,
            cancellation_free_minutes: s.cancellation_free_minutes,
            cancellation_fee: s.cancellation_fee,
            kiosk_exit_minutes: s.kiosk_exit_minutes,
            no_show_grace_minutes: s.no_show_grace_minutes,
            no_show_fee: s.no_show_fee,
            heartbeat_timeout_minutes: s.heartbeat_timeout_minutes,
            sensor_timeout_minutes: s.sensor_timeout_minutes,
            open_count_hours: s.open_count_hours,
            approval_limit: s.approval_limit,
            shop_max_minutes: s.shop_max_minutes,
            shop_max_amount: s.shop_max_amount,
            shop_validations_per_day: s.shop_validations_per_day,
            plate_retention_days: s.plate_retention_days,
            demand_pricing: s.demand_pricing.into(),
            open_data: s.open_data,
            unpaid_at_entry: s.unpaid_at_entry.into(),
            issuer: s.issuer.map(|i| Issuer {
                name: i.name,
                registration_number: i.registration_number,
            }),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct ScheduledTariffOut {
    pub tariff_id: String,
    #[schemars(schema_with = "ts")]
    pub effective_from: Timestamp,
}

/// A lot's configuration. Its `revision` is the `ETag`: send it back as
/// `If-Match` to change the lot.
#[derive(Serialize, JsonSchema)]
pub struct LotConfigOut {
    pub id: String,
    pub name: String,
    pub time_zone: String,
    pub capacity: u32,
    pub reservable: u32,
    pub slot_minutes: u32,
    pub settings: LotSettingsDto,
    pub revision: u64,
    /// The first tariff.
    pub tariff_id: String,
    /// Later versions by effective time.
    pub tariff_schedule: Vec<ScheduledTariffOut>,
}

impl From<Lot> for LotConfigOut {
    fn from(l: Lot) -> Self {
        LotConfigOut {
            id: l.id.to_string(),
            name: l.name,
            time_zone: l.time_zone,
            capacity: l.capacity,
            reservable: l.reservable,
            slot_minutes: l.slot_minutes,
            settings: l.settings.into(),
            revision: l.revision,
            tariff_id: l.tariff_id.to_string(),
            tariff_schedule: l
                .tariff_schedule
                .into_iter()
                .map(|v| ScheduledTariffOut {
                    tariff_id: v.tariff_id.to_string(),
                    effective_from: v.effective_from,
                })
                .collect(),
        }
    }
}

/// What an operator may change of a lot (all of it, every time).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LotConfigIn {
    pub name: String,
    /// An IANA time zone, e.g. `Asia/Tokyo`.
    pub time_zone: String,
    pub capacity: u32,
    pub reservable: u32,
    pub slot_minutes: u32,
    pub settings: LotSettingsDto,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum DirectionDto {
    Entry,
    Exit,
}

#[derive(Serialize, JsonSchema)]
pub struct GateOut {
    pub id: String,
    pub direction: DirectionDto,
    pub camera_id: String,
}

impl From<Gate> for GateOut {
    fn from(g: Gate) -> Self {
        GateOut {
            id: g.id.to_string(),
            direction: match g.direction {
                GateDirection::Entry => DirectionDto::Entry,
                GateDirection::Exit => DirectionDto::Exit,
            },
            camera_id: g.camera_id.to_string(),
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateIn {
    pub direction: DirectionDto,
    /// The camera device that reads plates at the gate (a device of the lot).
    pub camera_id: String,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKindDto {
    Camera,
    Barrier,
    BaySensor,
    Kiosk,
}

impl From<DeviceKind> for DeviceKindDto {
    fn from(k: DeviceKind) -> Self {
        match k {
            DeviceKind::Camera => DeviceKindDto::Camera,
            DeviceKind::Barrier => DeviceKindDto::Barrier,
            DeviceKind::BaySensor => DeviceKindDto::BaySensor,
            DeviceKind::Kiosk => DeviceKindDto::Kiosk,
        }
    }
}

impl From<DeviceKindDto> for DeviceKind {
    fn from(k: DeviceKindDto) -> Self {
        match k {
            DeviceKindDto::Camera => DeviceKind::Camera,
            DeviceKindDto::Barrier => DeviceKind::Barrier,
            DeviceKindDto::BaySensor => DeviceKind::BaySensor,
            DeviceKindDto::Kiosk => DeviceKind::Kiosk,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct DeviceOut {
    /// The IoT client id.
    pub id: String,
    pub kind: DeviceKindDto,
    pub gate_id: Option<String>,
    pub bay_id: Option<String>,
    /// Whether it is connected, by its last lifecycle event (`null`: never seen).
    pub connected: Option<bool>,
    #[schemars(schema_with = "ts_opt")]
    pub seen_at: Option<Timestamp>,
}

impl From<Device> for DeviceOut {
    fn from(d: Device) -> Self {
        DeviceOut {
            id: d.id.to_string(),
            kind: d.kind.into(),
            gate_id: d.gate_id.map(|g| g.to_string()),
            bay_id: d.bay_id.map(|b| b.to_string()),
            connected: d.presence.map(|p| p.connected),
            seen_at: d.presence.map(|p| p.at),
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceIn {
    pub kind: DeviceKindDto,
    /// Required for cameras and barriers.
    #[serde(default)]
    pub gate_id: Option<String>,
    /// Required for bay sensors.
    #[serde(default)]
    pub bay_id: Option<String>,
}

/// A device's serial number enrolled for a gate or bay, before it claims
/// its identity (fleet provisioning).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentIn {
    /// The device's serial number, as its firmware presents it.
    pub serial: String,
    pub kind: DeviceKindDto,
    /// Required for cameras and barriers.
    #[serde(default)]
    pub gate_id: Option<String>,
    /// Required for bay sensors.
    #[serde(default)]
    pub bay_id: Option<String>,
    /// The thing (and device id) it becomes; by default
    /// `{lot}-{cam|bar|sensor}-{gate|bay}-{serial}`.
    #[serde(default)]
    pub thing_name: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct EnrolmentOut {
    pub serial: String,
    pub lot_id: String,
    pub kind: DeviceKindDto,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bay_id: Option<String>,
    pub thing_name: String,
    #[schemars(schema_with = "ts")]
    pub enrolled_at: Timestamp,
    /// Whether the device has claimed its identity.
    pub admitted: bool,
}

impl From<parking_app::enrolments::Enrolment> for EnrolmentOut {
    fn from(e: parking_app::enrolments::Enrolment) -> Self {
        EnrolmentOut {
            serial: e.serial.to_string(),
            lot_id: e.lot_id.to_string(),
            kind: e.kind.into(),
            gate_id: e.gate_id.map(|g| g.to_string()),
            bay_id: e.bay_id.map(|b| b.to_string()),
            thing_name: e.thing_name.to_string(),
            enrolled_at: e.enrolled_at,
            admitted: e.admitted.is_some(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct BayOut {
    pub id: String,
    /// `occupied`, `free` or `unknown`.
    pub state: String,
    #[schemars(schema_with = "ts")]
    pub reported_at: Timestamp,
}

#[derive(Serialize, JsonSchema)]
pub struct TariffVersionOut {
    pub tariff_id: String,
    /// When it takes effect; `null` for the lot's first tariff.
    #[schemars(schema_with = "ts_opt")]
    pub effective_from: Option<Timestamp>,
    /// The tariff as posted.
    #[schemars(schema_with = "object")]
    pub tariff: serde_json::Value,
}

/// A new tariff version.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TariffVersionIn {
    /// When it takes effect (RFC 3339, not in the past). Stays that entered
    /// before keep the version they entered under.
    pub effective_from: String,
    /// The tariff as posted (the tariff format; errors name its fields
    /// under `body.tariff.`).
    #[schemars(schema_with = "object")]
    pub tariff: serde_json::Value,
}

/// A session as staff see it.
#[derive(Serialize, JsonSchema)]
pub struct StaffSessionOut {
    pub id: String,
    pub lot_id: String,
    /// The plate as printed.
    pub plate: String,
    pub state: String,
    #[schemars(schema_with = "ts")]
    pub entry_at: Timestamp,
    #[schemars(schema_with = "ts_opt")]
    pub exit_at: Option<Timestamp>,
    pub fee: Option<Amount>,
    /// Still to pay (minor units): the fee less refunds, kiosk payments
    /// and what the card was charged; nothing for a stay voided or
    /// replaced.
    pub outstanding: i64,
    pub refunded: i64,
    pub kiosk_paid: i64,
    /// `card`, or `kiosk` for a car with no card on file.
    pub paid_by: String,
    /// What the reads say about the plate: `plate_corrected`, `plate_unverified`.
    pub flags: Vec<String>,
    /// Staff's decision: `charged`, `voided` or `adjusted`.
    pub resolution: Option<String>,
    /// The tariff version that priced it.
    pub tariff_id: Option<String>,
    /// While `payment_failed`: why the card was not charged.
    pub payment_failure: Option<String>,
    pub needs_review: bool,
    /// The camera frames behind it: of each passage, the first read
    /// naming one and its first sure read, at most four.
    pub frames: Vec<FrameOut>,
}

/// An evidence frame, with a link that works for a few minutes.
#[derive(Serialize, JsonSchema)]
pub struct FrameOut {
    /// The frame's key in the evidence store.
    pub key: String,
    /// A short-lived link to the frame (a presigned GET); `null` when no
    /// link could be made (the evidence store is not configured, or its
    /// credentials could not be read).
    pub url: Option<String>,
    /// When the link stops working.
    #[schemars(schema_with = "ts_opt")]
    pub expires_at: Option<Timestamp>,
}

impl From<Session> for StaffSessionOut {
    fn from(s: Session) -> Self {
        let needs_review = parking_app::usecases::operator::needs_review(&s);
        StaffSessionOut {
            id: s.id.to_string(),
            lot_id: s.lot_id.to_string(),
            plate: s.plate.display(),
            state: s.state.name().to_owned(),
            entry_at: s.entry_at,
            exit_at: s.exit_at,
            fee: s.fee.map(Amount::from),
            outstanding: s.still_to_pay(),
            refunded: s.refunded,
            kiosk_paid: s.kiosk_paid,
            paid_by: if s.method_id.is_some() {
                "card"
            } else {
                "kiosk"
            }
            .to_owned(),
            flags: s.flags.iter().map(|f| f.name().to_owned()).collect(),
            resolution: s.resolution.map(|r| {
                match r {
                    Resolution::Charged => "charged",
                    Resolution::Voided => "voided",
                    Resolution::Adjusted => "adjusted",
                }
                .to_owned()
            }),
            tariff_id: s.tariff_id.map(|t| t.to_string()),
            payment_failure: s.payment_failure,
            needs_review,
            // Linked by the route ([`crate::FrameLinks`]).
            frames: s
                .frames
                .iter()
                .map(|k| FrameOut {
                    key: k.to_string(),
                    url: None,
                    expires_at: None,
                })
                .collect(),
        }
    }
}

#[derive(Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionAction {
    /// Charge the priced fee, or `amount`.
    Charge,
    /// Nothing is owed; anything charged is refunded.
    Void,
    /// Set the fee to `amount`.
    Adjust,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionIn {
    pub action: ResolutionAction,
    /// Minor units: required to adjust, optional to charge.
    #[serde(default)]
    pub amount: Option<i64>,
    /// Why (required; kept in the audit trail).
    pub note: String,
    /// When the car left, for a stay whose exit no camera saw (`open` or
    /// `exit_missing`, such as one flagged `overstay` or `uncounted`): the
    /// stay is closed then and priced to it. An exit read that comes later
    /// wins.
    #[serde(default)]
    #[schemars(schema_with = "ts_opt")]
    pub exit_at: Option<Timestamp>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PayNowIn {
    /// One of the driver's cards (`GET /v1/me/payment-methods`).
    pub method_id: String,
}

/// A payment queued on the chosen card: the stay's state follows as it
/// settles (`paid`, or `payment_failed` with the reason).
#[derive(Serialize, JsonSchema)]
pub struct PayNowOut {
    pub session: SessionOut,
    /// What the payment charges: what the stay owes beyond what was
    /// collected (minor units).
    pub amount: Amount,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundIn {
    /// Minor units, at most what was paid and not yet refunded.
    pub amount: i64,
    pub note: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BarrierOpenIn {
    /// Why (required; kept in the audit trail).
    pub note: String,
}

#[derive(Serialize, JsonSchema)]
pub struct BarrierOpenOut {
    /// The topic the command was published to.
    pub topic: String,
    pub command: String,
    pub event_id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PassIn {
    /// The plate as typed.
    pub plate: String,
    /// RFC 3339.
    pub valid_from: String,
    /// RFC 3339, after `valid_from`, at most 366 days later.
    pub valid_until: String,
}

/// A stay on the unpaid register.
#[derive(Serialize, JsonSchema)]
pub struct DebtOut {
    pub session_id: String,
    /// The lot it was run up in.
    pub lot_id: String,
    pub plate: String,
    /// `kiosk_unpaid` (no card; not paid at the kiosk) or `card_failed`
    /// (the card payment was given up).
    pub reason: String,
    /// What it owes.
    pub amount: Amount,
    #[schemars(schema_with = "ts")]
    pub entry_at: Timestamp,
    #[schemars(schema_with = "ts")]
    pub exit_at: Timestamp,
}

impl From<parking_app::unpaid::Debt> for DebtOut {
    fn from(d: parking_app::unpaid::Debt) -> Self {
        DebtOut {
            session_id: d.session_id.to_string(),
            lot_id: d.lot_id.to_string(),
            plate: d.plate.display(),
            reason: d.reason.name().to_owned(),
            amount: d.amount.into(),
            entry_at: d.entry_at,
            exit_at: d.exit_at,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct PassOut {
    pub id: String,
    pub plate: String,
    #[schemars(schema_with = "ts")]
    pub valid_from: Timestamp,
    #[schemars(schema_with = "ts")]
    pub valid_until: Timestamp,
    #[schemars(schema_with = "ts")]
    pub created_at: Timestamp,
    pub created_by: String,
}

impl From<Pass> for PassOut {
    fn from(p: Pass) -> Self {
        PassOut {
            id: p.id.to_string(),
            plate: p.plate.display(),
            valid_from: p.valid_from,
            valid_until: p.valid_until,
            created_at: p.created_at,
            created_by: p.created_by.subject,
        }
    }
}

#[derive(Deserialize)]
pub struct DateQuery {
    pub date: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct DailyReportOut {
    pub lot_id: String,
    /// The lot's local date (`YYYY-MM-DD`).
    pub date: String,
    pub currency: String,
    pub entries: u32,
    pub exits: u32,
    /// Fees of the stays that ended that day (minor units).
    pub revenue: i64,
    /// Of which paid at the kiosk.
    pub kiosk_revenue: i64,
    /// Card refunds the provider made that day.
    pub refunds: i64,
    /// Card refunds that failed at the provider that day (retried; the
    /// stays are in the review queue).
    pub refunds_failed: i64,
    /// Of the stays that ended that day: charged to the card (before
    /// refunds).
    pub card_charged: i64,
    /// Card payments that failed (declined, needs the cardholder, given
    /// up after the retries).
    pub card_failed: i64,
    /// Not settled yet, or to pay at the kiosk.
    pub outstanding: i64,
    /// Cars inside during each local hour.
    pub occupancy_by_hour: Vec<u32>,
    /// Exits per bay.
    pub turnover: f64,
    /// Sessions of the day that need a person.
    pub needs_review: u32,
    /// What the lot's device messages and their forwarding consumed that
    /// day, priced at the built-in table's on-demand prices.
    pub cost: CostOut,
}

#[derive(Serialize, JsonSchema)]
pub struct CostOut {
    pub region: String,
    /// The price table's date.
    pub prices_date: String,
    pub currency: String,
    pub total: ServicesOut,
    pub per_1000_sessions: ServicesOut,
    /// The day's rate over a month (30.4 days).
    pub per_lot_month: ServicesOut,
    pub dynamodb_read_units: f64,
    pub dynamodb_write_units: f64,
    pub sqs_requests: u64,
    pub iot_messages: u64,
    pub lambda_invocations: u64,
    pub lambda_gb_seconds: f64,
}

/// An amount by service.
#[derive(Serialize, JsonSchema)]
pub struct ServicesOut {
    pub lambda: f64,
    pub dynamodb: f64,
    pub sqs: f64,
    pub iot: f64,
    pub total: f64,
}

impl From<parking_app::usecases::cost::Cost> for ServicesOut {
    fn from(c: parking_app::usecases::cost::Cost) -> Self {
        ServicesOut {
            lambda: c.lambda,
            dynamodb: c.dynamodb,
            sqs: c.sqs,
            iot: c.iot,
            total: c.total,
        }
    }
}

impl From<parking_app::usecases::cost::CostReport> for CostOut {
    fn from(c: parking_app::usecases::cost::CostReport) -> Self {
        let u = c.usage;
        CostOut {
            region: c.region,
            prices_date: c.prices_date,
            currency: c.currency,
            total: c.total.into(),
            per_1000_sessions: c.per_1000_sessions.into(),
            per_lot_month: c.per_lot_month.into(),
            dynamodb_read_units: u.dynamodb_read_units,
            dynamodb_write_units: u.dynamodb_write_units,
            sqs_requests: u.sqs_requests,
            iot_messages: u.iot_inbound_messages + u.iot_outbound_messages,
            lambda_invocations: u.lambda_invocations,
            lambda_gb_seconds: u.lambda_gb_seconds,
        }
    }
}

impl From<parking_app::usecases::operator::DailyReport> for DailyReportOut {
    fn from(r: parking_app::usecases::operator::DailyReport) -> Self {
        DailyReportOut {
            lot_id: r.lot_id.to_string(),
            date: r.date.to_string(),
            currency: r.currency,
            entries: r.entries,
            exits: r.exits,
            revenue: r.revenue,
            kiosk_revenue: r.kiosk_revenue,
            card_charged: r.card_charged,
            card_failed: r.card_failed,
            outstanding: r.outstanding,
            refunds: r.refunds,
            refunds_failed: r.refunds_failed,
            occupancy_by_hour: r.occupancy_by_hour,
            turnover: r.turnover,
            needs_review: r.needs_review,
            cost: r.cost.into(),
        }
    }
}

/// A lot at a glance: what the operator's dashboard page shows.
#[derive(Serialize, JsonSchema)]
pub struct DashboardOut {
    pub lot: DashboardLotOut,
    #[schemars(schema_with = "ts")]
    pub as_of: Timestamp,
    pub availability: AvailabilityOut,
    /// Devices the lot has (`availability.offline_devices` are offline).
    pub devices: u32,
    /// Today's report, the lot's local date.
    pub today: DailyReportOut,
    /// Sessions that need a person, oldest first (the first 20).
    pub reviews: SessionListOut,
    /// Stays of the last 7 days whose card payment failed and are still
    /// owed (the first 20).
    pub payment_failures: SessionListOut,
    /// Today's local hours: mean occupied bays so far, and the forecast.
    pub hours: Vec<HourOut>,
}

#[derive(Serialize, JsonSchema)]
pub struct DashboardLotOut {
    pub id: String,
    pub name: String,
    pub capacity: u32,
    pub time_zone: String,
}

#[derive(Serialize, JsonSchema)]
pub struct SessionListOut {
    /// All of them, not only those listed, unless `more`: then those
    /// listed.
    pub count: u32,
    /// More are waiting than counted; their full list pages through them.
    pub more: bool,
    pub items: Vec<StaffSessionOut>,
}

#[derive(Serialize, JsonSchema)]
pub struct HourOut {
    #[schemars(schema_with = "ts")]
    pub start: Timestamp,
    /// Mean occupied bays over the part of the hour that has passed; null
    /// for an hour to come.
    pub occupied: Option<f64>,
    /// The forecast's mean for the hour and its interval; null without a
    /// forecast for today.
    pub forecast: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

fn one_decimal(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

impl From<parking_app::usecases::dashboard::Dashboard> for DashboardOut {
    fn from(d: parking_app::usecases::dashboard::Dashboard) -> Self {
        DashboardOut {
            lot: DashboardLotOut {
                id: d.lot.id.to_string(),
                name: d.lot.name,
                capacity: d.lot.capacity,
                time_zone: d.lot.time_zone,
            },
            as_of: d.as_of,
            availability: d.availability.into(),
            devices: d.devices,
            today: d.today.into(),
            reviews: SessionListOut {
                count: d.review_count,
                more: d.more_reviews,
                items: d.reviews.into_iter().map(Into::into).collect(),
            },
            payment_failures: SessionListOut {
                count: d.payment_failure_count,
                more: false,
                items: d.payment_failures.into_iter().map(Into::into).collect(),
            },
            hours: d
                .hours
                .into_iter()
                .map(|h| HourOut {
                    start: h.start,
                    occupied: h.occupied.map(one_decimal),
                    forecast: h.forecast.map(|f| one_decimal(f.0)),
                    low: h.forecast.map(|f| one_decimal(f.1)),
                    high: h.forecast.map(|f| one_decimal(f.2)),
                })
                .collect(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct AuditOut {
    pub id: String,
    #[schemars(schema_with = "ts")]
    pub at: Timestamp,
    pub role: String,
    pub subject: String,
    pub action: String,
    pub target: String,
    pub note: Option<String>,
    pub amount: Option<i64>,
}

impl From<AuditEntry> for AuditOut {
    fn from(e: AuditEntry) -> Self {
        AuditOut {
            id: e.id.to_string(),
            at: e.at,
            role: e.actor.role,
            subject: e.actor.subject,
            action: e.action,
            target: e.target,
            note: (!e.note.is_empty()).then_some(e.note),
            amount: e.amount,
        }
    }
}

/// A shop's validation of a customer's stay: minutes free from entry, or
/// an amount off (one of them).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationIn {
    /// The customer's plate as typed.
    pub plate: String,
    #[serde(default)]
    pub minutes: u32,
    /// Minor units.
    #[serde(default)]
    pub amount: i64,
}

#[derive(Serialize, JsonSchema)]
pub struct ValidationOut {
    pub session_id: String,
    #[schemars(schema_with = "ts")]
    pub entry_at: Timestamp,
    pub minutes: u32,
    pub amount: i64,
    /// What the stay would cost if the car left now, with the validation.
    pub fee_if_left_now: Option<Amount>,
}

#[derive(Deserialize)]
pub struct DigitsQuery {
    pub digits: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

/// An unpaid stay as the kiosk shows it.
#[derive(Serialize, JsonSchema)]
pub struct KioskSessionOut {
    pub session_id: String,
    /// Just enough of the plate to pick the car: the region and the
    /// serial (`品川 … 11-22`); the whole plate is typed to pay.
    pub plate_hint: String,
    /// Where the stay was: this lot, or another lot of the same operator
    /// (a stay left unpaid there).
    pub lot_id: String,
    #[schemars(schema_with = "ts")]
    pub entry_at: Timestamp,
    /// What to pay now.
    pub due: Amount,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KioskPaymentIn {
    /// The whole plate as on the car (`横浜 300 そ 11-22`).
    pub plate: String,
    /// Minor units: exactly what is due.
    pub amount: i64,
}

#[derive(Serialize, JsonSchema)]
pub struct KioskPaymentOut {
    pub session_id: String,
    pub paid: Amount,
    /// Leave by this time; the exit gate opens for the plate until then.
    #[schemars(schema_with = "ts")]
    pub exit_by: Timestamp,
}

/// A queue with a dead-letter queue.
#[derive(Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueName {
    Payments,
    Notifications,
}

impl From<QueueName> for parking_app::outbox::Queue {
    fn from(q: QueueName) -> Self {
        match q {
            QueueName::Payments => parking_app::outbox::Queue::Payments,
            QueueName::Notifications => parking_app::outbox::Queue::Notifications,
        }
    }
}

#[derive(Deserialize)]
pub struct QueueQuery {
    pub queue: Option<String>,
    pub limit: Option<String>,
}

/// A message a consumer gave up on, without its body.
#[derive(Serialize, JsonSchema)]
pub struct DeadLetterOut {
    /// The queue's id of the message.
    pub id: String,
    /// `charge`, `refund`, or a notification's kind.
    pub kind: String,
    /// How many times it was delivered.
    pub received: u32,
    #[schemars(schema_with = "ts_opt")]
    pub sent_at: Option<Timestamp>,
}

#[derive(Serialize, JsonSchema)]
pub struct DeadLettersOut {
    pub queue: QueueName,
    pub items: Vec<DeadLetterOut>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedriveIn {
    pub queue: QueueName,
    /// At most this many (1 to 100; default 100).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Why (required; kept in the audit trail).
    pub note: String,
}

impl From<parking_app::usecases::dead_letters::DeadLetter> for DeadLetterOut {
    fn from(d: parking_app::usecases::dead_letters::DeadLetter) -> Self {
        DeadLetterOut {
            id: d.id,
            kind: d.kind,
            received: d.received,
            sent_at: d.sent_at,
        }
    }
}

/// The next tariff version the lot's occupancy suggests. Nothing is
/// applied: to accept it, post `tariff` and `effective_from` to the lot's
/// tariffs.
#[derive(Serialize, JsonSchema)]
pub struct PriceSuggestionOut {
    pub lot_id: String,
    /// When the version in force took effect (null: the lot's first).
    #[schemars(schema_with = "ts_opt")]
    pub in_force_since: Option<Timestamp>,
    /// When the suggested version would take effect: announced ahead, and
    /// no sooner than the minimum time between changes.
    #[schemars(schema_with = "ts")]
    pub effective_from: Timestamp,
    /// The first and last local dates measured (null: none).
    pub measured_from: Option<String>,
    pub measured_to: Option<String>,
    pub measured_days: usize,
    /// Whether any band's price would change.
    pub changes: bool,
    pub bands: Vec<BandSuggestionOut>,
    /// The version to post, in the tariff format.
    #[schemars(schema_with = "object")]
    pub tariff: serde_json::Value,
}

/// One band's measured occupancy and its next price.
#[derive(Serialize, JsonSchema)]
pub struct BandSuggestionOut {
    /// Its index in the tariff's `bands`.
    pub band: usize,
    pub name: String,
    pub unit_minutes: u32,
    /// 15-minute slots measured.
    pub slots: usize,
    /// The mean share of bays occupied (0 to 1), if measured.
    pub occupancy: Option<f64>,
    /// Unit prices, minor units.
    pub current: i64,
    pub proposed: i64,
    /// `raise`, `lower`, `lower_far`, `hold`, `at_bound`, `free` or
    /// `too_little_data`.
    pub decision: String,
    /// The occupancy expected at the proposed price.
    pub expected_occupancy: Option<f64>,
}

impl PriceSuggestionOut {
    pub fn new(lot_id: &LotId, s: parking_app::usecases::pricing::Suggested) -> Self {
        let g = s.suggestion;
        let changes = g.changes();
        let decision = |d: parking_core::demand::Decision| {
            serde_json::to_value(d)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        PriceSuggestionOut {
            lot_id: lot_id.to_string(),
            in_force_since: s.in_force_since,
            effective_from: g.effective_from,
            measured_from: g.measured.map(|(a, _)| a.to_string()),
            measured_to: g.measured.map(|(_, b)| b.to_string()),
            measured_days: g.measured_days,
            changes,
            bands: g
                .bands
                .into_iter()
                .map(|b| BandSuggestionOut {
                    band: b.band,
                    name: b.name,
                    unit_minutes: b.unit_minutes,
                    slots: b.slots,
                    occupancy: b.occupancy,
                    current: b.current,
                    proposed: b.proposed,
                    decision: decision(b.decision),
                    expected_occupancy: b.expected_occupancy,
                })
                .collect(),
            tariff: serde_json::to_value(&g.tariff).unwrap_or_default(),
        }
    }
}

/// A lot's expected occupancy for the next 24 hours, per 15-minute slot.
#[derive(Serialize, JsonSchema)]
pub struct ForecastOut {
    pub lot_id: String,
    pub capacity: u32,
    /// When the forecast was made (once a day, after the lot's local
    /// midnight); null until the lot has one, and then `slots` is empty.
    #[schemars(schema_with = "ts_opt")]
    pub made_at: Option<Timestamp>,
    pub slots: Vec<ForecastSlotOut>,
}

/// One 15-minute slot of a forecast.
#[derive(Serialize, JsonSchema)]
pub struct ForecastSlotOut {
    #[schemars(schema_with = "ts")]
    pub start: Timestamp,
    /// Expected occupied bays.
    pub occupied: f32,
    /// The interval around it, P10 to P90: about four slots in five fall
    /// inside (the backtest reports how many did).
    pub low: f32,
    pub high: f32,
    /// Expected free bays: "likely free at 18:00".
    pub free: u32,
}

impl ForecastOut {
    pub fn new(
        lot: &parking_app::Lot,
        outlook: Option<(
            parking_app::forecasts::LotForecast,
            Vec<parking_app::usecases::forecast::OutlookSlot>,
        )>,
    ) -> ForecastOut {
        let (made_at, slots) = match outlook {
            Some((f, slots)) => (Some(f.made_at), slots),
            None => (None, Vec::new()),
        };
        ForecastOut {
            lot_id: lot.id.to_string(),
            capacity: lot.capacity,
            made_at,
            slots: slots
                .into_iter()
                .map(|s| ForecastSlotOut {
                    start: s.start,
                    occupied: s.occupied,
                    low: s.low,
                    high: s.high,
                    free: s.free,
                })
                .collect(),
        }
    }
}

/// The feature flags at a lot.
#[derive(Serialize, JsonSchema)]
pub struct FlagsOut {
    /// The flag document's revision (all lots share one document).
    pub revision: u64,
    pub items: Vec<FlagOut>,
}

#[derive(Serialize, JsonSchema)]
pub struct FlagOut {
    /// `fuzzy_plate_matching`, `weather_fallback`, `reservations` or `kiosk_exit_window`.
    pub name: String,
    /// On for every car at the lot; null while a rollout decides per plate.
    pub on: Option<bool>,
    /// Why: `lot` (listed on), `lot_off` (listed off), `rollout` or `default`.
    pub rule: String,
    pub rollout_percent: Option<u8>,
    pub default_on: bool,
}

impl From<parking_app::usecases::lot_flags::LotFlags> for FlagsOut {
    fn from(f: parking_app::usecases::lot_flags::LotFlags) -> Self {
        use parking_app::usecases::lot_flags::FlagRule;
        FlagsOut {
            revision: f.revision,
            items: f
                .flags
                .into_iter()
                .map(|x| FlagOut {
                    name: x.flag.name().to_owned(),
                    on: x.on,
                    rule: match x.rule {
                        FlagRule::Lot => "lot",
                        FlagRule::LotOff => "lot_off",
                        FlagRule::Rollout => "rollout",
                        FlagRule::Default => "default",
                    }
                    .to_owned(),
                    rollout_percent: x.rollout_percent,
                    default_on: x.default_on,
                })
                .collect(),
        }
    }
}

/// A flag set at one lot.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagIn {
    pub state: FlagState,
    /// Why (required; kept in the audit trail).
    pub note: String,
}

#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum FlagState {
    /// On for every car at this lot.
    On,
    /// Off for every car at this lot.
    Off,
    /// No rule for this lot: the rollout and the default decide.
    Inherit,
}

/// One movement of money at the payment provider.
#[derive(Serialize, JsonSchema)]
pub struct ReconRowOut {
    #[schemars(schema_with = "ts")]
    pub at: Timestamp,
    /// `charge`, `refund`, `fee` or `refund_reversed`.
    pub kind: String,
    /// `settled`, `failed` or `reversed`.
    pub status: String,
    /// The provider's charge (`pi_…`) or refund (`re_…`) id, when made.
    pub provider_id: Option<String>,
    /// Minor units.
    pub amount: i64,
    pub currency: String,
    /// The stay, or for a fee its reservation.
    pub target: String,
    pub failure: Option<String>,
}

/// A lot's day of money at the payment provider.
#[derive(Serialize, JsonSchema)]
pub struct ReconciliationOut {
    pub lot_id: String,
    pub date: String,
    pub items: Vec<ReconRowOut>,
}

impl From<parking_app::usecases::reconciliation::ReconRow> for ReconRowOut {
    fn from(r: parking_app::usecases::reconciliation::ReconRow) -> Self {
        ReconRowOut {
            at: r.at,
            kind: r.kind,
            status: r.status.to_owned(),
            provider_id: r.provider_id,
            amount: r.amount,
            currency: r.currency,
            target: r.target,
            failure: r.failure,
        }
    }
}

/// A charge or fee set above the lot's approval limit, waiting for (or
/// decided by) a second operator.
#[derive(Serialize, JsonSchema)]
pub struct ApprovalOut {
    /// The request's id: decide it at `/approvals/{id}`.
    pub id: String,
    pub session_id: String,
    /// `charge` or `adjust`.
    pub action: String,
    /// Minor units.
    pub amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "ts_opt")]
    pub exit_at: Option<Timestamp>,
    pub note: String,
    /// The operator who asked.
    pub requested_by: String,
    #[schemars(schema_with = "ts")]
    pub requested_at: Timestamp,
    /// `pending`, `approved` or `rejected`.
    pub state: String,
    /// The second operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "ts_opt")]
    pub decided_at: Option<Timestamp>,
}

impl From<parking_app::approvals::Approval> for ApprovalOut {
    fn from(a: parking_app::approvals::Approval) -> Self {
        use parking_app::approvals::{ApprovalState, Asked};
        ApprovalOut {
            id: a.id.to_string(),
            session_id: a.session_id.to_string(),
            action: match a.asked {
                Asked::Charge { .. } => "charge",
                Asked::Adjust { .. } => "adjust",
            }
            .into(),
            amount: a.asked.amount(),
            exit_at: a.exit_at,
            note: a.note,
            requested_by: a.requested_by.subject,
            requested_at: a.requested_at,
            state: match a.state {
                ApprovalState::Pending => "pending",
                ApprovalState::Approved => "approved",
                ApprovalState::Rejected => "rejected",
            }
            .into(),
            decided_by: a.decided_by.map(|d| d.subject),
            decided_at: a.decided_at,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDecisionIn {
    /// `approve` (the request is applied as asked) or `reject`.
    pub decision: PlateDecision,
    /// Why: 1 to 500 characters.
    pub note: String,
}

#[derive(Serialize, JsonSchema)]
pub struct ApprovalDecisionOut {
    pub approval: ApprovalOut,
    /// The session after an approved request was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<StaffSessionOut>,
}

/// A webhook subscription to make.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookIn {
    /// An https address on the public internet.
    pub url: String,
    /// The event types to send: `stay.closed`, `payment.failed`,
    /// `lot.full`, `device.offline`, `dispute.opened`.
    pub events: Vec<String>,
}

/// A webhook subscription and its health.
#[derive(Serialize, JsonSchema)]
pub struct WebhookOut {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    /// Off after repeated failure (or never on again yet).
    pub enabled: bool,
    #[schemars(schema_with = "ts")]
    pub created_at: jiff::Timestamp,
    #[schemars(schema_with = "ts_opt")]
    pub disabled_at: Option<jiff::Timestamp>,
    /// Failed attempts since the last success.
    pub failures: u32,
    #[schemars(schema_with = "ts_opt")]
    pub last_success_at: Option<jiff::Timestamp>,
    #[schemars(schema_with = "ts_opt")]
    pub last_failure_at: Option<jiff::Timestamp>,
    /// The last failure, in words (`answered 500`, `timed out`).
    pub last_failure: Option<String>,
    /// Events given up on, kept for replay (ids, newest last).
    pub missed: Vec<String>,
}

impl From<&parking_app::hooks::Subscription> for WebhookOut {
    fn from(s: &parking_app::hooks::Subscription) -> Self {
        WebhookOut {
            id: s.id.clone(),
            url: s.url.clone(),
            events: s.events.iter().map(|e| e.name().to_owned()).collect(),
            enabled: s.enabled,
            created_at: s.created_at,
            disabled_at: s.disabled_at,
            failures: s.failures,
            last_success_at: s.last_success_at,
            last_failure_at: s.last_failure.as_ref().map(|f| f.at),
            last_failure: s.last_failure.as_ref().map(|f| f.error.clone()),
            missed: s.missed.iter().map(|e| e.id.clone()).collect(),
        }
    }
}

/// A new subscription, with its signing secret: shown this once.
#[derive(Serialize, JsonSchema)]
pub struct WebhookCreatedOut {
    #[serde(flatten)]
    pub webhook: WebhookOut,
    /// Verifies `Seamless-Signature`: HMAC-SHA256 of `{t}.{body}`.
    pub secret: String,
}

#[derive(Serialize, JsonSchema)]
pub struct WebhooksOut {
    pub items: Vec<WebhookOut>,
}

#[derive(Serialize, JsonSchema)]
pub struct WebhookReplayOut {
    /// Missed events sent again.
    pub replayed: usize,
}
