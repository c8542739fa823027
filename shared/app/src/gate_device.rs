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
//!
//! **When the cloud is slow or gone** (the offline policy):
//! - The gate keeps its shadow's desired allow-list
//!   ([`crate::usecases::allow_list`]): hashes of the plates it may let
//!   through on its own.
//! - A read that gets no command within [`OFFLINE_WAIT`] (5 s) is decided
//!   by the gate: `open` for a plate on the list, `hold` for any other,
//!   the display sending the driver to the kiosk (at an entry: staff).
//!   The gate stops waiting for that read's command; one that comes later
//!   is ignored.
//! - Every such read is kept and uploaded with the next backlog, marked
//!   `"decided_offline": "open"|"hold"`. The cloud treats it as what
//!   happened: an entry held did not come in (its read is kept, turned
//!   away, even if the cloud had opened a session for it), a car let
//!   through is charged to its card as if the cloud had answered.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::commands::{CommandKind, GateCommand, Reason};
use crate::ids::EventId;
use crate::usecases::allow_list::AllowList;

/// How long a gate waits for a read's command before it decides alone.
pub const OFFLINE_WAIT: SignedDuration = SignedDuration::from_secs(5);

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

/// One gate, as its firmware keeps it. `Debug` shows counts, never the
/// reads' plates.
#[derive(Clone)]
pub struct GateDevice {
    state: GateState,
    waiting: Vec<EventId>,
    allow: Option<AllowList>,
    /// Reads published and not answered yet: the payload and when.
    pending: Vec<(EventId, serde_json::Value, Timestamp)>,
    /// Reads decided offline, for the next backlog.
    backlog: Vec<serde_json::Value>,
}

impl std::fmt::Debug for GateDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateDevice")
            .field("state", &self.state)
            .field("waiting", &self.waiting)
            .field("pending", &self.pending.len())
            .field("backlog", &self.backlog.len())
            .field("allow", &self.allow.as_ref().map(|l| l.plates.len()))
            .finish()
    }
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
            allow: None,
            pending: Vec::new(),
            backlog: Vec::new(),
        }
    }

    /// The shadow's allow-list arrived.
    pub fn set_allow_list(&mut self, list: AllowList) {
        self.allow = Some(list);
    }

    /// The gate publishes a read (its payload as the device sends it) at
    /// `now` and waits for its command.
    ///
    /// # Errors
    ///
    /// The payload has no valid `event_id`.
    pub fn publish_read(
        &mut self,
        payload: serde_json::Value,
        now: Timestamp,
    ) -> Result<(), crate::ids::IdError> {
        let id = EventId::parse(payload["event_id"].as_str().unwrap_or_default())?;
        self.read_sent(id.clone());
        self.pending.push((id, payload, now));
        Ok(())
    }

    /// Decides, at `now`, every read that waited [`OFFLINE_WAIT`] for
    /// its command in vain; returns each decision's report.
    pub fn tick(&mut self, now: Timestamp) -> Vec<StateReport> {
        let due = |sent: &Timestamp| sent.checked_add(OFFLINE_WAIT).is_ok_and(|d| d <= now);
        let (late, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|(_, _, at)| due(at));
        self.pending = waiting;
        let mut reports = Vec::new();
        for (id, mut payload, _) in late {
            let Some(i) = self.waiting.iter().position(|e| e == &id) else {
                continue;
            };
            self.waiting.remove(i);
            let allowed = self
                .allow
                .as_ref()
                .is_some_and(|l| l.allows(payload["plate"].as_str().unwrap_or_default()));
            // A faulted barrier decided nothing: the read goes up as it
            // was, and the cloud makes of it what it would have.
            if self.state != GateState::Faulted {
                let decided = if allowed { "open" } else { "hold" };
                payload["decided_offline"] = decided.into();
            }
            self.backlog.push(payload);
            if self.state != GateState::Faulted {
                self.state = if allowed {
                    GateState::Open
                } else {
                    GateState::Held
                };
            }
            reports.push(self.report(Some(id), now));
        }
        reports
    }

    /// The reads decided offline, for a backlog upload (taken: uploaded
    /// once).
    pub fn take_backlog(&mut self) -> Vec<serde_json::Value> {
        std::mem::take(&mut self.backlog)
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
            self.pending.retain(|(e, _, _)| e != &command.event_id);
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
