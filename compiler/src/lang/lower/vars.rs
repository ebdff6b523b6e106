//! Scratch variables: integers live in callee-saved registers, the most
//! used first (keeping one free for output records and values held across
//! helper calls when the program needs that), the rest and strings in
//! stack slots. A register variable is used in place as an operand, a
//! store source or a helper argument, and assigned without a round trip
//! through the stack.

use crate::asm;
use crate::insn::{Reg, Size};
use crate::lang::check::ir::{Agg, Body, TExpr, TKind, TStmt, TStmtKind, Ty};

use super::gen::{Gen, R};
use super::operand::{alu, alu_op, Mem, VarLoc};

/// The register of each variable that gets one: integer variables by
/// descending number of uses, from `pool`, leaving `reserve` free.
pub fn registers(body: &Body, pool: &[Reg]) -> Vec<Option<Reg>> {
    let uses = use_counts(body);
    let reserve = usize::from(wants_safe_temp(&body.stmts));
    let mut order: Vec<usize> = (0..body.vars.len())
        .filter(|&i| {
            uses[i] > 0 && matches!(body.vars[i].ty, Ty::Int { .. } | Ty::Sym(_) | Ty::Ptr(_))
        })
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(uses[i]));
    let mut out = vec![None; body.vars.len()];
    let free = pool.len().saturating_sub(reserve);
    for (&var, &reg) in order.iter().zip(pool.iter().take(free)) {
        out[var] = Some(reg);
    }
    out
}

/// Reads and writes of each variable.
fn use_counts(body: &Body) -> Vec<usize> {
    let mut counts = vec![0; body.vars.len()];
    let mut count = |e: &TExpr| {
        if let TKind::Var(i) = e.kind {
            if let Some(c) = counts.get_mut(i) {
                *c += 1;
            }
        }
    };
    body.pred.iter().for_each(|p| p.visit(&mut count));
    body.stmts.iter().for_each(|s| s.visit_exprs(&mut count));
    fn writes(stmts: &[TStmt], counts: &mut [usize]) {
        for s in stmts {
            if let Some(c) = s.assigned_var().and_then(|v| counts.get_mut(v)) {
                *c += 1;
            }
            match &s.kind {
                TStmtKind::If { then, els, .. } => {
                    writes(then, counts);
                    writes(els, counts);
                }
                // A loop's variables are used once per iteration.
                TStmtKind::Loop { body, step, .. } => {
                    for _ in 0..4 {
                        writes(body, counts);
                        writes(step, counts);
                    }
                }
                TStmtKind::Unroll { body, count } => {
                    for _ in 0..(*count).min(4) {
                        writes(body, counts);
                    }
                }
                _ => {}
            }
        }
    }
    writes(&body.stmts, &mut counts);
    counts
}

/// Whether statements hold a value in a callee-saved register: output
/// records, aggregated values, read-modify-write updates.
pub(super) fn wants_safe_temp(stmts: &[TStmt]) -> bool {
    stmts.iter().any(|s| match &s.kind {
        TStmtKind::Output { args, .. } => !args.is_empty(),
        TStmtKind::UpdateMap { value, .. } => needs_holding(value),
        TStmtKind::Aggregate { agg, .. } => match agg {
            Agg::Count | Agg::Hist(_) | Agg::Lhist { .. } => false,
            other => other.value().is_some_and(needs_holding),
        },
        TStmtKind::If { then, els, .. } => wants_safe_temp(then) || wants_safe_temp(els),
        TStmtKind::Unroll { body, .. } => wants_safe_temp(body),
        TStmtKind::Loop { body, step, .. } => wants_safe_temp(body) || wants_safe_temp(step),
        _ => false,
    })
}

/// Whether a value held across a helper call needs a register of its own
/// (literals are immediates, variables are in place).
fn needs_holding(e: &TExpr) -> bool {
    e.imm32().is_none() && !matches!(e.kind, TKind::Var(_))
}

/// Whether `e` can be evaluated straight into the register of `var`: it
/// does not read `var` after writing the destination (a ternary's
/// condition runs before either branch writes; `$x` itself is a no-op).
fn direct(e: &TExpr, var: usize) -> bool {
    match &e.kind {
        TKind::Var(i) if *i == var => true,
        TKind::Ternary { then, els, .. } => direct(then, var) && direct(els, var),
        _ => !reads_var(e, var),
    }
}

/// Whether `e` reads variable `var`.
pub fn reads_var(e: &TExpr, var: usize) -> bool {
    let mut found = false;
    e.visit(&mut |x| found |= matches!(x.kind, TKind::Var(i) if i == var));
    found
}

