//! bpftrace's text output, as bpftrace 0.17 prints it (compared against
//! its binary): printf text as it comes; a map as `@name[k1, k2]: v`
//! lines in bpftrace's order (`MapDump::printed`), a `kstack` key one
//! frame a line indented by four spaces, `count C, average A, total T`
//! for stats; a histogram as `@name[k]: ` (with its trailing space) and a
//! line per bucket from the lowest to the highest non-empty one —
//! bpftrace's label padded to 16, the count right-aligned in 8, and a bar
//! of up to 52 `@` — and a blank line after each histogram. avg and
//! stats maps end with a blank line, other maps without; an empty map is
//! its blank line alone. At the end, two newlines, then every map.
//! (bpftrace 0.23 writes `@name[k]:` without the trailing space and
//! labels suffixes up to `E` where 0.17 stops at `T`.)

use probecc::lang::manifest::{LhistBounds, ValueKind};

use crate::buckets::lhist_bounds;
use crate::decode::{filled, Bucket, Key, MapDump, Value};

const BAR: usize = 52;

/// One map, as `print()` and the dump at the end show it.
pub fn map(m: &MapDump) -> String {
    let lines: Vec<String> = m
        .printed()
        .iter()
        .map(|e| {
            let head = format!("{}{}", m.name, key(&e.key));
            match &e.value {
                Value::Buckets(b) => format!("{head}: \n{}", histogram(b, m.lhist)),
                v => format!("{head}: {}", scalar(v, m.kind)),
            }
        })
        .collect();
    let mut out = lines.join("\n");
    out.push('\n');
    if matches!(m.kind, ValueKind::Avg | ValueKind::Stats) {
        out.push('\n');
    }
    out
}

/// What bpftrace prints when it ends: two newlines, then every map.
pub fn exit(maps: &[MapDump]) -> String {
    let mut out = String::from("\n\n");
    maps.iter().for_each(|m| out.push_str(&map(m)));
    out
}

/// A value `print()` showed: its text and a newline.
pub fn value(v: &Value) -> String {
    let text = match v {
        Value::Int(i) => i.to_string(),
        Value::Str(s) => s.clone(),
        other => scalar(other, ValueKind::Stats),
    };
    format!("{text}\n")
}

/// A tuple as bpftrace prints it: `(1, cat)`, its elements as they print
/// alone.
fn tuple(elems: &[Value]) -> String {
    let shown: Vec<String> = elems.iter().map(|e| scalar(e, ValueKind::Int)).collect();
    format!("({})", shown.join(", "))
}

/// `Attaching N probes...`
pub fn attached_probes(n: usize) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("Attaching {n} probe{s}...\n")
}

/// `Lost N events`
pub fn lost_events(n: u64) -> String {
    format!("Lost {n} events\n")
}

/// One key part as bpftrace prints it; a stack one frame a line.
pub fn part(k: &Key) -> String {
    match k {
        Key::Int(i) => i.to_string(),
        Key::Str(s) => s.clone(),
        Key::Stack(frames) => {
            let lines: String = frames.iter().map(|f| format!("    {f}\n")).collect();
            format!("\n{lines}")
        }
    }
}

/// `[k1, k2]`, or nothing for a map without a key.
fn key(parts: &[Key]) -> String {
    if parts.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = parts.iter().map(part).collect();
    format!("[{}]", shown.join(", "))
}

fn scalar(v: &Value, kind: ValueKind) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Str(s) => s.clone(),
        Value::Stats { avg, .. } if kind == ValueKind::Avg => avg.to_string(),
        Value::Stats { count, avg, total } => {
            format!("count {count}, average {avg}, total {total}")
        }
        Value::Buckets(_) => String::new(),
        Value::Tuple(elems) => tuple(elems),
    }
}

