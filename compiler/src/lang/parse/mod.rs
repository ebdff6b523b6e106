//! The parser of the spec language: text → [`Spec`], or every syntax error
//! of the file as [`Diagnostic`]s.
//!
//! It is a hand-written recursive-descent parser (precedence climbing for
//! binary operators) over the tokens of [`super::lex`]. Written by hand
//! rather than generated, because that gives exact spans on every node,
//! messages that say what was expected in words ("expected `}` to close the
//! block opened at 3:10"), and recovery where a person would resume: after
//! an error it skips to the next `;` or `}` of the same block, or to the
//! next probe, and goes on, so one run reports all errors of a file.
//!
//! Robustness: no input makes it panic; nesting (expressions, blocks) is
//! limited to [`MAX_DEPTH`] levels, with an error beyond; every loop
//! consumes a token or stops, so it terminates; it gives up after
//! [`MAX_ERRORS`] errors.
//!
//! The parser is one `Parser` over the source, its methods split by what
//! they read: `probe` (the file, probes, attach points, predicates), `item`
//! (the other top-level items: config, macros, C definitions), `stmt`
//! (blocks and statements), `expr` (expressions). This module holds the
//! entry points and what the three share: the token plumbing, error
//! reporting and its limits, operator precedence.

mod expr;
mod item;
mod probe;
mod stmt;

#[cfg(test)]
mod expr_tests;
#[cfg(test)]
mod item_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod stmt_tests;
#[cfg(test)]
mod tests;

use std::collections::{HashSet, VecDeque};

use super::ast::{BinOp, Expr, Span, Spec};
use super::diag::{line_col, Diagnostic};
use super::lex::{Lexer, Tok, Token, UNTERMINATED_STRING};
use super::preprocess::map::SourceMap;
use super::preprocess::Preprocessed;

/// The deepest nesting of expressions and blocks accepted.
pub const MAX_DEPTH: usize = 256;

/// Parsing stops after this many errors.
pub const MAX_ERRORS: usize = 100;

/// Stack of the parser's thread. [`MAX_DEPTH`] levels of the deepest
/// recursion (nested parentheses) take about 2 MiB in unoptimised builds,
/// as much as a whole test thread has; this leaves a wide margin.
const PARSER_STACK: usize = 32 << 20;

/// Parses a whole `.bt` file.
pub fn parse(src: &str) -> Result<Spec, Vec<Diagnostic>> {
    on_big_stack(|| parse_here(Parser::new(src)))
}

/// Parses the preprocessed text of `original`. The tree's spans are in
/// `pre.text` (`pre.map` takes them to the original); the errors are
/// about the original already.
pub fn parse_preprocessed(pre: &Preprocessed, original: &str) -> Result<Spec, Vec<Diagnostic>> {
    parse_with_params(pre, original, Some(&[]))
}

/// [`parse_preprocessed`], the positional parameters `$1`... taking the
/// values of `params` where given (as bpftrace fixes them when it
/// compiles: a number is an integer, other text a string, a missing one
/// `0`, or `""` in `str()`; `$#` is their count); with `None`, they are
/// [`ExprKind::Param`](crate::lang::ast::ExprKind::Param) and
/// [`ParamStr`](crate::lang::ast::ExprKind::ParamStr), read at run time.
pub fn parse_with_params(
    pre: &Preprocessed,
    original: &str,
    params: Option<&[String]>,
) -> Result<Spec, Vec<Diagnostic>> {
    let spec = on_big_stack(|| {
        let mut p = Parser::new(&pre.text);
        p.origin = Some((original, &pre.map));
        p.params = params;
        parse_here(p)
    });
    spec.map_err(|d| pre.map.diagnostics(d))
}

fn parse_here(mut p: Parser) -> Result<Spec, Vec<Diagnostic>> {
    let spec = p.spec();
    let diags = p.finish();
    if diags.is_empty() {
        Ok(spec)
    } else {
        Err(diags)
    }
}

/// Parses one expression (the whole text), for tests and tools.
pub fn parse_expr(src: &str) -> Result<Expr, Vec<Diagnostic>> {
    on_big_stack(|| parse_expr_here(src))
}

/// Runs `f` on a thread with a [`PARSER_STACK`] stack, so that the depth
/// limit, not the caller's stack size, bounds the recursion; on the
/// current thread if no thread can be started.
fn on_big_stack<T: Send>(f: impl Fn() -> T + Sync) -> T {
    let spawned = std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("probecc-parse".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(s, &f)
            .ok()?;
        // A panic in the parser is a bug; pass it on unchanged.
        Some(
            handle
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        )
    });
    spawned.unwrap_or_else(f)
}

