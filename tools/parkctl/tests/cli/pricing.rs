//! `parkctl pricing`: a suggestion written as the version to post, never
//! applied; the backtest's months; bad input on one line.

use serde_json::Value;

use crate::{json, one_line_error, parkctl};

const TARIFF: &str = r#"{"id":"central","currency":"JPY","time_zone":"Asia/Tokyo",
  "bands":[
    {"days":["all"],"start":"08:00","end":"20:00","unit_minutes":20,"unit_price":100,"name":"day"},
    {"days":["all"],"start":"20:00","end":"08:00","unit_minutes":60,"unit_price":100,"name":"night"}]}"#;

/// A lot of 10 bays, 9 cars by day and 1 at night, 1–14 November 2026.
fn history() -> String {
    let mut csv = String::from("lot_id,observed_at,occupied,capacity\n");
    for day in 1..=14 {
        for (hour, occupied) in [(8, 9), (20, 1)] {
            csv += &format!("demo-9,2026-11-{day:02}T{hour:02}:00:00+09:00,{occupied},10\n");
        }
    }
    csv
}

#[test]
fn a_suggestion_is_written_as_a_version_to_post_and_changes_nothing() {
    let dir = crate::root().join(format!("target/cli-pricing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (h, t, o) = (dir.join("h.csv"), dir.join("t.json"), dir.join("o.json"));
    std::fs::write(&h, history()).expect("history");
    std::fs::write(&t, TARIFF).expect("tariff");
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let (h, t, o_text) = (path(&h), path(&t), path(&o));
    let s = json(&parkctl(&[
        "pricing",
        "suggest",
        "--history",
        &h,
        "--lot",
        "demo-9",
        "--tariff",
        &t,
        "--now",
        "2026-11-15T10:00:00+09:00",
        "--out",
        &o_text,
        "--json",
    ]));
    let decisions: Vec<(&str, i64, i64)> = s["bands"]
        .as_array()
        .expect("bands")
        .iter()
        .map(|b| {
            (
                b["decision"].as_str().unwrap_or_default(),
                b["current"].as_i64().unwrap_or_default(),
                b["proposed"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(decisions, [("raise", 100, 110), ("lower_far", 100, 40)]);
    // The body to post, at a local midnight: a week ahead would be 22
    // November, but the version in force took effect with the history (1
    // November) and a month must pass first.
    let body: Value =
        serde_json::from_str(&std::fs::read_to_string(&o).expect("out")).expect("json");
    assert_eq!(body["effective_from"], "2026-12-01T15:00:00Z");
    assert_eq!(body["tariff"]["bands"][0]["unit_price"], 110);
    assert_eq!(
        std::fs::read_to_string(&t).expect("tariff"),
        TARIFF,
        "untouched"
    );

    let err = one_line_error(&parkctl(&[
        "pricing",
        "suggest",
        "--history",
        &h,
        "--lot",
        "nowhere",
        "--tariff",
        &t,
    ]));
    assert!(err.contains("--lot"), "{err}");
    let err = one_line_error(&parkctl(&[
        "pricing",
        "suggest",
        "--history",
        &h,
        "--lot",
        "demo-9",
        "--tariff",
        &t,
        "--since",
        "yesterday",
    ]));
    assert!(err.contains("--since"), "{err}");
    let err = one_line_error(&parkctl(&[
        "pricing",
        "suggest",
        "--history",
        &h,
        "--lot",
        "demo-9",
        "--tariff",
        &t,
        "--since",
        "2026-11-20T00:00:00+09:00",
        "--now",
        "2026-11-15T10:00:00+09:00",
    ]));
    assert!(err.contains("--since"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_backtest_reports_each_month() {
    let b = json(&parkctl(&[
        "pricing", "backtest", "--lots", "2", "--months", "3", "--json",
    ]));
    let months = b["months"].as_array().expect("months");
    assert_eq!(months.len(), 3);
    assert_eq!(
        months[0]["price_change"], 0.0,
        "the first month is at the opening prices"
    );
    let err = one_line_error(&parkctl(&["pricing", "backtest", "--months", "0"]));
    assert!(err.contains("--months"), "{err}");
}
