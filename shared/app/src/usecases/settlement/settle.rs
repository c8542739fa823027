//! Moving a stay's money at the provider, exactly once and to its
//! balance.
//!
//! A payment order is a prompt, not an amount: whatever it says, the
//! stay's balance ([`crate::balance`]) is read afresh and the movement it
//! wants is made (a charge of what is still owed, or a refund of what was
//! collected beyond it), one at a time, until it wants nothing. So a
//! retry, a redrive or an order that overtook another moves only what is
//! owed at that moment, and never money for a stay that no longer owes
//! it.
//!
//! Per movement: the plate's `n`-th movement in the lot has its own key
//! ([`movement_key`]), whichever of its stays it is for; it is *claimed*
//! in the store before the provider is called, so two settlers of the
//! plate's stays race for one key and one of them waits: one plate's
//! money moves in sequence, even while a late read moves it from one stay
//! to another. If an earlier holder gave the claim up or vanished, its
//! movement is looked up at the provider as it was asked (the key keeps
//! it, and the time of the first claim) before anything else is done
//! under the key; found nothing, the key is used for the same movement
//! only, and given up (a transient failure that moved nothing) when the
//! balance now wants another. The outcome is kept on the attempt and
//! recorded on the plate's timeline, where the balance reads it.
//!
//! Failures by cause ([`Cause`]): the card's is final for the movement,
//! told to the driver, and tried again after [`RETRY_AFTER`]; ours (a
//! refused request, refused credentials) raise an alarm and are tried
//! again after the same waits under a new key, never told to the driver as
//! a card problem; the provider's moment (timeout, 429) gives the claim
//! up for the message to come back; a 5xx, which the provider keeps under
//! the key, is looked up and then tried under a new key.
//!
//! A fee with no stay (a late cancellation, a no-show) is one charge,
//! settled by [`settle_charge`] attempt by attempt.

use jiff::{SignedDuration, Timestamp};
use parking_core::Money;

use crate::balance::{Balance, Next};
use crate::ids::*;
use crate::model::PaymentMethod;
use crate::outbox::{Notification, NotificationKind, OutboxMessage, PaymentKind, PaymentOrder};
use crate::settlement::*;
use crate::store::prelude::*;
use crate::timeline::SettlementRecord;

use crate::usecases::adjust::{Action, ActionError, amend};

/// How long a claim holds an attempt: longer than everything one
/// delivery asks of the provider can take (a few calls of at most 20 s
/// each, and the payments function's timeout), shorter than the queue's
/// visibility timeout, so a redelivery finds it free. A holder that stops
/// early gives the claim up at once.
pub const LEASE: SignedDuration = SignedDuration::from_secs(300);

/// After failed movement `n` in a row (the card's, or ours), the next is
/// tried `RETRY_AFTER[n - 1]` later; after the last, the stay waits for a
/// person (`needs_review`). Together they outlast a long outage or a
/// rotated key: more than a day.
pub const RETRY_AFTER: [SignedDuration; 4] = [
    SignedDuration::from_hours(1),
    SignedDuration::from_hours(6),
    SignedDuration::from_hours(24),
    SignedDuration::from_hours(72),
];

/// How far before its claim a charge is looked for: clocks differ.
const LOOKUP_SLACK: SignedDuration = SignedDuration::from_secs(300);

/// At most this many movements in one call (a refund split across
/// charges is one movement a charge).
const MAX_MOVES: usize = 8;

/// What became of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Money moved (the provider's id of the last charge or refund made).
    Charged(String),
    /// Nothing is left to move: the balance is settled, or what it owes
    /// is less than the provider's smallest charge (carried).
    Balanced,
    /// Failed for this attempt, with a reason the app can show; it is
    /// tried again later.
    Failed(String),
    /// Failed after the last retry: retries stop, and a person decides.
    GaveUp(String),
    /// Not known yet (the provider timed out or failed, or another
    /// delivery holds the attempt): deliver the message again later.
    Retry(String),
}

/// Why an order cannot be settled at all.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error("order {0} is not a charge")]
    NotACharge(IdempotencyKey),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The key of attempt `n` (1, 2, …) of a fee's order.
