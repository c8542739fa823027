//! The DynamoDB store: one table, single-table design.
//!
//! # Keys
//!
//! Every item has a string partition key `PK` and sort key `SK`; items that
//! are listed by another access pattern also carry `GSI1PK`/`GSI1SK` for the
//! global secondary index `GSI1` (all attributes projected). Sessions alone
//! are listed two more ways: by exit time (`GSI2`) and, while they need a
//! person, for review (`GSI3`, sparse). Every item
//! has a `type` attribute naming what it is. Item bodies are the model
//! records, mapped with `serde_dynamo`. Keys are built in [`keys`] and
//! nowhere else.
//!
//! | item | PK | SK | GSI1PK / GSI1SK | notes |
//! |---|---|---|---|---|
//! | lot | `LOT#{lot}` | `LOT` | | |
//! | gate | `LOT#{lot}` | `GATE#{gate}` | | |
//! | bay | `LOT#{lot}` | `BAY#{bay}` | | `at_s`: reading time in epoch seconds, for the newer-reading condition |
//! | reservation slot | `LOT#{lot}` | `SLOT#{minutes}#{start}` | | `reserved` counter; one grid per slot length, `start` in epoch seconds, zero-padded |
//! | lot's device | `LOT#{lot}` | `DEVICE#{device}` | | a copy, read with the lot's configuration and live state |
//! | held reservation | `LOT#{lot}` | `HELD#{end}#{id}` | | a copy while it may still check in; TTL a day after its end |
//! | occupancy summary shard | `LOT#{lot}` | `LOT#LIVE#{00..15}` | | string sets `free` and `occupied` of the bays hashed to the shard, moved by each reading in its transaction; `open_sessions`, the count of the shard's plates' sessions counted toward full |
//! | plate timeline (its head) | `TL#{lot}#PLATE#{plate}` | `TL` | `LIKE#{skeleton}` / `OPEN#{lot}#PLATE#{plate}` while it has an open session | `version` guards every change to the plate's history |
//! | archived stay | `TL#{lot}#PLATE#{plate}` | `STAY#{epoch ms:015}#{session}` | | one older session with its reads, orders and settlements |
//! | tariff | `TARIFF#{id}` | `TARIFF` | | the posted form |
//! | outbox message | `OUTBOX#{id}` | `OUTBOX` | `OUTBOX#{00..15}` / `{created}#{id}` | deleted once delivered; the shard is a hash of the id |
//! | driver's reservation | `DRIVER#{driver}` | `RES#{id}` | | a copy, read with the driver's cards |
//! | device | `DEVICE#{device}` | `DEVICE` | | |
//! | processed event | `DEVICE#{device}` | `EVENT#{event}` | | `expires_at` (TTL), `write`: token of the write that consumed it |
//! | driver | `DRIVER#{driver}` | `DRIVER` | | |
//! | driver's plate | `DRIVER#{driver}` | `PLATE#{plate}` | | written with the registration, for consistent listing |
//! | payment method | `DRIVER#{driver}` | `PM#{method}` | | |
//! | payment-method owner | `PM#{method}` | `OWNER` | | one driver per method |
//! | plate registration | `PLATE#{plate}` | `PLATE` | `LIKE#{skeleton}` / `REG#PLATE#{plate}` | one driver per plate, proven |
//! | plate's claims | `PLATE#{plate}` | `CLAIMS` | `PLATE_REVIEWS` / `{epoch ms}#PLATE#{plate}` while a claim waits for staff | `version` guards every change; at most ten claims and the code shown |
//! | approval request | `APPROVAL#{lot}` | `APR#{id}` | `LOT#{lot}#APPROVALS` / `{epoch ms}#{id}` while pending | `state` guards the one decision |
//! | driver's claim | `DRIVER#{driver}` | `CLAIM#{plate}` | | `expires_at` (TTL) when the claim lapses |
//! | reservation | `RES#{id}` | `RES` | `LOT#{lot}#RES` / `{start}#{id}` | `slot_minutes`: the grid of its slots |
//! | session | `SESSION#{id}` | `SESSION` | `LOT#{lot}#SESSIONS` / `{entry}#{id}` | `version` guards every change; `GSI2PK`/`GSI2SK` `LOT#{lot}#LEFT` / `{exit}#{id}` once it has left; `GSI3PK`/`GSI3SK` `LOT#{lot}#REVIEW` / `{entry}#{id}` while it needs a person |
//! | lot's allow-list marks | `LOT#{lot}` | `~ALLOW` | | `version` guards every change |
//! | lot's webhook subscriptions (with their secrets and health) | `LOT#{lot}` | `~HOOKS` | | `version` guards every change; at most 10 |
//! | camera track | `TRACK#{lot}#{device}#{track}` | `TRACK` | | its first 16 reads and the plate they agree on; `version` guards every change, written in the timeline commit of each of its reads; `expires_at` (TTL) eight days after its last read |
//! | rate-limit window | `RATE#{action}#{caller}` | `W#{start}` | | `n` requests counted; `expires_at` (TTL) two windows on |
//!
//! Access patterns: a lot with its gates, bays, slots and summary is one
//! partition (`Query PK = LOT#…`; its configuration is the range
//! `DEVICE#`…`LOT`, its live state `BAY#`…`LOT#LIVE#~`, its occupancy
//! `HELD#{now}`…`LOT#LIVE#~`: the held reservations still in force, the
//! lot's item and the summary's shards, about 7 bytes a bay (16 KB, 4
//! read units, at 2,000 bays) and never the bays' own items); a plate read
//! fetches the plate's head and registration with one `BatchGetItem`, and
//! a late one the stays around it with a range `Query` of the plate's
//! partition; the plate → driver lookup is one `GetItem`; a driver's whole
//! partition (cards, reservations) is one `Query`. `GSI1` lists a lot's
//! reservations and sessions by time, the outbox, and plates by OCR
//! skeleton; `GSI2` a lot's sessions by exit (a day's report reads its
//! own exits), `GSI3` those awaiting staff (the review queue reads a
//! page). Index reads are eventually consistent, so no operation that
//! must see its own writes reads them. No request path scans.
//!
//! One module per capability implements its trait (`lots`, `drivers`,
//! `reservations`, `history`, `sessions`, `ledger`, `outbox`, `audit`,
//! `flags`, `forecasts`, `usage`, `attempts`), as the in-memory twin does;
//! `reads` holds the range queries and batch gets they share.
//!
//! # Atomic and idempotent writes
//!
//! Every write that an invariant guards is conditional, and every write
//! caused by a device event is one `TransactWriteItems` together with the
//! event's ledger item (`attribute_not_exists(PK) OR expires_at <= now`), so
//! a replayed event changes nothing. Ledger items expire through the
//! table's TTL on `expires_at` after the retention period (default 30
//! days); an entry counts as expired from its `expires_at` second on,
//! whether or not TTL has deleted it yet.
//!
//! Transactions are built with named steps ([`txn`]); those caused by an
//! event or guarded by a version carry a `ClientRequestToken` derived from
//! the logical write; conflict and throttling cancellations are retried. When a condition fails, the
//! operation checks whether what is stored is already its own write (the
//! ledger's `write` token, or the stored item itself) and then reports
//! success: a caller can always tell its own success from someone else's.

