//! Constant stack slots shared by a whole program: the key 0 of keyless
//! maps, and a pair of u64s whose second half is 1 — the initial value of
//! counters (count, hist, lhist), and with a value written into the first
//! half, the initial `{value, 1}` of min, max, avg and stats. When a
//! program uses one at least twice it is stored once at entry, and every
//! use passes the slot to the helper instead of storing the constant again.
//! A callee-saved register left over by the variables holds the 1 that
//! counters (and avg/stats counts) add to an existing entry, when there
//! are two of them or more.
//!
//! Keys too: where two or more of the body's top-level statements key
//! maps of the same key layout with the same parts, each a literal or a
//! builtin of the current task or CPU (`@count[comm] = count();
//! @sum[comm] = sum(arg2);`), the key is built once, after the predicate,
//! and every such statement passes its slot: one `get_current_comm` a hit
//! where each statement made its own, as a C programmer writes it.

use crate::asm;
use crate::insn::{Reg, Size};
use crate::lang::ast::Builtin;
use crate::lang::check::ir::{Agg, Body, Checked, KeyTy, TExpr, TKind, TStmt, TStmtKind};

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

/// A key built once a hit and shared by the statements that build it alike.
#[derive(Clone, Debug)]
pub struct SharedKey {
    layout: Vec<KeyTy>,
    keys: Vec<TExpr>,
    pub slot: i16,
}

impl SharedKey {
    /// Whether this is the key a map of key layout `layout` builds from `keys`.
    pub fn is(&self, layout: &[KeyTy], keys: &[TExpr]) -> bool {
        self.layout == layout && same_parts(&self.keys, keys)
    }
}

/// A key part that is the same wherever one hit evaluates it.
fn invariant(e: &TExpr) -> bool {
    match &e.kind {
        TKind::Int(_) | TKind::Str(_) => true,
        TKind::Builtin(b) => matches!(
            b,
            Builtin::Pid
                | Builtin::Tid
                | Builtin::Uid
                | Builtin::Gid
                | Builtin::Comm
                | Builtin::Cpu
                | Builtin::Cgroup
                | Builtin::Username
        ),
        _ => false,
    }
}

/// The same parts, wherever they are written.
fn same_parts(a: &[TExpr], b: &[TExpr]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.kind == y.kind && x.ty == y.ty)
}

impl Gen<'_> {
    /// Builds once the keys that two or more top-level statements of the
    /// body build alike from invariant parts (see the module's header).
    /// Statements nested in `if` or loops build their own: they may not
    /// run.
    pub fn share_keys(&mut self, stmts: &[TStmt]) -> R<()> {
        let mut seen: Vec<(usize, &[TExpr], usize)> = Vec::new();
        for s in stmts {
            let (map, keys) = match &s.kind {
                TStmtKind::SetMap { map, keys, .. }
                | TStmtKind::UpdateMap { map, keys, .. }
                | TStmtKind::Aggregate { map, keys, .. } => (*map, keys.as_slice()),
                _ => continue,
            };
            let Some(info) = self.checked.maps.get(map) else {
                continue;
            };
            if keys.is_empty() || info.value_kind().has_bucket() || !keys.iter().all(invariant) {
                continue;
            }
            let maps = &self.checked.maps;
            let alike = seen
                .iter_mut()
                .find(|(m, k, _)| maps[*m].keys == info.keys && same_parts(k, keys));
            match alike {
                Some(entry) => entry.2 += 1,
                None => seen.push((map, keys, 1)),
            }
        }
        for (map, keys, uses) in seen {
            if uses >= 2 {
                let slot = self.key(map, keys)?;
                let layout = self.checked.maps[map].keys.clone();
                self.shared_keys.push(SharedKey {
                    layout,
                    keys: keys.to_vec(),
                    slot,
                });
            }
        }
        Ok(())
    }

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
