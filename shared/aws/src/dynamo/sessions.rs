//! Sessions, listed by lot (by entry time) and by driver.

use jiff::Timestamp;
use parking_app::ids::*;
use parking_app::*;
use parking_core::SessionState;

use super::DynamoStore;
use super::keys::{self, body};
use super::reads::*;

impl SessionStore for DynamoStore {
    async fn driver_sessions(&self, driver_id: &DriverId) -> StoreResult<Vec<Session>> {
        let v: Vec<Session> = self.query_bodies(keys::driver_sessions(driver_id)).await?;
        Ok(v.into_iter()
            .filter(|s| s.state != SessionState::Superseded)
            .collect())
    }

    /// One query of the lot's session listing, from `since`.
    async fn lot_sessions_since(
        &self,
        lot_id: &LotId,
        since: Timestamp,
    ) -> StoreResult<Vec<Session>> {
        let from = format!("{:012}", since.as_second().max(0));
        let mut v: Vec<Session> = self
            .query_index_from(&format!("LOT#{lot_id}#SESSIONS"), &from)
            .await?
            .into_iter()
            .map(body)
            .collect::<StoreResult<_>>()?;
        v.sort_by(|a, b| (a.entry_at, &a.id).cmp(&(b.entry_at, &b.id)));
        Ok(v)
    }

    /// The lot's sessions from the index (eventually consistent).
    async fn lot_sessions(&self, lot_id: &LotId) -> StoreResult<Vec<Session>> {
        let mut v: Vec<Session> = self
            .query_index(&format!("LOT#{lot_id}#SESSIONS"), None)
            .await?
            .into_iter()
            .map(body)
            .collect::<StoreResult<_>>()?;
        v.sort_by(|a, b| (a.entry_at, &a.id).cmp(&(b.entry_at, &b.id)));
        Ok(v)
    }

    async fn get_session(&self, session_id: &SessionId) -> StoreResult<Session> {
        self.get_body(&keys::session(session_id), || {
            format!("session {session_id}")
        })
        .await
    }

    async fn lot_sessions_entered(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<Session>> {
        let (a, b) = window(from, to);
        let v: Vec<Session> = self
            .query_index_window(&format!("LOT#{lot_id}#SESSIONS"), &a, &b, None)
            .await?
            .into_iter()
            .map(body)
            .collect::<StoreResult<_>>()?;
        Ok(v.into_iter()
            .filter(|s| s.entry_at >= from && s.entry_at < to)
            .collect())
    }
}
