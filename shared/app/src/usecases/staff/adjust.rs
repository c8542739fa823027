//! What operators, shops and the pay kiosk do to sessions: resolve one
//! that needs review (charge, void or set the fee), refund, validate
//! parking for a customer, take a payment at the kiosk, issue a monthly
//! pass.
//!
//! Each is an [`Adjustment`] (or a [`Pass`]) added to the plate's
//! timeline and applied the way a camera read is: the timeline is
//! reconciled ([`reconcile`]) and committed in one atomic step with the
//! lot's audit entry, so the session's fee, its charges and refunds are
//! always what its reads and adjustments make them, never a second
//! calculation. An action's id is recorded in the event ledger and in the
//! timeline: sending the same action again changes nothing.

use jiff::{SignedDuration, Timestamp};
use parking_core::{Discount, Money, Plate, SessionState};
use sha2::{Digest, Sha256};

use crate::history;
use crate::ids::*;
use crate::model::*;
use crate::store::prelude::*;
use crate::timeline::{Adjustment, AdjustmentKind, PlateTimeline, Pricing, reconcile, stay_fee};

/// How often an action is applied again when the plate's timeline changed
/// between reading and writing.
const STALE_RETRIES: usize = 5;

/// The device id actions through the APIs are ledgered under.
pub const API_DEVICE: &str = "api";

/// Why an action was not taken. Worded once, here.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ActionError {
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ActionError::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        ActionError::Conflict {
            code,
            detail: detail.into(),
        }
    }
}

/// Who acts, on which lot, and when.
#[derive(Debug, Clone, Copy)]
pub struct Staff<'a> {
    pub actor: &'a Actor,
    pub lot_id: &'a LotId,
    pub now: Timestamp,
}

/// An action id derived from its parts: the same request names the same
/// action.
pub fn action_id(prefix: &str, parts: &[&str]) -> ActionId {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let hex: String = h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    ActionId::parse(&format!("{prefix}-{hex}"))
        .unwrap_or_else(|_| unreachable!("a prefix and hex make a valid id"))
}

/// The outcome of an action.
#[derive(Debug, Clone, PartialEq)]
pub struct Amended {
    /// The session acted on, after the action.
    pub session: Option<Session>,
    /// The action had been taken before: nothing changed now.
    pub repeated: bool,
}

/// An action on a plate's timeline.
pub(crate) struct Action<'a> {
    pub lot_id: &'a LotId,
    pub plate: &'a Plate,
    pub id: ActionId,
    pub session: Option<&'a SessionId>,
    pub audit: Option<AuditEntry>,
    pub pass: Option<Pass>,
    /// Messages to queue with the change (beyond its charges and refunds).
    pub outbox: Vec<crate::outbox::OutboxMessage>,
}

impl<'a> Action<'a> {
    /// An audited action on one session of a plate.
    fn audited(
        lot_id: &'a LotId,
        plate: &'a Plate,
        id: &ActionId,
        session: &'a SessionId,
        audit: AuditEntry,
    ) -> Self {
        Action {
            lot_id,
            plate,
            id: id.clone(),
            session: Some(session),
            audit: Some(audit),
            pass: None,
            outbox: Vec::new(),
        }
    }
}

/// A session of the timeline being changed.
fn session_in<'t>(t: &'t PlateTimeline, id: &SessionId) -> Result<&'t Session, ActionError> {
    t.sessions
        .iter()
        .find(|x| &x.id == id)
        .ok_or(ActionError::NotFound("session"))
}

