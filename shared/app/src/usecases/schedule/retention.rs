//! Plates are personal data; a car with no account is known by its plate
//! only as long as the lot's `plate_retention_days` (default 30).
//!
//! The rule. Once every passage of a stay is older than the retention,
//! and the stay owes nothing and waits for no one ([`settled`]: priced
//! and paid in full, voided or superseded, and not
//! [in review](crate::sessions::needs_review)), the
//! stay is forgotten: its archived item (reads, orders, the plate in its
//! key) is removed, and its session is kept for the books with the plate
//! replaced by [`Plate::erased`], a hash of the session's id that joins
//! nothing to anything. When nothing of the plate is left to keep — every
//! stay and read in its head is that old and settled — the head goes too,
//! and the plate's next read starts a new history, as a stranger's.
//!
//! What is kept, and why:
//! - a plate registered to a driver, or claimed by one, is the account's
//!   data, kept while the account lives (erasure removes it);
//! - a stay still owing money (a kiosk debt, a failed card), in review,
//!   or still open keeps its plate: it is needed to collect or decide;
//! - a plate holding a pass is the pass holder's.
//!
//! Late reads reach seven days back, so a retention of at least eight
//! days never removes what a late read could still change. Staff can no
//! longer act on a forgotten stay through its plate's history; its
//! session stays in the lot's records and reports.
//!
//! Bounded: each run reads the sessions that left within
//! [`LOOKBACK`] before each lot's cutoff (one query of the exit listing),
//! and forgets at most its budget of plates; a plate's history is
//! removed [`FORGET_PER_WRITE`] stays at a time.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use parking_core::{Plate, SessionState};

use crate::LotId;
use crate::history::{FORGET_PER_WRITE, Forget, Stay, StayKey};
use crate::model::*;
use crate::store::prelude::*;
use crate::timeline::PlateTimeline;
use crate::usecases::sweeps::Swept;

/// How far before its cutoff a run looks for stays that left: a stay
/// still owing is looked at again for that long.
pub const LOOKBACK: SignedDuration = SignedDuration::from_hours(2 * 24);

/// A lot's cutoff: what began before it is past its retention.
pub fn cutoff(lot: &Lot, now: Timestamp) -> Timestamp {
    let keep = SignedDuration::from_hours(24 * i64::from(lot.settings.plate_retention_days));
    now.checked_sub(keep).unwrap_or(Timestamp::MIN)
}

/// Whether a session owes nothing and waits for no one: priced and paid
/// in full (free, at the kiosk or by card), voided or superseded, and not
/// in review.
pub fn settled(s: &Session) -> bool {
    let done = match s.state {
        SessionState::Voided | SessionState::Superseded => true,
        SessionState::Priced | SessionState::Paid => s.fee.is_some() && s.still_to_pay() == 0,
        _ => false,
    };
    done && !needs_review(s)
}

/// Whether every passage of a session is older than `cutoff`.
fn past(s: &Session, cutoff: Timestamp) -> bool {
    s.entry_at < cutoff && s.exit_at.is_none_or(|x| x < cutoff)
}

