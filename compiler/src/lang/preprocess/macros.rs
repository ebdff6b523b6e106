//! Macros: their definitions and their expansion, as C specifies it.
//!
//! A use of an object-like macro is replaced by its body; a use of a
//! function-like macro, the name followed by `(`, by its body with each
//! parameter replaced by its argument, fully expanded first (or as written,
//! next to `#` and `##`); `#x` makes a string of the argument, `a ## b`
//! pastes two tokens into one. The result is scanned again, with the rest
//! of the text after it (so a macro may expand to the name of a function-like
//! macro whose arguments follow). Each token remembers the macros it came
//! out of (its "hide set"): a macro that would expand again inside its own
//! expansion is recursion, which C leaves unexpanded and which here is an
//! error naming the macro, since nothing in a bpftrace script can give the
//! name another meaning.
//!
//! Every token knows where it came from: its span in the original when its
//! text is the original's, and the outermost macro use that made it, so
//! the output can be mapped back ([`super::map`]). Expansion is bounded in
//! the text it may make and in how deeply arguments nest, so that no input
//! makes it run away.

use std::collections::{HashMap, VecDeque};

use super::map::{MacroUse, SourceMap};
use super::scan::{is_one_token, token_at, Kind};
use crate::lang::ast::Span;
use crate::lang::diag::Diagnostic;

/// The most text macro expansion may make in one file.
const MAX_EXPANSION: usize = 1 << 20;

/// The deepest nesting of macro calls in macro arguments.
const MAX_DEPTH: usize = 100;

/// A token on its way through expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Tok {
    pub kind: Kind,
    pub text: String,
    /// Where the text is in the original, when it is the original's text.
    pub src: Option<Span>,
    /// The outermost macro use that made it (a use of the source map).
    pub made_by: Option<u32>,
    /// The macros it came out of, which it may not expand to again.
    pub hide: Vec<u32>,
    /// Whitespace comes before it (kept for `#` and for directives).
    pub space: bool,
}

impl Tok {
    /// A token of the original text at `span`.
    pub fn source(kind: Kind, text: &str, span: Span, space: bool) -> Tok {
        Tok {
            kind,
            text: text.to_string(),
            src: Some(span),
            made_by: None,
            hide: Vec::new(),
            space,
        }
    }

    fn is(&self, punct: &str) -> bool {
        self.kind == Kind::Punct && self.text == punct
    }
}

/// A token of a macro's body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct BodyTok {
    pub kind: Kind,
    pub text: String,
    pub space: bool,
    /// The parameter it names, in a function-like macro.
    pub param: Option<usize>,
}

impl BodyTok {
    fn is(&self, punct: &str) -> bool {
        self.kind == Kind::Punct && self.text == punct
    }
}

/// One `#define`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Macro {
    pub name: String,
    /// The parameters of a function-like macro (`__VA_ARGS__` last for
    /// `...`); `None` for an object-like one.
    pub params: Option<Vec<String>>,
    pub variadic: bool,
    pub body: Vec<BodyTok>,
    /// The name in the `#define`; `None` for a predefined macro.
    pub defined_at: Option<Span>,
}

/// The macros defined so far. A definition keeps its number when it is
/// undefined or replaced, so hide sets stay meaningful.
#[derive(Default)]
pub(super) struct Macros {
    defs: Vec<Macro>,
    live: HashMap<String, u32>,
}

impl Macros {
    pub fn define(&mut self, m: Macro) {
        self.live.insert(m.name.clone(), self.defs.len() as u32);
        self.defs.push(m);
    }

    pub fn undefine(&mut self, name: &str) {
        self.live.remove(name);
    }

    pub fn is_defined(&self, name: &str) -> bool {
        self.live.contains_key(name)
    }

    fn get(&self, name: &str) -> Option<(u32, &Macro)> {
        let n = *self.live.get(name)?;
        Some((n, self.defs.get(n as usize)?))
    }

    fn name(&self, n: u32) -> &str {
        self.defs.get(n as usize).map_or("", |m| m.name.as_str())
    }
}

/// Expands macros in token streams, recording each use in a source map.
pub(super) struct Expander<'a> {
    pub macros: &'a Macros,
    pub map: &'a mut SourceMap,
    /// Bytes of text expansion may still make in this file.
    pub budget: &'a mut usize,
    depth: usize,
}

