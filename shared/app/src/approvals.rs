//! Four eyes on large amounts: an operator's charge or fee set above the
//! lot's `approval_limit` is not applied when asked; it waits as an
//! [`Approval`] until a second operator of the lot approves it (then it
//! is applied, by the first operator's request, and the audit trail
//! holds both) or rejects it. The operator who asked cannot decide.
//!
//! Protocol: one item per request, keyed by an id derived from the
//! request (asking again is the same request), written once as pending
//! and then once decided, each write conditional on the state read;
//! pending requests are listed per lot in a sparse index.

use std::future::Future;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::model::Actor;
use crate::store::StoreResult;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    Pending,
    Approved,
    Rejected,
}

/// What was asked: a resolution of a session with an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Asked {
    /// Charge this amount.
    Charge { amount: i64 },
    /// Set the fee to this amount.
    Adjust { amount: i64 },
}

impl Asked {
    pub fn amount(self) -> i64 {
        match self {
            Asked::Charge { amount } | Asked::Adjust { amount } => amount,
        }
    }
}

/// One request for a second operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub id: ActionId,
    pub lot_id: LotId,
    pub session_id: SessionId,
    pub asked: Asked,
    /// Closing a stay whose exit was missed, at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_at: Option<Timestamp>,
    pub note: String,
    pub requested_by: Actor,
    pub requested_at: Timestamp,
    pub state: ApprovalState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<Actor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub decision_note: String,
}

impl Approval {
    /// Its place among the lot's pending requests (requested time in
    /// epoch milliseconds, then id): what a page starts after.
    pub fn listing_key(&self) -> String {
        format!("{}#{}", self.requested_at.as_millisecond(), self.id)
    }
}

/// The store's part.
pub trait ApprovalStore: Send + Sync {
    /// Writes a request if the stored one is in state `prior` (absent for
    /// `None`), else
    /// [`Refusal::ApprovalDecided`](crate::store::Refusal::ApprovalDecided);
    /// the very same write repeated is done.
    fn put_approval(
        &self,
        approval: &Approval,
        prior: Option<ApprovalState>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn approval(
        &self,
        lot: &LotId,
        id: &ActionId,
    ) -> impl Future<Output = StoreResult<Option<Approval>>> + Send;
    /// A lot's pending requests, oldest first, at most `limit`, after the
    /// [`Approval::listing_key`] `after`.
    fn pending_approvals(
        &self,
        lot: &LotId,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<Approval>>> + Send;
}
