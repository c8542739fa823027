//! Property tests: random tariffs and random stays of up to 30 days, in
//! Asia/Tokyo, America/New_York and Europe/London (a third of them within
//! hours of a DST change), priced by the engine and by the naive
//! minute-by-minute reference in `support/reference.rs`.
//!
//! The test command runs them with a fixed seed and 1,000 cases each, so a
//! run's answer never depends on chance; `scripts/long-tests` runs many
//! more cases from a random seed it prints (replay one with
//! `PROPTEST_RNG_SEED`). Failures found are kept as fixed examples in
//! `fixtures/quotes.json` and in `properties.proptest-regressions`.

#[path = "support/reference.rs"]
mod reference;
#[path = "support/seeded.rs"]
mod seeded;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use parking_core::calendar::{Calendar, Country, DaySet, day_number};
use parking_core::tariff::{BandSpec, CapSpec, FirstSpec, FlatSpec, HolidaysSpec, TariffSpec};
use parking_core::{Discount, Money, Quote, Stay, Tariff, Tax};
use proptest::prelude::*;
use proptest::sample::select;
use seeded::config;

const DAY_NAMES: [&str; 4] = ["weekday", "saturday", "sunday", "holiday"];
/// Ways the four day types are grouped into tariffs' band sets.
const GROUPINGS: &[&[&[&str]]] = &[
    &[&["all"]],
    &[&["weekday"], &["weekend", "holiday"]],
    &[&["weekday"], &["saturday"], &["sunday", "holiday"]],
    &[&["weekday", "saturday"], &["sunday"], &["holiday"]],
];

fn clock(m: i64) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// Minutes of the day, often on the half hour so boundaries coincide.
fn minute_of_day() -> impl Strategy<Value = i64> {
    prop_oneof![(0i64..48).prop_map(|h| h * 30), 0i64..1440]
}

fn day_set() -> impl Strategy<Value = Vec<String>> {
    proptest::sample::subsequence(DAY_NAMES.to_vec(), 1..=4)
        .prop_map(|v| v.into_iter().map(String::from).collect())
}

/// Bands for one group of day types: cut points around the clock, the
/// piece from the last cut to the first one wrapping past midnight.
fn bands_for(group: &'static [&'static str]) -> impl Strategy<Value = Vec<BandSpec>> {
    (
        proptest::collection::btree_set(minute_of_day(), 1..=4),
        proptest::collection::vec(
            (
                select(vec![1u32, 5, 7, 10, 15, 20, 30, 60, 90, 120]),
                0i64..=500,
            ),
            4,
        ),
    )
        .prop_map(move |(cuts, units)| {
            let cuts: Vec<i64> = cuts.into_iter().collect();
            let days: Vec<String> = group.iter().map(|s| s.to_string()).collect();
            let band = |start: String, end: String, i: usize| BandSpec {
                days: days.clone(),
                start,
                end,
                unit_minutes: units[i].0,
                unit_price: units[i].1,
                name: None,
            };
            if cuts.len() == 1 {
                return vec![band("00:00".into(), "24:00".into(), 0)];
            }
            (0..cuts.len())
                .map(|i| {
                    let end = match cuts.get(i + 1) {
                        Some(&e) => clock(e),
                        None if cuts[0] == 0 => "24:00".into(),
                        None => clock(cuts[0]),
                    };
                    band(clock(cuts[i]), end, i)
                })
                .collect()
        })
}

fn all_bands() -> impl Strategy<Value = Vec<BandSpec>> {
    select(GROUPINGS.to_vec()).prop_flat_map(|groups| {
        groups
            .iter()
            .map(|g| bands_for(g))
            .collect::<Vec<_>>()
            .prop_map(|v| v.into_iter().flatten().collect::<Vec<_>>())
    })
}

fn caps() -> impl Strategy<Value = Vec<CapSpec>> {
    let window = proptest::option::of(
        (day_set(), minute_of_day(), 1i64..1440, 0i64..3000).prop_map(
            |(days, start, len, amount)| CapSpec::Window {
                days,
                start: clock(start),
                end: if start + len == 1440 {
                    "24:00".into()
                } else {
                    clock((start + len) % 1440)
                },
                amount,
            },
        ),
    );
    let day_caps = proptest::collection::vec(
        (day_set(), 0i64..6000).prop_map(|(days, amount)| CapSpec::CalendarDay { days, amount }),
        0..=2,
    );
    let rolling = (
        select(vec![
            vec![],
            vec![24],
            vec![24, 168],
            vec![12, 24],
            vec![6],
            vec![24, 72],
            vec![3, 6, 24],
        ]),
        proptest::collection::vec((0i64..8000, any::<bool>()), 3),
    )
        .prop_map(|(hours, params)| {
            hours
                .into_iter()
                .zip(params)
                .map(|(hours, (amount, repeat))| CapSpec::Rolling {
                    hours,
                    amount,
                    repeat,
                })
                .collect::<Vec<_>>()
        });
    let some = (window, day_caps, rolling).prop_map(|(w, mut d, r)| {
        d.extend(w);
        d.extend(r);
        d
    });
    prop_oneof![1 => Just(vec![]), 2 => some]
}

