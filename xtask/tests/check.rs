//! verifier-sim accepts what probecc and clang compile: every fixture for
//! every arch (each arch's own `pt_regs` size), every DSL example, and the
//! clang objects of `fixtures/c`.

mod support;

use probecc::arch::{Arch, KernelVersion};
use probecc_test_support::{require, Need};
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
        bad.extend(rejected(&b.bytes, b.arch, &b.name));
    }
    assert!(bad.is_empty(), "rejected:\n{}", bad.join("\n"));
}

/// Pruning keeps exploration close to the kernel's: a histogram's 64 bucket
/// paths merge once the bucket is stored (it needs no precision), so no
/// fixture program processes more than a few times its length.
#[test]
fn exploration_stays_linear_in_program_size() {
    for b in objects().into_iter().filter(|b| b.arch == Arch::X86_64) {
        let verdicts = verifier_sim::check_object(&b.bytes, b.arch, KernelVersion(6, 1))
            .unwrap_or_else(|e| panic!("{}: {e}", b.name));
        for v in &verdicts {
            // Programs sharing a section (`raw_tp`) are read back section
            // by section: match them by name.
            let p = b.obj.programs.iter().find(|p| p.name == v.name).unwrap();
            assert!(
                v.processed <= 4 * p.insns.len() + 64,
                "{}/{}: {} instructions processed for {}",
                b.name,
                v.name,
                v.processed,
                p.insns.len()
            );
        }
    }
}

#[test]
#[ignore = "needs clang"]
fn clang_objects_pass() {
    if !require(&[Need::Tool("clang")]) {
        return;
    }
    let mut bad = Vec::new();
    for c in clang_objects() {
        bad.extend(rejected(&c.bytes, Arch::X86_64, &c.name));
    }
    assert!(bad.is_empty(), "rejected:\n{}", bad.join("\n"));
}
