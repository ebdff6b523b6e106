//! Statement checking: assignments to variables and maps (plain,
//! compound, `++`/`--`), `let` declarations, aggregations (only as
//! `@m[k] = agg(...)`), `delete`, the calls that send records to user
//! space (`check::output`), `signal`, `if`/`else`, `unroll`, and the
//! loops: `while`, `for` over a range (a loop stepping a counter), `for`
//! over a map (a callback's body, `$kv` the entry), `break`, `continue`
//! and `return`.

use super::expr::{unknown_function, AGGREGATIONS, FUNCTIONS};
use super::ir::{OutputKind, TExpr, TKind, TStmt, TStmtKind, Ty, ValueKind};
use super::output::OUTPUT_CALLS;
use super::tables::DeclTy;
use super::Checker;
use crate::lang::ast::{
    AssignOp, BinOp, Block, Builtin, DeclType, Expr, ExprKind, LValue, MapRef, Span, Stmt, StmtKind,
};
use crate::lang::diag::Diagnostic;

/// The largest `unroll` count (bpftrace's).
pub const UNROLL_MAX: u64 = 100;

impl Checker<'_> {
    /// Checks the statements of a block; erroneous ones are dropped.
    pub(super) fn block_stmts(&mut self, stmts: &[Stmt]) -> Vec<TStmt> {
        let mut out = Vec::with_capacity(stmts.len());
        for s in stmts {
            match &s.kind {
                StmtKind::ForRange {
                    var,
                    var_span,
                    start,
                    end,
                    body,
                } => out.extend(self.for_range(var, *var_span, start, end, body, s.span)),
                _ => {
                    let t = self.stmt(s);
                    // `exit()` also ends the program, as bpftrace's does.
                    let exits = t.as_ref().is_some_and(|t| {
                        matches!(&t.kind, TStmtKind::Output { id, .. }
                            if self.outputs.get(*id).is_some_and(|o| o.kind == OutputKind::Exit))
                    });
                    out.extend(t);
                    if exits {
                        out.push(TStmt {
                            kind: TStmtKind::Return,
                            span: s.span,
                        });
                    }
                }
            }
        }
        out
    }

    /// The statements of a nested block, its `let`s scoped to it.
    fn nested(&mut self, stmts: &[Stmt]) -> Vec<TStmt> {
        self.probe.depth += 1;
        self.probe.scopes.push(Vec::new());
        let out = self.block_stmts(stmts);
        self.probe.scopes.pop();
        self.probe.depth -= 1;
        out
    }

    /// The body of a loop.
    fn loop_body(&mut self, stmts: &[Stmt]) -> Vec<TStmt> {
        self.probe.loops += 1;
        let out = self.nested(stmts);
        self.probe.loops -= 1;
        out
    }

    fn stmt(&mut self, s: &Stmt) -> Option<TStmt> {
        let span = s.span;
        if let Some(kind) = self.control_stmt(s) {
            return kind.map(|kind| TStmt { kind, span });
        }
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
            _ => return None,
        };
        Some(TStmt { kind, span })
    }

    /// `let`, loops and jumps: `Some` of what the statement becomes
    /// (`None` inside after an error), `None` for another statement.
    fn control_stmt(&mut self, s: &Stmt) -> Option<Option<TStmtKind>> {
        let span = s.span;
        Some(match &s.kind {
            StmtKind::Let {
                name,
                name_span,
                ty,
                value,
            } => self.let_stmt(name, *name_span, ty.as_ref(), value.as_ref()),
            StmtKind::While { cond, body } => {
                let cond = self.int_expr(cond, "a while condition");
                let body = self.loop_body(&body.stmts);
                Some(TStmtKind::Loop {
                    cond,
                    body,
                    step: vec![],
                })
            }
            StmtKind::ForMap {
                var,
                var_span,
                map,
                body,
            } => self.for_map(var, *var_span, map, body, span),
            StmtKind::Break | StmtKind::Continue if self.probe.loops == 0 => {
                let word = if s.kind == StmtKind::Break {
                    "break"
                } else {
                    "continue"
                };
                self.error(
                    Diagnostic::new(span, format!("`{word}` outside a loop"))
                        .with_label("no loop around it")
                        .with_help("`break` and `continue` go inside `while` and `for`"),
                );
                None
            }
            StmtKind::Break => Some(TStmtKind::Break),
            StmtKind::Continue => Some(TStmtKind::Continue),
            StmtKind::Return => Some(TStmtKind::Return),
            _ => return None,
        })
    }

    /// `let $name[: ty] [= value]`.
    fn let_stmt(
        &mut self,
        name: &str,
        span: Span,
        ty: Option<&DeclType>,
        value: Option<&Expr>,
    ) -> Option<TStmtKind> {
        let decl = match ty {
            Some(t) => Some(self.decl_ty(t, span)?),
            None => None,
        };
        // The value is typed before the name is declared: `let $x = $x + 1`
        // reads the outer `$x`.
        if let Some(Expr {
            kind: ExprKind::Call { name: f, args, .. },
            span: at,
        }) = value
        {
            if f == "delete" {
                self.declare_var(name, span, decl)?;
                return self.delete_into(name, span, args, *at);
            }
        }
        let value = match value {
            Some(v) => match self.var_value(v) {
                Some(t) => Some(t),
                None => {
                    if self.declare_var(name, span, decl).is_some() {
                        self.poison_var(name, span);
                    }
                    return None;
                }
            },
            None => None,
        };
        let idx = self.declare_var(name, span, decl)?;
        let value = match (value, decl) {
            (Some(v), _) => v,
            // A declaration without a value starts at zero, as bpftrace's
            // does (in each iteration of a loop around it): its declared
            // type, or the type its assignments give it.
            (None, Some(t)) => self.zero_of(t, span),
            (None, None) => match self.vars[self.block][idx].ty {
                ty @ (Ty::Int { .. } | Ty::Ptr(_) | Ty::Sym(_)) => {
                    TExpr::new(TKind::Int(0), ty, span)
                }
                Ty::Str { size } => TExpr::new(TKind::Str(vec![]), Ty::Str { size }, span),
                _ => return None,
            },
        };
        let (var, value) = self.assign_var(name, value, span)?;
        debug_assert_eq!(var, idx);
        Some(TStmtKind::SetVar { var, value })
    }

    /// The zero value of a declared type.
    fn zero_of(&mut self, t: DeclTy, span: Span) -> TExpr {
        match t {
            DeclTy::Str(size) => TExpr::new(TKind::Str(vec![]), Ty::Str { size }, span),
            other => TExpr::new(TKind::Int(0), other.ty(), span),
        }
    }

    /// A declared type, checked.
    fn decl_ty(&mut self, t: &DeclType, span: Span) -> Option<DeclTy> {
        match t {
            DeclType::Int(i) => Some(DeclTy::Int(*i)),
            DeclType::Str(None) => Some(DeclTy::Str(self.settings.str_size)),
            DeclType::Str(Some(n)) => match u32::try_from(*n) {
                Ok(n @ 1..=super::ir::settings::STR_MAX) => Some(DeclTy::Str(n)),
                _ => {
                    let max = super::ir::settings::STR_MAX;
                    self.error(Diagnostic::new(
                        span,
                        format!("a string type holds from 1 to {max} bytes, found {n}"),
                    ));
                    None
                }
            },
            DeclType::Record(r) => {
                let (_, id) = self.record_type(r)?;
                if r.depth > 1 {
                    let what = r.c_name();
                    self.error(
                        Diagnostic::new(
                            r.span,
                            format!("variables of type `{}` are not supported", what.trim_end()),
                        )
                        .with_label("a pointer to a pointer"),
                    );
                    return None;
                }
                Some(DeclTy::Ptr(id))
            }
            DeclType::Other(text) => {
                self.error(
                    Diagnostic::new(
                        span,
                        format!("variables of type `{text}` are not supported yet"),
                    )
                    .with_label("not supported yet")
                    .with_help(
                        "declare an integer (`uint32`), `string`, `string[N]` or a struct pointer",
                    ),
                );
                None
            }
        }
    }

    /// `for ($kv : @m) { body }`: the body once per entry of a map of one
    /// key and an assigned value, `$kv` the tuple (key, value), run as
    /// `bpf_for_each_map_elem`'s callback — which has no probe context
    /// (arguments are read before the loop, into variables) and no
    /// `return` out of the probe.
    fn for_map(
        &mut self,
        var: &str,
        var_span: Span,
        mr: &MapRef,
        body: &Block,
        span: Span,
    ) -> Option<TStmtKind> {
        let name = mr.display_name();
        if !mr.keys.is_empty() {
            let msg = format!("`for` takes a whole map, without keys: `for ($kv : {name})`");
            self.error(Diagnostic::new(mr.span, msg));
            return None;
        }
        let map = self.assigned_map(mr)?;
        let info = &self.maps[map];
        // count() and sum() read as their total over the CPUs, as
        // bpftrace reads them; min() and max() would branch on every CPU,
        // more paths than a verifier explores; the other aggregations are
        // no one value (bpftrace refuses them too).
        let value = info.value_kind();
        let value_ty = value
            .assigned_ty()
            .or_else(|| matches!(value, ValueKind::Count | ValueKind::Sum).then_some(Ty::INT));
        let why = match (&info.keys[..], value_ty) {
            ([], _) => Some("has no key".to_string()),
            ([_, _, ..], _) => {
                Some("has several keys (`$kv.0` would be a tuple in a tuple)".into())
            }
            (_, None) => Some(format!("holds {} values", value.describe())),
            (_, Some(Ty::Tuple { .. })) => {
                Some("holds tuples (`$kv.1` would be a tuple in a tuple)".into())
            }
            _ => None,
        };
        if let Some(why) = why {
            let msg = format!("`for` over map {name} is not supported yet: it {why}");
            self.error(Diagnostic::new(mr.span, msg).with_label("not supported yet"));
            return None;
        }
        if !self.callbacks_allowed("`for` over a map", span) {
            return None;
        }
        let key = self.maps[map].keys[0].ty();
        let kv = self.tuple_ty(vec![key, value_ty?]);
        self.probe.scopes.push(Vec::new());
        let idx = self.declare_var(var, var_span, None);
        let var = idx.and_then(|_| {
            let typed = TExpr::new(TKind::Tuple(vec![]), kv, var_span);
            self.assign_var(var, typed, var_span).map(|(v, _)| v)
        });
        let body = self.loop_body(&body.stmts);
        self.probe.scopes.pop();
        let var = var?;
        let mut ok = true;
        for s in &body {
            s.visit_exprs(&mut |e| {
                let what = match e.kind {
                    TKind::Builtin(b @ (Builtin::Arg(_) | Builtin::Retval | Builtin::Kstack | Builtin::Func)) => b.name(),
                    _ => return,
                };
                self.error(
                    Diagnostic::new(
                        e.span,
                        format!("{what} cannot be read in the body of a `for` over a map: it runs as a callback, without the probe's context"),
                    )
                    .with_label("no probe context here")
                    .with_help(format!("read it into a variable before the loop: `$x = {what};`")),
                );
                ok = false;
            });
        }
        if let Some(at) = forbidden_in_callback(&body) {
            let msg = "`return` and a nested `for` over a map are not supported in the body of a `for` over a map";
            self.error(Diagnostic::new(at, msg));
            ok = false;
        }
        ok.then_some(TStmtKind::ForMap { map, var, body })
    }

    /// `for ($i : start..end) { body }`: `$i` takes each value from `start`
    /// up to `end` (excluded), both evaluated once before the loop; the
    /// body may change `$i` without changing the iteration. The statements:
    /// the counter (and the bound unless it is a literal) set, then a loop
    /// stepping the counter.
    fn for_range(
        &mut self,
        var: &str,
        var_span: Span,
        start: &Expr,
        end: &Expr,
        body: &Block,
        span: Span,
    ) -> Vec<TStmt> {
        let start = self.int_expr(start, "the start of a range");
        let end = self.int_expr(end, "the end of a range");
        if start.ty == Ty::Error || end.ty == Ty::Error {
            return vec![];
        }
        let signed = matches!(
            (start.ty, end.ty),
            (Ty::Int { signed: true }, Ty::Int { signed: true })
        );
        let ty = Ty::Int { signed };
        let int = |kind, span| TExpr::new(kind, ty, span);
        // The counter and the bound: variables of the loop's own scope,
        // named so that no program text can refer to them.
        self.probe.scopes.push(Vec::new());
        let mut stmts = Vec::new();
        let Some((counter, set)) = self.hidden_var("range counter", var_span, start) else {
            self.probe.scopes.pop();
            return vec![];
        };
        stmts.push(set);
        let bound = match end.kind {
            TKind::Int(_) => end,
            _ => match self.hidden_var("range end", end.span, end.clone()) {
                Some((idx, set)) => {
                    stmts.push(set);
                    int(TKind::Var(idx), end.span)
                }
                None => end,
            },
        };
        let cond = int(
            TKind::Binary {
                op: BinOp::Lt,
                lhs: Box::new(int(TKind::Var(counter), var_span)),
                rhs: Box::new(bound),
                signed,
            },
            var_span,
        );
        // `$i` is the counter's value, fresh in each iteration.
        self.probe.scopes.push(Vec::new());
        let idx = self.declare_var(var, var_span, None);
        let set_i =
            idx.and_then(|_| self.assign_var(var, int(TKind::Var(counter), var_span), var_span));
        let mut inner: Vec<TStmt> = set_i
            .map(|(var, value)| TStmt {
                kind: TStmtKind::SetVar { var, value },
                span: var_span,
            })
            .into_iter()
            .collect();
        inner.extend(self.loop_body(&body.stmts));
        self.probe.scopes.pop();
        self.probe.scopes.pop();
        let step = TStmt {
            kind: TStmtKind::SetVar {
                var: counter,
                value: int(
                    TKind::Binary {
                        op: BinOp::Add,
                        lhs: Box::new(int(TKind::Var(counter), var_span)),
                        rhs: Box::new(int(TKind::Int(1), var_span)),
                        signed,
                    },
                    var_span,
                ),
            },
            span: var_span,
        };
        stmts.push(TStmt {
            kind: TStmtKind::Loop {
                cond,
                body: inner,
                step: vec![step],
            },
            span,
        });
        stmts
    }

    /// A variable no program text names, declared at `span` in the
    /// current scope and set to `value`.
    fn hidden_var(&mut self, what: &str, span: Span, value: TExpr) -> Option<(usize, TStmt)> {
        let name = format!("<{what}>");
        self.declare_var(&name, span, None)?;
        let (var, value) = self.assign_var(&name, value, span)?;
        Some((
            var,
            TStmt {
                kind: TStmtKind::SetVar { var, value },
                span,
            },
        ))
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
            n if OUTPUT_CALLS.contains(&n) => self.output_call(n, args, e.span),
            "signal" => self.signal(args, e.span),
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
                if let ExprKind::Call { name: f, args, .. } = &value.kind {
                    if f == "delete" {
                        return self.delete_into(name, vspan, args, value.span);
                    }
                }
                let Some(v) = self.var_value(value) else {
                    self.poison_var(name, vspan);
                    return None;
                };
                let (var, value) = self.assign_var(name, v, vspan)?;
                Some(TStmtKind::SetVar { var, value })
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
        let (var, value) = self.assign_var(name, value, vspan)?;
        Some(TStmtKind::SetVar { var, value })
    }

    /// A value a variable can hold: not an aggregation.
    fn var_value(&mut self, value: &Expr) -> Option<TExpr> {
        self.value_expr(value, true)
    }

    /// A value that is not an aggregation (those only go to maps); a
    /// kernel pointer keeps its type if `keep_ptr` (a variable's value).
    pub(super) fn value_expr(&mut self, value: &Expr, keep_ptr: bool) -> Option<TExpr> {
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
}

/// Where a statement a callback cannot run is: `return` (out of the
/// probe) or another `for` over a map.
fn forbidden_in_callback(stmts: &[TStmt]) -> Option<Span> {
    stmts.iter().find_map(|s| match s.kind {
        TStmtKind::Return | TStmtKind::ForMap { .. } => Some(s.span),
        _ => s
            .blocks()
            .into_iter()
            .find_map(|b| forbidden_in_callback(b)),
    })
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
