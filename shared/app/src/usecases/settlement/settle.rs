//! Charging a payment order's card, exactly once.
//!
//! Per attempt: claim it in the store; if an earlier holder gave it up or
//! vanished (its lease ran out), ask the provider whether it charged under
//! the attempt's key before charging; call the provider with the
//! attempt's key; record the outcome. A timeout or a provider failure
//! gives the claim up and the message is delivered again: the next
//! delivery finds the charge by its key instead of making a second one.
//! A second delivery while the first is still at it is told to come back
//! later. A decline or a card that needs authentication is final for the
//! attempt: a later retry is a new attempt with a new key.

use jiff::{SignedDuration, Timestamp};
use parking_core::Money;

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

/// After a declined attempt `n`, the next is tried `RETRY_AFTER[n - 1]`
/// later; after the last, the stay waits for a person (`needs_review`).
/// A card that needs its holder is never tried again on its own: the
/// driver acts in the app.
pub const RETRY_AFTER: [SignedDuration; 3] = [
    SignedDuration::from_hours(1),
    SignedDuration::from_hours(6),
    SignedDuration::from_hours(24),
];

/// How far before its order a charge is looked for: clocks differ.
const LOOKUP_SLACK: SignedDuration = SignedDuration::from_secs(300);

/// What became of a charge order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Charged now or before (the provider's charge id).
    Charged(String),
    /// Declined or needs authentication: final for this attempt, with a
    /// reason the app can show.
    Failed(String),
    /// Declined on the last attempt: retries stop, and a person decides.
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
    #[error("order {0} is not a refund")]
    NotARefund(IdempotencyKey),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The key of attempt `n` (1, 2, …) of an order.
pub fn attempt_key(order: &IdempotencyKey, n: u32) -> IdempotencyKey {
    IdempotencyKey::derived(&format!("{order}.a{n}"))
}

/// A claim held on an attempt, and what the holder may do with it.
struct Held<'a, S> {
    store: &'a S,
    key: IdempotencyKey,
    holder: u64,
    now: Timestamp,
}

impl<S: AttemptStore> Held<'_, S> {
    /// Records the outcome.
    async fn finish(&self, state: AttemptState) -> Result<Settled, SettleError> {
        let stored = self
            .store
            .finish_attempt(&self.key, self.holder, &state, self.now)
            .await?;
        Ok(outcome(&stored.state))
    }

    async fn failed(&self, reason: impl Into<String>) -> Result<Settled, SettleError> {
        self.finish(AttemptState::Failed {
            reason: reason.into(),
            retry_at: None,
        })
        .await
    }

    /// A declined charge: tried again later under a new attempt, until
    /// the last attempt, after which a person decides.
    async fn declined(&self, e: &ProviderError, n: u32) -> Result<Settled, SettleError> {
        let reason = e.to_string();
        let Some(wait) = RETRY_AFTER.get(n.saturating_sub(1) as usize) else {
            self.failed(reason.clone()).await?;
            return Ok(Settled::GaveUp(reason));
        };
        self.finish(AttemptState::Failed {
            reason,
            retry_at: self.now.checked_add(*wait).ok(),
        })
        .await
    }

    /// Gives the attempt up at once, so the next delivery need not wait
    /// out the lease; that delivery asks the provider before doing
    /// anything.
    async fn release(&self, why: &ProviderError) -> Result<Settled, SettleError> {
        let until = self
            .now
            .checked_sub(SignedDuration::from_secs(1))
            .unwrap_or(self.now);
        let state = AttemptState::Claimed {
            holder: self.holder,
            until,
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
        refunded_minor: 0,
        refunds: None,
        order: Some(order.clone()),
        state: AttemptState::Claimed {
            holder,
            until: now.checked_add(LEASE).unwrap_or(now),
        },
        updated_at: now,
    }
}

