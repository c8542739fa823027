//! Occupancy forecasts: how full a lot is expected to be in each 15-minute
//! slot of the next day, learned from the lot's own history.
//!
//! A lot's history is a [`Series`]: the mean number of occupied bays in
//! each 15-minute slot of its local days, built from occupancy observations
//! (a value holds until the next observation, for at most [`MAX_HOLD`]) or
//! from the lot's stays ([`occupancy_of_stays`]).
//!
//! The model ([`train`]) stacks a seasonal profile, its level and the
//! recent days, weighed per hour of the day by what forecast the lot best:
//!
//! - **Profile.** For each day of the week and each slot, a weighted mean
//!   of the same slot on earlier days of that class over the last
//!   [`LOOKBACK_DAYS`], the weights halving every 28 days; a holiday (from
//!   the core calendar) is a Sunday, and a slot no day of the class knows
//!   takes the mean of all days.
//! - **Features** of each slot of the forecast day: the profile; the
//!   profile times the level of the last day and of the last
//!   [`LEVEL_DAYS`] (what they held against what the profile says, from
//!   0.5 to 2); the same slot a week earlier (when that day is of the same
//!   class); the same slot the day before; and the value held at midnight
//!   less the profile's start of the day (persistence: a car parked at
//!   midnight is known). Whatever is unknown is the profile.
//! - **Weights.** For each hour of the day, one weight per feature, fitted
//!   on the last [`TRAIN_DAYS`] days, each day's features made from the
//!   days before it alone: least absolute deviations (8 passes of
//!   reweighted least squares), drawn toward a third of each level-scaled
//!   profile as much as the fit's own noise says, so a noisy hour leans on
//!   the profile and an exact one (the night's persistence) on the data.
//! - **Interval.** P10 and P90: the 10th and 90th percentiles of the
//!   hour's errors on its training days when each week of them is
//!   forecast by weights fitted on the other weeks (blocked
//!   cross-validation): errors the weights did not see.
//! - **The day after.** The weights are fitted for the day right after
//!   the data. A later day (tomorrow, in a forecast made today), whose
//!   day before is not known yet, is forecast as the profile at the mean
//!   of its three levels, with the same interval: that forecast is not
//!   backtested.
//! - **Little history.** With fewer than 7 days to fit on (a lot's first
//!   three weeks), the forecast is the profile by day type at half the
//!   week's level, ±10 % of capacity.
//!
//! The baseline it is measured against ([`backtest`]) is the seasonal-naive
//! forecast: the same slot one week earlier.
//!
//! ```
//! use jiff::tz::TimeZone;
//! use parking_core::Calendar;
//! use parking_core::forecast::{Observation, Series, train};
//!
//! let tz = TimeZone::get("Asia/Tokyo")?;
//! // Four weeks of a lot that holds 10 cars from 09:00 to 17:00.
//! let mut obs = Vec::new();
//! for day in 1..=28 {
//!     let date = jiff::civil::date(2026, 11, day);
//!     for (hour, occupied) in [(0, 0.0), (9, 10.0), (17, 0.0)] {
//!         let at = date.at(hour, 0, 0, 0).to_zoned(tz.clone())?.timestamp();
//!         obs.push(Observation { at, occupied });
//!     }
//! }
//! let series = Series::from_observations(&tz, 20, &obs, None)?;
//! let calendar = Calendar::default();
//! let model = train(&series, &calendar, series.end_day());
//! let next = model.day(series.end_day(), &calendar);
//! assert!((next.expected[12 * 4] - 10.0).abs() < 0.5); // 12:00
//! assert!(next.expected[20 * 4] < 0.5); // 20:00
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::calendar::{Calendar, DayType, date_of, day_number};

/// Minutes in a slot.
pub const SLOT_MINUTES: i32 = 15;
/// Slots in a local day (by the wall clock: 00:00, 00:15, … 23:45).
pub const SLOTS_PER_DAY: usize = 96;
/// How long an observation's value holds when no other follows: a feed
/// silent for longer has a gap there, not a flat line.
pub const MAX_HOLD: SignedDuration = SignedDuration::from_hours(24);
/// The longest history a series holds: about three years.
pub const MAX_SPAN_DAYS: i32 = 1100;

/// Days before the forecast day that training looks at.
pub const LOOKBACK_DAYS: i32 = 70;
/// Days of the level (trend) correction.
pub const LEVEL_DAYS: i32 = 7;

/// What went wrong building a series or a backtest.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForecastError {
    #[error("no usable occupancy observations")]
    Empty,
    #[error("the history holds {days} day(s); the backtest needs at least {needed}")]
    TooShort { days: i32, needed: i32 },
    #[error("a time cannot be placed in the lot's time zone")]
    TimeZone,
    #[error("no slot of the test days has both an observation and one a week earlier")]
    NothingToCompare,
    #[error("the history spans {days} days; at most {MAX_SPAN_DAYS} are read (a time far off?)")]
    TooLong { days: i32 },
}

/// One reading of how many bays were occupied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub at: Timestamp,
    pub occupied: f64,
}

/// A lot's occupancy: the time-weighted mean of occupied bays in each
/// 15-minute slot of consecutive local days; `None` where less than half
/// the slot is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    first_day: i32,
    values: Vec<Option<f64>>,
    /// Per slot, whether an observation fell in it (not only a value
    /// held from before).
    read: Vec<bool>,
    capacity: u32,
}

