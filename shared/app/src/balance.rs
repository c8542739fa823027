//! A stay's balance: what it owes by card against what the provider
//! actually collected and refunded for it, and the one movement that
//! brings the two together next.
//!
//! The rule:
//! - **The account.** A stay's money is kept on its account: the stay
//!   itself or, for a stay a late read superseded, the stay that replaced
//!   it (followed to the end). What was collected for the superseded stay
//!   counts toward its successor, so only the net difference moves.
//! - **Owed** is what the account's stay owes by card
//!   ([`crate::timeline::owed`]); **collected** is the charges the
//!   provider made for the account's stays less the refunds it made, as
//!   recorded in their movements. Orders and failed movements move
//!   nothing.
//! - **The next movement**, read afresh before every provider call:
//!   - owed above collected: a charge of the difference; a difference
//!     below the provider's smallest charge is *carried* (still owed, not
//!     failed, collected with a later movement, at the kiosk or by staff);
//!   - collected above owed: a refund of the difference, taken from the
//!     latest charge with something left, at most what that charge has
//!     left (the rest is the next movement, from an earlier charge);
//!   - equal: nothing.
//! - **After a failure** (the card's, or ours) the same kind of movement
//!   waits for its retry time, and after the last retry for a person,
//!   unless the driver or staff ask for it now. A movement of the other
//!   kind (a refund after a declined charge, say) does not wait. A
//!   transient failure (the provider's) does not wait either: it is
//!   tried at once under a new key.

use jiff::Timestamp;
use parking_core::Currency;

use crate::ids::SessionId;
use crate::model::Session;
use crate::outbox::PaymentKind;
use crate::settlement::{Cause, minimum_charge};
use crate::timeline::{PlateTimeline, SettlementRecord, owed};

/// How many supersessions are followed to find an account: a stay is
/// superseded once per late read that splits or merges it, never in a
/// long chain.
const MAX_HOPS: usize = 16;

/// A charge the provider made, and what of it is not refunded yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeLeft {
    pub charge_id: String,
    pub charged: i64,
    pub left: i64,
}

/// A stay's balance, from its plate's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// The stay that holds the money.
    pub account: SessionId,
    pub currency: Currency,
    /// What the account owes by card, in minor units.
    pub owed: i64,
    /// Charged less refunded at the provider, in minor units.
    pub collected: i64,
    /// Refunded at the provider, in minor units.
    pub refunded: i64,
    /// The charges made, oldest first.
    pub charges: Vec<ChargeLeft>,
    /// The account's latest movement (by its place among the plate's).
    pub last: Option<SettlementRecord>,
    /// Failed movements in a row at the end, of the latest's kind, not
    /// counting transient failures.
    pub failures_in_a_row: u32,
}

/// What to do next about a balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Settled.
    Nothing,
    /// Owed, but less than the provider's smallest charge: carried.
    Carried(i64),
    Charge(i64),
    Refund {
        charge_id: String,
        amount: i64,
    },
    /// The same movement failed; it is tried again at this time.
    Wait(Timestamp),
    /// The same movement failed after its last retry: a person decides.
    GaveUp(String),
    /// More was collected than is owed, and no charge has anything left
    /// to refund (cannot happen while records are whole).
    Stuck(i64),
}

/// The stay whose balance holds `session`'s money.
pub fn account_of<'a>(t: &'a PlateTimeline, session: &'a SessionId) -> &'a SessionId {
    let mut at = session;
    for _ in 0..MAX_HOPS {
        match t
            .sessions
            .iter()
            .find(|s| &s.id == at)
            .and_then(|s| s.replaced_by.as_ref())
        {
            Some(next) if next != at => at = next,
            _ => break,
        }
    }
    at
}

impl Balance {
    /// The balance of the account that holds `session`'s money; `None`
    /// when the timeline does not hold the account's stay.
    pub fn of(t: &PlateTimeline, session: &SessionId) -> Option<Balance> {
        let account = account_of(t, session);
        let stay: &Session = t.sessions.iter().find(|s| &s.id == account)?;
        Some(Balance::of_stay(t, stay))
    }

