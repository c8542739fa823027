//! Each lot's webhook subscriptions: one item, written conditionally on
//! the version read.

use parking_app::hooks::{HookStore, LotHooks};
use parking_app::ids::*;
use parking_app::*;

use super::DynamoStore;
use super::keys;

impl HookStore for DynamoStore {
    async fn lot_hooks(&self, lot: &LotId) -> StoreResult<Option<LotHooks>> {
        self.get_opt(&keys::lot_hooks(lot)).await
    }

    async fn put_lot_hooks(&self, hooks: &LotHooks) -> StoreResult<()> {
        self.put_versioned(
            &keys::lot_hooks(&hooks.lot_id),
            hooks,
            hooks.version,
            || Refusal::HooksChanged {
                lot_id: hooks.lot_id.clone(),
            },
        )
        .await
    }
}
