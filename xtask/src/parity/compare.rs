//! One parity case compared: both sides brought to the same shape — the
//! printf lines in order, and the map blocks in the order they were
//! printed (`print()` in END, then bpftrace's exit dump of every map,
//! sorted by name) — then compared map by map under the fixture's rule.
//!
//! bpftrace's side is its parsed stdout (`bpftrace_out`). probecc's side
//! is what the guest's run printed through the runtime (its records acted
//! on in order: the text lines, the maps `print()` showed) and the maps
//! as the run ended.
//! Workload pids become `$pid` and bpftrace's syscall probe names are
//! renamed back to `ksyscall:`/`kretsyscall:` on both sides alike.

use std::collections::BTreeMap;

use probecc::lang::manifest::{Manifest, MapEntry, ValueKind};
use serde::Serialize;
use serde_json::Value as Json;

use super::rules::{Mode, Rule};
use crate::bpftrace_out::{self, Bucket, Item, Value};

/// One side, in the shape both are compared in.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub lines: Vec<String>,
    /// (map, key → value), in print order.
    pub blocks: Vec<(String, BTreeMap<String, Value>)>,
}

/// One differing entry (or printf line), side by side.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Diff {
    /// `@map`, `@map (print 2)` for a later block of the same map, or
    /// `printf`.
    pub what: String,
    pub key: String,
    pub bpftrace: Option<String>,
    pub probecc: Option<String>,
}

/// How pids and probe names are made comparable.
pub struct Normalise<'a> {
    pub pids: &'a [u32],
    pub renames: &'a [(String, String)],
}

impl Normalise<'_> {
    pub(super) fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (theirs, ours) in self.renames {
            out = out.replace(theirs, ours);
        }
        replace_pids(&out, self.pids)
    }
}

/// Every number equal to one of `pids` becomes `$pid`: a maximal run of
/// digits at the start or after a space, `,`, `=`, `[`, `(` or `:` (not
/// `+248`, a stack frame's offset, nor `0x1f8`), ending the text or
/// followed by a character that is not alphanumeric.
fn replace_pids(s: &str, pids: &[u32]) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit()
            && (i == 0 || matches!(chars[i - 1], ' ' | ',' | '=' | '[' | '(' | ':'));
        if !starts {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let end = (i..chars.len())
            .find(|&j| !chars[j].is_ascii_digit())
            .unwrap_or(chars.len());
        let run: String = chars[i..end].iter().collect();
        let bounded = chars.get(end).is_none_or(|c| !c.is_ascii_alphanumeric());
        let is_pid = bounded && run.parse::<u32>().is_ok_and(|d| pids.contains(&d));
        out.push_str(if is_pid { "$pid" } else { &run });
        i = end;
    }
    out
}

/// bpftrace's stdout in the compared shape.
pub fn from_bpftrace(stdout: &str, n: &Normalise) -> Output {
    let mut out = Output::default();
    for item in bpftrace_out::parse(stdout) {
        match item {
            Item::Line(l) => out.lines.push(n.text(&l)),
            Item::Entry { map, key, value } => {
                let key = n.text(&key);
                match out.blocks.last_mut() {
                    Some((m, entries)) if *m == map && !entries.contains_key(&key) => {
                        entries.insert(key, value);
                    }
                    _ => out.blocks.push((map, BTreeMap::from([(key, value)]))),
                }
            }
        }
    }
    drop_zero_scalars(&mut out);
    out
}

/// probecc's side in the compared shape: the text lines of its records
/// in order (BEGIN's and END's among them), the maps `print()` showed in
/// order, then every map as it ended (END's `clear` and `zero` already
/// applied where the run acted on them).
pub fn from_probecc(
    maps: &Json,
    lines: &[String],
    prints: &[Json],
    m: &Manifest,
    n: &Normalise,
) -> Output {
    let decoded = |entry: &MapEntry, entries: Option<&Json>| -> BTreeMap<String, Value> {
        let kind = entry.value.kind;
        entries
            .and_then(Json::as_array)
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|e| Some((n.text(&key(e.get("key")?)), value(e.get("value")?, kind)?)))
            .collect()
    };
    let mut out = Output::default();
    out.lines.extend(lines.iter().map(|l| n.text(l)));
    for p in prints {
        let name = p.get("map").and_then(Json::as_str).unwrap_or_default();
        if let Some(entry) = m.maps.iter().find(|e| e.name == name) {
            out.blocks
                .push((name.to_string(), decoded(entry, p.get("entries"))));
        }
    }
    let mut state: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for entry in &m.maps {
        state.insert(entry.name.clone(), decoded(entry, maps.get(&entry.name)));
    }
    out.blocks.extend(state);
    drop_zero_scalars(&mut out);
    out
}

