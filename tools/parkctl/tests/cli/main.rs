//! `parkctl` as a user runs it: one test binary, a module per command.

use std::path::PathBuf;
use std::process::{Command, Output};

mod jobs;
mod pricing;
mod quote;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn parkctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parkctl"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("parkctl runs")
}
