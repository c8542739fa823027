//! The device contract: what gates, cameras and bay sensors send, as the
//! IoT Core rules deliver it to the functions, parsed into typed messages.
//!
//! Every rule adds the MQTT topic, the sending client's id and the broker's
//! receive time to the device's own payload (`SELECT *, topic() AS topic,
//! clientid() AS clientid, timestamp() AS received_at`; `received_at`, not
//! `timestamp`, because IoT Core's lifecycle events carry a `timestamp` of
//! their own). Field names are fixed; devices may send more fields, which
//! are ignored.
//!
//! | topic | payload |
//! |---|---|
//! | `parking/{lot}/gates/{gate}/events` | a plate read: `{"event_id", "type": "plate_read", "direction": "entry"\|"exit", "plate", "confidence": 0..1, "occurred_at": RFC 3339, "seq", "track"?, "frame"?}`; `track` (optional): the camera's id for the car it follows, the same on every read of one passage (see [`crate::passages`]); `frame` (optional): the key of the frame it uploaded, under `frames/{lot}/{device}/` (see [`crate::evidence`]; a key that is not is logged and the read applied without it); a camera's track ids stay unique for at least eight days (a restart must not reuse one) |
//! | `parking/{lot}/gates/{gate}/backlog` | `{"events": [plate reads]}`, after an outage; at most 128 KB as the device sends it. A read the gate decided on its own while the cloud did not answer carries `"decided_offline": "open"\|"hold"` (see [`crate::gate_device`]) |
//! | `parking/{lot}/bays/{bay}/state`, sent through Basic Ingest (`$aws/rules/{rule}/parking/{lot}/bays/{bay}/state`) | `{"event_id", "occupied": true\|false\|null, "confidence", "occurred_at", "seq", "boot"?, "since"?}`; `null`: the sensor cannot tell; `boot` (optional): grows with every restart of the sensor; `since` (optional): the `seq` at which the current state began. A sensor reports on change and repeats its state every 15 minutes (same `since`); a repeat writes nothing |
//! | `parking/{lot}/gates/{gate}/events` (a sensor: its bay's state topic, through Basic Ingest) | a heartbeat: `{"type": "heartbeat"}`; the device is heard (the broker's receive time), and one a sweep showed offline for its silence is online again. A sensor's readings count as heard too |
//! | `$aws/events/presence/connected/{client}`, `…/disconnected/{client}` | IoT Core's own lifecycle event: `{"clientId", "timestamp" (ms), "eventType", "versionNumber", …}`; a client's events are ordered by `versionNumber`, then `timestamp` |
//!
//! Device times are bounded: more than [`MAX_CLOCK_AHEAD`] after the
//! broker received the message, or more than [`MAX_EVENT_AGE`] (7 days)
//! before, and the event is refused.
//!
//! A message is refused with the field that is wrong and why, never with
//! the plate it carries; in a backlog each read is parsed on its own, so
//! one bad read loses nothing else.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::ids::*;
use crate::model::GateDirection;
use crate::redact::without_quoted_values;

/// The largest payload IoT Core takes from a device.
pub const MAX_DEVICE_PAYLOAD_BYTES: usize = 128 * 1024;

/// The largest message accepted: a device's largest payload plus the
/// fields the rule adds (topic, client id, receive time).
pub const MAX_MESSAGE_BYTES: usize = MAX_DEVICE_PAYLOAD_BYTES + 2 * 1024;

/// How far ahead of the broker's receive time a device's clock may run
/// before its times are refused.
pub const MAX_CLOCK_AHEAD: SignedDuration = SignedDuration::from_mins(5);

/// How long before the broker received it a device's event may have
/// happened. An older one (a gate offline for more than a week, or a
/// backdated read that would reprice a stay long paid) is refused, not
/// applied: the function logs it with its reason for staff to look at.
pub const MAX_EVENT_AGE: SignedDuration = SignedDuration::from_hours(7 * 24);

/// Why a message (or one read of a backlog) was refused: the field, as a
/// path (`events[3].occurred_at`), and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct MessageError {
    pub field: String,
    pub problem: String,
}

impl MessageError {
    pub(crate) fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        MessageError {
            field: field.into(),
            problem: problem.into(),
        }
    }

    fn within(self, prefix: &str) -> Self {
        MessageError {
            field: format!("{prefix}{}", self.field),
            ..self
        }
    }
}

/// Where a message was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    GateEvents { lot: LotId, gate: GateId },
    GateBacklog { lot: LotId, gate: GateId },
    BayState { lot: LotId, bay: BayId },
    Presence { client: DeviceId, connected: bool },
}

