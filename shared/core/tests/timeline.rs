//! Property tests of a plate's timeline: the sessions its reads make do not
//! depend on the order the reads arrive in, nor on repeated deliveries,
//! and they account for every read.

#[path = "support/seeded.rs"]
mod seeded;

use jiff::{SignedDuration, Timestamp};
use parking_core::timeline::{Derived, Direction, Passage, Read, derive, passages};
use proptest::prelude::*;
use proptest::sample::select;
use seeded::config;

const DEBOUNCE: SignedDuration = SignedDuration::from_secs(120);

/// Reads of one plate over two days: entries at two gates and exits at
/// one, often in bursts a few seconds apart (one car read several times),
/// sometimes at the very same second.
fn reads() -> impl Strategy<Value = Vec<Read>> {
    let base = 1_795_000_000i64;
    proptest::collection::vec(
        (
            select(vec![
                ("in-1", Direction::Entry),
                ("in-2", Direction::Entry),
                ("out-1", Direction::Exit),
            ]),
            0i64..48,
            prop_oneof![Just(0i64), 0i64..5, 0i64..400, 0i64..3600],
        ),
        0..40,
    )
    .prop_map(move |v| {
        v.into_iter()
            .enumerate()
            .map(|(i, ((gate, direction), hour, secs))| Read {
                key: format!("cam-{gate}/{i}"),
                gate: gate.to_owned(),
                direction,
                at: Timestamp::from_second(base + hour * 3600 + secs).expect("time"),
            })
            .collect()
    })
}

