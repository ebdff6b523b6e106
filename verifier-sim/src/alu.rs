//! ALU instructions (`check_alu_op`): scalar operations at 64 and 32 bits
//! through [`crate::scalar`], the cpu v4 forms (sign extension, signed
//! division, byte swaps), and pointer arithmetic with its rules (which
//! operations a pointer allows, bounds a variable offset must have).

use probecc::insn::{alu, class, Insn};

use crate::reg::{Ptr, PtrKind, RegState};
use crate::scalar::{self, AluOp, Scalar};
use crate::state::State;
use crate::verify::{err, Verifier};
use crate::VerifyError;

impl Verifier<'_> {
    pub(crate) fn alu(&mut self, s: &mut State, pc: usize, insn: &Insn) -> Result<(), VerifyError> {
        let is64 = insn.class() == class::ALU64;
        let x = insn.source() != 0;
        let op = insn.op();
        let (d, sr) = (insn.dst, insn.src);
        if op == alu::END {
            if !matches!(insn.imm, 16 | 32 | 64) || sr != 0 {
                return Err(err(pc, "BPF_END uses reserved fields"));
            }
            let v = self.read(s, pc, d)?;
            let r = match v.scalar().and_then(|s| s.as_const()) {
                Some(c) => RegState::constant(swap(c, insn.imm as u32, x || is64)),
                None => match insn.imm {
                    64 => RegState::unknown(),
                    bits => RegState::Scalar(Scalar::up_to((1u64 << bits) - 1)),
                },
            };
            return self.write(s, pc, d, r);
        }
        if op == alu::NEG {
            let v = self.read(s, pc, d)?;
            let r = match v {
                RegState::Scalar(a) => match a.as_const() {
                    Some(c) if is64 => RegState::constant(c.wrapping_neg()),
                    Some(c) => RegState::constant(u64::from((c as u32).wrapping_neg())),
                    None => RegState::unknown(),
                },
                // A privileged program may negate a pointer: a number.
                _ => RegState::unknown(),
            };
            return self.write(s, pc, d, r);
        }
        if !x && sr != 0 {
            return Err(err(pc, "BPF_ALU uses reserved fields"));
        }
        let src = if x {
            self.read(s, pc, sr)?
        } else {
            let imm = if is64 {
                insn.imm as i64 as u64
            } else {
                u64::from(insn.imm as u32)
            };
            RegState::constant(imm)
        };
        if op == alu::MOV {
            if insn.off != 0 {
                // movsx: sign extension of the low 8/16/32 bits.
                let v = match src.scalar().and_then(|s| s.as_const()) {
                    Some(c) => RegState::constant(sign_extend(c, insn.off as u32, is64)),
                    None => RegState::unknown(),
                };
                return self.write(s, pc, d, v);
            }
            let v = match (src, is64) {
                (v, true) => v,
                (RegState::Scalar(a), false) => RegState::Scalar(a.low32()),
                // A 32-bit copy of a pointer is a number (privileged).
                (_, false) => RegState::Scalar(Scalar::up_to(u64::from(u32::MAX))),
            };
            return self.write(s, pc, d, v);
        }
        let Some(aop) = alu_op(op) else {
            return Err(err(pc, format!("invalid BPF_ALU opcode {op:x}")));
        };
        if !x && matches!(aop, AluOp::Div | AluOp::Mod) && insn.imm == 0 {
            return Err(err(pc, "div by zero"));
        }
        let width = if is64 { 64 } else { 32 };
        if !x
            && matches!(aop, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh)
            && !(0..width).contains(&insn.imm)
        {
            return Err(err(pc, format!("invalid shift {}", insn.imm)));
        }
        let dst = self.read(s, pc, d)?;
        if matches!(aop, AluOp::Div | AluOp::Mod) && insn.off == 1 {
            // Signed division and modulo (cpu v4): known only of constants.
            let r = match (
                dst.scalar().and_then(Scalar::as_const),
                src.scalar().and_then(Scalar::as_const),
            ) {
                (Some(a), Some(b)) => RegState::constant(signed_div(aop, a, b, is64)),
                _ if matches!((dst, src), (RegState::Scalar(_), RegState::Scalar(_))) => {
                    RegState::unknown()
                }
                _ => return Err(err(pc, ptr_op_prohibited(d, aop))),
            };
            return self.write(s, pc, d, r);
        }
        let r = self.alu_values(pc, d, aop, dst, src, is64)?;
        self.write(s, pc, d, r)
    }

    #[allow(clippy::too_many_arguments)]
    fn alu_values(
        &mut self,
        pc: usize,
        d: u8,
        aop: AluOp,
        dst: RegState,
        src: RegState,
        is64: bool,
    ) -> Result<RegState, VerifyError> {
        match (dst, src) {
            (RegState::Scalar(a), RegState::Scalar(b)) => Ok(RegState::Scalar(if is64 {
                scalar::alu64(aop, &a, &b)
            } else {
                scalar::alu32(aop, &a, &b)
            })),
            (RegState::Ptr(p), RegState::Scalar(b)) => {
                self.ptr_math(pc, d, aop, p, b, is64, PtrSide::Dst)
            }
            (RegState::Scalar(a), RegState::Ptr(p)) => {
                self.ptr_math(pc, d, aop, p, a, is64, PtrSide::Src)
            }
            // Two pointers: only a privileged subtraction, which gives a
            // number (`adjust_reg_min_max_vals`).
            (RegState::Ptr(_), RegState::Ptr(_)) if aop == AluOp::Sub => Ok(RegState::unknown()),
            (RegState::Ptr(_), RegState::Ptr(_)) => Err(err(
                pc,
                format!("R{d} pointer {} pointer prohibited", op_sym(aop)),
            )),
            _ => Err(err(pc, format!("R{d} !read_ok"))),
        }
    }

    /// Pointer arithmetic (`adjust_ptr_min_max_vals`), in the kernel's
    /// order of checks: 32-bit, NULL, the pointer's kind, then the operator.
    #[allow(clippy::too_many_arguments)]
    fn ptr_math(
        &mut self,
        pc: usize,
        d: u8,
        aop: AluOp,
        p: Ptr,
        b: Scalar,
        is64: bool,
        side: PtrSide,
    ) -> Result<RegState, VerifyError> {
        let name = RegState::Ptr(p).type_name();
        if !is64 {
            // A privileged program may subtract: a meaningless number.
            if aop == AluOp::Sub {
                return Ok(RegState::unknown());
            }
            return Err(err(
                pc,
                format!("R{d} 32-bit pointer arithmetic prohibited"),
            ));
        }
        if p.or_null {
            return Err(err(
                pc,
                format!("R{d} pointer arithmetic on {name} prohibited, null-check it first"),
            ));
        }
        match p.kind {
            // `map_ptr += 0` is allowed, nothing else on a map pointer.
            PtrKind::Map { .. } if aop == AluOp::Add && b.as_const() == Some(0) => {
                return Ok(RegState::Ptr(p))
            }
            PtrKind::Map { .. } | PtrKind::Func { .. } => {
                return Err(err(
                    pc,
                    format!("R{d} pointer arithmetic on {name} prohibited"),
                ))
            }
            _ => {}
        }
        if !matches!(aop, AluOp::Add | AluOp::Sub) {
            return Err(err(pc, ptr_op_prohibited(d, aop)));
        }
        if b.smin == i64::MIN && b.as_const().is_none() {
            return Err(err(
                pc,
                format!("math between {name} pointer and register with unbounded min value is not allowed"),
            ));
        }
        if aop == AluOp::Sub {
            if side == PtrSide::Src {
                return Err(err(
                    pc,
                    format!("R{d} tried to subtract pointer from scalar"),
                ));
            }
            // JITs may not cope with a frame pointer moved down by subtraction.
            if matches!(p.kind, PtrKind::Stack { .. }) {
                return Err(err(
                    pc,
                    format!("R{d} subtraction from stack pointer prohibited"),
                ));
            }
        }
        let mut q = p;
        match b.as_const() {
            Some(c) => {
                let c = c as i64;
                q.off = if aop == AluOp::Add {
                    p.off.checked_add(c)
                } else {
                    p.off.checked_sub(c)
                }
                .filter(|o| o.unsigned_abs() < 1 << 29)
                .ok_or_else(|| {
                    err(
                        pc,
                        format!("math between {name} pointer and {c} is not allowed"),
                    )
                })?;
            }
            None => {
                q.var = if aop == AluOp::Add {
                    scalar::alu64(AluOp::Add, &p.var, &b)
                } else {
                    scalar::alu64(AluOp::Sub, &p.var, &b)
                };
                // A new variable offset breaks the link to copies.
                q.id = 0;
            }
        }
        Ok(RegState::Ptr(q))
    }
}

