//! Price suggestions by demand: the next tariff version the lot's
//! occupancy under the version in force suggests, by the rule in
//! [`parking_core::demand`] and the lot's `settings.demand_pricing`.
//!
//! It only reads (the lot's configuration and its stays) and writes
//! nothing. An operator who agrees schedules the suggested version like any other
//! (`schedule_tariff`), which is audited; one that waits for its turn (a
//! version scheduled after now) stops suggestions until it is in force,
//! so a lot never has two changes announced at once.

use jiff::{SignedDuration, Timestamp};
use parking_core::demand::{DemandError, Suggestion, suggest};
use parking_core::forecast::Series;

use crate::ids::LotId;
use crate::store::prelude::*;
use crate::usecases::adjust::ActionError;
use crate::usecases::forecast::stays;

/// The suggestion and the version it would follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggested {
    /// When the version in force took effect (`None`: the lot's first).
    pub in_force_since: Option<Timestamp>,
    pub suggestion: Suggestion,
}

/// The next version the lot's occupancy suggests, at `now`.
///
/// # Errors
///
/// `NotFound("lot")`; `version_scheduled` (409) while a later version
/// waits; `flat_tariff` (409) for a tariff with no bands; the store's.
pub async fn suggestion<S: LotStore + SessionStore>(
    store: &S,
    lot_id: &LotId,
    now: Timestamp,
) -> Result<Suggested, ActionError> {
    let config = match store.lot_config(lot_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound { .. }) => return Err(ActionError::NotFound("lot")),
        Err(e) => return Err(e.into()),
    };
    if let Some(next) = config
        .lot
        .tariff_schedule
        .iter()
        .find(|v| v.effective_from > now)
    {
        return Err(ActionError::conflict(
            "version_scheduled",
            format!(
                "a version takes effect at {}; suggestions resume once it is in force",
                next.effective_from
            ),
        ));
    }
    let tariffs = config.compiled()?;
    let (_, tariff) = tariffs.at(&config.lot, now);
    let in_force_since = config
        .lot
        .tariff_schedule
        .iter()
        .rev()
        .find(|v| v.effective_from <= now)
        .map(|v| v.effective_from);
    let policy = &config.lot.settings.demand_pricing;
    let lookback = SignedDuration::from_hours(24 * (i64::from(policy.lookback_days) + 2));
    // From the version's start, less the longest a stay counts for: the
    // cars already parked then count on its first day.
    let since_margin = in_force_since
        .and_then(|t| t.checked_sub(parking_core::forecast::UNSEEN_EXIT_HOLD).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let from = now
        .checked_sub(lookback)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .max(since_margin);
    let sessions = store.lot_sessions_entered(lot_id, from, now).await?;
    let mut held = stays(&sessions);
    if held.is_empty() {
        // Nothing measured: every band holds.
        held.push((now, Some(now)));
    }
    let series = Series::from_stays(tariff.time_zone(), config.lot.capacity, held, now)
        .map_err(|e| ActionError::invalid("tariff", e.to_string()))?;
    let since = in_force_since.unwrap_or(Timestamp::UNIX_EPOCH);
    let suggestion = suggest(tariff, since, &series, now, policy).map_err(|e| match e {
        DemandError::Flat => ActionError::conflict(
            "flat_tariff",
            "a flat tariff has no bands to price by demand",
        ),
        DemandError::NoCapacity => {
            ActionError::conflict("no_bays", "the lot has no bays to measure")
        }
        DemandError::Policy { field, problem } => {
            ActionError::invalid(format!("settings.demand_pricing.{field}"), problem)
        }
        other => ActionError::invalid("tariff", other.to_string()),
    })?;
    Ok(Suggested {
        in_force_since,
        suggestion,
    })
}
