//! One program per rule, built from instructions, with the kernel's verdict
//! and message (the 6.1 verifier's wording) as the expectation.

use probecc::arch::{Arch, KernelVersion};
use probecc::insn::{self as i, pseudo, AluOp, AtomicOp, Cond, Insn, Reg, Size};
use verifier_sim::{check_insns, MapSpec, Program, Rules, Target, Verdict};

mod support;
use support::{add, mov, movr};

const R0: Reg = Reg::R0;
const R1: Reg = Reg::R1;
const R2: Reg = Reg::R2;
const R3: Reg = Reg::R3;
const R6: Reg = Reg::R6;
const R10: Reg = Reg::R10;

fn maps() -> Vec<MapSpec> {
    vec![
        MapSpec {
            name: "hash".into(),
            map_type: 1,
            key_size: 4,
            value_size: 8,
            max_entries: 16,
        },
        MapSpec {
            name: "rb".into(),
            map_type: 27,
            key_size: 0,
            value_size: 0,
            max_entries: 4096,
        },
    ]
}

fn check(insns: &[Insn]) -> Verdict {
    check_at(insns, KernelVersion(6, 1))
}

fn check_at(insns: &[Insn], kernel: KernelVersion) -> Verdict {
    check_insns(insns, &maps(), Arch::X86_64, kernel)
}

/// Refused by 6.1 with `message` at `at`, accepted by 6.18.
fn rejects_before_accepts_after(insns: &[Insn], at: usize, message: &str) {
    rejects(insns, at, message);
    let v = check_at(insns, KernelVersion(6, 18));
    assert!(v.accepted, "{v:?}");
}

fn rejects(insns: &[Insn], at: usize, message: &str) {
    let v = check(insns);
    assert!(!v.accepted, "accepted, expected {message}");
    assert_eq!(v.message.as_deref(), Some(message), "{v:?}");
    assert_eq!(v.insn, Some(at), "{v:?}");
}

fn accepts(insns: &[Insn]) {
    let v = check(insns);
    assert!(v.accepted, "{v:?}");
}

fn ret0() -> [Insn; 2] {
    [mov(R0, 0), i::exit()]
}

/// `r0 = lookup(hash, &(u32)0)` with the key at fp-4.
fn lookup() -> Vec<Insn> {
    let m = i::ld_imm64_pseudo(R1, pseudo::MAP_FD, 0);
    vec![
        i::st(Size::W, R10, -4, 0),
        movr(R2, R10),
        add(R2, -4),
        m[0],
        m[1],
        i::call_helper(1),
    ]
}

fn prog(parts: &[&[Insn]]) -> Vec<Insn> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

#[test]
fn reading_an_uninitialised_register() {
    rejects(&[movr(R0, R2), i::exit()], 0, "R2 !read_ok");
    rejects(&[i::exit()], 0, "R0 !read_ok");
}

#[test]
fn ctx_reads_are_bounded_by_the_arch_pt_regs() {
    accepts(&prog(&[&[i::ldx(Size::DW, R0, R1, 160)], &[i::exit()]]));
    rejects(
        &[i::ldx(Size::DW, R0, R1, 168), i::exit()],
        0,
        "invalid bpf_context access off=168 size=8",
    );
    rejects(
        &[i::ldx(Size::DW, R0, R1, 4), i::exit()],
        0,
        "invalid bpf_context access off=4 size=8",
    );
    rejects(
        &prog(&[&[i::stx(Size::DW, R1, 0, R1)], &ret0()]),
        0,
        "invalid bpf_context access off=0 size=8",
    );
    // arm64's pt_regs is 336 bytes: 168 is fine there, 336 is not.
    let arm = |off| {
        check_insns(
            &[i::ldx(Size::DW, R0, R1, off), i::exit()],
            &[],
            Arch::Arm64,
            KernelVersion(6, 1),
        )
    };
    assert!(arm(168).accepted);
    assert!(!arm(336).accepted);
    rejects(
        &prog(&[&[add(R1, 8), i::ldx(Size::DW, R0, R1, 0)], &[i::exit()]]),
        1,
        "dereference of modified ctx ptr R1 off=8 disallowed",
    );
}

