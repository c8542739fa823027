//! Sessions as the plates' histories make them: each is written by the
//! change to its plate's history that made it ([`crate::history`]) and
//! listed by lot, by driver and by entry time.

use std::future::Future;

use jiff::Timestamp;

use crate::ids::*;
use crate::model::*;
use crate::store::StoreResult;

/// Parking sessions, as their plates' histories wrote them.
pub trait SessionStore: Send + Sync {
    fn get_session(
        &self,
        session_id: &SessionId,
    ) -> impl Future<Output = StoreResult<Session>> + Send;
    /// Sessions of a lot, every state, in entry order.
    fn lot_sessions(
        &self,
        lot_id: &LotId,
    ) -> impl Future<Output = StoreResult<Vec<Session>>> + Send;
    /// Sessions of a lot that entered at or after `since`, every state, in
    /// entry order. One query of an index.
    fn lot_sessions_since(
        &self,
        lot_id: &LotId,
        since: Timestamp,
    ) -> impl Future<Output = StoreResult<Vec<Session>>> + Send;
    /// A lot's sessions entered in `[from, to)`, every state, in entry
    /// order. One query of an index.
    fn lot_sessions_entered(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = StoreResult<Vec<Session>>> + Send;
    /// A driver's sessions, every state but superseded, in entry order.
    fn driver_sessions(
        &self,
        driver_id: &DriverId,
    ) -> impl Future<Output = StoreResult<Vec<Session>>> + Send;
}
