//! probecc's objects as LLVM's tools see them: `llvm-objdump -d` (LLVM 19)
//! decodes the same instructions as `probecc::disasm`, line by line, for our
//! objects and clang's, and `llvm-readelf -h` sees machine BPF with the
//! right byte order.

mod support;

/// The reference disassembler: LLVM 19's (Debian's `llvm-19`), which knows
/// every instruction form up to cpu v4 and store-immediate, with decimal
/// immediates as older LLVMs print them.
const LLVM_OBJDUMP: &str = "llvm-objdump-19";

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use probecc::Endian;
use probecc_test_support::{clang, require, Need};
use support::*;

/// (slot, text) of every instruction line of `llvm-objdump -d`, per
/// section. Jump targets' ` <LBB0_2>` suffixes (from clang's local labels)
/// are dropped: they name symbols, not instructions.
fn llvm_lines(path: &Path) -> BTreeMap<String, Vec<(usize, String)>> {
    let out = run(Command::new(LLVM_OBJDUMP)
        .args(["-d", "--no-print-imm-hex"])
        .arg(path));
    assert!(
        out.status.success(),
        "llvm-objdump failed: {}",
        stderr(&out)
    );
    let mut sections: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    let mut current = None;
    for line in stdout(&out).lines() {
        if let Some(name) = line
            .strip_prefix("Disassembly of section ")
            .and_then(|l| l.strip_suffix(':'))
        {
            current = Some(name.to_string());
            continue;
        }
        let mut parts = line.splitn(3, '\t');
        let (Some(idx), Some(_bytes), Some(text)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Ok(slot) = idx.trim().trim_end_matches(':').parse::<usize>() else {
            continue;
        };
        let text = match text.rfind(" <") {
            Some(i) if text.ends_with('>') => &text[..i],
            _ => text,
        };
        if let Some(sec) = &current {
            sections
                .entry(sec.clone())
                .or_default()
                .push((slot, text.trim().to_string()));
        }
    }
    sections
}

/// probecc's reading of the same object, in the same shape.
fn our_lines(bytes: &[u8]) -> BTreeMap<String, Vec<(usize, String)>> {
    let parsed = probecc::elf::read(bytes).expect("probecc reads the object");
    let mut sections: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    for prog in &parsed.programs {
        let lines = sections.entry(prog.section.clone()).or_default();
        let base = prog.first_slot();
        let mut i = 0;
        while i < prog.insns.len() {
            let (text, n) = probecc::disasm::insn_text(&prog.insns, i);
            lines.push((base + i, text));
            i += n;
        }
    }
    for lines in sections.values_mut() {
        lines.sort();
    }
    sections
}

fn assert_same_as_llvm(path: &Path, bytes: &[u8]) -> usize {
    let theirs = llvm_lines(path);
    let ours = our_lines(bytes);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "{}: executable sections",
        path.display()
    );
    for (sec, lines) in &theirs {
        for (a, b) in ours[sec].iter().zip(lines) {
            assert_eq!(a, b, "{}: section {sec}", path.display());
        }
        assert_eq!(
            ours[sec].len(),
            lines.len(),
            "{}: section {sec}",
            path.display()
        );
    }
    theirs.values().map(Vec::len).sum()
}

#[test]
#[ignore = "needs llvm-objdump-19"]
fn llvm_objdump_and_probecc_disasm_agree_on_every_example() {
    if !require(&[Need::Tool(LLVM_OBJDUMP)]) {
        return;
    }
    let compared: usize = objects()
        .iter()
        .map(|b| assert_same_as_llvm(&b.path, &b.bytes))
        .sum();
    assert!(compared > 500, "only {compared} instructions compared");
}

/// clang's objects, in both byte orders: `.text` subprograms, BPF-to-BPF
/// calls, clang's local labels, BTF with `.rodata`-style datasecs.
#[test]
#[ignore = "needs clang, llvm-objdump-19"]
fn probecc_reads_clang_objects_as_llvm_objdump_does() {
    if !require(&[Need::Tool("clang"), Need::Tool(LLVM_OBJDUMP)]) {
        return;
    }
    let src = probecc_fixtures::dir().join("c/counter.bpf.c");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("clang");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    for target in ["bpfel", "bpfeb"] {
        let obj = dir.join(format!("counter.{target}.o"));
        let bytes = clang::compile(&src, target, &[], &obj);
        let n = assert_same_as_llvm(&obj, &bytes);
        assert!(n > 20, "{target}: only {n} instructions");
        let parsed = probecc::elf::read(&bytes).expect("probecc reads clang's object");
        let names: Vec<&str> = parsed.programs.iter().map(|p| p.name.as_str()).collect();
        for f in ["bump", "count_reads", "read_ret"] {
            assert!(names.contains(&f), "{target}: {f} not among {names:?}");
        }
        let btf = probecc::btf::parse(parsed.btf.as_deref().expect("clang emits .BTF"))
            .expect("parsing clang's BTF");
        let mut maps: Vec<String> = btf
            .maps()
            .expect("maps")
            .into_iter()
            .map(|m| m.name)
            .collect();
        maps.sort();
        assert_eq!(maps, ["counts", "last_ret"], "{target}");
    }
}

#[test]
#[ignore = "needs llvm-readelf"]
fn llvm_readelf_sees_machine_bpf_and_the_byte_order() {
    if !require(&[Need::Tool("llvm-readelf")]) {
        return;
    }
    for b in objects() {
        let out = run(Command::new("llvm-readelf").arg("-h").arg(&b.path));
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
                .unwrap_or_default()
        };
        assert_eq!(field("Machine:"), "EM_BPF", "{}/{}", b.arch, b.name);
        assert_eq!(field("Type:"), "REL (Relocatable file)");
        let expect = match b.arch.endian() {
            Endian::Big => "2's complement, big endian",
            Endian::Little => "2's complement, little endian",
        };
        assert_eq!(field("Data:"), expect, "{}/{}", b.arch, b.name);
    }
}
