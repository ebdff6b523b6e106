//! output: what a run leaves behind — every map of the manifest decoded
//! from its bytes (per-CPU values combined as bpftrace does), the printf
//! text, and the maps `print()` showed — and its two renderings: the JSON
//! document `probecc run` prints (described in the README) and bpftrace's
//! text.
//!
//! Decoding follows the manifest's layouts (see `probecc::lang::manifest`):
//! keys as 8-byte-aligned parts, `hist`/`lhist` buckets as a trailing u64 of
//! the key, `min`/`max` as `{s64 value; u64 set}` and `avg`/`stats` as
//! `{s64 total; u64 count}` per CPU, integers in the object's byte order.
//! `func` and `probe` parts are u64 indexes into the manifest's `funcs` and
//! `probes` tables (older manifests stored them as strings, which decode as
//! strings).

use probecc::insn::Endian;
use probecc::lang::manifest::{KeyEntry, KeyKind, LhistBounds, MapEntry, ValueKind};

use crate::ksyms::Ksyms;
use crate::maps::EmuMap;
use crate::memory::u64_at;

/// The name tables of a manifest (`funcs`, `probes`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Names {
    #[serde(default)]
    pub funcs: Vec<String>,
    #[serde(default)]
    pub probes: Vec<String>,
}

impl Names {
    fn name(&self, kind: &str, i: u64) -> String {
        let table = if kind == "func" {
            &self.funcs
        } else {
            &self.probes
        };
        table
            .get(i as usize)
            .cloned()
            .unwrap_or_else(|| format!("<{kind} {i}>"))
    }
}

/// One part of a key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    Int(i128),
    Str(String),
    /// Kernel stack frames, innermost first.
    Stack(Vec<String>),
}

/// A hist/lhist bucket: it holds `min <= v < max`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub index: u64,
    pub min: Option<i128>,
    pub max: Option<i128>,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i128),
    Str(String),
    Stats { count: u64, avg: i64, total: i64 },
    Buckets(Vec<Bucket>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: Vec<Key>,
    pub value: Value,
}

/// A map as output shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDump {
    pub name: String,
    /// The manifest's value kind (`count`, `hist`, ...).
    pub kind: ValueKind,
    pub lhist: Option<LhistBounds>,
    pub entries: Vec<Entry>,
}

/// Output in the order it was produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    Text(String),
    Print(MapDump),
}

/// The result of a whole run.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Report {
    /// Every map after `END`, by name.
    pub maps: Vec<MapDump>,
    pub chunks: Vec<Chunk>,
}

/// What decoding needs besides the map.
pub struct Decoder<'a> {
    pub endian: Endian,
    pub names: &'a Names,
    pub ksyms: &'a Ksyms,
    pub stacks: Option<&'a EmuMap>,
}

