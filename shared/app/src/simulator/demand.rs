//! A backtest of prices that follow demand ([`parking_core::demand`]):
//! lots whose drivers answer prices with a constant elasticity, run for
//! months, the operator accepting each suggestion on the day the rule
//! makes it.
//!
//! **The demand model.** Each lot has 100 bays and two bands: day
//! (08:00–20:00, ¥100 per 20 minutes) and night (20:00–08:00, ¥100 per
//! hour). Each band has a latent demand, the share of bays drivers would
//! fill at the opening price, drawn per lot from a seed (day 0.35–1.35,
//! night 0.10–0.85), and its own elasticity, drawn from −0.2 to −0.6 (mean
//! −0.4, what SFpark's evaluation found; the rule's expected effect
//! assumes −0.4 for all). Saturdays and Sundays hold 85 % of it, and each
//! day multiplies it by noise of ±10 %. At price `p` a band holds
//! `min(1, demand × (p / p₀)^ε)` of its bays all through its hours.
//!
//! **What it reports**, per 30-day month over all bands and days: the share
//! of band-days inside the 60–80 % target, above it (too full), below it,
//! and the mean hourly price against the opening one.
//!
//! **Its limits.** Drivers answer at once and only to the price: no
//! substitution between bands, lots or street parking, no events, no
//! growth, no habit; the elasticity is constant and known in kind; a full
//! band turns no one away that the model counts. Search time, traffic and
//! revenue, which SFpark measured, are not modelled. It shows what the
//! rule does to occupancy under its own assumptions, not what drivers will
//! do.

use jiff::{SignedDuration, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use parking_core::demand::{DemandError, DemandPolicy, suggest};
use parking_core::forecast::{Observation, Series};
use parking_core::{Tariff, TariffSpec};

/// Bays in each simulated lot.
const BAYS: u32 = 100;
/// The opening unit prices: ¥100 per 20 minutes by day, per hour at night.
const OPENING: [(u32, i64); 2] = [(20, 100), (60, 100)];

/// One month's figures over every band and day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthFigures {
    /// 1 for the first 30 days.
    pub month: u32,
    /// Share of band-days inside the target.
    pub in_target: f64,
    /// Share above it.
    pub too_full: f64,
    /// Share below it.
    pub underused: f64,
    /// The mean hourly price over bands, against the opening (0.05: 5 %
    /// higher).
    pub price_change: f64,
}

/// The backtest's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemandBacktest {
    pub lots: u32,
    pub months: Vec<MonthFigures>,
    /// Versions the operator scheduled, over all lots.
    pub versions: usize,
    /// Band price changes, over all versions.
    pub band_changes: usize,
    /// The largest change of one band's unit price in one version, per
    /// hour.
    pub largest_step_per_hour: i64,
}

struct Band {
    demand: f64,
    elasticity: f64,
    start: i8,
}

fn tariff(lot: u32, prices: &[i64; 2]) -> Result<Tariff, DemandError> {
    let json = serde_json::json!({
        "id": format!("lot-{lot}"),
        "currency": "JPY",
        "time_zone": "Asia/Tokyo",
        "bands": [
            {"days": ["all"], "start": "08:00", "end": "20:00", "name": "day",
             "unit_minutes": OPENING[0].0, "unit_price": prices[0]},
            {"days": ["all"], "start": "20:00", "end": "08:00", "name": "night",
             "unit_minutes": OPENING[1].0, "unit_price": prices[1]},
        ]
    });
    let spec: TariffSpec =
        serde_json::from_value(json).map_err(|e| DemandError::Tariff(e.to_string()))?;
    Tariff::compile(spec).map_err(|e| DemandError::Tariff(e.to_string()))
}

fn per_hour(i: usize, price: i64) -> f64 {
    price as f64 * 60.0 / f64::from(OPENING[i].0)
}

