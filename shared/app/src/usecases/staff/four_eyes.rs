//! An operator's resolution of a session, with four eyes on large amounts
//! ([`crate::approvals`] has the rule): at or under the lot's
//! `approval_limit` it is applied at once ([`adjust::resolve`],
//! [`adjust::close`]); above it, it waits for a second operator.

use jiff::Timestamp;

use crate::approvals::{Approval, ApprovalState, Asked};
use crate::ids::*;
use crate::store::prelude::*;
use crate::usecases::adjust::{
    self, ActionError, Amended, Decision, Staff, action_id, audit, check_note, lot_session,
};

/// The most pending requests one read lists.
pub const MAX_PENDING: usize = 100;

/// What became of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Applied.
    Done(Amended),
    /// Above the lot's limit: waiting for a second operator.
    Waiting(Approval),
}

/// Resolves a session (closing it at `exit_at` when its exit was
/// missed), or asks a second operator to when the amount is above the
/// lot's limit. Asking again is the same request.
///
/// # Errors
///
/// As [`adjust::resolve`] and [`adjust::close`]; an unknown session.
pub async fn request<S: Store>(
    store: &S,
    who: Staff<'_>,
    session_id: &SessionId,
    decision: Decision,
    exit_at: Option<Timestamp>,
    note: &str,
) -> Result<Outcome, ActionError> {
    let asked = match decision {
        Decision::Charge {
            amount: Some(amount),
        } => Some(Asked::Charge { amount }),
        Decision::Adjust { amount } => Some(Asked::Adjust { amount }),
        Decision::Charge { amount: None } | Decision::Void => None,
    };
    let limit = store.get_lot(who.lot_id).await?.settings.approval_limit;
    // Closing a stay at a time staff choose prices it at the tariff to
    // then: staff set that amount as surely as a typed one.
    let asked = match (asked, decision, exit_at) {
        (None, Decision::Charge { amount: None }, Some(at)) => {
            let s = lot_session(store, who.lot_id, session_id).await?;
            adjust::fee_if_closed_at(store, &s, at)
                .await?
                .map(|fee| Asked::Charge { amount: fee.minor })
        }
        (asked, ..) => asked,
    };
    let Some(asked) = asked.filter(|a| a.amount() > limit) else {
        return apply(store, who, session_id, decision, exit_at, note)
            .await
            .map(Outcome::Done);
    };
    check_note(note)?;
    if asked.amount() > parking_core::tariff::MAX_AMOUNT {
        return Err(ActionError::invalid("amount", "is too large"));
    }
    lot_session(store, who.lot_id, session_id).await?;
    let id = action_id(
        "apr",
        &[
            session_id.as_str(),
            &format!("{asked:?}"),
            note,
            &exit_at.map(|at| at.to_string()).unwrap_or_default(),
            &who.actor.subject,
        ],
    );
    let approval = Approval {
        id: id.clone(),
        lot_id: who.lot_id.clone(),
        session_id: session_id.clone(),
        asked,
        exit_at,
        note: note.to_owned(),
        requested_by: who.actor.clone(),
        requested_at: who.now,
        state: ApprovalState::Pending,
        decided_by: None,
        decided_at: None,
        decision_note: String::new(),
    };
    match store.put_approval(&approval, None).await {
        Ok(()) => {}
        // Asked before: that request stands, as it is now.
        Err(StoreError::Conflict(Refusal::ApprovalDecided)) => {
            if let Some(held) = store.approval(who.lot_id, &id).await? {
                return Ok(Outcome::Waiting(held));
            }
        }
        Err(e) => return Err(e.into()),
    }
    store
        .record_audit(&audit(
            who,
            &id,
            "session.approval.requested",
            session_id.as_str(),
            note,
            Some(asked.amount()),
        ))
        .await?;
    Ok(Outcome::Waiting(approval))
}