/// Forgets, in every lot, the plates of cars with no account past the
/// lot's retention.
///
/// # Errors
///
/// The store's (a plate whose history moved on meanwhile is counted as
/// refused and left for the next run).
pub async fn forget_plates<S: Store>(
    store: &S,
    now: Timestamp,
    budget: usize,
) -> StoreResult<Swept> {
    let mut swept = Swept::default();
    for lot in store.lots().await? {
        let cutoff = cutoff(&lot, now);
        let from = cutoff.checked_sub(LOOKBACK).unwrap_or(Timestamp::MIN);
        let mut plates: BTreeMap<String, Plate> = BTreeMap::new();
        for s in store.lot_sessions_left(&lot.id, from, cutoff).await? {
            if s.driver_id.is_none() && s.plate.is_readable() && settled(&s) {
                plates.insert(s.plate.key(), s.plate);
            }
        }
        for plate in plates.into_values() {
            if swept.acted >= budget {
                swept.more = true;
                return Ok(swept);
            }
            match forget_plate(store, &lot.id, &plate, cutoff).await {
                Ok(true) => swept.acted += 1,
                Ok(false) => {}
                Err(StoreError::Conflict(_)) => swept.refused += 1,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(swept)
}

/// Forgets what of one plate's history in a lot is past `cutoff` and
/// settled; `true` if anything was.
///
/// # Errors
///
/// The store's; [`Refusal::StaleTimeline`] when the plate was read again
/// or a session changed meanwhile.
pub async fn forget_plate<S: Store>(
    store: &S,
    lot_id: &LotId,
    plate: &Plate,
    cutoff: Timestamp,
) -> StoreResult<bool> {
    let view = store.plate_view(lot_id, plate).await?;
    let claimed = view.claims.as_ref().is_some_and(|c| !c.claims.is_empty());
    if view.owner.is_some() || claimed {
        return Ok(false);
    }
    if view.timeline.as_ref().is_some_and(|t| !t.passes.is_empty()) {
        return Ok(false);
    }
    // The archived stays, oldest first, up to the first one not past.
    let mut gone: Vec<Stay> = Vec::new();
    let mut kept = false;
    let mut last: Option<StayKey> = None;
    'pages: loop {
        let from = last.as_ref().map_or(Timestamp::MIN, |k| k.0);
        let page = store
            .stays_from(lot_id, plate, from, FORGET_PER_WRITE + 1)
            .await?;
        let full = page.len() > FORGET_PER_WRITE;
        let mut moved = false;
        for stay in page {
            // A page starts at the last stay's time: skip what was read.
            if last.as_ref().is_some_and(|k| stay.key() <= *k) {
                continue;
            }
            moved = true;
            last = Some(stay.key());
            if stay.until >= cutoff {
                kept = true;
                break 'pages;
            }
            if stay.sessions.iter().all(|s| past(s, cutoff) && settled(s)) {
                gone.push(stay);
            } else {
                kept = true;
            }
        }
        if !full || !moved {
            break;
        }
    }
    let head = view.timeline.filter(|t| !kept && head_past(t, cutoff));
    if gone.is_empty() && head.is_none() {
        return Ok(false);
    }
    // The stays and their sessions, a write at a time; then the head with
    // its own sessions, in one write, so a plate read meanwhile keeps
    // them all.
    for part in gone.chunks(FORGET_PER_WRITE / 2) {
        let sessions: Vec<Session> = part.iter().flat_map(|s| s.sessions.clone()).collect();
        let mut erased = without_plate(store, sessions).await?;
        // A stay holds its session and the few it superseded.
        while !erased.is_empty() {
            let rest = erased.split_off(erased.len().min(FORGET_PER_WRITE));
            store
                .forget(&Forget {
                    lot_id: lot_id.clone(),
                    plate: plate.clone(),
                    stays: Vec::new(),
                    sessions: erased,
                    head: None,
                })
                .await?;
            erased = rest;
        }
        store
            .forget(&Forget {
                lot_id: lot_id.clone(),
                plate: plate.clone(),
                stays: part.iter().map(Stay::key).collect(),
                sessions: Vec::new(),
                head: None,
            })
            .await?;
    }
    if let Some(t) = head {
        store
            .forget(&Forget {
                lot_id: lot_id.clone(),
                plate: plate.clone(),
                stays: Vec::new(),
                sessions: without_plate(store, t.sessions.clone()).await?,
                head: Some(t.version),
            })
            .await?;
    }
    Ok(true)
}

/// The sessions as stored now, with the plate replaced, at their next
/// versions; those already without one are left out.
async fn without_plate<S: Store>(store: &S, sessions: Vec<Session>) -> StoreResult<Vec<Session>> {
    let mut erased = Vec::with_capacity(sessions.len());
    for s in sessions {
        let stored = match store.get_session(&s.id).await {
            Ok(x) => x,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        if !stored.plate.is_readable() {
            continue;
        }
        erased.push(Session {
            plate: Plate::erased(stored.id.as_str()),
            version: stored.version + 1,
            ..stored
        });
    }
    Ok(erased)
}

/// Whether nothing in a plate's head is to be kept: every read and
/// session past `cutoff`, every session settled.
fn head_past(t: &PlateTimeline, cutoff: Timestamp) -> bool {
    t.reads.iter().all(|r| r.at < cutoff)
        && t.sessions.iter().all(|s| past(s, cutoff) && settled(s))
}
