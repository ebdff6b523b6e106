//! The printer of the syntax tree back to source: canonical bpftrace text
//! (4-space indents, `{` on the line after the attach points, aliases
//! spelled out, the fewest parentheses that keep the tree) that
//! [`super::parse::parse`] reads back to the same tree. Also `Display` for
//! [`Spec`] and [`Expr`], for messages that quote an expression.

use std::fmt;

use super::ast::*;
use super::parse::precedence;

/// A whole spec as source text: C definitions, the config block and the
/// macros first, then the probes.
pub fn spec(s: &Spec) -> String {
    let mut out = String::new();
    for d in &s.c_defs {
        c_def_into(&mut out, d);
        out.push('\n');
    }
    if let Some(c) = &s.config {
        out.push_str("config = {\n");
        for item in &c.items {
            let value = match &item.value {
                ConfigValue::Int(n) => n.to_string(),
                ConfigValue::Str(v) => string_literal(v),
                ConfigValue::Ident(w) => w.clone(),
            };
            out.push_str(&format!("    {} = {value};\n", item.key));
        }
        out.push_str("}\n\n");
    }
    for m in &s.macros {
        macro_into(&mut out, m);
        out.push('\n');
    }
    for d in &s.map_decls {
        out.push_str(&format!(
            "let @{} = {}({});\n",
            d.name, d.kind, d.max_entries
        ));
    }
    if !s.map_decls.is_empty() {
        out.push('\n');
    }
    for (i, p) in s.probes.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        probe_into(&mut out, p);
    }
    out
}

/// `struct NAME { ... };` with its member names (as `int NAME;`, the types
/// not being kept).
fn c_def_into(out: &mut String, d: &CDef) {
    out.push_str(&format!("{} {} {{\n", d.keyword, d.name));
    for (i, (m, _)) in d.members.iter().enumerate() {
        if d.keyword == "enum" {
            let sep = if i + 1 < d.members.len() { "," } else { "" };
            out.push_str(&format!("    {m}{sep}\n"));
        } else {
            out.push_str(&format!("    int {m};\n"));
        }
    }
    out.push_str("};\n");
}

/// `macro name(params) { stmts; value }`.
fn macro_into(out: &mut String, m: &MacroDef) {
    let params: Vec<String> = m
        .params
        .iter()
        .map(|p| match p.kind {
            ParamKind::Var => format!("${}", p.name),
            ParamKind::Map => format!("@{}", p.name),
            ParamKind::Expr => p.name.clone(),
        })
        .collect();
    out.push_str(&format!("macro {}({})\n", m.name, params.join(", ")));
    out.push_str("{\n");
    for s in &m.body.stmts {
        indent(out, 1);
        stmt_into(out, s, 1);
        out.push('\n');
    }
    if let Some(v) = &m.value {
        indent(out, 1);
        out.push_str(&expr(v));
        out.push('\n');
    }
    out.push_str("}\n");
}

/// One probe as source text.
pub fn probe(p: &Probe) -> String {
    let mut out = String::new();
    probe_into(&mut out, p);
    out
}

fn probe_into(out: &mut String, p: &Probe) {
    let attach: Vec<String> = p.attach.iter().map(attach_spec).collect();
    out.push_str(&attach.join(", "));
    if let Some(pred) = &p.pred {
        let text = expr_in(pred, 0, true);
        // `/*` would open a comment.
        let sep = if text.starts_with('*') { " " } else { "" };
        out.push_str(&format!(" /{sep}{text}/"));
    }
    out.push('\n');
    block_into(out, &p.body, 0);
    out.push('\n');
}

/// `kprobe:vfs_read`, `kprobe:do_sys_open+16`, `BEGIN`, `interval:s:1`.
pub fn attach_spec(a: &AttachSpec) -> String {
    match a.kind {
        ProbeKind::Begin | ProbeKind::End => a.kind.name().to_string(),
        ProbeKind::Interval => format!("interval:{}", a.target),
        _ => match a.offset {
            Some(off) => format!("{}:{}+{off}", a.kind.name(), a.target),
            None => format!("{}:{}", a.kind.name(), a.target),
        },
    }
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("    ");
    }
}

