//! The unpaid register: stays that left owing money, kept per operator
//! and plate, so that the plate's next entry at any of the operator's
//! lots asks for the money ([`crate::usecases::plate_read`]).
//!
//! The rule ([`debt_of`]). A stay is on the register while its exit has
//! been seen and it owes money nothing collects on its own:
//! - **`kiosk_unpaid`**: no card; priced (or at the lost-entry fee) with
//!   something left to pay at the kiosk. The exit gate holds such a car;
//!   whether it then waits, pays, or drives through the barrier behind
//!   another car, the cameras cannot tell, so the stay is on the register
//!   from its exit read until it is paid or staff decide it.
//! - **`card_failed`**: its card payment was given up after its retries
//!   (the stay waits for a person, [`crate::timeline::owed`]); what the
//!   card did not collect.
//!
//! A stay whose card payment is still being retried, or that waits for
//! staff for another reason, is not on it.
//!
//! The protocol. Every change to a stay is a commit of its plate's
//! timeline ([`crate::history::TimelineCommit`]); the commit carries the
//! register's changes for the stays it changed ([`changes`]: a debt
//! written when a stay starts owing or its amount moves, removed when it
//! stops), in the same write. The plate's timeline version orders every
//! change of its stays, and each stay has an entry of its own, so the
//! lots of one operator never write the same entry: the register is
//! exact without reading it first. Paying, at any kiosk of the operator
//! or in the app, changes the stay and so clears its entry everywhere.
//!
//! Reading. An entry reads at most [`SHOWN`] of the plate's debts (one
//! query of the plate's own partition, whatever the register's size);
//! staff list the operator's register a page at a time, and a kiosk
//! finds its debts by the plate's four digits, as it finds the stays of
//! its own lot. Entries carry the plate (to be collected), and are kept
//! as long as the stay owes: the plate's retention keeps a stay that
//! owes ([`crate::usecases::retention`]).

use std::future::Future;

use jiff::Timestamp;
use parking_core::{Money, Plate, SessionState};
use serde::{Deserialize, Serialize};

use crate::ids::{LotId, OperatorId, SessionId};
use crate::model::Session;
use crate::store::StoreResult;

/// The debts an entry reads at most; the total it asks for is theirs.
pub const SHOWN: usize = 10;

/// What the entry gate does for a car with unpaid stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnpaidPolicy {
    /// Let it in; the gate and the driver's app ask for the money.
    #[default]
    Open,
    /// Hold it at the barrier until the stays are paid.
    Hold,
}

/// Why a stay is on the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DebtReason {
    /// No card: what it should have paid at the kiosk.
    KioskUnpaid,
    /// Its card payment was given up.
    CardFailed,
}

impl DebtReason {
    pub fn name(self) -> &'static str {
        match self {
            DebtReason::KioskUnpaid => "kiosk_unpaid",
            DebtReason::CardFailed => "card_failed",
        }
    }
}

/// One stay on the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Debt {
    pub operator: OperatorId,
    pub plate: Plate,
    pub session_id: SessionId,
    /// The lot it was run up in.
    pub lot_id: LotId,
    /// The driver whose stay it was, if the plate was theirs then: only
    /// they are asked in the app (a plate's later holder is asked at the
    /// gate only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_id: Option<crate::ids::DriverId>,
    pub reason: DebtReason,
    /// What it owes.
    pub amount: Money,
    pub entry_at: Timestamp,
    /// When it left (its exit read).
    pub exit_at: Timestamp,
}

impl Debt {
    /// The four digits a kiosk finds it by (the plate's serial).
    pub fn digits(&self) -> String {
        self.plate.serial_digits().unwrap_or_default()
    }
}

/// A change to the register, in the write of the stay's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebtChange {
    /// The stay owes this now (written over what was there).
    Owe(Debt),
    /// The stay owes nothing any more.
    Clear {
        operator: OperatorId,
        plate: Plate,
        session_id: SessionId,
    },
}

/// Why a stay is on the register and what it owes, if it is (the rule
/// in the module doc; a plate nobody could read is not on it).
pub fn debt_of(s: &Session) -> Option<(DebtReason, Money)> {
    let reason = kind_of(s)?;
    let fee = s.fee?;
    let owed = match reason {
        DebtReason::KioskUnpaid => s.still_to_pay(),
        DebtReason::CardFailed => crate::timeline::owed(s) - s.collected,
    };
    (owed > 0).then(|| (reason, Money::new(owed, fee.currency)))
}

