//! Tests of the disassembler: every instruction form's text, checked against
//! `llvm-objdump`'s syntax, in both byte orders.

use super::*;
use crate::insn::{self as i, AluOp, AtomicOp, Cond, Reg, Size};

fn text(insns: &[Insn]) -> String {
    insn_text(insns, 0).0
}

fn raw(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn::new(code, dst, src, off, imm)
}

/// Slots and the text LLVM 19's `llvm-objdump -d --no-print-imm-hex`
/// prints for the first of them (checked against the tool by
/// `llvm::unit_cases_are_what_llvm_19_prints`).
fn llvm19_cases() -> Vec<(Vec<Insn>, &'static str)> {
    let (r0, r1, r2, r6, r10) = (Reg::R0, Reg::R1, Reg::R2, Reg::R6, Reg::R10);
    vec![
        (vec![i::alu64_imm(AluOp::Mov, r1, 0)], "r1 = 0"),
        (vec![i::alu32_imm(AluOp::Mov, r1, 5)], "w1 = 5"),
        (vec![i::alu64_imm(AluOp::Mov, r1, -1)], "r1 = -1"),
        (vec![i::alu32_imm(AluOp::Mov, r1, -1)], "w1 = -1"),
        (vec![i::alu64_reg(AluOp::Mov, r1, r2)], "r1 = r2"),
        (vec![i::alu32_reg(AluOp::Mov, r1, r2)], "w1 = w2"),
        (vec![i::alu64_imm(AluOp::Add, r1, -4)], "r1 += -4"),
        (vec![i::alu32_reg(AluOp::Add, r1, r2)], "w1 += w2"),
        (vec![i::neg64(r1)], "r1 = -r1"),
        (vec![i::neg32(r1)], "w1 = -w1"),
        (vec![i::to_be(r1, 16)], "r1 = be16 r1"),
        (vec![i::to_be(r1, 64)], "r1 = be64 r1"),
        (vec![i::to_le(r1, 32)], "r1 = le32 r1"),
        (
            vec![i::ldx(Size::DW, r0, r1, 112)],
            "r0 = *(u64 *)(r1 + 112)",
        ),
        (vec![i::ldx(Size::W, r0, r1, -8)], "r0 = *(u32 *)(r1 - 8)"),
        (vec![i::ldx(Size::H, r0, r1, 0)], "r0 = *(u16 *)(r1 + 0)"),
        (
            vec![i::ldx(Size::DW, r0, r1, -32768)],
            "r0 = *(u64 *)(r1 - 32768)",
        ),
        (vec![i::stx(Size::W, r10, -4, r6)], "*(u32 *)(r10 - 4) = r6"),
        (vec![i::stx(Size::B, r10, -8, r6)], "*(u8 *)(r10 - 8) = r6"),
        (
            vec![i::atomic_op(Size::DW, AtomicOp::Add, r1, 0, r2)],
            "lock *(u64 *)(r1 + 0) += r2",
        ),
        (
            vec![i::atomic_op(Size::W, AtomicOp::Add, r1, 0, r2)],
            "lock *(u32 *)(r1 + 0) += r2",
        ),
        (
            vec![i::atomic_op(Size::DW, AtomicOp::Or, r1, 0, r2)],
            "lock *(u64 *)(r1 + 0) |= r2",
        ),
        (
            vec![i::atomic_op(Size::DW, AtomicOp::Xor, r1, 0, r2)],
            "lock *(u64 *)(r1 + 0) ^= r2",
        ),
        (
            vec![i::atomic_op(Size::DW, AtomicOp::FetchAdd, r1, 0, r2)],
            "r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)",
        ),
        (
            vec![i::atomic_op(Size::DW, AtomicOp::FetchAnd, r1, 0, r2)],
            "r2 = atomic_fetch_and((u64 *)(r1 + 0), r2)",
        ),
        (
            vec![i::atomic_op(Size::DW, AtomicOp::Xchg, r1, 0, r2)],
            "r2 = xchg_64(r1 + 0, r2)",
        ),
        (
            vec![i::atomic_op(Size::DW, AtomicOp::CmpXchg, r1, 0, r2)],
            "r0 = cmpxchg_64(r1 + 0, r0, r2)",
        ),
        (i::ld_imm64(r1, 1234).to_vec(), "r1 = 1234 ll"),
        (i::ld_imm64(r1, u64::MAX).to_vec(), "r1 = -1 ll"),
        (
            i::ld_imm64(r1, 1 << 63).to_vec(),
            "r1 = -9223372036854775808 ll",
        ),
        (i::ld_imm64(r1, 0xffff_ffff).to_vec(), "r1 = 4294967295 ll"),
        // A map reference as clang and probecc emit it: src 0 and an
        // R_BPF_64_64 relocation, which `-d` does not show.
        (i::ld_imm64(r1, 0).to_vec(), "r1 = 0 ll"),
        (i::ld_imm64_pseudo(r1, 1, 7).to_vec(), "ld_pseudo\tr1, 1, 7"),
        (
            i::ld_imm64_pseudo(r1, 3, u64::MAX).to_vec(),
            "ld_pseudo\tr1, 3, 4294967295",
        ),
        (i::ld_imm64_pseudo(r2, 6, 9).to_vec(), "ld_pseudo\tr2, 6, 9"),
        // The second slot's other fields are ignored; the source is a
        // number, not a register.
        (
            vec![raw(0x18, 1, 0, 0, 7), raw(0x05, 3, 4, 1, 1)],
            "r1 = 4294967303 ll",
        ),
        (
            vec![raw(0x18, 1, 12, 0, 7), raw(0, 0, 0, 0, 0)],
            "ld_pseudo\tr1, 12, 7",
        ),
        (vec![i::jmp_imm(Cond::Eq, r0, 0, 3)], "if r0 == 0 goto +3"),
        (
            vec![i::jmp_reg(Cond::SGt, r1, r2, -5)],
            "if r1 s> r2 goto -5",
        ),
        (vec![i::jmp32_imm(Cond::Lt, r1, 3, 1)], "if w1 < 3 goto +1"),
        (
            vec![i::jmp32_reg(Cond::Lt, r1, r2, 1)],
            "if w1 < w2 goto +1",
        ),
        (vec![i::jmp_imm(Cond::Eq, r1, -1, 1)], "if r1 == -1 goto +1"),
        (vec![i::jmp_imm(Cond::SLe, r1, 4, 1)], "if r1 s<= 4 goto +1"),
        (vec![i::jmp_reg(Cond::Le, r1, r2, 0)], "if r1 <= r2 goto +0"),
        (vec![i::jmp_imm(Cond::Set, r1, 4, 1)], "if r1 & 4 goto +1"),
        (
            vec![i::jmp32_reg(Cond::Set, r1, r2, 1)],
            "if w1 & w2 goto +1",
        ),
        (vec![i::ja(2)], "goto +2"),
        (vec![i::call_helper(1)], "call 1"),
        (vec![i::call_local(-1)], "call -1"),
        (vec![i::call_kfunc(5)], "call 5"),
        (vec![i::exit()], "exit"),
        (vec![i::alu64_imm(AluOp::And, r1, 255)], "r1 &= 255"),
        (vec![i::alu64_imm(AluOp::Lsh, r1, 32)], "r1 <<= 32"),
        (vec![i::alu64_imm(AluOp::Arsh, r1, 32)], "r1 s>>= 32"),
        (vec![i::alu32_imm(AluOp::Arsh, r1, 3)], "w1 s>>= 3"),
        (
            vec![i::alu64_imm(AluOp::Add, r1, i32::MIN)],
            "r1 += -2147483648",
        ),
        (vec![raw(0x20, 0, 0, 0, 4)], "r0 = *(u32 *)skb[4]"),
        (vec![raw(0x50, 0, 3, 0, 4)], "r0 = *(u8 *)skb[r3]"),
        // cpu v4 and store-immediate.
        (vec![i::alu64_reg(AluOp::SDiv, r1, r2)], "r1 s/= r2"),
        (vec![i::alu64_reg(AluOp::SMod, r1, r2)], "r1 s%= r2"),
        (vec![i::alu32_imm(AluOp::SDiv, r1, 3)], "w1 s/= 3"),
        (vec![i::alu64_imm(AluOp::Mod, r1, 3)], "r1 %= 3"),
        (vec![i::alu32_reg(AluOp::Mod, r1, r2)], "w1 %= w2"),
        (vec![i::movsx64(r1, r2, 8)], "r1 = (s8)r2"),
        (vec![i::movsx64(r1, r2, 32)], "r1 = (s32)r2"),
        (vec![i::movsx32(r1, r2, 16)], "w1 = (s16)w2"),
        (vec![i::ldxsx(Size::B, r1, r2, 0)], "r1 = *(s8 *)(r2 + 0)"),
        (vec![i::ldxsx(Size::W, r1, r2, -4)], "r1 = *(s32 *)(r2 - 4)"),
        (vec![i::bswap(r1, 16)], "r1 = bswap16 r1"),
        (vec![i::bswap(r1, 64)], "r1 = bswap64 r1"),
        (vec![i::gotol(5)], "gotol +5"),
        (vec![i::gotol(-70000)], "gotol -70000"),
        (vec![i::may_goto(3)], "may_goto +3"),
        (vec![i::st(Size::DW, r10, -8, 0)], "*(u64 *)(r10 - 8) = 0"),
        (vec![i::st(Size::W, r10, -8, -5)], "*(u32 *)(r10 - 8) = -5"),
        (vec![raw(0x8d, 10, 0, 0, 0)], "callx r10"),
        (
            vec![raw(0xbf, 1, 2, 1, 0x0001_0002)],
            "r1 = addr_space_cast(r2, 1, 2)",
        ),
        (
            vec![raw(0xbf, 3, 0, 1, -1)],
            "r3 = addr_space_cast(r0, 65535, 65535)",
        ),
        // Unused fields are ignored; r11 exists; 12..15 do not.
        (vec![raw(0xb7, 1, 5, 0, 0)], "r1 = 0"),
        (vec![raw(0x05, 1, 0, 2, 5)], "goto +2"),
        (vec![raw(0xd4, 11, 2, 3, 32)], "r11 = le32 r11"),
        (vec![raw(0x87, 1, 2, 7, 9)], "r1 = -r1"),
        (vec![raw(0x8d, 3, 7, 5, -24)], "callx r3"),
        (vec![raw(0xbf, 1, 12, 0, 0)], "<unknown>"),
        (vec![raw(0x95, 0, 0, 0, 4)], "<unknown>"),
        (vec![raw(0xdc, 1, 0, 0, 8)], "<unknown>"),
        (vec![raw(0x8d, 12, 0, 0, 0)], "<unknown>"),
        (vec![raw(0xff, 0, 0, 0, 0)], "<unknown>"),
        (vec![raw(0x18, 1, 0, 5, 7), raw(0, 0, 0, 0, 0)], "<unknown>"),
        // The `off` of an ALU operation must select a variant.
        (vec![raw(0x07, 1, 0, 1, 5)], "<unknown>"),
        (vec![raw(0x0c, 1, 2, -1, 0)], "<unknown>"),
        (vec![raw(0xb7, 1, 0, 8, 5)], "<unknown>"),
        (vec![raw(0x3f, 1, 2, 2, 0)], "<unknown>"),
        (vec![raw(0xbf, 1, 2, 3, 0)], "<unknown>"),
        (vec![raw(0xbc, 1, 2, 32, 0)], "<unknown>"),
        (vec![raw(0xbc, 1, 2, 1, 0)], "<unknown>"),
        // Atomics: operation in imm bits 7..4, fetch iff bits 3..0 are
        // 1, other bits ignored.
        (
            vec![raw(0xdb, 1, 2, 0, 0x101)],
            "r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)",
        ),
        (
            vec![raw(0xdb, 1, 2, 0, 0x208)],
            "lock *(u64 *)(r1 + 0) += r2",
        ),
        (
            vec![raw(0xdb, 1, 2, 0, 0x4c)],
            "lock *(u64 *)(r1 + 0) |= r2",
        ),
        (vec![raw(0xdb, 1, 2, 0, 0xe0)], "<unknown>"),
        (vec![raw(0xdb, 1, 2, 0, 0x10)], "<unknown>"),
        (
            vec![raw(0xc3, 1, 2, 4, 0x208)],
            "lock *(u32 *)(r1 + 4) += r2",
        ),
        (vec![raw(0xd3, 1, 2, 0, 0)], "<unknown>"),
        (vec![raw(0x99, 1, 2, 0, 0)], "<unknown>"),
        (vec![raw(0xdf, 1, 0, 0, 16)], "<unknown>"),
    ]
}

