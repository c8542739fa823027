//! Drivers reserve a bay for a time and cancel reservations.

use jiff::Timestamp;
use parking_core::Plate;

use crate::ids::{DriverId, LotId, ReservationId};
use crate::model::{Reservation, ReservationState};
use crate::ports::{RecordStore, Refusal, StoreError};

/// How often a reservation is tried again when the lot changed between
/// reading it and writing.
const LOT_CHANGE_RETRIES: usize = 3;

/// A reservation as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveRequest {
    pub id: ReservationId,
    pub lot_id: LotId,
    pub driver_id: DriverId,
    pub plate: Plate,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Why a reservation was not made (or cancelled).
#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    #[error("lot {0} does not exist")]
    UnknownLot(LotId),
    #[error("reservation {0} does not exist")]
    UnknownReservation(ReservationId),
    #[error("lot {lot_id} has no room in the slot starting {slot_start}")]
    Full {
        lot_id: LotId,
        slot_start: Timestamp,
    },
    #[error("reservation {0} exists with other details")]
    IdTaken(ReservationId),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(StoreError),
}

fn from_store(e: StoreError, lot_id: &LotId, id: &ReservationId) -> ReserveError {
    match e {
        StoreError::NotFound { .. } => ReserveError::UnknownLot(lot_id.clone()),
        StoreError::Conflict(Refusal::SlotFull { lot_id, slot_start }) => {
            ReserveError::Full { lot_id, slot_start }
        }
        StoreError::Conflict(Refusal::ReservationExists { .. }) => {
            ReserveError::IdTaken(id.clone())
        }
        StoreError::Invalid { reason } => ReserveError::Invalid(reason),
        e => ReserveError::Store(e),
    }
}

/// Reserves a bay: reads the lot, takes every slot of the lot's grid the
/// time spans, or none. When an operator changes the lot's reservable
/// capacity or slot length meanwhile, the lot is read again and the
/// reservation tried on its new terms. Repeating a request that succeeded
/// succeeds again without taking more.
///
/// # Errors
///
/// [`ReserveError`]: unknown lot, a full slot (a lot with no reservable
/// bays is always full), an id used for another reservation, a malformed
/// request, or the store failed.
pub async fn reserve<S: RecordStore>(
    store: &S,
    request: &ReserveRequest,
) -> Result<Reservation, ReserveError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let lot = store
            .get_lot(&request.lot_id)
            .await
            .map_err(|e| from_store(e, &request.lot_id, &request.id))?;
        let reservation = Reservation {
            id: request.id.clone(),
            lot_id: request.lot_id.clone(),
            driver_id: request.driver_id.clone(),
            plate: request.plate.clone(),
            start: request.start,
            end: request.end,
            slot_minutes: lot.slot_minutes,
            state: ReservationState::Active,
        };
        match store.reserve(&reservation, &lot).await {
            Ok(()) => return Ok(reservation),
            Err(StoreError::Conflict(Refusal::LotChanged { .. }))
                if attempt < LOT_CHANGE_RETRIES =>
            {
                continue;
            }
            Err(e) => return Err(from_store(e, &request.lot_id, &request.id)),
        }
    }
}

/// Cancels a reservation and frees its slots; cancelling a cancelled one
/// succeeds.
///
/// # Errors
///
/// [`ReserveError::UnknownReservation`], or the store failed.
pub async fn cancel<S: RecordStore>(
    store: &S,
    id: &ReservationId,
) -> Result<Reservation, ReserveError> {
    store.cancel_reservation(id).await.map_err(|e| match e {
        StoreError::NotFound { .. } => ReserveError::UnknownReservation(id.clone()),
        e => ReserveError::Store(e),
    })
}