/// Applies a change to a plate's timeline and commits it with its audit
/// entry. `change` sees the current timeline and refuses or changes it.
pub(crate) async fn amend<S: Store>(
    store: &S,
    now: Timestamp,
    action: Action<'_>,
    mut change: impl FnMut(&mut PlateTimeline) -> Result<(), ActionError>,
) -> Result<Amended, ActionError> {
    let config = store.lot_config(action.lot_id).await?;
    let tariffs = config.compiled()?;
    let pricing = Pricing {
        lot: &config.lot,
        tariffs: &tariffs,
    };
    let find = |t: &PlateTimeline| {
        action
            .session
            .and_then(|id| t.sessions.iter().find(|s| &s.id == id).cloned())
    };
    let debounce = config.lot.debounce();
    // An old session's stays are read around its entry.
    let acted_on = match action.session {
        Some(id) => Some(store.get_session(id).await?),
        None => None,
    };
    for _ in 0..STALE_RETRIES {
        let view = store.plate_view(action.lot_id, action.plate).await?;
        let head = view
            .timeline
            .unwrap_or_else(|| PlateTimeline::new(action.lot_id.clone(), action.plate.clone()));
        let current = match &acted_on {
            Some(s) => history::around_session(store, head.clone(), s, debounce).await?,
            None => head.clone(),
        };
        let done = current.adjustments.iter().any(|a| a.id == action.id)
            || current.settlements.iter().any(|r| r.id == action.id)
            || action
                .pass
                .as_ref()
                .is_some_and(|p| current.passes.iter().any(|q| q.id == p.id));
        if done {
            return Ok(Amended {
                session: find(&current),
                repeated: true,
            });
        }
        let mut t = current.clone();
        change(&mut t)?;
        let rec = reconcile(&pricing, &t, None, now);
        let events = rec.events;
        let mut next = rec.timeline;
        next.version = current.version + 1;
        let session = find(&next);
        let orders = asked_now(&action, &next, rec.orders, now);
        let debts = crate::unpaid::changes(&config.lot.operator(), &current.sessions, &rec.changed);
        let split = history::split(next, &head, &config.lot, now);
        let commit = TimelineCommit {
            timeline: split.head,
            stays: split.put,
            stays_gone: split.gone,
            changed: rec.changed,
            outbox: orders
                .into_iter()
                .map(crate::outbox::OutboxMessage::Payments)
                .chain(action.outbox.iter().cloned())
                .chain(events.into_iter().map(|e| {
                    crate::outbox::OutboxMessage::Webhooks(crate::hooks::HookMessage::Event(e))
                }))
                .collect(),
            open_delta: rec.open_delta,
            check_in: None,
            check_in_undone: None,
            event: EventRef {
                device_id: DeviceId::parse(API_DEVICE)
                    .unwrap_or_else(|_| unreachable!("a valid device id")),
                event_id: EventId::parse(action.id.as_str())
                    .unwrap_or_else(|_| unreachable!("action ids are valid event ids")),
                processed_at: now,
            },
            attempt: nonce(),
            audit: action.audit.clone(),
            pass: action.pass.clone(),
            debts,
            track: None,
            released: None,
        };
        match store.commit_read(&commit).await {
            Ok(Applied::Done) => {
                return Ok(Amended {
                    session,
                    repeated: false,
                });
            }
            Ok(Applied::Duplicate) => {
                return Ok(Amended {
                    session: find(&current),
                    repeated: true,
                });
            }
            Err(StoreError::Conflict(Refusal::StaleTimeline { .. })) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Unavailable {
        source: format!("the plate's timeline kept changing for {STALE_RETRIES} attempts").into(),
    }
    .into())
}

/// A staff action's orders are asked for by a person: a movement that
/// failed is tried again at once. When the action leaves its stay's
/// balance unsettled and orders nothing for it (staff charge a stay whose
/// retries were given up, say), a prompt is sent for it, outside the
/// stay's orders: it moves whatever the balance wants.
fn asked_now(
    action: &Action<'_>,
    t: &PlateTimeline,
    mut orders: Vec<crate::outbox::PaymentOrder>,
    now: Timestamp,
) -> Vec<crate::outbox::PaymentOrder> {
    let by_person = action
        .audit
        .as_ref()
        .is_some_and(|a| a.actor.role != crate::usecases::settle::SETTLEMENT_ROLE);
    if !by_person {
        return orders;
    }
    for o in &mut orders {
        o.now = true;
    }
    let Some(id) = action.session else {
        return orders;
    };
    if orders.iter().any(|o| o.is_for(id)) {
        return orders;
    }
    let Some(b) = crate::balance::Balance::of(t, id) else {
        return orders;
    };
    let kind = match b.wanted() {
        crate::balance::Next::Charge(_) => crate::outbox::PaymentKind::Charge,
        crate::balance::Next::Refund { .. } => crate::outbox::PaymentKind::Refund,
        _ => return orders,
    };
    let Some(stay) = t.sessions.iter().find(|s| s.id == b.account) else {
        return orders;
    };
    if let (Some(driver_id), Some(method_id)) = (&stay.driver_id, &stay.method_id) {
        orders.push(crate::outbox::PaymentOrder {
            idempotency_key: IdempotencyKey::derived(&format!("{}.{}", stay.id, action.id)),
            session_id: Some(stay.id.clone()),
            reservation_id: None,
            lot_id: stay.lot_id.clone(),
            driver_id: driver_id.clone(),
            method_id: method_id.clone(),
            kind,
            amount: Money::new((b.owed - b.collected).abs(), b.currency),
            created_at: now,
            attempt: 1,
            now: true,
        });
    }
    orders
}

fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// A session of a lot, by id; one of another lot is not found.
///
/// # Errors
///
/// [`ActionError::NotFound`], or the store's.
pub async fn lot_session<S: SessionStore>(
    store: &S,
    lot_id: &LotId,
    id: &SessionId,
) -> Result<Session, ActionError> {
    match store.get_session(id).await {
        Ok(s) if &s.lot_id == lot_id => Ok(s),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(ActionError::NotFound("session")),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn audit(
    who: Staff<'_>,
    id: &ActionId,
    action: &str,
    target: &str,
    note: &str,
    amount: Option<i64>,
) -> AuditEntry {
    AuditEntry {
        id: id.clone(),
        lot_id: who.lot_id.clone(),
        at: who.now,
        actor: who.actor.clone(),
        action: action.to_owned(),
        target: target.to_owned(),
        note: note.to_owned(),
        amount,
    }
}

/// Checks an operator's note: required, at most 500 characters, and no
/// card number.
///
/// # Errors
///
/// [`ActionError::Invalid`] naming `note`.
pub fn check_note(note: &str) -> Result<(), ActionError> {
    if note.trim().is_empty() {
        return Err(ActionError::invalid("note", "a note is required"));
    }
    if note.chars().count() > 500 {
        return Err(ActionError::invalid("note", "at most 500 characters"));
    }
    if crate::usecases::account::looks_like_card_number(note) {
        return Err(ActionError::invalid("note", "must not hold a card number"));
    }
    Ok(())
}

fn check_amount(field: &str, amount: i64) -> Result<(), ActionError> {
    if amount < 0 {
        return Err(ActionError::invalid(field, "must not be negative"));
    }
    if amount > parking_core::tariff::MAX_AMOUNT {
        return Err(ActionError::invalid(field, "is too large"));
    }
    Ok(())
}

/// What staff decide about a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Charge the priced fee, or `amount` when given (required for a stay
    /// with no priced fee).
    Charge {
        amount: Option<i64>,
    },
    Void,
    /// Set the fee.
    Adjust {
        amount: i64,
    },
}

/// Resolves a session that is not open: charge, void or adjust its fee.
/// The money follows through the session's charges and refunds.
///
/// # Errors
///
/// `session_open` while the car is inside, `already_resolved`, an invalid
/// note or amount, or the store's.
pub async fn resolve<S: Store>(
    store: &S,
    who: Staff<'_>,
    session_id: &SessionId,
    decision: Decision,
    note: &str,
) -> Result<Amended, ActionError> {
    decide(store, who, session_id, decision, None, note).await
}

/// Closes a stay whose exit no camera saw (a session left `open`, or
/// `exit_missing`), as if the car left at `exit_at`, and resolves it:
/// charged at the tariff's fee for the stay (or `amount`), voided, or set
/// by hand. The stay no longer counts toward full. `exit_at` is taken no
/// later than the plate's next entry. An exit read that comes later wins:
/// the close no longer applies, the stay is priced to the exit, the money
/// follows, and it waits for a decision again if it needs one.
///
/// # Errors
///
/// `not_open` for a stay with an exit seen (resolve it instead), an
/// `exit_at` before the entry or in the future, `already_resolved`, an
/// invalid note or amount, or the store's.
pub async fn close<S: Store>(
    store: &S,
    who: Staff<'_>,
    session_id: &SessionId,
    exit_at: Timestamp,
    decision: Decision,
    note: &str,
) -> Result<Amended, ActionError> {
    decide(store, who, session_id, decision, Some(exit_at), note).await
}

/// What a stay would cost closed at `at` (its exit missed, staff choosing
/// the time): the tariff's fee as if the car left then; `None` when the
/// tariff cannot price it.
///
/// # Errors
///
/// The store's.
pub async fn fee_if_closed_at<S: Store>(
    store: &S,
    s: &Session,
    at: Timestamp,
) -> StoreResult<Option<Money>> {
    let as_open = Session {
        state: SessionState::Open,
        ..s.clone()
    };
    fee_if_left(store, &as_open, at).await
}

async fn decide<S: Store>(
    store: &S,
    who: Staff<'_>,
    session_id: &SessionId,
    decision: Decision,
    exit_at: Option<Timestamp>,
    note: &str,
) -> Result<Amended, ActionError> {
    let (now, actor, lot_id) = (who.now, who.actor, who.lot_id);
    check_note(note)?;
    if exit_at.is_some_and(|at| at > now) {
        return Err(ActionError::invalid("exit_at", "is in the future"));
    }
    let (resolution, amount, name) = match decision {
        Decision::Charge { amount } => (Resolution::Charged, amount, "charge"),
        Decision::Void => (Resolution::Voided, None, "void"),
        Decision::Adjust { amount } => (Resolution::Adjusted, Some(amount), "adjust"),
    };
    if let Some(a) = amount {
        check_amount("amount", a)?;
    }
    let s = lot_session(store, lot_id, session_id).await?;
    // Closing a stay to charge its fee: the tariff must be able to price
    // it to `exit_at`, or staff give the amount.
    if let (Some(at), Decision::Charge { amount: None }) = (exit_at, decision)
        && fee_if_closed_at(store, &s, at).await?.is_none()
    {
        return Err(ActionError::invalid(
            "amount",
            "the tariff cannot price a stay this long: give the amount to charge",
        ));
    }
    // The same decision sent again is one action; another decision is
    // refused below as already resolved.
    let id = action_id(
        "res",
        &[
            session_id.as_str(),
            name,
            &format!("{amount:?}"),
            note,
            &exit_at.map(|at| at.to_string()).unwrap_or_default(),
        ],
    );
    let entry = audit(
        who,
        &id,
        &match exit_at {
            Some(_) => format!("session.close.{name}"),
            None => format!("session.{name}"),
        },
        session_id.as_str(),
        note,
        amount,
    );
    amend(
        store,
        now,
        Action::audited(lot_id, &s.plate, &id, session_id, entry),
        |t| {
            let current = session_in(t, session_id)?;
            if let Some(at) = exit_at {
                if !matches!(
                    current.state,
                    SessionState::Open | SessionState::ExitMissing
                ) {
                    return Err(ActionError::conflict(
                        "not_open",
                        "the stay has an exit: resolve it without exit_at",
                    ));
                }
                if at < current.entry_at {
                    return Err(ActionError::invalid("exit_at", "is before the entry"));
                }
            }
            match current.state {
                SessionState::Open | SessionState::Closing if exit_at.is_none() => {
                    return Err(ActionError::conflict(
                        "session_open",
                        "the car is still inside: the session is resolved once it has left, or closed with exit_at when its exit was missed",
                    ));
                }
                SessionState::Superseded => {
                    return Err(ActionError::conflict(
                        "session_superseded",
                        "a later read replaced this session",
                    ));
                }
                _ => {}
            }
            if current.resolution.is_some() {
                return Err(ActionError::conflict(
                    "already_resolved",
                    "the session was resolved before",
                ));
            }
            if matches!(decision, Decision::Charge { amount: None })
                && current.fee.is_none()
                && exit_at.is_none()
            {
                return Err(ActionError::invalid(
                    "amount",
                    "the stay has no priced fee: give the amount to charge",
                ));
            }
            t.adjustments.push(Adjustment {
                id: id.clone(),
                session_id: session_id.clone(),
                by: actor.clone(),
                at: now,
                kind: AdjustmentKind::Resolve {
                    resolution,
                    amount,
                    exit_at,
                },
            });
            Ok(())
        },
    )
    .await
}

/// Refunds part or all of what a session's driver paid. `key` names the
/// refund: the same key again refunds nothing more.
///
/// # Errors
///
/// `nothing_to_refund` / an amount above what was paid (422), an invalid
/// note, or the store's.
pub async fn refund<S: Store>(
    store: &S,
    who: Staff<'_>,
    session_id: &SessionId,
    amount: i64,
    note: &str,
    key: &str,
) -> Result<Amended, ActionError> {
    let (now, actor, lot_id) = (who.now, who.actor, who.lot_id);
    check_note(note)?;
    check_amount("amount", amount)?;
    if amount == 0 {
        return Err(ActionError::invalid("amount", "must be more than zero"));
    }
    let s = lot_session(store, lot_id, session_id).await?;
    let id = action_id("ref", &[session_id.as_str(), &actor.subject, key]);
    let entry = audit(
        who,
        &id,
        "session.refund",
        session_id.as_str(),
        note,
        Some(amount),
    );
    amend(
        store,
        now,
        Action::audited(lot_id, &s.plate, &id, session_id, entry),
        |t| {
            let current = session_in(t, session_id)?;
            // What the driver paid and has not had back: by card, what
            // the provider collected less what is already to go back (a
            // goodwill refund is bounded by what was collected); at the
            // kiosk, what was paid less what was refunded of it.
            let at_kiosk = if current.method_id.is_none() {
                current.kiosk_paid - current.refunded
            } else {
                0
            };
            let by_card = crate::balance::Balance::of(t, session_id)
                .filter(|_| current.method_id.is_some())
                .map_or(0, |b| b.collected.min(b.owed).max(0));
            let paid = by_card + at_kiosk;
            if paid <= 0 {
                return Err(ActionError::conflict(
                    "nothing_to_refund",
                    "nothing was paid for this session",
                ));
            }
            if amount > paid {
                return Err(ActionError::invalid(
                    "amount",
                    format!("at most {paid} remains to refund"),
                ));
            }
            t.adjustments.push(Adjustment {
                id: id.clone(),
                session_id: session_id.clone(),
                by: actor.clone(),
                at: now,
                kind: AdjustmentKind::Refund { amount },
            });
            Ok(())
        },
    )
    .await
}

/// A shop's validation: minutes free from entry, or an amount off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validation {
    pub minutes: u32,
    pub amount: i64,
}

/// The longest validation a shop gives.
pub const MAX_VALIDATION_MINUTES: u32 = 24 * 60;

/// A shop validates the open session of a plate in its lot, once per
/// session.
///
/// # Errors
///
/// `no_open_session` (404), `already_validated` (409), invalid minutes or
/// amount, or the store's.
pub async fn validate<S: Store>(
    store: &S,
    who: Staff<'_>,
    plate: &Plate,
    v: Validation,
) -> Result<Amended, ActionError> {
    let (now, shop, lot_id) = (who.now, who.actor, who.lot_id);
    check_amount("amount", v.amount)?;
    if v.minutes > MAX_VALIDATION_MINUTES {
        return Err(ActionError::invalid(
            "minutes",
            format!("at most {MAX_VALIDATION_MINUTES}"),
        ));
    }
    if (v.minutes == 0) == (v.amount == 0) {
        return Err(ActionError::invalid(
            "minutes",
            "give either minutes or an amount, not both",
        ));
    }
    // The lot's limits on each shop: per validation, then per day (a
    // validation refused for the day is counted too).
    let limits = store.get_lot(lot_id).await?.settings;
    if v.minutes > limits.shop_max_minutes {
        return Err(ActionError::invalid(
            "minutes",
            format!("at most {} at this lot", limits.shop_max_minutes),
        ));
    }
    if v.amount > limits.shop_max_amount {
        return Err(ActionError::invalid(
            "amount",
            format!("at most {} at this lot", limits.shop_max_amount),
        ));
    }
    let open = open_session(store, lot_id, plate).await?;
    let id = action_id("val", &[open.id.as_str(), &shop.subject]);
    let daily = crate::rate_limits::Limit {
        action: "shop_validation",
        window: SignedDuration::from_hours(24),
        per_window: limits.shop_validations_per_day,
    };
    // Checked before, counted after a validation is taken: a repeat or
    // a refusal uses none of the day's.
    let caller = format!("{lot_id}#{}", shop.subject);
    if crate::rate_limits::used_up(store, &caller, daily, now).await? {
        return Err(ActionError::conflict(
            "daily_limit",
            format!(
                "this shop has made its {} validations for the day at this lot",
                limits.shop_validations_per_day
            ),
        ));
    }
    let entry = audit(
        who,
        &id,
        "session.validate",
        open.id.as_str(),
        &if v.minutes > 0 {
            format!("{} minutes", v.minutes)
        } else {
            String::new()
        },
        (v.amount > 0).then_some(v.amount),
    );
    let session_id = open.id.clone();
    let out = amend(
        store,
        now,
        Action::audited(lot_id, plate, &id, &session_id, entry),
        |t| {
            if t.adjustments
                .iter()
                .any(|a| a.is_validation_by(&session_id, &shop.subject))
            {
                return Err(already_validated());
            }
            t.adjustments.push(Adjustment {
                id: id.clone(),
                session_id: session_id.clone(),
                by: shop.clone(),
                at: now,
                kind: AdjustmentKind::Validation {
                    minutes: v.minutes,
                    amount: v.amount,
                },
            });
            Ok(())
        },
    )
    .await?;
    if out.repeated {
        return Err(already_validated());
    }
    crate::rate_limits::admit(store, &caller, daily, now).await?;
    Ok(out)
}

fn already_validated() -> ActionError {
    ActionError::conflict(
        "already_validated",
        "this shop has validated this session already",
    )
}

async fn open_session<S: PlateHistory>(
    store: &S,
    lot_id: &LotId,
    plate: &Plate,
) -> Result<Session, ActionError> {
    let view = store.plate_view(lot_id, plate).await?;
    view.timeline
        .and_then(|t| {
            t.sessions
                .into_iter()
                .find(|s| s.state == SessionState::Open)
        })
        .ok_or(ActionError::NotFound("open session"))
}

/// What an open session would cost if the car left at `at`, with its
/// validations and the plate's passes, before what was paid at the kiosk;
/// `None` for a session that is not open or a stay the tariff cannot
/// price.
///
/// # Errors
///
/// The store's.
pub async fn fee_if_left<S: Store>(
    store: &S,
    session: &Session,
    at: Timestamp,
) -> Result<Option<Money>, StoreError> {
    Ok(open_fee(store, session, at).await?.0)
}

/// [`fee_if_left`], and until when a kiosk payment lets the car out.
async fn open_fee<S: LotStore + PlateHistory>(
    store: &S,
    session: &Session,
    at: Timestamp,
) -> Result<(Option<Money>, Option<Timestamp>), StoreError> {
    if session.state != SessionState::Open {
        return Ok((None, None));
    }
    let config = store.lot_config(&session.lot_id).await?;
    let tariffs = config.compiled()?;
    let view = store.plate_view(&session.lot_id, &session.plate).await?;
    let t = view
        .timeline
        .unwrap_or_else(|| PlateTimeline::new(session.lot_id.clone(), session.plate.clone()));
    let mut discount = Discount::default();
    let mut exit_by: Option<Timestamp> = None;
    for a in t.adjustments.iter().filter(|a| a.session_id == session.id) {
        match a.kind {
            AdjustmentKind::Validation { minutes, amount } => {
                discount.minutes = discount.minutes.saturating_add(minutes);
                discount.amount = discount.amount.saturating_add(amount);
            }
            AdjustmentKind::KioskPayment { exit_by: by, .. } => {
                exit_by = Some(exit_by.map_or(by, |e| e.max(by)));
            }
            _ => {}
        }
    }
    let (_, tariff) = tariffs.at(&config.lot, session.entry_at);
    let fee = stay_fee(
        tariff,
        session.entry_at,
        at.max(session.entry_at),
        discount,
        &t.passes,
    );
    Ok((fee, exit_by))
}

/// A stay a kiosk may take a payment for: one of its lot, or one on the
/// unpaid register of its lot's operator (run up at another of its
/// lots).
///
/// # Errors
///
/// [`ActionError::NotFound`], or the store's.
async fn kiosk_session<S: Store>(
    store: &S,
    lot_id: &LotId,
    id: &SessionId,
) -> Result<Session, ActionError> {
    let s = match store.get_session(id).await {
        Ok(s) => s,
        Err(StoreError::NotFound { .. }) => return Err(ActionError::NotFound("session")),
        Err(e) => return Err(e.into()),
    };
    if &s.lot_id == lot_id {
        return Ok(s);
    }
    let (here, there) = futures::try_join!(store.get_lot(lot_id), store.get_lot(&s.lot_id))?;
    if here.operator() == there.operator() && crate::unpaid::kind_of(&s).is_some() {
        Ok(s)
    } else {
        Err(ActionError::NotFound("session"))
    }
}

/// Debts of the operator's other lots a kiosk lists at most.
pub const KIOSK_DEBTS: usize = 20;

/// An unpaid session as the kiosk shows it: the plate as printed and the
/// entry time, nothing else about the driver.
#[derive(Debug, Clone, PartialEq)]
pub struct KioskSession {
    pub session_id: SessionId,
    /// Where the stay was: the kiosk's lot, or another of its operator's
    /// (an unpaid stay on the register).
    pub lot_id: LotId,
    /// Just enough of the plate to pick the car ([`Plate::hint`]); the
    /// driver types it whole to pay.
    pub hint: String,
    pub entry_at: Timestamp,
    /// What to pay now.
    pub due: Money,
}

/// How far back the kiosk looks for unpaid stays.
pub const KIOSK_LOOKBACK: SignedDuration = SignedDuration::from_hours(31 * 24);

/// What a kiosk's search by plate is for, as its audit entry says.
pub const KIOSK_LOOKUP_PURPOSE: &str = "payment at the kiosk";

/// Unpaid stays in the lot whose plate's serial is these digits (1 to 4,
/// read as the four the plate shows): open sessions with no card on
/// file, priced ones with something left to pay at the kiosk, and stays
/// whose card payment failed (what the card did not collect); then the
/// stays of those digits on the unpaid register of the lot's operator
/// from its other lots ([`crate::unpaid`], at most [`KIOSK_DEBTS`]). Every
/// search is in the lot's audit trail (`kiosk.lookup`: who, when, its
/// purpose and how many stays it found; never the digits), written before
/// anything is answered.
///
/// # Errors
///
/// Invalid digits, or the store's.
pub async fn kiosk_lookup<S: Store>(
    store: &S,
    who: Staff<'_>,
    digits: &str,
) -> Result<Vec<KioskSession>, ActionError> {
    let (now, lot_id) = (who.now, who.lot_id);
    if digits.is_empty() || digits.len() > 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(ActionError::invalid("digits", "1 to 4 digits"));
    }
    let wanted = format!("{digits:0>4}");
    let since = now.checked_sub(KIOSK_LOOKBACK).unwrap_or(now);
    let mut out = Vec::new();
    for s in store.lot_sessions_since(lot_id, since).await? {
        if &s.lot_id != lot_id || s.plate.serial_digits().as_deref() != Some(wanted.as_str()) {
            continue;
        }
        if let Some(due) = kiosk_due(store, &s, now).await?.filter(|d| d.minor > 0) {
            out.push(KioskSession {
                session_id: s.id.clone(),
                lot_id: s.lot_id.clone(),
                hint: s.plate.hint(),
                entry_at: s.entry_at,
                due,
            });
        }
    }
    // And the stays the plate left unpaid at the operator's lots.
    let operator = store.get_lot(lot_id).await?.operator();
    let register = store
        .register(&operator, Some(&wanted), None, KIOSK_DEBTS)
        .await?;
    // (Its own lot's too, when older than the lookback.)
    let listed: std::collections::BTreeSet<SessionId> =
        out.iter().map(|k| k.session_id.clone()).collect();
    out.extend(
        register
            .debts
            .into_iter()
            .filter(|d| !listed.contains(&d.session_id))
            .map(|d| KioskSession {
                session_id: d.session_id,
                hint: d.plate.hint(),
                entry_at: d.entry_at,
                due: d.amount,
                lot_id: d.lot_id,
            }),
    );
    // One entry per search, even two in the same instant.
    let id = action_id(
        "lookup",
        &[
            lot_id.as_str(),
            &who.actor.subject,
            &now.as_nanosecond().to_string(),
            &crate::ids::nonce().to_string(),
        ],
    );
    let note = format!("purpose: {KIOSK_LOOKUP_PURPOSE}; {} found", out.len());
    store
        .record_audit(&audit(
            who,
            &id,
            "kiosk.lookup",
            lot_id.as_str(),
            &note,
            None,
        ))
        .await?;
    Ok(out)
}

