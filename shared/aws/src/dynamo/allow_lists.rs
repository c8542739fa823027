//! Each lot's offline allow-list marks: one item, written conditionally
//! on the version read.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use parking_app::allow_lists::{AllowListStore, LotAllowList};
use parking_app::ids::*;
use parking_app::*;

use super::DynamoStore;
use super::errors::from_sdk;
use super::keys;

impl AllowListStore for DynamoStore {
    async fn allow_list(&self, lot: &LotId) -> StoreResult<Option<LotAllowList>> {
        self.get_opt(&keys::allow_list(lot)).await
    }

    async fn put_allow_list(&self, list: &LotAllowList) -> StoreResult<()> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(keys::allow_list(&list.lot_id).item(list)?));
        let put = match list.version.checked_sub(1) {
            None | Some(0) => put.condition_expression("attribute_not_exists(PK)"),
            Some(prev) => put
                .condition_expression("#v = :prev")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":prev", AttributeValue::N(prev.to_string())),
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                // The very same write, repeated after a lost answer, is
                // done already.
                if self.allow_list(&list.lot_id).await?.as_ref() == Some(list) {
                    return Ok(());
                }
                Err(StoreError::Conflict(Refusal::AllowListChanged {
                    lot_id: list.lot_id.clone(),
                }))
            }
            Err(e) => Err(from_sdk(e)),
        }
    }
}
