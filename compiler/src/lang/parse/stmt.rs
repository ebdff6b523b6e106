//! Parsing blocks and statements: assignments, `++`/`--`, `let`,
//! `if`/`else` (with or without parentheses), `unroll`, `while`, `for`,
//! `break`/`continue`/`return`, `delete`, and the recovery that resumes at
//! the next `;` or `}` of the block after an error.

use super::{starts_expr, PResult, Parser, Reported};
use crate::lang::ast::{
    AssignOp, Block, DeclType, Expr, ExprKind, IntType, LValue, RecordRef, Span, Stmt, StmtKind,
};
use crate::lang::diag::Diagnostic;
use crate::lang::lex::{Tok, Token};

/// A block and whether its last statement is an expression left without
/// `;` (a macro's value).
pub(super) struct Body {
    pub block: Block,
    pub open_value: bool,
}

impl Parser<'_> {
    /// `{ stmts }`; the next token is the `{`.
    pub(super) fn block(&mut self) -> PResult<Block> {
        Ok(self.block_with_value()?.block)
    }

    /// `{ stmts }` and whether it ends in an expression without `;`.
    pub(super) fn block_with_value(&mut self) -> PResult<Body> {
        let open = self.bump();
        self.enter(open.span)?;
        let b = self.block_body(&open);
        self.leave();
        Ok(b)
    }

    fn block_body(&mut self, open: &Token) -> Body {
        let mut stmts = Vec::new();
        let mut open_value = false;
        loop {
            let done = |stmts, span, open_value| Body {
                block: Block { stmts, span },
                open_value,
            };
            if self.gave_up() {
                return done(stmts, open.span.to(self.prev.span), false);
            }
            match self.peek() {
                Tok::RBrace => {
                    let close = self.bump();
                    return done(stmts, open.span.to(close.span), open_value);
                }
                Tok::Semi => {
                    self.bump();
                    open_value = false;
                    continue;
                }
                Tok::Eof => {
                    let at = self.peek_span();
                    self.error(
                        Diagnostic::new(
                            at,
                            format!(
                                "expected `}}` to close the block opened at {}",
                                self.lc(open.span)
                            ),
                        )
                        .with_label("the file ends here"),
                    );
                    return done(stmts, open.span.to(self.prev.span), false);
                }
                _ => {}
            }
            open_value = false;
            if self.at_probe_start() {
                let at = self.peek_span();
                self.error(
                    Diagnostic::new(
                        at,
                        format!(
                            "expected `}}` to close the block opened at {}",
                            self.lc(open.span)
                        ),
                    )
                    .with_label("a new probe starts here")
                    .with_help("close the block with `}` before the next probe"),
                );
                return done(stmts, open.span.to(self.prev.span), false);
            }
            let before = self.position();
            self.stmt_start = before;
            match self.stmt() {
                Ok((s, needs_semi)) => {
                    let is_expr = matches!(s.kind, StmtKind::Expr(_));
                    stmts.push(s);
                    if needs_semi && !self.stmt_end() {
                        open_value = is_expr && self.peek() == &Tok::RBrace;
                    }
                }
                Err(Reported) => self.sync(),
            }
            if self.position() == before && !matches!(self.peek(), Tok::RBrace | Tok::Eof) {
                self.bump();
            }
        }
    }

    /// After a simple statement: `;` (then `true`), or the `}` of the
    /// block.
    fn stmt_end(&mut self) -> bool {
        if self.eat(&Tok::Semi).is_some() {
            return true;
        }
        if matches!(self.peek(), Tok::RBrace | Tok::Eof) || self.at_probe_start() {
            return false;
        }
        let found = self.peek_tok().clone();
        if starts_expr(&found.tok) {
            let at = self.prev.span.end;
            self.error(
                Diagnostic::new(Span::new(at, at), "expected `;` between statements")
                    .with_label("add `;` here")
                    .with_help("bpftrace requires `;` between statements, also across lines"),
            );
        } else {
            let mut d = Diagnostic::new(
                found.span,
                format!(
                    "expected `;` after the statement, found {}",
                    found.tok.describe()
                ),
            )
            .with_label("expected `;` before this");
            if matches!(found.tok, Tok::PlusPlus | Tok::MinusMinus) {
                d = d.with_help("`++` and `--` are statements of their own: `@n++;`");
            }
            self.error(d);
            self.sync();
        }
        false
    }

    /// After an error in a statement: skips to the next `;` of the block
    /// (consumed), to its `}` (not consumed), or past a `{ ... }` that ends
    /// the statement.
    fn sync(&mut self) {
        let mut depth = 0usize;
        loop {
            if depth == 0 && self.at_probe_start() {
                return;
            }
            match self.peek() {
                Tok::Eof => return,
                Tok::Semi if depth == 0 => {
                    self.bump();
                    return;
                }
                Tok::RBrace if depth == 0 => return,
                Tok::RBrace => {
                    self.bump();
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                Tok::LBrace => {
                    self.bump();
                    depth += 1;
                }
                _ => {
                    self.bump();
                }
            }
        }
    }

    /// One statement and whether it needs a `;` (or `}`) after it.
    fn stmt(&mut self) -> PResult<(Stmt, bool)> {
        let start = self.peek_span();
        if let Tok::Ident(w) = self.peek() {
            match w.as_str() {
                "if" => return Ok((self.if_stmt()?, false)),
                "unroll" => return Ok((self.unroll_stmt()?, false)),
                "while" => return Ok((self.while_stmt()?, false)),
                "for" => return Ok((self.for_stmt()?, false)),
                "delete" => return Ok((self.delete_stmt()?, true)),
                "let" => return Ok((self.let_stmt()?, true)),
                "break" | "continue" | "return" => {
                    let kind = match w.as_str() {
                        "break" => StmtKind::Break,
                        "continue" => StmtKind::Continue,
                        _ => StmtKind::Return,
                    };
                    self.bump();
                    return Ok((Stmt { kind, span: start }, true));
                }
                _ => {}
            }
        }
        let kind = match self.peek() {
            Tok::PlusPlus | Tok::MinusMinus => {
                let op = self.bump();
                let delta = if op.tok == Tok::PlusPlus { 1 } else { -1 };
                let e = self.primary()?;
                let target = self.lvalue(e, &op)?;
                StmtKind::Incr { target, delta }
            }
            _ => {
                let e = self.expr()?;
                match self.peek().clone() {
                    Tok::Assign | Tok::OpAssign(_) => {
                        let op_tok = self.bump();
                        let op = match op_tok.tok {
                            Tok::OpAssign(b) => AssignOp::Compound(b),
                            _ => AssignOp::Set,
                        };
                        let target = self.lvalue(e, &op_tok)?;
                        let value = self.expr()?;
                        StmtKind::Assign { target, op, value }
                    }
                    Tok::PlusPlus | Tok::MinusMinus => {
                        let op = self.bump();
                        let delta = if op.tok == Tok::PlusPlus { 1 } else { -1 };
                        StmtKind::Incr {
                            target: self.lvalue(e, &op)?,
                            delta,
                        }
                    }
                    _ => StmtKind::Expr(e),
                }
            }
        };
        Ok((
            Stmt {
                kind,
                span: start.to(self.prev.span),
            },
            true,
        ))
    }

    /// What `op` (`=`, `+=`, `++`) writes: a variable or a map element.
    fn lvalue(&mut self, e: Expr, op: &Token) -> PResult<LValue> {
        match e.kind {
            ExprKind::Var(name) => Ok(LValue::Var { name, span: e.span }),
            ExprKind::Map(m) => Ok(LValue::Map(m)),
            _ => {
                self.error(
                    Diagnostic::new(
                        e.span,
                        format!("cannot apply {} to this expression", op.tok.describe()),
                    )
                    .with_label("not a variable or map")
                    .with_help("assign to a `$variable` or a map element such as `@m[key]`"),
                );
                Err(Reported)
            }
        }
    }

    /// `if (c) { } else if (c) { } else { }`. An `else if` is a nesting
    /// level (the tree nests), but the parser loops rather than recursing.
    fn if_stmt(&mut self) -> PResult<Stmt> {
        // (span start, cond, then) of each `if`, then the final `else`.
        let mut arms: Vec<(Span, Expr, Block)> = Vec::new();
        let mut els: Option<Block> = None;
        let mut entered = 0;
        let r = self.if_arms(&mut arms, &mut els, &mut entered);
        self.depth = self.depth.saturating_sub(entered);
        r?;
        let mut out: Option<Stmt> = None;
        while let Some((start, cond, then)) = arms.pop() {
            let els = match out.take() {
                Some(s) => Some(Block {
                    span: s.span,
                    stmts: vec![s],
                }),
                None => els.take(),
            };
            let end = els.as_ref().map_or(then.span, |b| b.span);
            out = Some(Stmt {
                span: start.to(end),
                kind: StmtKind::If { cond, then, els },
            });
        }
        out.ok_or(Reported)
    }

    fn if_arms(
        &mut self,
        arms: &mut Vec<(Span, Expr, Block)>,
        els: &mut Option<Block>,
        entered: &mut usize,
    ) -> PResult<()> {
        loop {
            let kw = self.bump();
            if !arms.is_empty() {
                self.enter(kw.span)?;
                *entered += 1;
            }
            let cond = self.condition("if");
            if self.peek() != &Tok::LBrace {
                return Err(Reported);
            }
            let then = self.block()?;
            let Some(cond) = cond else {
                // Reported; the block was read, so an `else` after it is
                // still part of this statement.
                self.skip_else()?;
                return Err(Reported);
            };
            arms.push((kw.span, cond, then));
            if !self.at_word("else") {
                break;
            }
            self.bump();
            if self.at_word("if") {
                continue;
            }
            if self.peek() != &Tok::LBrace {
                self.expect(Tok::LBrace, "expected `{` or `if` after `else`", None)?;
            }
            *els = Some(self.block()?);
            return Ok(());
        }
        Ok(())
    }

    /// After an `if` whose condition was in error: its `else` arms, read
    /// and dropped.
    fn skip_else(&mut self) -> PResult<()> {
        while self.at_word("else") {
            self.bump();
            if self.at_word("if") {
                self.bump();
                let _ = self.condition("if");
            }
            if self.peek() != &Tok::LBrace {
                return Err(Reported);
            }
            self.block()?;
        }
        Ok(())
    }

    /// The condition of `if`, `while` (`kw`), with or without parentheses,
    /// up to the `{` of the body; `None` after an error (reported), the
    /// parser then at that `{`. `Err` if there is no `{` to go on with.
    fn condition(&mut self, kw: &str) -> Option<Expr> {
        if self.peek() == &Tok::LBrace {
            let at = self.peek_span();
            self.error(
                Diagnostic::new(at, format!("expected a condition after `{kw}`"))
                    .with_label("found `{`")
                    .with_help(format!("write `{kw} (x > 1) {{ ... }}`")),
            );
            return None;
        }
        let cond = self.nested_expr();
        if cond.is_ok() && self.peek() == &Tok::LBrace {
            return cond.ok();
        }
        if cond.is_ok() {
            let found = self.peek_tok().clone();
            self.error(
                Diagnostic::new(
                    found.span,
                    format!("expected `{{` after the condition of `{kw}`"),
                )
                .with_label(format!("found {}", found.tok.describe()))
                .with_help(format!(
                    "the body of `{kw}` is a block, even for one statement: `{kw} (x) {{ ... }}`"
                )),
            );
        }
        self.skip_to_body();
        None
    }

    /// Skips the rest of a broken condition: to the `{` that opens the
    /// body (not consumed), passing over balanced parentheses; stops at a
    /// `;` or `}` that ends the statement.
    fn skip_to_body(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                Tok::LBrace if depth == 0 => return,
                Tok::Semi | Tok::RBrace | Tok::Eof if depth == 0 => return,
                Tok::LParen | Tok::LBracket => depth += 1,
                Tok::RParen | Tok::RBracket => depth = depth.saturating_sub(1),
                Tok::Eof => return,
                _ => {}
            }
            self.bump();
        }
    }

    /// `while (cond) { ... }` (parentheses optional).
    fn while_stmt(&mut self) -> PResult<Stmt> {
        let kw = self.bump();
        let cond = self.condition("while");
        if self.peek() != &Tok::LBrace {
            return Err(Reported);
        }
        let body = self.block()?;
        Ok(Stmt {
            span: kw.span.to(body.span),
            kind: StmtKind::While {
                cond: cond.ok_or(Reported)?,
                body,
            },
        })
    }

    /// `for ($i : start..end) { ... }` or `for ($kv : @map) { ... }`
    /// (parentheses optional).
    fn for_stmt(&mut self) -> PResult<Stmt> {
        let kw = self.bump();
        let open = self.eat(&Tok::LParen);
        let var = self.bump();
        let Tok::Var(name) = var.tok else {
            self.error(
                Diagnostic::new(
                    var.span,
                    format!(
                        "expected a variable after `for`, found {}",
                        var.tok.describe()
                    ),
                )
                .with_label("not a `$variable`")
                .with_help("write `for ($i : 0..10) { ... }` or `for ($kv : @map) { ... }`"),
            );
            return Err(Reported);
        };
        self.expect(
            Tok::Colon,
            "expected `:` after the variable of `for`",
            Some("write `for ($i : 0..10) { ... }` or `for ($kv : @map) { ... }`"),
        )?;
        let kind = if matches!(self.peek(), Tok::Map(_)) && !self.range_follows_map() {
            let e = self.nested_expr()?;
            let ExprKind::Map(map) = e.kind else {
                return Err(Reported);
            };
            Ok(map)
        } else {
            let start = self.range_bound()?;
            self.expect(
                Tok::DotDot,
                "expected `..` in the range of `for`",
                Some("a range is `start..end`: `for ($i : 0..10) { ... }`"),
            )?;
            Err((start, self.range_bound()?))
        };
        if let Some(open) = open {
            self.expect_close(Tok::RParen, &open, "the head of `for`")?;
        }
        if self.peek() != &Tok::LBrace {
            self.expect(
                Tok::LBrace,
                "expected `{` after the head of `for`",
                Some("the body of `for` is a block: `for ($i : 0..10) { ... }`"),
            )?;
        }
        let body = self.block()?;
        let span = kw.span.to(body.span);
        let kind = match kind {
            Ok(map) => StmtKind::ForMap {
                var: name,
                var_span: var.span,
                map,
                body,
            },
            Err((start, end)) => StmtKind::ForRange {
                var: name,
                var_span: var.span,
                start,
                end,
                body,
            },
        };
        Ok(Stmt { kind, span })
    }

    /// Whether the map at the cursor starts a range (`@n..10`) rather than
    /// being the map a `for` iterates.
    fn range_follows_map(&mut self) -> bool {
        let mut i = 1;
        if self.peek_nth(1).tok == Tok::LBracket {
            let mut depth = 0usize;
            loop {
                match self.peek_nth(i).tok {
                    Tok::LBracket => depth += 1,
                    Tok::RBracket => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    Tok::Eof => return false,
                    _ => {}
                }
                i += 1;
            }
        }
        self.peek_nth(i).tok == Tok::DotDot
    }

    /// One bound of a range: a unary expression (`0`, `$n`, `(uint64)5`,
    /// `(x + 1)`).
    fn range_bound(&mut self) -> PResult<Expr> {
        let saved = self.no_div;
        self.no_div = false;
        let e = self.range_operand();
        self.no_div = saved;
        e
    }

    /// `let $x`, `let $x = value`, `let $x: type [= value]`.
    fn let_stmt(&mut self) -> PResult<Stmt> {
        let kw = self.bump();
        let var = self.bump();
        let name = match var.tok {
            Tok::Var(n) => n,
            Tok::Map(n) => {
                self.error(
                    Diagnostic::new(
                        kw.span.to(var.span),
                        format!("a map declaration (`let @{n} = ...`) inside a probe"),
                    )
                    .with_label("a map declaration")
                    .with_help(
                        "declare maps at the top level, before the probes: `let @m = hash(1024);`",
                    ),
                );
                return Err(Reported);
            }
            other => {
                self.error(
                    Diagnostic::new(
                        var.span,
                        format!(
                            "expected a variable after `let`, found {}",
                            other.describe()
                        ),
                    )
                    .with_label("not a `$variable`")
                    .with_help("write `let $x = 1;` or `let $x: uint32;`"),
                );
                return Err(Reported);
            }
        };
        let ty = if self.eat(&Tok::Colon).is_some() {
            Some(self.decl_type()?)
        } else {
            None
        };
        let value = if self.eat(&Tok::Assign).is_some() {
            Some(self.expr()?)
        } else {
            None
        };
        Ok(Stmt {
            span: kw.span.to(self.prev.span),
            kind: StmtKind::Let {
                name,
                name_span: var.span,
                ty,
                value,
            },
        })
    }

    /// The type of a `let`: `uint32`, `string`, `string[16]`,
    /// `struct sock *`; other types of bpftrace are kept as written.
    fn decl_type(&mut self) -> PResult<DeclType> {
        let first = self.bump();
        let Tok::Ident(word) = first.tok else {
            self.error(
                Diagnostic::new(
                    first.span,
                    format!("expected a type after `:`, found {}", first.tok.describe()),
                )
                .with_label("not a type")
                .with_help("for example `let $x: uint32 = 0;`"),
            );
            return Err(Reported);
        };
        let mut text = word.clone();
        let mut span = first.span;
        let ty = if let Some(int) = IntType::from_word(&word).filter(|_| word.contains("int")) {
            DeclType::Int(int)
        } else if word == "struct" || word == "union" {
            let t = self.bump();
            let Tok::Ident(name) = t.tok else {
                self.error(
                    Diagnostic::new(t.span, "expected a struct or union name")
                        .with_label("not a name"),
                );
                return Err(Reported);
            };
            span = span.to(t.span);
            text = format!("{word} {name}");
            let mut depth = 0u8;
            while let Some(star) = self.eat(&Tok::Star) {
                depth = depth.saturating_add(1);
                span = span.to(star.span);
            }
            if depth == 0 {
                return Ok(DeclType::Other(text));
            }
            DeclType::Record(RecordRef {
                union: word == "union",
                name,
                depth,
                span,
            })
        } else if word == "string" && self.peek() != &Tok::LBracket {
            DeclType::Str(None)
        } else {
            DeclType::Other(word.clone())
        };
        // `string[N]`, `uint8[4]`, pointers to them: sizes and stars.
        let mut ty = ty;
        if self.peek() == &Tok::LBracket {
            self.bump();
            let size = match self.peek().clone() {
                Tok::Int(n) => {
                    self.bump();
                    Some(n)
                }
                _ => None,
            };
            self.expect(
                Tok::RBracket,
                "expected `]` after the size of the type",
                None,
            )?;
            text.push_str(&size.map_or("[]".to_string(), |n| format!("[{n}]")));
            ty = match (&ty, size) {
                (DeclType::Other(w), Some(n)) if w == "string" => DeclType::Str(Some(n)),
                _ => DeclType::Other(text.clone()),
            };
        }
        if !matches!(ty, DeclType::Record(_)) {
            let mut stars = 0;
            while self.eat(&Tok::Star).is_some() {
                stars += 1;
            }
            if stars > 0 {
                ty = DeclType::Other(format!("{text} {}", "*".repeat(stars)));
            }
        }
        Ok(ty)
    }

    /// `unroll(N) { ... }`.
    fn unroll_stmt(&mut self) -> PResult<Stmt> {
        let kw = self.bump();
        let open = self.expect(
            Tok::LParen,
            "expected `(` after `unroll`",
            Some("write `unroll(5) { ... }`"),
        )?;
        let count = match self.peek().clone() {
            Tok::Int(n) => {
                self.bump();
                n
            }
            _ => {
                self.expect(
                    Tok::Int(0),
                    "expected an integer literal in `unroll(...)`",
                    Some("the count is a literal: `unroll(5) { ... }`"),
                )?;
                0
            }
        };
        self.expect_close(Tok::RParen, &open, "`unroll(`")?;
        if self.peek() != &Tok::LBrace {
            self.expect(
                Tok::LBrace,
                "expected `{` after `unroll(N)`",
                Some("write `unroll(5) { ... }`"),
            )?;
        }
        let body = self.block()?;
        Ok(Stmt {
            span: kw.span.to(body.span),
            kind: StmtKind::Unroll { count, body },
        })
    }

    /// `delete(@m[k])` (or `delete(@m, k)`).
    fn delete_stmt(&mut self) -> PResult<Stmt> {
        let kw = self.bump();
        let open = self.expect(
            Tok::LParen,
            "expected `(` after `delete`",
            Some("write `delete(@m[key])`"),
        )?;
        let e = self.nested_expr()?;
        let ExprKind::Map(mut m) = e.kind else {
            self.error(
                Diagnostic::new(e.span, "`delete` takes a map element")
                    .with_label("not a map")
                    .with_help("write `delete(@m[key])`"),
            );
            return Err(Reported);
        };
        if m.keys.is_empty() && self.eat(&Tok::Comma).is_some() {
            let key = self.nested_expr()?;
            m.span = m.span.to(key.span);
            m.keys.push(key);
        }
        self.expect_close(Tok::RParen, &open, "`delete(`")?;
        Ok(Stmt {
            span: kw.span.to(self.prev.span),
            kind: StmtKind::Delete(m),
        })
    }
}
