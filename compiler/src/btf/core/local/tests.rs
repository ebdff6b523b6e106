//! Tests of the CO-RE types an object carries: the minimal struct copies and
//! relocation records in `.BTF`/`.BTF.ext`, relocation against other layouts, and
//! libbpf loading such an object into the host kernel.

use super::*;
use crate::arch::Arch;
use crate::btf::core::access::{resolve_path, Step};
use crate::btf::kernel::KernelBtf;
use crate::insn::{self, AluOp, Endian, Reg, Size};
use crate::load::{relocate_section, OnMissing, POISON_IMM};
use crate::program::{Object, Program};

/// A made-up kernel: `struct task_struct { int pid; u8 flags:3; char
/// comm[16]; struct task_struct *real_parent; }` laid out with `pad`
/// bytes in front, and without `comm` when `comm` is false.
fn kernel(pad: u32, comm: bool) -> KernelBtf {
    let mut b = Builder::new();
    let int = b.int("int", 4, IntEncoding::Signed).unwrap();
    let u8t = b.int("unsigned char", 1, IntEncoding::Unsigned).unwrap();
    let ch = b.int("char", 1, IntEncoding::Signed).unwrap();
    let idx = b.array_index_type().unwrap();
    let arr = b.array(ch, idx, 16).unwrap();
    let fwd = b.fwd("task_struct", false).unwrap();
    let ptr = b.ptr(fwd).unwrap();
    let pid_t = b.typedef("pid_t", int).unwrap();
    let p = pad * 8;
    let name = |b: &mut Builder, s: &str| b.string(s).unwrap();
    let mut members = vec![
        Member {
            name_off: name(&mut b, "pad"),
            type_id: u8t,
            offset: 0,
        },
        Member {
            name_off: name(&mut b, "pid"),
            type_id: pid_t,
            offset: p + 32,
        },
        Member {
            name_off: name(&mut b, "flags"),
            type_id: u8t,
            offset: 3 << 24 | (p + 64),
        },
    ];
    if comm {
        members.push(Member {
            name_off: name(&mut b, "comm"),
            type_id: arr,
            offset: p + 96,
        });
    }
    members.push(Member {
        name_off: name(&mut b, "real_parent"),
        type_id: ptr,
        offset: p + 256,
    });
    let name_off = name(&mut b, "task_struct");
    b.add(BtfType::Struct {
        name_off,
        size: pad + 40,
        bitfields: true,
        members,
    })
    .unwrap();
    KernelBtf::parse(&b.finish(Endian::Little)).unwrap()
}

fn field(k: &KernelBtf, path: &[Step]) -> FieldAccess {
    resolve_path(k.btf(), k.struct_id("task_struct").unwrap(), path).unwrap()
}

/// `r0 = task.pid; r1 = task.flags' byte; r2 = &task.comm[2];
/// r3 = task.real_parent`, each relocated, in one program of `arch`.
fn object(k: &KernelBtf, arch: Arch) -> Object {
    let mut core = CoreTypes::new();
    let mut insns = vec![];
    let fields: [(&[Step], CoreKind); 4] = [
        (&["pid".into()], CoreKind::FieldByteOffset),
        (&["flags".into()], CoreKind::FieldByteOffset),
        (&["comm".into(), 2.into()], CoreKind::FieldByteOffset),
        (&["real_parent".into()], CoreKind::FieldByteOffset),
    ];
    for (i, (path, kind)) in fields.iter().enumerate() {
        let a = field(k, path);
        let v = core.field(k.btf(), "p", insns.len(), &a, *kind).unwrap();
        let dst = Reg::new(i as u8).unwrap();
        insns.push(if i == 2 {
            insn::alu64_imm(AluOp::Add, dst, v.value as i32)
        } else {
            let size = Size::from_bytes(v.mem_size.max(1) as usize).unwrap();
            insn::ldx(size, dst, Reg::R6, v.value as i16)
        });
    }
    insns.push(insn::exit());
    let mut o = Object::new(arch);
    o.programs = vec![Program {
        name: "p".into(),
        section: "kprobe/f".into(),
        insns,
        map_relocs: vec![],
        ksym_relocs: vec![],
        global_relocs: vec![],
        func_relocs: vec![],
        lines: vec![],
    }];
    o.core = core;
    o
}

