//! Integer expressions and conditions. `int(e, dst)` leaves the value of
//! `e` in `dst`; `branch(e, target, when)` jumps to `target` when the truth
//! of `e` is `when` and falls through otherwise, so `&&`, `||`, `!` and
//! comparisons become jumps without materialising booleans.
//!
//! Register discipline: a helper call clobbers r0-r5, so of two operands
//! the one with calls is evaluated first; when both have calls the first
//! waits in a callee-saved register (or a stack slot when none is free).
//! Literals that fit 32 bits become immediates.

use crate::asm::{self, Arg};
use crate::helpers::Helper;
use crate::insn::Endian;
use crate::insn::{AluOp, Cond, Reg, Size};
use crate::kprobe;
use crate::lang::ast::{BinOp, Builtin, IntType};
use crate::lang::check::ir::{stack_map, Param, TExpr, TKind, Ty, ELAPSED_MAP};

use super::bits;
use super::gen::{Gen, R};
use super::operand::{alu, alu_op, jump, Mem, Rhs, VarLoc};

fn commutative(op: AluOp) -> bool {
    matches!(
        op,
        AluOp::Add | AluOp::Mul | AluOp::And | AluOp::Or | AluOp::Xor
    )
}

/// The jump condition of a comparison.
fn cmp_cond(op: BinOp, signed: bool) -> Option<Cond> {
    Some(match (op, signed) {
        (BinOp::Eq, _) => Cond::Eq,
        (BinOp::Ne, _) => Cond::Ne,
        (BinOp::Lt, true) => Cond::SLt,
        (BinOp::Le, true) => Cond::SLe,
        (BinOp::Gt, true) => Cond::SGt,
        (BinOp::Ge, true) => Cond::SGe,
        (BinOp::Lt, false) => Cond::Lt,
        (BinOp::Le, false) => Cond::Le,
        (BinOp::Gt, false) => Cond::Gt,
        (BinOp::Ge, false) => Cond::Ge,
        _ => return None,
    })
}

/// The condition with its operands swapped (`a < b` is `b > a`).
fn mirror(c: Cond) -> Cond {
    match c {
        Cond::Lt => Cond::Gt,
        Cond::Gt => Cond::Lt,
        Cond::Le => Cond::Ge,
        Cond::Ge => Cond::Le,
        Cond::SLt => Cond::SGt,
        Cond::SGt => Cond::SLt,
        Cond::SLe => Cond::SGe,
        Cond::SGe => Cond::SLe,
        other => other,
    }
}

