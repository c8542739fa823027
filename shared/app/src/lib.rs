//! # parking-app
//!
//! Seamless Parking's application layer: the records it keeps, typed ids,
//! the ports its use cases run over (the store and the clock), free of any
//! vendor's types, the rules every store adapter applies the same way, and
//! the use cases themselves, one module per flow. Functions and the command
//! line call use cases; they never compose store primitives.

pub mod allow_lists;
pub mod approvals;
pub mod audit;
pub mod balance;
pub mod clock;
pub mod commands;
pub mod device_access;
pub mod devices;
pub mod drivers;
pub mod enrolments;
pub mod evidence;
pub mod flags;
pub mod forecasts;
pub mod gate_device;
pub mod history;
pub mod hooks;
pub mod ids;
pub mod ledger;
pub mod lots;
pub mod model;
pub mod outbox;
pub mod passages;
pub mod plate_claims;
pub mod rate_limits;
pub mod redact;
pub mod reservations;
pub mod rules;
pub mod scenario;
pub mod sessions;
pub mod settlement;
pub mod simulator;
pub mod store;
pub mod timeline;
pub mod unpaid;
pub mod usage;
pub mod usecases;

pub use ids::*;
pub use model::*;
pub use store::prelude::*;
