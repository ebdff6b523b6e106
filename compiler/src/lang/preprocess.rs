//! The C preprocessor stage that runs before the lexer, as bpftrace runs
//! scripts through clang's: a first line `#!...` is ignored; `#include`
//! is recorded and never read (kernel types come from BTF, constants from
//! [`super::constants`]), so an include is never an error; `#define` (object-
//! and function-like, with `#` and `##`), `#undef`, `#if`/`#ifdef`/
//! `#ifndef`/`#elif`/`#else`/`#endif` with C's integer expressions and
//! `defined`, `#error`, backslash continuations in directives. Macros
//! expand outside string literals and comments, as C's do, and never in
//! bpftrace's `$var` and `@map` names. [`HAVE_BTF`] is predefined when
//! the compile has kernel BTF, as bpftrace predefines it.
//!
//! Hand-written, because no well-kept crate preprocesses C with a source
//! map: the crates on crates.io either run a system C compiler (a
//! procedural macro), support neither `#if` nor function-like macros, or
//! are unfinished; none says where each output byte came from. And every
//! diagnostic of every later stage must point into the file as written:
//! the output keeps the line count (directive, continuation and skipped
//! lines become empty lines; an expansion stays on its use's line), and
//! [`map::SourceMap`] maps each output byte back, a macro's expansion to
//! its use, with a note naming the macro.
//!
//! Errors (an unbalanced `#if`, a bad directive, a recursive macro, a
//! wrong argument count) are diagnostics at the original text; any error
//! stops the compile before the lexer.

mod cond;
mod macros;
pub mod map;
mod scan;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use crate::lang::ast::Span;
use crate::lang::check::CompileOptions;
use crate::lang::diag::Diagnostic;
use crate::suggest::nearest;
use macros::{BodyTok, Expander, Macro, Macros, Tok};
use map::SourceMap;
use scan::{token_at, Kind};

/// Defined as `1` when the compile has kernel BTF (bpftrace's name).
pub const HAVE_BTF: &str = "BPFTRACE_HAVE_BTF";

/// The directives, for messages.
const DIRECTIVES: &[&str] = &[
    "define", "undef", "include", "if", "ifdef", "ifndef", "elif", "else", "endif", "error",
    "pragma",
];

/// What the preprocessor is given besides the text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Object-like macros defined before the first line: (name, body).
    pub predefined: Vec<(String, String)>,
}

impl Options {
    /// What a compile with `opts` predefines: [`HAVE_BTF`] when kernel
    /// types are configured and can be had (a configured file that exists
    /// counts; it is not read to decide).
    pub fn for_compile(opts: &CompileOptions) -> Options {
        let btf = opts.btf.as_ref().is_some_and(|t| t.available());
        Options {
            predefined: btf
                .then(|| (HAVE_BTF.to_string(), "1".to_string()))
                .into_iter()
                .collect(),
        }
    }
}

/// A `#include` of the file, recorded (kernel types come from BTF).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Include {
    /// The file as written between `<>` or `""`.
    pub path: String,
    /// `<...>` rather than `"..."`.
    pub system: bool,
    pub span: Span,
}

/// The text the lexer reads, and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preprocessed {
    pub text: String,
    pub map: SourceMap,
    pub includes: Vec<Include>,
}

/// Preprocesses `src`; every error of the file on failure, at the
/// original text.
pub fn preprocess(src: &str, opts: &Options) -> Result<Preprocessed, Vec<Diagnostic>> {
    let no_directive = !src.starts_with("#!") && src.lines().all(|l| directive_at(l, 0).is_none());
    if no_directive
        && opts
            .predefined
            .iter()
            .all(|(n, _)| !src.contains(n.as_str()))
    {
        // Nothing to do (the common case): no need to scan the text.
        return Ok(Preprocessed {
            text: src.to_string(),
            map: SourceMap::identity(),
            includes: Vec::new(),
        });
    }
    scan_all(src, opts)
}

