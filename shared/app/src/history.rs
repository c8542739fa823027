//! A plate's history in a lot, kept as items so that no item grows with
//! it: a small **head** (the stored [`PlateTimeline`]: a version, the
//! plate's latest few stays and its passes) and one archived [`Stay`] per
//! older session (its reads, the session, its payment orders, what staff
//! did to it and what settlement made of it), listed by when it begins.
//!
//! The rule that makes this exact. Sessions are made by walking passages
//! in order, and what follows an exit does not depend on anything before
//! it, nor does what an entry starts: a session is decided by its own
//! passages and the one next to them. So a change at time `t` can only
//! affect the passages within the debounce of `t`, the passage before
//! and the passage after. A change is applied to a **working copy** made
//! of the head alone when nothing archived can be affected (the usual
//! case: a live read), and otherwise of the archived stays around `t`:
//! from the last stay that begins at least the debounce before `t`, up
//! to and including the first stay that begins more than the debounce
//! after `t` and ends with an exit (or the head, when the stays run out
//! first). Deriving the sessions of such a window gives exactly what
//! deriving the whole history would, so the working copy is reconciled as
//! before, and written back by [`split`]: its stays replace the ones it
//! was made of, and the head keeps at most [`KEEP_SESSIONS`] sessions.
//!
//! Costs, whatever the history: a live read reads the head (one item of
//! a few KB) and writes it and at most one new stay; a late read or an
//! action on an old session adds two queries of a few stays each.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use parking_core::Plate;
use parking_core::timeline::{self as core_timeline, Derived};
use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::model::*;
use crate::outbox::{OutboxMessage, PaymentOrder};
use std::future::Future;

use crate::model::{AuditEntry, EventRef, Pass, PlateRegistration, Reservation, Session};
use crate::store::StoreResult;
use crate::timeline::{Adjustment, PlateTimeline, SettlementRecord, TimelineRead, session_id};

/// Sessions the head keeps; older ones are archived as stays.
pub const KEEP_SESSIONS: usize = 3;

/// Passes the head keeps after they end: a change to a stay older than
/// this prices it without them.
pub const KEEP_PASSES_FOR: SignedDuration = SignedDuration::from_hours(400 * 24);

/// Stays archived by one change at most, so that a head grown before
/// (or by a burst) shrinks over a few changes without making one write
/// larger than a transaction takes.
pub const ARCHIVE_PER_CHANGE: usize = 8;

/// How many stays one query of a window asks for.
const PAGE: usize = 8;

/// One archived session of a plate, with everything about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stay {
    pub lot_id: LotId,
    pub plate: Plate,
    /// When it begins: its earliest read (or superseded session), on the
    /// millisecond. Stays are listed by it (then by `id`), and each holds
    /// what happened from its own `from` up to the next stay's.
    pub from: Timestamp,
    /// The session it archives: with `from`, the stay's key.
    pub id: SessionId,
    /// When its session's first passage begins (what it holds before
    /// then made no passage).
    pub starts: Timestamp,
    /// Its latest read.
    pub until: Timestamp,
    /// Its last passage is an entry (an exit was never seen): a later
    /// exit would have closed it, so a window must not end with it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ends_open: bool,
    pub reads: Vec<TimelineRead>,
    /// Its session, and sessions superseded that began in its span.
    pub sessions: Vec<Session>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<PaymentOrder>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adjustments: Vec<Adjustment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settlements: Vec<SettlementRecord>,
}

/// Which archived stays a working copy was made with, and whether the
/// head's own stays are part of it. Never stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Window {
    /// The stays' keys, in order.
    pub stays: Vec<StayKey>,
    pub head: bool,
}

/// A stay's key: when it begins, and its session.
pub type StayKey = (Timestamp, SessionId);

impl Stay {
    pub fn key(&self) -> StayKey {
        (self.from, self.id.clone())
    }
}

/// A time on the millisecond at or before it: stays are listed by the
/// millisecond.
fn floor_ms(at: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(at.as_millisecond()).unwrap_or(at)
}

