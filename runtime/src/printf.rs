//! printf: C's printf over the arguments of a printf record, which are
//! 64-bit integers and strings. The conversions `%d %i %u %o %x %X %c %s
//! %p`, bpftrace's `%r` (a `buf()`'s text, as `%s` prints it) and `%%`, with the flags `-`, `0`, `+`, space and `#`, a width, a
//! precision, and the length modifiers `hh` and `h` (which narrow the
//! value, as in C) and `l`, `ll`, `j`, `z`, `t` (which change nothing: an
//! argument is 64 bits wide with or without them, as in bpftrace's
//! printf). `%p` is glibc's: `0x` and the hex digits, `(nil)` for 0. What
//! is not a conversion is copied as it is; a conversion without its
//! argument prints 0 or the empty string.

/// One printf argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    Int(u64),
    Str(String),
}

/// Widths and precisions above this are taken as this: a format is data,
/// and a width of a billion would be a billion bytes.
pub const MAX_WIDTH: usize = 1 << 16;

/// `fmt` applied to `args`.
pub fn format(fmt: &str, args: &[Arg]) -> String {
    let mut out = String::with_capacity(fmt.len());
    let mut next = args.iter();
    let mut rest = fmt;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match Spec::parse(rest) {
            Some((spec, used)) => {
                if spec.conv == '%' {
                    out.push('%');
                } else {
                    out.push_str(&spec.render(next.next()));
                }
                rest = &rest[used..];
            }
            None => {
                out.push('%');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// How wide the value of an integer conversion is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Length {
    /// `hh`: a char.
    Char,
    /// `h`: a short.
    Short,
    /// None, or `l`, `ll`, `j`, `z`, `t`: all 64 bits.
    Full,
}

/// One conversion: `%[flags][width][.precision][length]conv`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: usize,
    precision: Option<usize>,
    length: Length,
    conv: char,
}

/// A run of decimal digits at the start of `s`, capped at [`MAX_WIDTH`],
/// and how many bytes it took.
fn number(s: &str) -> (usize, usize) {
    let used = s.bytes().take_while(u8::is_ascii_digit).count();
    let value = s[..used].bytes().fold(0usize, |n, d| {
        (n.saturating_mul(10) + usize::from(d - b'0')).min(MAX_WIDTH)
    });
    (value, used)
}

impl Spec {
    /// The conversion at the start of `s` (which starts with `%`) and its
    /// length in bytes; `None` if it is not one.
    fn parse(s: &str) -> Option<(Spec, usize)> {
        let mut spec = Spec {
            left: false,
            zero: false,
            plus: false,
            space: false,
            alt: false,
            width: 0,
            precision: None,
            length: Length::Full,
            conv: '%',
        };
        let mut i = 1;
        while let Some(f) = s[i..].chars().next() {
            match f {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                _ => break,
            }
            i += 1;
        }
        let (width, used) = number(&s[i..]);
        spec.width = width;
        i += used;
        if s[i..].starts_with('.') {
            let (precision, used) = number(&s[i + 1..]);
            spec.precision = Some(precision);
            i += 1 + used;
        }
        for (text, length) in [
            ("hh", Length::Char),
            ("h", Length::Short),
            ("ll", Length::Full),
            ("l", Length::Full),
            ("j", Length::Full),
            ("z", Length::Full),
            ("t", Length::Full),
        ] {
            if s[i..].starts_with(text) {
                spec.length = length;
                i += text.len();
                break;
            }
        }
        let conv = s[i..].chars().next()?;
        if !"diouxXcspr%".contains(conv) {
            return None;
        }
        spec.conv = conv;
        Some((spec, i + conv.len_utf8()))
    }

    fn render(&self, arg: Option<&Arg>) -> String {
        let int = match arg {
            Some(Arg::Int(v)) => *v,
            _ => 0,
        };
        match self.conv {
            'd' | 'i' | 'u' | 'o' | 'x' | 'X' => self.integer(int),
            'p' if int == 0 => Spec {
                zero: false,
                ..self.clone()
            }
            .pad("(nil)".into(), ""),
            'p' => Spec {
                alt: true,
                plus: false,
                space: false,
                length: Length::Full,
                conv: 'x',
                ..self.clone()
            }
            .integer(int),
            'c' => self.pad(char::from(int as u8).to_string(), ""),
            _ => {
                let text = match arg {
                    Some(Arg::Str(s)) => s.clone(),
                    Some(Arg::Int(v)) => v.to_string(),
                    None => String::new(),
                };
                self.pad(self.truncate(text), "")
            }
        }
    }

    /// `%s` text cut to the precision, in bytes (at a character boundary).
    fn truncate(&self, mut text: String) -> String {
        if let Some(p) = self.precision {
            let mut end = p.min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        text
    }

    fn integer(&self, v: u64) -> String {
        let signed = matches!(self.conv, 'd' | 'i');
        let (negative, magnitude) = if signed {
            let s = match self.length {
                Length::Char => v as i8 as i64,
                Length::Short => v as i16 as i64,
                Length::Full => v as i64,
            };
            (s < 0, s.unsigned_abs())
        } else {
            let u = match self.length {
                Length::Char => v as u8 as u64,
                Length::Short => v as u16 as u64,
                Length::Full => v,
            };
            (false, u)
        };
        let mut digits = match self.conv {
            'o' => format!("{magnitude:o}"),
            'x' => format!("{magnitude:x}"),
            'X' => format!("{magnitude:X}"),
            _ => magnitude.to_string(),
        };
        if let Some(p) = self.precision {
            if p == 0 && magnitude == 0 {
                digits.clear();
            }
            if digits.len() < p {
                digits.insert_str(0, &"0".repeat(p - digits.len()));
            }
        }
        if self.alt && self.conv == 'o' && !digits.starts_with('0') {
            digits.insert(0, '0');
        }
        let prefix = match (self.conv, self.alt && magnitude != 0) {
            ('x', true) => "0x",
            ('X', true) => "0X",
            _ => "",
        };
        let sign = match (signed, negative) {
            (_, true) => "-",
            (true, false) if self.plus => "+",
            (true, false) if self.space => " ",
            _ => "",
        };
        self.pad(digits, &format!("{sign}{prefix}"))
    }

    /// `head` (a sign or `0x`) and `body` filled to the width: spaces
    /// before, spaces after (`-`), or zeros between the two (`0`, numbers
    /// without a precision).
    fn pad(&self, body: String, head: &str) -> String {
        let len = head.chars().count() + body.chars().count();
        let fill = self.width.saturating_sub(len);
        let numeric = matches!(self.conv, 'd' | 'i' | 'u' | 'o' | 'x' | 'X' | 'p');
        if self.left {
            format!("{head}{body}{}", " ".repeat(fill))
        } else if self.zero && numeric && self.precision.is_none() {
            format!("{head}{}{body}", "0".repeat(fill))
        } else {
            format!("{}{head}{body}", " ".repeat(fill))
        }
    }
}

#[cfg(test)]
mod tests;
