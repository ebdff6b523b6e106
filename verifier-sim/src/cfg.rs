//! The static checks the kernel runs before exploring (`check_cfg`,
//! `resolve_pseudo_ldimm64`, `check_subprogs`): every opcode known, every
//! `ld_imm64` whole, every jump and call inside the program and not into
//! the second half of an `ld_imm64`, no instruction unreachable, no path
//! falling off the end. Also what exploration uses: the prune points (jump
//! targets and the instructions after branches and calls) and, for
//! pruning, the registers each instruction's successors still read.

use probecc::insn::{class, jmp, mode, pseudo, Insn};

use crate::precision::{self, Precision};
use crate::VerifyError;

/// The static facts of one program.
pub struct Cfg {
    pub prune: Vec<bool>,
    /// Registers read before being written from each instruction on.
    pub live: Vec<u16>,
    /// Which scalars pruning must compare exactly.
    pub precision: Precision,
}

fn err(insn: usize, message: impl Into<String>) -> VerifyError {
    VerifyError {
        insn,
        message: message.into(),
    }
}

/// The successors of instruction `i` (fallthrough first).
fn successors(insns: &[Insn], i: usize) -> Vec<i64> {
    let insn = &insns[i];
    let next = i as i64 + if insn.is_ld_imm64() { 2 } else { 1 };
    if insn.is_ld_imm64() && insn.src == pseudo::FUNC {
        // A callback's address: its body is reached from here.
        return vec![next, i as i64 + 1 + i64::from(insn.imm)];
    }
    match insn.class() {
        class::JMP | class::JMP32 => match insn.op() {
            jmp::EXIT => vec![],
            jmp::CALL if insn.src == pseudo::CALL => vec![next, i as i64 + 1 + i64::from(insn.imm)],
            jmp::CALL => vec![next],
            jmp::JA => vec![i as i64 + 1 + insn.jump_offset()],
            _ => vec![next, i as i64 + 1 + i64::from(insn.off)],
        },
        _ => vec![next],
    }
}

/// Checks the program's shape and computes its prune points and liveness.
pub fn analyse(insns: &[Insn], helper_args: &dyn Fn(i32) -> usize) -> Result<Cfg, VerifyError> {
    let n = insns.len();
    if n == 0 {
        return Err(err(0, "empty program"));
    }
    let mut second_half = vec![false; n];
    for i in 0..n {
        let insn = &insns[i];
        if second_half[i] {
            continue;
        }
        if !crate::encoding::known_opcode(insn.code) {
            return Err(err(i, format!("unknown opcode {:02x}", insn.code)));
        }
        if insn.dst > 10 || insn.src > 10 && !insn.is_ld_imm64() {
            return Err(err(i, format!("R{} is invalid", insn.dst.max(insn.src))));
        }
        if insn.is_ld_imm64() {
            if i + 1 >= n || insns[i + 1].code != 0 {
                return Err(err(i, "invalid BPF_LD_IMM insn"));
            }
            second_half[i + 1] = true;
        } else if insn.class() == class::LD {
            return Err(err(
                i,
                "BPF_LD_[ABS|IND] instructions not allowed for this program type",
            ));
        }
    }
    // `check_subprogs`: the last instruction ends every path.
    let last = if n >= 2 && second_half[n - 1] {
        n - 2
    } else {
        n - 1
    };
    let ends = insns[last].is_exit() || (insns[last].is_jump() && insns[last].op() == jmp::JA);
    if !ends || second_half[last] {
        return Err(err(last, "last insn is not an exit or jmp"));
    }
    let mut prune = vec![false; n];
    let mut reached = vec![false; n];
    let mut work = vec![0usize];
    reached[0] = true;
    while let Some(i) = work.pop() {
        let succ = successors(insns, i);
        let branches = succ.len() > 1;
        for (k, &t) in succ.iter().enumerate() {
            if t < 0 || t >= n as i64 {
                return Err(err(i, format!("jump out of range from insn {i} to {t}")));
            }
            let t = t as usize;
            if second_half[t] {
                return Err(err(
                    i,
                    format!("jump into the middle of ldimm64 insn {}", t - 1),
                ));
            }
            if branches || k > 0 || insns[i].is_jump() {
                prune[t] = true;
            }
            if !reached[t] {
                reached[t] = true;
                work.push(t);
            }
        }
    }
    if let Some(i) = (0..n).find(|&i| !reached[i] && !second_half[i]) {
        return Err(err(i, format!("unreachable insn {i}")));
    }
    let succ = flow(insns, &second_half);
    Ok(Cfg {
        prune,
        live: liveness(insns, &second_half, &succ, helper_args),
        precision: precision::analyse(insns, &succ, &second_half),
    })
}

