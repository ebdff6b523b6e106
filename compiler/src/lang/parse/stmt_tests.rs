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
    let d = errs("kprobe:f {\n  @x = 1;\nkprobe:g { @y = 2; }\nBEGIN { @z = ; }");
    let m: Vec<_> = d.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        m,
        vec![
            "expected `}` to close the block opened at 1:10",
            "expected an expression after `=`"
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
    let d = errs("BEGIN { printf(\"abc); }\nEND { @x = ; }");
    let m: Vec<_> = d.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        m,
        vec![
            "unterminated string literal",
            "expected an expression after `=`"
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
        msgs("BEGIN { if pid > 1 { @x = 1; } }"),
        vec!["expected `(` after `if`"]
    );
    assert_eq!(
        msgs("BEGIN { if (pid > 1 { @x = 1; } }"),
        vec!["expected `)` to close the condition of `if` opened at 1:12"]
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