/// Settles attempt `n` of a charge order.
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
    S: AttemptStore + DriverStore + SessionStore,
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
        Claim::Exceeds { .. } => return Ok(Settled::Retry("the claim was refused".into())),
        Claim::Claimed { taken_over } => taken_over,
    };
    // A retry charges only what the stay still owes: one voided, paid at
    // the kiosk or settled another way meanwhile is not charged again.
    if n > 1
        && let Some(session_id) = &order.session_id
    {
        match store.get_session(session_id).await {
            Ok(s) if crate::timeline::owed(&s) <= 0 => {
                return held.failed("nothing is owed any more").await;
            }
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let methods = store.payment_methods(&order.driver_id).await?;
    let Some(method) = methods.iter().find(|m| m.id == order.method_id) else {
        return held.failed("the card was removed").await;
    };
    let customer = match &method.customer {
        Some(c) => c.clone(),
        None => {
            let known = methods.iter().find_map(|m| m.customer.as_deref());
            match provider
                .save_card(&order.driver_id, known, &method.token)
                .await
            {
                Ok(c) => {
                    let saved = PaymentMethod {
                        customer: Some(c.clone()),
                        ..method.clone()
                    };
                    store.add_payment_method(&saved).await?;
                    c
                }
                Err(e) if e.is_retryable() => return held.release(&e).await,
                Err(e) => return held.failed(e.to_string()).await,
            }
        }
    };
    let request = ChargeRequest {
        key: &key,
        token: &method.token,
        customer: Some(&customer),
        amount: order.amount,
    };
    // An earlier holder may have charged and gone before recording it.
    if taken_over.is_some() {
        let since = order
            .created_at
            .checked_sub(LOOKUP_SLACK)
            .unwrap_or(order.created_at);
        match provider.find_charge(&request, since).await {
            Ok(Some(c)) => return held.finish(succeeded(c)).await,
            Ok(None) => {}
            Err(e) => return held.release(&e).await,
        }
    }
    match provider.charge(&request).await {
        Ok(c) => held.finish(succeeded(c)).await,
        Err(e) if e.is_retryable() => held.release(&e).await,
        Err(e @ ProviderError::Declined { .. }) => held.declined(&e, n).await,
        Err(e) => held.failed(e.to_string()).await,
    }
}

/// Settles attempt `n` of a refund order: it refunds the latest charge of
/// the order's session that still has the amount left. The amount is
/// reserved on that charge when the attempt is first claimed, so no two
/// refunds ever take more than was charged, whatever the provider allows.
///
/// # Errors
///
/// [`SettleError::NotARefund`] for a charge order, or the store's.
pub async fn settle_refund<S, P>(
    store: &S,
    provider: &P,
    order: &PaymentOrder,
    n: u32,
    now: Timestamp,
) -> Result<Settled, SettleError>
where
    S: Store,
    P: PaymentProvider,
{
    if order.kind != PaymentKind::Refund {
        return Err(SettleError::NotARefund(order.idempotency_key.clone()));
    }
    let key = attempt_key(&order.idempotency_key, n);
    let held = Held {
        store,
        key: key.clone(),
        holder: nonce(),
        now,
    };
    let mut attempt = claimed(&key, order, held.holder, now);
    // An attempt already made or being made is what it is.
    if let Some(existing) = store.attempt(&key).await? {
        attempt.refunds = existing.refunds.clone();
        return match store.claim_attempt(&attempt, now).await? {
            Claim::Busy | Claim::Exceeds { .. } => {
                Ok(Settled::Retry("another delivery is settling it".into()))
            }
            Claim::Finished(a) => Ok(outcome(&a.state)),
            Claim::Claimed { .. } => match existing.refunds {
                Some(of) => refund_at_provider(&held, provider, order, &of, true).await,
                None => held.failed("the refund's charge is not known").await,
            },
        };
    }
    let Some(of) = refundable_charge(store, order).await? else {
        return Ok(Settled::Failed(format!(
            "nothing charged to the stay has {} left to refund",
            order.amount
        )));
    };
    attempt.refunds = Some(of.clone());
    let charged = store
        .attempt(&of.attempt)
        .await?
        .map_or(order.amount, |a| a.amount);
    match store.claim_refund(&attempt, charged, now).await? {
        Claim::Claimed { taken_over } => {
            let again = taken_over.is_some();
            refund_at_provider(&held, provider, order, &of, again).await
        }
        Claim::Busy => Ok(Settled::Retry("another delivery is settling it".into())),
        Claim::Finished(a) => Ok(outcome(&a.state)),
        Claim::Exceeds { remaining } => Ok(Settled::Failed(format!(
            "a refund of {} exceeds what remains of the charge ({})",
            order.amount,
            Money::new(remaining, order.amount.currency)
        ))),
    }
}

async fn refund_at_provider<S: AttemptStore, P: PaymentProvider>(
    held: &Held<'_, S>,
    provider: &P,
    order: &PaymentOrder,
    of: &RefundOf,
    again: bool,
) -> Result<Settled, SettleError> {
    let request = RefundRequest {
        key: &held.key,
        charge_id: &of.charge_id,
        amount: order.amount,
    };
    if again {
        match provider.find_refund(&request).await {
            Ok(Some(r)) => {
                return held
                    .finish(AttemptState::Succeeded { charge_id: r.id })
                    .await;
            }
            Ok(None) => {}
            Err(e) => return held.release(&e).await,
        }
    }
    match provider.refund(&request).await {
        Ok(r) => {
            held.finish(AttemptState::Succeeded { charge_id: r.id })
                .await
        }
        Err(e) if e.is_retryable() => held.release(&e).await,
        Err(e) => held.failed(e.to_string()).await,
    }
}

/// The latest successful charge of the order's session with the order's
/// amount still left (or else the latest): its attempt's key and the
/// provider's charge id.
async fn refundable_charge<S: Store>(
    store: &S,
    order: &PaymentOrder,
) -> Result<Option<RefundOf>, SettleError> {
    let Some(session_id) = &order.session_id else {
        return Ok(None);
    };
    let session = store.get_session(session_id).await?;
    let Some(timeline) = crate::history::of_session(store, &session).await? else {
        return Ok(None);
    };
    let charged: Vec<&PaymentOrder> = timeline
        .orders
        .iter()
        .filter(|o| o.is_for(session_id) && o.kind == PaymentKind::Charge)
        .collect();
    // The latest charge with enough left; failing that the latest charge,
    // whose claim then says how much remains.
    let mut latest = None;
    for o in charged.iter().rev() {
        let Some(record) = timeline.settlement_of(&o.idempotency_key) else {
            continue;
        };
        let Some(charge_id) = &record.charge_id else {
            continue;
        };
        let key = attempt_key(&o.idempotency_key, record.attempt);
        let Some(a) = store.attempt(&key).await? else {
            continue;
        };
        let of = RefundOf {
            attempt: key,
            charge_id: charge_id.clone(),
        };
        if a.amount.minor - a.refunded_minor >= order.amount.minor {
            return Ok(Some(of));
        }
        latest.get_or_insert(of);
    }
    Ok(latest)
}

/// Settles a payment order's attempt (`order.attempt`) and records a
/// final outcome on the plate's timeline with the order's session. A
/// charge's session becomes `paid`, or `payment_failed` with a
/// notification to the driver in the same step; a refund's outcome is
/// kept for the reports and the review queue. An order with no session (a
/// cancellation fee) keeps its outcome in its attempt.
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
    let n = order.attempt.max(1);
    let settled = match order.kind {
        PaymentKind::Charge => settle_charge(store, provider, order, n, now).await?,
        PaymentKind::Refund => settle_refund(store, provider, order, n, now).await?,
    };
    let (charge_id, failure, gave_up) = match &settled {
        Settled::Charged(id) => (Some(id.clone()), None, false),
        Settled::Failed(reason) => (None, Some(reason.clone()), false),
        Settled::GaveUp(reason) => (None, Some(reason.clone()), true),
        Settled::Retry(_) => return Ok(settled),
    };
    let Some(session_id) = &order.session_id else {
        return Ok(settled);
    };
    let record = SettlementRecord {
        id: crate::usecases::adjust::action_id(
            "settle",
            &[attempt_key(&order.idempotency_key, n).as_str()],
        ),
        order_key: order.idempotency_key.clone(),
        kind: order.kind,
        amount: order.amount,
        attempt: n,
        charge_id,
        failure,
        gave_up,
        at: now,
    };
    record_settlement(store, order, session_id, record, now).await?;
    Ok(settled)
}

