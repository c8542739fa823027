//! The payment provider's webhooks: what it tells us about money after
//! the fact.
//!
//! Protocol:
//! - **Trust.** A delivery is believed only when its `Stripe-Signature`
//!   header (`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, one
//!   `v1` per signing secret) matches one of our secrets (two during a
//!   rotation) and its time is within [`TOLERANCE`] of ours, so a captured
//!   delivery cannot be replayed later.
//! - **Once.** An event is handled once by its id: a repeat answers
//!   `duplicate` and changes nothing. It is remembered only after it was
//!   handled, so one whose handling failed is handled when the provider
//!   sends it again.
//! - **What it changes.** Events name our movement by the key we gave it
//!   (`metadata[attempt]`), or its charge:
//!   - `payment_intent.succeeded`, `payment_intent.payment_failed` and
//!     `charge.refunded`: the stay is prompted to settle ([`super::settle`]
//!     looks up what the provider did under the key, so nothing moves
//!     twice);
//!   - `refund.failed`, and `refund.updated` to `failed`: the bank
//!     returned a refund the provider had made; the stay's books record the
//!     reversal (its money is collected again), the stay goes to review,
//!     and a prompt tries the refund again;
//!   - `charge.dispute.created`: the stay is flagged `disputed` for the
//!     review queue, and the operator is alarmed.
//!   - Anything else, or an event about money that is not ours, is
//!     acknowledged and ignored.

use std::fmt;

use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use sha2::Sha256;

use crate::ids::*;
use crate::model::EventRef;
use crate::outbox::{OutboxMessage, PaymentKind, PaymentOrder, Queues};
use crate::settlement::{AttemptState, PaymentProvider};
use crate::store::prelude::*;
use crate::timeline::{Adjustment, AdjustmentKind, SettlementRecord};
use crate::usecases::adjust::{Action, ActionError, action_id, amend};

/// How far a delivery's signed time may be from ours (Stripe's default).
pub const TOLERANCE: SignedDuration = SignedDuration::from_secs(300);

/// Who the webhook's changes are recorded as.
const WEBHOOK_ACTOR: &str = "payment-webhook";

/// A webhook signing secret (`whsec_…`); never shown.
#[derive(Clone)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        WebhookSecret(secret.into())
    }

    /// The `v1` signature of `payload` signed at `t` (what the provider
    /// sends); for tests and the development provider.
    pub fn sign(&self, t: i64, payload: &[u8]) -> String {
        hex::encode(self.mac(t, payload).finalize().into_bytes())
    }

    fn mac(&self, t: i64, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        mac
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// Why a delivery was not believed or not handled.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the Stripe-Signature header is missing")]
    MissingSignature,
    #[error("the Stripe-Signature header is malformed: {0}")]
    MalformedSignature(&'static str),
    #[error("the signature is {seconds} s from our clock, beyond the {tolerance} s allowed")]
    Stale { seconds: i64, tolerance: i64 },
    #[error("no signature matches our signing secrets")]
    BadSignature,
    #[error("the event cannot be read: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("queueing the prompt: {0}")]
    Send(#[from] crate::outbox::SendError),
    #[error("the payment provider: {0}")]
    Provider(#[from] crate::settlement::ProviderError),
}

impl WebhookError {
    /// Whether the provider should send it again (our failure), rather
    /// than be told it is refused (theirs, or an attacker's).
    pub fn is_ours(&self) -> bool {
        matches!(
            self,
            WebhookError::Store(_) | WebhookError::Send(_) | WebhookError::Provider(_)
        )
    }
}

/// An event as the provider sends it (the fields used).
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// Checks a delivery's signature against our secrets and reads it.
///
/// # Errors
///
/// [`WebhookError::MissingSignature`], [`WebhookError::MalformedSignature`],
/// [`WebhookError::Stale`], [`WebhookError::BadSignature`], or
/// [`WebhookError::Malformed`] for a body that is not an event.
pub fn verify(
    payload: &[u8],
    header: Option<&str>,
    secrets: &[WebhookSecret],
    now: Timestamp,
) -> Result<ProviderEvent, WebhookError> {
    let header = header
        .filter(|h| !h.trim().is_empty())
        .ok_or(WebhookError::MissingSignature)?;
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => {
                t = Some(
                    v.parse::<i64>()
                        .map_err(|_| WebhookError::MalformedSignature("t is not a number"))?,
                );
            }
            Some(("v1", v)) => {
                signatures.push(
                    hex::decode(v)
                        .map_err(|_| WebhookError::MalformedSignature("v1 is not hex"))?,
                );
            }
            Some(_) => {}
            None => return Err(WebhookError::MalformedSignature("a part has no '='")),
        }
    }
    let t = t.ok_or(WebhookError::MalformedSignature("no t"))?;
    if signatures.is_empty() {
        return Err(WebhookError::MalformedSignature("no v1 signature"));
    }
    let matches = secrets.iter().any(|secret| {
        signatures
            .iter()
            .any(|sig| secret.mac(t, payload).verify_slice(sig).is_ok())
    });
    if !matches {
        return Err(WebhookError::BadSignature);
    }
    let skew = (now.as_second() - t).abs();
    if skew > TOLERANCE.as_secs() {
        return Err(WebhookError::Stale {
            seconds: skew,
            tolerance: TOLERANCE.as_secs(),
        });
    }
    serde_json::from_slice(payload)
        .map_err(|e| WebhookError::Malformed(format!("line {}, column {}", e.line(), e.column())))
}

/// What became of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Seen before: nothing changed.
    Duplicate,
    /// The stay was prompted to settle.
    Prompted(SessionId),
    /// A refund the bank failed was recorded, and the stay prompted.
    Reversed(SessionId),
    /// The stay was flagged disputed.
    Disputed(SessionId),
    /// Not ours, or not an event we act on.
    Ignored(String),
}