fn tariff_spec() -> impl Strategy<Value = TariffSpec> {
    let zone = select(vec![
        ("Asia/Tokyo", "JPY"),
        ("America/New_York", "USD"),
        ("Europe/London", "GBP"),
    ]);
    let holidays = proptest::option::of(proptest::option::of(0u32..730).prop_map(|extra| {
        HolidaysSpec {
            country: Some("JP".into()),
            extra: extra
                .map(|d| {
                    let date = jiff::civil::date(2025, 1, 1)
                        .checked_add(jiff::Span::new().days(i64::from(d)))
                        .expect("date");
                    vec![date.to_string()]
                })
                .unwrap_or_default(),
        }
    }));
    let tax = proptest::option::of(
        (0u32..=2000, any::<bool>()).prop_map(|(rate_bp, inclusive)| Tax { rate_bp, inclusive }),
    );
    let first = proptest::option::of(
        (1u32..=120, 0i64..=1000).prop_map(|(minutes, price)| FirstSpec { minutes, price }),
    );
    let flat = prop_oneof![
        8 => Just(None),
        1 => (0i64..3000, proptest::option::of(1u32..=48)).prop_map(|(amount, period_hours)| Some(FlatSpec { amount, period_hours })),
    ];
    (
        zone,
        holidays,
        tax,
        0u32..=15,
        prop_oneof![Just(0u32), 0u32..=60],
        first,
        all_bands(),
        caps(),
        flat,
        proptest::option::of(1u32..=72),
    )
        .prop_map(
            |((tz, cur), holidays, tax, grace, free, first, bands, caps, flat, max_stay)| {
                let is_flat = flat.is_some();
                TariffSpec {
                    id: "random".into(),
                    currency: cur.into(),
                    time_zone: tz.into(),
                    holidays,
                    tax,
                    grace_minutes: grace,
                    free_minutes: free,
                    first: if is_flat { None } else { first },
                    bands: if is_flat { vec![] } else { bands },
                    caps: if is_flat { vec![] } else { caps },
                    flat,
                    max_stay_hours: max_stay,
                }
            },
        )
}

/// 2024-01-01 to 2027-12-31: two DST changes a year in New York and in
/// London, and every kind of Japanese holiday.
fn instant() -> impl Strategy<Value = i64> {
    prop_oneof![
        2 => 1_704_067_200i64..1_830_297_600,
        // Within a day and a half of a DST change.
        1 => (select(dst_changes()), -36 * 3600i64..36 * 3600).prop_map(|(t, d)| t + d),
        // Within a few hours of one, on the minute or the half hour.
        1 => (select(dst_changes()), -12i64..12, select(vec![0i64, 1, 59, 60, 1799, 1800, 1801]))
            .prop_map(|(t, h, s)| t + h * 1800 + s),
    ]
}

fn dst_changes() -> Vec<i64> {
    ["America/New_York", "Europe/London"]
        .into_iter()
        .flat_map(|zone| {
            let tz = TimeZone::get(zone).expect("zone");
            tz.following(ts(1_704_067_200))
                .take(8)
                .map(|t| t.timestamp().as_second())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn duration() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..=3 * 3600, 0i64..=2 * 86_400, 0i64..=30 * 86_400]
}

fn discount() -> impl Strategy<Value = Discount> {
    (
        prop_oneof![3 => Just(0u32), 1 => 0u32..=90],
        prop_oneof![3 => Just(0i64), 1 => 0i64..=2000],
    )
        .prop_map(|(minutes, amount)| Discount { minutes, amount })
}

fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(s).expect("timestamp")
}

fn compile(spec: &TariffSpec) -> Tariff {
    Tariff::compile(spec.clone())
        .unwrap_or_else(|e| panic!("generated tariff rejected: {e}\n{spec:#?}"))
}