impl Topic {
    /// Parses an MQTT topic of the contract.
    ///
    /// # Errors
    ///
    /// A [`MessageError`] for `topic` when it is not one of the contract's.
    pub fn parse(topic: &str) -> Result<Topic, MessageError> {
        let bad = |why: String| MessageError::new("topic", why);
        let parts: Vec<&str> = topic.split('/').collect();
        let id_err = |e: IdError| bad(e.to_string());
        match parts.as_slice() {
            ["parking", lot, "gates", gate, kind @ ("events" | "backlog")] => {
                let lot = LotId::parse(lot).map_err(id_err)?;
                let gate = GateId::parse(gate).map_err(id_err)?;
                Ok(if *kind == "events" {
                    Topic::GateEvents { lot, gate }
                } else {
                    Topic::GateBacklog { lot, gate }
                })
            }
            ["parking", lot, "bays", bay, "state"] => Ok(Topic::BayState {
                lot: LotId::parse(lot).map_err(id_err)?,
                bay: BayId::parse(bay).map_err(id_err)?,
            }),
            ["$aws", "events", "presence", kind @ ("connected" | "disconnected"), client] => {
                Ok(Topic::Presence {
                    client: DeviceId::parse(client).map_err(id_err)?,
                    connected: *kind == "connected",
                })
            }
            _ => Err(bad(
                "not a topic of the device contract (parking/{lot}/gates/{gate}/events|backlog, parking/{lot}/bays/{bay}/state, $aws/events/presence/…)".into(),
            )),
        }
    }
}

/// Plate text exactly as the camera read it: possibly misread, possibly
/// not a plate at all. Personal data: `Debug` does not show it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct PlateText(String);

impl PlateText {
    pub fn new(text: impl Into<String>) -> Self {
        PlateText(text.into())
    }

    /// The text, for matching against plates.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlateText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlateText(<redacted>)")
    }
}

/// One plate read by a gate's camera.
#[derive(Debug, Clone, PartialEq)]
pub struct PlateRead {
    pub event_id: EventId,
    pub direction: GateDirection,
    pub plate: PlateText,
    /// The camera's confidence in its reading, 0 to 1.
    pub confidence: f64,
    pub occurred_at: Timestamp,
    pub seq: u64,
    /// What the gate did on its own, when the cloud did not answer in
    /// time: what happened, whatever the cloud would have said.
    pub decided_offline: Option<crate::commands::CommandKind>,
    /// The car the camera followed across frames: the plate of a track
    /// is what its reads agree on ([`crate::passages`]). Without one a
    /// read stands alone.
    pub track: Option<TrackId>,
    /// The frame the camera uploaded for it, under its own prefix
    /// ([`crate::evidence`]).
    pub frame: Option<crate::evidence::FrameKey>,
    /// Why the frame it named was not taken: the read is applied without
    /// it (a wrong key must not keep a barrier shut), and this is logged.
    pub frame_refused: Option<crate::evidence::FrameKeyError>,
}

/// One bay sensor reading.
#[derive(Debug, Clone, PartialEq)]
pub struct BayReading {
    pub event_id: EventId,
    /// `None`: the sensor cannot tell (snow, a fault).
    pub occupied: Option<bool>,
    pub confidence: f64,
    pub occurred_at: Timestamp,
    pub seq: u64,
    pub boot: u64,
    /// The sequence number (within `boot`) of the reading at which the
    /// sensor's current state began; absent, the reading is its own start.
    /// A reading whose state and start equal the stored bay's says nothing
    /// new and is not written (see [`crate::rules::bay_reading_unchanged`]).
    pub since: Option<u64>,
}

/// A device connecting or disconnecting, as IoT Core reports it. Events
/// of one client are ordered by `version`, then `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub client: DeviceId,
    pub connected: bool,
    pub at: Timestamp,
    pub version: u64,
}

/// A message as the functions receive it, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceMessage {
    PlateRead {
        lot: LotId,
        gate: GateId,
        /// The client that published it (to check against the gate's).
        device: DeviceId,
        received_at: Timestamp,
        read: PlateRead,
    },
    /// A gate's upload after an outage: each read parsed on its own.
    Backlog {
        lot: LotId,
        gate: GateId,
        device: DeviceId,
        received_at: Timestamp,
        reads: Vec<Result<PlateRead, MessageError>>,
    },
    Bay {
        lot: LotId,
        bay: BayId,
        device: DeviceId,
        received_at: Timestamp,
        reading: BayReading,
    },
    Presence(Presence),
    /// A device saying it is alive (`{"type": "heartbeat"}` on its gate's
    /// events topic or its bay's state topic).
    Heartbeat {
        lot: LotId,
        device: DeviceId,
        received_at: Timestamp,
    },
}