/// The bucket lines, from the lowest to the highest non-empty bucket.
fn histogram(buckets: &[Bucket], lhist: Option<LhistBounds>) -> String {
    let max = buckets.iter().map(|b| b.count).max().unwrap_or(1).max(1);
    filled(buckets, lhist)
        .iter()
        .map(|b| {
            let label = match lhist {
                Some(l) => lhist_label(l, b.index),
                None => hist_label(b.index),
            };
            let width = (b.count as f32 / max as f32 * BAR as f32) as usize;
            let bar = "@".repeat(width.min(BAR));
            format!("{label:<16}{:>8} |{bar:<BAR$}|\n", b.count)
        })
        .collect()
}

/// 2^p as bpftrace 0.17 labels it: 1, 2, ... 512, 1K, ... 512K, 1M, ...
/// up to `T`.
fn power_label(p: u64) -> String {
    const SUFFIX: [&str; 5] = ["", "K", "M", "G", "T"];
    let unit = (p / 10).min(4);
    format!("{}{}", 1u64 << (p - unit * 10), SUFFIX[unit as usize])
}

/// `hist` bucket `i`'s label: `(..., 0)`, `[0]`, `[1]`, `[2, 4)`, ...
pub fn hist_label(i: u64) -> String {
    match i {
        0 => "(..., 0)".into(),
        1 => "[0]".into(),
        2 => "[1]".into(),
        i => format!("[{}, {})", power_label(i - 2), power_label(i - 1)),
    }
}

/// An lhist bound: `0`, `512`, `1K`, `3M`, `-2K`.
fn number_label(n: i128) -> String {
    const K: i128 = 1024;
    const M: i128 = 1024 * 1024;
    match n {
        0 => "0".into(),
        n if n % M == 0 => format!("{}M", n / M),
        n if n % K == 0 => format!("{}K", n / K),
        n => n.to_string(),
    }
}

/// `lhist` bucket `i`'s label: `(..., min)`, `[lo, hi)`, `[max, ...)`.
pub fn lhist_label(b: LhistBounds, i: u64) -> String {
    match lhist_bounds(b, i) {
        (None, _) => format!("(..., {})", number_label(b.min as i128)),
        (Some(lo), None) => format!("[{}, ...)", number_label(lo)),
        (Some(lo), Some(hi)) => format!("[{}, {})", number_label(lo), number_label(hi)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hist_labels_are_powers_of_two_up_to_t() {
        assert_eq!(hist_label(0), "(..., 0)");
        assert_eq!(hist_label(1), "[0]");
        assert_eq!(hist_label(2), "[1]");
        assert_eq!(hist_label(3), "[2, 4)");
        assert_eq!(hist_label(12), "[1K, 2K)");
        assert_eq!(hist_label(41), "[512G, 1T)");
        assert_eq!(hist_label(65), "[8388608T, 16777216T)");
    }

    #[test]
    fn lhist_labels_use_k_and_m_where_they_divide() {
        let b = LhistBounds {
            min: -2048,
            max: 3 << 20,
            step: 1 << 20,
        };
        assert_eq!(lhist_label(b, 0), "(..., -2K)");
        assert_eq!(lhist_label(b, 1), "[-2K, 1022K)");
        assert_eq!(lhist_label(b, 4), "[3070K, 4094K)");
        assert_eq!(lhist_label(b, 5), "[3M, ...)");
        let b = LhistBounds {
            min: 0,
            max: 10,
            step: 3,
        };
        assert_eq!(lhist_label(b, 4), "[9, 12)");
        assert_eq!(lhist_label(b, 5), "[10, ...)");
    }

    #[test]
    fn a_stack_key_is_one_frame_a_line() {
        let m = MapDump {
            name: "@k".into(),
            kind: ValueKind::Count,
            keyless: false,
            lhist: None,
            entries: vec![crate::decode::Entry {
                key: vec![
                    Key::Str("dd".into()),
                    Key::Stack(vec!["a+1".into(), "b+2".into()]),
                ],
                value: Value::Int(3),
            }],
        };
        assert_eq!(map(&m), "@k[dd, \n    a+1\n    b+2\n]: 3\n");
        assert_eq!(attached_probes(1), "Attaching 1 probe...\n");
        assert_eq!(attached_probes(3), "Attaching 3 probes...\n");
    }
}
