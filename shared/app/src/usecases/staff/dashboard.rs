//! The operator's dashboard of one lot: what the page shows, in one read
//! of each source, so every figure on it is the figure the report, the
//! review queue and the availability give.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use parking_core::SessionState;
use parking_core::calendar::day_number;
use parking_core::forecast::{SLOTS_PER_DAY, Series, slot_start};

use crate::LotId;
use crate::model::{Lot, Session};
use crate::store::Store;
use crate::usecases::adjust::ActionError;
use crate::usecases::availability::{Availability, lot_availability};
use crate::usecases::forecast::stays;
use crate::usecases::operator::{DailyReport, daily_report, lot, review_queue};

/// How many sessions of each list the dashboard shows (the counts are
/// whole).
pub const LISTED: usize = 20;

/// How far back the dashboard lists failed card payments.
pub const FAILURES_LOOKBACK: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);

/// One local hour of today: what the lot held and what was forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct Hour {
    /// The hour's start.
    pub start: Timestamp,
    /// Mean occupied bays over the part of the hour that has passed;
    /// `None` for an hour still to come.
    pub occupied: Option<f64>,
    /// Mean of the forecast's slots of that hour, and its interval.
    pub forecast: Option<(f64, f64, f64)>,
}

/// A lot at a glance.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub lot: Lot,
    pub as_of: Timestamp,
    pub availability: Availability,
    /// Devices the lot has.
    pub devices: u32,
    /// Today's report (the lot's local date).
    pub today: DailyReport,
    /// Sessions that need a person, oldest first: the first [`LISTED`],
    /// one page of the lot's review listing.
    pub reviews: Vec<Session>,
    /// How many are listed: all of them unless `more_reviews`.
    pub review_count: u32,
    /// More wait than are listed (the review queue pages through them
    /// all); the dashboard reads one page whatever waits.
    pub more_reviews: bool,
    /// Stays of the last [`FAILURES_LOOKBACK`] whose card payment failed,
    /// still unpaid: the first [`LISTED`].
    pub payment_failures: Vec<Session>,
    pub payment_failure_count: u32,
    /// Today's hours, midnight to midnight.
    pub hours: Vec<Hour>,
}

/// A stay whose card payment failed and is still owed.
fn payment_failed(s: &Session) -> bool {
    s.resolution.is_none()
        && (s.state == SessionState::PaymentFailed
            || (s.state == SessionState::NeedsReview && s.payment_failure.is_some()))
}

/// The dashboard of one lot at `now`, under the flags in force.
///
/// # Errors
///
/// [`ActionError::NotFound`] for an unknown lot; the store's.
pub async fn lot_dashboard<S: Store>(
    store: &S,
    lot_id: &LotId,
    now: Timestamp,
    flags: &crate::flags::FlagSet,
) -> Result<Dashboard, ActionError> {
    let lot = lot(store, lot_id).await?;
    let tz = TimeZone::get(&lot.time_zone).unwrap_or(TimeZone::UTC);
    let today = now.to_zoned(tz.clone()).date();
    let (availability, _) = lot_availability(store, &lot, now, flags).await?;
    let report = daily_report(store, lot_id, today).await?;
    let queue = review_queue(store, lot_id, None, LISTED).await?;
    let since = now.checked_sub(FAILURES_LOOKBACK).unwrap_or(now);
    let recent = store.lot_sessions_since(lot_id, since).await?;
    let failures: Vec<Session> = recent
        .iter()
        .filter(|s| payment_failed(s))
        .cloned()
        .collect();

    // Today's occupancy, as the forecast learns it: from the stays.
    let day = day_number(today);
    let from = now
        .checked_sub(jiff::SignedDuration::from_hours(48))
        .unwrap_or(now);
    let around: Vec<Session> = recent
        .iter()
        .filter(|s| s.entry_at >= from || s.exit_at.is_none_or(|x| x >= from))
        .cloned()
        .collect();
    let series = Series::from_stays(&tz, lot.capacity, stays(&around), now).ok();
    let forecast = store
        .lot_forecast(lot_id)
        .await?
        .and_then(|f| f.days.into_iter().find(|d| d.date == today));
    let mut hours = Vec::with_capacity(24);
    for hour in 0..24usize {
        let Ok(start) = slot_start(&tz, day, hour * 4) else {
            continue;
        };
        if hours.last().is_some_and(|h: &Hour| h.start >= start) {
            continue;
        }
        let slots = hour * 4..(hour * 4 + 4).min(SLOTS_PER_DAY);
        let known: Vec<f64> = slots
            .clone()
            .filter_map(|s| series.as_ref().and_then(|x| x.get(day, s)))
            .collect();
        let occupied = (start <= now && !known.is_empty())
            .then(|| known.iter().sum::<f64>() / known.len() as f64);
        let forecast = forecast.as_ref().and_then(|f| {
            let mean = |v: &[f32]| -> Option<f64> {
                let part = v.get(slots.clone())?;
                Some(part.iter().map(|x| f64::from(*x)).sum::<f64>() / part.len().max(1) as f64)
            };
            Some((mean(&f.expected)?, mean(&f.low)?, mean(&f.high)?))
        });
        hours.push(Hour {
            start,
            occupied,
            forecast,
        });
    }
    Ok(Dashboard {
        devices: availability.devices,
        as_of: now,
        availability,
        today: report,
        review_count: queue.sessions.len() as u32,
        more_reviews: queue.next.is_some(),
        reviews: queue.sessions,
        payment_failure_count: failures.len() as u32,
        payment_failures: failures.into_iter().take(LISTED).collect(),
        hours,
        lot,
    })
}
