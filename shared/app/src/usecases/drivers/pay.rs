//! Paying after a failure: the driver pays what a stay of theirs still
//! owes, now, with a card of their choice.
//!
//! The rule: the stay must be the driver's and owe something by card
//! beyond what was collected (its payment failed, was given up, or is
//! carried), or be on the unpaid register ([`crate::unpaid`]: left
//! without paying at the kiosk); the card must be the driver's. The card becomes the stay's
//! card (kept with the plate's timeline, so every later reconciliation
//! charges it), and a prompt asked for now is queued in the same write:
//! the stay's balance is settled at once on that card, whatever retry was
//! waiting. A card the bank wants its holder to confirm fails as
//! `payment_failed` ("needs the cardholder to authenticate") and is told
//! to the driver. Adding a card pays the driver's failed stays with it
//! ([`retry_failed_on`]).

use jiff::Timestamp;

use crate::balance::Balance;
use crate::ids::*;
use crate::model::{Actor, Session};
use crate::store::prelude::*;
use crate::timeline::{Adjustment, AdjustmentKind};
use crate::usecases::adjust::{Action, ActionError, action_id, amend};

/// What paying now did.
#[derive(Debug, Clone, PartialEq)]
pub struct PaidNow {
    pub session: Session,
    /// What the stay owes beyond what was collected, in minor units: what
    /// the queued payment will charge.
    pub owed: i64,
}

/// Whether a stay waits for its driver to pay: a card payment failed, was
/// given up, or owes more than was collected.
fn unpaid(s: &Session) -> bool {
    s.method_id.is_some() && crate::timeline::owed(s) > s.collected
}

/// Pays what a stay owes now with one of the driver's cards. `key` names
/// the request: the same key again does nothing more.
///
/// # Errors
///
/// `NotFound("session")` for a stay that is not the driver's,
/// `NotFound("payment method")` for a card that is not theirs,
/// `nothing_owed` (409) when the stay owes nothing, or the store's.
pub async fn pay_now<S: Store>(
    store: &S,
    driver: &DriverId,
    session_id: &SessionId,
    method_id: &PaymentMethodId,
    key: &str,
    now: Timestamp,
) -> Result<PaidNow, ActionError> {
    let s = match store.get_session(session_id).await {
        Ok(s) if s.driver_id.as_ref() == Some(driver) => s,
        Ok(_) | Err(StoreError::NotFound { .. }) => return Err(ActionError::NotFound("session")),
        Err(e) => return Err(e.into()),
    };
    if !store
        .payment_methods(driver)
        .await?
        .iter()
        .any(|m| &m.id == method_id)
    {
        return Err(ActionError::NotFound("payment method"));
    }
    let id = action_id("pay-now", &[session_id.as_str(), key]);
    let by = Actor {
        role: "driver".into(),
        subject: driver.to_string(),
    };
    let entry = crate::model::AuditEntry {
        id: id.clone(),
        lot_id: s.lot_id.clone(),
        at: now,
        actor: by.clone(),
        action: "session.pay_now".into(),
        target: session_id.to_string(),
        note: String::new(),
        amount: None,
    };
    let done = amend(
        store,
        now,
        Action {
            lot_id: &s.lot_id,
            plate: &s.plate,
            id: id.clone(),
            session: Some(session_id),
            audit: Some(entry),
            pass: None,
            outbox: Vec::new(),
        },
        |t| {
            let current = t
                .sessions
                .iter()
                .find(|x| &x.id == session_id)
                .ok_or(ActionError::NotFound("session"))?;
            // Or a stay of theirs on the unpaid register with no card
            // (not paid at a kiosk): the card becomes its card.
            if !unpaid(current) && crate::unpaid::debt_of(current).is_none() {
                return Err(ActionError::conflict(
                    "nothing_owed",
                    "the stay owes nothing by card",
                ));
            }
            t.adjustments.push(Adjustment {
                id: id.clone(),
                session_id: session_id.clone(),
                by: by.clone(),
                at: now,
                kind: AdjustmentKind::PaymentMethod {
                    method_id: method_id.clone(),
                },
            });
            Ok(())
        },
    )
    .await?;
    let session = match done.session {
        Some(s) => s,
        None => store.get_session(session_id).await?,
    };
    let owed = match crate::history::of_session(store, &session).await? {
        Some(t) => Balance::of(&t, session_id).map_or(0, |b| (b.owed - b.collected).max(0)),
        None => 0,
    };
    Ok(PaidNow { session, owed })
}

/// Pays the driver's stays whose card payment failed with `method_id`
/// (a card just added): each as [`pay_now`] would. Returns the stays
/// prompted.
///
/// # Errors
///
/// The store's.
pub async fn retry_failed_on<S: Store>(
    store: &S,
    driver: &DriverId,
    method_id: &PaymentMethodId,
    now: Timestamp,
) -> Result<Vec<SessionId>, ActionError> {
    let mut prompted = Vec::new();
    for s in store.driver_sessions(driver).await? {
        let failed = matches!(
            s.state,
            parking_core::SessionState::PaymentFailed | parking_core::SessionState::NeedsReview
        ) && s.payment_failure.is_some();
        if !failed || !unpaid(&s) {
            continue;
        }
        match pay_now(store, driver, &s.id, method_id, method_id.as_str(), now).await {
            Ok(_) => prompted.push(s.id.clone()),
            Err(ActionError::Conflict { .. } | ActionError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(prompted)
}
