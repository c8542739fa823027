//! A scenario: a lot, its tariff, bays, gates, devices, drivers and
//! reservations, and the device messages that reach it — the input of
//! `parkctl replay` and of the simulator. [`Scenario::parse`] checks it and
//! names the field that is wrong; [`replay`] sets the lot up in a store
//! and applies every message, in list order, with the clock at the
//! message's `received_at` (which may go backwards), through the very
//! handler the functions run; [`ReplayOutput`] is what came of it.
//!
//! ```json
//! {"lot": {"id", "name", "time_zone", "capacity", "reservable", "slot_minutes", "lost_entry_fee",
//!          "plate_confidence_threshold", "sensor_confidence_threshold", "degraded_unknown_share",
//!          "freshness_seconds", "debounce_seconds"?},
//!  "tariff": {a tariff},
//!  "bays": ["A-01", …],
//!  "gates": [{"id", "direction": "entry"|"exit"}],
//!  "devices": [{"client_id", "gate_id"} | {"client_id", "bay_id"}],
//!  "drivers": [{"id", "name", "plates": [...], "payment_methods": [{"id", "brand", "last4", "token"}]}],
//!  "reservations": [{"id", "driver_id", "plate", "start", "end"}],
//!  "messages": [{"topic", "client_id", "received_at", "payload"}],
//!  "steps"?: [money steps: see [`money`]],
//!  "expect"?: {what a test checks the output's ledger against; replay ignores it}}
//! ```
//!
//! The output (`parkctl replay` prints it as JSON): `sessions`,
//! `commands`, `notifications`, `payments` (the orders queued),
//! `rejected`, `duplicates`, `availability`, `bays`, and `ledger`
//! ([`money::LedgerOut`]: the provider's books per driver, and per stay
//! what is owed and what was collected).

use jiff::Timestamp;
use parking_core::tariff::TariffSpec;
use parking_core::{Plate, SessionState, Tariff};
use serde::{Deserialize, Serialize};

use crate::commands::GateCommand;
use crate::ids::*;
use crate::model::*;
use crate::outbox::{Notification, OutboxMessage, PaymentKind};
use crate::store::prelude::*;
use crate::usecases::availability::{Availability, BayView, availability, bay_view};
use crate::usecases::device_events::{DeviceEvents, HandleError};
use crate::usecases::reservations::{ReserveRequest, reserve};

pub mod money;

/// A scenario file that cannot be used: the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ScenarioError {
    pub field: String,
    pub problem: String,
}

