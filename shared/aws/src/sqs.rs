//! The queues on SQS: FIFO queues, each message in its group (a session's
//! payments, a driver's notifications) with its outbox id as the
//! deduplication id, so a second send within SQS's five-minute window is
//! dropped by SQS and any later one by the consumers' idempotency keys.

use aws_sdk_sqs::Client;
use parking_app::outbox::{OutboxMessage, Queue};
use parking_app::{Queues, SendError};
use sha2::{Digest, Sha256};

/// SQS takes up to 128 characters for a group or deduplication id.
fn sqs_id(text: &str) -> String {
    if text.len() <= 128
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation())
    {
        return text.to_owned();
    }
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The payment and notification queues.
#[derive(Clone)]
pub struct SqsQueues {
    client: Client,
    payments_url: String,
    notifications_url: String,
}

impl SqsQueues {
    pub fn new(client: Client, payments_url: String, notifications_url: String) -> Self {
        SqsQueues {
            client,
            payments_url,
            notifications_url,
        }
    }

    fn url(&self, queue: Queue) -> &str {
        match queue {
            Queue::Payments => &self.payments_url,
            Queue::Notifications => &self.notifications_url,
        }
    }
}

impl Queues for SqsQueues {
    async fn send(&self, message: &OutboxMessage) -> Result<(), SendError> {
        self.client
            .send_message()
            .queue_url(self.url(message.queue()))
            .message_body(message.body())
            .message_group_id(sqs_id(&message.group()))
            .message_deduplication_id(sqs_id(&message.id()))
            .send()
            .await
            .map_err(|e| SendError {
                what: "sending to SQS",
                source: aws_sdk_sqs::error::DisplayErrorContext(&e)
                    .to_string()
                    .into(),
            })?;
        Ok(())
    }
}