/// 32-bit atomics LLVM 19's default cpu (v1) lacks, as
/// `llvm-objdump-19 --mcpu=v4` prints them (checked by
/// `llvm::unit_cases_are_what_llvm_19_prints`).
fn atomic32_cases() -> Vec<(Insn, &'static str)> {
    let (r1, r2) = (Reg::R1, Reg::R2);
    vec![
        (
            i::atomic_op(Size::W, AtomicOp::Or, r1, 0, r2),
            "lock *(u32 *)(r1 + 0) |= w2",
        ),
        (
            i::atomic_op(Size::W, AtomicOp::And, r1, -8, r2),
            "lock *(u32 *)(r1 - 8) &= w2",
        ),
        (
            i::atomic_op(Size::W, AtomicOp::FetchAdd, r1, 0, r2),
            "w2 = atomic_fetch_add((u32 *)(r1 + 0), w2)",
        ),
        (
            i::atomic_op(Size::W, AtomicOp::FetchXor, r1, 8, r2),
            "w2 = atomic_fetch_xor((u32 *)(r1 + 8), w2)",
        ),
        (
            i::atomic_op(Size::W, AtomicOp::Xchg, r1, 0, r2),
            "w2 = xchg32_32(r1 + 0, w2)",
        ),
        (
            i::atomic_op(Size::W, AtomicOp::CmpXchg, r1, 0, r2),
            "w0 = cmpxchg32_32(r1 + 0, w0, w2)",
        ),
        (
            raw(0xc3, 1, 2, 0, 0x141),
            "w2 = atomic_fetch_or((u32 *)(r1 + 0), w2)",
        ),
    ]
}

