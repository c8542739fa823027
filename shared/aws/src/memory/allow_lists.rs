//! The in-memory twin: each lot's offline allow-list marks.

use parking_app::allow_lists::{AllowListStore, LotAllowList};

use super::*;

impl AllowListStore for MemoryStore {
    async fn allow_list(&self, lot: &LotId) -> StoreResult<Option<LotAllowList>> {
        let held = self.state().allow_lists.get(lot).cloned();
        self.read_units(get_units(&[held.as_ref().map_or(0, item_bytes)]));
        Ok(held)
    }

    async fn put_allow_list(&self, list: &LotAllowList) -> StoreResult<()> {
        within_limit("allow_list", list)?;
        self.write_units(write_units(&[item_bytes(list)], false));
        let mut s = self.state();
        let held = s.allow_lists.get(&list.lot_id);
        if held == Some(list) {
            return Ok(());
        }
        if held.map_or(0, |h| h.version) + 1 != list.version {
            return Err(StoreError::Conflict(Refusal::AllowListChanged {
                lot_id: list.lot_id.clone(),
            }));
        }
        s.allow_lists.insert(list.lot_id.clone(), list.clone());
        Ok(())
    }
}
