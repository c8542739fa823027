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
    /// Each device's shadow: its allow-list and the shadow's version.
    shadows: std::sync::Arc<
        Mutex<
            std::collections::BTreeMap<
                parking_app::DeviceId,
                (parking_app::usecases::allow_list::AllowList, u64),
            >,
        >,
    >,
    published: std::sync::Arc<Mutex<Vec<(String, GateCommand)>>>,
    notified: std::sync::Arc<Mutex<Vec<(String, parking_app::usecases::notify::Rendered)>>>,
    faults: std::sync::Arc<Faults>,
}

impl parking_app::usecases::allow_list::AllowListLink for MemoryLink {
    async fn current(
        &self,
        device: &parking_app::DeviceId,
    ) -> Result<parking_app::usecases::allow_list::Held, SendError> {
        let held = lock(&self.shadows).get(device).cloned();
        Ok(parking_app::usecases::allow_list::Held {
            version: held.as_ref().map(|(_, v)| *v),
            list: held.map(|(l, _)| l),
        })
    }

    async fn push(
        &self,
        device: &parking_app::DeviceId,
        list: &parking_app::usecases::allow_list::AllowList,
        version: Option<u64>,
    ) -> Result<bool, SendError> {
        self.faults.take("shadow update")?;
        let mut shadows = lock(&self.shadows);
        let now = shadows.get(device).map(|(_, v)| *v);
        if version.is_some() && version != now {
            return Ok(false);
        }
        shadows.insert(device.clone(), (list.clone(), now.unwrap_or(0) + 1));
        Ok(true)
    }
}

impl MemoryLink {
    /// The allow-list a device's shadow holds.
    pub fn shadow(
        &self,
        device: &parking_app::DeviceId,
    ) -> Option<parking_app::usecases::allow_list::AllowList> {
        lock(&self.shadows).get(device).map(|(l, _)| l.clone())
    }

    /// Commands published, in order: topic and command.
    pub fn published(&self) -> Vec<(String, GateCommand)> {
        lock(&self.published).clone()
    }

    /// Drivers' notifications published, in order: topic and message.
    pub fn notified(&self) -> Vec<(String, parking_app::usecases::notify::Rendered)> {
        lock(&self.notified).clone()
    }

    /// The next `n` publishes fail.
    pub fn fail_next(&self, n: u32) {
        self.faults.0.store(n, Ordering::Relaxed);
    }
}

impl parking_app::usecases::notify::DriverLink for MemoryLink {
    async fn notify(
        &self,
        topic: &str,
        message: &parking_app::usecases::notify::Rendered,
    ) -> Result<(), SendError> {
        self.faults.take("publish")?;
        lock(&self.notified).push((topic.to_owned(), message.clone()));
        Ok(())
    }
}

impl DeviceLink for MemoryLink {
    async fn publish(&self, topic: &str, command: &GateCommand) -> Result<(), SendError> {
        self.faults.take("publish")?;
        lock(&self.published).push((topic.to_owned(), command.clone()));
        Ok(())
    }
}

/// Dead-letter queues in memory: messages put there by a test (or by
/// `parkctl serve`'s demo), listed, released and sent back to a
/// [`MemoryQueues`]-like record of what was redriven. Clones share them.
#[derive(Debug, Default, Clone)]
pub struct MemoryDeadLetters {
    held: std::sync::Arc<Mutex<Vec<(Queue, parking_app::usecases::dead_letters::Held)>>>,
    sent_back: std::sync::Arc<Mutex<Vec<(Queue, String)>>>,
}

impl MemoryDeadLetters {
    /// Puts a message in `queue`'s dead-letter queue.
    pub fn push(&self, queue: Queue, id: &str, group: Option<&str>, body: &str) {
        lock(&self.held).push((
            queue,
            parking_app::usecases::dead_letters::Held {
                id: id.to_owned(),
                receipt: id.to_owned(),
                body: body.to_owned(),
                group: group.map(str::to_owned),
                received: 5,
                sent_at: None,
            },
        ));
    }

    /// The bodies sent back, in order.
    pub fn sent_back(&self) -> Vec<(Queue, String)> {
        lock(&self.sent_back).clone()
    }
}

impl parking_app::usecases::dead_letters::DeadLetterQueues for MemoryDeadLetters {
    async fn hold(
        &self,
        queue: Queue,
        limit: usize,
    ) -> Result<Vec<parking_app::usecases::dead_letters::Held>, SendError> {
        Ok(lock(&self.held)
            .iter()
            .filter(|(q, _)| *q == queue)
            .take(limit)
            .map(|(_, m)| m.clone())
            .collect())
    }

    async fn release(
        &self,
        _queue: Queue,
        _message: &parking_app::usecases::dead_letters::Held,
    ) -> Result<(), SendError> {
        Ok(())
    }

    async fn send_back(
        &self,
        queue: Queue,
        message: &parking_app::usecases::dead_letters::Held,
    ) -> Result<(), SendError> {
        lock(&self.sent_back).push((queue, message.body.clone()));
        lock(&self.held).retain(|(q, m)| !(*q == queue && m.id == message.id));
        Ok(())
    }
}

/// The device events dead-letter queue, in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryDeviceLetters {
    held: std::sync::Arc<std::sync::Mutex<Vec<parking_app::usecases::dead_letters::Held>>>,
}

impl MemoryDeviceLetters {
    /// Puts a message in the queue, as sent at `sent_at`.
    pub fn push(&self, id: &str, body: &str, sent_at: jiff::Timestamp) {
        lock(&self.held).push(parking_app::usecases::dead_letters::Held {
            id: id.to_owned(),
            receipt: id.to_owned(),
            body: body.to_owned(),
            group: None,
            received: 1,
            sent_at: Some(sent_at),
        });
    }

    /// The ids of the messages still in the queue.
    pub fn ids(&self) -> Vec<String> {
        lock(&self.held).iter().map(|m| m.id.clone()).collect()
    }
}

impl parking_app::usecases::replay::DeviceLetters for MemoryDeviceLetters {
    async fn hold(
        &self,
        limit: usize,
    ) -> Result<Vec<parking_app::usecases::dead_letters::Held>, SendError> {
        Ok(lock(&self.held).iter().take(limit).cloned().collect())
    }

    async fn release(
        &self,
        _message: &parking_app::usecases::dead_letters::Held,
    ) -> Result<(), SendError> {
        Ok(())
    }

    async fn delete(
        &self,
        message: &parking_app::usecases::dead_letters::Held,
    ) -> Result<(), SendError> {
        lock(&self.held).retain(|m| m.id != message.id);
        Ok(())
    }
}

/// Feature flags from a JSON file (`parking_app::flags::FlagSet`'s form),
/// for local runs: read again whenever the cache around it asks.
#[derive(Debug, Clone)]
pub struct FileFlags(pub std::path::PathBuf);

impl parking_app::flags::FlagSource for FileFlags {
    async fn load(&self) -> Result<parking_app::flags::FlagSet, parking_app::flags::FlagError> {
        let text = std::fs::read_to_string(&self.0)
            .map_err(|e| parking_app::flags::FlagError(format!("{}: {e}", self.0.display())))?;
        parking_app::flags::FlagSet::parse(&text)
    }
}
