//! Drivers claim their plates and prove them ([`crate::plate_claims`] has
//! the rule): a claim is pending until the code shown at the car's next
//! entry is typed in, or staff approve it; only then is the plate the
//! driver's.

use jiff::Timestamp;
use parking_core::{Plate, PlateError};

use crate::ids::DriverId;
use crate::model::PlateRegistration;
use crate::plate_claims::{CodeCheck, DriverClaim, MAX_PENDING_PER_DRIVER, PlateClaims};
use crate::store::prelude::*;

/// How often a claims write is tried again when another change wrote the
/// plate's claims meanwhile.
const ATTEMPTS: usize = 5;

/// Whether a driver's plate is theirs yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlateStatus {
    /// Proven: its stays are the driver's, and its card pays them.
    Proven,
    /// Claimed, waiting for proof: nothing of the car is shown.
    Pending,
}

/// One of a driver's plates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vehicle {
    pub plate: Plate,
    pub status: PlateStatus,
    /// Proven or claimed at.
    pub since: Timestamp,
}

/// Why a plate was not claimed, proven or released.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("plate: {0}")]
    BadPlate(#[from] PlateError),
    #[error("driver {0} is not registered")]
    UnknownDriver(DriverId),
    #[error("at most {MAX_PENDING_PER_DRIVER} plates may wait for proof at once")]
    TooManyPending,
    /// The driver holds no such plate or claim.
    #[error("no such vehicle")]
    NoClaim,
    /// No live code matched: none was shown, it expired, it is wrong, or
    /// the claimant's tries are used up. One answer for all, so nothing
    /// is learnt of the car's entries.
    #[error("the code does not match a code shown at the plate's entry in the last ten minutes")]
    NoCode,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for RegisterError {
    fn from(e: StoreError) -> Self {
        RegisterError::Store(e)
    }
}

/// Changes a plate's claims with `f` (which says whether it changed
/// anything and what to answer), written conditionally on the version
/// read and tried again while other changes come first.
///
/// # Errors
///
/// The store's.
pub(crate) async fn update_claims<S: PlateClaimStore, T>(
    store: &S,
    plate: &Plate,
    mut f: impl FnMut(&mut PlateClaims) -> (bool, T),
) -> StoreResult<T> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut claims = store
            .plate_claims(plate)
            .await?
            .unwrap_or_else(|| PlateClaims::new(plate.clone()));
        let (changed, answer) = f(&mut claims);
        if !changed {
            return Ok(answer);
        }
        claims.version += 1;
        match store.put_plate_claims(&claims).await {
            Ok(()) => return Ok(answer),
            Err(StoreError::Conflict(Refusal::PlateClaimsChanged)) if attempt < ATTEMPTS => {}
            Err(e) => return Err(e),
        }
    }
}

/// Claims a plate, as typed in the app (its canonical form is kept), for
/// a driver. A plate the driver holds is answered as proven; any other is
/// answered the same way whoever else holds or claims it: pending.
///
/// # Errors
///
/// [`RegisterError`]: the plate does not parse, the driver is unknown,
/// the driver already has too many claims waiting, or the store failed.
pub async fn claim_plate<S: Store>(
    store: &S,
    clock: &(impl Clock + ?Sized),
    driver_id: &DriverId,
    plate_text: &str,
) -> Result<Vehicle, RegisterError> {
    let plate = Plate::parse(plate_text)?;
    match store.get_driver(driver_id).await {
        Ok(_) => {}
        Err(StoreError::NotFound { .. }) => {
            return Err(RegisterError::UnknownDriver(driver_id.clone()));
        }
        Err(e) => return Err(e.into()),
    }
    let now = clock.now();
    let owner = store.plate_owner(&plate).await?;
    if let Some(o) = owner.as_ref().filter(|o| &o.driver_id == driver_id) {
        return Ok(Vehicle {
            plate,
            status: PlateStatus::Proven,
            since: o.registered_at,
        });
    }
    let waiting = store
        .driver_claims(driver_id)
        .await?
        .into_iter()
        .filter(|c| c.lapses_at() > now && c.plate != plate)
        .count();
    if waiting >= MAX_PENDING_PER_DRIVER {
        return Err(RegisterError::TooManyPending);
    }
    // A plate another driver has proven goes to staff.
    let review = owner.is_some();
    let (claimed_at, evicted) = update_claims(store, &plate, |c| {
        let before: Vec<DriverId> = c.claims.iter().map(|c| c.driver_id.clone()).collect();
        let changed = c.add(driver_id, now, review);
        let at = c.of(driver_id, now).map_or(now, |c| c.claimed_at);
        let evicted: Vec<DriverId> = before
            .into_iter()
            .filter(|d| !c.claims.iter().any(|c| &c.driver_id == d))
            .collect();
        (changed, (at, evicted))
    })
    .await?;
    // Claims that gave way (lapsed, or the oldest beyond the bound) lose
    // their copies too.
    for d in &evicted {
        store.remove_driver_claim(d, &plate).await?;
    }
    store
        .put_driver_claim(&DriverClaim {
            driver_id: driver_id.clone(),
            plate: plate.clone(),
            claimed_at,
        })
        .await?;
    // Proven by someone else since the owner was read: this claim waits
    // for staff too (it would never be shown a code).
    if !review && store.plate_owner(&plate).await?.is_some() {
        update_claims(store, &plate, |c| {
            let mut changed = false;
            for claim in c.claims.iter_mut().filter(|c| &c.driver_id == driver_id) {
                changed |= !claim.review;
                claim.review = true;
            }
            (changed, ())
        })
        .await?;
    }
    Ok(Vehicle {
        plate,
        status: PlateStatus::Pending,
        since: claimed_at,
    })
}

