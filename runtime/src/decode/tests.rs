//! Decoding raw entries and records by a manifest, in both byte orders.

use serde_json::json;

use super::*;

/// A manifest with one map of `value` (JSON of a `ValueEntry`) keyed by
/// `keys`, and a printf record kind.
pub(crate) fn manifest(keys: serde_json::Value, value: serde_json::Value) -> Manifest {
    let key_size = keys.as_array().map_or(0, |k| k.len() * 8).max(8);
    serde_json::from_value(json!({
        "name": "t", "arch": "x86_64", "programs": [],
        "funcs": ["vfs_read", "vfs_write"],
        "probes": ["kprobe:vfs_read", "kprobe:vfs_write"],
        "maps": [{"name": "@m", "symbol": "AT_m", "kind": "percpu_hash", "keys": keys,
                  "key_size": key_size, "value": value, "max_entries": 16}],
        "output": [{"id": 0, "kind": "printf", "format": "%s %d %s|%-6s|\n", "size": 48, "args": [
            {"kind": "string", "offset": 8, "size": 16, "signed": false},
            {"kind": "int", "offset": 24, "size": 8, "signed": true},
            {"kind": "func", "offset": 32, "size": 8, "signed": false},
            {"kind": "probe", "offset": 40, "size": 8, "signed": false}]}],
        "ringbuf": "output_rb"
    }))
    .expect("a valid manifest")
}

fn int_key() -> serde_json::Value {
    json!([{"kind": "int", "size": 8, "signed": true, "offset": 0}])
}

fn value(kind: &str, size: u32) -> serde_json::Value {
    json!({"kind": kind, "size": size})
}

fn no_stacks(_: &str, _: u32) -> Option<Vec<u64>> {
    None
}

fn decoder<'a>(m: &'a Manifest, endian: Endian, ksyms: &'a Ksyms) -> Decoder<'a> {
    Decoder {
        manifest: m,
        endian,
        ksyms,
        stacks: &no_stacks,
        host: &crate::host::Fixed,
    }
}

/// Little- or big-endian u64s as bytes.
fn words(endian: Endian, v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|&x| endian.u64_bytes(x)).collect()
}

#[test]
fn per_cpu_values_combine_as_bpftrace_combines_them() {
    let k = Ksyms::default();
    for endian in [Endian::Little, Endian::Big] {
        let w = |v: &[u64]| words(endian, v);
        let cases = [
            ("count", 8, vec![w(&[2]), w(&[3])], Value::Int(5)),
            ("sum", 8, vec![w(&[5]), w(&[-7i64 as u64])], Value::Int(-2)),
            // The second CPU never saw a value: its 0 does not count.
            ("min", 16, vec![w(&[4, 1]), w(&[0, 0])], Value::Int(4)),
            (
                "max",
                16,
                vec![w(&[-4i64 as u64, 1]), w(&[-9i64 as u64, 1])],
                Value::Int(-4),
            ),
            ("max", 16, vec![w(&[0, 0])], Value::Int(0)),
            (
                "avg",
                16,
                vec![w(&[10, 2]), w(&[-1i64 as u64, 1])],
                Value::Stats {
                    count: 3,
                    avg: 3,
                    total: 9,
                },
            ),
            (
                "stats",
                16,
                vec![w(&[10, 2]), w(&[5, 1])],
                Value::Stats {
                    count: 3,
                    avg: 5,
                    total: 15,
                },
            ),
            ("int", 8, vec![w(&[-1i64 as u64])], Value::Int(-1)),
            ("func", 8, vec![w(&[1])], Value::Str("vfs_write".into())),
            ("probe", 8, vec![w(&[7])], Value::Str("<probe 7>".into())),
        ];
        for (kind, size, per_cpu, want) in cases {
            let m = manifest(int_key(), value(kind, size));
            let d = decoder(&m, endian, &k);
            let dump = d.map(&m.maps[0], [(w(&[9]), per_cpu)]).unwrap();
            assert_eq!(dump.entries.len(), 1, "{kind}");
            assert_eq!(dump.entries[0].key, [Key::Int(9)], "{kind}");
            assert_eq!(dump.entries[0].value, want, "{kind} {endian:?}");
        }
    }
}