/// A raw tracepoint program (the `raw_tp` section of BEGIN, END and
/// interval blocks): a 96-byte read-only ctx of u64 arguments, and the
/// tracing helpers without kprobe's `get_func_ip`.
fn raw_tp(insns: &[Insn]) -> Verdict {
    let prog = Program {
        name: "BEGIN".into(),
        section: "raw_tp".into(),
        ..Program::bare(insns, &maps(), true)
    };
    verifier_sim::check_program(&prog, Arch::X86_64, KernelVersion(6, 1))
}

#[test]
fn raw_tracepoints_read_u64_arguments_and_call_the_tracing_helpers() {
    assert!(raw_tp(&[i::ldx(Size::DW, R0, R1, 88), i::exit()]).accepted);
    let v = raw_tp(&[i::ldx(Size::DW, R0, R1, 96), i::exit()]);
    assert_eq!(
        v.message.as_deref(),
        Some("invalid bpf_context access off=96 size=8")
    );
    let v = raw_tp(&prog(&[&[i::stx(Size::DW, R1, 0, R1)], &ret0()]));
    assert_eq!(
        v.message.as_deref(),
        Some("invalid bpf_context access off=0 size=8")
    );
    let func_ip = prog(&[&[i::call_helper(173)], &ret0()]);
    assert!(check(&func_ip).accepted, "a kprobe may call get_func_ip");
    let v = raw_tp(&func_ip);
    assert_eq!(
        v.message.as_deref(),
        Some("unknown func bpf_get_func_ip#173")
    );
    assert!(raw_tp(&prog(&[&[i::call_helper(5)], &ret0()])).accepted);
}

#[test]
fn the_address_picking_reads_exist_only_where_addresses_do_not_overlap() {
    // bpf_probe_read_str(fp - 16, 16, 0): the kernel offers it (and
    // bpf_probe_read) only under CONFIG_ARCH_HAS_NON_OVERLAPPING_ADDRESS_SPACE,
    // which every arch but s390x selects.
    for (helper, name) in [(45, "probe_read_str"), (4, "probe_read")] {
        let read = prog(&[
            &[
                movr(R1, R10),
                add(R1, -16),
                mov(R2, 16),
                mov(R3, 0),
                i::call_helper(helper),
            ],
            &ret0(),
        ]);
        for arch in [Arch::X86_64, Arch::Arm64, Arch::Ppc64le, Arch::Riscv64] {
            let v = check_insns(&read, &maps(), arch, KernelVersion(6, 1));
            assert!(v.accepted, "{arch}: {v:?}");
        }
        let v = check_insns(&read, &maps(), Arch::S390x, KernelVersion(6, 1));
        let refused = format!("unknown func bpf_{name}#{helper}");
        assert_eq!(v.message.as_deref(), Some(refused.as_str()), "{v:?}");
        assert_eq!(v.insn, Some(4), "{v:?}");
    }
}

#[test]
fn strict_alignment_holds_every_pointer_where_unaligned_access_is_slow() {
    let at = |insns: &[Insn], arch: Arch| check_insns(insns, &maps(), arch, KernelVersion(6, 12));
    let value_read = |off: i16, size: Size| {
        prog(&[
            &lookup(),
            &[i::jmp_imm(Cond::Eq, R0, 0, 1), i::ldx(size, R1, R0, off)],
            &ret0(),
        ])
    };
    // riscv64 (no CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS) refuses a
    // 4-byte read at offset 2 that every other arch takes.
    let odd = value_read(2, Size::W);
    for arch in [Arch::X86_64, Arch::Arm64, Arch::S390x, Arch::Ppc64le] {
        assert!(at(&odd, arch).accepted, "{arch}: {:?}", at(&odd, arch));
    }
    let v = at(&odd, Arch::Riscv64);
    assert!(!v.accepted, "{v:?}");
    assert_eq!(
        v.message.as_deref(),
        Some("misaligned value access off 0+0+2 size 4")
    );
    assert_eq!(v.insn, Some(7), "{v:?}");
    // A byte anywhere, and a word at its own alignment, stay allowed.
    assert!(at(&value_read(3, Size::B), Arch::Riscv64).accepted);
    assert!(at(&value_read(4, Size::W), Arch::Riscv64).accepted);
    // A variable offset must be known aligned: `& 3` may be odd, `& 6`
    // is even.
    let var = |mask: i32| {
        prog(&[
            &lookup(),
            &[
                i::jmp_imm(Cond::Eq, R0, 0, 4),
                i::ldx(Size::B, R6, R0, 0),
                i::alu64_imm(AluOp::And, R6, mask),
                i::alu64_reg(AluOp::Add, R0, R6),
                i::ldx(Size::H, R1, R0, 0),
            ],
            &ret0(),
        ])
    };
    let v = at(&var(3), Arch::Riscv64);
    assert_eq!(
        v.message.as_deref(),
        Some("misaligned value access off (0x0; 0x3)+0+0 size 2"),
        "{v:?}"
    );
    assert!(at(&var(3), Arch::X86_64).accepted);
    let v = at(&var(6), Arch::Riscv64);
    assert!(v.accepted, "{v:?}");
}

