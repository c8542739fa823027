//! `parkctl dev up`: the broker, and the bridge that plays the IoT rules.
//!
//! The bridge subscribes to the device topics as its own identity
//! ([`super::registry::BRIDGE`]). For each message it does what the rule
//! does ([`parking_app::device_access::deliver`]): adds the topic, the
//! authenticated client id (the one thing granted that topic) and the
//! receive time, and drops a payload that brings its own. The handler is
//! the Lambda functions' ([`DeviceEvents`]), over an in-memory store
//! seeded with the demo lot; its gate commands are published back on the
//! gate's command topic. Each message's outcome is one JSON line on
//! standard output (never a plate).

use std::path::PathBuf;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use parking_app::commands::{DeviceLink, GateCommand};
use parking_app::device_access::deliver;
use parking_app::outbox::SendError;
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::usecases::operator::put_device;
use parking_app::{Actor, Store};
use parking_aws::MemoryStore;
use rumqttc::{AsyncClient, Event, Packet, QoS};

use super::broker::{self, Broker, SERVER_CERT, SERVER_KEY};
use super::pki::Ca;
use super::registry::{BRIDGE, Registry};
use crate::UsageError;

/// Where `dev up` writes the port it listens on.
pub const BROKER_FILE: &str = "broker.json";

/// The device topics the rules select.
const TOPICS: [&str; 3] = [
    "parking/+/gates/+/events",
    "parking/+/gates/+/backlog",
    // Sensors publish through Basic Ingest, straight to the bay rule.
    "$aws/rules/+/parking/+/bays/+/state",
];

