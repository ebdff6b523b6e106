//! The eBPF instruction set: the 8-byte instruction slot, its opcode fields,
//! constructors for every form the kernel accepts in kprobe programs, and the
//! encoding to and from bytes in either byte order.
//!
//! An [`Insn`] is one 8-byte slot exactly as the kernel's `struct bpf_insn`
//! holds it; a 64-bit immediate load (`ld_imm64`) is two slots, the second with
//! opcode 0 carrying the upper 32 bits. Nothing here knows about labels or maps
//! by name: those are resolved by [`crate::asm`].
//!
//! Byte order: in little-endian objects the register byte is `src << 4 | dst`;
//! in big-endian objects (`bpfeb`, s390x) it is `dst << 4 | src`, and `off`
//! and `imm` are stored big-endian. Opcode and register numbers are the same.

use std::fmt;

/// Instruction classes (the low three bits of the opcode).
pub mod class {
    pub const LD: u8 = 0x00;
    pub const LDX: u8 = 0x01;
    pub const ST: u8 = 0x02;
    pub const STX: u8 = 0x03;
    pub const ALU: u8 = 0x04;
    pub const JMP: u8 = 0x05;
    pub const JMP32: u8 = 0x06;
    pub const ALU64: u8 = 0x07;
}

/// Access sizes of load and store instructions.
pub mod size {
    pub const W: u8 = 0x00;
    pub const H: u8 = 0x08;
    pub const B: u8 = 0x10;
    pub const DW: u8 = 0x18;
}

/// Addressing modes of load and store instructions.
pub mod mode {
    pub const IMM: u8 = 0x00;
    pub const ABS: u8 = 0x20;
    pub const IND: u8 = 0x40;
    pub const MEM: u8 = 0x60;
    pub const MEMSX: u8 = 0x80;
    pub const ATOMIC: u8 = 0xc0;
}

/// Operand source bit of ALU and JMP instructions.
pub mod src {
    /// The 32-bit immediate.
    pub const K: u8 = 0x00;
    /// The source register.
    pub const X: u8 = 0x08;
}

/// ALU operations (the high four bits of an ALU/ALU64 opcode).
pub mod alu {
    pub const ADD: u8 = 0x00;
    pub const SUB: u8 = 0x10;
    pub const MUL: u8 = 0x20;
    pub const DIV: u8 = 0x30;
    pub const OR: u8 = 0x40;
    pub const AND: u8 = 0x50;
    pub const LSH: u8 = 0x60;
    pub const RSH: u8 = 0x70;
    pub const NEG: u8 = 0x80;
    pub const MOD: u8 = 0x90;
    pub const XOR: u8 = 0xa0;
    pub const MOV: u8 = 0xb0;
    pub const ARSH: u8 = 0xc0;
    pub const END: u8 = 0xd0;
}

/// Jump operations (the high four bits of a JMP/JMP32 opcode).
pub mod jmp {
    pub const JA: u8 = 0x00;
    pub const JEQ: u8 = 0x10;
    pub const JGT: u8 = 0x20;
    pub const JGE: u8 = 0x30;
    pub const JSET: u8 = 0x40;
    pub const JNE: u8 = 0x50;
    pub const JSGT: u8 = 0x60;
    pub const JSGE: u8 = 0x70;
    pub const CALL: u8 = 0x80;
    pub const EXIT: u8 = 0x90;
    pub const JLT: u8 = 0xa0;
    pub const JLE: u8 = 0xb0;
    pub const JSLT: u8 = 0xc0;
    pub const JSLE: u8 = 0xd0;
    /// `may_goto` (kernel 6.9+).
    pub const JCOND: u8 = 0xe0;
}

/// Atomic operations: the `imm` field of a `STX | ATOMIC` instruction.
pub mod atomic {
    pub const ADD: i32 = 0x00;
    pub const OR: i32 = 0x40;
    pub const AND: i32 = 0x50;
    pub const XOR: i32 = 0xa0;
    /// Or-ed into ADD/OR/AND/XOR: the old value is returned in `src`.
    pub const FETCH: i32 = 0x01;
    pub const XCHG: i32 = 0xe0 | FETCH;
    pub const CMPXCHG: i32 = 0xf0 | FETCH;
    /// `load_acquire` (kernel 6.15+).
    pub const LOAD_ACQ: i32 = 0x100;
    /// `store_release` (kernel 6.15+).
    pub const STORE_REL: i32 = 0x110;
}

