//! Building a workspace binary as a static executable for an arch: the
//! rustup target and Debian's cross gcc as linker, with `+crt-static`
//! (glibc linked in). The guest agent (`probecc-guest`) is built this way,
//! and so is the `probecc` binary of `cargo xtask dist`: both in the
//! release profile with the same flags, so they share every dependency
//! built. Cargo's own caching makes a second build of the same target a
//! no-op; the flags are scoped to the target so host artifacts are not
//! rebuilt.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use probecc::arch::Arch;

use crate::machine;

/// Builds the guest for `arch` and returns the binary's path.
pub fn build(arch: Arch) -> Result<PathBuf> {
    build_static(arch, "probecc-guest", "probecc-guest")
}

/// Builds binary `bin` of package `package` for `arch`, statically linked,
/// and returns its path.
pub fn build_static(arch: Arch, package: &str, bin: &str) -> Result<PathBuf> {
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
            package,
            "--bin",
            bin,
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
    let status = cmd
        .status()
        .with_context(|| format!("running cargo build for {bin}"))?;
    if !status.success() {
        bail!("building {bin} for {triple} failed ({status})");
    }
    let path = crate::workspace_root()
        .join("target")
        .join(triple)
        .join("release")
        .join(bin);
    if !path.is_file() {
        bail!("cargo built no {}", path.display());
    }
    Ok(path)
}
