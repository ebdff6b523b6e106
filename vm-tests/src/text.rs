//! text: maps printed as bpftrace 0.17 prints them — `@name[k1, k2]: v`
//! lines sorted by value for scalar aggregations, `count C, average A,
//! total T` for stats, and histograms with bpftrace's bucket labels, counts
//! and 52-column bars — each map followed by a blank line.

use probecc::lang::manifest::{LhistBounds, ValueKind};

use crate::output::{Bucket, Entry, Key, MapDump, Value};

const BAR: usize = 52;

/// One map, as bpftrace's `print()` and exit dump show it.
pub fn map(m: &MapDump) -> String {
    let mut entries: Vec<&Entry> = m.entries.iter().collect();
    if !matches!(
        m.kind,
        ValueKind::String | ValueKind::Func | ValueKind::Probe | ValueKind::Hist | ValueKind::Lhist
    ) {
        entries.sort_by_key(|e| sort_value(&e.value));
    }
    let mut out = String::new();
    for e in entries {
        let head = format!("{}{}", m.name, key(&e.key));
        match &e.value {
            Value::Buckets(b) => {
                out.push_str(&format!("{head}:\n"));
                out.push_str(&histogram(b, m.lhist));
                out.push('\n');
            }
            v => out.push_str(&format!("{head}: {}\n", scalar(v))),
        }
    }
    if !m
        .entries
        .iter()
        .all(|e| matches!(e.value, Value::Buckets(_)))
    {
        out.push('\n');
    }
    out
}

fn sort_value(v: &Value) -> i128 {
    match v {
        Value::Int(i) => *i,
        Value::Stats { avg, .. } => *avg as i128,
        _ => 0,
    }
}

fn key(parts: &[Key]) -> String {
    if parts.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = parts
        .iter()
        .map(|k| match k {
            Key::Int(i) => i.to_string(),
            Key::Str(s) => s.clone(),
            Key::Stack(frames) => {
                let lines: String = frames.iter().map(|f| format!("        {f}\n")).collect();
                format!("\n{lines}")
            }
        })
        .collect();
    format!("[{}]", shown.join(", "))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Str(s) => s.clone(),
        Value::Stats { count, avg, total } => {
            format!("count {count}, average {avg}, total {total}")
        }
        Value::Buckets(_) => String::new(),
    }
}

/// The buckets from the lowest to the highest non-empty one.
fn histogram(buckets: &[Bucket], lhist: Option<LhistBounds>) -> String {
    let (Some(lo), Some(hi)) = (buckets.first(), buckets.last()) else {
        return String::new();
    };
    let max = buckets.iter().map(|b| b.count).max().unwrap_or(1).max(1);
    let mut out = String::new();
    for i in lo.index..=hi.index {
        let count = buckets.iter().find(|b| b.index == i).map_or(0, |b| b.count);
        let label = match lhist {
            Some(b) => lhist_label(b, i),
            None => hist_label(i),
        };
        let width = (count as f32 / max as f32 * BAR as f32) as usize;
        out.push_str(&format!(
            "{label:<16}{count:>8} |{:<BAR$}|\n",
            "@".repeat(width.min(BAR))
        ));
    }
    out
}

/// bpftrace's power-of-two label: 1, 2, ... 512, 1K, ... 1M, ...
fn power_label(p: u64) -> String {
    const SUFFIX: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    let unit = (p / 10).min(6);
    format!("{}{}", 1u64 << (p - unit * 10), SUFFIX[unit as usize])
}

fn hist_label(i: u64) -> String {
    match i {
        0 => "(..., 0)".into(),
        1 => "[0]".into(),
        2 => "[1]".into(),
        i if i >= 65 => format!("[{}, ...)", power_label(63)),
        i => format!("[{}, {})", power_label(i - 2), power_label(i - 1)),
    }
}

fn number_label(n: i64) -> String {
    const K: i64 = 1024;
    const M: i64 = 1024 * 1024;
    match n {
        0 => "0".into(),
        n if n % M == 0 => format!("{}M", n / M),
        n if n % K == 0 => format!("{}K", n / K),
        n => n.to_string(),
    }
}

fn lhist_label(b: LhistBounds, i: u64) -> String {
    match crate::output::lhist_bounds(b, i) {
        (None, _) => format!("(..., {})", number_label(b.min)),
        (Some(lo), None) => format!("[{}, ...)", number_label(lo as i64)),
        (Some(lo), Some(hi)) => {
            format!("[{}, {})", number_label(lo as i64), number_label(hi as i64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(kind: ValueKind, entries: Vec<Entry>) -> MapDump {
        MapDump {
            name: "@m".into(),
            kind,
            lhist: None,
            entries,
        }
    }

    #[test]
    fn scalars_sort_by_value_like_bpftrace() {
        let e = |k: &str, v| Entry {
            key: vec![Key::Str(k.into())],
            value: Value::Int(v),
        };
        let text = map(&dump(ValueKind::Count, vec![e("a", 5), e("b", 2)]));
        assert_eq!(text, "@m[b]: 2\n@m[a]: 5\n\n");
    }

    #[test]
    fn histograms_have_bpftrace_labels_and_bars() {
        let b = |index, count| Bucket {
            index,
            min: None,
            max: None,
            count,
        };
        let m = dump(
            ValueKind::Hist,
            vec![Entry {
                key: vec![],
                value: Value::Buckets(vec![b(4, 10), b(6, 5)]),
            }],
        );
        let text = map(&m);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "@m:");
        assert_eq!(
            lines[1],
            format!("[4, 8)                {:>2} |{}|", 10, "@".repeat(52))
        );
        assert_eq!(
            lines[2],
            format!("[8, 16)                0 |{}|", " ".repeat(52))
        );
        assert_eq!(
            lines[3],
            format!("[16, 32)               5 |{:<52}|", "@".repeat(26))
        );
        assert_eq!(hist_label(12), "[1K, 2K)");
        assert_eq!(hist_label(0), "(..., 0)");
        let lb = LhistBounds {
            min: 0,
            max: 1024,
            step: 128,
        };
        assert_eq!(lhist_label(lb, 9), "[1K, ...)");
        assert_eq!(lhist_label(lb, 2), "[128, 256)");
    }
}