type R<T> = Result<T, Diagnostic>;

impl<'a> Expander<'a> {
    pub fn new(macros: &'a Macros, map: &'a mut SourceMap, budget: &'a mut usize) -> Self {
        Expander {
            macros,
            map,
            budget,
            depth: 0,
        }
    }

    /// The budget a file starts with.
    pub fn budget() -> usize {
        MAX_EXPANSION
    }

    /// `input` with every macro use expanded.
    pub fn expand(&mut self, input: Vec<Tok>) -> R<Vec<Tok>> {
        let mut input = VecDeque::from(input);
        let mut out = Vec::with_capacity(input.len());
        let macros = self.macros;
        while let Some(t) = input.pop_front() {
            let found = match t.kind {
                Kind::Ident => macros.get(&t.text),
                _ => None,
            };
            let Some((n, m)) = found else {
                out.push(t);
                continue;
            };
            if m.params.is_some() && !next_is_open(&input) {
                // A function-like macro's name without `(` is a name.
                out.push(t);
                continue;
            }
            if t.hide.contains(&n) {
                return Err(self.recursion(&t, n, m));
            }
            let made = self.expand_use(t, n, m, &mut input)?;
            for tok in made.into_iter().rev() {
                input.push_front(tok);
            }
        }
        Ok(out)
    }

    /// Where a token is in the original: its own text, or the use that
    /// made it.
    fn place(&self, t: &Tok) -> Span {
        match (t.made_by, t.src) {
            (Some(n), _) => self.map.use_span(n),
            (None, Some(s)) => s,
            (None, None) => Span::default(),
        }
    }

    /// The tokens use `name` (macro `n`) expands to; a function-like
    /// macro's arguments are taken from `input`.
    fn expand_use(
        &mut self,
        name: Tok,
        n: u32,
        m: &Macro,
        input: &mut VecDeque<Tok>,
    ) -> R<Vec<Tok>> {
        let args = match &m.params {
            Some(params) => Some(self.arguments(&name, m, params.len(), input)?),
            None => None,
        };
        let close = args.as_ref().map(|(_, close)| close.clone());
        // Text of the original the use reaches to: its `)` when that is
        // the original's.
        let end = close
            .as_ref()
            .filter(|c| c.made_by.is_none())
            .and_then(|c| c.src)
            .map(|s| s.end);
        let mut made = Vec::new();
        let by = match name.made_by {
            Some(by) => {
                if let Some(end) = end {
                    self.map.extend_use(by, end);
                }
                by
            }
            None => {
                let at = name.src.unwrap_or_default();
                let by = self.map.add_use(MacroUse {
                    span: Span::new(at.start, end.unwrap_or(at.end)),
                    name: m.name.clone(),
                    defined_at: m.defined_at,
                });
                // Marks where the use was, should it expand to nothing.
                made.push(Tok {
                    kind: Kind::Space,
                    text: String::new(),
                    src: None,
                    made_by: Some(by),
                    hide: Vec::new(),
                    space: false,
                });
                by
            }
        };
        let mut hide = name.hide.clone();
        hide.push(n);
        let args = args.map(|(a, _)| a);
        made.extend(self.substitute(m, args, by, &hide, name.space)?);
        Ok(made)
    }

