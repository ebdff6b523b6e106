//! CO-RE in the runner: an object compiled against one kernel's types,
//! relocated for another whose `struct file` lays `f_pos` elsewhere, reads
//! the event memory at the other kernel's offset, on every arch; a field
//! the target lacks is an error naming it.

mod support;

use probecc::arch::Arch;
use probecc::btf::kernel::KernelBtf;
use probecc::btf::{Builder, IntEncoding};
use vm_tests::events::MemValue;
use vm_tests::output::Value;
use vm_tests::{relocate, Event, Options, Program};

const FILE: u64 = 0xffff_8880_2000_0000;

/// A kernel BTF whose `struct file` (256 bytes) has `f_pos` at byte
/// `offset`, or no `f_pos` at all.
fn target(offset: Option<u32>) -> KernelBtf {
    let mut b = Builder::new();
    let long = b.int("long long int", 8, IntEncoding::Signed).unwrap();
    let loff = b.typedef("loff_t", long).unwrap();
    let members: Vec<(&str, u32, u32)> = match offset {
        Some(o) => vec![("f_pos", loff, o * 8)],
        None => vec![("f_flags", long, 0)],
    };
    b.struct_type("file", 256, &members).unwrap();
    KernelBtf::parse(&b.finish(probecc::insn::Endian::Little)).unwrap()
}

fn pos(object: &[u8], manifest: &str, arch: Arch, at: u64) -> i128 {
    let p = Program::load(object, manifest, arch, Options::default())
        .unwrap_or_else(|e| panic!("{arch}: {e}"));
    let mut ev = Event::new("kprobe:vfs_read");
    ev.args = vec![FILE];
    ev.mem = vec![(
        at,
        MemValue::Ints {
            width: 8,
            values: vec![77],
        },
    )];
    let r = p.run(&[ev]).unwrap_or_else(|e| panic!("{arch}: {e}"));
    let m = r.maps.iter().find(|m| m.name == "@pos").expect("@pos");
    match m.entries.first().map(|e| &e.value) {
        Some(Value::Int(v)) => *v,
        other => panic!("{arch}: @pos is {other:?}"),
    }
}

#[test]
fn relocation_moves_the_read_to_the_target_kernel_s_offset() {
    let src = "kprobe:vfs_read { @pos = max(((struct file *)arg0)->f_pos); }";
    for arch in Arch::ALL {
        let a = support::compile(src, arch);
        // As compiled: the fixture types' offset (112).
        assert_eq!(pos(&a.object, &a.manifest, arch, FILE + 112), 77, "{arch}");
        // Relocated for a kernel with f_pos at 200: read there, not at 112.
        let moved = relocate(&a.object, &target(Some(200))).unwrap();
        assert_ne!(moved, a.object, "{arch}");
        assert_eq!(pos(&moved, &a.manifest, arch, FILE + 200), 77, "{arch}");
        assert_eq!(pos(&moved, &a.manifest, arch, FILE + 112), 0, "{arch}");
    }
}

#[test]
fn a_field_the_target_lacks_is_named() {
    let a = support::compile(
        "kprobe:vfs_read { @pos = max(((struct file *)arg0)->f_pos); }",
        Arch::X86_64,
    );
    let e = relocate(&a.object, &target(None)).unwrap_err().to_string();
    assert!(e.contains("f_pos"), "{e}");
    assert!(e.contains("struct file"), "{e}");
}

#[test]
fn objects_without_relocations_are_unchanged() {
    let a = support::compile("kprobe:vfs_read { @n = count(); }", Arch::S390x);
    assert_eq!(relocate(&a.object, &target(Some(8))).unwrap(), a.object);
}
