//! `cargo xtask build --arch <arch|all>`: every example and fixture object
//! for the chosen architectures, one summary line per object.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use probecc::arch::Arch;
use probecc::program::Object;

#[derive(clap::Args)]
pub struct BuildArgs {
    /// Target architecture (x86_64, arm64, s390x, ppc64le, riscv64; aliases
    /// aarch64, powerpc64le) or `all`
    #[arg(long, default_value = "all")]
    pub arch: String,
    /// Output root; objects go to <out>/<arch>/<name>.o
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: &BuildArgs) -> Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| crate::workspace_root().join("target/bpf"));
    for arch in Arch::parse_list(&args.arch)? {
        build_arch(arch, &out)?;
    }
    Ok(())
}

/// Writes every example and every fixture spec for `arch` under
/// `<out>/<arch>/` (specs with their `.manifest.json`), printing a summary
/// line for each; returns the object paths written.
pub fn build_arch(arch: Arch, out: &Path) -> Result<Vec<PathBuf>> {
    let dir = out.join(arch.name());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for ex in probecc::examples::ALL {
        let obj =
            (ex.build)(arch).with_context(|| format!("building example {} for {arch}", ex.name))?;
        written.push(write_object(&dir, ex.name, &obj)?);
    }
    for (name, path) in probecc_fixtures::specs()? {
        let compiled = probecc_fixtures::compile(&path, arch)?;
        written.push(write_object(&dir, &name, &compiled.object)?);
        let manifest = dir.join(format!("{name}.manifest.json"));
        std::fs::write(&manifest, compiled.manifest.to_json())
            .with_context(|| format!("writing {}", manifest.display()))?;
    }
    Ok(written)
}

fn write_object(dir: &Path, name: &str, obj: &Object) -> Result<PathBuf> {
    let bytes =
        probecc::elf::write(obj).with_context(|| format!("writing {name} for {}", obj.arch))?;
    let path = dir.join(format!("{name}.o"));
    std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    println!("{}", summary(&path, obj, bytes.len()));
    Ok(path)
}

fn summary(path: &Path, obj: &Object, bytes: usize) -> String {
    let insns: usize = obj.programs.iter().map(|p| p.insns.len()).sum();
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!(
        "{:<40} {}, {}, {}, {} bytes",
        path.strip_prefix(crate::workspace_root())
            .unwrap_or(path)
            .display(),
        plural(obj.programs.len(), "program"),
        plural(insns, "instruction"),
        plural(obj.maps.len(), "map"),
        bytes
    )
}