/// What a session without a card has left to pay at the kiosk, if it is
/// unpaid.
async fn kiosk_due<S: Store>(
    store: &S,
    s: &Session,
    now: Timestamp,
) -> Result<Option<Money>, StoreError> {
    // A card stay is paid at the kiosk only when its card payment failed
    // (or was given up): what the card did not collect.
    if s.method_id.is_some() {
        let failed = s.state == SessionState::PaymentFailed
            || (s.state == SessionState::NeedsReview && s.payment_failure.is_some());
        let gap = crate::timeline::owed(s) - s.collected;
        return Ok(s
            .fee
            .filter(|_| failed && gap > 0)
            .map(|f| Money::new(gap, f.currency)));
    }
    match s.state {
        SessionState::Open => {
            let (fee, exit_by) = open_fee(store, s, now).await?;
            // Paid, and still within the exit window: nothing more now.
            let covered = exit_by.is_some_and(|by| now <= by);
            Ok(fee.map(|f| {
                let due = if covered {
                    0
                } else {
                    (f.minor - s.kiosk_paid).max(0)
                };
                Money::new(due, f.currency)
            }))
        }
        SessionState::Priced | SessionState::EntryMissing if s.outstanding() > 0 => {
            Ok(s.fee.map(|f| Money::new(s.outstanding(), f.currency)))
        }
        _ => Ok(None),
    }
}