#[test]
fn a_kernel_without_btf_refuses_reads_of_a_map_pointer() {
    // r1 = &map; r0 = *(u32 *)(r1 + 0): struct bpf_map's first field.
    let m = i::ld_imm64_pseudo(R1, pseudo::MAP_FD, 0);
    let read = [
        m[0],
        m[1],
        i::ldx(Size::W, R0, R1, 0),
        mov(R0, 0),
        i::exit(),
    ];
    let prog = Program::bare(&read, &maps(), true);
    let at = |rules: Rules| {
        let target = Target {
            rules,
            ..Target::new(Arch::Ppc64le, KernelVersion(6, 1))
        };
        verifier_sim::check_program_for(&prog, &target)
    };
    // Debian's ppc64le 6.1 has no BTF (its config), its 6.12 has.
    let v = at(Rules::debian(Arch::Ppc64le, KernelVersion(6, 1)));
    assert_eq!(
        v.message.as_deref(),
        Some("map_ptr access not supported without CONFIG_DEBUG_INFO_BTF"),
        "{v:?}"
    );
    assert_eq!(v.insn, Some(2), "{v:?}");
    assert!(at(Rules::debian(Arch::Ppc64le, KernelVersion(6, 12))).accepted);
    // A kernel with BTF, as the rules assume unless told.
    assert!(at(Rules::new(Arch::Ppc64le, KernelVersion(6, 1))).accepted);
}

#[test]
fn map_values_need_a_null_check() {
    let deref = [i::ldx(Size::DW, R0, R0, 0), i::exit()];
    rejects(
        &prog(&[&lookup(), &deref]),
        6,
        "R0 invalid mem access 'map_value_or_null'",
    );
    // Checking a copy checks the original.
    let checked = [
        movr(R6, R0),
        i::jmp_imm(Cond::Eq, R6, 0, 2),
        i::ldx(Size::DW, R0, R0, 0),
        i::exit(),
        mov(R0, 0),
        i::exit(),
    ];
    accepts(&prog(&[&lookup(), &checked]));
    rejects(
        &prog(&[&lookup(), &[add(R0, 8)], &ret0()]),
        6,
        "R0 pointer arithmetic on map_value_or_null prohibited, null-check it first",
    );
}

#[test]
fn map_value_accesses_stay_inside_the_value() {
    let tail = |insns: &[Insn]| {
        prog(&[
            &lookup(),
            &[i::jmp_imm(Cond::Ne, R0, 0, 2)],
            &ret0(),
            insns,
            &ret0(),
        ])
    };
    accepts(&tail(&[i::ldx(Size::W, R1, R0, 4)]));
    rejects(
        &tail(&[i::ldx(Size::DW, R1, R0, 8)]),
        9,
        "invalid access to map value, value_size=8 off=8 size=8",
    );
    // A variable offset: unbounded, then masked but too large, then fine.
    let var = |mask: Option<i32>| {
        let mut v = vec![movr(R6, R0)];
        v.push(i::call_helper(7));
        v.push(movr(R1, R0));
        v.push(movr(R0, R6));
        if let Some(m) = mask {
            v.push(i::alu64_imm(AluOp::And, R1, m));
        }
        v.push(i::alu64_reg(AluOp::Add, R0, R1));
        v.push(i::ldx(Size::B, R1, R0, 0));
        tail(&v)
    };
    let v = check(&var(None));
    assert_eq!(
        v.message.as_deref(),
        Some("math between map_value pointer and register with unbounded min value is not allowed")
    );
    rejects(
        &var(Some(0xf)),
        15,
        "invalid access to map value, value_size=8 off=15 size=1",
    );
    accepts(&var(Some(7)));
}

