//! printf records from the ring buffer rendered as text: a record is a u64
//! format id and the arguments at the manifest's offsets; the format's
//! conversions (`%d %i %u %x %X %s %c %p` with `l`/`ll`, flags `-` and
//! `0`, a width) are applied as C's printf would.

use probecc::lang::manifest::{ArgEntry, ArgKind, Manifest};

use crate::maps::{int, string};

/// One record as a line of text (without the trailing newline), or `None`
/// if its format id is unknown.
pub fn render(record: &[u8], manifest: &Manifest) -> Option<String> {
    let id = int(record, 0, 8, false);
    let entry = manifest.printf.iter().find(|p| p.id as i64 == id)?;
    let mut args = entry.args.iter();
    let mut out = String::new();
    let mut chars = entry.format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&n) = chars.peek() {
            chars.next();
            spec.push(n);
            if n.is_ascii_alphabetic() && n != 'l' && n != 'h' || n == '%' {
                break;
            }
        }
        if spec == "%" {
            out.push('%');
            continue;
        }
        let text = args
            .next()
            .map_or_else(String::new, |a| convert(record, a, &spec));
        out.push_str(&text);
    }
    Some(out.trim_end_matches('\n').to_string())
}

/// One conversion `spec` (the text after `%`) of argument `a`.
fn convert(record: &[u8], a: &ArgEntry, spec: &str) -> String {
    let conv = spec.chars().last().unwrap_or('d');
    let flags: String = spec
        .chars()
        .take_while(|c| *c == '-' || *c == '0')
        .collect();
    let width: usize = spec[flags.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    let (off, size) = (a.offset as usize, a.size as usize);
    let body = if a.kind == ArgKind::String {
        string(record, off, size)
    } else {
        let v = int(record, off, size.min(8), a.signed);
        match conv {
            'x' => format!("{v:x}"),
            'X' => format!("{v:X}"),
            'p' => format!("0x{v:x}"),
            'u' => format!("{}", v as u64),
            'c' => char::from_u32(v as u32)
                .map(String::from)
                .unwrap_or_default(),
            _ => format!("{v}"),
        }
    };
    pad(
        &body,
        width,
        flags.contains('-'),
        flags.contains('0') && a.kind != ArgKind::String,
    )
}

fn pad(body: &str, width: usize, left: bool, zero: bool) -> String {
    let n = body.chars().count();
    if n >= width {
        return body.to_string();
    }
    let fill = width - n;
    if left {
        format!("{body}{}", " ".repeat(fill))
    } else if zero {
        match body.strip_prefix('-') {
            Some(rest) => format!("-{}{rest}", "0".repeat(fill)),
            None => format!("{}{body}", "0".repeat(fill)),
        }
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}
