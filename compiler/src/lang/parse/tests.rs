//! Tests of the parser as a whole and of its probes: trees of valid specs,
//! spans, attach points and predicates, recovery and limits; and the
//! helpers the statement and expression tests share.

use super::super::diag::render;
use super::super::pretty;
use super::*;
use crate::lang::ast::*;

pub(super) const EXAMPLE: &str = r#"
kprobe:vfs_read, kprobe:vfs_write /comm == "dd" && arg2 > 0/
{
  @bytes[comm, pid] = sum(arg2);
  @lat = hist(arg2);
  @l = lhist(arg2, 0, 1000, 100);
  $x = (uint32)arg1 + 1;
  if ($x > 10) { @big++; } else { @small += 1; }
  printf("%s read %d bytes\n", comm, arg2);
  @p[str(arg1, 16)] = count();
  @v = *(uint64 *)(arg0 + 8);
  @t = arg0 > 5 ? 1 : 0;
  unroll(3) { @u = count(); }
}
kretprobe:vfs_read /retval < 0/ { @errs[-retval] = count(); delete(@bytes[comm, pid]); }
BEGIN { printf("start\n"); }
END { print(@bytes); clear(@lat); zero(@l); }
"#;

pub(super) fn ok(src: &str) -> Spec {
    parse(src).unwrap_or_else(|d| panic!("{}", render("t.bt", src, &d)))
}

pub(super) fn errs(src: &str) -> Vec<Diagnostic> {
    match parse(src) {
        Ok(s) => panic!("parsed: {s:#?}"),
        Err(d) => d,
    }
}

pub(super) fn msgs(src: &str) -> Vec<String> {
    errs(src).into_iter().map(|d| d.message).collect()
}

/// The body of a single-probe spec.
pub(super) fn body(src: &str) -> Vec<StmtKind> {
    let s = ok(src);
    assert_eq!(s.probes.len(), 1);
    s.probes
        .into_iter()
        .flat_map(|p| p.body.stmts)
        .map(|s| s.kind)
        .collect()
}

/// An expression as an S-expression, to see its structure.
pub(super) fn sx(e: &Expr) -> String {
    let list = |es: &[Expr]| es.iter().map(sx).collect::<Vec<_>>().join(" ");
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Builtin(b) => b.name(),
        ExprKind::Var(n) => format!("${n}"),
        ExprKind::Param(n) => format!("(param {n})"),
        ExprKind::ParamStr(n) => format!("(param-str {n})"),
        ExprKind::Ident(n) => format!("'{n}"),
        ExprKind::Map(m) if m.keys.is_empty() => format!("@{}", m.name),
        ExprKind::Map(m) => format!("@{}[{}]", m.name, list(&m.keys)),
        ExprKind::Unary { op, expr } => format!("({op:?} {})", sx(expr)),
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", op.symbol(), sx(lhs), sx(rhs))
        }
        ExprKind::Ternary { cond, then, els } => {
            format!("(? {} {} {})", sx(cond), sx(then), sx(els))
        }
        ExprKind::Call { name, args, .. } => format!("({name} {})", list(args)),
        ExprKind::Cast {
            ty: CastType::Int(t),
            expr,
        } => format!("(cast {} {})", t.name(), sx(expr)),
        ExprKind::Cast {
            ty: CastType::Ptr(t),
            expr,
        } => format!("(cast {}* {})", t.name(), sx(expr)),
        ExprKind::Cast {
            ty: CastType::Record(r),
            expr,
        } => format!("(cast {} {})", r.c_name().replace(' ', ""), sx(expr)),
        ExprKind::Member {
            expr,
            member,
            arrow,
            ..
        } => format!(
            "({} {} {member})",
            if *arrow { "->" } else { "." },
            sx(expr)
        ),
        ExprKind::Index { expr, index } => format!("([] {} {})", sx(expr), sx(index)),
        ExprKind::Tuple(v) => format!("(tuple {})", list(v)),
        ExprKind::TupleIndex { expr, index, .. } => format!("(.{index} {})", sx(expr)),
        ExprKind::Offsetof {
            record, members, ..
        } => format!("(offsetof {} {})", record.name, members.join(".")),
    }
}

pub(super) fn ex(src: &str) -> String {
    sx(&parse_expr(src).unwrap_or_else(|d| panic!("{}", render("e", src, &d))))
}

pub(super) fn expr_errs(src: &str) -> Vec<String> {
    parse_expr(src)
        .expect_err(src)
        .into_iter()
        .map(|d| d.message)
        .collect()
}

