//! aya's object parser (`aya-obj`) parses every little-endian object and
//! finds its programs and maps. (aya reads BTF in native byte order, so the
//! big-endian s390x objects are proven by aya inside the s390x guest.)

mod support;

use aya_obj::Object;
use support::*;

#[test]
fn aya_obj_parses_every_little_endian_object() {
    for b in little_endian_objects() {
        let parsed =
            Object::parse(&b.bytes).unwrap_or_else(|e| panic!("{}/{}: {e}", b.arch, b.name));
        let obj = &b.obj;
        for p in &obj.programs {
            assert!(
                parsed.programs.contains_key(&p.name),
                "{}: program {} not found by aya",
                b.name,
                p.name
            );
        }
        for m in &obj.maps {
            assert!(
                parsed.maps.contains_key(&m.name),
                "{}: map {} not found by aya",
                b.name,
                m.name
            );
        }
        assert_eq!(parsed.license.to_str().ok(), Some("GPL"), "{}", b.name);
    }
}

/// As aya loads an object whose read-only globals a loader sets
/// (`EbpfLoader::set_global`): `patch_map_data` writes each global's bytes
/// into `.rodata`'s data at its symbol, and the map relocation makes each
/// load of one a `BPF_PSEUDO_MAP_VALUE` of the `.rodata` map at its offset.
#[test]
fn aya_obj_sets_and_relocates_read_only_globals() {
    const BPF_PSEUDO_MAP_VALUE: u8 = 2;
    const RODATA_FD: i32 = 7;
    let with_globals: Vec<_> = little_endian_objects()
        .into_iter()
        .filter(|b| !b.obj.globals.is_empty())
        .collect();
    assert!(
        with_globals.iter().any(|b| b.name == "positional"),
        "the positional fixture reads its parameters from globals"
    );
    for b in with_globals {
        let what = format!("{}/{}", b.arch, b.name);
        let mut parsed = Object::parse(&b.bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
        let values: Vec<(&str, Vec<u8>)> = b
            .obj
            .globals
            .iter()
            .zip(1u8..)
            .map(|(g, fill)| (g.name.as_str(), vec![fill; g.ty.size() as usize]))
            .collect();
        parsed
            .patch_map_data(
                values
                    .iter()
                    .map(|(n, v)| (*n, (v.as_slice(), true)))
                    .collect(),
            )
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let data = parsed.maps[".rodata"].data().to_vec();
        for (g, (_, v)) in b.obj.globals.iter().zip(&values) {
            let at = g.offset as usize;
            assert_eq!(&data[at..at + v.len()], v.as_slice(), "{what}: {}", g.name);
        }
        let maps = parsed.maps.clone();
        let text = parsed.functions.keys().map(|(s, _)| *s).collect();
        parsed
            .relocate_maps(
                maps.iter().map(|(n, m)| {
                    let fd = if n == ".rodata" { RODATA_FD } else { 100 };
                    (n.as_str(), fd, m)
                }),
                &text,
            )
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let mut offsets: Vec<u32> = Vec::new();
        for f in parsed.functions.values() {
            for w in f.instructions.windows(2) {
                if w[0].code == 0x18 && w[0].src_reg() == BPF_PSEUDO_MAP_VALUE {
                    assert_eq!(w[0].imm, RODATA_FD, "{what}");
                    offsets.push(w[1].imm as u32);
                }
            }
        }
        for g in &b.obj.globals {
            assert!(
                offsets.contains(&g.offset),
                "{what}: {} is never read",
                g.name
            );
        }
        assert!(
            offsets
                .iter()
                .all(|o| b.obj.globals.iter().any(|g| g.offset == *o)),
            "{what}: {offsets:?}"
        );
    }
}
