//! Statements on maps in kernel probes: `@m[k] = v`, compound updates,
//! `delete` (also as a value), and the aggregations `@m[k] = agg(...)`
//! with `lhist`'s bounds.

use super::expr::AGGREGATIONS;
use super::ir::{Agg, Sym, TExpr, TKind, TStmtKind, Ty, ValueKind};
use super::Checker;
use crate::lang::ast::{BinOp, Builtin, Expr, ExprKind, MapRef, Span};
use crate::lang::diag::Diagnostic;

impl Checker<'_> {
    pub(super) fn assign_map_stmt(&mut self, mr: &MapRef, value: &Expr) -> Option<TStmtKind> {
        if let ExprKind::Call { name, args, .. } = &value.kind {
            if AGGREGATIONS.contains(&name.as_str()) {
                let agg = self.aggregation(name, args, value.span);
                let keys = self.map_keys(mr);
                let map = self.use_map(mr, &keys);
                let agg = agg?;
                self.assign_map(map, agg.value_kind(), mr.span);
                return Some(TStmtKind::Aggregate { map, keys, agg });
            }
        }
        let keys = self.map_keys(mr);
        let map = self.use_map(mr, &keys);
        let mut v = self.value_expr(value, true)?;
        if v.kind == TKind::Builtin(Builtin::Func)
            && self.maps[map].value == Some(ValueKind::Sym(Sym::Ksym))
        {
            // Stored as its address, which `ksym()` names (lowering
            // resolves it to the program's function).
            v.ty = Ty::Sym(Sym::Ksym);
        }
        let kind = match v.ty {
            Ty::Int { signed } => ValueKind::Int { signed },
            Ty::Str { size } => ValueKind::Str { size },
            Ty::Sym(s) => ValueKind::Sym(s),
            Ty::Kstack(s) => ValueKind::Kstack(s),
            Ty::Inet => ValueKind::Inet,
            Ty::Buf { .. } => {
                self.error(
                    Diagnostic::new(v.span, "buf() values can only be printed yet (%r)")
                        .with_label("a buffer"),
                );
                return None;
            }
            // A pointer stores its address, and reads back as the pointer.
            Ty::Ptr(t) => ValueKind::Ptr(t),
            Ty::Tuple { id, size } => ValueKind::Tuple { id, size },
            Ty::Error => return None,
        };
        self.assign_map(map, kind, mr.span);
        Some(TStmtKind::SetMap {
            map,
            keys,
            value: v,
        })
    }

    pub(super) fn map_keys(&mut self, mr: &MapRef) -> Vec<TExpr> {
        self.map_key_exprs(&mr.keys)
    }

    /// `@m[k] op= v`, `@m[k]++`: an int map, read-modify-write.
    pub(super) fn update_map(&mut self, mr: &MapRef, op: BinOp, v: TExpr) -> Option<TStmtKind> {
        let keys = self.map_keys(mr);
        let map = self.use_map(mr, &keys);
        if matches!(op, BinOp::Div | BinOp::Mod) && matches!(v.kind, TKind::Int(0)) {
            self.error(Diagnostic::new(v.span, "division by zero"));
            return None;
        }
        if matches!(op, BinOp::Shl | BinOp::Shr)
            && matches!(v.kind, TKind::Int(n) if !(0..64).contains(&n))
        {
            self.error(Diagnostic::new(v.span, "shift amount must be from 0 to 63"));
            return None;
        }
        self.assign_map(map, ValueKind::Int { signed: true }, mr.span);
        (v.ty != Ty::Error).then_some(TStmtKind::UpdateMap {
            map,
            keys,
            op,
            value: v,
        })
    }

    pub(super) fn delete(&mut self, mr: &MapRef) -> Option<TStmtKind> {
        let keys = self.map_keys(mr);
        let map = self.use_map(mr, &keys);
        let value = self.assigned_value(map, mr.span)?;
        if value.has_bucket() {
            let msg = format!(
                "delete() of one {} bucket is not supported; clear({}) in END instead",
                value.describe(),
                mr.display_name()
            );
            self.error(Diagnostic::new(mr.span, msg));
            return None;
        }
        Some(TStmtKind::Delete {
            map,
            keys,
            ok: None,
        })
    }

    /// `delete(@m[k])` or `delete(@m, k)` called for its value: the map
    /// element it names.
    pub(super) fn delete_target(&mut self, args: &[Expr], span: Span) -> Option<MapRef> {
        match args {
            [Expr {
                kind: ExprKind::Map(m),
                ..
            }] => Some(m.clone()),
            [Expr {
                kind: ExprKind::Map(m),
                ..
            }, key]
                if m.keys.is_empty() =>
            {
                Some(MapRef {
                    keys: vec![key.clone()],
                    span: m.span.to(key.span),
                    ..m.clone()
                })
            }
            _ => {
                self.error(
                    Diagnostic::new(span, "`delete` takes a map element")
                        .with_label("not a map element")
                        .with_help("write `delete(@m[key])` or `delete(@m, key)`"),
                );
                None
            }
        }
    }

    /// `$name = delete(...)` (`vspan` the variable): the deletion, setting
    /// the variable to whether an entry went.
    pub(super) fn delete_into(
        &mut self,
        name: &str,
        vspan: Span,
        args: &[Expr],
        span: Span,
    ) -> Option<TStmtKind> {
        let mr = self.delete_target(args, span)?;
        let TStmtKind::Delete { map, keys, .. } = self.delete(&mr)? else {
            return None;
        };
        let one = TExpr::new(TKind::Int(1), Ty::INT, span);
        let (var, _) = self.assign_var(name, one, vspan)?;
        Some(TStmtKind::Delete {
            map,
            keys,
            ok: Some(var),
        })
    }

    /// `count()`, `sum(x)`, ..., `lhist(x, min, max, step)`.
    pub(super) fn aggregation(&mut self, name: &str, args: &[Expr], span: Span) -> Option<Agg> {
        let want = match name {
            "count" => 0,
            "lhist" => 4,
            _ => 1,
        };
        if args.len() != want {
            let msg = match want {
                0 => format!("{name}() takes no arguments"),
                1 => format!("{name}() takes 1 argument"),
                n => format!("{name}() takes {n} arguments: {name}(value, min, max, step)"),
            };
            self.error(Diagnostic::new(span, msg).with_label("wrong number of arguments"));
            args.iter().for_each(|a| {
                self.expr(a);
            });
            return None;
        }
        if name == "count" {
            return Some(Agg::Count);
        }
        let v = self.int_expr(&args[0], &format!("the argument of {name}()"));
        let ok = v.ty != Ty::Error;
        let agg = match name {
            "sum" => Agg::Sum(v),
            "min" => Agg::Min(v),
            "max" => Agg::Max(v),
            "avg" => Agg::Avg(v),
            "stats" => Agg::Stats(v),
            "hist" => Agg::Hist(v),
            _ => self.lhist(v, &args[1..], span)?,
        };
        ok.then_some(agg)
    }

    pub(super) fn lhist(&mut self, value: TExpr, bounds: &[Expr], span: Span) -> Option<Agg> {
        let mut lits = Vec::with_capacity(3);
        for b in bounds {
            match self.expr(b).kind {
                TKind::Int(v) => lits.push(v),
                _ => {
                    let d = Diagnostic::new(
                        b.span,
                        "lhist() bounds must be integer literals: lhist(x, min, max, step)",
                    )
                    .with_label("not a literal");
                    self.not_literal(b, d);
                }
            }
        }
        let [min, max, step] = lits[..] else {
            return None;
        };
        if step <= 0 {
            self.error(Diagnostic::new(
                bounds[2].span,
                "lhist() step must be positive",
            ));
            return None;
        }
        if max <= min {
            self.error(Diagnostic::new(span, "lhist() min must be less than max"));
            return None;
        }
        Some(Agg::Lhist {
            value,
            min,
            max,
            step,
        })
    }
}
