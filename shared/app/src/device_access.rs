//! What the broker decides before any function sees a device's message:
//! which topics a device may use, and how its payload is delivered.
//!
//! - **Grants.** A device is its certificate; the thing it is registered
//!   as names it, and the thing's attributes (`lot`, and `gate` or `bay`)
//!   say what it speaks for. A gate device (camera or barrier) publishes
//!   its gate's `events`, `backlog` and `state`, reads its shadow, and
//!   subscribes to its gate's `commands` and its shadow's answers; a bay
//!   sensor publishes its bay's `state`. No device publishes on a
//!   `commands` topic: only the cloud does. A sensor publishes through
//!   Basic Ingest, straight to the bay rule
//!   (`$aws/rules/{rule}/parking/{lot}/bays/{bay}/state`, no messaging
//!   charge), and nowhere else. [`grants`] is the one
//!   statement of it; the IoT policies in the template and the local
//!   broker's access list are both checked against it.
//! - **Delivery.** The rule adds the MQTT topic, the authenticated client
//!   id and the broker's receive time to the payload, and drops a payload
//!   that brings any of those fields itself (`WHERE isUndefined(topic) AND
//!   isUndefined(clientid) AND isUndefined(received_at)`), so identity
//!   only ever comes from the connection. [`deliver`] does the same in
//!   code, for the local broker's bridge and the dead-letter replay.

use jiff::Timestamp;

use crate::devices::MessageError;
use crate::model::{Device, DeviceKind};

/// The fields the rule adds; a payload may not bring them.
pub const RULE_FIELDS: [&str; 3] = ["topic", "clientid", "received_at"];

/// What one device may do on the broker: its client id, the topics it
/// may publish on and the topic filters it may subscribe to (and receive
/// from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    pub client_id: String,
    pub publish: Vec<String>,
    pub subscribe: Vec<String>,
}

/// The bay rule's name on a stage (the template's `BayEventsRule`).
pub fn bay_rule(stage: &str) -> String {
    format!("seamless_parking_{}_bay_events", stage.replace('-', "_"))
}

/// A topic as a rule sees it (`topic()`): without the Basic Ingest prefix
/// `$aws/rules/{rule}/`.
pub fn rule_topic(topic: &str) -> &str {
    topic
        .strip_prefix("$aws/rules/")
        .and_then(|rest| rest.split_once('/'))
        .map_or(topic, |(_, t)| t)
}

/// The grants of a registered device on a stage, or `None` for a kind
/// that does not speak MQTT (a kiosk calls the API) or a record without
/// its gate or bay.
pub fn grants(device: &Device, stage: &str) -> Option<Grants> {
    let lot = &device.lot_id;
    let thing = device.id.as_str();
    let shadow = format!("$aws/things/{thing}/shadow");
    match device.kind {
        DeviceKind::Camera | DeviceKind::Barrier => {
            let gate = device.gate_id.as_ref()?;
            let base = format!("parking/{lot}/gates/{gate}");
            Some(Grants {
                client_id: thing.to_owned(),
                publish: vec![
                    format!("{base}/events"),
                    format!("{base}/backlog"),
                    format!("{base}/state"),
                    format!("{shadow}/get"),
                ],
                subscribe: vec![
                    format!("{base}/commands"),
                    format!("{shadow}/get/accepted"),
                    format!("{shadow}/update/delta"),
                ],
            })
        }
        DeviceKind::BaySensor => {
            let bay = device.bay_id.as_ref()?;
            Some(Grants {
                client_id: thing.to_owned(),
                publish: vec![format!(
                    "$aws/rules/{}/parking/{lot}/bays/{bay}/state",
                    bay_rule(stage)
                )],
                subscribe: Vec::new(),
            })
        }
        DeviceKind::Kiosk => None,
    }
}

/// Whether a topic is a gate's command topic, which no device may
/// publish on.
pub fn is_command_topic(topic: &str) -> bool {
    let parts: Vec<&str> = topic.split('/').collect();
    matches!(parts.as_slice(), ["parking", _, "gates", _, "commands"])
}