#[test]
fn llvm19_forms() {
    for (insns, want) in llvm19_cases() {
        assert_eq!(text(&insns), want, "{insns:?}");
    }
}

#[test]
fn atomic32_forms() {
    for (insn, want) in atomic32_cases() {
        assert_eq!(text(&[insn]), want, "{insn:?}");
    }
}

/// `load_acquire`/`store_release` in LLVM 20+'s syntax: LLVM 19 does not
/// know them.
#[test]
fn acquire_release_forms() {
    let (r0, r1, r2) = (Reg::R0, Reg::R1, Reg::R2);
    let cases: Vec<(Insn, &str)> = vec![
        (
            i::load_acquire(Size::DW, r0, r1, 0),
            "r0 = load_acquire((u64 *)(r1 + 0))",
        ),
        (
            i::load_acquire(Size::B, r0, r1, 2),
            "w0 = load_acquire((u8 *)(r1 + 2))",
        ),
        (
            i::store_release(Size::DW, r1, 0, r2),
            "store_release((u64 *)(r1 + 0), r2)",
        ),
        (
            i::store_release(Size::H, r1, -2, r2),
            "store_release((u16 *)(r1 - 2), w2)",
        ),
        (raw(0xdb, 1, 12, 0, 0x100), "<unknown>"),
        (raw(0xcb, 1, 2, 0, 0x101), "<unknown>"),
    ];
    for (insn, want) in cases {
        assert_eq!(text(&[insn]), want, "{insn:?}");
    }
}

