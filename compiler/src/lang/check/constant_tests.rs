//! Tests of constants: the lookup order (the script's `#define`, kernel
//! BTF enumerators, the arch's UAPI table, the supplement), the values
//! per arch, and the errors for a name found nowhere.

use super::ir::{TKind, TStmtKind};
use super::*;
use crate::btf::kernel::{enum_builder, KernelBtf};
use crate::insn::Endian;
use crate::lang::parse::{parse, parse_preprocessed};
use crate::lang::preprocess::{self, preprocess};

/// A kernel BTF with one enum without a name: `TCP_ESTABLISHED = 1`,
/// `TCP_SYN_SENT = 2`, and `O_CREAT = 12345` (which the UAPI tables
/// have too, to show which comes first).
fn kernel() -> TypeSource {
    let b = enum_builder(&[
        ("TCP_ESTABLISHED", 1),
        ("TCP_SYN_SENT", 2),
        ("O_CREAT", 12345),
    ]);
    let btf = KernelBtf::parse(&b.finish(Endian::Little)).unwrap();
    TypeSource::parsed("test.btf", btf)
}

fn options(btf: Option<TypeSource>) -> CompileOptions {
    CompileOptions {
        btf,
        ..CompileOptions::default()
    }
}

/// Checks `src` (preprocessed) for `arch`.
fn checked(src: &str, arch: Arch, opts: &CompileOptions) -> Result<Checked, Vec<Diagnostic>> {
    let pre = preprocess(src, &preprocess::Options::for_compile(opts))?;
    let spec = parse_preprocessed(&pre, src)?;
    check_preprocessed(&spec, src, &pre, arch, opts)
}

/// The value `@x = NAME;` stores.
fn value(name: &str, arch: Arch, opts: &CompileOptions) -> i64 {
    let src = format!("kprobe:f {{ @x = {name}; }}");
    let c = checked(&src, arch, opts).unwrap_or_else(|d| panic!("{name}: {d:#?}"));
    match &c.bodies[0].stmts[0].kind {
        TStmtKind::SetMap { value, .. } => match value.kind {
            TKind::Int(v) => v,
            ref other => panic!("{name}: {other:?}"),
        },
        other => panic!("{name}: {other:?}"),
    }
}

fn errors(src: &str, opts: &CompileOptions) -> Vec<Diagnostic> {
    match checked(src, Arch::X86_64, opts) {
        Ok(_) => panic!("checked: {src}"),
        Err(d) => d,
    }
}

#[test]
fn header_constants_follow_the_arch() {
    let none = options(None);
    assert_eq!(value("O_DIRECT", Arch::X86_64, &none), 0o40000);
    assert_eq!(value("O_DIRECT", Arch::Arm64, &none), 0o200000);
    assert_eq!(value("EDEADLOCK", Arch::Ppc64le, &none), 58);
    assert_eq!(value("AT_FDCWD", Arch::S390x, &none), -100);
    assert_eq!(value("AF_INET6", Arch::Riscv64, &none), 10);
    assert_eq!(value("TASK_RUNNING", Arch::X86_64, &none), 0);
    // Constants fold like literals.
    assert_eq!(value("O_WRONLY | O_CREAT", Arch::X86_64, &none), 0o101);
}

#[test]
fn lookup_order_define_btf_table() {
    let btf = options(Some(kernel()));
    assert_eq!(value("TCP_ESTABLISHED", Arch::X86_64, &btf), 1);
    // The kernel's enumerators come before the headers' macros.
    assert_eq!(value("O_CREAT", Arch::X86_64, &btf), 12345);
    assert_eq!(value("O_CREAT", Arch::X86_64, &options(None)), 0o100);
    // And the script's own `#define` before either.
    let src = "#define O_CREAT 7\nkprobe:f { @x = O_CREAT; }";
    let c = checked(src, Arch::X86_64, &btf).unwrap();
    assert!(matches!(
        &c.bodies[0].stmts[0].kind,
        TStmtKind::SetMap { value, .. } if value.kind == TKind::Int(7)
    ));
    // Without BTF, a kernel enumerator is unknown.
    let d = errors("kprobe:f { @x = TCP_ESTABLISHED; }", &options(None));
    assert_eq!(d[0].message, "unknown identifier `TCP_ESTABLISHED`");
}

