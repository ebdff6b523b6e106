//! Tests of the constant tables: parsing, lookup per arch, and the values
//! that differ between arches.

use super::*;

#[test]
fn every_compiled_in_table_reads() {
    for (name, text) in UAPI {
        let t = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            t.entries.len() > 1000,
            "{name}: {} entries",
            t.entries.len()
        );
        let header = t.header.unwrap_or_default();
        assert!(header.contains("linux-libc-dev"), "{name}: {header}");
        assert!(
            header.starts_with(&format!("constants of {name} ")),
            "{header}"
        );
    }
    let s = parse(SUPPLEMENT).unwrap();
    assert!(s.entries.len() > 100);
}

#[test]
fn tables_differ_where_the_arches_do() {
    let get = |arch, name| uapi(arch).get(name);
    assert_eq!(get(Arch::X86_64, "O_DIRECT"), Some(0o40000));
    assert_eq!(get(Arch::Arm64, "O_DIRECT"), Some(0o200000));
    assert_eq!(get(Arch::Ppc64le, "O_DIRECT"), Some(0o400000));
    assert_eq!(get(Arch::X86_64, "O_LARGEFILE"), Some(0o100000));
    assert_eq!(get(Arch::Arm64, "O_LARGEFILE"), Some(0o400000));
    assert_eq!(get(Arch::X86_64, "EDEADLOCK"), Some(35));
    assert_eq!(get(Arch::Ppc64le, "EDEADLOCK"), Some(58));
    assert_eq!(get(Arch::X86_64, "__NR_openat"), Some(257));
    assert_eq!(get(Arch::Arm64, "__NR_openat"), Some(56));
    for arch in Arch::ALL {
        assert_eq!(get(arch, "O_CREAT"), Some(0o100), "{arch}");
        assert_eq!(get(arch, "EPERM"), Some(1), "{arch}");
        assert_eq!(get(arch, "SIGKILL"), Some(9), "{arch}");
        assert_eq!(get(arch, "IPPROTO_TCP"), Some(6), "{arch}");
        assert_eq!(get(arch, "S_IFREG"), Some(0o100000), "{arch}");
        assert_eq!(get(arch, "AT_FDCWD"), Some(-100), "{arch}");
        // Pointers are not integers: SIG_DFL is `(__sighandler_t)0`.
        assert_eq!(get(arch, "SIG_DFL"), None, "{arch}");
    }
}

#[test]
fn the_supplement_has_what_no_uapi_header_has() {
    assert_eq!(lookup(Arch::X86_64, "AF_INET"), Some(2));
    assert_eq!(lookup(Arch::S390x, "AF_INET6"), Some(10));
    assert_eq!(lookup(Arch::Arm64, "TASK_RUNNING"), Some(0));
    assert_eq!(lookup(Arch::Arm64, "TASK_UNINTERRUPTIBLE"), Some(2));
    assert_eq!(lookup(Arch::Riscv64, "PF_KTHREAD"), Some(0x200000));
    assert_eq!(lookup(Arch::Ppc64le, "DT_DIR"), Some(4));
    assert_eq!(lookup(Arch::X86_64, "SOCK_STREAM"), Some(1));
    assert_eq!(lookup(Arch::X86_64, "NO_SUCH_CONSTANT"), None);
    // One source per name: nothing of the supplement is in a UAPI table.
    for arch in Arch::ALL {
        let t = uapi(arch);
        let both: Vec<&str> = supplement()
            .names()
            .filter(|n| t.get(n).is_some())
            .collect();
        assert!(both.is_empty(), "{arch}: {both:?}");
    }
    assert!(names(Arch::X86_64).any(|n| n == "AF_INET"));
    assert!(names(Arch::X86_64).any(|n| n == "O_CREAT"));
}

#[test]
fn bad_lines_are_errors() {
    assert_eq!(
        parse("A 1 2\n"),
        Err(TableError::Malformed {
            line: 1,
            text: "A 1 2".into()
        })
    );
    assert_eq!(
        parse("# x\nA 1\nB z\n"),
        Err(TableError::Value {
            line: 3,
            value: "z".into()
        })
    );
    assert_eq!(
        parse("B 1\nA 2\nB 3\n"),
        Err(TableError::Repeated { name: "B".into() })
    );
}

#[test]
fn render_and_parse_round_trip() {
    let entries = vec![("B".to_string(), -1), ("A".to_string(), 0x10)];
    let text = render("from here", &entries);
    assert_eq!(text, "# from here\nA 16\nB -1\n");
    let t = parse(&text).unwrap();
    assert_eq!(t.header.as_deref(), Some("from here"));
    assert_eq!(t.get("A"), Some(16));
    assert_eq!(t.get("B"), Some(-1));
    assert_eq!(parse("X 0x10\nY -0x1\n").unwrap().get("Y"), Some(-1));
}
