//! A driver erases their account (`DELETE /v1/me`).
//!
//! The rule:
//! - **Refused while in use**: a stay open or still owing money, or a
//!   reservation still active (cancel it first): the money must be
//!   settled before the card that pays it goes.
//! - **Erased**, in this order: every plate held or claimed (so no new
//!   stay can be the driver's; the stays are then checked again), the
//!   driver's customer at the payment provider with its cards (if the
//!   provider cannot be reached the account stays, without its plates,
//!   and asking again continues), the cards on file, the profile, and
//!   the copies of their stays and reservations in their partitions.
//! - **Kept, pseudonymised**: the stays, payments and receipts, which the
//!   lots must keep seven years (Japanese tax law on qualified invoices):
//!   they name the driver only by an id nothing maps to a person any
//!   more. The erasure is in the account audit trail under a pseudonym
//!   of the driver id, never the id itself.

use sha2::{Digest, Sha256};

use crate::ids::*;
use crate::model::*;
use crate::settlement::CardSetup;
use crate::store::prelude::*;
use crate::usecases::account::{AccountError, profile};
use crate::usecases::adjust::action_id;
use crate::usecases::plates;

/// What an erasure removed and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Erased {
    pub plates: usize,
    pub cards: usize,
    /// Stays kept as the lots' records.
    pub stays_kept: usize,
}

/// The pseudonym an erased driver's id is audited under.
pub fn pseudonym(driver: &DriverId) -> String {
    let d = Sha256::digest(format!("erased-driver\0{driver}").as_bytes());
    format!("erased-{}", hex::encode(&d[..8]))
}

/// The driver's stays, refused while one is open or owes money or a
/// reservation is active.
async fn in_use<S: Store>(store: &S, driver: &DriverId) -> Result<Vec<Session>, AccountError> {
    let stays = store.driver_sessions(driver).await?;
    if stays.iter().any(|s| {
        matches!(
            s.state,
            parking_core::SessionState::Open | parking_core::SessionState::Closing
        ) || s.still_to_pay() > 0
    }) {
        return Err(AccountError::InUse(
            "a stay is open or still owes money: it must be settled first",
        ));
    }
    if !store.driver_view(driver).await?.reservations.is_empty() {
        return Err(AccountError::InUse(
            "a reservation is active: cancel it first",
        ));
    }
    Ok(stays)
}

/// Erases a driver's account.
///
/// # Errors
///
/// [`AccountError::UnknownDriver`] without a profile;
/// [`AccountError::InUse`] while a stay is open or owes money or a
/// reservation is active; [`AccountError::ProviderUnavailable`] when the
/// provider cannot delete the customer; the store's.
pub async fn erase<S: Store>(
    store: &S,
    cards: Option<&dyn CardSetup>,
    clock: &(impl Clock + ?Sized),
    driver: &DriverId,
) -> Result<Erased, AccountError> {
    profile(store, driver).await?;
    let now = clock.now();
    in_use(store, driver).await?;
    // The plates go first, so no new stay can be the driver's; then the
    // stays are checked again (one may have opened meanwhile), and only
    // then does the card go.
    let held = store.driver_plates(driver).await?;
    for r in &held {
        match store.unregister_plate(&r.plate, driver).await {
            Ok(()) | Err(StoreError::Conflict(Refusal::PlateRegisteredToAnother)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let claims = store.driver_claims(driver).await?;
    for c in &claims {
        plates::update_claims(store, &c.plate, |pc| (pc.remove(driver), ())).await?;
        store.remove_driver_claim(driver, &c.plate).await?;
    }
    let stays = in_use(store, driver).await?;
    let methods = store.payment_methods(driver).await?;
    let mut customers: Vec<&str> = methods
        .iter()
        .filter_map(|m| m.customer.as_deref())
        .collect();
    customers.sort_unstable();
    customers.dedup();
    if let Some(cards) = cards {
        for c in customers {
            cards
                .forget(c)
                .await
                .map_err(|e| AccountError::ProviderUnavailable(e.to_string()))?;
        }
    }
    for m in &methods {
        match store.remove_payment_method(driver, &m.id).await {
            Ok(()) | Err(StoreError::Conflict(Refusal::PaymentMethodOfAnother { .. })) => {}
            Err(e) => return Err(e.into()),
        }
    }
    store.erase_driver(driver).await?;
    let erased = Erased {
        plates: held.len() + claims.len(),
        cards: methods.len(),
        stays_kept: stays.len(),
    };
    let who = pseudonym(driver);
    store
        .record_audit(&AuditEntry {
            id: action_id("erase", &[&who]),
            lot_id: crate::audit::account_trail(),
            at: now,
            actor: Actor {
                role: "driver".into(),
                subject: who.clone(),
            },
            action: "account.erase".into(),
            target: who,
            note: format!(
                "{} plates and {} cards erased; {} stays kept as the lots' records",
                erased.plates, erased.cards, erased.stays_kept
            ),
            amount: None,
        })
        .await?;
    Ok(erased)
}
