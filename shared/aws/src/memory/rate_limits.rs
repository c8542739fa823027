//! The in-memory twin: rate-limit windows (forgotten two windows on, as
//! the table's TTL does).

use parking_app::rate_limits::RateStore;

use super::*;

impl RateStore for MemoryStore {
    async fn count_request(
        &self,
        key: &str,
        window_start: i64,
        expires_at: i64,
    ) -> StoreResult<u64> {
        self.write();
        let mut s = self.state();
        // Windows of this key that have expired are dropped (TTL).
        let span = expires_at - window_start;
        s.rate_windows
            .retain(|(k, start), _| k != key || start + span > window_start);
        let n = s
            .rate_windows
            .entry((key.to_owned(), window_start))
            .or_insert(0);
        *n += 1;
        Ok(*n)
    }

    async fn requests(&self, key: &str, window_start: i64) -> StoreResult<u64> {
        self.read();
        Ok(self
            .state()
            .rate_windows
            .get(&(key.to_owned(), window_start))
            .copied()
            .unwrap_or(0))
    }
}
