//! Rules every store adapter applies the same way.

use jiff::{SignedDuration, Timestamp};

use crate::model::{Lot, Reservation, Session};
use crate::ports::StoreError;

/// The most time slots one reservation may span: an atomic write takes one
/// item per slot plus the reservation, and DynamoDB transactions hold 100.
pub const MAX_SLOTS: usize = 96;

/// How long processed device events are remembered by default.
pub const DEFAULT_EVENT_RETENTION: SignedDuration = SignedDuration::from_hours(30 * 24);

/// The starts (seconds since the epoch) of the lot's time slots that a
/// reservation overlaps.
pub fn reservation_slots(lot: &Lot, reservation: &Reservation) -> Result<Vec<i64>, StoreError> {
    if reservation.lot_id != lot.id {
        return Err(StoreError::invalid(format!(
            "reservation {} is for lot {}, not {}",
            reservation.id, reservation.lot_id, lot.id
        )));
    }
    if lot.slot_minutes == 0 {
        return Err(StoreError::invalid(format!(
            "lot {} has slot_minutes 0",
            lot.id
        )));
    }
    if reservation.end <= reservation.start {
        return Err(StoreError::invalid(
            "reservation end must be after its start",
        ));
    }
    let len = i64::from(lot.slot_minutes) * 60;
    let first = reservation.start.as_second().div_euclid(len);
    let last = (reservation.end.as_second() + len - 1).div_euclid(len);
    let count = usize::try_from(last - first).unwrap_or(usize::MAX);
    if count > MAX_SLOTS {
        return Err(StoreError::invalid(format!(
            "a reservation may span at most {MAX_SLOTS} slots of {} minutes",
            lot.slot_minutes
        )));
    }
    Ok((first..last).map(|s| s * len).collect())
}

/// The start of the slot containing `t`.
pub fn slot_start(lot: &Lot, t: Timestamp) -> i64 {
    let len = i64::from(lot.slot_minutes.max(1)) * 60;
    t.as_second().div_euclid(len) * len
}

/// Checks a session replacement: a legal state change with the next version.
pub fn check_session_update(
    expected: (parking_core::SessionState, u64),
    next: &Session,
) -> Result<(), StoreError> {
    let (state, version) = expected;
    if next.version != version + 1 {
        return Err(StoreError::invalid(format!(
            "session {}: the next version must be {}, not {}",
            next.id,
            version + 1,
            next.version
        )));
    }
    if state != next.state && !state.can_become(next.state) {
        return Err(StoreError::invalid(format!(
            "session {}: cannot go from {state} to {}",
            next.id, next.state
        )));
    }
    Ok(())
}

/// Checks a session about to be opened.
pub fn check_new_session(session: &Session) -> Result<(), StoreError> {
    if session.state != parking_core::SessionState::Open || session.version != 1 {
        return Err(StoreError::invalid(format!(
            "session {} must open in state open with version 1",
            session.id
        )));
    }
    Ok(())
}

/// The errors both store adapters report, worded once.
pub mod refusals {
    use jiff::Timestamp;
    use parking_core::{Plate, SessionState};

    use crate::ports::StoreError;

    pub fn plate_has_open_session(lot_id: &str, plate: &Plate) -> StoreError {
        StoreError::conflict(format!(
            "plate {} already has an open session in lot {lot_id}",
            plate.key()
        ))
    }

    pub fn session_exists(session_id: &str) -> StoreError {
        StoreError::conflict(format!("session {session_id} exists"))
    }

    pub fn stale_session(session_id: &str, (state, version): (SessionState, u64)) -> StoreError {
        StoreError::conflict(format!(
            "session {session_id} is no longer {state} at version {version}"
        ))
    }

    pub fn plate_registered_to_another(plate: &Plate) -> StoreError {
        StoreError::conflict(format!(
            "plate {} is registered to another driver",
            plate.key()
        ))
    }

    pub fn method_of_another(method_id: &str) -> StoreError {
        StoreError::conflict(format!(
            "payment method {method_id} belongs to another driver"
        ))
    }

    pub fn reservation_exists(reservation_id: &str) -> StoreError {
        StoreError::conflict(format!("reservation {reservation_id} exists"))
    }

    pub fn reservation_not_active(reservation_id: &str) -> StoreError {
        StoreError::conflict(format!("reservation {reservation_id} is not active"))
    }

    pub fn slot_full(lot_id: &str, slot_start: i64) -> StoreError {
        StoreError::conflict(format!(
            "lot {lot_id} is fully reserved in the slot starting {}",
            Timestamp::from_second(slot_start).unwrap_or_default()
        ))
    }
}