#[test]
fn spans_and_out_of_range() {
    let two = i::ld_imm64(Reg::R1, 7);
    assert_eq!(insn_text(&two, 0), ("r1 = 7 ll".to_string(), 2));
    // An ld_imm64 whose second slot is missing.
    assert_eq!(insn_text(&two[..1], 0), ("<unknown>".to_string(), 1));
    assert_eq!(insn_text(&two, 5), ("<unknown>".to_string(), 1));
    assert_eq!(insn_text(&[], 0), ("<unknown>".to_string(), 1));
}

#[test]
fn program_text_lists_slots_bytes_and_text_and_elides_zeros() {
    let mut insns = vec![i::alu64_reg(AluOp::Mov, Reg::R6, Reg::R1)];
    insns.extend(i::ld_imm64(Reg::R1, 0));
    insns.push(Insn::default());
    insns.push(Insn::default());
    insns.push(i::exit());
    let le = program_text(&insns, Endian::Little);
    assert_eq!(
        le,
        "       0:\tbf 16 00 00 00 00 00 00\tr6 = r1\n\
             \x20      1:\t18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0 ll\n\
             \t\t...\n\
             \x20      5:\t95 00 00 00 00 00 00 00\texit\n"
    );
    let be = program_text(&insns[..1], Endian::Big);
    assert_eq!(be, "       0:\tbf 61 00 00 00 00 00 00\tr6 = r1\n");
    let ls = lines(&insns, Endian::Little);
    assert_eq!(ls.iter().map(Line::span).collect::<Vec<_>>(), [1, 2, 2, 1]);
    assert_eq!(ls[3].render(10), "      15:\t95 00 00 00 00 00 00 00\texit");
}