pub fn attempt_key(order: &IdempotencyKey, n: u32) -> IdempotencyKey {
    IdempotencyKey::derived(&format!("{order}.a{n}"))
}

/// The key of a plate's `n`-th movement of money in a lot (1, 2, …),
/// whichever of its stays it is for: one key space per plate, so two
/// settlers of its stays race for one key even while a late read moves
/// the money from one stay to another. The plate is hashed, never sent.
pub fn movement_key(lot: &LotId, plate: &parking_core::Plate, n: u32) -> IdempotencyKey {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(lot.as_str().as_bytes());
    h.update([0]);
    h.update(plate.key().as_bytes());
    h.update([0]);
    h.update(n.to_string().as_bytes());
    let hex: String = h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    IdempotencyKey::derived(&format!("m-{hex}.{n}"))
}

/// When a failure that is the `n`-th in a row is tried again; `None`
/// after the last, and for a card whose holder must act (the driver pays
/// in the app).
fn retry_time(e: &ProviderError, now: Timestamp, n: u32) -> Option<Timestamp> {
    if e == &ProviderError::AuthenticationRequired {
        return None;
    }
    RETRY_AFTER
        .get(n.saturating_sub(1) as usize)
        .and_then(|w| now.checked_add(*w).ok())
}

/// Whether a failed attempt is the last: not transient, not waiting for
/// the cardholder, and with no retry.
fn gave_up(state: &AttemptState) -> bool {
    matches!(
        state,
        AttemptState::Failed { cause, retry_at: None, reason }
            if *cause != Some(Cause::Transient)
                && reason != &ProviderError::AuthenticationRequired.to_string()
    )
}

/// A claim held on an attempt, and what the holder may do with it.
struct Held<'a, S> {
    store: &'a S,
    key: IdempotencyKey,
    holder: u64,
    now: Timestamp,
}

impl<S: AttemptStore> Held<'_, S> {
    /// Records the outcome; returns the attempt as stored.
    async fn finish(&self, state: AttemptState) -> Result<Attempt, SettleError> {
        Ok(self
            .store
            .finish_attempt(&self.key, self.holder, &state, self.now)
            .await?)
    }

    async fn failed(
        &self,
        e: &ProviderError,
        retry_at: Option<Timestamp>,
    ) -> Result<Attempt, SettleError> {
        if matches!(e.cause(), Cause::Request | Cause::Configuration) {
            // The alarm's metric filter matches this event's fields.
            tracing::error!(
                alarm = "payment_provider_refused",
                cause = ?e.cause(),
                attempt = %self.key,
                error = %e,
                "the payment provider refused our request"
            );
        }
        self.finish(AttemptState::Failed {
            reason: e.to_string(),
            cause: Some(e.cause()),
            retry_at,
        })
        .await
    }

    /// Gives the attempt up at once, so the next delivery need not wait
    /// out the lease; that delivery asks the provider before doing
    /// anything. A stored answer (a 5xx) is kept on the claim.
    async fn release(&self, why: &ProviderError) -> Result<Settled, SettleError> {
        self.release_keeping(why, None).await
    }

    /// Gives the attempt up, keeping a stored answer an earlier holder
    /// met (a lookup that failed since does not make it go away).
    async fn release_keeping(
        &self,
        why: &ProviderError,
        kept: Option<String>,
    ) -> Result<Settled, SettleError> {
        let until = self
            .now
            .checked_sub(SignedDuration::from_secs(1))
            .unwrap_or(self.now);
        let state = AttemptState::Claimed {
            holder: self.holder,
            until,
            stored: why.is_stored().then(|| why.to_string()).or(kept),
        };
        self.store
            .finish_attempt(&self.key, self.holder, &state, self.now)
            .await?;
        Ok(Settled::Retry(why.to_string()))
    }
}

fn claimed(key: &IdempotencyKey, order: &PaymentOrder, holder: u64, now: Timestamp) -> Attempt {
    Attempt {
        key: key.clone(),
        order_key: order.idempotency_key.clone(),
        kind: order.kind,
        amount: order.amount,
        refunds: None,
        order: Some(order.clone()),
        state: AttemptState::Claimed {
            holder,
            until: now.checked_add(LEASE).unwrap_or(now),
            stored: None,
        },
        updated_at: now,
    }
}

