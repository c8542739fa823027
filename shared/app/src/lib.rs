//! # parking-app
//!
//! Seamless Parking's application layer: the records it keeps, the ports
//! its use cases run over (the store and the clock), free of any vendor's
//! types, and the rules every store adapter applies the same way.

pub mod model;
pub mod ports;
pub mod rules;

pub use model::*;
pub use ports::{
    Clock, DriverStore, EventLedger, LotStore, PaymentStore, ReservationStore, SessionStore, Store,
    StoreError, StoreResult,
};
