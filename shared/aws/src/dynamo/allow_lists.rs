//! Each lot's offline allow-list marks: one item, written conditionally
//! on the version read.

use parking_app::allow_lists::{AllowListStore, LotAllowList};
use parking_app::ids::*;
use parking_app::*;

use super::DynamoStore;
use super::keys;

impl AllowListStore for DynamoStore {
    async fn allow_list(&self, lot: &LotId) -> StoreResult<Option<LotAllowList>> {
        self.get_opt(&keys::allow_list(lot)).await
    }

    async fn put_allow_list(&self, list: &LotAllowList) -> StoreResult<()> {
        self.put_versioned(&keys::allow_list(&list.lot_id), list, list.version, || {
            Refusal::AllowListChanged {
                lot_id: list.lot_id.clone(),
            }
        })
        .await
    }
}
