//! The in-memory twin: the feature flag document.

use super::*;

impl FlagStore for MemoryStore {
    async fn flag_document(&self) -> StoreResult<Option<parking_app::flags::StoredFlags>> {
        self.read();
        Ok(self.state().flags.clone())
    }

    async fn put_flags(
        &self,
        flags: &parking_app::flags::StoredFlags,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        self.write();
        let mut s = self.state();
        let stored = s.flags.as_ref().map_or(0, |f| f.revision);
        if stored + 1 != flags.revision {
            // The revision the writer read, as DynamoDB's refusal names it.
            return Err(Refusal::StaleFlags {
                revision: flags.revision.saturating_sub(1),
            }
            .into());
        }
        s.flags = Some(flags.clone());
        s.audit.insert(
            (audit.lot_id.clone(), audit.at, audit.id.clone()),
            audit.clone(),
        );
        Ok(())
    }
}
