//! What the capabilities' reads share: a partition's range, page by page;
//! a batch of gets; an item's kind and numbers; the lot's occupancy.

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use jiff::Timestamp;
use parking_app::ids::*;
use parking_app::outbox::OutboxMessage;
use parking_app::rules;
use parking_app::store::prelude::*;
use parking_app::*;
use parking_core::Plate;

use super::DynamoStore;
use super::errors::from_sdk;
use super::keys::{self, Item, body, s};

pub(super) fn kind(item: &Item) -> Option<&str> {
    match item.get("type") {
        Some(AttributeValue::S(t)) => Some(t.as_str()),
        _ => None,
    }
}

fn sort_key(item: &Item) -> Option<&str> {
    match item.get("SK") {
        Some(AttributeValue::S(k)) => Some(k.as_str()),
        _ => None,
    }
}

pub(super) fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// The lot's occupancy from its summary's shards and its held
/// reservations; other items are passed over.
pub(super) fn occupancy_of(lot: &Lot, at: Timestamp, items: Vec<Item>) -> StoreResult<Occupancy> {
    let ids = |item: &Item, name: &str| -> StoreResult<Vec<BayId>> {
        match item.get(name) {
            Some(AttributeValue::Ss(v)) => v
                .iter()
                .map(|b| {
                    BayId::parse(b).map_err(|_| StoreError::Corrupt {
                        key: format!("{name} of the lot's summary"),
                        reason: "a bay id does not parse".into(),
                    })
                })
                .collect(),
            _ => Ok(Vec::new()),
        }
    };
    let mut occupancy = Occupancy::default();
    let mut open: i64 = 0;
    for item in items {
        match kind(&item) {
            Some("held_reservation") => {
                let r: Reservation = body(item)?;
                if rules::held_at(lot, &r, at) {
                    occupancy.held_reservations += 1;
                }
            }
            // The shards alone: not an older single counter item.
            Some("live") if sort_key(&item).is_some_and(|k| k.starts_with(keys::LIVE_PREFIX)) => {
                occupancy.occupied += ids(&item, "occupied")?.len() as u32;
                occupancy.free.extend(ids(&item, "free")?);
                open += number(&item, "open_sessions").unwrap_or(0);
            }
            _ => {}
        }
    }
    occupancy.free.sort();
    occupancy.open_sessions = u32::try_from(open.max(0)).unwrap_or(u32::MAX);
    Ok(occupancy)
}

/// Batch requests are retried this often for keys DynamoDB left
/// unprocessed (throttling), then the operation is unavailable.
pub(super) const BATCH_ATTEMPTS: u32 = 4;

impl DynamoStore {
    /// Items of a partition with sort keys from `from` to `to`, strongly
    /// consistent, page by page.
    pub(super) async fn query_between(
        &self,
        pk: String,
        from: &str,
        to: &str,
    ) -> StoreResult<Vec<Item>> {
        self.query_range(&pk, (from, to), true, None).await
    }

