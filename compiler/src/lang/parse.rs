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

use std::collections::{HashSet, VecDeque};

use super::ast::*;
use super::diag::{line_col, suggest, Diagnostic};
use super::lex::{parse_int, Lexer, Piece, Tok, Token, UNTERMINATED_STRING};

/// The deepest nesting of expressions and blocks accepted.
pub const MAX_DEPTH: usize = 256;

/// Parsing stops after this many errors.
pub const MAX_ERRORS: usize = 100;

/// The probe types, as written, with their aliases.
const PROBE_TYPES: &[(&str, ProbeKind)] = &[
    ("kprobe", ProbeKind::Kprobe),
    ("k", ProbeKind::Kprobe),
    ("kretprobe", ProbeKind::Kretprobe),
    ("kr", ProbeKind::Kretprobe),
    ("ksyscall", ProbeKind::Ksyscall),
    ("kretsyscall", ProbeKind::Kretsyscall),
    ("BEGIN", ProbeKind::Begin),
    ("END", ProbeKind::End),
];

const SUPPORTED_TYPES: &str = "kprobe (k), kretprobe (kr), ksyscall, kretsyscall, BEGIN, END";

/// Probe types of bpftrace that probecc does not support: a statement
/// starting with `uprobe:` is taken for the start of a probe.
const OTHER_TYPES: &[&str] = &[
    "uprobe",
    "uretprobe",
    "u",
    "ur",
    "tracepoint",
    "t",
    "rawtracepoint",
    "rt",
    "kfunc",
    "kretfunc",
    "fentry",
    "fexit",
    "f",
    "fr",
    "usdt",
    "U",
    "profile",
    "p",
    "interval",
    "i",
    "software",
    "s",
    "hardware",
    "h",
    "watchpoint",
    "w",
    "asyncwatchpoint",
    "iter",
    "it",
    "self",
];

/// Builtin names, for "did you mean" help.
const BUILTINS: &[&str] = &[
    "pid", "tid", "uid", "gid", "comm", "nsecs", "cpu", "rand", "func", "probe", "retval",
    "kstack", "curtask", "arg0", "arg1", "arg2", "arg3", "arg4", "arg5",
];

/// bpftrace builtins probecc does not support, for a precise message.
const UNSUPPORTED_BUILTINS: &[&str] = &[
    "ustack", "elapsed", "cgroup", "username", "args", "ctx", "jiffies", "numaid", "cpid", "sarg0",
    "sarg1", "sarg2", "sarg3", "sarg4", "sarg5",
];

/// Stack of the parser's thread. [`MAX_DEPTH`] levels of the deepest
/// recursion (nested parentheses) take about 2 MiB in unoptimised builds,
/// as much as a whole test thread has; this leaves a wide margin.
const PARSER_STACK: usize = 32 << 20;