/// Blocks without entries go; a map without a key holding 0 counts as
/// empty (bpftrace prints `@x: 0` for an empty scalar map, probecc's
/// reader finds nothing).
pub(super) fn drop_zero_scalars(out: &mut Output) {
    for (_, entries) in &mut out.blocks {
        entries.retain(|k, v| !(k.is_empty() && *v == Value::Int(0)));
    }
    out.blocks.retain(|(_, e)| !e.is_empty());
}

/// A decoded key as bpftrace prints it: parts joined by `, `, a stack one
/// frame a line.
fn key(parts: &Json) -> String {
    let Some(parts) = parts.as_array() else {
        return part(parts);
    };
    let text: Vec<String> = parts.iter().map(part).collect();
    bpftrace_out::key_text(&text.join(", "))
}

fn part(p: &Json) -> String {
    match p {
        Json::String(s) => s.clone(),
        Json::Array(frames) => frames.iter().map(part).collect::<Vec<_>>().join("\n"),
        other => other.to_string(),
    }
}

/// A decoded value of a map of `kind` as bpftrace shows it; `None` for a
/// min/max no CPU recorded.
fn value(v: &Json, kind: ValueKind) -> Option<Value> {
    let int = |k: &str| v.get(k).and_then(Json::as_i64).unwrap_or(0);
    Some(match (kind, v) {
        (ValueKind::Hist | ValueKind::Lhist, Json::Array(buckets)) => Value::Buckets(
            buckets
                .iter()
                .map(|b| Bucket {
                    lo: b.get("min").and_then(Json::as_i64),
                    hi: b.get("max").and_then(Json::as_i64),
                    count: b.get("count").and_then(Json::as_i64).unwrap_or(0),
                })
                .filter(|b| b.count != 0)
                .collect(),
        ),
        (ValueKind::Avg, Json::Object(_)) => Value::Int(int("avg")),
        (_, Json::Object(_)) => Value::Stats {
            count: int("count"),
            avg: int("avg"),
            total: int("total"),
        },
        (_, Json::Null) => return None,
        (_, Json::String(s)) => Value::Str(s.clone()),
        (ValueKind::Tuple, Json::Array(elems)) => Value::Str(tuple_text(elems)),
        (_, other) => Value::Int(other.as_i64()?),
    })
}

/// A tuple's elements as bpftrace's text prints the tuple, `(7, dd)`:
/// what the parser reads back from bpftrace's side.
pub fn tuple_text(elems: &[Json]) -> String {
    let shown: Vec<String> = elems
        .iter()
        .map(|e| match e {
            Json::String(s) => s.clone(),
            Json::Array(inner) => tuple_text(inner),
            other => other.to_string(),
        })
        .collect();
    format!("({})", shown.join(", "))
}

/// A value as the report shows it.
pub fn show(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Str(s) => format!("{s:?}"),
        Value::Stats { count, avg, total } => {
            format!("count {count}, average {avg}, total {total}")
        }
        Value::Buckets(b) => b
            .iter()
            .map(|b| {
                let lo = b.lo.map_or("..".into(), |x| x.to_string());
                let hi = b.hi.map_or("..".into(), |x| x.to_string());
                format!("[{lo}, {hi}): {}", b.count)
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// What a `total` comparison compares: recorded values per key.
fn total(v: &Value) -> Option<i64> {
    match v {
        Value::Buckets(b) => Some(b.iter().map(|b| b.count).sum()),
        Value::Stats { count, .. } => Some(*count),
        _ => None,
    }
}

/// Every difference between the two sides under `rule`.
pub fn compare(bpftrace: &Output, probecc: &Output, rule: &Rule) -> Vec<Diff> {
    let mut diffs = lines(&bpftrace.lines, &probecc.lines, rule.printf_mode());
    let mut names: Vec<&String> = bpftrace
        .blocks
        .iter()
        .chain(&probecc.blocks)
        .map(|(m, _)| m)
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        let mode = rule.map_mode(name);
        if mode == Mode::Skip {
            continue;
        }
        let of = |o: &'_ Output| -> Vec<BTreeMap<String, Value>> {
            o.blocks
                .iter()
                .filter(|(m, _)| m == name)
                .map(|(_, e)| e.clone())
                .collect()
        };
        let (theirs, ours) = (of(bpftrace), of(probecc));
        for i in 0..theirs.len().max(ours.len()) {
            let what = match i {
                0 => name.clone(),
                _ => format!("{name} (block {})", i + 1),
            };
            let empty = BTreeMap::new();
            let t = theirs.get(i).unwrap_or(&empty);
            let o = ours.get(i).unwrap_or(&empty);
            diffs.extend(entries(&what, t, o, mode));
        }
    }
    diffs
}

fn entries(
    what: &str,
    theirs: &BTreeMap<String, Value>,
    ours: &BTreeMap<String, Value>,
    mode: Mode,
) -> Vec<Diff> {
    let mut keys: Vec<&String> = theirs.keys().chain(ours.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let (t, o) = (theirs.get(k), ours.get(k));
        let same = match (t, o, mode) {
            (Some(_), Some(_), Mode::Keys) => true,
            (Some(a), Some(b), Mode::Total) => total(a) == total(b),
            (Some(a), Some(b), _) => a == b,
            _ => false,
        };
        if !same {
            let shown = |v: Option<&Value>| {
                v.map(|v| match (mode, total(v)) {
                    (Mode::Total, Some(n)) => format!("{n} values ({})", show(v)),
                    _ => show(v),
                })
            };
            out.push(Diff {
                what: what.to_string(),
                key: k.clone(),
                bpftrace: shown(t),
                probecc: shown(o),
            });
        }
    }
    out
}

/// `line` with every number (`42`, `-7` keeps its `-`, `0xffff8880`)
/// replaced by `#` and runs of spaces as one (a padded field's width
/// follows its number's).
fn mask(line: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let hex = word
            .strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()));
        let dec = !word.is_empty() && word.chars().all(|c| c.is_ascii_digit());
        out.push_str(if hex || dec { "#" } else { word });
        word.clear();
    };
    for c in line.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            if !(c == ' ' && out.ends_with(' ')) {
                out.push(c);
            }
        }
    }
    flush(&mut word, &mut out);
    out
}

