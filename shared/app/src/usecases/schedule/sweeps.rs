//! The car park's own clock: what happens because time passed, not
//! because a device spoke. Run on a schedule, each sweep is idempotent
//! (running it twice does nothing more than once), reads windows of the
//! lots' indexes (never a scan), and does at most its budget of work per
//! run; what is left is found by the next run.
//!
//! - **No-shows.** A reservation nobody checked in on by its start plus
//!   the lot's `no_show_grace_minutes` ends as a no-show, charged the
//!   lot's `no_show_fee` (to the driver's first card), with the driver
//!   told; the fee's order is keyed by the reservation, so it is charged
//!   once.
//! - **Overstays.** A session still open beyond its tariff's
//!   `max_stay_hours` is flagged `overstay` for a person.
//! - **Counting.** A session still open beyond its lot's
//!   `open_count_hours` (default 24) is flagged `uncounted` and no longer
//!   counts toward full: a missed exit fills the lot's count only that
//!   long. Staff close such a stay from the review queue (a resolution
//!   with `exit_at`), charging it or not.
//! - **Silent devices.** A device that has sent nothing (no read, no
//!   heartbeat, no connection event) for the lot's
//!   `heartbeat_timeout_minutes` is shown offline; its next heartbeat or
//!   connection brings it back.
//! - **Payment retries.** A declined charge's next attempt, when due, is
//!   queued under a new key (see [`crate::usecases::settle::RETRY_AFTER`]).
//! - **Reminders.** A driver is reminded once of a reservation starting
//!   within [`REMINDER_AHEAD`], and once of a monthly pass ending within
//!   [`PASS_NOTICE`] (the plate's registered driver). Each reminder is
//!   remembered in the event ledger after it is sent, so it goes out at
//!   least once and, but for a crash between the two, once; the app drops
//!   a notification id it has shown.
//! - **Retention.** A car with no account is forgotten by its plate once
//!   the lot's `plate_retention_days` have passed ([`crate::usecases::retention`]).
//! - **The outbox.** Messages the stream did not deliver within
//!   [`OUTBOX_AGE`] are sent again (the queues and the consumers drop
//!   what they already had).

use jiff::{SignedDuration, Timestamp};
use parking_core::Money;

use crate::ids::*;
use crate::model::*;
use crate::outbox::{Notification, NotificationKind, OutboxMessage, PaymentKind, PaymentOrder};
use crate::store::prelude::*;
use crate::timeline::AdjustmentKind;

use crate::usecases::adjust::{Action, ActionError, action_id, amend};

/// How much one sweep does per run at most.
pub const BUDGET: usize = 100;
/// How far back a no-show is looked for (the sweep runs far more often).
pub const NO_SHOW_WINDOW: SignedDuration = SignedDuration::from_hours(48);
/// How far back past the longest stay an overstay is looked for.
pub const OVERSTAY_WINDOW: SignedDuration = SignedDuration::from_hours(24);
/// How long before its start a reservation is reminded of.
pub const REMINDER_AHEAD: SignedDuration = SignedDuration::from_mins(30);
/// How long before its end a monthly pass is reminded of.
pub const PASS_NOTICE: SignedDuration = SignedDuration::from_hours(72);

/// How long the outbox's stream has to deliver a message.
pub const OUTBOX_AGE: SignedDuration = SignedDuration::from_mins(5);

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Items it changed (or sent).
    pub acted: usize,
    /// Whether it stopped at its budget with more to do.
    pub more: bool,
    /// Items it could not change for a reason of their own (their
    /// history refused the change); the rest were done.
    pub refused: usize,
}

impl Swept {
    fn full(&mut self, budget: usize) -> bool {
        if self.acted >= budget {
            self.more = true;
        }
        self.more
    }
}

fn ago(now: Timestamp, d: SignedDuration) -> Timestamp {
    now.checked_sub(d).unwrap_or(Timestamp::MIN)
}

/// Ends the reservations nobody came for.
///
/// # Errors
///
/// The store's.
pub async fn no_shows<S: Store>(store: &S, now: Timestamp, budget: usize) -> StoreResult<Swept> {
    let mut swept = Swept::default();
    for lot in store.lots().await? {
        let grace = SignedDuration::from_mins(i64::from(lot.settings.no_show_grace_minutes));
        let to = ago(now, grace);
        let from = ago(to, NO_SHOW_WINDOW);
        for r in store.lot_reservations_starting(&lot.id, from, to).await? {
            if r.state != ReservationState::Active {
                continue;
            }
            if swept.full(budget) {
                return Ok(swept);
            }
            let outbox = no_show_messages(store, &lot, &r, now).await?;
            let ended = store.mark_no_show(&r.id, &outbox).await?;
            if ended.state == ReservationState::NoShow {
                swept.acted += 1;
            }
        }
    }
    Ok(swept)
}

