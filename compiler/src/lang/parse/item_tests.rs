//! Tests of the top-level items other than probes: the config block,
//! macro definitions, C definitions and the items probecc reports as not
//! supported yet.

use super::tests::{errs, msgs, ok};
use crate::lang::ast::*;

#[test]
fn config_blocks_hold_their_items() {
    let s = ok(
        "config = { max_strlen = 128; missing_probes = \"warn\"; stack_mode = perf }\n\
                kprobe:f { }",
    );
    let c = s.config.expect("a config block");
    let items: Vec<(&str, &ConfigValue)> =
        c.items.iter().map(|i| (i.key.as_str(), &i.value)).collect();
    assert_eq!(
        items,
        vec![
            ("max_strlen", &ConfigValue::Int(128)),
            ("missing_probes", &ConfigValue::Str("warn".into())),
            ("stack_mode", &ConfigValue::Ident("perf".into())),
        ]
    );
    assert!(ok("config = {}\nBEGIN { }")
        .config
        .unwrap()
        .items
        .is_empty());
    assert_eq!(ok("config = { a = 1; }").config.unwrap().items.len(), 1);
}

#[test]
fn config_errors() {
    assert_eq!(
        msgs("kprobe:f { }\nconfig = { max_strlen = 1 }"),
        vec!["the config block must come before the probes"]
    );
    assert_eq!(
        msgs("config = { a = 1 }\nconfig = { b = 2 }"),
        vec!["a second config block"]
    );
    assert_eq!(
        msgs("config = { max_strlen 1; stack_mode = perf }\nkprobe:f { }"),
        vec!["expected `=` after the config variable `max_strlen`"]
    );
    assert_eq!(
        msgs("config = { a = ; }"),
        vec!["expected a value for `a`, found `;`"]
    );
}

#[test]
fn macros_keep_params_statements_and_value() {
    let s = ok("macro add(x, $v, @m) { $v = x; @m = 1; $v + 1 }\n\
                macro stmts() { @a = 1; }\n\
                macro one() { 1 }\n\
                kprobe:f { @x = add(1, $y, @z); }");
    assert_eq!(s.macros.len(), 3);
    let m = &s.macros[0];
    assert_eq!(m.name, "add");
    let kinds: Vec<(ParamKind, &str)> =
        m.params.iter().map(|p| (p.kind, p.name.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            (ParamKind::Expr, "x"),
            (ParamKind::Var, "v"),
            (ParamKind::Map, "m")
        ]
    );
    assert_eq!(m.body.stmts.len(), 2);
    assert!(m.value.is_some());
    assert!(s.macros[1].value.is_none());
    assert_eq!(s.macros[1].body.stmts.len(), 1);
    assert!(s.macros[2].body.stmts.is_empty() && s.macros[2].value.is_some());
    assert_eq!(
        msgs("macro m(1) { }"),
        vec!["expected a macro parameter, found `1`"]
    );
}

#[test]
fn c_definitions_keep_their_member_names() {
    let s = ok(
        "struct nameidata {\n  struct path path;\n  struct qstr last;\n  int a[4], b;\n  \
                unsigned x : 3;\n  void (*fn)(int);\n  union { int u1; long u2; };\n  \
                struct { int s; } named;\n};\n\
                enum e { A, B = 2, C };\nkprobe:f { }",
    );
    assert_eq!(s.c_defs.len(), 2);
    let names: Vec<&str> = s.c_defs[0]
        .members
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["path", "last", "a", "x", "fn", "u1", "u2", "named"]);
    assert_eq!(s.c_defs[1].keyword, "enum");
    let names: Vec<&str> = s.c_defs[1]
        .members
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["A", "B", "C"]);
    assert_eq!(s.probes.len(), 1);
}

#[test]
fn newer_items_are_named_and_skipped() {
    let d = errs(
        "let @m = lruhash(100);\nfn f($x: int64): int64 { return $x; }\n\
                  import \"x.bt\";\nkprobe:f { }",
    );
    let m: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        m,
        vec![
            "functions (`fn NAME(...)`) are not supported yet",
            "imports are not supported yet",
        ]
    );
    assert_eq!(
        msgs("kprobe:f { let @m = 1; }"),
        vec!["a map declaration (`let @m = ...`) inside a probe"]
    );
    let s = ok("let @m = lruhash(100);\nlet @ = percpuhash(0x10);\nkprobe:f { @m[1] = 2; }");
    let decls: Vec<(&str, &str, u64)> = s
        .map_decls
        .iter()
        .map(|d| (d.name.as_str(), d.kind.as_str(), d.max_entries))
        .collect();
    assert_eq!(decls, [("m", "lruhash", 100), ("", "percpuhash", 16)]);
    assert_eq!(
        msgs("let @m = hash;\nkprobe:f { }"),
        vec!["expected `(` and the map's size"]
    );
}
