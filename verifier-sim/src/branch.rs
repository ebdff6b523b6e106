//! Conditional jumps (`check_cond_jmp_op`): a branch decided when the
//! kernel decides it, both ways followed otherwise, each with what the
//! comparison teaches (bounds of scalars at 64 or 32 bits, a pointer
//! known NULL or not), as the judging release's rules allow.

use probecc::insn::Insn;

use crate::reg::{Ptr, RegState};
use crate::release::Change;
use crate::scalar::{self, Cmp, Scalar};
use crate::state::State;
use crate::verify::{err, Step, Verifier};
use crate::VerifyError;

impl Verifier<'_> {
    pub(crate) fn cond(
        &mut self,
        s: &mut State,
        pc: usize,
        insn: &Insn,
        cmp: Cmp,
        is32: bool,
    ) -> Result<Step, VerifyError> {
        let x = insn.source() != 0;
        let (d, sr) = (insn.dst, insn.src);
        if !x && sr != 0 {
            return Err(err(pc, "BPF_JMP/JMP32 uses reserved fields"));
        }
        let a = self.read(s, pc, d)?;
        let b = if x {
            self.read(s, pc, sr)?
        } else if is32 {
            RegState::constant(u64::from(insn.imm as u32))
        } else {
            RegState::constant(insn.imm as i64 as u64)
        };
        let taken = (pc as i64 + 1 + i64::from(insn.off)) as usize;
        let next = pc + 1;
        // A maybe-NULL pointer against the immediate 0: the null check
        // (`mark_ptr_or_null_regs`, 64-bit BPF_K only). A valid pointer
        // against a known 0 decides the branch (`is_branch_taken`).
        if let (RegState::Ptr(p), Some(0), Cmp::Eq | Cmp::Ne, false) =
            (a, b.scalar().and_then(Scalar::as_const), cmp, is32)
        {
            if p.or_null && x {
                return Ok(Step::Fork(next, Box::new(s.clone()), taken));
            }
            if p.or_null {
                let (mut null, mut nonnull) = (s.clone(), s.clone());
                mark_null(&mut null, p, true);
                mark_null(&mut nonnull, p, false);
                let (t, f) = if cmp == Cmp::Eq {
                    (null, nonnull)
                } else {
                    (nonnull, null)
                };
                *s = f;
                return Ok(Step::Fork(next, Box::new(t), taken));
            }
            // A kernel struct's pointer may be NULL at run time, and
            // the check teaches nothing (its loads stay allowed).
            if matches!(p.kind, crate::reg::PtrKind::BtfId { .. }) {
                return Ok(Step::Fork(next, Box::new(s.clone()), taken));
            }
            // A pointer that cannot be NULL is never equal to 0.
            let is_eq = cmp == Cmp::Eq;
            return Ok(Step::Next(if is_eq { next } else { taken }));
        }
        let (RegState::Scalar(sa), RegState::Scalar(sb)) = (a, b) else {
            // Other pointer comparisons: both ways, nothing learnt.
            return Ok(Step::Fork(next, Box::new(s.clone()), taken));
        };
        // A 32-bit jump compares the low halves. Unsigned, that is the
        // 64-bit comparison of the zero-extended halves; signed, only when
        // both halves are below 2^31. What it teaches goes back to a
        // register whose upper half is known zero (the kernel's
        // `__reg_combine_32_into_64`); of another, nothing is learnt.
        let (la, lb) = if is32 {
            (sa.low32(), sb.low32())
        } else {
            (sa, sb)
        };
        if is32 && is_signed(cmp) && !(narrow32(&la) && narrow32(&lb)) {
            if let (Some(x), Some(y)) = (la.as_const(), lb.as_const()) {
                let t = scalar::holds(cmp, sext32(x), sext32(y));
                return Ok(Step::Next(if t { taken } else { next }));
            }
            return Ok(Step::Fork(next, Box::new(s.clone()), taken));
        }
        // Before `RangeVsRange`, only a constant source decides a branch,
        // only a constant teaches the other side, and of two unknowns only
        // a 64-bit `==` or `!=` teaches anything.
        let vs_range = self.rules.has(Change::RangeVsRange);
        let (ca, cb) = (la.as_const().is_some(), lb.as_const().is_some());
        if vs_range || cb {
            match scalar::decided(&la, cmp, &lb) {
                Some(true) => return Ok(Step::Next(taken)),
                Some(false) => return Ok(Step::Next(next)),
                None => {}
            }
        }
        let learns = vs_range || ca || cb || (!is32 && matches!(cmp, Cmp::Eq | Cmp::Ne));
        let ((ta, tb), (fa, fb)) = if learns {
            (
                scalar::refine(&la, cmp, &lb),
                scalar::refine_not(&la, cmp, &lb),
            )
        } else {
            ((la, lb), (la, lb))
        };
        let t_ok = !ta.is_empty() && !tb.is_empty();
        let f_ok = !fa.is_empty() && !fb.is_empty();
        if !(vs_range || cb || (t_ok && f_ok)) {
            // The kernel did not decide it: both ways, nothing learnt.
            return Ok(Step::Fork(next, Box::new(s.clone()), taken));
        }
        let mut t = s.clone();
        set_scalar(&mut t, d, learnt(&sa, &la, &ta));
        set_scalar(s, d, learnt(&sa, &la, &fa));
        if x {
            set_scalar(&mut t, sr, learnt(&sb, &lb, &tb));
            set_scalar(s, sr, learnt(&sb, &lb, &fb));
        }
        match (t_ok, f_ok) {
            (true, true) => Ok(Step::Fork(next, Box::new(t), taken)),
            (true, false) => {
                *s = t;
                Ok(Step::Next(taken))
            }
            _ => Ok(Step::Next(next)),
        }
    }
}