impl ScenarioError {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ScenarioError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LotSpec {
    pub id: LotId,
    pub name: String,
    pub time_zone: String,
    pub capacity: u32,
    pub reservable: u32,
    pub slot_minutes: u32,
    pub lost_entry_fee: i64,
    pub plate_confidence_threshold: f64,
    pub sensor_confidence_threshold: f64,
    pub degraded_unknown_share: f64,
    pub freshness_seconds: u32,
    #[serde(default = "default_debounce")]
    pub debounce_seconds: u32,
    /// Who issues the lot's receipts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Issuer>,
    /// In the public open-data feed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open_data: bool,
    /// Who runs it: lots of one operator share an unpaid register.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorId>,
    /// What its entry gates do for a car that owes for earlier stays.
    #[serde(default, skip_serializing_if = "is_open")]
    pub unpaid_at_entry: crate::unpaid::UnpaidPolicy,
}

fn is_open(p: &crate::unpaid::UnpaidPolicy) -> bool {
    *p == crate::unpaid::UnpaidPolicy::Open
}

fn default_debounce() -> u32 {
    LotSettings::default().debounce_seconds
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateSpec {
    pub id: GateId,
    pub direction: GateDirection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    pub client_id: DeviceId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_id: Option<GateId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bay_id: Option<BayId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSpec {
    pub id: PaymentMethodId,
    pub brand: String,
    pub last4: String,
    pub token: PaymentToken,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriverSpec {
    pub id: DriverId,
    pub name: String,
    pub plates: Vec<Plate>,
    #[serde(default)]
    pub payment_methods: Vec<MethodSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationSpec {
    pub id: ReservationId,
    pub driver_id: DriverId,
    pub plate: Plate,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// A device message as it reaches the IoT rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    pub topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub received_at: Timestamp,
    pub payload: serde_json::Value,
}

impl MessageSpec {
    /// The message as the rule delivers it to a function: the payload
    /// with the topic, client id and receive time (milliseconds) added.
    pub fn delivered(&self) -> Vec<u8> {
        let mut body = match &self.payload {
            serde_json::Value::Object(map) => map.clone(),
            // Not an object: the handler rejects it as it would any such
            // payload.
            _ => return serde_json::to_vec(&self.payload).unwrap_or_default(),
        };
        body.insert("topic".into(), self.topic.clone().into());
        if let Some(c) = &self.client_id {
            body.insert("clientid".into(), c.clone().into());
        }
        body.insert(
            "received_at".into(),
            self.received_at.as_millisecond().into(),
        );
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub lot: LotSpec,
    pub tariff: TariffSpec,
    pub bays: Vec<BayId>,
    pub gates: Vec<GateSpec>,
    pub devices: Vec<DeviceSpec>,
    #[serde(default)]
    pub drivers: Vec<DriverSpec>,
    #[serde(default)]
    pub reservations: Vec<ReservationSpec>,
    pub messages: Vec<MessageSpec>,
    /// Money steps, run in time order among the messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<money::Step>,
    /// What a test checks the output's ledger against; replay ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<serde_json::Value>,
}

fn unit(field: &str, x: f64) -> Result<(), ScenarioError> {
    if (0.0..=1.0).contains(&x) {
        Ok(())
    } else {
        Err(ScenarioError::new(field, "must be from 0 to 1"))
    }
}

impl Scenario {
    /// Parses and checks a scenario.
    ///
    /// # Errors
    ///
    /// [`ScenarioError`] naming the first field that is missing, malformed
    /// or inconsistent (a device for a gate that is not listed, a
    /// reservation of an unknown driver, a tariff that does not validate).
    pub fn parse(json: &str) -> Result<Scenario, ScenarioError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let s: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = crate::redact::without_quoted_values(&e.into_inner().to_string());
            ScenarioError::new(if path == "." { "scenario".into() } else { path }, inner)
        })?;
        s.check()?;
        Ok(s)
    }

    fn check(&self) -> Result<(), ScenarioError> {
        for (i, step) in self.steps.iter().enumerate() {
            step.check().map_err(|(field, problem)| {
                ScenarioError::new(format!("steps[{i}].{field}"), problem)
            })?;
        }
        let l = &self.lot;
        jiff::tz::TimeZone::get(&l.time_zone)
            .map_err(|_| ScenarioError::new("lot.time_zone", "is not a known time zone"))?;
        if l.slot_minutes == 0 || 1440 % l.slot_minutes != 0 {
            return Err(ScenarioError::new(
                "lot.slot_minutes",
                "must divide a day (1 to 1440)",
            ));
        }
        if l.reservable > l.capacity {
            return Err(ScenarioError::new(
                "lot.reservable",
                "must not exceed the capacity",
            ));
        }
        if l.lost_entry_fee < 0 {
            return Err(ScenarioError::new(
                "lot.lost_entry_fee",
                "must not be negative",
            ));
        }
        unit(
            "lot.plate_confidence_threshold",
            l.plate_confidence_threshold,
        )?;
        unit(
            "lot.sensor_confidence_threshold",
            l.sensor_confidence_threshold,
        )?;
        unit("lot.degraded_unknown_share", l.degraded_unknown_share)?;
        TariffId::parse(&self.tariff.id)
            .map_err(|e| ScenarioError::new("tariff.id", e.to_string()))?;
        Tariff::compile(self.tariff.clone())
            .map_err(|e| ScenarioError::new(format!("tariff.{}", e.field), e.problem.clone()))?;
        for (i, d) in self.devices.iter().enumerate() {
            match (&d.gate_id, &d.bay_id) {
                (Some(g), None) if !self.gates.iter().any(|x| &x.id == g) => {
                    return Err(ScenarioError::new(
                        format!("devices[{i}].gate_id"),
                        format!("gate {g} is not in gates"),
                    ));
                }
                (None, Some(b)) if !self.bays.contains(b) => {
                    return Err(ScenarioError::new(
                        format!("devices[{i}].bay_id"),
                        format!("bay {b} is not in bays"),
                    ));
                }
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(ScenarioError::new(
                        format!("devices[{i}]"),
                        "needs exactly one of gate_id and bay_id",
                    ));
                }
            }
        }
        for (i, r) in self.reservations.iter().enumerate() {
            let Some(d) = self.drivers.iter().find(|d| d.id == r.driver_id) else {
                return Err(ScenarioError::new(
                    format!("reservations[{i}].driver_id"),
                    format!("driver {} is not in drivers", r.driver_id),
                ));
            };
            if !d.plates.contains(&r.plate) {
                return Err(ScenarioError::new(
                    format!("reservations[{i}].plate"),
                    "is not one of the driver's plates",
                ));
            }
            if r.end <= r.start {
                return Err(ScenarioError::new(
                    format!("reservations[{i}].end"),
                    "must be after start",
                ));
            }
        }
        Ok(())
    }

    /// The lot record.
    ///
    /// # Errors
    ///
    /// The tariff's id is not a valid id, or the operator's starts with
    /// `lot:`.
    pub fn lot_record(&self) -> Result<Lot, ScenarioError> {
        let l = &self.lot;
        if l.operator
            .as_ref()
            .is_some_and(|o| o.as_str().starts_with("lot:"))
        {
            return Err(ScenarioError::new(
                "lot.operator",
                "must not start with `lot:` (the name of a lot that is an operator of its own)",
            ));
        }
        Ok(Lot {
            id: l.id.clone(),
            name: l.name.clone(),
            time_zone: l.time_zone.clone(),
            tariff_id: TariffId::parse(&self.tariff.id)
                .map_err(|e| ScenarioError::new("tariff.id", e.to_string()))?,
            capacity: l.capacity,
            reservable: l.reservable,
            slot_minutes: l.slot_minutes,
            settings: LotSettings {
                lost_entry_fee: l.lost_entry_fee,
                plate_confidence_threshold: l.plate_confidence_threshold,
                sensor_confidence_threshold: l.sensor_confidence_threshold,
                degraded_unknown_share: l.degraded_unknown_share,
                freshness_seconds: l.freshness_seconds,
                debounce_seconds: l.debounce_seconds,
                issuer: l.issuer.clone(),
                open_data: l.open_data,
                unpaid_at_entry: l.unpaid_at_entry,
                ..LotSettings::default()
            },
            operator: l.operator.clone(),
            revision: 0,
            tariff_schedule: Vec::new(),
            webhook_events: Vec::new(),
        })
    }
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("setting the lot up: {0}")]
    Setup(String),
    #[error("message {index}: {source}")]
    Message {
        index: usize,
        #[source]
        source: HandleError,
    },
    #[error("steps[{index}]: {problem}")]
    Step { index: usize, problem: String },
    #[error("reading the result: {0}")]
    Store(#[from] StoreError),
}

/// Puts a scenario's lot, gates, devices, drivers and reservations in a
/// store.
///
/// # Errors
///
/// The store failed, or a reservation was refused (the lot is full).
pub async fn set_up<S: Store>(
    store: &S,
    scenario: &Scenario,
    now: Timestamp,
) -> Result<Lot, ReplayError> {
    let setup = |e: &dyn std::fmt::Display| ReplayError::Setup(e.to_string());
    let lot = scenario.lot_record().map_err(|e| setup(&e))?;
    let tariff_id = lot.tariff_id.clone();
    store
        .put_tariff(&TariffRecord {
            id: tariff_id,
            spec: scenario.tariff.clone(),
        })
        .await
        .map_err(|e| setup(&e))?;
    store.put_lot(&lot).await.map_err(|e| setup(&e))?;
    for g in &scenario.gates {
        let camera = scenario
            .devices
            .iter()
            .find(|d| d.gate_id.as_ref() == Some(&g.id))
            .map(|d| d.client_id.clone())
            .map_or_else(|| DeviceId::parse(g.id.as_str()), Ok)
            .map_err(|e| setup(&e))?;
        store
            .put_gate(&Gate {
                lot_id: lot.id.clone(),
                id: g.id.clone(),
                direction: g.direction,
                camera_id: camera,
            })
            .await
            .map_err(|e| setup(&e))?;
    }
    for d in &scenario.devices {
        store
            .put_device(&Device {
                id: d.client_id.clone(),
                lot_id: lot.id.clone(),
                kind: if d.gate_id.is_some() {
                    DeviceKind::Camera
                } else {
                    DeviceKind::BaySensor
                },
                gate_id: d.gate_id.clone(),
                bay_id: d.bay_id.clone(),
                presence: None,
            })
            .await
            .map_err(|e| setup(&e))?;
    }
    for d in &scenario.drivers {
        store
            .put_driver(&Driver {
                id: d.id.clone(),
                name: d.name.clone(),
                created_at: now,
            })
            .await
            .map_err(|e| setup(&e))?;
        for p in &d.plates {
            store
                .register_plate(&PlateRegistration {
                    plate: p.clone(),
                    driver_id: d.id.clone(),
                    registered_at: now,
                })
                .await
                .map_err(|e| setup(&e))?;
        }
        for m in &d.payment_methods {
            store
                .add_payment_method(&PaymentMethod {
                    id: m.id.clone(),
                    driver_id: d.id.clone(),
                    brand: m.brand.clone(),
                    last4: m.last4.clone(),
                    token: m.token.clone(),
                    customer: None,
                })
                .await
                .map_err(|e| setup(&e))?;
        }
    }
    for r in &scenario.reservations {
        reserve(
            store,
            &ReserveRequest {
                id: r.id.clone(),
                lot_id: lot.id.clone(),
                driver_id: r.driver_id.clone(),
                plate: r.plate.clone(),
                start: r.start,
                end: r.end,
            },
        )
        .await
        .map_err(|e| ReplayError::Setup(format!("reservation {}: {e}", r.id)))?;
    }
    Ok(lot)
}

/// A plate as printed, for the replay's document: personal data, so its
/// `Debug` does not show it.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PrintedPlate(pub String);

impl std::fmt::Debug for PrintedPlate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrintedPlate(<redacted>)")
    }
}

