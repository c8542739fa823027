//! `parkctl replay` and `parkctl simulate`: their documents, and bad
//! input answered with exit code 2 and one line naming the field.

use serde_json::Value;

use crate::{json, one_line_error, parkctl};

#[test]
fn replay_prints_the_days_sessions_commands_payments_and_availability() {
    let doc = json(&parkctl(&[
        "replay",
        "--scenario",
        "fixtures/scenarios/day-one.json",
    ]));
    for field in [
        "sessions",
        "commands",
        "notifications",
        "payments",
        "rejected",
        "duplicates",
        "availability",
        "bays",
    ] {
        assert!(doc.get(field).is_some(), "{field}");
    }
    let statuses: Vec<&str> = doc["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["status"].as_str().expect("status"))
        .collect();
    assert_eq!(
        statuses,
        [
            "closed",
            "closed",
            "closed",
            "closed",
            "closed",
            "superseded"
        ]
    );
    assert_eq!(doc["duplicates"], 1);
    let reasons: Vec<&str> = doc["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| r["reason"].as_str().expect("reason"))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("not registered"));
    // 1,100 + 1,500 + 200 charged; 3,000 charged and refunded.
    let net: i64 = doc["payments"]
        .as_array()
        .expect("payments")
        .iter()
        .map(|p| {
            let amount = p["amount"].as_i64().expect("amount");
            if p["kind"] == "refund" {
                -amount
            } else {
                amount
            }
        })
        .sum();
    assert_eq!(net, 2800);
    assert_eq!(doc["availability"]["degraded"], true);
    assert_eq!(doc["availability"]["offline_devices"][0], "cam-out");
    let text = serde_json::to_string(&doc["commands"]).expect("json");
    assert!(!text.contains("品川"), "commands carry no plate");
}

#[test]
fn a_bad_scenario_names_the_field_on_one_line() {
    let dir = std::env::temp_dir().join(format!("parkctl-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let text = std::fs::read_to_string(crate::root().join("fixtures/scenarios/day-one.json"))
        .expect("scenario");
    let mut doc: Value = serde_json::from_str(&text).expect("json");
    doc["devices"][0]["gate_id"] = "g-nowhere".into();
    let path = dir.join("bad.json");
    std::fs::write(&path, doc.to_string()).expect("write");
    let err = one_line_error(&parkctl(&[
        "replay",
        "--scenario",
        path.to_str().expect("path"),
    ]));
    assert!(err.contains("devices[0].gate_id"), "{err}");
    doc["lot"]["capacity"] = "many".into();
    std::fs::write(&path, doc.to_string()).expect("write");
    let err = one_line_error(&parkctl(&[
        "replay",
        "--scenario",
        path.to_str().expect("path"),
    ]));
    assert!(err.contains("lot.capacity"), "{err}");
    let err = one_line_error(&parkctl(&["replay", "--scenario", "no/such/file.json"]));
    assert!(err.contains("no/such/file.json"), "{err}");
}

#[test]
fn simulate_reports_a_day_that_adds_up() {
    let doc = json(&parkctl(&["simulate", "--json", "--seed", "5"]));
    assert_eq!(doc["checks"]["every_entry_is_a_session"], true);
    assert_eq!(doc["checks"]["revenue_is_the_sum_of_fees"], true);
    assert_eq!(doc["checks"]["charges_match_fees_due"], true);
    assert!(doc["messages"].as_u64().expect("messages") > 1000);
    assert!(doc["messages_per_second"].as_f64().expect("rate") > 0.0);
    let again = json(&parkctl(&["simulate", "--json", "--seed", "5"]));
    assert_eq!(
        doc["revenue"], again["revenue"],
        "a seed gives the same day"
    );
    let human = parkctl(&["simulate"]);
    assert!(human.status.success());
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("checks: every entry is a session ok; revenue is the sum of fees ok; charges match fees due ok"),
        "{text}"
    );
}

#[test]
fn simulate_refuses_bad_arguments_on_one_line() {
    let err = one_line_error(&parkctl(&["simulate", "--lots", "0"]));
    assert!(err.contains("--lots"), "{err}");
    let err = one_line_error(&parkctl(&["simulate", "--start", "yesterday"]));
    assert!(err.contains("--start"), "{err}");
}