impl Gen<'_> {
    /// `dst = e`. `dst` is allocated by the caller and holds nothing yet.
    pub fn int(&mut self, e: &TExpr, dst: Reg) -> R<()> {
        if e.has_call(self.wrapped()) && self.frame.live_scratch_except(dst) {
            return Err(self.fail("internal error: a live scratch register meets a helper call"));
        }
        match &e.kind {
            TKind::Int(v) => self.load_imm(dst, *v),
            TKind::Builtin(b) => self.builtin(*b, e.ty, dst)?,
            TKind::Var(i) => match self.var(*i)?.0 {
                VarLoc::Reg(r) => self.mov(dst, r),
                VarLoc::Slot(slot) => self.emit(asm::load_mem(Size::DW, dst, Reg::R10, slot)),
            },
            TKind::MapRead { map, keys } => {
                self.map_read_int(*map, keys)?;
                self.mov(dst, Reg::R0);
            }
            TKind::Neg(x) => {
                self.int(x, dst)?;
                self.emit(asm::neg(dst));
            }
            TKind::BitNot(x) => {
                self.int(x, dst)?;
                self.emit(asm::xor(dst, -1));
            }
            TKind::Binary { op, lhs, rhs, .. } if alu_op(*op).is_some() => {
                self.arith(*op, lhs, rhs, dst)?
            }
            TKind::Not(_)
            | TKind::StrEq { .. }
            | TKind::And(..)
            | TKind::Or(..)
            | TKind::Binary { .. } => self.bool_value(e, dst)?,
            TKind::Ternary { cond, then, els } => {
                let (other, end) = (self.label(), self.label());
                self.unbusy(dst, |g| g.branch(cond, &other, false))?;
                self.int(then, dst)?;
                self.emit(asm::jmp(&end));
                self.emit(asm::label(&other));
                self.int(els, dst)?;
                self.emit(asm::label(&end));
            }
            TKind::Cast { int, expr } => {
                self.int(expr, dst)?;
                if !fits(expr, *int) {
                    self.cast(dst, *int);
                }
            }
            TKind::Deref { int, addr } => self.deref(*int, addr, dst)?,
            TKind::Field { base, access, read } => self.field_int(base, access, *read, dst)?,
            TKind::FieldOffset(access) => self.field_offset(access, dst)?,
            TKind::TupleGet { .. } => {
                let mem = self.tuple_elem(e)?;
                self.emit(asm::load_mem(Size::DW, dst, mem.base, mem.off));
            }
            TKind::Bswap { bytes, expr } => {
                self.int(expr, dst)?;
                let bits = i32::from(*bytes) * 8;
                // BPF_END converts from the CPU's order: to the other one
                // is a swap.
                self.emit(match self.arch.endian() {
                    Endian::Little => asm::to_be(dst, bits),
                    Endian::Big => asm::to_le(dst, bits),
                });
            }
            TKind::HasKey { map, keys } => {
                let found = self.label();
                self.map_lookup(*map, keys)?;
                self.emit_all([
                    asm::jmp_imm(Cond::Eq, Reg::R0, 0, &found),
                    asm::mov(Reg::R0, 1),
                    asm::label(&found),
                ]);
                self.mov(dst, Reg::R0);
            }
            TKind::KernelAddr(sym) => self.emit(asm::ld_ksym(dst, sym)),
            TKind::Param(p @ (Param::Int(_) | Param::Count)) => self.emit_all([
                asm::ld_global(dst, &p.symbol()),
                asm::load_mem(Size::DW, dst, dst, 0),
            ]),
            TKind::MapLen(map) => self.map_len(*map, dst)?,
            TKind::Param(Param::Str(_))
            | TKind::Str(_)
            | TKind::StrRead { .. }
            | TKind::Tuple(_)
            | TKind::Ntop { .. }
            | TKind::Buf { .. } => {
                return Err(self
                    .fail("internal error: a string, tuple or buffer where an integer is needed"))
            }
        }
        Ok(())
    }

    /// `dst = v`, as one slot when it fits.
    pub fn load_imm(&mut self, dst: Reg, v: i64) {
        match i32::try_from(v) {
            Ok(small) => self.emit(asm::mov(dst, small)),
            Err(_) => self.emit(asm::ld_imm64(dst, v as u64)),
        }
    }

    /// `dst = src`, nothing when they are the same register.
    pub fn mov(&mut self, dst: Reg, src: Reg) {
        if dst != src {
            self.emit(asm::mov_reg(dst, src));
        }
    }

    /// Runs `f` with `dst` free (it holds nothing yet), then takes it back.
    fn unbusy<T>(&mut self, dst: Reg, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        self.frame.free(dst);
        let out = f(self);
        self.frame.take(dst);
        out
    }

    fn builtin(&mut self, b: Builtin, ty: Ty, dst: Reg) -> R<()> {
        let call = |h: Helper| asm::helper_call(h, vec![]);
        match b {
            Builtin::Pid | Builtin::Gid => {
                let h = if b == Builtin::Pid {
                    Helper::GetCurrentPidTgid
                } else {
                    Helper::GetCurrentUidGid
                };
                self.emit_all([call(h), asm::rsh(Reg::R0, 32)]);
                self.mov(dst, Reg::R0);
            }
            Builtin::Tid | Builtin::Uid => {
                let h = if b == Builtin::Tid {
                    Helper::GetCurrentPidTgid
                } else {
                    Helper::GetCurrentUidGid
                };
                self.emit_all([call(h), asm::mov32_reg(dst, Reg::R0)]);
            }
            Builtin::Nsecs | Builtin::Cpu | Builtin::Rand | Builtin::Curtask | Builtin::Cgroup => {
                let h = match b {
                    Builtin::Nsecs => Helper::KtimeGetNs,
                    Builtin::Cpu => Helper::GetSmpProcessorId,
                    Builtin::Curtask => Helper::GetCurrentTask,
                    Builtin::Cgroup => Helper::GetCurrentCgroupId,
                    _ => Helper::GetPrandomU32,
                };
                self.emit(call(h));
                self.mov(dst, Reg::R0);
            }
            Builtin::Username => {
                self.emit_all([call(Helper::GetCurrentUidGid), asm::mov32_reg(dst, Reg::R0)]);
            }
            Builtin::Elapsed => self.elapsed(dst)?,
            Builtin::Arg(n) if self.prog.attach.is_tracing() => {
                self.tracing_arg(n as usize, dst)?
            }
            Builtin::Retval if self.prog.attach.is_tracing() => self.tracing_retval(dst)?,
            Builtin::Arg(n) => self.arg(n as usize, dst)?,
            Builtin::Retval => {
                let ctx = self.ctx_reg()?;
                self.emit(kprobe::kretprobe_return_value(self.arch, ctx, dst));
            }
            Builtin::Kstack => {
                let ctx = self.ctx_reg()?;
                let Ty::Kstack(stack) = ty else {
                    return Err(self.fail("internal error: kstack without its depth"));
                };
                let map = stack_map(stack.limit);
                self.emit(asm::get_stackid(ctx, asm::map(&map), Arg::Imm(0)));
                self.mov(dst, Reg::R0);
            }
            Builtin::Func => {
                // Left by propagation only where `func` is an address.
                let ctx = self.ctx_reg()?;
                self.emit(asm::get_func_ip(ctx));
                self.mov(dst, Reg::R0);
            }
            Builtin::Comm | Builtin::Probe => {
                return Err(self.fail("internal error: a string builtin where an integer is needed"))
            }
        }
        Ok(())
    }

    /// `dst = elapsed`: now minus the time the first BEGIN program stored
    /// (0 if none ran).
    fn elapsed(&mut self, dst: Reg) -> R<()> {
        let slot = self.slot(8)?;
        let skip = self.label();
        self.emit_all([
            asm::store_imm(Size::DW, Reg::R10, slot, 0),
            asm::map_lookup_elem(asm::map(ELAPSED_MAP), asm::stack(slot)),
            asm::jmp_imm(Cond::Eq, Reg::R0, 0, &skip),
            asm::load_mem(Size::DW, Reg::R0, Reg::R0, 0),
            asm::label(&skip),
            asm::store_mem(Size::DW, Reg::R10, slot, Reg::R0),
            asm::helper_call(Helper::KtimeGetNs, vec![]),
        ]);
        let t = if dst == Reg::R1 { Reg::R2 } else { Reg::R1 };
        self.emit_all([
            asm::load_mem(Size::DW, t, Reg::R10, slot),
            asm::sub_reg(Reg::R0, t),
        ]);
        self.mov(dst, Reg::R0);
        Ok(())
    }

    /// Stores the time the run starts at, for `elapsed`: the first BEGIN
    /// program's first statement.
    pub fn record_start(&mut self) -> R<()> {
        let (key, now) = (self.slot(8)?, self.slot(8)?);
        self.emit_all([
            asm::helper_call(Helper::KtimeGetNs, vec![]),
            asm::store_mem(Size::DW, Reg::R10, now, Reg::R0),
            asm::store_imm(Size::DW, Reg::R10, key, 0),
            asm::map_update_elem(asm::map(ELAPSED_MAP), asm::stack(key), asm::stack(now), 0),
        ]);
        Ok(())
    }

    /// `dst = argN`: a register of the probed function, or of the syscall
    /// through the user pt_regs.
    fn arg(&mut self, n: usize, dst: Reg) -> R<()> {
        let ctx = self.ctx_reg()?;
        if self.wrapped() {
            let slot = self.slot(8)?;
            let ops = kprobe::syscall_arg(self.arch, ctx, n, dst, slot)
                .map_err(|e| self.fail(e.to_string()))?;
            self.emit_all(ops);
        } else {
            let op = kprobe::load_arg(self.arch, ctx, n, dst, Size::DW)
                .map_err(|e| self.fail(e.to_string()))?;
            self.emit(op);
        }
        Ok(())
    }

    /// Truncates and extends `dst` to the cast's type.
    /// Truncates (zero- or sign-extends) `dst` to `int`.
    fn cast(&mut self, dst: Reg, int: IntType) {
        let bits = i32::from(int.bytes) * 8;
        match (int.bytes, int.signed) {
            (8, _) => {}
            (4, false) => self.emit(asm::mov32_reg(dst, dst)),
            (_, false) => self.emit(asm::and(dst, (1 << bits) - 1)),
            (_, true) => self.emit_all([asm::lsh(dst, 64 - bits), asm::arsh(dst, 64 - bits)]),
        }
    }

    /// `dst = *(intN *)addr`, 0 if the read fails.
    fn deref(&mut self, int: IntType, addr: &TExpr, dst: Reg) -> R<()> {
        let slot = self.slot(8)?;
        let a = match self.var_reg(addr) {
            Some(r) => r,
            None => {
                // Straight into the helper's third argument register when free.
                let a = if self.frame.take(Reg::R3) {
                    Reg::R3
                } else {
                    dst
                };
                self.int(addr, a)?;
                a
            }
        };
        self.emit(asm::probe_read_kernel(
            asm::stack(slot),
            Arg::Imm(int.bytes.into()),
            a,
        ));
        if a != dst {
            self.frame.free(a);
        }
        let size = Size::from_bytes(int.bytes.into()).unwrap_or(Size::DW);
        self.emit(asm::load_mem(size, dst, Reg::R10, slot));
        if int.signed && int.bytes < 8 {
            self.cast(dst, int);
        }
        Ok(())
    }

    /// `*(u64 *)mem = *(uintN *)addr`, read straight into `mem` (zeroed
    /// first when narrower: the bytes land at the value's low end).
    pub fn deref_into(&mut self, bytes: u8, addr: &TExpr, mem: Mem) -> R<()> {
        let size = Size::from_bytes(bytes.into())
            .ok_or_else(|| self.fail(format!("internal error: a {bytes}-byte read")))?;
        if bytes < 8 {
            self.emit(asm::store_imm(Size::DW, mem.base, mem.off, 0));
        }
        let a = match self.var_reg(addr) {
            Some(r) => r,
            None => {
                let a = if self.frame.take(Reg::R3) {
                    Reg::R3
                } else {
                    self.scratch()?
                };
                self.int(addr, a)?;
                a
            }
        };
        let low = u32::from(self.arch.low_part(0, size));
        let ptr = self.ptr_arg(mem.at(low), Some(a));
        let src = if a == Reg::R1 && mem.base != Reg::R10 {
            Reg::R3
        } else {
            a
        };
        self.emit(asm::probe_read_kernel(ptr, Arg::Imm(bytes.into()), src));
        self.frame.free(a);
        Ok(())
    }

    /// `dst = lhs op rhs`.
    fn arith(&mut self, op: BinOp, lhs: &TExpr, rhs: &TExpr, dst: Reg) -> R<()> {
        let alu_op =
            alu_op(op).ok_or_else(|| self.fail("internal error: not an arithmetic operator"))?;
        // `$v op e`, op commutative: e straight into dst, then `dst op= rv`
        // (saves copying the variable first).
        if let Some(v) = self.var_reg(lhs).filter(|v| *v != dst) {
            if commutative(alu_op) && rhs.imm32().is_none() && self.var_reg(rhs).is_none() {
                self.int(rhs, dst)?;
                self.emit(alu(alu_op, dst, Rhs::Reg(v)));
                return Ok(());
            }
        }
        let (l, r, temp) = self.operands(lhs, rhs, dst)?;
        if l == dst {
            self.emit(alu(alu_op, dst, r));
        } else if commutative(alu_op) && r == Rhs::Reg(dst) {
            self.emit(alu(alu_op, dst, Rhs::Reg(l)));
        } else {
            self.emit(alu(alu_op, l, r));
            self.mov(dst, l);
        }
        temp.into_iter().for_each(|t| self.frame.free(t));
        Ok(())
    }

    /// Evaluates `a` and `b`: the register holding `a`, `b` as an operand,
    /// and the temporary register to free afterwards. `dst` (allocated,
    /// empty) is one of the two registers.
    fn operands(&mut self, a: &TExpr, b: &TExpr, dst: Reg) -> R<(Reg, Rhs, Option<Reg>)> {
        if let Some(imm) = b.imm32() {
            self.int(a, dst)?;
            return Ok((dst, Rhs::Imm(imm), None));
        }
        if let Some(r) = self.var_reg(b) {
            self.int(a, dst)?;
            return Ok((dst, Rhs::Reg(r), None));
        }
        let w = self.wrapped();
        let (ca, cb) = (a.has_call(w), b.has_call(w));
        if !cb {
            self.int(a, dst)?;
            let t = self.scratch()?;
            self.hold(dst, |g| g.int(b, t))?;
            return Ok((dst, Rhs::Reg(t), Some(t)));
        }
        if !ca {
            self.int(b, dst)?;
            let t = self.scratch()?;
            self.hold(dst, |g| g.int(a, t))?;
            return Ok((t, Rhs::Reg(dst), Some(t)));
        }
        if let Some(s) = self.frame.safe() {
            self.int(a, s)?;
            self.int(b, dst)?;
            return Ok((s, Rhs::Reg(dst), Some(s)));
        }
        let slot = self.slot(8)?;
        self.int(a, dst)?;
        self.emit(asm::store_mem(Size::DW, Reg::R10, slot, dst));
        self.int(b, dst)?;
        let t = self.scratch()?;
        self.emit(asm::load_mem(Size::DW, t, Reg::R10, slot));
        Ok((t, Rhs::Reg(dst), Some(t)))
    }

    /// `e` as an operand: an immediate, a register variable in place, or
    /// evaluated into a scratch register (returned to be freed).
    pub fn operand(&mut self, e: &TExpr) -> R<(Rhs, Option<Reg>)> {
        if let Some(v) = e.imm32() {
            return Ok((Rhs::Imm(v), None));
        }
        if let Some(r) = self.var_reg(e) {
            return Ok((Rhs::Reg(r), None));
        }
        let t = self.scratch()?;
        self.int(e, t)?;
        Ok((Rhs::Reg(t), Some(t)))
    }

    /// `dst = e ? 1 : 0` for a condition.
    fn bool_value(&mut self, e: &TExpr, dst: Reg) -> R<()> {
        let end = self.label();
        if !e.has_call(self.wrapped()) {
            self.emit(asm::mov(dst, 1));
            self.hold(dst, |g| g.branch(e, &end, true))?;
            self.emit(asm::mov(dst, 0));
            self.emit(asm::label(&end));
            return Ok(());
        }
        let other = self.label();
        self.unbusy(dst, |g| g.branch(e, &other, false))?;
        self.emit_all([
            asm::mov(dst, 1),
            asm::jmp(&end),
            asm::label(&other),
            asm::mov(dst, 0),
        ]);
        self.emit(asm::label(&end));
        Ok(())
    }

    /// Jumps to `target` when the truth of `e` is `when`.
    pub fn branch(&mut self, e: &TExpr, target: &str, when: bool) -> R<()> {
        match &e.kind {
            TKind::Int(v) => {
                if (*v != 0) == when {
                    self.emit(asm::jmp(target));
                }
            }
            TKind::Not(x) => self.branch(x, target, !when)?,
            TKind::And(a, b) | TKind::Or(a, b) => {
                // `a && b` jumps on false as soon as one is false; on true
                // only when both are. `||` is the mirror image.
                let is_and = matches!(e.kind, TKind::And(..));
                if when != is_and {
                    self.branch(a, target, when)?;
                    self.branch(b, target, when)?;
                } else {
                    let skip = self.label();
                    self.branch(a, &skip, !when)?;
                    self.branch(b, target, when)?;
                    self.emit(asm::label(&skip));
                }
            }
            TKind::Binary {
                op,
                lhs,
                rhs,
                signed,
            } if cmp_cond(*op, *signed).is_some() => {
                let cond = cmp_cond(*op, *signed).unwrap_or(Cond::Eq);
                self.compare(cond, lhs, rhs, target, when)?
            }
            TKind::StrEq { s, lit, eq, nul } => self.str_eq(s, lit, *nul, *eq == when, target)?,
            _ => {
                let cond = if when { Cond::Ne } else { Cond::Eq };
                if let Some(r) = self.var_reg(e) {
                    self.emit(asm::jmp_imm(cond, r, 0, target));
                    return Ok(());
                }
                let d = self.scratch()?;
                self.int(e, d)?;
                self.emit(asm::jmp_imm(cond, d, 0, target));
                self.frame.free(d);
            }
        }
        Ok(())
    }

    /// Jumps to `target` when `(a <cond> b) == when`.
    fn compare(&mut self, cond: Cond, a: &TExpr, b: &TExpr, target: &str, when: bool) -> R<()> {
        let (cond, a, b) = match (a.imm32(), b.imm32()) {
            (Some(_), None) => (mirror(cond), b, a),
            _ => (cond, a, b),
        };
        let cond = if when {
            cond
        } else {
            cond.negate().unwrap_or(cond)
        };
        if let Some(ra) = self.var_reg(a) {
            let (rhs, temp) = self.operand(b)?;
            self.emit(jump(cond, ra, rhs, target));
            temp.into_iter().for_each(|t| self.frame.free(t));
            return Ok(());
        }
        let d = self.scratch()?;
        let (l, r, temp) = self.operands(a, b, d)?;
        self.emit(jump(cond, l, r, target));
        self.frame.free(d);
        temp.into_iter().for_each(|t| self.frame.free(t));
        Ok(())
    }
}

/// Whether `e`'s value is already what a cast to `int` makes of it: every
/// bit that may be set lies below the width (below the sign bit, for a
/// signed cast), as after an equal or narrower cast (`let $x: uint16 =
/// (uint16)arg2` masks once).
fn fits(e: &TExpr, int: IntType) -> bool {
    let width = u32::from(int.bytes) * 8 - u32::from(int.signed);
    width >= 64 || bits::maybe_ones(e) >> width == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrored_conditions_swap_their_operands() {
        assert_eq!(mirror(Cond::SLt), Cond::SGt);
        assert_eq!(mirror(Cond::Ge), Cond::Le);
        assert_eq!(mirror(Cond::Eq), Cond::Eq);
        assert_eq!(cmp_cond(BinOp::Lt, false), Some(Cond::Lt));
        assert_eq!(cmp_cond(BinOp::Add, true), None);
        assert_eq!(alu_op(BinOp::Shr), Some(AluOp::Rsh));
    }
}