/// Proves a driver's claim with the code the gate showed at the car's
/// entry: the plate becomes the driver's, and other claims of it wait
/// for staff. Proving a plate the driver already holds succeeds.
///
/// # Errors
///
/// [`RegisterError::NoClaim`] without a claim of the plate;
/// [`RegisterError::NoCode`] for a code that does not match; the store's.
pub async fn prove_plate<S: Store>(
    store: &S,
    clock: &(impl Clock + ?Sized),
    driver_id: &DriverId,
    plate_text: &str,
    code: &str,
) -> Result<Vehicle, RegisterError> {
    let plate = Plate::parse(plate_text).map_err(|_| RegisterError::NoClaim)?;
    let now = clock.now();
    if let Some(o) = store
        .plate_owner(&plate)
        .await?
        .filter(|o| &o.driver_id == driver_id)
    {
        return Ok(Vehicle {
            plate,
            status: PlateStatus::Proven,
            since: o.registered_at,
        });
    }
    // Written before it is answered: a try counted, or the code consumed.
    let checked = update_claims(store, &plate, |c| {
        if c.of(driver_id, now).is_none() {
            return (false, None);
        }
        let (changed, answer) = c.check(driver_id, code, now);
        (changed, Some(answer))
    })
    .await?;
    match checked {
        None => return Err(RegisterError::NoClaim),
        Some(CodeCheck::NoMatch) => return Err(RegisterError::NoCode),
        Some(CodeCheck::Proven) => {}
    }
    let registration = PlateRegistration {
        plate: plate.clone(),
        driver_id: driver_id.clone(),
        registered_at: now,
    };
    match store.register_plate(&registration).await {
        Ok(()) => {}
        // Another claim was proven first (by staff): this one waits for
        // them too.
        Err(StoreError::Conflict(Refusal::PlateRegisteredToAnother)) => {
            update_claims(store, &plate, |c| {
                c.proven();
                (true, ())
            })
            .await?;
            return Err(RegisterError::NoCode);
        }
        Err(e) => return Err(e.into()),
    }
    settle_claims(store, &plate, driver_id).await?;
    Ok(Vehicle {
        plate,
        status: PlateStatus::Proven,
        since: now,
    })
}

/// After a plate is proven for a driver: their claim is gone, the others
/// wait for staff.
pub(crate) async fn settle_claims<S: Store>(
    store: &S,
    plate: &Plate,
    driver_id: &DriverId,
) -> StoreResult<()> {
    update_claims(store, plate, |c| {
        let before = c.clone();
        c.remove(driver_id);
        c.proven();
        (*c != before, ())
    })
    .await?;
    store.remove_driver_claim(driver_id, plate).await
}

/// The driver's plates: proven ones and claims still waiting, in the
/// plates' order.
///
/// # Errors
///
/// The store's.
pub async fn vehicles<S: Store>(
    store: &S,
    clock: &(impl Clock + ?Sized),
    driver_id: &DriverId,
) -> Result<Vec<Vehicle>, RegisterError> {
    let now = clock.now();
    let mut v: Vec<Vehicle> = store
        .driver_plates(driver_id)
        .await?
        .into_iter()
        .map(|r| Vehicle {
            plate: r.plate,
            status: PlateStatus::Proven,
            since: r.registered_at,
        })
        .collect();
    for c in store.driver_claims(driver_id).await? {
        if c.lapses_at() > now && !v.iter().any(|p| p.plate == c.plate) {
            v.push(Vehicle {
                plate: c.plate,
                status: PlateStatus::Pending,
                since: c.claimed_at,
            });
        }
    }
    v.sort_by_key(|a| a.plate.key());
    Ok(v)
}

/// Releases one of the driver's plates, or withdraws a claim.
///
/// # Errors
///
/// [`RegisterError::NoClaim`] when the driver neither holds nor claims
/// it; the store's.
pub async fn release_plate<S: Store>(
    store: &S,
    driver_id: &DriverId,
    plate_text: &str,
) -> Result<(), RegisterError> {
    let plate = Plate::parse(plate_text).map_err(|_| RegisterError::NoClaim)?;
    if store
        .plate_owner(&plate)
        .await?
        .is_some_and(|r| &r.driver_id == driver_id)
    {
        return match store.unregister_plate(&plate, driver_id).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(Refusal::PlateRegisteredToAnother)) => {
                Err(RegisterError::NoClaim)
            }
            Err(e) => Err(e.into()),
        };
    }
    let held = store
        .driver_claims(driver_id)
        .await?
        .into_iter()
        .any(|c| c.plate == plate);
    if !held {
        return Err(RegisterError::NoClaim);
    }
    update_claims(store, &plate, |c| (c.remove(driver_id), ())).await?;
    store.remove_driver_claim(driver_id, &plate).await?;
    Ok(())
}
