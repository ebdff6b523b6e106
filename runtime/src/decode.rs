//! Decoding by the manifest (`probecc::lang::manifest`, which documents
//! the layouts): a map's raw entries into [`MapDump`] — keys as parts at
//! their 8-byte-aligned offsets, `hist`/`lhist` buckets from the key's
//! trailing u64, per-CPU values combined as bpftrace combines them
//! (counts and sums added, min/max over the CPUs that saw a value,
//! avg/stats totals and counts added) — and ring-buffer records (a u64
//! id of the manifest's `output` list, then the arguments at their
//! offsets) into their entry and arguments. Integers are in the object's
//! byte order; `func`/`probe` ids are named from the manifest's tables
//! (`func` addresses, with the manifest's `func_ip`, by the kernel symbol
//! table), `kstack` ids through their stack map and that symbol table, as
//! the stack's mode prints them ([`stack_text`]). Two raw keys that decode to one key are an error:
//! the key has bytes the decoding ignores (after a string's NUL) that
//! differ, which no loader's reading should paper over.

use std::cmp::Ordering;
use std::collections::HashMap;

use probecc::endian::Endian;
use probecc::lang::manifest::{
    ArgEntry, ArgKind, KeyEntry, KeyKind, LhistBounds, Manifest, MapEntry, OutputEntry, StackEntry,
    StackMode, ValueKind,
};

use crate::buckets::{hist_bounds, lhist_bounds};
use crate::host::Host;
use crate::ksyms::Ksyms;
use crate::printf::Arg;
use crate::strftime;

/// What decoding can find wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("a record with id {id}, which the manifest's output list does not have")]
    UnknownFormat { id: u64 },
    #[error("a record of {len} bytes, shorter than the {size} of record kind {id}")]
    ShortRecord { id: u64, len: usize, size: u32 },
    #[error(
        "{map}: {count} distinct raw keys decode to the key {key} ({keys} keys so affected): \
         the key has bytes that should be zero, e.g. after a string's NUL"
    )]
    DuplicateKeys {
        map: String,
        key: String,
        count: usize,
        keys: usize,
    },
}

/// One part of a key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Int(i128),
    Str(String),
    /// Kernel stack frames (`symbol+offset`), innermost first.
    Stack(Vec<String>),
}

/// A hist/lhist bucket: it holds `min <= v < max` (`None`: unbounded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub index: u64,
    pub min: Option<i128>,
    pub max: Option<i128>,
    pub count: u64,
}

/// A map's value for one key, per-CPU values combined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i128),
    Str(String),
    /// An avg or stats map's state (bpftrace prints an avg map's `avg`).
    Stats {
        count: u64,
        avg: i64,
        total: i64,
    },
    /// The non-empty buckets, by index.
    Buckets(Vec<Bucket>),
    /// A tuple's elements.
    Tuple(Vec<Value>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: Vec<Key>,
    pub value: Value,
}

/// A map decoded: its entries in key order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDump {
    pub name: String,
    pub kind: ValueKind,
    /// Whether the map has no key (`@x = count()`).
    pub keyless: bool,
    pub lhist: Option<LhistBounds>,
    pub entries: Vec<Entry>,
}

