//! What the suite consumed for each lot, by the lot's local date: added
//! to the lot's day, never rewritten.

use std::future::Future;

use crate::ids::*;
use crate::store::StoreResult;

/// What the suite consumed for each lot, by the lot's local date.
pub trait UsageStore: Send + Sync {
    /// Adds to a lot's day (one atomic increment of each counter).
    fn add_usage(
        &self,
        lot_id: &LotId,
        date: jiff::civil::Date,
        usage: &crate::usecases::cost::Usage,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// A lot's day so far (nothing recorded: zero).
    fn lot_usage(
        &self,
        lot_id: &LotId,
        date: jiff::civil::Date,
    ) -> impl Future<Output = StoreResult<crate::usecases::cost::Usage>> + Send;
}
