//! `for ($kv : @m) { body }`: the body is a callback subprogram that
//! `bpf_for_each_map_elem` calls once per entry (r1 the map, r2 the key,
//! r3 the value, r4 the caller's context), as bpftrace runs it. The
//! variables the body uses travel in a context on the caller's stack:
//! written before the call, loaded by the callback into slots of its own,
//! written back by it when an iteration ends, and read back by the caller
//! after the walk, so the body reads and assigns them as in the probe.
//! `$kv` is a tuple slot the callback fills from the key and the value
//! (a `count()` or `sum()` added over the CPUs with
//! `bpf_map_lookup_percpu_elem`, as bpftrace reads them in a loop);
//! `continue` ends an iteration (returning 0), `break` the walk (1).

use std::collections::BTreeSet;

use crate::asm::{self, Arg};
use crate::helpers::Helper;
use crate::insn::{Cond, Reg, Size};
use crate::lang::check::ir::{TKind, TStmt};
use crate::program::SUBPROGRAMS;

use super::gen::{Code, Gen, R};
use super::operand::{Mem, VarLoc};
use super::propagate::{breaks, continues, falls_through_never};

/// A variable the body uses: its index, offset in the context and bytes.
type Passed = (usize, u32, u32);

impl Gen<'_> {
    /// The caller's side: the context filled, the walk, the variables
    /// taken back.
    pub fn for_map(&mut self, map: usize, kv: usize, body: &[TStmt]) -> R<()> {
        let mut passed: Vec<Passed> = Vec::new();
        let mut size = 0;
        for v in used_vars(body).into_iter().filter(|&v| v != kv) {
            let bytes = self.var(v)?.1.storage();
            passed.push((v, size, bytes));
            size += bytes;
        }
        let ctx = self.slot(size.max(8))?;
        for &(v, off, bytes) in &passed {
            match self.var(v)?.0 {
                VarLoc::Reg(r) => {
                    self.emit(asm::store_mem(Size::DW, Reg::R10, ctx + off as i16, r))
                }
                VarLoc::Slot(s) => self.copy(Mem::stack(s), Mem::stack(ctx).at(off), bytes)?,
            }
        }
        if passed.is_empty() {
            self.emit(asm::store_imm(Size::DW, Reg::R10, ctx, 0));
        }
        let name = format!("{}_for_{}", self.prog.symbol, self.subprograms.len());
        let code = self.callback(&name, map, kv, body, &passed)?;
        self.subprograms.push(code);
        self.walk_map(map, &name, ctx)?;
        for &(v, off, bytes) in &passed {
            match self.var(v)?.0 {
                VarLoc::Reg(r) => self.emit(asm::load_mem(Size::DW, r, Reg::R10, ctx + off as i16)),
                VarLoc::Slot(s) => self.copy(Mem::stack(ctx).at(off), Mem::stack(s), bytes)?,
            }
        }
        Ok(())
    }

    /// The callback: `$kv` from the key and value, the passed variables
    /// from the context, the body, the variables back at each iteration's
    /// end.
    fn callback(
        &self,
        name: &str,
        map: usize,
        kv: usize,
        body: &[TStmt],
        passed: &[Passed],
    ) -> R<Code> {
        let mut g = self.sub();
        let kv_ty = self.var(kv)?.1;
        let key_bytes = self
            .checked
            .maps
            .get(map)
            .map_or(8, |m| m.keys.iter().map(|k| k.storage()).sum::<u32>());
        let value_at = self
            .checked
            .tuple(kv_ty)
            .and_then(|(_, offsets)| offsets.get(1).copied())
            .ok_or_else(|| self.fail("internal error: `$kv` is no pair"))?;
        // Every variable the body uses in a slot of its own; the others
        // are never touched.
        let used: BTreeSet<usize> = passed.iter().map(|p| p.0).chain([kv]).collect();
        for (v, ty) in self.var_tys.iter().enumerate() {
            let slot = if used.contains(&v) {
                g.slot(ty.storage())?
            } else {
                0
            };
            g.vars.push(VarLoc::Slot(slot));
        }
        let ctx = g.slot(8)?;
        let kv_slot = g.var_slot(kv)?;
        g.emit_all(self.line_of(self.span));
        g.emit(asm::store_mem(Size::DW, Reg::R10, ctx, Reg::R4));
        let fill = |from: Reg, to: i16, bytes: u32| {
            (0..bytes).step_by(8).flat_map(move |at| {
                [
                    asm::load_mem(Size::DW, Reg::R0, from, at as i16),
                    asm::store_mem(Size::DW, Reg::R10, to + at as i16, Reg::R0),
                ]
            })
        };
        let value_bytes = kv_ty.storage() - value_at;
        g.emit_all(fill(Reg::R2, kv_slot, key_bytes));
        let value = self.map_info(map)?.value_kind();
        if value.assigned_ty().is_some() {
            g.emit_all(fill(Reg::R3, kv_slot + value_at as i16, value_bytes));
        } else {
            g.over_cpus(map, kv_slot, kv_slot + value_at as i16)?;
        }
        g.emit(asm::load_mem(Size::DW, Reg::R1, Reg::R10, ctx));
        for &(v, off, bytes) in passed {
            let slot = g.var_slot(v)?;
            for at in (0..bytes).step_by(8) {
                g.emit_all([
                    asm::load_mem(Size::DW, Reg::R0, Reg::R1, (off + at) as i16),
                    asm::store_mem(Size::DW, Reg::R10, slot + at as i16, Reg::R0),
                ]);
            }
        }
        let (next, end) = (g.label(), g.label());
        g.loop_body(body, &next, &end)?;
        // Only the ends some path reaches: the kernel refuses dead code.
        let falls = !body.last().is_some_and(falls_through_never) || continues(body);
        let tails = [(next, 0, falls), (end, 1, breaks(body))];
        for (label, ret, _) in tails.into_iter().filter(|t| t.2) {
            g.emit(asm::label(&label));
            g.emit(asm::load_mem(Size::DW, Reg::R1, Reg::R10, ctx));
            for &(v, off, bytes) in passed {
                let slot = g.var_slot(v)?;
                for at in (0..bytes).step_by(8) {
                    g.emit_all([
                        asm::load_mem(Size::DW, Reg::R0, Reg::R10, slot + at as i16),
                        asm::store_mem(Size::DW, Reg::R1, (off + at) as i16, Reg::R0),
                    ]);
                }
            }
            g.emit_all([asm::mov(Reg::R0, ret), asm::exit()]);
        }
        let mut code =
            asm::assemble(&g.ops).map_err(|e| self.fail(format!("internal error: {e}")))?;
        let core = std::mem::take(&mut code.core);
        Ok((code.into_program(name, SUBPROGRAMS), core))
    }
}