// ---- span erasure, for comparing trees ----

fn strip_expr(e: &mut Expr) {
    e.span = Span::default();
    match &mut e.kind {
        ExprKind::Map(m) => strip_map(m),
        ExprKind::Unary { expr, .. } => strip_expr(expr),
        ExprKind::Cast { expr, ty } => {
            if let CastType::Record(r) = ty {
                r.span = Span::default();
            }
            strip_expr(expr);
        }
        ExprKind::Member {
            expr, member_span, ..
        } => {
            *member_span = Span::default();
            strip_expr(expr);
        }
        ExprKind::Binary { lhs, rhs, .. }
        | ExprKind::Index {
            expr: lhs,
            index: rhs,
        } => {
            strip_expr(lhs);
            strip_expr(rhs);
        }
        ExprKind::Ternary { cond, then, els } => {
            strip_expr(cond);
            strip_expr(then);
            strip_expr(els);
        }
        ExprKind::Call {
            args, name_span, ..
        } => {
            *name_span = Span::default();
            args.iter_mut().for_each(strip_expr);
        }
        ExprKind::TupleIndex {
            expr, index_span, ..
        } => {
            *index_span = Span::default();
            strip_expr(expr);
        }
        ExprKind::Tuple(v) => v.iter_mut().for_each(strip_expr),
        ExprKind::Offsetof {
            record,
            members_span,
            ..
        } => {
            record.span = Span::default();
            *members_span = Span::default();
        }
        ExprKind::Int(_)
        | ExprKind::Str(_)
        | ExprKind::Builtin(_)
        | ExprKind::Var(_)
        | ExprKind::Param(_)
        | ExprKind::ParamStr(_)
        | ExprKind::Ident(_) => {}
    }
}

fn strip_map(m: &mut MapRef) {
    m.span = Span::default();
    m.keys.iter_mut().for_each(strip_expr);
}

fn strip_lvalue(l: &mut LValue) {
    match l {
        LValue::Var { span, .. } => *span = Span::default(),
        LValue::Map(m) => strip_map(m),
    }
}

fn strip_block(b: &mut Block) {
    b.span = Span::default();
    for s in &mut b.stmts {
        s.span = Span::default();
        match &mut s.kind {
            StmtKind::Expr(e) => strip_expr(e),
            StmtKind::Assign { target, value, .. } => {
                strip_lvalue(target);
                strip_expr(value);
            }
            StmtKind::Incr { target, .. } => strip_lvalue(target),
            StmtKind::Delete(m) => strip_map(m),
            StmtKind::If { cond, then, els } => {
                strip_expr(cond);
                strip_block(then);
                if let Some(b) = els {
                    strip_block(b);
                }
            }
            StmtKind::Unroll { body, .. } => strip_block(body),
            StmtKind::While { cond, body } => {
                strip_expr(cond);
                strip_block(body);
            }
            StmtKind::Let {
                name_span,
                ty,
                value,
                ..
            } => {
                *name_span = Span::default();
                if let Some(DeclType::Record(r)) = ty {
                    r.span = Span::default();
                }
                value.iter_mut().for_each(strip_expr);
            }
            StmtKind::ForRange {
                var_span,
                start,
                end,
                body,
                ..
            } => {
                *var_span = Span::default();
                strip_expr(start);
                strip_expr(end);
                strip_block(body);
            }
            StmtKind::ForMap {
                var_span,
                map,
                body,
                ..
            } => {
                *var_span = Span::default();
                strip_map(map);
                strip_block(body);
            }
            StmtKind::Break | StmtKind::Continue | StmtKind::Return => {}
        }
    }
}

pub(super) fn strip(mut s: Spec) -> Spec {
    for p in &mut s.probes {
        p.span = Span::default();
        for a in &mut p.attach {
            a.span = Span::default();
        }
        if let Some(e) = &mut p.pred {
            strip_expr(e);
        }
        strip_block(&mut p.body);
    }
    if let Some(c) = &mut s.config {
        c.span = Span::default();
        for i in &mut c.items {
            i.key_span = Span::default();
            i.value_span = Span::default();
        }
    }
    for m in &mut s.macros {
        m.span = Span::default();
        m.name_span = Span::default();
        m.params.iter_mut().for_each(|p| p.span = Span::default());
        strip_block(&mut m.body);
        m.value.iter_mut().for_each(strip_expr);
    }
    for d in &mut s.c_defs {
        d.span = Span::default();
        d.name_span = Span::default();
        d.members
            .iter_mut()
            .for_each(|(_, sp)| *sp = Span::default());
    }
    s
}