/// `src` values of `ld_imm64` that give the immediate a meaning for the loader.
pub mod pseudo {
    /// Plain 64-bit constant.
    pub const NONE: u8 = 0;
    /// `imm` is a map file descriptor (what `R_BPF_64_64` against a map becomes).
    pub const MAP_FD: u8 = 1;
    /// `imm` is a map fd, second `imm` an offset into its value.
    pub const MAP_VALUE: u8 = 2;
    /// `imm` is a kernel BTF type id of a variable.
    pub const BTF_ID: u8 = 3;
    /// `imm` is a relative instruction offset of a function.
    pub const FUNC: u8 = 4;
    /// `imm` is an index into the fd array.
    pub const MAP_IDX: u8 = 5;
    /// `imm` is an fd array index, second `imm` a value offset.
    pub const MAP_IDX_VALUE: u8 = 6;
    /// `src` of a call instruction: BPF-to-BPF call, `imm` is relative.
    pub const CALL: u8 = 1;
    /// `src` of a call instruction: kernel function by BTF id.
    pub const KFUNC_CALL: u8 = 2;
}

pub use crate::endian::Endian;

/// A BPF register, r0..r10. r10 is the read-only frame pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

impl Reg {
    pub const R0: Reg = Reg(0);
    pub const R1: Reg = Reg(1);
    pub const R2: Reg = Reg(2);
    pub const R3: Reg = Reg(3);
    pub const R4: Reg = Reg(4);
    pub const R5: Reg = Reg(5);
    pub const R6: Reg = Reg(6);
    pub const R7: Reg = Reg(7);
    pub const R8: Reg = Reg(8);
    pub const R9: Reg = Reg(9);
    pub const R10: Reg = Reg(10);
    /// The frame pointer.
    pub const FP: Reg = Reg(10);

    /// A register by number; `None` outside r0..r10.
    pub fn new(n: u8) -> Option<Reg> {
        (n <= 10).then_some(Reg(n))
    }

    pub fn num(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// One 8-byte instruction slot, field for field as `struct bpf_insn`.
///
/// `dst` and `src` are kept as raw 4-bit numbers so that any byte sequence
/// decodes; [`Insn::validate`] says whether they name real registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

/// What is wrong with an instruction slot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsnError {
    #[error("register r{0} does not exist (r0..r10)")]
    BadRegister(u8),
    #[error("instruction stream is {0} bytes, not a multiple of 8")]
    Truncated(usize),
}

impl Insn {
    pub const SIZE: usize = 8;

    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    pub fn class(&self) -> u8 {
        self.code & 0x07
    }

    /// The operation bits of an ALU or JMP opcode.
    pub fn op(&self) -> u8 {
        self.code & 0xf0
    }

    /// The size bits of a load/store opcode.
    pub fn size(&self) -> u8 {
        self.code & 0x18
    }

    /// The mode bits of a load/store opcode.
    pub fn mode(&self) -> u8 {
        self.code & 0xe0
    }

    /// The source bit of an ALU/JMP opcode (`src::K` or `src::X`).
    pub fn source(&self) -> u8 {
        self.code & 0x08
    }

    /// Whether this is the first slot of a 64-bit immediate load.
    pub fn is_ld_imm64(&self) -> bool {
        self.code == class::LD | mode::IMM | size::DW
    }

    pub fn is_call(&self) -> bool {
        self.code == class::JMP | jmp::CALL
    }

    pub fn is_exit(&self) -> bool {
        self.code == class::JMP | jmp::EXIT
    }

    /// Whether this is a jump whose target is `pc + 1 + off` (or `+ imm` for
    /// `gotol`): every JMP/JMP32 except call and exit.
    pub fn is_jump(&self) -> bool {
        matches!(self.class(), class::JMP | class::JMP32)
            && !matches!(self.op(), jmp::CALL | jmp::EXIT)
    }

    /// The relative jump distance, in slots, of a jump instruction: `imm` for
    /// `gotol` (JMP32 | JA), `off` otherwise.
    pub fn jump_offset(&self) -> i64 {
        if self.code == class::JMP32 | jmp::JA {
            self.imm as i64
        } else {
            self.off as i64
        }
    }

