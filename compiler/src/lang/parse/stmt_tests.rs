//! Tests of statement parsing: assignments, increments, calls, `delete`,
//! `if`/`else` chains, `unroll`, separators, and the message and place of
//! each statement error.

use super::tests::{body, errs, msgs, sx};
use crate::lang::ast::*;
use crate::lang::pretty;

#[test]
fn assignments() {
    let ops = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"];
    for op in ops {
        let b = body(&format!("BEGIN {{ @m[1] {op}= 2 }}"));
        let [StmtKind::Assign {
            op: AssignOp::Compound(o),
            ..
        }] = b.as_slice()
        else {
            panic!("{op}: {b:?}")
        };
        assert_eq!(o.symbol(), op);
    }
    let b = body("BEGIN { $x = 1; @ = 2; @[1, 2] = 3; }");
    assert!(
        matches!(&b[0], StmtKind::Assign { target: LValue::Var { name, .. }, op: AssignOp::Set, .. } if name == "x")
    );
    assert!(
        matches!(&b[1], StmtKind::Assign { target: LValue::Map(m), .. } if m.name.is_empty() && m.keys.is_empty())
    );
    assert!(
        matches!(&b[2], StmtKind::Assign { target: LValue::Map(m), .. } if m.name.is_empty() && m.keys.len() == 2)
    );
}

#[test]
fn increments() {
    let b = body("BEGIN { @m[1]++; @m[1]--; $x++; ++@m; --$x; @++ }");
    let got: Vec<_> = b
        .iter()
        .map(|s| match s {
            StmtKind::Incr { target, delta } => (pretty::lvalue(target), *delta),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("@m[1]".into(), 1),
            ("@m[1]".into(), -1),
            ("$x".into(), 1),
            ("@m".into(), 1),
            ("$x".into(), -1),
            ("@".into(), 1)
        ]
    );
}

#[test]
fn calls_delete_and_separators() {
    let b = body("END { print(@m); clear(@m); zero(@m); exit();; delete(@m[1, 2]); delete(@n, comm); delete(@o) }");
    assert_eq!(b.len(), 7);
    for (s, name) in b.iter().zip(["print", "clear", "zero", "exit"]) {
        assert!(
            matches!(s, StmtKind::Expr(Expr { kind: ExprKind::Call { name: n, .. }, .. }) if n == name),
            "{s:?}"
        );
    }
    assert!(matches!(&b[4], StmtKind::Delete(m) if m.name == "m" && m.keys.len() == 2));
    assert!(matches!(&b[5], StmtKind::Delete(m) if m.name == "n" && m.keys.len() == 1));
    assert!(matches!(&b[6], StmtKind::Delete(m) if m.name == "o" && m.keys.is_empty()));
}

#[test]
fn if_else_chains_and_unroll() {
    let b = body(
        "BEGIN { if (pid > 1) { @a = 1; } else if (pid > 2) { @b = 1 } else if (pid) { } else { @c = 1; } \
         unroll(4) { @d++; } @e = 1; }",
    );
    assert_eq!(b.len(), 3);
    let StmtKind::If {
        cond,
        then,
        els: Some(els),
    } = &b[0]
    else {
        panic!("{:?}", b[0])
    };
    assert_eq!(sx(cond), "(> pid 1)");
    assert_eq!(then.stmts.len(), 1);
    let [Stmt {
        kind: StmtKind::If {
            els: Some(els2), ..
        },
        ..
    }] = els.stmts.as_slice()
    else {
        panic!()
    };
    let [Stmt {
        kind:
            StmtKind::If {
                cond,
                then,
                els: Some(last),
            },
        ..
    }] = els2.stmts.as_slice()
    else {
        panic!()
    };
    assert_eq!(sx(cond), "pid");
    assert!(then.stmts.is_empty());
    assert_eq!(last.stmts.len(), 1);
    assert!(matches!(&b[1], StmtKind::Unroll { count: 4, body } if body.stmts.len() == 1));
    let b = body("BEGIN { if (1) { } }");
    assert!(matches!(&b[0], StmtKind::If { els: None, .. }));
}

