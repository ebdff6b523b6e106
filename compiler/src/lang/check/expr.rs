//! Expression typing: builtins (with the arch's argument limits), integer
//! arithmetic (64-bit, unsigned if either side is), casts and kernel memory
//! reads, strings (`comm`, `str()`, literals, compared with a literal), map
//! reads and scratch variables. Literal arithmetic is folded. Each error is
//! reported once and gives [`Ty::Error`], which later checks accept, so one
//! mistake does not cascade.

use super::ir::settings::{StackMode, STR_MAX};
use super::ir::{KeyTy, Param, Stack, Sym, TExpr, TKind, Ty};
use super::Checker;
use crate::arch::ArchError;
use crate::lang::ast::{
    BinOp, Builtin, CastType, Expr, ExprKind, IntType, MapRef, ProbeKind, Span, UnOp,
};
use crate::lang::diag::{suggest, Diagnostic};

/// Functions a probe may call somewhere, for "did you mean".
pub const FUNCTIONS: &[&str] = &[
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "stats",
    "hist",
    "lhist",
    "printf",
    "str",
    "print",
    "clear",
    "zero",
    "exit",
    "delete",
    "signal",
    "time",
    "cat",
    "system",
    "kstack",
    "bswap",
    "strncmp",
    "has_key",
    "kaddr",
    "ksym",
    "strftime",
    "cgroup_path",
    "ntop",
    "buf",
    "len",
];

/// The aggregations, which may only be assigned to a map.
pub const AGGREGATIONS: &[&str] = &[
    "count", "sum", "min", "max", "avg", "stats", "hist", "lhist",
];

