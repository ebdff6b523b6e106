//! The rules that changed between kernel releases (`verifier_sim::release`)
//! and the constructs of clang objects (global data, callbacks, global
//! functions, tail calls, call-chain stacks), one program each, with the
//! verdict and message each release gives.

use probecc::arch::{Arch, KernelVersion};
use probecc::insn::{self as i, pseudo, AluOp, Cond, Insn, Reg, Size};
use verifier_sim::program::{ArgType, Func, GlobalData, Signature};
use verifier_sim::{check_program_for, MapSpec, Program, Rodata, Rules, Target, Verdict};

mod support;
use support::{add, mov, movr};

const R0: Reg = Reg::R0;
const R1: Reg = Reg::R1;
const R2: Reg = Reg::R2;
const R3: Reg = Reg::R3;
const R4: Reg = Reg::R4;
const R10: Reg = Reg::R10;

const V6_1: KernelVersion = KernelVersion(6, 1);
const V6_6: KernelVersion = KernelVersion(6, 6);
const V6_12: KernelVersion = KernelVersion(6, 12);
const V6_18: KernelVersion = KernelVersion(6, 18);

fn map(name: &str, map_type: u32, key_size: u32, value_size: u32, max_entries: u32) -> MapSpec {
    MapSpec {
        name: name.into(),
        map_type,
        key_size,
        value_size,
        max_entries,
    }
}

fn at(prog: &Program, kernel: KernelVersion) -> Verdict {
    check_program_for(prog, &Target::new(Arch::X86_64, kernel))
}

fn bare(insns: &[Insn], maps: &[MapSpec]) -> Program {
    Program::bare(insns, maps, true)
}

/// x86_64 at `kernel` with the JIT off.
fn interpreter(kernel: KernelVersion) -> Target {
    Target {
        rules: Rules {
            jit: false,
            ..Rules::new(Arch::X86_64, kernel)
        },
        ..Target::new(Arch::X86_64, kernel)
    }
}

fn accepted(v: &Verdict) -> bool {
    v.accepted
}

fn message(v: &Verdict) -> &str {
    v.message.as_deref().unwrap_or("")
}

#[test]
fn constant_key_array_lookups_cannot_miss_from_6_14() {
    let prog = |map_type| {
        let m = i::ld_imm64_pseudo(R1, pseudo::MAP_FD, 0);
        bare(
            &[
                i::st(Size::W, R10, -4, 0),
                movr(R2, R10),
                add(R2, -4),
                m[0],
                m[1],
                i::call_helper(1),
                i::ldx(Size::DW, R0, R0, 0),
                i::exit(),
            ],
            &[map("m", map_type, 4, 8, 4)],
        )
    };
    let array = prog(2);
    for old in [V6_1, V6_12, KernelVersion(6, 13)] {
        let v = at(&array, old);
        assert_eq!(
            message(&v),
            "R0 invalid mem access 'map_value_or_null'",
            "{old}"
        );
    }
    assert!(accepted(&at(&array, KernelVersion(6, 14))));
    assert!(accepted(&at(&array, V6_18)));
    assert!(accepted(&at(&prog(6), V6_18)), "per-CPU arrays too");
    assert!(
        !accepted(&at(&prog(1), V6_18)),
        "a hash lookup can always miss"
    );
    // A key past max_entries, or one not known, can miss.
    let mut far = array.clone();
    far.maps[0].max_entries = 0;
    assert!(!accepted(&at(&far, V6_18)));
    let mut unknown = array.clone();
    unknown.insns[0] = i::stx(Size::W, R10, -4, R1);
    assert!(!accepted(&at(&unknown, V6_18)));
}

#[test]
fn the_frame_pointer_is_never_subtracted_from() {
    let write = [
        mov(R2, 0),
        i::stx(Size::DW, R1, 0, R2),
        mov(R0, 0),
        i::exit(),
    ];
    let sub = [
        &[movr(R1, R10), i::alu64_imm(AluOp::Sub, R1, 8)][..],
        &write,
    ]
    .concat();
    let v = at(&bare(&sub, &[]), V6_18);
    assert_eq!(message(&v), "R1 subtraction from stack pointer prohibited");
    assert_eq!(v.insn, Some(1));
    let plus = [&[movr(R1, R10), add(R1, -8)][..], &write].concat();
    assert!(accepted(&at(&bare(&plus, &[]), V6_1)));
    // Two pointers subtracted give a number; a scalar minus a pointer is refused.
    let diff = [
        movr(R0, R10),
        i::alu64_reg(AluOp::Sub, R0, R1),
        i::alu64_imm(AluOp::And, R0, 1),
        i::exit(),
    ];
    assert!(accepted(&at(&bare(&diff, &[]), V6_1)));
    let back = [mov(R0, 100), i::alu64_reg(AluOp::Sub, R0, R10), i::exit()];
    assert_eq!(
        message(&at(&bare(&back, &[]), V6_1)),
        "R0 tried to subtract pointer from scalar"
    );
}

