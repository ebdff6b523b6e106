//! Reading a loaded fixture's maps back, decoded by its manifest: every
//! entry as `{key: [parts], value}`, per-CPU values combined as bpftrace
//! does (counts and sums added, min/max over CPUs that saw a value,
//! avg/stats totals and counts added, hist/lhist bucket counts added), and
//! hist/lhist values as their non-empty buckets `{min, max, count}`.

use std::collections::BTreeMap;
use std::os::fd::RawFd;

use probecc::lang::manifest::{KeyEntry, KeyKind, Manifest, MapEntry, ValueKind};
use probecc::maps::MapKind;
use serde_json::{json, Value};

use crate::bpf;
use crate::ksyms::Ksyms;

/// One decoded map: user key parts → combined value.
pub type Entries = Vec<(Vec<Value>, Value)>;

/// Reads and decodes map `m` through its descriptor.
pub fn read(
    fd: RawFd,
    m: &MapEntry,
    manifest: &Manifest,
    stacks: Option<RawFd>,
    ksyms: &Ksyms,
    cpus: usize,
) -> std::io::Result<Entries> {
    let percpu = m.kind == MapKind::PercpuHash;
    let stride = (m.value.size as usize).div_ceil(8) * 8;
    let slots = if percpu { cpus } else { 1 };
    let bucketed = m.value.kind.bucketed();
    let mut grouped: BTreeMap<String, (Vec<Value>, Value)> = BTreeMap::new();
    let mut dups: BTreeMap<String, usize> = BTreeMap::new();
    let mut buckets_seen: BTreeMap<(String, i64), usize> = BTreeMap::new();
    for key in bpf::map_keys(fd, m.key_size as usize)? {
        let mut value = vec![0u8; stride * slots];
        if bpf::map_lookup(fd, &key, &mut value).is_err() {
            continue; // deleted meanwhile
        }
        let parts: Vec<Value> = m
            .keys
            .iter()
            .map(|k| key_part(&key, k, manifest, stacks, ksyms))
            .collect();
        let per_cpu: Vec<&[u8]> = value.chunks(stride).collect();
        let id = serde_json::to_string(&parts).unwrap_or_default();
        if bucketed {
            let bucket = int(&key, m.key_size as usize - 8, 8, false);
            let seen = buckets_seen.entry((id.clone(), bucket)).or_insert(0);
            *seen += 1;
            if *seen > 1 {
                *dups.entry(id.clone()).or_insert(1) += 1;
            }
            let count: i64 = per_cpu.iter().map(|v| int(v, 0, 8, false)).sum();
            let e = grouped.entry(id).or_insert((parts, json!([])));
            if let Value::Array(b) = &mut e.1 {
                b.push(bucket_json(m, bucket, count));
            }
        } else if let Some(prev) = grouped.get_mut(&id) {
            // Two raw keys that decode alike: bytes the decoding ignores
            // (after a string's NUL) differ. Counted, and made an error.
            *dups.entry(id).or_insert(1) += 1;
            let add = combine(m, &per_cpu);
            if let (Some(a), Some(b)) = (prev.1.as_i64(), add.as_i64()) {
                prev.1 = json!(a + b);
            }
        } else {
            grouped.insert(id, (parts, combine(m, &per_cpu)));
        }
    }
    if let Some((id, n)) = dups.iter().max_by_key(|(_, n)| **n) {
        return Err(std::io::Error::other(format!(
            "{n} distinct raw keys decode to the key {id} ({} keys so affected): the key has bytes \
             that should be zero, e.g. after a string's NUL",
            dups.len()
        )));
    }
    let mut out: Entries = grouped.into_values().collect();
    for (_, v) in &mut out {
        if let Value::Array(b) = v {
            b.sort_by_key(|x| x["index"].as_i64());
        }
    }
    Ok(out)
}

/// An integer of `size` bytes at `off`, native byte order.
pub fn int(bytes: &[u8], off: usize, size: usize, signed: bool) -> i64 {
    let Some(b) = bytes.get(off..off + size) else {
        return 0;
    };
    match (size, signed) {
        (1, true) => b[0] as i8 as i64,
        (1, false) => b[0] as i64,
        (2, true) => i16::from_ne_bytes([b[0], b[1]]) as i64,
        (2, false) => u16::from_ne_bytes([b[0], b[1]]) as i64,
        (4, true) => i32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as i64,
        (4, false) => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as i64,
        _ => {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[..8.min(b.len())]);
            i64::from_ne_bytes(a)
        }
    }
}