/// Runs `lots` lots for `months` months of 30 days from 1 January 2027,
/// from `seed`, under `policy`.
///
/// # Errors
///
/// A wrong policy ([`DemandError::Policy`]).
pub fn backtest(
    seed: u64,
    lots: u32,
    months: u32,
    policy: &DemandPolicy,
) -> Result<DemandBacktest, DemandError> {
    policy.check()?;
    let tz = jiff::tz::TimeZone::get("Asia/Tokyo").map_err(|_| DemandError::Date)?;
    let start = jiff::civil::date(2027, 1, 1);
    let days = i64::from(months) * 30;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // [month][in, over, under], the price sums and counts.
    let mut tally = vec![[0usize; 3]; months as usize];
    let mut prices_sum = vec![0.0f64; months as usize];
    let opening: f64 = (0..2).map(|i| per_hour(i, OPENING[i].1)).sum::<f64>() / 2.0;
    let (mut versions, mut band_changes, mut largest) = (0, 0, 0i64);
    let keep = i64::from(policy.lookback_days) + 2;

    for lot in 0..lots {
        let bands = [
            Band {
                demand: rng.random_range(0.35..1.35),
                elasticity: rng.random_range(-0.6..-0.2),
                start: 8,
            },
            Band {
                demand: rng.random_range(0.10..0.85),
                elasticity: rng.random_range(-0.6..-0.2),
                start: 20,
            },
        ];
        let mut prices = [OPENING[0].1, OPENING[1].1];
        let mut since: Option<Timestamp> = None;
        let mut pending: Option<(Timestamp, [i64; 2])> = None;
        let mut obs: Vec<Observation> = Vec::new();
        for d in 0..days {
            let date = start
                .checked_add(jiff::Span::new().days(d))
                .map_err(|_| DemandError::Date)?;
            let midnight = date
                .to_zoned(tz.clone())
                .map_err(|_| DemandError::Date)?
                .timestamp();
            let first = *since.get_or_insert(midnight);
            if let Some((from, next)) = pending.filter(|(from, _)| *from <= midnight) {
                let step = (0..2)
                    .map(|i| {
                        (per_hour(i, next[i]) - per_hour(i, prices[i]))
                            .abs()
                            .round() as i64
                    })
                    .max()
                    .unwrap_or(0);
                largest = largest.max(step);
                band_changes += (0..2).filter(|&i| next[i] != prices[i]).count();
                prices = next;
                since = Some(from);
                pending = None;
            }
            // The operator asks for a suggestion whenever none waits, and
            // accepts it.
            if pending.is_none() && d > 0 {
                let now = midnight + SignedDuration::from_hours(9);
                let cutoff = midnight - SignedDuration::from_hours(24 * keep);
                obs.retain(|o| o.at >= cutoff);
                let series = Series::from_observations(&tz, BAYS, &obs, Some(midnight))
                    .map_err(|e| DemandError::Tariff(e.to_string()))?;
                let s = suggest(
                    &tariff(lot, &prices)?,
                    since.unwrap_or(first),
                    &series,
                    now,
                    policy,
                )?;
                if s.changes() {
                    versions += 1;
                    let next = [s.tariff.bands[0].unit_price, s.tariff.bands[1].unit_price];
                    pending = Some((s.effective_from, next));
                }
            }
            // The day as drivers make it.
            let weekday = date.weekday().to_monday_one_offset();
            let weekend = if weekday >= 6 { 0.85 } else { 1.0 };
            let month = (d / 30) as usize;
            for (i, b) in bands.iter().enumerate() {
                let noise = rng.random_range(0.9..1.1);
                let ratio = prices[i] as f64 / OPENING[i].1 as f64;
                let share = (b.demand * weekend * noise * ratio.powf(b.elasticity)).min(1.0);
                let at = date
                    .at(b.start, 0, 0, 0)
                    .to_zoned(tz.clone())
                    .map_err(|_| DemandError::Date)?
                    .timestamp();
                obs.push(Observation {
                    at,
                    occupied: share * f64::from(BAYS),
                });
                let k = if share > policy.target_high {
                    1
                } else if share < policy.target_low {
                    2
                } else {
                    0
                };
                tally[month][k] += 1;
                prices_sum[month] += per_hour(i, prices[i]);
            }
        }
    }
    let months = tally
        .iter()
        .zip(&prices_sum)
        .enumerate()
        .map(|(m, (t, p))| {
            let n = (t[0] + t[1] + t[2]).max(1) as f64;
            MonthFigures {
                month: m as u32 + 1,
                in_target: t[0] as f64 / n,
                too_full: t[1] as f64 / n,
                underused: t[2] as f64 / n,
                price_change: p / n / opening - 1.0,
            }
        })
        .collect();
    Ok(DemandBacktest {
        lots,
        months,
        versions,
        band_changes,
        largest_step_per_hour: largest,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn occupancy_moves_into_the_target_over_months() {
        let policy = DemandPolicy::default();
        let b = backtest(1, 20, 12, &policy).unwrap();
        let (first, last) = (&b.months[0], &b.months[11]);
        assert!(last.in_target > first.in_target + 0.2, "{b:#?}");
        assert!(last.too_full < first.too_full, "{b:#?}");
        // A step is the policy's, and a lot changes at most monthly.
        assert!(b.largest_step_per_hour <= policy.step_down_far_per_hour);
        assert!(b.versions <= 20 * 12);
        // The README's table, to the tenth of a percent.
        let pct = |x: f64| format!("{:.1}", x * 100.0);
        let row = |m: &MonthFigures| {
            [
                pct(m.in_target),
                pct(m.too_full),
                pct(m.underused),
                pct(m.price_change),
            ]
        };
        assert_eq!(row(first), ["20.8", "20.2", "59.1", "0.0"]);
        assert_eq!(row(last), ["55.2", "11.9", "32.9", "-11.8"]);
        assert_eq!(
            (b.versions, b.band_changes, b.largest_step_per_hour),
            (110, 134, 60)
        );
    }
}