/// Records a payment taken at the kiosk for a session of its lot; the car
/// may leave within the lot's exit window for it. `key` names the
/// payment: the same key again records nothing more.
///
/// # Errors
///
/// `nothing_due` (409), `too_many_tries` (409: three wrong plates for
/// this stay today), another plate or an amount other than what is due
/// (422), or the store's.
pub async fn kiosk_pay<S: Store>(
    store: &S,
    who: Staff<'_>,
    session_id: &SessionId,
    plate: &Plate,
    amount: i64,
    key: &str,
) -> Result<(Amended, Timestamp, Money), ActionError> {
    let (now, kiosk) = (who.now, who.actor);
    check_amount("amount", amount)?;
    let s = kiosk_session(store, who.lot_id, session_id).await?;
    // A stay of another of the operator's lots is paid into that lot's
    // books, noted with the kiosk that took it.
    let lot_id = &s.lot_id;
    let elsewhere = lot_id != who.lot_id;
    let note = if elsewhere {
        format!("at the kiosk of {}", who.lot_id)
    } else {
        String::new()
    };
    let who = Staff { lot_id, ..who };
    // The whole plate, as on the car: four digits alone pay for no one.
    // Three wrong plates a day per stay, then not even the right one: the
    // plate behind a hint cannot be found by trying plates here.
    let limit = crate::rate_limits::KIOSK_WRONG_PLATES_PER_STAY;
    let too_many = || {
        ActionError::conflict(
            "too_many_tries",
            "this stay has had too many wrong plates at the kiosk today; staff can take the payment",
        )
    };
    if !s.plate.is_readable() || s.plate.key() != plate.key() {
        return Err(
            match crate::rate_limits::admit(store, session_id.as_str(), limit, now).await? {
                Some(_) => too_many(),
                None => ActionError::invalid("plate", "is not the plate of this stay"),
            },
        );
    }
    if crate::rate_limits::used_up(store, session_id.as_str(), limit, now).await? {
        return Err(too_many());
    }
    let id = action_id("kiosk", &[session_id.as_str(), &kiosk.subject, key]);
    let config = store.lot_config(lot_id).await?;
    let exit_by = now
        .checked_add(SignedDuration::from_mins(i64::from(
            config.lot.settings.kiosk_exit_minutes,
        )))
        .unwrap_or(now);
    let due = kiosk_due(store, &s, now).await?;
    let currency = config.compiled()?.base().currency();
    let entry = audit(
        who,
        &id,
        "session.kiosk_payment",
        session_id.as_str(),
        &note,
        Some(amount),
    );
    let out = amend(
        store,
        now,
        Action::audited(lot_id, &s.plate, &id, session_id, entry),
        |t| {
            let paid_before = t.adjustments.iter().any(|a| {
                a.session_id == *session_id
                    && matches!(a.kind, AdjustmentKind::KioskPayment { exit_by, .. } if now <= exit_by)
            });
            let Some(due) = due.filter(|d| d.minor > 0 && !paid_before) else {
                return Err(ActionError::conflict(
                    "nothing_due",
                    "the session has nothing to pay at the kiosk",
                ));
            };
            if amount != due.minor {
                return Err(ActionError::invalid(
                    "amount",
                    format!("{} is due", due.minor),
                ));
            }
            t.adjustments.push(Adjustment {
                id: id.clone(),
                session_id: session_id.clone(),
                by: kiosk.clone(),
                at: now,
                kind: AdjustmentKind::KioskPayment { amount, exit_by },
            });
            Ok(())
        },
    )
    .await?;
    if out.repeated {
        // The payment as it was recorded, not as it would be now.
        if let Some((paid, by)) = history::of_session(store, &s).await?.and_then(|t| {
            t.adjustments
                .iter()
                .find(|a| a.id == id)
                .and_then(|a| match a.kind {
                    AdjustmentKind::KioskPayment { amount, exit_by } => Some((amount, exit_by)),
                    _ => None,
                })
        }) {
            return Ok((out, by, Money::new(paid, currency)));
        }
    }
    Ok((out, exit_by, Money::new(amount, currency)))
}

