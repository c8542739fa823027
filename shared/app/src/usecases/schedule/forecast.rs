//! Occupancy forecasts: a lot's history from its stays or from an
//! occupancy feed, the backtest against the seasonal-naive baseline, and
//! the forecast a scheduled function stores and the APIs serve.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use parking_core::Calendar;
use parking_core::SessionState;
use parking_core::calendar::{date_of, day_number};
use parking_core::forecast::{
    Backtest, ForecastError, Observation, SLOTS_PER_DAY, Scores, Series, Settings, backtest,
    slot_of, slot_start, train,
};
use serde::Serialize;

use crate::ids::LotId;
use crate::model::Session;
use crate::store::prelude::*;

/// The stays that held a bay: every session but those superseded, voided
/// or never seen entering, as `(entered, exited)`.
pub fn stays(sessions: &[Session]) -> Vec<(Timestamp, Option<Timestamp>)> {
    sessions
        .iter()
        .filter(|s| {
            !matches!(
                s.state,
                SessionState::Superseded | SessionState::Voided | SessionState::EntryMissing
            )
        })
        .map(|s| (s.entry_at, s.exit_at))
        .collect()
}

/// One row of an occupancy history: `lot_id,observed_at,occupied,capacity`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    pub lot_id: LotId,
    pub observed_at: Timestamp,
    pub occupied: f64,
    pub capacity: u32,
}

/// What is wrong with one row of a history file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("line 1: the header must be lot_id,observed_at,occupied,capacity")]
    Header,
    #[error("line {line}: not readable as CSV text")]
    Unreadable { line: u64 },
    #[error("line {line}: expected 4 fields (lot_id,observed_at,occupied,capacity), found {found}")]
    Fields { line: u64, found: usize },
    #[error("line {line}: {field}: {reason}")]
    Field {
        line: u64,
        field: &'static str,
        reason: String,
    },
}

impl HistoryRow {
    /// Parses the four fields of one row (`line` counts from 1, the header
    /// being line 1).
    ///
    /// # Errors
    ///
    /// [`RowError`] naming the line and the field.
    pub fn parse(line: u64, fields: &[&str]) -> Result<HistoryRow, RowError> {
        let [lot, at, occupied, capacity] = fields else {
            return Err(RowError::Fields {
                line,
                found: fields.len(),
            });
        };
        let bad = |field: &'static str, reason: String| RowError::Field {
            line,
            field,
            reason,
        };
        let lot_id = LotId::parse(lot.trim()).map_err(|e| bad("lot_id", e.to_string()))?;
        let observed_at: Timestamp = at.trim().parse().map_err(|_| {
            bad(
                "observed_at",
                "not an RFC 3339 time with an offset (2026-11-30T09:00:00+09:00)".into(),
            )
        })?;
        let occupied: f64 = occupied
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| bad("occupied", "not a number of bays (0 or more)".into()))?;
        let capacity: u32 = capacity
            .trim()
            .parse()
            .map_err(|_| bad("capacity", "not a whole number of bays".into()))?;
        Ok(HistoryRow {
            lot_id,
            observed_at,
            occupied,
            capacity,
        })
    }

    /// The row as CSV, its time in `tz`.
    pub fn csv(&self, tz: &TimeZone) -> String {
        format!(
            "{},{},{},{}\n",
            self.lot_id,
            rfc3339(self.observed_at, tz),
            self.occupied,
            self.capacity
        )
    }
}

/// The header of a history file.
pub const HISTORY_HEADER: &str = "lot_id,observed_at,occupied,capacity\n";

/// What was read of a history file: its good rows, and what is wrong with
/// each bad one (left out; the rest are kept).
#[derive(Debug, Default)]
pub struct History {
    pub rows: Vec<HistoryRow>,
    pub bad: Vec<RowError>,
}

