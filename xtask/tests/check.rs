//! verifier-sim accepts what probecc and clang compile: every fixture for
//! every arch (each arch's own `pt_regs` size), every DSL example, and the
//! clang objects of `fixtures/c`.

mod support;

use probecc::arch::{Arch, KernelVersion};
use support::*;

fn rejected(bytes: &[u8], arch: Arch, what: &str) -> Vec<String> {
    let verdicts = verifier_sim::check_object(bytes, arch, KernelVersion(6, 1))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(!verdicts.is_empty(), "{what}: no programs");
    verdicts
        .into_iter()
        .filter(|v| !v.accepted)
        .map(|v| {
            format!(
                "{what}/{arch} {}: insn {:?} {:?}: {}",
                v.name,
                v.insn,
                v.disasm,
                v.message.unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn every_fixture_and_example_passes_on_every_arch() {
    let mut bad = Vec::new();
    for b in objects() {
        let bytes = std::fs::read(&b.path).expect("built object");
        bad.extend(rejected(&bytes, b.arch, &b.name));
    }
    assert!(bad.is_empty(), "rejected:\n{}", bad.join("\n"));
}

#[test]
fn clang_objects_pass() {
    if !have_tool("clang") {
        return;
    }
    let mut bad = Vec::new();
    for c in clang_objects() {
        bad.extend(rejected(&c.bytes, Arch::X86_64, &c.name));
    }
    assert!(bad.is_empty(), "rejected:\n{}", bad.join("\n"));
}
