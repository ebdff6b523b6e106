//! fentry/fexit objects as the other loaders see them: aya's object parser
//! (`aya-obj`) takes `fentry/FUNC` and `fexit/FUNC` sections as its FEntry
//! and FExit programs, and libbpf (through bpftool) opens them. Loading
//! needs a kernel with BPF trampolines that allows tracing programs: the
//! QEMU guests.

use std::process::Command;

use aya_obj::{Object, ProgramSection};
use probecc::arch::Arch;
use probecc_test_support::{require, Need};

/// (arch, fixture name, (program, section) pairs, object bytes) of every
/// `fixtures/fentry` spec for the little-endian arches.
type Built = (Arch, String, Vec<(String, String)>, Vec<u8>);

fn objects() -> Vec<Built> {
    let mut out = Vec::new();
    for (name, path) in probecc_fixtures::specs_in("fentry").expect("fixtures/fentry") {
        for arch in Arch::ALL.into_iter().filter(|a| a.name() != "s390x") {
            let c = probecc_fixtures::compile(&path, arch).unwrap_or_else(|e| panic!("{e:#}"));
            let sections = c
                .object
                .programs
                .iter()
                .map(|p| (p.name.clone(), p.section.clone()))
                .collect();
            let bytes = probecc::elf::write(&c.object).unwrap_or_else(|e| panic!("{name}: {e}"));
            out.push((arch, name.clone(), sections, bytes));
        }
    }
    assert!(!out.is_empty(), "no fixtures/fentry specs");
    out
}

#[test]
fn aya_takes_fentry_and_fexit_sections_as_its_tracing_programs() {
    for (arch, name, sections, bytes) in objects() {
        let parsed = Object::parse(&bytes).unwrap_or_else(|e| panic!("{arch}/{name}: {e}"));
        assert_eq!(parsed.programs.len(), sections.len(), "{arch}/{name}");
        for (program, section) in &sections {
            let p = parsed
                .programs
                .get(program)
                .unwrap_or_else(|| panic!("{arch}/{name}: aya has no {program}"));
            match (&p.section, section.split_once('/')) {
                (ProgramSection::FEntry { sleepable: false }, Some(("fentry", _)))
                | (ProgramSection::FExit { sleepable: false }, Some(("fexit", _))) => {}
                (other, _) => panic!("{arch}/{name}: aya reads {section} as {other:?}"),
            }
        }
    }
}

#[test]
#[ignore = "needs bpftool"]
fn libbpf_opens_fentry_and_fexit_objects() {
    if !require(&[Need::Tool("bpftool")]) {
        return;
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fentry-objects");
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    for (arch, name, _, bytes) in objects() {
        let path = dir.join(format!("{arch}-{name}.o"));
        std::fs::write(&path, &bytes).expect("writing an object");
        let out = Command::new("bpftool")
            .args(["gen", "skeleton"])
            .arg(&path)
            .output()
            .expect("running bpftool");
        assert!(
            out.status.success(),
            "{arch}/{name}: bpftool gen skeleton: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
