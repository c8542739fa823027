//! Replaying the device events dead-letter queue: the events a device
//! function could not handle after its retries (the store failed or
//! refused them, or the gate link was down) are handled again, once the
//! cause is fixed, through the same handler as live ones.
//!
//! The queue holds three forms, each unwrapped to the message as the rule
//! delivered it:
//! - a Lambda on-failure record of the live functions (`requestPayload`
//!   is the message);
//! - an IoT rule error action's message (`base64OriginalPayload` is the
//!   device's payload; the topic, the client id and the time the queue
//!   received it are added back, as the rule would have);
//! - a backlog the backlog queue gave up on (the body is the message).
//!
//! A message handled (applied, found a duplicate, or refused as bad input
//! with its reason) is deleted; one that fails again, or that is none of
//! the three forms, stays in the queue. A replayed read is never live: it
//! moves no barrier and tells no driver.

use std::future::Future;

use base64::Engine;
use jiff::Timestamp;
use serde::Deserialize;

use crate::commands::DeviceLink;
use crate::outbox::SendError;
use crate::store::Store;
use crate::usecases::dead_letters::Held;
use crate::usecases::device_events::DeviceEvents;

/// The device events dead-letter queue.
pub trait DeviceLetters: Send + Sync {
    /// Takes up to `limit` messages, hidden from other readers until
    /// released, deleted or their hold ends.
    fn hold(&self, limit: usize) -> impl Future<Output = Result<Vec<Held>, SendError>> + Send;
    /// Makes a held message visible again.
    fn release(&self, message: &Held) -> impl Future<Output = Result<(), SendError>> + Send;
    /// Deletes a message that was handled.
    fn delete(&self, message: &Held) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// What became of one dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// Handled and deleted: events applied, duplicates, and events refused
    /// as bad input.
    Handled {
        applied: u32,
        duplicates: u32,
        refused: u32,
    },
    /// It failed again; it stays in the queue.
    Failed(String),
    /// None of the queue's forms; it stays in the queue for a person.
    Unreadable(String),
}

#[derive(Deserialize)]
struct Failure {
    #[serde(rename = "requestContext")]
    _request_context: serde_json::Map<String, serde_json::Value>,
    #[serde(rename = "requestPayload")]
    request_payload: serde_json::Value,
}

#[derive(Deserialize)]
struct RuleError {
    topic: String,
    #[serde(rename = "clientId", default)]
    client_id: Option<String>,
    #[serde(rename = "base64OriginalPayload")]
    payload: String,
}

/// The message a dead letter holds, as the rule delivered it.
///
/// # Errors
///
/// What is wrong, when the body is none of the queue's forms.
pub fn unwrap(body: &str, sent_at: Option<Timestamp>) -> Result<Vec<u8>, String> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|_| "the body is not JSON".to_owned())?;
    // A delivered message first: its fields are the rule's, whatever else
    // the device put in its payload.
    if value.get("topic").is_some() && value.get("received_at").is_some() {
        return Ok(body.as_bytes().to_vec());
    }
    if let Ok(f) = serde_json::from_value::<Failure>(value.clone()) {
        return serde_json::to_vec(&f.request_payload).map_err(|e| e.to_string());
    }
    if let Ok(e) = serde_json::from_value::<RuleError>(value.clone()) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(e.payload.as_bytes())
            .map_err(|_| "base64OriginalPayload is not base64".to_owned())?;
        let at = sent_at.ok_or_else(|| "the queue gave no time it was sent".to_owned())?;
        return crate::device_access::deliver(&e.topic, e.client_id.as_deref(), at, &raw)
            .map_err(|e| format!("base64OriginalPayload: {e}"));
    }
    Err(
        "neither a function's failure record, a rule's error message nor a delivered message"
            .into(),
    )
}

/// Replays up to `limit` dead letters through `handler` at `now`; what
/// became of each, by its message id.
///
/// # Errors
///
/// The queue's; what was replayed before it stays replayed.
pub async fn replay<D, S, L>(
    dlq: &D,
    handler: &DeviceEvents<S, L>,
    limit: usize,
    now: Timestamp,
) -> Result<Vec<(String, Replayed)>, SendError>
where
    D: DeviceLetters,
    S: Store,
    L: DeviceLink,
{
    let held = dlq
        .hold(limit.min(crate::usecases::dead_letters::MAX))
        .await?;
    let mut out = Vec::with_capacity(held.len());
    for m in &held {
        let outcome = match unwrap(&m.body, m.sent_at) {
            Err(why) => Replayed::Unreadable(why),
            Ok(message) => match handler.handle(&message, now).await {
                Ok(r) => Replayed::Handled {
                    applied: r.applied,
                    duplicates: r.duplicates,
                    refused: u32::try_from(r.rejected.len()).unwrap_or(u32::MAX),
                },
                Err(e) => Replayed::Failed(e.to_string()),
            },
        };
        match outcome {
            Replayed::Handled { .. } => dlq.delete(m).await?,
            _ => dlq.release(m).await?,
        }
        out.push((m.id.clone(), outcome));
    }
    Ok(out)
}