    /// Checks that `dst` and `src` name registers where the opcode uses them
    /// as registers.
    pub fn validate(&self) -> Result<(), InsnError> {
        if self.dst > 10 {
            return Err(InsnError::BadRegister(self.dst));
        }
        let src_is_reg = match self.class() {
            class::LDX | class::STX => true,
            class::ALU | class::ALU64 => self.source() == src::X && self.op() != alu::END,
            class::JMP | class::JMP32 => {
                self.source() == src::X && !matches!(self.op(), jmp::CALL | jmp::EXIT | jmp::JA)
            }
            _ => false,
        };
        if src_is_reg && self.src > 10 {
            return Err(InsnError::BadRegister(self.src));
        }
        Ok(())
    }

    /// The 8 bytes of this slot in the given byte order.
    pub fn encode(&self, endian: Endian) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        // The register nibbles swap with the byte order; opcode and
        // register numbers do not.
        b[1] = match endian {
            Endian::Little => (self.src & 0x0f) << 4 | (self.dst & 0x0f),
            Endian::Big => (self.dst & 0x0f) << 4 | (self.src & 0x0f),
        };
        b[2..4].copy_from_slice(&endian.u16_bytes(self.off as u16));
        b[4..8].copy_from_slice(&endian.u32_bytes(self.imm as u32));
        b
    }

    /// Decodes one slot. Any 8 bytes decode; meaning is checked elsewhere.
    pub fn decode(b: [u8; 8], endian: Endian) -> Insn {
        let (dst, src) = match endian {
            Endian::Little => (b[1] & 0x0f, b[1] >> 4),
            Endian::Big => (b[1] >> 4, b[1] & 0x0f),
        };
        let off = endian.read_u16([b[2], b[3]]) as i16;
        let imm = endian.read_u32([b[4], b[5], b[6], b[7]]) as i32;
        Insn {
            code: b[0],
            dst,
            src,
            off,
            imm,
        }
    }
}

/// Encodes a sequence of slots.
pub fn encode_all(insns: &[Insn], endian: Endian) -> Vec<u8> {
    insns.iter().flat_map(|i| i.encode(endian)).collect()
}

/// Decodes a byte stream into slots; its length must be a multiple of 8.
pub fn decode_all(bytes: &[u8], endian: Endian) -> Result<Vec<Insn>, InsnError> {
    if bytes.len() % Insn::SIZE != 0 {
        return Err(InsnError::Truncated(bytes.len()));
    }
    Ok(bytes
        .chunks_exact(Insn::SIZE)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            Insn::decode(b, endian)
        })
        .collect())
}

/// The value a two-slot `ld_imm64` loads.
pub fn ld_imm64_value(first: &Insn, second: &Insn) -> u64 {
    (first.imm as u32 as u64) | ((second.imm as u32 as u64) << 32)
}

// ---------------------------------------------------------------------------
// Constructors: one small function per instruction form. Jumps and calls here
// take numeric offsets; the label-taking forms live in `asm`.
// ---------------------------------------------------------------------------

/// Memory access width, as the DSL names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    /// 1 byte.
    B,
    /// 2 bytes.
    H,
    /// 4 bytes.
    W,
    /// 8 bytes.
    DW,
}

impl Size {
    pub fn bits(self) -> u8 {
        match self {
            Size::B => size::B,
            Size::H => size::H,
            Size::W => size::W,
            Size::DW => size::DW,
        }
    }

    pub fn bytes(self) -> usize {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    /// The size of an access of `n` bytes.
    pub fn from_bytes(n: usize) -> Option<Size> {
        match n {
            1 => Some(Size::B),
            2 => Some(Size::H),
            4 => Some(Size::W),
            8 => Some(Size::DW),
            _ => None,
        }
    }

    pub fn from_bits(bits: u8) -> Size {
        match bits & 0x18 {
            size::B => Size::B,
            size::H => Size::H,
            size::W => Size::W,
            _ => Size::DW,
        }
    }
}

/// An ALU operation, for the generic constructors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    Div,
    /// Signed division (cpu v4).
    SDiv,
    Or,
    And,
    Lsh,
    Rsh,
    Mod,
    /// Signed modulo (cpu v4).
    SMod,
    Xor,
    Mov,
    Arsh,
}