/// Which operand of an ALU operation is the pointer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PtrSide {
    Dst,
    Src,
}

fn alu_op(op: u8) -> Option<AluOp> {
    Some(match op {
        alu::ADD => AluOp::Add,
        alu::SUB => AluOp::Sub,
        alu::MUL => AluOp::Mul,
        alu::DIV => AluOp::Div,
        alu::MOD => AluOp::Mod,
        alu::OR => AluOp::Or,
        alu::AND => AluOp::And,
        alu::XOR => AluOp::Xor,
        alu::LSH => AluOp::Lsh,
        alu::RSH => AluOp::Rsh,
        alu::ARSH => AluOp::Arsh,
        _ => return None,
    })
}

/// The kernel's complaint about an operation other than add/sub on a
/// pointer.
fn ptr_op_prohibited(d: u8, aop: AluOp) -> String {
    if matches!(aop, AluOp::And | AluOp::Or | AluOp::Xor) {
        format!(
            "R{d} bitwise operator {} on pointer prohibited",
            op_sym(aop)
        )
    } else {
        format!(
            "R{d} pointer arithmetic with {} operator prohibited",
            op_sym(aop)
        )
    }
}

fn op_sym(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div => "/=",
        AluOp::Mod => "%=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Xor => "^=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Arsh => "s>>=",
    }
}

