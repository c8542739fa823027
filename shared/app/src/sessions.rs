//! Sessions as the plates' histories make them: each is written by the
//! change to its plate's history that made it ([`crate::history`]) and
//! listed by lot, by driver and by entry time; by lot and exit time once
//! it has left; and, while it [needs a person](needs_review), in its
//! lot's review listing. Every listing is kept by the same write as the
//! session, so a read of one day, or of what waits for staff, costs what
//! it returns, never the lot's history.

use std::future::Future;

use jiff::Timestamp;
use parking_core::SessionState;

use crate::ids::*;
use crate::model::*;
use crate::store::StoreResult;

/// Whether a session needs a person: a state no rule settles, a plate no
/// read confirmed, or a car in beyond the longest stay or the lot's
/// counting time, and no decision yet.
pub fn needs_review(s: &Session) -> bool {
    // A dispute is answered whatever was decided before.
    if s.flags.contains(&SessionFlag::Disputed) {
        return true;
    }
    if s.resolution.is_some() {
        return false;
    }
    matches!(
        s.state,
        SessionState::NeedsReview | SessionState::ExitMissing | SessionState::EntryMissing
    ) || (s.flags.contains(&SessionFlag::PlateUnverified)
        && !matches!(s.state, SessionState::Open | SessionState::Superseded))
        || s.flags.contains(&SessionFlag::Overstay)
        || s.flags.contains(&SessionFlag::Uncounted)
        // A money failure that is not the driver's card to fix (a refund
        // that failed, a request the provider refused): staff look at it
        // while it is retried.
        || (s.payment_failure.is_some() && s.state != SessionState::PaymentFailed)
}

/// One page of a listing, in its order, and where the next begins.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPage {
    pub sessions: Vec<Session>,
    /// The listing key of the last session of a full page; `None` when
    /// nothing follows.
    pub next: Option<String>,
}

impl SessionPage {
    /// The first `limit` of a listing read in order with its keys, with
    /// one more if any so that a next page is known to exist.
    pub fn cut(mut listed: Vec<(String, Session)>, limit: usize) -> SessionPage {
        let more = listed.len() > limit;
        listed.truncate(limit);
        SessionPage {
            next: if more {
                listed.last().map(|(k, _)| k.clone())
            } else {
                None
            },
            sessions: listed.into_iter().map(|(_, s)| s).collect(),
        }
    }
}

/// A session's place in a listing by entry (its lot's review listing, its
/// driver's stays): entry second, then id; what a page starts after.
pub fn entry_key(s: &Session) -> String {
    format!("{:012}#{}", s.entry_at.as_second().max(0), s.id)
}

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
    /// A lot's sessions that left in `[from, to)`, in exit order. One
    /// query of an index.
    fn lot_sessions_left(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = StoreResult<Vec<Session>>> + Send;
    /// Up to `limit` of a lot's sessions that [need a person](needs_review),
    /// oldest entry first, after the [`entry_key`] `after`. One query of
    /// a sparse index: its cost is the page, not the lot's history.
    fn lot_reviews(
        &self,
        lot_id: &LotId,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<SessionPage>> + Send;
    /// Up to `limit` of a driver's sessions, every state but superseded,
    /// in entry order after the [`entry_key`] `after`. One query of the
    /// driver's copies: a page costs its own items.
    fn driver_sessions_page(
        &self,
        driver_id: &DriverId,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<SessionPage>> + Send;
    /// A driver's sessions, every state but superseded, in entry order.
    fn driver_sessions(
        &self,
        driver_id: &DriverId,
    ) -> impl Future<Output = StoreResult<Vec<Session>>> + Send;
}
