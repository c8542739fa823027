//! Charging a payment order's card, exactly once.
//!
//! Per attempt: claim it in the store; if an earlier holder vanished (its
//! lease ran out), ask the provider whether it charged under the
//! attempt's key before charging; call the provider with the attempt's
//! key; record the outcome. A timeout or a provider failure leaves the
//! claim to run out, and the message is delivered again: the next
//! delivery finds the charge by its key instead of making a second one.
//! A second delivery while the first is still at it is told to come back
//! later. A decline or a card that needs authentication is final for the
//! attempt: a later retry is a new attempt with a new key.

use jiff::{SignedDuration, Timestamp};

use crate::ids::*;
use crate::outbox::{Notification, NotificationKind, OutboxMessage, PaymentKind, PaymentOrder};
use crate::ports::*;
use crate::settlement::*;
use crate::timeline::SettlementRecord;

use super::adjust::{Action, ActionError, amend};

/// How long a claim holds an attempt: longer than a provider call can
/// take (the HTTP client's timeout), shorter than the queue's visibility
/// timeout, so a redelivery finds it free.
pub const LEASE: SignedDuration = SignedDuration::from_secs(60);

/// What became of a charge order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Charged now or before (the provider's charge id).
    Charged(String),
    /// Declined or needs authentication: final for this attempt, with a
    /// reason the app can show.
    Failed(String),
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

/// The key of attempt `n` (1, 2, …) of an order.
pub fn attempt_key(order: &PaymentOrder, n: u32) -> IdempotencyKey {
    IdempotencyKey::derived(&format!("{}.a{n}", order.idempotency_key))
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
    S: AttemptStore + DriverStore,
    P: PaymentProvider,
{
    if order.kind != PaymentKind::Charge {
        return Err(SettleError::NotACharge(order.idempotency_key.clone()));
    }
    let key = attempt_key(order, n);
    let holder = nonce();
    let until = now.checked_add(LEASE).unwrap_or(now);
    let claim = store
        .claim_attempt(
            &Attempt {
                key: key.clone(),
                order_key: order.idempotency_key.clone(),
                amount: order.amount,
                state: AttemptState::Claimed { holder, until },
                updated_at: now,
            },
            now,
        )
        .await?;
    let taken_over = match claim {
        Claim::Busy => return Ok(Settled::Retry("another delivery is settling it".into())),
        Claim::Finished(a) => return Ok(outcome(&a.state)),
        Claim::Claimed { taken_over } => taken_over.is_some(),
    };
    // An earlier holder may have charged and vanished before recording.
    if taken_over {
        match provider.find_charge(&key).await {
            Ok(Some(c)) => return finish(store, &key, holder, succeeded(c), now).await,
            Ok(None) => {}
            Err(e) => return Ok(Settled::Retry(e.to_string())),
        }
    }
    let methods = store.payment_methods(&order.driver_id).await?;
    let Some(method) = methods.iter().find(|m| m.id == order.method_id) else {
        let failed = AttemptState::Failed {
            reason: "the card was removed".into(),
        };
        return finish(store, &key, holder, failed, now).await;
    };
    let request = ChargeRequest {
        key: &key,
        token: &method.token,
        amount: order.amount,
    };
    match provider.charge(&request).await {
        Ok(c) => finish(store, &key, holder, succeeded(c), now).await,
        Err(e) if e.is_retryable() => Ok(Settled::Retry(e.to_string())),
        Err(e) => {
            let failed = AttemptState::Failed {
                reason: e.to_string(),
            };
            finish(store, &key, holder, failed, now).await
        }
    }
}

/// Settles attempt `n` of a charge order, and records a final outcome with
/// the order's session, which becomes `paid` or `payment_failed` (with a
/// notification to the driver, in the same step). An order with no
/// session (a cancellation fee) keeps its outcome in its attempt.
///
/// # Errors
///
/// As [`settle_charge`]; the order's session must exist.
pub async fn settle_order<S, P>(
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
    let settled = settle_charge(store, provider, order, n, now).await?;
    let (charge_id, failure) = match &settled {
        Settled::Charged(id) => (Some(id.clone()), None),
        Settled::Failed(reason) => (None, Some(reason.clone())),
        Settled::Retry(_) => return Ok(settled),
    };
    let Some(session_id) = &order.session_id else {
        return Ok(settled);
    };
    let session = store.get_session(session_id).await?;
    let key = attempt_key(order, n);
    let id = super::adjust::action_id("settle", &[key.as_str()]);
    let record = SettlementRecord {
        id: id.clone(),
        order_key: order.idempotency_key.clone(),
        attempt: n,
        charge_id,
        failure: failure.clone(),
        at: now,
    };
    let outbox = failure
        .map(|reason| {
            OutboxMessage::Notifications(Notification {
                id: format!("{key}/payment_failed"),
                driver_id: order.driver_id.clone(),
                lot_id: order.lot_id.clone(),
                session_id: session_id.clone(),
                kind: NotificationKind::PaymentFailed {
                    amount: order.amount,
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
            id,
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
    Ok(settled)
}

fn succeeded(c: ProviderCharge) -> AttemptState {
    AttemptState::Succeeded { charge_id: c.id }
}

fn outcome(state: &AttemptState) -> Settled {
    match state {
        AttemptState::Succeeded { charge_id } => Settled::Charged(charge_id.clone()),
        AttemptState::Failed { reason } => Settled::Failed(reason.clone()),
        AttemptState::Claimed { .. } => Settled::Retry("in progress".into()),
    }
}

async fn finish<S: AttemptStore>(
    store: &S,
    key: &IdempotencyKey,
    holder: u64,
    state: AttemptState,
    now: Timestamp,
) -> Result<Settled, SettleError> {
    let stored = store.finish_attempt(key, holder, &state, now).await?;
    Ok(outcome(&stored.state))
}

fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}
