//! Parsing expressions: precedence climbing over the binary operators,
//! the ternary, prefix operators and casts (to integers, integer pointers
//! and struct or union pointers), member access, tuple elements and
//! indexing, literals, tuples, variables, maps, builtins, calls and other
//! identifiers (which the checker resolves).

use super::{precedence, PResult, Parser, Reported};
use crate::lang::ast::{
    BinOp, Builtin, CastType, Expr, ExprKind, IntType, MapRef, RecordRef, Span, UnOp,
};
use crate::lang::diag::Diagnostic;
use crate::lang::lex::{parse_int, Tok, Token};

/// The words of statements, which start no expression.
const KEYWORDS: &[&str] = &[
    "if", "else", "unroll", "while", "for", "let", "break", "continue", "return", "delete",
    "config", "macro",
];

/// Whether `w` is a keyword of the language.
pub(super) fn is_keyword(w: &str) -> bool {
    KEYWORDS.contains(&w)
}

impl Parser<'_> {
    // ---- expressions ---------------------------------------------------
    //
    // The functions on the recursion path (expr, ternary, binary, unary,
    // cast, primary) keep their frames small: errors are reported by cold
    // helpers, so that MAX_DEPTH levels fit in a small thread stack even in
    // debug builds.

    /// A full expression (ternary and below).
    pub(super) fn expr(&mut self) -> PResult<Expr> {
        let at = self.peek_span();
        self.enter(at)?;
        let e = self.ternary();
        self.leave();
        e
    }

    /// An expression inside `()`, `[]` or call arguments, where `/` divides
    /// even inside a predicate.
    pub(super) fn nested_expr(&mut self) -> PResult<Expr> {
        let saved = self.no_div;
        self.no_div = false;
        let e = self.expr();
        self.no_div = saved;
        e
    }

    fn ternary(&mut self) -> PResult<Expr> {
        let cond = self.binary(0)?;
        let Some(q) = self.eat(&Tok::Question) else {
            return Ok(cond);
        };
        let then = self.expr()?;
        if self.eat(&Tok::Colon).is_none() {
            return Err(self.err_ternary_colon(q.span));
        }
        let els = self.expr()?;
        let span = cond.span.to(els.span);
        Ok(Expr {
            kind: ExprKind::Ternary {
                cond: Box::new(cond),
                then: Box::new(then),
                els: Box::new(els),
            },
            span,
        })
    }

    #[cold]
    #[inline(never)]
    fn err_ternary_colon(&mut self, q: Span) -> Reported {
        let found = self.peek_tok().clone();
        let d = Diagnostic::new(
            found.span,
            format!(
                "expected `:` of the conditional expression `?` at {}",
                self.lc(q)
            ),
        )
        .with_label(format!("found {}", found.tok.describe()))
        .with_help("write `cond ? a : b`");
        self.error(d);
        Reported
    }

    /// The binary operator at the cursor and its precedence.
    fn peek_binop(&mut self) -> Option<(BinOp, u8)> {
        let no_div = self.no_div;
        let op = match self.peek() {
            Tok::OrOr => BinOp::Or,
            Tok::AndAnd => BinOp::And,
            Tok::Pipe => BinOp::BitOr,
            Tok::Caret => BinOp::BitXor,
            Tok::Amp => BinOp::BitAnd,
            Tok::EqEq => BinOp::Eq,
            Tok::Ne => BinOp::Ne,
            Tok::Lt => BinOp::Lt,
            Tok::Le => BinOp::Le,
            Tok::Gt => BinOp::Gt,
            Tok::Ge => BinOp::Ge,
            Tok::Shl => BinOp::Shl,
            Tok::Shr => BinOp::Shr,
            Tok::Plus => BinOp::Add,
            Tok::Minus => BinOp::Sub,
            Tok::Star => BinOp::Mul,
            Tok::Slash if !no_div => BinOp::Div,
            Tok::Percent => BinOp::Mod,
            _ => return None,
        };
        Some((op, precedence(op)))
    }

    /// Binary operators of precedence `min` and above (precedence
    /// climbing; left associative). Every operator is a nesting level until
    /// the end of the expression, as the tree nests one level deeper with
    /// each: a chain of a thousand `+` would overflow whoever walks it.
    fn binary(&mut self, min: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        let mut entered = 0;
        let result = loop {
            let Some((op, prec)) = self.peek_binop() else {
                break Ok(lhs);
            };
            if prec < min {
                break Ok(lhs);
            }
            let at = self.bump().span;
            if let Err(r) = self.enter(at) {
                break Err(r);
            }
            entered += 1;
            match self.binary(prec + 1) {
                Ok(rhs) => {
                    let span = lhs.span.to(rhs.span);
                    lhs = Expr {
                        kind: ExprKind::Binary {
                            op,
                            lhs: Box::new(lhs),
                            rhs: Box::new(rhs),
                        },
                        span,
                    };
                }
                Err(r) => break Err(r),
            }
        };
        self.depth = self.depth.saturating_sub(entered);
        result
    }

    /// A unary expression (a bound of a `for` range).
    pub(super) fn range_operand(&mut self) -> PResult<Expr> {
        let at = self.peek_span();
        self.enter(at)?;
        let e = self.unary();
        self.leave();
        e
    }

    /// Prefix operators and casts.
    fn unary(&mut self) -> PResult<Expr> {
        let op = match self.peek() {
            Tok::Minus => UnOp::Neg,
            Tok::Bang => UnOp::Not,
            Tok::Tilde => UnOp::BitNot,
            Tok::Star => UnOp::Deref,
            Tok::LParen => return self.paren_or_cast(),
            _ => return self.postfix(),
        };
        let start = self.bump().span;
        self.enter(start)?;
        let e = self.unary();
        self.leave();
        let e = e?;
        let span = start.to(e.span);
        Ok(Expr {
            kind: ExprKind::Unary {
                op,
                expr: Box::new(e),
            },
            span,
        })
    }

    /// `(TYPE)expr`, `(TYPE *)expr`, `(struct NAME *)expr` or `( expr )`;
    /// the cursor is on the `(`.
    fn paren_or_cast(&mut self) -> PResult<Expr> {
        let ty = match &self.peek_nth(1).tok {
            Tok::Ident(w) => match IntType::from_word(w) {
                Some(ty) => ty,
                None if matches!(w.as_str(), "struct" | "union") => return self.record_cast(),
                None if w == "enum" => return Err(self.err_enum_cast()),
                None => return self.postfix(),
            },
            _ => return self.postfix(),
        };
        let open = self.bump().span;
        self.bump();
        let ptr = self.eat(&Tok::Star).is_some();
        if self.eat(&Tok::RParen).is_none() {
            return Err(self.err_cast_close(open, ty, ptr));
        }
        let at = self.peek_span();
        self.enter(at)?;
        let e = self.unary();
        self.leave();
        let e = e?;
        let span = open.to(e.span);
        let ty = if ptr {
            CastType::Ptr(ty)
        } else {
            CastType::Int(ty)
        };
        Ok(Expr {
            kind: ExprKind::Cast {
                ty,
                expr: Box::new(e),
            },
            span,
        })
    }

    /// `(struct NAME *...)expr`; the cursor is on the `(`.
    fn record_cast(&mut self) -> PResult<Expr> {
        let open = self.bump().span;
        let union = self.bump().tok == Tok::Ident("union".into());
        let t = self.bump();
        let Tok::Ident(name) = t.tok else {
            return Err(self.err_record_name(t));
        };
        let mut depth = 0u8;
        while self.eat(&Tok::Star).is_some() {
            depth = depth.saturating_add(1);
        }
        let close = self.peek_span();
        let record = RecordRef {
            union,
            name,
            depth,
            span: open.to(close),
        };
        if self.eat(&Tok::RParen).is_none() {
            let what = format!("the cast to `{}`", record.c_name().trim_end());
            let open = Token {
                tok: Tok::LParen,
                span: open,
            };
            let _ = self.expect_close(Tok::RParen, &open, &what);
            return Err(Reported);
        }
        if depth == 0 {
            return Err(self.err_record_value(&record));
        }
        let at = self.peek_span();
        self.enter(at)?;
        let e = self.unary();
        self.leave();
        let e = e?;
        let span = open.to(e.span);
        Ok(Expr {
            kind: ExprKind::Cast {
                ty: CastType::Record(record),
                expr: Box::new(e),
            },
            span,
        })
    }

    #[cold]
    #[inline(never)]
    fn err_record_name(&mut self, t: Token) -> Reported {
        self.error(
            Diagnostic::new(
                t.span,
                format!(
                    "expected a struct or union name, found {}",
                    t.tok.describe()
                ),
            )
            .with_label("not a name")
            .with_help("a struct cast is written `(struct file *)arg0`"),
        );
        Reported
    }

    #[cold]
    #[inline(never)]
    fn err_record_value(&mut self, record: &RecordRef) -> Reported {
        let kw = if record.union { "union" } else { "struct" };
        self.error(
            Diagnostic::new(
                record.span,
                format!("cannot cast to the {kw} value `{kw} {}`", record.name),
            )
            .with_label("not a pointer")
            .with_help(format!(
                "cast to a pointer and read members with `->`: `(({kw} {} *)arg0)->member`",
                record.name
            )),
        );
        Reported
    }

    #[cold]
    #[inline(never)]
    fn err_enum_cast(&mut self) -> Reported {
        let t = self.peek_nth(1).clone();
        let d = Diagnostic::new(t.span, "casts to enum types are not supported")
            .with_label("not an integer or struct type")
            .with_help("an enum value is an integer: cast to `(int32)` or `(uint32)`");
        self.error(d);
        Reported
    }

    /// A primary expression followed by member accesses `->m`, `.m` and
    /// indexes `[i]`, left to right.
    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        let mut entered = 0;
        let result = loop {
            let arrow = match self.peek() {
                Tok::Arrow => true,
                Tok::Dot => false,
                Tok::LBracket => match self.index(e, &mut entered) {
                    Ok(next) => {
                        e = next;
                        continue;
                    }
                    Err(r) => break Err(r),
                },
                _ => break Ok(e),
            };
            let op = self.bump();
            if let Err(r) = self.enter(op.span) {
                break Err(r);
            }
            entered += 1;
            let t = self.bump();
            if let (false, Tok::Int(index)) = (arrow, &t.tok) {
                let span = e.span.to(t.span);
                e = Expr {
                    kind: ExprKind::TupleIndex {
                        expr: Box::new(e),
                        index: *index,
                        index_span: t.span,
                    },
                    span,
                };
                continue;
            }
            let Tok::Ident(member) = t.tok else {
                break Err(self.err_member_name(&op, t));
            };
            let span = e.span.to(t.span);
            e = Expr {
                kind: ExprKind::Member {
                    expr: Box::new(e),
                    member,
                    member_span: t.span,
                    arrow,
                },
                span,
            };
        };
        self.depth = self.depth.saturating_sub(entered);
        result
    }

    /// `base[index]`; the cursor is on the `[`.
    fn index(&mut self, base: Expr, entered: &mut usize) -> PResult<Expr> {
        let open = self.bump();
        self.enter(open.span)?;
        *entered += 1;
        let index = self.nested_expr()?;
        let close = self.expect_close(Tok::RBracket, &open, "the index")?;
        let span = base.span.to(close.span);
        Ok(Expr {
            kind: ExprKind::Index {
                expr: Box::new(base),
                index: Box::new(index),
            },
            span,
        })
    }

    #[cold]
    #[inline(never)]
    fn err_member_name(&mut self, op: &Token, t: Token) -> Reported {
        self.error(
            Diagnostic::new(
                t.span,
                format!(
                    "expected a member name after {}, found {}",
                    op.tok.describe(),
                    t.tok.describe()
                ),
            )
            .with_label("not a name"),
        );
        Reported
    }

    #[cold]
    #[inline(never)]
    fn err_cast_close(&mut self, open: Span, ty: IntType, ptr: bool) -> Reported {
        let what = format!("the cast to `{}{}`", ty.name(), if ptr { " *" } else { "" });
        let open = Token {
            tok: Tok::LParen,
            span: open,
        };
        let _ = self.expect_close(Tok::RParen, &open, &what);
        Reported
    }

    /// Literals, variables, maps, builtins, calls, `( expr )`.
    pub(super) fn primary(&mut self) -> PResult<Expr> {
        let span = self.peek_span();
        let kind = match self.peek() {
            Tok::Int(v) => ExprKind::Int(*v),
            Tok::Param(n) => {
                let n = *n;
                self.param(n)
            }
            Tok::Str(_) | Tok::Var(_) => match self.bump().tok {
                Tok::Str(s) => {
                    return Ok(Expr {
                        kind: ExprKind::Str(s),
                        span,
                    })
                }
                Tok::Var(n) => {
                    return Ok(Expr {
                        kind: ExprKind::Var(n),
                        span,
                    })
                }
                _ => return Err(Reported),
            },
            Tok::Map(_) => return self.map_expr(),
            Tok::Ident(w) => {
                let w = w.clone();
                if is_keyword(&w) && w != "delete" {
                    return Err(self.err_keyword());
                }
                if self.peek_nth(1).tok == Tok::LParen {
                    if w == "offsetof" {
                        return self.offsetof();
                    }
                    return self.call();
                }
                match Builtin::from_word(&w) {
                    Some(b) => ExprKind::Builtin(b),
                    None => ExprKind::Ident(w),
                }
            }
            Tok::LParen => return self.parenthesised(),
            _ => return Err(self.err_expected_expr()),
        };
        self.bump();
        Ok(Expr { kind, span })
    }

    /// `( expr )` or a tuple `( a, b, ... )`; the span covers the
    /// parentheses.
    fn parenthesised(&mut self) -> PResult<Expr> {
        let open = self.bump();
        let e = self.nested_expr()?;
        if self.peek() == &Tok::Comma {
            let mut elems = vec![e];
            while self.eat(&Tok::Comma).is_some() {
                elems.push(self.nested_expr()?);
            }
            let close = self.expect_close(Tok::RParen, &open, "the tuple")?;
            return Ok(Expr {
                kind: ExprKind::Tuple(elems),
                span: open.span.to(close.span),
            });
        }
        let close = self.expect_close(Tok::RParen, &open, "the parenthesis")?;
        Ok(Expr {
            kind: e.kind,
            span: open.span.to(close.span),
        })
    }

    /// A keyword where an expression should be (`else` after a broken
    /// statement, `if` in an expression).
    #[cold]
    #[inline(never)]
    fn err_keyword(&mut self) -> Reported {
        let t = self.peek_tok().clone();
        self.error(
            Diagnostic::new(
                t.span,
                format!(
                    "expected an expression, found the keyword {}",
                    t.tok.describe()
                ),
            )
            .with_label("a keyword"),
        );
        Reported
    }

    #[cold]
    #[inline(never)]
    fn err_expected_expr(&mut self) -> Reported {
        let t = self.peek_tok().clone();
        let after = self.prev.tok.describe();
        let mut d = Diagnostic::new(t.span, format!("expected an expression after {after}"))
            .with_label(format!("found {}", t.tok.describe()));
        if matches!(t.tok, Tok::PlusPlus | Tok::MinusMinus) {
            d = d.with_help("`++` and `--` are statements: `@n++;`");
        }
        self.error(d);
        Reported
    }

    /// `@name` with optional `[keys]`; the cursor is on `@name`.
    fn map_expr(&mut self) -> PResult<Expr> {
        let t = self.bump();
        let Tok::Map(name) = t.tok else {
            return Err(Reported);
        };
        let m = self.map_ref(name, t.span)?;
        Ok(Expr {
            span: m.span,
            kind: ExprKind::Map(m),
        })
    }

    /// The `[keys]` of `@name` (already consumed), if any.
    fn map_ref(&mut self, name: String, span: Span) -> PResult<MapRef> {
        let Some(open) = self.eat(&Tok::LBracket) else {
            return Ok(MapRef {
                name,
                keys: Vec::new(),
                span,
            });
        };
        if self.peek() == &Tok::RBracket {
            return Err(self.err_empty_key(&name, open.span));
        }
        let mut keys = Vec::new();
        loop {
            keys.push(self.nested_expr()?);
            if self.eat(&Tok::Comma).is_none() {
                break;
            }
        }
        if self.peek() != &Tok::RBracket {
            return Err(self.err_close_list(&open, Tok::RBracket, "the keys of `@", &name));
        }
        let close = self.bump();
        Ok(MapRef {
            name,
            keys,
            span: span.to(close.span),
        })
    }

    #[cold]
    #[inline(never)]
    fn err_empty_key(&mut self, name: &str, open: Span) -> Reported {
        let close = self.bump();
        self.error(
            Diagnostic::new(open.to(close.span), format!("empty key `[]` on `@{name}`"))
                .with_label("expected a key")
                .with_help(format!("write `@{name}` for a map without keys")),
        );
        Reported
    }

    /// "expected `]` to close the keys of `@m` opened at ...".
    #[cold]
    #[inline(never)]
    fn err_close_list(&mut self, open: &Token, close: Tok, what: &str, name: &str) -> Reported {
        let what = format!("{what}{name}`");
        let _ = self.expect_close(close, open, &what);
        Reported
    }

    /// `offsetof(struct NAME, member.member)`; the cursor is on `offsetof`.
    fn offsetof(&mut self) -> PResult<Expr> {
        let kw = self.bump();
        let open = self.bump();
        let help = "write `offsetof(struct task_struct, comm)`";
        let t = self.bump();
        let union = match &t.tok {
            Tok::Ident(w) if w == "struct" => false,
            Tok::Ident(w) if w == "union" => true,
            other => {
                self.error(
                    Diagnostic::new(
                        t.span,
                        format!(
                            "offsetof() takes a struct or union type first, found {}",
                            other.describe()
                        ),
                    )
                    .with_label("not a struct type")
                    .with_help(help),
                );
                return Err(Reported);
            }
        };
        let n = self.bump();
        let Tok::Ident(name) = n.tok else {
            return Err(self.err_record_name(n));
        };
        let record = RecordRef {
            union,
            name,
            depth: 0,
            span: t.span.to(n.span),
        };
        self.expect(
            Tok::Comma,
            "expected `,` after the type of offsetof()",
            Some(help),
        )?;
        let mut members = Vec::new();
        let first = self.peek_span();
        loop {
            let m = self.bump();
            let Tok::Ident(member) = m.tok else {
                self.error(
                    Diagnostic::new(
                        m.span,
                        format!("expected a member name, found {}", m.tok.describe()),
                    )
                    .with_label("not a name")
                    .with_help(help),
                );
                return Err(Reported);
            };
            members.push(member);
            if self.eat(&Tok::Dot).is_none() {
                break;
            }
        }
        let members_span = first.to(self.prev.span);
        let close = self.expect_close(Tok::RParen, &open, "the arguments of `offsetof`")?;
        Ok(Expr {
            kind: ExprKind::Offsetof {
                record,
                members,
                members_span,
            },
            span: kw.span.to(close.span),
        })
    }

    /// `name(args)`; the cursor is on `name`.
    /// A positional parameter's value, as bpftrace fixes it: `$#` the
    /// count, `$N` its number, or its text where it is not one (a missing
    /// one is 0); with no values given, the parameter read at run time.
    fn param(&self, n: u32) -> ExprKind {
        let Some(params) = self.params else {
            return ExprKind::Param(n);
        };
        if n == 0 {
            return ExprKind::Int(params.len() as u64);
        }
        match params.get(n as usize - 1) {
            None => ExprKind::Int(0),
            Some(text) => match parse_int(text.trim()) {
                Ok(v) => ExprKind::Int(v),
                Err(_) => ExprKind::Str(text.clone()),
            },
        }
    }

    /// `str($N)`: the parameter's text as written (`""` when missing), or
    /// with no values given, read at run time.
    fn str_of_param(&mut self) -> Option<Expr> {
        let [name, open, param, close] = [0, 1, 2, 3].map(|i| self.peek_nth(i).tok.clone());
        let (Tok::Ident(name), Tok::LParen, Tok::Param(n), Tok::RParen) =
            (name, open, param, close)
        else {
            return None;
        };
        if name != "str" || n == 0 {
            return None;
        }
        let start = self.peek_span();
        for _ in 0..4 {
            self.bump();
        }
        let kind = match self.params {
            Some(params) => ExprKind::Str(params.get(n as usize - 1).cloned().unwrap_or_default()),
            None => ExprKind::ParamStr(n),
        };
        Some(Expr {
            kind,
            span: start.to(self.prev.span),
        })
    }

    fn call(&mut self) -> PResult<Expr> {
        if let Some(e) = self.str_of_param() {
            return Ok(e);
        }
        let t = self.bump();
        let Tok::Ident(name) = t.tok else {
            return Err(Reported);
        };
        let open = self.bump();
        let mut args = Vec::new();
        if self.eat(&Tok::RParen).is_none() {
            loop {
                args.push(self.nested_expr()?);
                if self.eat(&Tok::Comma).is_none() {
                    break;
                }
            }
            if self.eat(&Tok::RParen).is_none() {
                return Err(self.err_close_list(&open, Tok::RParen, "the arguments of `", &name));
            }
        }
        Ok(Expr {
            kind: ExprKind::Call {
                name,
                args,
                name_span: t.span,
            },
            span: t.span.to(self.prev.span),
        })
    }
}