#[test]
fn cpu_v4_instructions_from_6_6_with_signed_results() {
    // r1 = -4 s/ 2 must be -2 exactly: the other branch reads r5 unset.
    let sdiv = Insn::new(0x37, 1, 0, 1, 2);
    let prog = bare(
        &[
            mov(R1, -4),
            sdiv,
            i::jmp_imm(Cond::Ne, R1, -2, 2),
            mov(R0, 0),
            i::exit(),
            movr(R0, Reg::R5),
            i::exit(),
        ],
        &[],
    );
    assert_eq!(message(&at(&prog, V6_1)), "BPF_ALU uses reserved fields");
    assert!(accepted(&at(&prog, V6_6)), "{:?}", at(&prog, V6_6));
    let movsx = bare(
        &[mov(R1, 0xff), Insn::new(0xbf, 0, 1, 8, 0), i::exit()],
        &[],
    );
    assert_eq!(message(&at(&movsx, V6_1)), "BPF_MOV uses reserved fields");
    assert!(accepted(&at(&movsx, V6_6)));
}

/// main: fp-8 holds a pointer to fp-16, and is the callback's context;
/// the callback reads through the pointer, then overwrites it with the
/// number it read. Once is fine; a second call dereferences a number.
fn pointer_then_number(ret: i32) -> Program {
    let f = i::ld_imm64_pseudo(R2, pseudo::FUNC, 7);
    bare(
        &[
            mov(R1, 0),
            i::stx(Size::DW, R10, -16, R1),
            movr(R1, R10),
            add(R1, -16),
            i::stx(Size::DW, R10, -8, R1),
            mov(R1, 2),
            f[0],
            f[1],
            movr(R3, R10),
            add(R3, -8),
            mov(R4, 0),
            i::call_helper(181),
            mov(R0, 0),
            i::exit(),
            // the callback
            i::ldx(Size::DW, R3, R2, 0),
            i::ldx(Size::DW, R4, R3, 0),
            i::stx(Size::DW, R2, 0, R4),
            mov(R0, ret),
            i::exit(),
        ],
        &[],
    )
}

#[test]
fn callbacks_run_once_before_6_7_and_any_number_of_times_after() {
    let prog = pointer_then_number(0);
    assert!(accepted(&at(&prog, V6_1)), "{:?}", at(&prog, V6_1));
    let v = at(&prog, V6_12);
    assert_eq!(message(&v), "R3 invalid mem access 'scalar'");
    assert_eq!(v.insn, Some(15));
    assert_eq!(
        message(&at(&pointer_then_number(2), V6_1)),
        "At callback return the register R0 has value (0x2; 0x0) should have been in (0x0; 0x1)"
    );
    assert_eq!(
        message(&at(&pointer_then_number(2), V6_12)),
        "At callback return the register R0 has value (0x2; 0x0) should have been in [0, 1]"
    );
    // Without the JIT the interpreter cannot call back.
    let interp = interpreter(V6_1);
    assert_eq!(
        check_program_for(&prog, &interp).message.as_deref(),
        Some("callbacks are not allowed in non-JITed programs")
    );
}

/// main uses `main` bytes of stack after calling a function that uses
/// `sub`; the function tail-calls when `tail`.
fn chain(main: i16, sub: i16, tail: bool) -> Program {
    let m = i::ld_imm64_pseudo(R2, pseudo::MAP_FD, 0);
    let mut insns = vec![
        i::call_local(4),
        mov(R1, 0),
        i::stx(Size::DW, R10, -main, R1),
        mov(R0, 0),
        i::exit(),
        // the function (r1 is still the ctx)
        mov(R3, 0),
        i::stx(Size::DW, R10, -sub, R3),
    ];
    if tail {
        insns.extend([m[0], m[1], i::call_helper(12)]);
    }
    insns.extend([mov(R0, 0), i::exit()]);
    bare(&insns, &[map("progs", 3, 4, 4, 4)])
}