#[test]
fn the_stack_is_read_inside_the_frame() {
    // A privileged program may read bytes it never wrote (the value is
    // unknown): kprobes need CAP_PERFMON, so `allow_uninit_stack` holds.
    // Before 6.4 only within the stack allocated so far, the 8-byte slots
    // down to the deepest byte written.
    rejects_before_accepts_after(
        &[i::ldx(Size::DW, R0, R10, -8), i::exit()],
        0,
        "invalid read from stack R10 off=-8 size=8",
    );
    rejects_before_accepts_after(
        &[
            i::st(Size::W, R10, -4, 1),
            i::ldx(Size::DW, R0, R10, -16),
            i::exit(),
        ],
        1,
        "invalid read from stack R10 off=-16 size=8",
    );
    accepts(&[
        i::st(Size::B, R10, -9, 1),
        i::ldx(Size::DW, R0, R10, -16),
        i::exit(),
    ]);
    rejects(
        &[i::ldx(Size::DW, R0, R10, -520), i::exit()],
        0,
        "invalid read from stack R10 off=-520 size=8",
    );
    rejects(
        &[i::ldx(Size::DW, R0, R10, -12), i::exit()],
        0,
        "misaligned stack access off 0+0+-12 size 8",
    );
    accepts(&[
        i::st(Size::DW, R10, -8, 7),
        i::ldx(Size::DW, R0, R10, -8),
        i::exit(),
    ]);
    rejects(
        &prog(&[&[i::st(Size::DW, R10, 0, 1)], &ret0()]),
        0,
        "invalid write to stack R10 off=0 size=8",
    );
    rejects(
        &prog(&[&[mov(R10, 1)], &ret0()]),
        0,
        "frame pointer is read only",
    );
    // A spilled pointer comes back whole, not in parts.
    accepts(&[
        i::stx(Size::DW, R10, -8, R1),
        i::ldx(Size::DW, R2, R10, -8),
        i::ldx(Size::DW, R0, R2, 0),
        i::exit(),
    ]);
    rejects(
        &[
            i::stx(Size::DW, R10, -8, R1),
            i::ldx(Size::W, R0, R10, -8),
            i::exit(),
        ],
        1,
        "invalid size of register fill",
    );
    rejects(
        &prog(&[&[i::stx(Size::W, R10, -8, R1)], &ret0()]),
        0,
        "invalid size of register spill",
    );
}

#[test]
fn helpers_check_their_arguments() {
    let mut uninit_key = lookup();
    uninit_key.remove(0);
    rejects_before_accepts_after(
        &prog(&[&uninit_key, &ret0()]),
        4,
        "invalid indirect read from stack R2 off -4+0 size 4",
    );
    let mut outside = lookup();
    outside[2] = add(R2, 4);
    rejects(
        &prog(&[&outside, &ret0()]),
        5,
        "invalid read from stack R2 off=4 size=4",
    );
    rejects(
        &prog(&[&[i::call_helper(999)], &ret0()]),
        0,
        "invalid func unknown#999",
    );
    let mut no_map = lookup();
    no_map.splice(3..5, [mov(R1, 0)]);
    rejects(
        &prog(&[&no_map, &ret0()]),
        4,
        "R1 type=scalar expected=map_ptr",
    );
    // probe_read_kernel is GPL-only.
    let read = [
        movr(R1, R10),
        add(R1, -8),
        mov(R2, 8),
        mov(R3, 0),
        i::call_helper(113),
        mov(R0, 0),
        i::exit(),
    ];
    accepts(&read);
    let nongpl = Program::bare(&read, &[], false);
    let v = verifier_sim::check_program(&nongpl, Arch::X86_64, KernelVersion(6, 1));
    assert_eq!(
        v.message.as_deref(),
        Some("cannot call GPL-restricted function from non-GPL compatible program")
    );
}

