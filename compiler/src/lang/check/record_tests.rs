//! Tests of struct access against `fixtures/btf/kernel.btf` (a fixed cut
//! of a kernel's types): what a member read becomes, and every diagnostic.

use super::ir::{FieldRead, TExpr, TKind, TStmtKind, Ty};
use super::*;
use crate::lang::parse::parse;

fn fixture_btf() -> TypeSource {
    TypeSource::file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/btf/kernel.btf"
    ))
}

fn opts() -> CompileOptions {
    CompileOptions {
        btf: Some(fixture_btf()),
        ..CompileOptions::default()
    }
}

fn check_with(src: &str, opts: &CompileOptions) -> Result<Checked, Vec<Diagnostic>> {
    let spec = parse(src).unwrap_or_else(|d| panic!("parse: {d:?}"));
    check_source(&spec, src, Arch::X86_64, opts)
}

/// The value of the first `@m = value;` of the first body.
fn value_of(src: &str) -> TExpr {
    let c = check_with(src, &opts()).unwrap_or_else(|d| panic!("{d:#?}"));
    for s in &c.bodies[0].stmts {
        if let TStmtKind::SetMap { value, .. } = &s.kind {
            return value.clone();
        }
    }
    panic!("no map assignment in {:#?}", c.bodies[0].stmts)
}

/// (message, the text its span covers, help) of the one error of `src`.
fn one_error(src: &str, opts: &CompileOptions) -> (String, String, String) {
    let d = check_with(src, opts).expect_err(src);
    assert_eq!(d.len(), 1, "{d:#?}");
    (
        d[0].message.clone(),
        src[d[0].span.start..d[0].span.end].to_string(),
        d[0].help.clone().unwrap_or_default(),
    )
}

fn field(e: &TExpr) -> (&TExpr, String, FieldRead) {
    match &e.kind {
        TKind::Field { base, access, read } => (base, access.access_string(), *read),
        other => panic!("not a field read: {other:?}"),
    }
}

#[test]
fn arrow_reads_an_integer_member() {
    let v = value_of("kprobe:vfs_read { @m = ((struct file *)arg0)->f_pos; }");
    assert_eq!(v.ty, Ty::Int { signed: true });
    let (base, access, read) = field(&v);
    assert_eq!(base.kind, TKind::Builtin(crate::lang::ast::Builtin::Arg(0)));
    assert!(access.starts_with("0:"), "{access}");
    assert_eq!(
        read,
        FieldRead::Int {
            bytes: 8,
            signed: true
        }
    );
}

#[test]
fn pointer_members_chain_one_access_per_hop() {
    let v = value_of("kprobe:f { @m = curtask->real_parent->tgid; }");
    let (base, _, read) = field(&v);
    assert_eq!(
        read,
        FieldRead::Int {
            bytes: 4,
            signed: true
        }
    );
    // The base is itself the read of the pointer `real_parent`.
    let (inner, _, inner_read) = field(base);
    assert!(matches!(base.ty, Ty::Ptr(_)), "{:?}", base.ty);
    assert_eq!(
        inner_read,
        FieldRead::Int {
            bytes: 8,
            signed: false
        }
    );
    assert_eq!(
        inner.kind,
        TKind::Builtin(crate::lang::ast::Builtin::Curtask)
    );
}

#[test]
fn dot_extends_the_access_and_char_arrays_are_strings() {
    let v = value_of("kprobe:f { @m = ((struct sock *)arg0)->__sk_common.skc_dport; }");
    let (_, access, read) = field(&v);
    // As clang writes it: skc_dport sits in anonymous unions and structs.
    assert_eq!(access, "0:0:2:1:0");
    assert_eq!(
        read,
        FieldRead::Int {
            bytes: 2,
            signed: false
        }
    );
    let v = value_of("kprobe:f { @m[curtask->comm] = 1; @x = 1; }");
    let _ = v;
    let c = check_with("kprobe:f { @c[curtask->comm] = count(); }", &opts()).unwrap();
    assert_eq!(c.maps[0].keys[0].describe(), "string");
    let v = value_of("kprobe:f { @m = curtask->comm[1]; }");
    // The kernel builds with -funsigned-char: its BTF's char is unsigned.
    assert_eq!(
        field(&v).2,
        FieldRead::Int {
            bytes: 1,
            signed: false
        }
    );
}

#[test]
fn pointers_live_in_variables() {
    let v = value_of("kprobe:f { $t = curtask; $p = $t->real_parent; @m = $p->pid; }");
    let (base, _, _) = field(&v);
    assert!(matches!(base.kind, TKind::Var(_)), "{:?}", base.kind);
}

#[test]
fn bitfields_are_read_as_bitfields() {
    // sk_buff's pkt_type is a 3-bit field.
    let v = value_of("kprobe:f { @m = ((struct sk_buff *)arg0)->pkt_type; }");
    assert_eq!(field(&v).2, FieldRead::Bitfield { signed: false });
}

