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
use crate::outbox::PaymentKind;
use crate::store::StoreResult;

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
    /// The provider's customer the card is saved with, if it is.
    pub customer: Option<&'a str>,
    pub amount: Money,
}

/// A refund to ask for: part or all of a charge, under an attempt's key.
#[derive(Debug, Clone)]
pub struct RefundRequest<'a> {
    pub key: &'a IdempotencyKey,
    /// The provider's id of the charge (its payment intent).
    pub charge_id: &'a str,
    pub amount: Money,
}

/// A refund as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRefund {
    /// The provider's id (`re_…`).
    pub id: String,
    pub amount: Money,
}

/// The payment provider. Every call that moves money carries the
/// attempt's key (the provider's idempotency key); because a provider or
/// a fake may not honour it, every such call can also be looked up
/// afterwards by that key.
pub trait PaymentProvider: Send + Sync {
    /// Saves a card token with the driver's customer at the provider
    /// (creating the customer when `customer` is `None`); returns the
    /// customer's id.
    fn save_card(
        &self,
        driver: &DriverId,
        customer: Option<&str>,
        token: &PaymentToken,
    ) -> impl Future<Output = Result<String, ProviderError>> + Send;
    /// Charges a saved card off-session.
    fn charge(
        &self,
        request: &ChargeRequest<'_>,
    ) -> impl Future<Output = Result<ProviderCharge, ProviderError>> + Send;
    /// The successful charge made for `request` (by its key) since
    /// `since`, if any.
    fn find_charge(
        &self,
        request: &ChargeRequest<'_>,
        since: Timestamp,
    ) -> impl Future<Output = Result<Option<ProviderCharge>, ProviderError>> + Send;
    /// Refunds part or all of a charge.
    fn refund(
        &self,
        request: &RefundRequest<'_>,
    ) -> impl Future<Output = Result<ProviderRefund, ProviderError>> + Send;
    /// The refund made for `request` (by its key), if any.
    fn find_refund(
        &self,
        request: &RefundRequest<'_>,
    ) -> impl Future<Output = Result<Option<ProviderRefund>, ProviderError>> + Send;
}

/// What became of an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AttemptState {
    /// Being made by `holder` until `until`; after that, another may take
    /// it over (and must look the charge up first).
    Claimed { holder: u64, until: Timestamp },
    /// Charged (or refunded): the provider's id of the charge (or refund).
    Succeeded { charge_id: String },
    Failed {
        reason: String,
        /// When the order is to be tried again (a new attempt), if it is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_at: Option<Timestamp>,
    },
}

/// One attempt at a payment order, under its own key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub key: IdempotencyKey,
    /// The order it settles.
    pub order_key: IdempotencyKey,
    pub kind: PaymentKind,
    pub amount: Money,
    /// For a charge: the refunds taken from it so far, reserved when each
    /// refund attempt is first claimed, so no two refunds together take
    /// more than was charged.
    #[serde(default)]
    pub refunded_minor: i64,
    /// For a refund: the charge it takes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunds: Option<RefundOf>,
    /// The order it settles, to try it again from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<crate::outbox::PaymentOrder>,
    #[serde(flatten)]
    pub state: AttemptState,
    pub updated_at: Timestamp,
}

/// The charge a refund takes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundOf {
    /// The charge's attempt (where the refunds are reserved).
    pub attempt: IdempotencyKey,
    /// The provider's id of the charge.
    pub charge_id: String,
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
    /// A refund that would take more than remains of its charge: refused,
    /// and nothing was reserved. `remaining` is what the charge has left.
    Exceeds { remaining: i64 },
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
    /// Claims a refund attempt as [`AttemptStore::claim_attempt`] does; the
    /// first claim also reserves its amount on the charge attempt it
    /// refunds (`attempt.refunds`, which must have succeeded), in the same
    /// atomic write, unless the charge's refunds would then exceed
    /// `charged`.
    fn claim_refund(
        &self,
        attempt: &Attempt,
        charged: Money,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Claim>> + Send;
    /// The attempt stored under `key`.
    fn attempt(
        &self,
        key: &IdempotencyKey,
    ) -> impl Future<Output = StoreResult<Option<Attempt>>> + Send;
    /// Failed attempts whose retry is due at `now`, soonest first, at
    /// most `limit`. One query of an index.
    fn due_retries(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<Attempt>>> + Send;
    /// Takes a failed attempt off the retry schedule (its retry was
    /// queued).
    fn clear_retry(&self, key: &IdempotencyKey) -> impl Future<Output = StoreResult<()>> + Send;
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
