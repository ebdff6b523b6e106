//! CO-RE in the runner: an object compiled against one kernel's types,
//! relocated for another whose `struct file` lays `f_pos` elsewhere, reads
//! the event memory at the other kernel's offset, on every arch; a field
//! the target lacks is an error naming it.

mod support;

use probecc::arch::Arch;
use probecc::btf::kernel::KernelBtf;
use probecc::btf::{Builder, IntEncoding};
use probecc_runtime::decode::Value;
use vm_tests::events::MemValue;
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

/// A bitfield (`sk_buff.pkt_type`, 3 bits) comes out of the container
/// bytes it shares with its neighbours, on every arch, in the bit order
/// that arch lays bitfields in.
#[test]
fn bitfields_are_shifted_out_of_their_container() {
    use probecc::btf::core::CoreKind;
    use probecc::insn::Endian;
    let kernel = KernelBtf::from_file(support::root().join("fixtures/btf/kernel.btf")).unwrap();
    let field = kernel.field("sk_buff", &["pkt_type".into()]).unwrap();
    let bits = field.bitfield.expect("pkt_type is a bitfield");
    let size = field
        .value(kernel.btf(), CoreKind::FieldByteSize)
        .unwrap()
        .value;
    let byte_off = field
        .value(kernel.btf(), CoreKind::FieldByteOffset)
        .unwrap()
        .value;
    let within = u64::from(bits.bit_offset) - byte_off * 8;
    let src = "kprobe:vfs_read { @t = max(((struct sk_buff *)arg0)->pkt_type); }";
    for arch in Arch::ALL {
        let a = support::compile(src, arch);
        let p = Program::load(&a.object, &a.manifest, arch, Options::default()).unwrap();
        for v in [0u64, 5, 7] {
            let shift = match arch.endian() {
                Endian::Little => within,
                Endian::Big => size * 8 - within - u64::from(bits.bit_size),
            };
            // Neighbouring bits all set: they must not leak in.
            let mask = ((1u64 << bits.bit_size) - 1) << shift;
            let all = if size == 8 {
                u64::MAX
            } else {
                (1u64 << (size * 8)) - 1
            };
            let container = (all & !mask) | (v << shift);
            let mut ev = Event::new("kprobe:vfs_read");
            ev.args = vec![FILE];
            ev.mem = vec![(
                FILE + byte_off,
                MemValue::Ints {
                    width: size as usize,
                    values: vec![container],
                },
            )];
            let r = p.run(&[ev]).unwrap();
            let m = r.maps.iter().find(|m| m.name == "@t").expect("@t");
            assert_eq!(
                m.entries.first().map(|e| &e.value),
                Some(&Value::Int(i128::from(v))),
                "{arch}: pkt_type {v}"
            );
        }
    }
}

#[test]
fn a_kernel_without_btf_cannot_take_a_co_re_object() {
    // Debian's s390x and ppc64le kernels have BTF from 6.12; an object that
    // reads kernel structs never reaches the verifier of their 6.1.
    let src = "kprobe:vfs_read { @pos = max(((struct file *)arg0)->f_pos); }";
    let plain = "kprobe:vfs_read { @n = count(); }";
    for arch in [Arch::S390x, Arch::Ppc64le] {
        let at = |src: &str, kernel| {
            let a = support::compile(src, arch);
            let target = verifier_sim::Target {
                rules: verifier_sim::Rules::debian(arch, kernel),
                ..verifier_sim::Target::new(arch, kernel)
            };
            let v = verifier_sim::check_object_for(&a.object, &target).expect("readable");
            v.into_iter().next().expect("one program")
        };
        let old = at(src, probecc::arch::KernelVersion(6, 1));
        assert!(!old.accepted, "{arch}");
        let why = old.message.unwrap_or_default();
        assert!(
            why.contains("no BTF to relocate them against"),
            "{arch}: {why}"
        );
        assert!(
            at(src, probecc::arch::KernelVersion(6, 12)).accepted,
            "{arch}"
        );
        assert!(
            at(plain, probecc::arch::KernelVersion(6, 1)).accepted,
            "{arch}"
        );
    }
}
