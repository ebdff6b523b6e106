//! bpftrace's JSON output (`bpftrace -f json`), one object a line as
//! current bpftrace writes it (`src/output/json.cpp`): `{"type":
//! "printf", "data": "text"}` for each printf; `{"type": "map", "data":
//! {"@name": {"k1,k2": v, ...}}}` for a map (`"@name": v` without a key),
//! `"type": "hist"` for hist/lhist maps with each value an array of
//! buckets `{"min": lo, "max": hi, "count": n}` (`max` inclusive, an open
//! end left out) from the lowest to the highest non-empty one, `"type":
//! "stats"` for avg (the average) and stats (`{"count", "average",
//! "total"}`) maps; `{"type":"attached_probes", "count":N}`. A key is its
//! parts as text joined by `,` with every space removed; an integer a
//! double cannot hold exactly is a string. An empty map prints nothing.
//! (bpftrace 0.17 differs: `{"type": "attached_probes", "data":
//! {"probes": N}}`, `, ` between buckets, spaces kept in keys.)

use probecc::lang::manifest::ValueKind;

use crate::decode::{filled, Bucket, Entry, MapDump, Value};
use crate::output::Chunk;
use crate::text;

/// `s` as a JSON string, escaped as bpftrace escapes it: `"`, `\`, `\n`,
/// `\r`, `\t` with a backslash, other control characters as `\u00XX`.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An integer; one a double cannot hold exactly, as a string.
pub fn number(v: i128) -> String {
    if (v as f64) as i128 == v {
        v.to_string()
    } else {
        format!("\"{v}\"")
    }
}

/// One printf's text.
pub fn printf(text: &str) -> String {
    message("printf", &string(text))
}

/// `{"type": TYPE, "data": DATA}` and a newline.
fn message(kind: &str, data: &str) -> String {
    format!("{{\"type\": \"{kind}\", \"data\": {data}}}\n")
}

/// One chunk of output: `printf`, `time`, `cat`, `syscall` (system) and
/// `value` messages, or a map.
pub fn chunk(c: &Chunk) -> String {
    match c {
        Chunk::Printf(t) => printf(t),
        Chunk::Time(t) => message("time", &string(t)),
        Chunk::Cat(t) => message("cat", &string(t)),
        Chunk::System(t) => message("syscall", &string(t)),
        Chunk::Print(m) => map(m),
        Chunk::Value(v) => {
            let data = match v {
                Value::Int(i) => number(*i),
                Value::Str(s) => string(s),
                Value::Tuple(elems) => tuple(elems),
                other => string(text::value(other).trim_end()),
            };
            message("value", &data)
        }
    }
}

/// `{"type":"attached_probes", "count":N}`
pub fn attached_probes(n: usize) -> String {
    format!("{{\"type\":\"attached_probes\", \"count\":{n}}}\n")
}

/// `{"type":"lost_events", "count":N}`
pub fn lost_events(n: u64) -> String {
    format!("{{\"type\":\"lost_events\", \"count\":{n}}}\n")
}

/// One map, or nothing for an empty map.
pub fn map(m: &MapDump) -> String {
    let entries = m.printed();
    let Some(first) = entries.first() else {
        return String::new();
    };
    let kind = match m.kind {
        ValueKind::Hist | ValueKind::Lhist => "hist",
        ValueKind::Avg | ValueKind::Stats => "stats",
        _ => "map",
    };
    let body = if m.keyless {
        value(&first.value, m)
    } else {
        let pairs: Vec<String> = entries
            .iter()
            .map(|e| format!("{}: {}", string(&key(e)), value(&e.value, m)))
            .collect();
        format!("{{{}}}", pairs.join(", "))
    };
    format!(
        "{{\"type\": \"{kind}\", \"data\": {{{}: {body}}}}}\n",
        string(&m.name)
    )
}

/// Every non-empty map, as bpftrace prints them when it ends.
pub fn exit(maps: &[MapDump]) -> String {
    maps.iter().map(map).collect()
}

/// The key's parts as text, joined by `,`, spaces removed.
fn key(e: &Entry) -> String {
    let parts: Vec<String> = e.key.iter().map(text::part).collect();
    parts.join(",").replace(' ', "")
}

fn value(v: &Value, m: &MapDump) -> String {
    match v {
        Value::Int(i) => number(*i),
        Value::Str(s) => string(s),
        Value::Stats { avg, .. } if m.kind == ValueKind::Avg => number(*avg as i128),
        Value::Stats { count, avg, total } => format!(
            "{{\"count\": {}, \"average\": {}, \"total\": {}}}",
            number(*count as i128),
            number(*avg as i128),
            number(*total as i128)
        ),
        Value::Buckets(b) => {
            let shown: Vec<String> = filled(b, m.lhist).iter().map(bucket).collect();
            format!("[{}]", shown.join(","))
        }
        Value::Tuple(elems) => tuple(elems),
    }
}

/// A tuple as bpftrace's JSON writes it: an array, `[1,"cat"]`, without
/// spaces.
fn tuple(elems: &[Value]) -> String {
    let shown: Vec<String> = elems
        .iter()
        .map(|e| match e {
            Value::Int(i) => number(*i),
            Value::Tuple(inner) => tuple(inner),
            other => string(text::value(other).trim_end_matches('\n')),
        })
        .collect();
    format!("[{}]", shown.join(","))
}

fn bucket(b: &Bucket) -> String {
    let mut out = String::from("{");
    if let Some(lo) = b.min {
        out.push_str(&format!("\"min\": {}, ", number(lo)));
    }
    if let Some(hi) = b.max {
        out.push_str(&format!("\"max\": {}, ", number(hi - 1)));
    }
    out.push_str(&format!("\"count\": {}}}", b.count));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_bpftrace_escapes_them() {
        assert_eq!(
            string("a\"b\\c\n\r\t\u{1}\u{8}\u{c}é"),
            r#""a\"b\\c\n\r\t\u0001\u0008\u000cé""#
        );
    }

    #[test]
    fn integers_a_double_cannot_hold_are_strings() {
        assert_eq!(number(-42), "-42");
        assert_eq!(number(1 << 53), "9007199254740992");
        assert_eq!(number((1 << 53) + 1), "\"9007199254740993\"");
        assert_eq!(number(u64::MAX as i128), "\"18446744073709551615\"");
        assert_eq!(number(i64::MIN as i128), "-9223372036854775808");
        assert_eq!(
            attached_probes(2),
            "{\"type\":\"attached_probes\", \"count\":2}\n"
        );
    }
}
