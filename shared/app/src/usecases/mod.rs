//! The use cases, grouped by who acts: the devices, the drivers, anyone
//! (the public feed), the staff, settlement, and the schedule. Each takes the narrowest store
//! trait it needs (the store's capabilities: [`crate::store`]) and the
//! clock, applies the rules once, and answers with a typed outcome or a
//! typed error whose variants callers match on: the functions map them to
//! HTTP statuses or retry decisions at their edge, and the command line to
//! exit codes. Each use case is also reachable as `usecases::<name>`.

pub mod devices;
pub mod drivers;
pub mod public;
pub mod schedule;
pub mod settlement;
pub mod staff;

pub use devices::{
    allow_list, availability, bay_state, device_events, plate_read, presence, provisioning, replay,
};
pub use drivers::{account, erasure, pay, plates, reservations, trips};
pub use public::open_data;
pub use schedule::{cost, forecast, retention, sweeps};
pub use settlement::{hook_delivery, notify, outbox, settle, webhook};
pub use staff::{
    adjust, dashboard, dead_letters, four_eyes, hooks, lot_flags, operator, plate_reviews, pricing,
    reconciliation, unpaid_register,
};
