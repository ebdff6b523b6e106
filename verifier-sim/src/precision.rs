//! Which scalars need their exact range for pruning: the static counterpart
//! of the kernel's precision tracking (`mark_chain_precision`). A scalar
//! needs precision when its value may flow — through ALU operations, moves,
//! spills and fills — into something whose verdict depends on it: a
//! conditional jump, pointer arithmetic, a helper's size argument. Other
//! scalars (a histogram bucket stored into a map key, a counter) only need
//! to be scalars, so two states that differ only there are the same for
//! pruning; without this, every bucket value would be its own path.
//!
//! The analysis is backward over the control flow graph and conservative:
//! register-to-register add/sub is taken as possible pointer arithmetic,
//! every conditional jump as decisive, every argument of a subprogram call
//! and every subprogram's return value as needed. Stack slots are tracked
//! by their `r10` offset, flow-insensitively.

use std::collections::BTreeSet;

use probecc::helpers::{self, ArgKind};
use probecc::insn::{alu, atomic, class, jmp, mode, pseudo, size, Insn};

/// Per instruction, the registers whose scalar values need precision from
/// there on; and the `r10` offsets of 8-byte slots whose spilled scalars do.
pub struct Precision {
    pub regs: Vec<u16>,
    pub slots: BTreeSet<i64>,
    /// A load through a pointer other than `r10` feeds something that
    /// needs precision: it may read any slot, of any frame.
    pub all_slots: bool,
}

const R10: u8 = 10;

fn bit(r: u8) -> u16 {
    1 << r
}

/// The aligned slot offset holding byte `off` below `r10`.
pub fn slot_of(off: i64) -> i64 {
    off.div_euclid(8) * 8
}

/// Registers needing precision before `insn`, given those after it; fills
/// from precise-needing loads add their slot to `slots`.
fn transfer(
    insn: &Insn,
    out: u16,
    slots: &mut BTreeSet<i64>,
    all_slots: &mut bool,
    subprogs: bool,
    stack_ptrs: u16,
) -> u16 {
    let (d, s) = (insn.dst, insn.src);
    let x = insn.source() != 0;
    let has = |r: u8| out & bit(r) != 0;
    match insn.class() {
        class::ALU | class::ALU64 => match insn.op() {
            alu::MOV => {
                let kept = out & !bit(d);
                if x && has(d) {
                    kept | bit(s)
                } else {
                    kept
                }
            }
            alu::NEG | alu::END => out,
            alu::ADD | alu::SUB if x => out | bit(d) | bit(s),
            _ if x && has(d) => out | bit(s),
            _ => out,
        },
        class::LD => out & !bit(d),
        class::LDX => {
            if s == R10 && has(d) {
                slots.insert(slot_of(i64::from(insn.off)));
            } else if has(d) && stack_ptrs & bit(s) != 0 {
                *all_slots = true;
            }
            out & !bit(d)
        }
        class::ST => out,
        class::STX if insn.mode() == mode::ATOMIC => {
            if insn.imm == atomic::CMPXCHG {
                out & !1
            } else if insn.imm & atomic::FETCH != 0 {
                out & !bit(s)
            } else {
                out
            }
        }
        class::STX => {
            // Through another pointer it may be any slot that needs precision.
            let through = d != R10 && stack_ptrs & bit(d) != 0 && !slots.is_empty();
            if *all_slots || through || d == R10 && slots.contains(&slot_of(i64::from(insn.off))) {
                out | bit(s)
            } else {
                out
            }
        }
        _ => match insn.op() {
            jmp::EXIT => {
                if subprogs {
                    1
                } else {
                    0
                }
            }
            jmp::CALL if insn.src == pseudo::CALL => (out & !0b11_1111) | 0b11_1110,
            jmp::CALL => {
                let mut sizes = 0u16;
                // How many times a callback runs decides what is explored.
                if crate::call::calls_back(insn.imm) {
                    sizes |= bit(1);
                }
                if let Some(p) = helpers::proto(insn.imm) {
                    for (i, k) in p.args.iter().enumerate() {
                        if matches!(
                            k,
                            ArgKind::ConstSize | ArgKind::ConstSizeOrZero | ArgKind::ConstAllocSize
                        ) {
                            sizes |= bit(i as u8 + 1);
                        }
                    }
                }
                (out & !0b11_1111) | sizes
            }
            jmp::JA => out,
            _ => out | bit(d) | if x { bit(s) } else { 0 },
        },
    }
}

/// The analysis over `insns`; `succ[i]` are the successors of `i` (none
/// for the second half of an `ld_imm64`).
pub fn analyse(insns: &[Insn], succ: &[Vec<usize>], skip: &[bool]) -> Precision {
    let n = insns.len();
    let subprogs = insns.iter().any(|i| i.is_call() && i.src == pseudo::CALL);
    let mut regs = vec![0u16; n];
    let mut slots = BTreeSet::new();
    let mut all_slots = false;
    let stack_ptrs = stack_pointers(insns, succ, skip);
    loop {
        let before = (slots.len(), all_slots);
        let mut changed = true;
        while changed {
            changed = false;
            for i in (0..n).rev() {
                if skip[i] {
                    continue;
                }
                let out = succ[i].iter().fold(0u16, |m, &t| m | regs[t]);
                let inn = transfer(
                    &insns[i],
                    out,
                    &mut slots,
                    &mut all_slots,
                    subprogs,
                    stack_ptrs[i],
                );
                if inn != regs[i] {
                    regs[i] = inn;
                    changed = true;
                }
            }
        }
        if (slots.len(), all_slots) == before {
            return Precision {
                regs,
                slots,
                all_slots,
            };
        }
    }
}

