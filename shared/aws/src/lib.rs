//! # parking-aws
//!
//! Adapters for the ports of `parking-app`: the DynamoDB store
//! ([`dynamo::DynamoStore`]) and configuration from the environment (with
//! the default `aws` feature), and the in-memory twins with the same
//! behaviour ([`memory::MemoryStore`], always).

pub mod clock;
#[cfg(feature = "aws")]
pub mod config;
pub mod dev_provider;
#[cfg(feature = "aws")]
pub mod dynamo;
#[cfg(feature = "http")]
pub mod frame_links;
#[cfg(feature = "webhooks")]
pub mod hook_client;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "aws")]
pub mod iot;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod memory;
#[cfg(feature = "aws")]
pub mod sqs;
#[cfg(feature = "stripe")]
pub mod stripe;
pub mod twins;

pub use clock::SystemClock;
pub use dev_provider::{DevProvider, Faulty};
#[cfg(feature = "aws")]
pub use dynamo::DynamoStore;
pub use memory::MemoryStore;
pub use twins::{FileFlags, MemoryDeadLetters, MemoryDeviceLetters, MemoryLink, MemoryQueues};
