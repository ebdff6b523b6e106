//! Kernel structs in expressions: casts to struct and union pointers,
//! `curtask`, and member reads with `->`, `.` and `[n]`, typed by the
//! kernel's BTF (`CompileOptions::btf`). As in current bpftrace, `.` on a
//! pointer reads through it like `->`. `offsetof()` gives a member's
//! offset, relocated as a read's is.
//!
//! A member chain is resolved per pointer hop, as clang's CO-RE does it:
//! `p->a.b[2]` is one access (`a.b[2]` from `p`'s struct, one relocated
//! offset); `p->a->b` reads the pointer `a` first, then starts a new access
//! from what it points to. The resolved [`FieldAccess`] says how the value
//! is read: an integer, enum or pointer of its size, a bitfield, or a char
//! array as a string. Structs, unions and other arrays are only reached
//! through, never read whole.

use std::sync::Arc;

use super::ir::{FieldRead, TExpr, TKind, Ty};
use super::Checker;
use crate::btf::core::access::{resolve_path, FieldAccess, Step};
use crate::btf::kernel::{KernelBtf, NamedKind};
use crate::btf::parse::Btf;
use crate::btf::types::BtfType;
use crate::lang::ast::{Builtin, Expr, ExprKind, RecordRef, Span};
use crate::lang::diag::Diagnostic;

/// A member chain not yet read: `root` (a struct id) at `base`, then `path`.
struct Place {
    base: TExpr,
    root: u32,
    path: Vec<Step>,
}

