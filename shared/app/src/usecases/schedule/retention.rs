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
//! Every write is guarded by the plate's head version, as every change to
//! a plate's history is, and moves it on: a read or a staff change that
//! comes in meanwhile wins, and the plate is looked at again when its
//! newer stays pass the cutoff. A session is checked again as stored
//! just before it is written.
//!
//! Bounded: each lot keeps a mark, the exit time up to which every stay
//! that left has been looked at; a run reads the stays that left from the
//! mark to the cutoff (one query of the exit listing; the first run
//! starts [`LOOKBACK`] before the cutoff), looks at each plate once, at
//! most its budget of plates, and moves the mark on. A plate's history
//! is removed [`FORGET_PER_WRITE`] stays at a time. A stay kept because
//! it still owed money is not looked at again when it is paid later: its
//! plate stays (a limit, in the README).

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use parking_core::{Plate, SessionState};

use crate::LotId;
use crate::history::{FORGET_PER_WRITE, Forget, Stay, StayKey};
use crate::model::*;
use crate::store::prelude::*;
use crate::timeline::PlateTimeline;
use crate::usecases::sweeps::Swept;

/// Where a lot's first run starts, before its cutoff.
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
/// The store's when it is unavailable (the run is tried again; nothing
/// it did is undone or repeated). A plate whose history moved on
/// meanwhile, or whose items the store refuses, is counted as refused
/// and the run goes on.
pub async fn forget_plates<S: Store>(
    store: &S,
    now: Timestamp,
    budget: usize,
) -> StoreResult<Swept> {
    let mut swept = Swept::default();
    for lot in store.lots().await? {
        let cutoff = cutoff(&lot, now);
        let from = match store.retention_mark(&lot.id).await? {
            Some(mark) => mark,
            None => cutoff.checked_sub(LOOKBACK).unwrap_or(Timestamp::MIN),
        };
        if from >= cutoff {
            continue;
        }
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut reached = cutoff;
        for s in store.lot_sessions_left(&lot.id, from, cutoff).await? {
            if !s.plate.is_readable() || !seen.insert(s.plate.key()) {
                continue;
            }
            if swept.acted + swept.refused >= budget {
                // The rest from this stay's exit on, next run.
                reached = s.exit_at.unwrap_or(from);
                swept.more = true;
                break;
            }
            match forget_plate(store, &lot.id, &s.plate, cutoff).await {
                Ok(true) => swept.acted += 1,
                Ok(false) => {}
                Err(StoreError::Unavailable { source }) => {
                    return Err(StoreError::Unavailable { source });
                }
                // Its history moved on, or the store refuses its items:
                // the others go on.
                Err(_) => swept.refused += 1,
            }
        }
        store.set_retention_mark(&lot.id, reached).await?;
        if swept.more {
            break;
        }
    }
    Ok(swept)
}

/// Forgets what of one plate's history in a lot is past `cutoff` and
/// settled; `true` if anything was. A plate registered, claimed or
/// holding a pass is left alone.
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
    let Some(head) = view.timeline else {
        return Ok(false);
    };
    if !head.passes.is_empty() {
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
    let mut version = head.version;
    let mut forgot = false;
    for part in gone.chunks(FORGET_PER_WRITE) {
        let sessions: Vec<Session> = part.iter().flat_map(|s| s.sessions.clone()).collect();
        // As stored now: a stay whose session changed meanwhile is kept.
        let Some(erased) = without_plate(store, sessions, cutoff).await? else {
            kept = true;
            continue;
        };
        store
            .forget(&Forget {
                lot_id: lot_id.clone(),
                plate: plate.clone(),
                head_version: version,
                stays: part.iter().map(Stay::key).collect(),
                sessions: erased,
                delete_head: false,
            })
            .await?;
        version += 1;
        forgot = true;
    }
    if !kept
        && head_past(&head, cutoff)
        && let Some(erased) = without_plate(store, head.sessions.clone(), cutoff).await?
    {
        store
            .forget(&Forget {
                lot_id: lot_id.clone(),
                plate: plate.clone(),
                head_version: version,
                stays: Vec::new(),
                sessions: erased,
                delete_head: true,
            })
            .await?;
        forgot = true;
    }
    Ok(forgot)
}

/// The sessions as stored now, with the plate replaced, at their next
/// versions (those already without one left out); `None` if any is no
/// longer past and settled.
async fn without_plate<S: Store>(
    store: &S,
    sessions: Vec<Session>,
    cutoff: Timestamp,
) -> StoreResult<Option<Vec<Session>>> {
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
        if !(past(&stored, cutoff) && settled(&stored)) {
            return Ok(None);
        }
        erased.push(Session {
            plate: Plate::erased(stored.id.as_str()),
            // The frames show the plate: forgotten with it (their objects
            // expire with the same retention).
            frames: Vec::new(),
            version: stored.version + 1,
            ..stored
        });
    }
    Ok(Some(erased))
}

/// Whether nothing in a plate's head is to be kept: every read and
/// session past `cutoff`, every session settled.
fn head_past(t: &PlateTimeline, cutoff: Timestamp) -> bool {
    t.reads.iter().all(|r| r.at < cutoff)
        && t.sessions.iter().all(|s| past(s, cutoff) && settled(s))
}