/// The local day number and slot of an instant.
pub fn slot_of(tz: &TimeZone, at: Timestamp) -> (i32, usize) {
    let dt = tz.to_datetime(at);
    let minute = i32::from(dt.hour()) * 60 + i32::from(dt.minute());
    (day_number(dt.date()), (minute / SLOT_MINUTES) as usize)
}

/// When a slot of a local day starts (the earlier instant of a repeated
/// wall-clock time; a skipped one starts when the clock resumes).
///
/// # Errors
///
/// [`ForecastError::TimeZone`] outside the range jiff supports.
pub fn slot_start(tz: &TimeZone, day: i32, slot: usize) -> Result<Timestamp, ForecastError> {
    let minutes = slot as i32 * SLOT_MINUTES;
    let date: Date = date_of(day);
    let dt: DateTime = date.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0);
    tz.to_ambiguous_timestamp(dt)
        .compatible()
        .map_err(|_| ForecastError::TimeZone)
}

impl Series {
    /// Builds a series from observations in any order. Negative or
    /// non-finite readings are dropped; of readings at the same instant the
    /// last one counts. Each value holds until the next reading, for at
    /// most [`MAX_HOLD`], and the last one until `until` (or only at its
    /// own instant when `until` is `None`).
    ///
    /// # Errors
    ///
    /// [`ForecastError::Empty`] when no reading is usable.
    pub fn from_observations(
        tz: &TimeZone,
        capacity: u32,
        observations: &[Observation],
        until: Option<Timestamp>,
    ) -> Result<Series, ForecastError> {
        Series::build(tz, capacity, observations, until, Some(MAX_HOLD))
    }

    /// Builds a series from a lot's stays (see [`occupancy_of_stays`]), up
    /// to `until`. The count of cars holds until it changes, however long:
    /// a lot closed over a long weekend is empty then, not unknown.
    ///
    /// # Errors
    ///
    /// [`ForecastError::Empty`] with no stay before `until`.
    pub fn from_stays(
        tz: &TimeZone,
        capacity: u32,
        stays: impl IntoIterator<Item = (Timestamp, Option<Timestamp>)>,
        until: Timestamp,
    ) -> Result<Series, ForecastError> {
        let obs = occupancy_of_stays(stays, until);
        Series::build(tz, capacity, &obs, Some(until), None)
    }

    fn build(
        tz: &TimeZone,
        capacity: u32,
        observations: &[Observation],
        until: Option<Timestamp>,
        hold: Option<SignedDuration>,
    ) -> Result<Series, ForecastError> {
        let mut obs: Vec<Observation> = observations
            .iter()
            .copied()
            .filter(|o| o.occupied.is_finite() && o.occupied >= 0.0)
            .collect();
        obs.sort_by_key(|o| o.at);
        let (Some(first), Some(last)) = (obs.first(), obs.last()) else {
            return Err(ForecastError::Empty);
        };
        let end = until.unwrap_or(last.at).max(last.at);
        // Held intervals [start, end) with their value.
        let mut held: Vec<(Timestamp, Timestamp, f64)> = Vec::with_capacity(obs.len());
        for (i, o) in obs.iter().enumerate() {
            let next = obs.get(i + 1).map_or(end, |n| n.at);
            let stop = match hold {
                Some(hold) => next.min(o.at.saturating_add(hold).unwrap_or(next)),
                None => next,
            };
            if stop > o.at {
                held.push((o.at, stop, o.occupied));
            }
        }
        let (first_day, _) = slot_of(tz, first.at);
        let (last_day, _) = slot_of(tz, end);
        let days = (last_day - first_day + 1).max(1);
        if days > MAX_SPAN_DAYS {
            return Err(ForecastError::TooLong { days });
        }
        let mut values = vec![None; days as usize * SLOTS_PER_DAY];
        let mut k = 0;
        for (index, value) in values.iter_mut().enumerate() {
            let day = first_day + (index / SLOTS_PER_DAY) as i32;
            let slot = index % SLOTS_PER_DAY;
            let start = slot_start(tz, day, slot)?;
            let stop = if slot + 1 == SLOTS_PER_DAY {
                slot_start(tz, day + 1, 0)?
            } else {
                slot_start(tz, day, slot + 1)?
            };
            if stop <= start {
                continue;
            }
            while k < held.len() && held[k].1 <= start {
                k += 1;
            }
            let (mut covered, mut sum) = (0.0, 0.0);
            for &(from, to, v) in held[k..].iter().take_while(|h| h.0 < stop) {
                let overlap = (to.min(stop).as_second() - from.max(start).as_second()) as f64;
                if overlap > 0.0 {
                    covered += overlap;
                    sum += v * overlap;
                }
            }
            let length = (stop.as_second() - start.as_second()) as f64;
            if covered * 2.0 >= length && covered > 0.0 {
                *value = Some(sum / covered);
            }
        }
        let mut read = vec![false; values.len()];
        for o in &obs {
            let (day, slot) = slot_of(tz, o.at);
            let index = (day - first_day) as usize * SLOTS_PER_DAY + slot;
            if let Some(r) = read.get_mut(index) {
                *r = true;
            }
        }
        Ok(Series {
            first_day,
            values,
            read,
            capacity,
        })
    }

    /// The first local day (a day number).
    pub fn first_day(&self) -> i32 {
        self.first_day
    }

