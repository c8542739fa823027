//! Pricing a stay against a compiled [`Tariff`]. The rules are written out
//! in the crate documentation; this module is their implementation.

use std::sync::Arc;

use jiff::Timestamp;

use crate::money::apply_tax;
use crate::quote::*;
use crate::tariff::{DAY, Tariff};

const NO_WINDOW: u16 = u16::MAX;

/// A piece of the stay between two cuts, before caps.
#[derive(Debug, Clone, Copy)]
struct Seg {
    start: i64,
    end: i64,
    band: u16,
    /// Index into `Tariff::windows`, or [`NO_WINDOW`].
    window: u16,
    /// Local day number the window occurrence started on.
    occ_day: i64,
    /// Local day number of the segment's start.
    day: i64,
    /// Index of the shortest rolling period, counted from entry.
    period: i64,
    units: i64,
    amount: i64,
}

/// Charges of one local date within one rolling period.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    day: i64,
    amount: i64,
    start: i64,
    end: i64,
}

/// The charged pieces of one window-cap occurrence within one rolling
/// period: the sum to cap and the span it covers.
#[derive(Debug, Clone, Copy)]
struct Occurrence {
    window: u16,
    occ_day: i64,
    sum: i64,
    start: i64,
    end: i64,
}

fn ts(secs: i64) -> Timestamp {
    // Every instant priced lies between two valid timestamps.
    Timestamp::from_second(secs).unwrap_or(if secs < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

impl Tariff {
    /// Prices a stay.
    pub fn quote(&self, stay: &Stay) -> Result<Quote, PricingError> {
        if stay.exit < stay.entry {
            return Err(PricingError::ExitBeforeEntry {
                entry: stay.entry,
                exit: stay.exit,
            });
        }
        if stay.discount.amount < 0 {
            return Err(PricingError::NegativeDiscount(stay.discount.amount));
        }
        let entry = stay.entry.as_second();
        let exit = stay.exit.as_second();
        if exit - entry > MAX_STAY_DAYS * DAY {
            return Err(PricingError::StayTooLong {
                days: (exit - entry) / DAY,
            });
        }
        let mut q = Quote {
            tariff_id: Arc::from(self.spec.id.as_str()),
            currency: self.currency,
            entry: stay.entry,
            exit: stay.exit,
            subtotal: 0,
            discount: 0,
            total: 0,
            tax: 0,
            tax_inclusive: self.spec.tax.is_none_or(|t| t.inclusive),
            lines: Vec::new(),
            caps: Vec::new(),
            flags: Vec::new(),
            tz: self.tz.clone(),
            labels: Arc::clone(&self.labels),
        };
        let stayed = exit - entry;
        if self.max_stay_secs.is_some_and(|max| stayed > max) {
            q.flags.push(Flag::Overstay);
        }
        if stayed == 0 {
            return Ok(q);
        }
        if stayed <= self.grace_secs {
            q.flags.push(Flag::Grace);
            return Ok(q);
        }
        let charge_from = entry + self.free_secs + i64::from(stay.discount.minutes) * 60;
        if charge_from >= exit {
            q.flags.push(Flag::Free);
            return Ok(q);
        }
        let subtotal = match self.flat {
            Some(flat) => {
                let units = match flat.period_secs {
                    Some(p) => (exit - charge_from + p - 1) / p,
                    None => 1,
                };
                let amount = units.saturating_mul(flat.amount);
                q.lines.push(Line {
                    start: ts(charge_from),
                    end: stay.exit,
                    kind: LineKind::Flat,
                    units,
                    unit_price: flat.amount,
                    amount,
                });
                amount
            }
            None => self.price_bands(entry, charge_from, exit, &mut q),
        };
        q.subtotal = subtotal;
        q.discount = stay.discount.amount.min(subtotal);
        let (tax, total) = apply_tax(subtotal - q.discount, self.spec.tax);
        q.tax = tax;
        q.total = total;
        Ok(q)
    }

    /// The UTC offset in force at `t` and the next instant it changes.
    fn offset_span(&self, t: i64) -> (i64, i64) {
        let at = ts(t);
        let offset = i64::from(self.tz.to_offset(at).seconds());
        let next = self
            .tz
            .following(at)
            .map(|tr| tr.timestamp().as_second())
            .find(|&s| s > t)
            .unwrap_or(i64::MAX);
        (offset, next)
    }

    fn local_day(&self, t: i64) -> i64 {
        let (offset, _) = self.offset_span(t);
        (t + offset).div_euclid(DAY)
    }

    fn day_type(&self, day: i64) -> crate::calendar::DayType {
        self.calendar
            .day_type(i32::try_from(day).unwrap_or(i32::MAX))
    }

    /// Cuts `[from, exit)` into segments wherever the band, the window-cap
    /// occurrence, the rolling period or (with calendar-day caps) the local
    /// date changes.
    fn segments(&self, entry: i64, from: i64, exit: i64) -> Vec<Seg> {
        let period_secs = self.rolling.first().map(|r| r.secs);
        let split_days = !self.day_caps.is_empty();
        let mut segs: Vec<Seg> = Vec::with_capacity(((exit - from) / 21_600 + 4) as usize);
        let mut t = from;
        let (mut offset, mut next_change) = self.offset_span(t);
        while t < exit {
            if t >= next_change {
                (offset, next_change) = self.offset_span(t);
            }
            let local = t + offset;
            let day = local.div_euclid(DAY);
            let day_start = day * DAY;
            let clock = local - day_start;
            let pieces = &self.pieces[self.day_type(day) as usize];
            let (band, piece_end) = pieces
                .iter()
                .find(|p| clock < p.end)
                .map_or((0, DAY), |p| (p.band, p.end));
            let mut next_local = day_start + piece_end;

            let mut window = NO_WINDOW;
            let mut occ_day = 0;
            for (wi, w) in self.windows.iter().enumerate() {
                // An occurrence that started yesterday and runs past midnight.
                if w.end > DAY {
                    let end = day_start - DAY + w.end;
                    if local < end && w.days.contains(self.day_type(day - 1)) {
                        window = wi as u16;
                        occ_day = day - 1;
                        next_local = next_local.min(end);
                        continue;
                    }
                }
                let start = day_start + w.start;
                if local < start {
                    next_local = next_local.min(start);
                } else if local < day_start + w.end && w.days.contains(self.day_type(day)) {
                    window = wi as u16;
                    occ_day = day;
                    next_local = next_local.min(day_start + w.end);
                }
            }

            let mut next = next_local - offset;
            let period = match period_secs {
                Some(h) => {
                    let k = (t - entry) / h;
                    next = next.min(entry + (k + 1) * h);
                    k
                }
                None => 0,
            };
            next = next.min(next_change).min(exit);

            match segs.last_mut() {
                Some(last)
                    if last.end == t
                        && last.band == band
                        && last.window == window
                        && (window == NO_WINDOW || last.occ_day == occ_day)
                        && last.period == period
                        && (!split_days || last.day == day) =>
                {
                    last.end = next;
                }
                _ => segs.push(Seg {
                    start: t,
                    end: next,
                    band,
                    window,
                    occ_day,
                    day,
                    period,
                    units: 0,
                    amount: 0,
                }),
            }
            t = next;
        }
        for s in &mut segs {
            let b = &self.bands[usize::from(s.band)];
            s.units = (s.end - s.start + b.unit_secs - 1) / b.unit_secs;
            s.amount = s.units.saturating_mul(b.unit_price);
        }
        segs
    }

    fn price_bands(&self, entry: i64, charge_from: i64, exit: i64, q: &mut Quote) -> i64 {
        let mut band_from = charge_from;
        let period_secs = self.rolling.first().map(|r| r.secs);
        let period_of = |t: i64| period_secs.map_or(0, |h| (t - entry) / h);

        // The first block: one price, in the period and on the date it starts.
        let mut first = None;
        if let Some(f) = self.first {
            band_from = charge_from + f.secs;
            let end = band_from.min(exit);
            q.lines.push(Line {
                start: ts(charge_from),
                end: ts(end),
                kind: LineKind::First,
                units: 1,
                unit_price: f.price,
                amount: f.price,
            });
            first = Some((
                period_of(charge_from),
                self.local_day(charge_from),
                f.price,
                charge_from,
                end,
            ));
        }
        let segs = if band_from < exit {
            self.segments(entry, band_from, exit)
        } else {
            Vec::new()
        };
        q.lines.reserve(segs.len());
        q.lines.extend(segs.iter().map(|s| Line {
            start: ts(s.start),
            end: ts(s.end),
            kind: LineKind::Band(s.band),
            units: s.units,
            unit_price: self.bands[usize::from(s.band)].unit_price,
            amount: s.amount,
        }));

        // Per shortest rolling period: window caps, then calendar-day caps.
        let mut totals: Vec<(i64, i64)> = Vec::new();
        let mut buckets: Vec<Bucket> = Vec::new();
        let mut groups: Vec<Occurrence> = Vec::new();
        let mut i = 0;
        loop {
            let period = match (first, segs.get(i)) {
                (Some(f), _) => f.0,
                (None, Some(s)) => s.period,
                (None, None) => break,
            };
            buckets.clear();
            if let Some((_, day, price, start, end)) = first.take_if(|f| f.0 == period) {
                add_to_bucket(&mut buckets, day, price, start, end);
            }
            // One group per window-cap occurrence in this period. A repeated
            // wall-clock hour can split an occurrence into pieces that are
            // not adjacent in time; they are pooled and capped once.
            groups.clear();
            while let Some(s) = segs.get(i).filter(|s| s.period == period) {
                if s.window == NO_WINDOW {
                    add_to_bucket(&mut buckets, s.day, s.amount, s.start, s.end);
                } else {
                    match groups
                        .iter_mut()
                        .rev()
                        .find(|g| g.window == s.window && g.occ_day == s.occ_day)
                    {
                        Some(g) => {
                            g.sum = g.sum.saturating_add(s.amount);
                            g.end = s.end;
                        }
                        None => groups.push(Occurrence {
                            window: s.window,
                            occ_day: s.occ_day,
                            sum: s.amount,
                            start: s.start,
                            end: s.end,
                        }),
                    }
                }
                i += 1;
            }
            for g in groups.drain(..) {
                self.close_window(g, &mut buckets, &mut q.caps);
            }
            let mut total: i64 = 0;
            for b in &mut buckets {
                if !self.day_caps.is_empty() {
                    let day_type = self.day_type(b.day);
                    for c in &self.day_caps {
                        if c.days.contains(day_type) && b.amount > c.amount {
                            q.caps.push(AppliedCap {
                                kind: CapKind::CalendarDay,
                                cap: c.cap,
                                start: ts(b.start),
                                end: ts(b.end),
                                before: b.amount,
                                after: c.amount,
                            });
                            b.amount = c.amount;
                        }
                    }
                }
                total = total.saturating_add(b.amount);
            }
            totals.push((period, total));
        }

        // Rolling caps, shortest first; each longer one caps the sum of its
        // already-capped sub-periods.
        let mut unit = period_secs.unwrap_or(1);
        for r in &self.rolling {
            if r.secs != unit {
                let factor = r.secs / unit;
                let mut merged: Vec<(i64, i64)> =
                    Vec::with_capacity(totals.len() / factor as usize + 1);
                for &(k, amount) in &totals {
                    match merged.last_mut() {
                        Some(m) if m.0 == k / factor => m.1 = m.1.saturating_add(amount),
                        _ => merged.push((k / factor, amount)),
                    }
                }
                totals = merged;
                unit = r.secs;
            }
            for (k, amount) in &mut totals {
                if (r.repeat || *k == 0) && *amount > r.amount {
                    q.caps.push(AppliedCap {
                        kind: CapKind::Rolling,
                        cap: r.cap,
                        start: ts(entry + *k * r.secs),
                        end: ts(entry + (*k + 1) * r.secs),
                        before: *amount,
                        after: r.amount,
                    });
                    *amount = r.amount;
                }
            }
        }
        totals
            .iter()
            .fold(0i64, |sum, &(_, a)| sum.saturating_add(a))
    }

    fn close_window(
        &self,
        Occurrence {
            window,
            occ_day,
            sum,
            start,
            end,
        }: Occurrence,
        buckets: &mut Vec<Bucket>,
        caps: &mut Vec<AppliedCap>,
    ) {
        let w = &self.windows[usize::from(window)];
        let mut amount = sum;
        if sum > w.amount {
            caps.push(AppliedCap {
                kind: CapKind::Window,
                cap: w.cap,
                start: ts(start),
                end: ts(end),
                before: sum,
                after: w.amount,
            });
            amount = w.amount;
        }
        add_to_bucket(buckets, occ_day, amount, start, end);
    }
}

fn add_to_bucket(buckets: &mut Vec<Bucket>, day: i64, amount: i64, start: i64, end: i64) {
    if let Some(b) = buckets.iter_mut().rev().find(|b| b.day == day) {
        b.amount = b.amount.saturating_add(amount);
        b.start = b.start.min(start);
        b.end = b.end.max(end);
    } else {
        buckets.push(Bucket {
            day,
            amount,
            start,
            end,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_spans_end_at_dst_transitions() {
        let t = Tariff::from_json(
            r#"{"id":"ny","currency":"USD","time_zone":"America/New_York",
                "bands":[{"days":["all"],"start":"00:00","end":"24:00","unit_minutes":60,"unit_price":100}]}"#,
        )
        .expect("tariff");
        let before: Timestamp = "2026-03-01T00:00:00Z".parse().expect("ts");
        let (offset, next) = t.offset_span(before.as_second());
        assert_eq!(offset, -5 * 3600);
        let spring: Timestamp = "2026-03-08T07:00:00Z".parse().expect("ts");
        assert_eq!(next, spring.as_second());
        let (offset, next) = t.offset_span(spring.as_second());
        assert_eq!(offset, -4 * 3600);
        let fall: Timestamp = "2026-11-01T06:00:00Z".parse().expect("ts");
        assert_eq!(next, fall.as_second());
    }
}
