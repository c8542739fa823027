//! The in-memory twin: the outbox and its listing.

use super::*;

impl OutboxStore for MemoryStore {
    async fn outbox_pending(&self, limit: usize) -> StoreResult<Vec<OutboxMessage>> {
        let s = self.state();
        let pending: Vec<OutboxMessage> = s
            .outbox_pending
            .keys()
            .take(limit)
            .map(|&i| s.outbox[i].0.clone())
            .collect();
        // One query of the outbox index.
        let bytes = pending.iter().map(item_bytes).sum::<usize>();
        self.read_units(query_units(bytes, false));
        Ok(pending)
    }

    async fn outbox_undelivered(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        self.read_units(get_units(&vec![SMALL_ITEM; ids.len()]));
        let s = self.state();
        let pending: BTreeSet<&String> = s.outbox_pending.values().collect();
        Ok(ids
            .iter()
            .filter(|id| pending.contains(id))
            .cloned()
            .collect())
    }

    async fn outbox_delivered(&self, ids: &[String]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write_units(write_units(&vec![SMALL_ITEM; ids.len()], false));
        let mut s = self.state();
        let wanted: BTreeSet<&String> = ids.iter().collect();
        let done: Vec<usize> = s
            .outbox_pending
            .iter()
            .filter(|(_, id)| wanted.contains(id))
            .map(|(&i, _)| i)
            .collect();
        for i in done {
            s.outbox_pending.remove(&i);
            s.outbox[i].1 = true;
        }
        Ok(())
    }

    async fn outbox_stale(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<OutboxMessage>> {
        self.read();
        let s = self.state();
        Ok(s.outbox_pending
            .keys()
            .map(|&i| &s.outbox[i].0)
            .filter(|m| m.created_at() < before)
            .take(limit)
            .cloned()
            .collect())
    }
}
