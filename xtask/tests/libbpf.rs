//! probecc's little-endian objects as libbpf sees them (through bpftool):
//! it opens each one (`gen skeleton`: its maps, and its read-only globals
//! as the `.rodata` map a skeleton sets) and prints the maps' key and
//! value types from the BTF (`btf dump file`).

mod support;

use std::process::Command;

use std::collections::BTreeMap;

use probecc::ctype::CType;
use probecc::maps::Slot;
use probecc_test_support::{require, Need};
use support::*;

#[test]
#[ignore = "needs bpftool"]
fn libbpf_opens_every_little_endian_object() {
    if !require(&[Need::Tool("bpftool")]) {
        return;
    }
    for b in little_endian_objects() {
        let out = run(Command::new("bpftool")
            .args(["gen", "skeleton"])
            .arg(&b.path));
        assert!(
            out.status.success(),
            "{}/{}: bpftool gen skeleton: {}",
            b.arch,
            b.name,
            stderr(&out)
        );
        let skel = stdout(&out);
        let obj = &b.obj;
        for p in &obj.programs {
            assert!(
                skel.contains(&format!("struct bpf_program *{};", p.name)),
                "{}: {}",
                b.name,
                p.name
            );
        }
        for m in &obj.maps {
            assert!(
                skel.contains(&format!("struct bpf_map *{};", m.name)),
                "{}: {}",
                b.name,
                m.name
            );
        }
        // Read-only globals: libbpf's `.rodata` map, typed by the DATASEC.
        if !obj.globals.is_empty() {
            let rodata = skel
                .split_once(&format!("struct {}__rodata {{", b.name))
                .and_then(|(_, rest)| rest.split_once("} *rodata;"))
                .map(|(fields, _)| fields)
                .unwrap_or_else(|| panic!("{}: no rodata in the skeleton:\n{skel}", b.name));
            for g in &obj.globals {
                assert!(rodata.contains(&g.name), "{}: {}", b.name, g.name);
            }
            assert!(skel.contains("struct bpf_map *rodata;"), "{}", b.name);
        }
    }
}

/// One type of `bpftool btf dump file X.o` (raw format).
#[derive(Default, Debug)]
struct Dumped {
    kind: String,
    name: String,
    type_id: Option<u32>,
    members: Vec<(String, u32)>,
}

/// Parses bpftool's raw BTF dump: `[id] KIND 'name' type_id=N ...` lines,
/// each followed by tab-indented member lines `'name' type_id=N ...`.
fn parse_dump(text: &str) -> BTreeMap<u32, Dumped> {
    let field = |l: &str, key: &str| {
        l.split([' ', ','])
            .find_map(|w| w.strip_prefix(key))
            .and_then(|v| v.parse::<u32>().ok())
    };
    let quoted = |l: &str| l.split('\'').nth(1).unwrap_or_default().to_string();
    let mut types = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('[') {
            let Some((id, rest)) = rest.split_once("] ") else {
                continue;
            };
            let Ok(id) = id.parse::<u32>() else { continue };
            let kind = rest.split(' ').next().unwrap_or_default().to_string();
            types.insert(
                id,
                Dumped {
                    kind,
                    name: quoted(rest),
                    type_id: field(rest, "type_id="),
                    members: vec![],
                },
            );
            current = Some(id);
        } else if let (Some(id), Some(t)) = (current, field(line, "type_id=")) {
            if let Some(d) = types.get_mut(&id) {
                d.members.push((quoted(line), t));
            }
        }
    }
    types
}

/// The C name libbpf will show for a map key or value of this type.
fn c_name(t: &CType) -> String {
    match t {
        CType::Int { name, .. } => name.clone(),
        CType::Struct(s) => s.name.clone(),
        CType::Array { .. } => "(anon)".into(),
        CType::Enum { name, .. } => name.clone(),
    }
}

#[test]
#[ignore = "needs bpftool"]
fn bpftool_btf_dump_shows_map_key_and_value_types() {
    if !require(&[Need::Tool("bpftool")]) {
        return;
    }
    let mut checked = 0;
    for b in little_endian_objects() {
        let out = run(Command::new("bpftool")
            .args(["btf", "dump", "file"])
            .arg(&b.path));
        assert!(
            out.status.success(),
            "{}/{}: {}",
            b.arch,
            b.name,
            stderr(&out)
        );
        let types = parse_dump(&stdout(&out));
        let obj = &b.obj;
        for m in &obj.maps {
            let var = types.values().find(|t| t.kind == "VAR" && t.name == m.name);
            let def = var
                .and_then(|v| types.get(&v.type_id?))
                .unwrap_or_else(|| panic!("{}: no VAR {}", b.name, m.name));
            let member = |n: &str| {
                def.members
                    .iter()
                    .find(|(name, _)| name == n)
                    .map(|(_, t)| *t)
            };
            for (slot, member_name) in [(&m.key, "key"), (&m.value, "value")] {
                let Some(Slot::Typed(t)) = slot else { continue };
                let ptr = member(member_name).and_then(|id| types.get(&id));
                let target = ptr.and_then(|p| types.get(&p.type_id?));
                assert_eq!(
                    target.map(|t| t.name.clone()),
                    Some(c_name(t)),
                    "{}/{}: {member_name} of map {}",
                    b.arch,
                    b.name,
                    m.name
                );
                checked += 1;
            }
        }
        for t in &obj.types {
            if let CType::Struct(s) = t {
                let d = types
                    .values()
                    .find(|d| d.kind == "STRUCT" && d.name == s.name);
                let d = d.unwrap_or_else(|| panic!("{}: record {} missing", b.name, s.name));
                let names: Vec<&str> = d.members.iter().map(|(n, _)| n.as_str()).collect();
                let want: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
                assert_eq!(names, want, "{}: record {}", b.name, s.name);
            }
        }
    }
    assert!(checked >= 40, "only {checked} key/value types checked");
}
