//! The expressions of `#if` and `#elif`: C's integer constant expressions
//! in the preprocessor's terms. `defined NAME` and `defined(NAME)` are
//! decided before macros expand ([`replace_defined`]); after expansion an
//! identifier that is left counts as 0. Arithmetic is C's in `intmax_t` and
//! `uintmax_t` (64 bits): unsigned when either side is, literals unsigned
//! with a `u` suffix or when too large for `intmax_t`; overflow wraps
//! rather than being undefined, and division by zero is an error only
//! where it is evaluated (`#if 0 && 1/0` is fine, as in C).

use super::macros::Tok;
use super::scan::Kind;
use crate::lang::ast::Span;
use crate::lang::diag::Diagnostic;

/// The deepest nesting of parentheses, `?:` and unary operators accepted
/// (C asks for 63 levels of parentheses).
const MAX_DEPTH: usize = 64;

/// A value: its bits, and whether C types it unsigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Val {
    bits: u64,
    unsigned: bool,
}

impl Val {
    fn int(v: i64) -> Val {
        Val {
            bits: v as u64,
            unsigned: false,
        }
    }

    fn truth(b: bool) -> Val {
        Val::int(i64::from(b))
    }

    fn is_true(self) -> bool {
        self.bits != 0
    }
}

type R<T> = Result<T, Diagnostic>;

/// `defined X` / `defined(X)` in `toks` replaced by `1` or `0`.
pub(super) fn replace_defined(toks: Vec<Tok>, is_defined: impl Fn(&str) -> bool) -> R<Vec<Tok>> {
    let mut out = Vec::with_capacity(toks.len());
    let mut it = toks.into_iter().peekable();
    while let Some(t) = it.next() {
        if !(t.kind == Kind::Ident && t.text == "defined") {
            out.push(t);
            continue;
        }
        let start = t.src.unwrap_or_default();
        let paren = it.next_if(|n| n.kind == Kind::Punct && n.text == "(");
        let name = it.next_if(|n| n.kind == Kind::Ident);
        let close = match (&paren, &name) {
            (Some(_), Some(_)) => it.next_if(|n| n.kind == Kind::Punct && n.text == ")"),
            _ => None,
        };
        let (Some(name), true) = (&name, paren.is_none() || close.is_some()) else {
            return Err(Diagnostic::new(start, "`defined` needs a macro name")
                .with_label("here")
                .with_help("write `defined(NAME)` or `defined NAME`"));
        };
        let end = close.as_ref().unwrap_or(name).src.unwrap_or(start);
        let value = if is_defined(&name.text) { "1" } else { "0" };
        out.push(Tok::source(Kind::Number, value, start.to(end), t.space));
    }
    Ok(out)
}

/// The value of an expanded `#if` expression (`whole`: the directive, for
/// messages about what is missing).
pub(super) fn evaluate(toks: &[Tok], place: impl Fn(&Tok) -> Span, whole: Span) -> R<bool> {
    if toks.is_empty() {
        return Err(Diagnostic::new(whole, "`#if` with no expression").with_label("here"));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        place: &place,
        whole,
        depth: 0,
    };
    let v = p.conditional(true)?;
    if let Some(t) = p.toks.get(p.pos) {
        return Err(p.unexpected(t, "an operator"));
    }
    Ok(v.is_true())
}

struct Parser<'a, F> {
    toks: &'a [Tok],
    pos: usize,
    place: &'a F,
    whole: Span,
    depth: usize,
}

/// Binary operators by precedence, loosest first (`||` and `&&` are
/// handled apart, for their short circuit).
const LEVELS: &[&[&str]] = &[
    &["|"],
    &["^"],
    &["&"],
    &["==", "!="],
    &["<", ">", "<=", ">="],
    &["<<", ">>"],
    &["+", "-"],
    &["*", "/", "%"],
];

