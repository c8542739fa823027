//! A lot's offline allow-list as the store keeps it: one item per lot,
//! kept up to date one change at a time from the store's stream
//! ([`crate::usecases::allow_list::merge`]), never rebuilt from history.
//!
//! The rule:
//! - **Marks.** Each plate (as its hash, `allow_list::plate_key`) holds
//!   one mark: allowed or struck off, and when. A later mark replaces an
//!   earlier one, whatever order they arrive in; a mark at the same time
//!   replaces it too (one item's changes arrive in order). Applying a mark
//!   twice changes nothing.
//! - **Bounded.** Marks older than [`LOOKBACK_DAYS`] are forgotten; at
//!   most [`MAX_ALLOWED`] allowed and [`MAX_STRUCK`] struck marks are kept,
//!   the most recent: about 20 KB, whatever the lot's history.
//! - **Written only when it matters.** A mark that only moves a plate's
//!   time forward by less than [`RECENCY_STEP`] is not written: recency
//!   orders plates for the bound, and a busy lot's list turns over in
//!   about a day, so an hour's precision keeps a regular on it. A taxi
//!   in and out all day costs at most one write an hour.
//! - **The list** a gate holds is the allowed plates, the most recent
//!   [`MAX_ENTRIES`] of them.

use std::collections::BTreeMap;
use std::future::Future;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

/// The least forward move of an allowed plate's time that is written.
pub const RECENCY_STEP: SignedDuration = SignedDuration::from_hours(1);

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
    /// Allowed plates' hashes → the mark's time, in Unix seconds.
    #[serde(default)]
    pub allowed: BTreeMap<String, i64>,
    /// Struck plates' hashes → the mark's time, in Unix seconds.
    #[serde(default)]
    pub struck: BTreeMap<String, i64>,
    /// Bumped by every write; a writer names the version it read.
    pub version: u64,
    /// A digest of the plates every gate of the lot was last sent
    /// ([`LotAllowList::digest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<String>,
}

impl LotAllowList {
    /// A lot's list before its first mark.
    pub fn new(lot_id: LotId) -> LotAllowList {
        LotAllowList {
            lot_id,
            allowed: BTreeMap::new(),
            struck: BTreeMap::new(),
            version: 0,
            sent: None,
        }
    }

    /// Applies a mark; whether the stored marks changed (and so must be
    /// written).
    pub fn apply(&mut self, mark: &Mark) -> bool {
        let at = mark.at.as_second();
        let held = self
            .allowed
            .get(&mark.plate)
            .map(|t| (*t, true))
            .or_else(|| self.struck.get(&mark.plate).map(|t| (*t, false)));
        match held {
            Some((t, _)) if at < t => false,
            Some((t, true)) if mark.allowed => {
                if at - t < RECENCY_STEP.as_secs() {
                    return false;
                }
                self.allowed.insert(mark.plate.clone(), at);
                true
            }
            Some((t, false)) if !mark.allowed && at == t => false,
            _ => {
                let (to, from) = if mark.allowed {
                    (&mut self.allowed, &mut self.struck)
                } else {
                    (&mut self.struck, &mut self.allowed)
                };
                from.remove(&mark.plate);
                to.insert(mark.plate.clone(), at);
                true
            }
        }
    }

    /// Forgets marks older than [`LOOKBACK_DAYS`] and the oldest beyond
    /// the bounds; whether anything was forgotten.
    pub fn trim(&mut self, now: Timestamp) -> bool {
        let horizon = now.as_second() - LOOKBACK_DAYS * 24 * 3600;
        let before = self.allowed.len() + self.struck.len();
        for (marks, bound) in [
            (&mut self.allowed, MAX_ALLOWED),
            (&mut self.struck, MAX_STRUCK),
        ] {
            marks.retain(|_, at| *at >= horizon);
            if marks.len() > bound {
                let keep: BTreeMap<String, i64> = newest(marks, bound)
                    .into_iter()
                    .map(|(p, at)| (p.to_owned(), at))
                    .collect();
                *marks = keep;
            }
        }
        self.allowed.len() + self.struck.len() != before
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

    /// A digest of a list's plates: whether gates hold the list now.
    pub fn digest(plates: &[String]) -> String {
        let mut h = Sha256::new();
        for p in plates {
            h.update(p.as_bytes());
            h.update([0]);
        }
        h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
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

    #[test]
    fn every_order_of_marks_ends_the_same() {
        let marks = [
            mark("aa", 0, true),
            mark("aa", 2, false),
            mark("aa", 5, true),
            mark("bb", 1, false),
            mark("bb", 1, true),
        ];
        // The same item's changes keep their order: bb's two marks at the
        // same time stay in order; everything else is shuffled.
        let orders: [[usize; 5]; 4] = [
            [0, 1, 2, 3, 4],
            [2, 1, 0, 3, 4],
            [3, 2, 4, 1, 0],
            [1, 3, 0, 4, 2],
        ];
        let mut ends = orders.iter().map(|order| {
            let mut list = LotAllowList::new(lot());
            for i in order {
                list.apply(&marks[*i]);
                list.apply(&marks[*i]);
            }
            list
        });
        let first = ends.next().expect("an end");
        assert_eq!(first.plates(), vec!["aa".to_owned(), "bb".to_owned()]);
        assert!(ends.all(|e| e.plates() == first.plates()));
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