/// The reads in another order, some of them delivered two or three times.
fn arrivals(reads: Vec<Read>) -> impl Strategy<Value = Vec<Read>> {
    let n = reads.len();
    (Just(reads), proptest::collection::vec(0usize..3, n)).prop_flat_map(|(reads, copies)| {
        let mut all = Vec::new();
        for (r, extra) in reads.iter().zip(copies) {
            for _ in 0..=extra {
                all.push(r.clone());
            }
        }
        Just(all).prop_shuffle()
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arrival_order_and_repeats_change_nothing(
        (reads, arrived) in reads().prop_flat_map(|r| (Just(r.clone()), arrivals(r))),
    ) {
        prop_assert_eq!(derive(&arrived, DEBOUNCE), derive(&reads, DEBOUNCE));
        prop_assert_eq!(passages(&arrived, DEBOUNCE), passages(&reads, DEBOUNCE));
    }

    #[test]
    fn every_read_is_in_exactly_one_passage_of_one_session(reads in reads()) {
        let ps = passages(&reads, DEBOUNCE);
        prop_assert_eq!(ps.iter().map(|p| p.reads).sum::<usize>(), reads.len());
        for w in ps.windows(2) {
            prop_assert!(w[0].first.at <= w[1].first.at);
        }
        // Two passages at one gate and direction are more than the window
        // apart: the later starts after the earlier's last read + window.
        for (i, a) in ps.iter().enumerate() {
            for b in &ps[i + 1..] {
                if (a.first.gate.as_str(), a.first.direction) == (b.first.gate.as_str(), b.first.direction)
                    && b.first.at >= a.first.at
                {
                    prop_assert!(b.first.at.duration_since(a.last_at) > DEBOUNCE);
                }
            }
        }
        let sessions = derive(&reads, DEBOUNCE);
        let used: usize = sessions
            .iter()
            .map(|s| match s {
                Derived::Closed { .. } => 2,
                _ => 1,
            })
            .sum();
        prop_assert_eq!(used, ps.len());
        for (i, s) in sessions.iter().enumerate() {
            match s {
                Derived::Open { entry } => {
                    prop_assert_eq!(i, sessions.len() - 1, "only the last session is open");
                    prop_assert_eq!(entry.first.direction, Direction::Entry);
                }
                Derived::Closed { entry, exit } => {
                    prop_assert!(entry.first.at <= exit.first.at);
                    prop_assert_eq!((entry.first.direction, exit.first.direction), (Direction::Entry, Direction::Exit));
                }
                Derived::ExitMissing { entry } => {
                    prop_assert_eq!(entry.first.direction, Direction::Entry);
                    // The next session starts with an entry.
                    let next_starts_with_entry = matches!(
                        sessions.get(i + 1),
                        Some(Derived::Open { .. } | Derived::Closed { .. } | Derived::ExitMissing { .. })
                    );
                    prop_assert!(next_starts_with_entry, "an entry follows a missing exit");
                }
                Derived::EntryMissing { exit } => prop_assert_eq!(exit.first.direction, Direction::Exit),
            }
        }
        for w in sessions.windows(2) {
            prop_assert!(w[0].first().first.at <= w[1].first().first.at);
        }
    }
}

fn read(key: &str, gate: &str, direction: Direction, at: &str) -> Read {
    Read {
        key: key.into(),
        gate: gate.into(),
        direction,
        at: at.parse().expect("time"),
    }
}

#[test]
fn a_camera_reading_one_car_three_times_is_one_entry() {
    let reads = [
        read("cam/1", "in", Direction::Entry, "2026-11-24T09:00:00Z"),
        read("cam/2", "in", Direction::Entry, "2026-11-24T09:00:01Z"),
        read("cam/3", "in", Direction::Entry, "2026-11-24T09:00:02Z"),
    ];
    let ps = passages(&reads, DEBOUNCE);
    assert_eq!(ps.len(), 1);
    assert_eq!((ps[0].first.key.as_str(), ps[0].reads), ("cam/1", 3));
    // The window runs from the latest read: at its edge the read still
    // belongs; past it, a new passage (the car came round again).
    let edge = [
        read("cam/1", "in", Direction::Entry, "2026-11-24T09:00:00Z"),
        read("cam/2", "in", Direction::Entry, "2026-11-24T09:02:00Z"),
        read("cam/3", "in", Direction::Entry, "2026-11-24T09:04:01Z"),
    ];
    let ps = passages(&edge, DEBOUNCE);
    assert_eq!(ps.iter().map(|p| p.reads).collect::<Vec<_>>(), [2, 1]);
}

#[test]
fn a_car_waiting_at_a_barrier_is_one_passage() {
    // Read every minute for ten minutes, with another car's gate traffic
    // of the same plate's reads elsewhere in between.
    let mut reads: Vec<Read> = (0..=10)
        .map(|m| {
            read(
                &format!("out/{m}"),
                "out",
                Direction::Exit,
                &format!("2026-11-24T11:{m:02}:00Z"),
            )
        })
        .collect();
    reads.push(read("in/1", "in", Direction::Entry, "2026-11-24T09:00:00Z"));
    reads.push(read("in/2", "in", Direction::Entry, "2026-11-24T11:05:30Z"));
    let ps = passages(&reads, DEBOUNCE);
    let exits: Vec<&Passage> = ps
        .iter()
        .filter(|p| p.first.direction == Direction::Exit)
        .collect();
    assert_eq!(exits.len(), 1);
    assert_eq!(exits[0].reads, 11);
}

#[test]
fn missed_entries_and_exits_are_named() {
    let reads = [
        read("out/1", "out", Direction::Exit, "2026-11-24T08:00:00Z"),
        read("in/1", "in", Direction::Entry, "2026-11-24T09:00:00Z"),
        read("in/2", "in", Direction::Entry, "2026-11-25T09:00:00Z"),
        read("out/2", "out", Direction::Exit, "2026-11-25T10:00:00Z"),
        read("in/3", "in", Direction::Entry, "2026-11-25T12:00:00Z"),
    ];
    let kinds: Vec<&str> = derive(&reads, DEBOUNCE)
        .iter()
        .map(|s| match s {
            Derived::Open { .. } => "open",
            Derived::Closed { .. } => "closed",
            Derived::ExitMissing { .. } => "exit_missing",
            Derived::EntryMissing { .. } => "entry_missing",
        })
        .collect();
    assert_eq!(kinds, ["entry_missing", "exit_missing", "closed", "open"]);
}
