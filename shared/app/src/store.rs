//! The store's shared vocabulary: why an operation failed ([`StoreError`],
//! and the rule that refused a write, [`Refusal`]), the item size limit,
//! and [`Store`], every capability at once, for the composition roots and
//! the flows that cross capabilities. Each capability's trait, records and
//! protocol live in its own module: [`crate::lots`], [`crate::drivers`],
//! [`crate::reservations`], [`crate::history`] (a plate's history),
//! [`crate::sessions`], [`crate::ledger`], [`crate::outbox`],
//! [`crate::audit`], [`crate::flags`], [`crate::forecasts`],
//! [`crate::usage`], [`crate::allow_lists`], [`crate::rate_limits`], and
//! settlement's attempts ([`crate::settlement`]).
//! Adapters live in `parking-aws`.
//!
//! Every write is idempotent for its caller: repeating the very same write
//! (a retry after a lost answer) reports success, never a conflict or a
//! duplicate of itself.

use jiff::Timestamp;

use crate::ids::*;

pub(crate) type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// Why a store operation failed.
///
/// Messages never carry a plate, a payment token or a key built from one.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} not found")]
    NotFound { what: String },
    /// An invariant refused the write; nothing was changed.
    #[error("refused: {0}")]
    Conflict(Refusal),
    /// The request itself is unacceptable.
    #[error("invalid: {reason}")]
    Invalid { reason: String },
    /// A stored item cannot be read back.
    #[error("stored item {key} cannot be read: {reason}")]
    Corrupt { key: String, reason: String },
    /// The store refused the request for a reason retrying cannot cure: a
    /// validation error, a missing table, access denied.
    #[error("store rejected the request: {source}")]
    Rejected {
        #[source]
        source: Boxed,
    },
    /// A record the store would keep is over its item limit (DynamoDB's
    /// 400 KB): nothing was written. Retrying cannot cure it; the event
    /// that caused it is kept for a person (a dead-letter queue), never
    /// dropped.
    #[error("a {kind} item of {bytes} bytes is over the store's item limit of {limit} bytes")]
    TooLarge {
        kind: String,
        bytes: usize,
        limit: usize,
    },
    /// The store could not be reached, throttled us or failed; the same
    /// operation may succeed later.
    #[error("store unavailable: {source}")]
    Unavailable {
        #[source]
        source: Boxed,
    },
}

/// The rule that refused a write. Worded once, here; callers match on the
/// variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the plate is registered to another driver")]
    PlateRegisteredToAnother,
    #[error("payment method {method_id} belongs to another driver")]
    PaymentMethodOfAnother { method_id: PaymentMethodId },
    #[error("reservation {reservation_id} exists")]
    ReservationExists { reservation_id: ReservationId },
    #[error("lot {lot_id} is fully reserved in the slot starting {slot_start}")]
    SlotFull {
        lot_id: LotId,
        slot_start: Timestamp,
    },
    #[error(
        "lot {lot_id} changed its reservable capacity or slot length since it was read; read it again"
    )]
    LotChanged { lot_id: LotId },
    #[error("the plate's timeline in lot {lot_id} changed since it was read; read it again")]
    StaleTimeline { lot_id: LotId },
    #[error("lot {lot_id} is no longer at revision {revision}")]
    StaleLot { lot_id: LotId, revision: u64 },
    #[error("the flags are no longer at revision {revision}")]
    StaleFlags { revision: u64 },
    #[error("serial number {serial} is enrolled already")]
    SerialEnrolled { serial: SerialNumber },
    #[error("serial number {serial} was admitted by another claim meanwhile")]
    AdmissionChanged { serial: SerialNumber },
    #[error("lot {lot_id}'s allow-list was written by another change meanwhile; read it again")]
    AllowListChanged { lot_id: LotId },
    #[error("the plate's claims were written by another change meanwhile; read them again")]
    PlateClaimsChanged,
    #[error("the request was decided meanwhile")]
    ApprovalDecided,
    #[error("lot {lot_id}'s webhooks were written by another change meanwhile; read them again")]
    HooksChanged { lot_id: LotId },
}

impl StoreError {
    pub fn not_found(what: impl Into<String>) -> Self {
        StoreError::NotFound { what: what.into() }
    }