/// `{`, the statements one per line at `level + 1`, `}` (no newline after).
fn block_into(out: &mut String, b: &Block, level: usize) {
    out.push_str("{\n");
    for s in &b.stmts {
        indent(out, level + 1);
        stmt_into(out, s, level + 1);
        out.push('\n');
    }
    indent(out, level);
    out.push('}');
}

/// One statement as source text (blocks indented from level 0).
pub fn stmt(s: &Stmt) -> String {
    let mut out = String::new();
    stmt_into(&mut out, s, 0);
    out
}

fn stmt_into(out: &mut String, s: &Stmt, level: usize) {
    match &s.kind {
        StmtKind::Expr(e) => {
            out.push_str(&expr(e));
            out.push(';');
        }
        StmtKind::Assign { target, op, value } => {
            let op = match op {
                AssignOp::Set => "=".to_string(),
                AssignOp::Compound(b) => format!("{}=", b.symbol()),
            };
            out.push_str(&format!("{} {op} {};", lvalue(target), expr(value)));
        }
        StmtKind::Incr { target, delta } => {
            out.push_str(&lvalue(target));
            out.push_str(if *delta < 0 { "--;" } else { "++;" });
        }
        StmtKind::Delete(m) => out.push_str(&format!("delete({});", map_ref(m))),
        StmtKind::If { cond, then, els } => {
            out.push_str(&format!("if ({}) ", expr(cond)));
            block_into(out, then, level);
            if let Some(els) = els {
                out.push_str(" else ");
                match els.stmts.as_slice() {
                    [only @ Stmt {
                        kind: StmtKind::If { .. },
                        ..
                    }] => stmt_into(out, only, level),
                    _ => block_into(out, els, level),
                }
            }
        }
        StmtKind::Unroll { count, body } => {
            out.push_str(&format!("unroll({count}) "));
            block_into(out, body, level);
        }
        StmtKind::Let {
            name, ty, value, ..
        } => {
            out.push_str(&format!("let ${name}"));
            if let Some(ty) = ty {
                out.push_str(&format!(": {}", decl_type(ty)));
            }
            if let Some(v) = value {
                out.push_str(&format!(" = {}", expr(v)));
            }
            out.push(';');
        }
        StmtKind::While { cond, body } => {
            out.push_str(&format!("while ({}) ", expr(cond)));
            block_into(out, body, level);
        }
        StmtKind::ForRange {
            var,
            start,
            end,
            body,
            ..
        } => {
            let bound = |e: &Expr| expr_in(e, UNARY, false);
            out.push_str(&format!("for (${var} : {}..{}) ", bound(start), bound(end)));
            block_into(out, body, level);
        }
        StmtKind::ForMap { var, map, body, .. } => {
            out.push_str(&format!("for (${var} : {}) ", map_ref(map)));
            block_into(out, body, level);
        }
        StmtKind::Break => out.push_str("break;"),
        StmtKind::Continue => out.push_str("continue;"),
        StmtKind::Return => out.push_str("return;"),
    }
}

/// A declared type as written: `uint32`, `string[16]`, `struct sock *`.
pub fn decl_type(t: &DeclType) -> String {
    match t {
        DeclType::Int(i) => i.name(),
        DeclType::Str(None) => "string".into(),
        DeclType::Str(Some(n)) => format!("string[{n}]"),
        DeclType::Record(r) => r.c_name().trim_end().to_string(),
        DeclType::Other(text) => text.clone(),
    }
}

/// `$x` or `@m[k]`.
pub fn lvalue(l: &LValue) -> String {
    match l {
        LValue::Var { name, .. } => format!("${name}"),
        LValue::Map(m) => map_ref(m),
    }
}

/// `@m`, `@`, `@m[k1, k2]`.
pub fn map_ref(m: &MapRef) -> String {
    if m.keys.is_empty() {
        m.display_name()
    } else {
        let keys: Vec<String> = m.keys.iter().map(expr).collect();
        format!("{}[{}]", m.display_name(), keys.join(", "))
    }
}