impl Checker<'_> {
    /// Types `e`; a kernel pointer becomes its address, an unsigned int.
    pub(super) fn expr(&mut self, e: &Expr) -> TExpr {
        let t = self.expr_keep_ptr(e);
        match t.ty {
            Ty::Ptr(_) => TExpr::new(t.kind, Ty::Int { signed: false }, t.span),
            _ => t,
        }
    }

    /// Types `e`, keeping a kernel pointer's type (for `->` and variables).
    pub(super) fn expr_keep_ptr(&mut self, e: &Expr) -> TExpr {
        let span = e.span;
        match &e.kind {
            ExprKind::Int(v) => TExpr::new(
                TKind::Int(*v as i64),
                Ty::Int {
                    signed: *v <= i64::MAX as u64,
                },
                span,
            ),
            ExprKind::Str(s) => {
                let bytes = s.as_bytes().to_vec();
                let size = bytes.len() as u32 + 1;
                TExpr::new(TKind::Str(bytes), Ty::Str { size }, span)
            }
            ExprKind::Builtin(Builtin::Curtask) => self.curtask(span),
            ExprKind::Builtin(b) => self.builtin(*b, span),
            ExprKind::Var(name) => match self.read_var(name, span) {
                Some((idx, ty)) => TExpr::new(TKind::Var(idx), ty, span),
                None => TExpr::error(span),
            },
            // Signed, as the literals bpftrace makes of them are.
            ExprKind::Param(0) => {
                TExpr::new(TKind::Param(Param::Count), Ty::Int { signed: true }, span)
            }
            ExprKind::Param(n) => {
                TExpr::new(TKind::Param(Param::Int(*n)), Ty::Int { signed: true }, span)
            }
            ExprKind::ParamStr(n) => TExpr::new(
                TKind::Param(Param::Str(*n)),
                Ty::Str {
                    size: self.settings.str_size,
                },
                span,
            ),
            ExprKind::Map(mr) => self.map_read(mr),
            ExprKind::Ident(name) => self.constant(name, span),
            ExprKind::Unary { op, expr } => self.unary(*op, expr, span),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, span),
            ExprKind::Ternary { cond, then, els } => self.ternary(cond, then, els, span),
            ExprKind::Call {
                name,
                args,
                name_span,
            } => self.call_expr(name, args, *name_span, span),
            ExprKind::Cast {
                ty: CastType::Record(r),
                expr,
            } => self.record_cast(r, expr, span),
            ExprKind::Cast { ty, expr } => self.cast(ty.clone(), expr, span),
            ExprKind::Index { expr, index }
                if !matches!(expr.kind, ExprKind::Member { .. } | ExprKind::Index { .. }) =>
            {
                self.tuple_subscript(expr, index, span)
            }
            ExprKind::Member { .. } => match self.tracing_args_member(e) {
                Some(arg) => arg,
                None => self.member_read(e),
            },
            ExprKind::Index { .. } => self.member_read(e),
            ExprKind::Tuple(elems) => self.tuple_literal(elems, span),
            ExprKind::Offsetof {
                record,
                members,
                members_span,
            } => self.offsetof(record, members, *members_span, span),
            ExprKind::TupleIndex {
                expr,
                index,
                index_span,
            } => self.tuple_index(expr, *index, *index_span, span),
        }
    }

    /// Reports `t` if it is not an integer; `what` names the place.
    pub(super) fn need_int(&mut self, t: &TExpr, what: &str) -> bool {
        let msg = match t.ty {
            Ty::Int { .. } | Ty::Ptr(_) | Ty::Error => return true,
            Ty::Str { .. } | Ty::Sym(_) => {
                format!("{what} must be an integer, found {}", t.ty.describe())
            }
            Ty::Kstack(_) => format!("{what} must be an integer, found a kstack"),
            Ty::Tuple { .. } | Ty::Inet | Ty::Buf { .. } => {
                format!("{what} must be an integer, found {}", t.ty.describe())
            }
        };
        self.error(Diagnostic::new(t.span, msg).with_label("not an integer"));
        false
    }

    /// Types `e` and requires an integer.
    pub(super) fn int_expr(&mut self, e: &Expr, what: &str) -> TExpr {
        let t = self.expr(e);
        if self.need_int(&t, what) {
            t
        } else {
            TExpr::error(t.span)
        }
    }

    fn builtin(&mut self, b: Builtin, span: Span) -> TExpr {
        let ty = match b {
            Builtin::Comm => Ty::Str { size: 16 },
            Builtin::Func => {
                if let Some(kind) = self.probe.kinds.iter().find(|k| k.runs_itself()) {
                    let msg = format!(
                        "func is not available in {} probes: they probe no function",
                        kind.name()
                    );
                    self.error(Diagnostic::new(span, msg).with_label("no function here"));
                    return TExpr::error(span);
                }
                Ty::Sym(Sym::Func)
            }
            Builtin::Probe => Ty::Sym(Sym::Probe),
            Builtin::Elapsed | Builtin::Cgroup => Ty::Int { signed: false },
            Builtin::Username => Ty::Sym(Sym::Username),
            Builtin::Kstack => Ty::Kstack(Stack {
                mode: self.settings.runtime.stack_mode,
                limit: Stack::DEFAULT_LIMIT,
            }),
            Builtin::Arg(n) if self.in_tracing_block() => return self.tracing_arg(n, span),
            Builtin::Retval if self.in_tracing_block() => return self.tracing_retval(span),
            Builtin::Arg(n) => match self.arg_error(n) {
                Some(d) => {
                    self.error(d.into_diag(span));
                    return TExpr::error(span);
                }
                None => Ty::INT,
            },
            Builtin::Retval => {
                if !self.probe.kinds.iter().all(|k| k.is_return()) {
                    self.error(
                        Diagnostic::new(
                            span,
                            "retval is only available in kretprobe and kretsyscall probes",
                        )
                        .with_label("not a return probe"),
                    );
                    return TExpr::error(span);
                }
                Ty::INT
            }
            _ => Ty::INT,
        };
        TExpr::new(TKind::Builtin(b), ty, span)
    }

    /// Why `argN` is not available in some attach point of the block.
    fn arg_error(&self, n: u8) -> Option<ArgError> {
        let index = n as usize;
        for kind in &self.probe.kinds {
            let res = match kind {
                ProbeKind::Kretprobe | ProbeKind::Kretsyscall => {
                    return Some(ArgError::Return { n, kind: *kind })
                }
                k if k.runs_itself() => return Some(ArgError::NoFunction { n, kind: *k }),
                // Syscalls take at most 6 arguments, wherever they are read from.
                ProbeKind::Ksyscall if self.probe.wrapped_syscall => {
                    self.arch.syscall_arg_offset(index).map(|_| ())
                }
                ProbeKind::Ksyscall => self
                    .arch
                    .syscall_arg_offset(index)
                    .and_then(|_| self.arch.arg_offset(index))
                    .map(|_| ()),
                _ => self.arch.arg_offset(index).map(|_| ()),
            };
            if let Err(e) = res {
                return Some(ArgError::Arch {
                    n,
                    err: e,
                    kind: *kind,
                });
            }
        }
        None
    }

    fn map_read(&mut self, mr: &MapRef) -> TExpr {
        let keys = self.map_key_exprs(&mr.keys);
        let idx = self.use_map(mr, &keys);
        let value = self.assigned_value(idx, mr.span);
        let ty = match value.map(|v| (v, v.assigned_ty())) {
            None => Ty::Error,
            Some((_, Some(t))) => t,
            Some((v, None)) if v.readable_int() => Ty::INT,
            Some((v, None)) => {
                let msg = format!(
                    "map {} holds {} values, which a probe cannot read; print it in END",
                    mr.display_name(),
                    v.describe()
                );
                self.error(Diagnostic::new(mr.span, msg).with_label("aggregated per CPU"));
                Ty::Error
            }
        };
        TExpr::new(TKind::MapRead { map: idx, keys }, ty, mr.span)
    }

    /// Types a map key part (a tuple is spread by the caller).
    pub(super) fn key_expr(&mut self, e: &Expr) -> TExpr {
        let t = self.expr(e);
        if KeyTy::of(t.ty).is_none() && !matches!(t.ty, Ty::Error | Ty::Tuple { .. }) {
            self.error(Diagnostic::new(t.span, "not a valid map key"));
        }
        t
    }

    fn unary(&mut self, op: UnOp, inner: &Expr, span: Span) -> TExpr {
        if op == UnOp::Deref {
            return self.deref(inner, span);
        }
        let what = match op {
            UnOp::Neg => "the operand of `-`",
            UnOp::Not => "the operand of `!`",
            _ => "the operand of `~`",
        };
        let t = self.int_expr(inner, what);
        if t.ty == Ty::Error {
            return t;
        }
        let ty = t.ty;
        match (op, &t.kind) {
            (UnOp::Neg, TKind::Int(v)) => TExpr::new(TKind::Int(v.wrapping_neg()), Ty::INT, span),
            (UnOp::BitNot, TKind::Int(v)) => TExpr::new(TKind::Int(!v), ty, span),
            (UnOp::Not, TKind::Int(v)) => TExpr::new(TKind::Int((*v == 0) as i64), Ty::INT, span),
            (UnOp::Neg, _) => TExpr::new(TKind::Neg(Box::new(t)), ty, span),
            (UnOp::BitNot, _) => TExpr::new(TKind::BitNot(Box::new(t)), ty, span),
            _ => TExpr::new(TKind::Not(Box::new(t)), Ty::INT, span),
        }
    }

    /// `*(uintN *)addr`, or `*addr` (8 bytes).
    fn deref(&mut self, inner: &Expr, span: Span) -> TExpr {
        let (int, addr) = match &inner.kind {
            ExprKind::Cast {
                ty: CastType::Ptr(int),
                expr,
            } => (*int, expr.as_ref()),
            _ => (
                crate::lang::ast::IntType {
                    bytes: 8,
                    signed: true,
                },
                inner,
            ),
        };
        let addr = self.int_expr(addr, "an address");
        if addr.ty == Ty::Error {
            return addr;
        }
        let ty = Ty::Int { signed: int.signed };
        TExpr::new(
            TKind::Deref {
                int,
                addr: Box::new(addr),
            },
            ty,
            span,
        )
    }

    fn cast(&mut self, ty: CastType, inner: &Expr, span: Span) -> TExpr {
        let t = self.int_expr(inner, "the operand of a cast");
        if t.ty == Ty::Error {
            return t;
        }
        let int = match ty {
            // A pointer not dereferenced is its address.
            CastType::Ptr(_) | CastType::Record(_) => {
                return TExpr::new(t.kind, Ty::Int { signed: false }, span)
            }
            CastType::Int(int) => int,
        };
        self.cast_int(int, t, span)
    }

    /// `t` (an integer) cast to `int`, spanning `span`: a literal
    /// truncated, anything else wrapped in a cast.
    pub(super) fn cast_int(&mut self, int: IntType, t: TExpr, span: Span) -> TExpr {
        let rty = Ty::Int { signed: int.signed };
        if let TKind::Int(v) = t.kind {
            return TExpr::new(TKind::Int(truncate(v, int.bytes, int.signed)), rty, span);
        }
        TExpr::new(
            TKind::Cast {
                int,
                expr: Box::new(t),
            },
            rty,
            span,
        )
    }

    fn binary(&mut self, op: BinOp, lhs: &Expr, rhs: &Expr, span: Span) -> TExpr {
        let (a, b) = (self.expr(lhs), self.expr(rhs));
        if a.ty == Ty::Error || b.ty == Ty::Error {
            return TExpr::error(span);
        }
        if matches!(op, BinOp::Eq | BinOp::Ne) && (a.ty.is_named() || b.ty.is_named()) {
            return self.str_compare(op == BinOp::Eq, a, b, None, span);
        }
        let what = format!("an operand of `{}`", op.symbol());
        let ok_a = self.need_int(&a, &what);
        let ok_b = self.need_int(&b, &what);
        if !(ok_a && ok_b) {
            return TExpr::error(span);
        }
        match op {
            BinOp::And => return TExpr::new(TKind::And(Box::new(a), Box::new(b)), Ty::INT, span),
            BinOp::Or => return TExpr::new(TKind::Or(Box::new(a), Box::new(b)), Ty::INT, span),
            _ => {}
        }
        let signed = matches!(
            (a.ty, b.ty),
            (Ty::Int { signed: true }, Ty::Int { signed: true })
        );
        let is_cmp = matches!(
            op,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        );
        let ty = if is_cmp { Ty::INT } else { Ty::Int { signed } };
        if matches!(op, BinOp::Shl | BinOp::Shr)
            && matches!(b.kind, TKind::Int(n) if !(0..64).contains(&n))
        {
            self.error(
                Diagnostic::new(b.span, "shift amount must be from 0 to 63")
                    .with_label("out of range"),
            );
            return TExpr::error(span);
        }
        if matches!(op, BinOp::Div | BinOp::Mod) && matches!(b.kind, TKind::Int(0)) {
            self.error(Diagnostic::new(b.span, "division by zero").with_label("zero"));
            return TExpr::error(span);
        }
        if let (TKind::Int(x), TKind::Int(y)) = (&a.kind, &b.kind) {
            if let Some(v) = fold(op, *x, *y, signed) {
                return TExpr::new(TKind::Int(v), ty, span);
            }
        }
        TExpr::new(
            TKind::Binary {
                op,
                lhs: Box::new(a),
                rhs: Box::new(b),
                signed,
            },
            ty,
            span,
        )
    }

    /// `s == "lit"`, `"lit" != s`; with `limit`, their first `limit`
    /// bytes at most (`strncmp`).
    pub(super) fn str_compare(
        &mut self,
        eq: bool,
        a: TExpr,
        b: TExpr,
        limit: Option<usize>,
        span: Span,
    ) -> TExpr {
        let cut = |x: &[u8]| -> Vec<u8> {
            let n = limit.unwrap_or(usize::MAX);
            let end = x.iter().position(|&c| c == 0).unwrap_or(x.len());
            x[..end.min(n)].to_vec()
        };
        let (s, lit) = match (a.kind, b.kind) {
            (TKind::Str(x), TKind::Str(y)) => {
                return TExpr::new(
                    TKind::Int(((cut(&x) == cut(&y)) == eq) as i64),
                    Ty::INT,
                    span,
                );
            }
            (k, TKind::Str(lit)) => (TExpr::new(k, a.ty, a.span), lit),
            (TKind::Str(lit), k) => (TExpr::new(k, b.ty, b.span), lit),
            (ka, kb) => {
                let (a, b) = (TExpr::new(ka, a.ty, a.span), TExpr::new(kb, b.ty, b.span));
                let msg = if a.ty.is_str() && b.ty.is_str() {
                    "comparing two strings needs one of them to be a literal".to_string()
                } else {
                    let (s, other) = if a.ty.is_str() { (&a, &b) } else { (&b, &a) };
                    format!(
                        "cannot compare {} with {}",
                        s.ty.describe(),
                        other.ty.describe()
                    )
                };
                self.error(Diagnostic::new(span, msg).with_label("unsupported comparison"));
                return TExpr::error(span);
            }
        };
        if !s.ty.is_named() {
            let msg = format!("cannot compare {} with a string", s.ty.describe());
            self.error(Diagnostic::new(span, msg).with_label("not a string"));
            return TExpr::error(span);
        }
        // Past the literal's end the NUL is compared too: equal strings
        // end there.
        let nul = limit.is_none_or(|n| n > lit.len());
        let lit = if nul { lit } else { cut(&lit) };
        if !nul && matches!(s.ty, Ty::Sym(_)) {
            let msg = format!("{} is a name, compared whole; use ==", s.ty.describe());
            self.error(Diagnostic::new(span, msg).with_label("a prefix of a name"));
            return TExpr::error(span);
        }
        TExpr::new(
            TKind::StrEq {
                s: Box::new(s),
                lit,
                eq,
                nul,
            },
            Ty::INT,
            span,
        )
    }

    fn ternary(&mut self, cond: &Expr, then: &Expr, els: &Expr, span: Span) -> TExpr {
        let c = self.int_expr(cond, "a condition");
        let (a, b) = (self.expr(then), self.expr(els));
        let ty = match (a.ty, b.ty) {
            (Ty::Error, _) | (_, Ty::Error) => return TExpr::error(span),
            (Ty::Int { signed: x }, Ty::Int { signed: y }) => Ty::Int { signed: x && y },
            (Ty::Str { size: x }, Ty::Str { size: y }) => Ty::Str { size: x.max(y) },
            (Ty::Sym(x), Ty::Sym(y)) if x == y => Ty::Sym(x),
            (x, y) => {
                let msg = format!(
                    "the branches of `?:` have different types: {} and {}",
                    x.describe(),
                    y.describe()
                );
                self.error(Diagnostic::new(span, msg));
                return TExpr::error(span);
            }
        };
        if c.ty == Ty::Error {
            return TExpr::error(span);
        }
        if let TKind::Int(v) = c.kind {
            return if v != 0 { a } else { b };
        }
        let kind = TKind::Ternary {
            cond: Box::new(c),
            then: Box::new(a),
            els: Box::new(b),
        };
        TExpr::new(kind, ty, span)
    }

    /// A call in an expression: only `str()` gives a value.
    fn call_expr(&mut self, name: &str, args: &[Expr], name_span: Span, span: Span) -> TExpr {
        match name {
            "str" => return self.str_call(args, span),
            "kstack" => return self.kstack_call(args, span),
            _ => {}
        }
        if let Some(t) = self.value_function(name, args, span) {
            return t;
        }
        let d = if AGGREGATIONS.contains(&name) {
            Diagnostic::new(
                span,
                format!("{name}() must be assigned to a map: @name = {name}(...)"),
            )
            .with_label("not a value")
        } else if FUNCTIONS.contains(&name) {
            Diagnostic::new(span, format!("{name}() is a statement, not a value"))
        } else {
            unknown_function(name, name_span)
        };
        self.error(d);
        // A whole map given to a function (`has_key(@m, k)`) is no read of
        // the map: typing it as one would report a key it never had.
        for a in args {
            if !matches!(&a.kind, ExprKind::Map(m) if m.keys.is_empty()) {
                self.expr(a);
            }
        }
        TExpr::error(span)
    }

    /// `str(addr)`, `str(addr, len)`.
    fn str_call(&mut self, args: &[Expr], span: Span) -> TExpr {
        if args.is_empty() || args.len() > 2 {
            self.error(Diagnostic::new(
                span,
                "str() takes 1 or 2 arguments: str(addr[, len])",
            ));
            return TExpr::error(span);
        }
        let addr = self.int_expr(&args[0], "the address of str()");
        // `len` counts the NUL: `str(s, n)` keeps at most n - 1 characters,
        // as bpftrace documents it and does since its fix of this
        // off-by-one (0.23; 0.17 kept n).
        let len = match args.get(1) {
            None => Some(self.settings.str_size),
            Some(e) => match self.expr(e).kind {
                TKind::Int(n) if (1..=STR_MAX as i64).contains(&n) => Some(n as u32),
                _ => {
                    let msg =
                        format!("str() length must be an integer literal from 1 to {STR_MAX}");
                    let d = Diagnostic::new(e.span, msg).with_label("not a literal in range");
                    self.not_literal(e, d);
                    None
                }
            },
        };
        match len {
            Some(len) if addr.ty != Ty::Error => TExpr::new(
                TKind::StrRead {
                    addr: Box::new(addr),
                    len,
                },
                Ty::Str { size: len },
                span,
            ),
            _ => TExpr::error(span),
        }
    }
}