/// The card `order` is charged to, and the driver's customer at the
/// provider (saved there first if it is not yet).
async fn card<S, P>(
    store: &S,
    provider: &P,
    order: &PaymentOrder,
) -> Result<Result<(PaymentMethod, String), ProviderError>, SettleError>
where
    S: DriverStore,
    P: PaymentProvider,
{
    let methods = store.payment_methods(&order.driver_id).await?;
    let Some(method) = methods.iter().find(|m| m.id == order.method_id) else {
        return Ok(Err(ProviderError::CardRemoved));
    };
    if let Some(c) = &method.customer {
        return Ok(Ok((method.clone(), c.clone())));
    }
    let known = methods.iter().find_map(|m| m.customer.as_deref());
    match provider
        .save_card(&order.driver_id, known, &method.token)
        .await
    {
        Ok(c) => {
            store
                .set_payment_customer(&order.driver_id, &method.id, &c)
                .await?;
            Ok(Ok((method.clone(), c)))
        }
        Err(e) => Ok(Err(e)),
    }
}

/// Settles attempt `n` of a fee's charge order (an order with no stay).
///
/// # Errors
///
/// [`SettleError::NotACharge`] for a refund order, or the store's.
pub async fn settle_charge<S, P>(
    store: &S,
    provider: &P,
    order: &PaymentOrder,
    n: u32,
    now: Timestamp,
) -> Result<Settled, SettleError>
where
    S: AttemptStore + DriverStore,
    P: PaymentProvider,
{
    if order.kind != PaymentKind::Charge {
        return Err(SettleError::NotACharge(order.idempotency_key.clone()));
    }
    let key = attempt_key(&order.idempotency_key, n);
    let held = Held {
        store,
        key: key.clone(),
        holder: nonce(),
        now,
    };
    let taken_over = match store
        .claim_attempt(&claimed(&key, order, held.holder, now), now)
        .await?
    {
        Claim::Busy => return Ok(Settled::Retry("another delivery is settling it".into())),
        Claim::Finished(a) => return Ok(outcome(&a.state)),
        Claim::Claimed { taken_over } => taken_over,
    };
    if order.amount.minor < minimum_charge(order.amount.currency) {
        let e = ProviderError::Request(format!("{} is below the smallest charge", order.amount));
        return Ok(outcome(&held.failed(&e, None).await?.state));
    }
    let (method, customer) = match card(store, provider, order).await? {
        Ok(c) => c,
        Err(e) if e.is_retryable() => return held.release(&e).await,
        Err(e) => return fee_failed(&held, &e, n).await,
    };
    let request = ChargeRequest {
        key: &key,
        token: &method.token,
        customer: Some(&customer),
        amount: order.amount,
    };
    // An earlier holder may have charged and gone before recording it.
    if let Some(prev) = &taken_over {
        match provider.find_charge(&request, since(prev)).await {
            Ok(Some(c)) => return Ok(outcome(&held.finish(succeeded(c)).await?.state)),
            Ok(None) if prev_stored(prev) => {
                let e = ProviderError::Failed("the provider kept a failure".into());
                return fee_failed(&held, &e, n).await;
            }
            Ok(None) => {}
            Err(e) => return held.release(&e).await,
        }
    }
    match provider.charge(&request).await {
        Ok(c) => Ok(outcome(&held.finish(succeeded(c)).await?.state)),
        Err(e) if e.is_retryable() => held.release(&e).await,
        Err(e) => fee_failed(&held, &e, n).await,
    }
}

/// A fee's failed attempt: tried again later under a new attempt, until
/// the last, after which a person decides.
async fn fee_failed<S: AttemptStore>(
    held: &Held<'_, S>,
    e: &ProviderError,
    n: u32,
) -> Result<Settled, SettleError> {
    let wait = if e.cause() == Cause::Transient {
        held.now.checked_add(SignedDuration::from_mins(5)).ok()
    } else {
        retry_time(e, held.now, n)
    };
    let stored = held.failed(e, wait).await?;
    Ok(match &stored.state {
        AttemptState::Failed { reason, .. } if gave_up(&stored.state) => {
            Settled::GaveUp(reason.clone())
        }
        state => outcome(state),
    })
}

