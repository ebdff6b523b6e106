//! A run with every kind of map, rendered in both styles against what
//! bpftrace printed for the same program (`every_kind.bt`, run by
//! bpftrace 0.17): its text byte for byte (`every_kind.txt`), and its
//! JSON as current bpftrace writes it (`every_kind.jsonl`: 0.17's lines
//! with the differences the `json` module names applied).

use probecc::lang::manifest::{LhistBounds, ValueKind};

use super::*;
use crate::buckets::{hist_bounds, lhist_bounds, lhist_steps};
use crate::decode::{Bucket, Entry, Key, MapDump, Value};

/// The buckets the compiled code would fill for `values`.
fn buckets(values: &[i64], lhist: Option<LhistBounds>) -> Value {
    let index = |v: i64| -> u64 {
        match lhist {
            None if v < 0 => 0,
            None if v == 0 => 1,
            None => 2 + (63 - v.leading_zeros() as u64),
            Some(b) if v < b.min => 0,
            Some(b) if v >= b.max => 1 + lhist_steps(b) as u64,
            Some(b) => 1 + ((v - b.min) / b.step) as u64,
        }
    };
    let mut out: Vec<Bucket> = Vec::new();
    for &v in values {
        let i = index(v);
        match out.iter_mut().find(|b| b.index == i) {
            Some(b) => b.count += 1,
            None => {
                let (min, max) = match lhist {
                    Some(b) => lhist_bounds(b, i),
                    None => hist_bounds(i),
                };
                out.push(Bucket {
                    index: i,
                    min,
                    max,
                    count: 1,
                });
            }
        }
    }
    out.sort_by_key(|b| b.index);
    Value::Buckets(out)
}

fn s(x: &str) -> Key {
    Key::Str(x.into())
}

fn dump(name: &str, kind: ValueKind, entries: Vec<(Vec<Key>, Value)>) -> MapDump {
    MapDump {
        name: name.into(),
        kind,
        keyless: entries.first().is_some_and(|(k, _)| k.is_empty()),
        lhist: None,
        entries: entries
            .into_iter()
            .map(|(key, value)| Entry { key, value })
            .collect(),
    }
}

fn lhist(name: &str, b: LhistBounds, entries: Vec<(Vec<Key>, &[i64])>) -> MapDump {
    let entries = entries
        .into_iter()
        .map(|(k, v)| (k, buckets(v, Some(b))))
        .collect();
    MapDump {
        lhist: Some(b),
        ..dump(name, ValueKind::Lhist, entries)
    }
}

fn bounds(min: i64, max: i64, step: i64) -> LhistBounds {
    LhistBounds { min, max, step }
}

fn int(i: i128) -> Value {
    Value::Int(i)
}

fn stats(count: u64, avg: i64, total: i64) -> Value {
    Value::Stats { count, avg, total }
}

/// What `every_kind.bt` leaves, entries in key order as decoding gives
/// them.
fn every_kind() -> Output {
    use ValueKind::*;
    let c = dump(
        "@c",
        Count,
        vec![(vec![s("x")], int(1)), (vec![s("y")], int(2))],
    );
    let h = dump(
        "@h",
        Hist,
        vec![(vec![], buckets(&[5, -1, 100, 3_000_000], None))],
    );
    let maps = vec![
        dump("@a", Count, vec![(vec![], int(1))]),
        c.clone(),
        h.clone(),
        dump(
            "@hk",
            Hist,
            vec![
                (vec![s("a")], buckets(&[5], None)),
                (vec![s("b")], buckets(&[1, 100], None)),
                (vec![s("c")], buckets(&[5, 5, 5], None)),
            ],
        ),
        dump(
            "@i",
            Int,
            vec![
                (vec![Key::Int(1)], int(-3)),
                (vec![Key::Int(2)], int(2)),
                (vec![Key::Int(3)], int(0)),
            ],
        ),
        lhist(
            "@l",
            bounds(0, 1000, 250),
            vec![(vec![], &[1000, 950, -5, 5])],
        ),
        lhist(
            "@lk",
            bounds(0, 10, 1),
            vec![
                (vec![Key::Int(1)], &[-1, 10, 11]),
                (vec![Key::Int(2)], &[5]),
            ],
        ),
        lhist("@lkb", bounds(0, 8192, 1024), vec![(vec![], &[5000])]),
        dump(
            "@mn",
            Min,
            vec![
                (vec![Key::Int(1)], int(-5)),
                (vec![Key::Int(2)], int(3)),
                (vec![Key::Int(3)], int(-1)),
            ],
        ),
        dump("@mx", Max, vec![]),
        dump(
            "@s",
            Stats,
            vec![
                (vec![s("x")], stats(1, 5, 5)),
                (vec![s("y")], stats(1, 1, 1)),
            ],
        ),
        dump("@s1", Stats, vec![(vec![], stats(1, 3, 3))]),
        dump(
            "@str",
            String,
            vec![
                (vec![s("a")], Value::Str("z y".into())),
                (vec![s("k")], Value::Str("hello".into())),
            ],
        ),
        dump(
            "@two",
            Sum,
            vec![
                (vec![Key::Int(1), s("a b")], int(-5)),
                (vec![Key::Int(2), s("c")], int(3)),
            ],
        ),
        dump(
            "@v",
            Avg,
            vec![
                (vec![s("q")], stats(1, 7, 7)),
                (vec![s("r")], stats(1, 2, 2)),
            ],
        ),
        dump("@v1", Avg, vec![(vec![], stats(1, 10, 10))]),
    ];
    Output {
        chunks: vec![
            Chunk::Printf("hi 4|   ab|7   |\n".into()),
            Chunk::Printf("no newline".into()),
            Chunk::Print(c),
            Chunk::Print(h),
            Chunk::Printf("end \"q\"\t\n".into()),
        ],
        maps,
    }
}