/// A no-show's fee (if the lot charges one and the driver has a card)
/// and the driver's notification.
async fn no_show_messages<S: DriverStore + LotStore>(
    store: &S,
    lot: &Lot,
    r: &Reservation,
    now: Timestamp,
) -> StoreResult<Vec<OutboxMessage>> {
    let fee = lot.settings.no_show_fee;
    let mut charged = None;
    let mut outbox = Vec::new();
    if fee > 0 {
        let methods = store.payment_methods(&r.driver_id).await?;
        if let Some(method) = methods.first() {
            let currency = store
                .lot_config(&lot.id)
                .await?
                .compiled()?
                .base()
                .currency();
            let amount = Money::new(fee, currency);
            charged = Some(amount);
            outbox.push(OutboxMessage::Payments(PaymentOrder {
                idempotency_key: IdempotencyKey::derived(&format!("{}.noshow", r.id)),
                session_id: None,
                reservation_id: Some(r.id.clone()),
                lot_id: r.lot_id.clone(),
                driver_id: r.driver_id.clone(),
                method_id: method.id.clone(),
                kind: PaymentKind::Charge,
                amount,
                created_at: now,
                attempt: 1,
                now: false,
            }));
        }
    }
    outbox.push(OutboxMessage::Notifications(Notification {
        id: format!("{}/no_show", r.id),
        driver_id: r.driver_id.clone(),
        lot_id: r.lot_id.clone(),
        session_id: None,
        reservation_id: Some(r.id.clone()),
        kind: NotificationKind::ReservationEnded {
            no_show: true,
            fee: charged,
        },
        at: now,
    }));
    Ok(outbox)
}

/// Flags the sessions still open beyond their tariff's longest stay.
///
/// # Errors
///
/// The store's.
pub async fn overstays<S: Store>(store: &S, now: Timestamp, budget: usize) -> StoreResult<Swept> {
    let mut swept = Swept::default();
    for lot in store.lots().await? {
        let config = store.lot_config(&lot.id).await?;
        let tariffs = config.compiled()?;
        let longest = |t: &parking_core::Tariff| {
            t.spec()
                .max_stay_hours
                .map(|h| SignedDuration::from_hours(i64::from(h)))
        };
        let Some(base) = longest(tariffs.base()) else {
            continue;
        };
        let over = |s: &Session| {
            let (_, tariff) = tariffs.at(&config.lot, s.entry_at);
            longest(tariff).is_some_and(|max| s.entry_at < ago(now, max))
        };
        let open = OpenFor {
            lot: &lot,
            beyond: base,
            over: &over,
            mark: Mark::Overstay,
        };
        if !open.flag(store, now, budget, &mut swept).await? {
            break;
        }
    }
    Ok(swept)
}

/// Stops counting toward full the sessions still open beyond their
/// lot's `open_count_hours`: a missed exit fills a bay in the count only
/// that long.
///
/// # Errors
///
/// The store's.
pub async fn uncounted<S: Store>(store: &S, now: Timestamp, budget: usize) -> StoreResult<Swept> {
    let mut swept = Swept::default();
    for lot in store.lots().await? {
        let limit = SignedDuration::from_hours(i64::from(lot.settings.open_count_hours));
        let over = |s: &Session| s.entry_at < ago(now, limit);
        let open = OpenFor {
            lot: &lot,
            beyond: limit,
            over: &over,
            mark: Mark::Uncounted,
        };
        if !open.flag(store, now, budget, &mut swept).await? {
            break;
        }
    }
    Ok(swept)
}

/// What a sweep marks on a session left open too long.
#[derive(Clone, Copy)]
enum Mark {
    Overstay,
    Uncounted,
}

impl Mark {
    fn kind(self) -> AdjustmentKind {
        match self {
            Mark::Overstay => AdjustmentKind::Overstay,
            Mark::Uncounted => AdjustmentKind::Uncounted,
        }
    }

    fn flag(self) -> SessionFlag {
        match self {
            Mark::Overstay => SessionFlag::Overstay,
            Mark::Uncounted => SessionFlag::Uncounted,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mark::Overstay => "overstay",
            Mark::Uncounted => "uncounted",
        }
    }
}

/// A lot's sessions open beyond `beyond` (those `over` says), to mark.
struct OpenFor<'a> {
    lot: &'a Lot,
    beyond: SignedDuration,
    over: &'a (dyn Fn(&Session) -> bool + Sync),
    mark: Mark,
}

