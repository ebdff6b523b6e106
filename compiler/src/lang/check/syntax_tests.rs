//! Tests of the checker on the syntax of current bpftrace: the config
//! block and its settings, `let` declarations and their scopes and types,
//! loops and jumps, bare identifiers, top-level C definitions and the
//! probe types not compiled yet.

use super::ir::settings::{MissingProbes, StackMode};
use super::ir::{TKind, TStmt, TStmtKind, Ty};
use super::*;
use crate::kprobe::AttachPoint;
use crate::lang::parse::parse;

fn checked(src: &str) -> Result<Checked, Vec<Diagnostic>> {
    let spec = parse(src).unwrap_or_else(|d| panic!("parse: {d:?}"));
    let opts = CompileOptions {
        btf: Some(TypeSource::file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/btf/kernel.btf"
        ))),
        ..CompileOptions::default()
    };
    check_source(&spec, src, Arch::X86_64, &opts)
}

fn ok(src: &str) -> Checked {
    checked(src).unwrap_or_else(|d| panic!("{d:#?}"))
}

fn messages(src: &str) -> Vec<String> {
    match checked(src) {
        Ok(_) => panic!("checked without errors: {src}"),
        Err(d) => d.into_iter().map(|d| d.message).collect(),
    }
}

#[test]
fn config_settings_take_effect() {
    let c = ok(
        "config = { max_strlen = 32; BPFTRACE_MAX_MAP_KEYS = 100; perf_rb_pages = 16;\n\
                missing_probes = ignore; print_maps_on_exit = false; stack_mode = \"perf\";\n\
                log_size = 1000; cpp_demangle = true; unstable_macro = enable }\n\
                kprobe:f { @s = str(arg0); }",
    );
    assert_eq!(c.settings.str_size, 32);
    assert_eq!(c.settings.max_entries, 100);
    assert_eq!(c.settings.ringbuf_bytes, 16 * 4096);
    assert_eq!(c.settings.runtime.missing_probes, MissingProbes::Ignore);
    assert!(!c.settings.runtime.print_maps_on_exit);
    assert_eq!(c.settings.runtime.stack_mode, StackMode::Perf);
    let TStmtKind::SetMap { value, .. } = &c.bodies[0].stmts[0].kind else {
        panic!()
    };
    assert_eq!(value.ty, Ty::Str { size: 32 });
    let d = ok("kprobe:f { @s = str(arg0); }");
    assert_eq!(d.settings, Settings::default());
}

#[test]
fn config_errors_name_the_problem() {
    assert_eq!(
        messages("config = { max_strlne = 1 } kprobe:f { }"),
        vec!["unknown config variable `max_strlne`"]
    );
    let d = checked("config = { max_strlne = 1 } kprobe:f { }").unwrap_err();
    assert_eq!(d[0].help.as_deref(), Some("did you mean `max_strlen`?"));
    assert_eq!(
        messages("config = { vmlinux = 1 } kprobe:f { }"),
        vec!["config variable `vmlinux` can only be set in bpftrace's environment"]
    );
    assert_eq!(
        messages("config = { missing_probes = maybe; max_strlen = \"x\"; print_maps_on_exit = 2 } kprobe:f { }"),
        vec![
            "config variable `missing_probes` takes one of error, warn, ignore",
            "config variable `max_strlen` takes an integer",
            "config variable `print_maps_on_exit` takes `true` or `false`",
        ]
    );
    assert_eq!(
        messages(
            "config = { max_strlen = 1024; perf_rb_pages = 3; max_map_keys = 0 } kprobe:f { }"
        ),
        vec![
            "max_strlen must be from 1 to 200, found 1024",
            "perf_rb_pages must be a power of two, found 3",
            "max_map_keys must be from 1 to 4294967295, found 0",
        ]
    );
    assert_eq!(
        messages("config = { log_size = 1; LOG_SIZE = 2 } kprobe:f { }"),
        vec!["config variable `log_size` is set twice"]
    );
}

/// The variables of the first body, by name.
fn var_types(c: &Checked) -> Vec<(String, Ty)> {
    c.bodies[0]
        .vars
        .iter()
        .map(|v| (v.name.clone(), v.ty))
        .collect()
}

