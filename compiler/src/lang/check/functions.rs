//! The functions that give a value, as bpftrace defines them: `bswap(x)`
//! (over the bytes of `x`'s own type), `has_key(@m, k...)`,
//! `kaddr("sym")` (an address the loader resolves), `ksym(addr)`,
//! `strftime(fmt, nsecs)` and `cgroup_path(id)` (numbers that user space
//! names: [`Sym`]), `ntop([af, ]addr)` (an [`Ty::Inet`]) and
//! `buf(addr, len)` (a [`Ty::Buf`], printed with `%r`); `len(@m)`, a
//! map's number of entries.

use super::ir::{FieldRead, Sym, TExpr, TKind, Ty};
use super::Checker;
use crate::lang::ast::{Expr, ExprKind, MapRef, Span};
use crate::lang::diag::Diagnostic;

/// `AF_INET` and `AF_INET6`, the same on every arch (`linux/socket.h`).
const AF_INET: i64 = 2;
const AF_INET6: i64 = 10;

impl Checker<'_> {
    /// A call of one of this module's functions; `None` for another name.
    pub(super) fn value_function(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
    ) -> Option<TExpr> {
        let t = match name {
            "bswap" => self.bswap(args, span),
            "strncmp" => self.strncmp(args, span),
            "has_key" => self.has_key(args, span),
            "kaddr" => self.kaddr(args, span),
            "ksym" => self.named_int("ksym", Sym::Ksym, args, span),
            "cgroup_path" => self.named_int("cgroup_path", Sym::CgroupPath, args, span),
            "strftime" => self.strftime(args, span),
            "ntop" => self.ntop(args, span),
            "buf" => self.buf(args, span),
            "len" => self.len(args, span),
            _ => return None,
        };
        Some(t.unwrap_or_else(|| TExpr::error(span)))
    }

    /// The bytes of the integer `e` is in its own type: a struct field's,
    /// a cast's, a variable's first assignment's; 8 otherwise.
    pub(super) fn int_width(&self, e: &TExpr) -> u8 {
        match &e.kind {
            TKind::Field {
                read: FieldRead::Int { bytes, .. },
                ..
            } => *bytes,
            TKind::Cast { int, .. } | TKind::Deref { int, .. } => int.bytes,
            TKind::Bswap { bytes, .. } => *bytes,
            TKind::Var(i) => self.vars[self.block].get(*i).map_or(8, |v| v.bytes),
            _ => 8,
        }
    }

    fn arity(
        &mut self,
        name: &str,
        args: &[Expr],
        n: std::ops::RangeInclusive<usize>,
        usage: &str,
        span: Span,
    ) -> bool {
        let ok = n.contains(&args.len());
        if !ok {
            self.error(Diagnostic::new(span, format!("{name}() takes {usage}")));
        }
        ok
    }

    /// `strncmp(a, b, n)`: 0 when the strings' first `n` bytes (up to
    /// their NULs) are equal, else 1, as bpftrace's; one is a literal.
    fn strncmp(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        if !self.arity(
            "strncmp",
            args,
            3..=3,
            "two strings and a length: strncmp(a, b, n)",
            span,
        ) {
            return None;
        }
        let n = match self.expr(&args[2]).kind {
            TKind::Int(n) if n >= 0 => n as usize,
            _ => {
                let msg = "strncmp()'s length must be a non-negative integer literal";
                let d = Diagnostic::new(args[2].span, msg).with_label("not a literal");
                self.not_literal(&args[2], d);
                return None;
            }
        };
        let (a, b) = (self.expr(&args[0]), self.expr(&args[1]));
        if a.ty == Ty::Error || b.ty == Ty::Error {
            return None;
        }
        Some(self.str_compare(false, a, b, Some(n), span))
    }

    /// `bswap(x)`: `x`'s bytes reversed, over its type's width.
    fn bswap(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        if !self.arity("bswap", args, 1..=1, "one integer: bswap(x)", span) {
            return None;
        }
        let x = self.int_expr(&args[0], "the argument of bswap()");
        if x.ty == Ty::Error {
            return None;
        }
        let bytes = self.int_width(&x);
        if bytes == 1 {
            return Some(x);
        }
        let ty = Ty::Int { signed: false };
        Some(TExpr::new(
            TKind::Bswap {
                bytes,
                expr: Box::new(x),
            },
            ty,
            span,
        ))
    }

    /// `has_key(@m, k...)`.
    fn has_key(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        let Some((
            Expr {
                kind: ExprKind::Map(mr),
                ..
            },
            keys,
        )) = args.split_first()
        else {
            self.error(Diagnostic::new(
                span,
                "has_key() takes a map and a key: has_key(@m, k)",
            ));
            return None;
        };
        let mut r = mr.clone();
        r.keys = keys.to_vec();
        let keys = self.map_key_exprs(&r.keys);
        let map = self.use_map(&r, &keys);
        Some(TExpr::new(TKind::HasKey { map, keys }, Ty::INT, span))
    }

    /// `len(@m)`: the number of the map's entries; `len(kstack)` is
    /// refused with why (a `kstack` here is an id of a stack map, whose
    /// depth only user space knows).
    fn len(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        if !self.arity("len", args, 1..=1, "one map or stack: len(@m)", span) {
            return None;
        }
        let d = match &args[0].kind {
            ExprKind::Map(m) if m.keys.is_empty() => {
                let map = self.assigned_map(m)?;
                if !self.callbacks_allowed("len() of a map", span) {
                    return None;
                }
                return Some(TExpr::new(TKind::MapLen(map), Ty::INT, span));
            }
            _ => {
                let t = self.expr(&args[0]);
                if t.ty == Ty::Error {
                    return None;
                }
                let what = if matches!(t.ty, Ty::Kstack(_)) {
                    "len() of a kstack is not supported yet: the stack is an id of a stack map, whose depth only user space sees"
                } else {
                    "len() takes a map or a stack: len(@m)"
                };
                Diagnostic::new(args[0].span, what).with_label(t.ty.describe())
            }
        };
        self.error(d);
        None
    }

    /// The index of map `m`, assigned somewhere; reported if it is not.
    pub(super) fn assigned_map(&mut self, m: &MapRef) -> Option<usize> {
        let map = self.map_index.get(&m.name).copied();
        let found = map.filter(|&i| self.maps[i].value.is_some());
        if found.is_none() {
            let msg = format!("map {} is never assigned", m.display_name());
            self.error(Diagnostic::new(m.span, msg).with_label("unknown map"));
        }
        found
    }

    /// Whether the target's kernels take a callback
    /// (`bpf_for_each_map_elem`'s), which `what` needs; reported at `span`
    /// if they do not.
    pub(super) fn callbacks_allowed(&mut self, what: &str, span: Span) -> bool {
        let ok = self.arch.info().jit_by_default;
        if !ok {
            let msg = format!(
                "{what} needs bpf_for_each_map_elem's callback, which {}'s kernels refuse: they run BPF in the interpreter (`callbacks are not allowed in non-JITed programs`)",
                self.arch
            );
            self.error(Diagnostic::new(span, msg).with_label("a callback"));
        }
        ok
    }

    /// `kaddr("sym")`.
    fn kaddr(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        let [Expr {
            kind: ExprKind::Str(sym),
            ..
        }] = args
        else {
            self.error(Diagnostic::new(
                span,
                "kaddr() takes a kernel symbol's name as a string literal: kaddr(\"avenrun\")",
            ));
            return None;
        };
        let valid = !sym.is_empty()
            && !sym.starts_with(|c: char| c.is_ascii_digit())
            && sym
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid {
            let msg = format!("`{sym}` is not a kernel symbol name");
            self.error(Diagnostic::new(args[0].span, msg));
            return None;
        }
        Some(TExpr::new(
            TKind::KernelAddr(sym.clone()),
            Ty::Int { signed: false },
            span,
        ))
    }

    /// `ksym(addr)`, `cgroup_path(id)`: the number, which user space
    /// names.
    fn named_int(&mut self, name: &str, sym: Sym, args: &[Expr], span: Span) -> Option<TExpr> {
        if !self.arity(name, args, 1..=1, "one integer", span) {
            return None;
        }
        let x = self.int_expr(&args[0], &format!("the argument of {name}()"));
        (x.ty != Ty::Error).then(|| TExpr::new(x.kind, Ty::Sym(sym), span))
    }

    /// `strftime(fmt, nsecs)`: the time since boot, printed through `fmt`.
    fn strftime(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        let [Expr {
            kind: ExprKind::Str(fmt),
            ..
        }, ns] = args
        else {
            self.error(Diagnostic::new(
                span,
                "strftime() takes a format string literal and a time: strftime(\"%H:%M:%S\", nsecs)",
            ));
            return None;
        };
        let x = self.int_expr(ns, "the time of strftime()");
        if x.ty == Ty::Error {
            return None;
        }
        let id = match self.strftime.iter().position(|f| f == fmt) {
            Some(i) => i,
            None => {
                self.strftime.push(fmt.clone());
                self.strftime.len() - 1
            }
        };
        Some(TExpr::new(x.kind, Ty::Sym(Sym::Timestamp(id as u32)), span))
    }

    /// `ntop(addr)`, `ntop(af, addr)`: an integer address is IPv4, a
    /// 16-byte array member IPv6 (a 4-byte one IPv4).
    fn ntop(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        if !self.arity(
            "ntop",
            args,
            1..=2,
            "an address and, first, its family: ntop([af, ]addr)",
            span,
        ) {
            return None;
        }
        let (af, addr) = match args {
            [af, addr] => (
                Some(self.int_expr(af, "the address family of ntop()")),
                addr,
            ),
            [addr] => (None, addr),
            _ => return None,
        };
        let a = self.expr(addr);
        let family = match (&a.ty, &a.kind) {
            (Ty::Error, _) => return None,
            (Ty::Int { .. }, _) => AF_INET,
            // An array member, or a string of that size (`comm`), as
            // bpftrace takes one.
            (Ty::Str { size }, _) if *size == 16 || *size == 4 => {
                if *size == 16 {
                    AF_INET6
                } else {
                    AF_INET
                }
            }
            _ => {
                let msg = format!(
                    "ntop() takes an integer IPv4 address or a 4- or 16-byte array, found {}",
                    a.ty.describe()
                );
                self.error(Diagnostic::new(a.span, msg).with_label("not an address"));
                return None;
            }
        };
        let af = match af {
            Some(t) if t.ty == Ty::Error => return None,
            Some(t) => t,
            None => TExpr::new(TKind::Int(family), Ty::INT, span),
        };
        Some(TExpr::new(
            TKind::Ntop {
                af: Box::new(af),
                addr: Box::new(a),
            },
            Ty::Inet,
            span,
        ))
    }

    /// `buf(addr, len)`: at most `max_strlen` bytes (`len` may be any
    /// integer; it is clamped).
    fn buf(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        if !self.arity(
            "buf",
            args,
            1..=2,
            "an address and a length: buf(addr, len)",
            span,
        ) {
            return None;
        }
        let addr = self.int_expr(&args[0], "the address of buf()");
        let cap = self.settings.str_size;
        let len = match args.get(1) {
            Some(l) => self.int_expr(l, "the length of buf()"),
            None => TExpr::new(TKind::Int(i64::from(cap)), Ty::INT, span),
        };
        if addr.ty == Ty::Error || len.ty == Ty::Error {
            return None;
        }
        let cap = match len.kind {
            TKind::Int(n) if n >= 0 => (n as u32).clamp(1, cap),
            _ => cap,
        };
        Some(TExpr::new(
            TKind::Buf {
                addr: Box::new(addr),
                len: Box::new(len),
                cap,
            },
            Ty::Buf { size: cap },
            span,
        ))
    }
}