/// parse(pretty(spec)) == spec, modulo spans.
pub(super) fn assert_round_trip(spec: &Spec) {
    let text = pretty::spec(spec);
    let again =
        parse(&text).unwrap_or_else(|d| panic!("{}\n{}", text, render("pretty.bt", &text, &d)));
    assert_eq!(strip(again), strip(spec.clone()), "{text}");
}

// ---- the example ----

#[test]
fn the_example_parses() {
    let s = ok(EXAMPLE);
    assert_eq!(s.probes.len(), 4);
    let p = &s.probes[0];
    let targets: Vec<_> = p
        .attach
        .iter()
        .map(|a| (a.kind, a.target.as_str()))
        .collect();
    assert_eq!(
        targets,
        vec![
            (ProbeKind::Kprobe, "vfs_read"),
            (ProbeKind::Kprobe, "vfs_write")
        ]
    );
    assert_eq!(
        sx(p.pred.as_ref().unwrap()),
        r#"(&& (== comm "dd") (> arg2 0))"#
    );
    assert_eq!(p.body.stmts.len(), 10);
    let StmtKind::Assign {
        target: LValue::Map(m),
        op: AssignOp::Set,
        value,
    } = &p.body.stmts[0].kind
    else {
        panic!("{:?}", p.body.stmts[0])
    };
    assert_eq!((m.name.as_str(), m.keys.len()), ("bytes", 2));
    assert_eq!(sx(value), "(sum arg2)");
    let StmtKind::Assign { value, .. } = &p.body.stmts[3].kind else {
        panic!()
    };
    assert_eq!(sx(value), "(+ (cast uint32 arg1) 1)");
    let StmtKind::Assign { value, .. } = &p.body.stmts[7].kind else {
        panic!()
    };
    assert_eq!(sx(value), "(Deref (cast uint64* (+ arg0 8)))");
    assert!(matches!(
        p.body.stmts[9].kind,
        StmtKind::Unroll { count: 3, .. }
    ));
    assert_eq!(s.probes[1].attach[0].kind, ProbeKind::Kretprobe);
    assert!(matches!(&s.probes[1].body.stmts[1].kind, StmtKind::Delete(m) if m.keys.len() == 2));
    assert_eq!(s.probes[2].attach[0].kind, ProbeKind::Begin);
    assert_eq!(s.probes[3].body.stmts.len(), 3);
    assert_round_trip(&s);
}

#[test]
fn spans_point_at_the_text() {
    let src = "BEGIN { @x = pid + 1; }";
    let s = ok(src);
    let p = &s.probes[0];
    assert_eq!(p.span, Span::new(0, src.len()));
    assert_eq!(p.attach[0].span, Span::new(0, 5));
    let st = &p.body.stmts[0];
    assert_eq!(&src[st.span.start..st.span.end], "@x = pid + 1");
    let StmtKind::Assign {
        value,
        target: LValue::Map(m),
        ..
    } = &st.kind
    else {
        panic!()
    };
    assert_eq!(&src[value.span.start..value.span.end], "pid + 1");
    assert_eq!(&src[m.span.start..m.span.end], "@x");
    let src = "kprobe:f { printf(\"%d\", (pid)); }";
    let StmtKind::Expr(e) = &ok(src).probes[0].body.stmts[0].kind else {
        panic!()
    };
    let ExprKind::Call {
        args, name_span, ..
    } = &e.kind
    else {
        panic!()
    };
    assert_eq!(&src[name_span.start..name_span.end], "printf");
    assert_eq!(&src[args[1].span.start..args[1].span.end], "(pid)");
}

// ---- attach points ----

