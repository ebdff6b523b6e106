//! Tests of macro expansion: the trees uses become, bpftrace's rules for
//! parameters and hygiene, and the diagnostics of misuse and of errors
//! inside an expansion.

use super::*;
use crate::arch::Arch;
use crate::lang::check::{check_source, CompileOptions};
use crate::lang::diag::render;
use crate::lang::parse::parse;
use crate::lang::pretty;

fn expanded(src: &str) -> Spec {
    let spec = parse(src).unwrap_or_else(|d| panic!("{}", render("t.bt", src, &d)));
    expand(&spec)
        .unwrap_or_else(|d| panic!("{}", render("t.bt", src, &d)))
        .0
}

/// The first probe's body as text.
fn body(src: &str) -> String {
    let s = expanded(src);
    let mut out = String::new();
    for st in &s.probes[0].body.stmts {
        out.push_str(&pretty::stmt(st));
        out.push('\n');
    }
    out
}

fn errors(src: &str) -> Vec<String> {
    let spec = parse(src).unwrap_or_else(|d| panic!("{d:?}"));
    expand(&spec)
        .expect_err("expansion errors")
        .into_iter()
        .map(|d| d.message)
        .collect()
}

#[test]
fn values_statements_and_parameters() {
    let src = "macro one() { 1 }\n\
               macro add_one(x) { x + 1 }\n\
               macro bump($a, @b) { $a += 1; @b += 1; }\n\
               macro twice(x) { x; x; }\n\
               macro add_two(x) { add_one(x) + 1 }\n\
               kprobe:f { @o = one(); @p = one; $v = 10; @q = add_one($v); @r = add_one(1 + 1);\n\
               bump($v, @c); twice(printf(\"hi\\n\")); @s = add_two(arg0); }";
    assert_eq!(
        body(src),
        "@o = 1;\n@p = 1;\n$v = 10;\n@q = $v + 1;\n@r = 1 + 1 + 1;\n$v += 1;\n@c += 1;\n\
         printf(\"hi\\n\");\nprintf(\"hi\\n\");\n@s = arg0 + 1 + 1;\n"
    );
}

#[test]
fn a_body_s_own_variables_are_its_own() {
    let src = "macro sq(x) { let $x = x; $x * $x }\n\
               kprobe:f { $x = 3; @a = sq($x); @b = sq(arg0); }";
    let text = body(src);
    assert_eq!(
        text,
        "$x = 3;\nlet $x#1 = $x;\n@a = $x#1 * $x#1;\nlet $x#2 = arg0;\n@b = $x#2 * $x#2;\n"
    );
}

#[test]
fn misuse_is_an_error() {
    let defs = "macro m($a, @b, c) { $a = c; @b = 1; }\nmacro v() { @v = 1; }\n\
                macro r() { r() }\nmacro noval() { $z = 1; }\nmacro st() { $y = 1; $y }\n";
    let cases = [
        ("m(1, @x, 2);", "macro `m`'s parameter `$a` takes a scratch variable (`$x`)"),
        ("m($a, @x[1], 2);", "macro `m`'s parameter `@b` takes a map without keys (`@m`)"),
        ("m($a);", "macro `m` takes 3 arguments, 1 given"),
        ("v();", "macro `v` uses map @v, which is not one of its parameters"),
        ("@x = r();", "macro `r` uses itself: r -> r"),
        ("@x = noval();", "macro `noval` gives no value"),
        (
            "if (pid && st()) { }",
            "macro `st` runs statements, and its value is used where it may be evaluated never or many times",
        ),
    ];
    for (body, want) in cases {
        let src = format!("{defs}kprobe:f {{ $a = 1; {body} }}");
        assert_eq!(errors(&src), vec![want.to_string()], "{body}");
    }
    assert_eq!(
        errors("macro a() { 1 }\nmacro a() { 2 }\nkprobe:f { }"),
        vec!["macro `a` is defined twice"]
    );
}

#[test]
fn errors_inside_an_expansion_point_at_the_use_and_name_the_macro() {
    let src = "macro bad(x, @m) { $y = x; @m = $y + comm; }\nmacro outer(x, @m) { bad(x, @m) }\n\
               kprobe:f { outer(pid, @n); }\n";
    let spec = parse(src).unwrap();
    let d = check_source(&spec, src, Arch::X86_64, &CompileOptions::default()).unwrap_err();
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(
        d[0].message,
        "an operand of `+` must be an integer, found string[16]"
    );
    assert_eq!(&src[d[0].span.start..d[0].span.end], "outer(pid, @n)");
    assert_eq!(
        d[0].notes,
        vec![Note {
            span: None,
            message: "in the expansion of macro `outer` (defined at 2:7)".into()
        }]
    );
    // Variable names lose the suffix that keeps them apart.
    let src = "macro u() { $q = comm; $q = 1; }\nkprobe:f { u(); }\n";
    let spec = parse(src).unwrap();
    let d = check_source(&spec, src, Arch::X86_64, &CompileOptions::default()).unwrap_err();
    assert_eq!(
        d[0].message,
        "variable $q holds string[16] but is assigned int here"
    );
}

#[test]
fn suffixes_are_stripped_only_after_names() {
    assert_eq!(strip_suffixes("$x#12 and $y#3."), "$x and $y.");
    assert_eq!(strip_suffixes("# 1 #2 a#b"), "# 1 #2 a#b");
}