#[test]
fn one_program_keeps_its_own_relocations() {
    let k = kernel(0, true);
    let mut core = CoreTypes::new();
    let pid = field(&k, &["pid".into()]);
    for (prog, insn) in [("a", 0), ("b", 3), ("a", 5)] {
        core.field(k.btf(), prog, insn, &pid, CoreKind::FieldByteOffset)
            .unwrap();
    }
    let a = core.for_program("a");
    let slots: Vec<usize> = a.relocs().iter().map(|r| r.insn).collect();
    assert_eq!(slots, [0, 5]);
    assert_eq!(a.plans, core.plans, "the types stay");
    assert!(core.for_program("c").relocs().is_empty());
}

#[test]
fn object_carries_minimal_types_and_records_in_both_byte_orders() {
    let k = kernel(0, true);
    for arch in [Arch::X86_64, Arch::S390x] {
        let o = object(&k, arch);
        let bytes = crate::elf::write(&o).unwrap();
        let file = crate::elf::read(&bytes).unwrap();
        let local = crate::btf::parse(file.btf.as_deref().unwrap()).unwrap();
        let ext = crate::btf::ext::parse(file.btf_ext.as_deref().unwrap(), &local).unwrap();
        let recs = &ext.core_relo[0];
        assert_eq!(recs.section, "kprobe/f");
        let got: Vec<(u32, &str, u32)> = recs
            .records
            .iter()
            .map(|r| (r.insn_off, r.access.as_str(), r.kind))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, "0:1", 0),
                (8, "0:2", 0),
                (16, "0:3:2", 0),
                (24, "0:4", 0)
            ]
        );
        let root = recs.records[0].type_id;
        assert_eq!(local.format_type(root).unwrap(), "struct task_struct");
        let BtfType::Struct {
            size: 40,
            members,
            bitfields: true,
            ..
        } = local.type_by_id(root).unwrap()
        else {
            panic!("task_struct copied with its size and kind flag")
        };
        let ty = |i: usize| local.format_type(members[i].type_id).unwrap();
        assert_eq!(ty(0), "unsigned char[1]", "an unused member is opaque");
        assert_eq!(ty(1), "pid_t");
        assert_eq!(ty(3), "char[16]");
        assert_eq!(ty(4), "struct task_struct *");
        assert!(matches!(
            local.type_by_id(local.resolve(members[4].type_id).unwrap()),
            Ok(BtfType::Ptr { .. })
        ));
        assert_eq!(members[2].offset, 3 << 24 | 64, "bitfield kept");
        // Relocating for the kernel it was compiled on changes nothing.
        let mut insns = file.programs[0].insns.clone();
        relocate_section(&mut insns, &recs.records, &local, &k, OnMissing::Error).unwrap();
        assert_eq!(insns, file.programs[0].insns);
    }
}

#[test]
fn relocation_follows_the_target_layout_and_names_missing_fields() {
    let o = object(&kernel(0, true), Arch::X86_64);
    let file = crate::elf::read(&crate::elf::write(&o).unwrap()).unwrap();
    let local = crate::btf::parse(file.btf.as_deref().unwrap()).unwrap();
    let ext = crate::btf::ext::parse(file.btf_ext.as_deref().unwrap(), &local).unwrap();
    let recs = &ext.core_relo[0].records;
    let orig = &file.programs[0].insns;

    let moved = kernel(100, true);
    let mut insns = orig.clone();
    let applied = relocate_section(&mut insns, recs, &local, &moved, OnMissing::Error).unwrap();
    let offs: Vec<i64> = insns[..4]
        .iter()
        .map(|i| {
            if i.class() == insn::class::LDX {
                i.off.into()
            } else {
                i.imm.into()
            }
        })
        .collect();
    assert_eq!(offs, vec![104, 108, 114, 132]);
    assert_eq!(applied[2].field, "comm[2]");
    assert_eq!((applied[3].local, applied[3].target), (32, Some(132)));

    let no_comm = kernel(0, false);
    let mut insns = orig.clone();
    let err = relocate_section(&mut insns, recs, &local, &no_comm, OnMissing::Error).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `comm[2]` of struct task_struct does not exist in the target kernel's BTF"
    );
    let mut insns = orig.clone();
    relocate_section(&mut insns, recs, &local, &no_comm, OnMissing::Poison).unwrap();
    assert_eq!((insns[2].code, insns[2].imm), (0x85, POISON_IMM));
    assert_eq!(insns[3].off, 32, "the others still relocated");

    // An instruction that does not hold the object's value is refused.
    let mut insns = orig.clone();
    insns[0].off += 1;
    assert!(matches!(
        relocate_section(&mut insns, recs, &local, &moved, OnMissing::Error),
        Err(CoreError::BadInstruction { insn: 0, .. })
    ));
}