    /// The day after the last one.
    pub fn end_day(&self) -> i32 {
        self.first_day + (self.values.len() / SLOTS_PER_DAY) as i32
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The value of one slot, if known.
    pub fn get(&self, day: i32, slot: usize) -> Option<f64> {
        if day < self.first_day || slot >= SLOTS_PER_DAY {
            return None;
        }
        let index = (day - self.first_day) as usize * SLOTS_PER_DAY + slot;
        self.values.get(index).copied().flatten()
    }

    /// Whether an observation fell in the slot: its value was read, not
    /// only held from an earlier one.
    pub fn has_reading(&self, day: i32, slot: usize) -> bool {
        if day < self.first_day || slot >= SLOTS_PER_DAY {
            return false;
        }
        let index = (day - self.first_day) as usize * SLOTS_PER_DAY + slot;
        self.read.get(index).copied().unwrap_or(false)
    }

    /// The same series without the days before `day`.
    #[must_use]
    pub fn since(&self, day: i32) -> Series {
        let skip = (day - self.first_day).clamp(0, self.end_day() - self.first_day);
        Series {
            first_day: self.first_day + skip,
            values: self.values[skip as usize * SLOTS_PER_DAY..].to_vec(),
            read: self.read[skip as usize * SLOTS_PER_DAY..].to_vec(),
            capacity: self.capacity,
        }
    }
}

/// How long a stay whose exit was never seen counts as inside: longer than
/// nearly every stay, so a car whose exit the cameras missed is not parked
/// for ever in the history.
pub const UNSEEN_EXIT_HOLD: SignedDuration = SignedDuration::from_hours(36);

/// The occupancy a set of stays makes: one observation wherever the count
/// of cars inside changes. A stay is `(entered, exited)`; a stay with no
/// exit counts for at most [`UNSEEN_EXIT_HOLD`]. Exits after `until` are
/// not yet known and are left out.
pub fn occupancy_of_stays(
    stays: impl IntoIterator<Item = (Timestamp, Option<Timestamp>)>,
    until: Timestamp,
) -> Vec<Observation> {
    let mut changes: Vec<(Timestamp, i64)> = Vec::new();
    for (entered, exited) in stays {
        if entered > until {
            continue;
        }
        changes.push((entered, 1));
        let left = exited
            .filter(|x| *x >= entered)
            .or_else(|| entered.checked_add(UNSEEN_EXIT_HOLD).ok());
        if let Some(left) = left.filter(|x| *x <= until) {
            changes.push((left, -1));
        }
    }
    changes.sort_unstable();
    let mut out: Vec<Observation> = Vec::new();
    let mut inside = 0i64;
    for (at, delta) in changes {
        inside += delta;
        let occupied = inside.max(0) as f64;
        match out.last_mut() {
            Some(last) if last.at == at => last.occupied = occupied,
            _ => out.push(Observation { at, occupied }),
        }
    }
    out
}

/// How days are put in classes that share a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    /// Monday … Sunday; a holiday is a Sunday.
    DayOfWeek,
    /// Weekday, Saturday, Sunday or holiday.
    DayType,
    /// A working day or a day off.
    WorkOrOff,
}

impl Grouping {
    fn classes(self) -> usize {
        match self {
            Grouping::DayOfWeek => 7,
            Grouping::DayType => 3,
            Grouping::WorkOrOff => 2,
        }
    }

    fn class(self, calendar: &Calendar, day: i32) -> usize {
        let kind = calendar.day_type(day);
        match self {
            Grouping::DayOfWeek => match kind {
                DayType::Holiday => 6,
                _ => (day + 3).rem_euclid(7) as usize,
            },
            Grouping::DayType => match kind {
                DayType::Weekday => 0,
                DayType::Saturday => 1,
                DayType::Sunday | DayType::Holiday => 2,
            },
            Grouping::WorkOrOff => usize::from(kind != DayType::Weekday),
        }
    }
}

/// The settings training chooses between.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Settings {
    pub grouping: Grouping,
    /// Days after which an earlier day counts half.
    pub half_life_days: f64,
    /// How much of the recent level shift is applied: 0 none, 1 all.
    pub trend: f64,
    /// A weighted median instead of a weighted mean (robust to outliers).
    pub median: bool,
}

impl Settings {
    /// What a lot with too little history for the stack is forecast with.
    pub const DEFAULT: Settings = Settings {
        grouping: Grouping::DayType,
        half_life_days: 28.0,
        trend: 0.5,
        median: false,
    };
}

/// A trained model of one lot: what it expects of the days from
/// `trained_until` on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Model {
    pub settings: Settings,
    /// The first day not in the training data.
    pub trained_until: i32,
    /// Mean absolute error per slot on the training days, each week
    /// forecast by weights fitted on the others (blocked
    /// cross-validation), once the lot has the history for it.
    pub validation_mae: Option<f64>,
    /// Per class, per slot.
    profiles: Vec<Vec<Option<f64>>>,
    /// Per slot, whatever the class: the fallback.
    overall: Vec<Option<f64>>,
    level: f64,
    /// Per hour of the day, what the P10 and P90 bounds add to the
    /// expected value (the first at most 0, the second at least 0).
    interval: [(f64, f64); 24],
    /// The stacked model, once the lot has the history for it.
    stack: Option<Stack>,
}