/// Whether a change at `at` can affect an archived stay: it is within
/// the debounce of the archive, or it may come right after the archive's
/// last passage while that one is an entry.
pub fn reaches_archive(head: &PlateTimeline, at: Timestamp, debounce: SignedDuration) -> bool {
    let Some(until) = head.archived_until else {
        return false;
    };
    let lo = at.checked_sub(debounce).unwrap_or(at);
    if lo <= until {
        return true;
    }
    // A read of the head's before it: the change comes after the head's
    // first passage, which follows the archive whatever happens.
    let after_head_start = head.reads.iter().any(|r| !r.turned_away && r.at < lo);
    !after_head_start && head.archive_ends_open
}

/// The working copy for a change at `at`: the head, with the archived
/// stays around `at` when the change can reach them (see the module
/// documentation). Two queries at most, more only for a long run of
/// stays whose exits were never seen.
///
/// # Errors
///
/// The store's.
pub async fn around<S: PlateHistory>(
    store: &S,
    head: PlateTimeline,
    at: Timestamp,
    debounce: SignedDuration,
) -> StoreResult<PlateTimeline> {
    if !reaches_archive(&head, at, debounce) {
        return Ok(head);
    }
    // A millisecond more on each side: stays begin on the millisecond.
    let ms = SignedDuration::from_millis(1);
    let lo = at.checked_sub(debounce + ms).unwrap_or(at);
    let hi = at.checked_add(debounce).unwrap_or(at);
    let (lot, plate) = (head.lot_id.clone(), head.plate.clone());
    // The last stay that begins by `lo`, and earlier ones while that one's
    // first passage is after `lo` or the one before reaches it (a passage
    // read on and on): the window starts with the passage before `at`.
    let mut first = store.stay_before(&lot, &plate, lo).await?;
    while let Some(s) = &first {
        let before = s.from.checked_sub(ms).unwrap_or(s.from);
        let prev = store.stay_before(&lot, &plate, before).await?;
        match prev {
            Some(p) if (s.starts > lo || p.until >= lo) && p.key() < s.key() => first = Some(p),
            _ => break,
        }
    }
    let mut cursor = first.as_ref().map_or(Timestamp::MIN, |s| s.from);
    let mut stays: Vec<Stay> = Vec::new();
    let mut with_head = false;
    let done = |stays: &[Stay]| stays.last().is_some_and(|l| l.from > hi && !l.ends_open);
    'pages: loop {
        // Stays that begin on the cursor's millisecond come again: skip
        // those already taken.
        let seen = stays.iter().filter(|s| s.from == cursor).count();
        let page = store.stays_from(&lot, &plate, cursor, PAGE + seen).await?;
        let full = page.len() >= PAGE + seen;
        let mut new = 0;
        for s in page {
            if stays.iter().any(|t| t.key() == s.key()) {
                continue;
            }
            if done(&stays) {
                break 'pages;
            }
            cursor = s.from;
            stays.push(s);
            new += 1;
        }
        if done(&stays) {
            break;
        }
        if !full || new == 0 {
            with_head = true;
            break;
        }
    }
    Ok(assemble(head, stays, with_head))
}

/// The working copy for a change to `session`: the head when the session
/// is in it, else the stays around the session's entry.
///
/// # Errors
///
/// The store's.
pub async fn around_session<S: PlateHistory>(
    store: &S,
    head: PlateTimeline,
    session: &Session,
    debounce: SignedDuration,
) -> StoreResult<PlateTimeline> {
    if head.sessions.iter().any(|s| s.id == session.id) {
        return Ok(head);
    }
    around(store, head, session.entry_at, debounce).await
}

/// What is kept about a session's plate around it, to read: the head, or
/// the stays around the session when it is archived. `None` when the
/// plate has no history in the lot.
///
/// # Errors
///
/// The store's.
pub async fn of_session<S: PlateHistory>(
    store: &S,
    session: &Session,
) -> StoreResult<Option<PlateTimeline>> {
    let Some(head) = store
        .plate_view(&session.lot_id, &session.plate)
        .await?
        .timeline
    else {
        return Ok(None);
    };
    around_session(store, head, session, SignedDuration::ZERO)
        .await
        .map(Some)
}