fn quote(t: &Tariff, entry: i64, exit: i64, discount: Discount) -> Quote {
    t.quote(&Stay {
        entry: ts(entry),
        exit: ts(exit),
        discount,
    })
    .expect("quote")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn engine_equals_the_minute_by_minute_reference(
        spec in tariff_spec(), entry in instant(), len in duration(), discount in discount(),
    ) {
        let tariff = compile(&spec);
        let q = quote(&tariff, entry, entry + len, discount);
        let r = reference::price(&spec, ts(entry), ts(entry + len), discount.minutes, discount.amount);
        prop_assert_eq!((q.subtotal, q.total), (r.subtotal, r.total), "{}", serde_json::to_string(&q).unwrap_or_default());
    }

    #[test]
    fn the_fee_never_decreases_as_the_exit_grows(
        spec in tariff_spec(), entry in instant(), len in duration(), more in 0i64..=3 * 86_400, discount in discount(),
    ) {
        let tariff = compile(&spec);
        let shorter = quote(&tariff, entry, entry + len, discount);
        let longer = quote(&tariff, entry, entry + len + more, discount);
        prop_assert!(longer.total >= shorter.total, "{} then {}", shorter.total, longer.total);
        prop_assert!(longer.subtotal >= shorter.subtotal);
    }

    #[test]
    fn discounts_never_make_a_fee_negative(
        spec in tariff_spec(), entry in instant(), len in duration(), minutes in 0u32..=600, amount in 0i64..=100_000,
    ) {
        let tariff = compile(&spec);
        let q = quote(&tariff, entry, entry + len, Discount { minutes, amount });
        prop_assert!(q.total >= 0 && q.tax >= 0 && q.subtotal >= 0);
        prop_assert!(q.discount <= amount && q.discount <= q.subtotal);
        prop_assert_eq!(q.subtotal - q.discount, (q.subtotal - amount).max(0));
    }

    #[test]
    fn no_cap_period_ever_exceeds_its_amount(
        spec in tariff_spec(), entry in instant(), len in duration(),
    ) {
        let tariff = compile(&spec);
        let q = quote(&tariff, entry, entry + len, Discount::default());
        for c in &q.caps {
            let amount = match &spec.caps[usize::from(c.cap)] {
                CapSpec::Window { amount, .. } | CapSpec::CalendarDay { amount, .. } | CapSpec::Rolling { amount, .. } => *amount,
            };
            prop_assert!(c.after == amount && c.before > c.after, "{c:?}");
        }
        // Black-box: however the stay is cut, each rolling period of a
        // repeated cap costs at most its amount.
        for cap in &spec.caps {
            if let CapSpec::Rolling { hours, amount, repeat } = cap {
                let secs = i64::from(*hours) * 3600;
                let periods = (len + secs - 1) / secs;
                if *repeat {
                    prop_assert!(q.subtotal <= amount * periods.max(1), "{} over {periods} periods of {amount}", q.subtotal);
                } else if len <= secs {
                    prop_assert!(q.subtotal <= *amount);
                }
            }
        }
    }

    #[test]
    fn a_stay_inside_one_cap_period_costs_at_most_its_amount(
        spec in tariff_spec(), day in 19_723i64..21_183, start_frac in 0.0f64..1.0, len_frac in 0.0f64..=1.0,
    ) {
        prop_assume!(spec.flat.is_none());
        let tariff = compile(&spec);
        let tz = TimeZone::get(&spec.time_zone).expect("zone");
        let calendar = match &spec.holidays {
            None => Calendar::default(),
            Some(h) => Calendar::new(Some(Country::Jp), h.extra.iter().map(|d| d.parse().expect("date"))),
        };
        let date = parking_core::calendar::date_of(day as i32);
        let at = |minute: i64| -> i64 {
            let dt = date.to_datetime(jiff::civil::Time::midnight()) + jiff::Span::new().minutes(minute);
            tz.to_ambiguous_zoned(dt).compatible().expect("zoned").timestamp().as_second()
        };
        let shortest = spec.caps.iter().filter_map(|c| match c {
            CapSpec::Rolling { hours, .. } => Some(i64::from(*hours) * 3600),
            _ => None,
        }).min().unwrap_or(i64::MAX);
        let first_price = spec.first.as_ref().map_or(0, |f| f.price);
        let windows: i64 = spec.caps.iter().map(|c| match c { CapSpec::Window { amount, .. } => *amount, _ => 0 }).sum();
        for cap in &spec.caps {
            let day_type = calendar.day_type(day_number(date));
            let (days, lo, hi, amount, bound) = match cap {
                CapSpec::Window { days, start, end, amount } => {
                    let s = i64::from(start[..2].parse::<u8>().expect("h")) * 60 + i64::from(start[3..].parse::<u8>().expect("m"));
                    let mut e = i64::from(end[..2].parse::<u8>().expect("h")) * 60 + i64::from(end[3..].parse::<u8>().expect("m"));
                    if e <= s { e += 1440; }
                    (days, at(s), at(e), *amount, amount + first_price)
                }
                CapSpec::CalendarDay { days, amount } => (days, at(0), at(1440), *amount, amount + windows),
                CapSpec::Rolling { .. } => continue,
            };
            let set = DaySet::parse(days.iter().map(String::as_str)).expect("days");
            if !set.contains(day_type) || hi <= lo {
                continue;
            }
            let entry = lo + ((hi - lo) as f64 * start_frac) as i64;
            let exit = entry + (((hi - entry) as f64) * len_frac) as i64;
            if exit - entry > shortest {
                continue;
            }
            let q = quote(&tariff, entry, exit, Discount::default());
            prop_assert!(q.subtotal <= bound, "{} > {} (cap amount {amount})", q.subtotal, bound);
        }
    }
}

#[test]
fn money_in_quotes_displays_in_major_units() {
    let t = Tariff::from_json(
        r#"{"id":"u","currency":"USD","time_zone":"America/New_York",
            "bands":[{"days":["all"],"start":"00:00","end":"24:00","unit_minutes":15,"unit_price":125}]}"#,
    )
    .expect("tariff");
    let q = quote(&t, 1_764_000_000, 1_764_000_000 + 2700, Discount::default());
    assert_eq!(q.total_money(), Money::new(375, t.currency()));
    assert_eq!(q.total_money().to_string(), "USD 3.75");
}