/// The stacked model (see the module documentation): per hour of the day
/// the weights of its features, with what it knows of the days before
/// `trained_until`.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Stack {
    weights: [[f64; FEATURES]; 24],
    /// The level of the last day and of the last [`LEVEL_DAYS`].
    r1: f64,
    r7: f64,
    /// The last seven days' slots, oldest first.
    recent: Vec<Option<f64>>,
}

/// The forecast of one local day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayForecast {
    pub day: i32,
    pub expected: Vec<f64>,
    pub low: Vec<f64>,
    pub high: Vec<f64>,
}

/// The forecast of one slot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SlotForecast {
    pub start: Timestamp,
    pub expected: f64,
    pub low: f64,
    pub high: f64,
}

/// One weighted aggregate: a mean or a median.
fn aggregate(samples: &mut [(f64, f64)], median: bool) -> Option<f64> {
    let total: f64 = samples.iter().map(|s| s.1).sum();
    if samples.is_empty() || total <= 0.0 {
        return None;
    }
    if !median {
        return Some(samples.iter().map(|s| s.0 * s.1).sum::<f64>() / total);
    }
    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut seen = 0.0;
    for &(v, w) in samples.iter() {
        seen += w;
        if seen * 2.0 >= total {
            return Some(v);
        }
    }
    samples.last().map(|s| s.0)
}

/// The class of each day of the lookback window, computed once.
struct Days {
    from: i32,
    classes: Vec<usize>,
}

fn fit(series: &Series, calendar: &Calendar, settings: Settings, until: i32) -> Model {
    let from = (until - LOOKBACK_DAYS).max(series.first_day);
    let days = Days {
        from,
        classes: (from..until)
            .map(|d| settings.grouping.class(calendar, d))
            .collect(),
    };
    fit_with(series, &days, settings, until, calendar)
}

fn fit_with(
    series: &Series,
    days: &Days,
    settings: Settings,
    until: i32,
    calendar: &Calendar,
) -> Model {
    let classes = settings.grouping.classes();
    let mut profiles = vec![vec![None; SLOTS_PER_DAY]; classes];
    let mut overall = vec![None; SLOTS_PER_DAY];
    let decay = std::f64::consts::LN_2 / settings.half_life_days.max(0.1);
    let weights: Vec<f64> = (days.from..until)
        .map(|d| (-(f64::from(until - d)) * decay).exp())
        .collect();
    let mut by_class: Vec<Vec<(f64, f64)>> = vec![Vec::new(); classes];
    let mut all: Vec<(f64, f64)> = Vec::new();
    for slot in 0..SLOTS_PER_DAY {
        for samples in &mut by_class {
            samples.clear();
        }
        all.clear();
        for (i, day) in (days.from..until).enumerate() {
            if let Some(v) = series.get(day, slot) {
                let w = weights[i];
                by_class[days.classes[i]].push((v, w));
                all.push((v, w));
            }
        }
        for (c, samples) in by_class.iter_mut().enumerate() {
            profiles[c][slot] = aggregate(samples, settings.median);
        }
        overall[slot] = aggregate(&mut all, settings.median);
    }
    let mut model = Model {
        settings,
        trained_until: until,
        validation_mae: None,
        profiles,
        overall,
        level: 1.0,
        interval: [(0.0, 0.0); 24],
        stack: None,
    };
    // The level: what the last days held against what the profile says.
    let ratio = model.ratio(series, calendar, (until - LEVEL_DAYS).max(days.from), until);
    model.level = 1.0 + settings.trend * (ratio - 1.0);
    model
}

impl Model {
    /// What the days `[from, until)` held against what the profile says of
    /// them, between 0.5 and 2 (1 when nothing is known).
    fn ratio(&self, series: &Series, calendar: &Calendar, from: i32, until: i32) -> f64 {
        let (mut actual, mut expected) = (0.0, 0.0);
        for day in from..until {
            for slot in 0..SLOTS_PER_DAY {
                if let (Some(v), Some(p)) =
                    (series.get(day, slot), self.profile(calendar, day, slot))
                {
                    actual += v;
                    expected += p;
                }
            }
        }
        if expected > 1e-9 {
            (actual / expected).clamp(0.5, 2.0)
        } else {
            1.0
        }
    }

    fn profile(&self, calendar: &Calendar, day: i32, slot: usize) -> Option<f64> {
        let class = self.settings.grouping.class(calendar, day);
        self.profiles
            .get(class)
            .and_then(|p| p[slot])
            .or(self.overall[slot])
    }

    fn expected(&self, calendar: &Calendar, day: i32, slot: usize) -> f64 {
        self.profile(calendar, day, slot)
            .map_or(0.0, |p| (p * self.level).max(0.0))
    }

    /// The forecast of one local day (a day number).
    pub fn day(&self, day: i32, calendar: &Calendar) -> DayForecast {
        let expected: Vec<f64> = match &self.stack {
            Some(stack) => {
                // The weights are fitted for the day after the data; a
                // later day, whose day before is not known yet, is the
                // profile at the recent levels.
                let f = stack.features(self, calendar, day);
                (0..SLOTS_PER_DAY)
                    .map(|s| {
                        let w = if day == self.trained_until {
                            &stack.weights[s / 4]
                        } else {
                            &PRIOR
                        };
                        dot(&f[s], w).max(0.0)
                    })
                    .collect()
            }
            None => (0..SLOTS_PER_DAY)
                .map(|s| self.expected(calendar, day, s))
                .collect(),
        };
        let low = expected
            .iter()
            .enumerate()
            .map(|(s, e)| (e + self.interval[s / 4].0).max(0.0))
            .collect();
        let high = expected
            .iter()
            .enumerate()
            .map(|(s, e)| (e + self.interval[s / 4].1).max(0.0))
            .collect();
        DayForecast {
            day,
            expected,
            low,
            high,
        }
    }

