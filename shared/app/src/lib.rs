//! # parking-app
//!
//! Seamless Parking's application layer: the records it keeps, typed ids,
//! the ports its use cases run over (the store and the clock), free of any
//! vendor's types, the rules every store adapter applies the same way, and
//! the use cases themselves, one module per flow. Functions and the command
//! line call use cases; they never compose store primitives.

pub mod commands;
pub mod devices;
pub mod flags;
pub mod history;
pub mod ids;
pub mod model;
pub mod outbox;
pub mod ports;
pub mod redact;
pub mod rules;
pub mod scenario;
pub mod settlement;
pub mod sim;
pub mod timeline;
pub mod usecases;

pub use ids::*;
pub use model::*;
pub use ports::{
    ApiStore, Clock, DeviceLink, DeviceStore, DriverStore, EventLedger, FixedClock, FlagStore,
    ForecastStore, ITEM_LIMIT_BYTES, LotStore, OutboxStore, PaymentStore, Queues, RecordStore,
    Refusal, ReservationStore, SendError, SessionStore, Store, StoreError, StoreResult, SweepStore,
    UsageStore,
};
