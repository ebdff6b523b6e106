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

/// A bare identifier that reads back as one: no builtin, keyword or type
/// word.
fn bare_ident() -> impl Strategy<Value = String> {
    ident().prop_filter("a plain identifier", |w| {
        Builtin::from_word(w).is_none()
            && IntType::from_word(w).is_none()
            && !super::expr::is_keyword(w)
            && !matches!(w.as_str(), "struct" | "union" | "enum")
    })
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
            (ident(), prop::collection::vec(inner.clone(), 1..3))
                .prop_map(|(n, k)| e(ExprKind::Map(map(n, k)))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| e(ExprKind::Tuple(v))),
            (inner, 0u64..4).prop_map(|(x, index)| e(ExprKind::TupleIndex {
                expr: Box::new(x),
                index,
                index_span: Span::default(),
            })),
            bare_ident().prop_map(|w| e(ExprKind::Ident(w))),
            (any::<bool>(), ident(), prop::collection::vec(ident(), 1..3)).prop_map(
                |(union, name, members)| e(ExprKind::Offsetof {
                    record: RecordRef {
                        union,
                        name,
                        depth: 0,
                        span: Span::default(),
                    },
                    members,
                    members_span: Span::default(),
                })
            ),
        ]
    })
}

fn decl_type() -> impl Strategy<Value = DeclType> {
    prop_oneof![
        int_type().prop_map(DeclType::Int),
        prop::option::of(1u64..300).prop_map(DeclType::Str),
        (any::<bool>(), ident()).prop_map(|(union, name)| DeclType::Record(RecordRef {
            union,
            name,
            depth: 1,
            span: Span::default(),
        })),
    ]
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
        (
            ident(),
            prop::option::of(decl_type()),
            prop::option::of(expr())
        )
            .prop_map(move |(name, ty, value)| s(StmtKind::Let {
                name,
                name_span: Span::default(),
                ty,
                value,
            })),
        prop::sample::select(vec![StmtKind::Break, StmtKind::Continue, StmtKind::Return])
            .prop_map(s),
    ];
    simple.prop_recursive(3, 12, 4, move |inner| {
        prop_oneof![
            (
                expr(),
                block_of(inner.clone()),
                prop::option::of(block_of(inner.clone()))
            )
                .prop_map(move |(cond, then, els)| s(StmtKind::If { cond, then, els })),
            (any::<u64>(), block_of(inner.clone()))
                .prop_map(move |(count, body)| s(StmtKind::Unroll { count, body })),
            (expr(), block_of(inner.clone()))
                .prop_map(move |(cond, body)| s(StmtKind::While { cond, body })),
            (ident(), expr(), expr(), block_of(inner.clone())).prop_map(
                move |(var, start, end, body)| s(StmtKind::ForRange {
                    var,
                    var_span: Span::default(),
                    start,
                    end,
                    body,
                })
            ),
            (
                ident(),
                ident(),
                prop::collection::vec(expr(), 0..2),
                block_of(inner)
            )
                .prop_map(move |(var, m, keys, body)| s(StmtKind::ForMap {
                    var,
                    var_span: Span::default(),
                    map: map(m, keys),
                    body,
                })),
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
        ProbeKind::Interval,
    ]);
    let period = (
        prop::sample::select(vec![("s", 1_000_000_000u64), ("ms", 1_000_000)]),
        1u64..100,
    );
    (kind, "[a-z_][a-z0-9_.*]{0,8}", any::<Option<u64>>(), period).prop_map(
        |(kind, target, offset, ((unit, ns), n))| {
            let a = |target: String, offset, period_ns| AttachSpec {
                kind,
                target,
                offset,
                period_ns,
                span: Span::default(),
            };
            match kind {
                ProbeKind::Begin | ProbeKind::End => a(String::new(), None, None),
                ProbeKind::Interval => a(format!("{unit}:{n}"), None, Some(n * ns)),
                ProbeKind::Kprobe if !target.contains('*') => a(target, offset, None),
                _ => a(target, None, None),
            }
        },
    )
}

fn config() -> impl Strategy<Value = ConfigBlock> {
    let value = prop_oneof![
        any::<u64>().prop_map(ConfigValue::Int),
        any::<String>().prop_map(ConfigValue::Str),
        ident().prop_map(ConfigValue::Ident),
    ];
    prop::collection::vec((ident(), value), 0..3).prop_map(|items| ConfigBlock {
        items: items
            .into_iter()
            .map(|(key, value)| ConfigItem {
                key,
                key_span: Span::default(),
                value,
                value_span: Span::default(),
            })
            .collect(),
        span: Span::default(),
    })
}

fn macro_def() -> impl Strategy<Value = MacroDef> {
    let param = (
        prop::sample::select(vec![ParamKind::Var, ParamKind::Map, ParamKind::Expr]),
        bare_ident(),
    )
        .prop_map(|(kind, name)| MacroParam {
            kind,
            name,
            span: Span::default(),
        });
    (
        bare_ident(),
        prop::collection::vec(param, 0..3),
        block_of(stmt()),
        prop::option::of(expr()),
    )
        .prop_map(|(name, params, body, value)| MacroDef {
            name,
            name_span: Span::default(),
            params,
            body,
            value,
            span: Span::default(),
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
    (
        prop::collection::vec(probe, 0..3),
        prop::option::of(config()),
        prop::collection::vec(macro_def(), 0..2),
    )
        .prop_map(|(probes, config, macros)| Spec {
            probes,
            config,
            macros,
            c_defs: vec![],
            map_decls: vec![],
        })
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