/// The ledger entry that remembers an event.
fn seen(event: &ProviderEvent, now: Timestamp) -> Result<EventRef, WebhookError> {
    Ok(EventRef {
        device_id: DeviceId::parse(WEBHOOK_ACTOR)
            .unwrap_or_else(|_| unreachable!("a valid device id")),
        event_id: EventId::parse(&event.id)
            .map_err(|e| WebhookError::Malformed(format!("id: {e}")))?,
        processed_at: now,
    })
}

/// Handles a verified event once.
///
/// # Errors
///
/// The store's, the queue's or the provider's (the provider sends it
/// again), or [`WebhookError::Malformed`].
pub async fn handle<S: Store, Q: Queues, P: PaymentProvider>(
    store: &S,
    queues: &Q,
    provider: &P,
    event: &ProviderEvent,
    now: Timestamp,
) -> Result<Handled, WebhookError> {
    let entry = seen(event, now)?;
    if store
        .is_processed(&entry.device_id, &entry.event_id, now)
        .await?
    {
        return Ok(Handled::Duplicate);
    }
    let object = &event.data.object;
    let text = |field: &str| object.get(field).and_then(|v| v.as_str());
    let ours = |o: &serde_json::Value| {
        o.get("metadata")
            .and_then(|m| m.get("attempt"))
            .and_then(|v| v.as_str())
            .and_then(|k| IdempotencyKey::parse(k).ok())
    };
    let handled = match event.kind.as_str() {
        "payment_intent.succeeded" | "payment_intent.payment_failed" | "charge.refunded" => {
            match ours(object) {
                Some(key) => prompt(store, queues, &key, now)
                    .await?
                    .map_or_else(|| not_ours(&key), Handled::Prompted),
                None => Handled::Ignored("no movement of ours".into()),
            }
        }
        "refund.failed" | "refund.updated" => {
            if event.kind == "refund.updated" && text("status") != Some("failed") {
                Handled::Ignored("a refund that did not fail".into())
            } else {
                match (ours(object), text("id")) {
                    (Some(key), Some(refund_id)) => reverse(store, &key, refund_id, now).await?,
                    _ => Handled::Ignored("no refund of ours".into()),
                }
            }
        }
        "charge.dispute.created" => {
            let amount = object.get("amount").and_then(|v| v.as_i64()).unwrap_or(0);
            match (text("payment_intent"), text("id")) {
                (Some(intent), Some(dispute)) => {
                    dispute_of(store, provider, intent, dispute, amount, now).await?
                }
                _ => Handled::Ignored("a dispute with no payment intent".into()),
            }
        }
        other => Handled::Ignored(format!("{other} is not acted on")),
    };
    store.record_event(&entry).await?;
    Ok(handled)
}

fn not_ours(key: &IdempotencyKey) -> Handled {
    Handled::Ignored(format!("no movement {key}"))
}

/// The stay a movement settles, from its attempt.
async fn stay_of<S: Store>(
    store: &S,
    key: &IdempotencyKey,
) -> Result<Option<(crate::settlement::Attempt, PaymentOrder)>, WebhookError> {
    let Some(attempt) = store.attempt(key).await? else {
        return Ok(None);
    };
    let Some(order) = attempt.order.clone().filter(|o| o.session_id.is_some()) else {
        return Ok(None);
    };
    Ok(Some((attempt, order)))
}

async fn prompt<S: Store, Q: Queues>(
    store: &S,
    queues: &Q,
    key: &IdempotencyKey,
    now: Timestamp,
) -> Result<Option<SessionId>, WebhookError> {
    let Some((_, order)) = stay_of(store, key).await? else {
        return Ok(None);
    };
    let session = order.session_id.clone();
    queues
        .send(&OutboxMessage::Payments(PaymentOrder {
            created_at: now,
            ..order
        }))
        .await?;
    Ok(session)
}

