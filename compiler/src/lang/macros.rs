//! bpftrace's macros (`macro name(params) { stmts; value }`, 0.24+),
//! expanded in the syntax tree before checking, with bpftrace's rules:
//!
//! - a use is `name(args)`, or a bare `name` for a macro of no parameters;
//! - a `$v` parameter takes a scratch variable of the caller, which the
//!   body reads and writes; an `@m` parameter takes a map; a plain `x`
//!   takes any expression, put where the body says `x` (evaluated as often
//!   as it appears there);
//! - the body's other variables are its own (renamed apart, so that two
//!   uses and the caller never share them), and it may use no map that is
//!   not a parameter;
//! - a use as a statement runs the body's statements; a use as a value
//!   runs them before the statement holding the use, then takes the
//!   body's last expression (written without `;`). Where the value is
//!   evaluated only sometimes or repeatedly (after `&&`, `||`, `?`, in a
//!   loop condition or a predicate), a body with statements is refused.
//!
//! Every node an expansion makes carries the span of the use (the
//! outermost one, for macros used by macros), so that a diagnostic about
//! it points there; [`annotate`] then names that macro in the
//! diagnostic's notes.

use std::collections::HashMap;

use super::ast::*;
use super::diag::{line_col, Diagnostic, Note};

/// Macro uses nested deeper than this are refused (a cycle is caught
/// before; this bounds the tree an expansion can grow to).
const MAX_DEPTH: usize = 64;

/// One expansion: where the macro was used, and its name and definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacroUse {
    pub span: Span,
    pub name: String,
    pub def: Span,
}

/// `spec` with every macro use expanded, and the uses; every error of the
/// expansion otherwise.
pub fn expand(spec: &Spec) -> Result<(Spec, Vec<MacroUse>), Vec<Diagnostic>> {
    let mut x = Expander {
        defs: HashMap::new(),
        uses: Vec::new(),
        diags: Vec::new(),
        count: 0,
        stack: Vec::new(),
    };
    for m in &spec.macros {
        if let Some(first) = x.defs.get(&m.name) {
            let first = first.name_span;
            x.diags.push(
                Diagnostic::new(m.name_span, format!("macro `{}` is defined twice", m.name))
                    .with_label("defined again")
                    .with_related(first, "first defined here"),
            );
            continue;
        }
        x.defs.insert(m.name.clone(), m);
    }
    let mut out = Spec {
        macros: Vec::new(),
        ..spec.clone()
    };
    for p in &mut out.probes {
        if let Some(pred) = p.pred.take() {
            p.pred = Some(x.expr(pred, &mut None));
        }
        p.body.stmts = x.block(std::mem::take(&mut p.body.stmts));
    }
    if x.diags.is_empty() {
        Ok((out, x.uses))
    } else {
        Err(x.diags)
    }
}

/// Adds to each diagnostic about an expansion (its span is the use's) the
/// macros it comes from; the names of their own variables lose the suffix
/// that keeps them apart.
pub fn annotate(diags: &mut [Diagnostic], uses: &[MacroUse], src: &str) {
    for d in diags {
        // The outermost use: nested uses carry its span too.
        let Some(u) = uses.iter().find(|u| u.span == d.span) else {
            continue;
        };
        d.message = strip_suffixes(&d.message);
        d.label = strip_suffixes(&d.label);
        let (l, c) = line_col(src, u.def.start);
        d.notes.push(Note {
            span: None,
            message: format!(
                "in the expansion of macro `{}` (defined at {l}:{c})",
                u.name
            ),
        });
    }
}

/// `$x#12` → `$x`: the name as the macro's body writes it.
fn strip_suffixes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut prev_word = false;
    while let Some(c) = chars.next() {
        if c == '#' && prev_word && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                chars.next();
            }
            continue;
        }
        prev_word = c.is_ascii_alphanumeric() || c == '_';
        out.push(c);
    }
    out
}

struct Expander<'a> {
    defs: HashMap<String, &'a MacroDef>,
    uses: Vec<MacroUse>,
    diags: Vec<Diagnostic>,
    /// Expansions so far, for renaming each one's variables apart.
    count: usize,
    /// The macros being expanded, outermost first.
    stack: Vec<String>,
}

