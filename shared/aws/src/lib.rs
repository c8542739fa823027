//! # parking-aws
//!
//! Adapters for the ports of `parking-app`: the DynamoDB store
//! ([`dynamo::DynamoStore`]) and configuration from the environment (with
//! the default `aws` feature), and the in-memory twins with the same
//! behaviour ([`memory::MemoryStore`], always).

#[cfg(feature = "aws")]
pub mod config;
#[cfg(feature = "aws")]
pub mod dynamo;
pub mod memory;
pub mod twins;

#[cfg(feature = "aws")]
pub use dynamo::DynamoStore;
pub use memory::MemoryStore;
pub use twins::{MemoryLink, MemoryQueues};