#[derive(Deserialize)]
struct Envelope {
    topic: String,
    #[serde(default)]
    clientid: Option<String>,
    /// The broker's receive time, milliseconds since the epoch.
    received_at: i64,
}

#[derive(Deserialize)]
struct PlateReadJson {
    event_id: String,
    #[serde(rename = "type")]
    kind: String,
    direction: GateDirection,
    plate: PlateText,
    confidence: f64,
    occurred_at: String,
    seq: u64,
    #[serde(default)]
    decided_offline: Option<crate::commands::CommandKind>,
    #[serde(default)]
    track: Option<String>,
    #[serde(default)]
    frame: Option<String>,
}

#[derive(Deserialize)]
struct BacklogJson {
    events: Vec<serde_json::Value>,
}

/// A field that must be present and may be `null`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Option::<bool>::deserialize(d)
}

#[derive(Deserialize)]
struct BayJson {
    event_id: String,
    #[serde(deserialize_with = "present")]
    occupied: Option<bool>,
    confidence: f64,
    occurred_at: String,
    seq: u64,
    #[serde(default)]
    boot: u64,
    #[serde(default)]
    since: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PresenceJson {
    client_id: String,
    timestamp: i64,
    event_type: String,
    version_number: u64,
}

/// Deserializes `T`, naming the field that is wrong (the value itself is
/// left out of the problem: it may be a plate).
fn fields<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, MessageError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names a missing field in the message, at its parent's path.
        if let Some(name) = inner
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            let field = if path == "." {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            };
            return MessageError::new(field, "is missing");
        }
        let field = if path == "." { "message".into() } else { path };
        MessageError::new(field, without_quoted_values(&inner))
    })
}

/// What is wrong with text that is not JSON, without serde_json's own
/// message (which quotes the input).
fn json_problem(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "a syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Eof => "it ends too soon",
    }
}

fn millis(field: &str, ms: i64) -> Result<Timestamp, MessageError> {
    Timestamp::from_millisecond(ms)
        .map_err(|_| MessageError::new(field, "is not a time in milliseconds since 1970"))
}

fn event_id(text: &str) -> Result<EventId, MessageError> {
    EventId::parse(text).map_err(|e| MessageError::new("event_id", e.to_string()))
}

fn unit(field: &str, x: f64) -> Result<f64, MessageError> {
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(MessageError::new(
            field,
            format!("must be from 0 to 1 (got {x})"),
        ))
    }
}

/// A device time, no later than the receive time allows.
fn device_time(text: &str, received_at: Timestamp) -> Result<Timestamp, MessageError> {
    let at: Timestamp = text.parse().map_err(|_| {
        MessageError::new(
            "occurred_at",
            "expected an RFC 3339 time with an offset, such as 2026-11-24T09:00:00+09:00",
        )
    })?;
    if received_at
        .checked_add(MAX_CLOCK_AHEAD)
        .is_ok_and(|latest| at > latest)
    {
        let ahead = at.duration_since(received_at);
        return Err(MessageError::new(
            "occurred_at",
            format!(
                "is {}s after the message was received; the device clock is wrong",
                ahead.as_secs()
            ),
        ));
    }
    if received_at
        .checked_sub(MAX_EVENT_AGE)
        .is_ok_and(|earliest| at < earliest)
    {
        let days = received_at.duration_since(at).as_hours() / 24;
        return Err(MessageError::new(
            "occurred_at",
            format!(
                "is {days} days before the message was received; events older than {} days are refused for review",
                MAX_EVENT_AGE.as_hours() / 24
            ),
        ));
    }
    Ok(at)
}

fn plate_read(
    value: &serde_json::Value,
    received_at: Timestamp,
    lot: &LotId,
    device: &DeviceId,
) -> Result<PlateRead, MessageError> {
    let j: PlateReadJson = fields(value)?;
    if j.kind != "plate_read" {
        return Err(MessageError::new("type", "must be plate_read"));
    }
    let frame = j
        .frame
        .as_deref()
        .map(|f| crate::evidence::FrameKey::of_device(f, lot, device));
    Ok(PlateRead {
        event_id: event_id(&j.event_id)?,
        direction: j.direction,
        plate: j.plate,
        confidence: unit("confidence", j.confidence)?,
        occurred_at: device_time(&j.occurred_at, received_at)?,
        seq: j.seq,
        decided_offline: j.decided_offline,
        track: j
            .track
            .as_deref()
            .map(TrackId::parse)
            .transpose()
            .map_err(|e| MessageError::new("track", e.to_string()))?,
        frame: frame.as_ref().and_then(|f| f.as_ref().ok()).cloned(),
        frame_refused: frame.and_then(Result::err),
    })
}