impl Checker<'_> {
    /// `kstack(mode)`, `kstack(limit)`, `kstack(mode, limit)`: the mode
    /// `bpftrace`, `perf` or `raw`, the limit a literal from 1 to 127.
    fn kstack_call(&mut self, args: &[Expr], span: Span) -> TExpr {
        let mut stack = Stack {
            mode: self.settings.runtime.stack_mode,
            limit: Stack::DEFAULT_LIMIT,
        };
        let usage = "kstack() takes a mode and a limit: kstack([bpftrace|perf|raw][, 1..127])";
        if args.is_empty() || args.len() > 2 {
            self.error(Diagnostic::new(span, usage));
            return TExpr::error(span);
        }
        for (i, a) in args.iter().enumerate() {
            let mode = match &a.kind {
                ExprKind::Ident(w) => match w.as_str() {
                    "bpftrace" => Some(StackMode::Bpftrace),
                    "perf" => Some(StackMode::Perf),
                    "raw" => Some(StackMode::Raw),
                    _ => None,
                },
                _ => None,
            };
            match (mode, &a.kind) {
                (Some(m), _) if i == 0 => stack.mode = m,
                (None, ExprKind::Int(n)) if i == args.len() - 1 => match u32::try_from(*n) {
                    Ok(n @ 1..=Stack::DEFAULT_LIMIT) => stack.limit = n,
                    _ => {
                        let msg = format!(
                            "a kstack limit is from 1 to {}, found {n}",
                            Stack::DEFAULT_LIMIT
                        );
                        self.error(Diagnostic::new(a.span, msg).with_label("out of range"));
                        return TExpr::error(span);
                    }
                },
                _ => {
                    self.error(Diagnostic::new(a.span, usage).with_label("not a mode or a limit"));
                    return TExpr::error(span);
                }
            }
        }
        TExpr::new(TKind::Builtin(Builtin::Kstack), Ty::Kstack(stack), span)
    }
}