#[test]
fn unknown_names_get_the_nearest_known_ones() {
    let none = options(None);
    let d = errors("kprobe:f { @x = AF_INTE6; }", &none);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].message, "unknown identifier `AF_INTE6`");
    assert_eq!(d[0].label, "not a builtin, constant, variable or map");
    let help = d[0].help.clone().unwrap_or_default();
    assert!(help.contains("`AF_INET6`"), "{help}");
    // BTF enumerators are candidates too.
    let d = errors(
        "kprobe:f { @x = TCP_ESTABLISHD; }",
        &options(Some(kernel())),
    );
    let help = d[0].help.clone().unwrap_or_default();
    assert!(
        help.starts_with("did you mean one of `TCP_ESTABLISHED`, "),
        "{help}"
    );
    // What the parser used to say, now said here.
    let help = |src: &str| errors(src, &none)[0].help.clone().unwrap_or_default();
    assert_eq!(help("kprobe:f { @x = pdi; }"), "did you mean `pid`?");
    assert_eq!(
        help("kprobe:f { @x = jiffies; }"),
        "`jiffies` is a bpftrace builtin that probecc does not support"
    );
    assert_eq!(
        help("kprobe:f { @x = uint8; }"),
        "a cast is written `(uint8)expr`"
    );
    assert!(help("kprobe:f { @x = qqqqqqqqqqqq; }")
        .starts_with("variables are written `$qqqqqqqqqqqq`"));
}

#[test]
fn unreadable_btf_is_noted_and_tables_still_answer() {
    let missing = options(Some(TypeSource::file("/nonexistent/vmlinux")));
    assert_eq!(value("EPERM", Arch::X86_64, &missing), 1);
    let d = errors("kprobe:f { @x = TCP_ESTABLISHED; }", &missing);
    assert_eq!(
        d[0].notes[0].message,
        "the kernel BTF's enums were not searched: /nonexistent/vmlinux does not exist"
    );
}

#[test]
fn constants_in_begin_printf_are_literals() {
    let src = "BEGIN { printf(\"%d %d\\n\", AF_INET6, SIGKILL); }";
    let spec = parse(src).unwrap();
    let c = check_source(&spec, src, Arch::X86_64, &options(None)).unwrap();
    let TStmtKind::Output { args, .. } = &c.bodies[0].stmts[0].kind else {
        panic!("{:#?}", c.bodies[0]);
    };
    let values: Vec<&TKind> = args.iter().map(|a| &a.kind).collect();
    assert_eq!(values, [&TKind::Int(10), &TKind::Int(9)]);
    let d = errors("BEGIN { printf(\"%d\\n\", AF_INTE); }", &options(None));
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].message, "unknown identifier `AF_INTE`");
}

#[test]
fn signal_names_come_from_the_arch_table() {
    let opts = CompileOptions {
        unsafe_actions: true,
        ..options(None)
    };
    let number = |name: &str, arch| {
        let src = format!("kprobe:f {{ signal(\"{name}\"); }}");
        match checked(&src, arch, &opts) {
            Ok(c) => match &c.bodies[0].stmts[0].kind {
                TStmtKind::Signal { sig } => match sig.kind {
                    TKind::Int(n) => Some(n),
                    _ => None,
                },
                _ => None,
            },
            Err(d) => {
                assert_eq!(d[0].message, format!("unknown signal `{name}`"));
                None
            }
        }
    };
    for arch in Arch::ALL {
        assert_eq!(number("SIGKILL", arch), Some(9), "{arch}");
        assert_eq!(number("TERM", arch), Some(15), "{arch}");
        assert_eq!(number("SIGUSR1", arch), Some(10), "{arch}");
        // Names of the table that are no signals.
        assert_eq!(number("SIG_BLOCK", arch), None, "{arch}");
        assert_eq!(number("STKSZ", arch), None, "{arch}");
        assert_eq!(number("SIG", arch), None, "{arch}");
        assert_eq!(number("NOPE", arch), None, "{arch}");
    }
}
