//! Tuples in lowering: a tuple variable is a stack slot holding its
//! elements at the offsets of its type ([`Checked::tuple`]), each written
//! as a variable of its type would be; an element is read from its place
//! in the slot.

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
                self.copy(Mem::stack(slot), dst, ty.storage())
            }
            _ => Err(self.fail("internal error: not a tuple expression")),
        }
    }

    /// Where element `index` of a tuple variable is, for a
    /// [`TKind::TupleGet`].
    pub fn tuple_elem(&mut self, e: &TExpr) -> R<Mem> {
        let TKind::TupleGet { tuple, index } = &e.kind else {
            return Err(self.fail("internal error: not a tuple element"));
        };
        let TKind::Var(v) = tuple.kind else {
            return Err(self.fail("internal error: an element of a tuple that is not a variable"));
        };
        let (_, ty) = self.var(v)?;
        let offsets = self
            .checked
            .tuple(ty)
            .map(|(_, o)| o)
            .ok_or_else(|| self.fail("internal error: not a tuple variable"))?;
        let off = offsets
            .get(*index)
            .copied()
            .ok_or_else(|| self.fail("internal error: a tuple element past the end"))?;
        Ok(Mem::stack(self.var_slot(v)?).at(off))
    }
}
