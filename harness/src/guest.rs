//! Building the guest agent (`probecc-guest`, `/init` of every guest), or
//! another binary of the probecc workspace (the `probecc` of `cargo xtask
//! dist`), as a static executable per arch: the rustup target and
//! Debian's cross gcc as linker, with `+crt-static` (glibc linked in),
//! in the release profile with the same flags so they share every
//! dependency built, every arch of a run in one cargo
//! invocation (cargo builds the targets in parallel and its caching makes
//! a second build a no-op; the flags are scoped to each target so host
//! artifacts are not rebuilt). They go to the probecc workspace's own
//! `target/` (whatever `CARGO_TARGET_DIR` a user's project builds with),
//! so every project on one checkout shares them; the binaries are found
//! in cargo's own report of what it built.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use probecc::arch::Arch;

use crate::error::{bail, Context, Result};
use crate::machine;

/// The probecc workspace the agent is built from.
#[derive(Clone, Debug)]
pub struct GuestSource {
    /// The workspace root (it holds `guest/`).
    pub workspace: PathBuf,
    /// Cargo's target directory for the agent (default
    /// `<workspace>/target`).
    pub target_dir: Option<PathBuf>,
}

impl Default for GuestSource {
    /// The workspace this library was built from.
    fn default() -> GuestSource {
        let harness = Path::new(env!("CARGO_MANIFEST_DIR"));
        GuestSource {
            workspace: harness.parent().unwrap_or(harness).to_path_buf(),
            target_dir: None,
        }
    }
}

impl GuestSource {
    /// Builds the agent for every arch of `arches` and returns each
    /// binary's path.
    pub fn build(&self, arches: &[Arch]) -> Result<BTreeMap<Arch, PathBuf>> {
        self.build_static(arches, "probecc-guest", "probecc-guest", &[])
    }

    /// Builds binary `bin` of the workspace's package `package` for every
    /// arch of `arches`, statically linked, with `cargo_args` (e.g.
    /// `--no-default-features`) added to cargo's, and returns each
    /// binary's path.
    pub fn build_static(
        &self,
        arches: &[Arch],
        package: &str,
        bin: &str,
        cargo_args: &[&str],
    ) -> Result<BTreeMap<Arch, PathBuf>> {
        if !self.workspace.join("guest/Cargo.toml").is_file() {
            bail!(
                "{} holds no guest/ to build the guest agent from (the probecc sources \
                 the harness was built from)",
                self.workspace.display()
            );
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let target_dir = self
            .target_dir
            .clone()
            .unwrap_or_else(|| self.workspace.join("target"));
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.workspace)
            .env_remove("CARGO_TARGET_DIR")
            .args([
                "build",
                "--release",
                "--quiet",
                "--message-format=json-render-diagnostics",
                "-p",
                package,
                "--bin",
                bin,
            ])
            .args(cargo_args)
            .arg("--target-dir")
            .arg(&target_dir);
        let mut want = BTreeMap::new();
        for &arch in arches {
            let triple = arch.rust_target();
            if want.insert(triple, arch).is_some() {
                continue;
            }
            let env_triple = triple.to_uppercase().replace('-', "_");
            cmd.args(["--target", triple]).env(
                format!("CARGO_TARGET_{env_triple}_RUSTFLAGS"),
                "-C target-feature=+crt-static",
            );
            if let Some(gnu) = machine::cross_triple(arch) {
                cmd.env(
                    format!("CARGO_TARGET_{env_triple}_LINKER"),
                    format!("{gnu}-gcc"),
                );
            }
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("running cargo build for {bin}"))?;
        let mut built = BTreeMap::new();
        if let Some(out) = child.stdout.take() {
            for line in std::io::BufReader::new(out).lines().map_while(|l| l.ok()) {
                if let Some((triple, exe)) = executable(&line, bin) {
                    if let Some(&arch) = want.get(triple.as_str()) {
                        built.insert(arch, exe);
                    }
                }
            }
        }
        let status = child.wait().context("waiting for cargo build")?;
        if !status.success() {
            let names: Vec<&str> = want.keys().copied().collect();
            bail!("building {bin} for {} failed ({status})", names.join(", "));
        }
        for (triple, arch) in want {
            match built.get(&arch) {
                Some(exe) if exe.is_file() => {}
                _ => bail!("cargo reported no {bin} binary for {triple}"),
            }
        }
        Ok(built)
    }
}

/// The target triple and executable of a `compiler-artifact` line of
/// cargo's JSON messages for binary `bin`.
fn executable(line: &str, bin: &str) -> Option<(String, PathBuf)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v["reason"] != "compiler-artifact" || v["target"]["name"] != bin {
        return None;
    }
    let exe = PathBuf::from(v["executable"].as_str()?);
    // .../target/<triple>/release/<bin>
    let triple = exe.parent()?.parent()?.file_name()?.to_str()?.to_string();
    Some((triple, exe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_is_found_in_cargos_messages() {
        let line = r#"{"reason":"compiler-artifact","target":{"name":"probecc-guest","kind":["bin"]},"executable":"/t/s390x-unknown-linux-gnu/release/probecc-guest","fresh":true}"#;
        assert_eq!(
            executable(line, "probecc-guest"),
            Some((
                "s390x-unknown-linux-gnu".into(),
                PathBuf::from("/t/s390x-unknown-linux-gnu/release/probecc-guest")
            ))
        );
        let lib = r#"{"reason":"compiler-artifact","target":{"name":"probecc","kind":["lib"]},"executable":null}"#;
        assert_eq!(executable(lib, "probecc-guest"), None);
        assert_eq!(executable("not json", "probecc-guest"), None);
    }
}
