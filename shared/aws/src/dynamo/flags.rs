//! The feature flag document.

use parking_app::*;

use super::DynamoStore;
use super::keys::{self, n};
use super::txn::{Cond, Step};

impl FlagStore for DynamoStore {
    async fn flag_document(&self) -> StoreResult<Option<parking_app::flags::StoredFlags>> {
        self.get_opt(&keys::flags()).await
    }

    async fn put_flags(
        &self,
        flags: &parking_app::flags::StoredFlags,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let prev = flags.revision.saturating_sub(1);
        let guard = if prev == 0 {
            Cond::new("attribute_not_exists(PK)")
        } else {
            Cond::new("#rev = :prev")
                .names(&[("#rev", "revision")])
                .value(":prev", n(prev))
        };
        let txn = self
            .txn(None)
            .put(Step::Flags, keys::flags().item(flags)?, Some(guard))?
            .put(Step::Audit, keys::audit(audit).item(audit)?, None)?;
        match txn.run(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Refusal::StaleFlags { revision: prev }.into()),
        }
    }
}