#[test]
fn stacks_add_up_over_call_chains_whenever_they_are_used() {
    // The caller's stack is used after the call returns: still counted.
    let v = at(&chain(280, 280, false), V6_1);
    assert_eq!(
        message(&v),
        "combined stack size of 2 calls is 576. Too large"
    );
    assert!(accepted(&at(&chain(248, 256, false), V6_1)));
    // 6.9 on, JIT: 16-byte rounding makes 200 + 304 fit.
    assert!(!accepted(&at(&chain(200, 304, false), V6_1)));
    assert!(accepted(&at(&chain(200, 304, false), V6_12)));
    // A kernel known to run large frames on private stacks.
    let private = Target {
        rules: Rules {
            private_stack: true,
            ..Rules::new(Arch::X86_64, V6_18)
        },
        ..Target::new(Arch::X86_64, V6_18)
    };
    assert!(!accepted(&at(&chain(304, 304, false), V6_18)));
    assert!(check_program_for(&chain(304, 304, false), &private).accepted);
}

#[test]
fn tail_calls_need_less_than_256_bytes_of_frames_above() {
    let v = at(&chain(256, 8, true), V6_18);
    assert_eq!(
        message(&v),
        "tail_calls are not allowed when call stack of previous frames is 256 bytes. Too large"
    );
    assert!(accepted(&at(&chain(224, 8, true), V6_18)));
    let interp = interpreter(V6_1);
    // Refused at the call: before the 256-byte rule of the frames above.
    let non_jited = Some("tail_calls are not allowed in non-JITed programs with bpf-to-bpf calls");
    let v = check_program_for(&chain(32, 8, true), &interp);
    assert_eq!(v.message.as_deref(), non_jited);
    assert_eq!(
        check_program_for(&chain(320, 8, true), &interp)
            .message
            .as_deref(),
        non_jited
    );
    // ppc64's JIT mixes them from 6.13 only, riscv64's not through 7.2,
    // whose verifier words the refusal anew.
    let on =
        |arch, kernel| check_program_for(&chain(32, 8, true), &Target::new(arch, kernel)).message;
    assert_eq!(on(Arch::Ppc64le, V6_12).as_deref(), non_jited);
    assert_eq!(on(Arch::Ppc64le, V6_18), None);
    assert_eq!(on(Arch::Riscv64, V6_12).as_deref(), non_jited);
    assert_eq!(
        on(Arch::Riscv64, KernelVersion(7, 2)).as_deref(),
        Some("mixing of tail_calls and bpf-to-bpf calls is not supported")
    );
    assert_eq!(on(Arch::Arm64, V6_1), None);
}

fn with_rodata(insns: &[Insn], init: Vec<u8>) -> Program {
    let mut p = bare(insns, &[map(".rodata", 2, 4, init.len() as u32, 1)]);
    p.globals = vec![GlobalData {
        map: 0,
        section: ".rodata".into(),
        init,
        read_only: true,
    }];
    p
}

#[test]
fn rodata_is_read_only_and_known_when_the_loader_sets_nothing() {
    let load = i::ld_imm64_pseudo(R1, pseudo::MAP_VALUE, 0);
    // r0 = *(u32 *)(.rodata + 4); r0 == 7 or read r5 unset
    let insns = [
        load[0],
        Insn { imm: 4, ..load[1] },
        i::ldx(Size::W, R0, R1, 0),
        i::jmp_imm(Cond::Ne, R0, 7, 1),
        i::exit(),
        movr(R0, Reg::R5),
        i::exit(),
    ];
    let prog = with_rodata(&insns, vec![0, 0, 0, 0, 7, 0, 0, 0]);
    let initial = Target {
        rodata: Rodata::Initial,
        ..Target::new(Arch::X86_64, V6_1)
    };
    assert!(check_program_for(&prog, &initial).accepted);
    assert_eq!(
        message(&at(&prog, V6_1)),
        "R5 !read_ok",
        "unknown by default"
    );
    let write = [
        load[0],
        load[1],
        mov(R2, 1),
        i::stx(Size::W, R1, 4, R2),
        mov(R0, 0),
        i::exit(),
    ];
    assert_eq!(
        message(&at(&with_rodata(&write, vec![0; 8]), V6_1)),
        "write into map forbidden, value_size=8 off=4 size=4"
    );
    let past = [load[0], Insn { imm: 8, ..load[1] }, mov(R0, 0), i::exit()];
    assert_eq!(
        message(&at(&with_rodata(&past, vec![0; 8]), V6_1)),
        "direct value offset of 8 is not allowed"
    );
}

fn with_global(body: &[Insn], args: Vec<ArgType>) -> Program {
    let mut insns = vec![
        mov(R1, 0),
        i::stx(Size::DW, R10, -8, R1),
        movr(R1, R10),
        add(R1, -8),
        i::call_local(1),
        i::exit(),
    ];
    let start = insns.len();
    insns.extend_from_slice(body);
    let mut p = bare(&insns, &[]);
    p.funcs = vec![Func {
        name: "g".into(),
        start,
        global: Some(Signature {
            args,
            returns_scalar: true,
        }),
    }];
    p
}