/// From when a movement taken over is looked for: its first claim (a
/// takeover keeps the order it was claimed with), less clocks' slack.
fn since(prev: &Attempt) -> Timestamp {
    let first = prev
        .order
        .as_ref()
        .map_or(prev.updated_at, |o| o.created_at.min(prev.updated_at));
    first.checked_sub(LOOKUP_SLACK).unwrap_or(first)
}

fn prev_stored(prev: &Attempt) -> bool {
    matches!(
        prev.state,
        AttemptState::Claimed {
            stored: Some(_),
            ..
        }
    )
}

/// Who asks for a stay's balance to be settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// An order or a scheduled retry: a movement that failed waits for
    /// its retry time.
    Order,
    /// The driver (paying now) or staff (charging): a failed movement is
    /// tried again at once.
    Now,
}

/// A movement to make.
struct Movement {
    kind: PaymentKind,
    amount: Money,
    refund_of: Option<String>,
}

/// Settles the balance of the stay that holds `session`'s money: one
/// movement after another, each under its own key, until the balance
/// wants nothing, a movement fails, or the provider must be asked again
/// later.
///
/// # Errors
///
/// The store's; the session must exist.
pub async fn settle_stay<S, P>(
    store: &S,
    provider: &P,
    session: &SessionId,
    asked: Asked,
    now: Timestamp,
) -> Result<Settled, SettleError>
where
    S: Store,
    P: PaymentProvider,
{
    let mut done = Settled::Balanced;
    for _ in 0..MAX_MOVES {
        let stay = store.get_session(session).await?;
        let Some(timeline) = crate::history::of_session(store, &stay).await? else {
            return Ok(done);
        };
        let Some(balance) = Balance::of(&timeline, session) else {
            return Ok(done);
        };
        let Some(account) = timeline
            .sessions
            .iter()
            .find(|s| s.id == balance.account)
            .cloned()
        else {
            return Ok(done);
        };
        let currency = balance.currency;
        let movement = match balance.next(now, asked == Asked::Now) {
            Next::Nothing | Next::Carried(_) => return Ok(done),
            Next::Wait(_) => {
                let why = balance.last.and_then(|l| l.failure).unwrap_or_default();
                return Ok(Settled::Failed(why));
            }
            Next::GaveUp(why) => return Ok(Settled::GaveUp(why)),
            Next::Stuck(amount) => {
                return Err(StoreError::invalid(format!(
                    "{} collected beyond what is owed has no charge to come from",
                    Money::new(amount, currency)
                ))
                .into());
            }
            Next::Charge(amount) => Movement {
                kind: PaymentKind::Charge,
                amount: Money::new(amount, currency),
                refund_of: None,
            },
            Next::Refund { charge_id, amount } => Movement {
                kind: PaymentKind::Refund,
                amount: Money::new(amount, currency),
                refund_of: Some(charge_id),
            },
        };
        let (Some(driver_id), Some(method_id)) = (&account.driver_id, &account.method_id) else {
            return Ok(done);
        };
        let n = timeline.next_movement();
        let key = movement_key(&account.lot_id, &account.plate, n);
        let order = PaymentOrder {
            idempotency_key: key.clone(),
            session_id: Some(account.id.clone()),
            reservation_id: None,
            lot_id: account.lot_id.clone(),
            driver_id: driver_id.clone(),
            method_id: method_id.clone(),
            kind: movement.kind,
            amount: movement.amount,
            created_at: now,
            attempt: n,
            now: false,
        };
        let held = Held {
            store,
            key: key.clone(),
            holder: nonce(),
            now,
        };
        let mut attempt = claimed(&key, &order, held.holder, now);
        attempt.refunds = movement.refund_of.clone();
        let taken_over = match store.claim_attempt(&attempt, now).await? {
            Claim::Busy => return Ok(Settled::Retry("another delivery is settling it".into())),
            Claim::Finished(a) => {
                // Made, and not recorded: recorded now, on its own stay.
                record_movement(store, &owner(store, &account, &a).await?, n, &a, now).await?;
                continue;
            }
            Claim::Claimed { taken_over } => taken_over,
        };
        let before = match &balance.last {
            Some(l) if l.kind == movement.kind => balance.failures_in_a_row,
            _ => 0,
        };
        let made = match move_money(
            &held, provider, store, &order, &movement, taken_over, before,
        )
        .await?
        {
            Ok(a) => a,
            Err(retry) => return Ok(retry),
        };
        let owner = owner(store, &account, &made).await?;
        let recorded = record_movement(store, &owner, n, &made, now).await?;
        match (&made.state, recorded) {
            (AttemptState::Succeeded { charge_id, .. }, _) => {
                done = Settled::Charged(charge_id.clone());
            }
            (AttemptState::Failed { cause, .. }, _) if *cause == Some(Cause::Transient) => {}
            (AttemptState::Failed { reason, .. }, Some(r)) if r.gave_up => {
                return Ok(Settled::GaveUp(reason.clone()));
            }
            (AttemptState::Failed { reason, .. }, _) => return Ok(Settled::Failed(reason.clone())),
            (AttemptState::Claimed { .. }, _) => {
                return Ok(Settled::Retry("another delivery is settling it".into()));
            }
        }
    }
    Ok(Settled::Retry("more movements are left".into()))
}