/// A session as the replay reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionOut {
    pub id: SessionId,
    /// The plate as printed; `null` when the camera could not read it.
    pub plate: Option<PrintedPlate>,
    pub driver_id: Option<DriverId>,
    pub entry_at: Option<Timestamp>,
    pub exit_at: Option<Timestamp>,
    pub status: &'static str,
    pub fee: Option<i64>,
    pub currency: Option<String>,
    pub flags: Vec<&'static str>,
    /// For a superseded session, the one that replaced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<SessionId>,
}

/// The replay's status word for a session state.
pub fn status(state: SessionState) -> &'static str {
    match state {
        SessionState::Open => "open",
        SessionState::Closing
        | SessionState::Priced
        | SessionState::Paid
        | SessionState::PaymentFailed => "closed",
        SessionState::EntryMissing => "entry_missing",
        SessionState::ExitMissing => "exit_missing",
        SessionState::NeedsReview => "needs_review",
        SessionState::Superseded => "superseded",
        SessionState::Voided => "voided",
    }
}

/// Whether no entry was seen for the session (also once superseded): an
/// entry-missing session starts at its exit.
fn entry_missing(s: &Session) -> bool {
    s.state == SessionState::EntryMissing
        || (s.exit_at == Some(s.entry_at) && s.exit_gate.as_ref() == Some(&s.entry_gate))
}

