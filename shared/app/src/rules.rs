//! Rules every store adapter applies the same way, written once: the checks
//! made before a write, and the conditions a write is guarded by.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::{Bay, EventRef, Lot, Reservation, ReservationState};
use crate::store::prelude::*;

/// The most time slots one reservation may span: an atomic write takes one
/// item per slot plus the reservation and the lot, and DynamoDB
/// transactions hold 100.
pub const MAX_SLOTS: usize = 96;

/// How long processed device events are remembered by default.
pub const DEFAULT_EVENT_RETENTION: SignedDuration = SignedDuration::from_hours(30 * 24);

/// A bay reading taken this long after the stored one replaces it whatever
/// its sequence number: a sensor that restarted without a boot epoch and
/// counts from 0 again is believed again after this gap.
pub const SENSOR_RESTART_GAP: SignedDuration = SignedDuration::from_mins(5);

fn slot_secs(minutes: u32) -> i64 {
    i64::from(minutes.max(1)) * 60
}

fn to_ts(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap_or_default()
}

/// The slot starts (seconds since the epoch) a reservation spans on its
/// own slot grid, `reservation.slot_minutes`.
///
/// # Errors
///
/// `Invalid` for an empty or too long reservation or a zero slot length.
pub fn slots_of(reservation: &Reservation) -> Result<Vec<i64>, StoreError> {
    if reservation.slot_minutes == 0 {
        return Err(StoreError::invalid(format!(
            "reservation {}: slot_minutes must be at least 1",
            reservation.id
        )));
    }
    if reservation.end <= reservation.start {
        return Err(StoreError::invalid(format!(
            "reservation {}: end must be after start",
            reservation.id
        )));
    }
    let len = slot_secs(reservation.slot_minutes);
    let first = reservation.start.as_second().div_euclid(len);
    let last = (reservation.end.as_second() + len - 1).div_euclid(len);
    let count = usize::try_from(last - first).unwrap_or(usize::MAX);
    if count > MAX_SLOTS {
        return Err(StoreError::invalid(format!(
            "reservation {}: a reservation may span at most {MAX_SLOTS} slots of {} minutes",
            reservation.id, reservation.slot_minutes
        )));
    }
    Ok((first..last).map(|s| s * len).collect())
}

/// Checks a new reservation against the lot the caller read, and returns
/// the slots it takes. A lot with `reservable == 0` has every slot full.
///
/// # Errors
///
/// `Invalid` when the reservation is for another lot, on another slot grid
/// or malformed; [`Refusal::SlotFull`] when the lot takes no reservations.
pub fn reservation_slots(lot: &Lot, reservation: &Reservation) -> Result<Vec<i64>, StoreError> {
    if reservation.lot_id != lot.id {
        return Err(StoreError::invalid(format!(
            "reservation {} is for lot {}, not {}",
            reservation.id, reservation.lot_id, lot.id
        )));
    }
    if reservation.slot_minutes != lot.slot_minutes {
        return Err(StoreError::invalid(format!(
            "reservation {}: slot_minutes {} is not the lot's {}",
            reservation.id, reservation.slot_minutes, lot.slot_minutes
        )));
    }
    let slots = slots_of(reservation)?;
    if lot.reservable == 0 {
        return Err(Refusal::SlotFull {
            lot_id: lot.id.clone(),
            slot_start: to_ts(slots.first().copied().unwrap_or_default()),
        }
        .into());
    }
    Ok(slots)
}

/// A refusal for a full slot.
pub fn slot_full(lot: &Lot, slot_start: i64) -> StoreError {
    Refusal::SlotFull {
        lot_id: lot.id.clone(),
        slot_start: to_ts(slot_start),
    }
    .into()
}

/// The start of the lot's slot containing `t`.
pub fn slot_start(lot: &Lot, t: Timestamp) -> i64 {
    let len = slot_secs(lot.slot_minutes);
    t.as_second().div_euclid(len) * len
}

