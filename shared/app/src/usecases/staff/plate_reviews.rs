//! Support staff decide claims of plates that a code cannot prove: a
//! plate another driver has proven ([`crate::plate_claims`]). Staff check
//! the claimant's vehicle registration document out of band, then
//! approve the claim (the plate moves to the claimant, and the former
//! holder loses it) or reject it (the claim is gone). Neither driver is
//! told by the API who else claimed the plate.

use jiff::Timestamp;
use parking_core::Plate;

use crate::ids::DriverId;
use crate::model::{Actor, AuditEntry, PlateRegistration};
use crate::store::prelude::*;
use crate::usecases::adjust::action_id;
use crate::usecases::plates::{settle_claims, update_claims};

/// The most claims one read of the queue returns.
pub const MAX_PAGE: usize = 100;

/// One claim waiting for staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlateReview {
    pub plate: Plate,
    pub driver_id: DriverId,
    pub claimed_at: Timestamp,
}

/// What staff decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// Why a decision was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no such claim")]
    NotFound,
    /// The note: what is wrong with it.
    #[error("note: {0}")]
    Note(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The claims waiting for staff, oldest first, at most `limit` (up to
/// [`MAX_PAGE`]) read from the store.
///
/// # Errors
///
/// The store's.
pub async fn queue<S: Store>(
    store: &S,
    clock: &(impl Clock + ?Sized),
    limit: usize,
) -> Result<Vec<PlateReview>, ReviewError> {
    let now = clock.now();
    let mut out = Vec::new();
    for plate in store.plate_reviews(limit.clamp(1, MAX_PAGE)).await? {
        for c in plate.open(now).filter(|c| c.review) {
            out.push(PlateReview {
                plate: plate.plate.clone(),
                driver_id: c.driver_id.clone(),
                claimed_at: c.claimed_at,
            });
        }
    }
    out.sort_by_key(|a| (a.claimed_at, a.plate.key()));
    Ok(out)
}

/// Approves or rejects a driver's open claim of a plate (in review or
/// still waiting for its code).
///
/// # Errors
///
/// [`ReviewError::NotFound`] without such a claim; the store's.
pub async fn decide<S: Store>(
    store: &S,
    clock: &(impl Clock + ?Sized),
    plate_text: &str,
    driver_id: &DriverId,
    decision: Decision,
    actor: &Actor,
    note: &str,
) -> Result<(), ReviewError> {
    if let Err(crate::usecases::adjust::ActionError::Invalid { problem, .. }) =
        crate::usecases::adjust::check_note(note)
    {
        return Err(ReviewError::Note(problem));
    }
    let plate = Plate::parse(plate_text).map_err(|_| ReviewError::NotFound)?;
    let now = clock.now();
    let open = store
        .plate_claims(&plate)
        .await?
        .is_some_and(|c| c.of(driver_id, now).is_some());
    if !open {
        return Err(ReviewError::NotFound);
    }
    match decision {
        Decision::Reject => {
            update_claims(store, &plate, |c| (c.remove(driver_id), ())).await?;
            store.remove_driver_claim(driver_id, &plate).await?;
        }
        Decision::Approve => {
            if let Some(held) = store
                .plate_owner(&plate)
                .await?
                .filter(|o| &o.driver_id != driver_id)
            {
                match store.unregister_plate(&plate, &held.driver_id).await {
                    Ok(()) | Err(StoreError::Conflict(Refusal::PlateRegisteredToAnother)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            store
                .register_plate(&PlateRegistration {
                    plate: plate.clone(),
                    driver_id: driver_id.clone(),
                    registered_at: now,
                })
                .await?;
            settle_claims(store, &plate, driver_id).await?;
        }
    }
    // The claimant, never the plate, names what was decided.
    let action = match decision {
        Decision::Approve => "plate_claim.approve",
        Decision::Reject => "plate_claim.reject",
    };
    store
        .record_audit(&AuditEntry {
            // A random id: one derived from the plate could be guessed
            // back to it.
            id: action_id("plate-claim", &[&crate::ids::nonce().to_string()]),
            lot_id: crate::audit::account_trail(),
            at: now,
            actor: actor.clone(),
            action: action.to_owned(),
            target: driver_id.to_string(),
            note: note.trim().to_owned(),
            amount: None,
        })
        .await?;
    Ok(())
}
