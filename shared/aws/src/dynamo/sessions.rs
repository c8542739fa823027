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
            .query_index_from(&keys::lot_sessions(lot_id), &from)
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
            .query_index(&keys::lot_sessions(lot_id), None)
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
            .query_index_window(&keys::lot_sessions(lot_id), &a, &b, None)
            .await?
            .into_iter()
            .map(body)
            .collect::<StoreResult<_>>()?;
        Ok(v.into_iter()
            .filter(|s| s.entry_at >= from && s.entry_at < to)
            .collect())
    }

    /// One query of the lot's exit listing (`GSI2`).
    async fn lot_sessions_left(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<Session>> {
        let (a, b) = window(from, to);
        let v: Vec<Session> = self
            .query_listing("GSI2", &keys::lot_exits(lot_id), &a, &b, None)
            .await?
            .into_iter()
            .map(body)
            .collect::<StoreResult<_>>()?;
        Ok(v.into_iter()
            .filter(|s| s.exit_at.is_some_and(|e| e >= from && e < to))
            .collect())
    }

    /// One query of the lot's review listing (`GSI3`), for one more than
    /// the page to know whether another follows. The index is eventually
    /// consistent: a session settled a moment ago may still be listed for
    /// that moment.
    async fn lot_reviews(
        &self,
        lot_id: &LotId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<SessionPage> {
        // Every key after `after` (a key begins with digits; `after`
        // itself is followed by nothing below `\u{1}`).
        let from = after.map_or_else(|| "0".to_owned(), |a| format!("{a}\u{1}"));
        let items = self
            .query_listing(
                "GSI3",
                &keys::lot_reviews(lot_id),
                &from,
                "\u{10ffff}",
                Some(limit + 1),
            )
            .await?;
        let mut v = Vec::with_capacity(items.len());
        for item in items {
            let s: Session = body(item)?;
            v.push((entry_key(&s), s));
        }
        Ok(SessionPage::cut(v, limit))
    }

    /// One query of the driver's copies, for one more than the page; the
    /// superseded are left out of the page they fall in.
    async fn driver_sessions_page(
        &self,
        driver_id: &DriverId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<SessionPage> {
        let (pk, _) = keys::driver_sessions(driver_id);
        let from = after.map_or_else(|| "0".to_owned(), |a| format!("{a}\u{1}"));
        let items = self
            .query_range(&pk, (&from, "\u{10ffff}"), true, Some(limit + 1))
            .await?;
        let mut v = Vec::with_capacity(items.len());
        for item in items {
            let s: Session = body(item)?;
            v.push((entry_key(&s), s));
        }
        let mut page = SessionPage::cut(v, limit);
        page.sessions
            .retain(|s| s.state != SessionState::Superseded);
        Ok(page)
    }
}
