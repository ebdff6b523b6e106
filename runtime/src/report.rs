//! The report: a run as one JSON document of decoded entries, for tests
//! and tools that want key parts rather than bpftrace's text —
//! `{"maps": {"@name": [{"key": [parts], "value": v}]}, "printf":
//! [lines]}` (the lines of printf and the other text records,
//! [`Output::lines`]), plus `"print": [{"map": "@x", "entries": [...]}]` when
//! `print()` ran. Every map after the end, entries in key order; key
//! parts as numbers, strings (`func`/`probe` names) or a `kstack`'s frames;
//! values as numbers, strings, arrays for tuples, `{"count", "avg",
//! "total"}` for avg and stats, and
//! for histograms their non-empty buckets `{"min", "max", "count"}`
//! holding min <= v < max (`null` for an open end). The QEMU guest
//! reports a fixture's maps in the same shape ([`entries`]).

use serde::Serialize;
use serde_json::Value as Json;

use crate::decode::{Key, MapDump, Value};
use crate::output::{Chunk, Output};

#[derive(Serialize)]
#[serde(untagged)]
enum Part<'a> {
    Int(i128),
    Str(&'a str),
    Frames(&'a [String]),
    Stats { count: u64, avg: i64, total: i64 },
    Buckets(Vec<JsonBucket>),
    Tuple(Vec<Part<'a>>),
}

#[derive(Serialize)]
struct JsonBucket {
    min: Option<i128>,
    max: Option<i128>,
    count: u64,
}

#[derive(Serialize)]
struct JsonEntry<'a> {
    key: Vec<Part<'a>>,
    value: Part<'a>,
}

#[derive(Serialize)]
struct JsonPrint<'a> {
    map: &'a str,
    entries: Vec<JsonEntry<'a>>,
}

#[derive(Serialize)]
struct Document<'a> {
    maps: std::collections::BTreeMap<&'a str, Vec<JsonEntry<'a>>>,
    printf: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    print: Vec<JsonPrint<'a>>,
}

fn key(k: &Key) -> Part<'_> {
    match k {
        Key::Int(i) => Part::Int(*i),
        Key::Str(s) => Part::Str(s),
        Key::Stack(f) => Part::Frames(f),
    }
}

fn value(v: &Value) -> Part<'_> {
    match v {
        Value::Int(i) => Part::Int(*i),
        Value::Str(s) => Part::Str(s),
        Value::Stats { count, avg, total } => Part::Stats {
            count: *count,
            avg: *avg,
            total: *total,
        },
        Value::Buckets(b) => Part::Buckets(
            b.iter()
                .map(|b| JsonBucket {
                    min: b.min,
                    max: b.max,
                    count: b.count,
                })
                .collect(),
        ),
        Value::Tuple(elems) => Part::Tuple(elems.iter().map(value).collect()),
    }
}

fn json_entries(m: &MapDump) -> Vec<JsonEntry<'_>> {
    m.entries
        .iter()
        .map(|e| JsonEntry {
            key: e.key.iter().map(key).collect(),
            value: value(&e.value),
        })
        .collect()
}

/// A map's entries, `[{"key": [...], "value": ...}]`.
pub fn entries(m: &MapDump) -> Json {
    // Plain structs of numbers and strings always serialise.
    serde_json::to_value(json_entries(m)).unwrap_or(Json::Null)
}

/// Each map `print()` showed, in order: `[{"map": "@x", "entries":
/// [...]}]`.
pub fn prints(out: &Output) -> Vec<Json> {
    json_prints(out)
        .iter()
        .map(|p| serde_json::to_value(p).unwrap_or(Json::Null))
        .collect()
}

fn json_prints(out: &Output) -> Vec<JsonPrint<'_>> {
    out.chunks
        .iter()
        .filter_map(|c| match c {
            Chunk::Print(m) => Some(JsonPrint {
                map: &m.name,
                entries: json_entries(m),
            }),
            _ => None,
        })
        .collect()
}

/// The whole run as one document; `pretty` indents it.
pub fn document(out: &Output, pretty: bool) -> String {
    let doc = Document {
        maps: out
            .maps
            .iter()
            .map(|m| (m.name.as_str(), json_entries(m)))
            .collect(),
        printf: out.lines(),
        print: json_prints(out),
    };
    let text = if pretty {
        serde_json::to_string_pretty(&doc)
    } else {
        serde_json::to_string(&doc)
    };
    text.unwrap_or_default()
}