/// Why `argN` is unavailable.
enum ArgError {
    Arch {
        n: u8,
        err: ArchError,
        kind: ProbeKind,
    },
    Return {
        n: u8,
        kind: ProbeKind,
    },
    /// A `BEGIN`, `END` or `interval` probe: no function is probed.
    NoFunction {
        n: u8,
        kind: ProbeKind,
    },
}

impl ArgError {
    fn into_diag(self, span: Span) -> Diagnostic {
        match self {
            ArgError::Arch { n, err: ArchError::ArgOutOfRange { arch, max, .. }, .. } => {
                let err = ArchError::ArgOutOfRange { arch, index: n as usize, max };
                Diagnostic::new(
                    span,
                    format!(
                        "arg{n} is not available on {arch}: it passes {max} arguments in registers (arg0..arg{})",
                        max.saturating_sub(1)
                    ),
                )
                .with_label("beyond the register arguments")
                .with_help(err.to_string())
            }
            ArgError::Arch { n, err, kind } => Diagnostic::new(
                span,
                format!("arg{n} is not available in {} probes: {err}", kind.name()),
            ),
            ArgError::NoFunction { n, kind } => Diagnostic::new(
                span,
                format!("arg{n} is not available in {} probes: they probe no function", kind.name()),
            )
            .with_label("no function here"),
            ArgError::Return { n, kind } => Diagnostic::new(
                span,
                format!("arg{n} is not available in {} probes: arguments are only read at function entry", kind.name()),
            )
            .with_help("save it in a map keyed by tid in a kprobe and read it here"),
        }
    }
}

