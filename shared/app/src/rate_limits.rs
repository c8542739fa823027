//! Per-caller rate limits, counted in the store so that every function
//! instance (and `parkctl serve`) counts the same: a fixed window per
//! caller and action, one conditional-free increment per request, the
//! window's item expiring with the table's TTL.
//!
//! The rule: a caller may make [`Limit::per_window`] requests of an
//! action in each window of [`Limit::window`]; the next is refused with
//! the time left in the window (`429` and `Retry-After`). A refused
//! request is counted too, so hammering keeps the caller out until the
//! window ends.

use std::future::Future;

use jiff::{SignedDuration, Timestamp};

use crate::store::StoreResult;

/// A limit on one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// What is limited, in the counter's key: `kiosk_lookup`.
    pub action: &'static str,
    pub window: SignedDuration,
    pub per_window: u32,
}

/// A pay kiosk's lookups by four digits: ten a minute. A driver at the
/// kiosk needs one or two; trying all 10,000 serials takes 17 hours.
pub const KIOSK_LOOKUPS: Limit = Limit {
    action: "kiosk_lookup",
    window: SignedDuration::from_secs(60),
    per_window: 10,
};

/// A pay kiosk's payments: ten a minute.
pub const KIOSK_PAYMENTS: Limit = Limit {
    action: "kiosk_payment",
    window: SignedDuration::from_secs(60),
    per_window: 10,
};

/// Wrong plates typed to pay for one stay at the kiosk: three a day,
/// whoever types them; then the stay is paid with staff that day, even
/// with the right plate. The kiosk shows only a hint of a plate and pays
/// only for the whole plate, so the rest cannot be found by guessing.
pub const KIOSK_WRONG_PLATES_PER_STAY: Limit = Limit {
    action: "kiosk_wrong_plate",
    window: SignedDuration::from_hours(24),
    per_window: 3,
};

/// Counters of requests per caller, action and window.
pub trait RateStore: Send + Sync {
    /// Counts one request in the window starting at `window_start`
    /// (Unix seconds), kept until `expires_at`; the window's count with
    /// it.
    fn count_request(
        &self,
        key: &str,
        window_start: i64,
        expires_at: i64,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// The requests counted in a window, without counting one.
    fn requests(
        &self,
        key: &str,
        window_start: i64,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// The window of `limit` that `now` falls in, and its counter's key.
fn window(caller: &str, limit: Limit, now: Timestamp) -> (String, i64, i64) {
    let len = limit.window.as_secs().max(1);
    let start = now.as_second().div_euclid(len) * len;
    (format!("{}#{caller}", limit.action), start, len)
}

/// Whether `caller` has used up `limit` at `now` (nothing is counted).
///
/// # Errors
///
/// The store's.
pub async fn used_up<S: RateStore>(
    store: &S,
    caller: &str,
    limit: Limit,
    now: Timestamp,
) -> StoreResult<bool> {
    let (key, start, _) = window(caller, limit, now);
    Ok(store.requests(&key, start).await? >= u64::from(limit.per_window))
}

/// Counts a request of `caller` under `limit` at `now`: `Ok(None)` when
/// it is within the limit, `Ok(Some(wait))` when it is over, with the
/// time until the window ends (at least a second).
///
/// # Errors
///
/// The store's.
pub async fn admit<S: RateStore>(
    store: &S,
    caller: &str,
    limit: Limit,
    now: Timestamp,
) -> StoreResult<Option<SignedDuration>> {
    let (key, start, len) = window(caller, limit, now);
    let n = store.count_request(&key, start, start + 2 * len).await?;
    if n <= u64::from(limit.per_window) {
        return Ok(None);
    }
    let left = (start + len - now.as_second()).max(1);
    Ok(Some(SignedDuration::from_secs(left)))
}