/// Registers read (`uses`) and written (`defs`) by one instruction.
fn uses_defs(insn: &Insn, helper_args: &dyn Fn(i32) -> usize) -> (u16, u16) {
    let bit = |r: u8| 1u16 << r;
    let args = |n: usize| (1..=n as u8).fold(0u16, |m, r| m | bit(r));
    let (d, s) = (insn.dst, insn.src);
    let x = insn.source() != 0;
    match insn.class() {
        class::ALU | class::ALU64 => {
            let op = insn.op();
            let mut uses = if op == 0xb0 { 0 } else { bit(d) };
            if x && op != 0x80 && op != 0xd0 {
                uses |= bit(s);
            }
            (uses, bit(d))
        }
        class::LDX => (bit(s), bit(d)),
        class::ST => (bit(d), 0),
        class::STX => {
            if insn.mode() == mode::ATOMIC {
                let cmpxchg = insn.imm == probecc::insn::atomic::CMPXCHG;
                let fetch = insn.imm & probecc::insn::atomic::FETCH != 0;
                let uses = bit(d) | bit(s) | if cmpxchg { 1 } else { 0 };
                let defs = if cmpxchg {
                    1
                } else if fetch {
                    bit(s)
                } else {
                    0
                };
                (uses, defs)
            } else {
                (bit(d) | bit(s), 0)
            }
        }
        class::LD => (0, bit(d)),
        _ => match insn.op() {
            jmp::EXIT => (1, 0),
            jmp::CALL if insn.src == pseudo::CALL => (args(5), 0b11_1111),
            jmp::CALL => (args(helper_args(insn.imm).min(5)), 0b11_1111),
            jmp::JA => (0, 0),
            _ => (bit(d) | if x { bit(s) } else { 0 }, 0),
        },
    }
}

/// The successors the dataflow analyses follow: a subprogram call
/// continues after the call with r6-r9 kept (the callee's entry is not
/// where the caller's values flow).
fn flow(insns: &[Insn], second_half: &[bool]) -> Vec<Vec<usize>> {
    let n = insns.len();
    (0..n)
        .map(|i| {
            if second_half[i] {
                return vec![];
            }
            let mut s: Vec<usize> = successors(insns, i)
                .into_iter()
                .filter_map(|t| usize::try_from(t).ok().filter(|&t| t < n))
                .collect();
            let func_addr = insns[i].is_ld_imm64() && insns[i].src == pseudo::FUNC;
            if func_addr || insns[i].is_call() && insns[i].src == pseudo::CALL {
                s.truncate(1);
            }
            s
        })
        .collect()
}

/// Backward dataflow: registers live at each instruction.
fn liveness(
    insns: &[Insn],
    second_half: &[bool],
    succ: &[Vec<usize>],
    helper_args: &dyn Fn(i32) -> usize,
) -> Vec<u16> {
    let n = insns.len();
    let mut live = vec![0u16; n];
    let ud: Vec<(u16, u16)> = insns.iter().map(|i| uses_defs(i, helper_args)).collect();
    let mut changed = true;
    while changed {
        changed = false;
        for i in (0..n).rev() {
            if second_half[i] {
                continue;
            }
            let out = succ[i].iter().fold(0u16, |m, &t| m | live[t]);
            let (uses, defs) = ud[i];
            let inn = uses | (out & !defs);
            if inn != live[i] {
                live[i] = inn;
                changed = true;
            }
        }
    }
    live
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::insn::{self as i, AluOp, Cond, Reg};

    fn none(_: i32) -> usize {
        0
    }

    #[test]
    fn shapes_the_kernel_rejects() {
        let exit = i::exit();
        let mov0 = i::alu64_imm(AluOp::Mov, Reg::R0, 0);
        let e = analyse(&[mov0, i::ja(5), exit], &none).err().unwrap();
        assert_eq!(e.message, "jump out of range from insn 1 to 7");
        let e = analyse(&[mov0, i::ja(1), mov0, exit], &none).err().unwrap();
        assert_eq!(e.message, "unreachable insn 2");
        let e = analyse(&[mov0], &none).err().unwrap();
        assert_eq!(e.message, "last insn is not an exit or jmp");
        let ld = i::ld_imm64(Reg::R1, 7);
        let e = analyse(
            &[
                mov0,
                i::jmp_imm(Cond::Eq, Reg::R0, 0, 1),
                ld[0],
                ld[1],
                exit,
            ],
            &none,
        )
        .err()
        .unwrap();
        assert_eq!(e.message, "jump into the middle of ldimm64 insn 2");
    }

    #[test]
    fn liveness_follows_reads() {
        let prog = [
            i::alu64_imm(AluOp::Mov, Reg::R2, 1),
            i::alu64_reg(AluOp::Mov, Reg::R0, Reg::R2),
            i::exit(),
        ];
        let cfg = analyse(&prog, &none).unwrap();
        assert_eq!(cfg.live[2], 1);
        assert_eq!(cfg.live[1], 1 << 2);
        assert_eq!(cfg.live[0], 0);
    }
}