proptest::proptest! {
    #[test]
    fn any_slots_disassemble_without_panic(
        raw_slots in proptest::collection::vec(proptest::prelude::any::<[u8; 8]>(), 0..8)
    ) {
        let insns: Vec<Insn> = raw_slots.iter().map(|b| Insn::decode(*b, Endian::Little)).collect();
        let listing = lines(&insns, Endian::Little);
        let covered: usize = listing.iter().map(Line::span).sum();
        proptest::prop_assert_eq!(covered, insns.len());
    }
}

mod llvm {
    //! Compares `insn_text` with LLVM 19's `llvm-objdump -d
    //! --no-print-imm-hex` on objects written by probecc's own ELF writer,
    //! and the forms LLVM 19's default cpu lacks with `--mcpu=v4`.

    use super::*;
    use crate::arch::Arch;
    use crate::btf::EncodedBtf;
    use crate::program::{Object, Program};
    use probecc_test_support::{require, Need, XorShift64Star as Rng};
    use std::collections::{BTreeMap, HashMap};
    use std::process::Command;

    const OBJDUMP: &str = "llvm-objdump-19";

    /// Encodings LLVM 19's default `llvm-objdump -d` does not decode, or
    /// misreads, and probecc prints as a later LLVM does.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    enum Gap {
        /// `load_acquire`/`store_release` (`imm` 0x100/0x110, LLVM 20+).
        AcquireRelease,
        /// 32-bit atomics other than the non-fetch add: LLVM 19's
        /// default cpu (v1) has no 32-bit registers; `--mcpu=v4` knows
        /// them.
        Atomic32,
    }

    fn llvm19_gap(insn: &Insn) -> Option<Gap> {
        if insn.class() != class::STX || insn.mode() != mode::ATOMIC {
            return None;
        }
        if matches!(insn.imm, atomic::LOAD_ACQ | atomic::STORE_REL) {
            return Some(Gap::AcquireRelease);
        }
        let plain_add = insn.imm & 0xf0 == atomic::ADD && insn.imm & 0x0f != atomic::FETCH;
        (insn.size() == size::W && !plain_add).then_some(Gap::Atomic32)
    }

    /// What LLVM 19 prints for a gap form: `<unknown>`, or (for a 32-bit
    /// `atomic_fetch_add` and a 32/64-bit `load_acquire`) the non-fetch
    /// `lock` add of the same fields, as it ignores `imm` bits 3..0 of a
    /// 32-bit atomic and bits above 7 of any.
    fn gap_as_llvm19_prints(insn: &Insn) -> Vec<String> {
        let add = Insn::new(insn.code, insn.dst, insn.src, insn.off, atomic::ADD);
        vec![UNKNOWN.to_string(), text(&[add])]
    }

    fn reg_field(rng: &mut Rng) -> u8 {
        if rng.next_u64() % 16 == 0 {
            rng.pick(&[11, 12, 15])
        } else {
            (rng.next_u64() % 11) as u8
        }
    }

    fn imm(rng: &mut Rng) -> i32 {
        match rng.next_u64() % 6 {
            0 => 0,
            1 => -1,
            2 => rng.pick(&[i32::MIN, i32::MAX, 16, 32, 64, 8, 11, 12, 0x1_0002]),
            3 => rng.pick(&[
                0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe0, 0xe1, 0xf1, 0x100, 0x110, 0x101,
                0x108, 0x200, 0x4c,
            ]),
            _ => (rng.next_u64() % 200) as i32 - 100,
        }
    }

    fn off(rng: &mut Rng) -> i16 {
        match rng.next_u64() % 5 {
            0 | 1 => 0,
            2 => rng.pick(&[1, 8, 16, 32, i16::MIN, i16::MAX]),
            _ => (rng.next_u64() % 64) as i16 - 32,
        }
    }

    /// Every opcode with plain operands; every opcode over a grid of
    /// field values; random slots over all 256 opcodes, weighted towards
    /// the known ones; and `ld_imm64` pairs.
    fn corpus() -> Vec<Insn> {
        let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
        let mut out = Vec::new();
        let push = |out: &mut Vec<Insn>, insn: Insn, second: Insn| {
            out.push(insn);
            if insn.code == 0x18 {
                out.push(second);
            }
        };
        for code in 1..=255u8 {
            let plain = Insn::new(code, 1, 2, 1, if code & 0x07 == 4 { 16 } else { 0 });
            push(&mut out, plain, Insn::new(0, 0, 0, 0, 5));
        }
        for code in 1..=255u8 {
            for dst in [1, 11, 12] {
                for src in [2, 12] {
                    for off in [0, 1, -1, 8, 16, 32] {
                        for imm in [
                            0, 1, -1, 16, 32, 64, 0x41, 0xe1, 0xf1, 0x100, 0x110, 0x1_0002,
                        ] {
                            let second = Insn::new(0, 0, 0, 0, imm);
                            push(&mut out, Insn::new(code, dst, src, off, imm), second);
                        }
                    }
                }
            }
        }
        for _ in 0..20000 {
            let code = if rng.next_u64() % 4 == 0 {
                (rng.next_u64() % 255) as u8 + 1
            } else {
                known_code(&mut rng)
            };
            let insn = Insn::new(
                code,
                reg_field(&mut rng),
                reg_field(&mut rng),
                off(&mut rng),
                imm(&mut rng),
            );
            push(&mut out, insn, Insn::new(0, 0, 0, 0, imm(&mut rng)));
        }
        for size in [size::W, size::DW, size::H, size::B] {
            for imm in 0..0x120 {
                out.push(Insn::new(0xc3 | size, 3, 4, -16, imm));
            }
        }
        out.extend(i::ld_imm64(Reg::R1, 0x1122_3344_5566_7788));
        out.extend(i::ld_imm64(Reg::R1, 1 << 63));
        out.extend(i::ld_imm64(Reg::R1, 0));
        for src in 1..=15 {
            out.extend(i::ld_imm64_pseudo(Reg::R2, src, 0x7_0000_0009));
        }
        // The second slot's fields other than imm are ignored.
        out.extend([Insn::new(0x18, 1, 0, 0, 7), Insn::new(0x05, 3, 4, 1, 9)]);
        out
    }

    fn known_code(rng: &mut Rng) -> u8 {
        const CODES: &[u8] = &[
            0x04, 0x05, 0x07, 0x0c, 0x0f, 0x14, 0x15, 0x16, 0x17, 0x18, 0x1c, 0x1d, 0x1e, 0x1f,
            0x20, 0x24, 0x25, 0x26, 0x27, 0x28, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x34, 0x35, 0x36,
            0x37, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x44, 0x47, 0x48, 0x4c, 0x4f, 0x50, 0x54, 0x55,
            0x56, 0x57, 0x5c, 0x5d, 0x5e, 0x5f, 0x61, 0x63, 0x64, 0x65, 0x66, 0x67, 0x69, 0x6b,
            0x6c, 0x6d, 0x6e, 0x6f, 0x71, 0x73, 0x74, 0x75, 0x76, 0x77, 0x79, 0x7b, 0x7c, 0x7d,
            0x7e, 0x7f, 0x84, 0x85, 0x87, 0x8d, 0x95, 0xa4, 0xa5, 0xa6, 0xa7, 0xac, 0xad, 0xae,
            0xaf, 0xb4, 0xb5, 0xb6, 0xb7, 0xbc, 0xbd, 0xbe, 0xbf, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
            0xcc, 0xcd, 0xce, 0xcf, 0xd4, 0xd5, 0xd6, 0xdb, 0xdc, 0xdd, 0xde,
            // cpu v4, store-immediate, jset, may_goto, acquire/release.
            0x62, 0x6a, 0x72, 0x7a, 0x81, 0x89, 0x91, 0x94, 0x97, 0x9c, 0x9f, 0x45, 0x4d, 0x46,
            0x4e, 0x06, 0xe5, 0xd7, 0xcb, 0xd3,
        ];
        rng.pick(CODES)
    }

    /// `(slot, bytes, text)` of each instruction line of `llvm-objdump
    /// -d`, without the ` <sym+0x10>` suffix of jump targets.
    fn parse_objdump(out: &str) -> Vec<(usize, String, String)> {
        out.lines()
            .filter_map(|line| {
                let (idx, rest) = line.split_once(":\t")?;
                let idx = idx.trim().parse().ok()?;
                let (bytes, text) = rest.split_once('\t')?;
                let text = match text.rfind(" <") {
                    Some(p) if text.ends_with('>') => &text[..p],
                    _ => text,
                };
                Some((idx, bytes.to_string(), text.to_string()))
            })
            .collect()
    }

    fn write_object(arch: Arch, insns: &[Insn]) -> Vec<u8> {
        let mut obj = Object::new(arch);
        obj.programs.push(Program {
            name: "f".into(),
            section: "kprobe/f".into(),
            insns: insns.to_vec(),
            map_relocs: vec![],
            ksym_relocs: vec![],
            global_relocs: vec![],
            func_relocs: vec![],
            lines: vec![],
        });
        let btf = EncodedBtf {
            btf: vec![],
            ext: None,
            maps: vec![],
        };
        crate::elf::write_with_btf(&obj, &btf).expect("write")
    }

    /// `llvm-objdump-19 -d --no-print-imm-hex [extra] X.o`.
    fn objdump(bytes: &[u8], tag: &str, extra: &[&str]) -> String {
        let dir = std::env::temp_dir().join(format!("probecc-disasm-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("t.o");
        std::fs::write(&path, bytes).expect("write object");
        let out = Command::new(OBJDUMP)
            .args(["-d", "--no-print-imm-hex"])
            .args(extra)
            .arg(&path)
            .output()
            .expect("run llvm-objdump");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "{OBJDUMP} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// LLVM 19's text by slot.
    fn by_slot(out: &str) -> HashMap<usize, String> {
        parse_objdump(out)
            .into_iter()
            .map(|(slot, _, text)| (slot, text))
            .collect()
    }

    #[test]
    #[ignore = "needs llvm-objdump-19"]
    fn unit_cases_are_what_llvm_19_prints() {
        if !require(&[Need::Tool(OBJDUMP)]) {
            return;
        }
        let cases = llvm19_cases();
        let insns: Vec<Insn> = cases.iter().flat_map(|(c, _)| c.clone()).collect();
        let mut atomics: Vec<Insn> = atomic32_cases().iter().map(|c| c.0).collect();
        atomics.push(i::exit());
        for (arch, tag) in [(Arch::X86_64, "le-unit"), (Arch::S390x, "be-unit")] {
            let theirs = by_slot(&objdump(&write_object(arch, &insns), tag, &[]));
            let mut slot = 0;
            for (case, want) in &cases {
                assert_eq!(
                    theirs.get(&slot).map(String::as_str),
                    Some(*want),
                    "{case:?}"
                );
                slot += case.len();
            }
            let v4 = by_slot(&objdump(&write_object(arch, &atomics), tag, &["--mcpu=v4"]));
            for (slot, (insn, want)) in atomic32_cases().iter().enumerate() {
                assert_eq!(v4.get(&slot).map(String::as_str), Some(*want), "{insn:?}");
            }
        }
    }

    #[test]
    #[ignore = "needs llvm-objdump-19"]
    fn agrees_with_llvm_objdump_19() {
        if !require(&[Need::Tool(OBJDUMP)]) {
            return;
        }
        let insns = corpus();
        for (arch, tag) in [(Arch::X86_64, "le"), (Arch::S390x, "be")] {
            let endian = arch.endian();
            let object = write_object(arch, &insns);
            let theirs = parse_objdump(&objdump(&object, tag, &[]));
            let v4 = by_slot(&objdump(&object, tag, &["--mcpu=v4"]));
            let ours: Vec<(usize, String, String)> = lines(&insns, endian)
                .iter()
                .filter_map(|l| match l {
                    Line::Insn {
                        slot, bytes, text, ..
                    } => Some((*slot, hex_bytes(bytes), text.clone())),
                    Line::Zeros { .. } => None,
                })
                .collect();
            assert_eq!(theirs.len(), ours.len(), "{tag}: line counts differ");
            let mut compared = 0;
            let mut gaps: BTreeMap<Gap, usize> = BTreeMap::new();
            let mut opcodes = [false; 256];
            for (t, o) in theirs.iter().zip(&ours) {
                assert_eq!((t.0, &t.1), (o.0, &o.1), "{tag}: slots or bytes differ");
                let insn = &insns[o.0];
                let what = format!("{tag}: slot {} ({insn:?})", o.0);
                let Some(gap) = llvm19_gap(insn) else {
                    // Also: where either prints `<unknown>`, so does the other.
                    assert_eq!(t.2, o.2, "{what}");
                    compared += 1;
                    opcodes[insn.code as usize] = true;
                    continue;
                };
                assert!(
                    gap_as_llvm19_prints(insn).contains(&t.2),
                    "{what}: LLVM 19 printed {:?} for a {gap:?} form",
                    t.2
                );
                match gap {
                    Gap::Atomic32 => assert_eq!(v4.get(&o.0), Some(&o.2), "{what}: --mcpu=v4"),
                    // LLVM 19 knows neither form under any cpu: the
                    // syntax is checked by `acquire_release_forms`.
                    Gap::AcquireRelease => assert!(
                        o.2 == UNKNOWN
                            || o.2.contains("= load_acquire((u")
                            || o.2.starts_with("store_release((u"),
                        "{what}: {}",
                        o.2
                    ),
                }
                *gaps.entry(gap).or_default() += 1;
            }
            let unseen: Vec<String> = (1..=255)
                .filter(|c| !opcodes[*c])
                .map(|c| format!("{c:#04x}"))
                .collect();
            eprintln!(
                "{tag}: {compared} of {} lines equal to {OBJDUMP}'s, gaps {gaps:?}",
                ours.len()
            );
            assert!(
                unseen.is_empty(),
                "{tag}: opcodes never compared: {unseen:?}"
            );
            assert!(compared > 100_000, "{tag}: only {compared} lines compared");
            assert!(
                gaps.len() == 2 && gaps.values().all(|n| *n > 100),
                "{gaps:?}"
            );
        }
    }
}
