//! Building the guest agent (`probecc-guest`) as a static binary for an
//! arch: the rustup target and Debian's cross gcc as linker, with
//! `+crt-static`. Cargo's own caching makes a second build of the same
//! target a no-op; the flags are scoped to the target so host artifacts
//! are not rebuilt.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use probecc::arch::Arch;

use crate::machine;

/// Builds the guest for `arch` and returns the binary's path.
pub fn build(arch: Arch) -> Result<PathBuf> {
    let triple = arch.rust_target();
    let env_triple = triple.to_uppercase().replace('-', "_");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(crate::workspace_root())
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "probecc-guest",
            "--target",
            triple,
        ])
        .env(
            format!("CARGO_TARGET_{env_triple}_RUSTFLAGS"),
            "-C target-feature=+crt-static",
        );
    if let Some(gnu) = machine::cross_triple(arch) {
        cmd.env(
            format!("CARGO_TARGET_{env_triple}_LINKER"),
            format!("{gnu}-gcc"),
        );
    }
    let status = cmd.status().context("running cargo build for the guest")?;
    if !status.success() {
        bail!("building the guest for {triple} failed ({status})");
    }
    let bin = crate::workspace_root()
        .join("target")
        .join(triple)
        .join("release/probecc-guest");
    if !bin.is_file() {
        bail!("cargo built no {}", bin.display());
    }
    Ok(bin)
}
