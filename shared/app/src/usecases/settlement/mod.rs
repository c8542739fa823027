//! Money and messages leaving the system: charges and refunds settled
//! exactly once with the payment provider, the outbox forwarded to its
//! queues, notifications to drivers, and webhooks to operators' systems.

pub mod hook_delivery;
pub mod notify;
pub mod outbox;
pub mod settle;
pub mod webhook;
