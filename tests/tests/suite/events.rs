//! The sample Lambda events in `events/`, exactly as the IoT rules deliver
//! them to the functions: each parses as the message its name says, with
//! no read lost.

use std::path::PathBuf;

use parking_app::devices::DeviceMessage;

fn events() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

#[test]
fn every_sample_event_parses_as_its_kind() {
    let mut seen = 0;
    for entry in std::fs::read_dir(events()).expect("events/") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let bytes = std::fs::read(&path).expect("read");
        if name.starts_with("outbox-") || name.starts_with("sqs-") {
            // A DynamoDB stream event for the outbox forwarder (run in
            // e2e.rs), or a queue consumer's SQS event (notifications.rs).
            continue;
        }
        let message = DeviceMessage::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let kind_ok = match &message {
            DeviceMessage::PlateRead { .. } => name.starts_with("gate-plate-read"),
            DeviceMessage::Backlog { reads, .. } => {
                assert!(reads.iter().all(Result::is_ok), "{name}: {reads:?}");
                name.starts_with("gate-backlog")
            }
            DeviceMessage::Bay { .. } => name.starts_with("bay-state"),
            DeviceMessage::Heartbeat { .. } => name.starts_with("heartbeat"),
            DeviceMessage::Presence(p) => name.starts_with(if p.connected {
                "presence-connected"
            } else {
                "presence-disconnected"
            }),
        };
        assert!(kind_ok, "{name} parsed as {message:?}");
        seen += 1;
    }
    assert!(seen >= 6, "only {seen} sample events");
}
