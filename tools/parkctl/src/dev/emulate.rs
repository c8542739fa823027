//! `parkctl dev emulate`: cars through a lot's entry and exit gates, each
//! gate a real MQTT client with its own certificate that follows the
//! reference firmware ([`GateDevice`]): it publishes a read, waits for its
//! command ([`OFFLINE_WAIT`] at most, then decides alone), ignores an
//! expired command, and reports its state.
//!
//! The day is compressed: cars come and go as fast as the gates answer,
//! each read stamped with the gate's clock. Nine cars in ten are the demo
//! lot's registered drivers' (the simulator's world for the same seed),
//! the others are not registered and are sent to the kiosk at the exit.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use parking_app::commands::{CommandKind, GateCommand};
use parking_app::gate_device::{GateDevice, OFFLINE_WAIT, Received};
use parking_app::simulator::world::{SimConfig, generate};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rumqttc::{AsyncClient, Event, EventLoop, Packet, QoS};
use serde::Serialize;

use super::registry::Registry;
use super::{GateKind, ProvisionArgs};
use crate::UsageError;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "target/dev")]
    pub dir: PathBuf,
    #[arg(long, default_value = "demo-1")]
    pub lot: String,
    #[arg(long, default_value = "in-1")]
    pub entry: String,
    #[arg(long, default_value = "out-1")]
    pub exit: String,
    /// Cars to drive in and out.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub cars: u32,
    /// Seed of the cars (and of the demo lot's drivers: `dev up --seed`).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// One gate on the wire: its client, its events and its firmware.
struct Gate {
    client: AsyncClient,
    events: EventLoop,
    device: GateDevice,
    base: String,
}

/// What the gates saw, by direction.
#[derive(Debug, Default, Serialize)]
pub struct Lane {
    reads: u32,
    opened: u32,
    held: u32,
    decided_offline: u32,
    ignored_expired: u32,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    cars: u32,
    entry: Lane,
    exit: Lane,
    /// From a read's publish to its command's arrival, over MQTT and TLS.
    round_trip_ms_p50: f64,
    round_trip_ms_p99: f64,
}

