//! Delivering the outbox: every message written with a state change is
//! sent to its queue and then marked delivered. A crash between the two
//! sends it again; the queue's deduplication id (the message's own) and
//! the consumers' idempotency keys make that harmless.

use crate::outbox::OutboxMessage;
use crate::store::prelude::*;

/// How many messages one pass takes.
pub const BATCH: usize = 100;

/// Sends messages to their queues; returns those sent.
///
/// # Errors
///
/// The first send that failed; the messages before it were sent.
pub async fn deliver<Q: Queues>(
    queues: &Q,
    messages: &[OutboxMessage],
) -> Result<usize, SendError> {
    for m in messages {
        queues.send(m).await?;
    }
    Ok(messages.len())
}

/// Delivers everything pending in a store's outbox.
///
/// # Errors
///
/// A store failure, or the first failed send (what was sent before it is
/// marked delivered).
pub async fn drain<S: OutboxStore, Q: Queues>(store: &S, queues: &Q) -> Result<usize, DrainError> {
    let mut total = 0;
    loop {
        let pending = store.outbox_pending(BATCH).await?;
        if pending.is_empty() {
            return Ok(total);
        }
        let mut sent = Vec::with_capacity(pending.len());
        for m in &pending {
            if let Err(e) = queues.send(m).await {
                store.outbox_delivered(&sent).await?;
                return Err(DrainError::Send(e));
            }
            sent.push(m.id());
        }
        store.outbox_delivered(&sent).await?;
        total += sent.len();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Send(#[from] SendError),
}

/// Delivers a batch of messages in order (a stream's records), marking
/// those sent as delivered; stops at the first that fails. Messages
/// already marked delivered are skipped, so a batch delivered again sends
/// nothing twice, whatever the queue's own deduplication window.
///
/// # Errors
///
/// The position of the first message not delivered, and why; every
/// message before it was sent and marked.
pub async fn forward<S: OutboxStore, Q: Queues>(
    store: &S,
    queues: &Q,
    messages: &[OutboxMessage],
) -> Result<(), (usize, DrainError)> {
    let ids: Vec<String> = messages.iter().map(OutboxMessage::id).collect();
    let pending = store
        .outbox_undelivered(&ids)
        .await
        .map_err(|e| (0, DrainError::Store(e)))?;
    let mut sent = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        if !pending.contains(&ids[i]) {
            continue;
        }
        if let Err(e) = queues.send(m).await {
            return match store.outbox_delivered(&sent).await {
                Ok(()) => Err((i, DrainError::Send(e))),
                Err(s) => Err((0, DrainError::Store(s))),
            };
        }
        sent.push(m.id());
    }
    // Marking is tidying up: a message sent but not marked is sent again
    // later and dropped by the queue's deduplication or the consumer.
    store
        .outbox_delivered(&sent)
        .await
        .map_err(|e| (messages.len(), DrainError::Store(e)))
}
