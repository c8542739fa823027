//! Prices that follow demand: the next tariff version a lot's occupancy
//! suggests, band by band, after SFpark's rule (San Francisco, 2011–2013).
//!
//! - **Measure.** A band's occupancy is the mean share of the lot's bays
//!   occupied over the 15-minute slots in which it is in force, on the
//!   whole local days since the version in force took effect, at most
//!   `lookback_days` of them: a price is judged by what happened under it.
//!   A share above 1 (a count that drifted) counts as 1.
//! - **Rule.** Above `target_high`: up one step (`step_up_per_hour`).
//!   Below `far_below`: down `step_down_far_per_hour`. Below
//!   `target_low`: down `step_down_per_hour`. Inside the target band: no
//!   change. Steps and bounds are per hour and scaled to the band's unit
//!   (`unit_minutes / 60` of them, rounded, at least one minor unit).
//! - **Bounds.** A move stops at `min_per_hour` and `max_per_hour`
//!   (scaled alike); a band already at or beyond the bound it moves
//!   toward holds. A free band (unit price 0) stays free: it is a policy,
//!   not a price.
//! - **Enough data.** A lot measured on fewer than [`MIN_DAYS`] days, or a
//!   band on fewer than [`MIN_SLOTS`] slots, holds.
//! - **Frequency.** The suggestion takes effect at the first local
//!   midnight at least `announce_days` after it is made and at least
//!   `min_days_between` after the version in force took effect.
//! - **Applied by a person.** [`suggest`] returns the next version and
//!   changes nothing; an operator schedules it like any other version.
//! - **Expected effect.** Each band's occupancy after the change, by a
//!   constant price elasticity of demand (`elasticity`, default −0.4, the
//!   mean SFpark's evaluation found): `occupancy × (new / old)^elasticity`,
//!   at most 1.
//!
//! The defaults follow SFpark: a 60–80 % target, one step up or down, two
//!   down below 30 %, at most one change a month, announced ahead.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::calendar::{date_of, day_number};
use crate::forecast::{SLOT_MINUTES, SLOTS_PER_DAY, Series};
use crate::tariff::{MAX_AMOUNT, Tariff, TariffSpec};

/// Fewest measured days before any band moves.
pub const MIN_DAYS: usize = 7;
/// Fewest measured slots of a band before it moves (four hours).
pub const MIN_SLOTS: usize = 16;

/// The settings of the rule: targets, steps, bounds and timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemandPolicy {
    /// Below this share of bays occupied a band's price goes down.
    pub target_low: f64,
    /// Above this share it goes up.
    pub target_high: f64,
    /// Below this share it goes down by the far step.
    pub far_below: f64,
    /// A raise, in minor units per hour.
    pub step_up_per_hour: i64,
    /// A cut, in minor units per hour.
    pub step_down_per_hour: i64,
    /// The cut below `far_below`, in minor units per hour.
    pub step_down_far_per_hour: i64,
    /// The lowest price a cut reaches, per hour.
    pub min_per_hour: i64,
    /// The highest price a raise reaches, per hour.
    pub max_per_hour: i64,
    /// Days at least between two versions.
    pub min_days_between: u32,
    /// Days at least between the suggestion and its taking effect.
    pub announce_days: u32,
    /// Days measured at most.
    pub lookback_days: u32,
    /// The price elasticity of demand the expected effect assumes.
    pub elasticity: f64,
}

impl Default for DemandPolicy {
    fn default() -> Self {
        DemandPolicy {
            target_low: 0.6,
            target_high: 0.8,
            far_below: 0.3,
            step_up_per_hour: 30,
            step_down_per_hour: 30,
            step_down_far_per_hour: 60,
            min_per_hour: 30,
            max_per_hour: 3_000,
            min_days_between: 30,
            announce_days: 7,
            lookback_days: 28,
            elasticity: -0.4,
        }
    }
}

/// Why a suggestion cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DemandError {
    #[error("{field}: {problem}")]
    Policy {
        field: &'static str,
        problem: &'static str,
    },
    #[error("a flat tariff has no bands to price by demand")]
    Flat,
    #[error("the lot has no bays to measure occupancy against")]
    NoCapacity,
    #[error("the suggested tariff is not valid: {0}")]
    Tariff(String),
    #[error("the suggestion's date is out of range")]
    Date,
}

