//! A bay sensor's reading: kept unless the bay holds a newer one; a
//! reading the sensor is not sure of (`occupied: null`, or a confidence
//! below the lot's threshold) leaves the bay `unknown`.

use jiff::Timestamp;

use crate::devices::BayReading;
use crate::ids::*;
use crate::model::*;
use crate::store::prelude::*;

use crate::usecases::device_events::{LoadedLot, Report, Step, store_failure};

pub(crate) async fn apply<S: LotStore>(
    store: &S,
    cfg: &LoadedLot,
    bay: &BayId,
    device: &DeviceId,
    reading: &BayReading,
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
    };
    let cause = EventRef {
        device_id: device.clone(),
        event_id: reading.event_id.clone(),
        processed_at: now,
    };
    let mut report = Report::default();
    match store.record_bay(&record, Some(&cause)).await {
        Ok(BayOutcome::Updated) => report.applied = 1,
        Ok(BayOutcome::Stale) => report.stale = 1,
        Ok(BayOutcome::Duplicate) => report.duplicates = 1,
        Err(e) => return store_failure(Some(reading.event_id.to_string()), e),
    }
    Ok(report)
}
