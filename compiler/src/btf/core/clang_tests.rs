//! probecc's access strings and field values against clang's: the fixture
//! `fixtures/c/core/core_access.bpf.c` is compiled by clang against a
//! `vmlinux.h` dumped from the host's BTF, and every CO-RE relocation clang
//! wrote must equal what [`resolve_path`] gives for the same path on the
//! same BTF (root, access string, kind, and the value in the instruction);
//! then [`relocate_section`] must accept clang's object for the host kernel.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::access::{parse_access, resolve_path, Step};
use super::CoreKind;
use crate::btf::kernel::{host_for_test, HOST_VMLINUX};
use crate::insn::{class, ld_imm64_value, Insn};
use crate::load::{relocate_section, OnMissing};
use probecc_test_support::{clang, require, Need};

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A fresh directory under the system's temporary directory.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("probecc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The value an instruction holds for a relocation, as libbpf reads it.
fn insn_value(insns: &[Insn], i: usize) -> u64 {
    let insn = insns[i];
    match insn.class() {
        class::ALU | class::ALU64 => insn.imm as i64 as u64,
        class::LDX | class::ST | class::STX => insn.off as i64 as u64,
        _ => ld_imm64_value(&insn, &insns[i + 1]),
    }
}

fn m(name: &str) -> Step {
    Step::Member(name.into())
}

