//! Tests of the assembler: labels, jumps and their ranges, map and CO-RE
//! relocations, helper-argument set-up, and every misuse as an `AsmError`.

use super::regs::*;
use super::*;
use crate::insn::Cond;
use proptest::prelude::*;

#[test]
fn forward_and_backward_jumps_resolve() {
    let code = assemble(&[
        label("top"),
        mov(R0, 0),
        jmp_imm(Cond::Eq, R0, 0, "out"),
        ld_imm64(R1, 1 << 40),
        jmp("top"),
        label("out"),
        exit(),
    ])
    .unwrap();
    // slots: 0 mov, 1 jeq, 2-3 ld_imm64, 4 ja, 5 exit
    assert_eq!(code.insns[1].off, 3);
    assert_eq!(code.insns[4].off, -5);
    assert_eq!(code.labels["out"], 5);
}

#[test]
fn undefined_label_is_an_error() {
    let e = assemble(&[jmp("nowhere"), exit()]).unwrap_err();
    assert_eq!(
        e,
        AsmError::UndefinedLabel {
            op: 0,
            label: "nowhere".into()
        }
    );
    assert_eq!(e.to_string(), "op 0: jump to undefined label `nowhere`");
}

#[test]
fn duplicate_label_is_an_error() {
    let e = assemble(&[label("a"), exit(), label("a"), exit()]).unwrap_err();
    assert!(
        matches!(
            e,
            AsmError::DuplicateLabel {
                op: 2,
                first: 0,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn jump_too_far_is_an_error_but_gotol_reaches() {
    let mut ops = vec![jmp("far")];
    ops.extend(std::iter::repeat_n(mov(R0, 0), 40_000));
    ops.extend([label("far"), exit()]);
    let e = assemble(&ops).unwrap_err();
    assert!(
        matches!(
            e,
            AsmError::JumpOutOfRange {
                op: 0,
                distance: 40_000,
                ..
            }
        ),
        "{e}"
    );
    ops[0] = jmp_long("far");
    assert_eq!(assemble(&ops).unwrap().insns[0].imm, 40_000);
}

#[test]
fn label_past_the_end_is_an_error() {
    let e = assemble(&[jmp("end"), exit(), label("end")]).unwrap_err();
    assert!(matches!(e, AsmError::JumpPastEnd { .. }), "{e}");
}

#[test]
fn bad_registers_are_errors() {
    assert_eq!(reg(11), Err(AsmError::BadRegister { op: 0, reg: 11 }));
    let raw_bad = raw(Insn::new(0xbf, 1, 12, 0, 0));
    let e = assemble(&[raw_bad, exit()]).unwrap_err();
    assert!(matches!(e, AsmError::BadInsn { op: 0, .. }), "{e}");
    let e = assemble(&[mov(R10, 0), exit()]).unwrap_err();
    assert_eq!(e, AsmError::WriteToFp { op: 0 });
    let e = assemble(&[raw(crate::insn::ld_imm64(R1, 5)[0]), exit()]).unwrap_err();
    assert_eq!(e, AsmError::RawLdImm64 { op: 0 });
}

#[test]
fn map_loads_record_relocations() {
    let code = assemble(&[mov(R0, 0), ld_map(R1, "counts"), exit()]).unwrap();
    assert_eq!(
        code.map_relocs,
        vec![MapReloc {
            insn: 1,
            map: "counts".into()
        }]
    );
    assert!(code.insns[1].is_ld_imm64());
    assert_eq!((code.insns[1].src, code.insns[1].imm), (0, 0));
    assert_eq!(code.insns.len(), 4);
}

#[test]
fn helper_arguments_are_moved_into_place() {
    let code = assemble(&[map_lookup_elem(map("m"), stack(-8)), exit()]).unwrap();
    let text: Vec<_> = code
        .insns
        .iter()
        .map(|i| (i.code, i.dst, i.src, i.imm))
        .collect();
    assert_eq!(
        text,
        vec![
            (0x18, 1, 0, 0),  // r1 = map m (relocated)
            (0, 0, 0, 0),     // second slot
            (0xbf, 2, 10, 0), // r2 = r10
            (0x07, 2, 0, -8), // r2 += -8
            (0x85, 0, 0, 1),  // call map_lookup_elem
            (0x95, 0, 0, 0),
        ]
    );
}

#[test]
fn helper_argument_moves_avoid_clobbering() {
    // arg0 comes from r2 and arg1 from r1: a swap, which needs a scratch.
    let e = assemble(&[probe_read_kernel(R2, R1, R3), exit()]).unwrap_err();
    assert!(matches!(e, AsmError::ArgCycle { .. }), "{e}");
    // arg1 from r1 must be moved to r2 before r1 is overwritten.
    let code = assemble(&[probe_read_kernel(R6, R1, R7), exit()]).unwrap();
    assert_eq!((code.insns[0].dst, code.insns[0].src), (2, 1));
}

#[test]
fn helper_arity_is_checked_against_the_table() {
    let e = assemble(&[helper_call(Helper::KtimeGetNs, vec![Arg::Imm(1)])]).unwrap_err();
    assert!(
        matches!(
            e,
            AsmError::HelperArity {
                expected: 0,
                got: 1,
                ..
            }
        ),
        "{e}"
    );
    // Every wrapper agrees with the table.
    let wrappers = [
        map_lookup_elem(R1, R2),
        map_update_elem(R1, R2, R3, R4),
        map_delete_elem(R1, R2),
        ktime_get_ns(),
        get_current_pid_tgid(),
        get_current_uid_gid(),
        get_current_comm(R1, R2),
        get_prandom_u32(),
        get_smp_processor_id(),
        probe_read_kernel(R1, R2, R3),
        probe_read_kernel_str(R1, R2, R3),
        probe_read_user(R1, R2, R3),
        probe_read_user_str(R1, R2, R3),
        perf_event_output(R1, R2, R3, R4, R5),
        ringbuf_output(R1, R2, R3, R4),
        ringbuf_reserve(R1, R2),
        ringbuf_submit(R1),
        ringbuf_discard(R1),
        get_func_ip(R1),
        get_stackid(R1, R2, R3),
        trace_printk(R1, R2, R3, R4, R5),
    ];
    for w in wrappers {
        let code = assemble(&[w.clone(), exit()]).unwrap_or_else(|e| panic!("{w:?}: {e}"));
        assert!(code.insns.iter().any(|i| i.is_call()));
    }
}

proptest! {
    /// Labels placed at random points between random instructions resolve
    /// to exactly the instruction after them.
    #[test]
    fn labels_resolve_to_the_labelled_instruction(
        body in prop::collection::vec((any::<bool>(), any::<bool>()), 1..200),
        from in any::<prop::sample::Index>(),
    ) {
        let mut ops = Vec::new();
        let mut expect = BTreeMap::new();
        let mut pc = 0usize;
        for (n, (wide, labelled)) in body.iter().enumerate() {
            if *labelled {
                ops.push(label(&format!("l{n}")));
                expect.insert(format!("l{n}"), pc);
            }
            if *wide { ops.push(ld_imm64(R1, 7)); pc += 2 } else { ops.push(mov(R0, 1)); pc += 1 }
        }
        ops.push(label("end"));
        expect.insert("end".into(), pc);
        ops.push(exit());
        let names: Vec<String> = expect.keys().cloned().collect();
        let target = &names[from.index(names.len())];
        ops.insert(0, jmp_imm(Cond::Ne, R1, 0, target));
        let code = assemble(&ops).unwrap();
        for (name, at) in &expect {
            prop_assert_eq!(code.labels[name], at + 1);
        }
        let j = code.insns[0];
        prop_assert_eq!(1 + j.off as usize, code.labels[target]);
    }
}