#[test]
fn attach_points() {
    let s = ok(
        "kprobe:vfs_*, k:foo.isra.0, kretprobe:do_sys_open, kr:bar, ksyscall:openat, \
                kretsyscall:read, kprobe:do_sys_open+4, k:f+0x10, BEGIN, END { }",
    );
    let got: Vec<_> = s.probes[0]
        .attach
        .iter()
        .map(|a| (a.kind, a.target.as_str(), a.offset))
        .collect();
    assert_eq!(
        got,
        vec![
            (ProbeKind::Kprobe, "vfs_*", None),
            (ProbeKind::Kprobe, "foo.isra.0", None),
            (ProbeKind::Kretprobe, "do_sys_open", None),
            (ProbeKind::Kretprobe, "bar", None),
            (ProbeKind::Ksyscall, "openat", None),
            (ProbeKind::Kretsyscall, "read", None),
            (ProbeKind::Kprobe, "do_sys_open", Some(4)),
            (ProbeKind::Kprobe, "f", Some(16)),
            (ProbeKind::Begin, "", None),
            (ProbeKind::End, "", None),
        ]
    );
    // Across lines, with comments, predicate glued to the target.
    let s = ok("// probes\nkprobe:a,\n  /* second */ kprobe:b/pid == 1/{}");
    assert_eq!(s.probes[0].attach.len(), 2);
    assert!(s.probes[0].pred.is_some());
    assert_eq!(ok("").probes.len(), 0);
    assert_eq!(ok("  // nothing\n").probes.len(), 0);
}

#[test]
fn attach_point_errors() {
    let d = errs("uprobe:/bin/bash:readline { @x = 1; }");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].message, "`uprobe` probes are not supported yet");
    assert_eq!(d[0].span, Span::new(0, 6));
    assert_eq!(d[0].label, "not supported yet");
    assert_eq!(
        d[0].help.as_deref(),
        Some(
            "probecc compiles these probe types: kprobe (k), kretprobe (kr), \
             ksyscall, kretsyscall, BEGIN (begin), END (end), interval (i), \
             fentry (f, kfunc), fexit (fr, kretfunc)"
        )
    );
    for (word, full) in [
        ("t:syscalls:sys_enter_read", "tracepoint"),
        ("ur:/bin/sh:main", "uretprobe"),
        ("profile:hz:99", "profile"),
        ("s:page-faults:1", "software"),
        ("hardware:cache-misses:1000", "hardware"),
        ("rt:sched_switch", "rawtracepoint"),
        ("iter:task", "iter"),
        ("usdt:/bin/x:p:q", "usdt"),
    ] {
        assert_eq!(
            msgs(&format!("{word} {{ @x = 1; }}")),
            vec![format!("`{full}` probes are not supported yet")],
            "{word}"
        );
    }
    let d = errs("foo:bar { }");
    assert_eq!(d[0].message, "unknown probe type `foo`");
    assert_eq!(
        d[0].help.as_deref(),
        Some(
            "supported probe types: kprobe (k), kretprobe (kr), ksyscall, kretsyscall, BEGIN (begin), \
             END (end), interval (i), fentry (f, kfunc), fexit (fr, kretfunc)"
        )
    );
    let d = errs("kprob:vfs_read { }");
    assert_eq!(d[0].message, "unknown probe type `kprob`");
    assert!(
        d[0].help
            .as_deref()
            .unwrap()
            .starts_with("did you mean `kprobe`?"),
        "{:?}",
        d[0].help
    );
    let d = errs("Begin { }");
    assert!(
        d[0].help
            .as_deref()
            .unwrap()
            .starts_with("did you mean `begin`?"),
        "{:?}",
        d[0].help
    );
    assert_eq!(
        msgs("tracepoint:syscalls:sys_enter_openat /pid == 1/ { @x = 1; }"),
        vec!["`tracepoint` probes are not supported yet"]
    );
    assert_eq!(
        msgs("kprobe { }"),
        vec!["expected `:` and a function name after `kprobe`"]
    );
    assert_eq!(
        msgs("ksyscall: { }"),
        vec!["expected a system call name after `ksyscall:`"]
    );
    assert_eq!(msgs("BEGIN:foo { }"), vec!["`BEGIN` takes no target"]);
    assert_eq!(
        msgs("kretprobe:f+4 { }"),
        vec!["`kretprobe` attach points take no offset"]
    );
    assert_eq!(msgs("kprobe:f+ { }"), vec!["expected an offset after `+`"]);
    assert_eq!(
        msgs("kprobe:vfs_*+4 { }"),
        vec!["an offset cannot be combined with a wildcard"]
    );
    assert_eq!(
        msgs("kprobe:f+0x1z { }"),
        vec!["invalid integer literal `0x1z`"]
    );
    assert_eq!(
        msgs("kprobe:mod:f { }"),
        vec!["unexpected `:f` after attach point `kprobe:mod`"]
    );
    assert_eq!(
        msgs("kprobe:f, { }"),
        vec!["expected an attach point after `,`"]
    );
    assert_eq!(
        msgs("{ @x = 1; }"),
        vec!["expected an attach point such as `kprobe:FUNC` or `BEGIN`"]
    );
    let d = errs("kprobe:a kprobe:b { }");
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].message, "expected `{` to open the probe body");
    assert_eq!(d[0].label, "found `kprobe`");
    assert_eq!(
        msgs("kprobe:f"),
        vec!["expected `{` to open the probe body"]
    );
    assert_eq!(
        msgs("kprobe:f pid == 1 { } BEGIN { }"),
        vec!["expected `{` to open the probe body"]
    );
}

