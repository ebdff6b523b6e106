//! The lexer of the spec language: source text → [`Token`]s with byte spans,
//! plus the raw scanning of attach points (`kprobe:foo.isra.0+0x10`), whose
//! characters (`.`, `*`, `+`) mean something else inside a probe body.
//!
//! It is hand-written and driven by the parser one token at a time (the
//! parser picks the mode: attach point at the top level, ordinary tokens
//! elsewhere), which is how bpftrace's own lexer works and what lets every
//! token carry a precise span. Lexical errors (unterminated strings, bad
//! escapes, stray characters, integers that do not fit in 64 bits) are
//! recorded as [`Diagnostic`]s and lexing goes on, so that one run reports
//! every error of a file. Every step consumes input, so lexing terminates;
//! nothing here can panic on any input.

use super::ast::{BinOp, Span};
use super::diag::Diagnostic;

mod number;
pub use number::{parse_int, parse_number, IntError, DURATIONS};

/// The longest map name: its symbols must stay BTF identifiers.
pub const MAX_MAP_NAME: usize = 64;

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A word: builtin, function, keyword (`if`, `else`, `unroll`,
    /// `delete`) or cast type.
    Ident(String),
    /// `$name` (the name without `$`).
    Var(String),
    /// A positional parameter: `$1` is 1; `$#` (their count) is 0.
    Param(u32),
    /// `@name` or `@` (the name without `@`, empty for `@`).
    Map(String),
    Int(u64),
    /// A string literal with its escapes resolved.
    Str(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Semi,
    Colon,
    Question,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Amp,
    Pipe,
    Caret,
    Bang,
    Tilde,
    Lt,
    Gt,
    Le,
    Ge,
    EqEq,
    Ne,
    Shl,
    Shr,
    AndAnd,
    OrOr,
    /// `=`.
    Assign,
    /// `+=`, `-=`, `*=`, `/=`, `%=`, `&=`, `|=`, `^=`, `<<=`, `>>=`.
    OpAssign(BinOp),
    PlusPlus,
    MinusMinus,
    /// `->`: a member of the struct a pointer points to.
    Arrow,
    /// `.`: a member of a struct.
    Dot,
    /// `..`: a range (`for ($i : 0..10)`).
    DotDot,
    Eof,
}

impl Tok {
    /// How a message names the token: "`+`", "`printf`", "`@m`", "a string
    /// literal", "end of file".
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(w) => format!("`{w}`"),
            Tok::Var(n) => format!("`${n}`"),
            Tok::Param(0) => "`$#`".to_string(),
            Tok::Param(n) => format!("`${n}`"),
            Tok::Map(n) => format!("`@{n}`"),
            Tok::Int(v) => format!("`{v}`"),
            Tok::Str(_) => "a string literal".into(),
            Tok::Eof => "end of file".into(),
            Tok::OpAssign(op) => format!("`{}=`", op.symbol()),
            other => format!("`{}`", other.symbol()),
        }
    }

    /// The spelling of a punctuation token (empty for the others).
    pub fn symbol(&self) -> &'static str {
        match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Semi => ";",
            Tok::Colon => ":",
            Tok::Question => "?",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Amp => "&",
            Tok::Pipe => "|",
            Tok::Caret => "^",
            Tok::Bang => "!",
            Tok::Tilde => "~",
            Tok::Lt => "<",
            Tok::Gt => ">",
            Tok::Le => "<=",
            Tok::Ge => ">=",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::Shl => "<<",
            Tok::Shr => ">>",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Assign => "=",
            Tok::PlusPlus => "++",
            Tok::MinusMinus => "--",
            Tok::Arrow => "->",
            Tok::Dot => ".",
            Tok::DotDot => "..",
            Tok::Ident(_)
            | Tok::Var(_)
            | Tok::Param(_)
            | Tok::Map(_)
            | Tok::Int(_)
            | Tok::Str(_)
            | Tok::OpAssign(_)
            | Tok::Eof => "",
        }
    }
}

/// A token and the text it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// A piece of an attach point scanned raw: its text and span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub span: Span,
}

/// The message of an unterminated string literal (the parser recognises
/// it, to keep quiet about what the string swallowed).
pub const UNTERMINATED_STRING: &str = "unterminated string literal";

/// Words that start a probe or another top-level item without a `:`.
pub const TOP_LEVEL_WORDS: &[&str] = &[
    "BEGIN", "END", "begin", "end", "config", "macro", "struct", "union", "enum", "let", "fn",
    "subprog", "import",
];

