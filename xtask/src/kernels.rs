//! `cargo xtask kernels`: the Debian kernels of the QEMU matrix fetched
//! into the project's kernel cache (`target/kernels`, or
//! `XTASK_KERNELS_DIR`; see `probecc_harness::kernels`), or a kernel
//! image of the user's described, one line per kernel.

use std::path::PathBuf;

use anyhow::Result;
use probecc::arch::Arch;
use probecc_harness::kernels::{self, Kernel};

#[derive(clap::Args)]
pub struct KernelsArgs {
    /// Architectures (x86_64, arm64, s390x, ppc64le, riscv64, or all)
    #[arg(long, default_value = "all")]
    pub arch: String,
    /// Debian releases (bookworm, trixie, sid, or all); default: each arch's own
    #[arg(long)]
    pub release: Option<String>,
    /// Resolve the newest kernel again even if one is cached
    #[arg(long)]
    pub refresh: bool,
    /// Describe this kernel image instead of fetching one
    #[arg(long)]
    pub kernel: Option<PathBuf>,
}

pub fn run(args: &KernelsArgs) -> Result<()> {
    let cache = crate::qemu::kernel_cache();
    for arch in Arch::parse_list(&args.arch)? {
        let found: Vec<Kernel> = match &args.kernel {
            Some(path) => vec![kernels::custom(arch, path)?],
            None => kernels::releases(arch, args.release.as_deref())?
                .into_iter()
                .map(|r| cache.fetch(arch, r, args.refresh))
                .collect::<Result<Vec<_>, _>>()?,
        };
        for k in found {
            let root = crate::workspace_root();
            println!(
                "{:<8} {:<9} {:<28} {}",
                k.arch,
                k.release,
                k.version,
                k.image.strip_prefix(&root).unwrap_or(&k.image).display()
            );
        }
    }
    Ok(())
}