fn lines(theirs: &[String], ours: &[String], mode: Mode) -> Vec<Diff> {
    let diff = |i: usize, t: Option<&String>, o: Option<&String>| Diff {
        what: "printf".into(),
        key: format!("line {}", i + 1),
        bpftrace: t.cloned(),
        probecc: o.cloned(),
    };
    match mode {
        Mode::Skip => Vec::new(),
        Mode::Lines if theirs.len() == ours.len() => Vec::new(),
        Mode::Lines => vec![Diff {
            what: "printf".into(),
            key: "lines".into(),
            bpftrace: Some(theirs.len().to_string()),
            probecc: Some(ours.len().to_string()),
        }],
        _ => {
            let masked = mode == Mode::Masked;
            let same = |a: &String, b: &String| if masked { mask(a) == mask(b) } else { a == b };
            (0..theirs.len().max(ours.len()))
                .filter(|&i| match (theirs.get(i), ours.get(i)) {
                    (Some(a), Some(b)) => !same(a, b),
                    _ => true,
                })
                .map(|i| diff(i, theirs.get(i), ours.get(i)))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A tuple value of probecc's report compares as the text bpftrace
    /// prints for it, which is all its parser keeps.
    #[test]
    fn tuples_compare_as_bpftrace_prints_them() {
        assert_eq!(
            value(&json!([7, "dd"]), ValueKind::Tuple),
            Some(Value::Str("(7, dd)".into()))
        );
        assert_eq!(tuple_text(&[json!(-1), json!([2, "x"])]), "(-1, (2, x))");
    }

    #[test]
    fn pids_become_placeholders_only_as_whole_numbers() {
        assert_eq!(
            replace_pids("pid=123 tid=123 x123 0x123 1234 f+123 123a", &[123]),
            "pid=$pid tid=$pid x123 0x123 1234 f+123 123a"
        );
        assert_eq!(replace_pids("123 cat, 123", &[123]), "$pid cat, $pid");
    }

    #[test]
    fn masking_hides_numbers_but_keeps_the_text() {
        assert_eq!(
            mask("dd |   42|0xffff8880abcd"),
            mask("dd |  317|0xffff8880ffff")
        );
        assert_ne!(mask("dd | 42"), mask("cat | 42"));
    }

    #[test]
    fn keys_render_as_bpftrace_prints_them() {
        assert_eq!(key(&json!(["dd", 3])), "dd, 3");
        assert_eq!(key(&json!([["a+1", "b+2"]])), "a+1\nb+2");
        assert_eq!(key(&json!([])), "");
    }

    #[test]
    fn total_mode_compares_counts_not_buckets() {
        let a = BTreeMap::from([(
            String::new(),
            Value::Buckets(vec![Bucket {
                lo: Some(0),
                hi: Some(1),
                count: 5,
            }]),
        )]);
        let b = BTreeMap::from([(
            String::new(),
            Value::Buckets(vec![
                Bucket {
                    lo: Some(1),
                    hi: Some(2),
                    count: 3,
                },
                Bucket {
                    lo: Some(2),
                    hi: Some(4),
                    count: 2,
                },
            ]),
        )]);
        assert!(entries("@h", &a, &b, Mode::Total).is_empty());
        assert_eq!(entries("@h", &a, &b, Mode::Exact).len(), 1);
    }
}