#[test]
fn histogram_buckets_come_from_the_key() {
    let m = manifest(int_key(), value("hist", 8));
    let k = Ksyms::default();
    let e = Endian::Little;
    let d = decoder(&m, e, &k);
    let raw = vec![
        (words(e, &[1, 4]), vec![words(e, &[2]), words(e, &[1])]),
        (words(e, &[1, 0]), vec![words(e, &[1])]),
        (words(e, &[1, 6]), vec![words(e, &[0])]),
        // A key whose every bucket is zero (after `zero()`) stays.
        (words(e, &[2, 3]), vec![words(e, &[0])]),
    ];
    let dump = d.map(&m.maps[0], raw).unwrap();
    let b = |index, min, max, count| Bucket {
        index,
        min,
        max,
        count,
    };
    assert_eq!(
        dump.entries,
        [
            Entry {
                key: vec![Key::Int(1)],
                value: Value::Buckets(vec![b(0, None, Some(0), 1), b(4, Some(4), Some(8), 3)]),
            },
            Entry {
                key: vec![Key::Int(2)],
                value: Value::Buckets(vec![]),
            },
        ]
    );
}

#[test]
fn two_raw_keys_decoding_alike_are_an_error() {
    let keys = json!([{"kind": "string", "size": 8, "offset": 0}]);
    let m = manifest(keys, value("count", 8));
    let k = Ksyms::default();
    let d = decoder(&m, Endian::Little, &k);
    let one = vec![words(Endian::Little, &[1])];
    let raw = vec![
        (b"dd\0xxxxx".to_vec(), one.clone()),
        (b"dd\0yyyyy".to_vec(), one.clone()),
        (b"cat\0\0\0\0\0".to_vec(), one),
    ];
    let e = d.map(&m.maps[0], raw).unwrap_err();
    assert_eq!(
        e.to_string(),
        "@m: 2 distinct raw keys decode to the key [\"dd\"] (1 keys so affected): the key has \
         bytes that should be zero, e.g. after a string's NUL"
    );
}

#[test]
fn names_and_stacks_are_looked_up() {
    let stack = json!({"map": "stack_traces", "mode": "bpftrace", "limit": 127});
    let keys = json!([{"kind": "func", "size": 8, "offset": 0},
                      {"kind": "kstack", "offset": 8, "stack": stack}]);
    let m = manifest(keys, value("count", 8));
    let ksyms = Ksyms::from_symbols([(0x1000, "a".into()), (0x2000, "b".into())]);
    let stacks =
        |map: &str, id: u32| (map == "stack_traces" && id == 3).then(|| vec![0x2004, 0x1010, 0]);
    let e = Endian::Little;
    let d = Decoder {
        stacks: &stacks,
        ..decoder(&m, e, &ksyms)
    };
    let raw = vec![
        (words(e, &[0, 3]), vec![words(e, &[1])]),
        (words(e, &[5, 4]), vec![words(e, &[1])]),
    ];
    let dump = d.map(&m.maps[0], raw).unwrap();
    assert_eq!(
        dump.entries[0].key,
        [Key::Str("<func 5>".into()), Key::Stack(vec![]),]
    );
    assert_eq!(
        dump.entries[1].key,
        [
            Key::Str("vfs_read".into()),
            Key::Stack(vec!["b+4".into(), "a+16".into()]),
        ]
    );
    assert_eq!(
        stack_text(&[0x2004, 0x1010], &ksyms, StackMode::Bpftrace, 8),
        "\n        b+4\n        a+16\n"
    );
    assert_eq!(
        stack_text(&[0x2004], &ksyms, StackMode::Perf, 8),
        "\n\t2004 b+4\n"
    );
    assert_eq!(stack_text(&[0x2004], &ksyms, StackMode::Raw, 8), "\n2004\n");
}

#[test]
fn a_stack_keeps_at_most_its_limit_of_frames_and_prints_in_its_mode() {
    let stack = json!({"map": "stack_traces_1", "mode": "perf", "limit": 1});
    let m = manifest(
        json!([{"kind": "kstack", "offset": 0, "stack": stack}]),
        json!({"kind": "kstack", "size": 8, "stack": stack}),
    );
    let ksyms = Ksyms::from_symbols([(0x1000, "a".into())]);
    let stacks = |map: &str, _: u32| (map == "stack_traces_1").then(|| vec![0x1001, 0x1002]);
    let e = Endian::Little;
    let d = Decoder {
        stacks: &stacks,
        ..decoder(&m, e, &ksyms)
    };
    let dump = d
        .map(&m.maps[0], vec![(words(e, &[7]), vec![words(e, &[7])])])
        .unwrap();
    let frame = "\n\t1001 a+1\n".to_string();
    assert_eq!(dump.entries[0].key, [Key::Str(frame.clone())]);
    assert_eq!(dump.entries[0].value, Value::Str(frame));
}