// ---- predicates ----

#[test]
fn predicates_end_at_the_first_slash_outside_parentheses() {
    let s = ok("kprobe:f /(arg0 / 2) > 1/ { @x = arg0 / 2; }");
    assert_eq!(sx(s.probes[0].pred.as_ref().unwrap()), "(> (/ arg0 2) 1)");
    let s = ok("kprobe:f /@m[arg0 / 2] > str(arg1, 8 / 2)/ { }");
    assert_eq!(
        sx(s.probes[0].pred.as_ref().unwrap()),
        "(> @m[(/ arg0 2)] (str arg1 (/ 8 2)))"
    );
    // Unparenthesised, the predicate is `arg0` and `2 > 1/` is left over.
    let d = errs("kprobe:f /arg0 / 2 > 1/ { }");
    assert_eq!(d[0].message, "expected `{` to open the probe body");
    assert_eq!(d[0].label, "found `2`");
}

#[test]
fn predicate_errors() {
    let d = errs("kprobe:f / / { }");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].message, "empty predicate");
    assert_eq!(d[0].span, Span::new(9, 12));
    assert_eq!(d[0].label, "expected a condition between the slashes");
    assert_eq!(
        msgs("kprobe:f /pid == 1 { @x = 1; }"),
        vec!["expected `/` to close the predicate opened at 1:10"]
    );
    assert_eq!(
        msgs("kprobe:f /pid == / { @x = 1; }"),
        vec!["expected an expression after `==`"]
    );
    let d = errs("kprobe:f /pid = 1/ { }");
    assert_eq!(d[0].help.as_deref(), Some("use `==` to compare"));
}

// ---- expressions ----

#[test]
fn errors_do_not_hide_later_errors() {
    let src =
        "kprobe:f {\n  @a = 1 +;\n  @b = pdi else;\n  @c = (1;\n  if (x +) { @d = \"\\q\"; }\n}\n\
               uprobe:x { }\nkprobe:g / / { @e = 1 }\nBEGIN { @f = 1 @g = 2 }\n";
    let d = errs(src);
    let got: Vec<_> = d
        .iter()
        .map(|d| (d.line_col(src).0, d.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, "expected an expression after `+`"),
            (3, "expected `;` after the statement, found `else`"),
            (4, "expected `)` to close the parenthesis opened at 4:8"),
            (5, "expected an expression after `+`"),
            (5, "unknown escape sequence `\\q` in string literal"),
            (7, "`uprobe` probes are not supported yet"),
            (8, "empty predicate"),
            (9, "expected `;` between statements"),
        ]
    );
    let text = render("t.bt", src, &d);
    assert!(text.contains("t.bt:2:11"), "{text}");
}

#[test]
fn nesting_is_limited() {
    let deep_ok = format!("{}1{}", "(".repeat(200), ")".repeat(200));
    assert_eq!(ex(&deep_ok), "1");
    for open in ["(", "- ", "!", "(u8)", "@m[", "f(", "1 ? 1 : "] {
        let src = format!("BEGIN {{ @x = {}1; }}", open.repeat(100_000));
        let d = errs(&src);
        assert!(
            d[0].message.starts_with("nesting too deep: more than 256"),
            "{open}: {:?}",
            d[0]
        );
        assert!(d.len() <= 3, "{open}: {d:?}");
    }
    let blocks = format!(
        "BEGIN {{ {} }}",
        "if (1) { ".repeat(300) + &"} ".repeat(300)
    );
    let d = errs(&blocks);
    assert_eq!(
        d[0].message,
        "nesting too deep: more than 256 nested expressions or blocks"
    );
    let blocks = format!(
        "BEGIN {{ {} }}",
        "if (1) { ".repeat(200) + &"} ".repeat(200)
    );
    ok(&blocks);
    // Chains nest the tree too.
    let chain = |n| format!("BEGIN {{ if (1) {{ }} {} }}", "else if (1) { } ".repeat(n));
    ok(&chain(200));
    assert_eq!(
        errs(&chain(10_000))[0].message,
        "nesting too deep: more than 256 nested expressions or blocks"
    );
    let sum = |n| format!("BEGIN {{ @x = 1{}; }}", " + 1".repeat(n));
    ok(&sum(200));
    assert_eq!(
        errs(&sum(100_000))[0].message,
        "nesting too deep: more than 256 nested expressions or blocks"
    );
}

