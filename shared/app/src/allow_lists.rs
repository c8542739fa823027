//! A lot's offline allow-list as the store keeps it: one item per lot,
//! kept up to date one change at a time from the store's stream
//! ([`crate::usecases::allow_list::merge`]), never rebuilt from history.
//!
//! The rule:
//! - **Marks.** Each plate (as its hash, `allow_list::plate_key`) holds
//!   one mark: allowed or struck off, and the hour of the change. Of two
//!   marks the later hour wins, and in the same hour struck wins: a
//!   plate's mark is the greatest of all its marks, so every order of
//!   arrival, and every repeat, ends the same. The stored hour is all
//!   that is compared, so a mark in the hour already held changes
//!   nothing and is not written: a lot's regulars cost no write per stay.
//! - **Bounded.** Marks older than [`LOOKBACK_DAYS`] are forgotten; at
//!   most [`MAX_ALLOWED`] allowed and [`MAX_STRUCK`] struck marks are kept,
//!   the most recent: under 20 KB, whatever the lot's history.
//! - **The list** a gate holds is the allowed plates, the most recent
//!   [`MAX_ENTRIES`] of them.

use std::collections::BTreeMap;
use std::future::Future;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ids::LotId;
use crate::store::StoreResult;

/// How long a mark is kept after its time.
pub const LOOKBACK_DAYS: i64 = 30;

/// The most plates a gate's list holds: it must fit a device shadow's
/// desired state (8 KB).
pub const MAX_ENTRIES: usize = 400;

/// The most allowed marks kept: the list's plates and the next ones, so a
/// plate struck off makes room at once.
pub const MAX_ALLOWED: usize = MAX_ENTRIES + MAX_ENTRIES / 4;

/// The most struck marks kept.
pub const MAX_STRUCK: usize = MAX_ENTRIES / 4;

/// What a mark's time is kept to: an hour. A busy lot's list turns over
/// in about a day, so an hour's precision keeps a regular on it.
pub const PRECISION: SignedDuration = SignedDuration::from_hours(1);

/// What one change says about one plate on its lot's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub lot_id: LotId,
    /// The plate's hash on the list.
    pub plate: String,
    /// When the change happened (the stay's exit or entry, the
    /// reservation's start).
    pub at: Timestamp,
    /// On the list, or struck off it (a card that failed).
    pub allowed: bool,
}

/// A lot's marks, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotAllowList {
    pub lot_id: LotId,
    /// Allowed plates' hashes → the mark's hour (Unix seconds over
    /// [`PRECISION`]).
    #[serde(default)]
    pub allowed: BTreeMap<String, i64>,
    /// Struck plates' hashes → the mark's hour.
    #[serde(default)]
    pub struck: BTreeMap<String, i64>,
    /// Bumped by every write; a writer names the version it read.
    pub version: u64,
}

impl LotAllowList {
    /// A lot's list before its first mark.
    pub fn new(lot_id: LotId) -> LotAllowList {
        LotAllowList {
            lot_id,
            allowed: BTreeMap::new(),
            struck: BTreeMap::new(),
            version: 0,
        }
    }

    /// Applies a mark; whether the stored marks changed (and so must be
    /// written).
    pub fn apply(&mut self, mark: &Mark) -> bool {
        let hour = hour_of(mark.at);
        let held = self
            .allowed
            .get(&mark.plate)
            .map(|h| (*h, false))
            .or_else(|| self.struck.get(&mark.plate).map(|h| (*h, true)));
        // The greatest mark wins: by hour, then struck over allowed.
        if held.is_some_and(|held| held >= (hour, !mark.allowed)) {
            return false;
        }
        let (to, from) = if mark.allowed {
            (&mut self.allowed, &mut self.struck)
        } else {
            (&mut self.struck, &mut self.allowed)
        };
        from.remove(&mark.plate);
        to.insert(mark.plate.clone(), hour);
        true
    }

    /// Forgets marks older than [`LOOKBACK_DAYS`] and the oldest beyond
    /// the bounds; whether anything was forgotten.
    pub fn trim(&mut self, now: Timestamp) -> bool {
        let horizon = horizon(now);
        let before = self.allowed.len() + self.struck.len();
        for (marks, bound) in [
            (&mut self.allowed, MAX_ALLOWED),
            (&mut self.struck, MAX_STRUCK),
        ] {
            marks.retain(|_, hour| *hour >= horizon);
            if marks.len() > bound {
                let keep: BTreeMap<String, i64> = newest(marks, bound)
                    .into_iter()
                    .map(|(p, hour)| (p.to_owned(), hour))
                    .collect();
                *marks = keep;
            }
        }
        self.allowed.len() + self.struck.len() != before
    }

    /// Whether a mark is too old to be kept at `now`.
    pub fn expired(mark: &Mark, now: Timestamp) -> bool {
        hour_of(mark.at) < horizon(now)
    }

    /// The plates a gate may let in on its own: the most recent
    /// [`MAX_ENTRIES`] allowed ones, sorted.
    pub fn plates(&self) -> Vec<String> {
        let mut plates: Vec<String> = newest(&self.allowed, MAX_ENTRIES)
            .into_iter()
            .map(|(p, _)| p.to_owned())
            .collect();
        plates.sort();
        plates
    }
}