/// Records that the bank failed a refund the provider had made, and
/// prompts the stay to refund again.
async fn reverse<S: Store>(
    store: &S,
    key: &IdempotencyKey,
    refund_id: &str,
    now: Timestamp,
) -> Result<Handled, WebhookError> {
    let Some((attempt, order)) = stay_of(store, key).await? else {
        return Ok(not_ours(key));
    };
    let (AttemptState::Succeeded { charge_id, moved }, PaymentKind::Refund) =
        (&attempt.state, attempt.kind)
    else {
        return Ok(Handled::Ignored("not a refund that was made".into()));
    };
    if charge_id != refund_id {
        return Ok(Handled::Ignored("another refund".into()));
    }
    let Some(session_id) = order.session_id.clone() else {
        return Ok(not_ours(key));
    };
    let session = store.get_session(&session_id).await?;
    let record = SettlementRecord {
        id: action_id("reversal", &[refund_id]),
        session_id: session_id.clone(),
        key: key.clone(),
        kind: PaymentKind::Refund,
        amount: moved.unwrap_or(attempt.amount),
        attempt: 0,
        charge_id: None,
        refund_of: attempt.refunds.clone(),
        reverses: Some(refund_id.to_owned()),
        failure: Some("the bank returned the refund".into()),
        cause: Some(crate::settlement::Cause::Card),
        retry_at: Some(now),
        gave_up: false,
        at: now,
    };
    tracing::error!(
        alarm = "refund_failed",
        movement = %key,
        "the bank returned a refund the payment provider had made"
    );
    amend(
        store,
        now,
        Action {
            lot_id: &session.lot_id,
            plate: &session.plate,
            id: record.id.clone(),
            session: Some(&session_id),
            audit: Some(crate::model::AuditEntry {
                id: record.id.clone(),
                lot_id: session.lot_id.clone(),
                at: now,
                actor: crate::model::Actor {
                    role: crate::usecases::settle::SETTLEMENT_ROLE.into(),
                    subject: WEBHOOK_ACTOR.into(),
                },
                action: "payment.refund_reversed".into(),
                target: session_id.to_string(),
                note: refund_id.to_owned(),
                amount: Some(record.amount.minor),
            }),
            pass: None,
            outbox: vec![OutboxMessage::Payments(PaymentOrder {
                idempotency_key: IdempotencyKey::derived(&format!("{session_id}.{}", record.id)),
                created_at: now,
                ..order
            })],
        },
        |t| {
            // In its place among the plate's movements: after the refund
            // it reverses, so the balance reads it as the latest.
            let mut r = record.clone();
            r.attempt = t.next_movement();
            t.movements = r.attempt;
            t.settlements.push(r);
            Ok(())
        },
    )
    .await
    .map_err(action_error)?;
    Ok(Handled::Reversed(session_id))
}

/// Flags the disputed charge's stay for review and alarms the operator.
async fn dispute_of<S: Store, P: PaymentProvider>(
    store: &S,
    provider: &P,
    intent: &str,
    dispute: &str,
    amount: i64,
    now: Timestamp,
) -> Result<Handled, WebhookError> {
    let Some(key) = provider.attempt_of(intent).await? else {
        return Ok(Handled::Ignored("a charge that is not ours".into()));
    };
    let Some((_, order)) = stay_of(store, &key).await? else {
        return Ok(not_ours(&key));
    };
    let Some(session_id) = order.session_id.clone() else {
        return Ok(not_ours(&key));
    };
    let session = store.get_session(&session_id).await?;
    tracing::error!(
        alarm = "charge_disputed",
        dispute = dispute,
        session = %session_id,
        amount,
        "a cardholder disputed a charge; answer it before the bank's deadline"
    );
    let id = action_id("dispute", &[dispute]);
    // The lot's webhook subscribers hear of it in the same write.
    let hooked = store
        .get_lot(&session.lot_id)
        .await?
        .hooked(crate::hooks::EventType::DisputeOpened);
    let told = hooked.then(|| {
        crate::outbox::OutboxMessage::Webhooks(crate::hooks::HookMessage::Event(
            crate::hooks::LotEvent::new(
                crate::hooks::EventType::DisputeOpened,
                session.lot_id.clone(),
                dispute,
                now,
                serde_json::json!({
                    "session_id": session_id,
                    "dispute_id": dispute,
                    "amount": {"amount": amount, "currency": order.amount.currency.code()},
                }),
            ),
        ))
    });
    amend(
        store,
        now,
        Action {
            lot_id: &session.lot_id,
            plate: &session.plate,
            id: id.clone(),
            session: Some(&session_id),
            audit: None,
            pass: None,
            outbox: told.into_iter().collect(),
        },
        |t| {
            t.adjustments.push(Adjustment {
                id: id.clone(),
                session_id: session_id.clone(),
                by: crate::model::Actor {
                    role: crate::usecases::settle::SETTLEMENT_ROLE.into(),
                    subject: WEBHOOK_ACTOR.into(),
                },
                at: now,
                kind: AdjustmentKind::Dispute {
                    dispute: dispute.to_owned(),
                    amount,
                },
            });
            Ok(())
        },
    )
    .await
    .map_err(action_error)?;
    Ok(Handled::Disputed(session_id))
}

fn action_error(e: ActionError) -> WebhookError {
    match e {
        ActionError::Store(e) => WebhookError::Store(e),
        other => WebhookError::Store(StoreError::invalid(other.to_string())),
    }
}
