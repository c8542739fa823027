//! What operators do to a lot: its configuration (with a revision, so a
//! stale write is refused), gates, devices, tariff versions, the manual
//! barrier open, the review queue, the daily report and the audit trail.
//! Money moves through [`crate::usecases::adjust`]. Every change is audited with who
//! and when.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use parking_core::{SessionState, Tariff};

use crate::commands::{GateCommand, Reason};
use crate::ids::*;
use crate::model::*;
use crate::store::prelude::*;

use crate::usecases::adjust::{ActionError, action_id, check_note};

/// A lot's configuration and its revision.
///
/// # Errors
///
/// `lot` not found, or the store's.
pub async fn lot<S: LotStore>(store: &S, lot_id: &LotId) -> Result<Lot, ActionError> {
    match store.get_lot(lot_id).await {
        Ok(l) => Ok(l),
        Err(StoreError::NotFound { .. }) => Err(ActionError::NotFound("lot")),
        Err(e) => Err(e.into()),
    }
}

/// How far back a day of a lot's records may be asked for: the seven
/// years its invoices are kept.
pub const RECORDS_YEARS: i16 = 7;

/// Checks that a day is within a lot's records: not after today in the
/// lot's time zone, and not more than [`RECORDS_YEARS`] before it (the
/// lot's opening day is not recorded; nothing it keeps is older).
///
/// # Errors
///
/// [`ActionError::Invalid`] on `date`, naming the days that may be asked
/// for.
pub fn day_in_records(lot: &Lot, date: Date, now: Timestamp) -> Result<(), ActionError> {
    let tz = TimeZone::get(&lot.time_zone).unwrap_or(TimeZone::UTC);
    let today = now.to_zoned(tz).date();
    let first = today
        .checked_sub(jiff::Span::new().years(RECORDS_YEARS))
        .unwrap_or(Date::MIN);
    if date < first || date > today {
        return Err(ActionError::invalid(
            "date",
            format!("must be a day of the lot's records, from {first} to {today}"),
        ));
    }
    Ok(())
}

/// What an operator may change of a lot.
#[derive(Debug, Clone, PartialEq)]
pub struct LotChange {
    pub name: String,
    pub time_zone: String,
    pub capacity: u32,
    pub reservable: u32,
    pub slot_minutes: u32,
    pub settings: LotSettings,
}

fn share(field: &str, v: f64) -> Result<(), ActionError> {
    if !(0.0..=1.0).contains(&v) {
        return Err(ActionError::invalid(field, "must be between 0 and 1"));
    }
    Ok(())
}

fn money(field: &str, v: i64) -> Result<(), ActionError> {
    if !(0..=parking_core::tariff::MAX_AMOUNT).contains(&v) {
        return Err(ActionError::invalid(
            field,
            "must be between 0 and 1000000000000",
        ));
    }
    Ok(())
}

fn window(field: &str, v: u32, max: u32) -> Result<(), ActionError> {
    if v > max {
        return Err(ActionError::invalid(
            field,
            format!("must be at most {max}"),
        ));
    }
    Ok(())
}