mod allow_lists;
mod approvals;
mod attempts;
mod audit;
mod drivers;
mod enrolments;
pub mod errors;
mod flags;
mod forecasts;
mod history;
mod hooks;
pub mod keys;
mod ledger;
mod lots;
pub mod meter;
mod outbox;
mod passages;
mod plate_claims;
mod rate_limits;
mod reads;
mod reservations;
mod sessions;
pub mod table;
pub mod txn;
mod unpaid;
mod usage;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::SignedDuration;
use parking_app::rules::DEFAULT_EVENT_RETENTION;
use parking_app::{Applied, EventRef, StoreError, StoreResult, rules};
use serde::Serialize;
use serde::de::DeserializeOwned;

use errors::from_sdk;
use keys::{Item, Keys, body, n, s};
use txn::{Cond, Failed, Step, Txn};

/// The store on a DynamoDB table laid out as described in this module.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    retention: SignedDuration,
    meter: Option<meter::CapacityMeter>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            retention: DEFAULT_EVENT_RETENTION,
            meter: None,
        }
    }

    /// A store whose client reports what each request consumed (see
    /// [`meter::CapacityMeter`]), built from a client configuration.
    pub fn metered(config: aws_sdk_dynamodb::config::Builder, table: impl Into<String>) -> Self {
        let meter = meter::CapacityMeter::default();
        let client = Client::from_conf(config.interceptor(meter.clone()).build());
        DynamoStore {
            meter: Some(meter),
            ..DynamoStore::new(client, table)
        }
    }

    /// Requests answered and the capacity units DynamoDB says they
    /// consumed, for a metered store.
    pub fn consumed(&self) -> Option<parking_app::usecases::cost::StoreUse> {
        self.meter.as_ref().map(meter::CapacityMeter::consumed)
    }

    /// How long processed device events are remembered.
    pub fn with_event_retention(mut self, retention: SignedDuration) -> Self {
        self.retention = retention;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens the connection to DynamoDB (TLS included) with one read of a
    /// key that holds nothing, so the first real request does not pay for
    /// it. Failure is ignored: the first request will try again.
    pub async fn warm(&self) {
        let _ = self.get(&keys::warm()).await;
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// A transaction; `token` where the write's arguments pin the state it
    /// expects (see [`txn`]).
    fn txn(&self, token: Option<String>) -> Txn<'_> {
        Txn::new(&self.table, token)
    }

    /// Adds the ledger item of the event that causes a write.
    fn with_ledger<'t>(
        &self,
        txn: Txn<'t>,
        cause: Option<&EventRef>,
        token: &str,
    ) -> StoreResult<Txn<'t>> {
        let Some(e) = cause else { return Ok(txn) };
        let mut item = keys::ledger(&e.device_id, &e.event_id).item(e)?;
        item.insert(
            "expires_at".into(),
            n(rules::ledger_expiry(e, self.retention)),
        );
        item.insert("write".into(), s(token));
        txn.put(
            Step::Ledger,
            item,
            Some(
                Cond::new("attribute_not_exists(PK) OR expires_at <= :now")
                    .value(":now", n(e.processed_at.as_second()))
                    .found_on_failure(),
            ),
        )
    }

    /// What a write whose ledger condition failed amounts to: its own
    /// earlier success (the entry carries its token), or a duplicate.
    async fn ledger_outcome(
        &self,
        failed: &Failed,
        cause: Option<&EventRef>,
        token: &str,
    ) -> StoreResult<Option<Applied>> {
        let Some(e) = cause.filter(|_| failed.has(Step::Ledger)) else {
            return Ok(None);
        };
        let entry = match failed.found(Step::Ledger) {
            Some(item) => Some(item.clone()),
            None => self.get(&keys::ledger(&e.device_id, &e.event_id)).await?,
        };
        let mine = matches!(
            entry.as_ref().and_then(|i| i.get("write")),
            Some(AttributeValue::S(t)) if t == token
        );
        Ok(Some(if mine {
            Applied::Done
        } else {
            Applied::Duplicate
        }))
    }

    async fn get(&self, keys: &Keys) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys.key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(out.item)
    }

    async fn get_body<T: DeserializeOwned>(
        &self,
        keys: &Keys,
        what: impl FnOnce() -> String,
    ) -> StoreResult<T> {
        match self.get(keys).await? {
            Some(item) => body(item),
            None => Err(StoreError::not_found(what())),
        }
    }

    async fn get_opt<T: DeserializeOwned>(&self, keys: &Keys) -> StoreResult<Option<T>> {
        self.get(keys).await?.map(body).transpose()
    }

    /// Puts `value` as the item of `keys` if the stored item's `version`
    /// is `version - 1` (none stored for version 1). Refused, it reads the
    /// item: the very same value stored (a repeat after a lost answer) is
    /// done; anything else is `Conflict(refused())`.
    async fn put_versioned<T: Serialize + DeserializeOwned + PartialEq>(
        &self,
        keys: &Keys,
        value: &T,
        version: u64,
        refused: impl FnOnce() -> parking_app::Refusal,
    ) -> StoreResult<()> {
        use aws_sdk_dynamodb::error::SdkError;
        use aws_sdk_dynamodb::types::AttributeValue;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(keys.item(value)?));
        let put = match version.checked_sub(1) {
            None | Some(0) => put.condition_expression("attribute_not_exists(PK)"),
            Some(prev) => put
                .condition_expression("#v = :prev")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":prev", AttributeValue::N(prev.to_string())),
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                if self.get_opt::<T>(keys).await?.as_ref() == Some(value) {
                    return Ok(());
                }
                Err(StoreError::Conflict(refused()))
            }
            Err(e) => Err(from_sdk(e)),
        }
    }

    async fn put_plain<T: Serialize>(&self, keys: &Keys, value: &T) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(keys.item(value)?))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }

    /// Every item of a base-table partition whose sort key starts with
    /// `sk_prefix` (all of them for an empty prefix), strongly consistent,
    /// page by page.
    async fn query(&self, (pk, sk_prefix): (String, &str)) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_values(":pk", s(&pk));
            // DynamoDB refuses an empty prefix: no prefix is the whole
            // partition.
            q = if sk_prefix.is_empty() {
                q.key_condition_expression("PK = :pk")
            } else {
                q.key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                    .expression_attribute_values(":prefix", s(sk_prefix))
            };
            let out = q
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(from_sdk)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    async fn query_bodies<T: DeserializeOwned>(
        &self,
        partition: (String, &str),
    ) -> StoreResult<Vec<T>> {
        self.query(partition).await?.into_iter().map(body).collect()
    }
}