#[test]
fn statement_errors() {
    // Missing `}`, at the end of the file and before the next probe.
    let d = errs("kprobe:f {\n  @x = 1;\n");
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].message,
        "expected `}` to close the block opened at 1:10"
    );
    assert_eq!(d[0].label, "the file ends here");
    let d = errs("kprobe:f {\n  @x = 1;\nkprobe:g { @y = 2; }\nBEGIN { @z = 1 + ; }");
    let m: Vec<_> = d.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        m,
        vec![
            "expected `}` to close the block opened at 1:10",
            "expected an expression after `+`"
        ]
    );
    assert_eq!(d[0].label, "a new probe starts here");
    assert_eq!(d[0].line_col("kprobe:f {\n  @x = 1;\nkprobe:g"), (3, 1));
    // Missing `;`.
    let src = "kprobe:f { @a = 1 @b = 2 }";
    let d = errs(src);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].message, "expected `;` between statements");
    assert_eq!(d[0].span, Span::new(17, 17));
    assert_eq!(d[0].label, "add `;` here");
    assert_eq!(
        d[0].help.as_deref(),
        Some("bpftrace requires `;` between statements, also across lines")
    );
    assert_eq!(msgs("kprobe:f { @a = 1\n@b = 2\n@c = 3 }").len(), 2);
    assert_eq!(
        msgs("kprobe:f { @a = (1)) ; @b = 2; }"),
        vec!["expected `;` after the statement, found `)`"]
    );
    // Strings.
    assert_eq!(
        msgs(r#"BEGIN { printf("\q"); }"#),
        vec!["unknown escape sequence `\\q` in string literal"]
    );
    let d = errs("BEGIN { printf(\"abc); }\nEND { @x = 1 +; }");
    let m: Vec<_> = d.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        m,
        vec![
            "unterminated string literal",
            "expected an expression after `+`"
        ]
    );
    assert_eq!(d[0].span, Span::new(15, 23));
    assert_eq!(
        msgs("BEGIN { printf(\"abc); }"),
        vec!["unterminated string literal"]
    );
    // Map keys.
    assert_eq!(
        msgs("kprobe:f { @m[1 = 2; }"),
        vec!["expected `]` to close the keys of `@m` opened at 1:14"]
    );
    assert_eq!(
        msgs("kprobe:f { @m[1, 2 3] = 2; }"),
        vec!["expected `]` to close the keys of `@m` opened at 1:14"]
    );
    assert_eq!(
        msgs("kprobe:f { @m[ = 2; }"),
        vec!["expected an expression after `[`"]
    );
    // Expressions.
    assert_eq!(
        msgs("BEGIN { @x = 1 + ; @y = 2; }"),
        vec!["expected an expression after `+`"]
    );
    assert_eq!(
        msgs("BEGIN { @x = ; }"),
        vec!["expected an expression after `=`"]
    );
    assert_eq!(
        msgs("BEGIN { pid = 1; }"),
        vec!["cannot apply `=` to this expression"]
    );
    assert_eq!(
        msgs("BEGIN { count()++; }"),
        vec!["cannot apply `++` to this expression"]
    );
    assert_eq!(
        msgs("BEGIN { @x = @y++; }"),
        vec!["expected `;` after the statement, found `++`"]
    );
    // if / unroll / delete.
    assert_eq!(
        msgs("BEGIN { if (pid > 1 { @x = 1; } }"),
        vec!["expected `)` to close the parenthesis opened at 1:12"]
    );
    assert_eq!(
        msgs("BEGIN { if { @x = 1; } }"),
        vec!["expected a condition after `if`"]
    );
    let d = errs("BEGIN { if ($x = 1) { } }");
    assert_eq!(d[0].help.as_deref(), Some("use `==` to compare"));
    assert_eq!(
        msgs("BEGIN { if (pid) @x = 1; }"),
        vec!["expected `{` after the condition of `if`"]
    );
    assert_eq!(
        msgs("BEGIN { if (pid) { } else @x = 1; }"),
        vec!["expected `{` or `if` after `else`"]
    );
    assert_eq!(
        msgs("BEGIN { unroll($x) { } }"),
        vec!["expected an integer literal in `unroll(...)`"]
    );
    assert_eq!(
        msgs("BEGIN { delete(pid); }"),
        vec!["`delete` takes a map element"]
    );
    assert_eq!(
        msgs("BEGIN { delete @m[1]; }"),
        vec!["expected `(` after `delete`"]
    );
}