#[test]
#[ignore = "needs /sys/kernel/btf/vmlinux, clang, bpftool"]
fn access_strings_and_values_equal_clangs() {
    if !require(&[Need::HostBtf, Need::Tool("clang"), Need::Tool("bpftool")]) {
        return;
    }
    let Some(kernel) = host_for_test() else {
        return;
    };
    let dir = scratch("core-clang");
    let header = Command::new("bpftool")
        .args(["btf", "dump", "file", HOST_VMLINUX, "format", "c"])
        .output()
        .unwrap();
    assert!(header.status.success(), "bpftool btf dump failed");
    std::fs::write(dir.join("vmlinux.h"), &header.stdout).unwrap();
    let obj = dir.join("core_access.o");
    let src = workspace_root().join("fixtures/c/core/core_access.bpf.c");
    let include = format!("-I{}", dir.display());
    let bytes = clang::compile(&src, "bpf", &[&include], &obj);
    let file = crate::elf::read(&bytes).unwrap();
    let local = crate::btf::parse(file.btf.as_deref().unwrap()).unwrap();
    let ext = crate::btf::ext::parse(file.btf_ext.as_deref().unwrap(), &local).unwrap();

    use CoreKind::*;
    let bitfield_kinds = [
        FieldByteOffset,
        FieldByteSize,
        FieldSigned,
        FieldLshiftU64,
        FieldRshiftU64,
    ];
    let expected: Vec<(&str, &str, Vec<Step>, Vec<CoreKind>)> = vec![
        (
            "task_pid",
            "task_struct",
            vec![m("pid")],
            vec![FieldByteOffset],
        ),
        (
            "task_real_parent",
            "task_struct",
            vec![m("real_parent")],
            vec![FieldByteOffset],
        ),
        (
            "task_comm0",
            "task_struct",
            vec![m("comm"), Step::Index(0)],
            vec![FieldByteOffset],
        ),
        (
            "task_comm3",
            "task_struct",
            vec![m("comm"), Step::Index(3)],
            vec![FieldByteOffset],
        ),
        (
            "task_comm_size",
            "task_struct",
            vec![m("comm")],
            vec![FieldByteSize],
        ),
        (
            "task_pid_exists",
            "task_struct",
            vec![m("pid")],
            vec![FieldExists],
        ),
        (
            "task_pid_signed",
            "task_struct",
            vec![m("pid")],
            vec![FieldSigned],
        ),
        (
            "sock_dport",
            "sock",
            vec![m("__sk_common"), m("skc_dport")],
            vec![FieldByteOffset],
        ),
        (
            "sock_family",
            "sock",
            vec![m("__sk_common"), m("skc_family")],
            vec![FieldByteOffset],
        ),
        (
            "sock_protocol_signed",
            "sock",
            vec![m("sk_protocol")],
            vec![FieldSigned],
        ),
        ("sock_wq", "sock", vec![m("sk_wq")], vec![FieldByteOffset]),
        (
            "file_f_pos",
            "file",
            vec![m("f_pos")],
            vec![FieldByteOffset],
        ),
        (
            "skb_pkt_type",
            "sk_buff",
            vec![m("pkt_type")],
            bitfield_kinds.to_vec(),
        ),
        (
            "skc_reuse",
            "sock_common",
            vec![m("skc_reuse")],
            vec![
                FieldByteOffset,
                FieldByteSize,
                FieldLshiftU64,
                FieldRshiftU64,
            ],
        ),
    ];
    let mut compared = 0;
    for (name, root, path, kinds) in &expected {
        let section = format!("core/{name}");
        let recs = &ext
            .core_relo
            .iter()
            .find(|s| s.section == section)
            .unwrap_or_else(|| panic!("clang wrote no relocations for {section}"))
            .records;
        let insns = &file.program(name).unwrap().insns;
        let ours = resolve_path(kernel.btf(), kernel.struct_id(root).unwrap(), path).unwrap();
        // clang may order the field-info relocations of one expression
        // differently from the source; compare as sets of kinds.
        let mut got_kinds: Vec<CoreKind> = vec![];
        for r in recs.iter() {
            let kind = CoreKind::from_raw(r.kind).unwrap();
            got_kinds.push(kind);
            let ctx = format!("{section} {kind}");
            assert_eq!(local.name_of(r.type_id).unwrap(), *root, "{ctx}");
            assert_eq!(r.access, ours.access_string(), "{ctx}: access string");
            let v = ours.value(kernel.btf(), kind).unwrap();
            let held = insn_value(insns, r.insn_off as usize / 8);
            // For bitfields libbpf's load unit may differ from clang's, so
            // libbpf checks only what it validates (as `relocate` does).
            if v.validate {
                assert_eq!(held, v.value, "{ctx}: value in clang's instruction");
            }
            // The same spec read back from clang's own BTF agrees.
            let theirs = parse_access(&local, r.type_id, &r.access).unwrap();
            assert_eq!(theirs.bit_offset, ours.bit_offset, "{ctx}");
            assert_eq!(theirs.value(&local, kind).unwrap().value, v.value, "{ctx}");
            assert_eq!(theirs.bitfield, ours.bitfield, "{ctx}");
            compared += 1;
        }
        got_kinds.sort();
        let mut want = kinds.clone();
        want.sort();
        assert_eq!(got_kinds, want, "{section}");
        // Relocating for the kernel clang's header came from leaves
        // libbpf's values (clang's, but for the bitfield load unit).
        let mut patched = insns.clone();
        relocate_section(&mut patched, recs, &local, kernel, OnMissing::Error).unwrap();
        for r in recs.iter() {
            let kind = CoreKind::from_raw(r.kind).unwrap();
            let v = ours.value(kernel.btf(), kind).unwrap().value;
            assert_eq!(
                insn_value(&patched, r.insn_off as usize / 8),
                v,
                "{section} {kind}"
            );
        }
    }
    // t->real_parent->tgid: the load of real_parent, then tgid in the task
    // it points to; both relocations on task_struct.
    let recs = &ext
        .core_relo
        .iter()
        .find(|s| s.section == "core/task_real_parent_tgid")
        .unwrap()
        .records;
    let parent = kernel.field("task_struct", &[m("real_parent")]).unwrap();
    let tgid = kernel.field("task_struct", &[m("tgid")]).unwrap();
    let got: Vec<&str> = recs.iter().map(|r| r.access.as_str()).collect();
    assert_eq!(got, vec![parent.access_string(), tgid.access_string()]);
    let insns = &file.program("task_real_parent_tgid").unwrap().insns;
    assert_eq!(insns[0].off as u32, parent.byte_offset(), "the LDX offset");
    assert!(parent.bitfield.is_none() && parent.size == 8);
    eprintln!(
        "{} relocations compared with clang's ({} sections)",
        compared + 2,
        expected.len() + 1
    );
    let _ = std::fs::remove_dir_all(&dir);
}