/// An expression as source text, parenthesised only where needed.
pub fn expr(e: &Expr) -> String {
    expr_in(e, 0, false)
}

/// Precedence of unary operators and casts.
const UNARY: u8 = 11;

/// The operand of `->`, `.` or `[]`, which bind tighter than anything:
/// parenthesised unless it is itself primary or postfix.
fn postfix_base(e: &Expr) -> String {
    match e.kind {
        ExprKind::Unary { .. }
        | ExprKind::Cast { .. }
        | ExprKind::Binary { .. }
        | ExprKind::Ternary { .. }
        | ExprKind::Int(_)
        // `@m[k]` would read as the map's key.
        | ExprKind::Map(_) => format!("({})", expr(e)),
        // A tuple prints its own parentheses.
        _ => expr(e),
    }
}

/// `e` in a context that binds at `min` (0: anywhere; a ternary needs 0).
/// `pred`: at paren depth 0 of a predicate, where every `/` that divides
/// must be parenthesised.
fn expr_in(e: &Expr, min: u8, pred: bool) -> String {
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Str(s) => string_literal(s),
        ExprKind::Builtin(b) => b.name(),
        ExprKind::Var(n) => format!("${n}"),
        ExprKind::Param(0) => "$#".into(),
        ExprKind::Param(n) => format!("${n}"),
        ExprKind::ParamStr(n) => format!("str(${n})"),
        ExprKind::Ident(n) => n.clone(),
        ExprKind::Map(m) => map_ref(m),
        ExprKind::Call { name, args, .. } => {
            let args: Vec<String> = args.iter().map(expr).collect();
            format!("{name}({})", args.join(", "))
        }
        ExprKind::Unary { op, expr: inner } => {
            let sym = match op {
                UnOp::Neg => "-",
                UnOp::Not => "!",
                UnOp::BitNot => "~",
                UnOp::Deref => "*",
            };
            // `- -x` must not become `--x`: nested unaries get parentheses.
            let text = if matches!(inner.kind, ExprKind::Unary { .. }) {
                format!("({})", expr(inner))
            } else {
                expr_in(inner, UNARY, pred)
            };
            format!("{sym}{text}")
        }
        ExprKind::Cast { ty, expr: inner } => {
            let ty = match ty {
                CastType::Int(t) => t.name(),
                CastType::Ptr(t) => format!("{} *", t.name()),
                CastType::Record(r) => r.c_name().trim_end().to_string(),
            };
            format!("({ty}){}", expr_in(inner, UNARY, pred))
        }
        ExprKind::Member {
            expr: base,
            member,
            arrow,
            ..
        } => {
            let op = if *arrow { "->" } else { "." };
            format!("{}{op}{member}", postfix_base(base))
        }
        ExprKind::Index { expr: base, index } => {
            format!("{}[{}]", postfix_base(base), expr(index))
        }
        ExprKind::Tuple(elems) => {
            let elems: Vec<String> = elems.iter().map(expr).collect();
            format!("({})", elems.join(", "))
        }
        ExprKind::TupleIndex {
            expr: base, index, ..
        } => format!("{}.{index}", postfix_base(base)),
        ExprKind::Offsetof {
            record, members, ..
        } => format!(
            "offsetof({}, {})",
            record.c_name().trim_end(),
            members.join(".")
        ),
        ExprKind::Binary { op, lhs, rhs } => {
            let p = precedence(*op);
            let parens = p < min || (pred && *op == BinOp::Div);
            let pred = pred && !parens;
            let text = format!(
                "{} {} {}",
                expr_in(lhs, p, pred),
                op.symbol(),
                expr_in(rhs, p + 1, pred)
            );
            if parens {
                format!("({text})")
            } else {
                text
            }
        }
        ExprKind::Ternary { cond, then, els } => {
            let parens = min > 0;
            let pred = pred && !parens;
            let text = format!(
                "{} ? {} : {}",
                expr_in(cond, 1, pred),
                expr_in(then, 0, pred),
                expr_in(els, 0, pred)
            );
            if parens {
                format!("({text})")
            } else {
                text
            }
        }
    }
}

