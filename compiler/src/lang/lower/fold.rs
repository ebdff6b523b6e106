//! Constant folding before lowering: literal subexpressions become
//! literals, identities (`x + 0`, `x * 1`, `x & -1`...) disappear,
//! constants of chained `+`/`-`, `&`, `|`, `^` merge, and
//! `(v & a) | (v & b)` of one variable becomes `v & (a | b)`, and masks
//! and shift pairs that [`bits`] shows cannot change the value go. Every rewrite
//! keeps the value bpftrace's 64-bit wrapping arithmetic gives (division
//! and modulo unsigned, `>>` logical).

use super::bits;
use crate::lang::ast::BinOp;
use crate::lang::check::ir::{Agg, Body, TExpr, TKind, TStmt, TStmtKind};

/// `body` with its expressions folded.
pub fn body(b: &Body) -> Body {
    let mut b = b.clone();
    b.pred = b.pred.take().map(expr);
    b.stmts = std::mem::take(&mut b.stmts).into_iter().map(stmt).collect();
    b
}

fn exprs(v: Vec<TExpr>) -> Vec<TExpr> {
    v.into_iter().map(expr).collect()
}

fn stmt(mut s: TStmt) -> TStmt {
    s.kind = match s.kind {
        TStmtKind::SetVar { var, value } => TStmtKind::SetVar {
            var,
            value: expr(value),
        },
        TStmtKind::SetMap { map, keys, value } => TStmtKind::SetMap {
            map,
            keys: exprs(keys),
            value: expr(value),
        },
        TStmtKind::UpdateMap {
            map,
            keys,
            op,
            value,
        } => TStmtKind::UpdateMap {
            map,
            keys: exprs(keys),
            op,
            value: expr(value),
        },
        TStmtKind::Aggregate { map, keys, agg } => TStmtKind::Aggregate {
            map,
            keys: exprs(keys),
            agg: match agg {
                Agg::Count => Agg::Count,
                Agg::Sum(x) => Agg::Sum(expr(x)),
                Agg::Min(x) => Agg::Min(expr(x)),
                Agg::Max(x) => Agg::Max(expr(x)),
                Agg::Avg(x) => Agg::Avg(expr(x)),
                Agg::Stats(x) => Agg::Stats(expr(x)),
                Agg::Hist(x) => Agg::Hist(expr(x)),
                Agg::Lhist {
                    value,
                    min,
                    max,
                    step,
                } => Agg::Lhist {
                    value: expr(value),
                    min,
                    max,
                    step,
                },
            },
        },
        TStmtKind::Signal { sig } => TStmtKind::Signal { sig: expr(sig) },
        TStmtKind::Delete { map, keys, ok } => TStmtKind::Delete {
            map,
            keys: exprs(keys),
            ok,
        },
        TStmtKind::Output { id, args } => TStmtKind::Output {
            id,
            args: exprs(args),
        },
        TStmtKind::If { cond, then, els } => TStmtKind::If {
            cond: expr(cond),
            then: then.into_iter().map(stmt).collect(),
            els: els.into_iter().map(stmt).collect(),
        },
        TStmtKind::Unroll { count, body } => TStmtKind::Unroll {
            count,
            body: body.into_iter().map(stmt).collect(),
        },
        TStmtKind::Loop { cond, body, step } => TStmtKind::Loop {
            cond: expr(cond),
            body: body.into_iter().map(stmt).collect(),
            step: step.into_iter().map(stmt).collect(),
        },
        TStmtKind::ForMap { map, var, body } => TStmtKind::ForMap {
            map,
            var,
            body: body.into_iter().map(stmt).collect(),
        },
        k @ (TStmtKind::Break | TStmtKind::Continue | TStmtKind::Return) => k,
    };
    s
}

fn lit(e: &TExpr) -> Option<i64> {
    match e.kind {
        TKind::Int(v) => Some(v),
        _ => None,
    }
}