/// Per instruction, the registers that may hold a pointer to a stack
/// (forward, conservative): `r10`, copies and offsets of it, every
/// argument at a function's or callback's entry, a BPF-to-BPF call's
/// return value, and an 8-byte fill once any such pointer may have been
/// spilled. Only loads and stores through these may reach a stack slot.
fn stack_pointers(insns: &[Insn], succ: &[Vec<usize>], skip: &[bool]) -> Vec<u16> {
    const ARGS: u16 = 0b11_1110;
    let n = insns.len();
    let mut at = vec![0u16; n];
    if n > 0 {
        at[0] = bit(R10);
    }
    for (i, insn) in insns.iter().enumerate() {
        let entry = (insn.is_call() && insn.src == pseudo::CALL)
            || (insn.is_ld_imm64() && insn.src == pseudo::FUNC);
        let target = i as i64 + i64::from(insn.imm) + 1;
        if entry && (0..n as i64).contains(&target) {
            at[target as usize] |= ARGS | bit(R10);
        }
    }
    let mut spilled = false;
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..n {
            if skip[i] {
                continue;
            }
            let insn = &insns[i];
            let inn = at[i];
            let (d, s) = (insn.dst, insn.src);
            let x = insn.source() != 0;
            let out = match insn.class() {
                class::ALU64 if insn.op() == alu::MOV && x => {
                    (inn & !bit(d)) | ((inn & bit(s)) >> s << d)
                }
                class::ALU64 if insn.op() == alu::ADD || insn.op() == alu::SUB => {
                    inn | if x && inn & bit(s) != 0 { bit(d) } else { 0 }
                }
                class::ALU | class::ALU64 | class::LD => inn & !bit(d),
                class::LDX if spilled && insn.size() == size::DW => inn | bit(d),
                class::LDX => inn & !bit(d),
                class::STX => {
                    if inn & bit(s) != 0 && !spilled {
                        spilled = true;
                        changed = true;
                    }
                    // an atomic fetch loads into the source register
                    if insn.mode() == mode::ATOMIC && spilled {
                        inn | bit(s)
                    } else {
                        inn
                    }
                }
                class::JMP if insn.is_call() => {
                    let r0 = if insn.src == pseudo::CALL { bit(0) } else { 0 };
                    (inn & !0b11_1111) | r0
                }
                _ => inn,
            };
            for &t in &succ[i] {
                if at[t] | out != at[t] {
                    at[t] |= out;
                    changed = true;
                }
            }
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::insn::{self as i, AluOp, Cond, Reg, Size};

    fn run(insns: &[Insn]) -> Precision {
        let n = insns.len();
        let succ: Vec<Vec<usize>> = (0..n)
            .map(|k| {
                let insn = &insns[k];
                let mut s = vec![];
                let ja = insn.is_jump() && insn.op() == jmp::JA;
                if !(insn.is_exit() || ja) && k + 1 < n {
                    s.push(k + 1);
                }
                if insn.is_jump() && !insn.is_call() && !insn.is_exit() {
                    s.push((k as i64 + 1 + i64::from(insn.off)) as usize);
                }
                s
            })
            .collect();
        analyse(insns, &succ, &vec![false; n])
    }

    #[test]
    fn a_value_only_stored_needs_no_precision_but_one_compared_does() {
        let p = run(&[
            i::alu64_imm(AluOp::Mov, Reg::R2, 3),
            i::stx(Size::DW, Reg::R10, -8, Reg::R2),
            i::alu64_imm(AluOp::Mov, Reg::R3, 4),
            i::jmp_imm(Cond::Gt, Reg::R3, 2, 0),
            i::alu64_imm(AluOp::Mov, Reg::R0, 0),
            i::exit(),
        ]);
        assert_eq!(p.regs[1] & (1 << 2), 0, "r2 is only stored");
        assert_ne!(p.regs[3] & (1 << 3), 0, "r3 decides a jump");
        assert!(p.slots.is_empty());
    }

    #[test]
    fn precision_flows_back_through_moves_spills_and_fills() {
        let p = run(&[
            i::alu64_imm(AluOp::Mov, Reg::R1, 5),
            i::stx(Size::DW, Reg::R10, -16, Reg::R1),
            i::ldx(Size::DW, Reg::R4, Reg::R10, -16),
            i::alu64_reg(AluOp::Mov, Reg::R5, Reg::R4),
            i::jmp_imm(Cond::Eq, Reg::R5, 5, 0),
            i::alu64_imm(AluOp::Mov, Reg::R0, 0),
            i::exit(),
        ]);
        assert!(p.slots.contains(&-16));
        assert_ne!(
            p.regs[1] & (1 << 1),
            0,
            "r1 is spilled to a slot a jump reads"
        );
    }

    /// A value loaded through a pointer that cannot be to the stack (a
    /// map value, r0 of a helper) reads no slot; one loaded through a copy
    /// of `r10` may read any.
    #[test]
    fn only_loads_through_stack_pointers_may_read_any_slot() {
        let compared_after = |base: Insn| {
            run(&[
                base,
                i::ldx(Size::DW, Reg::R4, Reg::R1, 0),
                i::jmp_imm(Cond::Eq, Reg::R4, 5, 0),
                i::alu64_imm(AluOp::Mov, Reg::R0, 0),
                i::exit(),
            ])
        };
        let through_helper_result = compared_after(i::alu64_reg(AluOp::Mov, Reg::R1, Reg::R0));
        assert!(!through_helper_result.all_slots);
        let through_fp_copy = compared_after(i::alu64_reg(AluOp::Mov, Reg::R1, Reg::R10));
        assert!(through_fp_copy.all_slots);
    }
}
