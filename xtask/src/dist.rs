//! `cargo xtask dist --arch <arch|all|a,b>`: the whole `probecc` command
//! (build, check, run, disasm, trace; not `qemu`, whose QEMU guests a
//! device does not boot) as one static, stripped executable per arch in
//! `target/dist/<arch>/probecc`, to copy to a device.
//!
//! Static glibc, not musl: Rust has no prebuilt musl standard library for
//! s390x (`s390x-unknown-linux-musl` is not a rustup target), while the
//! five `*-linux-gnu` targets and Debian's cross gcc with its static
//! glibc (`+crt-static`) cover every arch, and the QEMU guests' agent is
//! already built exactly so (`probecc_harness::guest`, which this shares,
//! with its dependencies built once). What static glibc cannot do fully (NSS:
//! user and host name lookups) probecc does not ask of it, so the binary
//! runs on any Linux of its arch. What the build needs (rustup targets, cross linkers,
//! static C libraries, binutils to strip) is installed first, as the
//! matrix's is (`probecc_harness::tools`).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use probecc::arch::Arch;

use probecc_harness::guest::GuestSource;
use probecc_harness::tools;

/// The largest binary a device should have to take.
pub const SIZE_LIMIT: u64 = 10 << 20;

#[derive(clap::Args)]
pub struct DistArgs {
    /// Architectures (x86_64, arm64, s390x, ppc64le, riscv64, a
    /// comma-separated list, or all)
    #[arg(long, default_value = "x86_64")]
    pub arch: String,
}

/// One arch's binary.
pub struct Built {
    pub arch: Arch,
    pub path: PathBuf,
    pub bytes: u64,
}

pub fn run(args: &DistArgs) -> Result<()> {
    let arches = Arch::parse_list(&args.arch)?;
    tools::ensure_static(&arches, &crate::qemu::install())?;
    let mut built = Vec::new();
    for arch in arches {
        let b = build(arch)?;
        println!(
            "xtask: dist: {} ({:.1} MB, static, stripped)",
            b.path.display(),
            b.bytes as f64 / (1 << 20) as f64
        );
        built.push(b);
    }
    let over: Vec<String> = built
        .iter()
        .filter(|b| b.bytes >= SIZE_LIMIT)
        .map(|b| format!("{} ({} bytes)", b.arch, b.bytes))
        .collect();
    if !over.is_empty() {
        bail!(
            "dist: over the {} MB limit: {}",
            SIZE_LIMIT >> 20,
            over.join(", ")
        );
    }
    Ok(())
}

/// `target/dist/<arch>/probecc`, built and stripped (its prerequisites
/// must be installed: [`tools::ensure_static`]).
pub fn build(arch: Arch) -> Result<Built> {
    let built = GuestSource::default()
        .build_static(
            &[arch],
            "probecc-cli",
            "probecc",
            &["--no-default-features"],
        )?
        .remove(&arch)
        .context("cargo built no probecc")?;
    let dir = crate::workspace_root()
        .join("target/dist")
        .join(arch.name());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("probecc");
    // Stripped beside it and renamed over it: runs side by side (the
    // parity run and the corpus's guests) each read a whole binary, never
    // one another's half-written file.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let partial = dir.join(format!(".probecc.{}.{n}", std::process::id()));
    let strip = tools::strip_tool(arch);
    let status = Command::new(&strip)
        .arg("-o")
        .arg(&partial)
        .arg(&built)
        .status()
        .with_context(|| format!("running {strip}"))?;
    if !status.success() {
        let _ = std::fs::remove_file(&partial);
        bail!(
            "{strip} -o {} {} failed ({status})",
            partial.display(),
            built.display()
        );
    }
    std::fs::rename(&partial, &path)
        .with_context(|| format!("renaming {} to {}", partial.display(), path.display()))?;
    let bytes = std::fs::metadata(&path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    Ok(Built { arch, path, bytes })
}
