//! cilium/ebpf, the Go loader, reads probecc's objects: every x86_64 and
//! s390x object (examples and fixtures) parses with `LoadCollectionSpec`
//! in its own byte order, with probecc's programs and maps; and, as root,
//! every x86_64 object loads into the running kernel with `NewCollection`.
//! The checker (`cilium/main.go`) is built here from Debian's Go and
//! cilium/ebpf 0.9.1 (`golang-go`, `golang-github-cilium-ebpf-dev`, which
//! `cargo xtask test` installs), offline in GOPATH mode. cilium 0.9.1
//! cannot read a vmlinux with `ENUM64` (kernels from 6.0 on), so the load
//! takes its kernel types from `fixtures/btf/kernel.btf`, the types the
//! fixtures are compiled against. Nor can it read an object that loads a
//! kernel symbol's address (`kaddr()`, `func` kept as a `ksym()`: a
//! `.ksyms` extern, which later cilium/ebpf releases resolve): such an
//! object must fail with exactly that reason, and nothing else may.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use probecc::arch::Arch;
use probecc::insn::Endian;
use probecc_test_support::{require, Need};
use serde::Deserialize;
use support::*;

/// Where Debian's Go packages put their source (a GOPATH).
const GOPATH: &str = "/usr/share/gocode";

/// What `golang-github-cilium-ebpf-dev` installs.
const CILIUM: &str = "/usr/share/gocode/src/github.com/cilium/ebpf";

/// One line of the checker's output.
#[derive(Debug, Deserialize)]
struct Checked {
    path: PathBuf,
    byte_order: Option<String>,
    programs: Vec<String>,
    maps: Vec<String>,
    error: Option<String>,
    loaded: bool,
    load_error: Option<String>,
}

/// The checker built from `cilium/main.go` as `tmp/cilium/NAME` (a name
/// per test: the tests run at once); `None` (the test skipped, or failed
/// under CI) without Go or cilium/ebpf.
fn checker(name: &str) -> Option<PathBuf> {
    let cilium = Need::That(
        Path::new(CILIUM).is_dir(),
        format!("cilium/ebpf ({CILIUM}: Debian's golang-github-cilium-ebpf-dev)"),
    );
    // `go` answers `go version`, not `--version`.
    let go = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let go = Need::That(go, "go (`go version` runs: Debian's golang-go)".into());
    if !require(&[go, cilium]) {
        return None;
    }
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cilium");
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cilium/main.go");
    let binary = tmp.join(name);
    let out = run(Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .env("GO111MODULE", "off")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "")
        .env("GOPATH", GOPATH)
        .env("GOCACHE", tmp.join("go-cache")));
    assert!(
        out.status.success(),
        "go build {}:\n{}",
        source.display(),
        stderr(&out)
    );
    Some(binary)
}

/// The checker's verdict on every object of `objects`, by path.
fn check(checker: &Path, args: &[&Path], objects: &[&Built]) -> BTreeMap<PathBuf, Checked> {
    let out = run(Command::new(checker)
        .args(args)
        .args(objects.iter().map(|b| &b.path)));
    assert!(out.status.success(), "{checker:?}: {}", stderr(&out));
    let results: BTreeMap<PathBuf, Checked> = stdout(&out)
        .lines()
        .map(|l| {
            let c: Checked = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (c.path.clone(), c)
        })
        .collect();
    assert_eq!(results.len(), objects.len(), "one line per object");
    results
}

/// What cilium/ebpf 0.9.1 says of an object with `.ksyms` externs.
const NO_KSYMS: &str = "reference to .ksyms: not supported";

/// Whether `b` is refused as it must be: an object with `.ksyms` externs
/// (for its one reason), `None` for any other object.
fn refused_for_ksyms(b: &Built, error: Option<&str>) -> Option<Result<(), String>> {
    if b.obj.ksyms().is_empty() {
        return None;
    }
    Some(match error {
        Some(e) if e.contains(NO_KSYMS) => Ok(()),
        other => Err(format!(
            "{}/{}: loads kernel symbol addresses, so cilium/ebpf 0.9.1 must refuse it \
             ({NO_KSYMS}), not {other:?}",
            b.arch, b.name
        )),
    })
}

fn sorted<'a>(names: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut v: Vec<String> = names.cloned().collect();
    v.sort();
    v
}

#[test]
#[ignore = "needs go, cilium/ebpf"]
fn cilium_parses_every_x86_64_and_s390x_object() {
    let Some(checker) = checker("parse") else {
        return;
    };
    let built = objects();
    let objects: Vec<&Built> = built
        .iter()
        .filter(|b| b.arch == Arch::X86_64 || b.arch == Arch::S390x)
        .collect();
    assert!(objects.iter().any(|b| b.arch == Arch::S390x));
    let results = check(&checker, &[Path::new("parse")], &objects);
    let mut failures = Vec::new();
    for b in &objects {
        let r = &results[&b.path];
        let what = format!("{}/{}", b.arch, b.name);
        if let Some(refused) = refused_for_ksyms(b, r.error.as_deref()) {
            failures.extend(refused.err());
            continue;
        }
        if let Some(e) = &r.error {
            failures.push(format!("{what}: {e}"));
            continue;
        }
        let order = match b.arch.endian() {
            Endian::Little => "little",
            Endian::Big => "big",
        };
        if r.byte_order.as_deref() != Some(order) {
            failures.push(format!("{what}: read as {:?}-endian", r.byte_order));
        }
        let programs = sorted(b.obj.programs.iter().map(|p| &p.name));
        if r.programs != programs {
            failures.push(format!(
                "{what}: programs {:?}, not {programs:?}",
                r.programs
            ));
        }
        // Read-only globals are the `.rodata` map, as for libbpf.
        let rodata = ".rodata".to_string();
        let globals = (!b.obj.globals.is_empty()).then_some(&rodata);
        let maps = sorted(b.obj.maps.iter().map(|m| &m.name).chain(globals));
        if r.maps != maps {
            failures.push(format!("{what}: maps {:?}, not {maps:?}", r.maps));
        }
    }
    assert!(
        failures.is_empty(),
        "cilium/ebpf:\n  {}",
        failures.join("\n  ")
    );
}

#[test]
#[ignore = "needs go, cilium/ebpf, root"]
fn cilium_loads_every_x86_64_object_into_the_kernel() {
    let Some(checker) = checker("load") else {
        return;
    };
    if !require(&[Need::Root]) {
        return;
    }
    let built = objects();
    let objects: Vec<&Built> = built.iter().filter(|b| b.arch == Arch::X86_64).collect();
    let btf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/btf/kernel.btf");
    let results = check(&checker, &[Path::new("load"), &btf], &objects);
    let failures: Vec<String> = objects
        .iter()
        .filter_map(|b| {
            let r = &results[&b.path];
            let why = r.error.as_deref().or(r.load_error.as_deref());
            if let Some(refused) = refused_for_ksyms(b, why) {
                return refused.err();
            }
            (!r.loaded).then(|| format!("{}: {}", b.name, why.unwrap_or("not loaded")))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "cilium/ebpf could not load:\n  {}",
        failures.join("\n  ")
    );
}
