//! Statement checking in kernel probes: assignments to variables and maps
//! (plain, compound, `++`/`--`), aggregations (only as `@m[k] = agg(...)`),
//! `delete`, `printf` against its format, `if`/`else` and `unroll`.

use super::expr::{unknown_function, AGGREGATIONS, FUNCTIONS};
use super::format::{self, ArgKind};
use super::ir::{Agg, PrintfInfo, TExpr, TKind, TStmt, TStmtKind, Ty, ValueKind};
use super::{Checker, Mode};
use crate::lang::ast::{AssignOp, BinOp, Expr, ExprKind, LValue, MapRef, Span, Stmt, StmtKind};
use crate::lang::diag::Diagnostic;

/// The largest `unroll` count (bpftrace's).
pub const UNROLL_MAX: u64 = 100;

impl Checker<'_> {
    /// Checks the statements of a block; erroneous ones are dropped.
    pub(super) fn block_stmts(&mut self, stmts: &[Stmt]) -> Vec<TStmt> {
        stmts.iter().filter_map(|s| self.stmt(s)).collect()
    }

    fn nested(&mut self, stmts: &[Stmt]) -> Vec<TStmt> {
        self.probe.depth += 1;
        let out = self.block_stmts(stmts);
        self.probe.depth -= 1;
        out
    }

    fn stmt(&mut self, s: &Stmt) -> Option<TStmt> {
        let span = s.span;
        let kind = match &s.kind {
            StmtKind::Expr(e) => self.expr_stmt(e)?,
            StmtKind::Assign {
                target: LValue::Var { name, span: vspan },
                op,
                value,
            } => self.assign_var_stmt(name, *vspan, *op, value)?,
            StmtKind::Assign {
                target: LValue::Map(mr),
                op: AssignOp::Set,
                value,
            } => self.assign_map_stmt(mr, value)?,
            StmtKind::Assign {
                target: LValue::Map(mr),
                op: AssignOp::Compound(op),
                value,
            } => {
                let v = self.int_expr(value, "the value of a compound assignment");
                self.update_map(mr, *op, v)?
            }
            StmtKind::Incr {
                target: LValue::Var { name, span: vspan },
                delta,
            } => {
                let one = TExpr::new(TKind::Int(i64::from(*delta)), Ty::INT, span);
                self.compound_var(name, *vspan, BinOp::Add, one)?
            }
            StmtKind::Incr {
                target: LValue::Map(mr),
                delta,
            } => {
                let one = TExpr::new(TKind::Int(i64::from(*delta)), Ty::INT, span);
                self.update_map(mr, BinOp::Add, one)?
            }
            StmtKind::Delete(mr) => self.delete(mr)?,
            StmtKind::If { cond, then, els } => {
                let cond = self.int_expr(cond, "an if condition");
                let then = self.nested(&then.stmts);
                let els = els
                    .as_ref()
                    .map(|b| self.nested(&b.stmts))
                    .unwrap_or_default();
                TStmtKind::If { cond, then, els }
            }
            StmtKind::Unroll { count, body } => {
                if !(1..=UNROLL_MAX).contains(count) {
                    let msg = format!("unroll count must be from 1 to {UNROLL_MAX}, found {count}");
                    self.error(Diagnostic::new(span, msg).with_label("out of range"));
                }
                let body = self.nested(&body.stmts);
                TStmtKind::Unroll {
                    count: (*count).clamp(1, UNROLL_MAX),
                    body,
                }
            }
        };
        Some(TStmt { kind, span })
    }

    /// `printf(...)` and the user-space functions, which are only allowed
    /// in BEGIN/END.
    fn expr_stmt(&mut self, e: &Expr) -> Option<TStmtKind> {
        let ExprKind::Call {
            name,
            args,
            name_span,
        } = &e.kind
        else {
            self.expr(e);
            self.error(
                Diagnostic::new(e.span, "this expression has no effect").with_label("value unused"),
            );
            return None;
        };
        match name.as_str() {
            "printf" => self.printf(args, e.span),
            "signal" => self.signal(args, e.span),
            "print" | "clear" | "zero" | "exit" => {
                let msg = format!("{name}() is only supported in BEGIN and END probes");
                self.error(Diagnostic::new(e.span, msg).with_label("runs in user space"));
                None
            }
            n if AGGREGATIONS.contains(&n) || n == "str" => {
                self.expr(e);
                if n == "str" {
                    self.error(Diagnostic::new(e.span, "this expression has no effect"));
                }
                None
            }
            n if FUNCTIONS.contains(&n) => {
                self.error(Diagnostic::new(
                    e.span,
                    format!("{n}() is not a statement here"),
                ));
                None
            }
            n => {
                self.error(unknown_function(n, *name_span));
                None
            }
        }
    }

    /// `signal(SIG)`: a number or a name (`"KILL"`, `"SIGUSR1"`), allowed
    /// only with [`CompileOptions::unsafe_actions`](super::CompileOptions).
    fn signal(&mut self, args: &[Expr], span: Span) -> Option<TStmtKind> {
        if !self.opts.unsafe_actions {
            self.error(
                Diagnostic::new(
                    span,
                    "signal() is an unsafe action: it sends a signal to the probed task",
                )
                .with_label("unsafe")
                .with_help("compile with --unsafe to allow it"),
            );
            return None;
        }
        let [arg] = args else {
            self.error(Diagnostic::new(
                span,
                "signal() takes 1 argument: a signal number or name",
            ));
            return None;
        };
        if let ExprKind::Str(name) = &arg.kind {
            let Some(n) = signal_number(self.arch, name) else {
                let msg = format!("unknown signal `{name}`");
                self.error(
                    Diagnostic::new(arg.span, msg).with_help("e.g. \"SIGKILL\", \"TERM\" or 9"),
                );
                return None;
            };
            let sig = TExpr::new(TKind::Int(n), Ty::INT, arg.span);
            return Some(TStmtKind::Signal { sig });
        }
        let sig = self.int_expr(arg, "the signal");
        Some(TStmtKind::Signal { sig })
    }

    fn assign_var_stmt(
        &mut self,
        name: &str,
        vspan: Span,
        op: AssignOp,
        value: &Expr,
    ) -> Option<TStmtKind> {
        match op {
            AssignOp::Set => {
                let v = self.value_expr(value, true)?;
                if v.ty == Ty::Kstack {
                    self.error(Diagnostic::new(
                        v.span,
                        "kstack can only be used as a map key",
                    ));
                    return None;
                }
                let var = self.assign_var(name, v.ty, vspan)?;
                Some(TStmtKind::SetVar { var, value: v })
            }
            AssignOp::Compound(op) => {
                let v = self.int_expr(value, "the value of a compound assignment");
                self.compound_var(name, vspan, op, v)
            }
        }
    }

    /// `$x op= v`: `$x = $x op v`.
    fn compound_var(&mut self, name: &str, vspan: Span, op: BinOp, v: TExpr) -> Option<TStmtKind> {
        let (idx, ty) = self.read_var(name, vspan)?;
        let old = TExpr::new(TKind::Var(idx), ty, vspan);
        if !self.need_int(&old, &format!("${name}")) || v.ty == Ty::Error {
            return None;
        }
        let signed = matches!(
            (ty, v.ty),
            (Ty::Int { signed: true }, Ty::Int { signed: true })
        );
        let span = vspan.to(v.span);
        let value = TExpr::new(
            TKind::Binary {
                op,
                lhs: Box::new(old),
                rhs: Box::new(v),
                signed,
            },
            Ty::Int { signed },
            span,
        );
        let var = self.assign_var(name, value.ty, vspan)?;
        Some(TStmtKind::SetVar { var, value })
    }

    /// A value that is not an aggregation (those only go to maps); a
    /// kernel pointer keeps its type if `keep_ptr` (a variable's value).
    fn value_expr(&mut self, value: &Expr, keep_ptr: bool) -> Option<TExpr> {
        if let ExprKind::Call { name, .. } = &value.kind {
            if AGGREGATIONS.contains(&name.as_str()) {
                let msg = format!("{name}() can only be assigned to a map: @name = {name}(...)");
                self.error(Diagnostic::new(value.span, msg).with_label("not a map"));
                return None;
            }
        }
        let v = if keep_ptr {
            self.expr_keep_ptr(value)
        } else {
            self.expr(value)
        };
        (v.ty != Ty::Error).then_some(v)
    }

    fn assign_map_stmt(&mut self, mr: &MapRef, value: &Expr) -> Option<TStmtKind> {
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
        let v = self.value_expr(value, false)?;
        let kind = match v.ty {
            Ty::Int { signed } => ValueKind::Int { signed },
            Ty::Str { size } => ValueKind::Str { size },
            Ty::Sym(s) => ValueKind::Sym(s),
            _ => {
                self.error(Diagnostic::new(
                    v.span,
                    "kstack can only be used as a map key",
                ));
                return None;
            }
        };
        self.assign_map(map, kind, mr.span);
        Some(TStmtKind::SetMap {
            map,
            keys,
            value: v,
        })
    }

    fn map_keys(&mut self, mr: &MapRef) -> Vec<TExpr> {
        mr.keys.iter().map(|k| self.key_expr(k)).collect()
    }

    /// `@m[k] op= v`, `@m[k]++`: an int map, read-modify-write.
    fn update_map(&mut self, mr: &MapRef, op: BinOp, v: TExpr) -> Option<TStmtKind> {
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

    fn delete(&mut self, mr: &MapRef) -> Option<TStmtKind> {
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
        Some(TStmtKind::Delete { map, keys })
    }

    /// `count()`, `sum(x)`, ..., `lhist(x, min, max, step)`.
    fn aggregation(&mut self, name: &str, args: &[Expr], span: Span) -> Option<Agg> {
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

    fn lhist(&mut self, value: TExpr, bounds: &[Expr], span: Span) -> Option<Agg> {
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
                    self.error(d);
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

    /// `printf(fmt, args...)`: the format's conversions and the arguments
    /// must agree in number and kind.
    fn printf(&mut self, args: &[Expr], span: Span) -> Option<TStmtKind> {
        let (format, convs) = self.printf_format(args, span)?;
        let targs: Vec<TExpr> = args[1..].iter().map(|a| self.expr(a)).collect();
        if convs.len() != targs.len() {
            let msg = format!(
                "printf format string has {} conversion{} but {} argument{} given",
                convs.len(),
                if convs.len() == 1 { "" } else { "s" },
                targs.len(),
                if targs.len() == 1 { " is" } else { "s are" }
            );
            self.error(Diagnostic::new(span, msg).with_label("arguments do not match the format"));
            return None;
        }
        let mut ok = true;
        for (c, a) in convs.iter().zip(&targs) {
            ok &= self.printf_arg(c, a);
        }
        if !ok {
            return None;
        }
        let id = self.printfs.len();
        if self.mode == Mode::Check {
            self.printfs.push(PrintfInfo {
                id,
                format,
                args: targs.iter().map(|a| a.ty).collect(),
                span,
            });
        } else {
            self.printfs.push(PrintfInfo {
                id,
                format,
                args: vec![],
                span,
            });
        }
        Some(TStmtKind::Printf { id, args: targs })
    }

    /// The format literal of a printf and its conversions.
    pub(super) fn printf_format(
        &mut self,
        args: &[Expr],
        span: Span,
    ) -> Option<(String, Vec<format::Conversion>)> {
        let Some(Expr {
            kind: ExprKind::Str(fmt),
            span: fspan,
        }) = args.first()
        else {
            self.error(
                Diagnostic::new(
                    span,
                    "printf() needs a format string literal as its first argument",
                )
                .with_label("no format"),
            );
            return None;
        };
        match format::conversions(fmt) {
            Ok(c) => Some((fmt.clone(), c)),
            Err(msg) => {
                self.error(Diagnostic::new(*fspan, msg).with_label("in this format"));
                None
            }
        }
    }

    /// Whether argument `a` suits conversion `c` (reported if not).
    fn printf_arg(&mut self, c: &format::Conversion, a: &TExpr) -> bool {
        let msg = match (c.kind, a.ty) {
            (_, Ty::Error) => return false,
            (ArgKind::Int, Ty::Int { .. }) | (ArgKind::Str, Ty::Str { .. } | Ty::Sym(_)) => {
                return true
            }
            (_, Ty::Kstack) => "kstack can only be used as a map key".to_string(),
            (ArgKind::Int, t) => format!("{} expects an integer, found {}", c.text, t.describe()),
            (ArgKind::Str, t) => format!("{} expects a string, found {}", c.text, t.describe()),
        };
        self.error(Diagnostic::new(a.span, msg).with_label("wrong kind of argument"));
        false
    }
}

/// The number of a signal named with or without `SIG`, from the arch's
/// kernel headers (`SIGKILL`; not `SIG_BLOCK` or `SIGSTKSZ`, which are
/// no signals).
fn signal_number(arch: crate::arch::Arch, name: &str) -> Option<i64> {
    let bare = name.strip_prefix("SIG").unwrap_or(name);
    if bare.is_empty() || bare.starts_with('_') {
        return None;
    }
    crate::lang::constants::uapi(arch)
        .get(&format!("SIG{bare}"))
        .filter(|n| (1..=64).contains(n))
}