/// Records a settlement's outcome on the session's plate timeline; a
/// failed charge also tells the driver, in the same write.
pub(crate) async fn record_settlement<S: Store>(
    store: &S,
    order: &PaymentOrder,
    session_id: &SessionId,
    record: SettlementRecord,
    now: Timestamp,
) -> Result<(), SettleError> {
    let session = store.get_session(session_id).await?;
    let notify = order.kind == PaymentKind::Charge;
    let outbox = record
        .failure
        .clone()
        .filter(|_| notify)
        .map(|reason| {
            OutboxMessage::Notifications(Notification {
                id: format!("{}/payment_failed", record.id),
                driver_id: order.driver_id.clone(),
                lot_id: order.lot_id.clone(),
                session_id: Some(session_id.clone()),
                reservation_id: None,
                kind: NotificationKind::PaymentFailed {
                    amount: order.amount,
                    // Declines are tried again until the last attempt.
                    retrying: reason.starts_with("the card was declined") && !record.gave_up,
                    reason,
                },
                at: now,
            })
        })
        .into_iter()
        .collect();
    amend(
        store,
        now,
        Action {
            lot_id: &session.lot_id,
            plate: &session.plate,
            id: record.id.clone(),
            session: Some(session_id),
            audit: None,
            pass: None,
            outbox,
        },
        |t| {
            t.settlements.push(record.clone());
            Ok(())
        },
    )
    .await
    .map_err(|e| match e {
        ActionError::Store(e) => SettleError::Store(e),
        other => SettleError::Store(StoreError::invalid(other.to_string())),
    })?;
    Ok(())
}

fn succeeded(c: ProviderCharge) -> AttemptState {
    AttemptState::Succeeded { charge_id: c.id }
}

fn outcome(state: &AttemptState) -> Settled {
    match state {
        AttemptState::Succeeded { charge_id } => Settled::Charged(charge_id.clone()),
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
