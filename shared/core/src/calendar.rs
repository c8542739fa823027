//! Day numbers, day types and Japanese national holidays.
//!
//! Pricing works on *local day numbers*: the number of days since
//! 1970-01-01 of a date in the tariff's time zone. A day number is cheap to
//! step through and maps to its weekday and holiday status without any
//! calendar arithmetic in the hot loop.

use std::sync::OnceLock;

use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn day_number(date: Date) -> i32 {
    // Howard Hinnant's `days_from_civil`.
    let (y, m, d) = (
        i32::from(date.year()),
        i32::from(date.month()),
        i32::from(date.day()),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
pub fn date_of(day: i32) -> Date {
    // Howard Hinnant's `civil_from_days`.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i32::from(m <= 2);
    // Day numbers come from timestamps jiff already accepted, so the date is
    // always within jiff's range; fall back to its limits rather than panic.
    Date::new(y as i16, m as i8, d as i8).unwrap_or(if day < 0 { Date::MIN } else { Date::MAX })
}

/// 0 = Monday … 6 = Sunday.
fn weekday_index(day: i32) -> i32 {
    (day + 3).rem_euclid(7)
}

/// What kind of day a local date is, for tariffs. Every date is exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayType {
    Weekday = 0,
    Saturday = 1,
    Sunday = 2,
    Holiday = 3,
}

impl DayType {
    pub const ALL: [DayType; 4] = [
        DayType::Weekday,
        DayType::Saturday,
        DayType::Sunday,
        DayType::Holiday,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DayType::Weekday => "weekday",
            DayType::Saturday => "saturday",
            DayType::Sunday => "sunday",
            DayType::Holiday => "holiday",
        }
    }
}

/// A set of day types, as written in a tariff's `days` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DaySet(u8);

impl DaySet {
    pub const ALL: DaySet = DaySet(0b1111);

    pub fn contains(self, t: DayType) -> bool {
        self.0 & (1 << t as u8) != 0
    }

    pub fn intersects(self, other: DaySet) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses the names in a `days` list: `weekday`, `saturday`, `sunday`,
    /// `holiday`, and the shorthands `weekend` and `all`.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<DaySet, String> {
        let mut bits = 0u8;
        for name in names {
            bits |= match name {
                "weekday" => 1 << DayType::Weekday as u8,
                "saturday" => 1 << DayType::Saturday as u8,
                "sunday" => 1 << DayType::Sunday as u8,
                "holiday" => 1 << DayType::Holiday as u8,
                "weekend" => (1 << DayType::Saturday as u8) | (1 << DayType::Sunday as u8),
                "all" => DaySet::ALL.0,
                other => {
                    return Err(format!(
                        "unknown day type {other:?} (expected weekday, saturday, sunday, holiday, weekend or all)"
                    ));
                }
            };
        }
        if bits == 0 {
            return Err("must name at least one day type".into());
        }
        Ok(DaySet(bits))
    }
}

/// Countries whose national holidays are known by rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Country {
    #[serde(rename = "JP")]
    Jp,
}

/// Which dates are holidays for one tariff: a country's national holidays
/// plus the operator's extra dates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    country: Option<Country>,
    /// Sorted, deduplicated day numbers.
    extra: Vec<i32>,
}

impl Calendar {
    pub fn new(country: Option<Country>, extra: impl IntoIterator<Item = Date>) -> Self {
        let mut extra: Vec<i32> = extra.into_iter().map(day_number).collect();
        extra.sort_unstable();
        extra.dedup();
        Calendar { country, extra }
    }

    pub fn is_holiday(&self, day: i32) -> bool {
        let national = match self.country {
            Some(Country::Jp) => jp_table().contains(day),
            None => false,
        };
        national || (!self.extra.is_empty() && self.extra.binary_search(&day).is_ok())
    }

    /// The day type of a local day number: a holiday beats saturday/sunday.
    pub fn day_type(&self, day: i32) -> DayType {
        if self.is_holiday(day) {
            return DayType::Holiday;
        }
        match weekday_index(day) {
            5 => DayType::Saturday,
            6 => DayType::Sunday,
            _ => DayType::Weekday,
        }
    }
}

