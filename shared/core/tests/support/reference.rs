//! A deliberately naive reference pricer, independent of the engine.
//!
//! It reads the tariff in its posted JSON form, walks the stay one minute at
//! a time, asks jiff for the local date and clock of every minute, looks the
//! band, the window-cap occurrence and the rolling period up from scratch,
//! joins minutes with the same answers into segments, and then applies the
//! caps with maps. It shares nothing with the engine but the holiday
//! calendar (which has its own test against an independent list).

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use parking_core::calendar::{Calendar, Country, DaySet, DayType, day_number};
use parking_core::tariff::{CapSpec, TariffSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefQuote {
    pub subtotal: i64,
    pub total: i64,
}

fn minutes(clock: &str) -> i64 {
    let (h, m) = clock.split_once(':').expect("HH:MM");
    h.parse::<i64>().expect("hour") * 60 + m.parse::<i64>().expect("minute")
}

fn days(names: &[String]) -> DaySet {
    DaySet::parse(names.iter().map(String::as_str)).expect("days")
}

/// Whether minute-of-day `m` lies in `[start, end)`, wrapping past midnight
/// when `end <= start`.
fn in_range(m: i64, start: i64, end: i64) -> bool {
    if start < end {
        start <= m && m < end
    } else {
        m >= start || m < end
    }
}

struct Window {
    days: DaySet,
    start: i64,
    end: i64,
    amount: i64,
}

pub fn price(
    spec: &TariffSpec,
    entry: Timestamp,
    exit: Timestamp,
    discount_minutes: u32,
    discount_amount: i64,
) -> RefQuote {
    let zero = RefQuote {
        subtotal: 0,
        total: 0,
    };
    let tz = TimeZone::get(&spec.time_zone).expect("zone");
    let calendar = match &spec.holidays {
        None => Calendar::default(),
        Some(h) => Calendar::new(
            h.country.as_deref().map(|_| Country::Jp),
            h.extra.iter().map(|d| d.parse::<Date>().expect("date")),
        ),
    };
    let day_type = |d: Date| -> DayType { calendar.day_type(day_number(d)) };
    let (e, x) = (entry.as_second(), exit.as_second());
    if x <= e || x - e <= i64::from(spec.grace_minutes) * 60 {
        return zero;
    }
    let free_end = e + i64::from(spec.free_minutes + discount_minutes) * 60;
    if free_end >= x {
        return zero;
    }

    let subtotal = if let Some(flat) = &spec.flat {
        let periods = match flat.period_hours {
            None => 1,
            Some(h) => {
                let p = i64::from(h) * 3600;
                let mut n = 0;
                let mut t = free_end;
                while t < x {
                    n += 1;
                    t += p;
                }
                n
            }
        };
        periods * flat.amount
    } else {
        let mut rolling: Vec<(i64, i64, bool)> = Vec::new();
        let mut windows = Vec::new();
        let mut day_caps = Vec::new();
        for c in &spec.caps {
            match c {
                CapSpec::Rolling {
                    hours,
                    amount,
                    repeat,
                } => rolling.push((i64::from(*hours) * 3600, *amount, *repeat)),
                CapSpec::Window {
                    days: d,
                    start,
                    end,
                    amount,
                } => windows.push(Window {
                    days: days(d),
                    start: minutes(start),
                    end: minutes(end) % 1440,
                    amount: *amount,
                }),
                CapSpec::CalendarDay { days: d, amount } => day_caps.push((days(d), *amount)),
            }
        }
        rolling.sort();
        let h0 = rolling.first().map(|r| r.0);
        let period_of = |t: i64| h0.map_or(0, |h| (t - e) / h);
        let local_date = |t: i64| {
            Timestamp::from_second(t)
                .expect("ts")
                .to_zoned(tz.clone())
                .date()
        };

        let mut band_start = free_end;
        let mut first = None;
        if let Some(f) = &spec.first {
            band_start += i64::from(f.minutes) * 60;
            first = Some((period_of(free_end), local_date(free_end), f.price));
        }

        // (start, end, band, window occurrence, period, date)
        type Key = (usize, Option<(usize, Date)>, i64, Date);
        let mut segs: Vec<(i64, i64, Key)> = Vec::new();
        let mut t = band_start;
        while t < x {
            let mut next = ((t.div_euclid(60)) + 1) * 60;
            if let Some(h) = h0 {
                next = next.min(e + ((t - e) / h + 1) * h);
            }
            next = next.min(x);
            let z = Timestamp::from_second(t).expect("ts").to_zoned(tz.clone());
            let date = z.date();
            let m = i64::from(z.hour()) * 60 + i64::from(z.minute());
            let dt = day_type(date);
            let band = spec
                .bands
                .iter()
                .position(|b| {
                    days(&b.days).contains(dt)
                        && in_range(m, minutes(&b.start), minutes(&b.end) % 1440)
                })
                .expect("a band covers every minute");
            let window = windows.iter().enumerate().find_map(|(i, w)| {
                if w.start < w.end {
                    (w.start <= m && m < w.end && w.days.contains(dt)).then_some((i, date))
                } else if m >= w.start && w.days.contains(dt) {
                    Some((i, date))
                } else if m < w.end {
                    let yesterday = date.yesterday().expect("date");
                    w.days
                        .contains(day_type(yesterday))
                        .then_some((i, yesterday))
                } else {
                    None
                }
            });
            let key: Key = (
                band,
                window,
                period_of(t),
                if day_caps.is_empty() { Date::MIN } else { date },
            );
            match segs.last_mut() {
                Some(last) if last.2 == key && last.1 == t => last.1 = next,
                _ => segs.push((t, next, key)),
            }
            t = next;
        }

        let mut window_sums: BTreeMap<(i64, usize, Date), i64> = BTreeMap::new();
        let mut date_sums: BTreeMap<(i64, Date), i64> = BTreeMap::new();
        for &(s, end, (band, window, period, _)) in &segs {
            let b = &spec.bands[band];
            let unit = i64::from(b.unit_minutes) * 60;
            let mut units = 0;
            let mut covered = 0;
            while covered < end - s {
                units += 1;
                covered += unit;
            }
            let amount = units * b.unit_price;
            match window {
                Some((i, occ)) => *window_sums.entry((period, i, occ)).or_default() += amount,
                None => *date_sums.entry((period, local_date(s))).or_default() += amount,
            }
        }
        for ((period, i, occ), sum) in window_sums {
            *date_sums.entry((period, occ)).or_default() += sum.min(windows[i].amount);
        }
        if let Some((period, date, price)) = first {
            *date_sums.entry((period, date)).or_default() += price;
        }
        let mut periods: BTreeMap<i64, i64> = BTreeMap::new();
        for ((period, date), mut sum) in date_sums {
            for &(d, amount) in &day_caps {
                if d.contains(day_type(date)) {
                    sum = sum.min(amount);
                }
            }
            *periods.entry(period).or_default() += sum;
        }
        let mut level = periods;
        let mut unit = h0.unwrap_or(1);
        for &(secs, amount, repeat) in &rolling {
            let factor = secs / unit;
            let mut next: BTreeMap<i64, i64> = BTreeMap::new();
            for (k, v) in level {
                *next.entry(k / factor).or_default() += v;
            }
            for (k, v) in next.iter_mut() {
                if repeat || *k == 0 {
                    *v = (*v).min(amount);
                }
            }
            level = next;
            unit = secs;
        }
        level.values().sum()
    };
    let after = (subtotal - discount_amount).max(0);
    let total = match spec.tax {
        Some(t) if !t.inclusive => after + after * i64::from(t.rate_bp) / 10_000,
        _ => after,
    };
    RefQuote { subtotal, total }
}