/// `op` on two literals, when it has a defined value.
fn eval(op: BinOp, a: i64, b: i64, signed: bool) -> Option<i64> {
    let (ua, ub) = (a as u64, b as u64);
    let cmp = |lt: bool, eq: bool| -> i64 { i64::from(lt || eq) };
    let lt = if signed { a < b } else { ua < ub };
    Some(match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::Div if b != 0 => (ua / ub) as i64,
        BinOp::Mod if b != 0 => (ua % ub) as i64,
        BinOp::BitAnd => a & b,
        BinOp::BitOr => a | b,
        BinOp::BitXor => a ^ b,
        BinOp::Shl if (0..64).contains(&b) => ((ua) << b) as i64,
        BinOp::Shr if (0..64).contains(&b) => (ua >> b) as i64,
        BinOp::Eq => i64::from(a == b),
        BinOp::Ne => i64::from(a != b),
        BinOp::Lt => cmp(lt, false),
        BinOp::Le => cmp(lt, a == b),
        BinOp::Gt => cmp(!lt && a != b, false),
        BinOp::Ge => cmp(!lt, false),
        _ => return None,
    })
}

/// Whether `x op c` is `x`.
fn identity(op: BinOp, c: i64) -> bool {
    match op {
        BinOp::Add | BinOp::Sub | BinOp::BitOr | BinOp::BitXor | BinOp::Shl | BinOp::Shr => c == 0,
        BinOp::Mul | BinOp::Div => c == 1,
        BinOp::BitAnd => c == -1,
        _ => false,
    }
}

/// Whether `c op x` is `x`.
fn left_identity(op: BinOp, c: i64) -> bool {
    match op {
        BinOp::Add | BinOp::BitOr | BinOp::BitXor => c == 0,
        BinOp::Mul => c == 1,
        BinOp::BitAnd => c == -1,
        _ => false,
    }
}

/// The low `bytes` bytes of `v` in the other byte order, zero-extended.
pub fn swapped(v: i64, bytes: u8) -> i64 {
    let bits = u32::from(bytes.clamp(1, 8)) * 8;
    ((v as u64).swap_bytes() >> (64 - bits)) as i64
}

/// `x` standing for `e`: it keeps `e`'s type and span.
fn as_whole(mut x: TExpr, e: &TExpr) -> TExpr {
    x.ty = e.ty;
    x.span = e.span;
    x
}

fn int(v: i64, e: &TExpr) -> TExpr {
    TExpr {
        kind: TKind::Int(v),
        ty: e.ty,
        span: e.span,
    }
}

