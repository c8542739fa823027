//! Commands to a gate's barrier and display, published to
//! `parking/{lot}/gates/{gate}/commands`.
//!
//! ```json
//! {"command": "open", "event_id": "cam-1-000042", "session_id": "s-…",
//!  "reason": "welcome", "display": {"ja": "…", "en": "…"}, "bays": ["A-03"]}
//! ```
//!
//! `amount` and `currency` are present on exits. `event_id` is the read
//! that caused the command; a repeated read gets the same command again.

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
}

impl Reason {
    pub fn command(self) -> CommandKind {
        match self {
            Reason::Welcome
            | Reason::Reserved
            | Reason::Free
            | Reason::Charged
            | Reason::PaidAtKiosk
            | Reason::Staff => CommandKind::Open,
            Reason::Full | Reason::PayAtKiosk | Reason::PlateUnverified | Reason::NeedsStaff => {
                CommandKind::Hold
            }
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
    /// Minor units of `currency`; exits only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub display: Display,
    #[serde(default)]
    pub bays: Vec<BayId>,
}

impl GateCommand {
    pub fn new(
        event_id: EventId,
        session_id: Option<SessionId>,
        reason: Reason,
        amount: Option<Money>,
        bays: Vec<BayId>,
    ) -> Self {
        GateCommand {
            command: reason.command(),
            event_id,
            session_id,
            reason,
            amount: amount.map(|m| m.minor),
            currency: amount.map(|m| m.currency.code().to_owned()),
            display: reason.display(amount),
            bays,
        }
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
