//! Records decided by their manifest entry, with a made-up host.

use probecc::endian::Endian;
use probecc::lang::manifest::Manifest;
use serde_json::json;

use super::*;
use crate::decode::{Bucket, Entry, Key};
use crate::host::Fixed;
use crate::ksyms::Ksyms;

fn manifest() -> Manifest {
    let int = |offset| json!({"kind": "int", "offset": offset, "size": 8, "signed": true});
    let string = json!({"kind": "string", "offset": 8, "size": 16, "signed": false});
    serde_json::from_value(json!({
        "name": "t", "arch": "x86_64", "programs": [], "funcs": [], "probes": [],
        "maps": [{"name": "@m", "symbol": "AT_m", "kind": "hash", "keys": [],
                  "key_size": 8, "value": {"kind": "int", "size": 8, "signed": true},
                  "max_entries": 16}],
        "output": [
            {"id": 0, "kind": "printf", "format": "%s=%d\n", "size": 32,
             "args": [string, int(24)]},
            {"id": 1, "kind": "time", "format": "%H:%M:%S\n", "size": 8, "args": []},
            {"id": 2, "kind": "print", "map": "@m", "top": 2, "size": 8, "args": []},
            {"id": 3, "kind": "clear", "map": "@m", "size": 8, "args": []},
            {"id": 4, "kind": "zero", "map": "@nothing", "size": 8, "args": []},
            {"id": 5, "kind": "exit", "size": 16, "args": [int(8)]},
            {"id": 6, "kind": "cat", "format": "/%s", "size": 24, "args": [string]},
            {"id": 7, "kind": "system", "format": "echo %d", "size": 16, "args": [int(8)]},
            {"id": 8, "kind": "value", "size": 16, "args": [int(8)]}
        ],
        "ringbuf": "output_rb"
    }))
    .expect("a valid manifest")
}

fn words(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|&x| Endian::Big.u64_bytes(x)).collect()
}

#[test]
fn each_record_kind_asks_for_what_its_entry_says() {
    let m = manifest();
    let ksyms = Ksyms::default();
    let no_stacks = |_: &str, _: u32| None;
    let d = Decoder {
        manifest: &m,
        endian: Endian::Big,
        ksyms: &ksyms,
        stacks: &no_stacks,
        host: &Fixed,
    };
    let step = |bytes: &[u8]| step(bytes, &d);
    let mut printf = words(&[0]);
    printf.extend(b"dd\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    printf.extend(words(&[-7i64 as u64]));
    assert_eq!(
        step(&printf),
        Ok(Step::Print(Chunk::Printf("dd=-7\n".into())))
    );
    assert_eq!(
        step(&words(&[1])),
        Ok(Step::Print(Chunk::Time("13:05:09\n".into())))
    );
    assert_eq!(
        step(&words(&[2])),
        Ok(Step::PrintMap {
            map: 0,
            top: 2,
            div: 0
        })
    );
    assert_eq!(step(&words(&[3])), Ok(Step::Clear(0)));
    assert_eq!(
        step(&words(&[4])),
        Err(ExecError::NoMap {
            id: 4,
            map: "@nothing".into()
        })
    );
    assert_eq!(step(&words(&[5, 3])), Ok(Step::Exit(3)));
    let mut cat = words(&[6]);
    cat.extend(b"etc/motd\0\0\0\0\0\0\0\0");
    assert_eq!(step(&cat), Ok(Step::Print(Chunk::Cat("dtom/cte/".into()))));
    assert_eq!(
        step(&words(&[7, 42])),
        Ok(Step::Print(Chunk::System("ran echo 42\n".into())))
    );
    assert_eq!(
        step(&words(&[8, -1i64 as u64])),
        Ok(Step::Print(Chunk::Value(Value::Int(-1))))
    );
}

#[test]
fn print_keeps_the_top_entries_and_divides_the_values() {
    let entry = |k: i128, v: Value| Entry {
        key: vec![Key::Int(k)],
        value: v,
    };
    let dump = MapDump {
        name: "@m".into(),
        kind: probecc::lang::manifest::ValueKind::Count,
        keyless: false,
        lhist: None,
        entries: vec![
            entry(1, Value::Int(30)),
            entry(2, Value::Int(10)),
            entry(3, Value::Int(20)),
        ],
    };
    let shown = dump.clone().shown(2, 10);
    assert_eq!(
        shown.entries,
        [entry(1, Value::Int(3)), entry(3, Value::Int(2))]
    );
    assert_eq!(dump.clone().shown(0, 0), dump);
    let hist = MapDump {
        entries: vec![entry(
            1,
            Value::Buckets(vec![Bucket {
                index: 2,
                min: Some(1),
                max: Some(2),
                count: 9,
            }]),
        )],
        ..dump
    };
    let Value::Buckets(b) = &hist.shown(0, 4).entries[0].value else {
        panic!("a histogram");
    };
    assert_eq!(b[0].count, 2);
}
