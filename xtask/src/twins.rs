//! The C twins of some fixtures (`fixtures/c/twins/<name>.bpf.c`), compiled
//! by clang for an arch (`-target bpfel|bpfeb`, `-D__TARGET_ARCH_<arch>`,
//! both from `probecc::arch`) into `target/matrix/twins/<arch>/`, for the
//! overhead comparison. An object newer than its sources is reused; one is
//! compiled to a temporary name and renamed into place, so a concurrent
//! run never reads a half-written object. They join the harness's
//! overhead loop as the caller's subjects ([`subjects`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use probecc::arch::Arch;
use probecc_harness::stage::ExtraSubject;

/// The twins of `arch` as overhead subjects (kind `clang`), each named
/// `<fixture> (clang)`.
pub fn subjects(arch: Arch) -> probecc_harness::Result<Vec<ExtraSubject>> {
    let failed = |e: anyhow::Error| probecc_harness::Error::Failed(format!("{e:#}"));
    build(arch)
        .map_err(failed)?
        .into_iter()
        .map(|t| {
            let object = std::fs::read(&t.object)
                .with_context(|| format!("reading {}", t.object.display()))
                .map_err(failed)?;
            Ok(ExtraSubject {
                name: format!("{} (clang)", t.fixture),
                kind: "clang".into(),
                twin_of: Some(t.fixture),
                tracing: false,
                object,
            })
        })
        .collect()
}

/// A compiled twin: the fixture it mirrors and its object.
pub struct Twin {
    pub fixture: String,
    pub object: PathBuf,
}

pub fn build(arch: Arch) -> Result<Vec<Twin>> {
    let src_dir = probecc_fixtures::dir().join("c/twins");
    let out_dir = crate::workspace_root()
        .join("target/matrix/twins")
        .join(arch.name());
    std::fs::create_dir_all(&out_dir)?;
    let header = src_dir.join("twin.h");
    let mut twins = Vec::new();
    for entry in
        std::fs::read_dir(&src_dir).with_context(|| format!("reading {}", src_dir.display()))?
    {
        let src = entry?.path();
        let Some(fixture) = src
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".bpf.c"))
            .map(str::to_string)
        else {
            continue;
        };
        let object = out_dir.join(format!("{fixture}.o"));
        if stale(&object, &[&src, &header]) {
            compile(arch, &src, &object)?;
        }
        twins.push(Twin { fixture, object });
    }
    twins.sort_by(|a, b| a.fixture.cmp(&b.fixture));
    Ok(twins)
}

fn stale(out: &Path, inputs: &[&Path]) -> bool {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match m(out) {
        None => true,
        Some(t) => inputs.iter().any(|i| m(i).is_none_or(|s| s > t)),
    }
}

fn compile(arch: Arch, src: &Path, out: &Path) -> Result<()> {
    let tmp = out.with_extension(format!("tmp{}.o", std::process::id()));
    let status = Command::new("clang")
        .args(["-O2", "-g", "-target", arch.clang_target()])
        .arg(format!("-D__TARGET_ARCH_{}", arch.libbpf_target_arch()))
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(&tmp)
        .status()
        .context("running clang")?;
    if !status.success() {
        let _ = std::fs::remove_file(&tmp);
        bail!("clang failed on {} for {arch}", src.display());
    }
    std::fs::rename(&tmp, out).with_context(|| format!("renaming to {}", out.display()))
}