    /// The arguments of a function-like macro (`(` is next in `input`)
    /// and the closing `)`.
    fn arguments(
        &mut self,
        name: &Tok,
        m: &Macro,
        nparams: usize,
        input: &mut VecDeque<Tok>,
    ) -> R<(Vec<Vec<Tok>>, Tok)> {
        while input.front().is_some_and(|t| t.kind.is_space()) {
            input.pop_front();
        }
        input.pop_front(); // `(`
        let mut args: Vec<Vec<Tok>> = vec![Vec::new()];
        let mut depth = 0usize;
        let mut space = false;
        let close = loop {
            let Some(mut t) = input.pop_front() else {
                return Err(Diagnostic::new(
                    self.place(name),
                    format!("unterminated argument list of macro `{}`", m.name),
                )
                .with_label("its `(` is never closed")
                .with_help("a macro's arguments end with `)`, in the same text block"));
            };
            if t.kind.is_space() {
                space = true;
                continue;
            }
            if t.is(")") && depth == 0 {
                break t;
            }
            let last = args.len() == nparams;
            if t.is(",") && depth == 0 && !(m.variadic && last) {
                args.push(Vec::new());
                space = false;
                continue;
            }
            if t.is("(") {
                depth += 1;
            } else if t.is(")") {
                depth -= 1;
            }
            if let Some(arg) = args.last_mut() {
                t.space = space && !arg.is_empty();
                arg.push(t);
            }
            space = false;
        };
        if nparams == 0 && args.len() == 1 && args[0].is_empty() {
            args.clear();
        }
        if m.variadic && args.len() + 1 == nparams {
            args.push(Vec::new());
        }
        if args.len() != nparams {
            let want = if m.variadic {
                format!("at least {}", nparams - 1)
            } else {
                nparams.to_string()
            };
            let span = self.place(name).to(self.place(&close));
            let s = if nparams == 1 && !m.variadic { "" } else { "s" };
            return Err(Diagnostic::new(
                span,
                format!(
                    "macro `{}` takes {want} argument{s}, {} given",
                    m.name,
                    args.len()
                ),
            )
            .with_label("in this use"));
        }
        Ok((args, close))
    }

    /// The body of `m` with its arguments substituted and `#`, `##` done,
    /// each token made by use `by` and hidden from `hide`.
    fn substitute(
        &mut self,
        m: &Macro,
        args: Option<Vec<Vec<Tok>>>,
        by: u32,
        hide: &[u32],
        space: bool,
    ) -> R<Vec<Tok>> {
        let mut args = args.unwrap_or_default();
        for arg in &mut args {
            for t in arg.iter_mut() {
                t.made_by = Some(by);
            }
        }
        let mut expanded: Vec<Option<Vec<Tok>>> = vec![None; args.len()];
        let mut items: Vec<Item> = Vec::new();
        let body = &m.body;
        let mut i = 0;
        while i < body.len() {
            let b = &body[i];
            let pasted = |j: usize| body.get(j).is_some_and(|t| t.is("##"));
            if m.params.is_some() && b.is("#") {
                if let Some(p) = body.get(i + 1).and_then(|t| t.param) {
                    let text = stringify(args.get(p).map_or(&[][..], Vec::as_slice));
                    items.push(Item::Tok(self.made(Kind::Str, text, by, hide, b.space)?));
                    i += 2;
                    continue;
                }
            }
            if b.is("##") {
                items.push(Item::Paste);
            } else if let Some(p) = b.param {
                let raw = pasted(i + 1) || (i > 0 && pasted(i - 1));
                let arg = || args.get(p).cloned().unwrap_or_default();
                let toks = match expanded.get(p).cloned().flatten() {
                    _ if raw => arg(),
                    Some(e) => e,
                    None => {
                        let e = self.expand_argument(arg())?;
                        if let Some(slot) = expanded.get_mut(p) {
                            *slot = Some(e.clone());
                        }
                        e
                    }
                };
                if toks.is_empty() {
                    items.push(Item::Empty);
                }
                for (k, mut t) in toks.into_iter().enumerate() {
                    self.spend(t.text.len(), by)?;
                    t.made_by = Some(by);
                    t.hide.extend_from_slice(hide);
                    if k == 0 {
                        t.space = b.space;
                    }
                    items.push(Item::Tok(t));
                }
            } else {
                let t = self.made(b.kind, b.text.clone(), by, hide, b.space)?;
                items.push(Item::Tok(t));
            }
            i += 1;
        }
        let mut out = self.paste(items, by)?;
        if let Some(first) = out.first_mut() {
            first.space = space;
        }
        Ok(out)
    }

    /// An argument fully expanded on its own.
    fn expand_argument(&mut self, arg: Vec<Tok>) -> R<Vec<Tok>> {
        if self.depth >= MAX_DEPTH {
            let at = arg.first().map_or(Span::default(), |t| self.place(t));
            return Err(Diagnostic::new(
                at,
                format!("macro calls nested too deeply (more than {MAX_DEPTH} levels)"),
            )
            .with_label("in this argument"));
        }
        self.depth += 1;
        let out = self.expand(arg);
        self.depth -= 1;
        out
    }