/// The head and the stays as one working copy.
fn assemble(head: PlateTimeline, stays: Vec<Stay>, with_head: bool) -> PlateTimeline {
    let mut t = PlateTimeline {
        reads: Vec::new(),
        sessions: Vec::new(),
        orders: Vec::new(),
        adjustments: Vec::new(),
        settlements: Vec::new(),
        window: Some(Window {
            stays: stays.iter().map(Stay::key).collect(),
            head: with_head,
        }),
        ..head.clone()
    };
    for s in stays {
        t.reads.extend(s.reads);
        t.sessions.extend(s.sessions);
        t.orders.extend(s.orders);
        t.adjustments.extend(s.adjustments);
        t.settlements.extend(s.settlements);
    }
    if with_head {
        t.reads.extend(head.reads);
        t.sessions.extend(head.sessions);
        t.orders.extend(head.orders);
        t.adjustments.extend(head.adjustments);
        t.settlements.extend(head.settlements);
    }
    t
}

/// A working copy written back: the head to store, the stays to put and
/// the stays to delete.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub head: PlateTimeline,
    pub put: Vec<Stay>,
    pub gone: Vec<StayKey>,
}

/// Writes a working copy back as a head and stays (see the module
/// documentation), its reads thinned ([`thin`]). `head` is the head as
/// read: a working copy of archived stays alone leaves the head's own
/// stays as they were.
pub fn split(working: PlateTimeline, head: &PlateTimeline, lot: &Lot, now: Timestamp) -> Split {
    let debounce = lot.debounce();
    let mut working = working;
    let fresh = SignedDuration::from_secs(i64::from(lot.settings.freshness_seconds));
    thin(
        &mut working,
        debounce,
        now.checked_sub(fresh).unwrap_or(now),
    );
    let window = working.window.clone().unwrap_or(Window {
        stays: Vec::new(),
        head: true,
    });
    let parts = Parts::of(&working, debounce);
    let (mut next_head, put) = if window.head {
        let n = parts.archivable(KEEP_SESSIONS);
        let put = parts.stays(&working, n, false);
        let mut rest = parts.rest(&working, n);
        rest.window = None;
        rest.archived_until = match put.last() {
            Some(_) => parts.cut(n),
            // Nothing archived now: the archive ends before the window.
            None => match window.stays.first() {
                Some((from, _)) => from.checked_sub(SignedDuration::from_nanos(1)).ok(),
                None => working.archived_until,
            },
        };
        rest.archive_ends_open = match put.last() {
            Some(s) => s.ends_open,
            None if window.stays.is_empty() => working.archive_ends_open,
            None => true,
        };
        (rest, put)
    } else {
        let all = parts.sessions.len();
        let put = parts.stays(&working, all, true);
        let mut h = head.clone();
        h.version = working.version;
        h.passes = working.passes.clone();
        h.movements = working.movements;
        (h, put)
    };
    if let Ok(limit) = now.checked_sub(KEEP_PASSES_FOR) {
        next_head.passes.retain(|p| p.valid_until > limit);
    }
    next_head.window = None;
    let kept: BTreeSet<StayKey> = put.iter().map(Stay::key).collect();
    let gone = window
        .stays
        .iter()
        .filter(|k| !kept.contains(*k))
        .cloned()
        .collect();
    Split {
        head: next_head,
        put,
        gone,
    }
}

/// Reads of one passage kept before the rest are thinned.
pub const PASSAGE_READS: usize = 8;

/// Reads of cars turned away kept, the latest.
pub const TURNED_AWAY_READS: usize = 4;

