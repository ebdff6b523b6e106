//! Every fuzz target's corpus (`fixtures/fuzz/<target>/`: the seeds and
//! every input a fuzzing run found interesting or crashing) replayed through
//! the target's body on stable: none may panic. The fuzzers themselves run
//! with `cargo +nightly fuzz run <target>` (see docs/testing.md).

use std::path::PathBuf;

#[test]
fn every_fuzz_corpus_input_passes_its_target() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/fuzz");
    let mut replayed = 0;
    for (name, target) in probecc_fuzz_targets::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{name}: no corpus");
        for f in files {
            let data = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: {} panics", f.display());
            replayed += 1;
        }
    }
    assert!(replayed > 100, "only {replayed} inputs");
}
