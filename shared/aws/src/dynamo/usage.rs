//! What each lot's day consumed.

use parking_app::ids::*;
use parking_app::*;

use super::DynamoStore;
use super::keys::{self, n};

impl UsageStore for DynamoStore {
    async fn add_usage(
        &self,
        lot_id: &LotId,
        date: jiff::civil::Date,
        usage: &parking_app::usage::Usage,
    ) -> StoreResult<()> {
        // Every counter of the usage, added as it is named.
        let counters: serde_json::Map<String, serde_json::Value> = match serde_json::to_value(usage)
        {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(StoreError::invalid("usage is not a record of counters")),
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::usage(lot_id, date).key()));
        let mut parts = Vec::new();
        for (i, (name, value)) in counters.iter().enumerate() {
            parts.push(format!("#c{i} :v{i}"));
            update = update
                .expression_attribute_names(format!("#c{i}"), name)
                .expression_attribute_values(format!(":v{i}"), n(value));
        }
        update
            .update_expression(format!("ADD {}", parts.join(", ")))
            .send()
            .await
            .map_err(super::errors::from_sdk)?;
        Ok(())
    }

    async fn lot_usage(
        &self,
        lot_id: &LotId,
        date: jiff::civil::Date,
    ) -> StoreResult<parking_app::usage::Usage> {
        // The item's counters are the usage's fields (its keys are left
        // aside); a counter never added is zero.
        Ok(self
            .get_opt(&keys::usage(lot_id, date))
            .await?
            .unwrap_or_default())
    }
}
