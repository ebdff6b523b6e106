//! Parsing a whole file into probes and top-level items: attach points
//! (read raw, in the lexer's attach-point mode), their probe types,
//! offsets and interval periods, predicates, and the recovery that resumes
//! at the next probe after an error. The other top-level items (config,
//! macros, C definitions) are read by `item`.

use super::{PResult, Parser, Reported};
use crate::lang::ast::{AttachSpec, Expr, Probe, ProbeKind, Span, Spec, PROBE_TYPES};
use crate::lang::diag::{suggest, Diagnostic};
use crate::lang::lex::{parse_int, Piece, Tok, DURATIONS};

/// Probe types of bpftrace that probecc does not support yet, each alias
/// with its full name: a statement starting with `uprobe:` is taken for
/// the start of a probe.
const OTHER_TYPES: &[(&str, &str)] = &[
    ("uprobe", "uprobe"),
    ("u", "uprobe"),
    ("uretprobe", "uretprobe"),
    ("ur", "uretprobe"),
    ("tracepoint", "tracepoint"),
    ("t", "tracepoint"),
    ("rawtracepoint", "rawtracepoint"),
    ("rt", "rawtracepoint"),
    ("usdt", "usdt"),
    ("U", "usdt"),
    ("profile", "profile"),
    ("p", "profile"),
    ("software", "software"),
    ("s", "software"),
    ("hardware", "hardware"),
    ("h", "hardware"),
    ("watchpoint", "watchpoint"),
    ("w", "watchpoint"),
    ("asyncwatchpoint", "asyncwatchpoint"),
    ("aw", "asyncwatchpoint"),
    ("iter", "iter"),
    ("it", "iter"),
    ("self", "self"),
    ("bench", "bench"),
    ("test", "test"),
];

/// The full name of a probe type probecc does not support yet.
fn other_type(word: &str) -> Option<&'static str> {
    OTHER_TYPES
        .iter()
        .find(|(w, _)| *w == word)
        .map(|(_, full)| *full)
}

