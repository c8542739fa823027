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

/// Why the provider did not do what it was asked, by whose doing: the
/// card's (only these reach the driver as a card problem), ours (a request
/// the provider refused, or our key or account), or the moment's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No answer in time: it may or may not have acted.
    #[error("the payment provider did not answer in time")]
    Timeout,
    /// Not acted on: no connection, throttled (429), or the same key still
    /// being worked on (409). The same key may be sent again.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider failed (5xx). It may have acted, and it keeps this
    /// answer under the key: sending the key again replays it.
    #[error("the payment provider failed: {0}")]
    Failed(String),
    /// The card was declined; `code` is the provider's decline code.
    #[error("the card was declined ({code})")]
    Declined { code: String },
    /// The bank wants the cardholder to authenticate; off-session, that
    /// cannot happen, so the driver must act in the app.
    #[error("the card needs the cardholder to authenticate")]
    AuthenticationRequired,
    /// The driver removed the card the stay was to be charged to (found
    /// before the provider is asked).
    #[error("the card was removed")]
    CardRemoved,
    /// The request was refused as ill-formed (400, 404, a key reused with
    /// other parameters): a fault of ours.
    #[error("the payment provider refused the request: {0}")]
    Request(String),
    /// Our key or account was refused (401, 403): a fault of
    /// configuration, such as a rotated key.
    #[error("the payment provider refused our credentials: {0}")]
    Configuration(String),
}

/// Whose doing a provider error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The card: declined, or its holder must authenticate. Told to the
    /// driver.
    Card,
    /// Our request was refused: a defect to fix. Alarmed, never told to
    /// the driver as a card problem.
    Request,
    /// Our credentials were refused: configuration to fix. Alarmed.
    Configuration,
    /// The provider's moment: tried again.
    Transient,
}

impl ProviderError {
    /// Whose doing it is.
    pub fn cause(&self) -> Cause {
        match self {
            ProviderError::Timeout | ProviderError::Unavailable(_) | ProviderError::Failed(_) => {
                Cause::Transient
            }
            ProviderError::Declined { .. }
            | ProviderError::AuthenticationRequired
            | ProviderError::CardRemoved => Cause::Card,
            ProviderError::Request(_) => Cause::Request,
            ProviderError::Configuration(_) => Cause::Configuration,
        }
    }

    /// Whether the same attempt may be tried again later.
    pub fn is_retryable(&self) -> bool {
        self.cause() == Cause::Transient
    }

    /// Whether the provider keeps this answer under the attempt's key, so
    /// that only a new key can be tried again.
    pub fn is_stored(&self) -> bool {
        matches!(self, ProviderError::Failed(_))
    }
}

