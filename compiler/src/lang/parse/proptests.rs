//! Property tests of the parser: no text makes it panic, and printing a
//! tree then parsing it back gives the same tree.

use proptest::prelude::*;

use super::super::pretty;
use super::tests::{assert_round_trip, strip, EXAMPLE};
use super::*;
use crate::lang::ast::*;

fn ident() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,5}"
}

fn int_type() -> impl Strategy<Value = IntType> {
    (prop::sample::select(vec![1u8, 2, 4, 8]), any::<bool>())
        .prop_map(|(bytes, signed)| IntType { bytes, signed })
}

fn builtin() -> impl Strategy<Value = Builtin> {
    prop_oneof![
        prop::sample::select(vec![
            Builtin::Pid,
            Builtin::Tid,
            Builtin::Uid,
            Builtin::Gid,
            Builtin::Comm,
            Builtin::Nsecs,
            Builtin::Cpu,
            Builtin::Rand,
            Builtin::Func,
            Builtin::Probe,
            Builtin::Retval,
            Builtin::Kstack,
        ]),
        any::<u8>().prop_map(Builtin::Arg),
    ]
}

fn binop() -> impl Strategy<Value = BinOp> {
    prop::sample::select(vec![
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::Mod,
        BinOp::BitAnd,
        BinOp::BitOr,
        BinOp::BitXor,
        BinOp::Shl,
        BinOp::Shr,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::And,
        BinOp::Or,
    ])
}

fn e(kind: ExprKind) -> Expr {
    Expr {
        kind,
        span: Span::default(),
    }
}

fn map(name: String, keys: Vec<Expr>) -> MapRef {
    MapRef {
        name,
        keys,
        span: Span::default(),
    }
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        any::<u64>().prop_map(|v| e(ExprKind::Int(v))),
        any::<String>().prop_map(|s| e(ExprKind::Str(s))),
        builtin().prop_map(|b| e(ExprKind::Builtin(b))),
        ident().prop_map(|n| e(ExprKind::Var(n))),
        "[A-Z][A-Z0-9_]{0,6}".prop_map(|n| e(ExprKind::Ident(n))),
        prop_oneof![Just(String::new()), ident()].prop_map(|n| e(ExprKind::Map(map(n, vec![])))),
    ];
    leaf.prop_recursive(4, 40, 4, |inner| {
        prop_oneof![
            (
                prop::sample::select(vec![UnOp::Neg, UnOp::Not, UnOp::BitNot, UnOp::Deref]),
                inner.clone()
            )
                .prop_map(|(op, x)| e(ExprKind::Unary {
                    op,
                    expr: Box::new(x)
                })),
            (binop(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| e(ExprKind::Binary {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r)
            })),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, t, f)| e(
                ExprKind::Ternary {
                    cond: Box::new(c),
                    then: Box::new(t),
                    els: Box::new(f)
                }
            )),
            (
                prop::sample::select(vec![
                    "count", "sum", "hist", "lhist", "printf", "str", "kstack", "avg"
                ]),
                prop::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|(name, args)| e(ExprKind::Call {
                    name: name.into(),
                    args,
                    name_span: Span::default()
                })),
            (int_type(), any::<bool>(), inner.clone()).prop_map(|(t, ptr, x)| e(ExprKind::Cast {
                ty: if ptr {
                    CastType::Ptr(t)
                } else {
                    CastType::Int(t)
                },
                expr: Box::new(x)
            })),
            (any::<bool>(), ident(), inner.clone()).prop_map(|(union, name, x)| e(
                ExprKind::Cast {
                    ty: CastType::Record(RecordRef {
                        union,
                        name,
                        depth: 1,
                        span: Span::default(),
                    }),
                    expr: Box::new(x)
                }
            )),
            (inner.clone(), ident(), any::<bool>()).prop_map(|(x, member, arrow)| e(
                ExprKind::Member {
                    expr: Box::new(x),
                    member,
                    member_span: Span::default(),
                    arrow,
                }
            )),
            (inner.clone(), inner.clone()).prop_map(|(x, i)| e(ExprKind::Index {
                expr: Box::new(x),
                index: Box::new(i),
            })),
            (ident(), prop::collection::vec(inner, 1..3))
                .prop_map(|(n, k)| e(ExprKind::Map(map(n, k)))),
        ]
    })
}

fn lvalue() -> impl Strategy<Value = LValue> {
    prop_oneof![
        ident().prop_map(|name| LValue::Var {
            name,
            span: Span::default()
        }),
        (
            prop_oneof![Just(String::new()), ident()],
            prop::collection::vec(expr(), 0..3)
        )
            .prop_map(|(n, k)| LValue::Map(map(n, k))),
    ]
}

fn block_of(stmt: impl Strategy<Value = Stmt>) -> impl Strategy<Value = Block> {
    prop::collection::vec(stmt, 0..4).prop_map(|stmts| Block {
        stmts,
        span: Span::default(),
    })
}