/// The escapes a string literal may use, for messages.
const ESCAPES_HELP: &str =
    "supported escapes: `\\n`, `\\t`, `\\r`, `\\\\`, `\\\"`, `\\0`..`\\177` (octal), `\\xNN` (hex)";

/// Cursor over the source. The parser asks for one token at a time with
/// [`Lexer::next_token`] or for attach-point pieces with the `attach_*`
/// methods, and may move the cursor back to a token's start with
/// [`Lexer::set_pos`] to re-read it in the other mode.
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    diags: Vec<Diagnostic>,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            diags: Vec::new(),
        }
    }

    /// Byte offset of the cursor.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Moves the cursor to `pos` (a position this lexer reported: a token
    /// start). Positions that are not on a character boundary are ignored.
    pub fn set_pos(&mut self, pos: usize) {
        if self.src.is_char_boundary(pos) {
            self.pos = pos;
        }
    }

    /// Whether the cursor is at the end of the text (call after
    /// [`Lexer::skip_trivia`] to ask whether only trivia is left).
    pub fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    /// The lexical errors found so far.
    pub fn diags(&self) -> &[Diagnostic] {
        &self.diags
    }

    /// Takes the lexical errors found so far.
    pub fn take_diags(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diags)
    }

    fn byte(&self, off: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + off).copied()
    }

    fn char_at(&self, pos: usize) -> Option<char> {
        self.src.get(pos..).and_then(|s| s.chars().next())
    }

    fn text(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or("")
    }

    fn error(&mut self, d: Diagnostic) {
        // Bounded: the parser stops long before this many.
        if self.diags.len() < 1000 {
            self.diags.push(d);
        }
    }

    /// Skips whitespace and comments.
    pub fn skip_trivia(&mut self) {
        loop {
            match (self.byte(0), self.byte(1)) {
                (Some(b), _) if b.is_ascii_whitespace() => self.pos += 1,
                (Some(b'/'), Some(b'/')) => {
                    let rest = self.src.get(self.pos..).unwrap_or("");
                    self.pos += rest.find('\n').unwrap_or(rest.len());
                }
                (Some(b'/'), Some(b'*')) => {
                    let start = self.pos;
                    let rest = self.src.get(start + 2..).unwrap_or("");
                    match rest.find("*/") {
                        Some(i) => self.pos = start + 2 + i + 2,
                        None => {
                            self.error(
                                Diagnostic::new(
                                    Span::new(start, start + 2),
                                    "unterminated block comment",
                                )
                                .with_label("comment opened here")
                                .with_help("close it with `*/`"),
                            );
                            self.pos = self.src.len();
                        }
                    }
                }
                _ => return,
            }
        }
    }

    /// Scans `[A-Za-z0-9_]*` from the cursor.
    fn word_chars(&mut self) -> &'a str {
        let start = self.pos;
        while self
            .byte(0)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.pos += 1;
        }
        self.text(start, self.pos)
    }

    /// The next ordinary token; [`Tok::Eof`] (repeatedly) at the end.
    pub fn next_token(&mut self) -> Token {
        loop {
            self.skip_trivia();
            let start = self.pos;
            let Some(b) = self.byte(0) else {
                return Token {
                    tok: Tok::Eof,
                    span: Span::new(self.src.len(), self.src.len()),
                };
            };
            let tok = match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'_' => Tok::Ident(self.word_chars().to_string()),
                b'0'..=b'9' => self.number(),
                b'"' => self.string(),
                b'$' => {
                    self.pos += 1;
                    if self.src.as_bytes().get(self.pos) == Some(&b'#') {
                        self.pos += 1;
                        return Token {
                            tok: Tok::Param(0),
                            span: Span::new(start, self.pos),
                        };
                    }
                    let name = self.word_chars();
                    let number = name
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0 && !name.starts_with('0'));
                    if let Some(n) = number {
                        return Token {
                            tok: Tok::Param(n),
                            span: Span::new(start, self.pos),
                        };
                    }
                    if name.is_empty() {
                        self.error(
                            Diagnostic::new(
                                Span::new(start, self.pos),
                                "expected a variable name after `$`",
                            )
                            .with_label("missing name")
                            .with_help("variables are written `$name`"),
                        );
                    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
                        self.error(
                            Diagnostic::new(
                                Span::new(start, self.pos),
                                format!(
                                    "`${name}` is neither a variable nor a positional parameter"
                                ),
                            )
                            .with_label("not a name")
                            .with_help(
                                "variable names start with a letter or `_`; positional \
                                 parameters are `$1`, `$2`... and `$#`",
                            ),
                        );
                    }
                    Tok::Var(name.to_string())
                }
                b'@' => {
                    self.pos += 1;
                    let name = self.word_chars();
                    if name.starts_with(|c: char| c.is_ascii_digit()) {
                        self.error(
                            Diagnostic::new(
                                Span::new(start, self.pos),
                                format!("map name `@{name}` starts with a digit"),
                            )
                            .with_label("invalid map name")
                            .with_help("map names start with a letter or `_`"),
                        );
                    } else if name.len() > MAX_MAP_NAME {
                        // The name becomes ELF and BTF symbols (`AT_name`,
                        // `AT_name_key`), which BTF limits to 127 bytes.
                        self.error(
                            Diagnostic::new(
                                Span::new(start, self.pos),
                                format!(
                                    "map name `@{name}` is {} characters long; at most {MAX_MAP_NAME}",
                                    name.len()
                                ),
                            )
                            .with_label("too long"),
                        );
                    }
                    Tok::Map(name.to_string())
                }
                _ => match self.punct() {
                    Some(t) => t,
                    None => {
                        self.stray_chars();
                        continue;
                    }
                },
            };
            return Token {
                tok,
                span: Span::new(start, self.pos),
            };
        }
    }

    /// Punctuation at the cursor, consumed; `None` (nothing consumed) if the
    /// cursor is not on punctuation.
    fn punct(&mut self) -> Option<Tok> {
        let three = [self.byte(0), self.byte(1), self.byte(2)];
        let (tok, len) = match three {
            [Some(b'<'), Some(b'<'), Some(b'=')] => (Tok::OpAssign(BinOp::Shl), 3),
            [Some(b'>'), Some(b'>'), Some(b'=')] => (Tok::OpAssign(BinOp::Shr), 3),
            [Some(a), Some(b), _] if two_char(a, b).is_some() => (two_char(a, b)?, 2),
            [Some(a), _, _] => (one_char(a)?, 1),
            _ => return None,
        };
        self.pos += len;
        Some(tok)
    }

    /// Consumes a run of characters that start no token and reports them.
    fn stray_chars(&mut self) {
        let start = self.pos;
        while let Some(c) = self.char_at(self.pos) {
            if c.is_ascii_whitespace() || (c.is_ascii() && starts_token(c as u8)) {
                break;
            }
            self.pos += c.len_utf8();
        }
        if self.pos == start {
            // Cannot happen (the caller saw a non-token byte), but never stall.
            self.pos = (start + 1..=self.src.len())
                .find(|&p| self.src.is_char_boundary(p))
                .unwrap_or(self.src.len());
        }
        let text = self.text(start, self.pos);
        let (message, label) = if text.chars().count() == 1 {
            (
                format!("unexpected character `{text}`"),
                "not part of the language",
            )
        } else {
            (
                format!("unexpected characters `{text}`"),
                "not part of the language",
            )
        };
        let mut d = Diagnostic::new(Span::new(start, self.pos), message).with_label(label);
        if text.starts_with('\'') {
            d = d.with_help("string literals use double quotes: \"...\"");
        }
        self.error(d);
    }

    /// An integer literal (see [`parse_number`]).
    fn number(&mut self) -> Tok {
        let start = self.pos;
        let text = self.word_chars();
        let span = Span::new(start, self.pos);
        match parse_number(text) {
            Ok(v) => Tok::Int(v),
            Err(e) => {
                self.error(e.diagnostic(text, span));
                Tok::Int(0)
            }
        }
    }

    /// A string literal; the cursor is on the opening `"`.
    fn string(&mut self) -> Tok {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.byte(0) {
                None | Some(b'\n') => {
                    self.error(
                        Diagnostic::new(Span::new(start, self.pos), UNTERMINATED_STRING)
                            .with_label("missing closing `\"`")
                            .with_help("a string literal ends with `\"` on the line it starts"),
                    );
                    break;
                }
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => self.escape(&mut out),
                Some(_) => match self.char_at(self.pos) {
                    Some(c) => {
                        out.push(c);
                        self.pos += c.len_utf8();
                    }
                    None => self.pos += 1,
                },
            }
        }
        Tok::Str(out)
    }

    /// One escape; the cursor is on the `\`.
    fn escape(&mut self, out: &mut String) {
        let start = self.pos;
        self.pos += 1;
        let simple = match self.byte(0) {
            Some(b'n') => Some('\n'),
            Some(b't') => Some('\t'),
            Some(b'r') => Some('\r'),
            Some(b'\\') => Some('\\'),
            Some(b'"') => Some('"'),
            _ => None,
        };
        if let Some(c) = simple {
            self.pos += 1;
            out.push(c);
            return;
        }
        match self.byte(0) {
            // A line break or the end: the string is unterminated, which the
            // caller reports.
            None | Some(b'\n') => {}
            Some(b'0'..=b'7') => {
                let mut value = 0u32;
                let mut n = 0;
                while n < 3 {
                    let Some(d @ b'0'..=b'7') = self.byte(0) else {
                        break;
                    };
                    value = value * 8 + u32::from(d - b'0');
                    self.pos += 1;
                    n += 1;
                }
                self.escaped_byte(value, start, out);
            }
            Some(b'x') => {
                self.pos += 1;
                let digits: Vec<u32> = (0..2)
                    .map_while(|i| self.byte(i).and_then(|b| (b as char).to_digit(16)))
                    .collect();
                if let [hi, lo] = digits[..] {
                    self.pos += 2;
                    self.escaped_byte(hi * 16 + lo, start, out);
                } else {
                    self.pos += digits.len();
                    self.error(
                        Diagnostic::new(
                            Span::new(start, self.pos),
                            "invalid hex escape in string literal",
                        )
                        .with_label("expected two hex digits after `\\x`")
                        .with_help("write a byte as `\\x0a`"),
                    );
                }
            }
            Some(_) => {
                let c = self.char_at(self.pos).unwrap_or('?');
                self.pos += c.len_utf8();
                self.error(
                    Diagnostic::new(
                        Span::new(start, self.pos),
                        format!("unknown escape sequence `\\{c}` in string literal"),
                    )
                    .with_label("unknown escape")
                    .with_help(ESCAPES_HELP),
                );
            }
        }
    }

    fn escaped_byte(&mut self, value: u32, start: usize, out: &mut String) {
        match char::from_u32(value).filter(|c| c.is_ascii()) {
            Some(c) => out.push(c),
            None => {
                let text = self.text(start, self.pos).to_string();
                self.error(
                    Diagnostic::new(
                        Span::new(start, self.pos),
                        format!("escape `{text}` is not ASCII"),
                    )
                    .with_label("byte above 0x7f")
                    .with_help("string literals hold text; escapes must be at most `\\x7f`"),
                );
            }
        }
    }

    // ---- attach points -------------------------------------------------

    /// Whether the text at the cursor (after trivia) starts like a probe
    /// (`word:`, `BEGIN`, `end`) or another top-level item (`config`,
    /// `macro`, `struct`...). Moves the cursor past trivia only.
    pub fn looks_like_attach(&mut self) -> bool {
        self.skip_trivia();
        let start = self.pos;
        let word = match self.byte(0) {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => self.word_chars(),
            _ => return false,
        };
        let colon = self.byte(0) == Some(b':');
        self.pos = start;
        colon || TOP_LEVEL_WORDS.contains(&word)
    }

    /// The probe type word of an attach point (`kprobe`, `BEGIN`, `uprobe`),
    /// after trivia; `None` (nothing consumed but trivia) if the text there
    /// is not a word.
    pub fn attach_word(&mut self) -> Option<Piece> {
        self.skip_trivia();
        let start = self.pos;
        match self.byte(0) {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
            _ => return None,
        }
        let text = self.word_chars().to_string();
        Some(Piece {
            text,
            span: Span::new(start, self.pos),
        })
    }

    /// `:TARGET` right after the probe type: the target (`[A-Za-z0-9_.*]*`,
    /// possibly empty; its span is the `:` when empty), or `None` without a
    /// `:`.
    pub fn attach_target(&mut self) -> Option<Piece> {
        if self.byte(0) != Some(b':') {
            return None;
        }
        let colon = self.pos;
        self.pos += 1;
        let start = self.pos;
        while self
            .byte(0)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'*'))
        {
            self.pos += 1;
        }
        let text = self.text(start, self.pos).to_string();
        let span = if text.is_empty() {
            Span::new(colon, start)
        } else {
            Span::new(start, self.pos)
        };
        Some(Piece { text, span })
    }

    /// `+OFFSET` right after the target: the offset's text (possibly empty)
    /// with the span of `+OFFSET`, or `None` without a `+`.
    pub fn attach_offset(&mut self) -> Option<Piece> {
        if self.byte(0) != Some(b'+') {
            return None;
        }
        let plus = self.pos;
        self.pos += 1;
        let text = self.word_chars().to_string();
        Some(Piece {
            text,
            span: Span::new(plus, self.pos),
        })
    }

    /// Whatever is glued to the attach point and belongs to none of its
    /// parts (`:mod` in `kprobe:f:mod`, a uprobe's path): the characters up
    /// to whitespace, `,`, `{` or `}` (and `/` unless `with_slash`), or
    /// `None` if there are none.
    pub fn attach_rest(&mut self, with_slash: bool) -> Option<Piece> {
        let start = self.pos;
        while let Some(c) = self.char_at(self.pos) {
            if c.is_whitespace() || matches!(c, ',' | '{' | '}') || (c == '/' && !with_slash) {
                break;
            }
            self.pos += c.len_utf8();
        }
        (self.pos > start).then(|| Piece {
            text: self.text(start, self.pos).to_string(),
            span: Span::new(start, self.pos),
        })
    }
}

