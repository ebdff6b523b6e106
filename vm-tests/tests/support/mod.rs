//! Shared by the suites: the fixture specs compiled the one way the
//! workspace compiles them (`wildcard_*` against `fixtures/symbols/vfs.map`,
//! kernel types from `fixtures/btf/kernel.btf`), loaded into the runner, and
//! their event files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use probecc::arch::Arch;
use probecc::lang::check::TypeSource;
use probecc::lang::CompileOptions;
use vm_tests::spec::{self, Artifacts};
use vm_tests::{Options, Program};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The stems of `fixtures/specs/*.bt`, sorted.
pub fn fixtures() -> Vec<String> {
    let dir = root().join("fixtures/specs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures/specs")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "bt").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    names
}

fn options(name: &str) -> CompileOptions {
    let symbols = name.starts_with("wildcard_").then(|| {
        let text =
            std::fs::read_to_string(root().join("fixtures/symbols/vfs.map")).expect("vfs.map");
        probecc::symbols::parse(&text).expect("vfs.map parses")
    });
    CompileOptions {
        file: format!("fixtures/specs/{name}.bt"),
        symbols,
        btf: Some(TypeSource::file(root().join("fixtures/btf/kernel.btf"))),
        ..CompileOptions::default()
    }
}

pub fn compile_fixture(name: &str, arch: Arch) -> Artifacts {
    let src =
        std::fs::read_to_string(root().join(format!("fixtures/specs/{name}.bt"))).expect("spec");
    spec::compile(&src, arch, &options(name)).unwrap_or_else(|e| panic!("{name} for {arch}:\n{e}"))
}

pub fn compile(src: &str, arch: Arch) -> Artifacts {
    spec::compile(src, arch, &options("inline")).unwrap_or_else(|e| panic!("{arch}:\n{e}"))
}

pub fn load(a: &Artifacts, arch: Arch, opts: Options) -> Program {
    Program::load(&a.object, &a.manifest, arch, opts).unwrap_or_else(|e| panic!("{arch}: {e}"))
}

pub fn events(name: &str) -> String {
    std::fs::read_to_string(root().join(format!("fixtures/events/{name}.jsonl")))
        .unwrap_or_else(|e| panic!("fixtures/events/{name}.jsonl: {e}"))
}