/// [`preprocess`] without the shortcut for text with nothing to do.
fn scan_all(src: &str, opts: &Options) -> Result<Preprocessed, Vec<Diagnostic>> {
    let mut pp = Pre {
        src,
        out: String::with_capacity(src.len()),
        map: SourceMap::identity(),
        macros: Macros::default(),
        conds: Vec::new(),
        includes: Vec::new(),
        diags: Vec::new(),
        budget: Expander::budget(),
    };
    for (name, body) in &opts.predefined {
        pp.macros.define(Macro {
            name: name.clone(),
            params: None,
            variadic: false,
            body: body_tokens(body),
            defined_at: None,
        });
    }
    pp.run();
    let Pre {
        out,
        mut map,
        mut diags,
        includes,
        ..
    } = pp;
    if !diags.is_empty() {
        diags.sort_by_key(|d| d.span.start);
        return Err(diags);
    }
    if out == src {
        map = SourceMap::identity();
    }
    Ok(Preprocessed {
        text: out,
        map,
        includes,
    })
}

/// The tokens of a predefined macro's body.
fn body_tokens(text: &str) -> Vec<BodyTok> {
    let mut body = Vec::new();
    let mut pos = 0;
    let mut space = false;
    while pos < text.len() {
        let (kind, end) = token_at(text, pos, true);
        if kind.is_space() {
            space = true;
        } else {
            body.push(BodyTok {
                kind,
                text: text[pos..end].to_string(),
                space: space && !body.is_empty(),
                param: None,
            });
            space = false;
        }
        pos = end;
    }
    body
}

/// One open `#if` group.
struct Cond {
    /// The directive that opened it, for "never closed".
    opened: Span,
    /// The group around it is being kept.
    outer: bool,
    /// Some branch was (or is being) kept.
    taken: bool,
    /// This branch is being kept.
    active: bool,
    /// `#else` was seen.
    in_else: bool,
}

struct Pre<'a> {
    src: &'a str,
    out: String,
    map: SourceMap,
    macros: Macros,
    conds: Vec<Cond>,
    includes: Vec<Include>,
    diags: Vec<Diagnostic>,
    budget: usize,
}

/// A directive: its name token and the tokens after it.
struct Directive<'t> {
    name: &'t Tok,
    args: &'t [Tok],
    /// From `#` to the end of its last token.
    span: Span,
}

impl<'a> Pre<'a> {
    fn run(&mut self) {
        let mut pos = 0;
        if self.src.starts_with("#!") {
            pos = self.src.find('\n').unwrap_or(self.src.len());
        }
        while pos < self.src.len() {
            pos = match directive_at(self.src, pos) {
                Some(hash) => self.directive(pos, hash),
                None => self.text(pos),
            };
        }
        for c in std::mem::take(&mut self.conds) {
            self.diags.push(
                Diagnostic::new(c.opened, "unterminated conditional directive")
                    .with_label("this `#if` is never closed")
                    .with_help("end it with `#endif`"),
            );
        }
    }

    fn active(&self) -> bool {
        self.conds.last().is_none_or(|c| c.active)
    }

    /// Output an empty line for every line `from..to` of the original
    /// ends.
    fn blank(&mut self, from: usize, to: usize) {
        let text = self.src.get(from..to).unwrap_or("");
        for (i, _) in text.match_indices('\n') {
            self.map.copy(self.out.len(), from + i);
            self.out.push('\n');
        }
    }

    /// The lines from `pos` up to the next directive line: copied with
    /// macros expanded, or blank in a skipped group.
    fn text(&mut self, pos: usize) -> usize {
        let mut toks = Vec::new();
        let mut at = pos;
        while at < self.src.len() {
            let (kind, end) = token_at(self.src, at, false);
            if self.active() {
                let text = self.src.get(at..end).unwrap_or("");
                toks.push(Tok::source(kind, text, Span::new(at, end), false));
            }
            at = end;
            if kind == Kind::Newline && directive_at(self.src, at).is_some() {
                break;
            }
        }
        if !self.active() {
            self.blank(pos, at);
            return at;
        }
        let mut ex = Expander::new(&self.macros, &mut self.map, &mut self.budget);
        match ex.expand(toks) {
            Ok(out) => self.emit(&out),
            Err(d) => {
                self.diags.push(d);
                self.blank(pos, at);
            }
        }
        at
    }