impl Checker<'_> {
    /// The kernel types, or an error at `span` saying why there are none.
    pub(super) fn kernel_types(&mut self, span: Span, what: &str) -> Option<Arc<KernelBtf>> {
        let loaded = match &self.opts.btf {
            None => Err(format!(
                "{what} needs the kernel's types, and none were given: pass `--btf FILE` (a vmlinux BTF such as /sys/kernel/btf/vmlinux)"
            )),
            Some(src) => src.get().map_err(|e| crate::error::chain(&e)),
        };
        match loaded {
            Ok(k) => Some(k),
            Err(msg) => {
                self.error(Diagnostic::new(span, msg).with_label("no kernel BTF"));
                None
            }
        }
    }

    /// The kernel types and the id of the struct or union `r` names; an
    /// error at `r` when there is none.
    pub(super) fn record_type(&mut self, r: &RecordRef) -> Option<(Arc<KernelBtf>, u32)> {
        let what = format!("`{}`", r.c_name().trim_end());
        let k = self.kernel_types(r.span, &what)?;
        let kind = if r.union {
            NamedKind::Union
        } else {
            NamedKind::Struct
        };
        match k.lookup(kind, &r.name) {
            Ok(id) => Some((k, id)),
            Err(e) => {
                self.error(
                    Diagnostic::new(r.span, e.to_string()).with_label("not in the kernel's BTF"),
                );
                None
            }
        }
    }

    /// `(struct NAME *)inner`.
    pub(super) fn record_cast(&mut self, r: &RecordRef, inner: &Expr, span: Span) -> TExpr {
        let addr = self.int_expr(inner, "the operand of a cast");
        let what = format!("`{}`", r.c_name().trim_end());
        let Some((_, id)) = self.record_type(r) else {
            return TExpr::error(span);
        };
        if r.depth > 1 {
            self.error(
                Diagnostic::new(r.span, format!("casts to {what} are not supported"))
                    .with_label("a pointer to a pointer")
                    .with_help("cast to a struct pointer and read its pointer members with `->`"),
            );
            return TExpr::error(span);
        }
        if addr.ty == Ty::Error {
            return addr;
        }
        TExpr::new(addr.kind, Ty::Ptr(id), span)
    }

    /// `offsetof(struct NAME, a.b)`: the member's offset in the compile's
    /// kernel types, relocated for the loading kernel's.
    pub(super) fn offsetof(
        &mut self,
        r: &RecordRef,
        members: &[String],
        members_span: Span,
        span: Span,
    ) -> TExpr {
        let Some((k, id)) = self.record_type(r) else {
            return TExpr::error(span);
        };
        let path: Vec<Step> = members.iter().map(|m| Step::Member(m.clone())).collect();
        match resolve_path(k.btf(), id, &path) {
            Ok(a) if a.bitfield.is_none() => {
                TExpr::new(TKind::FieldOffset(a), Ty::Int { signed: false }, span)
            }
            Ok(_) => {
                self.error(
                    Diagnostic::new(members_span, "offsetof() of a bitfield")
                        .with_label("a bitfield has no byte offset"),
                );
                TExpr::error(span)
            }
            Err(e) => {
                self.error(
                    Diagnostic::new(members_span, e.to_string()).with_label("no such member"),
                );
                TExpr::error(span)
            }
        }
    }

    /// `curtask`: the current task, a `struct task_struct *` when kernel
    /// types are given (an integer otherwise, as in bpftrace without BTF).
    pub(super) fn curtask(&mut self, span: Span) -> TExpr {
        let id = match &self.opts.btf {
            None => None,
            Some(_) => {
                let Some(k) = self.kernel_types(span, "`curtask`") else {
                    return TExpr::error(span);
                };
                match k.struct_id("task_struct") {
                    Ok(id) => Some(id),
                    Err(e) => {
                        let msg = e.to_string();
                        self.error(Diagnostic::new(span, msg));
                        return TExpr::error(span);
                    }
                }
            }
        };
        let ty = id.map_or(Ty::Int { signed: false }, Ty::Ptr);
        TExpr::new(TKind::Builtin(Builtin::Curtask), ty, span)
    }

    /// A member or index expression, read.
    pub(super) fn member_read(&mut self, e: &Expr) -> TExpr {
        let Some(place) = self.place(e) else {
            return TExpr::error(e.span);
        };
        let Some(k) = self.kernel_types(e.span, "a struct member") else {
            return TExpr::error(e.span);
        };
        let resolved = resolve_path(k.btf(), place.root, &place.path).map_err(|e| e.to_string());
        let access = match resolved {
            Ok(a) => a,
            Err(msg) => {
                self.error(Diagnostic::new(member_span(e), msg).with_label("no such member"));
                return TExpr::error(e.span);
            }
        };
        match value_of(&k, &access) {
            Ok((read, ty)) => TExpr::new(
                TKind::Field {
                    base: Box::new(place.base),
                    access,
                    read,
                },
                ty,
                e.span,
            ),
            Err(why) => {
                let path = access.field_path();
                self.error(
                    Diagnostic::new(
                        e.span,
                        format!("`{path}` is {why}; read one of its members"),
                    )
                    .with_label("not a value"),
                );
                TExpr::error(e.span)
            }
        }
    }

    /// The member chain `e` denotes, its pointer hops read.
    fn place(&mut self, e: &Expr) -> Option<Place> {
        match &e.kind {
            ExprKind::Member {
                expr,
                member,
                arrow: true,
                member_span,
            } => self.through_pointer(expr, member, true, *member_span, e.span),
            ExprKind::Member {
                expr,
                member,
                arrow: false,
                member_span,
            } => {
                if !matches!(expr.kind, ExprKind::Member { .. } | ExprKind::Index { .. })
                    || self.is_tracing_args(expr)
                {
                    // `.` through a pointer reads what it points to, as
                    // bpftrace does since 0.25: `$sk.__sk_common`.
                    return self.through_pointer(expr, member, false, *member_span, e.span);
                }
                let mut p = self.place(expr)?;
                if let Some(ptr) = self.pointer_at(&p, expr.span) {
                    // The chain so far is a pointer member: read it and go
                    // on from what it points to.
                    let root = self.struct_root(ptr.0, e.span)?;
                    return Some(Place {
                        base: ptr.1,
                        root,
                        path: vec![Step::Member(member.clone())],
                    });
                }
                p.path.push(Step::Member(member.clone()));
                Some(p)
            }
            ExprKind::Index { expr, index } => {
                if !matches!(expr.kind, ExprKind::Member { .. } | ExprKind::Index { .. }) {
                    let base = self.expr(expr);
                    if base.ty != Ty::Error {
                        self.error(
                            Diagnostic::new(
                                e.span,
                                "only array members of kernel structs can be indexed",
                            )
                            .with_label("not an array member"),
                        );
                    }
                    return None;
                }
                let mut p = self.place(expr)?;
                let i = self.expr(index);
                match i.kind {
                    TKind::Int(n) if (0..=u32::MAX as i64).contains(&n) => {
                        p.path.push(Step::Index(n as u32));
                        Some(p)
                    }
                    _ => {
                        if i.ty != Ty::Error {
                            self.error(
                                Diagnostic::new(i.span, "an array index must be a constant")
                                    .with_label("not a constant"),
                            );
                        }
                        None
                    }
                }
            }
            _ => None,
        }
    }

    /// A new chain reading `member` of what `expr`, a struct pointer,
    /// points to: `expr->member`, or `expr.member` (`arrow` false).
    fn through_pointer(
        &mut self,
        expr: &Expr,
        member: &str,
        arrow: bool,
        member_span: Span,
        span: Span,
    ) -> Option<Place> {
        let base = self.expr_keep_ptr(expr);
        match base.ty {
            Ty::Ptr(id) => {
                let root = self.struct_root(id, span)?;
                Some(Place {
                    base,
                    root,
                    path: vec![Step::Member(member.to_string())],
                })
            }
            Ty::Error => None,
            other => {
                let (op, needs, at) = if arrow {
                    ("->", "a struct pointer", base.span)
                } else {
                    (".", "a struct or a struct pointer", member_span)
                };
                self.error(
                    Diagnostic::new(
                        at,
                        format!("`{op}{member}` needs {needs}, found {}", other.describe()),
                    )
                    .with_label("not a struct pointer")
                    .with_help(format!("cast it: `((struct NAME *)ptr){op}{member}`")),
                );
                None
            }
        }
    }

    /// If the chain `p` ends at a pointer member: its pointee's type and
    /// the chain read (`p` stays as it is otherwise).
    fn pointer_at(&mut self, p: &Place, span: Span) -> Option<(u32, TExpr)> {
        let k = self.kernel_types(span, "a struct member")?;
        let access = resolve_path(k.btf(), p.root, &p.path).ok()?;
        match value_of(&k, &access) {
            Ok((read, Ty::Ptr(pointee))) => Some((
                pointee,
                TExpr::new(
                    TKind::Field {
                        base: Box::new(p.base.clone()),
                        access,
                        read,
                    },
                    Ty::Ptr(pointee),
                    span,
                ),
            )),
            _ => None,
        }
    }

    /// The full struct or union behind pointee `id` (typedefs and
    /// qualifiers skipped, a forward declaration looked up by name).
    fn struct_root(&mut self, id: u32, span: Span) -> Option<u32> {
        let k = self.kernel_types(span, "a struct member")?;
        let btf = k.btf();
        let found = match btf
            .resolve(id)
            .and_then(|r| btf.type_by_id(r).map(|t| (r, t)))
        {
            Ok((r, BtfType::Struct { .. } | BtfType::Union { .. })) => Ok(r),
            Ok((r, BtfType::Fwd { .. })) => {
                let name = btf.name_of(r).unwrap_or_default().to_string();
                k.composite(&name).map_err(|e| e.to_string())
            }
            Ok((r, _)) => Err(format!(
                "`->` needs a struct pointer, and this points to {}",
                describe(btf, r)
            )),
            Err(e) => Err(e.to_string()),
        };
        match found {
            Ok(r) => Some(r),
            Err(msg) => {
                self.error(Diagnostic::new(span, msg).with_label("not a struct pointer"));
                None
            }
        }
    }
}

