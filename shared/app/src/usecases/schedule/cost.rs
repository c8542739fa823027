//! What the suite costs to run: the requests, units, messages and compute
//! each message and stay consumes, priced from a table of public on-demand
//! prices kept in one file with its date and region
//! (`fixtures/prices/aws-ap-northeast-1.json`).
//!
//! DynamoDB's units are those it reports for each request
//! (`ReturnConsumedCapacity`) when deployed; the in-memory twin estimates
//! them by the same rules from its items' sizes ([`get_units`],
//! [`query_units`], [`write_units`]).

use serde::{Deserialize, Serialize};

/// Bytes a read unit covers (strongly consistent; an eventually
/// consistent read costs half).
pub const READ_UNIT_BYTES: usize = 4096;
/// Bytes a write unit covers.
pub const WRITE_UNIT_BYTES: usize = 1024;

/// Read units of a strongly consistent get (or batch get) of items of
/// these sizes: each item is rounded up to 4 KB on its own, and an item
/// asked for but missing still costs one unit.
pub fn get_units(item_bytes: &[usize]) -> f64 {
    item_bytes
        .iter()
        .map(|b| b.div_ceil(READ_UNIT_BYTES).max(1) as f64)
        .sum()
}

/// Read units of a query returning items of `total_bytes` together: the
/// sum is rounded up to 4 KB, at least one unit; half of that for an
/// eventually consistent query (every query of a secondary index).
pub fn query_units(total_bytes: usize, consistent: bool) -> f64 {
    let units = total_bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// Write units of writing items of these sizes: each rounded up to 1 KB,
/// twice that in a transaction.
pub fn write_units(item_bytes: &[usize], transactional: bool) -> f64 {
    let units: f64 = item_bytes
        .iter()
        .map(|b| b.div_ceil(WRITE_UNIT_BYTES).max(1) as f64)
        .sum();
    if transactional { units * 2.0 } else { units }
}

pub use crate::usage::{StoreUse, Usage};

/// Public on-demand prices, in US dollars, of one region on one date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    pub region: String,
    /// When the prices were read off their sources (`YYYY-MM-DD`).
    pub date: String,
    pub currency: String,
    /// Where each price comes from.
    pub sources: Vec<String>,
    pub lambda_gb_second: f64,
    pub lambda_per_million_requests: f64,
    pub dynamodb_per_million_write_units: f64,
    pub dynamodb_per_million_read_units: f64,
    pub sqs_per_million_requests: f64,
    pub iot_per_million_messages: f64,
    pub iot_per_million_rules_triggered: f64,
    pub iot_per_million_actions: f64,
    /// What the figures assume beyond the prices.
    pub assumptions: Assumptions,
}

/// The assumptions a cost estimate makes of the deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assumptions {
    /// The functions' memory (the template's `MemorySize`).
    pub lambda_memory_mb: u32,
    /// A store request's round trip, added to the handler time the
    /// in-memory simulator measures.
    pub dynamodb_round_trip_ms: f64,
    /// An IoT publish or SQS send's round trip.
    pub publish_round_trip_ms: f64,
    /// A charge or refund's round trip to the payment provider.
    pub provider_round_trip_ms: f64,
}

/// The built-in price table.
pub const PRICES: &str = include_str!("../../../../../fixtures/prices/aws-ap-northeast-1.json");

impl PriceTable {
    /// Reads a price table.
    ///
    /// # Errors
    ///
    /// A sentence naming the field that is missing or wrong.
    pub fn parse(json: &str) -> Result<PriceTable, String> {
        let de = &mut serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize(de).map_err(|e| format!("{}: {}", e.path(), e.inner()))
    }

    /// The built-in table, read once per process.
    ///
    /// # Errors
    ///
    /// Never for the file as shipped (a test reads it).
    pub fn builtin() -> Result<&'static PriceTable, String> {
        static TABLE: std::sync::OnceLock<Result<PriceTable, String>> = std::sync::OnceLock::new();
        TABLE
            .get_or_init(|| PriceTable::parse(PRICES))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// What some usage costs, by service, in the table's currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Cost {
    pub lambda: f64,
    pub dynamodb: f64,
    pub sqs: f64,
    pub iot: f64,
    pub total: f64,
}

impl Cost {
    /// The same cost scaled (per 1,000 sessions, per lot-month).
    #[must_use]
    pub fn times(&self, k: f64) -> Cost {
        Cost {
            lambda: self.lambda * k,
            dynamodb: self.dynamodb * k,
            sqs: self.sqs * k,
            iot: self.iot * k,
            total: self.total * k,
        }
    }
}

/// Prices usage.
pub fn price(u: &Usage, p: &PriceTable) -> Cost {
    let m = 1e-6;
    let lambda = u.lambda_gb_seconds * p.lambda_gb_second
        + u.lambda_invocations as f64 * p.lambda_per_million_requests * m;
    let dynamodb = u.dynamodb_write_units * p.dynamodb_per_million_write_units * m
        + u.dynamodb_read_units * p.dynamodb_per_million_read_units * m;
    let sqs = u.sqs_requests as f64 * p.sqs_per_million_requests * m;
    let iot =
        (u.iot_inbound_messages + u.iot_outbound_messages) as f64 * p.iot_per_million_messages * m
            + (u.iot_inbound_messages + u.iot_ingest_messages) as f64
                * (p.iot_per_million_rules_triggered + p.iot_per_million_actions)
                * m;
    Cost {
        lambda,
        dynamodb,
        sqs,
        iot,
        total: lambda + dynamodb + sqs + iot,
    }
}

