//! A camera's track: the reads of one car passing a gate, as the camera
//! groups them (`track` on a plate read), and the plate they agree on
//! ([`parking_core::consensus`]). One item a track.
//!
//! - **Taken for the agreed plate.** Every read of a track is applied to
//!   the timeline of the plate its track agrees on, not the plate it read
//!   itself. A track whose reads agree surely (the lot's
//!   `plate_confidence_threshold`) is taken for that plate: one of its
//!   reads is sure alone, or several agree and together reach it, the
//!   plate is known (registered, or open in the lot by another car's
//!   reads) and no other known plate looks like it. A lone low-confidence
//!   read with no second agreeing is held for review: taken unverified,
//!   whatever known plate it looks like, so it holds no one for a debt,
//!   goes on no register, and its stay waits for staff, unless another
//!   passage of the stay read the plate surely (a clear entry, then a
//!   doubtful exit of the same plate, is priced as before). Agreeing
//!   doubtful reads of a plate nobody knows that look like one known
//!   plate are that plate's, flagged `plate_corrected` (a camera
//!   misreading one character every frame agrees with itself); otherwise,
//!   or short of the threshold, they are unverified. A track with no
//!   whole plate read is matched by its surest text the way a doubtful
//!   read alone is (the one known plate it looks like, flagged
//!   `plate_corrected`; for a lone such read, unverified), else it is one
//!   unreadable car, whatever number of reads it took. A read without a
//!   track stands alone, as before.
//! - **Written with the read.** The track's item is written in the same
//!   transaction as the read's timeline change, on its stored version:
//!   two reads of one track are applied one after the other.
//! - **Moved when the agreement changes.** When a read changes the plate
//!   its track agrees on (a second agreeing read outvoting a surer
//!   outlier), the reads taken for the former plate leave its timeline
//!   and join the new one's in that same transaction, guarded by both
//!   timelines' versions ([`TimelineCommit::released`]). The stays they
//!   made there are superseded, pointing to the stay that holds their
//!   reads now; their money follows the balance, and a reservation they
//!   had checked in is active again. The car is not a new arrival: a full
//!   lot or a debt does not hold it.
//! - **Order-free.** What a track agrees on depends on its first votes by
//!   time (then key), not on the order they arrived in, so a backlog gives
//!   what live reads gave (matching against known plates aside, which
//!   depends on what the lot holds when the votes last change).
//! - **Bounded.** At most [`VOTES`] whole-plate reads and
//!   [`UNPARSED_VOTES`] others are kept (so garbled reads of a car
//!   waiting in a queue never crowd out its clear ones); later ones are
//!   taken for the agreed plate and counted nowhere else. A camera's
//!   track ids are unique for at least the [`KEPT_DAYS`] a track is kept
//!   (the device contract). The item expires
//!   [`KEPT_DAYS`] days after its last read (no read is accepted more
//!   than seven days late), and with it the plates it names.
//!
//! [`TimelineCommit::released`]: crate::history::TimelineCommit::released

use jiff::Timestamp;
use parking_core::Plate;
use parking_core::consensus::{Agreed, VOTES, Vote, agree};
use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, LotId, TrackId};
use crate::model::SessionFlag;
use crate::store::StoreResult;

/// Days a track is kept after its last read.
pub const KEPT_DAYS: i64 = 8;

/// One read of a track, as it votes.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackRead {
    /// The read's key (device and event).
    pub key: String,
    pub at: Timestamp,
    /// The whole plate it read, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate: Option<Plate>,
    /// Otherwise the text as read (at most [`UNPARSED_MAX`] characters),
    /// to match against the plates it looks like.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unparsed: Option<String>,
    pub confidence: f64,
}

/// The most characters of a read's text kept when it is no whole plate.
pub const UNPARSED_MAX: usize = 32;

/// How many reads that are no whole plate a track keeps (the first, by
/// time), beside its [`VOTES`] whole-plate ones.
pub const UNPARSED_VOTES: usize = 4;

impl std::fmt::Debug for TrackRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The plate is personal data: never in Debug output.
        f.debug_struct("TrackRead")
            .field("key", &self.key)
            .field("at", &self.at)
            .field("confidence", &self.confidence)
            .finish_non_exhaustive()
    }
}

/// A track as stored.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    pub lot_id: LotId,
    pub device_id: DeviceId,
    pub track: TrackId,
    /// 0 for a track never stored; every write adds one.
    pub version: u64,
    /// The first [`VOTES`] whole-plate reads by time, then key, and the
    /// first [`UNPARSED_VOTES`] of the others.
    pub votes: Vec<TrackRead>,
    /// The plate its reads are taken for (`None` before the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate: Option<Plate>,
    /// What is doubtful about that plate, as each of its reads is marked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<SessionFlag>,
    /// When the store forgets it.
    pub forget_at: Timestamp,
}

impl std::fmt::Debug for Track {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Track")
            .field("lot_id", &self.lot_id)
            .field("device_id", &self.device_id)
            .field("track", &self.track)
            .field("version", &self.version)
            .field("votes", &self.votes)
            .field("flag", &self.flag)
            .finish_non_exhaustive()
    }
}

impl Track {
    /// A track never stored.
    pub fn new(lot_id: LotId, device_id: DeviceId, track: TrackId) -> Self {
        Track {
            lot_id,
            device_id,
            track,
            version: 0,
            votes: Vec::new(),
            plate: None,
            flag: None,
            forget_at: Timestamp::UNIX_EPOCH,
        }
    }