/// A monthly pass as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPass {
    pub plate: Plate,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
}

/// The longest pass.
pub const MAX_PASS_DAYS: i64 = 366;

/// Issues a monthly pass: stays of the plate in the lot cost nothing
/// inside its period, and a stay running past it pays for the part
/// outside. `key` names the pass: the same key again issues nothing more.
///
/// # Errors
///
/// An invalid period (422), or the store's.
pub async fn issue_pass<S: Store>(
    store: &S,
    who: Staff<'_>,
    new: &NewPass,
    key: &str,
) -> Result<(Pass, bool), ActionError> {
    let (now, actor, lot_id) = (who.now, who.actor, who.lot_id);
    if new.valid_until <= new.valid_from {
        return Err(ActionError::invalid(
            "valid_until",
            "must be after valid_from",
        ));
    }
    if new.valid_until.duration_since(new.valid_from)
        > SignedDuration::from_hours(MAX_PASS_DAYS * 24)
    {
        return Err(ActionError::invalid(
            "valid_until",
            format!("a pass lasts at most {MAX_PASS_DAYS} days"),
        ));
    }
    if !new.plate.is_readable() {
        return Err(ActionError::invalid("plate", "not a plate"));
    }
    // The whole request names the pass: the same key with another plate or
    // period is another pass, never a change of the first.
    let id = action_id(
        "pass",
        &[
            lot_id.as_str(),
            &actor.subject,
            key,
            &new.plate.key(),
            &new.valid_from.to_string(),
            &new.valid_until.to_string(),
        ],
    );
    let pass = Pass {
        id: PassId::parse(id.as_str()).unwrap_or_else(|_| unreachable!("action ids are pass ids")),
        lot_id: lot_id.clone(),
        plate: new.plate.clone(),
        valid_from: new.valid_from,
        valid_until: new.valid_until,
        created_by: actor.clone(),
        created_at: now,
    };
    let entry = audit(who, &id, "pass.issue", pass.id.as_str(), "", None);
    let p = pass.clone();
    let out = amend(
        store,
        now,
        Action {
            lot_id,
            plate: &new.plate,
            id,
            session: None,
            audit: Some(entry),
            pass: Some(pass.clone()),
            outbox: Vec::new(),
        },
        |t| {
            t.passes.push(p.clone());
            Ok(())
        },
    )
    .await?;
    Ok((pass, out.repeated))
}