/// The kind of stay the register is for, whether or not it owes now: a
/// stay with a readable plate, its exit seen, and either no card (priced,
/// or at the lost-entry fee) or its card payment given up. A kiosk of
/// another of the operator's lots may take payments for such a stay (and
/// answer a repeated one as it was).
pub fn kind_of(s: &Session) -> Option<DebtReason> {
    // A plate nobody could read is never asked at an entry.
    if !s.plate.is_readable() {
        return None;
    }
    s.exit_at?;
    match (&s.method_id, s.state) {
        (None, SessionState::Priced | SessionState::EntryMissing) => Some(DebtReason::KioskUnpaid),
        (Some(_), SessionState::NeedsReview) if s.payment_failure.is_some() => {
            Some(DebtReason::CardFailed)
        }
        _ => None,
    }
}

/// The stay's entry, if it is on the register.
pub fn entry_of(operator: &OperatorId, s: &Session) -> Option<Debt> {
    let (reason, amount) = debt_of(s)?;
    Some(Debt {
        operator: operator.clone(),
        plate: s.plate.clone(),
        session_id: s.id.clone(),
        lot_id: s.lot_id.clone(),
        driver_id: s.driver_id.clone(),
        reason,
        amount,
        entry_at: s.entry_at,
        exit_at: s.exit_at?,
    })
}

