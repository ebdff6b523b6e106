//! `examples/user-project` as `cargo xtask test` checks it: a separate
//! workspace on probecc's crates, as a user's repository is. Its xtask
//! is built and run as its README says: `build --arch arm64` must write
//! both specs' objects and manifests, and `matrix` runs its plan in QEMU
//! on x86_64 (one boot, bookworm's kernel) through the harness. It builds
//! into `target/user-project` (its own xtask binary must not replace
//! probecc's) and shares probecc's kernel and package caches
//! (`PROBECC_CACHE_DIR=target`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The project's directory.
fn dir() -> PathBuf {
    crate::workspace_root().join("examples/user-project")
}

/// Where it builds.
fn target() -> PathBuf {
    crate::workspace_root().join("target/user-project")
}

/// `cargo run -p xtask -- ARGS` in the project.
fn xtask(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(dir())
        .env("CARGO_TARGET_DIR", target())
        .env("PROBECC_CACHE_DIR", crate::workspace_root().join("target"))
        .args(["run", "--locked", "--quiet", "--package", "xtask", "--"])
        .args(args)
        .status()
        .context("running cargo in examples/user-project")?;
    if !status.success() {
        bail!(
            "examples/user-project: `cargo xtask {}` failed ({status})",
            args.join(" ")
        );
    }
    Ok(())
}

/// Builds the project's objects for arm64 and checks they are there.
pub fn build() -> Result<()> {
    xtask(&["build", "--arch", "arm64"])?;
    let out = target().join("bpf/arm64");
    for name in ["opens", "read_sizes"] {
        for file in [format!("{name}.o"), format!("{name}.manifest.json")] {
            let p: &Path = &out.join(&file);
            if !p.is_file() {
                bail!(
                    "examples/user-project: `cargo xtask build` wrote no {}",
                    p.display()
                );
            }
        }
    }
    Ok(())
}

/// Runs the project's plan on x86_64 (bookworm).
pub fn matrix() -> Result<()> {
    xtask(&["matrix", "--arch", "x86_64", "--release", "bookworm"])
}
