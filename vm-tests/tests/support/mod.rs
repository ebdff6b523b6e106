//! Shared by the suites: the fixture specs compiled the one way the
//! workspace compiles them (`probecc_fixtures`), loaded into the runner,
//! and their event files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use probecc::arch::Arch;
use probecc::lang::CompileOptions;
use vm_tests::spec::{self, Artifacts};
use vm_tests::{Options, Program};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The stems of `fixtures/specs/*.bt`, sorted.
pub fn fixtures() -> Vec<String> {
    probecc_fixtures::specs()
        .expect("fixtures/specs")
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

fn options(name: &str) -> CompileOptions {
    probecc_fixtures::options(&probecc_fixtures::spec_path(name)).unwrap_or_else(|e| panic!("{e}"))
}

pub fn compile_fixture(name: &str, arch: Arch) -> Artifacts {
    let path = probecc_fixtures::spec_path(name);
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
