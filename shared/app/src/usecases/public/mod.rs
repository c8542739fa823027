//! What anyone may read, without an account: the open-data feed.

pub mod open_data;
