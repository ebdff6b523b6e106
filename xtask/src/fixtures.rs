//! The fixture corpus: valid specs in `fixtures/specs`, broken ones in
//! `fixtures/bad`, and the one rule for compiling them: `wildcard_*` specs
//! expand against `fixtures/symbols/vfs.map`; every spec is compiled for
//! each arch's default kernel (`Arch::default_kernel`) against the kernel
//! types of `fixtures/btf/kernel.btf`, with its path relative to the
//! workspace as the file name.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use probecc::arch::Arch;
use probecc::lang::check::TypeSource;
use probecc::lang::{self, diag, CompileOptions, Compiled};

pub fn dir() -> PathBuf {
    crate::workspace_root().join("fixtures")
}

/// (stem, path) of every `*.bt` in `fixtures/<sub>`, sorted by name.
pub fn specs_in(sub: &str) -> Result<Vec<(String, PathBuf)>> {
    let d = dir().join(sub);
    let mut specs = Vec::new();
    for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "bt") {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                specs.push((stem.to_string(), path.clone()));
            }
        }
    }
    specs.sort();
    Ok(specs)
}

/// The valid specs.
pub fn specs() -> Result<Vec<(String, PathBuf)>> {
    specs_in("specs")
}

/// The compile options a fixture is built with: each arch's default
/// kernel (`Arch::default_kernel`) and the kernel types of
/// `fixtures/btf/kernel.btf` (read only by specs that use struct types).
pub fn options(path: &Path) -> Result<CompileOptions> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let symbols = if name.starts_with("wildcard_") {
        let map = dir().join("symbols/vfs.map");
        let text =
            std::fs::read_to_string(&map).with_context(|| format!("reading {}", map.display()))?;
        Some(probecc::symbols::parse(&text)?)
    } else {
        None
    };
    let root = crate::workspace_root();
    let file = path
        .strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string();
    Ok(CompileOptions {
        file,
        symbols,
        kernel: None,
        unsafe_actions: false,
        btf: Some(TypeSource::file(dir().join("btf/kernel.btf"))),
    })
}

/// Compiles a fixture for `arch`; compile errors become an error holding
/// the rendered diagnostics.
pub fn compile(path: &Path, arch: Arch) -> Result<Compiled> {
    let src =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let opts = options(path)?;
    match lang::compile(&src, arch, &opts) {
        Ok(c) => Ok(c),
        Err(d) => bail!(
            "{} for {arch}:\n{}",
            opts.file,
            diag::render(&opts.file, &src, &d)
        ),
    }
}