/// A device's payload as the rule delivers it to a function: the topic
/// (as the rule sees it, [`rule_topic`]), the authenticated client id and
/// the broker's receive time added.
///
/// # Errors
///
/// A [`MessageError`] naming the field when the payload is not a JSON
/// object or brings one of [`RULE_FIELDS`] itself (the rule drops it).
pub fn deliver(
    topic: &str,
    client_id: Option<&str>,
    received_at: Timestamp,
    payload: &[u8],
) -> Result<Vec<u8>, MessageError> {
    let mut value: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|_| MessageError::new("message", "is not a JSON payload"))?;
    let Some(fields) = value.as_object_mut() else {
        return Err(MessageError::new("message", "must be a JSON object"));
    };
    if let Some(own) = RULE_FIELDS.iter().find(|f| fields.contains_key(**f)) {
        return Err(MessageError::new(
            *own,
            "is the broker's to add; a payload that brings it is dropped",
        ));
    }
    fields.insert("topic".into(), rule_topic(topic).into());
    if let Some(c) = client_id {
        fields.insert("clientid".into(), c.into());
    }
    fields.insert("received_at".into(), received_at.as_millisecond().into());
    serde_json::to_vec(&value).map_err(|e| MessageError::new("message", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::*;

    fn device(kind: DeviceKind) -> Device {
        Device {
            id: DeviceId::parse("cam-a").expect("id"),
            lot_id: LotId::parse("lot-1").expect("id"),
            kind,
            gate_id: Some(GateId::parse("in-1").expect("id")),
            bay_id: Some(BayId::parse("b-1").expect("id")),
            presence: None,
        }
    }

    #[test]
    fn no_device_may_publish_on_a_command_topic() {
        for kind in [
            DeviceKind::Camera,
            DeviceKind::Barrier,
            DeviceKind::BaySensor,
        ] {
            let g = grants(&device(kind), "dev").expect("grants");
            assert!(g.publish.iter().all(|t| !is_command_topic(t)), "{kind:?}");
            assert_eq!(g.client_id, "cam-a");
        }
        assert!(grants(&device(DeviceKind::Kiosk), "dev").is_none());
        let camera = grants(&device(DeviceKind::Camera), "dev").expect("grants");
        let sensor = grants(&device(DeviceKind::BaySensor), "my-stage").expect("grants");
        assert_eq!(
            sensor.publish,
            ["$aws/rules/seamless_parking_my_stage_bay_events/parking/lot-1/bays/b-1/state"]
        );
        assert_eq!(
            rule_topic(&sensor.publish[0]),
            "parking/lot-1/bays/b-1/state"
        );
        assert_eq!(
            rule_topic("parking/l/gates/g/events"),
            "parking/l/gates/g/events"
        );
        assert!(
            camera
                .subscribe
                .contains(&"parking/lot-1/gates/in-1/commands".to_owned())
        );
    }

    #[test]
    fn a_payload_that_brings_the_brokers_fields_is_dropped() {
        let at = Timestamp::from_second(1_800_000_000).expect("time");
        for own in RULE_FIELDS {
            let payload = format!(r#"{{"event_id":"e1","{own}":"x"}}"#);
            let e = deliver(
                "parking/l/gates/g/events",
                Some("cam-a"),
                at,
                payload.as_bytes(),
            )
            .expect_err("refused");
            assert_eq!(e.field, own);
        }
        let ok = deliver(
            "parking/l/gates/g/events",
            Some("cam-a"),
            at,
            br#"{"event_id":"e1"}"#,
        )
        .expect("delivered");
        let v: serde_json::Value = serde_json::from_slice(&ok).expect("json");
        assert_eq!(v["clientid"], "cam-a");
        assert_eq!(v["topic"], "parking/l/gates/g/events");
        assert_eq!(v["received_at"], at.as_millisecond());
        assert!(deliver("t", None, at, b"[1]").is_err());
    }
}