impl Decoder<'_> {
    pub fn map(&self, m: &MapEntry, map: &EmuMap) -> MapDump {
        let bucketed = m.value.kind.bucketed();
        let mut entries: Vec<Entry> = Vec::new();
        for (key, per_cpu) in map.entries() {
            let parts = m.keys.iter().map(|k| self.key_part(k, &key)).collect();
            if bucketed {
                let index = u64_at(&key, key.len().saturating_sub(8), self.endian);
                let count = per_cpu
                    .iter()
                    .map(|v| u64_at(v, 0, self.endian))
                    .fold(0, u64::wrapping_add);
                self.add_bucket(&mut entries, parts, m, index, count);
            } else {
                let value = self.value(m, &per_cpu);
                entries.push(Entry { key: parts, value });
            }
        }
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        MapDump {
            name: m.name.clone(),
            kind: m.value.kind,
            lhist: m.value.lhist,
            entries,
        }
    }

    fn add_bucket(
        &self,
        entries: &mut Vec<Entry>,
        key: Vec<Key>,
        m: &MapEntry,
        index: u64,
        count: u64,
    ) {
        if count == 0 {
            return;
        }
        let (min, max) = match m.value.lhist {
            Some(b) => lhist_bounds(b, index),
            None => hist_bounds(index),
        };
        let bucket = Bucket {
            index,
            min,
            max,
            count,
        };
        match entries.iter_mut().find(|e| e.key == key) {
            Some(Entry {
                value: Value::Buckets(b),
                ..
            }) => {
                b.push(bucket);
                b.sort_by_key(|b| b.index);
            }
            _ => entries.push(Entry {
                key,
                value: Value::Buckets(vec![bucket]),
            }),
        }
    }

    fn int(&self, bytes: &[u8], off: usize, signed: bool) -> i128 {
        let v = u64_at(bytes, off, self.endian);
        if signed {
            v as i64 as i128
        } else {
            v as i128
        }
    }

    fn key_part(&self, k: &KeyEntry, key: &[u8]) -> Key {
        let off = k.offset as usize;
        match k.kind {
            KeyKind::Int => Key::Int(self.int(key, off, k.signed.unwrap_or(true))),
            KeyKind::String => Key::Str(c_string(key.get(off..off + k.size.unwrap_or(0) as usize))),
            KeyKind::Kstack => Key::Stack(self.stack(u64_at(key, off, self.endian))),
            KeyKind::Func => Key::Str(self.names.name("func", u64_at(key, off, self.endian))),
            KeyKind::Probe => Key::Str(self.names.name("probe", u64_at(key, off, self.endian))),
        }
    }

    fn stack(&self, id: u64) -> Vec<String> {
        let frames = self.stacks.and_then(|s| s.stack(id as u32)).unwrap_or(&[]);
        frames.iter().map(|&ip| self.ksyms.frame(ip)).collect()
    }

    fn value(&self, m: &MapEntry, per_cpu: &[Vec<u8>]) -> Value {
        let e = self.endian;
        let sum = |off: usize| {
            per_cpu
                .iter()
                .map(|v| u64_at(v, off, e))
                .fold(0u64, u64::wrapping_add)
        };
        let first = per_cpu.first().map(Vec::as_slice).unwrap_or(&[]);
        match m.value.kind {
            ValueKind::Int => Value::Int(self.int(first, 0, m.value.signed.unwrap_or(true))),
            ValueKind::String => Value::Str(c_string(Some(first))),
            ValueKind::Count => Value::Int(sum(0) as i128),
            ValueKind::Sum => Value::Int(sum(0) as i64 as i128),
            ValueKind::Min | ValueKind::Max => {
                Value::Int(self.min_max(m.value.kind == ValueKind::Min, per_cpu) as i128)
            }
            ValueKind::Avg => Value::Int(avg(sum(0) as i64, sum(8)) as i128),
            ValueKind::Stats => {
                let (total, count) = (sum(0) as i64, sum(8));
                Value::Stats {
                    count,
                    avg: avg(total, count),
                    total,
                }
            }
            ValueKind::Func => Value::Str(self.names.name("func", u64_at(first, 0, e))),
            _ => Value::Str(self.names.name("probe", u64_at(first, 0, e))),
        }
    }

    /// Combines `{s64 value; u64 set}` over the CPUs that saw a value.
    fn min_max(&self, min: bool, per_cpu: &[Vec<u8>]) -> i64 {
        let seen = per_cpu
            .iter()
            .filter(|v| u64_at(v, 8, self.endian) != 0)
            .map(|v| u64_at(v, 0, self.endian) as i64);
        if min {
            seen.min().unwrap_or(0)
        } else {
            seen.max().unwrap_or(0)
        }
    }
}

fn avg(total: i64, count: u64) -> i64 {
    if count == 0 {
        0
    } else {
        total.wrapping_div(count as i64)
    }
}

/// The bytes up to the first NUL, as text.
pub fn c_string(bytes: Option<&[u8]>) -> String {
    let b = bytes.unwrap_or(&[]);
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// `hist` bucket `i`: 0 for x < 0, 1 for x == 0, k + 2 for [2^k, 2^(k+1)).
pub fn hist_bounds(i: u64) -> (Option<i128>, Option<i128>) {
    match i {
        0 => (None, Some(0)),
        1 => (Some(0), Some(1)),
        i if i >= 65 => (Some(1i128 << 63), None),
        i => (Some(1i128 << (i - 2)), Some(1i128 << (i - 1))),
    }
}

fn lhist_buckets(b: LhistBounds) -> i128 {
    let step = b.step.max(1) as i128;
    ((b.max as i128 - b.min as i128) + step - 1).div_euclid(step)
}

/// `lhist` bucket `i`: 0 below min, 1 + (x - min) / step, the last at max.
pub fn lhist_bounds(b: LhistBounds, i: u64) -> (Option<i128>, Option<i128>) {
    let n = lhist_buckets(b);
    let i = i as i128;
    let step = b.step.max(1) as i128;
    if i == 0 {
        (None, Some(b.min as i128))
    } else if i > n {
        (Some(b.max as i128), None)
    } else {
        (
            Some(b.min as i128 + (i - 1) * step),
            Some(b.min as i128 + i * step),
        )
    }
}

/// The JSON shapes, fields in the documented order.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum JsonPart<'a> {
    Int(i128),
    Str(&'a str),
    Frames(&'a [String]),
    Stats { count: u64, avg: i64, total: i64 },
    Buckets(Vec<JsonBucket>),
}

#[derive(serde::Serialize)]
struct JsonBucket {
    min: Option<i128>,
    max: Option<i128>,
    count: u64,
}

#[derive(serde::Serialize)]
struct JsonEntry<'a> {
    key: Vec<JsonPart<'a>>,
    value: JsonPart<'a>,
}

#[derive(serde::Serialize)]
struct JsonPrint<'a> {
    map: &'a str,
    entries: Vec<JsonEntry<'a>>,
}

