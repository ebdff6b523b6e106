//! Map operations: keys built in a stack buffer (each part at its 8-byte
//! aligned offset, strings zero-padded), reads (a missing entry reads 0),
//! assignments, read-modify-write updates, `delete`, and the aggregations.
//!
//! Aggregations update this CPU's value in place when the entry exists (one
//! helper call on the hot path) and create it with `map_update_elem`
//! otherwise; counters use atomic adds, which the JITs turn into one
//! instruction. `hist` and `lhist` put the bucket, computed without loops,
//! at the end of the key.

use crate::asm::{self, Op};
use crate::insn::{AluOp, Cond, Reg, Size};
use crate::lang::ast::BinOp;
use crate::lang::check::ir::{Agg, KeyTy, MapInfo, TExpr, TKind, Ty};

use super::bits;
use super::gen::{Gen, R};
use super::operand::{alu, alu_op, jump, Mem, Rhs, VarLoc};

/// An lhist's bounds, and the largest value its argument can have when it
/// is known to be non-negative.
#[derive(Clone, Copy, Debug)]
struct Lhist {
    min: i64,
    max: i64,
    step: i64,
    known_max: Option<i64>,
}

/// `BPF_ANY`: create or replace.
const BPF_ANY: i32 = 0;

/// A value computed before a helper call and used after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    Imm(i32),
    Reg(Reg),
    Slot(i16),
}

