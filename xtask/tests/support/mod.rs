//! Shared pieces of the cross-crate suites: every example and fixture
//! object written to disk, and clang's objects of `fixtures/c`. What a
//! test needs of the machine, and the rule for a missing prerequisite, are
//! `probecc_test_support`'s.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use probecc::arch::Arch;
use probecc::program::Object;
use probecc_test_support::clang;

pub struct Built {
    pub arch: Arch,
    /// The example's name or the fixture's file stem.
    pub name: String,
    pub obj: Object,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// Every DSL example and every fixture spec for every arch, written under
/// this test binary's tmp dir, in a directory of this call's own (tests
/// of one binary run in parallel and must not read each other's writes).
pub fn objects() -> Vec<Built> {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let mine = format!("objects-{}-", std::process::id());
    if call == 0 {
        // What earlier runs left behind.
        for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("objects-") && !name.starts_with(&mine) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let root = tmp.join(format!("{mine}{call}"));
    let mut out = Vec::new();
    for arch in Arch::ALL {
        let dir = root.join(arch.name());
        std::fs::create_dir_all(&dir).expect("creating the objects dir");
        let examples = probecc::examples::ALL.iter().map(|ex| {
            let obj = (ex.build)(arch).unwrap_or_else(|e| panic!("{} for {arch}: {e}", ex.name));
            (ex.name.to_string(), obj)
        });
        let specs = fixture_specs()
            .into_iter()
            .map(|(name, path)| (name, compile_fixture(&path, arch)));
        for (name, obj) in examples.chain(specs) {
            let bytes =
                probecc::elf::write(&obj).unwrap_or_else(|e| panic!("{name} for {arch}: {e}"));
            let path = dir.join(format!("{name}.o"));
            std::fs::write(&path, &bytes).expect("writing an object");
            out.push(Built {
                arch,
                name,
                obj,
                path,
                bytes,
            });
        }
    }
    out
}

/// (stem, path) of every valid fixture spec, sorted.
pub fn fixture_specs() -> Vec<(String, PathBuf)> {
    probecc_fixtures::specs().expect("listing fixtures/specs")
}

/// Compiles a fixture as `cargo xtask build` does, panicking with the
/// rendered diagnostics on error.
pub fn compile_fixture(path: &Path, arch: Arch) -> Object {
    probecc_fixtures::compile(path, arch)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .object
}

/// Little-endian objects only: what host tools built for the host byte
/// order read (libbpf, aya-obj, the host kernel).
pub fn little_endian_objects() -> Vec<Built> {
    objects()
        .into_iter()
        .filter(|b| b.arch.endian() == probecc::Endian::Little)
        .collect()
}

/// Runs a command and returns its output, panicking with its stderr if it
/// could not be started.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A clang-compiled object of `fixtures/c`.
pub struct ClangObject {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Every C file of `fixtures/c` and `fixtures/c/twins`, compiled by clang
/// for little-endian BPF (x86_64 pt_regs accessors), under this test
/// binary's tmp dir (after `require(&[Need::Tool("clang")])`).
pub fn clang_objects() -> Vec<ClangObject> {
    let fixtures = probecc_fixtures::dir().join("c");
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("clang-objects");
    std::fs::create_dir_all(&out_dir).expect("tmp dir");
    let mut sources: Vec<PathBuf> = [fixtures.clone(), fixtures.join("twins")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).expect("fixtures/c").flatten())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".bpf.c"))
        .collect();
    sources.sort();
    sources
        .into_iter()
        .map(|src| {
            let name = src
                .file_name()
                .map(|n| n.to_string_lossy().trim_end_matches(".bpf.c").to_string())
                .unwrap_or_default();
            let obj = out_dir.join(format!("{name}.o"));
            let bytes = clang::compile(&src, "bpfel", &["-D__TARGET_ARCH_x86"], &obj);
            ClangObject { name, bytes }
        })
        .collect()
}