impl DemandPolicy {
    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`DemandError::Policy`] naming the first wrong field.
    pub fn check(&self) -> Result<(), DemandError> {
        let bad = |field, problem| Err(DemandError::Policy { field, problem });
        let shares = [
            ("target_low", self.target_low),
            ("target_high", self.target_high),
            ("far_below", self.far_below),
        ];
        for (field, x) in shares {
            if !(0.0..=1.0).contains(&x) {
                return bad(field, "must be a share from 0 to 1");
            }
        }
        if self.target_low >= self.target_high {
            return bad("target_high", "must be above target_low");
        }
        if self.far_below > self.target_low {
            return bad("far_below", "must be at most target_low");
        }
        let steps = [
            ("step_up_per_hour", self.step_up_per_hour),
            ("step_down_per_hour", self.step_down_per_hour),
            ("step_down_far_per_hour", self.step_down_far_per_hour),
        ];
        for (field, step) in steps {
            if !(1..=MAX_AMOUNT).contains(&step) {
                return bad(field, "must be at least 1 and not too large");
            }
        }
        // A cut never makes a priced band free: a free band is a policy
        // the rule leaves alone, and it could never be raised again.
        if !(1..=MAX_AMOUNT).contains(&self.min_per_hour) {
            return bad("min_per_hour", "must be at least 1, and not too large");
        }
        if !(self.min_per_hour..=MAX_AMOUNT).contains(&self.max_per_hour) {
            return bad("max_per_hour", "must be at least min_per_hour");
        }
        if !(1..=366).contains(&self.min_days_between) {
            return bad("min_days_between", "must be 1 to 366");
        }
        if self.announce_days > 90 {
            return bad("announce_days", "must be at most 90");
        }
        if !(MIN_DAYS as u32..=366).contains(&self.lookback_days) {
            return bad("lookback_days", "must be 7 to 366");
        }
        if !(-5.0..=0.0).contains(&self.elasticity) {
            return bad("elasticity", "must be from -5 to 0");
        }
        Ok(())
    }
}

/// What the rule decided for one band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Fuller than the target: one step up.
    Raise,
    /// Emptier than the target: one step down.
    Lower,
    /// Far emptier: the far step down.
    LowerFar,
    /// Inside the target.
    Hold,
    /// The move would pass a bound the price is already at.
    AtBound,
    /// A free band stays free.
    Free,
    /// Too little measured to move.
    TooLittleData,
}

/// One band's measurement and its next price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandSuggestion {
    /// Its index in the tariff's `bands`.
    pub band: usize,
    /// Its label: its `name`, or `bands[i]`.
    pub name: String,
    pub unit_minutes: u32,
    /// Slots measured.
    pub slots: usize,
    /// The mean share of bays occupied, if measured.
    pub occupancy: Option<f64>,
    pub current: i64,
    pub proposed: i64,
    pub decision: Decision,
    /// The occupancy the elasticity expects at the proposed price.
    pub expected_occupancy: Option<f64>,
}

/// The next tariff version the occupancy suggests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// When the suggestion would take effect.
    pub effective_from: Timestamp,
    /// The first and last local dates measured (none: nothing measured).
    pub measured: Option<(Date, Date)>,
    /// Days with any measured slot.
    pub measured_days: usize,
    pub bands: Vec<BandSuggestion>,
    /// The version to schedule: the one in force with the proposed unit
    /// prices.
    pub tariff: TariffSpec,
}

impl Suggestion {
    /// Whether any band's price would change.
    pub fn changes(&self) -> bool {
        self.bands.iter().any(|b| b.proposed != b.current)
    }
}

/// A per-hour amount scaled to a unit of `unit_minutes`, rounded, at least
/// one minor unit when the hourly amount is.
fn per_unit(per_hour: i64, unit_minutes: u32) -> i64 {
    let scaled = (i128::from(per_hour) * i128::from(unit_minutes) + 30) / 60;
    let scaled = i64::try_from(scaled).unwrap_or(MAX_AMOUNT).min(MAX_AMOUNT);
    if per_hour > 0 { scaled.max(1) } else { scaled }
}

/// The first local midnight at or after `t`.
fn midnight_at_or_after(tariff: &Tariff, t: Timestamp) -> Result<Timestamp, DemandError> {
    let zoned = t.to_zoned(tariff.time_zone().clone());
    let start = zoned.start_of_day().map_err(|_| DemandError::Date)?;
    if start.timestamp() == t {
        return Ok(t);
    }
    let next = zoned
        .date()
        .tomorrow()
        .and_then(|d| d.to_zoned(tariff.time_zone().clone()))
        .map_err(|_| DemandError::Date)?;
    Ok(next.timestamp())
}