    pub fn invalid(reason: impl Into<String>) -> Self {
        StoreError::Invalid {
            reason: reason.into(),
        }
    }

    /// Whether retrying the same operation later may succeed. A message
    /// whose processing failed with any other error is poison: retrying it
    /// forever changes nothing.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }

    /// Whether the failure is the store's, not the request's: it could
    /// not be reached, refused the request for a reason of its own (a
    /// missing table, access denied), holds an unreadable item, or would
    /// keep an item over its limit. An event that meets one must fail
    /// its message, so that it is retried and then kept in a dead-letter
    /// queue, instead of being dropped as bad input.
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable { .. }
                | StoreError::Rejected { .. }
                | StoreError::Corrupt { .. }
                | StoreError::TooLarge { .. }
        )
    }

    /// The rule that refused the write, if one did.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            StoreError::Conflict(r) => Some(r),
            _ => None,
        }
    }
}

impl From<Refusal> for StoreError {
    fn from(r: Refusal) -> Self {
        StoreError::Conflict(r)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The largest item the store keeps, in bytes as DynamoDB counts them
/// (attribute names and values): its documented limit of 400 KB.
pub const ITEM_LIMIT_BYTES: usize = 400 * 1024;

/// Every capability at once: what a composition root builds and what the
/// flows that cross capabilities take.
pub trait Store:
    crate::lots::LotStore
    + crate::drivers::DriverStore
    + crate::reservations::ReservationStore
    + crate::history::PlateHistory
    + crate::sessions::SessionStore
    + crate::ledger::EventLedger
    + crate::outbox::OutboxStore
    + crate::audit::AuditStore
    + crate::flags::FlagStore
    + crate::forecasts::ForecastStore
    + crate::usage::UsageStore
    + crate::settlement::AttemptStore
    + crate::enrolments::EnrolmentStore
    + crate::allow_lists::AllowListStore
    + crate::hooks::HookStore
    + crate::rate_limits::RateStore
    + crate::plate_claims::PlateClaimStore
    + crate::approvals::ApprovalStore
    + crate::unpaid::UnpaidStore
    + crate::passages::TrackStore
{
}

impl<T> Store for T where
    T: crate::lots::LotStore
        + crate::drivers::DriverStore
        + crate::reservations::ReservationStore
        + crate::history::PlateHistory
        + crate::sessions::SessionStore
        + crate::ledger::EventLedger
        + crate::outbox::OutboxStore
        + crate::audit::AuditStore
        + crate::flags::FlagStore
        + crate::forecasts::ForecastStore
        + crate::usage::UsageStore
        + crate::settlement::AttemptStore
        + crate::enrolments::EnrolmentStore
        + crate::allow_lists::AllowListStore
        + crate::hooks::HookStore
        + crate::rate_limits::RateStore
        + crate::plate_claims::PlateClaimStore
        + crate::approvals::ApprovalStore
        + crate::unpaid::UnpaidStore
        + crate::passages::TrackStore
{
}

/// Every capability's trait and records, for modules that use several.
pub mod prelude {
    pub use super::{ITEM_LIMIT_BYTES, Refusal, Store, StoreError, StoreResult};
    pub use crate::allow_lists::AllowListStore;
    pub use crate::approvals::ApprovalStore;
    pub use crate::audit::AuditStore;
    pub use crate::clock::{Clock, FixedClock};
    pub use crate::commands::DeviceLink;
    pub use crate::drivers::{DriverStore, DriverView};
    pub use crate::enrolments::EnrolmentStore;
    pub use crate::flags::FlagStore;
    pub use crate::forecasts::ForecastStore;
    pub use crate::history::{LikePlate, PlateHistory, PlateView, TimelineCommit};
    pub use crate::hooks::HookStore;
    pub use crate::ledger::EventLedger;
    pub use crate::lots::{LotConfig, LotLive, LotStore, Occupancy, PresenceOutcome};
    pub use crate::outbox::{OutboxStore, Queues, SendError};
    pub use crate::passages::TrackStore;
    pub use crate::plate_claims::PlateClaimStore;
    pub use crate::rate_limits::RateStore;
    pub use crate::reservations::ReservationStore;
    pub use crate::sessions::{SessionPage, SessionStore, entry_key, needs_review};
    pub use crate::unpaid::UnpaidStore;
    pub use crate::usage::UsageStore;
}
