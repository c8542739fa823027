//! The in-memory twin: each lot's webhook subscriptions.

use parking_app::hooks::{HookStore, LotHooks};

use super::*;

impl HookStore for MemoryStore {
    async fn lot_hooks(&self, lot: &LotId) -> StoreResult<Option<LotHooks>> {
        let held = self.state().hooks.get(lot).cloned();
        self.read_units(get_units(&[held.as_ref().map_or(0, item_bytes)]));
        Ok(held)
    }

    async fn put_lot_hooks(&self, hooks: &LotHooks) -> StoreResult<()> {
        within_limit("lot_hooks", hooks)?;
        self.write_units(write_units(&[item_bytes(hooks)], false));
        let mut s = self.state();
        let held = s.hooks.get(&hooks.lot_id);
        if held == Some(hooks) {
            return Ok(());
        }
        if held.map_or(0, |h| h.version) + 1 != hooks.version {
            return Err(StoreError::Conflict(Refusal::HooksChanged {
                lot_id: hooks.lot_id.clone(),
            }));
        }
        s.hooks.insert(hooks.lot_id.clone(), hooks.clone());
        Ok(())
    }
}