/// The span of the last member name of a chain, where an unknown member is
/// reported.
fn member_span(e: &Expr) -> Span {
    match &e.kind {
        ExprKind::Member { member_span, .. } => *member_span,
        ExprKind::Index { expr, .. } => member_span(expr),
        _ => e.span,
    }
}

/// How the field is read and the value's type; what it is otherwise.
fn value_of(k: &KernelBtf, a: &FieldAccess) -> Result<(FieldRead, Ty), String> {
    let btf = k.btf();
    let t = btf.type_by_id(a.resolved).map_err(|e| e.to_string())?;
    if a.bitfield.is_some() {
        return Ok((
            FieldRead::Bitfield { signed: a.signed },
            Ty::Int { signed: a.signed },
        ));
    }
    let int = |bytes: u32, signed: bool| -> Result<(FieldRead, Ty), String> {
        match bytes {
            1 | 2 | 4 | 8 => Ok((
                FieldRead::Int {
                    bytes: bytes as u8,
                    signed,
                },
                Ty::Int { signed },
            )),
            _ => Err(format!("a {bytes}-byte integer")),
        }
    };
    match t {
        BtfType::Int { .. } | BtfType::Enum { .. } | BtfType::Enum64 { .. } => {
            int(a.size, a.signed)
        }
        BtfType::Ptr { type_id } => Ok((
            FieldRead::Int {
                bytes: 8,
                signed: false,
            },
            Ty::Ptr(*type_id),
        )),
        BtfType::Array { elem, nelems, .. } if is_char(btf, *elem) => Ok((
            FieldRead::Chars { size: *nelems },
            Ty::Str { size: *nelems },
        )),
        _ => Err(describe(btf, a.resolved)),
    }
}

/// Whether `id` is a one-byte integer (`char`, `u8`).
fn is_char(btf: &Btf, id: u32) -> bool {
    btf.resolve(id)
        .and_then(|r| btf.type_by_id(r))
        .is_ok_and(|t| matches!(t, BtfType::Int { size: 1, .. }))
}

/// "a struct", "a union", "an array", "a function"...
fn describe(btf: &Btf, id: u32) -> String {
    match btf.type_by_id(id) {
        Ok(BtfType::Struct { .. }) => "a struct".into(),
        Ok(BtfType::Union { .. }) => "a union".into(),
        Ok(BtfType::Array { .. }) => "an array".into(),
        Ok(BtfType::FuncProto { .. } | BtfType::Func { .. }) => "a function".into(),
        _ => "not a readable value".into(),
    }
}
