//! A plate's timeline in one lot: the camera reads of it at the gates, the
//! passages they make, and the sessions the passages make. Pure and
//! order-free: the same reads, in any order and with any repeats, give the
//! same passages and sessions.
//!
//! - **Order.** Reads are ordered by when they happened (`at`), then by
//!   their event key, so ties are broken the same way every time. A read
//!   whose event key was seen before is the same read and counts once.
//! - **Passages.** Cameras read one car several times, and a car waiting
//!   at a barrier is read again and again: a read at the same gate, in the
//!   same direction, at most the debounce window after the latest read of
//!   that gate's and direction's last passage, belongs to that passage,
//!   whatever other reads come in between. Passages are ordered by their
//!   first read.
//! - **Sessions.** Walking the passages in order: an entry opens a session;
//!   an exit closes the open one. An entry while a session is open leaves
//!   that one `ExitMissing` (its car left unseen, or the camera missed it;
//!   it is never charged automatically) and opens a new one. An exit with
//!   no open session is `EntryMissing` (priced at the lot's lost-entry
//!   fee). A session still open at the end is `Open`.
//!
//! ```
//! use jiff::Timestamp;
//! use parking_core::timeline::{Derived, Direction, Read, derive};
//!
//! let read = |key: &str, gate: &str, direction, t: &str| -> Result<Read, jiff::Error> {
//!     Ok(Read { key: key.into(), gate: gate.into(), direction, at: t.parse::<Timestamp>()? })
//! };
//! let reads = [
//!     read("cam-2/9", "out", Direction::Exit, "2026-11-24T11:00:00Z")?,
//!     read("cam-1/1", "in", Direction::Entry, "2026-11-24T09:00:00Z")?,
//!     read("cam-1/2", "in", Direction::Entry, "2026-11-24T09:00:01Z")?, // the same car again
//! ];
//! let sessions = derive(&reads, jiff::SignedDuration::from_secs(120));
//! assert!(matches!(&sessions[..], [Derived::Closed { entry, exit }]
//!     if entry.first.key == "cam-1/1" && entry.reads == 2 && exit.first.key == "cam-2/9"));
//! # Ok::<(), jiff::Error>(())
//! ```

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

/// Which way a car passes a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Entry,
    Exit,
}

/// One camera read of the plate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// Identifies the read across deliveries: the device and its event id.
    pub key: String,
    pub gate: String,
    pub direction: Direction,
    /// When the camera read it.
    pub at: Timestamp,
}

/// A car passing a gate once, however many reads it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// The first read: its time is the passage's time.
    pub first: Read,
    /// When the latest read of the passage was taken.
    pub last_at: Timestamp,
    /// How many distinct reads make the passage.
    pub reads: usize,
    /// The keys of its reads, in timeline order.
    pub keys: Vec<String>,
}

/// A session as the passages make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Derived {
    /// In the lot since `entry`.
    Open { entry: Passage },
    /// Entered and left.
    Closed { entry: Passage, exit: Passage },
    /// Entered; the next thing seen was another entry.
    ExitMissing { entry: Passage },
    /// Left; no entry was seen.
    EntryMissing { exit: Passage },
}

impl Derived {
    /// The passage that starts the session: its entry, or the exit of a
    /// session whose entry is missing.
    pub fn first(&self) -> &Passage {
        match self {
            Derived::Open { entry }
            | Derived::Closed { entry, .. }
            | Derived::ExitMissing { entry } => entry,
            Derived::EntryMissing { exit } => exit,
        }
    }

    /// The session's passages: its entry, its exit, or both.
    pub fn passages(&self) -> impl Iterator<Item = &Passage> {
        let (a, b) = match self {
            Derived::Open { entry } | Derived::ExitMissing { entry } => (Some(entry), None),
            Derived::Closed { entry, exit } => (Some(entry), Some(exit)),
            Derived::EntryMissing { exit } => (None, Some(exit)),
        };
        a.into_iter().chain(b)
    }

    /// Whether the read with this key is one of the session's.
    pub fn has_read(&self, key: &str) -> bool {
        self.passages().any(|p| p.keys.iter().any(|k| k == key))
    }
}

/// The distinct reads in timeline order.
fn ordered(reads: &[Read]) -> Vec<&Read> {
    let mut by_key: BTreeMap<&str, &Read> = BTreeMap::new();
    for r in reads {
        // A repeated key is the same read delivered again; keep one copy,
        // the same one whatever the order (the earliest, then the least).
        by_key
            .entry(r.key.as_str())
            .and_modify(|kept| {
                if (r.at, &r.gate, r.direction) < (kept.at, &kept.gate, kept.direction) {
                    *kept = r;
                }
            })
            .or_insert(r);
    }
    let mut v: Vec<&Read> = by_key.into_values().collect();
    v.sort_by(|a, b| (a.at, &a.key).cmp(&(b.at, &b.key)));
    v
}

/// The passages the reads make, in order of their first reads.
pub fn passages(reads: &[Read], debounce: SignedDuration) -> Vec<Passage> {
    let mut out: Vec<Passage> = Vec::new();
    // The last passage of each gate and direction.
    let mut latest: BTreeMap<(&str, Direction), usize> = BTreeMap::new();
    for r in ordered(reads) {
        let slot = (r.gate.as_str(), r.direction);
        match latest.get(&slot).map(|&i| &mut out[i]) {
            Some(p) if r.at.duration_since(p.last_at) <= debounce => {
                p.reads += 1;
                p.last_at = r.at;
                p.keys.push(r.key.clone());
            }
            _ => {
                latest.insert(slot, out.len());
                out.push(Passage {
                    first: r.clone(),
                    last_at: r.at,
                    reads: 1,
                    keys: vec![r.key.clone()],
                });
            }
        }
    }
    out
}

/// The sessions the reads make, in order (see the module documentation).
pub fn derive(reads: &[Read], debounce: SignedDuration) -> Vec<Derived> {
    let mut out = Vec::new();
    let mut open: Option<Passage> = None;
    for p in passages(reads, debounce) {
        match (p.first.direction, open.take()) {
            (Direction::Entry, None) => open = Some(p),
            (Direction::Entry, Some(entry)) => {
                out.push(Derived::ExitMissing { entry });
                open = Some(p);
            }
            (Direction::Exit, Some(entry)) => out.push(Derived::Closed { entry, exit: p }),
            (Direction::Exit, None) => out.push(Derived::EntryMissing { exit: p }),
        }
    }
    if let Some(entry) = open {
        out.push(Derived::Open { entry });
    }
    out
}
