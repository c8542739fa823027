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

/// The payment, notification and webhook queues.
#[derive(Clone)]
pub struct SqsQueues {
    client: Client,
    payments_url: String,
    notifications_url: String,
    webhooks_url: Option<String>,
}

impl SqsQueues {
    pub fn new(client: Client, payments_url: String, notifications_url: String) -> Self {
        SqsQueues {
            client,
            payments_url,
            notifications_url,
            webhooks_url: None,
        }
    }

    /// The same, with the operator webhooks' queue.
    #[must_use]
    pub fn with_webhooks(mut self, url: String) -> Self {
        self.webhooks_url = Some(url);
        self
    }

    fn url(&self, queue: Queue) -> Result<&str, SendError> {
        match queue {
            Queue::Payments => Ok(&self.payments_url),
            Queue::Notifications => Ok(&self.notifications_url),
            Queue::Webhooks => self.webhooks_url.as_deref().ok_or_else(|| SendError {
                what: "sending to SQS",
                source: "no webhooks queue is configured".into(),
            }),
        }
    }
}

impl Queues for SqsQueues {
    async fn send(&self, message: &OutboxMessage) -> Result<(), SendError> {
        self.client
            .send_message()
            .queue_url(self.url(message.queue())?)
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

/// The payments and notifications dead-letter queues on SQS, with the
/// queues their messages go back to.
#[derive(Clone)]
pub struct SqsDeadLetters {
    client: Client,
    /// (queue's URL, its dead-letter queue's URL) for payments, then for
    /// notifications.
    payments: (String, String),
    notifications: (String, String),
}

/// How long a dead letter is held while it is looked at.
const HOLD_SECONDS: i32 = 30;

impl SqsDeadLetters {
    pub fn new(
        client: Client,
        payments: (String, String),
        notifications: (String, String),
    ) -> Self {
        SqsDeadLetters {
            client,
            payments,
            notifications,
        }
    }

    /// The queue's and its dead-letter queue's URLs (the webhooks'
    /// dead letters are replayed from the dashboard instead).
    fn urls(&self, queue: Queue) -> Result<&(String, String), SendError> {
        match queue {
            Queue::Payments => Ok(&self.payments),
            Queue::Notifications => Ok(&self.notifications),
            Queue::Webhooks => Err(SendError {
                what: "reading a dead-letter queue",
                source: "the webhooks' dead letters are not listed here: an operator replays a subscription's missed events, and the webhooks dead-letter queue's alarm calls a person for the rest".into(),
            }),
        }
    }
}

fn sqs_error<E: std::error::Error + 'static>(
    what: &'static str,
) -> impl FnOnce(
    aws_sdk_sqs::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> SendError {
    move |e| SendError {
        what,
        source: aws_sdk_sqs::error::DisplayErrorContext(&e)
            .to_string()
            .into(),
    }
}

impl parking_app::usecases::dead_letters::DeadLetterQueues for SqsDeadLetters {
    async fn hold(
        &self,
        queue: Queue,
        limit: usize,
    ) -> Result<Vec<parking_app::usecases::dead_letters::Held>, SendError> {
        receive_held(&self.client, &self.urls(queue)?.1, limit).await
    }

    async fn release(
        &self,
        queue: Queue,
        message: &parking_app::usecases::dead_letters::Held,
    ) -> Result<(), SendError> {
        release_held(&self.client, &self.urls(queue)?.1, message).await
    }

    /// A new deduplication id (the message's own, with the redrive's
    /// receive count), so the queue takes it again within its window.
    async fn send_back(
        &self,
        queue: Queue,
        message: &parking_app::usecases::dead_letters::Held,
    ) -> Result<(), SendError> {
        let (url, dlq) = self.urls(queue)?;
        self.client
            .send_message()
            .queue_url(url)
            .message_body(&message.body)
            .message_group_id(message.group.clone().unwrap_or_else(|| "redriven".into()))
            .message_deduplication_id(sqs_id(&format!(
                "redrive/{}/{}",
                message.id, message.received
            )))
            .send()
            .await
            .map_err(sqs_error("sending a dead letter back"))?;
        self.client
            .delete_message()
            .queue_url(dlq)
            .receipt_handle(&message.receipt)
            .send()
            .await
            .map_err(sqs_error("deleting a dead letter sent back"))?;
        Ok(())
    }
}

/// Makes a held dead letter visible in its queue again.
async fn release_held(
    client: &Client,
    url: &str,
    message: &parking_app::usecases::dead_letters::Held,
) -> Result<(), SendError> {
    client
        .change_message_visibility()
        .queue_url(url)
        .receipt_handle(&message.receipt)
        .visibility_timeout(0)
        .send()
        .await
        .map_err(sqs_error("releasing a dead letter"))?;
    Ok(())
}

/// Takes up to `limit` messages of a dead-letter queue, held for
/// [`HOLD_SECONDS`].
async fn receive_held(
    client: &Client,
    url: &str,
    limit: usize,
) -> Result<Vec<parking_app::usecases::dead_letters::Held>, SendError> {
    use aws_sdk_sqs::types::MessageSystemAttributeName as A;
    let mut held = Vec::new();
    while held.len() < limit {
        let want = i32::try_from((limit - held.len()).min(10)).unwrap_or(10);
        let got = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(want)
            .visibility_timeout(HOLD_SECONDS)
            .message_system_attribute_names(A::All)
            .send()
            .await
            .map_err(sqs_error("reading a dead-letter queue"))?
            .messages
            .unwrap_or_default();
        if got.is_empty() {
            break;
        }
        for m in got {
            let attributes = m.attributes.unwrap_or_default();
            held.push(parking_app::usecases::dead_letters::Held {
                id: m.message_id.unwrap_or_default(),
                receipt: m.receipt_handle.unwrap_or_default(),
                body: m.body.unwrap_or_default(),
                group: attributes.get(&A::MessageGroupId).cloned(),
                received: attributes
                    .get(&A::ApproximateReceiveCount)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1),
                sent_at: attributes
                    .get(&A::SentTimestamp)
                    .and_then(|ms| ms.parse().ok())
                    .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()),
            });
        }
    }
    Ok(held)
}

/// The device events dead-letter queue (standard, not FIFO): what the
/// device functions and rules gave up on.
#[derive(Debug, Clone)]
pub struct SqsDeviceLetters {
    client: Client,
    url: String,
}

impl SqsDeviceLetters {
    pub fn new(client: Client, url: String) -> Self {
        SqsDeviceLetters { client, url }
    }
}

impl parking_app::usecases::replay::DeviceLetters for SqsDeviceLetters {
    async fn hold(
        &self,
        limit: usize,
    ) -> Result<Vec<parking_app::usecases::dead_letters::Held>, SendError> {
        receive_held(&self.client, &self.url, limit).await
    }

    async fn release(
        &self,
        message: &parking_app::usecases::dead_letters::Held,
    ) -> Result<(), SendError> {
        release_held(&self.client, &self.url, message).await
    }

    async fn delete(
        &self,
        message: &parking_app::usecases::dead_letters::Held,
    ) -> Result<(), SendError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&message.receipt)
            .send()
            .await
            .map_err(sqs_error("deleting a dead letter replayed"))?;
        Ok(())
    }
}
