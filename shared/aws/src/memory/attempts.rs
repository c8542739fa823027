//! The in-memory twin: settlement's attempts.

use super::*;

impl parking_app::settlement::AttemptStore for MemoryStore {
    async fn due_retries(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<parking_app::settlement::Attempt>> {
        use parking_app::settlement::AttemptState;
        self.read();
        let due = |a: &parking_app::settlement::Attempt| match a.state {
            AttemptState::Failed {
                retry_at: Some(t), ..
            } if t <= now => Some(t),
            _ => None,
        };
        let mut v: Vec<_> = self
            .state()
            .attempts
            .values()
            .filter_map(|a| due(a).map(|t| (t, a.key.clone(), a.clone())))
            .collect();
        v.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        Ok(v.into_iter().take(limit).map(|(_, _, a)| a).collect())
    }

    async fn clear_retry(&self, key: &IdempotencyKey) -> StoreResult<()> {
        use parking_app::settlement::AttemptState;
        self.write();
        if let Some(a) = self.state().attempts.get_mut(key)
            && let AttemptState::Failed { retry_at, .. } = &mut a.state
        {
            *retry_at = None;
        }
        Ok(())
    }

    async fn claim_attempt(
        &self,
        attempt: &parking_app::settlement::Attempt,
        now: Timestamp,
    ) -> StoreResult<parking_app::settlement::Claim> {
        self.write();
        Ok(claim_in(&mut self.state(), attempt, now))
    }

    async fn attempt(
        &self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<parking_app::settlement::Attempt>> {
        Ok(self.state().attempts.get(key).cloned())
    }

    async fn finish_attempt(
        &self,
        key: &IdempotencyKey,
        holder: u64,
        state: &parking_app::settlement::AttemptState,
        now: Timestamp,
    ) -> StoreResult<parking_app::settlement::Attempt> {
        use parking_app::settlement::AttemptState;
        self.write();
        let mut s = self.state();
        let a = s
            .attempts
            .get_mut(key)
            .ok_or_else(|| StoreError::not_found(format!("attempt {key}")))?;
        if matches!(a.state, AttemptState::Claimed { holder: h, .. } if h == holder) {
            a.state = state.clone();
            a.updated_at = now;
        }
        Ok(a.clone())
    }
}