/// What a run cost, with what it is based on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostReport {
    pub region: String,
    /// The price table's date.
    pub prices_date: String,
    pub currency: String,
    pub usage: Usage,
    pub sessions: u64,
    /// Lot-days the usage covers.
    pub lot_days: f64,
    pub total: Cost,
    pub per_1000_sessions: Cost,
    /// A lot's month (30.4 days) at this rate.
    pub per_lot_month: Cost,
}

impl CostReport {
    /// Prices `usage` of `sessions` stays over `lot_days`.
    pub fn new(usage: Usage, sessions: u64, lot_days: f64, prices: &PriceTable) -> CostReport {
        let total = price(&usage, prices);
        CostReport {
            region: prices.region.clone(),
            prices_date: prices.date.clone(),
            currency: prices.currency.clone(),
            usage,
            sessions,
            lot_days,
            total,
            per_1000_sessions: if sessions > 0 {
                total.times(1000.0 / sessions as f64)
            } else {
                Cost::default()
            },
            per_lot_month: if lot_days > 0.0 {
                total.times(30.4 / lot_days)
            } else {
                Cost::default()
            },
        }
    }
}

/// What a warm function consumed, gathered by lot and hour and added to
/// the lots' daily usage at most once per `every`, so recording usage
/// costs a write a minute per lot, not one per message.
pub struct UsageBuffer {
    every: jiff::SignedDuration,
    held: std::sync::Mutex<Held>,
}

#[derive(Default)]
struct Held {
    flushed: Option<jiff::Timestamp>,
    usage: std::collections::BTreeMap<(crate::LotId, i64), Usage>,
}

impl UsageBuffer {
    pub fn new(every: jiff::SignedDuration) -> Self {
        UsageBuffer {
            every,
            held: std::sync::Mutex::new(Held::default()),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds what one invocation for `lot` consumed at `at`.
    pub fn add(&self, lot: &crate::LotId, at: jiff::Timestamp, usage: &Usage) {
        let hour = at.as_second().div_euclid(3600);
        let mut held = self.held();
        let entry = held.usage.entry((lot.clone(), hour)).or_default();
        *entry = entry.plus(usage);
    }

    /// Adds what was gathered to the lots' days (each hour to the lot's
    /// local date it starts on) when `every` has passed since the last
    /// time; what cannot be written is kept for the next time.
    ///
    /// # Errors
    ///
    /// The store's, after putting back what was not written.
    pub async fn flush_if_due<S: crate::store::Store>(
        &self,
        store: &S,
        now: jiff::Timestamp,
    ) -> crate::store::StoreResult<usize> {
        let taken = {
            let mut held = self.held();
            if held
                .flushed
                .is_some_and(|f| now.duration_since(f) < self.every)
            {
                return Ok(0);
            }
            held.flushed = Some(now);
            std::mem::take(&mut held.usage)
        };
        let mut written = 0;
        let mut left = taken.clone();
        let mut zones: std::collections::BTreeMap<&crate::LotId, jiff::tz::TimeZone> =
            std::collections::BTreeMap::new();
        for ((lot, hour), usage) in &taken {
            if !zones.contains_key(lot) {
                let zone = match store.get_lot(lot).await {
                    Ok(l) => {
                        jiff::tz::TimeZone::get(&l.time_zone).unwrap_or(jiff::tz::TimeZone::UTC)
                    }
                    Err(_) => jiff::tz::TimeZone::UTC,
                };
                zones.insert(lot, zone);
            }
            let zone = zones.get(lot).cloned().unwrap_or(jiff::tz::TimeZone::UTC);
            let at = jiff::Timestamp::from_second(hour * 3600).unwrap_or(now);
            let date = at.to_zoned(zone).date();
            if let Err(e) = store.add_usage(lot, date, usage).await {
                let mut held = self.held();
                for (k, u) in left {
                    let entry = held.usage.entry(k).or_default();
                    *entry = entry.plus(&u);
                }
                return Err(e);
            }
            left.remove(&(lot.clone(), *hour));
            written += 1;
        }
        Ok(written)
    }
}

/// Lambda's billed GB-seconds of one invocation: its duration rounded up
/// to the millisecond, at the configured memory.
pub fn gb_seconds(duration_ms: f64, memory_mb: u32) -> f64 {
    duration_ms.max(0.0).ceil() / 1000.0 * f64::from(memory_mb) / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_dynamodbs_rounding() {
        assert_eq!(get_units(&[100, 0, 4097]), 1.0 + 1.0 + 2.0);
        assert_eq!(query_units(0, true), 1.0);
        assert_eq!(query_units(9000, true), 3.0);
        assert_eq!(query_units(9000, false), 1.5);
        assert_eq!(write_units(&[100, 1025], false), 3.0);
        assert_eq!(write_units(&[100, 1025], true), 6.0);
    }

    #[test]
    fn the_builtin_prices_read_and_price_usage() {
        let p = PriceTable::builtin().expect("prices");
        assert_eq!(p.region, "ap-northeast-1");
        let u = Usage {
            dynamodb_write_units: 1e6,
            lambda_gb_seconds: 1.0,
            ..Usage::default()
        };
        let c = price(&u, p);
        assert_eq!(c.dynamodb, p.dynamodb_per_million_write_units);
        assert!((c.total - (c.dynamodb + p.lambda_gb_second)).abs() < 1e-12);
        assert!((gb_seconds(10.2, 256) - 0.011 * 0.25).abs() < 1e-12);
    }
}
