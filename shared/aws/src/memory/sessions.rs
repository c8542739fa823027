//! The in-memory twin: sessions, listed by lot, driver and entry time.

use super::*;

impl SessionStore for MemoryStore {
    async fn get_session(&self, session_id: &SessionId) -> StoreResult<Session> {
        found(self.state().sessions.get(session_id), || {
            format!("session {session_id}")
        })
    }

    async fn lot_sessions(&self, lot_id: &LotId) -> StoreResult<Vec<Session>> {
        self.read();
        let mut v: Vec<Session> = self
            .state()
            .sessions
            .values()
            .filter(|x| &x.lot_id == lot_id)
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.entry_at, &a.id).cmp(&(b.entry_at, &b.id)));
        Ok(v)
    }

    async fn driver_sessions(&self, driver_id: &DriverId) -> StoreResult<Vec<Session>> {
        self.read();
        let state = self.state();
        let mut v: Vec<Session> = state
            .sessions
            .values()
            .filter(|s| {
                s.driver_id.as_ref() == Some(driver_id)
                    && s.state != SessionState::Superseded
                    && !state
                        .erased_copies
                        .contains(&(driver_id.clone(), format!("S#{}", s.id)))
            })
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.entry_at, &a.id).cmp(&(b.entry_at, &b.id)));
        Ok(v)
    }

    async fn lot_sessions_since(
        &self,
        lot_id: &LotId,
        since: Timestamp,
    ) -> StoreResult<Vec<Session>> {
        self.read();
        let mut v: Vec<Session> = self
            .state()
            .sessions
            .values()
            .filter(|x| &x.lot_id == lot_id && x.entry_at >= since)
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.entry_at, &a.id).cmp(&(b.entry_at, &b.id)));
        Ok(v)
    }

    async fn lot_sessions_entered(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<Session>> {
        self.read();
        let mut v: Vec<Session> = self
            .state()
            .sessions
            .values()
            .filter(|x| &x.lot_id == lot_id && x.entry_at >= from && x.entry_at < to)
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.entry_at, &a.id).cmp(&(b.entry_at, &b.id)));
        Ok(v)
    }

    async fn lot_sessions_left(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<Session>> {
        self.read();
        let mut v: Vec<Session> = self
            .state()
            .sessions
            .values()
            .filter(|x| &x.lot_id == lot_id && x.exit_at.is_some_and(|e| e >= from && e < to))
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.exit_at, &a.id).cmp(&(b.exit_at, &b.id)));
        Ok(v)
    }

    async fn lot_reviews(
        &self,
        lot_id: &LotId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<SessionPage> {
        self.read();
        let mut v: Vec<(String, Session)> = self
            .state()
            .sessions
            .values()
            .filter(|x| &x.lot_id == lot_id && needs_review(x))
            .map(|x| (entry_key(x), x.clone()))
            .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(SessionPage::cut(v, limit))
    }

    async fn driver_sessions_page(
        &self,
        driver_id: &DriverId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<SessionPage> {
        let v = self
            .driver_sessions(driver_id)
            .await?
            .into_iter()
            .map(|s| (entry_key(&s), s))
            .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
            .collect();
        Ok(SessionPage::cut(v, limit))
    }
}
