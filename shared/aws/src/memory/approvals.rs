//! The in-memory twin: requests for a second operator.

use parking_app::approvals::{Approval, ApprovalState, ApprovalStore};

use super::*;

impl ApprovalStore for MemoryStore {
    async fn put_approval(
        &self,
        approval: &Approval,
        prior: Option<ApprovalState>,
    ) -> StoreResult<()> {
        within_limit("approval", approval)?;
        self.write();
        let mut s = self.state();
        let key = (approval.lot_id.clone(), approval.id.clone());
        let held = s.approvals.get(&key);
        if held == Some(approval) {
            return Ok(());
        }
        if held.map(|h| h.state) != prior {
            return Err(StoreError::Conflict(Refusal::ApprovalDecided));
        }
        s.approvals.insert(key, approval.clone());
        Ok(())
    }

    async fn approval(&self, lot: &LotId, id: &ActionId) -> StoreResult<Option<Approval>> {
        self.read();
        Ok(self
            .state()
            .approvals
            .get(&(lot.clone(), id.clone()))
            .cloned())
    }

    async fn pending_approvals(
        &self,
        lot: &LotId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Approval>> {
        self.read();
        let s = self.state();
        let mut v: Vec<Approval> = s
            .approvals
            .values()
            .filter(|a| &a.lot_id == lot && a.state == ApprovalState::Pending)
            .filter(|a| after.is_none_or(|k| a.listing_key().as_str() > k))
            .cloned()
            .collect();
        v.sort_by_key(Approval::listing_key);
        v.truncate(limit);
        Ok(v)
    }
}