impl DeviceMessage {
    /// Parses a message as an IoT rule delivers it.
    ///
    /// # Errors
    ///
    /// A [`MessageError`] naming the field: a message over 128 KB, JSON
    /// that does not parse, a topic outside the contract, a missing or
    /// malformed field, a confidence outside 0 to 1, or a device time more
    /// than [`MAX_CLOCK_AHEAD`] after the broker received the message.
    pub fn parse(bytes: &[u8]) -> Result<DeviceMessage, MessageError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(MessageError::new(
                "message",
                format!(
                    "is {} bytes; at most {MAX_MESSAGE_BYTES} are accepted",
                    bytes.len()
                ),
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            MessageError::new("message", format!("is not JSON ({})", json_problem(&e)))
        })?;
        if !value.is_object() {
            return Err(MessageError::new("message", "must be a JSON object"));
        }
        let envelope: Envelope = fields(&value)?;
        let received_at = millis("received_at", envelope.received_at)?;
        let topic = Topic::parse(&envelope.topic)?;
        let device = || {
            envelope
                .clientid
                .as_deref()
                .ok_or_else(|| MessageError::new("clientid", "is missing"))
                .and_then(|c| {
                    DeviceId::parse(c).map_err(|e| MessageError::new("clientid", e.to_string()))
                })
        };
        let heartbeat = value.get("type").and_then(|t| t.as_str()) == Some("heartbeat");
        Ok(match topic {
            Topic::GateEvents { lot, .. } | Topic::BayState { lot, .. } if heartbeat => {
                DeviceMessage::Heartbeat {
                    lot,
                    device: device()?,
                    received_at,
                }
            }
            Topic::GateEvents { lot, gate } => {
                let device = device()?;
                let read = plate_read(&value, received_at, &lot, &device)?;
                DeviceMessage::PlateRead {
                    lot,
                    gate,
                    device,
                    received_at,
                    read,
                }
            }
            Topic::GateBacklog { lot, gate } => {
                let backlog: BacklogJson = fields(&value)?;
                let device = device()?;
                let reads = backlog
                    .events
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        plate_read(e, received_at, &lot, &device)
                            .map_err(|err| err.within(&format!("events[{i}].")))
                    })
                    .collect();
                DeviceMessage::Backlog {
                    lot,
                    gate,
                    device,
                    received_at,
                    reads,
                }
            }
            Topic::BayState { lot, bay } => {
                let j: BayJson = fields(&value)?;
                if j.since.is_some_and(|since| since > j.seq) {
                    return Err(MessageError::new(
                        "since",
                        "is the sequence number at which the state began: at most seq",
                    ));
                }
                DeviceMessage::Bay {
                    lot,
                    bay,
                    device: device()?,
                    received_at,
                    reading: BayReading {
                        event_id: event_id(&j.event_id)?,
                        occupied: j.occupied,
                        confidence: unit("confidence", j.confidence)?,
                        occurred_at: device_time(&j.occurred_at, received_at)?,
                        seq: j.seq,
                        boot: j.boot,
                        since: j.since,
                    },
                }
            }
            Topic::Presence { client, connected } => {
                let j: PresenceJson = fields(&value)?;
                if j.client_id != client.as_str() {
                    return Err(MessageError::new(
                        "clientId",
                        "is not the client of the topic",
                    ));
                }
                let kind_ok = matches!(
                    (j.event_type.as_str(), connected),
                    ("connected", true) | ("disconnected", false)
                );
                if !kind_ok {
                    return Err(MessageError::new("eventType", "does not match the topic"));
                }
                DeviceMessage::Presence(Presence {
                    client,
                    connected,
                    at: millis("timestamp", j.timestamp)?,
                    version: j.version_number,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECEIVED_MS: i64 = 1_795_000_000_000;

    fn gate_read(extra: &str) -> String {
        format!(
            r#"{{"topic": "parking/lot-a/gates/g-in-1/events", "clientid": "cam-1", "received_at": {RECEIVED_MS},
                "event_id": "e-1", "type": "plate_read", "direction": "entry", "plate": "品川 300 さ 12-34",
                "confidence": 0.93, "occurred_at": "2026-11-18T08:53:10+09:00", "seq": 7{extra}}}"#
        )
    }

    fn err(json: &str) -> String {
        match DeviceMessage::parse(json.as_bytes()) {
            Ok(_) => "accepted".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_plate_read_parses_with_its_topic() {
        let m = DeviceMessage::parse(gate_read(r#", "firmware": "2.1""#).as_bytes()).expect("read");
        let DeviceMessage::PlateRead {
            lot,
            gate,
            device,
            read,
            ..
        } = m
        else {
            panic!("not a plate read: {m:?}")
        };
        assert_eq!(
            (lot.as_str(), gate.as_str(), device.as_str()),
            ("lot-a", "g-in-1", "cam-1")
        );
        assert_eq!(read.direction, GateDirection::Entry);
        assert_eq!(read.plate.expose(), "品川 300 さ 12-34");
        assert_eq!(read.seq, 7);
        assert!(
            !format!("{read:?}").contains("品川"),
            "Debug shows no plate"
        );
    }

    #[test]
    fn bad_messages_name_the_field_and_never_the_plate() {
        let cases = [
            (
                gate_read("").replace(r#""confidence": 0.93"#, r#""confidence": 1.5"#),
                "confidence: must be from 0 to 1 (got 1.5)",
            ),
            (
                gate_read("").replace(r#""direction": "entry""#, r#""direction": "sideways""#),
                "direction: unknown variant",
            ),
            (
                gate_read("").replace(r#""seq": 7"#, r#""seq": "x""#),
                "seq: invalid type",
            ),
            (
                gate_read("").replace(r#""type": "plate_read""#, r#""type": "sneeze""#),
                "type: must be plate_read",
            ),
            (
                gate_read("").replace(
                    r#""occurred_at": "2026-11-18T08:53:10+09:00""#,
                    r#""occurred_at": "2027-01-01T00:00:00Z""#,
                ),
                "occurred_at: is ",
            ),
            (
                gate_read("").replace(
                    r#""occurred_at": "2026-11-18T08:53:10+09:00""#,
                    r#""occurred_at": "yesterday""#,
                ),
                "occurred_at: expected an RFC 3339 time",
            ),
            (
                gate_read("").replace(r#""event_id": "e-1", "#, ""),
                "event_id",
            ),
            (
                gate_read("").replace("parking/lot-a/gates/g-in-1/events", "parking/lot-a/doors/1"),
                "topic: not a topic of the device contract",
            ),
            (
                gate_read("").replace(r#""clientid": "cam-1", "#, ""),
                "clientid: is missing",
            ),
            (
                gate_read("").replace(r#""plate": "品川 300 さ 12-34""#, r#""plate": 5"#),
                "plate: invalid type",
            ),
            (r#"{"topic": "#.into(), "message: is not JSON"),
            ("[1, 2]".into(), "message: must be a JSON object"),
            (
                "x".repeat(MAX_MESSAGE_BYTES + 1),
                "message: is 133121 bytes",
            ),
            // Plate text where it does not belong is never repeated, even
            // with quotes and backticks in it.
            (
                gate_read("").replace(r#""seq": 7"#, r#""seq": "x\"品川 300 さ 12-34""#),
                "seq: invalid type",
            ),
            (
                gate_read("").replace(
                    r#""direction": "entry""#,
                    r#""direction": "x`品川 300 さ 12-34""#,
                ),
                "direction: unknown variant `…`, expected `entry` or `exit`",
            ),
            (
                gate_read("").replace(r#""event_id": "e-1""#, r#""event_id": "品川300さ1234""#),
                "event_id: event id may hold only",
            ),
            (
                gate_read("").replace(r#""clientid": "cam-1""#, r#""clientid": "品川300さ1234""#),
                "clientid: device id may hold only",
            ),
            (
                gate_read("").replace(
                    &format!(r#""received_at": {RECEIVED_MS}"#),
                    r#""received_at": 9223372036854775807"#,
                ),
                "received_at: is not a time",
            ),
        ];
        for (json, wanted) in cases {
            let e = err(&json);
            assert!(e.contains(wanted), "{e:?} does not say {wanted:?}");
            assert!(
                !e.contains("品川")
                    && !e.contains("12-34")
                    && !e.contains("1234")
                    && !e.contains("300"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_receive_time_at_the_end_of_time_does_not_panic() {
        let last = Timestamp::MAX.as_millisecond() - 1000;
        let json = gate_read("").replace(
            &format!(r#""received_at": {RECEIVED_MS}"#),
            &format!(r#""received_at": {last}"#),
        );
        // The read, from 2026, is then far too old: refused, not a panic.
        let r = DeviceMessage::parse(json.as_bytes());
        assert!(
            matches!(&r, Err(e) if e.field == "occurred_at" && e.problem.contains("refused for review")),
            "{r:?}"
        );
    }

    #[test]
    fn an_event_older_than_a_week_is_refused() {
        let week_ago = RECEIVED_MS - 7 * 24 * 3600 * 1000;
        let at = |ms: i64| Timestamp::from_millisecond(ms).expect("time").to_string();
        let json = |occurred: &str| {
            format!(
                r#"{{"topic": "parking/lot-a/gates/g-in-1/events", "clientid": "cam-1", "received_at": {RECEIVED_MS},
                    "event_id": "e-1", "type": "plate_read", "direction": "entry", "plate": "ABC123",
                    "confidence": 0.9, "occurred_at": "{occurred}", "seq": 1}}"#
            )
        };
        assert!(DeviceMessage::parse(json(&at(week_ago)).as_bytes()).is_ok());
        let e = DeviceMessage::parse(json(&at(week_ago - 1000)).as_bytes()).expect_err("too old");
        assert_eq!(e.field, "occurred_at");
        assert!(e.problem.contains("7 days are refused for review"), "{e}");
    }

    #[test]
    fn one_bad_read_in_a_backlog_loses_nothing_else() {
        let json = format!(
            r#"{{"topic": "parking/lot-a/gates/g-out-1/backlog", "clientid": "cam-2", "received_at": {RECEIVED_MS},
                "events": [
                  {{"event_id": "b-1", "type": "plate_read", "direction": "exit", "plate": "ABC123", "confidence": 0.9, "occurred_at": "2026-11-18T06:00:00Z", "seq": 1}},
                  {{"event_id": "b-2", "type": "plate_read", "direction": "exit", "confidence": 0.9, "occurred_at": "2026-11-18T06:01:00Z", "seq": 2}},
                  {{"event_id": "b-3", "type": "plate_read", "direction": "exit", "plate": "XYZ789", "confidence": 0.9, "occurred_at": "2026-11-18T06:02:00Z", "seq": 3}}
                ]}}"#
        );
        let DeviceMessage::Backlog { reads, .. } =
            DeviceMessage::parse(json.as_bytes()).expect("backlog")
        else {
            panic!("not a backlog")
        };
        assert_eq!(reads.len(), 3);
        assert!(reads[0].is_ok() && reads[2].is_ok());
        assert_eq!(
            reads[1].as_ref().map_err(|e| e.field.as_str()).err(),
            Some("events[1].plate")
        );
    }

    #[test]
    fn bay_and_presence_messages_parse() {
        let bay = format!(
            r#"{{"topic": "parking/lot-a/bays/A-01/state", "clientid": "bay-a01", "received_at": {RECEIVED_MS},
                "event_id": "s-9", "occupied": null, "confidence": 0.2, "occurred_at": "2026-11-18T06:00:00Z", "seq": 9}}"#
        );
        let DeviceMessage::Bay { bay, reading, .. } =
            DeviceMessage::parse(bay.as_bytes()).expect("bay")
        else {
            panic!("not a bay reading")
        };
        assert_eq!(
            (bay.as_str(), reading.occupied, reading.boot),
            ("A-01", None, 0)
        );
        let presence = r#"{"topic": "$aws/events/presence/disconnected/cam-2", "clientId": "cam-2",
            "received_at": 1795000000200, "timestamp": 1795000000123, "eventType": "disconnected", "versionNumber": 4,
            "clientInitiatedDisconnect": false, "disconnectReason": "MQTT_KEEP_ALIVE_TIMEOUT"}"#;
        assert_eq!(
            DeviceMessage::parse(presence.as_bytes()).expect("presence"),
            DeviceMessage::Presence(Presence {
                client: DeviceId::parse("cam-2").expect("id"),
                connected: false,
                at: Timestamp::from_millisecond(1_795_000_000_123).expect("time"),
                version: 4,
            })
        );
        let mismatched = presence.replace(
            r#""eventType": "disconnected""#,
            r#""eventType": "connected""#,
        );
        assert_eq!(err(&mismatched), "eventType: does not match the topic");
    }
}