    /// The identity of a track none of whose reads is readable: one
    /// unreadable car.
    pub fn unreadable(&self) -> Plate {
        Plate::unreadable(&format!("{}/track/{}", self.device_id, self.track))
    }

    /// Counts a read: among the votes if it is one of the first [`VOTES`]
    /// whole-plate reads by time (or of the first [`UNPARSED_VOTES`]
    /// others); a repeat counts once. Whether the votes changed.
    pub fn count(&mut self, read: TrackRead) -> bool {
        if self.votes.iter().any(|v| v.key == read.key) {
            return false;
        }
        let expires = read
            .at
            .checked_add(jiff::SignedDuration::from_hours(24 * KEPT_DAYS))
            .unwrap_or(read.at);
        self.forget_at = self.forget_at.max(expires);
        let key = read.key.clone();
        let at = self
            .votes
            .partition_point(|v| (v.at, v.key.as_str()) < (read.at, read.key.as_str()));
        self.votes.insert(at, read);
        // The first VOTES whole-plate reads, and the first UNPARSED_VOTES
        // of the others: a car read in part while it queues never crowds
        // out its clear reads.
        let (mut whole, mut other) = (0, 0);
        self.votes.retain(|v| {
            let n = if v.plate.is_some() {
                &mut whole
            } else {
                &mut other
            };
            *n += 1;
            *n <= if v.plate.is_some() {
                VOTES
            } else {
                UNPARSED_VOTES
            }
        });
        self.votes.iter().any(|v| v.key == key)
    }

    /// How many of the reads that are no whole plate read `text`.
    pub fn unparsed_reading(&self, text: &str) -> usize {
        self.votes
            .iter()
            .filter(|v| v.unparsed.as_deref() == Some(text))
            .count()
    }

    /// Of reads that are no whole plate, the surest text (then the least
    /// key): what a track with no readable read is matched by.
    pub fn best_unparsed(&self) -> Option<(&str, f64)> {
        self.votes
            .iter()
            .filter_map(|v| {
                v.unparsed
                    .as_deref()
                    .filter(|t| !t.trim().is_empty())
                    .map(|t| (t, v.confidence, v.key.as_str()))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.2.cmp(a.2)))
            .map(|(t, c, _)| (t, c))
    }

    /// What the votes agree on.
    pub fn agreed(&self) -> Option<Agreed> {
        agree(self.votes.iter().map(|v| Vote {
            plate: v.plate.as_ref(),
            confidence: v.confidence,
        }))
    }
}

/// Tracks as a store keeps them. Their writes are part of a plate's
/// timeline commit ([`crate::history::TimelineCommit::track`]).
pub trait TrackStore: Send + Sync {
    /// A camera's track, if stored: one strongly consistent read (its
    /// version guards the commit that follows).
    fn track(
        &self,
        lot_id: &LotId,
        device_id: &DeviceId,
        track: &TrackId,
    ) -> impl Future<Output = StoreResult<Option<Track>>> + Send;
    /// The track and the view of the plate its read is most likely taken
    /// for, in one request (one strongly consistent batch read).
    fn track_and_view(
        &self,
        lot_id: &LotId,
        device_id: &DeviceId,
        track: &TrackId,
        plate: &Plate,
    ) -> impl Future<Output = StoreResult<(Option<Track>, crate::history::PlateView)>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(key: &str, secs: i64, plate: &str, confidence: f64) -> TrackRead {
        TrackRead {
            key: key.into(),
            at: Timestamp::from_second(1_800_000_000 + secs).expect("a time"),
            unparsed: Plate::parse(plate).is_err().then(|| plate.to_owned()),
            plate: Plate::parse(plate).ok(),
            confidence,
        }
    }

    fn track() -> Track {
        Track::new(
            LotId::parse("lot-1").expect("an id"),
            DeviceId::parse("cam-1").expect("an id"),
            TrackId::parse("t-9").expect("an id"),
        )
    }

    #[test]
    fn the_first_votes_by_time_count_once_each() {
        let mut t = track();
        for i in (0..40).rev() {
            // Each is earlier than every vote so far.
            assert!(t.count(read(&format!("cam-1/e{i:02}"), i, "品川300あ1234", 0.5)));
        }
        assert_eq!(t.votes.len(), VOTES);
        assert_eq!(t.votes[0].key, "cam-1/e00");
        assert_eq!(t.votes[VOTES - 1].key, "cam-1/e15");
        // A repeat, and a read later than every vote, change nothing.
        assert!(!t.count(read("cam-1/e03", 3, "品川300あ1234", 0.5)));
        assert!(!t.count(read("cam-1/e99", 99, "品川300あ1284", 1.0)));
    }

    #[test]
    fn garbled_reads_never_crowd_out_clear_ones() {
        let mut t = track();
        for i in 0..20 {
            assert_eq!(
                t.count(read(&format!("cam-1/g{i:02}"), i, "#?", 0.1)),
                i < 4
            );
        }
        // A clear read after twenty garbled ones still votes.
        assert!(t.count(read("cam-1/c", 30, "品川300あ1234", 0.97)));
        assert_eq!(t.agreed().map(|a| a.reads), Some(1));
        assert_eq!(t.votes.len(), UNPARSED_VOTES + 1);
    }

    #[test]
    fn debug_output_names_no_plate() {
        let mut t = track();
        t.count(read("cam-1/e1", 1, "品川300あ1234", 0.9));
        t.plate = Plate::parse("品川300あ1234").ok();
        let shown = format!("{t:?}");
        assert!(!shown.contains("1234"), "{shown}");
    }
}