impl<F: Fn(&Tok) -> Span> Parser<'_, F> {
    fn peek_is(&self, punct: &str) -> bool {
        self.toks
            .get(self.pos)
            .is_some_and(|t| t.kind == Kind::Punct && t.text == punct)
    }

    fn unexpected(&self, t: &Tok, wanted: &str) -> Diagnostic {
        Diagnostic::new(
            (self.place)(t),
            format!("expected {wanted} in `#if`, found `{}`", t.text),
        )
        .with_label("unexpected")
    }

    fn missing(&self, wanted: &str) -> Diagnostic {
        Diagnostic::new(
            self.whole,
            format!("`#if` expression ends where {wanted} should be"),
        )
        .with_label("incomplete")
    }

    fn nest(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Diagnostic::new(
                self.whole,
                format!("`#if` expression nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        Ok(())
    }

    /// `a ? b : c` and below; `live`: the value is used (errors count).
    fn conditional(&mut self, live: bool) -> R<Val> {
        self.nest()?;
        let c = self.logical(live, 0)?;
        let v = if self.peek_is("?") {
            self.pos += 1;
            let a = self.conditional(live && c.is_true())?;
            if !self.peek_is(":") {
                return Err(match self.toks.get(self.pos) {
                    Some(t) => self.unexpected(t, "`:`"),
                    None => self.missing("`:`"),
                });
            }
            self.pos += 1;
            let b = self.conditional(live && !c.is_true())?;
            let unsigned = a.unsigned || b.unsigned;
            let picked = if c.is_true() { a } else { b };
            Val {
                bits: picked.bits,
                unsigned,
            }
        } else {
            c
        };
        self.depth -= 1;
        Ok(v)
    }

    /// `||` (level 0) and `&&` (level 1), then the binary levels.
    fn logical(&mut self, live: bool, level: usize) -> R<Val> {
        if level == 2 {
            return self.binary(live, 0);
        }
        let op = if level == 0 { "||" } else { "&&" };
        let mut v = self.logical(live, level + 1)?;
        while self.peek_is(op) {
            self.pos += 1;
            let short = if level == 0 {
                v.is_true()
            } else {
                !v.is_true()
            };
            let r = self.logical(live && !short, level + 1)?;
            v = Val::truth(if level == 0 {
                v.is_true() || r.is_true()
            } else {
                v.is_true() && r.is_true()
            });
        }
        Ok(v)
    }

    fn binary(&mut self, live: bool, level: usize) -> R<Val> {
        let Some(ops) = LEVELS.get(level) else {
            return self.unary(live);
        };
        let mut v = self.binary(live, level + 1)?;
        while let Some(op) = ops.iter().find(|op| self.peek_is(op)) {
            let at = self.pos;
            self.pos += 1;
            let r = self.binary(live, level + 1)?;
            v = self.apply(op, v, r, live, at)?;
        }
        Ok(v)
    }

    fn apply(&self, op: &str, a: Val, b: Val, live: bool, at: usize) -> R<Val> {
        let unsigned = a.unsigned || b.unsigned;
        let (x, y) = (a.bits, b.bits);
        let (sx, sy) = (x as i64, y as i64);
        let cmp = |u: bool, s: bool| Val::truth(if unsigned { u } else { s });
        let arith = |bits: u64| Val { bits, unsigned };
        Ok(match op {
            "|" => arith(x | y),
            "^" => arith(x ^ y),
            "&" => arith(x & y),
            "==" => Val::truth(x == y),
            "!=" => Val::truth(x != y),
            "<" => cmp(x < y, sx < sy),
            ">" => cmp(x > y, sx > sy),
            "<=" => cmp(x <= y, sx <= sy),
            ">=" => cmp(x >= y, sx >= sy),
            "+" => arith(x.wrapping_add(y)),
            "-" => arith(x.wrapping_sub(y)),
            "*" => arith(x.wrapping_mul(y)),
            "<<" | ">>" => {
                // The left operand's type; counts past the width (or
                // negative) shift everything out.
                let count = if b.unsigned || sy >= 0 { y } else { u64::MAX };
                let bits = match (op, count >= 64) {
                    ("<<", true) => 0,
                    ("<<", false) => x << count,
                    (_, true) if !a.unsigned && sx < 0 => u64::MAX,
                    (_, true) => 0,
                    (_, false) if a.unsigned => x >> count,
                    (_, false) => (sx >> count) as u64,
                };
                Val {
                    bits,
                    unsigned: a.unsigned,
                }
            }
            _ => {
                // `/` and `%`.
                if y == 0 {
                    if !live {
                        return Ok(arith(0));
                    }
                    let span = self.toks.get(at).map_or(self.whole, |t| (self.place)(t));
                    return Err(Diagnostic::new(span, "division by zero in `#if`")
                        .with_label("divides by zero"));
                }
                let div = op == "/";
                arith(match (unsigned, div) {
                    (true, true) => x / y,
                    (true, false) => x % y,
                    (false, true) => sx.wrapping_div(sy) as u64,
                    (false, false) => sx.wrapping_rem(sy) as u64,
                })
            }
        })
    }

    fn unary(&mut self, live: bool) -> R<Val> {
        for op in ["-", "+", "~", "!"] {
            if self.peek_is(op) {
                self.pos += 1;
                self.nest()?;
                let v = self.unary(live)?;
                self.depth -= 1;
                return Ok(match op {
                    "-" => Val {
                        bits: v.bits.wrapping_neg(),
                        ..v
                    },
                    "~" => Val { bits: !v.bits, ..v },
                    "!" => Val::truth(!v.is_true()),
                    _ => v,
                });
            }
        }
        self.primary(live)
    }

    fn primary(&mut self, live: bool) -> R<Val> {
        let Some(t) = self.toks.get(self.pos) else {
            return Err(self.missing("a value"));
        };
        self.pos += 1;
        match t.kind {
            Kind::Number => number(&t.text).ok_or_else(|| {
                Diagnostic::new(
                    (self.place)(t),
                    format!("`{}` is not an integer constant", t.text),
                )
                .with_label("in this `#if`")
                .with_help("`#if` computes with integers: 10, 0x1f, 017, 1u")
            }),
            Kind::Char => character(&t.text).ok_or_else(|| {
                Diagnostic::new(
                    (self.place)(t),
                    format!("bad character constant {}", t.text),
                )
                .with_label("in this `#if`")
            }),
            // A name no macro defines.
            Kind::Ident => Ok(Val::int(0)),
            Kind::Punct if t.text == "(" => {
                let v = self.conditional(live)?;
                if !self.peek_is(")") {
                    return Err(match self.toks.get(self.pos) {
                        Some(n) => self.unexpected(n, "`)`"),
                        None => self.missing("`)`"),
                    });
                }
                self.pos += 1;
                Ok(v)
            }
            _ => Err(self.unexpected(t, "a value")),
        }
    }
}

/// A C integer constant: decimal, `0x` hex, `0b` binary or `0` octal, with
/// `u`/`l` suffixes.
fn number(text: &str) -> Option<Val> {
    let lower = text.to_ascii_lowercase();
    let digits = lower.trim_end_matches(['u', 'l']);
    let suffix = &lower[digits.len()..];
    if !matches!(suffix, "" | "u" | "l" | "ul" | "lu" | "ll" | "ull" | "llu") {
        return None;
    }
    let (radix, body) = if let Some(h) = digits.strip_prefix("0x") {
        (16, h)
    } else if let Some(b) = digits.strip_prefix("0b") {
        (2, b)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    let bits = u64::from_str_radix(body, radix).ok()?;
    Some(Val {
        bits,
        unsigned: suffix.contains('u') || bits > i64::MAX as u64,
    })
}

/// A character constant: `'a'`, `'\n'`, `'\0'`, `'\x41'`, `'\101'`.
fn character(text: &str) -> Option<Val> {
    let inner = text.strip_prefix('\'')?.strip_suffix('\'')?;
    let v = match inner.strip_prefix('\\') {
        None => {
            let mut cs = inner.chars();
            let c = cs.next()?;
            if cs.next().is_some() {
                return None;
            }
            u32::from(c) as i64
        }
        Some(esc) => match esc {
            "n" => 10,
            "t" => 9,
            "r" => 13,
            "a" => 7,
            "b" => 8,
            "f" => 12,
            "v" => 11,
            "\\" | "'" | "\"" | "?" => i64::from(esc.as_bytes()[0]),
            _ => match esc.strip_prefix('x') {
                Some(hex) => i64::from_str_radix(hex, 16).ok()?,
                None => i64::from_str_radix(esc, 8).ok()?,
            },
        },
    };
    Some(Val::int(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::preprocess::scan::token_at;

    fn toks(text: &str) -> Vec<Tok> {
        let mut out = vec![];
        let mut pos = 0;
        while pos < text.len() {
            let (kind, end) = token_at(text, pos, true);
            if !kind.is_space() {
                out.push(Tok::source(
                    kind,
                    &text[pos..end],
                    Span::new(pos, end),
                    false,
                ));
            }
            pos = end;
        }
        out
    }

    fn eval(text: &str) -> Result<bool, String> {
        let t = replace_defined(toks(text), |n| n == "X").map_err(|d| d.message)?;
        evaluate(&t, |t| t.src.unwrap_or_default(), Span::new(0, text.len())).map_err(|d| d.message)
    }

    #[test]
    fn c_arithmetic() {
        for yes in [
            "1",
            "2 + 3 * 4 == 14",
            "(2 + 3) * 4 == 20",
            "-1 < 0",
            "-1 > 0u",
            "0xffffffffffffffff == -1",
            "0xffffffffffffffff > 0",
            "1 << 63 < 0",
            "1u << 63 > 0",
            "-8 >> 1 == -4",
            "7 / 2 == 3 && 7 % 2 == 1 && -7 / 2 == -3",
            "010 == 8 && 0b101 == 5 && 10UL == 10",
            "~0 == -1 && !0 && !!5",
            "1 ? 2 : 3",
            "0 ? 0 : 1",
            "'a' == 97 && '\\n' == 10 && '\\x41' == 65 && '\\101' == 65",
            "(3 & 6) == 2 && (3 | 4) == 7 && (3 ^ 1) == 2",
            "1 <= 1 && 2 >= 1 && 1 != 2",
            "UNDEFINED_NAME == 0",
        ] {
            assert_eq!(eval(yes), Ok(true), "{yes}");
        }
        for no in ["0", "1 - 1", "2 < 1", "0 || 0", "1 && 0", "-1 > 0"] {
            assert_eq!(eval(no), Ok(false), "{no}");
        }
    }

    #[test]
    fn defined_in_both_spellings() {
        assert_eq!(eval("defined X && defined(X)"), Ok(true));
        assert_eq!(eval("defined Y || defined ( Y )"), Ok(false));
        assert_eq!(eval("!defined(Y)"), Ok(true));
        assert!(eval("defined").unwrap_err().contains("needs a macro name"));
        assert!(eval("defined(X")
            .unwrap_err()
            .contains("needs a macro name"));
    }

    #[test]
    fn division_by_zero_only_where_evaluated() {
        assert_eq!(eval("0 && 1 / 0"), Ok(false));
        assert_eq!(eval("1 || 1 % 0"), Ok(true));
        assert_eq!(eval("1 ? 1 : 1 / 0"), Ok(true));
        assert_eq!(eval("1 / 0").unwrap_err(), "division by zero in `#if`");
    }

    #[test]
    fn malformed_expressions_are_errors() {
        for (text, msg) in [
            ("", "`#if` with no expression"),
            ("1 +", "ends where a value should be"),
            ("(1", "ends where `)` should be"),
            ("1 2", "expected an operator in `#if`, found `2`"),
            ("1 ? 2", "ends where `:` should be"),
            ("1.5", "`1.5` is not an integer constant"),
            ("08", "`08` is not an integer constant"),
            ("99999999999999999999", "is not an integer constant"),
            ("\"s\"", "expected a value in `#if`, found `\"s\"`"),
            ("'ab'", "bad character constant"),
        ] {
            let e = eval(text).unwrap_err();
            assert!(e.contains(msg), "{text}: {e}");
        }
        let deep = format!("{}1{}", "(".repeat(1000), ")".repeat(1000));
        assert!(eval(&deep).unwrap_err().contains("nested too deeply"));
        let neg = "- ".repeat(1000) + "1";
        assert!(eval(&neg).unwrap_err().contains("nested too deeply"));
    }
}