/// Whether byte `b` starts some token (or trivia).
fn starts_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_$@\"/".contains(&b) || one_char(b).is_some()
}

fn two_char(a: u8, b: u8) -> Option<Tok> {
    Some(match (a, b) {
        (b'=', b'=') => Tok::EqEq,
        (b'!', b'=') => Tok::Ne,
        (b'<', b'=') => Tok::Le,
        (b'>', b'=') => Tok::Ge,
        (b'<', b'<') => Tok::Shl,
        (b'>', b'>') => Tok::Shr,
        (b'&', b'&') => Tok::AndAnd,
        (b'|', b'|') => Tok::OrOr,
        (b'+', b'+') => Tok::PlusPlus,
        (b'-', b'-') => Tok::MinusMinus,
        (b'-', b'>') => Tok::Arrow,
        (b'.', b'.') => Tok::DotDot,
        (b'+', b'=') => Tok::OpAssign(BinOp::Add),
        (b'-', b'=') => Tok::OpAssign(BinOp::Sub),
        (b'*', b'=') => Tok::OpAssign(BinOp::Mul),
        (b'/', b'=') => Tok::OpAssign(BinOp::Div),
        (b'%', b'=') => Tok::OpAssign(BinOp::Mod),
        (b'&', b'=') => Tok::OpAssign(BinOp::BitAnd),
        (b'|', b'=') => Tok::OpAssign(BinOp::BitOr),
        (b'^', b'=') => Tok::OpAssign(BinOp::BitXor),
        _ => return None,
    })
}