/// The stay a movement was claimed for (a movement taken over, or found
/// made, may be another stay's of the plate).
async fn owner<S: Store>(
    store: &S,
    account: &crate::model::Session,
    made: &Attempt,
) -> Result<crate::model::Session, SettleError> {
    match made.order.as_ref().and_then(|o| o.session_id.as_ref()) {
        Some(id) if id != &account.id => Ok(store.get_session(id).await?),
        _ => Ok(account.clone()),
    }
}

/// Makes a claimed movement at the provider: first, for a claim taken
/// over, by looking up what its earlier holder did; the key then stands
/// for that movement only. `Err` is the answer to give when the outcome
/// is not known yet (the claim is given up).
async fn move_money<S, P>(
    held: &Held<'_, S>,
    provider: &P,
    store: &S,
    order: &PaymentOrder,
    movement: &Movement,
    taken_over: Option<Attempt>,
    failures_before: u32,
) -> Result<Result<Attempt, Settled>, SettleError>
where
    S: AttemptStore + DriverStore,
    P: PaymentProvider,
{
    // The earlier holder's movement is looked up as it was asked.
    if let Some(prev) = &taken_over {
        let found = match (prev.kind, &prev.refunds) {
            (PaymentKind::Refund, Some(of)) => provider
                .find_refund(&RefundRequest {
                    key: &held.key,
                    charge_id: of,
                    amount: prev.amount,
                })
                .await
                .map(|r| r.map(|r| (r.id, r.amount))),
            _ => match card(store, provider, order).await? {
                Ok((method, customer)) => provider
                    .find_charge(
                        &ChargeRequest {
                            key: &held.key,
                            token: &method.token,
                            customer: Some(&customer),
                            amount: prev.amount,
                        },
                        since(prev),
                    )
                    .await
                    .map(|c| c.map(|c| (c.id, c.amount))),
                Err(e) => Err(e),
            },
        };
        let same = prev.kind == movement.kind
            && prev.amount == movement.amount
            && prev.refunds == movement.refund_of
            && prev.order.as_ref().and_then(|o| o.session_id.as_ref()) == order.session_id.as_ref();
        match found {
            Ok(Some((id, amount))) => {
                return Ok(Ok(held
                    .finish(AttemptState::Succeeded {
                        charge_id: id,
                        moved: Some(amount),
                    })
                    .await?));
            }
            Ok(None) if prev_stored(prev) => {
                let e = ProviderError::Failed("the provider kept a failure under the key".into());
                return Ok(Ok(held.failed(&e, None).await?));
            }
            // Nothing moved under the key, and the balance now wants
            // another movement: the key is given up, never reused for it.
            Ok(None) if !same => {
                let e = ProviderError::Unavailable(
                    "nothing was moved under the key, and the balance changed since".into(),
                );
                return Ok(Ok(held.failed(&e, None).await?));
            }
            Ok(None) => {}
            Err(e) => {
                let kept = match &prev.state {
                    AttemptState::Claimed { stored, .. } => stored.clone(),
                    _ => None,
                };
                return Ok(Err(held.release_keeping(&e, kept).await?));
            }
        }
    }
    let answer = match (movement.kind, &movement.refund_of) {
        (PaymentKind::Refund, Some(of)) => provider
            .refund(&RefundRequest {
                key: &held.key,
                charge_id: of,
                amount: movement.amount,
            })
            .await
            .map(|r| (r.id, r.amount)),
        _ => match card(store, provider, order).await? {
            Ok((method, customer)) => provider
                .charge(&ChargeRequest {
                    key: &held.key,
                    token: &method.token,
                    customer: Some(&customer),
                    amount: movement.amount,
                })
                .await
                .map(|c| (c.id, c.amount)),
            Err(e) => Err(e),
        },
    };
    match answer {
        Ok((id, amount)) => Ok(Ok(held
            .finish(AttemptState::Succeeded {
                charge_id: id,
                moved: Some(amount),
            })
            .await?)),
        Err(e) if e.is_retryable() => Ok(Err(held.release(&e).await?)),
        Err(e) => {
            let retry_at = retry_time(&e, held.now, failures_before + 1);
            Ok(Ok(held.failed(&e, retry_at).await?))
        }
    }
}