#[test]
fn bad_relocation_targets_are_errors() {
    let k = kernel(0, true);
    let mut o = object(&k, Arch::X86_64);
    o.core.relocs[0].insn = 99;
    assert!(matches!(
        crate::btf::encode_object(&o),
        Err(BtfError::BadCoreRelo { insn: 99, .. })
    ));
    o.core.relocs[0].program = "nope".into();
    assert!(crate::btf::encode_object(&o).is_err());
}

/// A program reading `task->pid` (LDX on `bpf_get_current_task_btf()`),
/// `task->comm[0]` and `&task->real_parent` (for
/// `bpf_probe_read_kernel`), with CO-RE relocations against the host's
/// BTF, loaded by libbpf (`bpftool -d prog load`) into the host kernel:
/// libbpf must relocate all three and the verifier accept the result.
#[test]
#[ignore = "needs /sys/kernel/btf/vmlinux, bpftool, root, bpffs"]
fn libbpf_relocates_and_the_host_kernel_loads_it() {
    use crate::btf::core::clang_tests::scratch;
    use probecc_test_support::{require, Need};
    let needs = [
        Need::HostBtf,
        Need::Tool("bpftool"),
        Need::Root,
        Need::Bpffs,
    ];
    if !require(&needs) {
        return;
    }
    let Some(k) = crate::btf::kernel::host_for_test() else {
        return;
    };
    let task = k.struct_id("task_struct").unwrap();
    let at = |path: &[Step]| resolve_path(k.btf(), task, path).unwrap();
    let mut core = CoreTypes::new();
    let pid = core
        .field(
            k.btf(),
            "core_test",
            2,
            &at(&["pid".into()]),
            CoreKind::FieldByteOffset,
        )
        .unwrap();
    let comm = core
        .field(
            k.btf(),
            "core_test",
            3,
            &at(&["comm".into(), 0.into()]),
            CoreKind::FieldByteOffset,
        )
        .unwrap();
    let parent = core
        .field(
            k.btf(),
            "core_test",
            8,
            &at(&["real_parent".into()]),
            CoreKind::FieldByteOffset,
        )
        .unwrap();
    assert_eq!((pid.mem_size, comm.mem_size), (4, 1));
    let insns = vec![
        insn::call_helper(158), // bpf_get_current_task_btf
        insn::alu64_reg(AluOp::Mov, Reg::R6, Reg::R0),
        insn::ldx(Size::W, Reg::R7, Reg::R6, pid.value as i16),
        insn::ldx(Size::B, Reg::R8, Reg::R6, comm.value as i16),
        insn::alu64_reg(AluOp::Mov, Reg::R1, Reg::R10),
        insn::alu64_imm(AluOp::Add, Reg::R1, -8),
        insn::alu64_imm(AluOp::Mov, Reg::R2, 8),
        insn::alu64_reg(AluOp::Mov, Reg::R3, Reg::R6),
        insn::alu64_imm(AluOp::Add, Reg::R3, parent.value as i32),
        insn::call_helper(113), // bpf_probe_read_kernel
        insn::alu64_imm(AluOp::Mov, Reg::R0, 0),
        insn::exit(),
    ];
    let mut o = Object::new(Arch::X86_64);
    o.programs = vec![Program {
        name: "core_test".into(),
        section: "kprobe/do_nanosleep".into(),
        insns,
        map_relocs: vec![],
        ksym_relocs: vec![],
        global_relocs: vec![],
        func_relocs: vec![],
        lines: vec![],
    }];
    o.core = core;
    let dir = scratch("core-load");
    let path = dir.join("core.o");
    std::fs::write(&path, crate::elf::write(&o).unwrap()).unwrap();
    let pin = format!("/sys/fs/bpf/probecc-core-{}", std::process::id());
    let out = std::process::Command::new("bpftool")
        .args(["-d", "prog", "load"])
        .arg(&path)
        .arg(&pin)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&pin);
    let _ = std::fs::remove_dir_all(&dir);
    let log = String::from_utf8_lossy(&out.stderr);
    let relocs: Vec<&str> = log.lines().filter(|l| l.contains("patched insn")).collect();
    assert!(out.status.success(), "bpftool prog load failed:\n{log}");
    assert_eq!(relocs.len(), 3, "libbpf's relocations:\n{log}");
    for (slot, off) in [(2, pid.value), (3, comm.value), (8, parent.value)] {
        let want = format!("patched insn #{slot} ");
        let line = relocs.iter().find(|l| l.contains(&want)).unwrap();
        assert!(line.ends_with(&format!("{off} -> {off}")), "{line}");
    }
}
