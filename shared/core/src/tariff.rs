//! The validated, compiled tariff ([`Tariff`]) that prices stays, and the
//! limits a posted tariff must keep. Its JSON form, the contract, is
//! [`spec`].

use std::sync::Arc;

use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::calendar::{Calendar, Country, DaySet, DayType};
use crate::money::Currency;

pub mod spec;

pub use spec::*;

/// Why a tariff was rejected: the field (a path such as `caps[1].amount`)
/// and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct TariffError {
    pub field: String,
    pub problem: String,
}

impl TariffError {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        TariffError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

pub(crate) const DAY: i64 = 86_400;

/// A band of the compiled tariff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Band {
    pub unit_secs: i64,
    pub unit_price: i64,
}

/// Part of a day type's 24 hours, in seconds of the local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    pub start: i64,
    pub end: i64,
    pub band: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowCap {
    pub cap: u16,
    pub days: DaySet,
    /// Seconds from the start of the day the occurrence starts on.
    pub start: i64,
    /// `end > start`; past [`DAY`] when the window wraps midnight.
    pub end: i64,
    pub amount: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DayCap {
    pub cap: u16,
    pub days: DaySet,
    pub amount: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RollingCap {
    pub cap: u16,
    pub secs: i64,
    pub amount: i64,
    pub repeat: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct First {
    pub secs: i64,
    pub price: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flat {
    pub amount: i64,
    pub period_secs: Option<i64>,
}

/// A validated tariff, ready to price stays. Build it with
/// [`Tariff::from_json`] or [`Tariff::compile`].
#[derive(Debug, Clone)]
pub struct Tariff {
    pub(crate) spec: TariffSpec,
    pub(crate) currency: Currency,
    pub(crate) tz: TimeZone,
    pub(crate) calendar: Calendar,
    pub(crate) grace_secs: i64,
    pub(crate) free_secs: i64,
    pub(crate) first: Option<First>,
    pub(crate) bands: Vec<Band>,
    pub(crate) labels: Arc<[String]>,
    pub(crate) pieces: [Vec<Piece>; 4],
    pub(crate) windows: Vec<WindowCap>,
    pub(crate) day_caps: Vec<DayCap>,
    /// Shortest first; each a multiple of the ones before it.
    pub(crate) rolling: Vec<RollingCap>,
    pub(crate) flat: Option<Flat>,
    pub(crate) max_stay_secs: Option<i64>,
}

impl Tariff {
    /// Parses and validates a tariff from its JSON form.
    pub fn from_json(json: &str) -> Result<Tariff, TariffError> {
        // serde would also accept a tariff written as an array of values.
        if json.trim_start().starts_with('[') {
            return Err(TariffError::new(
                "tariff",
                "expected a JSON object, got an array",
            ));
        }
        let de = &mut serde_json::Deserializer::from_str(json);
        let spec: TariffSpec = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "tariff".to_owned()
            } else {
                path
            };
            TariffError::new(field, e.into_inner().to_string())
        })?;
        Tariff::compile(spec)
    }

    /// Validates a tariff and compiles it for pricing.
    pub fn compile(spec: TariffSpec) -> Result<Tariff, TariffError> {
        if spec.id.trim().is_empty() {
            return Err(TariffError::new("id", "must not be empty"));
        }
        check_limits(&spec)?;
        let currency = Currency::parse(&spec.currency)
            .map_err(|e| TariffError::new("currency", e.to_string()))?;
        let tz = TimeZone::get(&spec.time_zone).map_err(|_| {
            TariffError::new(
                "time_zone",
                format!("unknown IANA time zone {:?}", spec.time_zone),
            )
        })?;
        let (calendar, has_holidays) = compile_holidays(spec.holidays.as_ref())?;
        if let Some(tax) = spec.tax
            && tax.rate_bp > 10_000
        {
            return Err(TariffError::new(
                "tax.rate_bp",
                "must be at most 10000 (100%)",
            ));
        }
        let first = match &spec.first {
            None => None,
            Some(f) => {
                if f.minutes == 0 {
                    return Err(TariffError::new("first.minutes", "must be at least 1"));
                }
                non_negative("first.price", f.price)?;
                Some(First {
                    secs: i64::from(f.minutes) * 60,
                    price: f.price,
                })
            }
        };
        let flat = match &spec.flat {
            None => None,
            Some(f) => {
                non_negative("flat.amount", f.amount)?;
                if f.period_hours == Some(0) {
                    return Err(TariffError::new("flat.period_hours", "must be at least 1"));
                }
                for (present, field) in [
                    (!spec.bands.is_empty(), "bands"),
                    (!spec.caps.is_empty(), "caps"),
                    (first.is_some(), "first"),
                ] {
                    if present {
                        return Err(TariffError::new(
                            field,
                            "a flat tariff prices by period alone; remove either flat or this field",
                        ));
                    }
                }
                Some(Flat {
                    amount: f.amount,
                    period_secs: f.period_hours.map(|h| i64::from(h) * 3600),
                })
            }
        };

        let mut bands = Vec::with_capacity(spec.bands.len());
        let mut labels = Vec::with_capacity(spec.bands.len());
        let mut pieces: [Vec<Piece>; 4] = Default::default();
        let mut owners: [Vec<usize>; 4] = Default::default();
        for (i, b) in spec.bands.iter().enumerate() {
            let field = |f: &str| format!("bands[{i}].{f}");
            let days = DaySet::parse(b.days.iter().map(String::as_str))
                .map_err(|p| TariffError::new(field("days"), p))?;
            let start =
                parse_clock(&b.start, false).map_err(|p| TariffError::new(field("start"), p))?;
            let end = parse_clock(&b.end, true).map_err(|p| TariffError::new(field("end"), p))?;
            if start == end {
                return Err(TariffError::new(
                    field("end"),
                    "equals start; write 00:00 to 24:00 for a whole day",
                ));
            }
            if b.unit_minutes == 0 {
                return Err(TariffError::new(
                    field("unit_minutes"),
                    "must be at least 1",
                ));
            }
            non_negative(&field("unit_price"), b.unit_price)?;
            let band = u16::try_from(i).map_err(|_| TariffError::new("bands", "too many bands"))?;
            let spans: Vec<(i64, i64)> = if start < end {
                vec![(start, end)]
            } else if end == 0 {
                vec![(start, DAY)]
            } else {
                vec![(start, DAY), (0, end)]
            };
            for t in DayType::ALL {
                if days.contains(t) {
                    for &(s, e) in &spans {
                        pieces[t as usize].push(Piece {
                            start: s,
                            end: e,
                            band,
                        });
                        owners[t as usize].push(i);
                    }
                }
            }
            bands.push(Band {
                unit_secs: i64::from(b.unit_minutes) * 60,
                unit_price: b.unit_price,
            });
            labels.push(b.name.clone().unwrap_or_else(|| format!("bands[{i}]")));
        }
        if flat.is_none() {
            for t in DayType::ALL {
                let n = pieces[t as usize].len();
                if n > MAX_BANDS_PER_DAY_TYPE {
                    return Err(TariffError::new(
                        "bands",
                        format!(
                            "{} has {n} bands; at most {MAX_BANDS_PER_DAY_TYPE} are allowed (a band wrapping midnight counts twice)",
                            t.name()
                        ),
                    ));
                }
                if t == DayType::Holiday && !has_holidays {
                    // No date can be a holiday: holiday bands are optional.
                    continue;
                }
                check_cover(t, &mut pieces[t as usize], &owners[t as usize])?;
            }
        }

        let mut windows = Vec::new();
        let mut day_caps = Vec::new();
        let mut rolling: Vec<RollingCap> = Vec::new();
        for (i, c) in spec.caps.iter().enumerate() {
            let field = |f: &str| format!("caps[{i}].{f}");
            let cap = u16::try_from(i).map_err(|_| TariffError::new("caps", "too many caps"))?;
            match c {
                CapSpec::Window {
                    days,
                    start,
                    end,
                    amount,
                } => {
                    let days = DaySet::parse(days.iter().map(String::as_str))
                        .map_err(|p| TariffError::new(field("days"), p))?;
                    let s = parse_clock(start, false)
                        .map_err(|p| TariffError::new(field("start"), p))?;
                    let e =
                        parse_clock(end, true).map_err(|p| TariffError::new(field("end"), p))?;
                    if s == e {
                        return Err(TariffError::new(field("end"), "equals start"));
                    }
                    non_negative(&field("amount"), *amount)?;
                    let e = if e <= s { e + DAY } else { e };
                    let w = WindowCap {
                        cap,
                        days,
                        start: s,
                        end: e,
                        amount: *amount,
                    };
                    for other in &windows {
                        if windows_overlap(other, &w) {
                            return Err(TariffError::new(
                                format!("caps[{i}]"),
                                format!(
                                    "window overlaps the window of caps[{}]; window caps must not overlap",
                                    other.cap
                                ),
                            ));
                        }
                    }
                    windows.push(w);
                }
                CapSpec::CalendarDay { days, amount } => {
                    let days = DaySet::parse(days.iter().map(String::as_str))
                        .map_err(|p| TariffError::new(field("days"), p))?;
                    non_negative(&field("amount"), *amount)?;
                    day_caps.push(DayCap {
                        cap,
                        days,
                        amount: *amount,
                    });
                }
                CapSpec::Rolling {
                    hours,
                    amount,
                    repeat,
                } => {
                    if *hours == 0 {
                        return Err(TariffError::new(field("hours"), "must be at least 1"));
                    }
                    non_negative(&field("amount"), *amount)?;
                    rolling.push(RollingCap {
                        cap,
                        secs: i64::from(*hours) * 3600,
                        amount: *amount,
                        repeat: *repeat,
                    });
                }
            }
        }
        rolling.sort_by_key(|r| r.secs);
        for pair in rolling.windows(2) {
            let (short, long) = (pair[0], pair[1]);
            if long.secs % short.secs != 0 || long.secs == short.secs {
                return Err(TariffError::new(
                    format!("caps[{}].hours", long.cap),
                    format!(
                        "{} is not a longer multiple of the {}-hour rolling cap of caps[{}]; rolling caps must nest",
                        long.secs / 3600,
                        short.secs / 3600,
                        short.cap
                    ),
                ));
            }
        }

        Ok(Tariff {
            currency,
            tz,
            calendar,
            grace_secs: i64::from(spec.grace_minutes) * 60,
            free_secs: i64::from(spec.free_minutes) * 60,
            first,
            bands,
            labels: labels.into(),
            pieces,
            windows,
            day_caps,
            rolling,
            flat,
            max_stay_secs: spec.max_stay_hours.map(|h| i64::from(h) * 3600),
            spec,
        })
    }

    pub fn id(&self) -> &str {
        &self.spec.id
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The tariff as posted.
    pub fn spec(&self) -> &TariffSpec {
        &self.spec
    }

    /// The band (its index in `bands`) in force on local day `day` (a day
    /// number) at `second` of its wall clock, as pricing chooses it; `None`
    /// for a flat tariff.
    pub fn band_at(&self, day: i32, second: i64) -> Option<usize> {
        if self.flat.is_some() {
            return None;
        }
        let t = self.calendar.day_type(day);
        self.pieces[t as usize]
            .iter()
            .find(|p| second >= p.start && second < p.end)
            .map(|p| usize::from(p.band))
    }
}

/// What a tariff charges at one moment, as posted: the unit rate of the
/// band in force, or the flat fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// `bands[band]`: `unit_price` per started `unit_minutes`.
    Band {
        band: usize,
        unit_minutes: u32,
        unit_price: i64,
    },
    /// One fee per stay, or per started `period_hours`.
    Flat {
        amount: i64,
        period_hours: Option<u32>,
    },
    /// No band covers the moment (a gap in the posted bands).
    None,
}

impl Tariff {
    /// The rate in force at `at` (its wall clock in the tariff's time
    /// zone, its day type by the tariff's calendar).
    pub fn rate_at(&self, at: jiff::Timestamp) -> Rate {
        if let Some(f) = &self.spec.flat {
            return Rate::Flat {
                amount: f.amount,
                period_hours: f.period_hours,
            };
        }
        let local = at.to_zoned(self.tz.clone());
        let t = local.time();
        let second =
            i64::from(t.hour()) * 3600 + i64::from(t.minute()) * 60 + i64::from(t.second());
        let day = crate::calendar::day_number(local.date());
        match self
            .band_at(day, second)
            .and_then(|i| Some((i, self.spec.bands.get(i)?)))
        {
            Some((band, b)) => Rate::Band {
                band,
                unit_minutes: b.unit_minutes,
                unit_price: b.unit_price,
            },
            None => Rate::None,
        }
    }

    /// The most a stay pays in any 24 hours after its entry, where a
    /// rolling 24-hour cap says so.
    pub fn day_max(&self) -> Option<i64> {
        self.rolling
            .iter()
            .filter(|r| r.secs == 24 * 3600)
            .map(|r| r.amount)
            .min()
    }
}

/// The largest amount a tariff may name: far above any real price, and
/// small enough that no stay's sum can overflow.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// How complex a tariff may be. Tariffs come from operators through an API
/// and are priced in small functions, so these bound the work and memory
/// of the worst quote a valid tariff can ask for (1,000 days of it stays
/// well under 50 MB and 200 ms; see the `quote` benchmark and the
/// `limits` test). Real tariffs use a handful of each.
pub const MAX_BANDS: usize = 192;
/// Bands in force on one day type, counting a band that wraps past
/// midnight twice: a change every half hour.
pub const MAX_BANDS_PER_DAY_TYPE: usize = 48;
pub const MAX_WINDOW_CAPS: usize = 8;
pub const MAX_CALENDAR_DAY_CAPS: usize = 4;
pub const MAX_ROLLING_CAPS: usize = 4;
/// An operator's extra holiday dates: a year of closures and more.
pub const MAX_EXTRA_HOLIDAYS: usize = 400;
/// Characters in an id or a band name.
pub const MAX_NAME_CHARS: usize = 64;

fn check_limits(spec: &TariffSpec) -> Result<(), TariffError> {
    let too_many = |field: &str, what: &str, max: usize, got: usize| {
        if got > max {
            Err(TariffError::new(
                field,
                format!("at most {max} {what} are allowed (got {got})"),
            ))
        } else {
            Ok(())
        }
    };
    too_many("id", "characters", MAX_NAME_CHARS, spec.id.chars().count())?;
    too_many("bands", "bands", MAX_BANDS, spec.bands.len())?;
    for (i, b) in spec.bands.iter().enumerate() {
        if let Some(name) = &b.name {
            too_many(
                &format!("bands[{i}].name"),
                "characters",
                MAX_NAME_CHARS,
                name.chars().count(),
            )?;
        }
    }
    let count = |f: fn(&CapSpec) -> bool| spec.caps.iter().filter(|c| f(c)).count();
    too_many(
        "caps",
        "window caps",
        MAX_WINDOW_CAPS,
        count(|c| matches!(c, CapSpec::Window { .. })),
    )?;
    too_many(
        "caps",
        "calendar_day caps",
        MAX_CALENDAR_DAY_CAPS,
        count(|c| matches!(c, CapSpec::CalendarDay { .. })),
    )?;
    too_many(
        "caps",
        "rolling caps",
        MAX_ROLLING_CAPS,
        count(|c| matches!(c, CapSpec::Rolling { .. })),
    )?;
    if let Some(h) = &spec.holidays {
        too_many(
            "holidays.extra",
            "extra dates",
            MAX_EXTRA_HOLIDAYS,
            h.extra.len(),
        )?;
    }
    Ok(())
}

fn non_negative(field: &str, amount: i64) -> Result<(), TariffError> {
    if amount < 0 {
        Err(TariffError::new(
            field,
            format!("must not be negative (got {amount})"),
        ))
    } else if amount > MAX_AMOUNT {
        Err(TariffError::new(
            field,
            format!("must be at most {MAX_AMOUNT} (got {amount})"),
        ))
    } else {
        Ok(())
    }
}

fn compile_holidays(spec: Option<&HolidaysSpec>) -> Result<(Calendar, bool), TariffError> {
    let Some(h) = spec else {
        return Ok((Calendar::default(), false));
    };
    let country = match h.country.as_deref() {
        None => None,
        Some("JP") => Some(Country::Jp),
        Some(other) => {
            return Err(TariffError::new(
                "holidays.country",
                format!("unsupported country {other:?} (supported: JP)"),
            ));
        }
    };
    let mut extra = Vec::with_capacity(h.extra.len());
    for (i, d) in h.extra.iter().enumerate() {
        let date: Date = d.parse().map_err(|_| {
            TariffError::new(
                format!("holidays.extra[{i}]"),
                format!("expected a date YYYY-MM-DD, got {d:?}"),
            )
        })?;
        extra.push(date);
    }
    let any = country.is_some() || !extra.is_empty();
    Ok((Calendar::new(country, extra), any))
}

/// Parses `HH:MM` into seconds of the day; `24:00` only where `allow_24`.
pub(crate) fn parse_clock(s: &str, allow_24: bool) -> Result<i64, String> {
    let bad = || format!("expected a time HH:MM from 00:00 to 24:00, got {s:?}");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: i64 = h.parse().map_err(|_| bad())?;
    let m: i64 = m.parse().map_err(|_| bad())?;
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    if h == 24 && !allow_24 {
        return Err(format!("24:00 can only end a range, got {s:?} as a start"));
    }
    Ok(h * 3600 + m * 60)
}

fn clock(secs: i64) -> String {
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

/// Checks that a day type's pieces cover the day exactly once, and sorts them.
fn check_cover(t: DayType, pieces: &mut [Piece], owners: &[usize]) -> Result<(), TariffError> {
    let mut order: Vec<usize> = (0..pieces.len()).collect();
    order.sort_by_key(|&i| (pieces[i].start, pieces[i].end));
    let sorted: Vec<(Piece, usize)> = order.iter().map(|&i| (pieces[i], owners[i])).collect();
    let mut at = 0;
    let mut last_owner = None;
    for &(p, owner) in &sorted {
        if p.start > at {
            return Err(TariffError::new(
                "bands",
                format!(
                    "{} has no band from {} to {}",
                    t.name(),
                    clock(at),
                    clock(p.start)
                ),
            ));
        }
        if p.start < at {
            return Err(TariffError::new(
                "bands",
                format!(
                    "{} is covered twice from {} to {} (bands[{}] and bands[{}])",
                    t.name(),
                    clock(p.start),
                    clock(at.min(p.end)),
                    last_owner.unwrap_or(owner),
                    owner
                ),
            ));
        }
        at = p.end;
        last_owner = Some(owner);
    }
    if at < DAY {
        return Err(TariffError::new(
            "bands",
            format!("{} has no band from {} to 24:00", t.name(), clock(at)),
        ));
    }
    for (slot, (p, _)) in pieces.iter_mut().zip(sorted) {
        *slot = p;
    }
    Ok(())
}

/// Whether two window caps can ever have overlapping occurrences: on the
/// same day (when their days intersect) or one running into the next day.
fn windows_overlap(a: &WindowCap, b: &WindowCap) -> bool {
    let overlap = |s1: i64, e1: i64, s2: i64, e2: i64| s1 < e2 && s2 < e1;
    (a.days.intersects(b.days) && overlap(a.start, a.end, b.start, b.end))
        || overlap(a.start, a.end, b.start + DAY, b.end + DAY)
        || overlap(b.start, b.end, a.start + DAY, a.end + DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        match Tariff::from_json(json) {
            Ok(_) => "accepted".into(),
            Err(e) => e.to_string(),
        }
    }

    const BASE: &str = r#""id":"t","currency":"JPY","time_zone":"Asia/Tokyo""#;

    #[test]
    fn names_the_field_and_the_problem() {
        let band =
            r#"{"days":["all"],"start":"00:00","end":"24:00","unit_minutes":20,"unit_price":300}"#;
        assert_eq!(
            err(&format!(
                r#"{{{BASE},"bands":[{band}],"caps":[{{"kind":"rolling","hours":24,"amount":-5}}]}}"#
            )),
            "caps[0].amount: must not be negative (got -5)"
        );
        assert_eq!(
            err(r#"{"id":"t","currency":"JPY","time_zone":"Asia/Tokio","bands":[]}"#),
            r#"time_zone: unknown IANA time zone "Asia/Tokio""#
        );
        assert_eq!(
            err(r#"{"id":"t","currency":"YEN","time_zone":"Asia/Tokyo","bands":[]}"#),
            r#"currency: unknown ISO 4217 currency code "YEN""#
        );
        let e = err(&format!(
            r#"{{{BASE},"bands":[{{"days":["all"],"start":"00:00","end":"24:00","unit_minutes":-1,"unit_price":300}}]}}"#
        ));
        assert!(e.starts_with("bands[0].unit_minutes: invalid value"), "{e}");
        assert_eq!(
            err(&format!(
                r#"{{{BASE},"bands":[{{"days":["all"],"start":"00:00","end":"24:00","unit_minutes":0,"unit_price":300}}]}}"#
            )),
            "bands[0].unit_minutes: must be at least 1"
        );
        let e = err(&format!(r#"{{{BASE},"bands":[{band}],"grace_minute":5}}"#));
        assert!(e.starts_with("grace_minute: unknown field"), "{e}");
    }

    #[test]
    fn the_rate_in_force_follows_the_wall_clock_and_the_day_type() {
        let text = include_str!("../../../fixtures/tariffs/shinjuku-west.json");
        let tariff = Tariff::from_json(text).expect("tariff");
        let at = |t: &str| tariff.rate_at(t.parse().expect("time"));
        // A Monday at 09:00 and 23:00 in Tokyo; a Sunday at noon; a
        // holiday (New Year's Day, a Friday) at noon.
        assert_eq!(
            at("2026-12-07T00:00:00Z"),
            Rate::Band {
                band: 0,
                unit_minutes: 20,
                unit_price: 300
            }
        );
        assert_eq!(
            at("2026-12-07T14:00:00Z"),
            Rate::Band {
                band: 1,
                unit_minutes: 60,
                unit_price: 100
            }
        );
        assert_eq!(
            at("2026-12-06T03:00:00Z"),
            Rate::Band {
                band: 2,
                unit_minutes: 20,
                unit_price: 400
            }
        );
        assert_eq!(
            at("2027-01-01T03:00:00Z"),
            Rate::Band {
                band: 2,
                unit_minutes: 20,
                unit_price: 400
            }
        );
        // The 24-hour rolling cap, not the week's.
        assert_eq!(tariff.day_max(), Some(1500));
        let flat = Tariff::from_json(include_str!("../../../fixtures/tariffs/flat-daily.json"))
            .expect("flat");
        assert!(matches!(
            flat.rate_at("2026-12-07T00:00:00Z".parse().expect("time")),
            Rate::Flat { .. }
        ));
    }

    #[test]
    fn bands_must_cover_each_day_once() {
        let gap = format!(
            r#"{{{BASE},"bands":[{{"days":["all"],"start":"08:00","end":"22:00","unit_minutes":20,"unit_price":300}},
            {{"days":["all"],"start":"23:00","end":"08:00","unit_minutes":60,"unit_price":100}}]}}"#
        );
        assert_eq!(err(&gap), "bands: weekday has no band from 22:00 to 23:00");
        let overlap = format!(
            r#"{{{BASE},"bands":[{{"days":["all"],"start":"08:00","end":"22:00","unit_minutes":20,"unit_price":300}},
            {{"days":["weekday"],"start":"21:00","end":"08:00","unit_minutes":60,"unit_price":100}},
            {{"days":["weekend"],"start":"22:00","end":"08:00","unit_minutes":60,"unit_price":100}}]}}"#
        );
        assert_eq!(
            err(&overlap),
            "bands: weekday is covered twice from 21:00 to 22:00 (bands[0] and bands[1])"
        );
        let missing_holiday = format!(
            r#"{{{BASE},"holidays":{{"country":"JP"}},"bands":[{{"days":["weekday","weekend"],"start":"00:00","end":"24:00","unit_minutes":20,"unit_price":300}}]}}"#
        );
        assert_eq!(
            err(&missing_holiday),
            "bands: holiday has no band from 00:00 to 24:00"
        );
    }

    #[test]
    fn rolling_caps_must_nest_and_windows_must_not_overlap() {
        let band =
            r#"{"days":["all"],"start":"00:00","end":"24:00","unit_minutes":20,"unit_price":300}"#;
        let e = err(&format!(
            r#"{{{BASE},"bands":[{band}],"caps":[{{"kind":"rolling","hours":24,"amount":1}},{{"kind":"rolling","hours":36,"amount":2}}]}}"#
        ));
        assert!(
            e.starts_with("caps[1].hours: 36 is not a longer multiple"),
            "{e}"
        );
        let e = err(&format!(
            r#"{{{BASE},"bands":[{band}],"caps":[{{"kind":"window","days":["all"],"start":"20:00","end":"08:00","amount":1}},{{"kind":"window","days":["weekday"],"start":"07:00","end":"09:00","amount":2}}]}}"#
        ));
        assert!(
            e.starts_with("caps[1]: window overlaps the window of caps[0]"),
            "{e}"
        );
        // Weekday nights and weekend evenings that never meet are fine.
        let ok = err(&format!(
            r#"{{{BASE},"bands":[{band}],"caps":[{{"kind":"window","days":["weekday"],"start":"20:00","end":"08:00","amount":1}},{{"kind":"window","days":["weekend"],"start":"18:00","end":"08:00","amount":2}}]}}"#
        ));
        assert_eq!(ok, "accepted");
    }

    #[test]
    fn clocks_parse_strictly() {
        assert_eq!(parse_clock("08:30", false), Ok(30_600));
        assert_eq!(parse_clock("24:00", true), Ok(DAY));
        assert!(parse_clock("24:00", false).is_err());
        assert!(parse_clock("8:30", false).is_err());
        assert!(parse_clock("08:60", false).is_err());
        assert!(parse_clock("24:30", true).is_err());
    }
}
