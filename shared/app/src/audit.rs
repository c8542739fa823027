//! The lot's audit trail: every staff action, written in the same step as
//! the change it made.

use std::future::Future;

use jiff::Timestamp;

use crate::ids::*;
use crate::model::*;
use crate::store::StoreResult;

/// The trail of actions on drivers' accounts rather than on a lot (plate
/// claims decided, accounts erased), kept under this reserved id, which
/// no lot may take (`@` starts no lot's id).
pub fn account_trail() -> LotId {
    LotId::parse(ACCOUNT_TRAIL).unwrap_or_else(|_| unreachable!("a valid id"))
}

/// The id of [`account_trail`].
pub const ACCOUNT_TRAIL: &str = "@account";

/// The lots' audit trails.
pub trait AuditStore: Send + Sync {
    /// Adds an entry to a lot's audit trail (writing the same entry again
    /// changes nothing).
    fn record_audit(&self, entry: &AuditEntry) -> impl Future<Output = StoreResult<()>> + Send;
    /// A lot's audit trail between two times, oldest first.
    fn audit_trail(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = StoreResult<Vec<AuditEntry>>> + Send;
}
