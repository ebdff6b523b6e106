//! The operands the parts of the code generator hand each other: a place
//! in memory ([`Mem`]), where a variable lives ([`VarLoc`]), the right
//! operand of an ALU operation or a jump ([`Rhs`]), and the instructions
//! over them. It imports nothing else of `lower`, so that `gen`, `int`,
//! `string`, `vars`, `maps` and the rest all import it one way.

use crate::asm;
use crate::insn::{self, AluOp, Cond, Reg};
use crate::lang::ast::BinOp;

/// A place in memory: `base + off`, base r10 or a record pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mem {
    pub base: Reg,
    pub off: i16,
}

impl Mem {
    pub fn stack(off: i16) -> Mem {
        Mem {
            base: Reg::R10,
            off,
        }
    }

    /// The place `d` bytes further.
    pub fn at(self, d: u32) -> Mem {
        Mem {
            base: self.base,
            off: self.off + d as i16,
        }
    }
}

/// Where a variable lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarLoc {
    Reg(Reg),
    Slot(i16),
}

/// The right operand of an operation: an immediate or a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rhs {
    Imm(i32),
    Reg(Reg),
}

/// The ALU operation of an arithmetic operator (division and modulo are
/// unsigned, `>>` logical, as in bpftrace).
pub fn alu_op(op: BinOp) -> Option<AluOp> {
    Some(match op {
        BinOp::Add => AluOp::Add,
        BinOp::Sub => AluOp::Sub,
        BinOp::Mul => AluOp::Mul,
        BinOp::Div => AluOp::Div,
        BinOp::Mod => AluOp::Mod,
        BinOp::BitAnd => AluOp::And,
        BinOp::BitOr => AluOp::Or,
        BinOp::BitXor => AluOp::Xor,
        BinOp::Shl => AluOp::Lsh,
        BinOp::Shr => AluOp::Rsh,
        _ => return None,
    })
}

/// `dst op= rhs` (64-bit).
pub fn alu(op: AluOp, dst: Reg, rhs: Rhs) -> asm::Op {
    match rhs {
        Rhs::Imm(v) => asm::raw(insn::alu64_imm(op, dst, v)),
        Rhs::Reg(r) => asm::raw(insn::alu64_reg(op, dst, r)),
    }
}

/// `if a <cond> rhs goto target`.
pub fn jump(cond: Cond, a: Reg, rhs: Rhs, target: &str) -> asm::Op {
    match rhs {
        Rhs::Imm(v) => asm::jmp_imm(cond, a, v, target),
        Rhs::Reg(r) => asm::jmp_reg(cond, a, r, target),
    }
}
