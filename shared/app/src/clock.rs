//! The time now: use cases never read the system clock themselves.

use jiff::Timestamp;

/// The time now. Use cases never read the system clock themselves.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// A clock that always says the same time: for tests, replays and
/// simulations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}