    /// The forecast of the `slots` slots from the one holding `from`.
    ///
    /// # Errors
    ///
    /// [`ForecastError::TimeZone`] outside the range jiff supports.
    pub fn slots(
        &self,
        tz: &TimeZone,
        calendar: &Calendar,
        from: Timestamp,
        slots: usize,
    ) -> Result<Vec<SlotForecast>, ForecastError> {
        let (mut day, mut slot) = slot_of(tz, from);
        let mut forecast = self.day(day, calendar);
        let mut out = Vec::with_capacity(slots);
        for _ in 0..slots {
            if slot == SLOTS_PER_DAY {
                day += 1;
                slot = 0;
                forecast = self.day(day, calendar);
            }
            let start = slot_start(tz, day, slot)?;
            if out.last().is_none_or(|l: &SlotForecast| l.start < start) {
                out.push(SlotForecast {
                    start,
                    expected: forecast.expected[slot],
                    low: forecast.low[slot],
                    high: forecast.high[slot],
                });
            }
            slot += 1;
        }
        Ok(out)
    }
}

/// Features of the stacked model, per slot.
const FEATURES: usize = 6;
/// The weights the features start from, and are drawn toward: the
/// profile at the mean of the three levels.
const PRIOR: [f64; FEATURES] = [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 0.0, 0.0, 0.0];
/// Days the weights are fitted on.
pub const TRAIN_DAYS: i32 = 28;
/// A training day needs this many days of history before it.
const FIRST_TRAIN: i32 = 14;
/// Fewer training days than this: the profile alone.
const MIN_TRAIN: i32 = 7;
/// How far the weights may stray from [`PRIOR`]: the prior's standard
/// deviation.
const TAU: f64 = 0.1;
/// Passes of the least-absolute-deviations fit.
const IRLS_PASSES: usize = 8;
/// The settings of the profile the stack is built on.
const STACK_PROFILE: Settings = Settings {
    grouping: Grouping::DayOfWeek,
    half_life_days: 28.0,
    trend: 0.0,
    median: false,
};

