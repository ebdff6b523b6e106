//! `fixtures/specs/aggregations.bt` (count sum avg min max stats hist lhist
//! keyed by comm, on per-CPU maps) against a plain Rust model of bpftrace's
//! aggregations, over random event streams spread over several CPUs.

mod support;

use std::collections::BTreeMap;

use probecc::arch::Arch;
use probecc_runtime::decode::{Bucket, Key, Value};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use vm_tests::{Event, Options, Output};

const COMMS: [&str; 3] = ["dd", "cat", "a-longer-name"];

/// The model: every value of each comm, as bpftrace's s64.
fn model(events: &[(usize, i64, u32)]) -> BTreeMap<&'static str, Vec<i64>> {
    let mut m: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for &(c, v, _) in events {
        m.entry(COMMS[c]).or_default().push(v);
    }
    m
}

fn hist_index(v: i64) -> u64 {
    match v {
        v if v < 0 => 0,
        0 => 1,
        v => 2 + (63 - v.leading_zeros() as u64),
    }
}

/// lhist(v, 0, 1024, 128).
fn lhist_index(v: i64) -> u64 {
    match v {
        v if v < 0 => 0,
        v if v >= 1024 => 9,
        v => 1 + v as u64 / 128,
    }
}

fn buckets(values: &[i64], index: fn(i64) -> u64) -> Vec<(u64, u64)> {
    let mut b: BTreeMap<u64, u64> = BTreeMap::new();
    values
        .iter()
        .for_each(|&v| *b.entry(index(v)).or_default() += 1);
    b.into_iter().collect()
}

fn expected(map: &str, values: &[i64]) -> Value {
    let n = values.len() as i64;
    let total = values.iter().fold(0i64, |a, &v| a.wrapping_add(v));
    let int = |v: i64| Value::Int(v as i128);
    match map {
        "@count" => int(n),
        "@sum" => int(total),
        "@avg" => Value::Stats {
            count: n as u64,
            avg: total.wrapping_div(n),
            total,
        },
        "@min" => int(*values.iter().min().unwrap_or(&0)),
        "@max" => int(*values.iter().max().unwrap_or(&0)),
        "@stats" => Value::Stats {
            count: n as u64,
            avg: total.wrapping_div(n),
            total,
        },
        _ => unreachable!(),
    }
}

fn got(r: &Output, map: &str) -> BTreeMap<String, Value> {
    let m = r.maps.iter().find(|m| m.name == map).expect(map);
    m.entries
        .iter()
        .map(|e| match &e.key[..] {
            [Key::Str(s)] => (s.clone(), e.value.clone()),
            k => panic!("{map} key {k:?}"),
        })
        .collect()
}

fn bucket_counts(v: &Value) -> Vec<(u64, u64)> {
    match v {
        Value::Buckets(b) => b
            .iter()
            .map(|Bucket { index, count, .. }| (*index, *count))
            .collect(),
        other => panic!("not buckets: {other:?}"),
    }
}

fn value_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..20, 0i64..5000, any::<i64>(), -300i64..0]
}

#[test]
fn aggregations_match_the_model() {
    for arch in [Arch::X86_64, Arch::S390x] {
        let a = support::compile_fixture("aggregations", arch);
        let p = support::load(&a, arch, Options::default());
        let events = vec((0..COMMS.len(), value_strategy(), 0u32..4), 1..40);
        let mut runner = TestRunner::new(Config::with_cases(64));
        runner
            .run(&events, |events| {
                let evs: Vec<Event> = events
                    .iter()
                    .map(|&(c, v, cpu)| {
                        let mut e = Event::new("kprobe:vfs_write");
                        e.comm = COMMS[c].into();
                        e.args = vec![1, 2, v as u64];
                        e.cpu = cpu;
                        e
                    })
                    .collect();
                let r = p
                    .run(&evs)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let model = model(&events);
                for map in ["@count", "@sum", "@avg", "@min", "@max", "@stats"] {
                    let want: BTreeMap<String, Value> = model
                        .iter()
                        .map(|(k, v)| (k.to_string(), expected(map, v)))
                        .collect();
                    prop_assert_eq!(got(&r, map), want, "{} {}", arch, map);
                }
                for (map, index) in [
                    ("@hist", hist_index as fn(i64) -> u64),
                    ("@lhist", lhist_index),
                ] {
                    let g = got(&r, map);
                    prop_assert_eq!(g.len(), model.len());
                    for (comm, values) in &model {
                        let v = g
                            .get(*comm)
                            .ok_or_else(|| TestCaseError::fail(format!("{map}[{comm}] missing")))?;
                        prop_assert_eq!(
                            bucket_counts(v),
                            buckets(values, index),
                            "{} {}[{}]",
                            arch,
                            map,
                            comm
                        );
                    }
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{arch}: {e}"));
    }
}