/// Parses a whole `.bt` file.
pub fn parse(src: &str) -> Result<Spec, Vec<Diagnostic>> {
    on_big_stack(|| {
        let mut p = Parser::new(src);
        let spec = p.spec();
        let diags = p.finish();
        if diags.is_empty() {
            Ok(spec)
        } else {
            Err(diags)
        }
    })
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
        let (l, c) = line_col(self.src, span.start);
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
        if found.tok == Tok::Assign && what.starts_with("the condition") {
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

    // ---- probes --------------------------------------------------------

    fn spec(&mut self) -> Spec {
        let mut probes = Vec::new();
        while !self.gave_up() {
            self.rewind();
            self.lex.skip_trivia();
            if self.lex.at_end() {
                break;
            }
            let before = self.position();
            if let Some(p) = self.probe() {
                probes.push(p);
            }
            if self.position() <= before {
                // Never stall: drop one token.
                self.rewind();
                self.lex.next_token();
            }
        }
        Spec { probes }
    }

    /// One probe; `None` after an error that made it unusable (reported).
    fn probe(&mut self) -> Option<Probe> {
        let start = self.position();
        self.stmt_start = start;
        let mut attach = Vec::new();
        let mut ok = true;
        loop {
            self.rewind();
            match self.attach_point(attach.is_empty() && ok) {
                Ok(Some(a)) => attach.push(a),
                Ok(None) => ok = false,
                Err(Reported) => {
                    self.recover_top();
                    return None;
                }
            }
            if self.eat(&Tok::Comma).is_none() {
                break;
            }
        }
        let pred = if self.peek() == &Tok::Slash {
            self.predicate()
        } else {
            None
        };
        if self.peek() != &Tok::LBrace {
            let found = self.peek_tok().clone();
            let mut d = Diagnostic::new(found.span, "expected `{` to open the probe body")
                .with_label(format!("found {}", found.tok.describe()));
            if matches!(found.tok, Tok::Ident(_)) {
                d = d.with_help("separate attach points with `,`; a predicate goes between slashes: `/pid == 123/`");
            }
            self.error(d);
            self.recover_top();
            return None;
        }
        let body = self.block().ok()?;
        let span = Span::new(start, body.span.end);
        ok.then_some(Probe {
            attach,
            pred,
            body,
            span,
        })
    }

    /// Skips to something that looks like the start of a probe, passing
    /// over whole `{ ... }` blocks.
    fn recover_top(&mut self) {
        while !self.gave_up() {
            self.rewind();
            self.lex.skip_trivia();
            if self.lex.at_end() || self.lex.looks_like_attach() {
                return;
            }
            if self.lex.next_token().tok == Tok::LBrace {
                let mut depth = 1usize;
                while depth > 0 {
                    match self.lex.next_token().tok {
                        Tok::LBrace => depth += 1,
                        Tok::RBrace => depth -= 1,
                        Tok::Eof => return,
                        _ => {}
                    }
                }
            }
        }
    }

    /// One attach point, read raw. `Ok(None)`: an invalid attach point,
    /// reported and skipped; `Err`: no attach point here at all.
    fn attach_point(&mut self, first: bool) -> PResult<Option<AttachSpec>> {
        let after_comma = !first;
        let Some(word) = self.lex.attach_word() else {
            let found = self.peek_tok().clone();
            let message = if after_comma {
                "expected an attach point after `,`".to_string()
            } else {
                "expected an attach point such as `kprobe:FUNC` or `BEGIN`".to_string()
            };
            self.error(
                Diagnostic::new(found.span, message)
                    .with_label(format!("found {}", found.tok.describe()))
                    .with_help(format!(
                        "a probe is `TYPE:FUNC [/predicate/] {{ ... }}`; types: {SUPPORTED_TYPES}"
                    )),
            );
            return Err(Reported);
        };
        let Some(kind) = PROBE_TYPES
            .iter()
            .find(|(w, _)| *w == word.text)
            .map(|(_, k)| *k)
        else {
            self.unknown_probe_type(&word);
            self.lex.attach_rest(true);
            return Ok(None);
        };
        let mut end = word.span.end;
        let name = &word.text;
        if matches!(kind, ProbeKind::Begin | ProbeKind::End) {
            if let Some(t) = self.lex.attach_target() {
                self.error(
                    Diagnostic::new(t.span, format!("`{name}` takes no target"))
                        .with_label("unexpected target")
                        .with_help(format!("write just `{name}`")),
                );
                self.lex.attach_rest(false);
                return Ok(None);
            }
            return Ok(self.attach_end(word.span).then(|| AttachSpec {
                kind,
                target: String::new(),
                offset: None,
                span: word.span,
            }));
        }
        let what = if matches!(kind, ProbeKind::Ksyscall | ProbeKind::Kretsyscall) {
            "a system call name"
        } else {
            "a function name"
        };
        let target = match self.lex.attach_target() {
            None => {
                self.error(
                    Diagnostic::new(word.span, format!("expected `:` and {what} after `{name}`"))
                        .with_label("missing target")
                        .with_help(format!("for example `{name}:{}`", example_target(kind))),
                );
                self.lex.attach_rest(false);
                return Ok(None);
            }
            Some(t) if t.text.is_empty() => {
                self.error(
                    Diagnostic::new(t.span, format!("expected {what} after `{name}:`"))
                        .with_label("missing target")
                        .with_help(format!("for example `{name}:{}`", example_target(kind))),
                );
                self.lex.attach_rest(false);
                return Ok(None);
            }
            Some(t) => t,
        };
        end = end.max(target.span.end);
        let mut offset = None;
        if let Some(off) = self.lex.attach_offset() {
            end = off.span.end;
            match self.attach_offset(kind, name, &target, &off) {
                Some(v) => offset = Some(v),
                None => {
                    self.lex.attach_rest(false);
                    return Ok(None);
                }
            }
        }
        let span = Span::new(word.span.start, end);
        let spec = AttachSpec {
            kind,
            target: target.text,
            offset,
            span,
        };
        Ok(self.attach_end(span).then_some(spec))
    }

    /// The value of `+OFFSET`, or `None` (reported).
    fn attach_offset(
        &mut self,
        kind: ProbeKind,
        name: &str,
        target: &Piece,
        off: &Piece,
    ) -> Option<u64> {
        if kind != ProbeKind::Kprobe {
            self.error(
                Diagnostic::new(off.span, format!("`{name}` attach points take no offset"))
                    .with_label("offset not allowed here")
                    .with_help("only `kprobe:FUNC+OFFSET` takes an offset"),
            );
            return None;
        }
        if off.text.is_empty() {
            self.error(
                Diagnostic::new(off.span, "expected an offset after `+`")
                    .with_label("missing offset")
                    .with_help("for example `kprobe:do_sys_open+4` or `kprobe:do_sys_open+0x10`"),
            );
            return None;
        }
        if target.text.contains('*') {
            self.error(
                Diagnostic::new(off.span, "an offset cannot be combined with a wildcard")
                    .with_label("offset on a wildcard attach point")
                    .with_help("name one function to probe at an offset"),
            );
            return None;
        }
        let text_span = Span::new(off.span.start + 1, off.span.end);
        match parse_int(&off.text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(e.diagnostic(&off.text, text_span));
                None
            }
        }
    }

    /// Checks that nothing is glued to a valid attach point; `false` if
    /// something is (reported).
    fn attach_end(&mut self, attach: Span) -> bool {
        let Some(rest) = self.lex.attach_rest(false) else {
            return true;
        };
        let shown = self
            .src
            .get(attach.start..attach.end)
            .unwrap_or("")
            .to_string();
        let mut d = Diagnostic::new(
            rest.span,
            format!("unexpected `{}` after attach point `{shown}`", rest.text),
        )
        .with_label("not part of the attach point");
        if rest.text.starts_with(':') {
            d = d.with_help(
                "module-qualified attach points (`kprobe:MODULE:FUNC`) are not supported",
            );
        } else {
            d = d.with_help(
                "function names may contain letters, digits, `_`, `.` and `*` wildcards",
            );
        }
        self.error(d);
        false
    }

    fn unknown_probe_type(&mut self, word: &Piece) {
        let names: Vec<&str> = PROBE_TYPES.iter().map(|(w, _)| *w).collect();
        let close = suggest(&word.text, names.iter().copied()).or_else(|| {
            names
                .iter()
                .copied()
                .find(|n| n.eq_ignore_ascii_case(&word.text))
        });
        let help = match close {
            _ if OTHER_TYPES.contains(&word.text.as_str()) => {
                format!("probecc does not support `{}` probes; supported probe types: {SUPPORTED_TYPES}", word.text)
            }
            Some(c) => format!("did you mean `{c}`? supported probe types: {SUPPORTED_TYPES}"),
            None => format!("supported probe types: {SUPPORTED_TYPES}"),
        };
        self.error(
            Diagnostic::new(word.span, format!("unknown probe type `{}`", word.text))
                .with_label("not a supported probe type")
                .with_help(help),
        );
    }

    /// `/expr/`; the next token is the opening `/`. `None` if empty or
    /// invalid (reported; the parser is then at the `{`).
    fn predicate(&mut self) -> Option<Expr> {
        let open = self.bump();
        if let Some(close) = self.eat(&Tok::Slash) {
            self.error(
                Diagnostic::new(open.span.to(close.span), "empty predicate")
                    .with_label("expected a condition between the slashes")
                    .with_help("write a condition such as `/pid == 1234/`, or remove the slashes"),
            );
            return None;
        }
        let saved = self.no_div;
        self.no_div = true;
        let e = self.expr();
        self.no_div = saved;
        let e = match e {
            Ok(e) => e,
            Err(Reported) => {
                self.skip_predicate();
                return None;
            }
        };
        if self.eat(&Tok::Slash).is_some() {
            return Some(e);
        }
        let found = self.peek_tok().clone();
        let mut d = Diagnostic::new(
            found.span,
            format!(
                "expected `/` to close the predicate opened at {}",
                self.lc(open.span)
            ),
        )
        .with_label(format!("found {}", found.tok.describe()));
        if found.tok == Tok::Assign {
            d = d.with_help("use `==` to compare");
        } else if found.tok == Tok::LBrace {
            d = d.with_help("a predicate is written between slashes: `/pid == 1234/`");
        }
        self.error(d);
        self.skip_predicate();
        None
    }

    /// Skips past the closing `/` of a predicate, or to the body's `{`.
    fn skip_predicate(&mut self) {
        loop {
            match self.peek() {
                Tok::Slash => {
                    self.bump();
                    return;
                }
                Tok::LBrace | Tok::Eof => return,
                _ => {
                    self.bump();
                }
            }
        }
    }

    /// Whether the next tokens start a probe (`kprobe:`, `uprobe:`, `BEGIN`,
    /// `END`): inside a block, that means its `}` is missing.
    fn at_probe_start(&mut self) -> bool {
        let Tok::Ident(w) = self.peek().clone() else {
            return false;
        };
        if w == "BEGIN" || w == "END" {
            return true;
        }
        let is_type = PROBE_TYPES.iter().any(|(t, _)| *t == w) || OTHER_TYPES.contains(&w.as_str());
        // `kprobe:f` is written without spaces, unlike `c ? t : u`.
        let end = self.peek_span().end;
        let next = self.peek_nth(1);
        is_type && next.tok == Tok::Colon && next.span.start == end
    }

    // ---- statements ----------------------------------------------------

    /// `{ stmts }`; the next token is the `{`.
    fn block(&mut self) -> PResult<Block> {
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

    // ---- expressions ---------------------------------------------------
    //
    // The functions on the recursion path (expr, ternary, binary, unary,
    // cast, primary) keep their frames small: errors are reported by cold
    // helpers, so that MAX_DEPTH levels fit in a small thread stack even in
    // debug builds.

    /// A full expression (ternary and below).
    fn expr(&mut self) -> PResult<Expr> {
        let at = self.peek_span();
        self.enter(at)?;
        let e = self.ternary();
        self.leave();
        e
    }

    /// An expression inside `()`, `[]` or call arguments, where `/` divides
    /// even inside a predicate.
    fn nested_expr(&mut self) -> PResult<Expr> {
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
    fn primary(&mut self) -> PResult<Expr> {
        let span = self.peek_span();
        let kind = match self.peek() {
            Tok::Int(v) => ExprKind::Int(*v),
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
            Tok::Ident(w) => match Builtin::from_word(w) {
                _ if self.peek_nth(1).tok == Tok::LParen => return self.call(),
                Some(b) => ExprKind::Builtin(b),
                None => return Err(self.err_unknown_identifier()),
            },
            Tok::LParen => return self.parenthesised(),
            _ => return Err(self.err_expected_expr()),
        };
        self.bump();
        Ok(Expr { kind, span })
    }

    /// `( expr )`; the span covers the parentheses.
    fn parenthesised(&mut self) -> PResult<Expr> {
        let open = self.bump();
        let e = self.nested_expr()?;
        let close = self.expect_close(Tok::RParen, &open, "the parenthesis")?;
        Ok(Expr {
            kind: e.kind,
            span: open.span.to(close.span),
        })
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

    #[cold]
    #[inline(never)]
    fn err_unknown_identifier(&mut self) -> Reported {
        let t = self.peek_tok().clone();
        let Tok::Ident(w) = &t.tok else {
            return Reported;
        };
        let help = if let Some(s) = suggest(w, BUILTINS.iter().copied()) {
            format!("did you mean `{s}`?")
        } else if UNSUPPORTED_BUILTINS.contains(&w.as_str()) {
            format!("`{w}` is a bpftrace builtin that probecc does not support")
        } else if IntType::from_word(w).is_some() {
            format!("a cast is written `({w})expr`")
        } else {
            format!("variables are written `${w}`, maps `@{w}`, and calls `{w}(...)`")
        };
        self.error(
            Diagnostic::new(t.span, format!("unknown identifier `{w}`"))
                .with_label("not a builtin, variable or map")
                .with_help(help),
        );
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

    /// `name(args)`; the cursor is on `name`.
    fn call(&mut self) -> PResult<Expr> {
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

/// Whether `tok` can start an expression.
fn starts_expr(tok: &Tok) -> bool {
    matches!(
        tok,
        Tok::Ident(_)
            | Tok::Var(_)
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

fn example_target(kind: ProbeKind) -> &'static str {
    match kind {
        ProbeKind::Ksyscall | ProbeKind::Kretsyscall => "openat",
        _ => "vfs_read",
    }
}

#[cfg(test)]
mod tests {
    use super::super::diag::render;
    use super::super::pretty;
    use super::*;

    pub(super) const EXAMPLE: &str = r#"
kprobe:vfs_read, kprobe:vfs_write /comm == "dd" && arg2 > 0/
{
  @bytes[comm, pid] = sum(arg2);
  @lat = hist(arg2);
  @l = lhist(arg2, 0, 1000, 100);
  $x = (uint32)arg1 + 1;
  if ($x > 10) { @big++; } else { @small += 1; }
  printf("%s read %d bytes\n", comm, arg2);
  @p[str(arg1, 16)] = count();
  @v = *(uint64 *)(arg0 + 8);
  @t = arg0 > 5 ? 1 : 0;
  unroll(3) { @u = count(); }
}
kretprobe:vfs_read /retval < 0/ { @errs[-retval] = count(); delete(@bytes[comm, pid]); }
BEGIN { printf("start\n"); }
END { print(@bytes); clear(@lat); zero(@l); }
"#;

    fn ok(src: &str) -> Spec {
        parse(src).unwrap_or_else(|d| panic!("{}", render("t.bt", src, &d)))
    }

    fn errs(src: &str) -> Vec<Diagnostic> {
        match parse(src) {
            Ok(s) => panic!("parsed: {s:#?}"),
            Err(d) => d,
        }
    }

    fn msgs(src: &str) -> Vec<String> {
        errs(src).into_iter().map(|d| d.message).collect()
    }

    /// The body of a single-probe spec.
    fn body(src: &str) -> Vec<StmtKind> {
        let s = ok(src);
        assert_eq!(s.probes.len(), 1);
        s.probes
            .into_iter()
            .flat_map(|p| p.body.stmts)
            .map(|s| s.kind)
            .collect()
    }

    /// An expression as an S-expression, to see its structure.
    fn sx(e: &Expr) -> String {
        let list = |es: &[Expr]| es.iter().map(sx).collect::<Vec<_>>().join(" ");
        match &e.kind {
            ExprKind::Int(v) => v.to_string(),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Builtin(b) => b.name(),
            ExprKind::Var(n) => format!("${n}"),
            ExprKind::Map(m) if m.keys.is_empty() => format!("@{}", m.name),
            ExprKind::Map(m) => format!("@{}[{}]", m.name, list(&m.keys)),
            ExprKind::Unary { op, expr } => format!("({op:?} {})", sx(expr)),
            ExprKind::Binary { op, lhs, rhs } => {
                format!("({} {} {})", op.symbol(), sx(lhs), sx(rhs))
            }
            ExprKind::Ternary { cond, then, els } => {
                format!("(? {} {} {})", sx(cond), sx(then), sx(els))
            }
            ExprKind::Call { name, args, .. } => format!("({name} {})", list(args)),
            ExprKind::Cast {
                ty: CastType::Int(t),
                expr,
            } => format!("(cast {} {})", t.name(), sx(expr)),
            ExprKind::Cast {
                ty: CastType::Ptr(t),
                expr,
            } => format!("(cast {}* {})", t.name(), sx(expr)),
            ExprKind::Cast {
                ty: CastType::Record(r),
                expr,
            } => format!("(cast {} {})", r.c_name().replace(' ', ""), sx(expr)),
            ExprKind::Member {
                expr,
                member,
                arrow,
                ..
            } => format!(
                "({} {} {member})",
                if *arrow { "->" } else { "." },
                sx(expr)
            ),
            ExprKind::Index { expr, index } => format!("([] {} {})", sx(expr), sx(index)),
        }
    }

    fn ex(src: &str) -> String {
        sx(&parse_expr(src).unwrap_or_else(|d| panic!("{}", render("e", src, &d))))
    }

    fn expr_errs(src: &str) -> Vec<String> {
        parse_expr(src)
            .expect_err(src)
            .into_iter()
            .map(|d| d.message)
            .collect()
    }

    // ---- span erasure, for comparing trees ----

    fn strip_expr(e: &mut Expr) {
        e.span = Span::default();
        match &mut e.kind {
            ExprKind::Map(m) => strip_map(m),
            ExprKind::Unary { expr, .. } => strip_expr(expr),
            ExprKind::Cast { expr, ty } => {
                if let CastType::Record(r) = ty {
                    r.span = Span::default();
                }
                strip_expr(expr);
            }
            ExprKind::Member {
                expr, member_span, ..
            } => {
                *member_span = Span::default();
                strip_expr(expr);
            }
            ExprKind::Binary { lhs, rhs, .. }
            | ExprKind::Index {
                expr: lhs,
                index: rhs,
            } => {
                strip_expr(lhs);
                strip_expr(rhs);
            }
            ExprKind::Ternary { cond, then, els } => {
                strip_expr(cond);
                strip_expr(then);
                strip_expr(els);
            }
            ExprKind::Call {
                args, name_span, ..
            } => {
                *name_span = Span::default();
                args.iter_mut().for_each(strip_expr);
            }
            ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Builtin(_) | ExprKind::Var(_) => {}
        }
    }

    fn strip_map(m: &mut MapRef) {
        m.span = Span::default();
        m.keys.iter_mut().for_each(strip_expr);
    }

    fn strip_lvalue(l: &mut LValue) {
        match l {
            LValue::Var { span, .. } => *span = Span::default(),
            LValue::Map(m) => strip_map(m),
        }
    }

    fn strip_block(b: &mut Block) {
        b.span = Span::default();
        for s in &mut b.stmts {
            s.span = Span::default();
            match &mut s.kind {
                StmtKind::Expr(e) => strip_expr(e),
                StmtKind::Assign { target, value, .. } => {
                    strip_lvalue(target);
                    strip_expr(value);
                }
                StmtKind::Incr { target, .. } => strip_lvalue(target),
                StmtKind::Delete(m) => strip_map(m),
                StmtKind::If { cond, then, els } => {
                    strip_expr(cond);
                    strip_block(then);
                    if let Some(b) = els {
                        strip_block(b);
                    }
                }
                StmtKind::Unroll { body, .. } => strip_block(body),
            }
        }
    }

    pub(super) fn strip(mut s: Spec) -> Spec {
        for p in &mut s.probes {
            p.span = Span::default();
            for a in &mut p.attach {
                a.span = Span::default();
            }
            if let Some(e) = &mut p.pred {
                strip_expr(e);
            }
            strip_block(&mut p.body);
        }
        s
    }

    /// parse(pretty(spec)) == spec, modulo spans.
    pub(super) fn assert_round_trip(spec: &Spec) {
        let text = pretty::spec(spec);
        let again =
            parse(&text).unwrap_or_else(|d| panic!("{}\n{}", text, render("pretty.bt", &text, &d)));
        assert_eq!(strip(again), strip(spec.clone()), "{text}");
    }

    // ---- the example ----

    #[test]
    fn the_example_parses() {
        let s = ok(EXAMPLE);
        assert_eq!(s.probes.len(), 4);
        let p = &s.probes[0];
        let targets: Vec<_> = p
            .attach
            .iter()
            .map(|a| (a.kind, a.target.as_str()))
            .collect();
        assert_eq!(
            targets,
            vec![
                (ProbeKind::Kprobe, "vfs_read"),
                (ProbeKind::Kprobe, "vfs_write")
            ]
        );
        assert_eq!(
            sx(p.pred.as_ref().unwrap()),
            r#"(&& (== comm "dd") (> arg2 0))"#
        );
        assert_eq!(p.body.stmts.len(), 10);
        let StmtKind::Assign {
            target: LValue::Map(m),
            op: AssignOp::Set,
            value,
        } = &p.body.stmts[0].kind
        else {
            panic!("{:?}", p.body.stmts[0])
        };
        assert_eq!((m.name.as_str(), m.keys.len()), ("bytes", 2));
        assert_eq!(sx(value), "(sum arg2)");
        let StmtKind::Assign { value, .. } = &p.body.stmts[3].kind else {
            panic!()
        };
        assert_eq!(sx(value), "(+ (cast uint32 arg1) 1)");
        let StmtKind::Assign { value, .. } = &p.body.stmts[7].kind else {
            panic!()
        };
        assert_eq!(sx(value), "(Deref (cast uint64* (+ arg0 8)))");
        assert!(matches!(
            p.body.stmts[9].kind,
            StmtKind::Unroll { count: 3, .. }
        ));
        assert_eq!(s.probes[1].attach[0].kind, ProbeKind::Kretprobe);
        assert!(
            matches!(&s.probes[1].body.stmts[1].kind, StmtKind::Delete(m) if m.keys.len() == 2)
        );
        assert_eq!(s.probes[2].attach[0].kind, ProbeKind::Begin);
        assert_eq!(s.probes[3].body.stmts.len(), 3);
        assert_round_trip(&s);
    }

    #[test]
    fn spans_point_at_the_text() {
        let src = "BEGIN { @x = pid + 1; }";
        let s = ok(src);
        let p = &s.probes[0];
        assert_eq!(p.span, Span::new(0, src.len()));
        assert_eq!(p.attach[0].span, Span::new(0, 5));
        let st = &p.body.stmts[0];
        assert_eq!(&src[st.span.start..st.span.end], "@x = pid + 1");
        let StmtKind::Assign {
            value,
            target: LValue::Map(m),
            ..
        } = &st.kind
        else {
            panic!()
        };
        assert_eq!(&src[value.span.start..value.span.end], "pid + 1");
        assert_eq!(&src[m.span.start..m.span.end], "@x");
        let src = "kprobe:f { printf(\"%d\", (pid)); }";
        let StmtKind::Expr(e) = &ok(src).probes[0].body.stmts[0].kind else {
            panic!()
        };
        let ExprKind::Call {
            args, name_span, ..
        } = &e.kind
        else {
            panic!()
        };
        assert_eq!(&src[name_span.start..name_span.end], "printf");
        assert_eq!(&src[args[1].span.start..args[1].span.end], "(pid)");
    }

    // ---- attach points ----

    #[test]
    fn attach_points() {
        let s = ok(
            "kprobe:vfs_*, k:foo.isra.0, kretprobe:do_sys_open, kr:bar, ksyscall:openat, \
                    kretsyscall:read, kprobe:do_sys_open+4, k:f+0x10, BEGIN, END { }",
        );
        let got: Vec<_> = s.probes[0]
            .attach
            .iter()
            .map(|a| (a.kind, a.target.as_str(), a.offset))
            .collect();
        assert_eq!(
            got,
            vec![
                (ProbeKind::Kprobe, "vfs_*", None),
                (ProbeKind::Kprobe, "foo.isra.0", None),
                (ProbeKind::Kretprobe, "do_sys_open", None),
                (ProbeKind::Kretprobe, "bar", None),
                (ProbeKind::Ksyscall, "openat", None),
                (ProbeKind::Kretsyscall, "read", None),
                (ProbeKind::Kprobe, "do_sys_open", Some(4)),
                (ProbeKind::Kprobe, "f", Some(16)),
                (ProbeKind::Begin, "", None),
                (ProbeKind::End, "", None),
            ]
        );
        // Across lines, with comments, predicate glued to the target.
        let s = ok("// probes\nkprobe:a,\n  /* second */ kprobe:b/pid == 1/{}");
        assert_eq!(s.probes[0].attach.len(), 2);
        assert!(s.probes[0].pred.is_some());
        assert_eq!(ok("").probes.len(), 0);
        assert_eq!(ok("  // nothing\n").probes.len(), 0);
    }

    #[test]
    fn attach_point_errors() {
        let d = errs("uprobe:/bin/bash:readline { @x = 1; }");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "unknown probe type `uprobe`");
        assert_eq!(d[0].span, Span::new(0, 6));
        assert_eq!(d[0].label, "not a supported probe type");
        assert_eq!(
            d[0].help.as_deref(),
            Some(
                "probecc does not support `uprobe` probes; supported probe types: kprobe (k), kretprobe (kr), \
                 ksyscall, kretsyscall, BEGIN, END"
            )
        );
        let d = errs("foo:bar { }");
        assert_eq!(d[0].message, "unknown probe type `foo`");
        assert_eq!(
            d[0].help.as_deref(),
            Some("supported probe types: kprobe (k), kretprobe (kr), ksyscall, kretsyscall, BEGIN, END")
        );
        let d = errs("kprob:vfs_read { }");
        assert_eq!(d[0].message, "unknown probe type `kprob`");
        assert!(
            d[0].help
                .as_deref()
                .unwrap()
                .starts_with("did you mean `kprobe`?"),
            "{:?}",
            d[0].help
        );
        let d = errs("begin { }");
        assert!(
            d[0].help
                .as_deref()
                .unwrap()
                .starts_with("did you mean `BEGIN`?"),
            "{:?}",
            d[0].help
        );
        assert_eq!(
            msgs("tracepoint:syscalls:sys_enter_openat /pid == 1/ { @x = 1; }"),
            vec!["unknown probe type `tracepoint`"]
        );
        assert_eq!(
            msgs("kprobe { }"),
            vec!["expected `:` and a function name after `kprobe`"]
        );
        assert_eq!(
            msgs("ksyscall: { }"),
            vec!["expected a system call name after `ksyscall:`"]
        );
        assert_eq!(msgs("BEGIN:foo { }"), vec!["`BEGIN` takes no target"]);
        assert_eq!(
            msgs("kretprobe:f+4 { }"),
            vec!["`kretprobe` attach points take no offset"]
        );
        assert_eq!(msgs("kprobe:f+ { }"), vec!["expected an offset after `+`"]);
        assert_eq!(
            msgs("kprobe:vfs_*+4 { }"),
            vec!["an offset cannot be combined with a wildcard"]
        );
        assert_eq!(
            msgs("kprobe:f+0x1z { }"),
            vec!["invalid integer literal `0x1z`"]
        );
        assert_eq!(
            msgs("kprobe:mod:f { }"),
            vec!["unexpected `:f` after attach point `kprobe:mod`"]
        );
        assert_eq!(
            msgs("kprobe:f, { }"),
            vec!["expected an attach point after `,`"]
        );
        assert_eq!(
            msgs("{ @x = 1; }"),
            vec!["expected an attach point such as `kprobe:FUNC` or `BEGIN`"]
        );
        let d = errs("kprobe:a kprobe:b { }");
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].message, "expected `{` to open the probe body");
        assert_eq!(d[0].label, "found `kprobe`");
        assert_eq!(
            msgs("kprobe:f"),
            vec!["expected `{` to open the probe body"]
        );
        assert_eq!(
            msgs("kprobe:f pid == 1 { } BEGIN { }"),
            vec!["expected `{` to open the probe body"]
        );
    }

    // ---- predicates ----

    #[test]
    fn predicates_end_at_the_first_slash_outside_parentheses() {
        let s = ok("kprobe:f /(arg0 / 2) > 1/ { @x = arg0 / 2; }");
        assert_eq!(sx(s.probes[0].pred.as_ref().unwrap()), "(> (/ arg0 2) 1)");
        let s = ok("kprobe:f /@m[arg0 / 2] > str(arg1, 8 / 2)/ { }");
        assert_eq!(
            sx(s.probes[0].pred.as_ref().unwrap()),
            "(> @m[(/ arg0 2)] (str arg1 (/ 8 2)))"
        );
        // Unparenthesised, the predicate is `arg0` and `2 > 1/` is left over.
        let d = errs("kprobe:f /arg0 / 2 > 1/ { }");
        assert_eq!(d[0].message, "expected `{` to open the probe body");
        assert_eq!(d[0].label, "found `2`");
    }

    #[test]
    fn predicate_errors() {
        let d = errs("kprobe:f / / { }");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "empty predicate");
        assert_eq!(d[0].span, Span::new(9, 12));
        assert_eq!(d[0].label, "expected a condition between the slashes");
        assert_eq!(
            msgs("kprobe:f /pid == 1 { @x = 1; }"),
            vec!["expected `/` to close the predicate opened at 1:10"]
        );
        assert_eq!(
            msgs("kprobe:f /pid == / { @x = 1; }"),
            vec!["expected an expression after `==`"]
        );
        let d = errs("kprobe:f /pid = 1/ { }");
        assert_eq!(d[0].help.as_deref(), Some("use `==` to compare"));
    }

    // ---- expressions ----

    #[test]
    fn precedence_follows_c() {
        assert_eq!(ex("1 + 2 * 3"), "(+ 1 (* 2 3))");
        assert_eq!(ex("1 * 2 + 3"), "(+ (* 1 2) 3)");
        assert_eq!(ex("1 - 2 - 3"), "(- (- 1 2) 3)");
        assert_eq!(ex("8 / 4 / 2 % 3"), "(% (/ (/ 8 4) 2) 3)");
        assert_eq!(ex("pid || tid && uid"), "(|| pid (&& tid uid))");
        assert_eq!(ex("pid | tid ^ uid & gid"), "(| pid (^ tid (& uid gid)))");
        assert_eq!(ex("pid & tid == 1"), "(& pid (== tid 1))");
        assert_eq!(ex("pid == tid < 1"), "(== pid (< tid 1))");
        assert_eq!(ex("pid < 1 << 2"), "(< pid (<< 1 2))");
        assert_eq!(ex("1 << 2 + 3"), "(<< 1 (+ 2 3))");
        assert_eq!(
            ex("pid != 1 && pid >= 2 || pid <= 3 && pid > 4"),
            "(|| (&& (!= pid 1) (>= pid 2)) (&& (<= pid 3) (> pid 4)))"
        );
    }

    #[test]
    fn ternary_is_right_associative_and_lowest() {
        assert_eq!(ex("pid ? 1 : tid ? 2 : 3"), "(? pid 1 (? tid 2 3))");
        assert_eq!(ex("pid || tid ? 1 + 2 : 3"), "(? (|| pid tid) (+ 1 2) 3)");
        assert_eq!(ex("pid ? tid ? 1 : 2 : 3"), "(? pid (? tid 1 2) 3)");
    }

    #[test]
    fn unary_operators_and_casts() {
        assert_eq!(ex("-pid * 2"), "(* (Neg pid) 2)");
        assert_eq!(ex("!pid && ~tid"), "(&& (Not pid) (BitNot tid))");
        assert_eq!(ex("- -1"), "(Neg (Neg 1))");
        assert_eq!(
            ex("*(uint64 *)(arg0 + 8)"),
            "(Deref (cast uint64* (+ arg0 8)))"
        );
        assert_eq!(ex("(u8)arg0 + 1"), "(+ (cast uint8 arg0) 1)");
        assert_eq!(ex("(int64)-1"), "(cast int64 (Neg 1))");
        assert_eq!(ex("(s32)(u16)arg0"), "(cast int32 (cast uint16 arg0))");
        assert_eq!(ex("(uint8*)arg0"), "(cast uint8* arg0)");
        assert_eq!(ex("**(u64 *)arg0"), "(Deref (Deref (cast uint64* arg0)))");
        // Not a type word: a parenthesised expression.
        assert_eq!(ex("(pid)"), "pid");
        assert_eq!(ex("(pid) + 1"), "(+ pid 1)");
        assert_eq!(ex("(arg0 + 1) * 2"), "(* (+ arg0 1) 2)");
    }

    #[test]
    fn struct_casts_and_member_access() {
        assert_eq!(
            ex("((struct file *)arg0)->f_pos"),
            "(-> (cast structfile* arg0) f_pos)"
        );
        // As in C, a cast applies to the whole postfix expression.
        assert_eq!(
            ex("(struct sock *)arg0->x"),
            "(cast structsock* (-> arg0 x))"
        );
        assert_eq!(
            ex("((struct sock *)arg0)->__sk_common.skc_dport"),
            "(. (-> (cast structsock* arg0) __sk_common) skc_dport)"
        );
        assert_eq!(
            ex("curtask->real_parent->comm[0] + 1"),
            "(+ ([] (-> (-> curtask real_parent) comm) 0) 1)"
        );
        assert_eq!(ex("(union u *)$p"), "(cast unionu* $p)");
        assert_eq!(ex("-$t->pid"), "(Neg (-> $t pid))");
        assert_eq!(ex("*$t->ptr"), "(Deref (-> $t ptr))");
    }

    #[test]
    fn struct_cast_errors() {
        let d = expr_errs("(struct file)arg0");
        assert_eq!(d, vec!["cannot cast to the struct value `struct file`"]);
        assert_eq!(
            expr_errs("(struct *)arg0"),
            vec!["expected a struct or union name, found `*`"]
        );
        assert_eq!(
            expr_errs("(struct file *arg0"),
            vec!["expected `)` to close the cast to `struct file *` opened at 1:1"]
        );
        assert_eq!(
            expr_errs("(enum e)arg0"),
            vec!["casts to enum types are not supported"]
        );
        assert_eq!(
            expr_errs("curtask->"),
            vec!["expected a member name after `->`, found end of file"]
        );
        assert_eq!(
            expr_errs("curtask->comm[1"),
            vec!["expected `]` to close the index opened at 1:14"]
        );
    }

    #[test]
    fn primaries() {
        assert_eq!(ex("1_000 + 0xff + 0"), "(+ (+ 1000 255) 0)");
        assert_eq!(ex(r#""a\tb\"\\\x41\0""#), r#""a\tb\"\\A\0""#);
        assert_eq!(
            ex("$x + @ + @m + @[1] + @m[1, comm]"),
            "(+ (+ (+ (+ $x @) @m) @[1]) @m[1 comm])"
        );
        assert_eq!(
            ex("pid + tid + uid + gid + comm + nsecs + cpu + rand + func + probe + arg0 + arg12 + retval + kstack"),
            "(+ (+ (+ (+ (+ (+ (+ (+ (+ (+ (+ (+ (+ pid tid) uid) gid) comm) nsecs) cpu) rand) func) probe) arg0) arg12) retval) kstack)"
        );
        assert_eq!(ex("count()"), "(count )");
        assert_eq!(ex("lhist(arg2, 0, 1000, 100)"), "(lhist arg2 0 1000 100)");
        assert_eq!(ex("kstack(5)"), "(kstack 5)");
    }

    #[test]
    fn expression_errors() {
        assert_eq!(expr_errs("1 +"), vec!["expected an expression after `+`"]);
        assert_eq!(
            expr_errs("(1 + 2"),
            vec!["expected `)` to close the parenthesis opened at 1:1"]
        );
        assert_eq!(
            expr_errs("(uint64 *"),
            vec!["expected `)` to close the cast to `uint64 *` opened at 1:1"]
        );
        assert_eq!(
            expr_errs("pid ? 1"),
            vec!["expected `:` of the conditional expression `?` at 1:5"]
        );
        assert_eq!(
            expr_errs("printf(\"x\" pid)"),
            vec!["expected `)` to close the arguments of `printf` opened at 1:7"]
        );
        assert_eq!(
            expr_errs("99999999999999999999"),
            vec!["integer literal `99999999999999999999` is too large"]
        );
        let d = parse_expr("pdi + 1").unwrap_err();
        assert_eq!(d[0].message, "unknown identifier `pdi`");
        assert_eq!(d[0].help.as_deref(), Some("did you mean `pid`?"));
        assert_eq!(d[0].span, Span::new(0, 3));
        let d = parse_expr("count").unwrap_err();
        assert_eq!(
            d[0].help.as_deref(),
            Some("variables are written `$count`, maps `@count`, and calls `count(...)`")
        );
        let d = parse_expr("cgroup").unwrap_err();
        assert_eq!(
            d[0].help.as_deref(),
            Some("`cgroup` is a bpftrace builtin that probecc does not support")
        );
        assert_eq!(expr_errs("arg256"), vec!["unknown identifier `arg256`"]);
        assert_eq!(expr_errs("@m[]"), vec!["empty key `[]` on `@m`"]);
    }

    // ---- statements ----

    #[test]
    fn assignments() {
        let ops = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"];
        for op in ops {
            let b = body(&format!("BEGIN {{ @m[1] {op}= 2 }}"));
            let [StmtKind::Assign {
                op: AssignOp::Compound(o),
                ..
            }] = b.as_slice()
            else {
                panic!("{op}: {b:?}")
            };
            assert_eq!(o.symbol(), op);
        }
        let b = body("BEGIN { $x = 1; @ = 2; @[1, 2] = 3; }");
        assert!(
            matches!(&b[0], StmtKind::Assign { target: LValue::Var { name, .. }, op: AssignOp::Set, .. } if name == "x")
        );
        assert!(
            matches!(&b[1], StmtKind::Assign { target: LValue::Map(m), .. } if m.name.is_empty() && m.keys.is_empty())
        );
        assert!(
            matches!(&b[2], StmtKind::Assign { target: LValue::Map(m), .. } if m.name.is_empty() && m.keys.len() == 2)
        );
    }

    #[test]
    fn increments() {
        let b = body("BEGIN { @m[1]++; @m[1]--; $x++; ++@m; --$x; @++ }");
        let got: Vec<_> = b
            .iter()
            .map(|s| match s {
                StmtKind::Incr { target, delta } => (pretty::lvalue(target), *delta),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("@m[1]".into(), 1),
                ("@m[1]".into(), -1),
                ("$x".into(), 1),
                ("@m".into(), 1),
                ("$x".into(), -1),
                ("@".into(), 1)
            ]
        );
    }

    #[test]
    fn calls_delete_and_separators() {
        let b = body("END { print(@m); clear(@m); zero(@m); exit();; delete(@m[1, 2]); delete(@n, comm); delete(@o) }");
        assert_eq!(b.len(), 7);
        for (s, name) in b.iter().zip(["print", "clear", "zero", "exit"]) {
            assert!(
                matches!(s, StmtKind::Expr(Expr { kind: ExprKind::Call { name: n, .. }, .. }) if n == name),
                "{s:?}"
            );
        }
        assert!(matches!(&b[4], StmtKind::Delete(m) if m.name == "m" && m.keys.len() == 2));
        assert!(matches!(&b[5], StmtKind::Delete(m) if m.name == "n" && m.keys.len() == 1));
        assert!(matches!(&b[6], StmtKind::Delete(m) if m.name == "o" && m.keys.is_empty()));
    }

    #[test]
    fn if_else_chains_and_unroll() {
        let b = body(
            "BEGIN { if (pid > 1) { @a = 1; } else if (pid > 2) { @b = 1 } else if (pid) { } else { @c = 1; } \
             unroll(4) { @d++; } @e = 1; }",
        );
        assert_eq!(b.len(), 3);
        let StmtKind::If {
            cond,
            then,
            els: Some(els),
        } = &b[0]
        else {
            panic!("{:?}", b[0])
        };
        assert_eq!(sx(cond), "(> pid 1)");
        assert_eq!(then.stmts.len(), 1);
        let [Stmt {
            kind: StmtKind::If {
                els: Some(els2), ..
            },
            ..
        }] = els.stmts.as_slice()
        else {
            panic!()
        };
        let [Stmt {
            kind:
                StmtKind::If {
                    cond,
                    then,
                    els: Some(last),
                },
            ..
        }] = els2.stmts.as_slice()
        else {
            panic!()
        };
        assert_eq!(sx(cond), "pid");
        assert!(then.stmts.is_empty());
        assert_eq!(last.stmts.len(), 1);
        assert!(matches!(&b[1], StmtKind::Unroll { count: 4, body } if body.stmts.len() == 1));
        let b = body("BEGIN { if (1) { } }");
        assert!(matches!(&b[0], StmtKind::If { els: None, .. }));
    }

    #[test]
    fn statement_errors() {
        // Missing `}`, at the end of the file and before the next probe.
        let d = errs("kprobe:f {\n  @x = 1;\n");
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].message,
            "expected `}` to close the block opened at 1:10"
        );
        assert_eq!(d[0].label, "the file ends here");
        let d = errs("kprobe:f {\n  @x = 1;\nkprobe:g { @y = 2; }\nBEGIN { @z = pdi; }");
        let m: Vec<_> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            m,
            vec![
                "expected `}` to close the block opened at 1:10",
                "unknown identifier `pdi`"
            ]
        );
        assert_eq!(d[0].label, "a new probe starts here");
        assert_eq!(d[0].line_col("kprobe:f {\n  @x = 1;\nkprobe:g"), (3, 1));
        // Missing `;`.
        let src = "kprobe:f { @a = 1 @b = 2 }";
        let d = errs(src);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "expected `;` between statements");
        assert_eq!(d[0].span, Span::new(17, 17));
        assert_eq!(d[0].label, "add `;` here");
        assert_eq!(
            d[0].help.as_deref(),
            Some("bpftrace requires `;` between statements, also across lines")
        );
        assert_eq!(msgs("kprobe:f { @a = 1\n@b = 2\n@c = 3 }").len(), 2);
        assert_eq!(
            msgs("kprobe:f { @a = (1)) ; @b = 2; }"),
            vec!["expected `;` after the statement, found `)`"]
        );
        // Strings.
        assert_eq!(
            msgs(r#"BEGIN { printf("\q"); }"#),
            vec!["unknown escape sequence `\\q` in string literal"]
        );
        let d = errs("BEGIN { printf(\"abc); }\nEND { @x = pdi; }");
        let m: Vec<_> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            m,
            vec!["unterminated string literal", "unknown identifier `pdi`"]
        );
        assert_eq!(d[0].span, Span::new(15, 23));
        assert_eq!(
            msgs("BEGIN { printf(\"abc); }"),
            vec!["unterminated string literal"]
        );
        // Map keys.
        assert_eq!(
            msgs("kprobe:f { @m[1 = 2; }"),
            vec!["expected `]` to close the keys of `@m` opened at 1:14"]
        );
        assert_eq!(
            msgs("kprobe:f { @m[1, 2 3] = 2; }"),
            vec!["expected `]` to close the keys of `@m` opened at 1:14"]
        );
        assert_eq!(
            msgs("kprobe:f { @m[ = 2; }"),
            vec!["expected an expression after `[`"]
        );
        // Expressions.
        assert_eq!(
            msgs("BEGIN { @x = 1 + ; @y = 2; }"),
            vec!["expected an expression after `+`"]
        );
        assert_eq!(
            msgs("BEGIN { @x = ; }"),
            vec!["expected an expression after `=`"]
        );
        assert_eq!(
            msgs("BEGIN { pid = 1; }"),
            vec!["cannot apply `=` to this expression"]
        );
        assert_eq!(
            msgs("BEGIN { count()++; }"),
            vec!["cannot apply `++` to this expression"]
        );
        assert_eq!(
            msgs("BEGIN { @x = @y++; }"),
            vec!["expected `;` after the statement, found `++`"]
        );
        // if / unroll / delete.
        assert_eq!(
            msgs("BEGIN { if pid > 1 { @x = 1; } }"),
            vec!["expected `(` after `if`"]
        );
        assert_eq!(
            msgs("BEGIN { if (pid > 1 { @x = 1; } }"),
            vec!["expected `)` to close the condition of `if` opened at 1:12"]
        );
        let d = errs("BEGIN { if ($x = 1) { } }");
        assert_eq!(d[0].help.as_deref(), Some("use `==` to compare"));
        assert_eq!(
            msgs("BEGIN { if (pid) @x = 1; }"),
            vec!["expected `{` after the condition of `if`"]
        );
        assert_eq!(
            msgs("BEGIN { if (pid) { } else @x = 1; }"),
            vec!["expected `{` or `if` after `else`"]
        );
        assert_eq!(
            msgs("BEGIN { unroll($x) { } }"),
            vec!["expected an integer literal in `unroll(...)`"]
        );
        assert_eq!(
            msgs("BEGIN { delete(pid); }"),
            vec!["`delete` takes a map element"]
        );
        assert_eq!(
            msgs("BEGIN { delete @m[1]; }"),
            vec!["expected `(` after `delete`"]
        );
    }

    #[test]
    fn errors_do_not_hide_later_errors() {
        let src =
            "kprobe:f {\n  @a = 1 +;\n  @b = pdi;\n  @c = (1;\n  if (x) { @d = \"\\q\"; }\n}\n\
                   uprobe:x { }\nkprobe:g / / { @e = 1 }\nBEGIN { @f = 1 @g = 2 }\n";
        let d = errs(src);
        let got: Vec<_> = d
            .iter()
            .map(|d| (d.line_col(src).0, d.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, "expected an expression after `+`"),
                (3, "unknown identifier `pdi`"),
                (4, "expected `)` to close the parenthesis opened at 4:8"),
                (5, "unknown identifier `x`"),
                (5, "unknown escape sequence `\\q` in string literal"),
                (7, "unknown probe type `uprobe`"),
                (8, "empty predicate"),
                (9, "expected `;` between statements"),
            ]
        );
        let text = render("t.bt", src, &d);
        assert!(text.contains("t.bt:2:11"), "{text}");
    }

    #[test]
    fn nesting_is_limited() {
        let deep_ok = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert_eq!(ex(&deep_ok), "1");
        for open in ["(", "- ", "!", "(u8)", "@m[", "f(", "1 ? 1 : "] {
            let src = format!("BEGIN {{ @x = {}1; }}", open.repeat(100_000));
            let d = errs(&src);
            assert!(
                d[0].message.starts_with("nesting too deep: more than 256"),
                "{open}: {:?}",
                d[0]
            );
            assert!(d.len() <= 3, "{open}: {d:?}");
        }
        let blocks = format!(
            "BEGIN {{ {} }}",
            "if (1) { ".repeat(300) + &"} ".repeat(300)
        );
        let d = errs(&blocks);
        assert_eq!(
            d[0].message,
            "nesting too deep: more than 256 nested expressions or blocks"
        );
        let blocks = format!(
            "BEGIN {{ {} }}",
            "if (1) { ".repeat(200) + &"} ".repeat(200)
        );
        ok(&blocks);
        // Chains nest the tree too.
        let chain = |n| format!("BEGIN {{ if (1) {{ }} {} }}", "else if (1) { } ".repeat(n));
        ok(&chain(200));
        assert_eq!(
            errs(&chain(10_000))[0].message,
            "nesting too deep: more than 256 nested expressions or blocks"
        );
        let sum = |n| format!("BEGIN {{ @x = 1{}; }}", " + 1".repeat(n));
        ok(&sum(200));
        assert_eq!(
            errs(&sum(100_000))[0].message,
            "nesting too deep: more than 256 nested expressions or blocks"
        );
    }

    #[test]
    fn error_count_is_bounded() {
        let src = "BEGIN { @x = ; }\n".repeat(1000);
        let d = errs(&src);
        assert_eq!(d.len(), MAX_ERRORS + 1);
        assert_eq!(
            d[MAX_ERRORS].message,
            "too many errors (100); stopping here"
        );
        let d = errs(&"#".repeat(100_000));
        assert_eq!(
            d[0].message,
            format!("unexpected characters `{}`", "#".repeat(100_000))
        );
        assert!(d.len() <= 2, "{d:?}");
        let d = errs(&"# x ".repeat(100_000));
        assert!(d.len() <= MAX_ERRORS + 1);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::super::pretty;
    use super::tests::{assert_round_trip, strip, EXAMPLE};
    use super::*;

    fn ident() -> impl Strategy<Value = String> {
        "[a-z_][a-z0-9_]{0,5}"
    }

    fn int_type() -> impl Strategy<Value = IntType> {
        (prop::sample::select(vec![1u8, 2, 4, 8]), any::<bool>())
            .prop_map(|(bytes, signed)| IntType { bytes, signed })
    }

    fn builtin() -> impl Strategy<Value = Builtin> {
        prop_oneof![
            prop::sample::select(vec![
                Builtin::Pid,
                Builtin::Tid,
                Builtin::Uid,
                Builtin::Gid,
                Builtin::Comm,
                Builtin::Nsecs,
                Builtin::Cpu,
                Builtin::Rand,
                Builtin::Func,
                Builtin::Probe,
                Builtin::Retval,
                Builtin::Kstack,
            ]),
            any::<u8>().prop_map(Builtin::Arg),
        ]
    }

    fn binop() -> impl Strategy<Value = BinOp> {
        prop::sample::select(vec![
            BinOp::Add,
            BinOp::Sub,
            BinOp::Mul,
            BinOp::Div,
            BinOp::Mod,
            BinOp::BitAnd,
            BinOp::BitOr,
            BinOp::BitXor,
            BinOp::Shl,
            BinOp::Shr,
            BinOp::Eq,
            BinOp::Ne,
            BinOp::Lt,
            BinOp::Le,
            BinOp::Gt,
            BinOp::Ge,
            BinOp::And,
            BinOp::Or,
        ])
    }

    fn e(kind: ExprKind) -> Expr {
        Expr {
            kind,
            span: Span::default(),
        }
    }

    fn map(name: String, keys: Vec<Expr>) -> MapRef {
        MapRef {
            name,
            keys,
            span: Span::default(),
        }
    }

    fn expr() -> impl Strategy<Value = Expr> {
        let leaf = prop_oneof![
            any::<u64>().prop_map(|v| e(ExprKind::Int(v))),
            any::<String>().prop_map(|s| e(ExprKind::Str(s))),
            builtin().prop_map(|b| e(ExprKind::Builtin(b))),
            ident().prop_map(|n| e(ExprKind::Var(n))),
            prop_oneof![Just(String::new()), ident()]
                .prop_map(|n| e(ExprKind::Map(map(n, vec![])))),
        ];
        leaf.prop_recursive(4, 40, 4, |inner| {
            prop_oneof![
                (
                    prop::sample::select(vec![UnOp::Neg, UnOp::Not, UnOp::BitNot, UnOp::Deref]),
                    inner.clone()
                )
                    .prop_map(|(op, x)| e(ExprKind::Unary {
                        op,
                        expr: Box::new(x)
                    })),
                (binop(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| e(
                    ExprKind::Binary {
                        op,
                        lhs: Box::new(l),
                        rhs: Box::new(r)
                    }
                )),
                (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, t, f)| e(
                    ExprKind::Ternary {
                        cond: Box::new(c),
                        then: Box::new(t),
                        els: Box::new(f)
                    }
                )),
                (
                    prop::sample::select(vec![
                        "count", "sum", "hist", "lhist", "printf", "str", "kstack", "avg"
                    ]),
                    prop::collection::vec(inner.clone(), 0..3)
                )
                    .prop_map(|(name, args)| e(ExprKind::Call {
                        name: name.into(),
                        args,
                        name_span: Span::default()
                    })),
                (int_type(), any::<bool>(), inner.clone()).prop_map(|(t, ptr, x)| e(
                    ExprKind::Cast {
                        ty: if ptr {
                            CastType::Ptr(t)
                        } else {
                            CastType::Int(t)
                        },
                        expr: Box::new(x)
                    }
                )),
                (any::<bool>(), ident(), inner.clone()).prop_map(|(union, name, x)| e(
                    ExprKind::Cast {
                        ty: CastType::Record(RecordRef {
                            union,
                            name,
                            depth: 1,
                            span: Span::default(),
                        }),
                        expr: Box::new(x)
                    }
                )),
                (inner.clone(), ident(), any::<bool>()).prop_map(|(x, member, arrow)| e(
                    ExprKind::Member {
                        expr: Box::new(x),
                        member,
                        member_span: Span::default(),
                        arrow,
                    }
                )),
                (inner.clone(), inner.clone()).prop_map(|(x, i)| e(ExprKind::Index {
                    expr: Box::new(x),
                    index: Box::new(i),
                })),
                (ident(), prop::collection::vec(inner, 1..3))
                    .prop_map(|(n, k)| e(ExprKind::Map(map(n, k)))),
            ]
        })
    }

    fn lvalue() -> impl Strategy<Value = LValue> {
        prop_oneof![
            ident().prop_map(|name| LValue::Var {
                name,
                span: Span::default()
            }),
            (
                prop_oneof![Just(String::new()), ident()],
                prop::collection::vec(expr(), 0..3)
            )
                .prop_map(|(n, k)| LValue::Map(map(n, k))),
        ]
    }

    fn block_of(stmt: impl Strategy<Value = Stmt>) -> impl Strategy<Value = Block> {
        prop::collection::vec(stmt, 0..4).prop_map(|stmts| Block {
            stmts,
            span: Span::default(),
        })
    }

    fn stmt() -> impl Strategy<Value = Stmt> {
        let s = |kind| Stmt {
            kind,
            span: Span::default(),
        };
        let simple = prop_oneof![
            expr().prop_map(move |x| s(StmtKind::Expr(x))),
            (
                lvalue(),
                prop_oneof![
                    Just(AssignOp::Set),
                    binop()
                        .prop_filter("compound", |b| !matches!(
                            b,
                            BinOp::And
                                | BinOp::Or
                                | BinOp::Eq
                                | BinOp::Ne
                                | BinOp::Lt
                                | BinOp::Le
                                | BinOp::Gt
                                | BinOp::Ge
                        ))
                        .prop_map(AssignOp::Compound)
                ],
                expr()
            )
                .prop_map(move |(target, op, value)| s(StmtKind::Assign {
                    target,
                    op,
                    value
                })),
            (lvalue(), prop::sample::select(vec![1i8, -1]))
                .prop_map(move |(target, delta)| s(StmtKind::Incr { target, delta })),
            (ident(), prop::collection::vec(expr(), 0..3))
                .prop_map(move |(n, k)| s(StmtKind::Delete(map(n, k)))),
        ];
        simple.prop_recursive(3, 12, 4, move |inner| {
            prop_oneof![
                (
                    expr(),
                    block_of(inner.clone()),
                    prop::option::of(block_of(inner.clone()))
                )
                    .prop_map(move |(cond, then, els)| s(StmtKind::If {
                        cond,
                        then,
                        els
                    })),
                (any::<u64>(), block_of(inner))
                    .prop_map(move |(count, body)| s(StmtKind::Unroll { count, body })),
            ]
        })
    }

    fn attach() -> impl Strategy<Value = AttachSpec> {
        let kind = prop::sample::select(vec![
            ProbeKind::Kprobe,
            ProbeKind::Kretprobe,
            ProbeKind::Ksyscall,
            ProbeKind::Kretsyscall,
            ProbeKind::Begin,
            ProbeKind::End,
        ]);
        (kind, "[a-z_][a-z0-9_.*]{0,8}", any::<Option<u64>>()).prop_map(|(kind, target, offset)| {
            match kind {
                ProbeKind::Begin | ProbeKind::End => AttachSpec {
                    kind,
                    target: String::new(),
                    offset: None,
                    span: Span::default(),
                },
                ProbeKind::Kprobe if !target.contains('*') => AttachSpec {
                    kind,
                    target,
                    offset,
                    span: Span::default(),
                },
                _ => AttachSpec {
                    kind,
                    target,
                    offset: None,
                    span: Span::default(),
                },
            }
        })
    }

    fn spec() -> impl Strategy<Value = Spec> {
        let probe = (
            prop::collection::vec(attach(), 1..3),
            prop::option::of(expr()),
            block_of(stmt()),
        )
            .prop_map(|(attach, pred, body)| Probe {
                attach,
                pred,
                body,
                span: Span::default(),
            });
        prop::collection::vec(probe, 0..3).prop_map(|probes| Spec { probes })
    }

    /// Pieces of the language, to build random token soups that reach
    /// deeper into the parser than random characters.
    const PIECES: &[&str] = &[
        "kprobe:f",
        "kretprobe:vfs_*",
        "k:a+4",
        "BEGIN",
        "END",
        "uprobe:/x",
        ",",
        "/",
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        ";",
        "@m",
        "@",
        "$x",
        "pid",
        "arg0",
        "count()",
        "printf(\"%d\\n\", 1)",
        "\"s",
        "\"\\q\"",
        "1",
        "0x",
        "99999999999999999999",
        "+",
        "-",
        "*",
        "=",
        "+=",
        "++",
        "--",
        "==",
        "?",
        ":",
        "&&",
        "if",
        "else",
        "unroll",
        "(3)",
        "delete",
        "(u8)",
        "(uint64 *)",
        "//c\n",
        "/*",
        "*/",
        "\n",
        " ",
        "#",
        "é",
    ];

    /// If `src` parses, its pretty form parses back to the same tree.
    fn check(src: &str) {
        if let Ok(s) = parse(src) {
            assert_round_trip(&s);
            // And printing is a fixed point.
            let text = pretty::spec(&s);
            assert_eq!(pretty::spec(&parse(&text).unwrap()), text);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        #[test]
        fn random_text_never_panics(src in any::<String>()) {
            check(&src);
        }

        #[test]
        fn random_token_soup_never_panics(pieces in prop::collection::vec(prop::sample::select(PIECES), 0..60)) {
            check(&pieces.concat());
            check(&pieces.join(" "));
        }

        #[test]
        fn mutated_specs_never_panic(
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..4, prop::sample::select(PIECES)), 1..4)
        ) {
            let mut chars: Vec<char> = EXAMPLE.chars().collect();
            for (at, len, piece) in edits {
                let start = at.index(chars.len() + 1);
                let end = (start + len).min(chars.len());
                chars.splice(start..end, piece.chars());
            }
            let src: String = chars.into_iter().collect();
            check(&src);
        }

        #[test]
        fn pretty_then_parse_is_the_identity(s in spec()) {
            assert_round_trip(&s);
            prop_assert_eq!(strip(parse(&pretty::spec(&s)).unwrap()), s);
        }
    }
}