/// Checks a lot change, naming the field at fault.
///
/// # Errors
///
/// [`ActionError::Invalid`].
pub fn check_change(c: &LotChange) -> Result<(), ActionError> {
    if c.name.trim().is_empty() || c.name.chars().count() > 100 {
        return Err(ActionError::invalid("name", "1 to 100 characters"));
    }
    if TimeZone::get(&c.time_zone).is_err() {
        return Err(ActionError::invalid("time_zone", "not an IANA time zone"));
    }
    if c.capacity == 0 || c.capacity > 100_000 {
        return Err(ActionError::invalid("capacity", "1 to 100000 bays"));
    }
    if c.reservable > c.capacity {
        return Err(ActionError::invalid("reservable", "at most the capacity"));
    }
    if !(5..=240).contains(&c.slot_minutes) || 1440 % c.slot_minutes != 0 {
        return Err(ActionError::invalid(
            "slot_minutes",
            "5 to 240 minutes, dividing a day",
        ));
    }
    let s = &c.settings;
    money("settings.lost_entry_fee", s.lost_entry_fee)?;
    money("settings.cancellation_fee", s.cancellation_fee)?;
    share(
        "settings.plate_confidence_threshold",
        s.plate_confidence_threshold,
    )?;
    share(
        "settings.sensor_confidence_threshold",
        s.sensor_confidence_threshold,
    )?;
    share("settings.degraded_unknown_share", s.degraded_unknown_share)?;
    window("settings.freshness_seconds", s.freshness_seconds, 3600)?;
    window("settings.debounce_seconds", s.debounce_seconds, 3600)?;
    window(
        "settings.reservation_early_minutes",
        s.reservation_early_minutes,
        240,
    )?;
    window(
        "settings.cancellation_free_minutes",
        s.cancellation_free_minutes,
        7 * 24 * 60,
    )?;
    window("settings.kiosk_exit_minutes", s.kiosk_exit_minutes, 120)?;
    if s.kiosk_exit_minutes == 0 {
        return Err(ActionError::invalid(
            "settings.kiosk_exit_minutes",
            "must be at least 1",
        ));
    }
    // At least an hour, at most a year: a stay is counted toward full for
    // that long after its entry.
    window("settings.open_count_hours", s.open_count_hours, 24 * 366)?;
    if s.open_count_hours == 0 {
        return Err(ActionError::invalid(
            "settings.open_count_hours",
            "must be at least 1",
        ));
    }
    window(
        "settings.shop_max_minutes",
        s.shop_max_minutes,
        crate::usecases::adjust::MAX_VALIDATION_MINUTES,
    )?;
    window(
        "settings.shop_validations_per_day",
        s.shop_validations_per_day,
        100_000,
    )?;
    // Past the seven days a late read reaches back, and at most ten years.
    window(
        "settings.plate_retention_days",
        s.plate_retention_days,
        3650,
    )?;
    if s.plate_retention_days < 8 {
        return Err(ActionError::invalid(
            "settings.plate_retention_days",
            "must be at least 8 (a late read reaches back seven days)",
        ));
    }
    if let Err(parking_core::demand::DemandError::Policy { field, problem }) =
        s.demand_pricing.check()
    {
        return Err(ActionError::invalid(
            format!("settings.demand_pricing.{field}"),
            problem,
        ));
    }
    if !(0..=parking_core::tariff::MAX_AMOUNT).contains(&s.shop_max_amount) {
        return Err(ActionError::invalid(
            "settings.shop_max_amount",
            "must be 0 or more, and not too large",
        ));
    }
    if !(0..=parking_core::tariff::MAX_AMOUNT).contains(&s.approval_limit) {
        return Err(ActionError::invalid(
            "settings.approval_limit",
            "must be 0 or more, and not too large",
        ));
    }
    if let Some(i) = &s.issuer {
        i.check()
            .map_err(|p| ActionError::invalid("settings.issuer", p))?;
    }
    Ok(())
}

fn stale(lot_id: &LotId) -> ActionError {
    ActionError::Conflict {
        code: "stale_revision",
        detail: format!("lot {lot_id} changed since it was read; read it again"),
    }
}