fn dot(a: &[f64; FEATURES], b: &[f64; FEATURES]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Stack {
    /// The features of each slot of `day`, from what the model knows: the
    /// profile, the profile at the last day's and the last week's level,
    /// the same slot a week earlier (a day of the same class), the same
    /// slot the day before, and the value held at midnight against the
    /// profile's start of the day. Anything unknown is the profile.
    fn features(&self, model: &Model, calendar: &Calendar, day: i32) -> Vec<[f64; FEATURES]> {
        let until = model.trained_until;
        let recent = |d: i32, slot: usize| -> Option<f64> {
            let back = until - d;
            if !(1..=7).contains(&back) {
                return None;
            }
            self.recent
                .get((7 - back) as usize * SLOTS_PER_DAY + slot)
                .copied()
                .flatten()
        };
        let grouping = model.settings.grouping;
        let same_class = grouping.class(calendar, day - 7) == grouping.class(calendar, day);
        let mut out = Vec::with_capacity(SLOTS_PER_DAY);
        for slot in 0..SLOTS_PER_DAY {
            let p = model.profile(calendar, day, slot).unwrap_or(0.0);
            let week = if same_class {
                recent(day - 7, slot)
            } else {
                None
            };
            out.push([
                p,
                p * self.r1,
                p * self.r7,
                week.unwrap_or(p),
                recent(day - 1, slot).unwrap_or(p),
                0.0,
            ]);
        }
        if let Some(last) = recent(day - 1, SLOTS_PER_DAY - 1) {
            let start = (out[0][0] + out[0][1] + out[0][2]) / 3.0;
            for f in &mut out {
                f[5] = last - start;
            }
        }
        out
    }

    /// What the model trained until `until` knows of the days before it.
    fn new(model: &Model, series: &Series, calendar: &Calendar, from: i32, until: i32) -> Stack {
        let mut recent = Vec::with_capacity(7 * SLOTS_PER_DAY);
        for day in until - 7..until {
            recent.extend((0..SLOTS_PER_DAY).map(|s| series.get(day, s)));
        }
        Stack {
            weights: [PRIOR; 24],
            r1: model.ratio(series, calendar, (until - 1).max(from), until),
            r7: model.ratio(series, calendar, (until - LEVEL_DAYS).max(from), until),
            recent,
        }
    }
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None`
/// when `a` is singular.
#[allow(clippy::needless_range_loop)] // row and column arithmetic reads best indexed
fn solve(mut a: [[f64; FEATURES]; FEATURES], mut b: [f64; FEATURES]) -> Option<[f64; FEATURES]> {
    for col in 0..FEATURES {
        let pivot = (col..FEATURES).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..FEATURES {
            let k = a[row][col] / a[col][col];
            for c in col..FEATURES {
                a[row][c] -= k * a[col][c];
            }
            b[row] -= k * b[col];
        }
    }
    let mut x = [0.0; FEATURES];
    for row in (0..FEATURES).rev() {
        let tail: f64 = (row + 1..FEATURES).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    Some(x)
}

/// Least absolute deviations by iteratively reweighted least squares,
/// drawn toward [`PRIOR`] as much as the fit's own noise says (an exact
/// fit is not drawn at all). Returns the weights and the residuals.
fn fit_weights(x: &[[f64; FEATURES]], y: &[f64]) -> ([f64; FEATURES], Vec<f64>) {
    let n = y.len();
    let mut w = PRIOR;
    let mut r = vec![1.0; n];
    let residuals =
        |w: &[f64; FEATURES]| -> Vec<f64> { x.iter().zip(y).map(|(f, v)| v - dot(f, w)).collect() };
    let mut res = residuals(&w);
    let floor = 1e-3 * (y.iter().map(|v| v.abs()).sum::<f64>() / n.max(1) as f64 + 1e-9);
    for pass in 0..IRLS_PASSES {
        let mut a = [[0.0; FEATURES]; FEATURES];
        let mut b = [0.0; FEATURES];
        for ((f, v), rw) in x.iter().zip(y).zip(&r) {
            for i in 0..FEATURES {
                for j in 0..FEATURES {
                    a[i][j] += rw * f[i] * f[j];
                }
                b[i] += rw * f[i] * v;
            }
        }
        let trace: f64 = (0..FEATURES).map(|i| a[i][i]).sum();
        let eps = 1e-9 * trace / FEATURES as f64 + 1e-12;
        let c = if pass == 0 {
            eps
        } else {
            let noise: f64 = r.iter().zip(&res).map(|(rw, e)| rw * e * e).sum::<f64>();
            noise / n as f64 / (TAU * TAU) + eps
        };
        for i in 0..FEATURES {
            a[i][i] += c;
            b[i] += c * PRIOR[i];
        }
        let Some(next) = solve(a, b) else {
            break;
        };
        w = next;
        res = residuals(&w);
        for (rw, e) in r.iter_mut().zip(&res) {
            *rw = 1.0 / e.abs().max(floor);
        }
    }
    (w, res)
}

/// The `q` quantile of sorted values, interpolated linearly.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64)
}

/// Trains a lot's model on the days of `series` before `until` (a day
/// number): the forecast for `until` uses nothing from that day or later.
pub fn train(series: &Series, calendar: &Calendar, until: i32) -> Model {
    let first = series.first_day;
    let train_from = (until - TRAIN_DAYS).max(first + FIRST_TRAIN);
    let known = until.min(series.end_day());
    if known - train_from < MIN_TRAIN {
        let mut model = fit(series, calendar, Settings::DEFAULT, until);
        let spread = f64::from(series.capacity) * 0.1;
        model.interval = [(-spread, spread); 24];
        return model;
    }
    // Each training day's features from the days before it alone.
    let mut rows: Vec<Vec<[f64; FEATURES]>> = Vec::new();
    for day in train_from..until {
        let model = fit(series, calendar, STACK_PROFILE, day);
        let stack = Stack::new(
            &model,
            series,
            calendar,
            (day - LOOKBACK_DAYS).max(first),
            day,
        );
        rows.push(stack.features(&model, calendar, day));
    }
    let mut model = fit(series, calendar, STACK_PROFILE, until);
    let mut stack = Stack::new(
        &model,
        series,
        calendar,
        (until - LOOKBACK_DAYS).max(first),
        until,
    );
    let spread = f64::from(series.capacity) * 0.1;
    let (mut abs_sum, mut fitted) = (0.0, 0usize);
    for hour in 0..24 {
        let (mut x, mut y, mut fold) = (Vec::new(), Vec::new(), Vec::new());
        for (i, day) in (train_from..until).enumerate() {
            for (slot, features) in rows[i].iter().enumerate().skip(hour * 4).take(4) {
                if let Some(v) = series.get(day, slot) {
                    x.push(*features);
                    y.push(v);
                    fold.push(i / 7);
                }
            }
        }
        if y.len() < 2 * FEATURES {
            model.interval[hour] = (-spread, spread);
            continue;
        }
        let (w, res) = fit_weights(&x, &y);
        stack.weights[hour] = w;
        // The interval and the error from blocked cross-validation: each
        // week of the training days forecast by weights fitted on the
        // others (a week too few to leave out keeps its fitted residual).
        let mut held = res;
        for f in 0..=fold.last().copied().unwrap_or(0) {
            let (mut xf, mut yf) = (Vec::new(), Vec::new());
            for ((row, v), k) in x.iter().zip(&y).zip(&fold) {
                if *k != f {
                    xf.push(*row);
                    yf.push(*v);
                }
            }
            if yf.len() < 2 * FEATURES || yf.len() == y.len() {
                continue;
            }
            let (wf, _) = fit_weights(&xf, &yf);
            for (i, k) in fold.iter().enumerate() {
                if *k == f {
                    held[i] = y[i] - dot(&x[i], &wf);
                }
            }
        }
        let mut sorted = held.clone();
        sorted.sort_by(f64::total_cmp);
        model.interval[hour] = (
            quantile(&sorted, 0.1).min(0.0),
            quantile(&sorted, 0.9).max(0.0),
        );
        abs_sum += held.iter().map(|e| e.abs()).sum::<f64>();
        fitted += held.len();
    }
    if fitted > 0 {
        model.validation_mae = Some(abs_sum / fitted as f64);
    }
    model.stack = Some(stack);
    model
}

/// A backtest of one lot over its last days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtest {
    /// Slots compared: those whose actual value and baseline are known.
    pub slots: usize,
    /// The model's mean absolute error per slot, in bays.
    pub model_mae: f64,
    /// The seasonal-naive baseline's (the same slot a week earlier).
    pub baseline_mae: f64,
    /// The share of compared slots whose actual value fell between the
    /// forecast's P10 and P90 bounds (about 0.8 when they are right).
    pub coverage: f64,
    /// The same on the compared slots with a reading in them: a feed
    /// silent at night holds its last value until morning, which the
    /// model and the baseline are scored on too above.
    pub read: Scores,
    /// What each test day was forecast.
    #[serde(skip)]
    pub days: Vec<DayForecast>,
    /// The settings chosen for the last test day.
    pub settings: Settings,
}

/// A backtest's figures on a subset of its slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Scores {
    pub slots: usize,
    pub model_mae: f64,
    pub baseline_mae: f64,
    pub coverage: f64,
}

impl Backtest {
    /// How much lower the model's error is than the baseline's (0.25 =
    /// 25% lower).
    pub fn improvement(&self) -> f64 {
        if self.baseline_mae > 0.0 {
            1.0 - self.model_mae / self.baseline_mae
        } else {
            0.0
        }
    }
}

/// Forecasts each of the last `test_days` days of `series` from the days
/// before it alone, and scores the forecasts and the seasonal-naive
/// baseline against what happened.
///
/// # Errors
///
/// [`ForecastError::TooShort`] when the series does not hold the test days
/// plus two weeks before them.
pub fn backtest(
    series: &Series,
    calendar: &Calendar,
    test_days: i32,
) -> Result<Backtest, ForecastError> {
    let days = series.end_day() - series.first_day;
    let needed = test_days + 14;
    if test_days < 1 || days < needed {
        return Err(ForecastError::TooShort { days, needed });
    }
    let (mut model_sum, mut base_sum, mut slots, mut inside) = (0.0, 0.0, 0usize, 0usize);
    let (mut r_model, mut r_base, mut r_slots, mut r_inside) = (0.0, 0.0, 0usize, 0usize);
    let mut forecasts = Vec::new();
    let mut settings = Settings::DEFAULT;
    for day in series.end_day() - test_days..series.end_day() {
        let model = train(series, calendar, day);
        settings = model.settings;
        let forecast = model.day(day, calendar);
        for slot in 0..SLOTS_PER_DAY {
            if let (Some(actual), Some(week_ago)) =
                (series.get(day, slot), series.get(day - 7, slot))
            {
                model_sum += (forecast.expected[slot] - actual).abs();
                base_sum += (week_ago - actual).abs();
                slots += 1;
                let within = forecast.low[slot] <= actual && actual <= forecast.high[slot];
                inside += usize::from(within);
                if series.has_reading(day, slot) {
                    r_model += (forecast.expected[slot] - actual).abs();
                    r_base += (week_ago - actual).abs();
                    r_slots += 1;
                    r_inside += usize::from(within);
                }
            }
        }
        forecasts.push(forecast);
    }
    let mean = |sum: f64| if slots > 0 { sum / slots as f64 } else { 0.0 };
    let per = |sum: f64, n: usize| if n > 0 { sum / n as f64 } else { 0.0 };
    Ok(Backtest {
        slots,
        model_mae: mean(model_sum),
        baseline_mae: mean(base_sum),
        coverage: if slots > 0 {
            inside as f64 / slots as f64
        } else {
            0.0
        },
        read: Scores {
            slots: r_slots,
            model_mae: per(r_model, r_slots),
            baseline_mae: per(r_base, r_slots),
            coverage: per(r_inside as f64, r_slots),
        },
        days: forecasts,
        settings,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tokyo() -> TimeZone {
        TimeZone::get("Asia/Tokyo").unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_value_holds_until_the_next_observation_and_slots_take_the_time_weighted_mean() {
        let obs = [
            Observation {
                at: at("2026-11-30T09:00:00+09:00"),
                occupied: 10.0,
            },
            Observation {
                at: at("2026-11-30T09:05:00+09:00"),
                occupied: 40.0,
            },
            Observation {
                at: at("2026-11-30T10:00:00+09:00"),
                occupied: 0.0,
            },
        ];
        let s = Series::from_observations(&tokyo(), 50, &obs, None).unwrap();
        let day = day_number(jiff::civil::date(2026, 11, 30));
        assert_eq!(s.first_day(), day);
        assert_eq!(s.get(day, 35), None, "before the first reading");
        let nine = s.get(day, 36).unwrap();
        assert!((nine - (10.0 * 5.0 + 40.0 * 10.0) / 15.0).abs() < 1e-9);
        assert_eq!(s.get(day, 39), Some(40.0));
        assert_eq!(s.get(day, 40), None, "the last reading has no length");
    }

    #[test]
    fn a_silent_feed_leaves_a_gap_after_a_day() {
        let obs = [
            Observation {
                at: at("2026-11-30T00:00:00+09:00"),
                occupied: 5.0,
            },
            Observation {
                at: at("2026-12-03T00:00:00+09:00"),
                occupied: 7.0,
            },
        ];
        let s = Series::from_observations(&tokyo(), 50, &obs, None).unwrap();
        let day = s.first_day();
        assert_eq!(s.get(day, 95), Some(5.0));
        assert_eq!(s.get(day + 1, 0), None);
        assert_eq!(s.get(day + 2, 50), None);
    }

    #[test]
    fn a_history_of_stays_holds_its_count_through_a_quiet_weekend() {
        // One car from Friday evening to Tuesday morning, nothing else.
        let stays = [(
            at("2026-11-27T18:00:00+09:00"),
            Some(at("2026-12-01T08:00:00+09:00")),
        )];
        let s = Series::from_stays(&tokyo(), 5, stays, at("2026-12-01T12:00:00+09:00")).unwrap();
        let sunday = day_number(jiff::civil::date(2026, 11, 29));
        assert_eq!(s.get(sunday, 48), Some(1.0), "still parked on Sunday");
        assert_eq!(s.get(sunday + 2, 40), Some(0.0), "gone on Tuesday");
    }

    #[test]
    fn a_time_far_off_is_refused_not_allocated() {
        let obs = [
            Observation {
                at: at("2026-11-30T00:00:00+09:00"),
                occupied: 5.0,
            },
            Observation {
                at: at("9999-01-01T00:00:00Z"),
                occupied: 7.0,
            },
        ];
        assert!(matches!(
            Series::from_observations(&tokyo(), 50, &obs, None),
            Err(ForecastError::TooLong { .. })
        ));
    }

    #[test]
    fn junk_readings_are_dropped() {
        let obs = [Observation {
            at: at("2026-11-30T00:00:00+09:00"),
            occupied: f64::NAN,
        }];
        assert_eq!(
            Series::from_observations(&tokyo(), 5, &obs, None),
            Err(ForecastError::Empty)
        );
    }

    #[test]
    fn stays_make_occupancy_changes() {
        let stays = [
            (at("2026-11-30T09:00:00Z"), Some(at("2026-11-30T11:00:00Z"))),
            (at("2026-11-30T10:00:00Z"), None),
            (at("2026-11-30T10:00:00Z"), Some(at("2026-11-30T13:00:00Z"))),
        ];
        let obs = occupancy_of_stays(stays, at("2026-11-30T12:00:00Z"));
        let counts: Vec<f64> = obs.iter().map(|o| o.occupied).collect();
        assert_eq!(counts, vec![1.0, 3.0, 2.0]);
        // Two days on, the stay with no exit has stopped counting.
        let obs = occupancy_of_stays(stays, at("2026-12-02T12:00:00Z"));
        let counts: Vec<f64> = obs.iter().map(|o| o.occupied).collect();
        assert_eq!(counts, vec![1.0, 3.0, 2.0, 1.0, 0.0]);
    }

    /// A lot that is busy on working days, quiet on days off, with noise.
    fn synthetic(days: i32, calendar: &Calendar) -> Series {
        let tz = tokyo();
        let first = day_number(jiff::civil::date(2026, 11, 2));
        let mut obs = Vec::new();
        let mut noise = 7u64;
        for day in first..first + days {
            let off = calendar.day_type(day) != DayType::Weekday;
            for slot in 0..SLOTS_PER_DAY {
                noise = noise
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let jitter = ((noise >> 33) % 21) as f64 - 10.0;
                let busy = (30..72).contains(&slot);
                let base = match (busy, off) {
                    (true, false) => 80.0,
                    (true, true) => 30.0,
                    _ => 10.0,
                };
                obs.push(Observation {
                    at: slot_start(&tz, day, slot).unwrap(),
                    occupied: base + jitter,
                });
            }
        }
        Series::from_observations(&tz, 100, &obs, None).unwrap()
    }

    #[test]
    fn the_model_beats_last_week_on_a_noisy_lot_with_a_holiday() {
        let calendar = Calendar::new(Some(crate::calendar::Country::Jp), []);
        // 2 Nov 2026 to 11 Jan 2027: the last test days hold 1 January and
        // Coming of Age Day (11 January), both holidays on weekdays.
        let series = synthetic(71, &calendar);
        let result = backtest(&series, &calendar, 14).unwrap();
        assert!(result.slots > 14 * 90);
        assert!(
            result.improvement() > 0.2,
            "model {} vs baseline {}",
            result.model_mae,
            result.baseline_mae
        );
        // The holiday is forecast as a day off.
        let holiday = day_number(jiff::civil::date(2027, 1, 11));
        let f = result.days.iter().find(|d| d.day == holiday).unwrap();
        assert!((f.expected[50] - 30.0).abs() < 10.0, "{}", f.expected[50]);
        assert!(f.low[50] <= f.expected[50] && f.expected[50] <= f.high[50]);
    }

    #[test]
    fn a_backtest_needs_two_weeks_before_its_test_days() {
        let calendar = Calendar::default();
        let series = synthetic(20, &calendar);
        assert_eq!(
            backtest(&series, &calendar, 14),
            Err(ForecastError::TooShort {
                days: 20,
                needed: 28
            })
        );
    }

    #[test]
    fn slots_run_across_midnight() {
        let calendar = Calendar::default();
        let series = synthetic(30, &calendar);
        let model = train(&series, &calendar, series.end_day());
        let from = slot_start(&tokyo(), series.end_day() - 1, 90).unwrap();
        let slots = model.slots(&tokyo(), &calendar, from, 96).unwrap();
        assert_eq!(slots.len(), 96);
        assert_eq!(slots[0].start, from);
        assert_eq!(slots[95].start.as_second() - from.as_second(), 95 * 15 * 60);
    }
}