    /// Appends expanded tokens: original text as it was, each macro use's
    /// expansion on its first line, then the newlines the use spanned.
    fn emit(&mut self, toks: &[Tok]) {
        let mut i = 0;
        while let Some(t) = toks.get(i) {
            let Some(by) = t.made_by else {
                if let Some(s) = t.src {
                    self.map.copy(self.out.len(), s.start);
                }
                self.out.push_str(&t.text);
                i += 1;
                continue;
            };
            self.map.made_by(self.out.len(), by);
            self.out.push(' ');
            while let Some(t) = toks.get(i).filter(|t| t.made_by == Some(by)) {
                i += 1;
                if t.text.is_empty() {
                    continue;
                }
                match t.src {
                    Some(s) if self.src.get(s.start..s.end) == Some(t.text.as_str()) => {
                        self.map.copy_argument(self.out.len(), s.start, by)
                    }
                    _ => self.map.made_by(self.out.len(), by),
                }
                self.out.push_str(&t.text);
                self.map.made_by(self.out.len(), by);
                self.out.push(' ');
            }
            let used = self.map.use_span(by);
            let lines = self
                .src
                .get(used.start..used.end)
                .map_or(0, |s| s.matches('\n').count());
            self.out.extend(std::iter::repeat_n('\n', lines));
        }
    }

    /// The directive whose line starts at `pos` (its `#` at `hash`);
    /// where the next line starts.
    fn directive(&mut self, pos: usize, hash: usize) -> usize {
        let mut toks = Vec::new();
        let mut at = hash + 1;
        let mut space = false;
        let mut end = self.src.len();
        while at < self.src.len() {
            let (kind, next) = token_at(self.src, at, true);
            if kind == Kind::Newline {
                end = next;
                break;
            }
            if kind.is_space() {
                space = true;
            } else {
                let text = self.src.get(at..next).unwrap_or("");
                toks.push(Tok::source(kind, text, Span::new(at, next), space));
                space = false;
            }
            at = next;
        }
        self.blank(pos, end);
        let Some((name, args)) = toks.split_first() else {
            return end; // `#` alone does nothing.
        };
        let last = args.last().unwrap_or(name).src.unwrap_or_default();
        let d = Directive {
            name,
            args,
            span: Span::new(hash, last.end),
        };
        if let Err(e) = self.dispatch(&d) {
            self.diags.push(e);
        }
        end
    }

    fn dispatch(&mut self, d: &Directive) -> Result<(), Diagnostic> {
        let word = if d.name.kind == Kind::Ident {
            d.name.text.as_str()
        } else {
            ""
        };
        match word {
            "if" | "ifdef" | "ifndef" => {
                let outer = self.active();
                // A group whose condition is wrong is still a group (so
                // its `#endif` matches), with every branch skipped.
                let cond = if outer {
                    self.condition(word, d)
                } else {
                    Ok(false)
                };
                let active = *cond.as_ref().unwrap_or(&false);
                self.conds.push(Cond {
                    opened: d.span,
                    outer,
                    taken: active || cond.is_err(),
                    active,
                    in_else: false,
                });
                cond.map(|_| ())
            }
            "elif" | "elifdef" | "elifndef" | "else" => self.alternative(word, d),
            "endif" => match self.conds.pop() {
                Some(_) => Ok(()),
                None => Err(Diagnostic::new(d.span, "`#endif` without `#if`")
                    .with_label("nothing to end here")),
            },
            // In a skipped group only the conditionals above count.
            _ if !self.active() => Ok(()),
            "define" => self.define(d),
            "undef" => {
                let name = one_name(d)?;
                self.macros.undefine(&name.text);
                Ok(())
            }
            "include" | "include_next" => self.include(d),
            "error" => {
                let text = self.rest(d);
                Err(Diagnostic::new(d.span, format!("#error {text}"))
                    .with_label("`#error` directive"))
            }
            "warning" | "pragma" | "line" | "ident" | "sccs" => Ok(()),
            _ => Err(unknown_directive(d)),
        }
    }

