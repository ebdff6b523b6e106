//! printf: bpftrace's printf conversions over decoded arguments — `%d %i
//! %u %x %X %s %c %p` with the length modifiers `l`, `ll`, `h`, `hh`, `z`,
//! `j` (accepted and ignored: every argument is 64 bits wide), the flags
//! `-`, `0`, `+`, space and `#`, a field width and `%%`.

use probecc::lang::manifest::Literal;

/// One printf argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    Int(u64),
    Str(String),
}

/// `fmt` applied to the literal arguments of a `BEGIN`/`END` printf.
pub fn format_literals(fmt: &str, args: &[Literal]) -> String {
    let args: Vec<Arg> = args
        .iter()
        .map(|l| match l {
            Literal::Int(i) => Arg::Int(*i as u64),
            Literal::Str(s) => Arg::Str(s.clone()),
        })
        .collect();
    format(fmt, &args)
}

/// `fmt` applied to `args`; missing arguments print as 0 or "".
pub fn format(fmt: &str, args: &[Arg]) -> String {
    let mut out = String::new();
    let mut next = args.iter();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                _ => break,
            }
            chars.next();
        }
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            spec.width = spec.width * 10 + d as usize;
            chars.next();
        }
        while matches!(chars.peek(), Some('l' | 'h' | 'z' | 'j')) {
            chars.next();
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(conv) => out.push_str(&spec.render(conv, next.next())),
            None => out.push('%'),
        }
    }
    out
}

#[derive(Default)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: usize,
}

impl Spec {
    fn render(&self, conv: char, arg: Option<&Arg>) -> String {
        let int = match arg {
            Some(Arg::Int(v)) => *v,
            _ => 0,
        };
        let text = match conv {
            'd' | 'i' => self.signed(int as i64),
            'u' => int.to_string(),
            'x' => self.prefixed("0x", format!("{int:x}"), int),
            'X' => self.prefixed("0X", format!("{int:X}"), int),
            'o' => format!("{int:o}"),
            'p' => format!("0x{int:x}"),
            'c' => char::from(int as u8).to_string(),
            's' => match arg {
                Some(Arg::Str(s)) => s.clone(),
                Some(Arg::Int(v)) => v.to_string(),
                None => String::new(),
            },
            other => format!("%{other}"),
        };
        let numeric = matches!(conv, 'd' | 'i' | 'u' | 'x' | 'X' | 'o');
        self.pad(text, numeric)
    }

    fn signed(&self, v: i64) -> String {
        match v {
            v if v < 0 => v.to_string(),
            v if self.plus => format!("+{v}"),
            v if self.space => format!(" {v}"),
            v => v.to_string(),
        }
    }

    fn prefixed(&self, prefix: &str, digits: String, v: u64) -> String {
        if self.alt && v != 0 {
            format!("{prefix}{digits}")
        } else {
            digits
        }
    }

    fn pad(&self, text: String, numeric: bool) -> String {
        let len = text.chars().count();
        if len >= self.width {
            return text;
        }
        let fill = self.width - len;
        if self.left {
            format!("{text}{}", " ".repeat(fill))
        } else if self.zero && numeric {
            let sign_len = text
                .find(|c: char| c.is_ascii_alphanumeric())
                .filter(|_| text.starts_with(['-', '+', ' ']))
                .unwrap_or(0);
            let (sign, digits) = text.split_at(sign_len);
            format!("{sign}{}{digits}", "0".repeat(fill))
        } else {
            format!("{}{text}", " ".repeat(fill))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(v: i64) -> Arg {
        Arg::Int(v as u64)
    }

    #[test]
    fn conversions_match_c() {
        let s = |x: &str| Arg::Str(x.into());
        assert_eq!(
            format(
                "%-16s|%6d|%-6u|%08x|%c|\n",
                &[s("dd"), i(42), i(0), i(7), i(68)]
            ),
            "dd              |    42|0     |00000007|D|\n"
        );
        assert_eq!(
            format("%lu %ld %p", &[i(-1), i(-1), i(255)]),
            "18446744073709551615 -1 0xff"
        );
        assert_eq!(
            format("%5s|%-5s|%3d%%", &[s("ab"), s("cd"), i(100)]),
            "   ab|cd   |100%"
        );
        assert_eq!(
            format("%05d %X %#x", &[i(-42), i(255), i(255)]),
            "-0042 FF 0xff"
        );
        assert_eq!(format("%d %s", &[]), "0 ");
    }
}
