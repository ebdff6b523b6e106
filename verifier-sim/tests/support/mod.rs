//! What the instruction-level suites share: the moves and adds every
//! program starts with.

use probecc::insn::{self as i, AluOp, Insn, Reg};

pub fn mov(r: Reg, v: i32) -> Insn {
    i::alu64_imm(AluOp::Mov, r, v)
}

pub fn movr(d: Reg, s: Reg) -> Insn {
    i::alu64_reg(AluOp::Mov, d, s)
}

pub fn add(r: Reg, v: i32) -> Insn {
    i::alu64_imm(AluOp::Add, r, v)
}