#[test]
fn conditions_without_parentheses() {
    let b = body("kprobe:f { if pid > 1 { @a = 1; } else if $x { @b = 1; } else { @c = 1; } }");
    let StmtKind::If {
        cond,
        els: Some(els),
        ..
    } = &b[0]
    else {
        panic!("{b:?}")
    };
    assert_eq!(sx(cond), "(> pid 1)");
    assert!(matches!(
        &els.stmts[0].kind,
        StmtKind::If { cond, els: Some(_), .. } if sx(cond) == "$x"
    ));
    let b = body("kprobe:f { if (a) || b { } while $i < 3 { $i++; } }");
    assert!(matches!(&b[0], StmtKind::If { cond, .. } if sx(cond) == "(|| 'a 'b)"));
    assert!(
        matches!(&b[1], StmtKind::While { cond, body } if sx(cond) == "(< $i 3)" && body.stmts.len() == 1)
    );
}

#[test]
fn an_error_in_a_condition_keeps_its_else() {
    // The condition is skipped to the body, and the `else` stays part of
    // the statement: no error about `else` itself.
    assert_eq!(
        msgs("kprobe:f { if (pid +) { @a = 1; } else { @b = 1; } @c = 1; }"),
        vec!["expected an expression after `+`"]
    );
    assert_eq!(
        msgs("kprobe:f { if pid + { @a = 1; } else if (x) { } else { } }"),
        vec!["expected an expression after `+`"]
    );
    assert_eq!(
        msgs("kprobe:f { if (pid) { } else if (1 +) { } else { } @x = 1 }"),
        vec!["expected an expression after `+`"]
    );
}

#[test]
fn let_declarations() {
    let b = body("kprobe:f { let $a; let $b = 1; let $c: uint16 = 2; let $d: string; let $e: string[16]; let $f: struct sock *; let $g: uint8[4]; }");
    let decls: Vec<(String, Option<String>, bool)> = b
        .iter()
        .map(|s| match s {
            StmtKind::Let {
                name, ty, value, ..
            } => (
                name.clone(),
                ty.as_ref().map(crate::lang::pretty::decl_type),
                value.is_some(),
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    let want = [
        ("a", None, false),
        ("b", None, true),
        ("c", Some("uint16"), true),
        ("d", Some("string"), false),
        ("e", Some("string[16]"), false),
        ("f", Some("struct sock *"), false),
        ("g", Some("uint8[4]"), false),
    ];
    for (got, (n, t, v)) in decls.iter().zip(want) {
        assert_eq!((got.0.as_str(), got.1.as_deref(), got.2), (n, t, v));
    }
    assert_eq!(
        msgs("kprobe:f { let x = 1; }"),
        vec!["expected a variable after `let`, found `x`"]
    );
}

#[test]
fn loops_and_jumps() {
    let b = body(
        "kprobe:f { while ($i < 10) { if ($i == 5) { break; } $i++; continue } \
                  for ($j : 0..10) { } }",
    );
    assert!(matches!(&b[0], StmtKind::While { body, .. } if body.stmts.len() == 3));
    let StmtKind::While { body: w, .. } = &b[0] else {
        panic!()
    };
    assert!(matches!(w.stmts[2].kind, StmtKind::Continue));
    assert!(matches!(&b[1], StmtKind::ForRange { var, start, end, .. }
        if var == "j" && sx(start) == "0" && sx(end) == "10"));
    // A bound is a unary expression: `$n + 1` is not one.
    assert_eq!(
        msgs("kprobe:f { for $k : (uint64)1..$n + 1 { } }"),
        vec!["expected `{` after the head of `for`"]
    );
    let b = body("kprobe:f { for $k : (uint64)1..($n + 1) { } for ($kv : @m) { } for ($x : @a..@b) { } return; }");
    assert!(matches!(&b[0], StmtKind::ForRange { start, end, .. }
        if sx(start) == "(cast uint64 1)" && sx(end) == "(+ $n 1)"));
    assert!(matches!(&b[1], StmtKind::ForMap { var, map, .. } if var == "kv" && map.name == "m"));
    assert!(matches!(&b[2], StmtKind::ForRange { .. }));
    assert!(matches!(b[3], StmtKind::Return));
    assert_eq!(
        msgs("kprobe:f { for (i : 0..2) { } }"),
        vec!["expected a variable after `for`, found `i`"]
    );
}