async fn apply<S: Store>(
    store: &S,
    who: Staff<'_>,
    session_id: &SessionId,
    decision: Decision,
    exit_at: Option<Timestamp>,
    note: &str,
) -> Result<Amended, ActionError> {
    match exit_at {
        Some(at) => adjust::close(store, who, session_id, at, decision, note).await,
        None => adjust::resolve(store, who, session_id, decision, note).await,
    }
}

/// A second operator approves a request (it is applied as the first
/// operator asked it) or rejects it. Deciding again the same way is the
/// same decision.
///
/// # Errors
///
/// `approval` not found; `same_operator` (409) for the operator who
/// asked; `already_decided` (409) the other way; what applying it meets
/// ([`adjust::resolve`]); an invalid note; the store's.
pub async fn decide<S: Store>(
    store: &S,
    who: Staff<'_>,
    id: &ActionId,
    approve: bool,
    note: &str,
) -> Result<(Approval, Option<Amended>), ActionError> {
    check_note(note)?;
    let held = store
        .approval(who.lot_id, id)
        .await?
        .ok_or(ActionError::NotFound("approval"))?;
    if held.requested_by.subject == who.actor.subject {
        return Err(ActionError::Conflict {
            code: "same_operator",
            detail: "a second operator must decide what this operator asked".into(),
        });
    }
    let state = if approve {
        ApprovalState::Approved
    } else {
        ApprovalState::Rejected
    };
    if held.state != ApprovalState::Pending {
        let same = held.state == state
            && held.decided_by.as_ref().map(|a| &a.subject) == Some(&who.actor.subject);
        if !same {
            return Err(ActionError::Conflict {
                code: "already_decided",
                detail: "the request was decided before".into(),
            });
        }
    }
    // The decision is written first (conditional on the request still
    // pending), then applied as the operator who asked it: a concurrent
    // rejection and approval cannot both win, and an approval whose
    // application failed is applied again when the same operator repeats
    // it (the action's own id makes a second application nothing).
    let decided = if held.state == ApprovalState::Pending {
        let decided = Approval {
            state,
            decided_by: Some(who.actor.clone()),
            decided_at: Some(who.now),
            decision_note: note.to_owned(),
            ..held.clone()
        };
        match store
            .put_approval(&decided, Some(ApprovalState::Pending))
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(Refusal::ApprovalDecided)) => {
                return Err(ActionError::Conflict {
                    code: "already_decided",
                    detail: "the request was decided meanwhile".into(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        let action = if approve {
            "session.approval.approved"
        } else {
            "session.approval.rejected"
        };
        store
            .record_audit(&audit(
                who,
                &action_id(action, &[id.as_str()]),
                action,
                held.session_id.as_str(),
                note,
                Some(held.asked.amount()),
            ))
            .await?;
        Some(decided)
    } else {
        None
    };
    let amended = if approve {
        let decision = match held.asked {
            Asked::Charge { amount } => Decision::Charge {
                amount: Some(amount),
            },
            Asked::Adjust { amount } => Decision::Adjust { amount },
        };
        let asker = Staff {
            actor: &held.requested_by,
            lot_id: who.lot_id,
            now: who.now,
        };
        Some(
            apply(
                store,
                asker,
                &held.session_id,
                decision,
                held.exit_at,
                &held.note,
            )
            .await?,
        )
    } else {
        None
    };
    Ok((decided.unwrap_or(held), amended))
}

/// One page of the lot's requests waiting for a second operator, oldest
/// first, after the [`Approval::listing_key`] `after` (at most
/// [`MAX_PENDING`]), and the key the next page starts after.
///
/// # Errors
///
/// The store's.
pub async fn pending<S: Store>(
    store: &S,
    lot: &LotId,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<Approval>, Option<String>), ActionError> {
    let limit = limit.min(MAX_PENDING);
    let mut v = store.pending_approvals(lot, after, limit + 1).await?;
    let more = v.len() > limit;
    v.truncate(limit);
    let next = if more {
        v.last().map(Approval::listing_key)
    } else {
        None
    };
    Ok((v, next))
}
