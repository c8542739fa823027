//! Rate-limit windows: one counter item per caller, action and window,
//! incremented with `ADD` and expired by the table's TTL.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use parking_app::rate_limits::RateStore;
use parking_app::*;

use super::DynamoStore;
use super::errors::from_sdk;
use super::keys::{self, n, s};

impl RateStore for DynamoStore {
    async fn count_request(
        &self,
        key: &str,
        window_start: i64,
        expires_at: i64,
    ) -> StoreResult<u64> {
        let keys = keys::rate_window(key, window_start);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys.key()))
            .update_expression("ADD #n :one SET expires_at = :exp, #type = :kind")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#type", "type")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":kind", s(keys.kind))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(from_sdk)?;
        match out.attributes.as_ref().and_then(|a| a.get("n")) {
            Some(AttributeValue::N(v)) => v.parse().map_err(|_| StoreError::Corrupt {
                key: keys::redact(&keys.pk),
                reason: "a request count that is not a number".into(),
            }),
            _ => Err(StoreError::Corrupt {
                key: keys::redact(&keys.pk),
                reason: "no request count returned".into(),
            }),
        }
    }

    async fn requests(&self, key: &str, window_start: i64) -> StoreResult<u64> {
        let keys = keys::rate_window(key, window_start);
        match self.get(&keys).await? {
            None => Ok(0),
            Some(item) => match item.get("n") {
                Some(AttributeValue::N(v)) => v.parse().map_err(|_| StoreError::Corrupt {
                    key: keys::redact(&keys.pk),
                    reason: "a request count that is not a number".into(),
                }),
                _ => Ok(0),
            },
        }
    }
}
