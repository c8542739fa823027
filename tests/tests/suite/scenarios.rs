//! The replay contract with money: every scenario file in
//! `fixtures/scenarios/` that says what to expect is replayed through the
//! real use cases with the development provider, and its ledger is
//! checked: the provider's books per driver, each stay's owed and
//! collected, nothing left queued or dead-lettered, no refund beyond its
//! charge, and for every driver, charged − refunded = Σ collected.

use jiff::SignedDuration;
use parking_app::scenario::{Scenario, replay};
use parking_app::usecases::device_events::DeviceEvents;
use parking_aws::{DevProvider, Faulty, MemoryLink, MemoryStore};
use serde_json::Value;

fn files() -> Vec<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn money_scenarios_replay_to_their_ledgers() {
    let mut checked = 0;
    for path in files() {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).expect("read");
        let scenario = Scenario::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let Some(expect) = scenario.expect.clone() else {
            continue;
        };
        let handler = DeviceEvents::new(
            MemoryStore::default(),
            MemoryLink::default(),
            SignedDuration::from_mins(1),
        );
        let provider = Faulty::new(DevProvider::default());
        let out = replay(&handler, &provider, &scenario)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let ledger = serde_json::to_value(&out.ledger).expect("json");
        let drivers = ledger["drivers"].as_array().expect("drivers");
        let wanted = expect["drivers"].as_array().expect("expect.drivers");
        assert_eq!(drivers.len(), wanted.len(), "{name}: {ledger}");
        for w in wanted {
            let d = drivers
                .iter()
                .find(|d| d["driver_id"] == w["driver_id"])
                .unwrap_or_else(|| panic!("{name}: no books for {}", w["driver_id"]));
            assert_eq!(
                (&d["charged"], &d["refunded"]),
                (&w["charged"], &w["refunded"]),
                "{name}: {}",
                w["driver_id"]
            );
            assert_eq!(d["refunds_beyond_charge"], 0, "{name}");
            let collected: i64 = ledger["stays"]
                .as_array()
                .expect("stays")
                .iter()
                .filter(|s| s["driver_id"] == w["driver_id"])
                .map(|s| s["collected"].as_i64().unwrap_or(0))
                .sum();
            assert_eq!(
                d["charged"].as_i64().unwrap_or(0) - d["refunded"].as_i64().unwrap_or(0),
                collected,
                "{name}: the provider's books and the stays' agree"
            );
        }
        for w in expect["stays"].as_array().expect("expect.stays") {
            let s: Vec<&Value> = ledger["stays"]
                .as_array()
                .expect("stays")
                .iter()
                .filter(|s| s["plate"] == w["plate"])
                .collect();
            assert_eq!(s.len(), 1, "{name}: {ledger}");
            assert_eq!(
                (&s[0]["owed"], &s[0]["collected"]),
                (&w["owed"], &w["collected"]),
                "{name}: {}",
                w["plate"]
            );
        }
        assert_eq!(ledger["queued"], expect["queued"], "{name}");
        assert_eq!(ledger["dead_letters"], expect["dead_letters"], "{name}");
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} money scenarios");
}

/// A step that cannot run names itself; a step missing what it needs is
/// refused when the scenario is read.
#[test]
fn bad_steps_are_named() {
    let mut s: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../fixtures/scenarios/money-carried-delta.json"),
        )
        .expect("read"),
    )
    .expect("json");
    s["steps"][1]
        .as_object_mut()
        .expect("step")
        .remove("amount");
    let e = Scenario::parse(&s.to_string()).expect_err("refused");
    assert_eq!(e.field, "steps[1].amount", "{e}");
    s["steps"][1]["amount"] = 10.into();
    s["steps"][0]["do"] = "teleport".into();
    let e = Scenario::parse(&s.to_string()).expect_err("refused");
    assert!(e.field.starts_with("steps"), "{e}");
}