/// `r0 = ringbuf_reserve(rb, 16, 0)`.
fn reserve() -> Vec<Insn> {
    let m = i::ld_imm64_pseudo(R1, pseudo::MAP_FD, 1);
    vec![m[0], m[1], mov(R2, 16), mov(R3, 0), i::call_helper(131)]
}

#[test]
fn ring_buffer_records_are_released_on_every_path() {
    let submit = [
        i::jmp_imm(Cond::Eq, R0, 0, 5),
        movr(R6, R0),
        i::st(Size::DW, R6, 8, 1),
        movr(R1, R6),
        mov(R2, 0),
        i::call_helper(132),
    ];
    accepts(&prog(&[&reserve(), &submit, &ret0()]));
    let forget = [i::jmp_imm(Cond::Eq, R0, 0, 1), i::st(Size::DW, R0, 8, 1)];
    rejects(
        &prog(&[&reserve(), &forget, &ret0()]),
        8,
        "Unreleased reference id=1 alloc_insn=4",
    );
    rejects(
        &prog(&[&reserve(), &submit, &[i::st(Size::DW, R6, 0, 1)], &ret0()]),
        11,
        "R6 invalid mem access 'scalar'",
    );
    rejects(
        &prog(&[
            &reserve(),
            &submit[..2],
            &[i::st(Size::DW, R6, 16, 1)],
            &submit[3..],
            &ret0(),
        ]),
        7,
        "invalid access to memory, mem_size=16 off=16 size=8",
    );
}

#[test]
fn loops_must_end() {
    // for (r1 = 0; r1 < 10; r1++);
    accepts(&[
        mov(R1, 0),
        add(R1, 1),
        i::jmp_imm(Cond::Lt, R1, 10, -2),
        mov(R0, 0),
        i::exit(),
    ]);
    rejects(
        &[mov(R0, 0), i::ja(-1)],
        1,
        "infinite loop detected at insn 1",
    );
    rejects(&[mov(R0, 0), i::ja(-1), i::exit()], 2, "unreachable insn 2");
    // A counter the verifier cannot bound: too many instructions.
    let v = check(&[
        i::call_helper(7),
        add(R0, 1),
        i::jmp_imm(Cond::Ne, R0, 0, -2),
        i::exit(),
    ]);
    assert!(!v.accepted);
    let m = v.message.unwrap_or_default();
    assert!(
        m.starts_with("BPF program is too large") || m.starts_with("infinite loop"),
        "{m}"
    );
}

#[test]
fn subprogram_calls_keep_frames_apart() {
    // main: r1 = 5; call f; exit.  f: r0 = r1 * 2; exit.
    accepts(&[
        mov(R1, 5),
        i::call_local(1),
        i::exit(),
        movr(R0, R1),
        i::alu64_imm(AluOp::Mul, R0, 2),
        i::exit(),
    ]);
    // A callee returning its own stack.
    rejects(
        &[i::call_local(1), i::exit(), movr(R0, R10), i::exit()],
        3,
        "cannot return stack pointer to the caller",
    );
    // Caller-saved registers are gone after the call.
    rejects(
        &[
            mov(R2, 1),
            i::call_local(2),
            movr(R0, R2),
            i::exit(),
            mov(R0, 0),
            i::exit(),
        ],
        2,
        "R2 !read_ok",
    );
}

#[test]
fn atomics_on_map_values_and_the_stack() {
    let add_one = [
        i::jmp_imm(Cond::Eq, R0, 0, 2),
        mov(R1, 1),
        i::atomic_op(Size::DW, AtomicOp::Add, R0, 0, R1),
    ];
    accepts(&prog(&[&lookup(), &add_one, &ret0()]));
    rejects_before_accepts_after(
        &prog(&[
            &[
                mov(R2, 1),
                i::atomic_op(Size::DW, AtomicOp::Add, R10, -8, R2),
            ],
            &ret0(),
        ]),
        1,
        "invalid read from stack R10 off=-8 size=8",
    );
    let misaligned = [
        i::jmp_imm(Cond::Eq, R0, 0, 2),
        mov(R1, 1),
        i::atomic_op(Size::DW, AtomicOp::Add, R0, 4, R1),
    ];
    rejects(
        &prog(&[&lookup(), &misaligned, &ret0()]),
        8,
        "misaligned value access off 0+0+4 size 8",
    );
}

