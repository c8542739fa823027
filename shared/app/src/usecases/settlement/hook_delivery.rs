//! Telling operators' systems: each message of the webhooks queue
//! ([`crate::hooks::HookMessage`]) handled once it arrives.
//!
//! - **An event** is handed to each subscription of its lot that wants it
//!   now: one delivery message each, so a receiver that is down holds
//!   back only its own deliveries.
//! - **A delivery** is signed and posted ([`crate::hooks::sign`]). A `2xx`
//!   is done. Anything else counts one more failure on the subscription
//!   and is tried again after the protocol's pause, until its attempts
//!   run out: then it is given up and kept among the subscription's
//!   missed events for replay. The [`DISABLE_AFTER`]-th failure in a row
//!   switches the subscription off, with a notice in the lot's audit
//!   trail; an event or a delivery for a subscription that is off is kept
//!   among its missed events without being sent.
//!
//! The subscription's health is written only when it changes (a failure,
//! or the first success after failures), so a healthy receiver costs one
//! read per delivery and no write.

use jiff::{SignedDuration, Timestamp};

use crate::hooks::{
    Answer, DISABLE_AFTER, Delivery, Failure, HookClient, HookMessage, LotHooks, MISSED_KEPT,
    retry_after, sign,
};
use crate::model::{Actor, AuditEntry};
use crate::outbox::{OutboxMessage, Queues, SendError};
use crate::store::prelude::*;

/// The audit trail's role for what the webhooks do on their own.
pub const WEBHOOKS_ROLE: &str = "system";

/// How often a change to the lot's subscriptions is read and applied
/// again when another change came first.
const CONFLICT_RETRIES: usize = 5;

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Handed on, delivered, given up or not wanted: the queue may drop it.
    Done(Outcome),
    /// Try again after this pause.
    Again(SignedDuration),
}

/// Why a message is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An event, handed to this many subscriptions.
    HandedOn(usize),
    Delivered,
    /// Its attempts ran out, or its subscription is off: kept as missed.
    Missed,
    /// Its subscription is gone.
    Dropped,
}

/// Why a message could not be handled now (it comes back).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] SendError),
}

/// Handles one message of the webhooks queue, received for the
/// `received`-th time (1 the first), at `now`.
///
/// # Errors
///
/// The store or the queue failed: the message is to come back.
pub async fn handle<S, C, Q>(
    store: &S,
    client: &C,
    queues: &Q,
    message: &HookMessage,
    received: u32,
    now: Timestamp,
) -> Result<Handled, DeliveryError>
where
    S: HookStore + AuditStore,
    C: HookClient,
    Q: Queues,
{
    match message {
        HookMessage::Event(event) => {
            let hooks = store.lot_hooks(&event.lot_id).await?;
            let mut n = 0;
            let mut off = Vec::new();
            for sub in hooks.iter().flat_map(|h| &h.subscriptions) {
                if !sub.events.contains(&event.kind) {
                    continue;
                }
                let delivery = Delivery {
                    lot_id: event.lot_id.clone(),
                    subscription_id: sub.id.clone(),
                    event: event.clone(),
                    replay: 0,
                };
                if sub.enabled {
                    let message = OutboxMessage::Webhooks(HookMessage::Delivery(delivery));
                    queues.send(&message).await?;
                    n += 1;
                } else {
                    // Switched off: kept for replay, not sent.
                    off.push(delivery);
                }
            }
            if !off.is_empty() {
                change(store, &event.lot_id, |h| {
                    // Every one kept, not only up to the first change.
                    let mut changed = false;
                    for d in &off {
                        changed |= missed(h, d);
                    }
                    changed
                })
                .await?;
            }
            Ok(Handled::Done(Outcome::HandedOn(n)))
        }
        HookMessage::Delivery(d) => deliver(store, client, d, received, now).await,
    }
}

