//! IoT Core's lifecycle events: a device is online or offline. A client's
//! events count by `versionNumber`, then time, so a late `disconnected`
//! never overrides a newer `connected`.

use crate::devices;
use crate::model::Presence;
use crate::ports::*;

use super::device_events::{Rejection, Report, Step, store_failure};

pub(crate) async fn apply<S: Store>(store: &S, event: &devices::Presence) -> Step {
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
            report.rejected.push(super::device_events::Rejected {
                event_id: None,
                rejection: Rejection::UnknownDevice(event.client.clone()),
            });
        }
        Err(e) => return store_failure(None, e),
    }
    Ok(report)
}