impl AluOp {
    /// The opcode bits and the `off` field that selects the signed variants.
    fn bits(self) -> (u8, i16) {
        match self {
            AluOp::Add => (alu::ADD, 0),
            AluOp::Sub => (alu::SUB, 0),
            AluOp::Mul => (alu::MUL, 0),
            AluOp::Div => (alu::DIV, 0),
            AluOp::SDiv => (alu::DIV, 1),
            AluOp::Or => (alu::OR, 0),
            AluOp::And => (alu::AND, 0),
            AluOp::Lsh => (alu::LSH, 0),
            AluOp::Rsh => (alu::RSH, 0),
            AluOp::Mod => (alu::MOD, 0),
            AluOp::SMod => (alu::MOD, 1),
            AluOp::Xor => (alu::XOR, 0),
            AluOp::Mov => (alu::MOV, 0),
            AluOp::Arsh => (alu::ARSH, 0),
        }
    }
}

/// A conditional jump condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    Eq,
    Ne,
    /// Unsigned `>`.
    Gt,
    Ge,
    Lt,
    Le,
    /// Signed `>`.
    SGt,
    SGe,
    SLt,
    SLe,
    /// `dst & src != 0`.
    Set,
}

impl Cond {
    pub fn bits(self) -> u8 {
        match self {
            Cond::Eq => jmp::JEQ,
            Cond::Ne => jmp::JNE,
            Cond::Gt => jmp::JGT,
            Cond::Ge => jmp::JGE,
            Cond::Lt => jmp::JLT,
            Cond::Le => jmp::JLE,
            Cond::SGt => jmp::JSGT,
            Cond::SGe => jmp::JSGE,
            Cond::SLt => jmp::JSLT,
            Cond::SLe => jmp::JSLE,
            Cond::Set => jmp::JSET,
        }
    }

    /// Every condition.
    pub const ALL: [Cond; 11] = [
        Cond::Eq,
        Cond::Ne,
        Cond::Gt,
        Cond::Ge,
        Cond::Lt,
        Cond::Le,
        Cond::SGt,
        Cond::SGe,
        Cond::SLt,
        Cond::SLe,
        Cond::Set,
    ];

    /// The condition of a conditional jump's operation bits.
    pub fn from_bits(op: u8) -> Option<Cond> {
        Cond::ALL.into_iter().find(|c| c.bits() == op)
    }

    /// The condition of `b op a` when this one is `a op b`.
    pub fn swap(self) -> Cond {
        match self {
            Cond::Gt => Cond::Lt,
            Cond::Ge => Cond::Le,
            Cond::Lt => Cond::Gt,
            Cond::Le => Cond::Ge,
            Cond::SGt => Cond::SLt,
            Cond::SGe => Cond::SLe,
            Cond::SLt => Cond::SGt,
            Cond::SLe => Cond::SGe,
            other => other,
        }
    }

    /// The condition that holds exactly when this one does not.
    pub fn negate(self) -> Option<Cond> {
        Some(match self {
            Cond::Eq => Cond::Ne,
            Cond::Ne => Cond::Eq,
            Cond::Gt => Cond::Le,
            Cond::Ge => Cond::Lt,
            Cond::Lt => Cond::Ge,
            Cond::Le => Cond::Gt,
            Cond::SGt => Cond::SLe,
            Cond::SGe => Cond::SLt,
            Cond::SLt => Cond::SGe,
            Cond::SLe => Cond::SGt,
            Cond::Set => return None,
        })
    }
}

/// An atomic read-modify-write operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    Add,
    Or,
    And,
    Xor,
    FetchAdd,
    FetchOr,
    FetchAnd,
    FetchXor,
    Xchg,
    /// Compares r0 with memory; stores `src` if equal; old value in r0.
    CmpXchg,
}

impl AtomicOp {
    pub fn imm(self) -> i32 {
        match self {
            AtomicOp::Add => atomic::ADD,
            AtomicOp::Or => atomic::OR,
            AtomicOp::And => atomic::AND,
            AtomicOp::Xor => atomic::XOR,
            AtomicOp::FetchAdd => atomic::ADD | atomic::FETCH,
            AtomicOp::FetchOr => atomic::OR | atomic::FETCH,
            AtomicOp::FetchAnd => atomic::AND | atomic::FETCH,
            AtomicOp::FetchXor => atomic::XOR | atomic::FETCH,
            AtomicOp::Xchg => atomic::XCHG,
            AtomicOp::CmpXchg => atomic::CMPXCHG,
        }
    }
}