    /// The text after a directive's name, as written.
    fn rest(&self, d: &Directive) -> &'a str {
        let (Some(first), Some(last)) = (d.args.first(), d.args.last()) else {
            return "";
        };
        let (a, b) = (first.src.unwrap_or_default(), last.src.unwrap_or_default());
        self.src.get(a.start..b.end).unwrap_or("")
    }

    /// Whether the condition of `#if`/`#ifdef`/`#ifndef`/`#elif...` holds.
    fn condition(&mut self, word: &str, d: &Directive) -> Result<bool, Diagnostic> {
        match word {
            "ifdef" | "elifdef" => Ok(self.macros.is_defined(&one_name(d)?.text)),
            "ifndef" | "elifndef" => Ok(!self.macros.is_defined(&one_name(d)?.text)),
            _ => {
                let macros = &self.macros;
                let toks = cond::replace_defined(d.args.to_vec(), |n| macros.is_defined(n))?;
                let mut ex = Expander::new(&self.macros, &mut self.map, &mut self.budget);
                let toks = ex.expand(toks)?;
                let toks: Vec<Tok> = toks.into_iter().filter(|t| !t.kind.is_space()).collect();
                let map = &self.map;
                let place = |t: &Tok| match (t.made_by, t.src) {
                    (Some(n), _) => map.use_span(n),
                    (None, s) => s.unwrap_or(d.span),
                };
                cond::evaluate(&toks, place, d.span)
            }
        }
    }

    /// `#elif...` or `#else`.
    fn alternative(&mut self, word: &str, d: &Directive) -> Result<(), Diagnostic> {
        let Some(c) = self.conds.last() else {
            return Err(Diagnostic::new(d.span, format!("`#{word}` without `#if`"))
                .with_label("no `#if` is open here"));
        };
        if c.in_else {
            return Err(Diagnostic::new(d.span, format!("`#{word}` after `#else`"))
                .with_label("the group already had its `#else`")
                .with_related(c.opened, "the group opened here"));
        }
        let (outer, taken) = (c.outer, c.taken);
        let cond = match word {
            _ if !outer || taken => Ok(false),
            "else" => Ok(true),
            _ => self.condition(word, d),
        };
        let active = *cond.as_ref().unwrap_or(&false);
        if let Some(c) = self.conds.last_mut() {
            c.active = active;
            c.taken |= active || cond.is_err();
            c.in_else = word == "else";
        }
        cond.map(|_| ())
    }

    fn define(&mut self, d: &Directive) -> Result<(), Diagnostic> {
        let Some((name, rest)) = d.args.split_first() else {
            return Err(Diagnostic::new(d.span, "macro name missing")
                .with_label("`#define` needs a name")
                .with_help("`#define NAME value` or `#define NAME(a, b) value`"));
        };
        let at = name.src.unwrap_or(d.span);
        if name.kind != Kind::Ident {
            return Err(Diagnostic::new(
                at,
                format!("macro names must be identifiers, not `{}`", name.text),
            )
            .with_label("not a name"));
        }
        if name.text == "defined" {
            return Err(Diagnostic::new(at, "`defined` cannot be a macro name")
                .with_label("reserved by `#if`"));
        }
        let function = rest
            .first()
            .is_some_and(|t| t.kind == Kind::Punct && t.text == "(" && !t.space);
        let (params, variadic, body) = if function {
            let (params, variadic, used) = parameters(&name.text, rest)?;
            (Some(params), variadic, rest.get(used..).unwrap_or(&[]))
        } else {
            (None, false, rest)
        };
        let body = body
            .iter()
            .enumerate()
            .map(|(i, t)| BodyTok {
                kind: t.kind,
                text: t.text.clone(),
                space: t.space && i > 0,
                param: params.as_ref().and_then(|ps| {
                    (t.kind == Kind::Ident)
                        .then(|| ps.iter().position(|p| *p == t.text))
                        .flatten()
                }),
            })
            .collect::<Vec<_>>();
        check_body(&name.text, &body, params.is_some(), d, rest)?;
        self.macros.define(Macro {
            name: name.text.clone(),
            params,
            variadic,
            body,
            defined_at: Some(at),
        });
        Ok(())
    }

    fn include(&mut self, d: &Directive) -> Result<(), Diagnostic> {
        let text = self.rest(d).trim();
        let (system, close) = match text.chars().next() {
            Some('<') => (true, '>'),
            Some('"') => (false, '"'),
            _ => {
                return Err(
                    Diagnostic::new(d.span, "`#include` expects \"FILE\" or <FILE>")
                        .with_label("no file named"),
                )
            }
        };
        let inner = &text[1..];
        let Some(end) = inner.find(close) else {
            return Err(Diagnostic::new(
                d.span,
                format!("`#include` is missing its closing `{close}`"),
            )
            .with_label("unterminated file name"));
        };
        self.includes.push(Include {
            path: inner[..end].to_string(),
            system,
            span: d.span,
        });
        Ok(())
    }
}

/// If the line starting at `pos` is a directive (its first non-blank
/// character is `#`), where the `#` is.
fn directive_at(src: &str, pos: usize) -> Option<usize> {
    let line = src.get(pos..)?;
    let blank = line
        .bytes()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c'))
        .count();
    (line.as_bytes().get(blank) == Some(&b'#')).then_some(pos + blank)
}

