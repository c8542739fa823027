//! The in-memory twin: the lots' audit trails.

use super::*;

impl AuditStore for MemoryStore {
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.write();
        self.state().audit.insert(
            (entry.lot_id.clone(), entry.at, entry.id.clone()),
            entry.clone(),
        );
        Ok(())
    }

    async fn audit_trail(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<AuditEntry>> {
        self.read();
        Ok(self
            .state()
            .audit
            .values()
            .filter(|e| &e.lot_id == lot_id && e.at >= from && e.at < to)
            .cloned()
            .collect())
    }
}