    /// The balance of `stay` as its account, with what `t` records.
    pub fn of_stay(t: &PlateTimeline, stay: &Session) -> Balance {
        let account = &stay.id;
        let members: Vec<&SessionId> = t
            .sessions
            .iter()
            .map(|s| &s.id)
            .filter(|id| account_of(t, id) == account)
            .chain(std::iter::once(account))
            .collect();
        let mine = |r: &&SettlementRecord| members.contains(&&r.session_id);
        let mut charges: Vec<ChargeLeft> = Vec::new();
        let mut refunded = 0;
        let mut currency = stay.fee.map(|f| f.currency);
        for r in t.settlements.iter().filter(mine) {
            currency.get_or_insert(r.amount.currency);
            if r.reverses.is_some() {
                // A refund the bank failed: its money is collected again.
                refunded -= r.amount.minor;
                if let Some(of) = r.refund_of.as_ref()
                    && let Some(c) = charges.iter_mut().find(|c| &c.charge_id == of)
                {
                    c.left += r.amount.minor;
                }
                continue;
            }
            let Some(id) = &r.charge_id else { continue };
            match r.kind {
                PaymentKind::Charge => charges.push(ChargeLeft {
                    charge_id: id.clone(),
                    charged: r.amount.minor,
                    left: r.amount.minor,
                }),
                PaymentKind::Refund => {
                    refunded += r.amount.minor;
                    if let Some(of) = r.refund_of.as_ref()
                        && let Some(c) = charges.iter_mut().find(|c| &c.charge_id == of)
                    {
                        c.left -= r.amount.minor;
                    }
                }
            }
        }
        let own: Vec<&SettlementRecord> = t
            .settlements
            .iter()
            .filter(|r| &r.session_id == account)
            .collect();
        let last = own
            .iter()
            .max_by_key(|r| (r.attempt, r.at))
            .map(|r| (*r).clone());
        let mut failures_in_a_row = 0;
        if let Some(l) = &last {
            let mut tail: Vec<&&SettlementRecord> = own.iter().collect();
            tail.sort_by_key(|r| std::cmp::Reverse(r.attempt));
            for r in tail {
                if r.kind != l.kind || r.charge_id.is_some() {
                    break;
                }
                if r.cause != Some(Cause::Transient) {
                    failures_in_a_row += 1;
                }
            }
        }
        let charged: i64 = charges.iter().map(|c| c.charged).sum();
        Balance {
            account: account.clone(),
            currency: currency.unwrap_or(Currency::JPY),
            owed: owed(stay),
            collected: charged - refunded,
            refunded,
            charges,
            last,
            failures_in_a_row,
        }
    }

    /// The movement the balance wants, whatever happened before.
    pub fn wanted(&self) -> Next {
        let gap = self.owed - self.collected;
        if gap > 0 {
            if gap < minimum_charge(self.currency) {
                Next::Carried(gap)
            } else {
                Next::Charge(gap)
            }
        } else if gap < 0 {
            match self.charges.iter().rev().find(|c| c.left > 0) {
                Some(c) => Next::Refund {
                    charge_id: c.charge_id.clone(),
                    amount: (-gap).min(c.left),
                },
                None => Next::Stuck(-gap),
            }
        } else {
            Next::Nothing
        }
    }

    /// The movement to make at `now`: what the balance wants, unless the
    /// same movement failed and waits for its retry or for a person
    /// (`force`: the driver or staff ask for it now).
    pub fn next(&self, now: Timestamp, force: bool) -> Next {
        let wanted = self.wanted();
        let kind = match &wanted {
            Next::Charge(_) => PaymentKind::Charge,
            Next::Refund { .. } => PaymentKind::Refund,
            _ => return wanted,
        };
        match &self.last {
            Some(l)
                if !force
                    && l.kind == kind
                    && l.charge_id.is_none()
                    && l.cause != Some(Cause::Transient) =>
            {
                if l.gave_up {
                    Next::GaveUp(l.failure.clone().unwrap_or_default())
                } else {
                    match l.retry_at {
                        Some(at) if at > now => Next::Wait(at),
                        Some(_) => wanted,
                        None => Next::GaveUp(l.failure.clone().unwrap_or_default()),
                    }
                }
            }
            _ => wanted,
        }
    }

    /// Whether nothing is left to move: settled, or less than the
    /// smallest charge owed.
    pub fn is_settled(&self) -> bool {
        matches!(self.wanted(), Next::Nothing | Next::Carried(_))
    }
}
