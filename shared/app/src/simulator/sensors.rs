//! A lot's bay sensors, priced: what a day of readings costs through the
//! device handler, in two deliveries.
//!
//! - **Every minute** (how sensors reported before): each sensor sends its
//!   state every 60 s with no `since`, each reading an IoT message that
//!   triggers the rule and invokes the function once, and each is written
//!   (the bay, its summary shard and the event's ledger item in one
//!   transaction). Its cost grows with the sensors' clocks, not with what
//!   happens, so it is run on a sample of the lot's bays and scaled to
//!   the lot (the cost per bay is the same for every bay).
//!   (The two runs share the lot: the second is the sensors' next boot.)
//! - **On change**: a sensor reports when its bay changes (about
//!   `changes_per_bay_day` times a day, at random) and repeats its state
//!   every `repeat` (15 minutes) with the same `since`, through Basic
//!   Ingest (the rule and its SQS action, no messaging charge); the
//!   function takes the queue's readings in batches (`batch` at most, or
//!   what arrives within `window`), and a repeat writes nothing.
//!
//! Store units are the in-memory twin's estimates by DynamoDB's rules;
//! Lambda time is the handler's measured time plus the price file's
//! assumed round trip per store request. SQS requests: the rule's send of
//! each reading, and one receive and one batch delete per ten readings
//! (idle polling is not counted).

