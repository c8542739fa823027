//! # parking-aws
//!
//! Adapters for the ports of `parking-app`: the DynamoDB store
//! ([`dynamo::DynamoStore`]), configuration from the environment, and the
//! in-memory twins with the same behaviour ([`memory::MemoryStore`]).

pub mod config;
pub mod dynamo;
pub mod memory;

pub use dynamo::DynamoStore;
pub use memory::MemoryStore;
