//! How `cargo xtask` fails: its error as one line of causes, without a
//! backtrace even under `RUST_BACKTRACE=1`, exit status 1; and arguments
//! checked before any work (`parity nosuchspec` would otherwise download
//! bpftrace and a kernel first).

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn parity_names_an_unknown_spec_at_once_without_a_backtrace() {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["parity", "nosuchspec"])
        .env("RUST_BACKTRACE", "1")
        .env("XTASK_NO_INSTALL", "1")
        .output()
        .expect("running xtask");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("xtask: error: no fixture nosuchspec in fixtures/specs"),
        "{stderr}"
    );
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "took {:?}",
        start.elapsed()
    );
}
