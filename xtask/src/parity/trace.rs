//! The `probecc trace` side of a parity case judged: what the dist binary
//! printed on the device (bpftrace's JSON lines: `printf` records, and
//! `map`, `hist` and `stats` records of `print()` and the exit dump) read
//! into the shape both sides are compared in (`compare`), then compared
//! with bpftrace's output entry by entry under the fixture's rule, as the
//! object side is. Keys are compared without their whitespace: bpftrace's
//! JSON writes a key's parts joined by `,` with every space removed,
//! which its text cannot be brought to otherwise. The verdict carries
//! the run's measures beside bpftrace's: the time to `Attaching` and the
//! peak resident set.

use std::collections::BTreeMap;

use probecc::lang::manifest::{Manifest, ValueKind};
use probecc_guest::protocol::{ParityReport, ParitySide};
use serde_json::Value as Json;

use super::compare::{self, Normalise, Output};
use super::report::{SpecResult, Verdict};
use super::rules::Rule;
use super::stage::Case;
use crate::bpftrace_out::{Bucket, Value};

/// `key` without whitespace.
fn squash(key: &str) -> String {
    key.chars().filter(|c| !c.is_whitespace()).collect()
}

/// An integer of a JSON value: a number, or a string holding one (bpftrace
/// writes integers a double cannot hold as strings).
fn int(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => n.as_i64().or_else(|| n.as_u64().map(|u| u as i64)),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// One value of a map of `kind` as a record of `record` type writes it.
fn value(record: &str, kind: Option<ValueKind>, v: &Json) -> Option<Value> {
    Some(match (record, v) {
        ("hist", Json::Array(buckets)) => Value::Buckets(
            buckets
                .iter()
                .map(|b| Bucket {
                    lo: b.get("min").and_then(int),
                    // JSON's `max` is the last value the bucket holds.
                    hi: b.get("max").and_then(int).map(|m| m + 1),
                    count: b.get("count").and_then(int).unwrap_or(0),
                })
                .filter(|b| b.count != 0)
                .collect(),
        ),
        ("stats", Json::Object(s)) => Value::Stats {
            count: s.get("count").and_then(int)?,
            avg: s.get("average").and_then(int)?,
            total: s.get("total").and_then(int)?,
        },
        // Text that reads as a number compares as one, as bpftrace's text
        // output parses (a year of strftime, a count), but for a string,
        // func or probe; any other text (a date, a stack, a name) as text.
        (_, Json::String(s)) => match s.parse() {
            Ok(i) if !text(kind) => Value::Int(i),
            _ => Value::Str(s.clone()),
        },
        (_, Json::Array(elems)) if kind == Some(ValueKind::Tuple) => {
            Value::Str(compare::tuple_text(elems))
        }
        (_, v) => Value::Int(int(v)?),
    })
}

/// Whether values of `kind` are text even where they read as a number.
fn text(kind: Option<ValueKind>) -> bool {
    matches!(
        kind,
        Some(ValueKind::String | ValueKind::Func | ValueKind::Probe)
    )
}

/// Whether a record's value is the map's one value (a map without a key)
/// rather than its entries by key.
fn keyless(record: &str, v: &Json) -> bool {
    match v {
        Json::Object(o) if record == "stats" => {
            o.len() == 3
                && ["count", "average", "total"]
                    .iter()
                    .all(|k| o.get(*k).is_some_and(|x| !x.is_object()))
        }
        Json::Object(_) => false,
        _ => true,
    }
}

/// `probecc trace -f json`'s stdout in the compared shape, keys squashed.
pub fn from_json(stdout: &str, m: &Manifest, n: &Normalise) -> Output {
    let mut out = Output::default();
    let mut printed = String::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(record) = serde_json::from_str::<Json>(line) else {
            // Not a record: shown as a line, so that it differs.
            printed.push_str(line);
            printed.push('\n');
            continue;
        };
        let kind = record.get("type").and_then(Json::as_str).unwrap_or("");
        let data = record.get("data");
        match (kind, data) {
            // time() and cat() print where printf does, each in a record
            // type of its own.
            ("printf" | "time" | "cat", Some(Json::String(text))) => printed.push_str(text),
            // print() of a value: a line as bpftrace's text writes it.
            ("value", Some(v)) => {
                printed.push_str(&value_text(v));
                printed.push('\n');
            }
            ("map" | "hist" | "stats", Some(Json::Object(maps))) => {
                for (name, v) in maps {
                    let vk = m
                        .maps
                        .iter()
                        .find(|e| &e.name == name)
                        .map(|e| e.value.kind);
                    let entries: BTreeMap<String, Value> = if keyless(kind, v) {
                        value(kind, vk, v)
                            .map(|v| (String::new(), v))
                            .into_iter()
                            .collect()
                    } else {
                        v.as_object()
                            .into_iter()
                            .flatten()
                            .filter_map(|(k, v)| Some((squash(&n.text(k)), value(kind, vk, v)?)))
                            .collect()
                    };
                    out.blocks.push((name.clone(), entries));
                }
            }
            _ => {}
        }
    }
    // The printed text read as bpftrace's text is read: blank lines
    // skipped, and a printed line shaped like a map entry (tcpsynbl.bt's
    // `@backlog[backlog limit]: histogram of backlog size`) an entry.
    let text = squashed(compare::from_bpftrace(&printed, n));
    out.lines = text.lines;
    out.blocks.splice(0..0, text.blocks);
    compare::drop_zero_scalars(&mut out);
    out
}

