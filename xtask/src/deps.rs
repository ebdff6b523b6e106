//! Installs what the tests need from Debian's packages, idempotently: a tool
//! already on PATH is left alone; otherwise, as root, `apt-get` installs its
//! package, saying so first. Without root it says what to install.

use std::process::Command;

use anyhow::{bail, Context, Result};

/// A command-line tool and the Debian package that provides it.
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
    let missing: Vec<&Tool> = tools.iter().filter(|t| !on_path(t.command)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|t| t.package).collect();
    packages.dedup();
    for t in &missing {
        println!(
            "xtask: `{}` is missing ({}); it comes with Debian's `{}`",
            t.command, t.why, t.package
        );
    }
    if !is_root() {
        bail!(
            "install them first: sudo apt-get install -y {}",
            packages.join(" ")
        );
    }
    println!("xtask: installing {} with apt-get", packages.join(" "));
    apt(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&packages);
    apt(&args)?;
    if let Some(t) = tools.iter().find(|t| !on_path(t.command)) {
        bail!(
            "`{}` is still missing after installing `{}`",
            t.command,
            t.package
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