/// "unknown function" with a suggestion.
pub(super) fn unknown_function(name: &str, span: Span) -> Diagnostic {
    let d =
        Diagnostic::new(span, format!("unknown function `{name}`")).with_label("not a function");
    match suggest(name, FUNCTIONS.iter().copied()) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d,
    }
}

/// `v` truncated to `bytes` and sign- or zero-extended back to 64 bits.
pub fn truncate(v: i64, bytes: u8, signed: bool) -> i64 {
    if bytes >= 8 {
        return v;
    }
    let bits = u32::from(bytes) * 8;
    let shift = 64 - bits;
    if signed {
        (v << shift) >> shift
    } else {
        ((v as u64) << shift >> shift) as i64
    }
}

/// Folds a binary operator on two literals (`None` if it does not fold).
fn fold(op: BinOp, x: i64, y: i64, signed: bool) -> Option<i64> {
    let (ux, uy) = (x as u64, y as u64);
    let b = |c: bool| c as i64;
    Some(match op {
        BinOp::Add => x.wrapping_add(y),
        BinOp::Sub => x.wrapping_sub(y),
        BinOp::Mul => x.wrapping_mul(y),
        BinOp::Div => ux.checked_div(uy)? as i64,
        BinOp::Mod => ux.checked_rem(uy)? as i64,
        BinOp::BitAnd => x & y,
        BinOp::BitOr => x | y,
        BinOp::BitXor => x ^ y,
        BinOp::Shl => ux.checked_shl(u32::try_from(uy).ok()?)? as i64,
        BinOp::Shr => ux.checked_shr(u32::try_from(uy).ok()?)? as i64,
        BinOp::Eq => b(x == y),
        BinOp::Ne => b(x != y),
        BinOp::Lt if signed => b(x < y),
        BinOp::Le if signed => b(x <= y),
        BinOp::Gt if signed => b(x > y),
        BinOp::Ge if signed => b(x >= y),
        BinOp::Lt => b(ux < uy),
        BinOp::Le => b(ux <= uy),
        BinOp::Gt => b(ux > uy),
        BinOp::Ge => b(ux >= uy),
        BinOp::And | BinOp::Or => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_extends_like_c() {
        assert_eq!(truncate(0x1ff, 1, false), 0xff);
        assert_eq!(truncate(0xff, 1, true), -1);
        assert_eq!(truncate(-1, 4, false), 0xffff_ffff);
        assert_eq!(truncate(0x8000, 2, true), -0x8000);
        assert_eq!(truncate(-5, 8, false), -5);
    }

    #[test]
    fn folding_is_unsigned_division_and_logical_shift() {
        assert_eq!(
            fold(BinOp::Div, -4, 2, true),
            Some(((u64::MAX - 3) / 2) as i64)
        );
        assert_eq!(fold(BinOp::Div, 7, 0, true), None);
        assert_eq!(fold(BinOp::Shr, -1, 60, true), Some(15));
        assert_eq!(fold(BinOp::Lt, -1, 0, true), Some(1));
        assert_eq!(fold(BinOp::Lt, -1, 0, false), Some(0));
    }
}