pub fn expr(e: TExpr) -> TExpr {
    let TExpr { kind, ty, span } = e;
    let shell = TExpr {
        kind: TKind::Int(0),
        ty,
        span,
    };
    let kind = match kind {
        TKind::MapRead { map, keys } => TKind::MapRead {
            map,
            keys: exprs(keys),
        },
        TKind::Neg(x) => {
            let x = expr(*x);
            match lit(&x) {
                Some(v) => TKind::Int(v.wrapping_neg()),
                None => TKind::Neg(Box::new(x)),
            }
        }
        TKind::BitNot(x) => {
            let x = expr(*x);
            match lit(&x) {
                Some(v) => TKind::Int(!v),
                None => TKind::BitNot(Box::new(x)),
            }
        }
        TKind::Not(x) => {
            let x = expr(*x);
            match lit(&x) {
                Some(v) => TKind::Int(i64::from(v == 0)),
                None => TKind::Not(Box::new(x)),
            }
        }
        TKind::Cast { int: t, expr: x } => {
            let x = expr(*x);
            match lit(&x) {
                Some(v) => {
                    let bits = u32::from(t.bytes) * 8;
                    TKind::Int(if bits >= 64 {
                        v
                    } else if t.signed {
                        (v << (64 - bits)) >> (64 - bits)
                    } else {
                        v & ((1i64 << bits) - 1)
                    })
                }
                None => TKind::Cast {
                    int: t,
                    expr: Box::new(x),
                },
            }
        }
        TKind::Field { base, access, read } => TKind::Field {
            base: Box::new(expr(*base)),
            access,
            read,
        },
        TKind::Tuple(elems) => TKind::Tuple(exprs(elems)),
        k @ (TKind::FieldOffset(_) | TKind::KernelAddr(_) | TKind::MapLen(_)) => k,
        TKind::Bswap { bytes, expr: x } => {
            let x = expr(*x);
            match lit(&x) {
                Some(v) => TKind::Int(swapped(v, bytes)),
                None => TKind::Bswap {
                    bytes,
                    expr: Box::new(x),
                },
            }
        }
        TKind::HasKey { map, keys } => TKind::HasKey {
            map,
            keys: exprs(keys),
        },
        TKind::Ntop { af, addr } => TKind::Ntop {
            af: Box::new(expr(*af)),
            addr: Box::new(expr(*addr)),
        },
        TKind::Buf { addr, len, cap } => TKind::Buf {
            addr: Box::new(expr(*addr)),
            len: Box::new(expr(*len)),
            cap,
        },
        TKind::TupleGet { tuple, index } => TKind::TupleGet {
            tuple: Box::new(expr(*tuple)),
            index,
        },
        TKind::Deref { int: t, addr } => TKind::Deref {
            int: t,
            addr: Box::new(expr(*addr)),
        },
        TKind::StrRead { addr, len } => TKind::StrRead {
            addr: Box::new(expr(*addr)),
            len,
        },
        TKind::StrEq { s, lit, eq, nul } => TKind::StrEq {
            s: Box::new(expr(*s)),
            lit,
            eq,
            nul,
        },
        TKind::And(a, b) => TKind::And(Box::new(expr(*a)), Box::new(expr(*b))),
        TKind::Or(a, b) => TKind::Or(Box::new(expr(*a)), Box::new(expr(*b))),
        TKind::Ternary { cond, then, els } => {
            let cond = expr(*cond);
            let (then, els) = (expr(*then), expr(*els));
            match (lit(&cond), lit(&then), lit(&els)) {
                (Some(v), _, _) => return as_whole(if v != 0 { then } else { els }, &shell),
                // `c ? 1 : 0` of a 0/1 condition is the condition.
                (None, Some(1), Some(0)) if bits::maybe_ones(&cond) == 1 => {
                    return as_whole(cond, &shell)
                }
                (None, Some(0), Some(1)) if bits::maybe_ones(&cond) == 1 => {
                    return as_whole(
                        TExpr {
                            kind: TKind::Not(Box::new(cond)),
                            ty: shell.ty,
                            span: shell.span,
                        },
                        &shell,
                    )
                }
                _ => TKind::Ternary {
                    cond: Box::new(cond),
                    then: Box::new(then),
                    els: Box::new(els),
                },
            }
        }
        TKind::Binary {
            op,
            lhs,
            rhs,
            signed,
        } => return binary(op, expr(*lhs), expr(*rhs), signed, &shell),
        k @ (TKind::Int(_)
        | TKind::Str(_)
        | TKind::Builtin(_)
        | TKind::Var(_)
        | TKind::Param(_)) => k,
    };
    TExpr { kind, ty, span }
}

