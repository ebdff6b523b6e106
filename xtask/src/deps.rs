//! Installs what the tests need from Debian's packages, idempotently: a tool
//! already on PATH is left alone; otherwise, as root, `apt-get` installs its
//! package, saying so first. Without root, or with `XTASK_NO_INSTALL=1` in
//! the environment (for machines where xtask must not run apt, and for the
//! fault tests), it fails before any other work with an error that names
//! each missing command or file, why it is needed and the Debian package
//! that provides it.

use std::process::Command;

use anyhow::{bail, Context, Result};

/// A command-line tool (or, as an absolute path, a file) and the Debian
/// package that provides it.
pub struct Tool {
    pub command: &'static str,
    pub package: &'static str,
    pub why: &'static str,
}

/// What `cargo xtask test` needs.
pub const TEST_TOOLS: &[Tool] = &[
    Tool {
        command: "llvm-objdump-19",
        package: "llvm-19",
        why: "the reference disassembler: LLVM 19 knows every instruction form up to cpu v4",
    },
    Tool {
        command: "llvm-readelf",
        package: "llvm",
        why: "to check ELF headers",
    },
    Tool {
        command: "bpftool",
        package: "bpftool",
        why: "libbpf's view of the objects and the kernel verifier",
    },
    Tool {
        command: "clang",
        package: "clang",
        why: "to build C objects that disasm must read",
    },
    Tool {
        command: "go",
        package: "golang-go",
        why: "to build the cilium/ebpf checker (xtask/tests/cilium)",
    },
    Tool {
        command: "/usr/share/gocode/src/github.com/cilium/ebpf",
        package: "golang-github-cilium-ebpf-dev",
        why: "cilium/ebpf, the Go loader the objects are tested with",
    },
];

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

/// Makes sure every tool is on PATH, installing the missing ones' packages.
pub fn ensure(tools: &[Tool]) -> Result<()> {
    install_missing(
        tools
            .iter()
            .map(|t| Need {
                path: t.command.into(),
                package: t.package.into(),
                why: t.why.into(),
            })
            .collect(),
    )
}

/// Installs the packages of the `needs` not present, saying what and why
/// first; without root or with `XTASK_NO_INSTALL=1`, fails naming them.
fn install_missing(needs: Vec<Need>) -> Result<()> {
    let missing: Vec<Need> = needs.into_iter().filter(|n| !n.present()).collect();
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
    if no_install() {
        bail!(
            "{what}\ninstall it first: {command} (XTASK_NO_INSTALL is set: xtask installs nothing)"
        );
    }
    if !is_root() {
        bail!("{what}\ninstall it first: sudo {command}");
    }
    println!("xtask: {}", what.replace('\n', "\nxtask: "));
    println!("xtask: installing {} with apt-get", packages.join(" "));
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

/// `XTASK_NO_INSTALL=1` (or any value but empty and `0`): never install.
fn no_install() -> bool {
    std::env::var("XTASK_NO_INSTALL").is_ok_and(|v| !v.is_empty() && v != "0")
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

/// Something the QEMU matrix needs: present when `path` exists (an
/// absolute path) or is a command on PATH; otherwise `package` brings it.
struct Need {
    path: String,
    package: String,
    why: String,
}

impl Need {
    fn present(&self) -> bool {
        if self.path.starts_with('/') {
            std::path::Path::new(&self.path).exists()
        } else {
            on_path(&self.path)
        }
    }
}

/// What booting and building for `arches` needs from Debian.
fn matrix_needs(arches: &[probecc::arch::Arch]) -> Vec<Need> {
    use crate::machine;
    let need = |path: &str, package: &str, why: &str| Need {
        path: path.into(),
        package: package.into(),
        why: why.into(),
    };
    let mut v = vec![
        need(
            "clang",
            "clang",
            "to compile the C twins for the overhead comparison",
        ),
        need("dpkg-deb", "dpkg", "to unpack kernel packages"),
    ];
    for &a in arches {
        v.push(need(
            machine::qemu_binary(a),
            machine::qemu_package(a),
            "to boot the guest",
        ));
        v.extend(static_needs(a));
        if a == probecc::arch::Arch::Riscv64 {
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
fn static_needs(a: probecc::arch::Arch) -> Vec<Need> {
    let need = |path: &str, package: &str, why: &str| Need {
        path: path.into(),
        package: package.into(),
        why: why.into(),
    };
    match crate::machine::cross_triple(a) {
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
fn strip_need(a: probecc::arch::Arch) -> Need {
    let (path, package) = match crate::machine::cross_triple(a) {
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
pub fn strip_tool(a: probecc::arch::Arch) -> String {
    strip_need(a).path
}

/// Installs what building stripped static binaries for `arches` needs
/// (cross linkers, static C libraries, binutils, rustup targets),
/// idempotently, saying what and why first.
pub fn ensure_static(arches: &[probecc::arch::Arch]) -> Result<()> {
    let needs = arches
        .iter()
        .flat_map(|&a| static_needs(a).into_iter().chain([strip_need(a)]))
        .collect();
    install_missing(needs)?;
    ensure_rust_targets(arches)
}

/// Installs what the matrix needs for `arches` (Debian packages and rustup
/// targets), idempotently, saying what and why first.
pub fn ensure_matrix(arches: &[probecc::arch::Arch]) -> Result<()> {
    install_missing(matrix_needs(arches))?;
    ensure_rust_targets(arches)
}

/// `rustup target add` for the guest targets that are not installed.
fn ensure_rust_targets(arches: &[probecc::arch::Arch]) -> Result<()> {
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
    if no_install() {
        bail!(
            "the Rust target(s) {} of the static binaries are not installed; run `rustup target add {}` (XTASK_NO_INSTALL is set: xtask installs nothing)",
            missing.join(" "),
            missing.join(" ")
        );
    }
    println!(
        "xtask: adding the Rust targets {} (for the static binaries)",
        missing.join(" ")
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
