//! The runtime's text renderer checked by this parser of bpftrace's real
//! output: every fixture run offline over its events (x86_64), rendered as
//! bpftrace text, parses back to exactly what the run decoded — each
//! printf line, and each map entry (`print()` in END, then the dump at
//! the end) with its key and value, in the order printed. A renderer that
//! strays from bpftrace's format, or loses an entry, fails here.

use probecc::arch::Arch;
use probecc::lang::manifest::ValueKind;
use probecc_runtime::decode::{Key, MapDump, Value as Decoded};
use probecc_runtime::output::{Chunk, Output, Style};
use vm_tests::{events, Options, Program};

use super::{key_text, parse, Bucket, Item, Value};

/// The run of fixture `name` over its event file.
fn run(name: &str) -> Output {
    let path = probecc_fixtures::spec_path(name);
    let compiled = probecc_fixtures::compile(&path, Arch::X86_64).expect("the fixture compiles");
    let object = probecc::elf::write(&compiled.object).expect("an object");
    let program = Program::load(
        &object,
        &compiled.manifest.to_json(),
        Arch::X86_64,
        Options::default(),
    )
    .expect("the object loads");
    let root = probecc_fixtures::spec_path(name)
        .ancestors()
        .nth(3)
        .expect("the workspace root")
        .to_path_buf();
    let text = std::fs::read_to_string(root.join(format!("fixtures/events/{name}.jsonl")))
        .expect("the fixture's events");
    let evs = events::parse(&text).expect("the events parse");
    program.run(&evs).expect("the run")
}

/// A key as the parser gives it back: the parts written out (integers in
/// decimal, strings as they are, a stack one frame a line), joined by `, `.
fn expected_key(parts: &[Key]) -> String {
    let shown: Vec<String> = parts
        .iter()
        .map(|k| match k {
            Key::Int(i) => i.to_string(),
            Key::Str(s) => s.clone(),
            Key::Stack(frames) => frames.join("\n"),
        })
        .collect();
    key_text(&shown.join(", "))
}

fn expected_value(v: &Decoded, kind: ValueKind) -> Value {
    let int = |i: i128| i64::try_from(i).expect("a value bpftrace prints as an s64");
    match v {
        Decoded::Int(i) => Value::Int(int(*i)),
        // A named value that is a number (`ksym(0)` prints `0`) reads
        // back as the number bpftrace's text shows.
        Decoded::Str(s) => match s.parse() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Str(s.clone()),
        },
        Decoded::Stats { avg, .. } if kind == ValueKind::Avg => Value::Int(*avg),
        Decoded::Stats { count, avg, total } => Value::Stats {
            count: *count as i64,
            avg: *avg,
            total: *total,
        },
        Decoded::Buckets(b) => Value::Buckets(
            b.iter()
                .map(|b| Bucket {
                    lo: b.min.map(int),
                    hi: b.max.map(int),
                    count: b.count as i64,
                })
                .collect(),
        ),
        // bpftrace's text of a tuple, `(1, cat)`, is no form the parser
        // splits: it reads back as that text.
        Decoded::Tuple(elems) => Value::Str(tuple_text(elems)),
    }
}

/// A tuple as bpftrace writes it: its elements as they print alone,
/// between parentheses, separated by `, `.
fn tuple_text(elems: &[Decoded]) -> String {
    let shown: Vec<String> = elems
        .iter()
        .map(|e| match e {
            Decoded::Int(i) => i.to_string(),
            Decoded::Str(s) => s.clone(),
            Decoded::Tuple(inner) => tuple_text(inner),
            other => format!("{other:?}"),
        })
        .collect();
    format!("({})", shown.join(", "))
}

fn entries(m: &MapDump) -> Vec<Item> {
    m.printed()
        .into_iter()
        .map(|e| Item::Entry {
            map: m.name.clone(),
            key: expected_key(&e.key),
            value: expected_value(&e.value, m.kind),
        })
        .collect()
}

/// What the parser must find in the text of `out`, in order.
fn expected(out: &Output) -> Vec<Item> {
    let mut items = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, items: &mut Vec<Item>| {
        items.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| Item::Line(l.to_string())),
        );
        text.clear();
    };
    for c in &out.chunks {
        match c {
            Chunk::Print(m) => {
                flush(&mut text, &mut items);
                items.extend(entries(m));
            }
            other => text.push_str(&other.text()),
        }
    }
    flush(&mut text, &mut items);
    for m in &out.maps {
        items.extend(entries(m));
    }
    items
}

#[test]
fn every_fixtures_text_parses_back_to_its_entries() {
    let specs = probecc_fixtures::specs().expect("the fixtures");
    assert!(specs.len() >= 30, "only {} fixtures", specs.len());
    let mut entries = 0;
    for (name, _) in specs {
        let out = run(&name);
        let want = expected(&out);
        let got = parse(&out.render(Style::Text));
        assert_eq!(got, want, "{name}");
        entries += want
            .iter()
            .filter(|i| matches!(i, Item::Entry { .. }))
            .count();
    }
    assert!(entries >= 100, "only {entries} entries over every fixture");
}