/// 64-bit ALU with an immediate: `dst op= imm`.
pub fn alu64_imm(op: AluOp, dst: Reg, imm: i32) -> Insn {
    let (bits, off) = op.bits();
    Insn::new(class::ALU64 | bits | src::K, dst.0, 0, off, imm)
}

/// 64-bit ALU with a register: `dst op= src`.
pub fn alu64_reg(op: AluOp, dst: Reg, src_reg: Reg) -> Insn {
    let (bits, off) = op.bits();
    Insn::new(class::ALU64 | bits | src::X, dst.0, src_reg.0, off, 0)
}

/// 32-bit ALU with an immediate: `wdst op= imm` (upper half zeroed).
pub fn alu32_imm(op: AluOp, dst: Reg, imm: i32) -> Insn {
    let (bits, off) = op.bits();
    Insn::new(class::ALU | bits | src::K, dst.0, 0, off, imm)
}

/// 32-bit ALU with a register: `wdst op= wsrc`.
pub fn alu32_reg(op: AluOp, dst: Reg, src_reg: Reg) -> Insn {
    let (bits, off) = op.bits();
    Insn::new(class::ALU | bits | src::X, dst.0, src_reg.0, off, 0)
}

/// `dst = -dst` (64-bit).
pub fn neg64(dst: Reg) -> Insn {
    Insn::new(class::ALU64 | alu::NEG, dst.0, 0, 0, 0)
}

/// `wdst = -wdst` (32-bit).
pub fn neg32(dst: Reg) -> Insn {
    Insn::new(class::ALU | alu::NEG, dst.0, 0, 0, 0)
}

/// Sign-extending move, cpu v4: `dst = (s8|s16|s32) src`; `bits` is 8, 16 or 32.
pub fn movsx64(dst: Reg, src_reg: Reg, bits: i16) -> Insn {
    Insn::new(class::ALU64 | alu::MOV | src::X, dst.0, src_reg.0, bits, 0)
}

/// Sign-extending 32-bit move, cpu v4: `wdst = (s8|s16) wsrc`.
pub fn movsx32(dst: Reg, src_reg: Reg, bits: i16) -> Insn {
    Insn::new(class::ALU | alu::MOV | src::X, dst.0, src_reg.0, bits, 0)
}

/// Byte order conversion to little endian of the low `bits` (16, 32, 64).
pub fn to_le(dst: Reg, bits: i32) -> Insn {
    Insn::new(class::ALU | alu::END | src::K, dst.0, 0, 0, bits)
}

/// Byte order conversion to big endian of the low `bits` (16, 32, 64).
pub fn to_be(dst: Reg, bits: i32) -> Insn {
    Insn::new(class::ALU | alu::END | src::X, dst.0, 0, 0, bits)
}

/// Unconditional byte swap of the low `bits` (16, 32, 64), cpu v4.
pub fn bswap(dst: Reg, bits: i32) -> Insn {
    Insn::new(class::ALU64 | alu::END | src::K, dst.0, 0, 0, bits)
}

/// `dst = *(size *)(src + off)`.
pub fn ldx(size: Size, dst: Reg, src_reg: Reg, off: i16) -> Insn {
    Insn::new(
        class::LDX | mode::MEM | size.bits(),
        dst.0,
        src_reg.0,
        off,
        0,
    )
}

/// Sign-extending load, cpu v4: `dst = *(s8|s16|s32 *)(src + off)`.
pub fn ldxsx(size: Size, dst: Reg, src_reg: Reg, off: i16) -> Insn {
    Insn::new(
        class::LDX | mode::MEMSX | size.bits(),
        dst.0,
        src_reg.0,
        off,
        0,
    )
}

/// `*(size *)(dst + off) = src`.
pub fn stx(size: Size, dst: Reg, off: i16, src_reg: Reg) -> Insn {
    Insn::new(
        class::STX | mode::MEM | size.bits(),
        dst.0,
        src_reg.0,
        off,
        0,
    )
}

/// `*(size *)(dst + off) = imm`.
pub fn st(size: Size, dst: Reg, off: i16, imm: i32) -> Insn {
    Insn::new(class::ST | mode::MEM | size.bits(), dst.0, 0, off, imm)
}