#[derive(clap::Args)]
pub struct Args {
    /// The development directory (the CA, the things, the broker's files).
    #[arg(long, default_value = "target/dev")]
    pub dir: PathBuf,
    /// The broker's TLS port on 127.0.0.1.
    #[arg(long, default_value_t = 8883)]
    pub port: u16,
    /// The mosquitto program (default: on the PATH, or /usr/sbin).
    #[arg(long)]
    pub mosquitto: Option<PathBuf>,
    /// Seed of the demo lot's simulated day.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// The gates' link: commands published over MQTT, at least once.
struct MqttLink(AsyncClient);

impl DeviceLink for MqttLink {
    async fn publish(&self, topic: &str, command: &GateCommand) -> Result<(), SendError> {
        let body = serde_json::to_vec(command).map_err(|e| SendError {
            what: "gate command",
            source: Box::new(e),
        })?;
        self.0
            .publish(topic, QoS::AtLeastOnce, false, body)
            .await
            .map_err(|e| SendError {
                what: "gate command",
                source: Box::new(e),
            })
    }
}

/// Who registers the things' devices in the store (the audit shows it).
fn dev_actor() -> Actor {
    Actor {
        role: "operator".into(),
        subject: "parkctl-dev".into(),
    }
}

/// Registers the active things as the lot's devices.
async fn register<S: Store>(store: &S, registry: &Registry) {
    for t in registry.active() {
        let outcome = put_device(store, Timestamp::now(), &dev_actor(), t.device()).await;
        if let Err(e) = outcome {
            line(
                serde_json::json!({"thing": t.name.as_str(), "outcome": "not registered", "why": e.to_string()}),
            );
        }
    }
}

fn line(v: serde_json::Value) {
    println!("{v}");
}

/// Runs the broker and the bridge until interrupted.
///
/// # Errors
///
/// The broker does not start, or the directory's files cannot be made.
pub async fn up(args: &Args) -> Result<(), UsageError> {
    std::fs::create_dir_all(&args.dir)
        .and_then(|()| args.dir.canonicalize())
        .map_err(|e| UsageError(format!("{}: {e}", args.dir.display())))?;
    let dir = &args
        .dir
        .canonicalize()
        .map_err(|e| UsageError(e.to_string()))?;
    let ca = Ca::open(dir)?;
    if !dir.join(SERVER_CERT).is_file() {
        ca.issue(
            "localhost",
            true,
            &dir.join(SERVER_CERT),
            &dir.join(SERVER_KEY),
        )?;
    }
    let (bridge_cert, bridge_key) = (dir.join("bridge.pem"), dir.join("bridge.key"));
    if !bridge_cert.is_file() {
        ca.issue(BRIDGE, false, &bridge_cert, &bridge_key)?;
    }
    let mut registry = Registry::load(dir)?;
    ca.write_crl(dir, &registry.revoked_serials())?;
    let mut broker = Broker::start(
        broker::find(args.mosquitto.as_deref())?,
        dir,
        args.port,
        &registry.acl(),
    )
    .await?;
    let port_file = dir.join(BROKER_FILE);
    std::fs::write(
        &port_file,
        serde_json::json!({"host": "127.0.0.1", "port": args.port}).to_string(),
    )
    .map_err(|e| UsageError(format!("{}: {e}", port_file.display())))?;

    let store = crate::serve::seed(MemoryStore::default(), args.seed, 1, 1).await?;
    register(&store, &registry).await;

    let options = super::mqtt_options(dir, args.port, BRIDGE, &bridge_cert, &bridge_key)?;
    let (client, mut events) = AsyncClient::new(options, 256);
    // The lot's devices are read again every two seconds, so a thing
    // provisioned while the broker runs is believed at once (deployed, the
    // functions keep a lot a minute).
    let handler = DeviceEvents::new(
        store,
        MqttLink(client.clone()),
        SignedDuration::from_secs(2),
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel::<rumqttc::Publish>(1024);
    let subscriber = client.clone();
    tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    for t in TOPICS {
                        let _ = subscriber.try_subscribe(t, QoS::AtLeastOnce);
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    line(
        serde_json::json!({"listening": format!("127.0.0.1:{}", args.port), "dir": dir, "things": registry.active().count()}),
    );

    let mut seen = std::fs::read(Registry::path(dir)).unwrap_or_default();
    let mut watch = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            Some(p) = rx.recv() => handle(&handler, &registry, p).await,
            _ = watch.tick() => {
                let now = std::fs::read(Registry::path(dir)).unwrap_or_default();
                if now == seen {
                    continue;
                }
                seen = now;
                let next = Registry::load(dir)?;
                let revoked = next.revoked_serials() != registry.revoked_serials();
                if revoked {
                    broker.restart(&next.acl()).await?;
                } else {
                    broker.reload(&next.acl())?;
                }
                register(&handler.store, &next).await;
                registry = next;
                line(serde_json::json!({"things": registry.active().count(), "reloaded": true, "restarted": revoked}));
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    broker.stop().await;
    Ok(())
}

async fn handle<S: Store, L: DeviceLink>(
    handler: &DeviceEvents<S, L>,
    registry: &Registry,
    p: rumqttc::Publish,
) {
    let now = Timestamp::now();
    let client = registry.publisher_of(&p.topic).map(|t| t.name.to_string());
    let out = match deliver(&p.topic, client.as_deref(), now, &p.payload) {
        Err(e) => {
            serde_json::json!({"topic": p.topic, "client": client, "outcome": "dropped", "why": e.to_string()})
        }
        Ok(message) => match handler.handle(&message, now).await {
            Ok(r) => serde_json::json!({
                "topic": p.topic,
                "client": client,
                "outcome": "handled",
                "applied": r.applied,
                "duplicates": r.duplicates,
                "stale": r.stale,
                "refused": r.rejected.iter().map(|x| x.rejection.to_string()).collect::<Vec<_>>(),
                "commands": r.commands.iter().map(|(_, c)| serde_json::json!({"event_id": c.event_id, "kind": c.command})).collect::<Vec<_>>(),
            }),
            Err(e) => {
                serde_json::json!({"topic": p.topic, "client": client, "outcome": "failed", "why": e.to_string()})
            }
        },
    };
    line(out);
}