/// The one macro name `#ifdef`, `#ifndef` and `#undef` take.
fn one_name<'t>(d: &Directive<'t>) -> Result<&'t Tok, Diagnostic> {
    match d.args.first() {
        Some(t) if t.kind == Kind::Ident => Ok(t),
        _ => Err(
            Diagnostic::new(d.span, format!("`#{}` needs a macro name", d.name.text))
                .with_label("no name here"),
        ),
    }
}

/// The parameter list of function-like macro `name` (`toks` starts at
/// its `(`): the names (`__VA_ARGS__` last for `...`), whether it is
/// variadic, and how many tokens it took.
fn parameters(name: &str, toks: &[Tok]) -> Result<(Vec<String>, bool, usize), Diagnostic> {
    let mut params: Vec<String> = Vec::new();
    let mut i = 1;
    let bad = |t: Option<&Tok>, what: &str| {
        let at = t.and_then(|t| t.src).or(toks.first().and_then(|t| t.src));
        Diagnostic::new(
            at.unwrap_or_default(),
            format!("expected {what} in the parameters of macro `{name}`"),
        )
        .with_label(t.map_or("the line ends here".to_string(), |t| {
            format!("found `{}`", t.text)
        }))
    };
    if toks.get(i).is_some_and(|t| t.text == ")") {
        return Ok((params, false, i + 1));
    }
    loop {
        let t = toks.get(i);
        match t {
            Some(t) if t.text == "..." => {
                params.push("__VA_ARGS__".into());
                return match toks.get(i + 1) {
                    Some(c) if c.text == ")" => Ok((params, true, i + 2)),
                    other => Err(bad(other, "`)` after `...`")),
                };
            }
            Some(t) if t.kind == Kind::Ident => {
                if params.contains(&t.text) {
                    return Err(Diagnostic::new(
                        t.src.unwrap_or_default(),
                        format!("duplicate parameter `{}` of macro `{name}`", t.text),
                    )
                    .with_label("named twice"));
                }
                params.push(t.text.clone());
            }
            other => return Err(bad(other, "a parameter name")),
        }
        match toks.get(i + 1) {
            Some(c) if c.text == "," => i += 2,
            Some(c) if c.text == ")" => return Ok((params, false, i + 2)),
            other => return Err(bad(other, "`,` or `)`")),
        }
    }
}

/// C's rules for a body: `##` not at either end; in a function-like
/// macro, `#` before a parameter.
fn check_body(
    name: &str,
    body: &[BodyTok],
    function: bool,
    d: &Directive,
    toks: &[Tok],
) -> Result<(), Diagnostic> {
    let is = |t: Option<&BodyTok>, p: &str| t.is_some_and(|t| t.kind == Kind::Punct && t.text == p);
    let place = |i: usize| {
        let off = toks.len() - body.len();
        toks.get(off + i).and_then(|t| t.src).unwrap_or(d.span)
    };
    if is(body.first(), "##") || is(body.last(), "##") {
        let i = if is(body.first(), "##") {
            0
        } else {
            body.len() - 1
        };
        return Err(Diagnostic::new(
            place(i),
            format!("`##` cannot be at either end of macro `{name}`"),
        )
        .with_label("nothing to paste with")
        .with_help("`##` pastes the tokens on its two sides into one"));
    }
    if function {
        for (i, t) in body.iter().enumerate() {
            if is(Some(t), "#") && body.get(i + 1).is_none_or(|n| n.param.is_none()) {
                return Err(Diagnostic::new(
                    place(i),
                    format!("`#` in macro `{name}` is not followed by a parameter"),
                )
                .with_label("`#` makes a string of a parameter"));
            }
        }
    }
    Ok(())
}

fn unknown_directive(d: &Directive) -> Diagnostic {
    let at = d.name.src.unwrap_or(d.span);
    let word = &d.name.text;
    if word == "!" {
        return Diagnostic::new(d.span, "`#!` is only allowed on the first line")
            .with_label("not the first line")
            .with_help("move the interpreter line to the top of the file");
    }
    let near = nearest(word, DIRECTIVES.iter().copied());
    let help = match near.first() {
        Some(n) => format!("did you mean `#{n}`?"),
        None => format!(
            "the directives are {}",
            DIRECTIVES
                .iter()
                .map(|d| format!("`#{d}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Diagnostic::new(at, format!("unknown preprocessor directive `#{word}`"))
        .with_label("not a directive")
        .with_help(help)
}