use jiff::{SignedDuration, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::commands::DeviceLink;
use crate::store::Store;
use crate::usecases::cost::{Cost, PriceTable, StoreUse, Usage, price};
use crate::usecases::device_events::DeviceEvents;

/// The lot and its sensors' habits.
#[derive(Debug, Clone)]
pub struct SensorLoad {
    /// The lot (set up with its bays and sensors).
    pub lot: crate::ids::LotId,
    pub bays: Vec<crate::ids::BayId>,
    pub changes_per_bay_day: f64,
    pub repeat: SignedDuration,
    /// Bays of the every-minute sample.
    pub sample: usize,
    pub start: Timestamp,
    pub seed: u64,
    /// Readings per batch at most, and how long the queue gathers them.
    pub batch: u32,
    pub window: SignedDuration,
}

/// One delivery's day, and the lot-month at that rate.
#[derive(Debug, Clone, Serialize)]
pub struct SensorCost {
    pub delivery: String,
    pub bays: usize,
    /// Readings in the lot's day (scaled from the sample for every-minute).
    pub readings: u64,
    /// Readings that wrote the bay.
    pub written: u64,
    pub usage: Usage,
    pub per_lot_month: Cost,
}

/// Both deliveries for the lot's sensors: every minute, then on change.
///
/// # Errors
///
/// The handler's, as text.
pub async fn price_sensors<S: Store, L: DeviceLink>(
    handler: &DeviceEvents<S, L>,
    load: &SensorLoad,
    prices: &PriceTable,
    store_use: impl Fn() -> StoreUse,
) -> Result<[SensorCost; 2], String> {
    let minute = every_minute(handler, load, prices, &store_use).await?;
    let change = on_change(handler, load, prices, &store_use).await?;
    Ok([minute, change])
}

#[allow(clippy::too_many_arguments)]
fn reading(
    load: &SensorLoad,
    bay: &crate::ids::BayId,
    boot: u64,
    event: String,
    occupied: bool,
    seq: u64,
    since: Option<u64>,
    at: Timestamp,
) -> Vec<u8> {
    let mut v = serde_json::json!({
        "topic": format!("parking/{}/bays/{bay}/state", load.lot),
        "clientid": format!("{}-sensor-{bay}", load.lot),
        "received_at": (at + SignedDuration::from_millis(300)).as_millisecond(),
        "event_id": event,
        "occupied": occupied,
        "confidence": 0.97,
        "occurred_at": at.to_string(),
        "seq": seq,
        "boot": boot,
    });
    if let Some(s) = since {
        v["since"] = s.into();
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

fn gb_seconds(ms: f64, memory_mb: u32) -> f64 {
    ms / 1000.0 * f64::from(memory_mb) / 1024.0
}

/// Handles one reading taken at `at` (received a second later), adds its
/// store use and function time to `usage`; the events it applied.
async fn handle<S: Store, L: DeviceLink>(
    handler: &DeviceEvents<S, L>,
    bytes: &[u8],
    at: Timestamp,
    prices: &PriceTable,
    store_use: &impl Fn() -> StoreUse,
    usage: &mut Usage,
) -> Result<u32, String> {
    let assume = &prices.assumptions;
    let before = store_use();
    let t = std::time::Instant::now();
    let report = handler
        .handle(bytes, at + SignedDuration::from_secs(1))
        .await
        .map_err(|e| e.to_string())?;
    let took = t.elapsed().as_secs_f64() * 1000.0;
    let used = store_use().since(&before);
    usage.add_store(&used);
    usage.lambda_gb_seconds += gb_seconds(
        took + used.requests() as f64 * assume.dynamodb_round_trip_ms,
        assume.lambda_memory_mb,
    );
    Ok(report.applied)
}

async fn every_minute<S: Store, L: DeviceLink>(
    handler: &DeviceEvents<S, L>,
    load: &SensorLoad,
    prices: &PriceTable,
    store_use: &impl Fn() -> StoreUse,
) -> Result<SensorCost, String> {
    let sample: Vec<_> = load.bays.iter().take(load.sample.max(1)).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(load.seed);
    let mut state: Vec<bool> = sample.iter().map(|_| rng.random_bool(0.5)).collect();
    let flip = load.changes_per_bay_day / 1440.0;
    let mut usage = Usage::default();
    let (mut readings, mut written) = (0u64, 0u64);
    for m in 0..1440i64 {
        let at = load.start + SignedDuration::from_mins(m);
        for (i, bay) in sample.iter().enumerate() {
            if rng.random_bool(flip.min(1.0)) {
                state[i] = !state[i];
            }
            let seq = 1_000_000 + m as u64;
            let bytes = reading(
                load,
                bay,
                0,
                format!("m-{bay}-{m}"),
                state[i],
                seq,
                None,
                at,
            );
            let applied = handle(handler, &bytes, at, prices, store_use, &mut usage).await?;
            readings += 1;
            written += u64::from(applied);
            usage.iot_inbound_messages += 1;
            usage.lambda_invocations += 1;
        }
    }
    let scale = load.bays.len() as f64 / sample.len() as f64;
    let usage = scaled(&usage, scale);
    Ok(SensorCost {
        delivery: "every minute, one message and invocation each".into(),
        bays: load.bays.len(),
        readings: (readings as f64 * scale).round() as u64,
        written: (written as f64 * scale).round() as u64,
        per_lot_month: price(&usage, prices).times(30.4),
        usage,
    })
}

fn scaled(u: &Usage, k: f64) -> Usage {
    let n = |x: u64| (x as f64 * k).round() as u64;
    Usage {
        dynamodb_read_requests: n(u.dynamodb_read_requests),
        dynamodb_write_requests: n(u.dynamodb_write_requests),
        dynamodb_read_units: u.dynamodb_read_units * k,
        dynamodb_write_units: u.dynamodb_write_units * k,
        sqs_requests: n(u.sqs_requests),
        iot_inbound_messages: n(u.iot_inbound_messages),
        iot_ingest_messages: n(u.iot_ingest_messages),
        iot_outbound_messages: n(u.iot_outbound_messages),
        lambda_invocations: n(u.lambda_invocations),
        lambda_gb_seconds: u.lambda_gb_seconds * k,
    }
}

async fn on_change<S: Store, L: DeviceLink>(
    handler: &DeviceEvents<S, L>,
    load: &SensorLoad,
    prices: &PriceTable,
    store_use: &impl Fn() -> StoreUse,
) -> Result<SensorCost, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(load.seed.wrapping_add(1));
    let day = SignedDuration::from_hours(24);
    // Every bay's readings: (at, bay index, occupied, seq, since).
    let mut all: Vec<(Timestamp, usize, bool, u64, u64)> = Vec::new();
    for (b, _) in load.bays.iter().enumerate() {
        let mut changes: Vec<SignedDuration> = Vec::new();
        let mut t = 0.0f64;
        let rate = load.changes_per_bay_day / day.as_secs_f64();
        loop {
            // Exponential gaps: a Poisson process of changes.
            let u: f64 = rng.random_range(f64::EPSILON..1.0);
            t += -u.ln() / rate;
            if t >= day.as_secs_f64() {
                break;
            }
            changes.push(SignedDuration::from_secs_f64(t));
        }
        let phase = SignedDuration::from_secs(rng.random_range(0..load.repeat.as_secs().max(1)));
        let mut events: Vec<(SignedDuration, bool)> = changes.iter().map(|c| (*c, true)).collect();
        let mut r = phase;
        while r < day {
            events.push((r, false));
            r += load.repeat;
        }
        events.sort();
        let (mut occupied, mut seq, mut since) = (rng.random_bool(0.5), 1u64, 1u64);
        all.push((load.start, b, occupied, seq, since));
        for (offset, is_change) in events {
            seq += 1;
            if is_change {
                occupied = !occupied;
                since = seq;
            }
            all.push((load.start + offset, b, occupied, seq, since));
        }
    }
    all.sort_by_key(|r| r.0);
    let mut usage = Usage::default();
    let (mut written, mut batch_len, mut batch_start) = (0u64, 0u32, None::<Timestamp>);
    for &(at, b, occupied, seq, since) in &all {
        let bay = &load.bays[b];
        let bytes = reading(
            load,
            bay,
            1,
            format!("c-{bay}-{seq}"),
            occupied,
            seq,
            Some(since),
            at,
        );
        let applied = handle(handler, &bytes, at, prices, store_use, &mut usage).await?;
        written += u64::from(applied);
        usage.iot_ingest_messages += 1;
        // The rule's SendMessage of the reading.
        usage.sqs_requests += 1;
        // Batches: a new one when the last is full or its window closed.
        let open = batch_start.is_some_and(|s| at.duration_since(s) < load.window);
        if open && batch_len < load.batch {
            batch_len += 1;
        } else {
            usage.lambda_invocations += 1;
            batch_start = Some(at);
            batch_len = 1;
        }
    }
    let readings = all.len() as u64;
    // One receive and one batch delete per ten readings.
    usage.sqs_requests += 2 * readings.div_ceil(10);
    Ok(SensorCost {
        delivery: format!(
            "on change, repeated every {} min, through Basic Ingest and SQS batches of up to {}",
            load.repeat.as_mins(),
            load.batch
        ),
        bays: load.bays.len(),
        readings,
        written,
        per_lot_month: price(&usage, prices).times(30.4),
        usage,
    })
}
