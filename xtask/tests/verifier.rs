//! verifier-sim measured against the host kernel's verifier: the whole
//! differential corpus (`fixtures/verifier` and the mutated fixtures) is
//! loaded into the running kernel and checked offline, and verifier-sim may
//! never accept what the kernel refuses, nor crash. Needs clang, bpftool
//! and root; the report is printed whatever the outcome.

use std::collections::BTreeSet;
use std::path::PathBuf;

use probecc_test_support::{require, Need};
use xtask::verifier_diff::{self, corpus, Options};

/// The rules verifier-sim models, one corpus file each.
const RULES: &[&str] = &[
    "alu",
    "atomic",
    "calls",
    "ctx",
    "gpl",
    "helpers",
    "jumps",
    "loops",
    "map_bounds",
    "map_null",
    "ptr_arith",
    "r10",
    "regs",
    "ret",
    "ringbuf",
    "stack",
];

#[test]
fn the_corpus_covers_every_rule_with_at_least_150_programs() {
    let dir = verifier_diff::corpus_dir();
    let mut rules = BTreeSet::new();
    let mut programs = 0;
    for file in corpus::files(&dir).expect("listing fixtures/verifier") {
        let text = std::fs::read_to_string(&file).expect("reading a corpus file");
        let (_, chunks) =
            corpus::split(&text).unwrap_or_else(|e| panic!("{}: {e:#}", file.display()));
        assert!(!chunks.is_empty(), "{}: no programs", file.display());
        programs += chunks.len();
        rules.insert(
            file.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string(),
        );
    }
    for rule in RULES {
        assert!(rules.contains(*rule), "no corpus file for rule `{rule}`");
    }
    assert!(
        programs >= 150,
        "{programs} hand-written programs; the corpus is meant to hold at least 150 with the mutants"
    );
}

#[test]
#[ignore = "needs clang, bpftool, root, bpffs"]
fn verifier_sim_never_accepts_what_the_kernel_refuses() {
    let needs = [
        Need::Tool("clang"),
        Need::Tool("bpftool"),
        Need::Root,
        Need::Bpffs,
    ];
    if !require(&needs) {
        return;
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("verifier-diff");
    let report = verifier_diff::run(&Options::new(out)).unwrap_or_else(|e| panic!("{e:#}"));
    println!("{}", report.markdown());
    let c = &report.counts;
    assert!(c.total >= 150, "only {} programs in the corpus", c.total);
    assert!(
        c.kernel_accepts > 0 && c.kernel_accepts < c.total,
        "the corpus should hold valid and invalid programs: the kernel accepted {} of {}",
        c.kernel_accepts,
        c.total
    );
    assert_eq!(
        c.sim_crashes, 0,
        "verifier-sim panicked or hung (see the report above)"
    );
    assert_eq!(
        c.false_accepts, 0,
        "verifier-sim accepted programs the kernel refuses (see the report above)"
    );
}
