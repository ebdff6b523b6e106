//! Tuples in lowering: a tuple variable, map value or record argument is
//! memory holding its elements at the offsets of its type
//! ([`Checked::tuple`]), each written as a variable of its type would be;
//! an element is read from its place. A tuple moves from one place to
//! another of a type with larger strings element by element, each string
//! zero-padded.

use crate::asm;
use crate::insn::{Cond, Reg};
use crate::lang::check::ir::{TExpr, TKind, Ty};

use super::gen::{Gen, R};
use super::operand::Mem;

impl Gen<'_> {
    /// Writes tuple `e` into `dst`, laid out as tuple type `ty` (a
    /// variable's: its strings may be larger than `e`'s).
    pub fn tuple_into(&mut self, e: &TExpr, dst: Mem, ty: Ty) -> R<()> {
        let (elems, offsets) = self
            .checked
            .tuple(ty)
            .map(|(e, o)| (e.to_vec(), o))
            .ok_or_else(|| self.fail("internal error: not a tuple type"))?;
        match &e.kind {
            TKind::Tuple(values) => {
                for ((v, t), off) in values.iter().zip(elems).zip(offsets) {
                    let at = dst.at(off);
                    match t {
                        Ty::Str { size } => self.str_into(v, at, t.storage().max(size), true)?,
                        Ty::Inet => self.str_into(v, at, t.storage(), true)?,
                        _ => self.store_int(v, at)?,
                    }
                }
                Ok(())
            }
            TKind::Var(i) => {
                let slot = self.var_slot(*i)?;
                self.tuple_copy(Mem::stack(slot), e.ty, dst, ty)
            }
            TKind::MapRead { map, keys } => {
                // A missing entry reads as a tuple of zeros.
                let (null, end) = (self.label(), self.label());
                self.map_lookup(*map, keys)?;
                self.emit(asm::jmp_imm(Cond::Eq, Reg::R0, 0, &null));
                let took = self.frame.take(Reg::R0);
                let src = Mem {
                    base: Reg::R0,
                    off: 0,
                };
                let copied = self.hold(Reg::R0, |g| g.tuple_copy(src, e.ty, dst, ty));
                if took {
                    self.frame.free(Reg::R0);
                }
                copied?;
                self.emit(asm::jmp(&end));
                self.emit(asm::label(&null));
                self.zero(dst, ty.storage());
                self.emit(asm::label(&end));
                Ok(())
            }
            _ => Err(self.fail("internal error: not a tuple expression")),
        }
    }

    /// Copies the tuple at `src`, laid out as `src_ty`, to `dst` laid out
    /// as `ty` (the same elements, strings as large or larger).
    fn tuple_copy(&mut self, src: Mem, src_ty: Ty, dst: Mem, ty: Ty) -> R<()> {
        if src_ty == ty {
            return self.copy(src, dst, ty.storage());
        }
        let fail = || "internal error: a tuple copied to another tuple type";
        let (from, to) = match (self.checked.tuple(src_ty), self.checked.tuple(ty)) {
            (Some(a), Some(b)) if a.0.len() == b.0.len() => (a, b),
            _ => return Err(self.fail(fail())),
        };
        let parts: Vec<(u32, u32, u32, u32)> = from
            .0
            .iter()
            .zip(from.1)
            .zip(to.0.iter().zip(to.1))
            .map(|((s, so), (d, doff))| (so, s.storage(), doff, d.storage()))
            .collect();
        for (so, ssize, doff, dsize) in parts {
            if ssize > dsize {
                return Err(self.fail(fail()));
            }
            self.copy(src.at(so), dst.at(doff), ssize)?;
            self.pad_from(dst.at(doff), ssize, dsize, true);
        }
        Ok(())
    }

    /// Where element `index` of a tuple variable is, for a
    /// [`TKind::TupleGet`]; of a map's tuple (`@m[k].0`), in a copy of the
    /// value on the stack (zeros for a missing entry).
    pub fn tuple_elem(&mut self, e: &TExpr) -> R<Mem> {
        let TKind::TupleGet { tuple, index } = &e.kind else {
            return Err(self.fail("internal error: not a tuple element"));
        };
        let (base, ty) = match tuple.kind {
            TKind::Var(v) => (Mem::stack(self.var_slot(v)?), self.var(v)?.1),
            TKind::MapRead { .. } => {
                let slot = self.slot(tuple.ty.storage())?;
                self.tuple_into(tuple, Mem::stack(slot), tuple.ty)?;
                (Mem::stack(slot), tuple.ty)
            }
            _ => return Err(self.fail(
                "internal error: an element of a tuple that is neither a variable nor a map value",
            )),
        };
        let offsets = self
            .checked
            .tuple(ty)
            .map(|(_, o)| o)
            .ok_or_else(|| self.fail("internal error: not a tuple variable"))?;
        let off = offsets
            .get(*index)
            .copied()
            .ok_or_else(|| self.fail("internal error: a tuple element past the end"))?;
        Ok(base.at(off))
    }
}
