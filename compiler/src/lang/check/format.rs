//! printf format strings: the conversions probecc supports (`%d %i %u %x %X
//! %s %c %p`, and `%r` for a `buf()`, with the `l`/`ll` length modifiers on the integer ones, flags
//! `-+ #0`, a width and a precision), and the kind of argument each takes.

use std::iter::Peekable;
use std::str::CharIndices;

/// What an argument of a conversion must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    Int,
    Str,
    /// `%r`: a `buf()`, printed as bpftrace prints one.
    Buf,
}

/// One conversion of a format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversion {
    /// As written: `%-10s`.
    pub text: String,
    pub kind: ArgKind,
}

/// The conversions of `format`, in order; an error message for an
/// unsupported one.
pub fn conversions(format: &str) -> Result<Vec<Conversion>, String> {
    let mut out = Vec::new();
    let mut chars = format.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c != '%' {
            continue;
        }
        if chars.peek().map(|&(_, c)| c) == Some('%') {
            chars.next();
            continue;
        }
        skip(&mut chars, |c| "-+ #0".contains(c));
        skip(&mut chars, |c| c.is_ascii_digit());
        if chars.peek().map(|&(_, c)| c) == Some('.') {
            chars.next();
            skip(&mut chars, |c| c.is_ascii_digit());
        }
        // A length modifier (`hh`, `h`, `l`, `ll`, `j`, `z`, `t`), as C's
        // printf takes them: the renderer narrows the value to it.
        // `longs` counts the modifier's letters; more than two (`hhh`,
        // `lll`, `jj`) is no modifier C has.
        let longs = match chars.peek().map(|&(_, c)| c) {
            Some('h') => skip(&mut chars, |c| c == 'h'),
            Some('j' | 'z' | 't') => 2 * skip(&mut chars, |c| "jzt".contains(c)) - 1,
            _ => skip(&mut chars, |c| c == 'l'),
        };
        let Some((i, conv)) = chars.next() else {
            return Err(format!(
                "`{}` at the end of the format is an incomplete conversion",
                &format[start..]
            ));
        };
        let text = &format[start..i + conv.len_utf8()];
        let kind = match conv {
            'd' | 'i' | 'u' | 'o' | 'x' | 'X' if longs <= 2 => ArgKind::Int,
            'c' | 'p' if longs == 0 => ArgKind::Int,
            's' if longs == 0 => ArgKind::Str,
            'r' if longs == 0 => ArgKind::Buf,
            _ => {
                return Err(format!(
                    "`{text}` is not a printf conversion probecc supports (%d %i %u %o %x %X %s %c %p %r, with hh/h/l/ll/j/z/t, flags and widths)"
                ))
            }
        };
        out.push(Conversion {
            text: text.to_string(),
            kind,
        });
    }
    Ok(out)
}

/// Skips the characters matching `pred`; returns how many.
fn skip(chars: &mut Peekable<CharIndices>, pred: impl Fn(char) -> bool) -> usize {
    let mut n = 0;
    while chars.next_if(|&(_, c)| pred(c)).is_some() {
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(f: &str) -> Vec<(String, ArgKind)> {
        conversions(f)
            .unwrap()
            .into_iter()
            .map(|c| (c.text, c.kind))
            .collect()
    }

    #[test]
    fn supported_conversions() {
        use ArgKind::*;
        let got = kinds("%d %i %u %x %X %s %c %lu %llu %ld %lld %lx %p 100%%\n");
        let texts: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            texts,
            ["%d", "%i", "%u", "%x", "%X", "%s", "%c", "%lu", "%llu", "%ld", "%lld", "%lx", "%p"]
        );
        assert_eq!(got[5].1, Str);
        assert!(got.iter().filter(|(_, k)| *k == Int).count() == 12);
        assert_eq!(
            kinds("%-10s|%5d|%08x|%.3s"),
            vec![
                ("%-10s".into(), Str),
                ("%5d".into(), Int),
                ("%08x".into(), Int),
                ("%.3s".into(), Str)
            ]
        );
    }

    #[test]
    fn unsupported_conversions_are_errors() {
        let e = conversions("%f").unwrap_err();
        assert!(e.starts_with("`%f` is not a printf conversion"), "{e}");
        assert!(conversions("%lls").is_err());
        assert!(conversions("%lllu").is_err());
        // C's other length modifiers, which the renderer narrows by.
        let ok = kinds("%hhd %hu %jd %zu %td %o");
        assert!(ok.iter().all(|(_, k)| *k == ArgKind::Int), "{ok:?}");
        for bad in ["%hhhd", "%jjd", "%hs", "%zs"] {
            assert!(conversions(bad).is_err(), "{bad}");
        }
        let e = conversions("abc %-5").unwrap_err();
        assert!(e.contains("incomplete"), "{e}");
    }
}
