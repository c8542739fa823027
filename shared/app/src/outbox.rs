//! What a state change asks the rest of the system to do: charge or refund
//! a driver, tell a driver something, move a barrier. Charges, refunds and
//! notifications are written to the outbox in the same atomic write as the
//! change that causes them and delivered to their queues from there, so a
//! crash between the write and the send loses nothing; each carries a
//! deterministic id, so a second delivery is recognised downstream.

use jiff::Timestamp;
use parking_core::Money;
use serde::{Deserialize, Serialize};

use std::future::Future;

use crate::ids::*;
use crate::store::{Boxed, StoreResult};

/// The queue an outbox message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Queue {
    Payments,
    Notifications,
    /// Operator webhooks ([`crate::hooks`]).
    Webhooks,
}

impl Queue {
    pub fn name(self) -> &'static str {
        match self {
            Queue::Payments => "payments",
            Queue::Notifications => "notifications",
            Queue::Webhooks => "webhooks",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    Charge,
    Refund,
}

/// A charge or refund for settlement. The idempotency key is derived from
/// the session and the order's place among the session's orders (or from
/// the reservation, for a cancellation fee), so the same events always
/// give the same keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentOrder {
    pub idempotency_key: IdempotencyKey,
    /// The stay it is for; absent for a reservation's cancellation fee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    /// The reservation whose late cancellation it charges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<ReservationId>,
    pub lot_id: LotId,
    pub driver_id: DriverId,
    pub method_id: PaymentMethodId,
    pub kind: PaymentKind,
    /// Always positive; `kind` says which way it goes.
    pub amount: Money,
    pub created_at: Timestamp,
    /// Which attempt at the order this message asks for: 1 when the
    /// order is made, more when a failed charge is retried.
    #[serde(default = "first_attempt", skip_serializing_if = "is_first")]
    pub attempt: u32,
    /// Asked for by a person (staff acting on the stay, or the driver
    /// paying now): a movement that failed is tried again at once instead
    /// of at its retry time.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub now: bool,
}

fn first_attempt() -> u32 {
    1
}

fn is_first(n: &u32) -> bool {
    *n == 1
}

impl PaymentOrder {
    /// Whether it is for this session.
    pub fn is_for(&self, session: &SessionId) -> bool {
        self.session_id.as_ref() == Some(session)
    }

    /// The order's effect on what the driver has paid: `+amount` for a
    /// charge, `-amount` for a refund.
    pub fn signed_minor(&self) -> i64 {
        match self.kind {
            PaymentKind::Charge => self.amount.minor,
            PaymentKind::Refund => -self.amount.minor,
        }
    }
}

/// What a driver is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotificationKind {
    /// Welcome in, with the bays recommended.
    Entry { bays: Vec<BayId> },
    /// Goodbye, with what the stay cost.
    Exit { amount: Option<Money> },
    /// The card payment failed: why, and what to do.
    PaymentFailed {
        amount: Money,
        reason: String,
        /// Whether it will be tried again on its own.
        #[serde(default)]
        retrying: bool,
    },
    /// A refund owed to the driver could not be made after its retries:
    /// staff are on it.
    RefundDelayed { amount: Money },
    /// A reservation starts soon.
    ReservationReminder { start: Timestamp },
    /// A reservation ended unused: cancelled by the driver (with its fee,
    /// if late), or nobody came (with the no-show fee, if any).
    ReservationEnded { no_show: bool, fee: Option<Money> },
    /// A monthly pass ends soon.
    PassExpiring { until: Timestamp },
    /// At an entry: the driver's earlier stays at the operator's lots
    /// owe this ([`crate::unpaid`]; payable in the app or at a kiosk);
    /// `held` when the gate keeps the car out until they are paid.
    Unpaid {
        amount: Money,
        stays: u32,
        #[serde(default)]
        held: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Derived from the event that caused it.
    pub id: String,
    pub driver_id: DriverId,
    pub lot_id: LotId,
    /// The stay it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    /// The reservation it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<ReservationId>,
    #[serde(flatten)]
    pub kind: NotificationKind,
    pub at: Timestamp,
}