impl Parser<'_> {
    pub(super) fn spec(&mut self) -> Spec {
        let mut spec = Spec::default();
        while !self.gave_up() {
            self.rewind();
            self.lex.skip_trivia();
            if self.lex.at_end() {
                break;
            }
            let before = self.position();
            if !self.top_item(&mut spec) {
                if let Some(p) = self.probe() {
                    spec.probes.push(p);
                }
            }
            if self.position() <= before {
                // Never stall: drop one token.
                self.rewind();
                self.lex.next_token();
            }
        }
        spec
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
                        "a probe is `TYPE:FUNC [/predicate/] {{ ... }}`; types: {}",
                        supported_types()
                    )),
            );
            return Err(Reported);
        };
        let Some(kind) = ProbeKind::from_word(&word.text) else {
            self.unknown_probe_type(&word);
            self.lex.attach_rest(true);
            return Ok(None);
        };
        let mut end = word.span.end;
        let name = &word.text;
        if kind == ProbeKind::Interval {
            return Ok(self.interval(&word));
        }
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
                period_ns: None,
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
        // bpftrace's `fentry:MODULE:FUNC`: the target keeps both.
        let target = match kind.is_tracing().then(|| self.lex.attach_target()) {
            Some(Some(func)) => Piece {
                text: format!("{}:{}", target.text, func.text),
                span: target.span.to(func.span),
            },
            _ => target,
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
            period_ns: None,
            span,
        };
        Ok(self.attach_end(span).then_some(spec))
    }

    /// The rest of `interval:UNIT:N` or `interval:Nunit` (`word` read):
    /// the attach point with its period, or `None` (reported).
    fn interval(&mut self, word: &Piece) -> Option<AttachSpec> {
        let help = "write `interval:s:1`, `interval:ms:100` or `interval:1s`";
        let first = match self.lex.attach_target() {
            Some(t) if !t.text.is_empty() => t,
            other => {
                let at = other.map_or(word.span, |t| t.span);
                self.error(
                    Diagnostic::new(at, format!("expected a period after `{}`", word.text))
                        .with_label("missing period")
                        .with_help(help),
                );
                self.lex.attach_rest(false);
                return None;
            }
        };
        let (unit, count, count_span, end) = match self.lex.attach_target() {
            Some(second) => (first.text, second.text, second.span, second.span.end),
            None => {
                let digits = first
                    .text
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(first.text.len());
                let (n, u) = first.text.split_at(digits);
                (u.to_string(), n.to_string(), first.span, first.span.end)
            }
        };
        let span = Span::new(word.span.start, end);
        let period = match (interval_unit(&unit), count.parse::<u64>()) {
            (Some(_), Ok(0)) => Err("an interval's count must be at least 1".to_string()),
            (Some(Unit::PerSecond), Ok(hz)) => Ok(1_000_000_000 / hz),
            (Some(Unit::Nanos(ns)), Ok(n)) => n
                .checked_mul(ns)
                .ok_or_else(|| "the interval's period does not fit in 64 bits".to_string()),
            (None, _) => Err(format!(
                "unknown interval unit `{unit}`; units: s, ms, us, ns, m, h, d, hz"
            )),
            (_, Err(_)) => Err(format!("`{count}` is not an interval count")),
        };
        match period {
            Ok(p) => self.attach_end(span).then(|| AttachSpec {
                kind: ProbeKind::Interval,
                target: self
                    .src
                    .get(word.span.end + 1..end)
                    .unwrap_or("")
                    .to_string(),
                offset: None,
                period_ns: Some(p.max(1)),
                span,
            }),
            Err(msg) => {
                self.error(
                    Diagnostic::new(count_span.to(span), msg)
                        .with_label("not a period")
                        .with_help(help),
                );
                self.lex.attach_rest(false);
                None
            }
        }
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
        if let Some(full) = other_type(&word.text) {
            self.error(
                Diagnostic::new(word.span, format!("`{full}` probes are not supported yet"))
                    .with_label("not supported yet")
                    .with_help(format!(
                        "probecc compiles these probe types: {}",
                        supported_types()
                    )),
            );
            return;
        }
        let names: Vec<&str> = PROBE_TYPES.iter().map(|(w, _)| *w).collect();
        let close = suggest(&word.text, names.iter().copied()).or_else(|| {
            names
                .iter()
                .copied()
                .find(|n| n.eq_ignore_ascii_case(&word.text))
        });
        let supported = supported_types();
        let help = match close {
            Some(c) => format!("did you mean `{c}`? supported probe types: {supported}"),
            None => format!("supported probe types: {supported}"),
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
    pub(super) fn at_probe_start(&mut self) -> bool {
        let Tok::Ident(w) = self.peek().clone() else {
            return false;
        };
        if matches!(w.as_str(), "BEGIN" | "END" | "begin" | "end") {
            return true;
        }
        let is_type = ProbeKind::from_word(&w).is_some() || other_type(&w).is_some();
        // `kprobe:f` is written without spaces, unlike `c ? t : u`.
        let end = self.peek_span().end;
        let next = self.peek_nth(1);
        is_type && next.tok == Tok::Colon && next.span.start == end
    }
}

/// The supported probe types for messages, each kind's aliases in
/// parentheses: `kprobe (k), kretprobe (kr), ksyscall, ..., fentry (f, kfunc)`. Intervals
/// parse but do not compile yet.
fn supported_types() -> String {
    let mut out: Vec<String> = Vec::new();
    let mut last = None;
    for (word, kind) in PROBE_TYPES {
        match out.last_mut() {
            Some(prev) if last == Some(*kind) && prev.ends_with(')') => {
                prev.insert_str(prev.len() - 1, &format!(", {word}"))
            }
            Some(prev) if last == Some(*kind) => prev.push_str(&format!(" ({word})")),
            _ => out.push((*word).to_string()),
        }
        last = Some(*kind);
    }
    out.join(", ")
}

/// The unit of an interval.
enum Unit {
    /// A period of so many nanoseconds per count.
    Nanos(u64),
    /// `hz`: so many times a second.
    PerSecond,
}

fn interval_unit(unit: &str) -> Option<Unit> {
    if unit == "hz" {
        return Some(Unit::PerSecond);
    }
    DURATIONS
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, ns)| Unit::Nanos(*ns))
}

fn example_target(kind: ProbeKind) -> &'static str {
    match kind {
        ProbeKind::Ksyscall | ProbeKind::Kretsyscall => "openat",
        _ => "vfs_read",
    }
}
