//! `parkctl quote` as a user runs it: every example case, and every kind of
//! bad input answered with exit code 2 and one line on stderr.

use std::path::Path;

use serde_json::Value;

use crate::{parkctl, root};

#[test]
fn every_example_case_prices_as_expected() {
    let cases: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/quotes.json")).expect("cases"),
    )
    .expect("json");
    let mut failures = Vec::new();
    for case in &cases {
        let tariff = format!(
            "fixtures/tariffs/{}",
            case["tariff"].as_str().expect("tariff")
        );
        let minutes = case["discount_minutes"].as_u64().unwrap_or(0).to_string();
        let amount = case["discount_amount"].as_u64().unwrap_or(0).to_string();
        let out = parkctl(&[
            "quote",
            "--tariff",
            &tariff,
            "--entry",
            case["entry"].as_str().expect("entry"),
            "--exit",
            case["exit"].as_str().expect("exit"),
            "--discount-minutes",
            &minutes,
            "--discount-amount",
            &amount,
        ]);
        let name = case["name"].as_str().unwrap_or("?");
        if !out.status.success() {
            failures.push(format!("{name}: {}", String::from_utf8_lossy(&out.stderr)));
            continue;
        }
        let quote: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
        let expect = &case["expect"];
        for key in ["total", "tax", "subtotal", "discount", "flags"] {
            if !expect[key].is_null() && quote[key] != expect[key] {
                failures.push(format!(
                    "{name}: {key} is {} not {}",
                    quote[key], expect[key]
                ));
            }
        }
        let kinds: Vec<Value> = quote["caps"]
            .as_array()
            .expect("caps")
            .iter()
            .map(|c| c["kind"].clone())
            .collect();
        if Value::from(kinds.clone()) != expect["caps"] {
            failures.push(format!("{name}: caps {kinds:?} not {}", expect["caps"]));
        }
        for line in quote["lines"].as_array().expect("lines") {
            for key in ["start", "end", "band", "units", "unit_price", "amount"] {
                assert!(!line[key].is_null(), "{name}: line without {key}");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

#[test]
fn bad_input_exits_2_with_one_line_naming_the_problem() {
    let dir = std::env::temp_dir().join(format!("parkctl-quote-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let good = "fixtures/tariffs/t1-night-max.json".to_owned();
    let t1: Value = serde_json::from_str(&std::fs::read_to_string(root().join(&good)).expect("t1"))
        .expect("json");
    let with = |pointer: &str, value: Value| {
        let mut t = t1.clone();
        *t.pointer_mut(pointer).expect("pointer") = value;
        t.to_string()
    };
    let negative = write(
        &dir,
        "negative.json",
        &with("/caps/0/amount", Value::from(-500)),
    );
    let zone = write(
        &dir,
        "zone.json",
        &with("/time_zone", Value::from("Asia/Tokio")),
    );
    let unit = write(
        &dir,
        "unit.json",
        &with("/bands/0/unit_minutes", Value::from(0)),
    );
    let gap = write(
        &dir,
        "gap.json",
        &with("/bands/0/end", Value::from("21:00")),
    );
    let currency = write(
        &dir,
        "currency.json",
        &with("/currency", Value::from("YEN")),
    );
    let broken = write(&dir, "broken.json", "{\"id\": \"x\", ");
    let empty = write(&dir, "empty.json", "");
    let array = write(&dir, "array.json", "[]");
    let entry = "2026-11-24T10:00:00+09:00";
    let exit = "2026-11-24T12:00:00+09:00";
    // Each bad tariff, priced for an ordinary stay.
    let bad_tariffs: [(&str, &str); 8] = [
        (&negative, "caps[0].amount: must not be negative"),
        (&zone, "time_zone: unknown IANA time zone"),
        (&unit, "bands[0].unit_minutes: must be at least 1"),
        (&gap, "bands: weekday has no band from 21:00 to 22:00"),
        (&currency, "currency: unknown ISO 4217 currency code"),
        (&broken, "EOF while parsing"),
        (&empty, "EOF while parsing"),
        (&array, "tariff: expected a JSON object"),
    ];
    let mut cases: Vec<(Vec<&str>, &str)> = bad_tariffs
        .iter()
        .map(|&(t, wanted)| {
            (
                vec!["--tariff", t, "--entry", entry, "--exit", exit],
                wanted,
            )
        })
        .collect();
    // Bad times and options with a good tariff.
    let too_complex = write(
        &dir,
        "too-complex.json",
        &with(
            "/caps",
            Value::Array(
                (0..9)
                    .map(|h| {
                        serde_json::json!({"kind": "window", "days": ["all"],
                            "start": format!("{:02}:00", h * 2), "end": format!("{:02}:30", h * 2), "amount": 1})
                    })
                    .collect(),
            ),
        ),
    );
    cases.push((
        vec!["--tariff", &too_complex, "--entry", entry, "--exit", exit],
        "caps: at most 8 window caps are allowed (got 9)",
    ));
    cases.extend([
        (
            vec![
                "--tariff",
                "fixtures/tariffs/missing.json",
                "--entry",
                entry,
                "--exit",
                exit,
            ],
            "--tariff: cannot read",
        ),
        (
            vec!["--tariff", &good, "--entry", "yesterday", "--exit", exit],
            "--entry: expected an RFC 3339 time",
        ),
        (
            vec![
                "--tariff",
                &good,
                "--entry",
                "2026-11-24T10:00:00",
                "--exit",
                exit,
            ],
            "--entry: expected an RFC 3339 time",
        ),
        (
            vec![
                "--tariff",
                &good,
                "--entry",
                entry,
                "--exit",
                "2026-13-01T00:00:00Z",
            ],
            "--exit: expected an RFC 3339 time",
        ),
        (
            vec!["--tariff", &good, "--entry", exit, "--exit", entry],
            "exit: 2026-11-24T01:00:00Z is before entry",
        ),
        (
            vec![
                "--tariff",
                &good,
                "--entry",
                entry,
                "--exit",
                exit,
                "--discount-amount",
                "-5",
            ],
            "'--discount-amount <N>'",
        ),
        (
            vec![
                "--tariff",
                &good,
                "--entry",
                entry,
                "--exit",
                exit,
                "--discount-amount",
                "1000000000001",
            ],
            "--discount-amount: must be at most 1000000000000, like any tariff amount",
        ),
        (
            vec![
                "--tariff",
                &good,
                "--entry",
                entry,
                "--exit",
                exit,
                "--discount-minutes",
                "ten",
            ],
            "'--discount-minutes <N>'",
        ),
        (
            vec![
                "--tariff",
                &good,
                "--entry",
                entry,
                "--exit",
                "2030-01-01T00:00:00Z",
            ],
            "exit: a stay of 1133 days is longer than the 1000 days",
        ),
        (
            vec!["--tariff", &good, "--entry", entry],
            "required arguments were not provided: --exit",
        ),
        (
            vec![
                "--tariff", &good, "--entry", entry, "--exit", exit, "--colour",
            ],
            "unexpected argument '--colour'",
        ),
    ]);
    for (args, wanted) in cases {
        let mut full = vec!["quote"];
        full.extend(&args);
        let out = parkctl(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{args:?}: not one line: {stderr}"
        );
        assert!(
            stderr.contains(wanted),
            "{args:?}: {stderr:?} does not say {wanted:?}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn discounts_go_as_high_as_tariff_amounts() {
    let out = parkctl(&[
        "quote",
        "--tariff",
        "fixtures/tariffs/t1-night-max.json",
        "--entry",
        "2026-11-24T09:00:00+09:00",
        "--exit",
        "2026-11-24T09:21:00+09:00",
        "--discount-amount",
        "5000000000",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let q: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (
            q["subtotal"].as_i64(),
            q["discount"].as_i64(),
            q["total"].as_i64()
        ),
        (Some(600), Some(600), Some(0))
    );
}