/// Thins what a car waiting at a barrier leaves: a passage with more
/// than [`PASSAGE_READS`] reads keeps its first and last, every doubtful
/// read or one that checked in a reservation, its first read naming a
/// frame, every read since `before`
/// (its command may be sent again), and of the rest only those without
/// which two kept reads would be more than the debounce apart. So every
/// passage keeps its first read, its latest and its chain, its first sure
/// read and the reads superseded sessions point back from, and derives
/// the same sessions with any read that comes later; a repeat of a read
/// thinned away is known to the event ledger, or joins its passage
/// again. Of reads of cars turned away (which make no passage), those
/// before `before` are kept up to the latest [`TURNED_AWAY_READS`].
pub fn thin(t: &mut PlateTimeline, debounce: SignedDuration, before: Timestamp) {
    let by_key: BTreeMap<String, &TimelineRead> = t.reads.iter().map(|r| (r.key(), r)).collect();
    // The reads superseded sessions point back from.
    let origins: BTreeSet<&str> = t
        .sessions
        .iter()
        .filter(|s| s.state == parking_core::SessionState::Superseded)
        .filter_map(|s| s.origin.as_deref())
        .collect();
    let mut drop: BTreeSet<String> = BTreeSet::new();
    let derived = core_timeline::derive(&crate::timeline::core_reads(&t.reads), debounce);
    for p in derived.iter().flat_map(Derived::passages) {
        if p.keys.len() <= PASSAGE_READS {
            continue;
        }
        let reads: Vec<&TimelineRead> = p
            .keys
            .iter()
            .filter_map(|k| by_key.get(k).copied())
            .collect();
        let Some(first) = reads.first() else {
            continue;
        };
        // One sure read makes the plate sure: keep the first.
        let sure = reads.iter().find(|r| r.flag.is_none()).map(|r| r.key());
        // The first frame is the stay's evidence: keep its read.
        let framed = reads.iter().find(|r| r.frame.is_some()).map(|r| r.key());
        let mut kept = first.at;
        for pair in reads[1..].windows(2) {
            let (r, next) = (pair[0], pair[1]);
            let key = r.key();
            let must = r.flag.is_some()
                || r.reservation_id.is_some()
                || r.at >= before
                || sure.as_ref() == Some(&key)
                || framed.as_ref() == Some(&key)
                || origins.contains(key.as_str());
            if must || next.at.duration_since(kept) > debounce {
                kept = r.at;
            } else {
                drop.insert(key);
            }
        }
    }
    let mut away: Vec<(Timestamp, String)> = t
        .reads
        .iter()
        .filter(|r| r.turned_away && r.at < before)
        .map(|r| (r.at, r.key()))
        .collect();
    away.sort();
    let old = away.len().saturating_sub(TURNED_AWAY_READS);
    drop.extend(away.into_iter().take(old).map(|(_, k)| k));
    if !drop.is_empty() {
        t.reads.retain(|r| !drop.contains(&r.key()));
    }
}

/// A working copy's derived sessions, in order, with the reads of each.
struct Parts {
    lot: LotId,
    plate: Plate,
    sessions: Vec<Derived>,
}

impl Parts {
    fn of(t: &PlateTimeline, debounce: SignedDuration) -> Parts {
        Parts {
            lot: t.lot_id.clone(),
            plate: t.plate.clone(),
            sessions: core_timeline::derive(&crate::timeline::core_reads(&t.reads), debounce),
        }
    }

    fn first_at(d: &Derived) -> Timestamp {
        d.first().first.at
    }

    fn last_at(d: &Derived) -> Timestamp {
        d.passages()
            .map(|p| p.last_at)
            .max()
            .unwrap_or(d.first().first.at)
    }

    /// The latest read time of the first `n` sessions.
    fn cut(&self, n: usize) -> Option<Timestamp> {
        self.sessions[..n].iter().map(Parts::last_at).max()
    }