impl Gate {
    async fn connect(args: &Args, gate: &str) -> Result<Gate, UsageError> {
        let name = format!("{}-cam-{gate}", args.lot);
        let registry = Registry::load(&args.dir)?;
        let mut defer_grant = false;
        if !registry.active().any(|t| t.name.as_str() == name) {
            // `dev up` grants a new thing within its next look at the
            // registry (250 ms).
            defer_grant = true;
            super::provision(&ProvisionArgs {
                dir: args.dir.clone(),
                lot: args.lot.clone(),
                gate: Some(gate.to_owned()),
                bay: None,
                kind: GateKind::Camera,
                name: Some(name.clone()),
            })?;
        }
        let port = super::broker_port(&args.dir)?;
        let (cert, key) = super::thing_files(&args.dir, &name);
        let base = format!("parking/{}/gates/{gate}", args.lot);
        if defer_grant {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        for _ in 0..40 {
            let options = super::mqtt_options(&args.dir, port, &name, &cert, &key)?;
            let (client, mut events) = AsyncClient::new(options, 64);
            client
                .subscribe(format!("{base}/commands"), QoS::AtLeastOnce)
                .await
                .map_err(|e| UsageError(e.to_string()))?;
            let granted = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    match events.poll().await {
                        Ok(Event::Incoming(Packet::SubAck(a))) => {
                            return a
                                .return_codes
                                .iter()
                                .all(|c| matches!(c, rumqttc::SubscribeReasonCode::Success(_)));
                        }
                        Ok(_) => {}
                        Err(_) => return false,
                    }
                }
            })
            .await
            .unwrap_or(false);
            if granted {
                return Ok(Gate {
                    client,
                    events,
                    device: GateDevice::new(),
                    base,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(UsageError(format!(
            "{name} could not subscribe to its commands; is `parkctl dev up --dir {}` running?",
            args.dir.display()
        )))
    }

    async fn publish(&self, suffix: &str, body: &impl Serialize) -> Result<(), UsageError> {
        let bytes = serde_json::to_vec(body).map_err(|e| UsageError(e.to_string()))?;
        self.client
            .publish(
                format!("{}/{suffix}", self.base),
                QoS::AtLeastOnce,
                false,
                bytes,
            )
            .await
            .map_err(|e| UsageError(e.to_string()))
    }

    /// Publishes a read and acts on its command, or decides alone after
    /// [`OFFLINE_WAIT`].
    async fn pass(
        &mut self,
        read: serde_json::Value,
        lane: &mut Lane,
    ) -> Result<Option<Duration>, UsageError> {
        let sent = Instant::now();
        self.device
            .publish_read(read.clone(), Timestamp::now())
            .map_err(|e| UsageError(e.to_string()))?;
        self.publish("events", &read).await?;
        lane.reads += 1;
        let deadline = sent + OFFLINE_WAIT.unsigned_abs();
        let mut answered = None;
        while answered.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(event) = tokio::time::timeout(left, self.events.poll()).await else {
                break;
            };
            let Ok(Event::Incoming(Packet::Publish(p))) = event else {
                continue;
            };
            let Ok(command) = serde_json::from_slice::<GateCommand>(&p.payload) else {
                continue;
            };
            match self.device.receive(&command, Timestamp::now()) {
                Received::Acted(report) => {
                    match command.command {
                        CommandKind::Open => lane.opened += 1,
                        CommandKind::Hold => lane.held += 1,
                    }
                    self.publish("state", &report).await?;
                    answered = Some(sent.elapsed());
                }
                Received::Expired => lane.ignored_expired += 1,
                Received::NotWaiting | Received::Faulted(_) => {}
            }
        }
        if answered.is_none() {
            for report in self.device.tick(Timestamp::now()) {
                lane.decided_offline += 1;
                self.publish("state", &report).await?;
            }
        }
        let closed = self.device.closed(Timestamp::now());
        self.publish("state", &closed).await?;
        Ok(answered)
    }
}

fn read(id: String, direction: &str, plate: &str, seq: u64) -> serde_json::Value {
    serde_json::json!({
        "event_id": id,
        "type": "plate_read",
        "direction": direction,
        "plate": plate,
        "confidence": 0.97,
        "occurred_at": Timestamp::now().to_string(),
        "seq": seq,
    })
}

/// Drives the cars and prints the summary.
///
/// # Errors
///
/// No broker in the directory, or a gate that cannot connect.
pub async fn run(args: &Args) -> Result<(), UsageError> {
    let world = generate(&SimConfig {
        seed: args.seed,
        lots: 1,
        days: 1,
        ..SimConfig::default()
    })
    .map_err(UsageError)?;
    let registered: Vec<String> = world
        .iter()
        .flat_map(|s| &s.drivers)
        .filter(|d| !d.payment_methods.is_empty())
        .flat_map(|d| d.plates.iter().map(|p| p.display()))
        .collect();
    let mut entry = Gate::connect(args, &args.entry).await?;
    let mut exit = Gate::connect(args, &args.exit).await?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let run_id = Timestamp::now().as_millisecond();
    let (mut lanes, mut rtts) = ((Lane::default(), Lane::default()), Vec::new());
    let mut parked: Vec<String> = Vec::new();
    let mut seq = 0u64;
    let mut car = 0u32;
    while car < args.cars || !parked.is_empty() {
        seq += 1;
        let arrive = car < args.cars && (parked.is_empty() || rng.random_bool(0.6));
        if arrive {
            car += 1;
            let plate = match registered.choose(&mut rng) {
                Some(p) if !rng.random_bool(0.1) => p.clone(),
                _ => format!(
                    "品川 {} さ {:02}-{:02}",
                    rng.random_range(300..600),
                    rng.random_range(10..100),
                    rng.random_range(0..100)
                ),
            };
            let r = read(format!("emu-{run_id}-{seq}"), "entry", &plate, seq);
            rtts.extend(entry.pass(r, &mut lanes.0).await?);
            parked.push(plate);
        } else {
            let i = rng.random_range(0..parked.len());
            let plate = parked.swap_remove(i);
            let r = read(format!("emu-{run_id}-{seq}"), "exit", &plate, seq);
            rtts.extend(exit.pass(r, &mut lanes.1).await?);
        }
    }
    rtts.sort();
    let pct = |p: f64| {
        rtts.get(((rtts.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let summary = Summary {
        cars: args.cars,
        round_trip_ms_p50: pct(0.5),
        round_trip_ms_p99: pct(0.99),
        entry: lanes.0,
        exit: lanes.1,
    };
    crate::print_json(&summary)
}
