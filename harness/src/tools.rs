//! What booting and building the guest (and other static binaries, such
//! as `cargo xtask dist`'s) needs from the host (QEMU, the cross linker
//! and static C library, binutils, opensbi, dpkg-deb, the rustup
//! targets), each with the Debian package that provides it, checked
//! before any work starts. A tool already there is left alone; a missing one is
//! installed with `apt-get` when the caller allows it ([`Install::AsRoot`]
//! and the process is root), saying so first; otherwise the error
//! ([`Error::Missing`]) names each missing command or file, why it is
//! needed, its Debian package and the command that installs it.

use std::process::Command;

use probecc::arch::Arch;

use crate::error::{bail, Context, Error, Result};
use crate::machine;
use crate::say::say;

pub fn on_path(command: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(command).is_file()))
        .unwrap_or(false)
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A tool known when the program is built: a command (or, as an absolute
/// path, a file) and the Debian package that provides it.
pub struct Tool {
    pub command: &'static str,
    pub package: &'static str,
    pub why: &'static str,
}

/// [`ensure`] of `tools`.
pub fn ensure_tools(tools: &[Tool], install: &Install) -> Result<()> {
    let needs: Vec<Need> = tools
        .iter()
        .map(|t| Need::new(t.command, t.package, t.why))
        .collect();
    ensure(&needs, install)
}

/// Whether the harness may install what is missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Install {
    /// With `apt-get` (and `rustup target add`) when running as root.
    AsRoot,
    /// Never; the reason is said beside what to install (e.g.
    /// "XTASK_NO_INSTALL is set: xtask installs nothing").
    Never(String),
}

