//! The in-memory twin: what each lot's day consumed.

use super::*;

impl UsageStore for MemoryStore {
    async fn add_usage(
        &self,
        lot_id: &LotId,
        date: jiff::civil::Date,
        usage: &parking_app::usage::Usage,
    ) -> StoreResult<()> {
        let mut s = self.state();
        let held = s.usage.entry((lot_id.clone(), date)).or_default();
        *held = held.plus(usage);
        Ok(())
    }

    async fn lot_usage(
        &self,
        lot_id: &LotId,
        date: jiff::civil::Date,
    ) -> StoreResult<parking_app::usage::Usage> {
        Ok(self
            .state()
            .usage
            .get(&(lot_id.clone(), date))
            .copied()
            .unwrap_or_default())
    }
}