    /// How many of the first sessions may be archived, keeping at least
    /// `keep` and never an open one, so that no read of a later session
    /// is at or before the cut.
    fn archivable(&self, keep: usize) -> usize {
        let mut n = self
            .sessions
            .len()
            .saturating_sub(keep)
            .min(
                self.sessions
                    .iter()
                    .take_while(|d| !matches!(d, Derived::Open { .. }))
                    .count(),
            )
            .min(ARCHIVE_PER_CHANGE);
        while n > 0 {
            let Some(cut) = self.cut(n) else {
                return 0;
            };
            let foreign = self.sessions[n..]
                .iter()
                .any(|d| d.passages().any(|p| p.first.at <= cut));
            if !foreign {
                return n;
            }
            n -= 1;
        }
        0
    }

    /// Which of the first `n` sessions a time belongs to: the latest that
    /// begins at or before it (the first, for anything earlier).
    fn index_at(&self, n: usize, at: Timestamp) -> usize {
        self.sessions[..n]
            .iter()
            .rposition(|d| Parts::first_at(d) <= at)
            .unwrap_or(0)
    }

    /// The first `n` sessions as stays, with everything of theirs in the
    /// working copy: reads up to the cut (every read, with `everything`),
    /// sessions superseded that began by then, and the orders,
    /// adjustments and settlements of each.
    fn stays(&self, t: &PlateTimeline, n: usize, everything: bool) -> Vec<Stay> {
        if n == 0 {
            return Vec::new();
        }
        let cut = if everything {
            Some(Timestamp::MAX)
        } else {
            self.cut(n)
        };
        let ids: Vec<SessionId> = self.sessions[..n]
            .iter()
            .map(|d| session_id(&self.lot, &self.plate, &d.first().first.key))
            .collect();
        let mut stays: Vec<Stay> = self.sessions[..n]
            .iter()
            .zip(&ids)
            .map(|(d, id)| Stay {
                lot_id: self.lot.clone(),
                plate: self.plate.clone(),
                from: Parts::first_at(d),
                id: id.clone(),
                starts: Parts::first_at(d),
                until: Parts::last_at(d),
                ends_open: matches!(d, Derived::ExitMissing { .. } | Derived::Open { .. }),
                reads: Vec::new(),
                sessions: Vec::new(),
                orders: Vec::new(),
                adjustments: Vec::new(),
                settlements: Vec::new(),
            })
            .collect();
        let within = |at: Timestamp| cut.is_some_and(|c| at <= c);
        for r in &t.reads {
            let i = if r.turned_away {
                if !within(r.at) {
                    continue;
                }
                self.index_at(n, r.at)
            } else {
                match self.sessions[..n].iter().position(|d| d.has_read(&r.key())) {
                    Some(i) => i,
                    None => continue,
                }
            };
            stays[i].reads.push(r.clone());
        }
        let mut owner: BTreeMap<&SessionId, usize> = BTreeMap::new();
        for s in &t.sessions {
            let i = match ids.iter().position(|id| id == &s.id) {
                Some(i) => i,
                None if s.state == parking_core::SessionState::Superseded && within(s.entry_at) => {
                    self.index_at(n, s.entry_at)
                }
                None => continue,
            };
            owner.insert(&s.id, i);
            stays[i].sessions.push(s.clone());
        }
        for o in &t.orders {
            if let Some(i) = o.session_id.as_ref().and_then(|id| owner.get(id)) {
                stays[*i].orders.push(o.clone());
            }
        }
        for a in &t.adjustments {
            if let Some(i) = owner.get(&a.session_id) {
                stays[*i].adjustments.push(a.clone());
            }
        }
        for r in &t.settlements {
            if let Some(i) = owner.get(&r.session_id) {
                stays[*i].settlements.push(r.clone());
            }
        }
        for s in &mut stays {
            if let Some(earliest) = s
                .reads
                .iter()
                .map(|r| r.at)
                .chain(s.sessions.iter().map(|x| x.entry_at))
                .min()
            {
                s.from = s.from.min(earliest);
            }
            if let Some(latest) = s.reads.iter().map(|r| r.at).max() {
                s.until = s.until.max(latest);
            }
            s.from = floor_ms(s.from);
        }
        stays
    }

