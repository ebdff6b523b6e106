//! `cargo xtask btf-subset`: writes `fixtures/btf/kernel.btf`, the kernel
//! types the fixtures and tests compile struct access and enum constants
//! against: the structs listed in `fixtures/btf/kernel.roots` with all
//! their members, and its `enum NAME` lines' enums, cut from a kernel's
//! BTF (`--from`, default the running kernel's) by `KernelBtf::subset`. A fixed file keeps objects, snapshots and access
//! strings the same on every machine; CO-RE relocates them for whichever
//! kernel loads them.

use std::path::PathBuf;

use anyhow::{Context, Result};
use probecc::btf::kernel::{KernelBtf, HOST_VMLINUX};

#[derive(clap::Args)]
pub struct BtfSubsetArgs {
    /// The kernel BTF to cut from (raw BTF or a vmlinux ELF)
    #[arg(long, default_value = HOST_VMLINUX)]
    pub from: PathBuf,
    /// Where to write the subset
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The roots in `fixtures/btf/kernel.roots`: a struct name or `enum NAME`
/// per line, `#` comments.
pub fn roots() -> Result<Vec<String>> {
    let path = probecc_fixtures::dir().join("btf/kernel.roots");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

pub fn run(args: &BtfSubsetArgs) -> Result<()> {
    let kernel = KernelBtf::from_file(&args.from)
        .with_context(|| format!("reading {}", args.from.display()))?;
    let roots = roots()?;
    let names: Vec<&str> = roots.iter().map(String::as_str).collect();
    let bytes = kernel
        .subset(&names)
        .with_context(|| format!("cutting {} from {}", names.join(", "), args.from.display()))?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| probecc_fixtures::dir().join("btf/kernel.btf"));
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "xtask: btf-subset: {} ({} bytes): {} from {}",
        out.display(),
        bytes.len(),
        names.join(", "),
        args.from.display()
    );
    Ok(())
}