#[derive(serde::Serialize)]
struct JsonDoc<'a> {
    maps: std::collections::BTreeMap<&'a str, Vec<JsonEntry<'a>>>,
    printf: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    print: Vec<JsonPrint<'a>>,
}

fn key_json(k: &Key) -> JsonPart<'_> {
    match k {
        Key::Int(i) => JsonPart::Int(*i),
        Key::Str(s) => JsonPart::Str(s),
        Key::Stack(f) => JsonPart::Frames(f),
    }
}

fn value_json(v: &Value) -> JsonPart<'_> {
    match v {
        Value::Int(i) => JsonPart::Int(*i),
        Value::Str(s) => JsonPart::Str(s),
        Value::Stats { count, avg, total } => JsonPart::Stats {
            count: *count,
            avg: *avg,
            total: *total,
        },
        Value::Buckets(b) => JsonPart::Buckets(
            b.iter()
                .map(|b| JsonBucket {
                    min: b.min,
                    max: b.max,
                    count: b.count,
                })
                .collect(),
        ),
    }
}

fn entries_json(m: &MapDump) -> Vec<JsonEntry<'_>> {
    m.entries
        .iter()
        .map(|e| JsonEntry {
            key: e.key.iter().map(key_json).collect(),
            value: value_json(&e.value),
        })
        .collect()
}

impl Report {
    /// The printf output, line by line.
    pub fn printf_lines(&self) -> Vec<String> {
        let text: String = self
            .chunks
            .iter()
            .filter_map(|c| match c {
                Chunk::Text(t) => Some(t.as_str()),
                Chunk::Print(_) => None,
            })
            .collect();
        text.split_inclusive('\n')
            .map(|l| l.strip_suffix('\n').unwrap_or(l).to_string())
            .collect()
    }

    /// `{"maps": {...}, "printf": [...]}`, plus `"print"` when `print()`
    /// ran; `pretty` indents it.
    pub fn to_json(&self, pretty: bool) -> String {
        let doc = JsonDoc {
            maps: self
                .maps
                .iter()
                .map(|m| (m.name.as_str(), entries_json(m)))
                .collect(),
            printf: self.printf_lines(),
            print: self
                .chunks
                .iter()
                .filter_map(|c| match c {
                    Chunk::Print(m) => Some(JsonPrint {
                        map: &m.name,
                        entries: entries_json(m),
                    }),
                    Chunk::Text(_) => None,
                })
                .collect(),
        };
        // Plain structs of numbers and strings always serialise.
        let text = if pretty {
            serde_json::to_string_pretty(&doc)
        } else {
            serde_json::to_string(&doc)
        };
        text.unwrap_or_default()
    }

    /// What bpftrace prints: the output as it came, then every non-empty
    /// map at exit.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for c in &self.chunks {
            match c {
                Chunk::Text(t) => out.push_str(t),
                Chunk::Print(m) => out.push_str(&crate::text::map(m)),
            }
        }
        for m in self.maps.iter().filter(|m| !m.entries.is_empty()) {
            out.push_str(&crate::text::map(m));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_follow_the_manifest_encoding() {
        assert_eq!(hist_bounds(0), (None, Some(0)));
        assert_eq!(hist_bounds(1), (Some(0), Some(1)));
        assert_eq!(hist_bounds(2), (Some(1), Some(2)));
        assert_eq!(hist_bounds(4), (Some(4), Some(8)));
        assert_eq!(hist_bounds(65), (Some(1 << 63), None));
        let b = LhistBounds {
            min: 0,
            max: 1024,
            step: 128,
        };
        assert_eq!(lhist_bounds(b, 0), (None, Some(0)));
        assert_eq!(lhist_bounds(b, 1), (Some(0), Some(128)));
        assert_eq!(lhist_bounds(b, 8), (Some(896), Some(1024)));
        assert_eq!(lhist_bounds(b, 9), (Some(1024), None));
    }
}