/// One message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "queue", content = "body", rename_all = "snake_case")]
pub enum OutboxMessage {
    Payments(PaymentOrder),
    Notifications(Notification),
    Webhooks(crate::hooks::HookMessage),
}

impl OutboxMessage {
    /// Unique per message, stable across deliveries: the queue's
    /// deduplication id.
    pub fn id(&self) -> String {
        match self {
            OutboxMessage::Payments(o) if o.attempt > 1 => {
                format!("pay/{}/a{}", o.idempotency_key, o.attempt)
            }
            OutboxMessage::Payments(o) => format!("pay/{}", o.idempotency_key),
            OutboxMessage::Notifications(n) => format!("note/{}", n.id),
            OutboxMessage::Webhooks(m) => m.id(),
        }
    }

    /// When it was written.
    pub fn created_at(&self) -> Timestamp {
        match self {
            OutboxMessage::Payments(o) => o.created_at,
            OutboxMessage::Notifications(n) => n.at,
            OutboxMessage::Webhooks(m) => m.event().created_at,
        }
    }

    pub fn queue(&self) -> Queue {
        match self {
            OutboxMessage::Payments(_) => Queue::Payments,
            OutboxMessage::Notifications(_) => Queue::Notifications,
            OutboxMessage::Webhooks(_) => Queue::Webhooks,
        }
    }

    /// Messages of one group are delivered in order (a FIFO queue's
    /// message group): a session's payments, a driver's notifications.
    pub fn group(&self) -> String {
        match self {
            OutboxMessage::Payments(o) => match (&o.session_id, &o.reservation_id) {
                (Some(s), _) => s.to_string(),
                (None, Some(r)) => r.to_string(),
                (None, None) => o.idempotency_key.to_string(),
            },
            OutboxMessage::Notifications(n) => n.driver_id.to_string(),
            OutboxMessage::Webhooks(m) => m.group(),
        }
    }

    /// The body as the queue carries it.
    pub fn body(&self) -> String {
        match self {
            OutboxMessage::Payments(o) => serde_json::to_string(o),
            OutboxMessage::Notifications(n) => serde_json::to_string(n),
            OutboxMessage::Webhooks(m) => serde_json::to_string(m),
        }
        .unwrap_or_default()
    }
}

/// Why a queue or the device link did not take a message. Every such
/// failure may succeed when tried again.
#[derive(Debug, thiserror::Error)]
#[error("{what} failed: {source}")]
pub struct SendError {
    pub what: &'static str,
    #[source]
    pub source: Boxed,
}

/// The queues that settlement and notifications read.
pub trait Queues: Send + Sync {
    /// Sends one message; its [`OutboxMessage::id`] deduplicates repeats.
    fn send(&self, message: &OutboxMessage) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// The outbox, as a store keeps it.
pub trait OutboxStore: Send + Sync {
    /// Messages not yet delivered, oldest first.
    fn outbox_pending(
        &self,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<OutboxMessage>>> + Send;
    /// Marks messages delivered.
    fn outbox_delivered(&self, ids: &[String]) -> impl Future<Output = StoreResult<()>> + Send;
    /// Which of these messages are not yet delivered (one read).
    fn outbox_undelivered(
        &self,
        ids: &[String],
    ) -> impl Future<Output = StoreResult<Vec<String>>> + Send;
    /// Outbox messages still undelivered that were written before
    /// `before`, oldest first, at most `limit`.
    fn outbox_stale(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<OutboxMessage>>> + Send;
}

impl<T: Queues> Queues for &T {
    async fn send(&self, message: &OutboxMessage) -> Result<(), SendError> {
        (**self).send(message).await
    }
}