/// Records a finished movement on the stay's timeline (once: the record's
/// id is the key's). A card's failure to charge is told to the driver in
/// the same write, as is a refund given up. Returns the record.
async fn record_movement<S: Store>(
    store: &S,
    account: &crate::model::Session,
    n: u32,
    made: &Attempt,
    now: Timestamp,
) -> Result<Option<SettlementRecord>, SettleError> {
    let (charge_id, moved, failure, cause, retry_at) = match &made.state {
        AttemptState::Succeeded { charge_id, moved } => (
            Some(charge_id.clone()),
            moved.unwrap_or(made.amount),
            None,
            None,
            None,
        ),
        AttemptState::Failed {
            reason,
            cause,
            retry_at,
        } => (None, made.amount, Some(reason.clone()), *cause, *retry_at),
        AttemptState::Claimed { .. } => return Ok(None),
    };
    let gave_up = gave_up(&made.state);
    let record = SettlementRecord {
        id: crate::usecases::adjust::action_id("settle", &[made.key.as_str()]),
        session_id: account.id.clone(),
        key: made.key.clone(),
        kind: made.kind,
        amount: moved,
        attempt: n,
        charge_id,
        refund_of: made.refunds.clone(),
        reverses: None,
        failure,
        cause,
        retry_at,
        gave_up,
        at: now,
    };
    let order = made.order.clone();
    let notify = match (&record.failure, record.kind, record.cause) {
        (Some(reason), PaymentKind::Charge, Some(Cause::Card)) => {
            Some(NotificationKind::PaymentFailed {
                amount: record.amount,
                reason: reason.clone(),
                retrying: retry_at.is_some(),
            })
        }
        (Some(_), PaymentKind::Refund, _) if gave_up => Some(NotificationKind::RefundDelayed {
            amount: record.amount,
        }),
        _ => None,
    };
    let mut outbox: Vec<OutboxMessage> = notify
        .zip(order.as_ref())
        .map(|(kind, o)| {
            OutboxMessage::Notifications(Notification {
                id: format!("{}/{}", record.id, kind_name(&kind)),
                driver_id: o.driver_id.clone(),
                lot_id: o.lot_id.clone(),
                session_id: Some(account.id.clone()),
                reservation_id: None,
                kind,
                at: now,
            })
        })
        .into_iter()
        .collect();
    // The lot's webhook subscribers hear of a charge that failed for good
    // (one read of the lot, on this rare path only).
    if gave_up
        && record.kind == PaymentKind::Charge
        && store
            .get_lot(&account.lot_id)
            .await?
            .hooked(crate::hooks::EventType::PaymentFailed)
    {
        outbox.push(OutboxMessage::Webhooks(crate::hooks::HookMessage::Event(
            crate::hooks::LotEvent::new(
                crate::hooks::EventType::PaymentFailed,
                account.lot_id.clone(),
                record.key.as_str(),
                now,
                serde_json::json!({
                    "session_id": account.id,
                    "amount": {"amount": record.amount.minor, "currency": record.amount.currency.code()},
                    "reason": record.failure,
                    "attempts": n,
                }),
            ),
        )));
    }
    if gave_up {
        tracing::error!(
            alarm = "payment_gave_up",
            movement = %record.key,
            kind = ?record.kind,
            "a stay's payment failed after its last retry and waits for a person"
        );
    }
    if record.kind == PaymentKind::Refund && record.failure.is_some() {
        tracing::error!(
            alarm = "refund_failed",
            movement = %record.key,
            "a refund failed at the payment provider"
        );
    }
    amend(
        store,
        now,
        Action {
            lot_id: &account.lot_id,
            plate: &account.plate,
            id: record.id.clone(),
            session: Some(&account.id),
            audit: Some(book_entry(account, &record)),
            pass: None,
            outbox,
        },
        |t| {
            t.settlements.push(record.clone());
            t.movements = t.movements.max(record.attempt);
            Ok(())
        },
    )
    .await
    .map_err(|e| match e {
        ActionError::Store(e) => SettleError::Store(e),
        other => SettleError::Store(StoreError::invalid(other.to_string())),
    })?;
    Ok(Some(record))
}

