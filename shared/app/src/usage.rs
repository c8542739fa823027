//! What the suite consumed for each lot, by the lot's local date: added
//! to the lot's day, never rewritten.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::store::StoreResult;

/// What the suite consumed for each lot, by the lot's local date.
pub trait UsageStore: Send + Sync {
    /// Adds to a lot's day (one atomic increment of each counter).
    fn add_usage(
        &self,
        lot_id: &LotId,
        date: jiff::civil::Date,
        usage: &Usage,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// A lot's day so far (nothing recorded: zero).
    fn lot_usage(
        &self,
        lot_id: &LotId,
        date: jiff::civil::Date,
    ) -> impl Future<Output = StoreResult<Usage>> + Send;
}

/// A store's own counts: requests and the capacity units they consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StoreUse {
    pub reads: u64,
    pub writes: u64,
    pub read_units: f64,
    pub write_units: f64,
}

impl StoreUse {
    pub fn requests(&self) -> u64 {
        self.reads + self.writes
    }

    /// What was counted since `earlier`.
    #[must_use]
    pub fn since(&self, earlier: &StoreUse) -> StoreUse {
        StoreUse {
            reads: self.reads - earlier.reads,
            writes: self.writes - earlier.writes,
            read_units: self.read_units - earlier.read_units,
            write_units: self.write_units - earlier.write_units,
        }
    }
}

/// What some work consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    pub dynamodb_read_requests: u64,
    pub dynamodb_write_requests: u64,
    pub dynamodb_read_units: f64,
    pub dynamodb_write_units: f64,
    /// Sends, receives and deletes.
    pub sqs_requests: u64,
    /// Messages the devices publish (each triggers one rule with one
    /// action, the function it invokes).
    pub iot_inbound_messages: u64,
    /// Messages the devices send through Basic Ingest (straight to a rule:
    /// the rule and its action, no messaging charge).
    pub iot_ingest_messages: u64,
    /// Messages published to devices and drivers (gate commands,
    /// notifications).
    pub iot_outbound_messages: u64,
    pub lambda_invocations: u64,
    pub lambda_gb_seconds: f64,
}

impl Usage {
    /// Adds a store's requests and units.
    pub fn add_store(&mut self, s: &StoreUse) {
        self.dynamodb_read_requests += s.reads;
        self.dynamodb_write_requests += s.writes;
        self.dynamodb_read_units += s.read_units;
        self.dynamodb_write_units += s.write_units;
    }

    /// The sum of two.
    #[must_use]
    pub fn plus(&self, o: &Usage) -> Usage {
        Usage {
            dynamodb_read_requests: self.dynamodb_read_requests + o.dynamodb_read_requests,
            dynamodb_write_requests: self.dynamodb_write_requests + o.dynamodb_write_requests,
            dynamodb_read_units: self.dynamodb_read_units + o.dynamodb_read_units,
            dynamodb_write_units: self.dynamodb_write_units + o.dynamodb_write_units,
            sqs_requests: self.sqs_requests + o.sqs_requests,
            iot_inbound_messages: self.iot_inbound_messages + o.iot_inbound_messages,
            iot_ingest_messages: self.iot_ingest_messages + o.iot_ingest_messages,
            iot_outbound_messages: self.iot_outbound_messages + o.iot_outbound_messages,
            lambda_invocations: self.lambda_invocations + o.lambda_invocations,
            lambda_gb_seconds: self.lambda_gb_seconds + o.lambda_gb_seconds,
        }
    }

    /// What was consumed since `earlier` (counters only grow).
    #[must_use]
    pub fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            dynamodb_read_requests: self.dynamodb_read_requests - earlier.dynamodb_read_requests,
            dynamodb_write_requests: self.dynamodb_write_requests - earlier.dynamodb_write_requests,
            dynamodb_read_units: self.dynamodb_read_units - earlier.dynamodb_read_units,
            dynamodb_write_units: self.dynamodb_write_units - earlier.dynamodb_write_units,
            sqs_requests: self.sqs_requests - earlier.sqs_requests,
            iot_inbound_messages: self.iot_inbound_messages - earlier.iot_inbound_messages,
            iot_ingest_messages: self.iot_ingest_messages - earlier.iot_ingest_messages,
            iot_outbound_messages: self.iot_outbound_messages - earlier.iot_outbound_messages,
            lambda_invocations: self.lambda_invocations - earlier.lambda_invocations,
            lambda_gb_seconds: self.lambda_gb_seconds - earlier.lambda_gb_seconds,
        }
    }
}
