//! The plate one car's reads agree on. A camera reads a passing car
//! several times and may misread it once, even with high confidence; the
//! plate of the passage is what its reads agree on, not its first read.
//!
//! - **Votes.** Each read votes for the plate it read, with its
//!   confidence (0 to 1). A read with no whole plate (empty, garbled, a
//!   serial alone) votes for none.
//! - **Winner.** A plate's support is the sum of its votes; the most
//!   supported plate wins. Ties go to more reads, then to the higher
//!   single confidence, then to the plate's key: the same reads give the
//!   same plate in any order. So two agreeing reads of 0.7 (1.4) beat one
//!   outlier of 0.95.
//! - **Sureness.** The winner's reads together are as sure as the chance
//!   that not all of them are wrong, were their errors independent:
//!   `1 − Π(1 − c)`. Two reads of 0.6 make 0.84; one read of 0.6 stays
//!   0.6. Whether that is enough is the lot's threshold, decided by the
//!   caller; a camera misreading the same character every frame is not
//!   independent, which is why the caller checks such an agreement
//!   against the plates it looks like.
//! - **Bounded.** Only the first [`VOTES`] reads by time (then key) are
//!   counted: a car read again and again while it waits at a barrier
//!   decides nothing more.
//!
//! ```
//! use parking_core::Plate;
//! use parking_core::consensus::{Vote, agree};
//!
//! let a = Plate::parse("品川300あ1234").map_err(|e| e.to_string())?;
//! let b = Plate::parse("品川300あ1284").map_err(|e| e.to_string())?;
//! let votes = [
//!     Vote { plate: Some(&b), confidence: 0.95 },
//!     Vote { plate: Some(&a), confidence: 0.7 },
//!     Vote { plate: Some(&a), confidence: 0.7 },
//! ];
//! let agreed = agree(votes).ok_or("no plate")?;
//! assert_eq!(agreed.plate, a);
//! assert_eq!((agreed.reads, agreed.against), (2, 1));
//! assert!((agreed.confidence - 0.91).abs() < 1e-9);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use crate::Plate;

/// How many reads of a passage are counted (the first, by time).
pub const VOTES: usize = 16;

/// One read's vote.
#[derive(Debug, Clone, Copy)]
pub struct Vote<'a> {
    /// The whole plate it read; `None` for no usable text.
    pub plate: Option<&'a Plate>,
    /// The camera's confidence, 0 to 1 (clamped; counted to a millionth).
    pub confidence: f64,
}

/// What a passage's reads agree on.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreed {
    pub plate: Plate,
    /// How sure the agreeing reads are together, 0 to 1.
    pub confidence: f64,
    /// The surest of them alone.
    pub best: f64,
    /// Reads of this plate.
    pub reads: usize,
    /// Reads of another plate.
    pub against: usize,
}

/// Confidences in millionths, so sums do not depend on their order.
fn micros(c: f64) -> u64 {
    if c.is_finite() {
        // Clamped to 0..=1 first: the cast cannot truncate or wrap.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let m = (c.clamp(0.0, 1.0) * 1e6).round() as u64;
        m
    } else {
        0
    }
}