async fn deliver<S, C>(
    store: &S,
    client: &C,
    d: &Delivery,
    attempt: u32,
    now: Timestamp,
) -> Result<Handled, DeliveryError>
where
    S: HookStore + AuditStore,
    C: HookClient,
{
    let Some(hooks) = store.lot_hooks(&d.lot_id).await? else {
        return Ok(Handled::Done(Outcome::Dropped));
    };
    let Some(sub) = hooks.get(&d.subscription_id) else {
        return Ok(Handled::Done(Outcome::Dropped));
    };
    if !sub.enabled {
        change(store, &d.lot_id, |h| missed(h, d)).await?;
        return Ok(Handled::Done(Outcome::Missed));
    }
    let body = serde_json::to_vec(&d.event).unwrap_or_default();
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("user-agent", "SeamlessParking-Webhooks/1".to_owned()),
        ("seamless-webhook-id", d.event.id.clone()),
        ("seamless-signature", sign(&sub.secret, now, &body)),
    ];
    let answer = client.post(&sub.url, &headers, body).await;
    if let Answer::Status(200..=299) = answer {
        if sub.failures > 0 || sub.last_success_at.is_none() {
            change(store, &d.lot_id, |h| {
                if let Some(s) = h.get_mut(&d.subscription_id) {
                    s.failures = 0;
                    s.last_success_at = Some(now);
                }
                true
            })
            .await?;
        }
        return Ok(Handled::Done(Outcome::Delivered));
    }
    let failure = match answer {
        Answer::Status(status) => Failure {
            at: now,
            status: Some(status),
            error: format!("answered {status}"),
        },
        Answer::Unreachable(why) => Failure {
            at: now,
            status: None,
            error: why,
        },
    };
    let pause = retry_after(attempt.max(1));
    // The notice is written first: a crash after it repeats it at worst,
    // never loses it.
    if sub.enabled && sub.failures + 1 >= DISABLE_AFTER {
        store
            .record_audit(&disabled_notice(&hooks, d, &failure, now))
            .await?;
    }
    let mut switched_off = false;
    change(store, &d.lot_id, |h| {
        let Some(s) = h.get_mut(&d.subscription_id) else {
            return false;
        };
        s.failures += 1;
        s.last_failure = Some(failure.clone());
        switched_off = s.enabled && s.failures >= DISABLE_AFTER;
        if switched_off {
            s.enabled = false;
            s.disabled_at = Some(now);
        }
        if pause.is_none() || switched_off {
            missed(h, d);
        }
        true
    })
    .await?;
    if switched_off {
        tracing::warn!(lot = %d.lot_id, subscription = %d.subscription_id, "a webhook subscription was switched off after repeated failure");
    }
    match pause {
        Some(p) if !switched_off => Ok(Handled::Again(p)),
        _ => Ok(Handled::Done(Outcome::Missed)),
    }
}

/// Keeps the delivery's event among its subscription's missed ones (once,
/// the newest last, at most [`MISSED_KEPT`]).
fn missed(h: &mut LotHooks, d: &Delivery) -> bool {
    let Some(s) = h.get_mut(&d.subscription_id) else {
        return false;
    };
    if s.missed.iter().any(|e| e.id == d.event.id) {
        return false;
    }
    s.missed.push(d.event.clone());
    let over = s.missed.len().saturating_sub(MISSED_KEPT);
    s.missed.drain(..over);
    true
}

/// Applies `edit` to the lot's subscriptions and writes them (when it
/// says it changed something), reading again when another change came
/// first.
///
/// # Errors
///
/// The store's; `Conflict(HooksChanged)` after [`CONFLICT_RETRIES`].
pub async fn change<S: HookStore>(
    store: &S,
    lot: &crate::ids::LotId,
    mut edit: impl FnMut(&mut LotHooks) -> bool,
) -> Result<Option<LotHooks>, StoreError> {
    let mut last = None;
    for _ in 0..CONFLICT_RETRIES {
        let mut hooks = store
            .lot_hooks(lot)
            .await?
            .unwrap_or_else(|| LotHooks::new(lot.clone()));
        if !edit(&mut hooks) {
            return Ok(None);
        }
        hooks.version += 1;
        match store.put_lot_hooks(&hooks).await {
            Ok(()) => return Ok(Some(hooks)),
            Err(e @ StoreError::Conflict(Refusal::HooksChanged { .. })) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| StoreError::Unavailable {
        source: "the lot's webhooks kept changing".into(),
    }))
}

fn disabled_notice(
    hooks: &LotHooks,
    d: &Delivery,
    failure: &Failure,
    now: Timestamp,
) -> AuditEntry {
    let at = now.as_second().to_string();
    AuditEntry {
        id: crate::usecases::adjust::action_id("webhook-off", &[&d.subscription_id, &at]),
        lot_id: hooks.lot_id.clone(),
        at: now,
        actor: Actor {
            role: WEBHOOKS_ROLE.into(),
            subject: "webhooks".into(),
        },
        action: "webhook.disabled".into(),
        target: d.subscription_id.clone(),
        note: format!(
            "switched off after {DISABLE_AFTER} failed attempts in a row; the last: {}",
            failure.error
        ),
        amount: None,
    }
}