fn binary(op: BinOp, lhs: TExpr, rhs: TExpr, signed: bool, e: &TExpr) -> TExpr {
    if let (Some(a), Some(b)) = (lit(&lhs), lit(&rhs)) {
        if let Some(v) = eval(op, a, b, signed) {
            return int(v, e);
        }
    }
    if let Some(c) = lit(&rhs) {
        if identity(op, c) {
            return as_whole(lhs, e);
        }
        // (x op1 c1) op2 c2 with one constant.
        if let TKind::Binary {
            op: inner,
            lhs: x,
            rhs: c1,
            signed: s1,
        } = &lhs.kind
        {
            if let Some(c1) = lit(c1) {
                let merged = match (inner, op) {
                    (BinOp::Add, BinOp::Add) => Some((BinOp::Add, c1.wrapping_add(c))),
                    (BinOp::Add, BinOp::Sub) => Some((BinOp::Add, c1.wrapping_sub(c))),
                    (BinOp::Sub, BinOp::Add) => Some((BinOp::Add, c.wrapping_sub(c1))),
                    (BinOp::Sub, BinOp::Sub) => Some((BinOp::Sub, c1.wrapping_add(c))),
                    (BinOp::BitAnd, BinOp::BitAnd) => Some((BinOp::BitAnd, c1 & c)),
                    (BinOp::BitOr, BinOp::BitOr) => Some((BinOp::BitOr, c1 | c)),
                    (BinOp::BitXor, BinOp::BitXor) => Some((BinOp::BitXor, c1 ^ c)),
                    _ => None,
                };
                if let Some((op2, k)) = merged.filter(|(_, k)| i32::try_from(*k).is_ok()) {
                    let x = (**x).clone();
                    let k = TExpr {
                        kind: TKind::Int(k),
                        ty: rhs.ty,
                        span: rhs.span,
                    };
                    return binary(op2, x, k, *s1, e);
                }
            }
        }
    }
    if let Some(c) = lit(&lhs) {
        if left_identity(op, c) {
            return as_whole(rhs, e);
        }
    }
    if let Some(x) = known_bits_noop(op, &lhs, &rhs) {
        return as_whole(x, e);
    }
    // (v & a) | (v & b) => v & (a | b), v a variable.
    if op == BinOp::BitOr {
        if let (Some((v1, a, s1)), Some((v2, b, _))) = (masked_var(&lhs), masked_var(&rhs)) {
            if v1 == v2 {
                let x = TExpr {
                    kind: TKind::Var(v1),
                    ty: lhs.ty,
                    span: lhs.span,
                };
                let k = TExpr {
                    kind: TKind::Int(a | b),
                    ty: rhs.ty,
                    span: rhs.span,
                };
                return binary(BinOp::BitAnd, x, k, s1, e);
            }
        }
    }
    TExpr {
        kind: TKind::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            signed,
        },
        ty: e.ty,
        span: e.span,
    }
}

/// `x` when `x op c` cannot change it, by the bits `x` may have set: a
/// mask keeping all of them, or `(x << n) >> n` shifting out only zeros.
fn known_bits_noop(op: BinOp, lhs: &TExpr, rhs: &TExpr) -> Option<TExpr> {
    let c = lit(rhs)?;
    match (op, &lhs.kind) {
        (BinOp::BitAnd, _) if bits::maybe_ones(lhs) & !(c as u64) == 0 => Some(lhs.clone()),
        (
            BinOp::Shr,
            TKind::Binary {
                op: BinOp::Shl,
                lhs: x,
                rhs: n,
                ..
            },
        ) if (1..64).contains(&c) && lit(n) == Some(c) && bits::maybe_ones(x) >> (64 - c) == 0 => {
            Some((**x).clone())
        }
        _ => None,
    }
}