impl OpenFor<'_> {
    /// Marks the lot's sessions entered within [`OVERSTAY_WINDOW`] before
    /// `now - beyond`; `false` when the budget ran out.
    async fn flag<S: Store>(
        &self,
        store: &S,
        now: Timestamp,
        budget: usize,
        swept: &mut Swept,
    ) -> StoreResult<bool> {
        let to = ago(now, self.beyond);
        let from = ago(to, OVERSTAY_WINDOW);
        let flag = self.mark.flag();
        for s in store.lot_sessions_entered(&self.lot.id, from, to).await? {
            if s.state != parking_core::SessionState::Open
                || s.flags.contains(&flag)
                || !(self.over)(&s)
            {
                continue;
            }
            if swept.full(budget) {
                return Ok(false);
            }
            let id = action_id(self.mark.name(), &[s.id.as_str()]);
            let session_id = s.id.clone();
            let changed = amend(
                store,
                now,
                Action {
                    lot_id: &s.lot_id,
                    plate: &s.plate,
                    id: id.clone(),
                    session: Some(&s.id),
                    audit: None,
                    pass: None,
                    outbox: Vec::new(),
                },
                |t| {
                    t.adjustments.push(crate::timeline::Adjustment {
                        id: id.clone(),
                        session_id: session_id.clone(),
                        by: Actor {
                            role: "system".into(),
                            subject: format!("{}-sweep", self.mark.name()),
                        },
                        at: now,
                        kind: self.mark.kind(),
                    });
                    Ok(())
                },
            )
            .await;
            match changed {
                Ok(changed) if !changed.repeated => swept.acted += 1,
                Ok(_) => {}
                // The store failed: the next run tries again.
                Err(ActionError::Store(e)) => return Err(e),
                // This session cannot be marked (its history refuses the
                // change): it must not hold up the rest of the lots.
                Err(_) => swept.refused += 1,
            }
        }
        Ok(true)
    }
}

/// Shows offline the devices silent beyond their lot's heartbeat timeout
/// (bay sensors: its sensor timeout).
///
/// # Errors
///
/// The store's.
pub async fn silent_devices<S: LotStore>(
    store: &S,
    now: Timestamp,
    budget: usize,
) -> StoreResult<Swept> {
    let mut swept = Swept::default();
    for lot in store.lots().await? {
        let minutes = |m: u32| SignedDuration::from_mins(i64::from(m));
        let live = store.lot_live(&lot, now).await?;
        for d in live.devices {
            let Some(p) = d.presence else {
                continue;
            };
            let timeout = if d.kind == DeviceKind::BaySensor {
                minutes(lot.settings.sensor_timeout_minutes)
            } else {
                minutes(lot.settings.heartbeat_timeout_minutes)
            };
            if !p.connected || p.at >= ago(now, timeout) {
                continue;
            }
            if swept.full(budget) {
                return Ok(swept);
            }
            let silent = Presence {
                connected: false,
                at: now,
                version: p.version,
            };
            let outbox: Vec<_> = crate::usecases::presence::offline(&lot, &d, &silent, "silent")
                .into_iter()
                .collect();
            if store.record_presence(&d.id, &silent, &outbox).await? == PresenceOutcome::Updated {
                swept.acted += 1;
            }
        }
    }
    Ok(swept)
}

/// Queues the declined charges whose next attempt is due, each under its
/// new attempt's key.
///
/// # Errors
///
/// The store's, or the first failed send (what was queued before it is
/// off the schedule).
pub async fn payment_retries<S: Store, Q: Queues>(
    store: &S,
    queues: &Q,
    now: Timestamp,
    budget: usize,
) -> Result<Swept, SweepError> {
    let mut swept = Swept::default();
    let due = store.due_retries(now, budget + 1).await?;
    swept.more = due.len() > budget;
    for a in due.into_iter().take(budget) {
        if let Some(order) = &a.order {
            let next = PaymentOrder {
                attempt: order.attempt.max(1) + 1,
                now: false,
                created_at: now,
                ..order.clone()
            };
            queues.send(&OutboxMessage::Payments(next)).await?;
            swept.acted += 1;
        }
        store.clear_retry(&a.key).await?;
    }
    Ok(swept)
}

/// Sends again what the outbox still holds after [`OUTBOX_AGE`].
///
/// # Errors
///
/// The store's, or the first failed send (what was sent before it is
/// marked).
pub async fn stale_outbox<S: Store, Q: Queues>(
    store: &S,
    queues: &Q,
    now: Timestamp,
    budget: usize,
) -> Result<Swept, SweepError> {
    let stale = store.outbox_stale(ago(now, OUTBOX_AGE), budget + 1).await?;
    let more = stale.len() > budget;
    let mut sent = Vec::new();
    for m in stale.iter().take(budget) {
        if let Err(e) = queues.send(m).await {
            store.outbox_delivered(&sent).await?;
            return Err(e.into());
        }
        sent.push(m.id());
    }
    store.outbox_delivered(&sent).await?;
    Ok(Swept {
        acted: sent.len(),
        more,
        refused: 0,
    })
}

