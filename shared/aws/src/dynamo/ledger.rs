//! The ledger of processed device events.

use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;
use parking_app::ids::*;
use parking_app::rules;
use parking_app::*;

use super::DynamoStore;
use super::keys::{self};

impl EventLedger for DynamoStore {
    async fn record_event(&self, event: &EventRef) -> StoreResult<Applied> {
        let token = rules::write_token("record_event", event);
        let txn = self.with_ledger(self.txn(Some(token.clone())), Some(event), &token)?;
        match txn.run(&self.client).await? {
            Ok(()) => Ok(Applied::Done),
            Err(failed) => Ok(self
                .ledger_outcome(&failed, Some(event), &token)
                .await?
                .unwrap_or(Applied::Duplicate)),
        }
    }

    async fn is_processed(
        &self,
        device_id: &DeviceId,
        event_id: &EventId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let item = self.get(&keys::ledger(device_id, event_id)).await?;
        Ok(match item.as_ref().and_then(|i| i.get("expires_at")) {
            Some(AttributeValue::N(v)) => v
                .parse::<i64>()
                .is_ok_and(|exp| rules::ledger_entry_live(exp, now)),
            _ => false,
        })
    }
}