/// Key parts in bpftrace's order: integers as s64, strings by their
/// bytes, stacks frame by frame.
fn part_order(a: &Key, b: &Key) -> Ordering {
    match (a, b) {
        (Key::Int(x), Key::Int(y)) => (*x as i64).cmp(&(*y as i64)).then(x.cmp(y)),
        (Key::Str(x), Key::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Key::Stack(x), Key::Stack(y)) => x.cmp(y),
        (Key::Int(_), _) | (Key::Str(_), Key::Stack(_)) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// Keys in bpftrace's order: part by part.
pub fn key_order(a: &[Key], b: &[Key]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| part_order(x, y))
        .find(|o| o.is_ne())
        .unwrap_or(a.len().cmp(&b.len()))
}

impl Value {
    /// What bpftrace sorts a map's entries by before printing it: the
    /// number for counters and assignments, the average for avg/stats,
    /// the count over all buckets for histograms.
    fn rank(&self) -> i128 {
        match self {
            Value::Int(i) => *i,
            Value::Stats { avg, .. } => *avg as i128,
            Value::Buckets(b) => b.iter().map(|b| b.count as i128).sum(),
            Value::Str(_) | Value::Tuple(_) => 0,
        }
    }
}

impl MapDump {
    /// A map with no entries.
    pub fn empty(m: &MapEntry) -> MapDump {
        MapDump {
            name: m.name.clone(),
            kind: m.value.kind,
            keyless: m.keys.is_empty(),
            lhist: m.value.lhist,
            entries: Vec::new(),
        }
    }

    /// The entries in the order bpftrace prints them: by value (ascending)
    /// for numbers and aggregations, by total count for histograms, by
    /// key for strings and names; ties in key order.
    pub fn printed(&self) -> Vec<&Entry> {
        let mut entries: Vec<&Entry> = self.entries.iter().collect();
        if !matches!(
            self.kind,
            ValueKind::String | ValueKind::Func | ValueKind::Probe | ValueKind::Tuple
        ) {
            entries.sort_by_key(|e| e.value.rank());
        }
        entries
    }
}

/// Every bucket from the lowest to the highest non-empty one, the empty
/// ones between them included (count 0), as bpftrace prints a histogram.
pub fn filled(buckets: &[Bucket], lhist: Option<LhistBounds>) -> Vec<Bucket> {
    let (Some(lo), Some(hi)) = (buckets.first(), buckets.last()) else {
        return Vec::new();
    };
    (lo.index..=hi.index)
        .map(|index| {
            let (min, max) = match lhist {
                Some(l) => lhist_bounds(l, index),
                None => hist_bounds(index),
            };
            let count = buckets
                .iter()
                .find(|b| b.index == index)
                .map_or(0, |b| b.count);
            Bucket {
                index,
                min,
                max,
                count,
            }
        })
        .collect()
}

/// The bytes up to the first NUL, as text.
pub fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// A raw map entry: the key's bytes and the value's bytes for each CPU
/// (one value for a map that is not per-CPU).
pub type RawEntry = (Vec<u8>, Vec<Vec<u8>>);

/// A decoded key and, for a histogram, its bucket.
type DecodedKey = (Vec<Key>, Option<u64>);

/// The frames of a stack id in the named stack map, innermost first, or
/// `None` if the map has no such stack.
pub type Stacks<'a> = &'a dyn Fn(&str, u32) -> Option<Vec<u64>>;

/// The indentation of a stack's frames in bpftrace's mode: a key's by 4
/// spaces, a value's and a printf argument's by 8.
const KEY_INDENT: usize = 4;
const VALUE_INDENT: usize = 8;

/// A stack as bpftrace prints it in `mode`: a newline, then a line per
/// frame — `symbol+offset` indented by `indent` spaces (`bpftrace`), a tab,
/// the address in hex, a space and the symbol (`perf`), or the address
/// alone (`raw`).
pub fn stack_text(frames: &[u64], ksyms: &Ksyms, mode: StackMode, indent: usize) -> String {
    let mut out = String::from("\n");
    for &ip in frames {
        let line = match mode {
            StackMode::Bpftrace => format!("{:indent$}{}", "", ksyms.describe(ip)),
            StackMode::Perf => format!("\t{ip:x} {}", ksyms.describe(ip)),
            StackMode::Raw => format!("{ip:x}"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// What decoding needs besides the bytes.
pub struct Decoder<'a> {
    pub manifest: &'a Manifest,
    pub endian: Endian,
    /// Names kernel addresses (stack frames, `ksym()`).
    pub ksyms: &'a Ksyms,
    pub stacks: Stacks<'a>,
    /// Names users and cgroups, and the time `strftime()` counts from.
    pub host: &'a dyn Host,
}

/// What a value whose text user space makes holds, whatever holds it (a
/// key part, a map value, a record's argument).
#[derive(Clone, Copy, Debug)]
enum Named<'e> {
    Func,
    Probe,
    Ksym,
    Username,
    Timestamp(Option<&'e str>),
    CgroupPath,
}

/// `inet_ntop`'s text of an `ntop()` value: the u64 family, then the
/// address bytes; empty for a family other than `AF_INET` and `AF_INET6`.
pub fn inet(endian: Endian, bytes: &[u8]) -> String {
    const AF_INET: u64 = 2;
    const AF_INET6: u64 = 10;
    let af = bytes.get(..8).map_or(0, |b| endian.read_uint(b));
    let addr = bytes.get(8..24).unwrap_or(&[]);
    match (af, addr.len()) {
        (AF_INET, 16) => format!("{}.{}.{}.{}", addr[0], addr[1], addr[2], addr[3]),
        (AF_INET6, 16) => inet6(addr),
        _ => String::new(),
    }
}

/// glibc's `inet_ntop(AF_INET6)`: hex groups, the longest run of two or
/// more zero groups as `::`, and an embedded IPv4 address for the
/// IPv4-compatible (`::a.b.c.d`) and IPv4-mapped (`::ffff:a.b.c.d`) forms.
fn inet6(a: &[u8]) -> String {
    let w: Vec<u16> = a
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    let (mut best, mut cur): ((usize, usize), (usize, usize)) = ((0, 0), (0, 0));
    for (i, &x) in w.iter().enumerate() {
        if x == 0 {
            if cur.1 == 0 {
                cur.0 = i;
            }
            cur.1 += 1;
            if cur.1 > best.1 {
                best = cur;
            }
        } else {
            cur.1 = 0;
        }
    }
    if best.1 < 2 {
        best = (usize::MAX, 0);
    }
    let v4 = |out: &mut String| out.push_str(&format!("{}.{}.{}.{}", a[12], a[13], a[14], a[15]));
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if i == best.0 {
            out.push(':');
            i += best.1;
            if i == 8 {
                out.push(':');
            }
            continue;
        }
        if i > 0 {
            out.push(':');
        }
        let embedded = i == 6 && best.0 == 0 && (best.1 == 6 || (best.1 == 5 && w[5] == 0xffff));
        if embedded {
            v4(&mut out);
            break;
        }
        out.push_str(&format!("{:x}", w[i]));
        i += 1;
    }
    out
}

/// bpftrace's `%r` of a `buf()`: printable ASCII as it is, other bytes as
/// `\xNN`.
pub fn hex_buffer(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (32..=126).contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

impl Decoder<'_> {
    fn u64_at(&self, bytes: &[u8], off: usize) -> u64 {
        bytes
            .get(off..off + 8)
            .map_or(0, |b| self.endian.read_uint(b))
    }

    fn int(&self, bytes: &[u8], off: usize, signed: bool) -> i128 {
        let v = self.u64_at(bytes, off);
        if signed {
            v as i64 as i128
        } else {
            v as i128
        }
    }

    /// The text of a value user space names.
    fn named(&self, kind: Named, v: u64) -> String {
        match kind {
            Named::Func => self.func(v),
            Named::Probe => self.name(&self.manifest.probes, "probe", v),
            Named::Ksym => self.ksyms.name(v),
            Named::Username => self.host.username(v),
            Named::Timestamp(fmt) => {
                strftime::format(fmt.unwrap_or("%H:%M:%S"), &self.host.boot().plus_ns(v))
            }
            Named::CgroupPath => self.host.cgroup_path(v),
        }
    }

    /// A `buf()` value: its length, then its bytes.
    fn buffer(&self, bytes: &[u8]) -> String {
        let len = self.u64_at(bytes, 0) as usize;
        let data = bytes.get(8..).unwrap_or(&[]);
        hex_buffer(&data[..len.min(data.len())])
    }

    /// A `func` value: an id into the manifest's `funcs`, or with
    /// `func_ip` the function's address, named by the kernel's symbols.
    fn func(&self, v: u64) -> String {
        if !self.manifest.func_ip {
            return self.name(&self.manifest.funcs, "func", v);
        }
        self.ksyms
            .function(v)
            .map_or_else(|| format!("{v:#x}"), str::to_string)
    }

    /// `func`/`probe` id `i` by the manifest's name tables.
    fn name(&self, table: &[String], what: &str, i: u64) -> String {
        usize::try_from(i)
            .ok()
            .and_then(|i| table.get(i))
            .cloned()
            .unwrap_or_else(|| format!("<{what} {i}>"))
    }

    fn key_part(&self, k: &KeyEntry, key: &[u8]) -> Key {
        let off = k.offset as usize;
        let id = self.u64_at(key, off);
        match k.kind {
            KeyKind::Int => Key::Int(self.int(key, off, k.signed.unwrap_or(true))),
            KeyKind::String => {
                let end = (off + k.size.unwrap_or(0) as usize).min(key.len());
                Key::Str(c_string(key.get(off..end).unwrap_or(&[])))
            }
            KeyKind::Kstack => match &k.stack {
                Some(s) if s.mode != StackMode::Bpftrace => Key::Str(stack_text(
                    &self.frames(s, id),
                    self.ksyms,
                    s.mode,
                    KEY_INDENT,
                )),
                s => {
                    let frames = s.as_ref().map(|s| self.frames(s, id)).unwrap_or_default();
                    Key::Stack(frames.iter().map(|&ip| self.ksyms.describe(ip)).collect())
                }
            },
            KeyKind::Func => Key::Str(self.named(Named::Func, id)),
            KeyKind::Probe => Key::Str(self.named(Named::Probe, id)),
            KeyKind::Ksym => Key::Str(self.named(Named::Ksym, id)),
            KeyKind::Username => Key::Str(self.named(Named::Username, id)),
            KeyKind::Timestamp => Key::Str(self.named(Named::Timestamp(k.format.as_deref()), id)),
            KeyKind::CgroupPath => Key::Str(self.named(Named::CgroupPath, id)),
            KeyKind::Inet => Key::Str(inet(self.endian, key.get(off..).unwrap_or(&[]))),
        }
    }

    /// A tuple's elements, each described as a key part is, at their
    /// offsets in `bytes`.
    pub fn tuple(&self, elems: &[KeyEntry], bytes: &[u8]) -> Value {
        Value::Tuple(
            elems
                .iter()
                .map(|k| match self.key_part(k, bytes) {
                    Key::Int(i) => Value::Int(i),
                    Key::Str(s) => Value::Str(s),
                    Key::Stack(frames) => {
                        let lines: String = frames
                            .iter()
                            .map(|f| format!("{:VALUE_INDENT$}{f}\n", ""))
                            .collect();
                        Value::Str(format!("\n{lines}"))
                    }
                })
                .collect(),
        )
    }

    /// The tuple a record's argument `a` holds.
    pub fn arg_tuple(&self, a: &ArgEntry, record: &[u8]) -> Value {
        self.tuple(&a.elems, record.get(a.offset as usize..).unwrap_or(&[]))
    }

    /// The frames of stack `id` of `s`'s map: up to the first empty one,
    /// at most its limit; none for an id the map lacks (a failed
    /// `get_stackid` leaves a negative errno).
    fn frames(&self, s: &StackEntry, id: u64) -> Vec<u64> {
        let frames = u32::try_from(id)
            .ok()
            .and_then(|id| (self.stacks)(&s.map, id))
            .unwrap_or_default();
        frames
            .into_iter()
            .take_while(|&ip| ip != 0)
            .take(s.limit as usize)
            .collect()
    }

    /// A `kstack` value (a map value or a record's argument) as text.
    fn stack_value(&self, s: Option<&StackEntry>, id: u64) -> String {
        match s {
            Some(s) => stack_text(&self.frames(s, id), self.ksyms, s.mode, VALUE_INDENT),
            None => String::new(),
        }
    }

    /// Map `m`'s raw entries, each a key and its value per CPU (one value
    /// for a map that is not per-CPU), decoded.
    pub fn map<I>(&self, m: &MapEntry, raw: I) -> Result<MapDump, DecodeError>
    where
        I: IntoIterator<Item = RawEntry>,
    {
        let bucketed = m.value.kind.bucketed();
        let mut entries: Vec<Entry> = Vec::new();
        let mut position: HashMap<Vec<Key>, usize> = HashMap::new();
        // Decoded key (and bucket) → how many raw keys gave it.
        let mut seen: HashMap<DecodedKey, usize> = HashMap::new();
        for (key, per_cpu) in raw {
            let parts: Vec<Key> = m.keys.iter().map(|k| self.key_part(k, &key)).collect();
            let index = bucketed.then(|| self.u64_at(&key, key.len().saturating_sub(8)));
            *seen.entry((parts.clone(), index)).or_default() += 1;
            let at = match position.get(&parts) {
                Some(&i) => i,
                None => {
                    let value = if bucketed {
                        Value::Buckets(Vec::new())
                    } else {
                        self.value(m, &per_cpu)
                    };
                    position.insert(parts.clone(), entries.len());
                    entries.push(Entry { key: parts, value });
                    entries.len() - 1
                }
            };
            let entry = &mut entries[at];
            if let (Some(index), Value::Buckets(b)) = (index, &mut entry.value) {
                let count = per_cpu
                    .iter()
                    .map(|v| self.u64_at(v, 0))
                    .fold(0, u64::wrapping_add);
                if count != 0 {
                    let (min, max) = match m.value.lhist {
                        Some(l) => lhist_bounds(l, index),
                        None => hist_bounds(index),
                    };
                    b.push(Bucket {
                        index,
                        min,
                        max,
                        count,
                    });
                }
            }
        }
        let mut dups: Vec<(DecodedKey, usize)> = seen.into_iter().filter(|(_, n)| *n > 1).collect();
        dups.sort_by(|((ka, ia), na), ((kb, ib), nb)| {
            nb.cmp(na).then(key_order(ka, kb)).then(ia.cmp(ib))
        });
        if let Some(((parts, index), count)) = dups.first() {
            return Err(DecodeError::DuplicateKeys {
                map: m.name.clone(),
                key: describe(parts, *index),
                count: *count,
                keys: dups.len(),
            });
        }
        for e in &mut entries {
            if let Value::Buckets(b) = &mut e.value {
                b.sort_by_key(|b| b.index);
            }
        }
        entries.sort_by(|a, b| key_order(&a.key, &b.key));
        Ok(MapDump {
            entries,
            ..MapDump::empty(m)
        })
    }

    fn value(&self, m: &MapEntry, per_cpu: &[Vec<u8>]) -> Value {
        let sum = |off: usize| {
            per_cpu
                .iter()
                .map(|v| self.u64_at(v, off))
                .fold(0u64, u64::wrapping_add)
        };
        let first = per_cpu.first().map(Vec::as_slice).unwrap_or(&[]);
        match m.value.kind {
            ValueKind::Int => Value::Int(self.int(first, 0, m.value.signed.unwrap_or(true))),
            ValueKind::String => {
                let end = (m.value.size as usize).min(first.len());
                Value::Str(c_string(&first[..end]))
            }
            ValueKind::Count => Value::Int(sum(0) as i128),
            ValueKind::Sum => Value::Int(sum(0) as i64 as i128),
            ValueKind::Min | ValueKind::Max => {
                Value::Int(self.min_max(m.value.kind == ValueKind::Min, per_cpu) as i128)
            }
            ValueKind::Avg | ValueKind::Stats => {
                let (total, count) = (sum(0) as i64, sum(8));
                Value::Stats {
                    count,
                    avg: avg(total, count),
                    total,
                }
            }
            ValueKind::Kstack => Value::Str(self.stack_value(m.value.stack.as_ref(), sum(0))),
            ValueKind::Func => Value::Str(self.named(Named::Func, sum(0))),
            ValueKind::Probe => Value::Str(self.named(Named::Probe, sum(0))),
            ValueKind::Ksym => Value::Str(self.named(Named::Ksym, sum(0))),
            ValueKind::Username => Value::Str(self.named(Named::Username, sum(0))),
            ValueKind::Timestamp => {
                let fmt = m.value.format.as_deref();
                Value::Str(self.named(Named::Timestamp(fmt), sum(0)))
            }
            ValueKind::CgroupPath => Value::Str(self.named(Named::CgroupPath, sum(0))),
            ValueKind::Inet => Value::Str(inet(self.endian, first)),
            ValueKind::Tuple => self.tuple(&m.value.elems, first),
            // A histogram's value is its buckets, gathered from the keys.
            ValueKind::Hist | ValueKind::Lhist => Value::Buckets(Vec::new()),
        }
    }

    /// `{s64 value; u64 set}` combined over the CPUs that saw a value; 0
    /// when none did (a zeroed map).
    fn min_max(&self, min: bool, per_cpu: &[Vec<u8>]) -> i64 {
        let seen = per_cpu
            .iter()
            .filter(|v| self.u64_at(v, 8) != 0)
            .map(|v| self.u64_at(v, 0) as i64);
        if min {
            seen.min().unwrap_or(0)
        } else {
            seen.max().unwrap_or(0)
        }
    }

    /// A record's entry in the manifest and its arguments.
    pub fn record_args(&self, bytes: &[u8]) -> Result<(&OutputEntry, Vec<Arg>), DecodeError> {
        let id = self.u64_at(bytes, 0);
        let entry = self
            .manifest
            .output
            .iter()
            .find(|p| p.id as u64 == id)
            .ok_or(DecodeError::UnknownFormat { id })?;
        if bytes.len() < entry.size as usize {
            return Err(DecodeError::ShortRecord {
                id,
                len: bytes.len(),
                size: entry.size,
            });
        }
        let args = entry
            .args
            .iter()
            .map(|a| {
                let off = a.offset as usize;
                let v = self.u64_at(bytes, off);
                match a.kind {
                    ArgKind::Int => Arg::Int(v),
                    ArgKind::String => {
                        let end = (off + a.size as usize).min(bytes.len());
                        Arg::Str(c_string(bytes.get(off..end).unwrap_or(&[])))
                    }
                    ArgKind::Func => Arg::Str(self.named(Named::Func, v)),
                    ArgKind::Probe => Arg::Str(self.named(Named::Probe, v)),
                    ArgKind::Ksym => Arg::Str(self.named(Named::Ksym, v)),
                    ArgKind::Username => Arg::Str(self.named(Named::Username, v)),
                    ArgKind::Timestamp => {
                        Arg::Str(self.named(Named::Timestamp(a.format.as_deref()), v))
                    }
                    ArgKind::CgroupPath => Arg::Str(self.named(Named::CgroupPath, v)),
                    ArgKind::Kstack => Arg::Str(self.stack_value(a.stack.as_ref(), v)),
                    ArgKind::Tuple => Arg::Str(
                        crate::text::value(&self.arg_tuple(a, bytes))
                            .trim_end()
                            .into(),
                    ),
                    ArgKind::Inet | ArgKind::Buf => {
                        let end = (off + a.size as usize).min(bytes.len());
                        let field = bytes.get(off..end).unwrap_or(&[]);
                        Arg::Str(if a.kind == ArgKind::Inet {
                            inet(self.endian, field)
                        } else {
                            self.buffer(field)
                        })
                    }
                }
            })
            .collect();
        Ok((entry, args))
    }
}

/// A key as an error names it: `["dd", 3]`, with its bucket.
fn describe(parts: &[Key], bucket: Option<u64>) -> String {
    let shown: Vec<String> = parts
        .iter()
        .map(|p| match p {
            Key::Int(i) => i.to_string(),
            Key::Str(s) => format!("{s:?}"),
            Key::Stack(f) => format!("{f:?}"),
        })
        .collect();
    let bucket = bucket.map(|b| format!(" bucket {b}")).unwrap_or_default();
    format!("[{}]{bucket}", shown.join(", "))
}

fn avg(total: i64, count: u64) -> i64 {
    if count == 0 {
        0
    } else {
        total.wrapping_div(count as i64)
    }
}

#[cfg(test)]
mod tests;