/// Reminds drivers of reservations about to start and passes about to end,
/// each once.
///
/// # Errors
///
/// The store's, or the first failed send (what was sent before it is
/// remembered).
pub async fn reminders<S: Store, Q: Queues>(
    store: &S,
    queues: &Q,
    now: Timestamp,
    budget: usize,
) -> Result<Swept, SweepError> {
    let mut swept = Swept::default();
    let soon = now.checked_add(REMINDER_AHEAD).unwrap_or(now);
    let pass_soon = now.checked_add(PASS_NOTICE).unwrap_or(now);
    for lot in store.lots().await? {
        let mut due: Vec<(ActionId, Notification)> = Vec::new();
        for r in store.lot_reservations_starting(&lot.id, now, soon).await? {
            if r.state != ReservationState::Active {
                continue;
            }
            due.push((
                action_id("remind", &[r.id.as_str()]),
                Notification {
                    id: format!("{}/reminder", r.id),
                    driver_id: r.driver_id.clone(),
                    lot_id: r.lot_id.clone(),
                    session_id: None,
                    reservation_id: Some(r.id.clone()),
                    kind: NotificationKind::ReservationReminder { start: r.start },
                    at: now,
                },
            ));
        }
        for p in store.passes(&lot.id).await? {
            if p.valid_until < now || p.valid_until >= pass_soon {
                continue;
            }
            let Some(owner) = store.plate_owner(&p.plate).await? else {
                continue;
            };
            due.push((
                action_id("pass-ending", &[p.id.as_str()]),
                Notification {
                    id: format!("{}/ending", p.id),
                    driver_id: owner.driver_id,
                    lot_id: p.lot_id.clone(),
                    session_id: None,
                    reservation_id: None,
                    kind: NotificationKind::PassExpiring {
                        until: p.valid_until,
                    },
                    at: now,
                },
            ));
        }
        for (id, note) in due {
            let event = EventRef {
                device_id: sweeps_device(),
                event_id: EventId::parse(id.as_str())
                    .unwrap_or_else(|_| unreachable!("action ids are valid event ids")),
                processed_at: now,
            };
            if store
                .is_processed(&event.device_id, &event.event_id, now)
                .await?
            {
                continue;
            }
            if swept.full(budget) {
                return Ok(swept);
            }
            queues.send(&OutboxMessage::Notifications(note)).await?;
            store.record_event(&event).await?;
            swept.acted += 1;
        }
    }
    Ok(swept)
}

/// The sweeps' name in the event ledger.
fn sweeps_device() -> DeviceId {
    DeviceId::parse("sweeps").unwrap_or_else(|_| unreachable!("a valid device id"))
}

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Send(#[from] SendError),
}

/// Every sweep once, each within its budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub no_shows: Swept,
    pub overstays: Swept,
    pub uncounted: Swept,
    pub silent_devices: Swept,
    pub payment_retries: Swept,
    pub reminders: Swept,
    pub stale_outbox: Swept,
    pub retention: Swept,
}

/// Runs every sweep once, each whatever the others met.
///
/// # Errors
///
/// The first sweep that failed (every sweep did its work).
pub async fn sweep_all<S: Store, Q: Queues>(
    store: &S,
    queues: &Q,
    now: Timestamp,
) -> Result<SweepReport, SweepError> {
    // Each sweep runs whatever another one met; the first failure is
    // answered after all of them ran.
    let mut first: Option<SweepError> = None;
    let mut keep = |r: Result<Swept, SweepError>| {
        r.unwrap_or_else(|e| {
            first.get_or_insert(e);
            Swept::default()
        })
    };
    let report = SweepReport {
        no_shows: keep(no_shows(store, now, BUDGET).await.map_err(Into::into)),
        overstays: keep(overstays(store, now, BUDGET).await.map_err(Into::into)),
        uncounted: keep(uncounted(store, now, BUDGET).await.map_err(Into::into)),
        silent_devices: keep(silent_devices(store, now, BUDGET).await.map_err(Into::into)),
        payment_retries: keep(payment_retries(store, queues, now, BUDGET).await),
        reminders: keep(reminders(store, queues, now, BUDGET).await),
        stale_outbox: keep(stale_outbox(store, queues, now, BUDGET).await),
        retention: keep(
            crate::usecases::retention::forget_plates(store, now, BUDGET)
                .await
                .map_err(Into::into),
        ),
    };
    match first {
        Some(e) => Err(e),
        None => Ok(report),
    }
}