#[test]
fn unused_fields_must_be_zero() {
    let mut div = i::alu64_imm(AluOp::Div, R0, 2);
    div.off = 3;
    rejects(
        &[mov(R0, 1), div, i::exit()],
        1,
        "BPF_ALU uses reserved fields",
    );
    let mut exit = i::exit();
    exit.imm = 1;
    rejects(&[mov(R0, 1), exit], 1, "BPF_EXIT uses reserved fields");
    let mut bad = i::exit();
    bad.code = 0xff;
    rejects(&[mov(R0, 1), bad, i::exit()], 1, "unknown opcode ff");
}

#[test]
fn only_a_64_bit_test_against_the_immediate_0_checks_for_null() {
    let deref = [
        i::ldx(Size::DW, R0, R0, 0),
        i::exit(),
        mov(R0, 0),
        i::exit(),
    ];
    let jmp32 = i::jmp32_imm(Cond::Eq, R0, 0, 2);
    rejects(
        &prog(&[&lookup(), &[jmp32], &deref]),
        7,
        "R0 invalid mem access 'map_value_or_null'",
    );
    let via_reg = [mov(R1, 0), i::jmp_reg(Cond::Eq, R0, R1, 2)];
    rejects(
        &prog(&[&lookup(), &via_reg, &deref]),
        8,
        "R0 invalid mem access 'map_value_or_null'",
    );
}

#[test]
fn maps_go_only_to_the_helpers_of_their_type() {
    // A ring buffer has no keys; a hash map is no ring buffer.
    let m = i::ld_imm64_pseudo(R1, pseudo::MAP_FD, 1);
    let lookup_rb = [
        i::st(Size::W, R10, -4, 0),
        movr(R2, R10),
        add(R2, -4),
        m[0],
        m[1],
        i::call_helper(1),
    ];
    rejects(&prog(&[&lookup_rb, &ret0()]), 5, "invalid zero-sized read");
    let mut on_hash = reserve();
    on_hash[..2].copy_from_slice(&i::ld_imm64_pseudo(R1, pseudo::MAP_FD, 0));
    rejects(
        &prog(&[&on_hash, &ret0()]),
        4,
        "cannot pass map_type 1 into func bpf_ringbuf_reserve#131",
    );
}

#[test]
fn void_helpers_leave_r0_uninitialised() {
    let submit_then_exit = [
        i::jmp_imm(Cond::Eq, R0, 0, 3),
        movr(R1, R0),
        mov(R2, 0),
        i::call_helper(132),
        i::exit(),
    ];
    rejects(&prog(&[&reserve(), &submit_then_exit]), 9, "R0 !read_ok");
}

#[test]
fn pointer_arithmetic_rules() {
    rejects(
        &prog(&[&[mov(R0, 100), i::alu64_reg(AluOp::Sub, R0, R10)], &ret0()]),
        1,
        "R0 tried to subtract pointer from scalar",
    );
    // A bounded variable offset into the stack (privileged).
    accepts(&[
        i::call_helper(7),
        i::alu64_imm(AluOp::And, R0, 8),
        movr(R1, R10),
        add(R1, -16),
        i::alu64_reg(AluOp::Add, R1, R0),
        i::st(Size::DW, R1, 0, 1),
        mov(R0, 0),
        i::exit(),
    ]);
}

/// Two unknown registers compared: from 6.8 (`RangeVsRange`) their ranges
/// decide the branch (0..15 is never above 16..31), so the read of R3
/// behind it is dead; 6.1 decides only against a constant and follows it.
#[test]
fn two_ranges_decide_a_branch_only_from_6_8() {
    let insns = [
        i::ldx(Size::DW, R2, R1, 8),
        i::ldx(Size::DW, R1, R1, 0),
        i::alu64_imm(AluOp::And, R1, 15),
        i::alu64_imm(AluOp::And, R2, 15),
        add(R2, 16),
        mov(R0, 0),
        i::jmp_reg(Cond::Gt, R1, R2, 1),
        i::exit(),
        movr(R0, R3),
        i::exit(),
    ];
    rejects_before_accepts_after(&insns, 8, "R3 !read_ok");
    assert!(check_at(&insns, KernelVersion(6, 12)).accepted);
}
