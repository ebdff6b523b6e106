//! Known bits of an integer expression: a mask with a 1 for every bit the
//! value may have set (the value, read as u64, is a subset of the mask and
//! so at most the mask). Derived from the expression alone — literals,
//! masks, shifts, remainders, casts, booleans — and used to drop no-op
//! masks and shifts (`fold`) and range checks (`lhist` buckets).

use crate::lang::ast::{BinOp, Builtin};
use crate::lang::check::ir::{TExpr, TKind};

/// Every bit.
const ANY: u64 = u64::MAX;

/// All bits up to and including the highest set bit of `v`.
fn fill(v: u64) -> u64 {
    match v {
        0 => 0,
        _ => ANY >> v.leading_zeros(),
    }
}

/// The bits `e` may have set.
pub fn maybe_ones(e: &TExpr) -> u64 {
    match &e.kind {
        TKind::Int(v) => *v as u64,
        TKind::Not(_) | TKind::StrEq { .. } | TKind::And(..) | TKind::Or(..) => 1,
        TKind::Builtin(b) => builtin(*b),
        TKind::Cast { int, expr } => {
            let inner = maybe_ones(expr);
            let width = u32::from(int.bytes) * 8;
            if width >= 64 {
                return inner;
            }
            let low = (1u64 << width) - 1;
            if !int.signed || inner >> (width - 1) == 0 {
                inner & low
            } else {
                ANY
            }
        }
        TKind::Deref { int, .. } if !int.signed && int.bytes < 8 => {
            (1u64 << (u32::from(int.bytes) * 8)) - 1
        }
        TKind::Ternary { then, els, .. } => maybe_ones(then) | maybe_ones(els),
        TKind::Binary { op, lhs, rhs, .. } => binary(*op, lhs, rhs),
        _ => ANY,
    }
}

fn builtin(b: Builtin) -> u64 {
    match b {
        Builtin::Pid | Builtin::Tid | Builtin::Uid | Builtin::Gid | Builtin::Cpu => {
            u64::from(u32::MAX)
        }
        Builtin::Rand => u64::from(u32::MAX),
        _ => ANY,
    }
}

fn binary(op: BinOp, lhs: &TExpr, rhs: &TExpr) -> u64 {
    let (a, b) = (maybe_ones(lhs), maybe_ones(rhs));
    let shift = match rhs.kind {
        TKind::Int(n) if (0..64).contains(&n) => Some(n as u32),
        _ => None,
    };
    match op {
        BinOp::BitAnd => a & b,
        BinOp::BitOr | BinOp::BitXor => a | b,
        BinOp::Shl => shift.map_or(ANY, |n| a << n),
        BinOp::Shr => shift.map_or(fill(a), |n| a >> n),
        BinOp::Add => a.checked_add(b).map_or(ANY, fill),
        BinOp::Mul => a.checked_mul(b).map_or(ANY, fill),
        // Unsigned: the quotient is at most the dividend, the remainder
        // below the divisor.
        BinOp::Div => fill(a),
        BinOp::Mod => fill(a).min(fill(b.saturating_sub(1))),
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 1,
        _ => ANY,
    }
}

/// The range `[0, max]` of `e` when it is known to be non-negative.
pub fn unsigned_max(e: &TExpr) -> Option<i64> {
    i64::try_from(maybe_ones(e)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::ast::{IntType, Span};
    use crate::lang::check::ir::Ty;

    fn ex(kind: TKind) -> TExpr {
        TExpr::new(kind, Ty::INT, Span::default())
    }
    fn int(v: i64) -> TExpr {
        ex(TKind::Int(v))
    }
    fn var() -> TExpr {
        ex(TKind::Var(0))
    }
    fn bin(op: BinOp, a: TExpr, b: TExpr) -> TExpr {
        ex(TKind::Binary {
            op,
            lhs: Box::new(a),
            rhs: Box::new(b),
            signed: false,
        })
    }

    #[test]
    fn masks_shifts_and_remainders_bound_the_value() {
        assert_eq!(maybe_ones(&var()), ANY);
        assert_eq!(maybe_ones(&bin(BinOp::BitAnd, var(), int(3))), 3);
        let low = bin(BinOp::BitAnd, bin(BinOp::Shr, var(), int(6)), int(1));
        let acc = bin(BinOp::BitOr, bin(BinOp::BitAnd, var(), int(3)), low);
        assert_eq!(maybe_ones(&acc), 3);
        assert_eq!(
            maybe_ones(&bin(BinOp::BitXor, acc.clone(), int(0x10))),
            0x13
        );
        assert_eq!(maybe_ones(&bin(BinOp::Shl, acc, int(1))), 6);
        assert_eq!(maybe_ones(&bin(BinOp::Mod, var(), int(512))), 511);
        assert_eq!(maybe_ones(&bin(BinOp::Mod, var(), int(100))), 127);
        assert_eq!(maybe_ones(&bin(BinOp::Shr, var(), int(60))), 15);
        assert_eq!(maybe_ones(&bin(BinOp::Lt, var(), int(60))), 1);
        assert_eq!(maybe_ones(&bin(BinOp::Add, int(3), int(4))), 7);
        assert_eq!(maybe_ones(&bin(BinOp::Sub, int(3), int(4))), ANY);
    }

    #[test]
    fn casts_keep_their_width_and_sign() {
        let cast = |bytes, signed, e| {
            ex(TKind::Cast {
                int: IntType { bytes, signed },
                expr: Box::new(e),
            })
        };
        assert_eq!(maybe_ones(&cast(1, false, var())), 0xff);
        assert_eq!(maybe_ones(&cast(1, true, var())), ANY, "may sign-extend");
        assert_eq!(maybe_ones(&cast(1, true, int(0x7f))), 0x7f);
        assert_eq!(maybe_ones(&cast(4, false, var())), 0xffff_ffff);
        assert_eq!(unsigned_max(&cast(2, false, var())), Some(0xffff));
        assert_eq!(unsigned_max(&var()), None);
    }
}
