//! Preprocessing tokens: how the preprocessor sees text. Identifiers (the
//! only tokens a macro can replace), pp-numbers (`0x1f`, `1e6`, `10ULL`:
//! never split, so their letters are not identifiers), string and character
//! literals and comments (whose insides are never expanded), bpftrace's
//! `$var` and `@map` (one token each: a macro named `x` leaves `$x` alone),
//! punctuators, whitespace, and newlines outside comments (which end a
//! directive). Scanning never fails: an unterminated literal or comment ends
//! at the end of its line or of the text, and the lexer reports it later.

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ident,
    Number,
    /// A string literal, quotes included, escapes unresolved.
    Str,
    /// A character literal, quotes included.
    Char,
    /// `$name` or `@name` (or a lone `$`/`@`).
    Sigil,
    Punct,
    /// Blanks and comments (a block comment may hold newlines).
    Space,
    /// One `\n` outside any comment or literal.
    Newline,
}

impl Kind {
    /// Whitespace between tokens (a newline included).
    pub fn is_space(self) -> bool {
        matches!(self, Kind::Space | Kind::Newline)
    }
}

/// The punctuators of more than one character, longest first.
const PUNCTS: &[&str] = &[
    "...", "<<=", ">>=", "##", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "->", "++", "--",
    "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
];

/// The token at byte `pos` of `text` (`pos < text.len()`, on a character
/// boundary): its kind and where it ends. In a directive (`directive`), a
/// backslash before a newline joins the next line (it is a blank).
pub fn token_at(text: &str, pos: usize, directive: bool) -> (Kind, usize) {
    let bytes = text.as_bytes();
    let at = |i: usize| bytes.get(i).copied();
    let Some(b) = at(pos) else {
        return (Kind::Space, text.len());
    };
    match b {
        b'\n' => (Kind::Newline, pos + 1),
        b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c' => {
            let mut end = pos + 1;
            while matches!(at(end), Some(b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c')) {
                end += 1;
            }
            (Kind::Space, end)
        }
        b'\\' if directive => match continuation(bytes, pos) {
            Some(end) => (Kind::Space, end),
            None => (Kind::Punct, pos + 1),
        },
        b'/' if at(pos + 1) == Some(b'/') => (Kind::Space, line_end(bytes, pos, directive)),
        b'/' if at(pos + 1) == Some(b'*') => {
            let end = text
                .get(pos + 2..)
                .and_then(|rest| rest.find("*/"))
                .map_or(text.len(), |i| pos + 2 + i + 2);
            (Kind::Space, end)
        }
        b'"' | b'\'' => (
            if b == b'"' { Kind::Str } else { Kind::Char },
            literal_end(bytes, pos, b),
        ),
        b'A'..=b'Z' | b'a'..=b'z' | b'_' => (Kind::Ident, word_end(bytes, pos + 1)),
        b'$' | b'@' => (Kind::Sigil, word_end(bytes, pos + 1)),
        b'0'..=b'9' => (Kind::Number, number_end(bytes, pos)),
        b'.' if at(pos + 1).is_some_and(|c| c.is_ascii_digit()) => {
            (Kind::Number, number_end(bytes, pos))
        }
        _ => {
            let rest = text.get(pos..).unwrap_or("");
            if let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(**p)) {
                return (Kind::Punct, pos + p.len());
            }
            let len = rest.chars().next().map_or(1, char::len_utf8);
            (Kind::Punct, pos + len)
        }
    }
}

/// The end of a backslash-newline (`\` then `\n` or `\r\n`) at `pos`.
fn continuation(bytes: &[u8], pos: usize) -> Option<usize> {
    match (bytes.get(pos + 1), bytes.get(pos + 2)) {
        (Some(b'\n'), _) => Some(pos + 2),
        (Some(b'\r'), Some(b'\n')) => Some(pos + 3),
        _ => None,
    }
}

/// Where a `//` comment from `pos` ends: before the newline (in a
/// directive, a backslash-newline continues it, as in C).
fn line_end(bytes: &[u8], pos: usize, directive: bool) -> usize {
    let mut i = pos;
    while i < bytes.len() && bytes[i] != b'\n' {
        if directive && bytes[i] == b'\\' {
            if let Some(end) = continuation(bytes, i) {
                i = end;
                continue;
            }
        }
        i += 1;
    }
    i
}