    /// The working copy without what the first `n` sessions' stays took.
    fn rest(&self, t: &PlateTimeline, n: usize) -> PlateTimeline {
        let taken = self.stays(t, n, false);
        let reads: BTreeSet<String> = taken
            .iter()
            .flat_map(|s| s.reads.iter().map(TimelineRead::key))
            .collect();
        let sessions: BTreeSet<&SessionId> = taken
            .iter()
            .flat_map(|s| s.sessions.iter().map(|x| &x.id))
            .collect();
        let mut rest = t.clone();
        rest.reads.retain(|r| !reads.contains(&r.key()));
        rest.sessions.retain(|s| !sessions.contains(&s.id));
        rest.orders.retain(|o| {
            o.session_id
                .as_ref()
                .is_none_or(|id| !sessions.contains(id))
        });
        rest.adjustments
            .retain(|a| !sessions.contains(&a.session_id));
        rest.settlements
            .retain(|r| !sessions.contains(&r.session_id));
        rest
    }
}

/// What a plate read needs to know about the plate: its timeline in the
/// lot, who it is registered to, and who claims it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlateView {
    pub timeline: Option<PlateTimeline>,
    pub owner: Option<PlateRegistration>,
    /// Claims waiting for proof ([`crate::plate_claims`]).
    pub claims: Option<crate::plate_claims::PlateClaims>,
}

/// A plate that looks like a doubtful read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikePlate {
    pub plate: Plate,
    /// Registered to a driver (else: only open in the lot).
    pub registered: bool,
}

/// One read applied to a plate's timeline: every change it makes, written
/// in one atomic step.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineCommit {
    /// The timeline after the read; its version is one more than the
    /// stored one's (1 for a new timeline). Refused with
    /// [`Refusal::StaleTimeline`](crate::store::Refusal::StaleTimeline) when the stored version is not one less.
    pub timeline: PlateTimeline,
    /// Sessions made or changed, at their new versions.
    pub changed: Vec<Session>,
    /// Charges, refunds and notifications to deliver.
    pub outbox: Vec<OutboxMessage>,
    /// Change in the lot's count of open sessions.
    pub open_delta: i64,
    /// The reservation this read checks in, as the driver's view held it
    /// (active); refused as stale when it is no longer active.
    pub check_in: Option<Reservation>,
    /// The reservation an entry had checked in before its gate reported
    /// holding the car on its own, as the driver's view holds it (checked
    /// in): active again, since the car did not come in; refused as stale
    /// when it is no longer checked in.
    pub check_in_undone: Option<Reservation>,
    /// The read, for the event ledger: a read already processed (by this
    /// timeline or another) makes the commit [`Applied::Duplicate`].
    pub event: EventRef,
    /// Random for each attempt: a repeat of this very commit (a retry
    /// after a lost answer) is recognised as done, while the same event
    /// delivered twice at once and committed by the other delivery is a
    /// duplicate.
    pub attempt: u64,
    /// Archived stays written with the change (see [`crate::history`]).
    pub stays: Vec<crate::history::Stay>,
    /// Archived stays the change removed: their content is in `stays` or
    /// the head now.
    pub stays_gone: Vec<crate::history::StayKey>,
    /// For a change made through the APIs: its entry in the lot's audit
    /// trail, written in the same step.
    pub audit: Option<AuditEntry>,
    /// A pass this change issues, listed under its lot.
    pub pass: Option<Pass>,
    /// The unpaid register's entries for the stays it changed
    /// ([`crate::unpaid::changes`]).
    pub debts: Vec<crate::unpaid::DebtChange>,
    /// The camera's track of the read, at its next version: refused as
    /// stale when the stored one is not one less ([`crate::passages`]).
    pub track: Option<crate::passages::Track>,
    /// Another plate's timeline the track's reads leave for this one (the
    /// track now agrees on this plate), with everything that change makes
    /// there, in the same transaction and guarded the same way, with the
    /// reservation its moved reads had checked in made active again
    /// (its `check_in_undone`). Its `event`, `attempt`, `audit`, `pass`,
    /// `check_in` and `track` are not used: those are this commit's.
    pub released: Option<Box<TimelineCommit>>,
}

