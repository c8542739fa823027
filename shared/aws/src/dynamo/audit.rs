//! The lots' audit trails.

use jiff::Timestamp;
use parking_app::ids::*;
use parking_app::*;

use super::DynamoStore;
use super::keys::{self, body};

impl AuditStore for DynamoStore {
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.put_plain(&keys::audit(entry), entry).await
    }

    /// One query of the lot's audit partition.
    async fn audit_trail(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<AuditEntry>> {
        let lo = format!("{:015}", from.as_millisecond().max(0));
        let hi = format!("{:015}", (to.as_millisecond() - 1).max(0));
        let items = self
            .query_between(keys::audit_pk(lot_id), &lo, &format!("{hi}#~"))
            .await?;
        let v: Vec<AuditEntry> = items.into_iter().map(body).collect::<StoreResult<_>>()?;
        Ok(v.into_iter()
            .filter(|e| e.at >= from && e.at < to)
            .collect())
    }
}
