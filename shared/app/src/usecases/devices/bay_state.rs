//! A bay sensor's reading: kept unless the bay holds a newer one; a
//! reading the sensor is not sure of (`occupied: null`, or a confidence
//! below the lot's threshold) leaves the bay `unknown`.
//!
//! A reading that says what the bay already holds — the same state, begun
//! at the same reading ([`rules::bay_reading_unchanged`]) — writes nothing:
//! one read of the bay, and it counts as a duplicate. Sensors report on
//! change and repeat their state every 15 minutes, so a lot's cost follows
//! its changes, not its sensors' clocks. A reading is still the sensor
//! being heard: when its last presence is older than half the lot's
//! sensor timeout, or shows it offline, the reading refreshes it (one
//! small write about every other repeat).

use jiff::Timestamp;

use crate::devices::BayReading;
use crate::ids::*;
use crate::model::*;
use crate::store::prelude::*;

use crate::rules;
use crate::usecases::device_events::{LoadedLot, Report, Step, store_failure};
use crate::usecases::presence;

pub(crate) async fn apply<S: LotStore>(
    store: &S,
    cfg: &LoadedLot,
    bay: &BayId,
    device: &DeviceId,
    reading: &BayReading,
    received_at: Timestamp,
    now: Timestamp,
) -> Step {
    let sure = reading.confidence >= cfg.lot.settings.sensor_confidence_threshold;
    let record = Bay {
        lot_id: cfg.lot.id.clone(),
        id: bay.clone(),
        occupied: reading.occupied.filter(|_| sure),
        boot: reading.boot,
        seq: reading.seq,
        reported_at: reading.occurred_at,
        since: reading.since,
    };
    let cause = EventRef {
        device_id: device.clone(),
        event_id: reading.event_id.clone(),
        processed_at: now,
    };
    let mut report = heard(store, cfg, device, received_at, now).await?;
    match store.bay(&cfg.lot.id, bay).await {
        Ok(Some(stored)) if rules::bay_reading_unchanged(&stored, &record, reading.occupied) => {
            report.duplicates += 1;
            return Ok(report);
        }
        Ok(_) => {}
        Err(e) => return store_failure(Some(reading.event_id.to_string()), e),
    }
    match store.record_bay(&record, Some(&cause)).await {
        Ok(BayOutcome::Updated) => report.applied = 1,
        Ok(BayOutcome::Stale) => report.stale = 1,
        Ok(BayOutcome::Duplicate) => report.duplicates = 1,
        Err(e) => return store_failure(Some(reading.event_id.to_string()), e),
    }
    Ok(report)
}

/// Refreshes the sensor's presence when the lot's copy of it (read with
/// the lot, at most a cache lifetime old) is missing, offline, or older
/// than half the sensor timeout when the broker received the reading (as
/// a heartbeat counts, never the device's own clock); nothing otherwise. What it reports is
/// not the reading's, so its counts are left out.
async fn heard<S: LotStore>(
    store: &S,
    cfg: &LoadedLot,
    device: &DeviceId,
    at: Timestamp,
    now: Timestamp,
) -> Result<Report, crate::usecases::device_events::HandleError> {
    let half =
        jiff::SignedDuration::from_mins(i64::from(cfg.lot.settings.sensor_timeout_minutes)) / 2;
    let heard_at = at.min(now);
    let fresh = cfg
        .devices
        .get(device)
        .and_then(|d| d.presence)
        .is_some_and(|p| p.connected && heard_at.duration_since(p.at) < half);
    if !fresh {
        let refreshed = presence::heartbeat(store, &cfg.lot.id, device, heard_at).await?;
        return Ok(Report {
            rejected: refreshed.rejected,
            ..Report::default()
        });
    }
    Ok(Report::default())
}
