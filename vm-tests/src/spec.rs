//! spec: a spec compiled into what the runner takes — the object's bytes
//! and the manifest's JSON, exactly as `probecc build` writes them — so that
//! `probecc run SPEC.bt`, the tests and the bench start from the same
//! artifacts as a run on a built `.o`.

use probecc::arch::Arch;
use probecc::lang::{self, diag, CompileOptions};

/// A compiled spec.
pub struct Artifacts {
    pub object: Vec<u8>,
    pub manifest: String,
}

/// Why a spec did not compile: its diagnostics, rendered with their spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub rendered: String,
    pub count: usize,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rendered)
    }
}

/// Compiles `src` for `arch`.
pub fn compile(src: &str, arch: Arch, opts: &CompileOptions) -> Result<Artifacts, SpecError> {
    let compiled = lang::compile(src, arch, opts).map_err(|d| SpecError {
        rendered: diag::render(&opts.file, src, &d),
        count: d.len(),
    })?;
    let object = probecc::elf::write(&compiled.object).map_err(|e| SpecError {
        rendered: e.to_string(),
        count: 1,
    })?;
    Ok(Artifacts {
        object,
        manifest: compiled.manifest.to_json(),
    })
}
