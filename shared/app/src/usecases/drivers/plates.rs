//! Drivers register their plates.

use parking_core::{Plate, PlateError};

use crate::ids::DriverId;
use crate::model::PlateRegistration;
use crate::store::prelude::*;

/// Why a plate was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("plate: {0}")]
    BadPlate(#[from] PlateError),
    #[error("driver {0} is not registered")]
    UnknownDriver(DriverId),
    #[error("the plate is registered to another driver")]
    PlateTaken,
    #[error(transparent)]
    Store(StoreError),
}

/// Registers a plate, as typed in the app, to a driver. Registering a
/// plate the driver already holds succeeds and keeps the first
/// registration.
///
/// # Errors
///
/// [`RegisterError`]: the plate does not parse, the driver is unknown, the
/// plate belongs to someone else, or the store failed.
pub async fn register_plate<S: DriverStore>(
    store: &S,
    clock: &(impl Clock + ?Sized),
    driver_id: &DriverId,
    plate_text: &str,
) -> Result<PlateRegistration, RegisterError> {
    let plate = Plate::parse(plate_text)?;
    match store.get_driver(driver_id).await {
        Ok(_) => {}
        Err(StoreError::NotFound { .. }) => {
            return Err(RegisterError::UnknownDriver(driver_id.clone()));
        }
        Err(e) => return Err(RegisterError::Store(e)),
    }
    let registration = PlateRegistration {
        plate,
        driver_id: driver_id.clone(),
        registered_at: clock.now(),
    };
    match store.register_plate(&registration).await {
        Ok(()) => Ok(registration),
        Err(StoreError::Conflict(Refusal::PlateRegisteredToAnother)) => {
            Err(RegisterError::PlateTaken)
        }
        Err(e) => Err(RegisterError::Store(e)),
    }
}
