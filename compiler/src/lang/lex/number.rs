//! Integer literals of the spec language: bases, `_` separators, C
//! suffixes, `1e6` and duration suffixes, each checked to fit 64 bits,
//! and the diagnostic for one that does not parse.

use crate::lang::ast::Span;
use crate::lang::diag::Diagnostic;

/// The largest literal, for messages.
const U64_MAX_TEXT: &str = "18446744073709551615 (0xffffffffffffffff)";

/// Why an integer literal is invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntError {
    /// No digits (`0x`, or only `_`).
    Empty,
    /// A character that is not a digit of the base.
    BadDigit(char),
    /// A decimal literal with a leading zero (`0755`), which bpftrace
    /// versions read differently (octal or decimal).
    LeadingZero,
    TooLarge,
}

impl IntError {
    /// The diagnostic for literal `text` at `span`.
    pub fn diagnostic(&self, text: &str, span: Span) -> Diagnostic {
        match self {
            IntError::Empty => {
                Diagnostic::new(span, format!("integer literal `{text}` has no digits"))
                    .with_label("missing digits")
                    .with_help("hex literals are written `0x1f`")
            }
            IntError::BadDigit(c) => {
                Diagnostic::new(span, format!("invalid integer literal `{text}`"))
                    .with_label(format!("`{c}` is not a digit here"))
                    .with_help(
                        "integers are decimal (`42`), hex (`0x2a`) or scientific (`1e6`), with optional `_` separators, a C suffix (`42UL`) or a duration (`ns`, `us`, `ms`, `s`, `m`, `h`, `d`)",
                    )
            }
            IntError::LeadingZero => {
                Diagnostic::new(span, format!("integer literal `{text}` has a leading zero"))
                    .with_label("ambiguous: octal or decimal?")
                    .with_help("write decimal without the leading zero, or hex with `0x`")
            }
            IntError::TooLarge => {
                Diagnostic::new(span, format!("integer literal `{text}` is too large"))
                    .with_label("does not fit in 64 bits")
                    .with_help(format!("the largest integer is {U64_MAX_TEXT}"))
            }
        }
    }
}

/// Parses an integer literal: decimal or `0x`/`0X` hex, `_` separators
/// allowed anywhere after the first digit.
pub fn parse_int(text: &str) -> Result<u64, IntError> {
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (text, 10),
    };
    let mut value: u64 = 0;
    let mut any = false;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(radix).ok_or(IntError::BadDigit(c))?;
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(IntError::TooLarge)?;
        any = true;
    }
    if !any {
        return Err(IntError::Empty);
    }
    if radix == 10 && text.len() > 1 && text.starts_with('0') && !text.starts_with("0_") {
        return Err(IntError::LeadingZero);
    }
    Ok(value)
}

/// C's integer suffixes, which bpftrace reads and ignores (lower case).
const INT_SUFFIXES: &[&str] = &["u", "l", "ul", "lu", "ll", "ull", "llu"];

/// bpftrace's duration suffixes: a literal in nanoseconds.
pub const DURATIONS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// Parses an integer literal of an expression as bpftrace reads it: a
/// decimal or hex integer ([`parse_int`]), a decimal in scientific
/// notation (`1e6`: the coefficient times a power of ten), then a C
/// integer suffix (`u`, `l`, `ll`, `ul`, `ull`, any case; ignored) or a
/// duration (`ns`, `us`, `ms`, `s`, `m`, `h`, `d`: the value in
/// nanoseconds, decimal only).
pub fn parse_number(text: &str) -> Result<u64, IntError> {
    let hex = text.starts_with("0x") || text.starts_with("0X");
    let lower = text.to_ascii_lowercase();
    // The longest suffix of C's that leaves digits.
    let c_suffix = INT_SUFFIXES
        .iter()
        .filter(|s| lower.len() > s.len() && lower.ends_with(*s))
        .map(|s| s.len())
        .max();
    if hex {
        let body = &text[..text.len() - c_suffix.unwrap_or(0)];
        return parse_int(body);
    }
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(text.len());
    let (mantissa, rest) = text.split_at(digits_end);
    let (exponent, suffix) = match rest.strip_prefix(['e', 'E']) {
        Some(after) if after.starts_with(|c: char| c.is_ascii_digit()) => {
            let end = after
                .find(|c: char| !c.is_ascii_digit() && c != '_')
                .unwrap_or(after.len());
            (Some(&after[..end]), &after[end..])
        }
        _ => (None, rest),
    };
    let scale = if suffix.is_empty() || INT_SUFFIXES.contains(&suffix.to_ascii_lowercase().as_str())
    {
        1
    } else {
        match DURATIONS.iter().find(|(s, _)| *s == suffix) {
            Some((_, ns)) => *ns,
            None => return Err(IntError::BadDigit(suffix.chars().next().unwrap_or('?'))),
        }
    };
    let mut value = parse_int(mantissa)?;
    if let Some(exp) = exponent {
        let exp: u32 = exp
            .replace('_', "")
            .parse()
            .map_err(|_| IntError::TooLarge)?;
        let pow = 10u64.checked_pow(exp).ok_or(IntError::TooLarge)?;
        value = value.checked_mul(pow).ok_or(IntError::TooLarge)?;
    }
    value.checked_mul(scale).ok_or(IntError::TooLarge)
}