/// Reads a history file (CSV with the header `lot_id,observed_at,occupied,capacity`).
///
/// # Errors
///
/// Only for a file that is not a history at all: a missing or different
/// header ([`RowError::Header`]). A bad row is kept in [`History::bad`].
pub fn read_history(input: impl std::io::Read) -> Result<History, RowError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(input);
    let header: Vec<String> = reader
        .headers()
        .map_err(|_| RowError::Header)?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if header != ["lot_id", "observed_at", "occupied", "capacity"] {
        return Err(RowError::Header);
    }
    let mut history = History::default();
    let mut line = 1;
    for record in reader.records() {
        let row = match record {
            Ok(record) => {
                line = record.position().map_or(line + 1, |p| p.line());
                let fields: Vec<&str> = record.iter().collect();
                HistoryRow::parse(line, &fields)
            }
            Err(e) => {
                line = e.position().map_or(line + 1, |p| p.line());
                Err(RowError::Unreadable { line })
            }
        };
        match row {
            Ok(row) => history.rows.push(row),
            Err(e) => history.bad.push(e),
        }
    }
    Ok(history)
}

/// An instant as RFC 3339 with the zone's offset.
pub fn rfc3339(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// A lot's history as rows: one wherever the count of cars inside changes.
pub fn history_rows(
    lot_id: &LotId,
    capacity: u32,
    sessions: &[Session],
    until: Timestamp,
) -> Vec<HistoryRow> {
    parking_core::forecast::occupancy_of_stays(stays(sessions), until)
        .into_iter()
        .map(|o| HistoryRow {
            lot_id: lot_id.clone(),
            observed_at: o.at,
            occupied: o.occupied,
            capacity,
        })
        .collect()
}

/// A lot's whole history as its stays made it, up to `until`.
///
/// # Errors
///
/// The store's.
pub async fn lot_history<S: SessionStore>(
    store: &S,
    lot_id: &LotId,
    capacity: u32,
    until: Timestamp,
) -> StoreResult<Vec<HistoryRow>> {
    let sessions = store.lot_sessions(lot_id).await?;
    Ok(history_rows(lot_id, capacity, &sessions, until))
}

/// The backtest of one lot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LotBacktest {
    pub lot_id: LotId,
    pub capacity: u32,
    /// Local days the history covers.
    pub days: i32,
    /// Slots compared (actual and baseline known).
    pub slots: usize,
    pub model_mae: f64,
    pub baseline_mae: f64,
    /// `1 - model / baseline`: 0.25 is a 25% lower error.
    pub improvement: f64,
    /// The share of compared slots inside the forecast's P10–P90 band.
    pub coverage: f64,
    /// The same figures on the compared slots with a reading in them.
    pub read: Scores,
    /// The settings of the last test day's profile.
    pub settings: Option<Settings>,
    /// Why the lot could not be backtested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Every lot's backtest and the pooled figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestReport {
    pub time_zone: String,
    pub test_days: i32,
    pub lots: Vec<LotBacktest>,
    /// Over every compared slot of every lot.
    pub overall: Overall,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Overall {
    pub lots: usize,
    pub slots: usize,
    pub model_mae: f64,
    pub baseline_mae: f64,
    pub improvement: f64,
    /// The share of compared slots inside the P10–P90 band.
    pub coverage: f64,
    /// The same figures on the compared slots with a reading in them
    /// (a feed silent at night holds its last value till morning).
    pub read: Scores,
}

/// One forecast slot of a test day.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub lot_id: LotId,
    pub slot_start: Timestamp,
    pub predicted: f64,
}

