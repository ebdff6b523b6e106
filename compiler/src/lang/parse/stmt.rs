//! Parsing blocks and statements: assignments, `++`/`--`, `if`/`else`,
//! `unroll`, `delete`, and the recovery that resumes at the next `;` or `}`
//! of the block after an error.

use super::{starts_expr, PResult, Parser, Reported};
use crate::lang::ast::{AssignOp, Block, Expr, ExprKind, LValue, Span, Stmt, StmtKind};
use crate::lang::diag::Diagnostic;
use crate::lang::lex::{Tok, Token};

impl Parser<'_> {
    /// `{ stmts }`; the next token is the `{`.
    pub(super) fn block(&mut self) -> PResult<Block> {
        let open = self.bump();
        self.enter(open.span)?;
        let b = self.block_body(&open);
        self.leave();
        Ok(b)
    }

    fn block_body(&mut self, open: &Token) -> Block {
        let mut stmts = Vec::new();
        loop {
            if self.gave_up() {
                return Block {
                    stmts,
                    span: open.span.to(self.prev.span),
                };
            }
            match self.peek() {
                Tok::RBrace => {
                    let close = self.bump();
                    return Block {
                        stmts,
                        span: open.span.to(close.span),
                    };
                }
                Tok::Semi => {
                    self.bump();
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
                    return Block {
                        stmts,
                        span: open.span.to(self.prev.span),
                    };
                }
                _ => {}
            }
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
                return Block {
                    stmts,
                    span: open.span.to(self.prev.span),
                };
            }
            let before = self.position();
            self.stmt_start = before;
            match self.stmt() {
                Ok((s, needs_semi)) => {
                    stmts.push(s);
                    if needs_semi {
                        self.stmt_end();
                    }
                }
                Err(Reported) => self.sync(),
            }
            if self.position() == before && !matches!(self.peek(), Tok::RBrace | Tok::Eof) {
                self.bump();
            }
        }
    }

    /// After a simple statement: `;`, or the `}` of the block.
    fn stmt_end(&mut self) {
        if self.eat(&Tok::Semi).is_some()
            || matches!(self.peek(), Tok::RBrace | Tok::Eof)
            || self.at_probe_start()
        {
            return;
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
        if self.at_word("if") {
            return Ok((self.if_stmt()?, false));
        }
        if self.at_word("unroll") {
            return Ok((self.unroll_stmt()?, false));
        }
        if self.at_word("delete") {
            return Ok((self.delete_stmt()?, true));
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
            let open = self.expect(
                Tok::LParen,
                "expected `(` after `if`",
                Some("the condition goes in parentheses: `if (x > 1) { ... }`"),
            )?;
            let cond = self.nested_expr()?;
            self.expect_close(Tok::RParen, &open, "the condition of `if`")?;
            if self.peek() != &Tok::LBrace {
                self.expect(
                    Tok::LBrace,
                    "expected `{` after the condition of `if`",
                    Some("the body of `if` is a block, even for one statement: `if (x) { ... }`"),
                )?;
            }
            let then = self.block()?;
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