fn stmt() -> impl Strategy<Value = Stmt> {
    let s = |kind| Stmt {
        kind,
        span: Span::default(),
    };
    let simple = prop_oneof![
        expr().prop_map(move |x| s(StmtKind::Expr(x))),
        (
            lvalue(),
            prop_oneof![
                Just(AssignOp::Set),
                binop()
                    .prop_filter("compound", |b| !matches!(
                        b,
                        BinOp::And
                            | BinOp::Or
                            | BinOp::Eq
                            | BinOp::Ne
                            | BinOp::Lt
                            | BinOp::Le
                            | BinOp::Gt
                            | BinOp::Ge
                    ))
                    .prop_map(AssignOp::Compound)
            ],
            expr()
        )
            .prop_map(move |(target, op, value)| s(StmtKind::Assign { target, op, value })),
        (lvalue(), prop::sample::select(vec![1i8, -1]))
            .prop_map(move |(target, delta)| s(StmtKind::Incr { target, delta })),
        (ident(), prop::collection::vec(expr(), 0..3))
            .prop_map(move |(n, k)| s(StmtKind::Delete(map(n, k)))),
    ];
    simple.prop_recursive(3, 12, 4, move |inner| {
        prop_oneof![
            (
                expr(),
                block_of(inner.clone()),
                prop::option::of(block_of(inner.clone()))
            )
                .prop_map(move |(cond, then, els)| s(StmtKind::If { cond, then, els })),
            (any::<u64>(), block_of(inner))
                .prop_map(move |(count, body)| s(StmtKind::Unroll { count, body })),
        ]
    })
}

fn attach() -> impl Strategy<Value = AttachSpec> {
    let kind = prop::sample::select(vec![
        ProbeKind::Kprobe,
        ProbeKind::Kretprobe,
        ProbeKind::Ksyscall,
        ProbeKind::Kretsyscall,
        ProbeKind::Begin,
        ProbeKind::End,
    ]);
    (kind, "[a-z_][a-z0-9_.*]{0,8}", any::<Option<u64>>()).prop_map(|(kind, target, offset)| {
        match kind {
            ProbeKind::Begin | ProbeKind::End => AttachSpec {
                kind,
                target: String::new(),
                offset: None,
                span: Span::default(),
            },
            ProbeKind::Kprobe if !target.contains('*') => AttachSpec {
                kind,
                target,
                offset,
                span: Span::default(),
            },
            _ => AttachSpec {
                kind,
                target,
                offset: None,
                span: Span::default(),
            },
        }
    })
}

fn spec() -> impl Strategy<Value = Spec> {
    let probe = (
        prop::collection::vec(attach(), 1..3),
        prop::option::of(expr()),
        block_of(stmt()),
    )
        .prop_map(|(attach, pred, body)| Probe {
            attach,
            pred,
            body,
            span: Span::default(),
        });
    prop::collection::vec(probe, 0..3).prop_map(|probes| Spec { probes })
}

/// Pieces of the language, to build random token soups that reach
/// deeper into the parser than random characters.
const PIECES: &[&str] = &[
    "kprobe:f",
    "kretprobe:vfs_*",
    "k:a+4",
    "BEGIN",
    "END",
    "uprobe:/x",
    ",",
    "/",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ";",
    "@m",
    "@",
    "$x",
    "pid",
    "arg0",
    "count()",
    "printf(\"%d\\n\", 1)",
    "\"s",
    "\"\\q\"",
    "1",
    "0x",
    "99999999999999999999",
    "+",
    "-",
    "*",
    "=",
    "+=",
    "++",
    "--",
    "==",
    "?",
    ":",
    "&&",
    "if",
    "else",
    "unroll",
    "(3)",
    "delete",
    "(u8)",
    "(uint64 *)",
    "//c\n",
    "/*",
    "*/",
    "\n",
    " ",
    "#",
    "é",
];

/// If `src` parses, its pretty form parses back to the same tree.
fn check(src: &str) {
    if let Ok(s) = parse(src) {
        assert_round_trip(&s);
        // And printing is a fixed point.
        let text = pretty::spec(&s);
        assert_eq!(pretty::spec(&parse(&text).unwrap()), text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(src in any::<String>()) {
        check(&src);
    }

    #[test]
    fn random_token_soup_never_panics(pieces in prop::collection::vec(prop::sample::select(PIECES), 0..60)) {
        check(&pieces.concat());
        check(&pieces.join(" "));
    }

    #[test]
    fn mutated_specs_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..4, prop::sample::select(PIECES)), 1..4)
    ) {
        let mut chars: Vec<char> = EXAMPLE.chars().collect();
        for (at, len, piece) in edits {
            let start = at.index(chars.len() + 1);
            let end = (start + len).min(chars.len());
            chars.splice(start..end, piece.chars());
        }
        let src: String = chars.into_iter().collect();
        check(&src);
    }

    #[test]
    fn pretty_then_parse_is_the_identity(s in spec()) {
        assert_round_trip(&s);
        prop_assert_eq!(strip(parse(&pretty::spec(&s)).unwrap()), s);
    }
}