/// Backtests every lot of `rows`: each of the last `test_days` days of a
/// lot is forecast from the days before its local midnight alone and
/// scored, with the seasonal-naive baseline, against what happened. A lot
/// too short for the test is reported as skipped; the others go on.
pub fn backtest_history(
    rows: &[HistoryRow],
    tz: &TimeZone,
    calendar: &Calendar,
    test_days: i32,
) -> (BacktestReport, Vec<Prediction>) {
    let mut by_lot: BTreeMap<&LotId, (u32, Vec<Observation>)> = BTreeMap::new();
    for r in rows {
        let entry = by_lot.entry(&r.lot_id).or_default();
        entry.0 = r.capacity;
        entry.1.push(Observation {
            at: r.observed_at,
            occupied: r.occupied,
        });
    }
    let mut lots = Vec::new();
    let mut predictions = Vec::new();
    let (mut model_sum, mut base_sum, mut slots) = (0.0, 0.0, 0usize);
    let mut inside = 0.0;
    let (mut r_model, mut r_base, mut r_inside, mut r_slots) = (0.0, 0.0, 0.0, 0usize);
    for (lot_id, (capacity, obs)) in by_lot {
        let mut report = LotBacktest {
            lot_id: lot_id.clone(),
            capacity,
            days: 0,
            slots: 0,
            model_mae: 0.0,
            baseline_mae: 0.0,
            improvement: 0.0,
            coverage: 0.0,
            read: Scores::default(),
            settings: None,
            skipped: None,
        };
        let result = Series::from_observations(tz, capacity, &obs, None).and_then(|series| {
            report.days = series.end_day() - series.first_day();
            backtest(&series, calendar, test_days)
        });
        let result = result.and_then(|b| {
            if b.slots == 0 {
                Err(ForecastError::NothingToCompare)
            } else {
                Ok(b)
            }
        });
        match result {
            Ok(b) => {
                push_predictions(&mut predictions, lot_id, tz, &b);
                model_sum += b.model_mae * b.slots as f64;
                base_sum += b.baseline_mae * b.slots as f64;
                slots += b.slots;
                inside += b.coverage * b.slots as f64;
                report.coverage = b.coverage;
                let n = b.read.slots as f64;
                (r_model, r_base, r_inside) = (
                    r_model + b.read.model_mae * n,
                    r_base + b.read.baseline_mae * n,
                    r_inside + b.read.coverage * n,
                );
                r_slots += b.read.slots;
                report.read = b.read;
                report.slots = b.slots;
                report.model_mae = b.model_mae;
                report.baseline_mae = b.baseline_mae;
                report.improvement = b.improvement();
                report.settings = Some(b.settings);
            }
            Err(e) => report.skipped = Some(e.to_string()),
        }
        lots.push(report);
    }
    let mean = |sum: f64| if slots > 0 { sum / slots as f64 } else { 0.0 };
    let overall = Overall {
        lots: lots.iter().filter(|l| l.skipped.is_none()).count(),
        slots,
        model_mae: mean(model_sum),
        baseline_mae: mean(base_sum),
        improvement: if base_sum > 0.0 {
            1.0 - model_sum / base_sum
        } else {
            0.0
        },
        coverage: mean(inside),
        read: {
            let per = |sum: f64| {
                if r_slots > 0 {
                    sum / r_slots as f64
                } else {
                    0.0
                }
            };
            Scores {
                slots: r_slots,
                model_mae: per(r_model),
                baseline_mae: per(r_base),
                coverage: per(r_inside),
            }
        },
    };
    let report = BacktestReport {
        time_zone: tz.iana_name().unwrap_or("UTC").to_owned(),
        test_days,
        lots,
        overall,
    };
    (report, predictions)
}

fn push_predictions(out: &mut Vec<Prediction>, lot_id: &LotId, tz: &TimeZone, b: &Backtest) {
    for day in &b.days {
        let mut last: Option<Timestamp> = None;
        for slot in 0..SLOTS_PER_DAY {
            // A slot a clock change skips has no start of its own.
            let Ok(start) = slot_start(tz, day.day, slot) else {
                continue;
            };
            if last.is_some_and(|l| l >= start) {
                continue;
            }
            last = Some(start);
            out.push(Prediction {
                lot_id: lot_id.clone(),
                slot_start: start,
                predicted: day.expected[slot],
            });
        }
    }
}

