//! The worked examples and one example per tariff feature, from the case
//! file shared with the `parkctl quote` tests (`fixtures/quotes.json`).

#[path = "support/reference.rs"]
mod reference;

use std::path::PathBuf;

use parking_core::{Discount, Stay, Tariff};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    tariff: String,
    entry: String,
    exit: String,
    #[serde(default)]
    discount_minutes: u32,
    #[serde(default)]
    discount_amount: i64,
    expect: Expect,
}

#[derive(Deserialize)]
struct Expect {
    total: i64,
    tax: Option<i64>,
    subtotal: Option<i64>,
    discount: Option<i64>,
    flags: Vec<String>,
    caps: Vec<String>,
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn load(name: &str) -> Tariff {
    let path = fixtures().join("tariffs").join(name);
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Tariff::from_json(&json).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_example_tariff_compiles() {
    let dir = fixtures().join("tariffs");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures/tariffs") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            load(
                path.file_name()
                    .and_then(|f| f.to_str())
                    .expect("file name"),
            );
            n += 1;
        }
    }
    assert!(n >= 10, "only {n} example tariffs");
}

#[test]
fn example_quotes() {
    let json =
        std::fs::read_to_string(fixtures().join("quotes.json")).expect("fixtures/quotes.json");
    let cases: Vec<Case> = serde_json::from_str(&json).expect("cases parse");
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for c in &cases {
        let tariff = load(&c.tariff);
        let stay = Stay {
            entry: c.entry.parse().expect("entry"),
            exit: c.exit.parse().expect("exit"),
            discount: Discount {
                minutes: c.discount_minutes,
                amount: c.discount_amount,
            },
        };
        let q = match tariff.quote(&stay) {
            Ok(q) => q,
            Err(e) => {
                failures.push(format!("{}: {e}", c.name));
                continue;
            }
        };
        // Every example is also a fixed case of the engine-equals-reference
        // property.
        let r = reference::price(
            tariff.spec(),
            stay.entry,
            stay.exit,
            c.discount_minutes,
            c.discount_amount,
        );
        if (r.subtotal, r.total) != (q.subtotal, q.total) {
            failures.push(format!(
                "{}: the reference prices {r:?}, the engine ({}, {})",
                c.name, q.subtotal, q.total
            ));
        }
        let value = serde_json::to_value(&q).expect("quote serializes");
        let flags: Vec<String> = serde_json::from_value(value["flags"].clone()).expect("flags");
        let caps: Vec<String> = q
            .caps
            .iter()
            .map(|c| {
                serde_json::to_value(c.kind)
                    .expect("kind")
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        let got = (
            q.total,
            c.expect.tax.map(|_| q.tax),
            c.expect.subtotal.map(|_| q.subtotal),
            c.expect.discount.map(|_| q.discount),
            &flags,
            &caps,
        );
        let want = (
            c.expect.total,
            c.expect.tax,
            c.expect.subtotal,
            c.expect.discount,
            &c.expect.flags,
            &c.expect.caps,
        );
        if got != want {
            failures.push(format!(
                "{}:\n  got  {got:?}\n  want {want:?}\n  {}",
                c.name,
                serde_json::to_string(&value).unwrap_or_default()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn worked_example_lines_and_caps() {
    let t1 = load("t1-night-max.json");
    let q = t1
        .quote(&Stay::new(
            "2026-11-24T21:30:00+09:00".parse().expect("entry"),
            "2026-11-25T07:30:00+09:00".parse().expect("exit"),
        ))
        .expect("quote");
    let lines: Vec<_> = q
        .lines
        .iter()
        .map(|l| {
            (
                q.local(l.start),
                q.local(l.end),
                q.band_label(l.kind),
                l.units,
                l.amount,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (
                "2026-11-24T21:30:00+09:00".into(),
                "2026-11-24T22:00:00+09:00".into(),
                "day",
                2,
                600
            ),
            (
                "2026-11-24T22:00:00+09:00".into(),
                "2026-11-25T07:30:00+09:00".into(),
                "night",
                10,
                1000
            ),
        ]
    );
    assert_eq!(q.caps.len(), 1);
    assert_eq!((q.caps[0].before, q.caps[0].after), (1600, 500));

    let q = t1
        .quote(&Stay::new(
            "2026-11-24T10:00:00+09:00".parse().expect("entry"),
            "2026-11-25T11:00:00+09:00".parse().expect("exit"),
        ))
        .expect("quote");
    assert_eq!((q.total, q.tax), (2400, 218));
    let rolling = q
        .caps
        .iter()
        .find(|c| c.kind == parking_core::CapKind::Rolling)
        .expect("rolling cap");
    assert_eq!((rolling.before, rolling.after), (11_300, 1500));
    assert_eq!(q.local(rolling.start), "2026-11-24T10:00:00+09:00");
    assert_eq!(q.local(rolling.end), "2026-11-25T10:00:00+09:00");
}

#[test]
fn exit_before_entry_and_negative_discounts_are_errors() {
    let t1 = load("t1-night-max.json");
    let entry = "2026-11-24T10:00:00+09:00".parse().expect("entry");
    let exit = "2026-11-24T09:00:00+09:00".parse().expect("exit");
    let e = t1
        .quote(&Stay::new(entry, exit))
        .expect_err("exit before entry");
    assert!(e.to_string().starts_with("exit: "), "{e}");
    let stay = Stay {
        entry,
        exit: entry,
        discount: Discount {
            minutes: 0,
            amount: -1,
        },
    };
    assert_eq!(
        t1.quote(&stay).expect_err("negative").to_string(),
        "discount_amount: must not be negative (got -1)"
    );
    let q = t1.quote(&Stay::new(entry, entry)).expect("zero stay");
    assert_eq!((q.total, q.lines.len()), (0, 0));
}

#[test]
fn absurd_stays_and_prices_never_panic() {
    let t = Tariff::from_json(
        r#"{"id":"big","currency":"JPY","time_zone":"Asia/Tokyo",
            "bands":[{"days":["all"],"start":"00:00","end":"24:00","unit_minutes":1,"unit_price":1000000000000}]}"#,
    )
    .expect("tariff");
    let entry: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().expect("entry");
    let longest = entry + jiff::SignedDuration::from_hours(1000 * 24);
    let q = t.quote(&Stay::new(entry, longest)).expect("quote");
    assert_eq!(
        q.total,
        1000 * 1440 * 1_000_000_000_000,
        "the largest fee fits"
    );
    let e = t
        .quote(&Stay::new(
            entry,
            longest + jiff::SignedDuration::from_hours(24),
        ))
        .expect_err("too long");
    assert_eq!(
        e.to_string(),
        "exit: a stay of 1001 days is longer than the 1000 days a quote prices"
    );
    let e = Tariff::from_json(
        r#"{"id":"big","currency":"JPY","time_zone":"Asia/Tokyo",
            "bands":[{"days":["all"],"start":"00:00","end":"24:00","unit_minutes":1,"unit_price":1000000000001}]}"#,
    )
    .expect_err("too big");
    assert_eq!(
        e.to_string(),
        "bands[0].unit_price: must be at most 1000000000000 (got 1000000000001)"
    );
}