/// What a register `whole` is where its compared view `view` became
/// `now`: `now` itself when the view is the whole register; after a 32-bit
/// jump on a register whose upper half may be set, the whole register with
/// the low half's known bits learnt (the rest of the 64-bit knowledge is
/// not touched).
fn learnt(whole: &Scalar, view: &Scalar, now: &Scalar) -> Scalar {
    if whole == view || now.is_empty() {
        return *now;
    }
    const HIGH: u64 = 0xffff_ffff_0000_0000;
    let low = now
        .t
        .intersect(crate::tnum::Tnum::range(now.umin, now.umax));
    let mut r = *whole;
    r.t = r.t.intersect(crate::tnum::Tnum {
        value: low.value & !HIGH,
        mask: low.mask | HIGH,
    });
    r.sync();
    r
}

fn set_scalar(s: &mut State, r: u8, v: Scalar) {
    if r < 10 {
        s.cur_mut().regs[usize::from(r)] = RegState::Scalar(v);
    }
}

/// Whether a zero-extended 32-bit value reads the same signed: below 2^31.
fn narrow32(s: &Scalar) -> bool {
    s.umax < 1 << 31
}

fn is_signed(cmp: Cmp) -> bool {
    matches!(cmp, Cmp::SGt | Cmp::SGe | Cmp::SLt | Cmp::SLe)
}

/// A 32-bit operand as a signed comparison reads it.
fn sext32(v: u64) -> u64 {
    v as u32 as i32 as i64 as u64
}

/// After a null check of `p`: every copy (same id) becomes 0 (`null`) or
/// a valid pointer; a NULL record releases its reference.
fn mark_null(s: &mut State, p: Ptr, null: bool) {
    let id = p.id;
    if id == 0 {
        return;
    }
    s.each_reg(&mut |r| {
        if let RegState::Ptr(q) = r {
            if q.or_null && q.id == id {
                if null {
                    *r = RegState::constant(0);
                } else {
                    q.or_null = false;
                }
            }
        }
    });
    if null && p.ref_id != 0 {
        s.refs.retain(|r| r.id != p.ref_id);
    }
}