    /// A token made by use `by`, counted against the budget.
    fn made(&mut self, kind: Kind, text: String, by: u32, hide: &[u32], space: bool) -> R<Tok> {
        self.spend(text.len(), by)?;
        Ok(Tok {
            kind,
            text,
            src: None,
            made_by: Some(by),
            hide: hide.to_vec(),
            space,
        })
    }

    /// Counts `bytes` made by use `by` against the budget.
    fn spend(&mut self, bytes: usize, by: u32) -> R<()> {
        match self.budget.checked_sub(bytes + 1) {
            Some(left) => {
                *self.budget = left;
                Ok(())
            }
            None => Err(Diagnostic::new(
                self.map.use_span(by),
                format!("macro expansion too large: more than {MAX_EXPANSION} bytes in this file"),
            )
            .with_label("while expanding this")),
        }
    }

    /// The items with each `##` done.
    fn paste(&mut self, items: Vec<Item>, by: u32) -> R<Vec<Tok>> {
        let mut out: Vec<Option<Tok>> = Vec::with_capacity(items.len());
        let mut pending = false;
        for item in items {
            let cur = match item {
                Item::Paste => {
                    pending = true;
                    continue;
                }
                Item::Empty => None,
                Item::Tok(t) => Some(t),
            };
            match out.last_mut() {
                Some(last) if pending => {
                    let joined = match (last.take(), cur) {
                        (Some(a), Some(b)) => Some(self.join(a, b, by)?),
                        (a, b) => a.or(b),
                    };
                    *last = joined;
                }
                _ => out.push(cur),
            }
            pending = false;
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// `a ## b`: one token, or an error.
    fn join(&mut self, a: Tok, b: Tok, by: u32) -> R<Tok> {
        let text = format!("{}{}", a.text, b.text);
        if !is_one_token(&text) {
            return Err(Diagnostic::new(
                self.map.use_span(by),
                format!(
                    "pasting `{}` and `{}` does not give a valid token",
                    a.text, b.text
                ),
            )
            .with_label("in this macro use"));
        }
        let (kind, _) = token_at(&text, 0, false);
        let mut hide = a.hide;
        hide.extend(b.hide);
        Ok(Tok {
            kind,
            text,
            src: None,
            made_by: Some(by),
            hide,
            space: a.space,
        })
    }

    fn recursion(&self, t: &Tok, n: u32, m: &Macro) -> Diagnostic {
        let through: Vec<String> = t
            .hide
            .iter()
            .filter(|&&h| h != n)
            .map(|&h| format!("`{}`", self.macros.name(h)))
            .collect();
        let through = if through.is_empty() {
            String::new()
        } else {
            format!(" (through {})", through.join(", "))
        };
        let mut d = Diagnostic::new(
            self.place(t),
            format!("macro `{}` expands to itself{through}", m.name),
        )
        .with_label("recursive macro use")
        .with_help("a macro cannot use itself, directly or through other macros");
        if let Some(def) = m.defined_at {
            d = d.with_related(def, format!("`{}` defined here", m.name));
        }
        d
    }
}

/// A piece of a substituted body before `##` is done.
enum Item {
    Tok(Tok),
    /// An empty argument (a "placemarker"): `##` with it keeps the other side.
    Empty,
    Paste,
}

/// Whether the next token that is not whitespace is `(`.
fn next_is_open(input: &VecDeque<Tok>) -> bool {
    input
        .iter()
        .find(|t| !t.kind.is_space())
        .is_some_and(|t| t.is("("))
}

/// `#x`: the argument's spelling as a string literal.
fn stringify(arg: &[Tok]) -> String {
    let mut s = String::from("\"");
    for (i, t) in arg.iter().enumerate() {
        if i > 0 && t.space {
            s.push(' ');
        }
        if matches!(t.kind, Kind::Str | Kind::Char) {
            for c in t.text.chars() {
                if c == '"' || c == '\\' {
                    s.push('\\');
                }
                s.push(c);
            }
        } else {
            s.push_str(&t.text);
        }
    }
    s.push('"');
    s
}
