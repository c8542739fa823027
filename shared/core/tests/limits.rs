//! The limits on a tariff's complexity: anything more complex than they
//! allow is refused with a field-level error. What the worst allowed
//! tariff costs is measured in `worst_quote.rs` (memory) and the `quote`
//! benchmark (time).

use parking_core::tariff::{
    MAX_BANDS, MAX_BANDS_PER_DAY_TYPE, MAX_EXTRA_HOLIDAYS, MAX_NAME_CHARS, MAX_WINDOW_CAPS,
};
use parking_core::{Tariff, TariffSpec};

const WORST: &str = include_str!("../../../fixtures/tariffs/worst-allowed.json");

fn spec() -> TariffSpec {
    serde_json::from_str(WORST).expect("spec")
}

fn refused(spec: TariffSpec) -> String {
    match Tariff::compile(spec) {
        Ok(_) => "accepted".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn one_more_of_anything_is_refused_naming_the_field() {
    let mut s = spec();
    let extra = s.bands[0].clone();
    s.bands.push(extra);
    assert_eq!(
        refused(s),
        format!(
            "bands: at most {MAX_BANDS} bands are allowed (got {})",
            MAX_BANDS + 1
        )
    );

    // Cutting one weekday band in two makes 49 bands on weekdays; the
    // holiday loses one so the total stays within the limit.
    let mut s = spec();
    let holiday_last = s.bands.pop().expect("a holiday band");
    if let Some(prev) = s.bands.last_mut() {
        prev.end = holiday_last.end;
    }
    let mut second = s.bands[0].clone();
    s.bands[0].end = "00:10".into();
    second.start = "00:10".into();
    s.bands.push(second);
    assert_eq!(
        refused(s),
        format!(
            "bands: weekday has {} bands; at most {MAX_BANDS_PER_DAY_TYPE} are allowed (a band wrapping midnight counts twice)",
            MAX_BANDS_PER_DAY_TYPE + 1
        )
    );

    let mut s = spec();
    s.caps.push(parking_core::tariff::CapSpec::Window {
        days: vec!["all".into()],
        start: "23:00".into(),
        end: "23:30".into(),
        amount: 1,
    });
    assert_eq!(
        refused(s),
        format!(
            "caps: at most {MAX_WINDOW_CAPS} window caps are allowed (got {})",
            MAX_WINDOW_CAPS + 1
        )
    );

    let mut s = spec();
    if let Some(h) = &mut s.holidays {
        h.extra.push("2030-01-02".into());
    }
    assert_eq!(
        refused(s),
        format!(
            "holidays.extra: at most {MAX_EXTRA_HOLIDAYS} extra dates are allowed (got {})",
            MAX_EXTRA_HOLIDAYS + 1
        )
    );

    let mut s = spec();
    s.id = "x".repeat(MAX_NAME_CHARS + 1);
    assert_eq!(
        refused(s),
        format!(
            "id: at most {MAX_NAME_CHARS} characters are allowed (got {})",
            MAX_NAME_CHARS + 1
        )
    );
}

#[test]
fn a_thousand_one_minute_windows_are_refused() {
    let mut s = spec();
    s.caps = (0..1440)
        .map(|m| parking_core::tariff::CapSpec::Window {
            days: vec!["all".into()],
            start: format!("{:02}:{:02}", m / 60, m % 60),
            end: if m == 1439 {
                "24:00".into()
            } else {
                format!("{:02}:{:02}", (m + 1) / 60, (m + 1) % 60)
            },
            amount: 1,
        })
        .collect();
    assert_eq!(
        refused(s),
        format!("caps: at most {MAX_WINDOW_CAPS} window caps are allowed (got 1440)")
    );
}