#[test]
fn text_is_what_bpftrace_printed() {
    let want = include_str!("every_kind.txt");
    let got = Style::Text.attached_probes(2) + &every_kind().render(Style::Text);
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {}", i + 1);
    }
    assert_eq!(got, want);
}

#[test]
fn json_lines_are_what_bpftrace_writes() {
    let want = include_str!("every_kind.jsonl");
    let got = Style::Json.attached_probes(2) + &every_kind().render(Style::Json);
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {}", i + 1);
        serde_json::from_str::<serde_json::Value>(g).expect("one JSON object a line");
    }
    assert_eq!(got, want);
}

#[test]
fn lines_split_the_text_at_newlines() {
    assert_eq!(
        every_kind().lines(),
        ["hi 4|   ab|7   |", "no newlineend \"q\"\t"]
    );
}

/// The text records besides printf: `time()`, `cat()` and `system()` print
/// their text as it is, `print()` of a value the value and a newline; in
/// JSON each is a message of its type (`syscall` for system), the value
/// a number where it is one.
#[test]
fn text_records_print_as_bpftrace_prints_them() {
    let out = Output {
        chunks: vec![
            Chunk::Time("12:00:01 ".into()),
            Chunk::Printf("load\n".into()),
            Chunk::Cat("0.01 0.02\n".into()),
            Chunk::System("ok\n".into()),
            Chunk::Value(Value::Int(-5)),
            Chunk::Value(Value::Str("vfs_read".into())),
        ],
        maps: vec![],
    };
    assert_eq!(
        out.render(Style::Text),
        "12:00:01 load\n0.01 0.02\nok\n-5\nvfs_read\n\n\n"
    );
    assert_eq!(
        out.render(Style::Json),
        "{\"type\": \"time\", \"data\": \"12:00:01 \"}\n\
         {\"type\": \"printf\", \"data\": \"load\\n\"}\n\
         {\"type\": \"cat\", \"data\": \"0.01 0.02\\n\"}\n\
         {\"type\": \"syscall\", \"data\": \"ok\\n\"}\n\
         {\"type\": \"value\", \"data\": -5}\n\
         {\"type\": \"value\", \"data\": \"vfs_read\"}\n"
    );
    assert_eq!(
        out.lines(),
        ["12:00:01 load", "0.01 0.02", "ok", "-5", "vfs_read"]
    );
}

/// Tuples as bpftrace's tests show them: `(16, 32)` in text, elements as
/// they print alone; a JSON array without spaces, `[1,2,"string"]`, as a
/// printed value and as a map's value.
#[test]
fn tuples_print_as_bpftrace_prints_them() {
    let t = |elems: Vec<Value>| Value::Tuple(elems);
    let value = t(vec![
        Value::Int(1),
        Value::Int(2),
        Value::Str("a \"b\"".into()),
    ]);
    let out = Output {
        chunks: vec![Chunk::Value(value.clone())],
        maps: vec![
            dump(
                "@last",
                ValueKind::Tuple,
                vec![
                    (
                        vec![Key::Int(7)],
                        t(vec![Value::Int(7), Value::Str("dd".into())]),
                    ),
                    (
                        vec![Key::Int(100)],
                        t(vec![Value::Int(100), Value::Str("cat".into())]),
                    ),
                ],
            ),
            dump("@", ValueKind::Tuple, vec![(vec![], value)]),
        ],
    };
    assert_eq!(
        out.render(Style::Text),
        "(1, 2, a \"b\")\n\n\n@last[7]: (7, dd)\n@last[100]: (100, cat)\n@: (1, 2, a \"b\")\n"
    );
    assert_eq!(
        out.render(Style::Json),
        "{\"type\": \"value\", \"data\": [1,2,\"a \\\"b\\\"\"]}\n\
         {\"type\": \"map\", \"data\": {\"@last\": {\"7\": [7,\"dd\"], \"100\": [100,\"cat\"]}}}\n\
         {\"type\": \"map\", \"data\": {\"@\": [1,2,\"a \\\"b\\\"\"]}}\n"
    );
}
