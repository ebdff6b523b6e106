//! Tests of the instruction set: constructors, validation, and encoding and
//! decoding in both byte orders (property-tested).

use super::*;
use proptest::prelude::*;

#[test]
fn register_byte_order_differs_by_endianness() {
    let i = ldx(Size::DW, Reg::R6, Reg::R1, 112);
    assert_eq!(i.encode(Endian::Little), [0x79, 0x16, 112, 0, 0, 0, 0, 0]);
    assert_eq!(i.encode(Endian::Big), [0x79, 0x61, 0, 112, 0, 0, 0, 0]);
}

#[test]
fn ld_imm64_splits_value_over_two_slots() {
    let [a, b] = ld_imm64(Reg::R1, 0x1122_3344_5566_7788);
    assert!(a.is_ld_imm64());
    assert_eq!(b.code, 0);
    assert_eq!(ld_imm64_value(&a, &b), 0x1122_3344_5566_7788);
}

#[test]
fn truncated_stream_is_an_error() {
    assert_eq!(
        decode_all(&[0u8; 12], Endian::Little),
        Err(InsnError::Truncated(12))
    );
}

#[test]
fn validate_rejects_register_eleven() {
    let bad = Insn::new(class::ALU64 | alu::MOV | src::X, 1, 11, 0, 0);
    assert_eq!(bad.validate(), Err(InsnError::BadRegister(11)));
    let bad_dst = Insn::new(class::ALU64 | alu::MOV | src::K, 12, 0, 0, 0);
    assert_eq!(bad_dst.validate(), Err(InsnError::BadRegister(12)));
    assert!(mov_ok().validate().is_ok());
}

fn mov_ok() -> Insn {
    alu64_imm(AluOp::Mov, Reg::R0, 0)
}

fn reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_map(Reg)
}

fn alu_op() -> impl Strategy<Value = AluOp> {
    prop::sample::select(vec![
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::SDiv,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Mod,
        AluOp::SMod,
        AluOp::Xor,
        AluOp::Mov,
        AluOp::Arsh,
    ])
}

fn cond() -> impl Strategy<Value = Cond> {
    prop::sample::select(Cond::ALL.to_vec())
}

fn size_() -> impl Strategy<Value = Size> {
    prop::sample::select(vec![Size::B, Size::H, Size::W, Size::DW])
}

fn atomic_op_() -> impl Strategy<Value = AtomicOp> {
    prop::sample::select(vec![
        AtomicOp::Add,
        AtomicOp::Or,
        AtomicOp::And,
        AtomicOp::Xor,
        AtomicOp::FetchAdd,
        AtomicOp::FetchOr,
        AtomicOp::FetchAnd,
        AtomicOp::FetchXor,
        AtomicOp::Xchg,
        AtomicOp::CmpXchg,
    ])
}

/// Every instruction form the constructors can build.
pub(crate) fn any_form() -> impl Strategy<Value = Vec<Insn>> {
    prop_oneof![
        (alu_op(), reg(), any::<i32>()).prop_map(|(o, d, i)| vec![alu64_imm(o, d, i)]),
        (alu_op(), reg(), reg()).prop_map(|(o, d, s)| vec![alu64_reg(o, d, s)]),
        (alu_op(), reg(), any::<i32>()).prop_map(|(o, d, i)| vec![alu32_imm(o, d, i)]),
        (alu_op(), reg(), reg()).prop_map(|(o, d, s)| vec![alu32_reg(o, d, s)]),
        reg().prop_map(|d| vec![neg64(d), neg32(d)]),
        (reg(), reg(), prop::sample::select(vec![8i16, 16, 32]))
            .prop_map(|(d, s, b)| vec![movsx64(d, s, b), movsx32(d, s, b.min(16))]),
        (reg(), prop::sample::select(vec![16, 32, 64])).prop_map(|(d, b)| vec![
            to_le(d, b),
            to_be(d, b),
            bswap(d, b)
        ]),
        (size_(), reg(), reg(), any::<i16>()).prop_map(|(z, d, s, o)| vec![ldx(z, d, s, o)]),
        (size_(), reg(), reg(), any::<i16>()).prop_map(|(z, d, s, o)| vec![ldxsx(z, d, s, o)]),
        (size_(), reg(), any::<i16>(), reg()).prop_map(|(z, d, o, s)| vec![stx(z, d, o, s)]),
        (size_(), reg(), any::<i16>(), any::<i32>()).prop_map(|(z, d, o, i)| vec![st(z, d, o, i)]),
        (
            prop::sample::select(vec![Size::W, Size::DW]),
            atomic_op_(),
            reg(),
            any::<i16>(),
            reg()
        )
            .prop_map(|(z, op, d, o, s)| vec![atomic_op(z, op, d, o, s)]),
        (size_(), reg(), reg(), any::<i16>())
            .prop_map(|(z, d, s, o)| vec![load_acquire(z, d, s, o), store_release(z, d, o, s)]),
        (reg(), 0u8..=6, any::<u64>()).prop_map(|(d, p, v)| ld_imm64_pseudo(d, p, v).to_vec()),
        (cond(), reg(), any::<i32>(), any::<i16>())
            .prop_map(|(c, d, i, o)| vec![jmp_imm(c, d, i, o), jmp32_imm(c, d, i, o)]),
        (cond(), reg(), reg(), any::<i16>())
            .prop_map(|(c, d, s, o)| vec![jmp_reg(c, d, s, o), jmp32_reg(c, d, s, o)]),
        (any::<i16>(), any::<i32>()).prop_map(|(o, i)| vec![ja(o), gotol(i), may_goto(o)]),
        any::<i32>().prop_map(|i| vec![call_helper(i), call_local(i), call_kfunc(i), exit()]),
    ]
}

fn endian() -> impl Strategy<Value = Endian> {
    prop::sample::select(vec![Endian::Little, Endian::Big])
}

proptest! {
    #[test]
    fn encode_decode_round_trips(insns in any_form(), e in endian()) {
        for i in &insns {
            prop_assert!(i.validate().is_ok());
        }
        let bytes = encode_all(&insns, e);
        prop_assert_eq!(bytes.len(), insns.len() * 8);
        prop_assert_eq!(decode_all(&bytes, e).unwrap(), insns);
    }

    #[test]
    fn byte_orders_differ_only_in_field_layout(insns in any_form()) {
        for i in &insns {
            let le = i.encode(Endian::Little);
            let be = i.encode(Endian::Big);
            prop_assert_eq!(le[0], be[0]);
            prop_assert_eq!(le[1], be[1].rotate_left(4));
            prop_assert_eq!([le[2], le[3]], [be[3], be[2]]);
            prop_assert_eq!([le[4], le[5], le[6], le[7]], [be[7], be[6], be[5], be[4]]);
        }
    }

    #[test]
    fn any_bytes_decode_and_reencode(b in any::<[u8; 8]>(), e in endian()) {
        prop_assert_eq!(Insn::decode(b, e).encode(e), b);
    }
}