/// The register's changes for the stays a commit changes: `before` holds
/// the stays as they were (the working copy's), `changed` as they are
/// now. A stay whose entry is the same both times is not written.
pub fn changes(operator: &OperatorId, before: &[Session], changed: &[Session]) -> Vec<DebtChange> {
    changed
        .iter()
        .filter_map(|now| {
            let was = before
                .iter()
                .find(|b| b.id == now.id)
                .and_then(|b| entry_of(operator, b));
            match (was, entry_of(operator, now)) {
                (was, Some(debt)) if was.as_ref() != Some(&debt) => Some(DebtChange::Owe(debt)),
                (Some(_), None) => Some(DebtChange::Clear {
                    operator: operator.clone(),
                    plate: now.plate.clone(),
                    session_id: now.id.clone(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// What a plate owes an operator, as an entry shows it: the total of
/// the debts read, in their currency.
pub fn total(debts: &[Debt]) -> Option<Money> {
    let first = debts.first()?;
    let minor = debts
        .iter()
        .filter(|d| d.amount.currency == first.amount.currency)
        .map(|d| d.amount.minor)
        .sum();
    Some(Money::new(minor, first.amount.currency))
}

/// A page of an operator's register.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegisterPage {
    pub debts: Vec<Debt>,
    /// Where the next page starts, if there is one.
    pub next: Option<String>,
}

/// The register as a store keeps it. Its writes are part of a plate's
/// timeline commit.
pub trait UnpaidStore: Send + Sync {
    /// A plate's debts with an operator, in session id order, at most
    /// `limit` (eventually consistent: a debt is written at a stay's
    /// exit, never a moment before the plate's next entry).
    fn debts_of(
        &self,
        operator: &OperatorId,
        plate: &Plate,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<Debt>>> + Send;
    /// The operator's register, by the plates' four digits (only those
    /// `digits`, when given) then session id, `limit` at a time from
    /// `after` (a page's `next`).
    fn register(
        &self,
        operator: &OperatorId,
        digits: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<RegisterPage>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_core::Currency;

    fn stay(method: bool, state: SessionState) -> Session {
        let at = |s: &str| s.parse::<Timestamp>().expect("time");
        Session {
            id: SessionId::parse("s-1").expect("id"),
            lot_id: LotId::parse("lot-1").expect("id"),
            plate: Plate::parse("横浜 300 そ 11-22").expect("plate"),
            state,
            version: 3,
            entry_at: at("2026-11-30T00:00:00Z"),
            entry_gate: "g-in".parse().expect("gate"),
            exit_at: Some(at("2026-11-30T01:00:00Z")),
            exit_gate: Some("g-out".parse().expect("gate")),
            driver_id: None,
            reservation_id: None,
            fee: Some(Money::new(900, Currency::JPY)),
            method_id: method.then(|| "pm-1".parse().expect("card")),
            flags: Vec::new(),
            origin: None,
            frames: Vec::new(),
            replaced_by: None,
            tariff_id: None,
            resolution: None,
            refunded: 0,
            kiosk_paid: 0,
            payment_failure: None,
            collected: 0,
            updated_at: at("2026-11-30T01:00:00Z"),
        }
    }

    #[test]
    fn a_stay_without_a_card_owes_what_the_kiosk_did_not_take() {
        let s = stay(false, SessionState::Priced);
        assert_eq!(
            debt_of(&s),
            Some((DebtReason::KioskUnpaid, Money::new(900, Currency::JPY)))
        );
        let part = Session {
            kiosk_paid: 300,
            ..s.clone()
        };
        assert_eq!(debt_of(&part).map(|(_, m)| m.minor), Some(600));
        let paid = Session {
            kiosk_paid: 900,
            ..s.clone()
        };
        assert_eq!(debt_of(&paid), None);
        // Still inside: not on the register until its exit.
        let inside = Session {
            exit_at: None,
            state: SessionState::Open,
            ..s.clone()
        };
        assert_eq!(debt_of(&inside), None);
        let voided = Session {
            state: SessionState::Voided,
            ..s
        };
        assert_eq!(debt_of(&voided), None);
    }

    #[test]
    fn a_card_stay_is_on_it_only_once_its_payment_is_given_up() {
        // Priced and being charged, or failed and retried: not yet.
        assert_eq!(debt_of(&stay(true, SessionState::Priced)), None);
        let retrying = Session {
            payment_failure: Some("declined".into()),
            ..stay(true, SessionState::PaymentFailed)
        };
        assert_eq!(debt_of(&retrying), None);
        let given_up = Session {
            payment_failure: Some("declined".into()),
            collected: 200,
            ..stay(true, SessionState::NeedsReview)
        };
        assert_eq!(
            debt_of(&given_up),
            Some((DebtReason::CardFailed, Money::new(700, Currency::JPY)))
        );
        // In review for another reason (an unmatched exit): not a debt.
        assert_eq!(debt_of(&stay(true, SessionState::NeedsReview)), None);
    }

    #[test]
    fn a_plate_nobody_read_is_never_on_it() {
        let s = Session {
            plate: Plate::unreadable("cam-1/e-1"),
            ..stay(false, SessionState::Priced)
        };
        assert_eq!(debt_of(&s), None);
    }

    #[test]
    fn a_commit_writes_an_entry_only_when_it_changes() {
        let op = OperatorId::parse("op").expect("op");
        let owing = stay(false, SessionState::Priced);
        let open = Session {
            exit_at: None,
            state: SessionState::Open,
            ..owing.clone()
        };
        // Starts owing: written.
        let c = changes(
            &op,
            std::slice::from_ref(&open),
            std::slice::from_ref(&owing),
        );
        assert!(matches!(c.as_slice(), [DebtChange::Owe(d)] if d.amount.minor == 900));
        // Changed otherwise (a later version), owing the same: nothing.
        let later = Session {
            version: 4,
            ..owing.clone()
        };
        assert_eq!(changes(&op, std::slice::from_ref(&owing), &[later]), vec![]);
        // Paid part: written again with the new amount.
        let part = Session {
            kiosk_paid: 100,
            ..owing.clone()
        };
        let c = changes(
            &op,
            std::slice::from_ref(&owing),
            std::slice::from_ref(&part),
        );
        assert!(matches!(c.as_slice(), [DebtChange::Owe(d)] if d.amount.minor == 800));
        // Paid: cleared. Never owed: nothing, whatever changed.
        let paid = Session {
            kiosk_paid: 900,
            ..owing.clone()
        };
        let c = changes(&op, std::slice::from_ref(&owing), &[paid]);
        assert!(
            matches!(c.as_slice(), [DebtChange::Clear { session_id, .. }] if session_id == &owing.id)
        );
        assert_eq!(changes(&op, &[], std::slice::from_ref(&open)), vec![]);
    }
}
