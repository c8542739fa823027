//! Order and duplicates do not matter: messages from the simulator's
//! generator, processed in a random order with random repeats, end in the
//! same sessions (ids included) and the same net charges per session as
//! the same messages once each in the order they happened.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use parking_app::outbox::OutboxMessage;
use parking_app::scenario::{MessageSpec, Scenario, set_up};
use parking_app::simulator::world::{SimConfig, generate};
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::{SessionId, SessionStore};
use parking_aws::{MemoryLink, MemoryStore};
use parking_core::SessionState;
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

#[path = "../../../shared/core/tests/support/seeded.rs"]
mod seeded;

/// A live session as compared: id, state, fee, entry, exit, flags.
type SessionView = (
    SessionId,
    String,
    Option<i64>,
    Timestamp,
    Option<Timestamp>,
    Vec<String>,
);

/// What must not depend on order: each live session, and what each
/// session is charged in the end.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    sessions: BTreeSet<SessionView>,
    net: BTreeMap<SessionId, i64>,
}

fn when(m: &MessageSpec) -> Timestamp {
    let at = |v: &Value| {
        v.get("occurred_at")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Timestamp>().ok())
    };
    let first = match m.payload.get("events").and_then(Value::as_array) {
        Some(events) => events.iter().filter_map(at).min(),
        None => at(&m.payload),
    };
    first.unwrap_or(m.received_at)
}

/// The outcome, and how many stays were archived (each run its own: the
/// property tests run side by side).
fn run(scenario: &Scenario, messages: &[MessageSpec]) -> (Outcome, usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let events = DeviceEvents::new(
            MemoryStore::default(),
            MemoryLink::default(),
            SignedDuration::from_mins(1),
        );
        let start = messages
            .iter()
            .map(|m| m.received_at)
            .min()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        set_up(&events.store, scenario, start)
            .await
            .expect("set up");
        for m in messages {
            events
                .handle(&m.delivered(), m.received_at)
                .await
                .expect("handled");
        }
        let sessions = events
            .store
            .lot_sessions(&scenario.lot.id)
            .await
            .expect("sessions")
            .into_iter()
            .filter(|s| s.state != SessionState::Superseded)
            .map(|s| {
                (
                    s.id.clone(),
                    s.state.name().to_owned(),
                    s.fee.map(|f| f.minor),
                    s.entry_at,
                    s.exit_at,
                    s.flags.iter().map(|f| f.name().to_owned()).collect(),
                )
            })
            .collect();
        let mut net: BTreeMap<SessionId, i64> = BTreeMap::new();
        for m in events.store.outbox_all() {
            if let OutboxMessage::Payments(o) = m {
                *net.entry(o.session_id.clone().expect("a stay's order"))
                    .or_default() += o.signed_minor();
            }
        }
        net.retain(|_, v| *v != 0);
        let stays = events.store.history_items().stays;
        (Outcome { sessions, net }, stays)
    })
}

fn config() -> ProptestConfig {
    // Each case runs a simulated day twice; the long run scales with it.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .map_or(48, |n| (n / 100).max(48));
    ProptestConfig {
        cases,
        ..seeded::config()
    }
}

/// The generator's messages, shuffled with repeats, end as they do once
/// each in the order they happened.
/// Returns how many stays were archived.
fn ends_the_same(cfg: &SimConfig, order: u64) -> Result<usize, TestCaseError> {
    let scenario = generate(cfg).expect("generate").remove(0);
    // Once each, in the order things happened.
    let mut sorted: Vec<MessageSpec> = Vec::new();
    for m in &scenario.messages {
        if !sorted
            .iter()
            .any(|s| s.payload == m.payload && s.topic == m.topic)
        {
            sorted.push(m.clone());
        }
    }
    sorted.sort_by_key(when);
    // Shuffled, with repeats.
    let mut rng = ChaCha8Rng::seed_from_u64(order);
    let mut shuffled = scenario.messages.clone();
    for _ in 0..rng.random_range(0..20) {
        let i = rng.random_range(0..shuffled.len());
        let mut again = shuffled[i].clone();
        again.received_at += SignedDuration::from_secs(rng.random_range(-3600..3600));
        shuffled.push(again);
    }
    shuffled.shuffle(&mut rng);
    let (expected, stays) = run(&scenario, &sorted);
    prop_assert!(!expected.sessions.is_empty());
    prop_assert_eq!(run(&scenario, &shuffled).0, expected);
    Ok(stays)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_order_with_any_repeats_ends_the_same(world in any::<u64>(), order in any::<u64>()) {
        let cfg = SimConfig {
            seed: world,
            capacity: 60,
            arrivals_per_day: 40,
            drivers: 30,
            order_free: true,
            ..SimConfig::default()
        };
        ends_the_same(&cfg, order)?;
    }

    /// A few plates that come many times over days: most of each plate's
    /// history is archived as stays, and late or repeated reads land in
    /// it, in any order.
    #[test]
    fn heavy_plates_end_the_same_in_any_order(world in any::<u64>(), order in any::<u64>()) {
        let cfg = SimConfig {
            seed: world,
            capacity: 60,
            arrivals_per_day: 40,
            drivers: 4,
            days: 3,
            order_free: true,
            ..SimConfig::default()
        };
        let stays = ends_the_same(&cfg, order)?;
        prop_assert!(stays > 0, "the plates' older stays were archived");
    }
}
