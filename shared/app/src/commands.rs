//! Commands to a gate's barrier and display, published to
//! `parking/{lot}/gates/{gate}/commands`.
//!
//! ```json
//! {"command": "open", "event_id": "cam-1-000042", "session_id": "s-…",
//!  "reason": "welcome", "display": {"ja": "…", "en": "…"}, "bays": ["A-03"],
//!  "issued_at": "2026-11-30T00:00:01Z", "expires_at": "2026-11-30T00:01:00Z"}
//! ```
//!
//! `amount` and `currency` are present on exits. `event_id` is the read
//! that caused the command; a repeated read gets the same command again.
//!
//! **In time or not at all.** A command carries when it was issued and
//! when it expires: for a read, when that read stops being live (its
//! `occurred_at` plus the lot's `freshness_seconds`, 60 s); for a staff
//! open, [`STAFF_OPEN_LIFETIME`] after it was issued. A gate ignores a
//! command it receives after `expires_at` by its own clock (a persistent
//! session may deliver one an hour late: the car is long gone), and one
//! whose `event_id` is not a read it is waiting for, except a staff open.
//! After acting, or ignoring, the gate reports its state on
//! `parking/{lot}/gates/{gate}/state`: `{"state": "open"|"closed"|"held"|
//! "faulted", "event_id"?, "at"}`. [`crate::gate_device`] is the
//! reference implementation of this side of the contract.

use jiff::{SignedDuration, Timestamp};
use parking_core::Money;
use serde::{Deserialize, Serialize};

use std::future::Future;

use crate::ids::*;
use crate::outbox::SendError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    Open,
    Hold,
}

/// Why a gate opens or holds; each reason has its display text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Entry: a session is open.
    Welcome,
    /// Entry on a reservation that is due.
    Reserved,
    /// Entry refused: the lot is full.
    Full,
    /// Exit: nothing to pay.
    Free,
    /// Exit: the stay is charged to the registered card.
    Charged,
    /// Exit: pay at the kiosk first.
    PayAtKiosk,
    /// Exit: the plate could not be read with confidence; staff check it.
    PlateUnverified,
    /// The stay could not be priced; staff help.
    NeedsStaff,
    /// Exit: paid at the kiosk.
    PaidAtKiosk,
    /// Opened by staff by hand.
    Staff,
    /// Entry: a session is open, and the plate owes for earlier stays at
    /// the operator's lots (`amount`): pay at a kiosk or in the app.
    WelcomeUnpaid,
    /// Entry refused until the plate's earlier stays at the operator's
    /// lots are paid (`amount`).
    Unpaid,
}

impl Reason {
    pub fn command(self) -> CommandKind {
        match self {
            Reason::Welcome
            | Reason::Reserved
            | Reason::Free
            | Reason::Charged
            | Reason::PaidAtKiosk
            | Reason::Staff
            | Reason::WelcomeUnpaid => CommandKind::Open,
            Reason::Full
            | Reason::PayAtKiosk
            | Reason::PlateUnverified
            | Reason::NeedsStaff
            | Reason::Unpaid => CommandKind::Hold,
        }
    }

    /// The gate display's text.
    pub fn display(self, amount: Option<Money>) -> Display {
        let fee = amount.map(|m| m.to_string()).unwrap_or_default();
        let (ja, en) = match self {
            Reason::Welcome => ("いらっしゃいませ".to_owned(), "Welcome".to_owned()),
            Reason::Reserved => (
                "ご予約ありがとうございます".to_owned(),
                "Welcome: your reservation is checked in".to_owned(),
            ),
            Reason::Full => ("満車".to_owned(), "Full".to_owned()),
            Reason::Free => (
                "ありがとうございました".to_owned(),
                "Thank you: nothing to pay".to_owned(),
            ),
            Reason::Charged => (
                format!("{fee} お支払い済み ありがとうございました"),
                format!("{fee} charged to your card. Thank you"),
            ),
            Reason::PayAtKiosk => (
                format!("精算機で {fee} をお支払いください"),
                format!("Please pay {fee} at the kiosk"),
            ),
            Reason::PaidAtKiosk => (
                "精算済みです ありがとうございました".to_owned(),
                "Paid at the kiosk. Thank you".to_owned(),
            ),
            Reason::Staff => ("係員が開けました".to_owned(), "Opened by staff".to_owned()),
            Reason::WelcomeUnpaid => (
                format!(
                    "いらっしゃいませ 未精算の駐車料金 {fee} があります 精算機またはアプリでお支払いください"
                ),
                format!(
                    "Welcome. {fee} is unpaid from an earlier stay: please pay at a kiosk or in the app"
                ),
            ),
            Reason::Unpaid => (
                format!("未精算の駐車料金 {fee} があります 精算機またはアプリでお支払いください"),
                format!(
                    "{fee} is unpaid from an earlier stay: please pay at a kiosk or in the app to enter"
                ),
            ),
            Reason::PlateUnverified | Reason::NeedsStaff => (
                "係員が参りますのでお待ちください".to_owned(),
                "Please wait: staff will help you".to_owned(),
            ),
        };
        Display { ja, en }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Display {
    pub ja: String,
    pub en: String,
}

/// A command as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateCommand {
    pub command: CommandKind,
    pub event_id: EventId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    pub reason: Reason,
    /// Minor units of `currency`: an exit's fee, or what an entry's plate
    /// owes for earlier stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub display: Display,
    #[serde(default)]
    pub bays: Vec<BayId>,
    pub issued_at: Timestamp,
    /// After this the gate ignores the command.
    pub expires_at: Timestamp,
    /// On an entry of a plate a driver has claimed but not proven: a
    /// one-time code the gate shows under its text, for the driver to
    /// type in the app ([`crate::plate_claims`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_code: Option<ProofCodeText>,
}

/// A plate's one-time code as the gate shows it. Never printed by
/// `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProofCodeText(pub String);

impl std::fmt::Debug for ProofCodeText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProofCodeText(<redacted>)")
    }
}

/// How long a staff open stays valid after it was issued.
pub const STAFF_OPEN_LIFETIME: SignedDuration = SignedDuration::from_secs(60);

impl GateCommand {
    pub fn new(
        event_id: EventId,
        session_id: Option<SessionId>,
        reason: Reason,
        amount: Option<Money>,
        bays: Vec<BayId>,
        (issued_at, expires_at): (Timestamp, Timestamp),
    ) -> Self {
        GateCommand {
            issued_at,
            expires_at,
            command: reason.command(),
            event_id,
            session_id,
            reason,
            amount: amount.map(|m| m.minor),
            currency: amount.map(|m| m.currency.code().to_owned()),
            display: reason.display(amount),
            bays,
            proof_code: None,
        }
    }

    /// Whether a gate receiving it at `now` must ignore it.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now > self.expires_at
    }

    /// The topic a gate's commands go to.
    pub fn topic(lot: &LotId, gate: &GateId) -> String {
        format!("parking/{lot}/gates/{gate}/commands")
    }
}

/// The link to gates: commands published to their topics.
pub trait DeviceLink: Send + Sync {
    fn publish(
        &self,
        topic: &str,
        command: &GateCommand,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

impl<T: DeviceLink> DeviceLink for &T {
    async fn publish(&self, topic: &str, command: &GateCommand) -> Result<(), SendError> {
        (**self).publish(topic, command).await
    }
}