/// The hour a time falls in.
fn hour_of(at: Timestamp) -> i64 {
    at.as_second().div_euclid(PRECISION.as_secs())
}

/// The oldest hour kept at `now`.
fn horizon(now: Timestamp) -> i64 {
    hour_of(now) - LOOKBACK_DAYS * 24 * 3600 / PRECISION.as_secs()
}

/// The `n` most recent marks (ties: the smaller hash).
fn newest(marks: &BTreeMap<String, i64>, n: usize) -> Vec<(&str, i64)> {
    let mut all: Vec<(&str, i64)> = marks.iter().map(|(p, at)| (p.as_str(), *at)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    all.truncate(n);
    all
}

/// Each lot's allow-list marks.
pub trait AllowListStore: Send + Sync {
    /// The lot's marks, if it has any.
    fn allow_list(
        &self,
        lot: &LotId,
    ) -> impl Future<Output = StoreResult<Option<LotAllowList>>> + Send;
    /// Writes the lot's marks if the stored version is still the one
    /// before `list.version` (none stored for version 1).
    ///
    /// # Errors
    ///
    /// `Conflict(Refusal::AllowListChanged)` when another write came
    /// first: read again and apply again.
    fn put_allow_list(&self, list: &LotAllowList) -> impl Future<Output = StoreResult<()>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lot() -> LotId {
        LotId::parse("demo-1").expect("a lot id")
    }

    fn mark(plate: &str, day: i64, allowed: bool) -> Mark {
        Mark {
            lot_id: lot(),
            plate: plate.to_owned(),
            at: Timestamp::from_second(1_800_000_000 + day * 86_400).expect("a time"),
            allowed,
        }
    }

    /// Every order of a plate's marks, each applied twice, ends in the
    /// same marks: days apart, minutes apart within one hour, and the
    /// same instant, allowed and struck.
    #[test]
    fn every_order_of_marks_ends_the_same() {
        let at = |day: i64, mins: i64, plate: &str, allowed: bool| Mark {
            at: mark(plate, day, allowed).at + SignedDuration::from_mins(mins),
            ..mark(plate, day, allowed)
        };
        let marks = [
            at(0, 0, "aa", true),
            at(2, 0, "aa", false),
            at(5, 0, "aa", true),
            at(0, 0, "bb", true),
            at(0, 10, "bb", false),
            at(0, 30, "bb", true),
            at(1, 0, "cc", false),
            at(1, 0, "cc", true),
        ];
        let end = |order: &[usize]| {
            let mut list = LotAllowList::new(lot());
            for i in order {
                list.apply(&marks[*i]);
                list.apply(&marks[*i]);
            }
            (list.allowed, list.struck)
        };
        let first = end(&[0, 1, 2, 3, 4, 5, 6, 7]);
        // aa: allowed last; bb: struck within the hour it was allowed
        // in; cc: struck and allowed at once, struck.
        assert_eq!(first.0.keys().collect::<Vec<_>>(), ["aa"]);
        assert_eq!(first.1.keys().collect::<Vec<_>>(), ["bb", "cc"]);
        // Every permutation, by Heap's algorithm.
        let mut order: Vec<usize> = (0..marks.len()).collect();
        let mut c = vec![0; order.len()];
        let mut i = 0;
        while i < order.len() {
            if c[i] < i {
                order.swap(if i % 2 == 0 { 0 } else { c[i] }, i);
                assert_eq!(end(&order), first, "{order:?}");
                c[i] += 1;
                i = 0;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
    }

    #[test]
    fn a_regular_costs_no_write_within_the_hour() {
        let mut list = LotAllowList::new(lot());
        assert!(list.apply(&mark("aa", 0, true)));
        let mut soon = mark("aa", 0, true);
        soon.at += SignedDuration::from_mins(59);
        assert!(!list.apply(&soon));
        assert!(list.apply(&mark("aa", 1, true)));
        assert!(
            list.apply(&mark("aa", 1, false)),
            "a failure is written at once"
        );
        assert!(list.plates().is_empty());
    }

    #[test]
    fn the_list_stays_bounded_and_keeps_the_most_recent() {
        let mut list = LotAllowList::new(lot());
        let now = mark("x", 20, true).at;
        for i in 0..2_000 {
            list.apply(&Mark {
                at: now - SignedDuration::from_secs(i * 60),
                ..mark(&format!("{i:012x}"), 0, i % 7 != 0)
            });
            list.trim(now);
        }
        assert!(list.allowed.len() <= MAX_ALLOWED && list.struck.len() <= MAX_STRUCK);
        let plates = list.plates();
        assert_eq!(plates.len(), MAX_ENTRIES);
        assert!(plates.contains(&format!("{:012x}", 1)));
        assert!(!plates.contains(&format!("{:012x}", 1_999)));
        // Forty days on, everything is forgotten.
        assert!(list.trim(now + SignedDuration::from_hours(40 * 24)));
        assert!(list.plates().is_empty() && list.struck.is_empty());
    }
}