    /// The same, in order or in reverse, up to `limit` items (or all).
    pub(super) async fn query_range(
        &self,
        pk: &str,
        (from, to): (&str, &str),
        forward: bool,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let left = limit.map(|l| l.saturating_sub(items.len()));
            if left == Some(0) {
                return Ok(items);
            }
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to))
                .scan_index_forward(forward)
                .consistent_read(true)
                .set_limit(left.and_then(|l| i32::try_from(l).ok()))
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

    /// Every item of an index partition (eventually consistent).
    pub(super) async fn query_index(
        &self,
        gsi_pk: &str,
        projection: Option<&str>,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("GSI1")
                .key_condition_expression("GSI1PK = :pk")
                .expression_attribute_values(":pk", s(gsi_pk))
                .set_exclusive_start_key(start);
            if let Some(p) = projection {
                q = q
                    .projection_expression(p)
                    .expression_attribute_names("#plate", "plate");
            }
            let out = q.send().await.map_err(from_sdk)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// The oldest `limit` outbox messages listed with sort keys from
    /// `from` to `to`, over every shard: one query a shard, merged by the
    /// listing's order (creation second, then id).
    pub(super) async fn outbox_listed(
        &self,
        from: &str,
        to: &str,
        limit: usize,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let mut listed: Vec<(String, Item)> = Vec::new();
        for shard in keys::outbox_shards() {
            for item in self
                .query_index_window(&shard, from, to, Some(limit))
                .await?
            {
                let sk = match item.get("GSI1SK") {
                    Some(AttributeValue::S(v)) => v.clone(),
                    _ => String::new(),
                };
                listed.push((sk, item));
            }
        }
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        listed.truncate(limit);
        listed.into_iter().map(|(_, item)| body(item)).collect()
    }

    /// Every item of an index partition whose sort key is at least
    /// `from`.
    pub(super) async fn query_index_from(
        &self,
        gsi_pk: &str,
        from: &str,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("GSI1")
                .key_condition_expression("GSI1PK = :pk AND GSI1SK >= :from")
                .expression_attribute_values(":pk", s(gsi_pk))
                .expression_attribute_values(":from", s(from))
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

    /// Items of a `GSI1` partition with sort keys from `from` to `to`
    /// (inclusive), in order, page by page until `limit` items (or all).
    pub(super) async fn query_index_window(
        &self,
        gsi_pk: &str,
        from: &str,
        to: &str,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        self.query_listing("GSI1", gsi_pk, from, to, limit).await
    }

    /// Items of a partition of the index `index` (`GSI1`, `GSI2`,
    /// `GSI3`, keyed `{index}PK`, `{index}SK`) with sort keys from `from`
    /// to `to` (inclusive), in order, page by page until `limit` items
    /// (or all).
    pub(super) async fn query_listing(
        &self,
        index: &str,
        gsi_pk: &str,
        from: &str,
        to: &str,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let left = limit.map(|l| l.saturating_sub(items.len()));
            if left == Some(0) {
                return Ok(items);
            }
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(format!(
                    "{index}PK = :pk AND {index}SK BETWEEN :from AND :to"
                ))
                .expression_attribute_values(":pk", s(gsi_pk))
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to))
                .set_limit(left.and_then(|l| i32::try_from(l).ok()))
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

    /// Several items by key in one request (strongly consistent); keys
    /// DynamoDB leaves unprocessed are asked again.
    pub(super) async fn batch_get(&self, wanted: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        let mut pending = wanted;
        for _ in 0..BATCH_ATTEMPTS {
            if pending.is_empty() {
                return Ok(found);
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(true)
                .build()
                .map_err(super::errors::build_error)?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(from_sdk)?;
            found.extend(
                out.responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default(),
            );
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        if pending.is_empty() {
            Ok(found)
        } else {
            Err(StoreError::Unavailable {
                source: "DynamoDB left keys unprocessed after every attempt".into(),
            })
        }
    }
}

impl DynamoStore {
    /// A plate's stays with sort keys from `from` to `to`, strongly
    /// consistent, in order (or in reverse), at most `limit`.
    pub(super) async fn stays_between(
        &self,
        lot_id: &LotId,
        plate: &Plate,
        (from, to): (String, String),
        forward: bool,
        limit: usize,
    ) -> StoreResult<Vec<parking_app::history::Stay>> {
        let (pk, _, _) = keys::stays_of(lot_id, plate);
        self.query_range(&pk, (&from, &to), forward, Some(limit))
            .await?
            .into_iter()
            .map(body)
            .collect()
    }
}

/// A window of an index sorted by `{seconds:012}#…`: `[from, to)`.
pub(super) fn window(from: Timestamp, to: Timestamp) -> (String, String) {
    (
        format!("{:012}", from.as_second().max(0)),
        // Every key of second `to - 1`, none of second `to`.
        format!("{:012}", to.as_second().max(0)),
    )
}