/// `bswap`/`to_be`/`to_le` of a known value (the host-independent meaning:
/// `to_le` on a little-endian CPU only truncates).
fn swap(v: u64, bits: u32, to_be: bool) -> u64 {
    let low = if bits == 64 {
        v
    } else {
        v & ((1u64 << bits) - 1)
    };
    if !to_be {
        return low;
    }
    match bits {
        16 => u64::from((low as u16).swap_bytes()),
        32 => u64::from((low as u32).swap_bytes()),
        _ => low.swap_bytes(),
    }
}

/// `a s/ b` or `a s% b` as the CPU computes them for BPF: by zero, 0 and
/// `a`; the most negative number divided by -1 stays itself.
fn signed_div(op: AluOp, a: u64, b: u64, is64: bool) -> u64 {
    if is64 {
        let (a, b) = (a as i64, b as i64);
        let r = match (op, b) {
            (AluOp::Div, 0) => 0,
            (AluOp::Mod, 0) => a,
            (AluOp::Div, _) => a.wrapping_div(b),
            _ => a.wrapping_rem(b),
        };
        r as u64
    } else {
        let (a, b) = (a as u32 as i32, b as u32 as i32);
        let r = match (op, b) {
            (AluOp::Div, 0) => 0,
            (AluOp::Mod, 0) => a,
            (AluOp::Div, _) => a.wrapping_div(b),
            _ => a.wrapping_rem(b),
        };
        u64::from(r as u32)
    }
}

fn sign_extend(v: u64, bits: u32, is64: bool) -> u64 {
    let shift = 64 - bits.clamp(1, 64);
    let r = (((v << shift) as i64) >> shift) as u64;
    if is64 {
        r
    } else {
        u64::from(r as u32)
    }
}