#[test]
fn keys_sort_as_bpftrace_sorts_them() {
    let ints = [Key::Int(u64::MAX as i128), Key::Int(-1), Key::Int(2)];
    let mut sorted = ints.to_vec();
    sorted.sort_by(|a, b| key_order(std::slice::from_ref(a), std::slice::from_ref(b)));
    // u64::MAX is -1 as an s64: bpftrace compares keys as s64.
    assert_eq!(
        sorted,
        [Key::Int(-1), Key::Int(u64::MAX as i128), Key::Int(2)]
    );
    let a = [Key::Str("b".into()), Key::Int(1)];
    let b = [Key::Str("ab".into()), Key::Int(9)];
    assert_eq!(key_order(&a, &b), Ordering::Greater);
}

#[test]
fn maps_print_in_bpftrace_order() {
    let entry = |k: &str, v: Value| Entry {
        key: vec![Key::Str(k.into())],
        value: v,
    };
    let b = |count| Bucket {
        index: 1,
        min: Some(0),
        max: Some(1),
        count,
    };
    let dump = |kind, entries| MapDump {
        name: "@m".into(),
        kind,
        keyless: false,
        lhist: None,
        entries,
    };
    let keys = |d: &MapDump| -> Vec<String> {
        d.printed()
            .iter()
            .map(|e| match &e.key[0] {
                Key::Str(s) => s.clone(),
                _ => unreachable!(),
            })
            .collect()
    };
    let counts = dump(
        ValueKind::Count,
        vec![
            entry("a", Value::Int(5)),
            entry("b", Value::Int(2)),
            entry("c", Value::Int(5)),
        ],
    );
    assert_eq!(keys(&counts), ["b", "a", "c"]);
    let hists = dump(
        ValueKind::Hist,
        vec![
            entry("a", Value::Buckets(vec![b(3), b(1)])),
            entry("b", Value::Buckets(vec![b(2)])),
        ],
    );
    assert_eq!(keys(&hists), ["b", "a"]);
    let strings = dump(
        ValueKind::String,
        vec![
            entry("a", Value::Str("z".into())),
            entry("b", Value::Str("a".into())),
        ],
    );
    assert_eq!(keys(&strings), ["a", "b"]);
}

#[test]
fn records_give_their_arguments_with_names() {
    let m = manifest(int_key(), value("count", 8));
    let k = Ksyms::default();
    for e in [Endian::Little, Endian::Big] {
        let d = decoder(&m, e, &k);
        let mut record = words(e, &[0]);
        record.extend(b"dd\0garbage\0\0\0\0\0\0");
        record.extend(words(e, &[-3i64 as u64, 1, 0]));
        let (entry, args) = d.record_args(&record).unwrap();
        assert_eq!(entry.id, 0);
        assert_eq!(
            args,
            [
                Arg::Str("dd".into()),
                Arg::Int(-3i64 as u64),
                Arg::Str("vfs_write".into()),
                Arg::Str("kprobe:vfs_read".into())
            ]
        );
        assert_eq!(
            d.record_args(&record[..40]).unwrap_err(),
            DecodeError::ShortRecord {
                id: 0,
                len: 40,
                size: 48
            }
        );
        assert_eq!(
            d.record_args(&words(e, &[4])).unwrap_err(),
            DecodeError::UnknownFormat { id: 4 }
        );
    }
}

/// A tuple value decodes element by element as its `elems` describe it,
/// each as a key part of its kind would, in either byte order.
#[test]
fn a_tuple_value_decodes_by_its_elements() {
    let k = Ksyms::default();
    let value = json!({"kind": "tuple", "size": 32, "elems": [
        {"kind": "int", "size": 8, "signed": true, "offset": 0},
        {"kind": "string", "size": 16, "offset": 8},
        {"kind": "func", "size": 8, "offset": 24}]});
    let m = manifest(int_key(), value);
    for endian in [Endian::Little, Endian::Big] {
        let d = decoder(&m, endian, &k);
        let mut v = words(endian, &[-3i64 as u64]);
        v.extend(b"cat\0\0\0\0\0\0\0\0\0\0\0\0\0");
        v.extend(words(endian, &[1]));
        let dump = d
            .map(&m.maps[0], [(words(endian, &[7]), vec![v])])
            .expect("decodes");
        assert_eq!(
            dump.entries[0].value,
            Value::Tuple(vec![
                Value::Int(-3),
                Value::Str("cat".into()),
                Value::Str("vfs_write".into())
            ])
        );
    }
}