/// First and last years whose Japanese holidays are computed by rule.
/// Dates outside the range have no national holidays.
pub const JP_FIRST_YEAR: i16 = 1980;
pub const JP_LAST_YEAR: i16 = 2099;

/// Japanese national holidays (国民の祝日, 振替休日 and 国民の休日) of one year,
/// in date order. Empty outside [`JP_FIRST_YEAR`]..=[`JP_LAST_YEAR`].
pub fn japanese_holidays(year: i16) -> Vec<Date> {
    if !(JP_FIRST_YEAR..=JP_LAST_YEAR).contains(&year) {
        return Vec::new();
    }
    let named = jp_named_holidays(year);
    let is_named = |d: Date| named.contains(&d);
    let mut all = named.clone();

    // 振替休日: a named holiday on a Sunday moves a day off to the Monday
    // (from 1973-04-12); from 2007, to the next day that is not a holiday.
    let mut substitutes = Vec::new();
    for &h in &named {
        if h.weekday() != Weekday::Sunday {
            continue;
        }
        let mut d = h.tomorrow().unwrap_or(h);
        if year >= 2007 {
            while is_named(d) {
                d = d.tomorrow().unwrap_or(d);
            }
        }
        if !is_named(d) && d.year() == year {
            substitutes.push(d);
        }
    }
    all.extend(substitutes.iter().copied());

    // 国民の休日: a day between two named holidays that is not itself one
    // (from 1986; until 2006 not on a Sunday nor on a substitute holiday).
    if year >= 1986 {
        for &h in &named {
            let (Ok(mid), Ok(next)) = (h.tomorrow(), h.checked_add(jiff::Span::new().days(2)))
            else {
                continue;
            };
            if is_named(next) && !is_named(mid) && mid.year() == year {
                let old_rule_excludes =
                    year < 2007 && (mid.weekday() == Weekday::Sunday || substitutes.contains(&mid));
                if !old_rule_excludes && !all.contains(&mid) {
                    all.push(mid);
                }
            }
        }
    }
    all.sort_unstable();
    all.dedup();
    all
}

fn nth_monday(year: i16, month: i8, nth: i8) -> Date {
    let first = Date::new(year, month, 1).unwrap_or(Date::MIN);
    first
        .nth_weekday_of_month(nth, Weekday::Monday)
        .unwrap_or(first)
}

/// Equinox days by the standard approximation, valid 1980–2099.
fn equinox_day(year: i16, base_micro: i64) -> i8 {
    let n = i64::from(year) - 1980;
    ((base_micro + 242_194 * n) / 1_000_000 - n / 4) as i8
}

