//! The outbox: its items, listed in sixteen index shards until delivered.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;
use parking_app::outbox::OutboxMessage;
use parking_app::*;

use super::DynamoStore;
use super::errors::from_sdk;
use super::keys::{self};
use super::reads::*;
use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};

impl OutboxStore for DynamoStore {
    /// Messages still listed in the outbox's shards, oldest first: the
    /// oldest `limit` of each shard, merged (the index is eventually
    /// consistent: a message written a moment ago may be missing, and
    /// comes on the next pass).
    async fn outbox_pending(&self, limit: usize) -> StoreResult<Vec<OutboxMessage>> {
        self.outbox_listed("0", "~", limit).await
    }

    /// One `BatchGetItem` per 100 ids (strongly consistent).
    async fn outbox_undelivered(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        let mut found = std::collections::HashSet::new();
        for chunk in ids.chunks(100) {
            let keys = chunk.iter().map(|id| keys::outbox(id, 0).key()).collect();
            for item in self.batch_get(keys).await? {
                if let Some(AttributeValue::S(pk)) = item.get("PK")
                    && let Some(id) = pk.strip_prefix("OUTBOX#")
                {
                    found.insert(id.to_owned());
                }
            }
        }
        Ok(ids
            .iter()
            .filter(|id| found.contains(*id))
            .cloned()
            .collect())
    }

    /// Delivered messages are deleted, 25 to a request.
    async fn outbox_delivered(&self, ids: &[String]) -> StoreResult<()> {
        for chunk in ids.chunks(25) {
            let mut requests: Vec<WriteRequest> = Vec::with_capacity(chunk.len());
            for id in chunk {
                let delete = DeleteRequest::builder()
                    .set_key(Some(keys::outbox(id, 0).key()))
                    .build()
                    .map_err(super::errors::build_error)?;
                requests.push(WriteRequest::builder().delete_request(delete).build());
            }
            let mut pending = requests;
            for _ in 0..BATCH_ATTEMPTS {
                if pending.is_empty() {
                    break;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(from_sdk)?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut u: HashMap<String, Vec<WriteRequest>>| u.remove(&self.table))
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable {
                    source: "DynamoDB left deletes unprocessed after every attempt".into(),
                });
            }
        }
        Ok(())
    }

    /// One query of each shard of the outbox's listing, up to `before`.
    async fn outbox_stale(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let (_, to) = window(before, before);
        self.outbox_listed("0", &to, limit).await
    }
}