fn parse_expr_here(src: &str) -> Result<Expr, Vec<Diagnostic>> {
    let mut p = Parser::new(src);
    let e = p.expr();
    if e.is_ok() && p.peek() != &Tok::Eof {
        let t = p.peek_tok().clone();
        p.error(
            Diagnostic::new(
                t.span,
                format!(
                    "expected the end of the expression, found {}",
                    t.tok.describe()
                ),
            )
            .with_label("unexpected"),
        );
    }
    let diags = p.finish();
    match e {
        Ok(e) if diags.is_empty() => Ok(e),
        _ => Err(diags),
    }
}

static EOF_TOKEN: Token = Token {
    tok: Tok::Eof,
    span: Span { start: 0, end: 0 },
};

/// An error was reported; the caller recovers.
#[derive(Debug)]
struct Reported;

type PResult<T> = Result<T, Reported>;

struct Parser<'a> {
    src: &'a str,
    lex: Lexer<'a>,
    /// Lookahead, lexed on demand in ordinary mode.
    buf: VecDeque<Token>,
    /// The last consumed token.
    prev: Token,
    diags: Vec<Diagnostic>,
    depth: usize,
    /// Inside a predicate at paren depth 0, where `/` ends the predicate.
    no_div: bool,
    /// Where the current statement (or probe header) starts.
    stmt_start: usize,
    /// The text as written and the map to it, when `src` is preprocessed
    /// (for the `line:col` messages cite).
    origin: Option<(&'a str, &'a SourceMap)>,
    /// The values the positional parameters `$1`... and `$#` stand for;
    /// `None`: none given, they are read at run time.
    params: Option<&'a [String]>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Parser<'a> {
        Parser {
            src,
            lex: Lexer::new(src),
            buf: VecDeque::new(),
            prev: Token {
                tok: Tok::Eof,
                span: Span::default(),
            },
            diags: Vec::new(),
            depth: 0,
            no_div: false,
            stmt_start: 0,
            origin: None,
            params: Some(&[]),
        }
    }

    /// All diagnostics, lexical and syntactic, in source order, without
    /// duplicates (text re-read after a mode switch is lexed twice).
    fn finish(mut self) -> Vec<Diagnostic> {
        let stopped_at = self.gave_up().then(|| self.position());
        let mut all = self.lex.take_diags();
        all.append(&mut self.diags);
        all.sort_by_key(|d| d.span.start);
        let mut seen = HashSet::new();
        all.retain(|d| seen.insert((d.span, d.message.clone())));
        if let Some(at) = stopped_at {
            all.truncate(MAX_ERRORS);
            all.push(
                Diagnostic::new(
                    Span::new(at, at),
                    format!("too many errors ({MAX_ERRORS}); stopping here"),
                )
                .with_label("parsing stopped"),
            );
        }
        all
    }

    // ---- token plumbing ------------------------------------------------

    fn peek_nth(&mut self, n: usize) -> &Token {
        while self.buf.len() <= n {
            let t = self.lex.next_token();
            self.buf.push_back(t);
        }
        self.buf.get(n).unwrap_or(&EOF_TOKEN)
    }

    fn peek_tok(&mut self) -> &Token {
        self.peek_nth(0)
    }

    fn peek(&mut self) -> &Tok {
        &self.peek_nth(0).tok
    }

    fn peek_span(&mut self) -> Span {
        self.peek_nth(0).span
    }

    fn bump(&mut self) -> Token {
        self.peek_nth(0);
        let t = self.buf.pop_front().unwrap_or(Token {
            tok: Tok::Eof,
            span: Span::new(self.src.len(), self.src.len()),
        });
        self.prev = t.clone();
        t
    }

    /// Consumes the next token if it is `tok` (a token without data).
    fn eat(&mut self, tok: &Tok) -> Option<Token> {
        (self.peek() == tok).then(|| self.bump())
    }

    fn at_word(&mut self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w == word)
    }

    /// Drops the lookahead and moves the lexer back to where it started, so
    /// that the text is read again (in attach-point mode).
    fn rewind(&mut self) {
        if let Some(t) = self.buf.front() {
            self.lex.set_pos(t.span.start);
        }
        self.buf.clear();
    }

    /// Byte offset of the next unconsumed token.
    fn position(&self) -> usize {
        self.buf.front().map_or(self.lex.pos(), |t| t.span.start)
    }

    fn error(&mut self, d: Diagnostic) {
        // An unterminated string swallows the rest of its line, `)` and `}`
        // included: what the parser then finds missing in that statement
        // is a consequence, not another error.
        let cascade = self.lex.diags().iter().any(|l| {
            l.message == UNTERMINATED_STRING
                && l.span.start >= self.stmt_start
                && l.span.start <= d.span.start
        });
        if !cascade && !self.gave_up() {
            self.diags.push(d);
        }
    }

    /// Whether there are so many errors that parsing stops.
    fn gave_up(&self) -> bool {
        self.diags.len() + self.lex.diags().len() >= MAX_ERRORS
    }

    /// `line:col` of a span, for messages.
    fn lc(&self, span: Span) -> String {
        let (l, c) = match self.origin {
            Some((original, map)) => line_col(original, map.span(span).start),
            None => line_col(self.src, span.start),
        };
        format!("{l}:{c}")
    }

    /// Enters one nesting level (an expression, a unary operand, a block).
    fn enter(&mut self, span: Span) -> PResult<()> {
        if self.depth >= MAX_DEPTH {
            self.error(
                Diagnostic::new(
                    span,
                    format!("nesting too deep: more than {MAX_DEPTH} nested expressions or blocks"),
                )
                .with_label("too deeply nested")
                .with_help("split the expression with `$variables`"),
            );
            return Err(Reported);
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Expects the closing `close` of `open`, described as `what` ("the
    /// block", "the arguments of `printf`").
    fn expect_close(&mut self, close: Tok, open: &Token, what: &str) -> PResult<Token> {
        if let Some(t) = self.eat(&close) {
            return Ok(t);
        }
        let found = self.peek_tok().clone();
        let mut d = Diagnostic::new(
            found.span,
            format!(
                "expected {} to close {what} opened at {}",
                close.describe(),
                self.lc(open.span)
            ),
        )
        .with_label(format!("found {}", found.tok.describe()));
        if found.tok == Tok::Assign && close == Tok::RParen {
            d = d.with_help("use `==` to compare");
        } else if close != Tok::RBrace
            && starts_expr(&found.tok)
            && what.starts_with("the arguments")
        {
            d = d.with_help("separate arguments with `,`");
        } else if close != Tok::RBrace && starts_expr(&found.tok) && what.starts_with("the keys") {
            d = d.with_help("separate keys with `,`");
        }
        self.error(d);
        Err(Reported)
    }

    /// Expects `tok`, reporting `message` (with the found token as label and
    /// `help`) otherwise.
    fn expect(&mut self, tok: Tok, message: &str, help: Option<&str>) -> PResult<Token> {
        if let Some(t) = self.eat(&tok) {
            return Ok(t);
        }
        let found = self.peek_tok().clone();
        let mut d = Diagnostic::new(found.span, message)
            .with_label(format!("found {}", found.tok.describe()));
        if let Some(h) = help {
            d = d.with_help(h);
        }
        self.error(d);
        Err(Reported)
    }
}

/// C precedence of the binary operators (higher binds tighter).
pub fn precedence(op: BinOp) -> u8 {
    match op {
        BinOp::Or => 1,
        BinOp::And => 2,
        BinOp::BitOr => 3,
        BinOp::BitXor => 4,
        BinOp::BitAnd => 5,
        BinOp::Eq | BinOp::Ne => 6,
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 7,
        BinOp::Shl | BinOp::Shr => 8,
        BinOp::Add | BinOp::Sub => 9,
        BinOp::Mul | BinOp::Div | BinOp::Mod => 10,
    }
}

/// Whether `tok` can start an expression (or a statement: a missing `;`
/// before `if` is still a missing `;`; `else` starts neither).
fn starts_expr(tok: &Tok) -> bool {
    if matches!(tok, Tok::Ident(w) if w == "else") {
        return false;
    }
    matches!(
        tok,
        Tok::Ident(_)
            | Tok::Var(_)
            | Tok::Param(_)
            | Tok::Map(_)
            | Tok::Int(_)
            | Tok::Str(_)
            | Tok::LParen
            | Tok::Minus
            | Tok::Bang
            | Tok::Tilde
            | Tok::Star
    )
}