/// Where an expansion's statements go when it is used as a value: before
/// the statement holding the use, or nowhere (`None`: the value is
/// evaluated conditionally or repeatedly).
type Hoist = Option<Vec<Stmt>>;

impl Expander<'_> {
    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// The statements with every use expanded.
    fn block(&mut self, stmts: Vec<Stmt>) -> Vec<Stmt> {
        let mut out = Vec::with_capacity(stmts.len());
        for s in stmts {
            if let Some(inlined) = self.statement_use(&s) {
                out.extend(inlined);
                continue;
            }
            let mut before = Some(Vec::new());
            let s = self.stmt(s, &mut before);
            out.extend(before.unwrap_or_default());
            out.push(s);
        }
        out
    }

    /// A statement that is a macro use: the body's statements (and its
    /// value when that is a call, which has an effect).
    fn statement_use(&mut self, s: &Stmt) -> Option<Vec<Stmt>> {
        let StmtKind::Expr(e) = &s.kind else {
            return None;
        };
        let (name, args) = self.use_of(e)?;
        let mut before = Some(Vec::new());
        let args = args
            .into_iter()
            .map(|a| self.expr(a, &mut before))
            .collect();
        let mut out = before.unwrap_or_default();
        // Reported when `None`; the statement goes.
        if let Some((stmts, _)) = self.instantiate(&name, args, e.span, true) {
            out.extend(stmts);
        }
        Some(out)
    }

    /// If `e` uses a macro: its name and arguments.
    fn use_of(&self, e: &Expr) -> Option<(String, Vec<Expr>)> {
        match &e.kind {
            ExprKind::Call { name, args, .. } if self.defs.contains_key(name) => {
                Some((name.clone(), args.clone()))
            }
            ExprKind::Ident(name) if self.defs.contains_key(name) => Some((name.clone(), vec![])),
            _ => None,
        }
    }

    /// `s` with the uses in its expressions and blocks expanded.
    fn stmt(&mut self, mut s: Stmt, before: &mut Hoist) -> Stmt {
        // A loop's condition runs again and again.
        let repeated = matches!(s.kind, StmtKind::While { .. });
        for e in s.exprs_mut() {
            let taken = std::mem::replace(e, placeholder(e.span));
            *e = if repeated {
                self.expr(taken, &mut None)
            } else {
                self.expr(taken, before)
            };
        }
        for b in s.blocks_mut() {
            b.stmts = self.block(std::mem::take(&mut b.stmts));
        }
        s
    }

    /// `e` with its uses expanded; the statements of uses go to `before`.
    fn expr(&mut self, mut e: Expr, before: &mut Hoist) -> Expr {
        if let Some((name, args)) = self.use_of(&e) {
            let args = args.into_iter().map(|a| self.expr(a, before)).collect();
            return self.value_use(&name, args, e.span, before);
        }
        // After the first operand of `&&`, `||` and `?:`, evaluation is
        // conditional.
        let conditional = matches!(
            e.kind,
            ExprKind::Ternary { .. }
                | ExprKind::Binary {
                    op: BinOp::And | BinOp::Or,
                    ..
                }
        );
        for (i, c) in e.children_mut().into_iter().enumerate() {
            let taken = std::mem::replace(c, placeholder(c.span));
            *c = if conditional && i > 0 {
                self.expr(taken, &mut None)
            } else {
                self.expr(taken, before)
            };
        }
        e
    }

    /// A use as a value: its statements go to `before`, its value is the
    /// expression.
    fn value_use(&mut self, name: &str, args: Vec<Expr>, span: Span, before: &mut Hoist) -> Expr {
        let failed = placeholder(span);
        let Some((stmts, value)) = self.instantiate(name, args, span, false) else {
            return failed;
        };
        let Some(value) = value else {
            self.error(
                Diagnostic::new(span, format!("macro `{name}` gives no value"))
                    .with_label("used as a value")
                    .with_help(
                        "a macro's value is its body's last expression, written without `;`",
                    ),
            );
            return failed;
        };
        if !stmts.is_empty() {
            match before {
                Some(list) => list.extend(stmts),
                None => {
                    self.error(
                        Diagnostic::new(
                            span,
                            format!("macro `{name}` runs statements, and its value is used where it may be evaluated never or many times"),
                        )
                        .with_label("after `&&`, `||` or `?`, in a loop condition or a predicate")
                        .with_help("assign the value to a variable first: `$v = m(...);`"),
                    );
                    return failed;
                }
            }
        }
        value
    }

    /// The statements and value of macro `name` used with `args` at
    /// `span`; `None` after an error (reported). Used as a statement, the
    /// value is a statement too when it is a call or a macro use (which
    /// have effects) and goes otherwise.
    fn instantiate(
        &mut self,
        name: &str,
        args: Vec<Expr>,
        span: Span,
        as_statement: bool,
    ) -> Option<(Vec<Stmt>, Option<Expr>)> {
        let def = *self.defs.get(name)?;
        if self.stack.iter().any(|m| m == name) {
            let chain = format!("{} -> {name}", self.stack.join(" -> "));
            self.error(
                Diagnostic::new(span, format!("macro `{name}` uses itself: {chain}"))
                    .with_label("recursive use")
                    .with_related(def.name_span, "defined here"),
            );
            return None;
        }
        if self.stack.len() >= MAX_DEPTH {
            self.error(
                Diagnostic::new(span, format!("macros nested more than {MAX_DEPTH} deep"))
                    .with_label("too deep"),
            );
            return None;
        }
        if args.len() != def.params.len() {
            let params: Vec<String> = def.params.iter().map(param_text).collect();
            self.error(
                Diagnostic::new(
                    span,
                    format!(
                        "macro `{name}` takes {} argument{}, {} given",
                        def.params.len(),
                        if def.params.len() == 1 { "" } else { "s" },
                        args.len()
                    ),
                )
                .with_label("wrong number of arguments")
                .with_help(format!("write `{name}({})`", params.join(", "))),
            );
            return None;
        }
        self.count += 1;
        let mut sub = Substitution {
            suffix: format!("#{}", self.count),
            span,
            vars: HashMap::new(),
            maps: HashMap::new(),
            exprs: HashMap::new(),
            unknown_maps: Vec::new(),
        };
        let mut ok = true;
        for (p, a) in def.params.iter().zip(args) {
            match (p.kind, a.kind) {
                (ParamKind::Var, ExprKind::Var(v)) => {
                    sub.vars.insert(p.name.clone(), v);
                }
                (ParamKind::Map, ExprKind::Map(m)) if m.keys.is_empty() => {
                    sub.maps.insert(p.name.clone(), m.name);
                }
                (ParamKind::Expr, kind) => {
                    sub.exprs
                        .insert(p.name.clone(), Expr { kind, span: a.span });
                }
                (kind, _) => {
                    let want = if kind == ParamKind::Var {
                        "a scratch variable (`$x`)"
                    } else {
                        "a map without keys (`@m`)"
                    };
                    self.error(
                        Diagnostic::new(
                            a.span,
                            format!(
                                "macro `{name}`'s parameter `{}` takes {want}",
                                param_text(p)
                            ),
                        )
                        .with_label("not that kind of argument")
                        .with_related(p.span, "the parameter"),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        let mut body = def.body.clone();
        body.stmts.iter_mut().for_each(|s| sub.stmt(s));
        let mut value = def.value.clone();
        if let Some(v) = &mut value {
            sub.expr(v);
        }
        for m in std::mem::take(&mut sub.unknown_maps) {
            self.error(
                Diagnostic::new(
                    span,
                    format!("macro `{name}` uses map @{m}, which is not one of its parameters"),
                )
                .with_label("in this use")
                .with_help(format!(
                    "pass the map: `macro {name}(..., @{m})`, and use it as `{name}(..., @{m})`"
                ))
                .with_related(def.name_span, "the macro"),
            );
            ok = false;
        }
        if !ok {
            return None;
        }
        if as_statement {
            if let Some(v) = value.take() {
                if matches!(v.kind, ExprKind::Call { .. } | ExprKind::Ident(_)) {
                    body.stmts.push(Stmt {
                        span: v.span,
                        kind: StmtKind::Expr(v),
                    });
                }
            }
        }
        self.uses.push(MacroUse {
            span,
            name: name.to_string(),
            def: def.name_span,
        });
        self.stack.push(name.to_string());
        let mut stmts = self.block(body.stmts);
        let value = value.map(|v| {
            let mut before = Some(Vec::new());
            let v = self.expr(v, &mut before);
            stmts.extend(before.unwrap_or_default());
            v
        });
        self.stack.pop();
        Some((stmts, value))
    }
}

/// `$v`, `@m` or `x`, as the parameter is written.
fn param_text(p: &MacroParam) -> String {
    match p.kind {
        ParamKind::Var => format!("${}", p.name),
        ParamKind::Map => format!("@{}", p.name),
        ParamKind::Expr => p.name.clone(),
    }
}

/// What one expansion puts in place of the body's names and spans.
struct Substitution {
    /// Appended to the body's own variables, to keep each expansion's
    /// apart from the caller's and from other expansions'.
    suffix: String,
    /// The use's span, which every node of the body takes.
    span: Span,
    vars: HashMap<String, String>,
    maps: HashMap<String, String>,
    exprs: HashMap<String, Expr>,
    /// Maps the body uses that are no parameter.
    unknown_maps: Vec<String>,
}

impl Substitution {
    fn var(&self, name: &str) -> String {
        match self.vars.get(name) {
            Some(v) => v.clone(),
            None => format!("{name}{}", self.suffix),
        }
    }

    fn block(&mut self, b: &mut Block) {
        b.span = self.span;
        b.stmts.iter_mut().for_each(|s| self.stmt(s));
    }

    fn stmt(&mut self, s: &mut Stmt) {
        s.span = self.span;
        match &mut s.kind {
            StmtKind::Assign {
                target: LValue::Var { name, span },
                ..
            }
            | StmtKind::Incr {
                target: LValue::Var { name, span },
                ..
            }
            | StmtKind::Let {
                name,
                name_span: span,
                ..
            }
            | StmtKind::ForRange {
                var: name,
                var_span: span,
                ..
            }
            | StmtKind::ForMap {
                var: name,
                var_span: span,
                ..
            } => {
                *name = self.var(name);
                *span = self.span;
            }
            _ => {}
        }
        match &mut s.kind {
            StmtKind::Assign {
                target: LValue::Map(m),
                ..
            }
            | StmtKind::Incr {
                target: LValue::Map(m),
                ..
            }
            | StmtKind::Delete(m)
            | StmtKind::ForMap { map: m, .. } => self.map(m),
            StmtKind::Let {
                ty: Some(DeclType::Record(r)),
                ..
            } => r.span = self.span,
            _ => {}
        }
        for e in s.exprs_mut() {
            self.expr(e);
        }
        for b in s.blocks_mut() {
            self.block(b);
        }
    }

    /// A map's name (a parameter's argument) and span; its keys are
    /// the expressions of what holds it.
    fn map(&mut self, m: &mut MapRef) {
        m.span = self.span;
        match self.maps.get(&m.name) {
            Some(n) => m.name = n.clone(),
            None => {
                if !self.unknown_maps.contains(&m.name) {
                    self.unknown_maps.push(m.name.clone());
                }
            }
        }
    }

    fn expr(&mut self, e: &mut Expr) {
        if let ExprKind::Ident(w) = &e.kind {
            if let Some(arg) = self.exprs.get(w) {
                // The caller's expression, with its own spans.
                *e = arg.clone();
                return;
            }
        }
        e.span = self.span;
        match &mut e.kind {
            ExprKind::Var(v) => *v = self.var(v),
            ExprKind::Map(m) => self.map(m),
            ExprKind::Member { member_span, .. } => *member_span = self.span,
            ExprKind::TupleIndex { index_span, .. } => *index_span = self.span,
            ExprKind::Call { name_span, .. } => *name_span = self.span,
            ExprKind::Cast {
                ty: CastType::Record(r),
                ..
            } => r.span = self.span,
            ExprKind::Offsetof {
                record,
                members_span,
                ..
            } => {
                record.span = self.span;
                *members_span = self.span;
            }
            _ => {}
        }
        for c in e.children_mut() {
            self.expr(c);
        }
    }
}

/// An expression standing for one that failed or is being moved.
fn placeholder(span: Span) -> Expr {
    Expr {
        kind: ExprKind::Int(0),
        span,
    }
}

#[cfg(test)]
mod tests;