/// Where a literal opened by `quote` at `pos` ends: after its closing
/// quote, or before the end of its line.
fn literal_end(bytes: &[u8], pos: usize, quote: u8) -> usize {
    let mut i = pos + 1;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'\n' => return i,
            b'\\' if bytes.get(i + 1).is_some_and(|&n| n != b'\n') => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn word_end(bytes: &[u8], mut i: usize) -> usize {
    while bytes
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        i += 1;
    }
    i
}

/// A pp-number: digits, letters, `_`, `.`, and a sign after an exponent
/// letter (`1e+6`).
fn number_end(bytes: &[u8], pos: usize) -> usize {
    let mut i = pos + 1;
    while let Some(&c) = bytes.get(i) {
        let word = c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
        let exponent_sign = matches!(c, b'+' | b'-')
            && matches!(bytes.get(i - 1), Some(b'e' | b'E' | b'p' | b'P'))
            && !bytes[pos..i].starts_with(b"0x")
            && !bytes[pos..i].starts_with(b"0X");
        if !(word || exponent_sign) {
            break;
        }
        i += 1;
    }
    i
}

/// Whether `text` is exactly one token (not blank), for the result of `##`.
pub fn is_one_token(text: &str) -> bool {
    !text.is_empty() && {
        let (kind, end) = token_at(text, 0, false);
        end == text.len() && !kind.is_space()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, &str)> {
        let mut out = vec![];
        let mut pos = 0;
        while pos < text.len() {
            let (k, end) = token_at(text, pos, false);
            out.push((k, &text[pos..end]));
            pos = end;
        }
        out
    }

    #[test]
    fn words_numbers_and_sigils_are_single_tokens() {
        use Kind::*;
        assert_eq!(
            kinds("$x @m 0x1fULL 1e+6 a_1"),
            vec![
                (Sigil, "$x"),
                (Space, " "),
                (Sigil, "@m"),
                (Space, " "),
                (Number, "0x1fULL"),
                (Space, " "),
                (Number, "1e+6"),
                (Space, " "),
                (Ident, "a_1"),
            ]
        );
        // After a hex number, `+` is an operator.
        assert_eq!(kinds("0xe+1")[0], (Number, "0xe"));
    }

    #[test]
    fn comments_and_literals_hide_their_insides() {
        use Kind::*;
        assert_eq!(
            kinds("\"A /* \\\" */\" /* X\n Y */ // Z\n"),
            vec![
                (Str, "\"A /* \\\" */\""),
                (Space, " "),
                (Space, "/* X\n Y */"),
                (Space, " "),
                (Space, "// Z"),
                (Newline, "\n"),
            ]
        );
        // Unterminated: to the end of the line, or of the text.
        assert_eq!(kinds("\"ab\nc")[0], (Str, "\"ab"));
        assert_eq!(kinds("/* ab")[0], (Space, "/* ab"));
    }

    #[test]
    fn punctuators_are_read_longest_first() {
        use Kind::*;
        assert_eq!(
            kinds("a##b<<=c"),
            vec![
                (Ident, "a"),
                (Punct, "##"),
                (Ident, "b"),
                (Punct, "<<="),
                (Ident, "c")
            ]
        );
        assert_eq!(kinds("é")[0], (Punct, "é"));
    }

    #[test]
    fn directives_continue_over_backslash_newlines() {
        assert_eq!(token_at("\\\nx", 0, true), (Kind::Space, 2));
        assert_eq!(token_at("\\\r\nx", 0, true), (Kind::Space, 3));
        assert_eq!(token_at("\\\nx", 0, false), (Kind::Punct, 1));
        assert_eq!(token_at("// a \\\n b\nc", 0, true), (Kind::Space, 9));
    }

    #[test]
    fn one_token_texts() {
        assert!(is_one_token("ab12"));
        assert!(is_one_token("<<="));
        assert!(!is_one_token("a+"));
        assert!(!is_one_token(""));
        assert!(!is_one_token(" "));
    }
}