/// Part of a plate's history forgotten when its retention ended
/// ([`crate::usecases::retention`]): archived stays removed, their
/// sessions kept (and their drivers' copies) without the plate's text,
/// and the head removed once nothing of the plate is left to keep. One
/// atomic write, guarded by the head's version like every other change to
/// the plate's history: it moves the head on by one (or removes it), so a
/// read or a staff change that read the history before it is refused and
/// read again.
#[derive(Debug, Clone, PartialEq)]
pub struct Forget {
    pub lot_id: LotId,
    pub plate: Plate,
    /// The head's stored version: refused
    /// ([`Refusal::StaleTimeline`](crate::store::Refusal::StaleTimeline))
    /// if it moved on.
    pub head_version: u64,
    /// Archived stays removed.
    pub stays: Vec<StayKey>,
    /// Sessions with their plate replaced ([`Plate::erased`]), each at
    /// the version after the stored one: refused if a session moved on.
    pub sessions: Vec<Session>,
    /// The head removed (else its version moves on by one).
    pub delete_head: bool,
}

/// The most stays one [`Forget`] removes (each holds its session and the
/// few it superseded; with the drivers' copies a write stays well within
/// a transaction's 100 items).
pub const FORGET_PER_WRITE: usize = 10;

/// A plate's history in a lot: its head, its archived stays, and the
/// atomic write that changes them.
pub trait PlateHistory: Send + Sync {
    /// The plate's timeline in the lot and its registration: one read.
    fn plate_view(
        &self,
        lot_id: &LotId,
        plate: &Plate,
    ) -> impl Future<Output = StoreResult<PlateView>> + Send;
    /// The plate's archived stay in the lot that begins last at or
    /// before `at`, if any: one query, read-after-write consistent.
    fn stay_before(
        &self,
        lot_id: &LotId,
        plate: &Plate,
        at: Timestamp,
    ) -> impl Future<Output = StoreResult<Option<crate::history::Stay>>> + Send;
    /// The plate's archived stays in the lot that begin at or after
    /// `from`, in order (of when they begin, then of their session), at
    /// most `limit`: one query, read-after-write consistent.
    fn stays_from(
        &self,
        lot_id: &LotId,
        plate: &Plate,
        from: Timestamp,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<crate::history::Stay>>> + Send;
    /// Plates whose OCR skeleton ([`parking_core::plate::skeleton`]) is
    /// this one: registered plates, and plates with an open session in the
    /// lot, each once, registered ones marked. One read of an index, never
    /// a scan.
    fn plates_like(
        &self,
        lot_id: &LotId,
        skeleton: &str,
    ) -> impl Future<Output = StoreResult<Vec<LikePlate>>> + Send;
    /// Applies one read to a plate's timeline, atomically (see
    /// [`TimelineCommit`]).
    fn commit_read(
        &self,
        commit: &TimelineCommit,
    ) -> impl Future<Output = StoreResult<Applied>> + Send;
    /// A lot's passes, in id order.
    fn passes(&self, lot_id: &LotId) -> impl Future<Output = StoreResult<Vec<Pass>>> + Send;
    /// Up to `limit` of a lot's passes in id order, after the pass `after`,
    /// and the id the next page starts after (`None` on the last): one
    /// query, whatever the lot's years of passes.
    fn passes_page(
        &self,
        lot_id: &LotId,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<(Vec<Pass>, Option<String>)>> + Send;
    /// Forgets part of a plate's history, atomically (see [`Forget`]).
    fn forget(&self, forget: &Forget) -> impl Future<Output = StoreResult<()>> + Send;
    /// How far a lot's retention sweep got: the exit time up to which
    /// every stay that left has been looked at.
    fn retention_mark(
        &self,
        lot_id: &LotId,
    ) -> impl Future<Output = StoreResult<Option<Timestamp>>> + Send;
    fn set_retention_mark(
        &self,
        lot_id: &LotId,
        at: Timestamp,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
