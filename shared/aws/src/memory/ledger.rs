//! The in-memory twin: the ledger of processed device events.

use super::*;

impl EventLedger for MemoryStore {
    async fn record_event(&self, event: &EventRef) -> StoreResult<Applied> {
        let token = rules::write_token("record_event", event);
        let mut s = self.state();
        match s.seen(Some(event), &token) {
            Seen::Duplicate => return Ok(Applied::Duplicate),
            Seen::Mine => return Ok(Applied::Done),
            Seen::New => {}
        }
        s.remember(Some(event), &token, self.retention);
        Ok(Applied::Done)
    }

    async fn is_processed(
        &self,
        device_id: &DeviceId,
        event_id: &EventId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(self
            .state()
            .ledger
            .get(&(device_id.clone(), event_id.clone()))
            .is_some_and(|e| rules::ledger_entry_live(e.expires_at, now)))
    }
}