#[test]
fn global_functions_are_verified_from_their_signatures() {
    let deref = [i::ldx(Size::DW, R0, R1, 0), i::exit()];
    let v = at(&with_global(&deref, vec![ArgType::Mem { size: 8 }]), V6_1);
    assert_eq!(message(&v), "R1 invalid mem access 'mem_or_null'");
    let checked = [
        mov(R0, 0),
        i::jmp_imm(Cond::Eq, R1, 0, 1),
        i::ldx(Size::DW, R0, R1, 0),
        i::exit(),
    ];
    assert!(accepted(&at(
        &with_global(&checked, vec![ArgType::Mem { size: 8 }]),
        V6_1
    )));
    let v = at(
        &with_global(&checked, vec![ArgType::Mem { size: 16 }]),
        V6_1,
    );
    assert_eq!(message(&v), "Caller passes invalid args into func#1");
    let v = at(&with_global(&checked, vec![ArgType::Ctx]), V6_1);
    assert_eq!(message(&v), "Caller passes invalid args into func#1");
    let pointer = [movr(R0, R10), i::exit()];
    let v = at(&with_global(&pointer, vec![ArgType::Scalar]), V6_1);
    assert_eq!(message(&v), "Caller passes invalid args into func#1");
    let v = at(&with_global(&pointer, vec![ArgType::Mem { size: 8 }]), V6_1);
    assert_eq!(
        message(&v),
        "At subprogram exit the register R0 is not a scalar value (fp)"
    );
}

#[test]
fn thirty_two_bit_jumps_bound_the_low_half() {
    // r1 unknown; if w1 > 15 exit; r1 <<= 32; r1 >>= 32: now 0..15, an
    // index into 16 bytes of stack.
    let insns = [
        i::ldx(Size::DW, R1, R1, 0),
        mov(R0, 0),
        i::jmp32_imm(Cond::Gt, R1, 15, 7),
        i::alu64_imm(AluOp::Lsh, R1, 32),
        i::alu64_imm(AluOp::Rsh, R1, 32),
        movr(R2, R10),
        add(R2, -16),
        i::alu64_reg(AluOp::Add, R2, R1),
        i::st(Size::B, R2, 0, 1),
        i::ldx(Size::B, R0, R10, -16),
        i::exit(),
    ];
    let v = at(&bare(&insns, &[]), V6_1);
    assert!(v.accepted, "{v:?}");
    let mut wide = insns;
    wide[2] = i::jmp32_imm(Cond::Gt, R1, 16, 7);
    assert!(!at(&bare(&wide, &[]), V6_1).accepted);
}

/// A kprobe passing its context to a global function that reads it.
fn ctx_to_global(arg: ArgType) -> Program {
    let insns = [
        i::call_local(1),
        i::exit(),
        i::ldx(Size::DW, R0, R1, 0),
        i::exit(),
    ];
    let mut p = bare(&insns, &[]);
    p.funcs = vec![Func {
        name: "g".into(),
        start: 2,
        global: Some(Signature {
            args: vec![arg],
            returns_scalar: true,
        }),
    }];
    p
}

#[test]
fn a_global_functions_context_is_the_struct_the_arch_names() {
    let on = |arch, arg: ArgType| check_program_for(&ctx_to_global(arg), &Target::new(arch, V6_1));
    let structure = |name: &str| ArgType::Struct {
        name: name.into(),
        size: 336,
    };
    // x86_64's kprobe context is struct pt_regs itself.
    assert!(accepted(&on(Arch::X86_64, structure("pt_regs"))));
    // arm64's is struct user_pt_regs: a struct pt_regs * is memory that
    // may be NULL, which the caller's context is not (the kernel says so,
    // or, verifying the function first as 6.1 does, that it reads R1
    // unchecked).
    let refused = "Caller passes invalid args into func#1";
    assert_eq!(message(&on(Arch::Arm64, structure("pt_regs"))), refused);
    assert!(accepted(&on(Arch::Arm64, structure("user_pt_regs"))));
    assert!(accepted(&on(Arch::Riscv64, structure("user_regs_struct"))));
    assert_eq!(message(&on(Arch::Ppc64le, structure("pt_regs"))), refused);
    // s390x's is anonymous: only the typedef names it.
    assert_eq!(
        message(&on(Arch::S390x, structure("user_pt_regs"))),
        refused
    );
    for arch in Arch::ALL {
        assert!(accepted(&on(arch, ArgType::Ctx)), "{arch}");
    }
}