impl Gen<'_> {
    pub fn map_info(&self, map: usize) -> R<&MapInfo> {
        let checked = self.checked;
        checked
            .maps
            .get(map)
            .ok_or_else(|| self.fail("internal error: unknown map"))
    }

    /// A key buffer of map `map`, filled from `keys` (the bucket of a
    /// histogram, if any, is left to the caller).
    pub(super) fn key(&mut self, map: usize, keys: &[TExpr]) -> R<i16> {
        let info = self.map_info(map)?.clone();
        if info.keys.is_empty() && !info.value_kind().has_bucket() {
            if let Some(z) = self.zero_key {
                return Ok(z);
            }
            let slot = self.slot(8)?;
            self.emit(asm::store_imm(Size::DW, Reg::R10, slot, 0));
            return Ok(slot);
        }
        if !info.value_kind().has_bucket() {
            if let Some(k) = self.shared_keys.iter().find(|k| k.is(&info.keys, keys)) {
                return Ok(k.slot);
            }
        }
        let slot = self.slot(info.key_size())?;
        for ((k, part), off) in keys.iter().zip(&info.keys).zip(info.key_offsets()) {
            let at = Mem::stack(slot).at(off);
            match part {
                KeyTy::Str { .. } | KeyTy::Inet => self.str_into(k, at, part.storage(), true)?,
                _ => self.store_int(k, at)?,
            }
        }
        Ok(slot)
    }

    /// `r0 = bpf_map_lookup_elem(map, key)` with the key built from `keys`.
    pub fn map_lookup(&mut self, map: usize, keys: &[TExpr]) -> R<()> {
        let key = self.key(map, keys)?;
        self.lookup(map, key)
    }

    fn lookup(&mut self, map: usize, key: i16) -> R<()> {
        let sym = self.map_info(map)?.symbol();
        self.emit(asm::map_lookup_elem(asm::map(&sym), asm::stack(key)));
        Ok(())
    }

    fn update(&mut self, map: usize, key: i16, val: i16) -> R<()> {
        let sym = self.map_info(map)?.symbol();
        self.emit(asm::map_update_elem(
            asm::map(&sym),
            asm::stack(key),
            asm::stack(val),
            BPF_ANY,
        ));
        Ok(())
    }

    /// `r0 = @map[keys]` for an integer-valued map, 0 when missing.
    pub fn map_read_int(&mut self, map: usize, keys: &[TExpr]) -> R<()> {
        let done = self.label();
        self.map_lookup(map, keys)?;
        // On the NULL path r0 is already the 0 we want.
        self.emit_all([
            asm::jmp_imm(Cond::Eq, Reg::R0, 0, &done),
            asm::load_mem(Size::DW, Reg::R0, Reg::R0, 0),
            asm::label(&done),
        ]);
        Ok(())
    }

    /// `@map[keys] = value`.
    pub fn set_map(&mut self, map: usize, keys: &[TExpr], value: &TExpr) -> R<()> {
        let vkind = self.map_info(map)?.value_kind();
        let vsize = vkind.size();
        let val = self.slot(vsize)?;
        if let Some(ty @ Ty::Tuple { .. }) = vkind.assigned_ty() {
            self.tuple_into(value, Mem::stack(val), ty)?;
        } else if value.ty.is_bytes() {
            self.str_into(value, Mem::stack(val), vsize, true)?;
        } else {
            self.store_int(value, Mem::stack(val))?;
        }
        let key = self.key(map, keys)?;
        self.update(map, key, val)
    }

    /// `@map[keys] op= value`: a missing entry counts as 0.
    pub fn update_map(&mut self, map: usize, keys: &[TExpr], op: BinOp, value: &TExpr) -> R<()> {
        let alu_op =
            alu_op(op).ok_or_else(|| self.fail("internal error: not an arithmetic operator"))?;
        let held = self.held(value)?;
        let key = self.key(map, keys)?;
        let val = self.slot(8)?;
        self.map_read_after_lookup(map, key)?;
        let rhs = self.held_operand(held, Reg::R1);
        self.emit(alu(alu_op, Reg::R0, rhs));
        self.emit(asm::store_mem(Size::DW, Reg::R10, val, Reg::R0));
        self.update(map, key, val)?;
        self.release_held(held);
        Ok(())
    }

    fn map_read_after_lookup(&mut self, map: usize, key: i16) -> R<()> {
        let done = self.label();
        self.lookup(map, key)?;
        self.emit_all([
            asm::jmp_imm(Cond::Eq, Reg::R0, 0, &done),
            asm::load_mem(Size::DW, Reg::R0, Reg::R0, 0),
            asm::label(&done),
        ]);
        Ok(())
    }

    /// `delete(@map[keys])`.
    /// `delete(@m[keys])`, and `$ok = ...`: 1 when the helper deleted an
    /// entry (it returns 0), 0 otherwise.
    pub fn delete(&mut self, map: usize, keys: &[TExpr], ok: Option<usize>) -> R<()> {
        let key = self.key(map, keys)?;
        let sym = self.map_info(map)?.symbol();
        self.emit(asm::map_delete_elem(asm::map(&sym), asm::stack(key)));
        let Some(var) = ok else { return Ok(()) };
        let done = self.label();
        let (set, clear) = match self.var(var)?.0 {
            VarLoc::Reg(r) => (asm::mov(r, 1), asm::mov(r, 0)),
            VarLoc::Slot(s) => (
                asm::store_imm(Size::DW, Reg::R10, s, 1),
                asm::store_imm(Size::DW, Reg::R10, s, 0),
            ),
        };
        self.emit_all([set, asm::jmp_imm(Cond::Eq, Reg::R0, 0, &done), clear]);
        self.emit(asm::label(&done));
        Ok(())
    }

    /// `@map[keys] = agg(...)`.
    pub fn aggregate(&mut self, map: usize, keys: &[TExpr], agg: &Agg) -> R<()> {
        let vsize = self.map_info(map)?.value_kind().size();
        match agg {
            Agg::Count => {
                let key = self.key(map, keys)?;
                self.count(map, key)
            }
            Agg::Hist(x) | Agg::Lhist { value: x, .. } => {
                let key = self.bucket_key(map, keys, agg, x)?;
                self.count(map, key)
            }
            Agg::Min(x) | Agg::Max(x) => {
                let held = self.held(x)?;
                let key = self.key(map, keys)?;
                self.extreme(map, key, held, matches!(agg, Agg::Max(_)))?;
                self.release_held(held);
                Ok(())
            }
            Agg::Sum(x) | Agg::Avg(x) | Agg::Stats(x) => {
                let held = self.held(x)?;
                let key = self.key(map, keys)?;
                let exists = self.agg_exists(agg, held)?;
                let (val, mut init) = match agg {
                    Agg::Sum(_) => (self.slot(vsize)?, vec![]),
                    _ => self.one_pair()?,
                };
                init.extend(self.store_held(held, Mem::stack(val)));
                self.upsert(map, key, val, exists, init)?;
                self.release_held(held);
                Ok(())
            }
        }
    }

    /// The key of a histogram: user keys, then the bucket of `x`.
    fn bucket_key(&mut self, map: usize, keys: &[TExpr], agg: &Agg, x: &TExpr) -> R<i16> {
        let info = self.map_info(map)?.clone();
        let slot = self.slot(info.key_size())?;
        // lhist only reads its value: a register variable serves in place.
        let in_place = match agg {
            Agg::Lhist { .. } => self.var_reg(x),
            _ => None,
        };
        let v = match in_place {
            Some(r) => r,
            None => {
                let v = self.scratch()?;
                self.int(x, v)?;
                v
            }
        };
        let b = self.scratch()?;
        let t = self.scratch()?;
        match agg {
            Agg::Lhist { min, max, step, .. } => {
                let range = Lhist {
                    min: *min,
                    max: *max,
                    step: *step,
                    known_max: bits::unsigned_max(x),
                };
                self.lhist_bucket(v, b, t, range)
            }
            _ => self.log2_bucket(v, b, t),
        }
        let at = Mem::stack(slot).at(info.bucket_offset());
        self.emit(asm::store_mem(Size::DW, at.base, at.off, b));
        [b, t].into_iter().for_each(|r| self.frame.free(r));
        if in_place.is_none() {
            self.frame.free(v);
        }
        for ((k, part), off) in keys.iter().zip(&info.keys).zip(info.key_offsets()) {
            let at = Mem::stack(slot).at(off);
            match part {
                KeyTy::Str { .. } | KeyTy::Inet => self.str_into(k, at, part.storage(), true)?,
                _ => self.store_int(k, at)?,
            }
        }
        Ok(slot)
    }

    /// `b` = bpftrace's log2 bucket of `v`: 0 for v < 0, 1 for 0, k + 2
    /// for 2^k <= v < 2^(k+1). Clobbers `v` and `t`.
    fn log2_bucket(&mut self, v: Reg, b: Reg, t: Reg) {
        let done = self.label();
        self.emit_all([
            asm::mov(b, 0),
            asm::jmp_imm(Cond::SLt, v, 0, &done),
            asm::mov(b, 1),
            asm::jmp_imm(Cond::Eq, v, 0, &done),
            asm::mov(b, 2),
        ]);
        for shift in [32, 16, 8, 4, 2, 1] {
            let skip = self.label();
            if shift == 32 {
                self.emit_all([
                    asm::mov_reg(t, v),
                    asm::rsh(t, 32),
                    asm::jmp_imm(Cond::Eq, t, 0, &skip),
                    asm::mov_reg(v, t),
                ]);
            } else {
                self.emit_all([
                    asm::jmp_imm(Cond::Lt, v, 1 << shift, &skip),
                    asm::rsh(v, shift),
                ]);
            }
            self.emit_all([asm::add(b, shift), asm::label(&skip)]);
        }
        self.emit(asm::label(&done));
    }

    /// `b` = the lhist bucket of `v`: 0 below `min`, 1 + (v - min) / step,
    /// 1 + ceil((max - min) / step) from `max` on. A bound the value's
    /// known range cannot cross is not tested.
    fn lhist_bucket(&mut self, v: Reg, b: Reg, t: Reg, h: Lhist) {
        let Lhist {
            min,
            max,
            step,
            known_max,
        } = h;
        let done = self.label();
        if known_max.is_none() || min > 0 {
            self.emit(asm::mov(b, 0));
            let lo = self.const_operand(min, t);
            self.emit(jump(Cond::SLt, v, lo, &done));
        }
        if known_max.is_none_or(|m| m >= max) {
            let last = 1 + (max.wrapping_sub(min) as u64).div_ceil(step as u64) as i64;
            self.load_imm(b, last);
            let hi = self.const_operand(max, t);
            self.emit(jump(Cond::SGe, v, hi, &done));
        }
        self.emit(asm::mov_reg(b, v));
        if min != 0 {
            let lo = self.const_operand(min, t);
            self.emit(alu(AluOp::Sub, b, lo));
        }
        let st = self.const_operand(step, t);
        self.emit(alu(AluOp::Div, b, st));
        self.emit_all([asm::add(b, 1), asm::label(&done)]);
    }

    /// `v` as an operand: an immediate, or loaded into `t`.
    fn const_operand(&mut self, v: i64, t: Reg) -> Rhs {
        match i32::try_from(v) {
            Ok(small) => Rhs::Imm(small),
            Err(_) => {
                self.load_imm(t, v);
                Rhs::Reg(t)
            }
        }
    }

    /// A 16-byte value slot whose second u64 is 1, and the ops that make
    /// it so (none when the program keeps one).
    fn one_pair(&mut self) -> R<(i16, Vec<Op>)> {
        if let Some(pair) = self.one_pair {
            return Ok((pair, vec![]));
        }
        let pair = self.slot(16)?;
        Ok((pair, vec![asm::store_imm(Size::DW, Reg::R10, pair + 8, 1)]))
    }

    /// Whether this program adds to its per-CPU aggregation values with a
    /// plain load, add and store rather than an atomic add: where the
    /// arch's JIT makes the atomic a retry loop
    /// ([`ArchInfo::atomic_add_loops`](crate::arch::ArchInfo::atomic_add_loops))
    /// and the program is a kprobe, kretprobe or kprobe-multi one. The
    /// kernel never runs such programs nested on one CPU: its per-CPU
    /// `bpf_prog_active` skips any other while one runs, preempted or not,
    /// so a CPU's copy has one writer at a time (bpftrace and clang's C
    /// twins add the same way). A tracing program guards only against
    /// re-entering itself and may be preempted by another that shares the
    /// map, so it keeps the atomic add.
    fn plain_adds(&self) -> bool {
        self.arch.info().atomic_add_loops && !self.prog.attach.is_tracing()
    }

    /// `*(u64 *)(r0 + off) += 1` on this CPU's copy of a value.
    fn add_one(&self, off: i16) -> Vec<Op> {
        if self.plain_adds() {
            return vec![
                asm::load_mem(Size::DW, Reg::R1, Reg::R0, off),
                asm::add(Reg::R1, 1),
                asm::store_mem(Size::DW, Reg::R0, off, Reg::R1),
            ];
        }
        match self.one_reg {
            Some(one) => vec![asm::atomic_add(Size::DW, Reg::R0, off, one)],
            None => vec![
                asm::mov(Reg::R1, 1),
                asm::atomic_add(Size::DW, Reg::R0, off, Reg::R1),
            ],
        }
    }

    /// `*(u64 *)(r0 + off) += x` on this CPU's copy of a value (`x` is
    /// neither r0 nor r3, which a plain add uses).
    fn add_reg(&self, off: i16, x: Reg) -> Vec<Op> {
        if self.plain_adds() {
            return vec![
                asm::load_mem(Size::DW, Reg::R3, Reg::R0, off),
                asm::add_reg(Reg::R3, x),
                asm::store_mem(Size::DW, Reg::R0, off, Reg::R3),
            ];
        }
        vec![asm::atomic_add(Size::DW, Reg::R0, off, x)]
    }

    /// `map[key]` += 1 (count, hist, lhist).
    fn count(&mut self, map: usize, key: i16) -> R<()> {
        let exists = self.add_one(0);
        let (val, init) = match self.one_pair {
            Some(pair) => (pair + 8, vec![]),
            None => {
                let val = self.slot(8)?;
                (val, vec![asm::store_imm(Size::DW, Reg::R10, val, 1)])
            }
        };
        self.upsert(map, key, val, exists, init)
    }

    /// min (`max` false) or max of `x` into `map[key]`, a `{value, set}`
    /// pair per CPU. A new extreme — or a CPU whose `set` is 0, or a new
    /// entry — writes `{x, 1}` with `map_update_elem`, which for a per-CPU
    /// map writes this CPU's copy only; the common case, no new extreme,
    /// costs one lookup.
    fn extreme(&mut self, map: usize, key: i16, x: Held, max: bool) -> R<()> {
        let (store, done) = (self.label(), self.label());
        self.lookup(map, key)?;
        self.emit_all([
            asm::jmp_imm(Cond::Eq, Reg::R0, 0, &store),
            asm::load_mem(Size::DW, Reg::R1, Reg::R0, 8),
            asm::jmp_imm(Cond::Eq, Reg::R1, 0, &store),
            asm::load_mem(Size::DW, Reg::R1, Reg::R0, 0),
        ]);
        let keep = if max { Cond::SGe } else { Cond::SLe };
        let x_now = self.held_operand(x, Reg::R2);
        self.emit(jump(keep, Reg::R1, x_now, &done));
        self.emit(asm::label(&store));
        let (val, init) = self.one_pair()?;
        self.emit_all(init);
        let fill = self.store_held(x, Mem::stack(val));
        self.emit_all(fill);
        self.update(map, key, val)?;
        self.emit(asm::label(&done));
        Ok(())
    }

    /// Looks `key` up: runs `exists` with r0 the value when found; else
    /// runs `init`, which fills the value slot `val`, and inserts it.
    fn upsert(&mut self, map: usize, key: i16, val: i16, exists: Vec<Op>, init: Vec<Op>) -> R<()> {
        let (absent, done) = (self.label(), self.label());
        self.lookup(map, key)?;
        self.emit(asm::jmp_imm(Cond::Eq, Reg::R0, 0, &absent));
        self.emit_all(exists);
        self.emit(asm::jmp(&done));
        self.emit(asm::label(&absent));
        self.emit_all(init);
        self.update(map, key, val)?;
        self.emit(asm::label(&done));
        Ok(())
    }

    /// What the existing-entry path of sum/min/max/avg/stats does with
    /// r0 the value pointer.
    fn agg_exists(&mut self, agg: &Agg, held: Held) -> R<Vec<Op>> {
        let mut ops = Vec::new();
        let x = match held {
            Held::Imm(v) => {
                ops.push(asm::mov(Reg::R2, v));
                Reg::R2
            }
            Held::Reg(r) => r,
            Held::Slot(s) => {
                ops.push(asm::load_mem(Size::DW, Reg::R2, Reg::R10, s));
                Reg::R2
            }
        };
        match agg {
            Agg::Sum(_) => ops.extend(self.add_reg(0, x)),
            Agg::Avg(_) | Agg::Stats(_) => {
                ops.extend(self.add_reg(0, x));
                ops.extend(self.add_one(8));
            }
            _ => return Err(self.fail("internal error: not a value aggregation")),
        }
        Ok(ops)
    }

    /// Evaluates `e` where it survives helper calls.
    fn held(&mut self, e: &TExpr) -> R<Held> {
        if let Some(v) = e.imm32() {
            return Ok(Held::Imm(v));
        }
        if let Some(r) = self.var_reg(e) {
            // Pinned: releasing it is a no-op.
            return Ok(Held::Reg(r));
        }
        if let TKind::Var(i) = e.kind {
            // A stack variable stays put while the aggregation runs.
            if let VarLoc::Slot(slot) = self.var(i)?.0 {
                return Ok(Held::Slot(slot));
            }
        }
        if let Some(s) = self.frame.safe() {
            self.int(e, s)?;
            return Ok(Held::Reg(s));
        }
        let slot = self.slot(8)?;
        self.store_int(e, Mem::stack(slot))?;
        Ok(Held::Slot(slot))
    }

    fn held_operand(&mut self, h: Held, t: Reg) -> Rhs {
        match h {
            Held::Imm(v) => Rhs::Imm(v),
            Held::Reg(r) => Rhs::Reg(r),
            Held::Slot(s) => {
                self.emit(asm::load_mem(Size::DW, t, Reg::R10, s));
                Rhs::Reg(t)
            }
        }
    }

    /// Ops storing a held value at `mem`.
    fn store_held(&self, h: Held, mem: Mem) -> Vec<Op> {
        match h {
            Held::Imm(v) => vec![asm::store_imm(Size::DW, mem.base, mem.off, v)],
            Held::Reg(r) => vec![asm::store_mem(Size::DW, mem.base, mem.off, r)],
            Held::Slot(s) => vec![
                asm::load_mem(Size::DW, Reg::R1, Reg::R10, s),
                asm::store_mem(Size::DW, mem.base, mem.off, Reg::R1),
            ],
        }
    }

    fn release_held(&mut self, h: Held) {
        if let Held::Reg(r) = h {
            self.frame.free(r);
        }
    }
}