impl SessionOut {
    pub fn new(s: &Session) -> Self {
        SessionOut {
            id: s.id.clone(),
            plate: s
                .plate
                .is_readable()
                .then(|| PrintedPlate(s.plate.display())),
            driver_id: s.driver_id.clone(),
            entry_at: (!entry_missing(s)).then_some(s.entry_at),
            exit_at: s.exit_at,
            status: status(s.state),
            fee: s.fee.map(|f| f.minor),
            currency: s.fee.map(|f| f.currency.code().to_owned()),
            flags: s.flags.iter().map(|f| f.name()).collect(),
            replaced_by: s.replaced_by.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandOut {
    pub topic: String,
    pub payload: GateCommand,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentOut {
    pub idempotency_key: IdempotencyKey,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    pub plate: Option<PrintedPlate>,
    pub driver_id: DriverId,
    pub kind: PaymentKind,
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedOut {
    /// The message's index in the list.
    pub message: usize,
    pub event_id: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BayOut {
    pub id: BayId,
    pub state: BayView,
}

/// What a replay produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayOutput {
    pub sessions: Vec<SessionOut>,
    pub commands: Vec<CommandOut>,
    pub notifications: Vec<Notification>,
    pub payments: Vec<PaymentOut>,
    pub rejected: Vec<RejectedOut>,
    pub duplicates: u32,
    pub availability: Availability,
    pub bays: Vec<BayOut>,
    pub ledger: money::LedgerOut,
}

/// Sets a scenario up in the handler's store and applies its messages.
///
/// # Errors
///
/// [`ReplayError`]: setting up failed, a message failed in a way a retry
/// could cure (the store or link is unavailable), or the result could not
/// be read.
pub async fn replay<S, L, P>(
    handler: &DeviceEvents<S, L>,
    provider: &P,
    scenario: &Scenario,
) -> Result<ReplayOutput, ReplayError>
where
    S: Store,
    L: DeviceLink,
    P: crate::settlement::PaymentProvider
        + crate::settlement::ProviderControl
        + crate::settlement::ProviderLedger,
{
    let first = scenario
        .messages
        .iter()
        .map(|m| m.received_at)
        .chain(scenario.steps.iter().map(money::Step::at))
        .min()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let lot = set_up(&handler.store, scenario, first).await?;
    let mut steps: Vec<(usize, &money::Step)> = scenario.steps.iter().enumerate().collect();
    steps.sort_by_key(|(i, s)| (s.at(), *i));
    let mut steps = steps.into_iter().peekable();
    let mut payments = money::Payments::default();
    let mut commands = Vec::new();
    let mut rejected = Vec::new();
    let mut duplicates = 0;
    let mut last = first;
    for (index, m) in scenario.messages.iter().enumerate() {
        while let Some((i, step)) = steps.next_if(|(_, s)| s.at() <= m.received_at) {
            money::run_step(&handler.store, provider, &mut payments, &lot.id, i, step).await?;
            last = last.max(step.at());
        }
        let report = handler
            .handle(&m.delivered(), m.received_at)
            .await
            .map_err(|source| ReplayError::Message { index, source })?;
        duplicates += report.duplicates;
        commands.extend(
            report
                .commands
                .into_iter()
                .map(|(topic, payload)| CommandOut { topic, payload }),
        );
        rejected.extend(report.rejected.into_iter().map(|r| RejectedOut {
            message: index,
            event_id: r.event_id,
            reason: r.rejection.to_string(),
        }));
        last = last.max(m.received_at);
    }
    for (i, step) in steps {
        money::run_step(&handler.store, provider, &mut payments, &lot.id, i, step).await?;
        last = last.max(step.at());
    }
    let mut out = output(
        &handler.store,
        &lot,
        &scenario.bays,
        commands,
        rejected,
        duplicates,
        last,
    )
    .await?;
    out.ledger = money::ledger(&handler.store, provider, &lot.id, &payments).await?;
    Ok(out)
}

/// Reads a lot's result out of the store.
///
/// # Errors
///
/// The store's.
pub async fn output<S: Store>(
    store: &S,
    lot: &Lot,
    bay_ids: &[BayId],
    commands: Vec<CommandOut>,
    rejected: Vec<RejectedOut>,
    duplicates: u32,
    at: Timestamp,
) -> Result<ReplayOutput, ReplayError> {
    let sessions = store.lot_sessions(&lot.id).await?;
    let plate_of = |id: &SessionId| {
        sessions.iter().find(|s| &s.id == id).and_then(|s| {
            s.plate
                .is_readable()
                .then(|| PrintedPlate(s.plate.display()))
        })
    };
    let mut payments = Vec::new();
    let mut notifications = Vec::new();
    for m in store.outbox_pending(usize::MAX).await? {
        match m {
            OutboxMessage::Payments(o) if o.lot_id == lot.id => payments.push(PaymentOut {
                plate: o.session_id.as_ref().and_then(plate_of),
                idempotency_key: o.idempotency_key,
                session_id: o.session_id,
                driver_id: o.driver_id,
                kind: o.kind,
                amount: o.amount.minor,
                currency: o.amount.currency.code().to_owned(),
            }),
            OutboxMessage::Notifications(n) if n.lot_id == lot.id => notifications.push(n),
            _ => {}
        }
    }
    // Stores list their outbox in their own order; the output is sorted so
    // that every store gives the same document.
    payments.sort_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
    notifications.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    let live = store.lot_live(lot, at).await?;
    let bays = bay_ids
        .iter()
        .map(|id| BayOut {
            id: id.clone(),
            state: live
                .bays
                .iter()
                .find(|b| &b.id == id)
                .map_or(BayView::Unknown, bay_view),
        })
        .collect();
    Ok(ReplayOutput {
        sessions: sessions.iter().map(SessionOut::new).collect(),
        commands,
        notifications,
        payments,
        rejected,
        duplicates,
        availability: availability(lot, &live, &crate::flags::FlagSet::default()),
        bays,
        ledger: money::LedgerOut::default(),
    })
}