/// The local day number of an instant.
fn local_day(tariff: &Tariff, t: Timestamp) -> i32 {
    day_number(t.to_zoned(tariff.time_zone().clone()).date())
}

/// Suggests the version after `tariff`, in force since `since`, from the
/// lot's occupancy `series` (in the tariff's time zone), at `now`.
///
/// # Errors
///
/// A wrong policy, a flat tariff, a lot with no bays, or a date out of
/// range ([`DemandError`]).
pub fn suggest(
    tariff: &Tariff,
    since: Timestamp,
    series: &Series,
    now: Timestamp,
    policy: &DemandPolicy,
) -> Result<Suggestion, DemandError> {
    policy.check()?;
    if tariff.spec().flat.is_some() || tariff.spec().bands.is_empty() {
        return Err(DemandError::Flat);
    }
    if series.capacity() == 0 {
        return Err(DemandError::NoCapacity);
    }
    let capacity = f64::from(series.capacity());

    // Whole local days under the version in force, before today.
    let since_day = local_day(tariff, midnight_at_or_after(tariff, since)?);
    let today = local_day(tariff, now);
    let first = since_day.max(today - policy.lookback_days as i32);
    let n = tariff.spec().bands.len();
    let (mut sums, mut counts) = (vec![0.0f64; n], vec![0usize; n]);
    let mut days = 0usize;
    let mut measured: Option<(i32, i32)> = None;
    for day in first..today {
        let mut any = false;
        for slot in 0..SLOTS_PER_DAY {
            let Some(value) = series.get(day, slot) else {
                continue;
            };
            let middle = i64::from(SLOT_MINUTES) * 60 * slot as i64 + i64::from(SLOT_MINUTES) * 30;
            if let Some(b) = tariff.band_at(day, middle) {
                sums[b] += (value / capacity).clamp(0.0, 1.0);
                counts[b] += 1;
                any = true;
            }
        }
        if any {
            days += 1;
            measured = Some(measured.map_or((day, day), |(a, _)| (a, day)));
        }
    }

    let mut spec = tariff.spec().clone();
    let mut bands = Vec::with_capacity(n);
    for (i, b) in spec.bands.iter_mut().enumerate() {
        let occupancy = (counts[i] > 0).then(|| sums[i] / counts[i] as f64);
        let current = b.unit_price;
        let unit = |per_hour| per_unit(per_hour, b.unit_minutes);
        let (decision, proposed) = match occupancy {
            _ if current == 0 => (Decision::Free, current),
            Some(o) if days >= MIN_DAYS && counts[i] >= MIN_SLOTS => {
                let (decision, delta) = if o > policy.target_high {
                    (Decision::Raise, unit(policy.step_up_per_hour))
                } else if o < policy.far_below {
                    (Decision::LowerFar, -unit(policy.step_down_far_per_hour))
                } else if o < policy.target_low {
                    (Decision::Lower, -unit(policy.step_down_per_hour))
                } else {
                    (Decision::Hold, 0)
                };
                let (low, high) = (unit(policy.min_per_hour), unit(policy.max_per_hour));
                let proposed = if delta > 0 {
                    (current + delta).min(high.max(current))
                } else if delta < 0 {
                    (current + delta).max(low.min(current))
                } else {
                    current
                };
                if delta != 0 && proposed == current {
                    (Decision::AtBound, current)
                } else {
                    (decision, proposed)
                }
            }
            _ => (Decision::TooLittleData, current),
        };
        let expected_occupancy = occupancy.map(|o| {
            if current > 0 && proposed != current {
                let ratio = proposed as f64 / current as f64;
                (o * ratio.powf(policy.elasticity)).min(1.0)
            } else {
                o
            }
        });
        bands.push(BandSuggestion {
            band: i,
            name: b.name.clone().unwrap_or_else(|| format!("bands[{i}]")),
            unit_minutes: b.unit_minutes,
            slots: counts[i],
            occupancy,
            current,
            proposed,
            decision,
            expected_occupancy,
        });
        b.unit_price = proposed;
    }

    let announce = SignedDuration::from_hours(24 * i64::from(policy.announce_days));
    let between = SignedDuration::from_hours(24 * i64::from(policy.min_days_between));
    let earliest = now
        .checked_add(announce)
        .map_err(|_| DemandError::Date)?
        .max(since.checked_add(between).map_err(|_| DemandError::Date)?);
    let effective_from = midnight_at_or_after(tariff, earliest)?;
    let date = effective_from
        .to_zoned(tariff.time_zone().clone())
        .date()
        .strftime("%Y-%m-%d")
        .to_string();
    let suffix = format!(" (demand {date})");
    let base = spec.id.split(" (demand ").next().unwrap_or_default();
    let keep = crate::tariff::MAX_NAME_CHARS.saturating_sub(suffix.chars().count());
    spec.id = base.chars().take(keep).collect::<String>() + &suffix;
    Tariff::compile(spec.clone()).map_err(|e| DemandError::Tariff(e.to_string()))?;
    Ok(Suggestion {
        effective_from,
        measured: measured.map(|(a, b)| (date_of(a), date_of(b))),
        measured_days: days,
        bands,
        tariff: spec,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::forecast::Observation;
    use proptest::prelude::*;

    const TARIFF: &str = r#"{"id":"central","currency":"JPY","time_zone":"Asia/Tokyo",
        "bands":[
          {"days":["all"],"start":"08:00","end":"20:00","unit_minutes":20,"unit_price":100,"name":"day"},
          {"days":["all"],"start":"20:00","end":"08:00","unit_minutes":60,"unit_price":100,"name":"night"}]}"#;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// A lot of 100 bays holding `day` cars from 08:00 to 20:00 and
    /// `night` cars otherwise, for `days` days from 1 November 2026.
    fn lot(days: i8, day: f64, night: f64) -> Series {
        let tz = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
        let mut obs = Vec::new();
        for d in 0..days {
            let date = jiff::civil::date(2026, 11, 1) + jiff::Span::new().days(d);
            for (hour, occupied) in [(0, night), (8, day), (20, night)] {
                let at = date
                    .at(hour, 0, 0, 0)
                    .to_zoned(tz.clone())
                    .unwrap()
                    .timestamp();
                obs.push(Observation { at, occupied });
            }
        }
        Series::from_observations(&tz, 100, &obs, None).unwrap()
    }

    fn run(day: f64, night: f64) -> Suggestion {
        let tariff = Tariff::from_json(TARIFF).unwrap();
        let series = lot(28, day, night);
        let policy = DemandPolicy::default();
        suggest(
            &tariff,
            at("2026-10-01T00:00:00+09:00"),
            &series,
            at("2026-11-29T10:00:00+09:00"),
            &policy,
        )
        .unwrap()
    }

    #[test]
    fn a_full_band_goes_up_one_step_and_an_empty_one_down_two() {
        let s = run(90.0, 20.0);
        let day = &s.bands[0];
        assert_eq!(day.decision, Decision::Raise);
        assert!((day.occupancy.unwrap() - 0.9).abs() < 1e-9);
        // ¥30 an hour on a 20-minute unit is ¥10.
        assert_eq!((day.current, day.proposed), (100, 110));
        assert!(day.expected_occupancy.unwrap() < 0.9);
        let night = &s.bands[1];
        assert_eq!(night.decision, Decision::LowerFar);
        assert_eq!((night.current, night.proposed), (100, 40));
        assert_eq!(s.tariff.bands[0].unit_price, 110);
        assert_eq!(s.tariff.id, "central (demand 2026-12-07)");
        assert!(s.changes());
    }

    #[test]
    fn a_band_inside_the_target_holds() {
        let s = run(70.0, 65.0);
        assert!(s.bands.iter().all(|b| b.decision == Decision::Hold));
        assert!(!s.changes());
    }

    #[test]
    fn it_takes_effect_a_week_ahead_and_a_month_after_the_last_change() {
        let s = run(90.0, 70.0);
        assert_eq!(s.effective_from, at("2026-12-07T00:00:00+09:00"));
        let tariff = Tariff::from_json(TARIFF).unwrap();
        let series = lot(28, 90.0, 70.0);
        let recent = suggest(
            &tariff,
            at("2026-11-20T12:00:00+09:00"),
            &series,
            at("2026-11-29T10:00:00+09:00"),
            &DemandPolicy::default(),
        )
        .unwrap();
        assert_eq!(recent.effective_from, at("2026-12-21T00:00:00+09:00"));
        // Only the days under the version in force are measured.
        let (from, to) = recent.measured.unwrap();
        assert_eq!(
            (from, to),
            (
                jiff::civil::date(2026, 11, 21),
                jiff::civil::date(2026, 11, 28)
            )
        );
    }

    #[test]
    fn too_few_days_under_the_version_in_force_move_nothing() {
        let tariff = Tariff::from_json(TARIFF).unwrap();
        let s = suggest(
            &tariff,
            at("2026-11-25T00:00:00+09:00"),
            &lot(28, 95.0, 5.0),
            at("2026-11-29T10:00:00+09:00"),
            &DemandPolicy::default(),
        )
        .unwrap();
        assert!(
            s.bands
                .iter()
                .all(|b| b.decision == Decision::TooLittleData)
        );
        assert!(!s.changes());
    }

    #[test]
    fn a_flat_tariff_and_a_wrong_policy_are_refused() {
        let flat = Tariff::from_json(
            r#"{"id":"f","currency":"JPY","time_zone":"Asia/Tokyo","flat":{"amount":500}}"#,
        )
        .unwrap();
        let now = at("2026-11-29T10:00:00+09:00");
        let series = lot(10, 50.0, 50.0);
        assert_eq!(
            suggest(&flat, now, &series, now, &DemandPolicy::default()),
            Err(DemandError::Flat)
        );
        let tariff = Tariff::from_json(TARIFF).unwrap();
        let policy = DemandPolicy {
            target_low: 0.9,
            ..DemandPolicy::default()
        };
        assert!(matches!(
            suggest(&tariff, now, &series, now, &policy),
            Err(DemandError::Policy {
                field: "target_high",
                ..
            })
        ));
        let free = DemandPolicy {
            min_per_hour: 0,
            ..DemandPolicy::default()
        };
        assert!(matches!(
            free.check(),
            Err(DemandError::Policy {
                field: "min_per_hour",
                ..
            })
        ));
    }

    proptest! {
        /// Whatever the occupancy, the price in force and the policy, a
        /// band moves by at most its step, never past a bound it was
        /// inside, and the version takes effect no sooner than the
        /// announcement and the minimum time between changes allow.
        #[test]
        fn suggestions_keep_their_steps_bounds_and_timing(
            day in 0.0f64..130.0,
            night in 0.0f64..130.0,
            price in 0i64..2_000,
            step_up in 1i64..200,
            step_down in 1i64..200,
            step_far in 1i64..400,
            min in 1i64..600,
            span in 0i64..6_000,
            since_days in 0i64..60,
            announce in 0u32..30,
            between in 1u32..90,
        ) {
            let spec = TARIFF.replace("\"unit_price\":100", &format!("\"unit_price\":{price}"));
            let tariff = Tariff::from_json(&spec).unwrap();
            let policy = DemandPolicy {
                step_up_per_hour: step_up,
                step_down_per_hour: step_down,
                step_down_far_per_hour: step_far,
                min_per_hour: min,
                max_per_hour: min + span,
                announce_days: announce,
                min_days_between: between,
                ..DemandPolicy::default()
            };
            let now = at("2026-11-29T10:00:00+09:00");
            let since = now - SignedDuration::from_hours(24 * since_days);
            let s = suggest(&tariff, since, &lot(28, day, night), now, &policy).unwrap();
            prop_assert!(s.effective_from >= now + SignedDuration::from_hours(24 * i64::from(announce)));
            prop_assert!(s.effective_from >= since + SignedDuration::from_hours(24 * i64::from(between)));
            let latest = (now + SignedDuration::from_hours(24 * i64::from(announce)))
                .max(since + SignedDuration::from_hours(24 * i64::from(between)));
            prop_assert!(s.effective_from < latest + SignedDuration::from_hours(25));
            for b in &s.bands {
                let unit = |h| per_unit(h, b.unit_minutes);
                let (low, high) = (unit(policy.min_per_hour), unit(policy.max_per_hour));
                let delta = b.proposed - b.current;
                match b.decision {
                    Decision::Raise => prop_assert!(delta > 0 && delta <= unit(step_up) && b.proposed <= high),
                    Decision::Lower => prop_assert!(delta < 0 && -delta <= unit(step_down) && b.proposed >= low),
                    Decision::LowerFar => prop_assert!(delta < 0 && -delta <= unit(step_far) && b.proposed >= low),
                    _ => prop_assert_eq!(delta, 0),
                }
                if b.current == 0 {
                    prop_assert_eq!(b.decision, Decision::Free);
                }
                prop_assert_eq!(s.tariff.bands[b.band].unit_price, b.proposed);
            }
            // The tariff it was given is untouched: nothing is applied.
            prop_assert_eq!(tariff.spec().bands[0].unit_price, price);
        }
    }
}
