//! The ledger of processed device events: each event is consumed by one
//! write, recorded with it in the same atomic step, and remembered for the
//! retention period ([`crate::rules::ledger_entry_live`]), so a repeat
//! changes nothing.

use std::future::Future;

use jiff::Timestamp;

use crate::ids::*;
use crate::model::*;
use crate::store::StoreResult;

/// The ledger of processed device events.
pub trait EventLedger: Send + Sync {
    /// Records an event that changes no other state.
    fn record_event(&self, event: &EventRef) -> impl Future<Output = StoreResult<Applied>> + Send;
    /// Whether the event is remembered at `now` (see
    /// [`crate::rules::ledger_entry_live`]).
    fn is_processed(
        &self,
        device_id: &DeviceId,
        event_id: &EventId,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}
