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

/// The JSON a successful run printed.
pub fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// A refusal: exit code 2 and one line on stderr, returned.
pub fn one_line_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    err
}
