//! Tuples: `(a, b, "c")` literals, their element types interned in one
//! table (a [`Ty::Tuple`] names its entry and its size), `$t.N` and
//! `@m[k].N` element reads, tuple variables (their string sizes growing to the largest
//! assigned), and tuples as map keys: `@m[(a, b)]` and `@m[$t]` are
//! bpftrace's `@m[a, b]`. A tuple is a map value (`@m[k] = (a, b)`) and
//! a `print()`'s argument, but not an integer or a printf argument (its
//! elements are).

use super::ir::{tuple_offsets, TExpr, TKind, Ty};
use super::{Checker, Mode};
use crate::lang::ast::{Expr, Span};
use crate::lang::diag::Diagnostic;

impl Checker<'_> {
    /// The tuple type of `elems`, interned.
    pub(super) fn tuple_ty(&mut self, elems: Vec<Ty>) -> Ty {
        let size = tuple_offsets(&elems)
            .last()
            .zip(elems.last())
            .map_or(0, |(off, t)| off + t.storage());
        let id = match self.tuples.iter().position(|t| *t == elems) {
            Some(i) => i,
            None => {
                self.tuples.push(elems);
                self.tuples.len() - 1
            }
        };
        Ty::Tuple {
            id: id as u32,
            size,
        }
    }

    /// The element types of tuple type `ty`.
    pub(super) fn tuple_elems(&self, ty: Ty) -> Vec<Ty> {
        match ty {
            Ty::Tuple { id, .. } => self.tuples.get(id as usize).cloned().unwrap_or_default(),
            _ => vec![],
        }
    }

    /// `(a, b, ...)`.
    pub(super) fn tuple_literal(&mut self, elems: &[Expr], span: Span) -> TExpr {
        let mut out = Vec::with_capacity(elems.len());
        let mut ok = true;
        for e in elems {
            let t = self.expr_keep_ptr(e);
            match t.ty {
                Ty::Int { .. }
                | Ty::Str { .. }
                | Ty::Sym(_)
                | Ty::Ptr(_)
                | Ty::Kstack(_)
                | Ty::Inet => {}
                Ty::Buf { .. } => {
                    self.error(Diagnostic::new(
                        t.span,
                        "buf() values can only be printed yet (%r)",
                    ));
                    ok = false;
                }
                Ty::Error => ok = false,
                Ty::Tuple { .. } => {
                    self.error(
                        Diagnostic::new(t.span, "nested tuples are not supported yet")
                            .with_label("a tuple in a tuple"),
                    );
                    ok = false;
                }
            }
            out.push(t);
        }
        if !ok {
            return TExpr::error(span);
        }
        let ty = self.tuple_ty(out.iter().map(|t| t.ty).collect());
        TExpr::new(TKind::Tuple(out), ty, span)
    }

    /// `base.N`.
    pub(super) fn tuple_index(&mut self, base: &Expr, index: u64, at: Span, span: Span) -> TExpr {
        let t = self.expr_keep_ptr(base);
        self.element(t, index, at, span)
    }

    /// `base[N]` where `base` is no struct member: an element of a tuple
    /// (bpftrace 0.25 reads tuples as arrays too).
    pub(super) fn tuple_subscript(&mut self, base: &Expr, index: &Expr, span: Span) -> TExpr {
        let t = self.expr_keep_ptr(base);
        if t.ty == Ty::Error {
            return t;
        }
        if !matches!(t.ty, Ty::Tuple { .. }) {
            self.error(
                Diagnostic::new(
                    span,
                    "only array members of kernel structs and tuples can be indexed",
                )
                .with_label("not an array member or a tuple"),
            );
            return TExpr::error(span);
        }
        let i = self.expr(index);
        match i.kind {
            TKind::Int(n) if n >= 0 => self.element(t, n as u64, i.span, span),
            _ => {
                if i.ty != Ty::Error {
                    self.error(
                        Diagnostic::new(i.span, "a tuple index must be a constant")
                            .with_label("not a constant"),
                    );
                }
                TExpr::error(span)
            }
        }
    }

    /// Element `index` of tuple `t`.
    fn element(&mut self, t: TExpr, index: u64, at: Span, span: Span) -> TExpr {
        if t.ty == Ty::Error {
            return t;
        }
        let elems = self.tuple_elems(t.ty);
        if elems.is_empty() {
            self.error(
                Diagnostic::new(
                    at,
                    format!("`.{index}` needs a tuple, found {}", t.ty.describe()),
                )
                .with_label("not a tuple"),
            );
            return TExpr::error(span);
        }
        let Some(&ty) = usize::try_from(index).ok().and_then(|i| elems.get(i)) else {
            self.error(
                Diagnostic::new(
                    at,
                    format!(
                        "this tuple has {} elements: `.{index}` is past its last, `.{}`",
                        elems.len(),
                        elems.len() - 1
                    ),
                )
                .with_label("no such element"),
            );
            return TExpr::error(span);
        };
        let index = index as usize;
        match t.kind {
            TKind::Tuple(mut v) => {
                let e = v.swap_remove(index);
                TExpr::new(e.kind, ty, span)
            }
            kind @ (TKind::Var(_) | TKind::MapRead { .. }) => TExpr::new(
                TKind::TupleGet {
                    tuple: Box::new(TExpr::new(kind, t.ty, t.span)),
                    index,
                },
                ty,
                span,
            ),
            _ => {
                self.error(
                    Diagnostic::new(
                        span,
                        "elements are only read from tuple variables, literals and map values",
                    )
                    .with_label("not supported yet")
                    .with_help("assign the tuple to a variable first: `$t = ...; $t.0`"),
                );
                TExpr::error(span)
            }
        }
    }

    /// A map's keys: each typed, and one tuple (a literal or a variable)
    /// spread into its elements.
    pub(super) fn map_key_exprs(&mut self, keys: &[Expr]) -> Vec<TExpr> {
        let typed: Vec<TExpr> = keys.iter().map(|k| self.key_expr(k)).collect();
        let tuples = typed
            .iter()
            .filter(|t| matches!(t.ty, Ty::Tuple { .. }))
            .count();
        if tuples == 0 {
            return typed;
        }
        if typed.len() > 1 {
            let at = typed
                .iter()
                .find(|t| matches!(t.ty, Ty::Tuple { .. }))
                .map_or(Span::default(), |t| t.span);
            self.error(
                Diagnostic::new(at, "a tuple as one of several keys is not supported yet")
                    .with_label("a tuple among the keys")
                    .with_help("write its elements as keys: `@m[a, b, c]`"),
            );
            return vec![TExpr::error(at)];
        }
        let Some(t) = typed.into_iter().next() else {
            return vec![];
        };
        let elems = self.tuple_elems(t.ty);
        match t.kind {
            TKind::Tuple(v) => v
                .into_iter()
                .map(|e| {
                    // Pointers are keys as addresses.
                    let ty = match e.ty {
                        Ty::Ptr(_) => Ty::Int { signed: false },
                        other => other,
                    };
                    TExpr { ty, ..e }
                })
                .collect(),
            kind => {
                let whole = TExpr::new(kind, t.ty, t.span);
                elems
                    .into_iter()
                    .enumerate()
                    .map(|(index, ty)| {
                        let ty = match ty {
                            Ty::Ptr(_) => Ty::Int { signed: false },
                            other => other,
                        };
                        TExpr::new(
                            TKind::TupleGet {
                                tuple: Box::new(whole.clone()),
                                index,
                            },
                            ty,
                            t.span,
                        )
                    })
                    .collect()
            }
        }
    }

    /// The tuple type both `a` and `b` fit: the same element kinds, each
    /// string as large as the larger (grown in the declare passes only).
    pub(super) fn unify_tuples(&mut self, a: Ty, b: Ty) -> Option<Ty> {
        let (x, y) = (self.tuple_elems(a), self.tuple_elems(b));
        if x.len() != y.len() {
            return None;
        }
        let mut out = Vec::with_capacity(x.len());
        for (p, q) in x.into_iter().zip(y) {
            out.push(match (p, q) {
                (Ty::Str { size: m }, Ty::Str { size: n }) => Ty::Str {
                    size: if self.mode == Mode::Declare {
                        m.max(n)
                    } else {
                        m
                    },
                },
                (Ty::Int { .. }, Ty::Int { .. }) => p,
                (p, q) if p == q => p,
                _ => return None,
            });
        }
        Some(self.tuple_ty(out))
    }
}
