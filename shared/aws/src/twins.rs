//! In-memory twins of the queues and the device link: they keep what they
//! are sent, in order, and a queue drops a message whose id it has seen,
//! as an SQS FIFO queue's deduplication does. A twin can be told to fail
//! its next sends, to test what a failure leaves behind.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use parking_app::commands::GateCommand;
use parking_app::outbox::{OutboxMessage, Queue};
use parking_app::{DeviceLink, Queues, SendError};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Fails the next `n` sends when asked to.
#[derive(Debug, Default)]
struct Faults(AtomicU32);

impl Faults {
    fn take(&self, what: &'static str) -> Result<(), SendError> {
        let left = self.0.load(Ordering::Relaxed);
        if left > 0 {
            self.0.store(left - 1, Ordering::Relaxed);
            return Err(SendError {
                what,
                source: "injected failure".into(),
            });
        }
        Ok(())
    }
}

/// Queues in memory.
#[derive(Debug, Default)]
pub struct MemoryQueues {
    sent: Mutex<Vec<OutboxMessage>>,
    seen: Mutex<HashSet<String>>,
    faults: Faults,
}

impl MemoryQueues {
    /// Messages taken, in order, without repeats.
    pub fn messages(&self, queue: Queue) -> Vec<OutboxMessage> {
        lock(&self.sent)
            .iter()
            .filter(|m| m.queue() == queue)
            .cloned()
            .collect()
    }

    /// Every message taken, in order.
    pub fn all(&self) -> Vec<OutboxMessage> {
        lock(&self.sent).clone()
    }

    /// The next `n` sends fail.
    pub fn fail_next(&self, n: u32) {
        self.faults.0.store(n, Ordering::Relaxed);
    }
}

impl Queues for MemoryQueues {
    async fn send(&self, message: &OutboxMessage) -> Result<(), SendError> {
        self.faults.take("queue send")?;
        if lock(&self.seen).insert(message.id()) {
            lock(&self.sent).push(message.clone());
        }
        Ok(())
    }
}

/// The device link in memory: it keeps every command published. Clones
/// share what was published.
#[derive(Debug, Default, Clone)]
pub struct MemoryLink {
    published: std::sync::Arc<Mutex<Vec<(String, GateCommand)>>>,
    faults: std::sync::Arc<Faults>,
}

impl MemoryLink {
    /// Commands published, in order: topic and command.
    pub fn published(&self) -> Vec<(String, GateCommand)> {
        lock(&self.published).clone()
    }

    /// The next `n` publishes fail.
    pub fn fail_next(&self, n: u32) {
        self.faults.0.store(n, Ordering::Relaxed);
    }
}

impl DeviceLink for MemoryLink {
    async fn publish(&self, topic: &str, command: &GateCommand) -> Result<(), SendError> {
        self.faults.take("publish")?;
        lock(&self.published).push((topic.to_owned(), command.clone()));
        Ok(())
    }
}

/// The development payment provider, in memory. Test tokens:
/// `pm_card_chargeCustomerFail` and `pm_card_chargeDeclined` are declined,
/// `pm_card_authenticationRequired` needs the cardholder; any other token
/// is charged. Like the fakes settlement is tested against, it does *not*
/// honour idempotency keys: a second charge under one key is a second
/// charge, so exactly-once has to come from the caller.
#[derive(Debug, Default, Clone)]
pub struct DevProvider {
    state: std::sync::Arc<Mutex<DevState>>,
}

#[derive(Debug, Default)]
struct DevState {
    charges: Vec<(
        parking_app::IdempotencyKey,
        parking_app::settlement::ProviderCharge,
    )>,
    /// Charges that time out after charging.
    lose_answers: u32,
    /// Calls that fail before charging.
    unavailable: u32,
}

impl DevProvider {
    /// Every charge made, in order.
    pub fn charges(&self) -> Vec<parking_app::settlement::ProviderCharge> {
        lock(&self.state)
            .charges
            .iter()
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// The next `n` charges are made and then time out, as a provider
    /// that charged but whose answer was lost.
    pub fn lose_answers(&self, n: u32) {
        lock(&self.state).lose_answers = n;
    }

    /// The next `n` calls fail before charging (a 5xx).
    pub fn fail_next(&self, n: u32) {
        lock(&self.state).unavailable = n;
    }
}

impl parking_app::settlement::PaymentProvider for DevProvider {
    async fn charge(
        &self,
        request: &parking_app::settlement::ChargeRequest<'_>,
    ) -> Result<parking_app::settlement::ProviderCharge, parking_app::settlement::ProviderError>
    {
        use parking_app::settlement::{ProviderCharge, ProviderError};
        let mut s = lock(&self.state);
        if s.unavailable > 0 {
            s.unavailable -= 1;
            return Err(ProviderError::Unavailable(
                "503 from the development provider".into(),
            ));
        }
        match request.token.expose() {
            "pm_card_chargeCustomerFail" | "pm_card_chargeDeclined" => {
                return Err(ProviderError::Declined {
                    code: "card_declined".into(),
                });
            }
            "pm_card_authenticationRequired" => return Err(ProviderError::AuthenticationRequired),
            _ => {}
        }
        let charge = ProviderCharge {
            id: format!("pi_dev_{:06}", s.charges.len() + 1),
            amount: request.amount,
        };
        s.charges.push((request.key.clone(), charge.clone()));
        if s.lose_answers > 0 {
            s.lose_answers -= 1;
            return Err(ProviderError::Timeout);
        }
        Ok(charge)
    }

    async fn find_charge(
        &self,
        key: &parking_app::IdempotencyKey,
    ) -> Result<
        Option<parking_app::settlement::ProviderCharge>,
        parking_app::settlement::ProviderError,
    > {
        Ok(lock(&self.state)
            .charges
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, c)| c.clone()))
    }
}