/// bpftrace's side with its keys squashed as the JSON's are.
fn squashed(theirs: Output) -> Output {
    Output {
        lines: theirs.lines,
        blocks: theirs
            .blocks
            .into_iter()
            .map(|(m, e)| (m, e.into_iter().map(|(k, v)| (squash(&k), v)).collect()))
            .collect(),
    }
}

/// The verdict on the trace side of case `case`, if it ran one.
pub fn judge(rule: &Rule, case: &Case, r: &ParityReport, version: &str) -> Option<SpecResult> {
    let trace = r.trace.as_ref()?;
    let comm = super::stage::workload_comm(&case.plan.workload).unwrap_or_default();
    let mut res = SpecResult {
        bpftrace_secs: r.bpftrace.secs,
        probecc_secs: trace.secs,
        attach_secs: both(&r.bpftrace, trace, |s| s.attach_secs),
        peak_rss_kb: both(&r.bpftrace, trace, |s| s.peak_rss_kb),
        ..SpecResult::bare(&case.plan.name, Verdict::Failed, super::how(rule, &comm))
    };
    if r.bpftrace.status != 0 {
        res.notes
            .push(format!("bpftrace exited with {}", r.bpftrace.status));
        return Some(res);
    }
    match stderr_notes(&trace.stderr) {
        Some(notes) if trace.status == 0 => res
            .notes
            .extend(notes.iter().map(|n| format!("probecc trace said {n}"))),
        _ => {
            res.notes.push(format!(
                "probecc trace exited with {}: {}",
                trace.status,
                trace.stderr.trim()
            ));
            return Some(res);
        }
    }
    let theirs = squashed(compare::from_bpftrace(
        &r.bpftrace.stdout,
        &Normalise {
            pids: &r.bpftrace.pids,
            renames: &case.renames,
        },
    ));
    let ours = from_json(
        &trace.stdout,
        &case.manifest,
        &Normalise {
            pids: &trace.pids,
            renames: &[],
        },
    );
    Some(super::conclude(res, &theirs, &ours, rule, version))
}