/// Atomic read-modify-write of a 32- or 64-bit word at `dst + off` with `src`.
pub fn atomic_op(size: Size, op: AtomicOp, dst: Reg, off: i16, src_reg: Reg) -> Insn {
    Insn::new(
        class::STX | mode::ATOMIC | size.bits(),
        dst.0,
        src_reg.0,
        off,
        op.imm(),
    )
}

/// `dst = load_acquire((size *)(src + off))` (kernel 6.15+).
pub fn load_acquire(size: Size, dst: Reg, src_reg: Reg, off: i16) -> Insn {
    Insn::new(
        class::STX | mode::ATOMIC | size.bits(),
        dst.0,
        src_reg.0,
        off,
        atomic::LOAD_ACQ,
    )
}

/// `store_release((size *)(dst + off), src)` (kernel 6.15+).
pub fn store_release(size: Size, dst: Reg, off: i16, src_reg: Reg) -> Insn {
    Insn::new(
        class::STX | mode::ATOMIC | size.bits(),
        dst.0,
        src_reg.0,
        off,
        atomic::STORE_REL,
    )
}

/// The two slots of `dst = imm64` with the given pseudo source.
pub fn ld_imm64_pseudo(dst: Reg, src_kind: u8, imm: u64) -> [Insn; 2] {
    [
        Insn::new(
            class::LD | mode::IMM | size::DW,
            dst.0,
            src_kind,
            0,
            imm as u32 as i32,
        ),
        Insn::new(0, 0, 0, 0, (imm >> 32) as u32 as i32),
    ]
}

/// The two slots of `dst = imm64`.
pub fn ld_imm64(dst: Reg, imm: u64) -> [Insn; 2] {
    ld_imm64_pseudo(dst, pseudo::NONE, imm)
}

/// `if dst cond imm goto +off` (64-bit compare).
pub fn jmp_imm(cond: Cond, dst: Reg, imm: i32, off: i16) -> Insn {
    Insn::new(class::JMP | cond.bits() | src::K, dst.0, 0, off, imm)
}

/// `if dst cond src goto +off` (64-bit compare).
pub fn jmp_reg(cond: Cond, dst: Reg, src_reg: Reg, off: i16) -> Insn {
    Insn::new(class::JMP | cond.bits() | src::X, dst.0, src_reg.0, off, 0)
}

/// `if wdst cond imm goto +off` (32-bit compare).
pub fn jmp32_imm(cond: Cond, dst: Reg, imm: i32, off: i16) -> Insn {
    Insn::new(class::JMP32 | cond.bits() | src::K, dst.0, 0, off, imm)
}

/// `if wdst cond wsrc goto +off` (32-bit compare).
pub fn jmp32_reg(cond: Cond, dst: Reg, src_reg: Reg, off: i16) -> Insn {
    Insn::new(
        class::JMP32 | cond.bits() | src::X,
        dst.0,
        src_reg.0,
        off,
        0,
    )
}

/// `goto +off`.
pub fn ja(off: i16) -> Insn {
    Insn::new(class::JMP | jmp::JA, 0, 0, off, 0)
}

/// `gotol +imm`: unconditional jump with a 32-bit offset (cpu v4).
pub fn gotol(imm: i32) -> Insn {
    Insn::new(class::JMP32 | jmp::JA, 0, 0, 0, imm)
}

/// `may_goto +off` (kernel 6.9+).
pub fn may_goto(off: i16) -> Insn {
    Insn::new(class::JMP | jmp::JCOND, 0, 0, off, 0)
}

/// Call of helper `id`.
pub fn call_helper(id: i32) -> Insn {
    Insn::new(class::JMP | jmp::CALL, 0, 0, 0, id)
}

/// BPF-to-BPF call of the function `imm` slots after the next one.
pub fn call_local(imm: i32) -> Insn {
    Insn::new(class::JMP | jmp::CALL, 0, pseudo::CALL, 0, imm)
}

/// Call of a kernel function by its BTF id.
pub fn call_kfunc(btf_id: i32) -> Insn {
    Insn::new(class::JMP | jmp::CALL, 0, pseudo::KFUNC_CALL, 0, btf_id)
}

/// `exit`: return r0.
pub fn exit() -> Insn {
    Insn::new(class::JMP | jmp::EXIT, 0, 0, 0, 0)
}

#[cfg(test)]
mod tests;