/// A string literal with the escapes the lexer reads back.
pub fn string_literal(s: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // `\0` followed by an octal digit would read as one escape.
            '\0' if !chars.peek().is_some_and(|n| ('0'..='7').contains(n)) => out.push_str("\\0"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&expr(self))
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&spec(self))
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::{parse, parse_expr};
    use super::*;

    fn round(src: &str) -> String {
        expr(&parse_expr(src).unwrap_or_else(|d| panic!("{src}: {d:?}")))
    }

    #[test]
    fn minimal_parentheses() {
        assert_eq!(round("1 + 2 * 3"), "1 + 2 * 3");
        assert_eq!(round("(1 + 2) * 3"), "(1 + 2) * 3");
        assert_eq!(round("1 - (2 - 3)"), "1 - (2 - 3)");
        assert_eq!(round("(1 - 2) - 3"), "1 - 2 - 3");
        assert_eq!(
            round("pid ? tid : uid ? gid : cpu"),
            "pid ? tid : uid ? gid : cpu"
        );
        assert_eq!(
            round("(pid ? tid : uid) ? gid : cpu"),
            "(pid ? tid : uid) ? gid : cpu"
        );
        assert_eq!(round("(pid ? tid : uid) + 1"), "(pid ? tid : uid) + 1");
        assert_eq!(round("pid || tid ? uid : gid"), "pid || tid ? uid : gid");
        assert_eq!(round("- -pid"), "-(-pid)");
        assert_eq!(round("-(1 + 2)"), "-(1 + 2)");
        assert_eq!(round("*(uint64 *)(arg0 + 8)"), "*(uint64 *)(arg0 + 8)");
        assert_eq!(round("(u8)-arg0"), "(uint8)-arg0");
        assert_eq!(round("(s16)(arg0 ? 1 : 2)"), "(int16)(arg0 ? 1 : 2)");
        assert_eq!(round("@m[1 + 2, comm]"), "@m[1 + 2, comm]");
        assert_eq!(round("printf(\"%d\\n\", (pid))"), "printf(\"%d\\n\", pid)");
    }

    #[test]
    fn strings_escape_what_the_lexer_reads() {
        assert_eq!(string_literal("a\"b\\c\n\t\r"), r#""a\"b\\c\n\t\r""#);
        assert_eq!(string_literal("\0x\u{1}é"), r#""\0x\x01é""#);
        assert_eq!(string_literal("\u{0}7"), r#""\x007""#);
    }

    #[test]
    fn predicates_parenthesise_division_and_avoid_comments() {
        let s = parse("kprobe:f /(arg0 / 2) > 1/ { }\nkprobe:g /*(uint8 *)arg0 == 1/ { }")
            .map_err(|d| format!("{d:?}"));
        // `/*` opens a comment in bpftrace too: the second probe is text the
        // user must write with a space.
        assert!(s.is_err());
        let s =
            parse("kprobe:f /(arg0 / 2) > 1/ { }\nkprobe:g / *(uint8 *)arg0 == 1/ { }").unwrap();
        let text = spec(&s);
        assert_eq!(
            text,
            "kprobe:f /(arg0 / 2) > 1/\n{\n}\n\nkprobe:g / *(uint8 *)arg0 == 1/\n{\n}\n"
        );
        assert_eq!(spec(&parse(&text).unwrap()), text);
    }

    #[test]
    fn statements_and_layout() {
        let src = "k:f+0x10, kr:g, BEGIN { $x = 1; @m[$x] += 2; @n--; delete(@m[1]); \
                   if ($x) { @a = 1 } else if ($x > 2) { @b = 2 } else { unroll(2) { print(@m) } } }";
        let text = spec(&parse(src).unwrap());
        assert_eq!(
            text,
            "kprobe:f+16, kretprobe:g, BEGIN\n{\n    $x = 1;\n    @m[$x] += 2;\n    @n--;\n    delete(@m[1]);\n    \
             if ($x) {\n        @a = 1;\n    } else if ($x > 2) {\n        @b = 2;\n    } else {\n        \
             unroll(2) {\n            print(@m);\n        }\n    }\n}\n"
        );
    }
}
