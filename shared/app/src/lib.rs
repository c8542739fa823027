//! # parking-app
//!
//! Seamless Parking's use cases, written once over ports (the store, the
//! queues, the device link and the clock) and run by every Lambda function
//! and by `parkctl` with whichever adapters they are given.

pub mod model;
pub mod ports;
pub mod rules;

pub use model::*;
pub use ports::{
    Clock, DriverStore, EventLedger, LotStore, PaymentStore, ReservationStore, SessionStore, Store,
    StoreError, StoreResult,
};