/// Who records the provider's movements in the lot's audit trail.
pub const SETTLEMENT_ROLE: &str = "system";

/// A movement as the lot's books keep it: in the audit trail, by the
/// time it was recorded, with the provider's id as its note, under
/// `payment.charge`, `payment.refund`, `payment.charge_failed` or
/// `payment.refund_failed`. The daily report and the reconciliation
/// export read them.
fn book_entry(account: &crate::model::Session, r: &SettlementRecord) -> crate::model::AuditEntry {
    let kind = match r.kind {
        PaymentKind::Charge => "charge",
        PaymentKind::Refund => "refund",
    };
    let (action, note) = match (&r.charge_id, &r.failure) {
        (Some(id), _) => (format!("payment.{kind}"), id.clone()),
        (None, failure) => (
            format!("payment.{kind}_failed"),
            failure.clone().unwrap_or_default(),
        ),
    };
    crate::model::AuditEntry {
        id: r.id.clone(),
        lot_id: account.lot_id.clone(),
        at: r.at,
        actor: crate::model::Actor {
            role: SETTLEMENT_ROLE.into(),
            subject: "settlement".into(),
        },
        action,
        target: account.id.to_string(),
        note,
        amount: Some(r.amount.minor),
    }
}

fn kind_name(kind: &NotificationKind) -> &'static str {
    match kind {
        NotificationKind::RefundDelayed { .. } => "refund_delayed",
        _ => "payment_failed",
    }
}

/// Settles a payment order: for a stay, its balance
/// ([`settle_stay`]); for a fee with no stay, attempt `order.attempt` of
/// its charge ([`settle_charge`]).
///
/// # Errors
///
/// The store's; the order's session must exist.
pub async fn settle_order<S, P>(
    store: &S,
    provider: &P,
    order: &PaymentOrder,
    now: Timestamp,
) -> Result<Settled, SettleError>
where
    S: Store,
    P: PaymentProvider,
{
    match &order.session_id {
        Some(session) => {
            let asked = if order.now { Asked::Now } else { Asked::Order };
            settle_stay(store, provider, session, asked, now).await
        }
        None => {
            let n = order.attempt.max(1);
            let settled = settle_charge(store, provider, order, n, now).await?;
            book_fee(store, order, n, &settled, now).await?;
            Ok(settled)
        }
    }
}