impl Gen<'_> {
    /// Places the body's variables, zeroing those read before a sure
    /// assignment.
    pub fn place_vars(&mut self, body: &Body) -> R<()> {
        let regs = registers(body, &self.frame.unpinned_safe());
        for (v, reg) in body.vars.iter().zip(regs) {
            let loc = match reg {
                Some(r) => {
                    self.frame.pin(r);
                    if v.needs_init {
                        self.emit(asm::mov(r, 0));
                    }
                    VarLoc::Reg(r)
                }
                None => {
                    let slot = self.slot(v.ty.storage())?;
                    if v.needs_init {
                        self.zero(Mem::stack(slot), v.ty.storage());
                    }
                    VarLoc::Slot(slot)
                }
            };
            self.vars.push(loc);
        }
        Ok(())
    }

    /// Where variable `var` lives and its type.
    pub fn var(&self, var: usize) -> R<(VarLoc, Ty)> {
        match (self.vars.get(var), self.var_tys.get(var)) {
            (Some(l), Some(t)) => Ok((*l, *t)),
            _ => Err(self.fail("internal error: unknown variable")),
        }
    }

    /// The stack slot of a (string) variable.
    pub fn var_slot(&self, var: usize) -> R<i16> {
        match self.var(var)?.0 {
            VarLoc::Slot(s) => Ok(s),
            VarLoc::Reg(_) => Err(self.fail("internal error: a string variable in a register")),
        }
    }

    /// The register of `e` if it is a register variable.
    pub fn var_reg(&self, e: &TExpr) -> Option<Reg> {
        match e.kind {
            TKind::Var(i) => match self.vars.get(i) {
                Some(VarLoc::Reg(r)) => Some(*r),
                _ => None,
            },
            _ => None,
        }
    }

    /// `$var = value`.
    pub fn set_var(&mut self, var: usize, value: &TExpr) -> R<()> {
        let (loc, ty) = self.var(var)?;
        let r = match loc {
            VarLoc::Slot(slot) if ty.is_bytes() => {
                return self.str_into(value, Mem::stack(slot), ty.storage(), true)
            }
            VarLoc::Slot(slot) if matches!(ty, Ty::Tuple { .. }) => {
                return self.tuple_into(value, Mem::stack(slot), ty)
            }
            VarLoc::Slot(slot) => return self.store_int(value, Mem::stack(slot)),
            VarLoc::Reg(r) => r,
        };
        if direct(value, var) {
            return self.int(value, r);
        }
        // `$x = $x op e`: `rx op= e`.
        if let TKind::Binary { op, lhs, rhs, .. } = &value.kind {
            if let (Some(alu_op), TKind::Var(i)) = (alu_op(*op), &lhs.kind) {
                if *i == var {
                    let (operand, temp) = self.operand(rhs)?;
                    self.emit(alu(alu_op, r, operand));
                    temp.into_iter().for_each(|t| self.frame.free(t));
                    return Ok(());
                }
            }
        }
        let t = self.scratch()?;
        self.int(value, t)?;
        self.mov(r, t);
        self.frame.free(t);
        Ok(())
    }

    /// `*(u64 *)mem = e` for an integer expression.
    pub fn store_int(&mut self, e: &TExpr, mem: Mem) -> R<()> {
        if let Some(v) = e.imm32() {
            self.emit(asm::store_imm(Size::DW, mem.base, mem.off, v));
            return Ok(());
        }
        if let Some(r) = self.var_reg(e) {
            self.emit(asm::store_mem(Size::DW, mem.base, mem.off, r));
            return Ok(());
        }
        let boolean = match &e.kind {
            TKind::Not(_) | TKind::StrEq { .. } | TKind::And(..) | TKind::Or(..) => true,
            TKind::Binary { op, .. } => alu_op(*op).is_none(),
            _ => false,
        };
        if boolean && mem.base == Reg::R10 && !e.has_call(self.wrapped()) {
            // 1, overwritten by 0 when false: no register needed.
            let end = self.label();
            self.emit(asm::store_imm(Size::DW, mem.base, mem.off, 1));
            self.branch(e, &end, true)?;
            self.emit(asm::store_imm(Size::DW, mem.base, mem.off, 0));
            self.emit(asm::label(&end));
            return Ok(());
        }
        if let TKind::Deref { int, addr } = &e.kind {
            if int.bytes == 8 || !int.signed {
                return self.deref_into(int.bytes, addr, mem);
            }
        }
        let t = self.scratch()?;
        self.int(e, t)?;
        self.emit(asm::store_mem(Size::DW, mem.base, mem.off, t));
        self.frame.free(t);
        Ok(())
    }
}
