//! `BEGIN` and `END` blocks: they make no BPF program, they are user-space
//! actions the runner performs before attaching and after detaching —
//! `printf` with literal (or constant) arguments, `print(@m)`, `clear(@m)`, `zero(@m)`
//! and `exit()`. Anything else is an error; a kernel builtin (`pid`,
//! `argN`...) is named in it, as it has no meaning outside a probe.

use super::format::ArgKind;
use super::ir::{Action, Literal};
use super::Checker;
use crate::lang::ast::{Expr, ExprKind, Probe, ProbeKind, Span, Stmt, StmtKind, UnOp};
use crate::lang::diag::Diagnostic;

const ALLOWED: &str = "BEGIN and END run in user space: only printf() with literal arguments, print(@m), clear(@m), zero(@m) and exit() are allowed";

impl Checker<'_> {
    /// Checks a BEGIN/END block and records its actions.
    pub(super) fn user_block(&mut self, kind: ProbeKind, probe: &Probe) {
        if let Some(p) = &probe.pred {
            self.error(Diagnostic::new(
                p.span,
                format!("{} takes no predicate", kind.name()),
            ));
        }
        let actions: Vec<Action> = probe
            .body
            .stmts
            .iter()
            .filter_map(|s| self.action(s))
            .collect();
        match kind {
            ProbeKind::End => self.end.extend(actions),
            _ => self.begin.extend(actions),
        }
    }

    fn action(&mut self, s: &Stmt) -> Option<Action> {
        if let StmtKind::Expr(Expr {
            kind: ExprKind::Call { name, args, .. },
            span,
        }) = &s.kind
        {
            match name.as_str() {
                "printf" => return self.user_printf(args, *span),
                "exit" if args.is_empty() => return Some(Action::Exit(())),
                "print" | "clear" | "zero" => {
                    let map = self.map_arg(name, args, *span)?;
                    return Some(match name.as_str() {
                        "print" => Action::Print(map),
                        "clear" => Action::Clear(map),
                        _ => Action::Zero(map),
                    });
                }
                _ => {}
            }
        }
        let d = match first_builtin(s) {
            Some((name, span)) => builtin_outside_probe(&name, span),
            None => Diagnostic::new(s.span, ALLOWED).with_label("not allowed here"),
        };
        self.error(d);
        None
    }

    /// The one map argument of print/clear/zero, which a probe assigns.
    fn map_arg(&mut self, func: &str, args: &[Expr], span: Span) -> Option<String> {
        let [Expr {
            kind: ExprKind::Map(mr),
            span: mspan,
        }] = args
        else {
            let msg = format!("{func}() takes one map: {func}(@name)");
            self.error(Diagnostic::new(span, msg));
            return None;
        };
        if !mr.keys.is_empty() {
            let msg = format!(
                "{func}() takes a whole map, without keys: {func}({})",
                mr.display_name()
            );
            self.error(Diagnostic::new(*mspan, msg));
            return None;
        }
        let assigned = self
            .map_index
            .get(&mr.name)
            .is_some_and(|&i| self.maps[i].value.is_some());
        if !assigned {
            let msg = format!("map {} is never assigned in a probe", mr.display_name());
            self.error(Diagnostic::new(*mspan, msg).with_label("unknown map"));
            return None;
        }
        Some(mr.display_name())
    }

    fn user_printf(&mut self, args: &[Expr], span: Span) -> Option<Action> {
        let (format, convs) = self.printf_format(args, span)?;
        let rest = &args[1..];
        if convs.len() != rest.len() {
            let msg = format!(
                "printf format string has {} conversions but {} arguments are given",
                convs.len(),
                rest.len()
            );
            self.error(Diagnostic::new(span, msg));
            return None;
        }
        let mut lits = Vec::with_capacity(rest.len());
        for (c, a) in convs.iter().zip(rest) {
            let found = match &a.kind {
                // A constant (an unknown name is reported as such).
                ExprKind::Ident(name) => Some(Literal::Int(self.constant_value(name, a.span)?)),
                _ => literal(a),
            };
            let lit = match (found, c.kind) {
                (Some(l @ Literal::Int(_)), ArgKind::Int)
                | (Some(l @ Literal::Str(_)), ArgKind::Str) => l,
                (Some(Literal::Int(_)), _) => {
                    self.error(Diagnostic::new(
                        a.span,
                        format!("{} expects a string, found int", c.text),
                    ));
                    return None;
                }
                (Some(Literal::Str(_)), _) => {
                    let msg = format!("{} expects an integer, found a string", c.text);
                    self.error(Diagnostic::new(a.span, msg));
                    return None;
                }
                (None, _) => {
                    let d = match first_builtin_in(a) {
                        Some((name, span)) => builtin_outside_probe(&name, span),
                        None => Diagnostic::new(
                            a.span,
                            "printf() in BEGIN and END takes only literal arguments",
                        )
                        .with_label("not a literal"),
                    };
                    self.error(d);
                    return None;
                }
            };
            lits.push(lit);
        }
        Some(Action::Printf { format, args: lits })
    }
}

fn builtin_outside_probe(name: &str, span: Span) -> Diagnostic {
    let msg = format!(
        "{name} is not available in BEGIN and END: they run in user space, outside any probe"
    );
    Diagnostic::new(span, msg).with_label("no probe here")
}

/// An integer or string literal, `-N` included.
fn literal(e: &Expr) -> Option<Literal> {
    match &e.kind {
        ExprKind::Int(v) => Some(Literal::Int(*v as i64)),
        ExprKind::Str(s) => Some(Literal::Str(s.clone())),
        ExprKind::Unary {
            op: UnOp::Neg,
            expr,
        } => match expr.kind {
            ExprKind::Int(v) => Some(Literal::Int((v as i64).wrapping_neg())),
            _ => None,
        },
        _ => None,
    }
}

/// The first builtin a statement uses, by name, with its span.
fn first_builtin(s: &Stmt) -> Option<(String, Span)> {
    match &s.kind {
        StmtKind::Expr(e) => first_builtin_in(e),
        StmtKind::Assign { value, .. } => first_builtin_in(value),
        StmtKind::If { cond, .. } => first_builtin_in(cond),
        _ => None,
    }
}

fn first_builtin_in(e: &Expr) -> Option<(String, Span)> {
    match &e.kind {
        ExprKind::Builtin(b) => Some((b.name(), e.span)),
        ExprKind::Unary { expr, .. } | ExprKind::Cast { expr, .. } => first_builtin_in(expr),
        ExprKind::Binary { lhs, rhs, .. } => {
            first_builtin_in(lhs).or_else(|| first_builtin_in(rhs))
        }
        ExprKind::Ternary { cond, then, els } => first_builtin_in(cond)
            .or_else(|| first_builtin_in(then))
            .or_else(|| first_builtin_in(els)),
        ExprKind::Call { args, .. } => args.iter().find_map(first_builtin_in),
        ExprKind::Map(mr) => mr.keys.iter().find_map(first_builtin_in),
        _ => None,
    }
}