#[test]
fn error_count_is_bounded() {
    let src = "BEGIN { @x = ; }\n".repeat(1000);
    let d = errs(&src);
    assert_eq!(d.len(), MAX_ERRORS + 1);
    assert_eq!(
        d[MAX_ERRORS].message,
        "too many errors (100); stopping here"
    );
    let d = errs(&"#".repeat(100_000));
    assert_eq!(
        d[0].message,
        format!("unexpected characters `{}`", "#".repeat(100_000))
    );
    assert!(d.len() <= 2, "{d:?}");
    let d = errs(&"# x ".repeat(100_000));
    assert!(d.len() <= MAX_ERRORS + 1);
}

#[test]
fn lowercase_begin_end_and_intervals() {
    let s = ok(
        "begin { } end { } interval:s:1 { } i:ms:100 { } interval:1s { } interval:250ms { } \
                interval:hz:4 { } interval:us:7 { }",
    );
    let kinds: Vec<(ProbeKind, Option<u64>)> = s
        .probes
        .iter()
        .map(|p| (p.attach[0].kind, p.attach[0].period_ns))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (ProbeKind::Begin, None),
            (ProbeKind::End, None),
            (ProbeKind::Interval, Some(1_000_000_000)),
            (ProbeKind::Interval, Some(100_000_000)),
            (ProbeKind::Interval, Some(1_000_000_000)),
            (ProbeKind::Interval, Some(250_000_000)),
            (ProbeKind::Interval, Some(250_000_000)),
            (ProbeKind::Interval, Some(7_000)),
        ]
    );
    assert_eq!(s.probes[2].attach[0].target, "s:1");
    assert_eq!(
        msgs("interval:parsec:1 { }"),
        vec!["unknown interval unit `parsec`; units: s, ms, us, ns, m, h, d, hz"]
    );
    assert_eq!(
        msgs("interval:s:0 { }"),
        vec!["an interval's count must be at least 1"]
    );
    assert_eq!(
        msgs("interval { }"),
        vec!["expected a period after `interval`"]
    );
}

/// With no values given, `$N`, `str($N)` and `$#` stay parameters, read
/// at run time; `str($N, len)` is `str()` of the integer `$N`.
#[test]
fn positional_parameters_without_values_are_read_at_run_time() {
    let src = "BEGIN { @a = $1; @b = str($2); @c = $#; @d = str($1, 4); }";
    let pre = crate::lang::preprocess::preprocess(src, &Default::default()).unwrap();
    let spec = crate::lang::parse::parse_with_params(&pre, src, None).unwrap();
    let values: Vec<String> = spec.probes[0]
        .body
        .stmts
        .iter()
        .filter_map(|s| match &s.kind {
            StmtKind::Assign { value, .. } => Some(sx(value)),
            _ => None,
        })
        .collect();
    assert_eq!(
        values,
        [
            "(param 1)",
            "(param-str 2)",
            "(param 0)",
            "(str (param 1) 4)"
        ]
    );
}

/// `$N` is its parameter's number, or its text where it is not one; a
/// missing one is 0, or `""` in `str()`; `$#` is their count.
#[test]
fn positional_parameters_take_their_values() {
    let src = "BEGIN { @a = $1; @b = str($2); @c = $#; @d = $3; @e = str($3); @f = $2; }";
    let pre = crate::lang::preprocess::preprocess(src, &Default::default()).unwrap();
    let params = ["0x10".to_string(), "eth0".to_string()];
    let spec = crate::lang::parse::parse_with_params(&pre, src, Some(&params)).unwrap();
    let values: Vec<ExprKind> = spec.probes[0]
        .body
        .stmts
        .iter()
        .filter_map(|s| match &s.kind {
            StmtKind::Assign { value, .. } => Some(value.kind.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        values,
        [
            ExprKind::Int(16),
            ExprKind::Str("eth0".into()),
            ExprKind::Int(2),
            ExprKind::Int(0),
            ExprKind::Str(String::new()),
            ExprKind::Str("eth0".into()),
        ]
    );
}
