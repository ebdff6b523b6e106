//! Tests of access-path resolution: access strings, offsets and bitfields on
//! made-up and host BTF, their round trip, and the errors that name the
//! struct and the nearest members.

use super::*;
use crate::btf::kernel::host_for_test;

fn m(name: &str) -> Step {
    Step::Member(name.into())
}

#[test]
#[ignore = "needs /sys/kernel/btf/vmlinux"]
fn host_paths_resolve_to_types_offsets_and_bitfields() {
    let Some(k) = host_for_test() else {
        return;
    };
    let b = k.btf();
    let pid = k.field("task_struct", &[m("pid")]).unwrap();
    assert_eq!(b.format_type(pid.type_id).unwrap(), "pid_t");
    assert_eq!(b.format_type(pid.resolved).unwrap(), "int");
    assert_eq!((pid.size, pid.signed, pid.bitfield), (4, true, None));
    assert_eq!(pid.access_string(), format!("0:{}", pid.raw[1]));

    let parent = k.field("task_struct", &[m("real_parent")]).unwrap();
    assert_eq!(
        b.format_type(parent.type_id).unwrap(),
        "struct task_struct *"
    );
    assert_eq!((parent.size, parent.signed), (8, false));

    let comm = k
        .field("task_struct", &[m("comm"), Step::Index(3)])
        .unwrap();
    let comm0 = k
        .field("task_struct", &[m("comm"), Step::Index(0)])
        .unwrap();
    assert_eq!(comm.byte_offset(), comm0.byte_offset() + 3);
    assert_eq!(
        (comm.size, b.format_type(comm.type_id).unwrap().as_str()),
        (1, "char")
    );
    assert_eq!(comm.field_path(), "comm[3]");

    // skc_dport sits in an anonymous struct in an anonymous union.
    let dport = k
        .field("sock", &[m("__sk_common"), m("skc_dport")])
        .unwrap();
    assert_eq!(dport.raw.len(), 5, "{}", dport.access_string());
    assert_eq!(
        dport.accessors.len(),
        3,
        "anonymous members are no accessors"
    );
    assert_eq!(b.format_type(dport.type_id).unwrap(), "__be16");
    assert_eq!(dport.field_path(), "__sk_common.skc_dport");

    let fpos = k.field("file", &[m("f_pos")]).unwrap();
    assert_eq!((fpos.size, fpos.signed), (8, true));

    let reuse = k.field("sock_common", &[m("skc_reuse")]).unwrap();
    let bf = reuse.bitfield.unwrap();
    assert_eq!(bf.bit_size, 4);
    assert_eq!(bf.bit_offset, reuse.bit_offset);
    assert_eq!((reuse.size, reuse.signed), (1, false));
    assert_eq!(reuse.value(b, CoreKind::FieldRshiftU64).unwrap().value, 60);
    let pkt = k.field("sk_buff", &[m("pkt_type")]).unwrap();
    assert_eq!(pkt.bitfield.map(|f| f.bit_size), Some(3));
}

#[test]
#[ignore = "needs /sys/kernel/btf/vmlinux"]
fn host_errors_name_the_struct_and_the_nearest_members() {
    let Some(k) = host_for_test() else {
        return;
    };
    let err = |root: &str, path: &[Step]| k.field(root, path).unwrap_err().to_string();
    let e = err("task_struct", &[m("pidd")]);
    assert!(
        e.starts_with("struct task_struct has no member `pidd`; did you mean `pid`"),
        "{e}"
    );
    let e = err("sock", &[m("skc_dport")]);
    assert!(e.contains("`__sk_common.skc_dport`"), "{e}");
    assert!(err("sock", &[m("dport")]).contains("`__sk_common.skc_dport`"));
    assert_eq!(
        err("task_struct", &[m("real_parent"), m("pid")]),
        "struct task_struct * is not a struct or union, so it has no member `pid`"
    );
    assert_eq!(
        err("task_struct", &[m("pid"), Step::Index(0)]),
        "pid_t is not an array, so it cannot be indexed with [0]"
    );
    assert_eq!(
        err("task_struct", &[m("comm"), Step::Index(16)]),
        "index [16] is outside char[16]"
    );
    assert!(err("tsak_struct", &[]).contains("did you mean"));
}

#[test]
#[ignore = "needs /sys/kernel/btf/vmlinux"]
fn access_strings_round_trip_and_hostile_ones_are_errors() {
    let Some(k) = host_for_test() else {
        return;
    };
    let b = k.btf();
    let dport = k
        .field("sock", &[m("__sk_common"), m("skc_dport")])
        .unwrap();
    let back = parse_access(b, dport.root, &dport.access_string()).unwrap();
    assert_eq!(back, dport);
    let matched = match_target(&dport, b, b, dport.root).unwrap().unwrap();
    assert_eq!(matched, dport);
    for bad in [
        "",
        ":",
        "0:",
        "x",
        "0:99999",
        "0:0:0:0:0:0:0:0:0:0",
        "4294967295:1",
    ] {
        assert!(parse_access(b, dport.root, bad).is_err(), "{bad:?}");
    }
    let long = vec!["0"; 70].join(":");
    assert!(parse_access(b, dport.root, &long).is_err());
}