fn one_char(b: u8) -> Option<Tok> {
    Some(match b {
        b'(' => Tok::LParen,
        b')' => Tok::RParen,
        b'{' => Tok::LBrace,
        b'}' => Tok::RBrace,
        b'[' => Tok::LBracket,
        b']' => Tok::RBracket,
        b',' => Tok::Comma,
        b';' => Tok::Semi,
        b':' => Tok::Colon,
        b'?' => Tok::Question,
        b'+' => Tok::Plus,
        b'-' => Tok::Minus,
        b'*' => Tok::Star,
        b'/' => Tok::Slash,
        b'%' => Tok::Percent,
        b'&' => Tok::Amp,
        b'|' => Tok::Pipe,
        b'^' => Tok::Caret,
        b'!' => Tok::Bang,
        b'~' => Tok::Tilde,
        b'<' => Tok::Lt,
        b'>' => Tok::Gt,
        b'=' => Tok::Assign,
        b'.' => Tok::Dot,
        _ => return None,
    })
}

/// All ordinary tokens of `src` (ending with [`Tok::Eof`]) and the lexical
/// errors.
pub fn tokenize(src: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lex = Lexer::new(src);
    let mut out = Vec::new();
    loop {
        let t = lex.next_token();
        let end = t.tok == Tok::Eof;
        out.push(t);
        if end {
            break;
        }
    }
    (out, lex.take_diags())
}

#[cfg(test)]
mod tests;