/// How many days of stays a forecast is trained on.
pub const HISTORY_DAYS: i64 = 56;

pub use crate::forecasts::{ForecastDay, LotForecast};

/// One slot of the outlook drivers and operators read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutlookSlot {
    pub start: Timestamp,
    /// Expected occupied bays.
    pub occupied: f32,
    pub low: f32,
    pub high: f32,
    /// Expected free bays (capacity less expected occupied, never below 0).
    pub free: u32,
}

/// What happened to one lot's forecast on a scheduled run.
#[derive(Debug, Clone, PartialEq)]
pub enum Refreshed {
    /// Made and stored.
    Made(Box<LotForecast>),
    /// Already made since the lot's local midnight.
    Fresh,
    /// The lot has no stays to learn from yet.
    NoHistory,
}

fn tenth(v: f64) -> f32 {
    ((v * 10.0).round() / 10.0) as f32
}

/// Makes and stores a lot's forecast for today and tomorrow (its local
/// days) from its last [`HISTORY_DAYS`] days of stays, unless one was
/// already made since its local midnight. Idempotent: a second run the
/// same day changes nothing.
///
/// # Errors
///
/// The store's; a lot whose tariff no longer compiles is corrupt.
pub async fn refresh<S: ForecastStore + LotStore + SessionStore>(
    store: &S,
    lot_id: &LotId,
    now: Timestamp,
) -> StoreResult<Refreshed> {
    let config = store.lot_config(lot_id).await?;
    let tariffs = config.compiled()?;
    let (_, tariff) = tariffs.at(&config.lot, now);
    let tz = tariff.time_zone().clone();
    let calendar = tariff.calendar();
    let today = now.to_zoned(tz.clone()).date();
    if let Some(stored) = store.lot_forecast(lot_id).await?
        && stored.made_at.to_zoned(tz.clone()).date() == today
        && stored.made_at <= now
    {
        return Ok(Refreshed::Fresh);
    }
    let from = now
        .checked_sub(jiff::SignedDuration::from_hours(24 * (HISTORY_DAYS + 2)))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let sessions = store.lot_sessions_entered(lot_id, from, now).await?;
    let Ok(series) = Series::from_stays(&tz, config.lot.capacity, stays(&sessions), now) else {
        return Ok(Refreshed::NoHistory);
    };
    let today_n = day_number(today);
    let series = series.since(today_n - HISTORY_DAYS as i32);
    let model = train(&series, calendar, today_n);
    let days = (today_n..today_n + 2)
        .map(|d| {
            let f = model.day(d, calendar);
            ForecastDay {
                date: date_of(d),
                expected: f.expected.iter().copied().map(tenth).collect(),
                low: f.low.iter().copied().map(tenth).collect(),
                high: f.high.iter().copied().map(tenth).collect(),
            }
        })
        .collect();
    let forecast = LotForecast {
        lot_id: lot_id.clone(),
        made_at: now,
        time_zone: config.lot.time_zone.clone(),
        capacity: config.lot.capacity,
        history_days: (today_n - series.first_day()).max(0),
        validation_mae: model.validation_mae,
        days,
    };
    store.put_forecast(&forecast).await?;
    Ok(Refreshed::Made(Box::new(forecast)))
}

/// What a scheduled run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshReport {
    pub made: u32,
    pub fresh: u32,
    pub no_history: u32,
    /// Lots whose forecast failed, with why; the other lots went on.
    pub failed: Vec<(LotId, String)>,
}

