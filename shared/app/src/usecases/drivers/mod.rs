//! What drivers do in the app: their account, plates and cards, their
//! reservations, and their trips and receipts.

pub mod account;
pub mod erasure;
pub mod pay;
pub mod plates;
pub mod reservations;
pub mod trips;
