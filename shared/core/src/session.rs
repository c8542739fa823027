//! Parking session rules: the states a session moves through and which
//! moves are allowed.

use serde::{Deserialize, Serialize};

/// Where a parking session stands.
///
/// Sessions that gates' camera reads make are derived from the plate's
/// timeline (see [`crate::timeline`]): a later read (a backlog) may derive
/// them again, so their state follows the derivation — `open`, `priced`
/// (closed and priced), `entry_missing`, `exit_missing`, or `superseded`
/// when a new derivation no longer has them — rather than the moves below,
/// which apply to what people and settlement do to a session.
///
/// ```text
/// open ──► closing ──► priced ──► paid
///   │         │  ▲         │
///   │         ▼  │         └──► payment_failed ──► paid
///   │       (open: exit aborted)
///   └──► needs_review ◄── (any unpaid state) ──► voided
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// The car is inside the lot.
    Open,
    /// The car is at the exit gate and the stay is being priced.
    Closing,
    /// The stay is priced and the car has left; payment is due.
    Priced,
    Paid,
    PaymentFailed,
    /// A human must decide: misread plate, unmatched exit, disputed fee.
    NeedsReview,
    /// Cancelled by an operator; nothing is owed.
    Voided,
    /// Left with no entry seen: priced at the lot's lost-entry fee.
    EntryMissing,
    /// Entered, and the next thing seen was another entry: never charged
    /// automatically; an operator decides.
    ExitMissing,
    /// A later derivation of the plate's timeline replaced it; whatever
    /// was charged for it is refunded.
    Superseded,
}

impl SessionState {
    pub const ALL: [SessionState; 10] = [
        SessionState::Open,
        SessionState::Closing,
        SessionState::Priced,
        SessionState::Paid,
        SessionState::PaymentFailed,
        SessionState::NeedsReview,
        SessionState::Voided,
        SessionState::EntryMissing,
        SessionState::ExitMissing,
        SessionState::Superseded,
    ];

    /// A session in this state holds its plate in its lot: no second
    /// session for the same plate may open there.
    pub fn holds_plate(self) -> bool {
        matches!(self, SessionState::Open | SessionState::Closing)
    }

    /// Whether a session may move from `self` to `next`.
    pub fn can_become(self, next: SessionState) -> bool {
        use SessionState::*;
        matches!(
            (self, next),
            (Open, Closing | NeedsReview | Voided)
                | (Closing, Priced | Open | NeedsReview)
                | (Priced, Paid | PaymentFailed | NeedsReview)
                | (PaymentFailed, Paid | NeedsReview)
                | (NeedsReview, Closing | Priced | Paid | Voided)
                | (EntryMissing, Paid | PaymentFailed | NeedsReview)
                | (ExitMissing, NeedsReview | Voided)
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            SessionState::Open => "open",
            SessionState::Closing => "closing",
            SessionState::Priced => "priced",
            SessionState::Paid => "paid",
            SessionState::PaymentFailed => "payment_failed",
            SessionState::NeedsReview => "needs_review",
            SessionState::Voided => "voided",
            SessionState::EntryMissing => "entry_missing",
            SessionState::ExitMissing => "exit_missing",
            SessionState::Superseded => "superseded",
        }
    }
}

impl std::fmt::Display for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::SessionState::*;
    use super::*;

    /// Stores compare states by name in their conditions: the name must be
    /// the serialized form, for every state.
    /// Fails to compile when a state is added, until it is in `ALL`.
    fn position(s: SessionState) -> usize {
        match s {
            Open => 0,
            Closing => 1,
            Priced => 2,
            Paid => 3,
            PaymentFailed => 4,
            NeedsReview => 5,
            Voided => 6,
            EntryMissing => 7,
            ExitMissing => 8,
            Superseded => 9,
        }
    }

    #[test]
    fn all_lists_every_state_once() {
        for (i, s) in SessionState::ALL.into_iter().enumerate() {
            assert_eq!(position(s), i);
        }
    }

    #[test]
    fn names_are_the_serialized_form() {
        for state in SessionState::ALL {
            let json = serde_json::to_string(&state).expect("serialize");
            assert_eq!(json, format!("\"{}\"", state.name()));
            let back: SessionState = serde_json::from_str(&json).expect("parse");
            assert_eq!(back, state);
        }
    }

    #[test]
    fn sessions_move_forward_only_along_the_allowed_paths() {
        assert!(Open.can_become(Closing));
        assert!(Closing.can_become(Priced));
        assert!(Priced.can_become(Paid));
        assert!(PaymentFailed.can_become(Paid));
        assert!(!Paid.can_become(Open));
        assert!(!Open.can_become(Paid));
        assert!(!Voided.can_become(Open));
        assert!(Open.holds_plate() && Closing.holds_plate() && !Priced.holds_plate());
    }
}