/// Installs the packages of the `needs` not present, saying what and why
/// first; without root or when `install` forbids it, fails naming them.
pub fn ensure(needs: &[Need], install: &Install) -> Result<()> {
    let missing: Vec<&Need> = needs.iter().filter(|n| !n.present()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|n| n.package.as_str()).collect();
    packages.sort();
    packages.dedup();
    let what = missing
        .iter()
        .map(|n| {
            format!(
                "`{}` is missing ({}); it comes with Debian's `{}`",
                n.path, n.why, n.package
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let command = format!("apt-get install -y {}", packages.join(" "));
    if let Install::Never(why) = install {
        return Err(Error::Missing(format!(
            "{what}\ninstall it first: {command} ({why})"
        )));
    }
    if !is_root() {
        return Err(Error::Missing(format!(
            "{what}\ninstall it first: sudo {command}"
        )));
    }
    for line in what.lines() {
        say("tools", line);
    }
    say(
        "tools",
        &format!("installing {} with apt-get", packages.join(" ")),
    );
    apt(&["update", "-qq"])
        .and_then(|()| {
            let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
            args.extend(&packages);
            apt(&args)
        })
        .with_context(|| format!("{what}\ninstalling it failed: run `{command}` yourself"))?;
    if let Some(n) = missing.iter().find(|n| !n.present()) {
        bail!(
            "`{}` is still missing after installing Debian's `{}` (is it on PATH?)",
            n.path,
            n.package
        );
    }
    Ok(())
}

fn apt(args: &[&str]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    if !status.success() {
        bail!("apt-get {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Something the harness needs: present when `path` exists (an absolute
/// path) or is a command on PATH; otherwise Debian's `package` brings it.
#[derive(Clone, Debug)]
pub struct Need {
    pub path: String,
    pub package: String,
    pub why: String,
}

impl Need {
    pub fn new(path: &str, package: &str, why: &str) -> Need {
        Need {
            path: path.into(),
            package: package.into(),
            why: why.into(),
        }
    }

    pub fn present(&self) -> bool {
        if self.path.starts_with('/') {
            std::path::Path::new(&self.path).exists()
        } else {
            on_path(&self.path)
        }
    }
}

/// What building the guest for `arches` and booting them needs from
/// Debian.
pub fn boot_needs(arches: &[Arch]) -> Vec<Need> {
    let need = Need::new;
    let mut v = vec![need("dpkg-deb", "dpkg", "to unpack kernel packages")];
    for &a in arches {
        v.push(need(
            machine::qemu_binary(a),
            machine::qemu_package(a),
            "to boot the guest",
        ));
        v.extend(static_needs(a));
        if a == Arch::Riscv64 {
            v.push(need(
                "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin",
                "opensbi",
                "the firmware qemu-system-riscv64 boots",
            ));
        }
    }
    v
}

/// What linking a static binary for `a` needs: the C toolchain (cross for
/// a foreign arch) and its static C library.
fn static_needs(a: Arch) -> Vec<Need> {
    let need = Need::new;
    match machine::cross_triple(a) {
        None => vec![
            need("cc", "gcc", "to link static binaries (the guest, dist)"),
            need(
                &format!("/usr/lib/{}-linux-gnu/libc.a", a.name()),
                "libc6-dev",
                "the static C library of the guest and dist binaries",
            ),
        ],
        Some(gnu) => vec![
            need(
                &format!("{gnu}-gcc"),
                &format!("gcc-{gnu}"),
                "to link static binaries (the guest, dist)",
            ),
            need(
                &format!("/usr/{gnu}/lib/libc.a"),
                &format!("libc6-dev-{}-cross", a.debian_arch()),
                "the static C library of the guest and dist binaries",
            ),
        ],
    }
}

/// The binutils that strip a binary for `a`.
fn strip_need(a: Arch) -> Need {
    let (path, package) = match machine::cross_triple(a) {
        None => ("strip".to_string(), "binutils".to_string()),
        Some(gnu) => (format!("{gnu}-strip"), format!("binutils-{gnu}")),
    };
    Need {
        path,
        package,
        why: "to strip the dist binary".into(),
    }
}

/// The binutils `strip` of `a`: the one for its cross triple, or the
/// host's.
pub fn strip_tool(a: Arch) -> String {
    strip_need(a).path
}

/// Installs what building stripped static binaries for `arches` needs
/// (cross linkers, static C libraries, binutils, rustup targets),
/// idempotently, saying what and why first.
pub fn ensure_static(arches: &[Arch], install: &Install) -> Result<()> {
    let needs: Vec<Need> = arches
        .iter()
        .flat_map(|&a| static_needs(a).into_iter().chain([strip_need(a)]))
        .collect();
    ensure(&needs, install)?;
    ensure_rust_targets(arches, install)
}

/// Installs what booting `arches` needs (Debian packages, and `extra`,
/// and the rustup targets of the guest), idempotently, saying what and
/// why first.
pub fn ensure_for_boot(arches: &[Arch], extra: &[Need], install: &Install) -> Result<()> {
    let mut needs = boot_needs(arches);
    needs.extend_from_slice(extra);
    ensure(&needs, install)?;
    ensure_rust_targets(arches, install)
}

/// `rustup target add` for the guest targets that are not installed.
fn ensure_rust_targets(arches: &[Arch], install: &Install) -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running rustup (the guest is built for each arch's Rust target)")?;
    let installed = String::from_utf8_lossy(&out.stdout).to_string();
    let mut missing: Vec<&str> = arches
        .iter()
        .map(|a| a.rust_target())
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    missing.sort();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    if let Install::Never(why) = install {
        return Err(Error::Missing(format!(
            "the Rust target(s) {} of the static binaries are not installed; run `rustup target add {}` ({why})",
            missing.join(" "),
            missing.join(" ")
        )));
    }
    say(
        "tools",
        &format!(
            "adding the Rust targets {} (for the static binaries)",
            missing.join(" ")
        ),
    );
    let status = Command::new("rustup")
        .args(["target", "add"])
        .args(&missing)
        .status()
        .context("running rustup target add")?;
    if !status.success() {
        bail!("rustup target add {} failed ({status})", missing.join(" "));
    }
    Ok(())
}
