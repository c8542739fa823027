//! Drivers reserve a bay for a time and cancel reservations.

use jiff::{SignedDuration, Timestamp};
use parking_core::{Currency, Money, Plate};

use crate::flags::{Flag, FlagSet};
use crate::ids::{DriverId, IdempotencyKey, LotId, PaymentMethodId, ReservationId};
use crate::model::{Lot, Reservation, ReservationState};
use crate::outbox::{PaymentKind, PaymentOrder};
use crate::store::prelude::*;

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
pub async fn reserve<S: LotStore + ReservationStore>(
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
            cancellation_fee: None,
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
pub async fn cancel<S: ReservationStore>(
    store: &S,
    id: &ReservationId,
) -> Result<Reservation, ReserveError> {
    store.cancel_reservation(id).await.map_err(|e| match e {
        StoreError::NotFound { .. } => ReserveError::UnknownReservation(id.clone()),
        e => ReserveError::Store(e),
    })
}

/// The longest stay a driver may reserve.
pub const MAX_RESERVATION_HOURS: i64 = 24;

/// A reservation as a driver asks for it in the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverReservation {
    pub lot_id: LotId,
    pub plate_text: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Why a driver's reservation was not made, shown or cancelled.
#[derive(Debug, thiserror::Error)]
pub enum DriverReserveError {
    /// A field of the request is not acceptable.
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    /// The lot does not exist.
    #[error("lot {0} does not exist")]
    UnknownLot(LotId),
    /// The lot takes no reservations now (its `reservations` flag is off).
    #[error("lot {0} takes no reservations now")]
    ReservationsOff(LotId),
    /// Not the driver's reservation, or none at all.
    #[error("reservation not found")]
    NotFound,
    #[error("lot {lot_id} has no room in the slot starting {slot_start}")]
    Full {
        lot_id: LotId,
        slot_start: Timestamp,
    },
    /// The idempotency key was used for a different request.
    #[error("the idempotency key was used for a different reservation")]
    KeyReused,
    #[error(transparent)]
    Store(StoreError),
}

/// The reservation id an idempotency key names for a driver: the same key
/// from the same driver always names the same reservation, so a repeat
/// never takes a second slot, even when both arrive at once.
pub fn reservation_id_for(driver: &DriverId, key: &str) -> ReservationId {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(driver.as_str().as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    let hex: String = h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    ReservationId::parse(&format!("r-{hex}")).unwrap_or_else(|_| unreachable!("hex is a valid id"))
}

/// Reserves a bay for one of the driver's vehicles. `key` is the request's
/// idempotency key: sending the same request with it again returns the
/// same reservation (as it is now); a different request with it is
/// refused.
///
/// # Errors
///
/// [`DriverReserveError`]: a bad field (the plate must be one of the
/// driver's, the stay in the future and at most
/// [`MAX_RESERVATION_HOURS`]), an unknown lot, a full slot, a reused key, or
/// the store's.
pub async fn reserve_for_driver<S: Store>(
    store: &S,
    now: Timestamp,
    flags: &FlagSet,
    driver: &DriverId,
    key: &str,
    request: &DriverReservation,
) -> Result<Reservation, DriverReserveError> {
    let invalid = |field, problem: &str| DriverReserveError::Invalid {
        field,
        problem: problem.to_owned(),
    };
    let plate = Plate::parse(&request.plate_text).map_err(|e| DriverReserveError::Invalid {
        field: "plate",
        problem: e.to_string(),
    })?;
    if request.end <= request.start {
        return Err(invalid("end", "must be after start"));
    }
    if request.end.duration_since(request.start).as_secs() > MAX_RESERVATION_HOURS * 3600 {
        return Err(invalid("end", "a reservation may last at most 24 hours"));
    }
    if request.end <= now {
        return Err(invalid("end", "must be in the future"));
    }
    match store.plate_owner(&plate).await {
        Ok(Some(r)) if &r.driver_id == driver => {}
        Ok(_) => return Err(invalid("plate", "is not one of your vehicles")),
        Err(e) => return Err(DriverReserveError::Store(e)),
    }
    if !flags.is_on(Flag::Reservations, &request.lot_id, Some(&plate.key())) {
        return Err(DriverReserveError::ReservationsOff(request.lot_id.clone()));
    }
    let id = reservation_id_for(driver, key);
    let ask = ReserveRequest {
        id: id.clone(),
        lot_id: request.lot_id.clone(),
        driver_id: driver.clone(),
        plate: plate.clone(),
        start: request.start,
        end: request.end,
    };
    let same = |r: &Reservation| {
        r.lot_id == ask.lot_id
            && r.driver_id == ask.driver_id
            && r.plate == ask.plate
            && r.start == ask.start
            && r.end == ask.end
    };
    match reserve(store, &ask).await {
        Ok(r) => Ok(r),
        Err(ReserveError::IdTaken(_)) => match store.get_reservation(&id).await {
            // The same request again, after its reservation changed state
            // (cancelled, checked in): the reservation as it is now.
            Ok(r) if same(&r) => Ok(r),
            Ok(_) => Err(DriverReserveError::KeyReused),
            Err(e) => Err(DriverReserveError::Store(e)),
        },
        Err(ReserveError::UnknownLot(l)) => Err(DriverReserveError::UnknownLot(l)),
        Err(ReserveError::Full { lot_id, slot_start }) => {
            Err(DriverReserveError::Full { lot_id, slot_start })
        }
        Err(ReserveError::Invalid(reason)) => Err(DriverReserveError::Invalid {
            field: "start",
            problem: reason,
        }),
        Err(ReserveError::UnknownReservation(_)) => Err(DriverReserveError::NotFound),
        Err(ReserveError::Store(e)) => Err(DriverReserveError::Store(e)),
    }
}

/// One of the driver's reservations.
///
/// # Errors
///
/// [`DriverReserveError::NotFound`] when it is not the driver's.
pub async fn driver_reservation<S: ReservationStore>(
    store: &S,
    driver: &DriverId,
    id: &ReservationId,
) -> Result<Reservation, DriverReserveError> {
    match store.get_reservation(id).await {
        Ok(r) if &r.driver_id == driver => Ok(r),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(DriverReserveError::NotFound),
        Err(e) => Err(DriverReserveError::Store(e)),
    }
}

/// The charge for cancelling a reservation at `now` under its lot's
/// policy: free until `cancellation_free_minutes` before the start, the
/// lot's `cancellation_fee` after (to the driver's first card; a driver
/// with no card on file is not charged).
pub fn cancellation_charge(
    lot: &Lot,
    r: &Reservation,
    method: Option<&PaymentMethodId>,
    currency: Currency,
    now: Timestamp,
) -> Option<PaymentOrder> {
    let fee = lot.settings.cancellation_fee;
    let free_until = r
        .start
        .checked_sub(SignedDuration::from_mins(i64::from(
            lot.settings.cancellation_free_minutes,
        )))
        .ok()?;
    if fee <= 0 || now < free_until || r.state != ReservationState::Active {
        return None;
    }
    let key = IdempotencyKey::derived(&format!("{}.cancel", r.id));
    Some(PaymentOrder {
        idempotency_key: key,
        session_id: None,
        reservation_id: Some(r.id.clone()),
        lot_id: r.lot_id.clone(),
        driver_id: r.driver_id.clone(),
        method_id: method?.clone(),
        kind: PaymentKind::Charge,
        amount: Money::new(fee, currency),
        created_at: now,
        attempt: 1,
        now: false,
    })
}

/// Cancels one of the driver's reservations under the lot's cancellation
/// policy ([`cancellation_charge`]): a late cancellation's fee is queued
/// as a charge in the same atomic step. A cancelled one is returned as it
/// is.
///
/// # Errors
///
/// [`DriverReserveError::NotFound`] when it is not the driver's;
/// [`DriverReserveError::Invalid`] when the car already came in on it.
pub async fn cancel_for_driver<S: Store>(
    store: &S,
    now: Timestamp,
    driver: &DriverId,
    id: &ReservationId,
) -> Result<Reservation, DriverReserveError> {
    let r = driver_reservation(store, driver, id).await?;
    if r.state == ReservationState::CheckedIn {
        return Err(DriverReserveError::Invalid {
            field: "reservation_id",
            problem: "the car already came in on this reservation".into(),
        });
    }
    if r.state == ReservationState::Active {
        let config = store
            .lot_config(&r.lot_id)
            .await
            .map_err(DriverReserveError::Store)?;
        let currency = config
            .compiled()
            .map_err(DriverReserveError::Store)?
            .base()
            .currency();
        let methods = store
            .payment_methods(driver)
            .await
            .map_err(DriverReserveError::Store)?;
        if let Some(fee) = cancellation_charge(
            &config.lot,
            &r,
            methods.first().map(|m| &m.id),
            currency,
            now,
        ) {
            return store
                .cancel_reservation_with_fee(id, &fee)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound { .. } => DriverReserveError::NotFound,
                    e => DriverReserveError::Store(e),
                });
        }
    }
    cancel(store, id).await.map_err(|e| match e {
        ReserveError::UnknownReservation(_) => DriverReserveError::NotFound,
        ReserveError::Store(e) => DriverReserveError::Store(e),
        other => DriverReserveError::Store(StoreError::invalid(other.to_string())),
    })
}
