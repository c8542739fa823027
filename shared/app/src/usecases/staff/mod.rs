//! What operators, shops and the kiosk do: resolve, refund, validate,
//! take payment, issue passes; the review queue, reports, the dashboard,
//! the dead-letter queues and the lots' feature flags.

pub mod adjust;
pub mod dashboard;
pub mod dead_letters;
pub mod four_eyes;
pub mod hooks;
pub mod lot_flags;
pub mod operator;
pub mod plate_reviews;
pub mod pricing;
pub mod reconciliation;
pub mod unpaid_register;