/// The smallest charge the provider accepts, in minor units (Stripe's
/// published minimums for the currencies a lot may price in; others: one
/// unit). A smaller balance is carried, not charged.
pub fn minimum_charge(currency: parking_core::Currency) -> i64 {
    match currency.code() {
        "JPY" | "USD" | "EUR" | "AUD" | "CAD" | "NZD" | "SGD" | "CHF" => 50,
        "GBP" => 30,
        "HKD" => 400,
        _ => 1,
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

/// A card to save for off-session charges, at registration.
#[derive(Debug, Clone)]
pub struct SetupRequest<'a> {
    /// The setup's idempotency key (from the payment method's id).
    pub key: &'a str,
    pub driver: &'a DriverId,
    /// The driver's customer at the provider, once there is one.
    pub customer: Option<&'a str>,
    pub token: &'a PaymentToken,
}

/// A card saved: the driver's customer, and while the bank wants its
/// holder to confirm (3-D Secure), the secret the app confirms it with.
#[derive(Clone, PartialEq, Eq)]
pub struct SetupOutcome {
    pub customer: String,
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for SetupOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetupOutcome")
            .field("customer", &self.customer)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Saving cards at registration, behind a pointer (what the driver API
/// holds): any [`PaymentProvider`].
pub trait CardSetup: Send + Sync {
    fn setup<'a>(
        &'a self,
        request: &'a SetupRequest<'a>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<SetupOutcome, ProviderError>> + Send + 'a>>;
    /// Deletes a driver's customer at the provider with its cards (an
    /// account erased).
    fn forget<'a>(
        &'a self,
        customer: &'a str,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), ProviderError>> + Send + 'a>>;
}

impl<P: PaymentProvider> CardSetup for P {
    fn setup<'a>(
        &'a self,
        request: &'a SetupRequest<'a>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<SetupOutcome, ProviderError>> + Send + 'a>>
    {
        Box::pin(self.setup_card(request))
    }

    fn forget<'a>(
        &'a self,
        customer: &'a str,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), ProviderError>> + Send + 'a>> {
        Box::pin(self.forget_customer(customer))
    }
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
    /// Saves a card for off-session charges with a setup intent
    /// (`usage=off_session`, card only), creating the driver's customer
    /// first when there is none, each under an idempotency key; the bank
    /// may want its holder to confirm (3-D Secure) in the app.
    fn setup_card(
        &self,
        request: &SetupRequest<'_>,
    ) -> impl Future<Output = Result<SetupOutcome, ProviderError>> + Send;
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
    /// The key of the movement that made a charge (the payment intent
    /// `charge_id`), if it is one of ours.
    fn attempt_of(
        &self,
        charge_id: &str,
    ) -> impl Future<Output = Result<Option<IdempotencyKey>, ProviderError>> + Send;
    /// The refund made for `request` (by its key), if any.
    fn find_refund(
        &self,
        request: &RefundRequest<'_>,
    ) -> impl Future<Output = Result<Option<ProviderRefund>, ProviderError>> + Send;
    /// Deletes a customer and the cards saved with it; one gone already
    /// is forgotten.
    fn forget_customer(
        &self,
        customer: &str,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
}

/// How a development provider behaves from a time on (a scenario's
/// `provider` step): every call answers normally (`ok`); charges are
/// declined (`decline`) or want the cardholder (`authentication_required`);
/// the provider is down, answering 5xx (`down`) or nothing in time
/// (`timeout`); it moves the money and its answer is lost
/// (`lose_answers`); or the bank refuses refunds (`refunds_fail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    Ok,
    Decline,
    AuthenticationRequired,
    Down,
    Timeout,
    LoseAnswers,
    RefundsFail,
}

/// A provider whose behaviour can be set (the development provider).
pub trait ProviderControl: Send + Sync {
    /// From now on, calls for `token` (or every call, with `None`)
    /// behave so.
    fn behave(&self, behaviour: Behaviour, token: Option<&str>);
}

/// What a provider's own books say of one driver's money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriverBooks {
    pub driver_id: DriverId,
    /// Charged, in minor units (before refunds).
    pub charged: i64,
    /// Refunded, in minor units.
    pub refunded: i64,
    pub charges: u32,
    pub refunds: u32,
    /// Refunds that took more than was left of their charge.
    pub refunds_beyond_charge: u32,
}

/// A provider whose books can be read back (the development provider):
/// the truth money is checked against.
pub trait ProviderLedger: Send + Sync {
    /// Per driver, in driver order.
    fn books(&self) -> Vec<DriverBooks>;
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
        /// The answer the provider stored under the key when it failed
        /// (a 5xx): the next holder looks the money up and, finding none,
        /// gives the key up for a new one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stored: Option<String>,
    },
    /// Charged (or refunded): the provider's id of the charge (or refund),
    /// and what it moved (when known: a lookup may find another amount
    /// than was asked).
    Succeeded {
        charge_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        moved: Option<Money>,
    },
    Failed {
        reason: String,
        /// Whose doing it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<Cause>,
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
    /// For a refund: the provider's id of the charge it takes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunds: Option<String>,
    /// The order it settles, to try it again from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<crate::outbox::PaymentOrder>,
    #[serde(flatten)]
    pub state: AttemptState,
    pub updated_at: Timestamp,
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds the attempt; `taken_over` is the attempt as an
    /// earlier holder left it (its outcome unknown), whose movement the
    /// caller now holds.
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
    /// at `now`. Taking over a lease that ran out keeps the movement the
    /// earlier holder claimed (its kind, amount, charge refunded and
    /// order): only the claim changes hands, so a key never stands for
    /// two movements. One conditional write, two for a takeover.
    fn claim_attempt(
        &self,
        attempt: &Attempt,
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