/// Refreshes every lot's forecast; one lot's failure does not stop the
/// others.
///
/// # Errors
///
/// Listing the lots failed.
pub async fn refresh_all<S: Store>(store: &S, now: Timestamp) -> StoreResult<RefreshReport> {
    let mut report = RefreshReport::default();
    for lot in store.lots().await? {
        match refresh(store, &lot.id, now).await {
            Ok(Refreshed::Made(_)) => report.made += 1,
            Ok(Refreshed::Fresh) => report.fresh += 1,
            Ok(Refreshed::NoHistory) => report.no_history += 1,
            Err(e) => report.failed.push((lot.id.clone(), e.to_string())),
        }
    }
    Ok(report)
}

/// The slots of the outlook the APIs serve: the next 24 hours.
pub const OUTLOOK_SLOTS: usize = SLOTS_PER_DAY;

/// The next `slots` slots of a lot's stored forecast from the one holding
/// `now`; `None` when no forecast covers now.
///
/// # Errors
///
/// The store's.
pub async fn outlook<S: ForecastStore>(
    store: &S,
    lot_id: &LotId,
    now: Timestamp,
    slots: usize,
) -> StoreResult<Option<(LotForecast, Vec<OutlookSlot>)>> {
    let Some(forecast) = store.lot_forecast(lot_id).await? else {
        return Ok(None);
    };
    let Ok(tz) = TimeZone::get(&forecast.time_zone) else {
        return Err(StoreError::Corrupt {
            key: format!("forecast of lot {lot_id}"),
            reason: "unknown time zone".into(),
        });
    };
    let (mut day, mut slot) = slot_of(&tz, now);
    let mut out: Vec<OutlookSlot> = Vec::with_capacity(slots);
    while out.len() < slots {
        if slot == SLOTS_PER_DAY {
            day += 1;
            slot = 0;
        }
        let date = date_of(day);
        let Some(d) = forecast.days.iter().find(|d| d.date == date) else {
            break;
        };
        let (Some(&occupied), Some(&low), Some(&high)) =
            (d.expected.get(slot), d.low.get(slot), d.high.get(slot))
        else {
            break;
        };
        if let Ok(start) = slot_start(&tz, day, slot)
            && out.last().is_none_or(|l| l.start < start)
        {
            out.push(OutlookSlot {
                start,
                occupied,
                low,
                high,
                free: (forecast.capacity as f32 - occupied).round().max(0.0) as u32,
            });
        }
        slot += 1;
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some((forecast, out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_keeps_its_good_rows_and_names_each_bad_one() {
        let text = "\u{feff}lot_id,observed_at,occupied,capacity\n\
            lot-a,2026-11-30T09:00:00+09:00,12,50\n\
            lot-a,yesterday,12,50\n\
            lot a,2026-11-30T09:00:00+09:00,12,50\n\
            lot-a,2026-11-30T09:30:00+09:00,-3,50\n\
            lot-a,2026-11-30T09:45:00+09:00,3,fifty\n\
            lot-a,2026-11-30T10:00:00+09:00,14\n\
            lot-b,2026-11-30T10:00:00Z,7.5,20\n";
        let history = read_history(text.as_bytes()).expect("a history");
        assert_eq!(history.rows.len(), 2);
        assert_eq!(history.rows[1].occupied, 7.5);
        let said: Vec<String> = history.bad.iter().map(ToString::to_string).collect();
        assert_eq!(said.len(), 5);
        assert!(said[0].starts_with("line 3: observed_at:"), "{said:?}");
        assert!(said[1].starts_with("line 4: lot_id:"), "{said:?}");
        assert!(said[2].starts_with("line 5: occupied:"), "{said:?}");
        assert!(said[3].starts_with("line 6: capacity:"), "{said:?}");
        assert!(said[4].starts_with("line 7: expected 4 fields"), "{said:?}");
    }

    #[test]
    fn a_file_that_is_not_a_history_is_refused_at_its_header() {
        let text = "SystemCodeNumber,Capacity,Occupancy,LastUpdated\nA,1,1,x\n";
        assert_eq!(read_history(text.as_bytes()).err(), Some(RowError::Header));
    }
}