/// A fee's outcome in the lot's books (`payment.fee` or
/// `payment.fee_failed`, for its reservation), so a fee that failed is
/// seen in the reconciliation export like any charge; one given up is
/// also alarmed.
async fn book_fee<S: Store>(
    store: &S,
    order: &PaymentOrder,
    n: u32,
    settled: &Settled,
    now: Timestamp,
) -> Result<(), SettleError> {
    let (action, note) = match settled {
        Settled::Charged(id) => ("payment.fee", id.clone()),
        Settled::Failed(why) => ("payment.fee_failed", why.clone()),
        Settled::GaveUp(why) => {
            tracing::error!(
                alarm = "payment_gave_up",
                order = %order.idempotency_key,
                "a fee's payment failed after its last retry"
            );
            ("payment.fee_failed", why.clone())
        }
        Settled::Balanced | Settled::Retry(_) => return Ok(()),
    };
    let target = order
        .reservation_id
        .as_ref()
        .map_or_else(|| order.idempotency_key.to_string(), ToString::to_string);
    store
        .record_audit(&crate::model::AuditEntry {
            id: crate::usecases::adjust::action_id(
                "settle",
                &[attempt_key(&order.idempotency_key, n).as_str()],
            ),
            lot_id: order.lot_id.clone(),
            at: now,
            actor: crate::model::Actor {
                role: SETTLEMENT_ROLE.into(),
                subject: "settlement".into(),
            },
            action: action.into(),
            target,
            note,
            amount: Some(order.amount.minor),
        })
        .await?;
    Ok(())
}

fn succeeded(c: ProviderCharge) -> AttemptState {
    AttemptState::Succeeded {
        charge_id: c.id,
        moved: Some(c.amount),
    }
}

fn outcome(state: &AttemptState) -> Settled {
    match state {
        AttemptState::Succeeded { charge_id, .. } => Settled::Charged(charge_id.clone()),
        AttemptState::Failed { reason, .. } => Settled::Failed(reason.clone()),
        AttemptState::Claimed { .. } => Settled::Retry("in progress".into()),
    }
}

fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Why a payments message could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The body is not a payment order: it will never settle, and goes
    /// to the dead-letter queue after its retries with nothing lost.
    #[error("the message is not a payment order: {0}")]
    Malformed(String),
    #[error(transparent)]
    Settle(#[from] SettleError),
}

/// Reads a payments message's body.
///
/// # Errors
///
/// [`MessageError::Malformed`], naming the field that is wrong.
pub fn read_order(body: &str) -> Result<PaymentOrder, MessageError> {
    let de = &mut serde_json::Deserializer::from_str(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // A quoted value is left out: it is whatever was sent.
        let problem = if inner.contains('"') {
            "has a value of the wrong type or form".to_owned()
        } else {
            inner
        };
        MessageError::Malformed(if path == "." {
            problem
        } else {
            format!("{path}: {problem}")
        })
    })
}

/// A message as the queue delivered it.
#[derive(Debug, Clone, Copy)]
pub struct Delivered<'a> {
    /// The queue's id of the message.
    pub id: &'a str,
    /// Its message group (FIFO queues): order holds within a group.
    pub group: Option<&'a str>,
    pub body: &'a str,
}

/// What became of one message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Settled (charged, refunded or finally failed): delete it.
    Done(Settled),
    /// Deliver it again later, after a pause.
    Again(String),
    /// It can never be settled: deliver it again until the queue moves
    /// it to its dead-letter queue.
    Poison(String),
}

/// Settles a batch of payments messages in order. A message whose group
/// already had a failure in this batch is not tried (it goes back with
/// it, so a group's orders stay in order); other groups go on.
pub async fn settle_batch<S, P>(
    store: &S,
    provider: &P,
    batch: &[Delivered<'_>],
    now: Timestamp,
) -> Vec<Verdict>
where
    S: Store,
    P: PaymentProvider,
{
    let mut held_back: Vec<&str> = Vec::new();
    let mut verdicts = Vec::with_capacity(batch.len());
    for m in batch {
        if let Some(g) = m.group
            && held_back.contains(&g)
        {
            verdicts.push(Verdict::Again(
                "an earlier message of its group is not settled".into(),
            ));
            continue;
        }
        let verdict = match read_order(m.body) {
            Err(e) => Verdict::Poison(e.to_string()),
            Ok(order) => match settle_order(store, provider, &order, now).await {
                Ok(Settled::Retry(why)) => Verdict::Again(why),
                Ok(done) => Verdict::Done(done),
                Err(SettleError::Store(e)) if e.is_retryable() => Verdict::Again(e.to_string()),
                Err(e) => Verdict::Poison(e.to_string()),
            },
        };
        if !matches!(verdict, Verdict::Done(_))
            && let Some(g) = m.group
        {
            held_back.push(g);
        }
        verdicts.push(verdict);
    }
    verdicts
}