/// The most CPUs a per-CPU value is gathered over (bpftrace asks the
/// machine; a bound the verifier can see is needed here).
pub const MAX_CPUS: i32 = 1024;

impl Gen<'_> {
    /// `*(r10 + out)` = a per-CPU map's `count()`/`sum()` for the key at
    /// `r10 + key`, the CPUs' values added: `bpf_map_lookup_percpu_elem`
    /// on each CPU up to the first the kernel does not have.
    fn over_cpus(&mut self, map: usize, key: i16, out: i16) -> R<()> {
        let (cpu, acc) = (Reg::R6, Reg::R7);
        let (top, done) = (self.label(), self.label());
        self.emit_all([
            asm::mov(cpu, 0),
            asm::mov(acc, 0),
            asm::label(&top),
            asm::jmp_imm(Cond::Ge, cpu, MAX_CPUS, &done),
            asm::helper_call(
                Helper::MapLookupPercpuElem,
                vec![
                    Arg::Map(self.map_info(map)?.symbol()),
                    Arg::Stack(key),
                    Arg::Reg(cpu),
                ],
            ),
            asm::jmp_imm(Cond::Eq, Reg::R0, 0, &done),
            asm::load_mem(Size::DW, Reg::R1, Reg::R0, 0),
            asm::add_reg(acc, Reg::R1),
            asm::add(cpu, 1),
            asm::jmp(&top),
            asm::label(&done),
            asm::store_mem(Size::DW, Reg::R10, out, acc),
        ]);
        Ok(())
    }
}

/// The variables `stmts` read or assign.
fn used_vars(stmts: &[TStmt]) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    for s in stmts {
        s.visit_exprs(&mut |e| {
            if let TKind::Var(v) = e.kind {
                out.insert(v);
            }
        });
        out.extend(s.assigned_var());
        for b in s.blocks() {
            out.extend(used_vars(b));
        }
    }
    out
}