/// A `print()`ed value as bpftrace's text shows it: a tuple `(7, dd)`
/// (its elements so, nested tuples too), a string bare, a number as is.
fn value_text(v: &Json) -> String {
    match v {
        Json::Array(elems) => {
            let parts: Vec<String> = elems.iter().map(value_text).collect();
            format!("({})", parts.join(", "))
        }
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The trace's notes (`note: ...`: the fall back from fentry to kprobes on
/// a kernel that refused fentry, say), when every line it wrote to stderr
/// is one; `None` when another line says something went wrong.
fn stderr_notes(stderr: &str) -> Option<Vec<&str>> {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .all(|l| l.starts_with("note: "))
        .then_some(lines)
}

/// A measure of both runs, when both have it.
fn both<T>(
    bpftrace: &ParitySide,
    trace: &ParitySide,
    f: impl Fn(&ParitySide) -> Option<T>,
) -> Option<[T; 2]> {
    Some([f(bpftrace)?, f(trace)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let opts = probecc::lang::CompileOptions {
            file: "t.bt".into(),
            ..Default::default()
        };
        let src = "kprobe:vfs_read { @c[comm, pid] = count(); @s = stats(arg2); \
                   @h = hist(arg2); @n[comm] = comm; @x = count(); }";
        probecc::lang::compile(src, probecc::arch::Arch::X86_64, &opts)
            .expect("compiles")
            .manifest
    }

    #[test]
    fn json_lines_read_as_bpftraces_text_reads() {
        let text = "Attaching 1 probe...\nhi 42\n\n\n@c[dd, 77]: 3\n@h: \n\
                    [2, 4)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
                    [4, 8)                 0 |                                                    |\n\
                    [8, 16)                2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n\
                    @n[dd]: dd\n@s: count 2, average 5, total 10\n\n@x: 0\n";
        let json = "{\"type\":\"attached_probes\", \"count\":1}\n\
                    {\"type\": \"printf\", \"data\": \"hi \"}\n\
                    {\"type\": \"printf\", \"data\": \"42\\n\"}\n\
                    {\"type\": \"map\", \"data\": {\"@c\": {\"dd,77\": 3}}}\n\
                    {\"type\": \"hist\", \"data\": {\"@h\": [{\"min\": 2, \"max\": 3, \"count\": 1},\
                    {\"min\": 4, \"max\": 7, \"count\": 0},{\"min\": 8, \"max\": 15, \"count\": 2}]}}\n\
                    {\"type\": \"map\", \"data\": {\"@n\": {\"dd\": \"dd\"}}}\n\
                    {\"type\": \"stats\", \"data\": {\"@s\": {\"count\": 2, \"average\": 5, \"total\": 10}}}\n";
        let pids = [77];
        let n = Normalise {
            pids: &pids,
            renames: &[],
        };
        let theirs = squashed(compare::from_bpftrace(text, &n));
        let ours = from_json(json, &manifest(), &n);
        assert_eq!(ours, theirs);
        assert_eq!(ours.lines, ["hi 42"]);
        assert!(ours
            .blocks
            .iter()
            .any(|(m, e)| m == "@c" && e.contains_key("dd,$pid")));
        // A differing count shows.
        let other = json.replace("\"dd,77\": 3", "\"dd,77\": 4");
        assert_ne!(from_json(&other, &manifest(), &n), theirs);
    }

    #[test]
    fn time_and_cat_print_as_printf_does_and_text_values_stay_text() {
        let opts = probecc::lang::CompileOptions {
            file: "t.bt".into(),
            ..Default::default()
        };
        let src = "kprobe:vfs_read { time(\"%Y \"); printf(\"read\\n\"); \
                   @d = strftime(\"%Y\", nsecs); @c = count(); }";
        let m = probecc::lang::compile(src, probecc::arch::Arch::X86_64, &opts)
            .expect("compiles")
            .manifest;
        let json = "{\"type\": \"time\", \"data\": \"2026 \"}\n\
                    {\"type\": \"printf\", \"data\": \"read\\n\"}\n\
                    {\"type\": \"cat\", \"data\": \"vm\\n\"}\n\
                    {\"type\": \"map\", \"data\": {\"@c\": 3}}\n\
                    {\"type\": \"map\", \"data\": {\"@d\": \"2026\"}}\n";
        let n = Normalise {
            pids: &[],
            renames: &[],
        };
        let text = "Attaching 1 probe...\n2026 read\nvm\n\n\n@c: 3\n\n@d: 2026\n";
        let ours = from_json(json, &m, &n);
        assert_eq!(ours.lines, ["2026 read", "vm"]);
        assert_eq!(ours, squashed(compare::from_bpftrace(text, &n)));
        // A date that is no number is kept as text, not dropped.
        let dated = json.replace("\"@d\": \"2026\"", "\"@d\": \"2026-12-07\"");
        let d = from_json(&dated, &m, &n);
        let d = d
            .blocks
            .iter()
            .find(|(name, _)| name == "@d")
            .map(|(_, e)| e);
        assert_eq!(
            d.and_then(|e| e.get("")),
            Some(&Value::Str("2026-12-07".into()))
        );
    }

    #[test]
    fn printed_values_read_as_bpftraces_text_lines() {
        let json = "{\"type\": \"value\", \"data\": [7,\"dd\"]}\n\
                    {\"type\": \"value\", \"data\": 7}\n\
                    {\"type\": \"value\", \"data\": \"dd\"}\n\
                    {\"type\": \"value\", \"data\": [1,\"two\",[3,4]]}\n";
        let n = Normalise {
            pids: &[],
            renames: &[],
        };
        let ours = from_json(json, &manifest(), &n);
        assert_eq!(ours.lines, ["(7, dd)", "7", "dd", "(1, two, (3, 4))"]);
    }

    #[test]
    fn printed_text_reads_as_bpftraces_text_reads() {
        // tcpsynbl.bt's END prints a blank line and a line shaped like a
        // map entry; bpftrace's text is read with blank lines skipped and
        // that line as an entry, and so must the trace's be.
        let n = Normalise {
            pids: &[],
            renames: &[],
        };
        let printed = "Tracing.\n\n@backlog[backlog limit]: histogram of backlog size\n";
        let json = format!(
            "{{\"type\": \"printf\", \"data\": {}}}\n",
            serde_json::Value::String(printed.into())
        );
        let ours = from_json(&json, &manifest(), &n);
        let theirs = squashed(compare::from_bpftrace(printed, &n));
        assert_eq!(ours, theirs);
        assert_eq!(ours.lines, ["Tracing."]);
        assert_eq!(ours.blocks.len(), 1, "{:?}", ours.blocks);
    }

    #[test]
    fn notes_on_stderr_are_notes_and_anything_else_a_failure() {
        assert_eq!(stderr_notes(""), Some(vec![]));
        let fell_back = "note: this kernel refused fentry/fexit (...); attaching kprobes instead\n";
        assert_eq!(stderr_notes(fell_back).map(|n| n.len()), Some(1));
        assert_eq!(
            stderr_notes(&format!("{fell_back}error: attaching failed\n")),
            None
        );
    }

    #[test]
    fn a_keyless_stats_map_is_told_from_one_keyed_by_its_field_names() {
        let keyed = serde_json::json!({"count": {"count": 1, "average": 2, "total": 2}, "average": {"count": 1, "average": 2, "total": 2}, "total": {"count": 1, "average": 2, "total": 2}});
        assert!(!keyless("stats", &keyed));
        assert!(keyless(
            "stats",
            &serde_json::json!({"count": 1, "average": 2, "total": 2})
        ));
        assert!(keyless("stats", &serde_json::json!(5)), "an avg map");
        assert!(keyless("hist", &serde_json::json!([])));
        assert!(!keyless("map", &serde_json::json!({"a": 1})));
    }
}