/// Changes a lot's configuration if it is still at `revision`.
///
/// # Errors
///
/// `stale_revision` when another change came first, an invalid field, or
/// the store's.
pub async fn update_lot<S: Store>(
    store: &S,
    now: Timestamp,
    actor: &Actor,
    lot_id: &LotId,
    revision: u64,
    change: LotChange,
) -> Result<Lot, ActionError> {
    check_change(&change)?;
    let current = lot(store, lot_id).await?;
    if current.revision != revision {
        return Err(stale(lot_id));
    }
    // Reservations are counted on the slot grid they were made on: a new
    // grid would start empty and take more than the lot allows.
    if change.slot_minutes != current.slot_minutes && current.reservable > 0 {
        return Err(ActionError::invalid(
            "slot_minutes",
            "cannot change while the lot takes reservations: set reservable to 0 first",
        ));
    }
    let next = Lot {
        name: change.name,
        time_zone: change.time_zone,
        capacity: change.capacity,
        reservable: change.reservable,
        slot_minutes: change.slot_minutes,
        settings: change.settings,
        revision: revision + 1,
        ..current
    };
    let id = action_id("lot", &[lot_id.as_str(), &next.revision.to_string()]);
    let entry = entry(&id, lot_id, actor, now, "lot.update", lot_id.as_str(), "");
    match store.update_lot(&next, &entry).await {
        Ok(()) => Ok(next),
        Err(StoreError::Conflict(Refusal::StaleLot { .. })) => Err(stale(lot_id)),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn entry(
    id: &ActionId,
    lot_id: &LotId,
    actor: &Actor,
    now: Timestamp,
    action: &str,
    target: &str,
    note: &str,
) -> AuditEntry {
    AuditEntry {
        id: id.clone(),
        lot_id: lot_id.clone(),
        at: now,
        actor: actor.clone(),
        action: action.to_owned(),
        target: target.to_owned(),
        note: note.to_owned(),
        amount: None,
    }
}

/// Adds or replaces a gate; its camera must be a camera of the lot.
///
/// # Errors
///
/// `camera_id` not a camera of the lot, or the store's.
pub async fn put_gate<S: Store>(
    store: &S,
    now: Timestamp,
    actor: &Actor,
    gate: Gate,
) -> Result<Gate, ActionError> {
    lot(store, &gate.lot_id).await?;
    match store.get_device(&gate.camera_id).await {
        Ok(d) if d.lot_id == gate.lot_id && d.kind == DeviceKind::Camera => {}
        Ok(_) | Err(StoreError::NotFound { .. }) => {
            return Err(ActionError::invalid(
                "camera_id",
                "not a camera of this lot: add the device first",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    store.put_gate(&gate).await?;
    let id = action_id(
        "gate",
        &[gate.lot_id.as_str(), gate.id.as_str(), &now.to_string()],
    );
    store
        .record_audit(&entry(
            &id,
            &gate.lot_id,
            actor,
            now,
            "gate.put",
            gate.id.as_str(),
            "",
        ))
        .await?;
    Ok(gate)
}

/// Adds or replaces a device of the lot (its presence is kept). A device
/// of another lot is refused: moving it is that lot's operator's to do
/// first.
///
/// # Errors
///
/// `device_of_another_lot` (409), `gate_id`/`bay_id` missing for the
/// kind, or the store's.
pub async fn put_device<S: Store>(
    store: &S,
    now: Timestamp,
    actor: &Actor,
    mut device: Device,
) -> Result<Device, ActionError> {
    lot(store, &device.lot_id).await?;
    match (device.kind, &device.gate_id, &device.bay_id) {
        (DeviceKind::BaySensor, _, None) => {
            return Err(ActionError::invalid("bay_id", "a bay sensor names its bay"));
        }
        (DeviceKind::Camera | DeviceKind::Barrier, None, _) => {
            return Err(ActionError::invalid(
                "gate_id",
                "a camera or barrier names its gate",
            ));
        }
        _ => {}
    }
    if device.id.as_str().contains(':') {
        return Err(ActionError::invalid(
            "device_id",
            "may not contain ':' (app clients' ids do; device clients' never)",
        ));
    }
    match store.get_device(&device.id).await {
        Ok(d) if d.lot_id != device.lot_id => {
            return Err(ActionError::Conflict {
                code: "device_of_another_lot",
                detail: "the device belongs to another lot".into(),
            });
        }
        Ok(d) => device.presence = d.presence,
        Err(StoreError::NotFound { .. }) => device.presence = None,
        Err(e) => return Err(e.into()),
    }
    store.put_device(&device).await?;
    let id = action_id(
        "device",
        &[device.lot_id.as_str(), device.id.as_str(), &now.to_string()],
    );
    store
        .record_audit(&entry(
            &id,
            &device.lot_id,
            actor,
            now,
            "device.put",
            device.id.as_str(),
            "",
        ))
        .await?;
    Ok(device)
}

/// A lot's gates and devices.
///
/// # Errors
///
/// `lot` not found, or the store's.
pub async fn gates_and_devices<S: LotStore>(
    store: &S,
    lot_id: &LotId,
) -> Result<(Vec<Gate>, Vec<Device>), ActionError> {
    match store.lot_config(lot_id).await {
        Ok(c) => {
            let mut gates = c.gates;
            gates.sort_by(|a, b| a.id.cmp(&b.id));
            let mut devices = c.devices;
            devices.sort_by(|a, b| a.id.cmp(&b.id));
            Ok((gates, devices))
        }
        Err(StoreError::NotFound { .. }) => Err(ActionError::NotFound("lot")),
        Err(e) => Err(e.into()),
    }
}

/// A tariff version of a lot.
#[derive(Debug, Clone, PartialEq)]
pub struct TariffVersion {
    pub record: TariffRecord,
    /// `None` for the lot's first tariff (in force from the start).
    pub effective_from: Option<Timestamp>,
}

/// A lot's tariff versions, oldest first.
///
/// # Errors
///
/// `lot` not found, or the store's.
pub async fn tariff_versions<S: LotStore>(
    store: &S,
    lot_id: &LotId,
) -> Result<Vec<TariffVersion>, ActionError> {
    let c = match store.lot_config(lot_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound { .. }) => return Err(ActionError::NotFound("lot")),
        Err(e) => return Err(e.into()),
    };
    let find = |id: &TariffId| c.tariffs.iter().find(|r| &r.id == id).cloned();
    let mut out = Vec::new();
    if let Some(r) = find(&c.lot.tariff_id) {
        out.push(TariffVersion {
            record: r,
            effective_from: None,
        });
    }
    for v in &c.lot.tariff_schedule {
        if let Some(r) = find(&v.tariff_id) {
            out.push(TariffVersion {
                record: r,
                effective_from: Some(v.effective_from),
            });
        }
    }
    Ok(out)
}

/// Schedules a new tariff version from its posted JSON: validated by the
/// tariff parser (errors name the field under `tariff.`), in the lot's
/// currency, effective from a time not in the past. Stays that entered
/// before it keep the version they entered under.
///
/// # Errors
///
/// An invalid tariff or time (422), `effective_from_taken` (409), or the
/// store's.
pub async fn schedule_tariff<S: LotStore>(
    store: &S,
    now: Timestamp,
    actor: &Actor,
    lot_id: &LotId,
    tariff_json: &str,
    effective_from: Timestamp,
) -> Result<TariffVersion, ActionError> {
    let tariff = Tariff::from_json(tariff_json)
        .map_err(|e| ActionError::invalid(format!("tariff.{}", e.field), e.problem))?;
    if effective_from < now {
        return Err(ActionError::invalid(
            "effective_from",
            "must not be in the past: stays already priced keep their tariff",
        ));
    }
    for _ in 0..3 {
        let config = match store.lot_config(lot_id).await {
            Ok(c) => c,
            Err(StoreError::NotFound { .. }) => return Err(ActionError::NotFound("lot")),
            Err(e) => return Err(e.into()),
        };
        let base = config.compiled()?;
        if base.base().currency() != tariff.currency() {
            return Err(ActionError::invalid(
                "tariff.currency",
                format!(
                    "must be the lot's currency, {}",
                    base.base().currency().code()
                ),
            ));
        }
        let mut lot = config.lot;
        if lot
            .tariff_schedule
            .iter()
            .any(|v| v.effective_from == effective_from)
        {
            return Err(ActionError::Conflict {
                code: "effective_from_taken",
                detail: "a version takes effect at that time already".into(),
            });
        }
        // Named by its content and start: two versions posted at once
        // never overwrite each other's tariff.
        let spec_text = serde_json::to_string(tariff.spec()).unwrap_or_default();
        let digest = crate::usecases::adjust::action_id(
            "v",
            &[&spec_text, &effective_from.as_second().to_string()],
        );
        let id = TariffId::parse(&format!("{lot_id}.{digest}"))
            .map_err(|e| ActionError::invalid("lot_id", e.to_string()))?;
        let record = TariffRecord {
            id: id.clone(),
            spec: tariff.spec().clone(),
        };
        store.put_tariff(&record).await?;
        lot.tariff_schedule.push(ScheduledTariff {
            tariff_id: id.clone(),
            effective_from,
        });
        lot.tariff_schedule.sort_by_key(|v| v.effective_from);
        lot.revision += 1;
        let action = action_id("tariff", &[lot_id.as_str(), id.as_str()]);
        let audit = entry(
            &action,
            lot_id,
            actor,
            now,
            "tariff.schedule",
            id.as_str(),
            "",
        );
        match store.update_lot(&lot, &audit).await {
            Ok(()) => {
                return Ok(TariffVersion {
                    record,
                    effective_from: Some(effective_from),
                });
            }
            Err(StoreError::Conflict(Refusal::StaleLot { .. })) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(stale(lot_id))
}

/// Opens a gate's barrier by hand: audited, then published to the gate's
/// command topic.
///
/// # Errors
///
/// `gate` not found, an invalid note, or the store's and the link's.
pub async fn open_barrier<S: Store, L: DeviceLink>(
    store: &S,
    link: &L,
    now: Timestamp,
    actor: &Actor,
    lot_id: &LotId,
    gate_id: &GateId,
    note: &str,
) -> Result<(String, GateCommand), ActionError> {
    check_note(note)?;
    match store.get_gate(lot_id, gate_id).await {
        Ok(_) => {}
        Err(StoreError::NotFound { .. }) => return Err(ActionError::NotFound("gate")),
        Err(e) => return Err(e.into()),
    }
    let id = action_id(
        "open",
        &[
            lot_id.as_str(),
            gate_id.as_str(),
            &actor.subject,
            &now.to_string(),
        ],
    );
    store
        .record_audit(&entry(
            &id,
            lot_id,
            actor,
            now,
            "gate.open",
            gate_id.as_str(),
            note,
        ))
        .await?;
    let event = EventId::parse(id.as_str())
        .unwrap_or_else(|_| unreachable!("action ids are valid event ids"));
    let expires = now
        .checked_add(crate::commands::STAFF_OPEN_LIFETIME)
        .unwrap_or(now);
    let command = GateCommand::new(event, None, Reason::Staff, None, vec![], (now, expires));
    let topic = GateCommand::topic(lot_id, gate_id);
    link.publish(&topic, &command)
        .await
        .map_err(|e| StoreError::Unavailable {
            source: e.to_string().into(),
        })?;
    Ok((topic, command))
}

pub use crate::sessions::needs_review;

/// One page of the lot's sessions that need a person, oldest entry
/// first, after the listing key `after` ([`crate::sessions::entry_key`]).
/// Read from the lot's review listing: a page costs its own items
/// whatever the lot's history.
///
/// # Errors
///
/// [`ActionError::NotFound`] for an unknown lot; the store's.
pub async fn review_queue<S: LotStore + SessionStore>(
    store: &S,
    lot_id: &LotId,
    after: Option<&str>,
    limit: usize,
) -> Result<crate::sessions::SessionPage, ActionError> {
    lot(store, lot_id).await?;
    Ok(store.lot_reviews(lot_id, after, limit).await?)
}

/// A lot's day in figures.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyReport {
    pub lot_id: LotId,
    pub date: Date,
    pub currency: String,
    /// Sessions that entered that day.
    pub entries: u32,
    /// Sessions that left that day.
    pub exits: u32,
    /// Fees of the stays that ended that day, less nothing (minor units).
    pub revenue: i64,
    /// Of which paid at the kiosk.
    pub kiosk_revenue: i64,
    /// Card refunds the provider made that day (minor units).
    pub refunds: i64,
    /// Card refunds that failed at the provider that day, listed apart:
    /// they are retried, and the stays wait in the review queue.
    pub refunds_failed: i64,
    /// Of the stays that ended that day, by where their card payment
    /// stands (minor units): charged to the card (before refunds), failed
    /// (declined, needs the cardholder, or given up), and outstanding
    /// (not settled yet, carried below the smallest charge, or to pay at
    /// the kiosk). `revenue = card_charged + card_failed + outstanding +
    /// kiosk_revenue`, always.
    pub card_charged: i64,
    pub card_failed: i64,
    pub outstanding: i64,
    /// Cars inside during each local hour (0 to 23; a day with a clock
    /// change has 23 or 25).
    pub occupancy_by_hour: Vec<u32>,
    /// Exits per bay.
    pub turnover: f64,
    /// Sessions of that day that need a person now.
    pub needs_review: u32,
    /// What the lot's device messages and their forwarding consumed that
    /// day, as the functions recorded it, priced.
    pub cost: crate::usecases::cost::CostReport,
}

/// The daily report of a lot for a local date.
///
/// # Errors
///
/// The store's.
pub async fn daily_report<S: AuditStore + LotStore + SessionStore + UsageStore>(
    store: &S,
    lot_id: &LotId,
    date: Date,
) -> Result<DailyReport, ActionError> {
    let config = match store.lot_config(lot_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound { .. }) => return Err(ActionError::NotFound("lot")),
        Err(e) => return Err(e.into()),
    };
    let tz = TimeZone::get(&config.lot.time_zone).unwrap_or(TimeZone::UTC);
    let start = date
        .to_zoned(tz.clone())
        .map_err(|e| ActionError::invalid("date", e.to_string()))?;
    let end = start
        .checked_add(1.day())
        .map_err(|e| ActionError::invalid("date", e.to_string()))?;
    let (from, to) = (start.timestamp(), end.timestamp());
    // A stay counts among the cars inside from its entry until it leaves
    // or the lot stops counting it (`open_count_hours`, as the lot's own
    // count does), so the hours need the stays entered from that long
    // before the day; the money needs the stays that left that day, from
    // the exit listing however long ago they entered. Both reads are the
    // day's own, whatever the lot's history.
    let counted = SignedDuration::from_hours(i64::from(config.lot.settings.open_count_hours));
    let since = from.checked_sub(counted).unwrap_or(from);
    let mut by_id: BTreeMap<SessionId, Session> = BTreeMap::new();
    for s in store
        .lot_sessions_entered(lot_id, since, to)
        .await?
        .into_iter()
        .chain(store.lot_sessions_left(lot_id, from, to).await?)
    {
        by_id.insert(s.id.clone(), s);
    }
    let sessions: Vec<Session> = by_id
        .into_values()
        .filter(|s| s.state != SessionState::Superseded)
        .collect();
    let within = |t: Timestamp| t >= from && t < to;
    let currency = config.compiled()?.base().currency().code().to_owned();
    let mut report = DailyReport {
        lot_id: lot_id.clone(),
        date,
        currency,
        entries: 0,
        exits: 0,
        revenue: 0,
        kiosk_revenue: 0,
        refunds: 0,
        refunds_failed: 0,
        card_charged: 0,
        card_failed: 0,
        outstanding: 0,
        occupancy_by_hour: Vec::new(),
        turnover: 0.0,
        needs_review: 0,
        cost: crate::usecases::cost::CostReport::default(),
    };
    for s in &sessions {
        let left = s.exit_at.filter(|_| s.state != SessionState::ExitMissing);
        if within(s.entry_at) && s.state != SessionState::EntryMissing {
            report.entries += 1;
        }
        if let Some(exit) = left
            && within(exit)
        {
            report.exits += 1;
            let given_up = s.state == SessionState::NeedsReview && s.payment_failure.is_some();
            let billed = !matches!(s.state, SessionState::Voided | SessionState::NeedsReview);
            if (billed || given_up)
                && let Some(fee) = s.fee
            {
                // The fee is what the kiosk took plus the card's part; of
                // that, what is still to collect failed (the card's
                // doing, or given up) or is outstanding, and the rest was
                // charged.
                let kiosk = s.kiosk_paid.min(fee.minor);
                let card = fee.minor - kiosk;
                let gap = if s.method_id.is_some() {
                    (crate::timeline::owed(s) - s.collected).clamp(0, card)
                } else {
                    card
                };
                report.revenue += fee.minor;
                report.kiosk_revenue += kiosk;
                if matches!(s.state, SessionState::PaymentFailed) || given_up {
                    report.card_failed += gap;
                } else {
                    report.outstanding += gap;
                }
                report.card_charged += card - gap;
            }
        }
        if (within(s.entry_at) || left.is_some_and(within)) && needs_review(s) {
            report.needs_review += 1;
        }
    }
    // Hours as the local clock shows them.
    let mut hours: BTreeMap<usize, (Timestamp, Timestamp)> = BTreeMap::new();
    let mut h = start.clone();
    let mut i = 0;
    while h.timestamp() < to {
        let next = h
            .checked_add(1.hour())
            .map_err(|e| ActionError::invalid("date", e.to_string()))?;
        hours.insert(i, (h.timestamp(), next.timestamp().min(to)));
        h = next;
        i += 1;
    }
    report.occupancy_by_hour = hours
        .values()
        .map(|(a, b)| {
            sessions
                .iter()
                .filter(|s| s.state != SessionState::EntryMissing)
                .filter(|s| {
                    s.entry_at < *b
                        && s.entry_at
                            .checked_add(counted)
                            .is_ok_and(|until| until > *a)
                        && match s.exit_at {
                            Some(x) => x > *a,
                            None => s.state == SessionState::Open,
                        }
                })
                .count() as u32
        })
        .collect();
    // Refunds count when the provider made them; failed ones apart.
    let books = store.audit_trail(lot_id, from, to).await?;
    let sum = |action: &str| -> i64 {
        books
            .iter()
            .filter(|e| e.action == action)
            .filter_map(|e| e.amount)
            .sum()
    };
    report.refunds = sum("payment.refund");
    report.refunds_failed = sum("payment.refund_failed");
    let prices = crate::usecases::cost::PriceTable::builtin().map_err(StoreError::invalid)?;
    let usage = store.lot_usage(lot_id, date).await?;
    report.cost =
        crate::usecases::cost::CostReport::new(usage, u64::from(report.entries), 1.0, prices);
    report.turnover = if config.lot.capacity > 0 {
        f64::from(report.exits) / f64::from(config.lot.capacity)
    } else {
        0.0
    };
    Ok(report)
}