/// Whether the stored lot still has the reservable capacity and slot
/// length the caller read.
pub fn same_reservation_terms(stored: &Lot, read: &Lot) -> bool {
    (stored.reservable, stored.slot_minutes) == (read.reservable, read.slot_minutes)
}

/// Whether a bay reading replaces the stored one: a later boot epoch; the
/// same boot and a higher sequence number; or a reading taken more than
/// [`SENSOR_RESTART_GAP`] after the stored one (a sensor that restarted
/// without an epoch and counts from 0 again). Out-of-order and repeated
/// deliveries never win.
pub fn bay_reading_replaces(stored: &Bay, new: &Bay) -> bool {
    (new.boot, new.seq) > (stored.boot, stored.seq)
        || new.reported_at.as_second()
            > stored.reported_at.as_second() + SENSOR_RESTART_GAP.as_secs()
}

/// Whether a bay reading says nothing the stored bay does not: the same
/// boot, the same start of its state (`since`), and the same state —
/// the stored state, or, for a reading the sensor was unsure of, the
/// state it reported (`raw`) when the stored one is a sure reading of it.
/// Such a reading (a sensor's periodic repeat, or a repeated delivery) is
/// not written. Skipping it cannot reorder anything: every reading the
/// sensor took between the state's start and this one reported the same
/// state from the same start, so it too is skipped or, unsure, left to
/// the sure reading stored; one taken before the start is older than the
/// stored bay; a later one that differs wins on its own.
pub fn bay_reading_unchanged(stored: &Bay, new: &Bay, raw: Option<bool>) -> bool {
    stored.boot == new.boot
        && stored.state_since() == new.state_since()
        && (stored.occupied == new.occupied
            || (stored.occupied.is_some() && stored.occupied == raw))
}

/// When a ledger entry for `event` expires (seconds since the epoch).
pub fn ledger_expiry(event: &EventRef, retention: SignedDuration) -> i64 {
    event.processed_at.as_second() + retention.as_secs()
}

/// Whether a ledger entry expiring at `expires_at` still holds at `now`:
/// it does strictly before its expiry, and not from that second on.
pub fn ledger_entry_live(expires_at: i64, now: Timestamp) -> bool {
    now.as_second() < expires_at
}

/// A deterministic token for one logical write: the same operation with
/// the same arguments always gets the same token, and anything else a
/// different one. Stores keep it with the event a write consumes (and
/// DynamoDB receives it as the transaction's `ClientRequestToken`), so a
/// retry of a write that already took effect is recognised as the caller's
/// own success.
pub fn write_token(operation: &str, arguments: &impl Serialize) -> String {
    let mut hash = Sha256::new();
    hash.update(operation.as_bytes());
    hash.update([0]);
    // Records serialize deterministically (fields in declaration order).
    hash.update(serde_json::to_vec(arguments).unwrap_or_default());
    let digest = hash.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a reservation holds a bay of its lot at `at`: it is active (not
/// cancelled, not yet checked in) and `at` is within its time, counting
/// the lot's early check-in window.
pub fn held_at(lot: &Lot, r: &Reservation, at: Timestamp) -> bool {
    let early = SignedDuration::from_mins(i64::from(lot.settings.reservation_early_minutes));
    r.lot_id == lot.id
        && r.state == ReservationState::Active
        && r.start.checked_sub(early).is_ok_and(|start| start <= at)
        && at < r.end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_tokens_are_deterministic_and_fit_a_client_request_token() {
        let a = write_token("open_session", &("s-1", 1));
        assert_eq!(a, write_token("open_session", &("s-1", 1)));
        assert_ne!(a, write_token("open_session", &("s-1", 2)));
        assert_ne!(a, write_token("update_session", &("s-1", 1)));
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn a_ledger_entry_expires_at_its_expiry_second() {
        let t = |s: i64| Timestamp::from_second(s).unwrap_or_default();
        assert!(ledger_entry_live(100, t(99)));
        assert!(!ledger_entry_live(100, t(100)));
        assert!(!ledger_entry_live(100, t(101)));
    }
}
