//! The calls that send a record to user space ([`OutputKind`]), in any
//! probe: `printf` against its format, `print(@m[, top[, div]])` and
//! `print(value)`, `clear(@m)`, `zero(@m)`, `exit([code])` (which also
//! ends the program), `time([format])`, `cat(format, args...)` and, with
//! `--unsafe`, `system(format, args...)`. Each call gets a record id; the
//! manifest describes the record and user space acts on it when it
//! arrives, in order.

use super::format::{self, ArgKind};
use super::ir::{OutputInfo, OutputKind, TExpr, TKind, TStmtKind, Ty};
use super::{Checker, Mode};
use crate::lang::ast::{Expr, ExprKind, Span};
use crate::lang::diag::Diagnostic;

/// bpftrace's format of `time()` without an argument.
pub const TIME_FORMAT: &str = "%H:%M:%S\n";

/// The calls this module checks.
pub const OUTPUT_CALLS: &[&str] = &[
    "printf", "print", "clear", "zero", "exit", "time", "cat", "system",
];

impl Checker<'_> {
    /// An output call as a statement; `None` after an error.
    pub(super) fn output_call(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
    ) -> Option<TStmtKind> {
        match name {
            "printf" => self.formatted(name, args, span, |format| OutputKind::Printf { format }),
            "cat" => self.formatted(name, args, span, |format| OutputKind::Cat { format }),
            "system" => {
                if !self.opts.unsafe_actions {
                    self.error(
                        Diagnostic::new(
                            span,
                            "system() is an unsafe action: it runs a command on this machine",
                        )
                        .with_label("unsafe")
                        .with_help("compile with --unsafe to allow it"),
                    );
                    return None;
                }
                self.formatted(name, args, span, |format| OutputKind::System { format })
            }
            "time" => {
                let format = match args {
                    [] => TIME_FORMAT.to_string(),
                    [Expr {
                        kind: ExprKind::Str(f),
                        ..
                    }] => f.clone(),
                    _ => {
                        self.error(Diagnostic::new(
                            span,
                            "time() takes at most one argument, a format string literal",
                        ));
                        return None;
                    }
                };
                Some(self.record(OutputKind::Time { format }, vec![], span))
            }
            "exit" => {
                let code = match args {
                    [] => vec![],
                    [code] => vec![self.int_expr(code, "the exit code")],
                    _ => {
                        self.error(Diagnostic::new(span, "exit() takes at most one argument"));
                        return None;
                    }
                };
                Some(self.record(OutputKind::Exit, code, span))
            }
            "clear" | "zero" => {
                let [arg] = args else {
                    let msg = format!("{name}() takes one map: {name}(@name)");
                    self.error(Diagnostic::new(span, msg));
                    return None;
                };
                let map = self.whole_map(name, arg)?;
                let kind = if name == "clear" {
                    OutputKind::Clear { map }
                } else {
                    OutputKind::Zero { map }
                };
                Some(self.record(kind, vec![], span))
            }
            "print" => self.print(args, span),
            _ => None,
        }
    }

    /// `print(@m[, top[, div]])` or `print(value)`.
    fn print(&mut self, args: &[Expr], span: Span) -> Option<TStmtKind> {
        let Some((first, rest)) = args.split_first().filter(|_| args.len() <= 3) else {
            self.error(Diagnostic::new(
                span,
                "print() takes a map and at most two numbers, or one value: print(@m[, top[, div]]), print(value)",
            ));
            return None;
        };
        if matches!(&first.kind, ExprKind::Map(m) if m.keys.is_empty()) {
            let map = self.whole_map("print", first)?;
            let mut nums = [0u32; 2];
            for (slot, a) in nums.iter_mut().zip(rest) {
                match self.expr(a).kind {
                    TKind::Int(n) if (0..=i64::from(u32::MAX)).contains(&n) => *slot = n as u32,
                    _ => {
                        let msg = "print()'s top and div must be integer literals";
                        let d = Diagnostic::new(a.span, msg).with_label("not a literal");
                        self.not_literal(a, d);
                        return None;
                    }
                }
            }
            let [top, div] = nums;
            return Some(self.record(OutputKind::Print { map, top, div }, vec![], span));
        }
        if !rest.is_empty() {
            let msg = "print() of a value takes that value alone";
            self.error(Diagnostic::new(span, msg));
            return None;
        }
        let v = self.value_expr(first, false)?;
        Some(self.record(OutputKind::Value, vec![v], span))
    }

    /// The map a `print`/`clear`/`zero` takes whole: its index.
    fn whole_map(&mut self, func: &str, arg: &Expr) -> Option<usize> {
        let ExprKind::Map(mr) = &arg.kind else {
            let msg = format!("{func}() takes a map: {func}(@name)");
            self.error(Diagnostic::new(arg.span, msg).with_label("not a map"));
            return None;
        };
        if !mr.keys.is_empty() {
            let msg = format!(
                "{func}() takes a whole map, without keys: {func}({})",
                mr.display_name()
            );
            self.error(Diagnostic::new(mr.span, msg));
            return None;
        }
        let found = self
            .map_index
            .get(&mr.name)
            .copied()
            .filter(|&i| self.maps[i].value.is_some());
        if found.is_none() {
            let msg = format!("map {} is never assigned", mr.display_name());
            self.error(Diagnostic::new(mr.span, msg).with_label("unknown map"));
        }
        found
    }

    /// A call taking a format string and its arguments (`printf`, `cat`,
    /// `system`): the conversions and the arguments must agree in number
    /// and kind.
    fn formatted(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
        kind: impl FnOnce(String) -> OutputKind,
    ) -> Option<TStmtKind> {
        let (format, convs) = self.printf_format(name, args, span)?;
        let targs: Vec<TExpr> = args[1..].iter().map(|a| self.expr(a)).collect();
        if convs.len() != targs.len() {
            let msg = format!(
                "{name} format string has {} conversion{} but {} argument{} given",
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
        Some(self.record(kind(format), targs, span))
    }

    /// Registers a record kind and the statement that sends it.
    fn record(&mut self, kind: OutputKind, args: Vec<TExpr>, span: Span) -> TStmtKind {
        let id = self.outputs.len();
        // Argument types settle over the declare passes: only the check
        // pass records them.
        let tys = if self.mode == Mode::Check {
            args.iter().map(|a| a.ty).collect()
        } else {
            vec![]
        };
        self.outputs.push(OutputInfo {
            id,
            kind,
            args: tys,
            span,
        });
        TStmtKind::Output { id, args }
    }

    /// The format literal of a printf-like call and its conversions.
    pub(super) fn printf_format(
        &mut self,
        name: &str,
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
                    format!("{name}() needs a format string literal as its first argument"),
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
            (ArgKind::Int, Ty::Int { .. })
            | (ArgKind::Str, Ty::Str { .. } | Ty::Sym(_) | Ty::Inet)
            | (ArgKind::Buf, Ty::Buf { .. }) => return true,
            (_, Ty::Buf { .. }) => format!("{} cannot print a buf(); use %r", c.text),
            (ArgKind::Buf, t) => format!("%r prints a buf(), found {}", t.describe()),
            (ArgKind::Str, Ty::Kstack(_)) => return true,
            (_, Ty::Kstack(_)) => format!("{} cannot print a kstack; use %s", c.text),
            (_, Ty::Tuple { .. }) => format!(
                "{} cannot print a tuple; pass its elements (`$t.0`, `$t.1`, ...)",
                c.text
            ),
            (ArgKind::Int, t) => format!("{} expects an integer, found {}", c.text, t.describe()),
            (ArgKind::Str, t) => format!("{} expects a string, found {}", c.text, t.describe()),
        };
        self.error(Diagnostic::new(a.span, msg).with_label("wrong kind of argument"));
        false
    }
}