fn jp_named_holidays(year: i16) -> Vec<Date> {
    let d = |m: i8, day: i8| Date::new(year, m, day).unwrap_or(Date::MIN);
    let mut v = vec![
        d(1, 1),
        d(2, 11),
        d(4, 29),
        d(5, 3),
        d(5, 5),
        d(11, 3),
        d(11, 23),
    ];
    // Coming of Age Day
    v.push(if year <= 1999 {
        d(1, 15)
    } else {
        nth_monday(year, 1, 2)
    });
    // Emperor's Birthday
    if (1989..=2018).contains(&year) {
        v.push(d(12, 23));
    } else if year >= 2020 {
        v.push(d(2, 23));
    }
    v.push(d(3, equinox_day(year, 20_843_100)));
    v.push(d(9, equinox_day(year, 23_248_800)));
    // Greenery Day moved to May 4 in 2007.
    if year >= 2007 {
        v.push(d(5, 4));
    }
    // Marine Day
    match year {
        1996..=2002 => v.push(d(7, 20)),
        2020 => v.push(d(7, 23)),
        2021 => v.push(d(7, 22)),
        y if y >= 2003 => v.push(nth_monday(year, 7, 3)),
        _ => {}
    }
    // Mountain Day
    match year {
        2020 => v.push(d(8, 10)),
        2021 => v.push(d(8, 8)),
        y if y >= 2016 => v.push(d(8, 11)),
        _ => {}
    }
    // Respect for the Aged Day
    v.push(if year <= 2002 {
        d(9, 15)
    } else {
        nth_monday(year, 9, 3)
    });
    // Health and Sports Day / Sports Day
    match year {
        ..=1999 => v.push(d(10, 10)),
        2020 => v.push(d(7, 24)),
        2021 => v.push(d(7, 23)),
        _ => v.push(nth_monday(year, 10, 2)),
    }
    // One-off holidays by special law.
    match year {
        1989 => v.push(d(2, 24)),  // Funeral of Emperor Shōwa
        1990 => v.push(d(11, 12)), // Enthronement ceremony
        1993 => v.push(d(6, 9)),   // Wedding of the Crown Prince
        2019 => {
            v.push(d(5, 1)); // Accession of the Emperor
            v.push(d(10, 22)); // Enthronement ceremony
        }
        _ => {}
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// A bit per day for every Japanese holiday of the supported years.
struct HolidayBits {
    first_day: i32,
    bits: Vec<u64>,
}

impl HolidayBits {
    fn contains(&self, day: i32) -> bool {
        let Ok(i) = usize::try_from(day - self.first_day) else {
            return false;
        };
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

fn jp_table() -> &'static HolidayBits {
    static TABLE: OnceLock<HolidayBits> = OnceLock::new();
    TABLE.get_or_init(|| {
        let first_day = day_number(Date::new(JP_FIRST_YEAR, 1, 1).unwrap_or(Date::MIN));
        let last_day = day_number(Date::new(JP_LAST_YEAR, 12, 31).unwrap_or(Date::MIN));
        let len = (last_day - first_day + 1) as usize;
        let mut bits = vec![0u64; len.div_ceil(64)];
        for year in JP_FIRST_YEAR..=JP_LAST_YEAR {
            for h in japanese_holidays(year) {
                let i = (day_number(h) - first_day) as usize;
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        HolidayBits { first_day, bits }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn day_numbers_round_trip() {
        assert_eq!(day_number(date(1970, 1, 1)), 0);
        assert_eq!(day_number(date(2026, 11, 24)), 20_781);
        for n in [-800_000, -1, 0, 59, 60, 20_781, 2_000_000] {
            assert_eq!(day_number(date_of(n)), n);
        }
        // 2026-11-24 is a Tuesday.
        assert_eq!(weekday_index(20_781), 1);
    }

    #[test]
    fn holidays_beat_weekends_and_extras_count() {
        let cal = Calendar::new(Some(Country::Jp), [date(2026, 12, 31)]);
        let t = |d: Date| cal.day_type(day_number(d));
        assert_eq!(t(date(2026, 11, 24)), DayType::Weekday);
        assert_eq!(t(date(2026, 11, 28)), DayType::Saturday);
        assert_eq!(t(date(2026, 11, 29)), DayType::Sunday);
        assert_eq!(t(date(2026, 11, 23)), DayType::Holiday);
        assert_eq!(t(date(2026, 12, 31)), DayType::Holiday);
        // 2020-02-23 (Emperor's Birthday) fell on a Sunday.
        assert_eq!(t(date(2020, 2, 23)), DayType::Holiday);
        assert_eq!(t(date(2020, 2, 24)), DayType::Holiday);
    }

    #[test]
    fn special_cases_2019_to_2021() {
        let h = japanese_holidays(2019);
        for d in [
            date(2019, 4, 30),
            date(2019, 5, 1),
            date(2019, 5, 2),
            date(2019, 10, 22),
        ] {
            assert!(h.contains(&d), "{d}");
        }
        assert!(!h.contains(&date(2019, 12, 23)));
        let h = japanese_holidays(2021);
        for d in [
            date(2021, 7, 22),
            date(2021, 7, 23),
            date(2021, 8, 8),
            date(2021, 8, 9),
        ] {
            assert!(h.contains(&d), "{d}");
        }
        // Silver week 2026: Mon 21 Respect for the Aged, Wed 23 equinox.
        assert!(japanese_holidays(2026).contains(&date(2026, 9, 22)));
    }

    #[test]
    fn day_sets_parse_shorthands() {
        let s = DaySet::parse(["weekend"]).unwrap_or_default();
        assert!(s.contains(DayType::Saturday) && s.contains(DayType::Sunday));
        assert!(!s.contains(DayType::Holiday));
        assert_eq!(DaySet::parse(["all"]), Ok(DaySet::ALL));
        assert!(DaySet::parse(["funday"]).is_err());
        assert!(DaySet::parse([]).is_err());
    }
}
