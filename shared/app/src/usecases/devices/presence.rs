//! IoT Core's lifecycle events: a device is online or offline. A client's
//! events count by `versionNumber`, then time, so a late `disconnected`
//! never overrides a newer `connected`.

use crate::devices;
use crate::ids::{DeviceId, LotId};
use crate::model::Presence;
use crate::store::prelude::*;

use crate::usecases::device_events::{Rejection, Report, Step, store_failure};

pub(crate) async fn apply<S: LotStore>(store: &S, event: &devices::Presence) -> Step {
    let presence = Presence {
        connected: event.connected,
        at: event.at,
        version: event.version,
    };
    let mut report = Report::default();
    match store.record_presence(&event.client, &presence).await {
        Ok(PresenceOutcome::Updated) => report.applied = 1,
        Ok(PresenceOutcome::Stale) => report.stale = 1,
        Err(StoreError::NotFound { .. }) => {
            report
                .rejected
                .push(crate::usecases::device_events::Rejected {
                    event_id: None,
                    rejection: Rejection::UnknownDevice(event.client.clone()),
                });
        }
        Err(e) => return store_failure(None, e),
    }
    Ok(report)
}

/// A device's heartbeat: it was heard at `at`. Recorded as a presence
/// event of its current connection (same version, later time), so it
/// brings back a device a sweep had shown offline, and never outweighs a
/// newer connection event.
pub(crate) async fn heartbeat<S: LotStore>(
    store: &S,
    lot: &LotId,
    device: &DeviceId,
    at: jiff::Timestamp,
) -> Step {
    let mut report = Report::default();
    let unknown = |report: &mut Report| {
        report
            .rejected
            .push(crate::usecases::device_events::Rejected {
                event_id: None,
                rejection: Rejection::UnknownDevice(device.clone()),
            });
    };
    let d = match store.get_device(device).await {
        Ok(d) if &d.lot_id == lot => d,
        Ok(_) | Err(StoreError::NotFound { .. }) => {
            unknown(&mut report);
            return Ok(report);
        }
        Err(e) => return store_failure(None, e),
    };
    let presence = Presence {
        connected: true,
        at,
        version: d.presence.map_or(0, |p| p.version),
    };
    match store.record_presence(device, &presence).await {
        Ok(PresenceOutcome::Updated) => report.applied = 1,
        Ok(PresenceOutcome::Stale) => report.stale = 1,
        Err(StoreError::NotFound { .. }) => unknown(&mut report),
        Err(e) => return store_failure(None, e),
    }
    Ok(report)
}