/// `v & c` of a variable `v`: the variable, `c` and the signedness flag.
fn masked_var(e: &TExpr) -> Option<(usize, i64, bool)> {
    match &e.kind {
        TKind::Binary {
            op: BinOp::BitAnd,
            lhs,
            rhs,
            signed,
        } => match (&lhs.kind, &rhs.kind) {
            (TKind::Var(v), TKind::Int(c)) | (TKind::Int(c), TKind::Var(v)) => {
                Some((*v, *c, *signed))
            }
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::ast::Span;
    use crate::lang::check::ir::Ty;

    fn ex(kind: TKind) -> TExpr {
        TExpr::new(kind, Ty::INT, Span::default())
    }
    fn int(v: i64) -> TExpr {
        ex(TKind::Int(v))
    }
    fn var(i: usize) -> TExpr {
        ex(TKind::Var(i))
    }
    fn bin(op: BinOp, a: TExpr, b: TExpr) -> TExpr {
        ex(TKind::Binary {
            op,
            lhs: Box::new(a),
            rhs: Box::new(b),
            signed: true,
        })
    }

    #[test]
    fn literals_evaluate_with_wrapping_unsigned_division_and_logical_shift() {
        assert_eq!(
            expr(bin(BinOp::Add, int(i64::MAX), int(1))).kind,
            TKind::Int(i64::MIN)
        );
        assert_eq!(
            expr(bin(BinOp::Div, int(-2), int(2))).kind,
            TKind::Int(i64::MAX)
        );
        assert_eq!(expr(bin(BinOp::Shr, int(-1), int(60))).kind, TKind::Int(15));
        assert_eq!(expr(bin(BinOp::Lt, int(-1), int(0))).kind, TKind::Int(1));
        // Division by zero has no value: left for the checker's error.
        assert!(matches!(
            expr(bin(BinOp::Div, int(1), int(0))).kind,
            TKind::Binary { .. }
        ));
    }

    #[test]
    fn identities_and_chained_constants_go() {
        assert_eq!(expr(bin(BinOp::Mul, var(0), int(1))).kind, TKind::Var(0));
        assert_eq!(expr(bin(BinOp::BitOr, int(0), var(0))).kind, TKind::Var(0));
        let twice = expr(bin(BinOp::Sub, bin(BinOp::Add, var(0), int(1)), int(1)));
        assert_eq!(twice.kind, TKind::Var(0));
        let masks = expr(bin(
            BinOp::BitAnd,
            bin(BinOp::BitAnd, var(0), int(0xff)),
            int(0x0f),
        ));
        assert_eq!(masks, expr(bin(BinOp::BitAnd, var(0), int(0x0f))));
    }

    #[test]
    fn masks_of_one_variable_merge() {
        let e = bin(
            BinOp::BitOr,
            bin(BinOp::BitAnd, var(2), int(0x40)),
            bin(BinOp::BitAnd, var(2), int(0x200)),
        );
        assert_eq!(expr(e), expr(bin(BinOp::BitAnd, var(2), int(0x240))));
        let other = bin(
            BinOp::BitOr,
            bin(BinOp::BitAnd, var(1), int(0x40)),
            bin(BinOp::BitAnd, var(2), int(0x200)),
        );
        assert_eq!(expr(other.clone()), other, "different variables stay");
    }

    #[test]
    fn masks_and_shifts_that_cannot_change_the_value_go() {
        let small = bin(BinOp::BitXor, bin(BinOp::BitAnd, var(0), int(3)), int(0x10));
        let masked = expr(bin(BinOp::BitAnd, small.clone(), int(!0x20)));
        assert_eq!(masked, expr(small.clone()));
        let shifted = bin(BinOp::Shr, bin(BinOp::Shl, small.clone(), int(1)), int(1));
        assert_eq!(expr(shifted), expr(small));
        // A value that may use the top bit loses it: the shifts stay.
        let wide = bin(BinOp::Shr, bin(BinOp::Shl, var(0), int(1)), int(1));
        assert_eq!(expr(wide.clone()), wide);
        // A mask that clears a bit the value may have stays.
        let keep = bin(BinOp::BitAnd, bin(BinOp::BitAnd, var(0), int(3)), int(!1));
        assert!(matches!(
            expr(keep).kind,
            TKind::Binary {
                op: BinOp::BitAnd,
                ..
            }
        ));
    }

    #[test]
    fn a_boolean_choice_of_1_or_0_is_the_condition() {
        let ternary = |cond: TExpr, a: i64, b: i64| {
            ex(TKind::Ternary {
                cond: Box::new(cond),
                then: Box::new(int(a)),
                els: Box::new(int(b)),
            })
        };
        let is_zero = bin(BinOp::Eq, var(0), int(0));
        assert_eq!(expr(ternary(is_zero.clone(), 1, 0)).kind, is_zero.kind);
        assert!(matches!(expr(ternary(is_zero, 0, 1)).kind, TKind::Not(_)));
        // Not a 0/1 condition: the choice stays.
        assert!(matches!(
            expr(ternary(var(0), 1, 0)).kind,
            TKind::Ternary { .. }
        ));
    }
}
