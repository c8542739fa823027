//! The dead-letter queues: messages a consumer could not handle after
//! their retries. An operator lists them and sends them back to their
//! queue (a redrive) once the cause is fixed; nothing is lost on the way
//! (a message is deleted from the dead-letter queue only after it was
//! sent back, and the consumers are idempotent, so a crash between the
//! two only delivers it twice).
//!
//! An operator sees and redrives only the messages of the lots in their
//! scope (each message names its lot); messages nobody can read (no lot)
//! are for `parkctl dead-letters`, which runs with the deployment's own
//! credentials.

use std::future::Future;

use jiff::Timestamp;
use serde::Deserialize;

use crate::ids::LotId;
use crate::outbox::Queue;
use crate::outbox::SendError;

/// A message held from a dead-letter queue while it is looked at.
#[derive(Debug, Clone)]
pub struct Held {
    pub id: String,
    /// The handle to release, send back or delete it with.
    pub receipt: String,
    pub body: String,
    /// Its message group (FIFO queues).
    pub group: Option<String>,
    /// How many times it was received, this time included.
    pub received: u32,
    pub sent_at: Option<Timestamp>,
}

/// The dead-letter queues of the payments and notifications queues.
pub trait DeadLetterQueues: Send + Sync {
    /// Takes up to `limit` messages of `queue`'s dead-letter queue, hidden
    /// from other readers until released, sent back or their hold ends.
    fn hold(
        &self,
        queue: Queue,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Held>, SendError>> + Send;
    /// Makes a held message visible in the dead-letter queue again.
    fn release(
        &self,
        queue: Queue,
        message: &Held,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
    /// Sends a held message back to `queue` (its group kept), then deletes
    /// it from the dead-letter queue.
    fn send_back(
        &self,
        queue: Queue,
        message: &Held,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// A dead letter as an operator sees it: what it is about, never its body
/// (a payment order names a card; a notification, a driver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: String,
    pub lot_id: Option<LotId>,
    /// `charge`, `refund`, a notification's kind, or `unreadable`.
    pub kind: String,
    pub received: u32,
    pub sent_at: Option<Timestamp>,
}

#[derive(Deserialize)]
struct Peek {
    #[serde(default)]
    lot_id: Option<LotId>,
    #[serde(default)]
    kind: Option<String>,
}

fn describe(m: &Held) -> DeadLetter {
    let peek: Option<Peek> = serde_json::from_str(&m.body).ok();
    DeadLetter {
        id: m.id.clone(),
        lot_id: peek.as_ref().and_then(|p| p.lot_id.clone()),
        kind: peek
            .and_then(|p| p.kind)
            .unwrap_or_else(|| "unreadable".into()),
        received: m.received,
        sent_at: m.sent_at,
    }
}

/// The most messages one call looks at.
pub const MAX: usize = 100;

/// Lists up to `limit` dead letters of `queue` (of `lot` only, when
/// given), releasing each again.
///
/// # Errors
///
/// The queue's.
pub async fn list<D: DeadLetterQueues>(
    dlq: &D,
    queue: Queue,
    lot: Option<&LotId>,
    limit: usize,
) -> Result<Vec<DeadLetter>, SendError> {
    let held = dlq.hold(queue, limit.min(MAX)).await?;
    let mut out = Vec::new();
    for m in &held {
        let d = describe(m);
        if lot.is_none_or(|l| d.lot_id.as_ref() == Some(l)) {
            out.push(d);
        }
        dlq.release(queue, m).await?;
    }
    Ok(out)
}

/// Sends up to `limit` dead letters of `queue` (of `lot` only, when given)
/// back to their queue; returns those sent back.
///
/// # Errors
///
/// The queue's; what was sent back before it stays sent.
pub async fn redrive<D: DeadLetterQueues>(
    dlq: &D,
    queue: Queue,
    lot: Option<&LotId>,
    limit: usize,
) -> Result<Vec<DeadLetter>, SendError> {
    let held = dlq.hold(queue, limit.min(MAX)).await?;
    let mut sent = Vec::new();
    for m in &held {
        let d = describe(m);
        if lot.is_none_or(|l| d.lot_id.as_ref() == Some(l)) {
            dlq.send_back(queue, m).await?;
            sent.push(d);
        } else {
            dlq.release(queue, m).await?;
        }
    }
    Ok(sent)
}

/// The audit entry of an operator's redrive (none when nothing went
/// back): one entry naming the queue and how many messages.
pub fn redrive_audit(
    who: crate::usecases::adjust::Staff<'_>,
    queue: Queue,
    sent: &[DeadLetter],
    note: &str,
) -> Option<crate::model::AuditEntry> {
    if sent.is_empty() {
        return None;
    }
    let ids: Vec<&str> = sent.iter().map(|d| d.id.as_str()).collect();
    let id = crate::usecases::adjust::action_id("redrive", &ids);
    Some(crate::usecases::adjust::audit(
        who,
        &id,
        "dead_letters.redrive",
        &format!("{} ({} messages)", queue.name(), sent.len()),
        note,
        None,
    ))
}