#[test]
fn let_declares_scoped_typed_variables() {
    let c = ok(
        "kprobe:f { let $a; let $b: uint8 = 300; let $s: string[8]; let $p: struct file *;\n\
                if (arg0) { $a = 1; } else { $a = 2; } @a = $a; @b = $b; @s = $s;\n\
                $p = arg1; @pos = $p->f_pos;\n\
                if (arg1) { let $x = comm; @x = $x; } else { let $x = 5; @y = $x; } }",
    );
    let vars = var_types(&c);
    assert_eq!(vars[0], ("a".into(), Ty::Int { signed: true }));
    assert_eq!(vars[1], ("b".into(), Ty::Int { signed: false }));
    assert_eq!(vars[2], ("s".into(), Ty::Str { size: 8 }));
    assert!(matches!(vars[3], (ref n, Ty::Ptr(_)) if n == "p"));
    // Two blocks each declare their own `$x`, of different types.
    assert_eq!(vars[4], ("x".into(), Ty::Str { size: 16 }));
    assert_eq!(vars[5], ("x".into(), Ty::Int { signed: true }));
    // `let $a;` starts at zero; `uint8 = 300` keeps the low byte, as a
    // cast does.
    let values: Vec<&TKind> = c.bodies[0].stmts[..2]
        .iter()
        .map(|s| match &s.kind {
            TStmtKind::SetVar { value, .. } => &value.kind,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(values, [&TKind::Int(0), &TKind::Int(44)]);
    assert!(!c.bodies[0].vars[0].needs_init);
}

#[test]
fn let_errors() {
    assert_eq!(
        messages("kprobe:f { let $x = 1; let $x = 2; }"),
        vec!["variable $x is already declared in this block"]
    );
    assert_eq!(
        messages("kprobe:f { if (arg0) { let $x = 1; } @x = $x; }"),
        vec!["undefined variable $x: it is used before it is assigned"]
    );
    assert_eq!(
        messages("kprobe:f { let $x: uint32 = comm; }"),
        vec!["variable $x is declared uint32 but is assigned string[16] here"]
    );
    assert_eq!(
        messages("kprobe:f { let $x: uint8[4]; let $y: inet; }"),
        vec![
            "variables of type `uint8[4]` are not supported yet",
            "variables of type `inet` are not supported yet"
        ]
    );
    assert_eq!(
        messages("kprobe:f { let $x; @x = $x; }"),
        vec!["undefined variable $x: it is used before it is assigned"]
    );
}

/// Every statement kind in `stmts` and those nested, in order.
fn kinds(stmts: &[TStmt], out: &mut Vec<&'static str>) {
    for s in stmts {
        out.push(match s.kind {
            TStmtKind::Loop { .. } => "loop",
            TStmtKind::Break => "break",
            TStmtKind::Continue => "continue",
            TStmtKind::Return => "return",
            TStmtKind::SetVar { .. } => "set",
            TStmtKind::If { .. } => "if",
            _ => "other",
        });
        for b in s.blocks() {
            kinds(b, out);
        }
    }
}

#[test]
fn loops_become_bounded_loops() {
    let c = ok("kprobe:f { $i = 0; while ($i < 10) { $i++; if ($i == 5) { continue; } if ($i > 8) { break; } }\n\
                for ($j : 0..4) { @m[$j] = count(); } $n = arg0; for ($k : 1..$n) { return; } }");
    let mut k = Vec::new();
    kinds(&c.bodies[0].stmts, &mut k);
    assert_eq!(
        k,
        [
            "set", "loop", "set", "if", "continue", "if", "break", // while
            "set", "loop", "set", "other", "set", // for 0..4: counter, $j, body, step
            "set", "set", "set", "loop", "set", "return", "set", // for 1..$n: bound too
        ]
    );
    assert_eq!(
        messages("kprobe:f { break; } kprobe:g { if (1) { continue; } }"),
        vec!["`break` outside a loop", "`continue` outside a loop"]
    );
    ok(
        "kprobe:f { @m[1] = 2; @c[comm] = count(); for ($kv : @m) { @n = $kv.1; } \
        for ($kv : @c) { @n = $kv.1; } }",
    );
    assert_eq!(
        messages(
            "kprobe:f { @m[1] = 2; @c[1, 2] = 3; @a[1] = avg(1); @t[1] = (1, 2); \
             for ($kv : @m) { @x = arg0; return; } \
             for ($kv : @c) { } for ($kv : @a) { } for ($kv : @t) { } for ($kv : @m[1]) { } }"
        ),
        vec![
            "arg0 cannot be read in the body of a `for` over a map: it runs as a callback, without the probe's context",
            "`return` and a nested `for` over a map are not supported in the body of a `for` over a map",
            "`for` over map @c is not supported yet: it has several keys (`$kv.0` would be a tuple in a tuple)",
            "`for` over map @a is not supported yet: it holds avg() values",
            "`for` over map @t is not supported yet: it holds tuples (`$kv.1` would be a tuple in a tuple)",
            "`for` takes a whole map, without keys: `for ($kv : @m)`",
        ]
    );
    assert_eq!(
        messages("kprobe:f { @m[1] = 2; @n = len(@m); @s = len(kstack); @i = len(1); }"),
        vec![
            "len() of a kstack is not supported yet: the stack is an id of a stack map, whose depth only user space sees",
            "len() takes a map or a stack: len(@m)",
        ]
    );
    assert_eq!(
        messages("kprobe:f { for ($i : 0..comm) { } }"),
        vec!["the end of a range must be an integer, found string[16]"]
    );
}

#[test]
fn bare_identifiers_are_unknown_unless_a_macro_makes_them() {
    let d = checked("kprobe:f { @x = pdi + 1; }").unwrap_err();
    assert_eq!(d[0].message, "unknown identifier `pdi`");
    assert_eq!(d[0].help.as_deref(), Some("did you mean `pid`?"));
    let d = checked("kprobe:f { @x = jiffies; }").unwrap_err();
    assert_eq!(
        d[0].help.as_deref(),
        Some("`jiffies` is a bpftrace builtin that probecc does not support")
    );
    let d = checked("kprobe:f { @x = count; }").unwrap_err();
    assert_eq!(
        d[0].help.as_deref(),
        Some("variables are written `$count`, maps `@count`, and calls `count(...)`")
    );
    assert_eq!(
        messages("kprobe:f { if (x) { @a = 1; } else { @b = 1; } }"),
        vec!["unknown identifier `x`"]
    );
    assert_eq!(
        messages("kprobe:f { if x { @a = 1; } else if y { @b = 1; } }"),
        vec!["unknown identifier `x`", "unknown identifier `y`"]
    );
}

#[test]
fn c_definitions_are_checked_against_the_kernel_types() {
    ok("struct file { long f_pos; unsigned int f_flags; };\n\
        kprobe:f { @p = ((struct file *)arg0)->f_pos; }");
    assert_eq!(
        messages("struct file { long f_pso; };\nkprobe:f { }")[0]
            .split(':')
            .next(),
        Some("the kernel's `struct file` has no member `f_pso`")
    );
    let m = messages("struct not_a_kernel_type { int x; };\nkprobe:f { }");
    assert!(
        m[0].starts_with("`struct not_a_kernel_type` is defined here but is not a kernel type"),
        "{m:?}"
    );
    assert_eq!(
        messages("enum e { A, B };\nkprobe:f { }"),
        vec!["C enum definitions are not supported yet"]
    );
}

#[test]
fn interval_probes_are_programs_with_their_period() {
    let c = ok("kprobe:f { @x = count(); } interval:s:1 { print(@x); clear(@x); }");
    let period_ns = 1_000_000_000;
    assert_eq!(c.programs[1].attach, AttachPoint::Interval { period_ns });
    assert_eq!(c.programs[1].probe, "interval:s:1");
    assert_eq!(c.programs[1].symbol, "interval_1s");
}

#[test]
fn lowercase_begin_and_end_are_begin_and_end() {
    let c = ok("begin { printf(\"hi\\n\"); } kprobe:f { @x = count(); } end { print(@x); }");
    let first = (&c.programs[0].attach, &c.programs[2].attach);
    assert_eq!(first, (&AttachPoint::Begin, &AttachPoint::End));
}

#[test]
fn tuples_spread_into_map_keys_and_give_their_elements() {
    let c = ok(
        "kprobe:f { $k = (pid, comm); @a[$k] = count(); @b[(pid, comm)] = count(); \
                @c[pid, comm] = count(); $t = (arg0, str(arg1), 3); @d[$t.1] = sum($t.0); \
                $t = (1, str(arg2, 100), 4); @e = (5, 6).1; }",
    );
    let keys: Vec<_> = c.maps.iter().take(3).map(|m| m.keys.clone()).collect();
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[1], keys[2]);
    // `$t`'s string grows to the largest assigned.
    let t = c.bodies[0].vars.iter().find(|v| v.name == "t").unwrap().ty;
    let (elems, offsets) = c.tuple(t).unwrap();
    assert_eq!(
        elems,
        [
            Ty::Int { signed: true },
            Ty::Str { size: 100 },
            Ty::Int { signed: true }
        ]
    );
    assert_eq!(offsets, [0, 8, 112]);
    assert_eq!(t.storage(), 120);
    let e = c.bodies[0].stmts.last().unwrap();
    let TStmtKind::SetMap { value, .. } = &e.kind else {
        panic!()
    };
    assert_eq!(value.kind, TKind::Int(6));
    // bpftrace 0.25 also reads elements as `$t[N]`.
    let c = ok("kprobe:f { $t = (pid, comm); @a[$t[1]] = sum($t[0]); }");
    let TStmtKind::Aggregate { keys, .. } = &c.bodies[0].stmts[1].kind else {
        panic!()
    };
    assert_eq!(keys[0].ty, Ty::Str { size: 16 });
    assert_eq!(
        messages("kprobe:f { $t = (1, 2); @a = $t[pid]; @b = pid[0]; }"),
        vec![
            "a tuple index must be a constant",
            "only array members of kernel structs and tuples can be indexed"
        ]
    );
}

#[test]
fn tuple_errors() {
    assert_eq!(
        messages("kprobe:f { $t = (1, 2); @m = $t.2; }"),
        vec!["this tuple has 2 elements: `.2` is past its last, `.1`"]
    );
    assert_eq!(
        messages("kprobe:f { @m = pid.0; }"),
        vec!["`.0` needs a tuple, found int"]
    );
    assert_eq!(
        messages("kprobe:f { @m = (1, 2); @m = (comm, 2); }"),
        vec!["map @m is assigned a tuple of other elements here than at 1:12"]
    );
    assert_eq!(
        messages("kprobe:f { @m[1] = 2; @n = @m[1].0; }"),
        vec!["`.0` needs a tuple, found int"]
    );
    assert_eq!(
        messages("kprobe:f { printf(\"%d\\n\", (1, 2)); }"),
        vec!["%d cannot print a tuple; pass its elements (`$t.0`, `$t.1`, ...)"]
    );
    assert_eq!(
        messages("kprobe:f { @m[(1, 2), 3] = 1; }"),
        vec!["a tuple as one of several keys is not supported yet"]
    );
    assert_eq!(
        messages("kprobe:f { $t = (1, (2, 3)); }"),
        vec!["nested tuples are not supported yet"]
    );
    assert_eq!(
        messages("kprobe:f { $t = (1, 2); $t = (comm, 2); }"),
        vec!["variable $t holds a tuple of other elements than the one assigned here"]
    );
    assert_eq!(
        messages("kprobe:f { $t = (1, 2); if ($t) { } }"),
        vec!["an if condition must be an integer, found a tuple"]
    );
}

#[test]
fn delete_gives_whether_an_entry_went() {
    let c = ok(
        "kprobe:f { @b[tid] = 1; $gone = delete(@b, tid); let $also = delete(@b[pid]); \
                @m[$gone, $also] = count(); }",
    );
    let oks: Vec<Option<usize>> = c.bodies[0]
        .stmts
        .iter()
        .filter_map(|s| match s.kind {
            TStmtKind::Delete { ok, .. } => Some(ok),
            _ => None,
        })
        .collect();
    assert_eq!(oks, [Some(0), Some(1)]);
    assert_eq!(
        messages("kprobe:f { $x = delete(pid); }"),
        vec!["`delete` takes a map element"]
    );
}

#[test]
fn a_variable_whose_value_failed_adds_no_errors_of_its_own() {
    assert_eq!(
        messages("kprobe:f { $a = nope(1); let $b = nope(2); @x = $a + $b; }"),
        vec!["unknown function `nope`", "unknown function `nope`"]
    );
}

#[test]
fn a_map_given_to_an_unknown_function_is_no_read_of_it() {
    assert_eq!(
        messages("kprobe:f { @m[tid] = 1; } kprobe:g /lookup(@m, tid)/ { @x = 1; }"),
        vec!["unknown function `lookup`"]
    );
}
