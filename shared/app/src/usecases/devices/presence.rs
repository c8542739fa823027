//! IoT Core's lifecycle events: a device is online or offline. A client's
//! events count by `versionNumber`, then time, so a late `disconnected`
//! never overrides a newer `connected`.

use crate::devices;
use crate::hooks::{EventType, HookMessage, LotEvent};
use crate::ids::{DeviceId, LotId};
use crate::model::{Device, Lot, Presence};
use crate::outbox::OutboxMessage;
use crate::store::prelude::*;

use crate::usecases::device_events::{Rejection, Report, Step, store_failure};

pub(crate) async fn apply<S: LotStore>(store: &S, event: &devices::Presence) -> Step {
    let presence = Presence {
        connected: event.connected,
        at: event.at,
        version: event.version,
    };
    let mut report = Report::default();
    // A disconnection is told to the lot's webhook subscribers that want
    // it (two reads, on this path only).
    let outbox = if event.connected {
        Vec::new()
    } else {
        match store.get_device(&event.client).await {
            Ok(d) => match store.get_lot(&d.lot_id).await {
                Ok(lot) => offline(&lot, &d, &presence, "disconnected")
                    .into_iter()
                    .collect(),
                Err(e) => return store_failure(None, e),
            },
            // Refused below, as an unknown device.
            Err(StoreError::NotFound { .. }) => Vec::new(),
            Err(e) => return store_failure(None, e),
        }
    };
    match store
        .record_presence(&event.client, &presence, &outbox)
        .await
    {
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

/// The `device.offline` event for a device going offline, where some
/// subscription of its lot wants it.
pub(crate) fn offline(lot: &Lot, d: &Device, p: &Presence, why: &str) -> Option<OutboxMessage> {
    if !lot.hooked(EventType::DeviceOffline) {
        return None;
    }
    let kind = serde_json::to_value(d.kind).unwrap_or(serde_json::Value::Null);
    Some(OutboxMessage::Webhooks(HookMessage::Event(LotEvent::new(
        EventType::DeviceOffline,
        lot.id.clone(),
        // One per time offline: a heartbeat brings a device back within
        // its connection, so the time tells two of them apart.
        &format!("{}/{}-{}", d.id, p.version, p.at.as_millisecond()),
        p.at,
        serde_json::json!({
            "device_id": d.id,
            "kind": kind,
            "gate_id": d.gate_id,
            "bay_id": d.bay_id,
            "since": p.at,
            "reason": why,
        }),
    ))))
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
    match store.record_presence(device, &presence, &[]).await {
        Ok(PresenceOutcome::Updated) => report.applied = 1,
        Ok(PresenceOutcome::Stale) => report.stale = 1,
        Err(StoreError::NotFound { .. }) => unknown(&mut report),
        Err(e) => return store_failure(None, e),
    }
    Ok(report)
}