/// A NUL-terminated string of at most `size` bytes at `off`.
pub fn string(bytes: &[u8], off: usize, size: usize) -> String {
    let b = bytes.get(off..(off + size).min(bytes.len())).unwrap_or(&[]);
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn key_part(
    key: &[u8],
    k: &KeyEntry,
    manifest: &Manifest,
    stacks: Option<RawFd>,
    ksyms: &Ksyms,
) -> Value {
    let off = k.offset as usize;
    let size = k.size.unwrap_or(8) as usize;
    match k.kind {
        KeyKind::String => json!(string(key, off, size)),
        KeyKind::Func => name(&manifest.funcs, int(key, off, 8, false)),
        KeyKind::Probe => name(&manifest.probes, int(key, off, 8, false)),
        KeyKind::Kstack => stack(stacks, int(key, off, 8, false), ksyms),
        _ => json!(int(key, off, size, k.signed.unwrap_or(false))),
    }
}

fn name(names: &[String], id: i64) -> Value {
    usize::try_from(id)
        .ok()
        .and_then(|i| names.get(i))
        .map_or(json!(id), |n| json!(n))
}

/// The frames of stack `id` in the stack-trace map, as `symbol+off`.
fn stack(map: Option<RawFd>, id: i64, ksyms: &Ksyms) -> Value {
    let Some(fd) = map else {
        return json!(id);
    };
    let mut frames = vec![0u8; 127 * 8];
    if bpf::map_lookup(fd, &(id as u32).to_ne_bytes(), &mut frames).is_err() {
        return json!(id);
    }
    let names: Vec<String> = frames
        .chunks(8)
        .map(|f| int(f, 0, 8, false) as u64)
        .take_while(|&a| a != 0)
        .map(|a| ksyms.describe(a))
        .collect();
    json!(names)
}

/// The per-CPU values of a non-bucketed map combined into one.
fn combine(m: &MapEntry, cpus: &[&[u8]]) -> Value {
    let signed = m.value.signed.unwrap_or(true);
    let size = m.value.size as usize;
    match m.value.kind {
        ValueKind::Count | ValueKind::Sum => {
            json!(cpus.iter().map(|v| int(v, 0, 8, signed)).sum::<i64>())
        }
        ValueKind::Min | ValueKind::Max => {
            let seen = cpus
                .iter()
                .filter(|v| int(v, 8, 8, false) != 0)
                .map(|v| int(v, 0, 8, true));
            let best = if m.value.kind == ValueKind::Min {
                seen.min()
            } else {
                seen.max()
            };
            best.map_or(Value::Null, |b| json!(b))
        }
        ValueKind::Avg | ValueKind::Stats => {
            let total: i64 = cpus.iter().map(|v| int(v, 0, 8, true)).sum();
            let count: i64 = cpus.iter().map(|v| int(v, 8, 8, false)).sum();
            let avg = if count == 0 { 0 } else { total / count };
            json!({"count": count, "avg": avg, "total": total})
        }
        ValueKind::String => json!(string(cpus[0], 0, size)),
        _ => json!(int(
            cpus[0],
            0,
            size.min(8),
            m.value.signed.unwrap_or(false)
        )),
    }
}

/// A bucket index as `{index, min, max, count}` (`min` null for the
/// negative bucket, `max` null for the open top one).
fn bucket_json(m: &MapEntry, index: i64, count: i64) -> Value {
    let (lo, hi) = match m.value.lhist {
        Some(l) => lhist_range(l.min, l.max, l.step, index),
        None => hist_range(index),
    };
    json!({"index": index, "min": lo, "max": hi, "count": count})
}

/// hist: 0 for x < 0, 1 for x == 0, k + 2 for 2^k <= x < 2^(k+1).
fn hist_range(index: i64) -> (Option<i64>, Option<i64>) {
    match index {
        0 => (None, Some(0)),
        1 => (Some(0), Some(1)),
        k if k >= 65 => (Some(i64::MAX), None),
        k => {
            let lo = 1i64.checked_shl((k - 2) as u32).unwrap_or(i64::MAX);
            (Some(lo), lo.checked_mul(2))
        }
    }
}

/// lhist: 0 below min, 1 + (x - min) / step, the last at or above max.
fn lhist_range(min: i64, max: i64, step: i64, index: i64) -> (Option<i64>, Option<i64>) {
    let step = step.max(1);
    let last = 1 + (max - min + step - 1) / step;
    if index == 0 {
        (None, Some(min))
    } else if index >= last {
        (Some(max), None)
    } else {
        let lo = min + (index - 1) * step;
        (Some(lo), Some((lo + step).min(max)))
    }
}
