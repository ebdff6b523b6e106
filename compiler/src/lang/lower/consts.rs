//! Constant stack slots shared by a whole program: the key 0 of keyless
//! maps, and a pair of u64s whose second half is 1 — the initial value of
//! counters (count, hist, lhist), and with a value written into the first
//! half, the initial `{value, 1}` of min, max, avg and stats. When a
//! program uses one at least twice it is stored once at entry, and every
//! use passes the slot to the helper instead of storing the constant again.
//! A callee-saved register left over by the variables holds the 1 that
//! counters (and avg/stats counts) add to an existing entry, when there
//! are two of them or more.

use crate::asm;
use crate::insn::{Reg, Size};
use crate::lang::check::ir::{Agg, Body, Checked, TExpr, TKind, TStmt, TStmtKind};

use super::gen::{Gen, R};

/// How often a program needs each constant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Needs {
    zero_key: usize,
    one: usize,
    /// Counters (count, hist, lhist, and the count of avg and stats): each
    /// adds 1 to an existing entry.
    counters: usize,
}

fn keyless(checked: &Checked, map: usize, keys: &[TExpr]) -> bool {
    keys.is_empty()
        && checked
            .maps
            .get(map)
            .is_some_and(|m| m.keys.is_empty() && !m.value_kind().has_bucket())
}

fn scan(checked: &Checked, stmts: &[TStmt], n: &mut Needs) {
    for s in stmts {
        let mut reads = |e: &TExpr| {
            if let TKind::MapRead { map, keys } = &e.kind {
                n.zero_key += usize::from(keyless(checked, *map, keys));
            }
        };
        s.visit_exprs(&mut reads);
        match &s.kind {
            TStmtKind::SetMap { map, keys, .. }
            | TStmtKind::UpdateMap { map, keys, .. }
            | TStmtKind::Delete { map, keys, .. } => {
                n.zero_key += usize::from(keyless(checked, *map, keys))
            }
            TStmtKind::Aggregate { map, keys, agg } => {
                n.zero_key += usize::from(keyless(checked, *map, keys));
                n.one += usize::from(!matches!(agg, Agg::Sum(_)));
                n.counters += usize::from(!matches!(agg, Agg::Sum(_) | Agg::Min(_) | Agg::Max(_)));
            }
            TStmtKind::If { then, els, .. } => {
                scan(checked, then, n);
                scan(checked, els, n);
            }
            TStmtKind::Loop { body, step, .. } => {
                scan(checked, body, n);
                scan(checked, step, n);
            }
            TStmtKind::Unroll { count, body } => {
                for _ in 0..*count {
                    scan(checked, body, n);
                }
            }
            _ => {}
        }
    }
}

impl Gen<'_> {
    /// Stores the constants the body uses more than once.
    pub fn place_consts(&mut self, body: &Body) -> R<()> {
        let mut n = Needs::default();
        if let Some(p) = &body.pred {
            p.visit(&mut |e| {
                if let TKind::MapRead { map, keys } = &e.kind {
                    n.zero_key += usize::from(keyless(self.checked, *map, keys));
                }
            });
        }
        scan(self.checked, &body.stmts, &mut n);
        if n.zero_key >= 2 {
            let slot = self.slot(8)?;
            self.emit(asm::store_imm(Size::DW, Reg::R10, slot, 0));
            self.zero_key = Some(slot);
        }
        if n.one >= 2 {
            let pair = self.slot(16)?;
            self.emit(asm::store_imm(Size::DW, Reg::R10, pair + 8, 1));
            self.one_pair = Some(pair);
        }
        // A callee-saved register nobody needs holds the 1 counters add.
        let spare = self.frame.unpinned_safe();
        let reserve = usize::from(super::vars::wants_safe_temp(&body.stmts));
        if n.counters >= 2 && spare.len() > reserve {
            if let Some(&r) = spare.last() {
                self.frame.pin(r);
                self.emit(asm::mov(r, 1));
                self.one_reg = Some(r);
            }
        }
        Ok(())
    }
}
