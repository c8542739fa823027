//! The use cases, one module per flow. Each takes the ports it needs
//! (the store, the clock), applies the rules once, and answers with a typed
//! outcome or a typed error whose variants callers match on: the functions
//! map them to HTTP statuses or retry decisions at their edge, and the
//! command line to exit codes.

pub mod account;
pub mod adjust;
pub mod availability;
pub mod bay_state;
pub mod cost;
pub mod dashboard;
pub mod dead_letters;
pub mod device_events;
pub mod drivers;
pub mod forecast;
pub mod lot_flags;
pub mod notify;
pub mod operator;
pub mod outbox;
pub mod plate_read;
pub mod presence;
pub mod reservations;
pub mod settle;
pub mod simulate;
pub mod sweeps;
pub mod trips;
