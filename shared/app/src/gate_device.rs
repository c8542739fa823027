//! A gate's side of the command contract ([`crate::commands`]), as a
//! reference implementation: what a gate's firmware does with the
//! commands it receives. The tests drive it; device integrators follow
//! it.
//!
//! The rule:
//! - After publishing a read, the gate waits for the command whose
//!   `event_id` is the read's.
//! - A command received after its `expires_at`, by the gate's own clock,
//!   is ignored: the barrier does not move and nothing is shown. (A
//!   persistent MQTT session may deliver a command long after it was
//!   sent; the car it was for has gone, and the next car must not be let
//!   through by it.)
//! - A command for a read the gate is not waiting for is ignored, except a
//!   staff open (`reason: "staff"`), which is for whoever is at the
//!   barrier.
//! - Acting on a command ends the wait for its read; `open` raises the
//!   barrier, `hold` keeps it down and shows the display's text.
//! - After every change the gate reports its state (`open`, `closed`,
//!   `held` or `faulted`) on `parking/{lot}/gates/{gate}/state`, with the
//!   command's `event_id` when a command caused it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::commands::{CommandKind, GateCommand, Reason};
use crate::ids::EventId;

/// A gate's barrier as the gate reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateState {
    Open,
    Closed,
    /// Down, showing why (pay at the kiosk, full, staff will come).
    Held,
    /// The barrier cannot move.
    Faulted,
}

/// A state report, as the gate publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateReport {
    pub state: GateState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    pub at: Timestamp,
}

/// What a gate did with a command it received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Acted on: the state it reports.
    Acted(StateReport),
    /// Received after its `expires_at`: ignored.
    Expired,
    /// Not for a read the gate is waiting for: ignored.
    NotWaiting,
    /// The barrier is faulted: nothing moves (the state is reported
    /// again).
    Faulted(StateReport),
}

/// One gate, as its firmware keeps it.
#[derive(Debug, Clone)]
pub struct GateDevice {
    state: GateState,
    waiting: Vec<EventId>,
}

impl Default for GateDevice {
    fn default() -> Self {
        GateDevice::new()
    }
}

impl GateDevice {
    /// A closed gate waiting for nothing.
    pub fn new() -> Self {
        GateDevice {
            state: GateState::Closed,
            waiting: Vec::new(),
        }
    }

    pub fn state(&self) -> GateState {
        self.state
    }

    /// The gate published a read and waits for its command.
    pub fn read_sent(&mut self, event_id: EventId) {
        if !self.waiting.contains(&event_id) {
            self.waiting.push(event_id);
        }
    }

    /// A command arrives at `now` (the gate's clock).
    pub fn receive(&mut self, command: &GateCommand, now: Timestamp) -> Received {
        if command.is_expired(now) {
            return Received::Expired;
        }
        let staff = command.reason == Reason::Staff;
        let waited = self.waiting.iter().position(|e| e == &command.event_id);
        if waited.is_none() && !staff {
            return Received::NotWaiting;
        }
        if let Some(i) = waited {
            self.waiting.remove(i);
        }
        if self.state == GateState::Faulted {
            return Received::Faulted(self.report(Some(command.event_id.clone()), now));
        }
        self.state = match command.command {
            CommandKind::Open => GateState::Open,
            CommandKind::Hold => GateState::Held,
        };
        Received::Acted(self.report(Some(command.event_id.clone()), now))
    }

    /// The car has passed (or left the lane): the barrier closes.
    pub fn closed(&mut self, now: Timestamp) -> StateReport {
        if self.state != GateState::Faulted {
            self.state = GateState::Closed;
        }
        self.report(None, now)
    }

    /// The barrier failed, or was repaired (`faulted: false`).
    pub fn set_faulted(&mut self, faulted: bool, now: Timestamp) -> StateReport {
        self.state = if faulted {
            GateState::Faulted
        } else {
            GateState::Closed
        };
        self.report(None, now)
    }

    fn report(&self, event_id: Option<EventId>, at: Timestamp) -> StateReport {
        StateReport {
            state: self.state,
            event_id,
            at,
        }
    }
}
