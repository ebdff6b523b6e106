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
