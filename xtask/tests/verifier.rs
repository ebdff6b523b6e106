//! verifier-sim measured against kernels' verifiers: the whole
//! differential corpus (`fixtures/verifier` and the mutated fixtures) is
//! loaded into the running kernel and checked offline, and verifier-sim may
//! never accept what the kernel refuses, nor crash (needs clang, bpftool
//! and root; the report is printed whatever the outcome). And the
//! clang-built corpus against the labels every other kernel gave it
//! (`fixtures/verifier/labels`, needs clang): no kernel boots, yet each
//! arch's and release's verdicts hold on every run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use probecc::arch::Arch;
use probecc_test_support::{require, Need};
use xtask::verifier_diff::labels::{self, Label, Labels};
use xtask::verifier_diff::{self, corpus, simulate, Entry, Options};

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

/// The least agreement a labelling kernel may have with verifier-sim.
const AGREEMENT: f64 = 0.97;

#[test]
#[ignore = "needs clang"]
fn verifier_sim_agrees_with_every_kernels_labels() {
    if !require(&[Need::Tool("clang")]) {
        return;
    }
    let files = Labels::load_all(&labels::dir()).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        !files.is_empty(),
        "no label files in fixtures/verifier/labels"
    );
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("verifier-labels");
    let mut corpora: BTreeMap<Arch, BTreeMap<String, Entry>> = BTreeMap::new();
    let mut failures = Vec::new();
    for (file, l) in &files {
        let arch = l.judge.arch;
        let corpus = corpora.entry(arch).or_insert_with(|| {
            corpus::build(
                &verifier_diff::corpus_dir(),
                &out.join(arch.name()),
                None,
                arch,
            )
            .unwrap_or_else(|e| panic!("building the corpus for {arch}: {e:#}"))
            .into_iter()
            .map(|e| (e.name.clone(), e))
            .collect()
        });
        // two halves side by side: the machine has two CPUs
        let half = l.labels.len().div_ceil(2).max(1);
        let (agree, mut wrong) = std::thread::scope(|s| {
            let parts: Vec<_> = l
                .labels
                .chunks(half)
                .map(|part| s.spawn(|| compare(l, part, corpus)))
                .collect();
            parts.into_iter().fold((0, Vec::new()), |(n, mut w), p| {
                let (a, more) = p.join().expect("a comparing thread panicked");
                w.extend(more);
                (n + a, w)
            })
        });
        let total = l.labels.len();
        println!(
            "{file} ({}): {agree} of {total} agree, {} known false rejects",
            l.judge.name,
            l.labels.iter().filter(|x| x.known_false_reject).count()
        );
        let share = agree as f64 / total.max(1) as f64;
        if share < AGREEMENT {
            wrong.push(format!(
                "agreement {:.1}% is under {:.0}%",
                share * 100.0,
                AGREEMENT * 100.0
            ));
        }
        failures.extend(wrong.into_iter().map(|w| format!("{file}: {w}")));
    }
    assert!(
        failures.is_empty(),
        "verifier-sim against the labels:\n{}",
        failures.join("\n")
    );
}

/// How many of `part` (labels of `l`) verifier-sim agrees with, and every
/// disagreement but the file's known false rejects.
fn compare(l: &Labels, part: &[Label], corpus: &BTreeMap<String, Entry>) -> (usize, Vec<String>) {
    let target = l.judge.target(l.judge.arch);
    let mut agree = 0;
    let mut wrong = Vec::new();
    for label in part {
        let Some(entry) = corpus.get(&label.name) else {
            wrong.push(format!(
                "`{}` is labelled but no longer in the corpus",
                label.name
            ));
            continue;
        };
        let sim = simulate(&entry.bytes, &entry.program, target);
        match (label.verdict.accepted(), sim.accepted()) {
            (true, Some(true)) | (false, Some(false)) => agree += 1,
            (true, Some(false)) if label.known_false_reject => {}
            (true, Some(false)) => wrong.push(format!(
                "`{}` ({}): a new false reject, verifier-sim says {:?}",
                label.name,
                entry.origin,
                sim.message()
            )),
            (false, Some(true)) => wrong.push(format!(
                "`{}` ({}): a false accept; the kernel said {:?}",
                label.name, entry.origin, label.message
            )),
            (_, None) => wrong.push(format!(
                "`{}` ({}): no verdict: {:?}",
                label.name,
                entry.origin,
                sim.message()
            )),
        }
    }
    (agree, wrong)
}
