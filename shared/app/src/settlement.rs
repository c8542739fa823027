//! Settlement's ports: the payment provider, and the attempts the store
//! keeps so that money moves exactly once whatever the provider and the
//! queue do.
//!
//! A payment provider may time out after it charged, and a queue may
//! deliver one message several times at once. The provider's own
//! idempotency keys are not relied on (development fakes ignore them):
//! each attempt is *claimed* in the store before the provider is called,
//! only the claim's holder calls, and an attempt whose holder vanished is
//! looked up at the provider by its key before anything is charged again.

use std::future::Future;

use jiff::Timestamp;
use parking_core::Money;
use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::model::PaymentToken;
use crate::ports::StoreResult;

/// A charge as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderCharge {
    /// The provider's id (`pi_…`).
    pub id: String,
    pub amount: Money,
}

/// Why the provider did not charge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No answer in time: the charge may or may not have happened.
    #[error("the payment provider did not answer in time")]
    Timeout,
    /// The provider failed (5xx, throttling, no connection).
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// The card was declined; `code` is the provider's decline code.
    #[error("the card was declined ({code})")]
    Declined { code: String },
    /// The bank wants the cardholder to authenticate; off-session, that
    /// cannot happen, so the driver must act in the app.
    #[error("the card needs the cardholder to authenticate")]
    AuthenticationRequired,
    /// The request itself was refused (bad token, bad amount).
    #[error("the payment provider refused the request: {0}")]
    Rejected(String),
}

impl ProviderError {
    /// Whether the same attempt may be tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Timeout | ProviderError::Unavailable(_))
    }
}

/// A charge to ask for: off-session, on a stored card, under an attempt's
/// key.
#[derive(Debug, Clone)]
pub struct ChargeRequest<'a> {
    pub key: &'a IdempotencyKey,
    pub token: &'a PaymentToken,
    pub amount: Money,
}

/// The payment provider.
pub trait PaymentProvider: Send + Sync {
    /// Charges a stored card off-session.
    fn charge(
        &self,
        request: &ChargeRequest<'_>,
    ) -> impl Future<Output = Result<ProviderCharge, ProviderError>> + Send;
    /// The successful charge made under `key`, if any.
    fn find_charge(
        &self,
        key: &IdempotencyKey,
    ) -> impl Future<Output = Result<Option<ProviderCharge>, ProviderError>> + Send;
}

/// What became of an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AttemptState {
    /// Being made by `holder` until `until`; after that, another may take
    /// it over (and must look the charge up first).
    Claimed {
        holder: u64,
        until: Timestamp,
    },
    Succeeded {
        charge_id: String,
    },
    Failed {
        reason: String,
    },
}

/// One attempt at a payment order, under its own key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub key: IdempotencyKey,
    /// The order it settles.
    pub order_key: IdempotencyKey,
    pub amount: Money,
    #[serde(flatten)]
    pub state: AttemptState,
    pub updated_at: Timestamp,
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds the attempt; `taken_over` is the attempt as an
    /// earlier holder left it (its outcome unknown).
    Claimed { taken_over: Option<Attempt> },
    /// Another holder is making it now.
    Busy,
    /// It is finished.
    Finished(Attempt),
}

/// Attempts, kept by the store.
pub trait AttemptStore: Send + Sync {
    /// Claims `attempt` (state [`AttemptState::Claimed`]) unless it is
    /// finished or claimed by another holder whose lease has not run out
    /// at `now`. One conditional write.
    fn claim_attempt(
        &self,
        attempt: &Attempt,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Claim>> + Send;
    /// Records the outcome, if `holder` still holds the attempt; returns
    /// the attempt as stored after the call.
    fn finish_attempt(
        &self,
        key: &IdempotencyKey,
        holder: u64,
        state: &AttemptState,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Attempt>> + Send;
}