#[test]
fn unknown_structs_and_members_suggest_the_nearest() {
    let (msg, at, _) = one_error("kprobe:f { @m = ((struct flie *)arg0)->f_pos; }", &opts());
    assert!(msg.starts_with("no struct `flie`"), "{msg}");
    assert!(msg.contains("`file`"), "{msg}");
    assert_eq!(at, "(struct flie *)");
    let (msg, at, _) = one_error("kprobe:f { @m = curtask->pdi; }", &opts());
    assert!(msg.contains("has no member `pdi`"), "{msg}");
    assert!(msg.contains("`pid`"), "{msg}");
    assert_eq!(at, "pdi");
    let (msg, _, _) = one_error(
        "kprobe:f { @m = ((struct sock *)arg0)->skc_dprt; }",
        &opts(),
    );
    assert!(msg.contains("skc_dport"), "{msg}");
}

/// The access strings of a chain of field reads, outermost first.
fn hops(e: &TExpr) -> Vec<String> {
    match &e.kind {
        TKind::Field { base, access, .. } => {
            let mut v = vec![access.access_string()];
            v.extend(hops(base));
            v
        }
        _ => vec![],
    }
}

#[test]
fn dot_reads_through_pointers_as_arrow_does() {
    let dot = value_of("kprobe:f { $sk = (struct sock *)arg0; @m = $sk.__sk_common.skc_family; }");
    let arrow =
        value_of("kprobe:f { $sk = (struct sock *)arg0; @m = $sk->__sk_common.skc_family; }");
    assert_eq!(hops(&dot), hops(&arrow));
    assert_eq!(hops(&dot), ["0:0:3"]);
    let dot = value_of("kprobe:f { @m = curtask.real_parent.real_parent.tgid; }");
    let arrow = value_of("kprobe:f { @m = curtask->real_parent->real_parent->tgid; }");
    assert_eq!(hops(&dot), hops(&arrow));
    assert_eq!(hops(&dot), ["0:93", "0:95", "0:95"]);
    // Through a pointer member in the middle of a chain of structs.
    let v = value_of("kprobe:f { @m = curtask.mm.mmap_base; }");
    assert_eq!(hops(&v), ["0:0:2", "0:61"]);
}

#[test]
fn wrong_access_is_explained() {
    let (msg, at, help) = one_error("kprobe:f { @m = arg0.pid; }", &opts());
    assert_eq!(msg, "`.pid` needs a struct or a struct pointer, found int");
    assert_eq!(at, "pid");
    assert_eq!(help, "cast it: `((struct NAME *)ptr).pid`");
    let (msg, _, _) = one_error("kprobe:f { @m = arg0->pid; }", &opts());
    assert_eq!(msg, "`->pid` needs a struct pointer, found int");
    let (msg, _, _) = one_error("kprobe:f { @m = curtask->se; }", &opts());
    assert_eq!(msg, "`se` is a struct; read one of its members");
    let (msg, _, _) = one_error("kprobe:f { @m = curtask->comm[pid]; }", &opts());
    assert_eq!(msg, "an array index must be a constant");
    let (msg, _, _) = one_error("kprobe:f { @m = curtask->comm[16]; }", &opts());
    assert_eq!(msg, "index [16] is outside char[16]");
    let (msg, _, _) = one_error("kprobe:f { @m = ((struct file **)arg0); }", &opts());
    assert_eq!(msg, "casts to `struct file **` are not supported");
}

#[test]
fn struct_types_need_a_btf_source() {
    let none = CompileOptions::default();
    let (msg, at, _) = one_error("kprobe:f { @m = ((struct file *)arg0)->f_pos; }", &none);
    assert!(
        msg.starts_with("`struct file *` needs the kernel's types, and none were given"),
        "{msg}"
    );
    assert_eq!(at, "(struct file *)");
    let missing = CompileOptions {
        btf: Some(TypeSource::file("/nonexistent/vmlinux")),
        ..CompileOptions::default()
    };
    let (msg, _, _) = one_error("kprobe:f { @m = curtask->pid; }", &missing);
    assert!(
        msg.starts_with("reading kernel types from /nonexistent/vmlinux"),
        "{msg}"
    );
    // Without types, curtask is the task's address, as in bpftrace.
    let c = check_with("kprobe:f { @m = curtask; }", &none).unwrap();
    let TStmtKind::SetMap { value, .. } = &c.bodies[0].stmts[0].kind else {
        panic!()
    };
    assert_eq!(value.ty, Ty::Int { signed: false });
}

#[test]
fn offsetof_is_a_relocated_offset() {
    let v = value_of("kprobe:f { @m = offsetof(struct sock, __sk_common.skc_dport); }");
    let TKind::FieldOffset(access) = &v.kind else {
        panic!("{v:?}")
    };
    assert_eq!(access.access_string(), "0:0:2:1:0");
    assert_eq!(v.ty, Ty::Int { signed: false });
    let (msg, at, _) = one_error("kprobe:f { @m = offsetof(struct file, f_pso); }", &opts());
    assert!(msg.contains("has no member `f_pso`"), "{msg}");
    assert_eq!(at, "f_pso");
    let (msg, _, _) = one_error(
        "kprobe:f { @m = offsetof(struct sk_buff, pkt_type); }",
        &opts(),
    );
    assert_eq!(msg, "offsetof() of a bitfield");
}