/// The plate the votes agree on, or `None` when no vote reads a whole
/// plate. The caller passes the votes it counts (the first [`VOTES`]).
pub fn agree<'a>(votes: impl IntoIterator<Item = Vote<'a>>) -> Option<Agreed> {
    let mut tallies: BTreeMap<String, (&Plate, Vec<u64>)> = BTreeMap::new();
    let mut voting = 0;
    for v in votes {
        let Some(plate) = v.plate else { continue };
        voting += 1;
        tallies
            .entry(plate.key())
            .or_insert_with(|| (plate, Vec::new()))
            .1
            .push(micros(v.confidence));
    }
    // Support, reads, best: compared in that order; BTreeMap order is the
    // key's, so the first of equals is the least key.
    let rank = |c: &[u64]| (c.iter().sum::<u64>(), c.len(), c.iter().max().copied());
    let mut winner: Option<(&Plate, &mut Vec<u64>)> = None;
    for (plate, c) in tallies.values_mut() {
        if winner.as_ref().is_none_or(|(_, w)| rank(c) > rank(w)) {
            winner = Some((plate, c));
        }
    }
    winner.map(|(plate, c)| {
        c.sort_unstable();
        let all_wrong: f64 = c.iter().map(|&m| 1.0 - m as f64 / 1e6).product();
        Agreed {
            plate: plate.clone(),
            confidence: 1.0 - all_wrong,
            best: c.last().map_or(0.0, |&m| m as f64 / 1e6),
            reads: c.len(),
            against: voting - c.len(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn plate(text: &str) -> Plate {
        Plate::parse(text).expect("a test plate")
    }

    #[test]
    fn two_agreeing_reads_beat_a_surer_outlier() {
        let (a, b) = (plate("品川300あ1234"), plate("品川300あ1284"));
        let agreed = agree([
            Vote {
                plate: Some(&a),
                confidence: 0.7,
            },
            Vote {
                plate: Some(&b),
                confidence: 0.95,
            },
            Vote {
                plate: Some(&a),
                confidence: 0.7,
            },
        ])
        .expect("a plate");
        assert_eq!(agreed.plate, a);
        // But two very doubtful reads do not beat a sure one.
        let agreed = agree([
            Vote {
                plate: Some(&a),
                confidence: 0.3,
            },
            Vote {
                plate: Some(&b),
                confidence: 0.95,
            },
            Vote {
                plate: Some(&a),
                confidence: 0.3,
            },
        ])
        .expect("a plate");
        assert_eq!((agreed.plate, agreed.reads, agreed.against), (b, 1, 2));
    }

    #[test]
    fn agreeing_doubtful_reads_add_up_and_a_lone_one_does_not() {
        let a = plate("品川300あ1234");
        let one = agree([Vote {
            plate: Some(&a),
            confidence: 0.6,
        }])
        .expect("a plate");
        assert!((one.confidence - 0.6).abs() < 1e-9);
        let two = agree([
            Vote {
                plate: Some(&a),
                confidence: 0.6,
            },
            Vote {
                plate: Some(&a),
                confidence: 0.6,
            },
        ])
        .expect("a plate");
        assert!((two.confidence - 0.84).abs() < 1e-9);
    }

    #[test]
    fn unreadable_votes_count_for_nothing() {
        assert_eq!(
            agree([Vote {
                plate: None,
                confidence: 0.99
            }]),
            None
        );
        let a = plate("品川300あ1234");
        let agreed = agree([
            Vote {
                plate: None,
                confidence: 0.99,
            },
            Vote {
                plate: Some(&a),
                confidence: 0.5,
            },
            Vote {
                plate: Some(&a),
                confidence: f64::NAN,
            },
        ])
        .expect("a plate");
        assert_eq!((agreed.reads, agreed.against), (2, 0));
        assert!((agreed.confidence - 0.5).abs() < 1e-9);
    }

    proptest! {
        /// The same votes in any order agree on the same plate.
        #[test]
        fn order_does_not_matter(
            votes in prop::collection::vec((0usize..3, 0u32..=100), 1..8),
            seed in any::<u64>(),
        ) {
            let plates = [plate("品川300あ1234"), plate("品川300あ1284"), plate("練馬500さ7777")];
            let v: Vec<Vote<'_>> = votes
                .iter()
                .map(|&(p, c)| Vote { plate: Some(&plates[p]), confidence: f64::from(c) / 100.0 })
                .collect();
            let mut shuffled = v.clone();
            // A deterministic shuffle from the seed.
            let n = shuffled.len();
            let mut s = seed;
            for i in (1..n).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let j = usize::try_from(s >> 33).unwrap_or(0) % (i + 1);
                shuffled.swap(i, j);
            }
            let a = agree(v).map(|x| (x.plate, x.reads));
            let b = agree(shuffled).map(|x| (x.plate, x.reads));
            prop_assert_eq!(a, b);
        }
    }
}
