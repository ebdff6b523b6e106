//! Statement-level rewrites of one program's body before lowering:
//! `func` and `probe` become this program's ids (and comparisons of them
//! with string literals become id comparisons), `unroll` bodies are
//! repeated, an `if` whose condition folded to a constant is replaced by
//! the branch taken, variables holding constants are replaced by them, a
//! value without helper calls that is read once moves into its reader,
//! and assignments nobody reads go. [`fold`](super::fold) runs after each
//! step, so `$i++` in an unrolled loop becomes the literals 0, 1, 2 and a
//! chain of `$acc op= ...` becomes one expression whose no-op masks fold
//! away. Loops run their body again: what a loop assigns is no constant
//! in it, and what it reads counts as read after each of its statements.
//!
//! Every rewrite keeps what the program computes: only variables are
//! touched, expressions have no side effects, and a value moves only past
//! statements that change none of the variables it reads.

use crate::lang::ast::{BinOp, Builtin};
use crate::lang::check::ir::{
    Body, Checked, NameTable, ProbeProgram, Sym, TExpr, TKind, TStmt, TStmtKind, Ty,
};

use super::fold;

/// Rounds of propagation; each round can only shrink the body, and the
/// fixtures settle in two.
const ROUNDS: usize = 6;

/// The names `func` and `probe` index, built once for all the programs
/// of a spec.
pub struct SymTables {
    funcs: NameTable,
    probes: NameTable,
    /// `func` is the function's address ([`Checked::func_ip`]), left for
    /// lowering to read with `bpf_get_func_ip`.
    func_ip: bool,
}

impl SymTables {
    pub fn new(checked: &Checked) -> SymTables {
        SymTables {
            funcs: checked.sym_table(Sym::Func),
            probes: checked.sym_table(Sym::Probe),
            func_ip: checked.func_ip,
        }
    }

    /// The table of `s`; only the name tables compare with literals.
    fn table(&self, s: Sym) -> Option<&NameTable> {
        match s {
            Sym::Func => Some(&self.funcs),
            Sym::Probe => Some(&self.probes),
            _ => None,
        }
    }

    /// The id `func` or `probe` has in `prog`.
    fn id(&self, s: Sym, prog: &ProbeProgram) -> i64 {
        match (self.table(s), prog.sym_value(s)) {
            (Some(t), Some(v)) => t.id(v).unwrap_or(t.len()) as i64,
            _ => 0,
        }
    }
}

/// The name tables, and this program's values.
struct Names<'a> {
    tables: &'a SymTables,
    func: i64,
    probe: i64,
    /// The function this program probes (a kprobe-multi program never
    /// reaches here with `func` compared to a string).
    func_name: &'a str,
}

/// `body` rewritten for program `prog`.
pub fn body(b: &Body, syms: &SymTables, prog: &ProbeProgram) -> Body {
    let names = Names {
        tables: syms,
        func: syms.id(Sym::Func, prog),
        probe: syms.id(Sym::Probe, prog),
        func_name: &prog.func,
    };
    let mut b = b.clone();
    if let Some(p) = &mut b.pred {
        name_ids(p, &names);
    }
    b.stmts = unroll(std::mem::take(&mut b.stmts));
    for s in &mut b.stmts {
        each_expr(s, &mut |e| name_ids(e, &names));
    }
    b = fold::body(&b);
    // A predicate that folded to a constant decides the whole body (a
    // branch on it would leave code the kernel finds unreachable).
    if let Some(TKind::Int(c)) = b.pred.as_ref().map(|p| &p.kind) {
        if *c == 0 {
            b.stmts.clear();
        }
        b.pred = None;
    }
    let wrapped = prog.arg_calls();
    // A `for` over a map's body runs in a callback, which takes the
    // variables it uses from the caller and hands them back: values do
    // not move into or out of it, so nothing is propagated around one.
    let rounds = if for_map_in(&b.stmts) { 0 } else { ROUNDS };
    for _ in 0..rounds {
        let before = b.stmts.clone();
        constants(&mut b.stmts, &mut vec![None; b.vars.len()]);
        b = fold::body(&b);
        let cont = vec![0; b.vars.len()];
        forward(&mut b.stmts, &cont, wrapped);
        b = fold::body(&b);
        drop_dead(&mut b.stmts, &cont);
        b.stmts = decided(std::mem::take(&mut b.stmts));
        if b.stmts == before {
            break;
        }
    }
    for (v, info) in b.vars.iter_mut().enumerate() {
        if reads_in(&b.stmts, v) == 0 {
            info.needs_init = false;
        }
    }
    b
}

/// Calls `f` on every expression of `s` and of the statements nested in it.
fn each_expr(s: &mut TStmt, f: &mut dyn FnMut(&mut TExpr)) {
    for e in s.exprs_mut() {
        f(e);
    }
    for block in s.blocks_mut() {
        for s in block {
            each_expr(s, f);
        }
    }
}

/// `func`/`probe` as this program's ids; `func == "name"` as an id test.
fn name_ids(e: &mut TExpr, names: &Names) {
    match &e.kind {
        TKind::Builtin(Builtin::Func) if names.tables.func_ip => {}
        // `func` where a map holds it with `ksym()`s: its address.
        TKind::Builtin(Builtin::Func) if e.ty == Ty::Sym(Sym::Ksym) => {
            e.kind = TKind::KernelAddr(names.func_name.to_string())
        }
        TKind::StrEq { s, lit, eq, .. } if names.tables.func_ip && s.ty == Ty::Sym(Sym::Func) => {
            let same = lit.as_slice() == names.func_name.as_bytes();
            e.kind = TKind::Int(i64::from(same == *eq));
        }
        TKind::Builtin(Builtin::Func) => e.kind = TKind::Int(names.func),
        TKind::Builtin(Builtin::Probe) => e.kind = TKind::Int(names.probe),
        TKind::StrEq { s, lit, eq, .. } => {
            if let Ty::Sym(sym) = s.ty {
                let id = std::str::from_utf8(lit)
                    .ok()
                    .and_then(|lit| names.tables.table(sym)?.id(lit));
                let (s, eq) = ((**s).clone(), *eq);
                e.kind = match id {
                    Some(id) => TKind::Binary {
                        op: if eq { BinOp::Eq } else { BinOp::Ne },
                        lhs: Box::new(s),
                        rhs: Box::new(TExpr::new(TKind::Int(id as i64), Ty::Sym(sym), e.span)),
                        signed: false,
                    },
                    // No program has that name: never equal.
                    None => TKind::Int(i64::from(!eq)),
                };
            }
        }
        _ => {}
    }
    for c in e.children_mut() {
        name_ids(c, names);
    }
}

/// The statements with every `unroll` body repeated in place.
fn unroll(stmts: Vec<TStmt>) -> Vec<TStmt> {
    let mut out = Vec::with_capacity(stmts.len());
    for mut s in stmts {
        match s.kind {
            TStmtKind::Unroll { count, body } => {
                let body = unroll(body);
                for _ in 0..count {
                    out.extend(body.iter().cloned());
                }
            }
            _ => {
                for b in s.blocks_mut() {
                    *b = unroll(std::mem::take(b));
                }
                out.push(s);
            }
        }
    }
    out
}

/// The statements with every `if` of a literal condition replaced by the
/// branch it takes, every loop whose condition is false dropped, and what
/// follows a statement control never leaves to the next (`break`,
/// `continue`, `return`, a loop of a true condition no `break` leaves)
/// dropped: the kernel refuses code no path reaches.
fn decided(stmts: Vec<TStmt>) -> Vec<TStmt> {
    let mut out = decide(stmts);
    if let Some(i) = out.iter().position(falls_through_never) {
        out.truncate(i + 1);
    }
    out
}

/// Whether control never goes from `s` to the statement after it.
pub(super) fn falls_through_never(s: &TStmt) -> bool {
    match &s.kind {
        TStmtKind::Break | TStmtKind::Continue | TStmtKind::Return => true,
        TStmtKind::If { then, els, .. } => {
            then.last().is_some_and(falls_through_never)
                && els.last().is_some_and(falls_through_never)
        }
        TStmtKind::Loop {
            cond: TExpr {
                kind: TKind::Int(c),
                ..
            },
            body,
            step,
        } => *c != 0 && !breaks(body) && !breaks(step),
        _ => false,
    }
}

/// Whether a `break` among the statements leaves the loop they are the
/// body of (one in a nested loop leaves that one).
pub(super) fn breaks(stmts: &[TStmt]) -> bool {
    stmts.iter().any(|s| match &s.kind {
        TStmtKind::Break => true,
        TStmtKind::Loop { .. } | TStmtKind::ForMap { .. } => false,
        _ => s.blocks().into_iter().any(|b| breaks(b)),
    })
}

/// Whether a `continue` among the statements goes to the step of the loop
/// they are the body of.
pub(super) fn continues(stmts: &[TStmt]) -> bool {
    stmts.iter().any(|s| match &s.kind {
        TStmtKind::Continue => true,
        TStmtKind::Loop { .. } | TStmtKind::ForMap { .. } => false,
        _ => s.blocks().into_iter().any(|b| continues(b)),
    })
}

/// Whether a `for` over a map is among the statements or those nested in
/// them.
fn for_map_in(stmts: &[TStmt]) -> bool {
    stmts.iter().any(|s| {
        matches!(s.kind, TStmtKind::ForMap { .. }) || s.blocks().into_iter().any(|b| for_map_in(b))
    })
}

/// Whether a `return` is among the statements or those nested in them.
pub(super) fn returns(stmts: &[TStmt]) -> bool {
    stmts
        .iter()
        .any(|s| matches!(s.kind, TStmtKind::Return) || s.blocks().into_iter().any(|b| returns(b)))
}

fn decide(stmts: Vec<TStmt>) -> Vec<TStmt> {
    let mut out = Vec::with_capacity(stmts.len());
    for mut s in stmts {
        match s.kind {
            TStmtKind::If { cond, then, els } => match cond.kind {
                TKind::Int(c) => out.extend(decided(if c != 0 { then } else { els })),
                _ => {
                    s.kind = TStmtKind::If {
                        cond,
                        then: decided(then),
                        els: decided(els),
                    };
                    out.push(s);
                }
            },
            TStmtKind::Loop {
                cond:
                    TExpr {
                        kind: TKind::Int(0),
                        ..
                    },
                ..
            } => {}
            _ => {
                for b in s.blocks_mut() {
                    *b = decided(std::mem::take(b));
                }
                out.push(s);
            }
        }
    }
    out
}

/// The variables the statements (and those nested in them) assign.
fn assigned_in(stmts: &[TStmt], out: &mut Vec<usize>) {
    for s in stmts {
        out.extend(s.assigned_var());
        for b in s.blocks() {
            assigned_in(b, out);
        }
    }
}

/// Whether a `break` or `continue` is among the statements: code after
/// them may not run although code before did.
fn jumps(stmts: &[TStmt]) -> bool {
    stmts.iter().any(|s| {
        matches!(s.kind, TStmtKind::Break | TStmtKind::Continue)
            || s.blocks().into_iter().any(|b| jumps(b))
    })
}

/// Replaces reads of variables known to hold a constant (`facts`) along
/// straight-line code; an `if` keeps what both branches agree on; a loop
/// knows nothing of what it assigns, before (its back edge) and after.
fn constants(stmts: &mut [TStmt], facts: &mut [Option<i64>]) {
    for s in stmts {
        if let TStmtKind::Loop { .. } = s.kind {
            let mut changed = Vec::new();
            assigned_in(std::slice::from_ref(s), &mut changed);
            for v in changed {
                if let Some(f) = facts.get_mut(v) {
                    *f = None;
                }
            }
        }
        for e in s.exprs_mut() {
            substitute_consts(e, facts);
        }
        match &mut s.kind {
            TStmtKind::SetVar { var, value } => {
                let c = match (&value.kind, value.ty) {
                    (TKind::Int(c), Ty::Int { .. } | Ty::Sym(_) | Ty::Ptr(_)) => Some(*c),
                    _ => None,
                };
                if let Some(f) = facts.get_mut(*var) {
                    *f = c;
                }
            }
            TStmtKind::If { then, els, .. } => {
                let mut a = facts.to_vec();
                constants(then, &mut a);
                let mut b = facts.to_vec();
                constants(els, &mut b);
                for (f, (x, y)) in facts.iter_mut().zip(a.into_iter().zip(b)) {
                    *f = if x == y { x } else { None };
                }
            }
            TStmtKind::Loop { body, step, .. } => {
                // What the loop assigns is unknown throughout: forgotten above.
                let mut inner = facts.to_vec();
                constants(body, &mut inner);
                constants(step, &mut inner);
            }
            TStmtKind::Delete { ok: Some(var), .. } => {
                if let Some(f) = facts.get_mut(*var) {
                    *f = None;
                }
            }
            _ => {}
        }
    }
}

fn substitute_consts(e: &mut TExpr, facts: &[Option<i64>]) {
    if let TKind::Var(v) = e.kind {
        if let Some(Some(c)) = facts.get(v) {
            e.kind = TKind::Int(*c);
        }
        return;
    }
    for c in e.children_mut() {
        substitute_consts(c, facts);
    }
}

/// Reads of `var` in the statements and those nested in them.
fn reads_in(stmts: &[TStmt], var: usize) -> usize {
    let mut n = 0;
    for s in stmts {
        s.visit_exprs(&mut |x| n += usize::from(matches!(x.kind, TKind::Var(i) if i == var)));
    }
    n
}

/// Reads of `var` in the statement's own expressions (an `if`'s condition).
fn own_reads(s: &TStmt, var: usize) -> usize {
    let nested: usize = s.blocks().into_iter().map(|b| reads_in(b, var)).sum();
    reads_in(std::slice::from_ref(s), var) - nested
}

/// Whether the statement (or one nested in it) assigns a variable of `vars`.
fn assigns(s: &TStmt, vars: &[usize]) -> bool {
    s.assigned_var().is_some_and(|v| vars.contains(&v))
        || s.blocks()
            .into_iter()
            .any(|b| b.iter().any(|s| assigns(s, vars)))
}

/// What is read after the blocks nested in `stmts[i]` end: the reads of
/// the statements after it and `cont`, and for a loop its own reads too,
/// as it runs again.
fn after(stmts: &[TStmt], i: usize, cont: &[usize]) -> Vec<usize> {
    let from = if matches!(stmts[i].kind, TStmtKind::Loop { .. }) {
        i
    } else {
        i + 1
    };
    continuation(&stmts[from..], cont)
}

fn vars_read(e: &TExpr) -> Vec<usize> {
    let mut out = Vec::new();
    e.visit(&mut |x| {
        if let TKind::Var(i) = x.kind {
            out.push(i);
        }
    });
    out
}

/// Read counts of every variable in `stmts`, added to `cont`: what is read
/// after a nested block ends.
fn continuation(stmts: &[TStmt], cont: &[usize]) -> Vec<usize> {
    (0..cont.len())
        .map(|v| cont[v] + reads_in(stmts, v))
        .collect()
}

/// Moves values read once into their reader (see [`single_reader`]).
fn forward(stmts: &mut Vec<TStmt>, cont: &[usize], wrapped: bool) {
    let mut i = 0;
    while i < stmts.len() {
        if let Some(j) = single_reader(stmts, i, cont, wrapped) {
            let def = stmts.remove(i);
            if let TStmtKind::SetVar { var, value } = def.kind {
                for e in stmts[j - 1].exprs_mut() {
                    replace_var(e, var, &value);
                }
            }
            continue;
        }
        let after = after(stmts, i, cont);
        for block in stmts[i].blocks_mut() {
            forward(block, &after, wrapped);
        }
        i += 1;
    }
}

/// The index of the one statement that reads the value `stmts[i]`
/// assigns, when that value can move there: it calls no helper, it is
/// read exactly once, in that statement's own expressions, and no
/// statement on the way assigns the variable or one the value reads.
fn single_reader(stmts: &[TStmt], i: usize, cont: &[usize], wrapped: bool) -> Option<usize> {
    let TStmtKind::SetVar { var, value } = &stmts[i].kind else {
        return None;
    };
    if value.has_call(wrapped) || !matches!(value.ty, Ty::Int { .. } | Ty::Sym(_) | Ty::Ptr(_)) {
        return None;
    }
    let mut deps = vars_read(value);
    deps.push(*var);
    let j = (i + 1..stmts.len()).find(|&j| reads_in(&stmts[j..=j], *var) > 0)?;
    if stmts[i + 1..j].iter().any(|s| assigns(s, &deps)) || jumps(&stmts[i + 1..j]) {
        return None;
    }
    let reader = &stmts[j];
    // A loop's condition runs again after its body: the value would be
    // computed anew each time.
    if matches!(reader.kind, TStmtKind::Loop { .. }) {
        return None;
    }
    if reads_in(std::slice::from_ref(reader), *var) != 1 || own_reads(reader, *var) != 1 {
        return None;
    }
    if matches!(&reader.kind, TStmtKind::SetVar { var: w, .. } if w == var) {
        return Some(j);
    }
    if assigns(reader, &[*var]) {
        return None;
    }
    for s in &stmts[j + 1..] {
        if reads_in(std::slice::from_ref(s), *var) > 0 {
            return None;
        }
        if matches!(&s.kind, TStmtKind::SetVar { var: w, .. } if w == var) {
            return Some(j);
        }
    }
    (cont.get(*var).copied().unwrap_or(0) == 0).then_some(j)
}

/// Replaces reads of `var` in `e` by `value` (typed as the variable).
fn replace_var(e: &mut TExpr, var: usize, value: &TExpr) {
    if matches!(e.kind, TKind::Var(i) if i == var) {
        e.kind = value.kind.clone();
        return;
    }
    for c in e.children_mut() {
        replace_var(c, var, value);
    }
}

/// Removes assignments whose value nothing reads afterwards.
fn drop_dead(stmts: &mut Vec<TStmt>, cont: &[usize]) {
    let mut i = 0;
    while i < stmts.len() {
        if let TStmtKind::SetVar { var, .. } = &stmts[i].kind {
            let later = continuation(&stmts[i + 1..], cont);
            if later.get(*var).copied().unwrap_or(0) == 0 {
                stmts.remove(i);
                continue;
            }
        }
        let after = after(stmts, i, cont);
        for block in stmts[i].blocks_mut() {
            drop_dead(block, &after);
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Arch;
    use crate::lang::check::{check, CompileOptions};
    use crate::lang::parse::parse;

    /// The rewritten body of program `prog` of `src`.
    fn rewritten(src: &str, prog: usize) -> Body {
        let spec = parse(src).unwrap_or_else(|d| panic!("{d:#?}"));
        let c = check(&spec, Arch::X86_64, &CompileOptions::default())
            .unwrap_or_else(|d| panic!("{d:#?}"));
        let p = &c.programs[prog];
        body(&c.bodies[p.body], &SymTables::new(&c), p)
    }

    fn set_vars(stmts: &[TStmt]) -> usize {
        stmts
            .iter()
            .map(|s| match &s.kind {
                TStmtKind::SetVar { .. } => 1,
                TStmtKind::If { then, els, .. } => set_vars(then) + set_vars(els),
                _ => 0,
            })
            .sum()
    }

    fn keys_of(s: &TStmt) -> Vec<TKind> {
        match &s.kind {
            TStmtKind::Aggregate { keys, .. } | TStmtKind::SetMap { keys, .. } => {
                keys.iter().map(|k| k.kind.clone()).collect()
            }
            other => panic!("not a map statement: {other:?}"),
        }
    }

    fn value_of(s: &TStmt) -> &TExpr {
        match &s.kind {
            TStmtKind::SetMap { value, .. } | TStmtKind::SetVar { value, .. } => value,
            TStmtKind::Aggregate { agg, .. } => agg.value().expect("a value"),
            other => panic!("no value: {other:?}"),
        }
    }

    #[test]
    fn an_unrolled_counter_becomes_literals() {
        let b = rewritten(
            "kprobe:f { $i = 0; unroll(3) { @m[$i] = count(); $i++; } }",
            0,
        );
        assert_eq!(b.stmts.len(), 3, "{:#?}", b.stmts);
        assert_eq!(set_vars(&b.stmts), 0);
        for (i, s) in b.stmts.iter().enumerate() {
            assert_eq!(keys_of(s), vec![TKind::Int(i as i64)]);
        }
        assert!(!b.vars[0].needs_init);
    }

    #[test]
    fn a_chain_of_updates_read_once_becomes_one_expression() {
        let b = rewritten(
            "kprobe:f { $a = arg0 & 3; $a |= 0x10; $a &= ~0x20; @x = max($a); }",
            0,
        );
        assert_eq!(b.stmts.len(), 1, "{:#?}", b.stmts);
        let v = value_of(&b.stmts[0]);
        let mut vars = 0;
        v.visit(&mut |e| vars += usize::from(matches!(e.kind, TKind::Var(_))));
        assert_eq!(vars, 0);
        // The `& ~0x20` cannot change a value within 0x13: gone.
        let mut masks = Vec::new();
        v.visit(&mut |e| {
            if let TKind::Binary {
                op: BinOp::BitAnd,
                rhs,
                ..
            } = &e.kind
            {
                masks.push(rhs.kind.clone());
            }
        });
        assert_eq!(masks, vec![TKind::Int(3)]);
    }

    #[test]
    fn a_value_does_not_move_past_a_change_of_what_it_reads() {
        let b = rewritten(
            "kprobe:f { $b = arg0; $a = $b + 1; @z = $b; $b = arg1; @x = $a; @y = $b; @w = $b; }",
            0,
        );
        assert!(
            b.stmts
                .iter()
                .any(|s| matches!(s.kind, TStmtKind::SetVar { var: 1, .. })),
            "$a must be computed before $b changes: {:#?}",
            b.stmts
        );
    }

    #[test]
    fn helper_values_stay_where_they_were_computed() {
        let b = rewritten("kprobe:f { $t = nsecs; @x = arg0; @y = $t; }", 0);
        assert!(matches!(b.stmts[0].kind, TStmtKind::SetVar { .. }));
    }

    #[test]
    fn assignments_nobody_reads_go() {
        let b = rewritten(
            "kprobe:f { $p = arg0; @a = *(uint64 *)$p; $p += 8; @b = *(uint64 *)$p; $p += 8; }",
            0,
        );
        // The last `+= 8` is dead; the first is read once, by the second read.
        assert_eq!(set_vars(&b.stmts), 1, "{:#?}", b.stmts);
        assert_eq!(b.stmts.len(), 3);
        let TKind::Deref { addr, .. } = &value_of(&b.stmts[2]).kind else {
            panic!("{:#?}", b.stmts[2]);
        };
        assert!(matches!(addr.kind, TKind::Binary { op: BinOp::Add, .. }));
    }

    #[test]
    fn a_constant_that_differs_between_branches_is_not_propagated() {
        let b = rewritten("kprobe:f { $x = 1; if (arg0 > 5) { $x = 2; } @m = $x; }", 0);
        assert!(matches!(
            value_of(b.stmts.last().unwrap()).kind,
            TKind::Var(0)
        ));
        let b = rewritten("kprobe:f { $x = 1; if (arg0 > 5) { $x = 1; } @m = $x; }", 0);
        assert_eq!(value_of(b.stmts.last().unwrap()).kind, TKind::Int(1));
    }

    #[test]
    fn a_constant_predicate_decides_the_body() {
        let never = rewritten("kprobe:f /0/ { @x = count(); }", 0);
        assert!(never.pred.is_none() && never.stmts.is_empty());
        let always = rewritten("kprobe:f /1 + 1/ { @x = count(); }", 0);
        assert!(always.pred.is_none() && always.stmts.len() == 1);
        let f = rewritten("kprobe:f, kprobe:g /func == \"g\"/ { @x = count(); }", 0);
        assert!(f.stmts.is_empty(), "f never runs the body");
    }

    #[test]
    fn func_and_probe_are_this_programs_ids() {
        let src = "kprobe:f, kprobe:g { @k[func, probe] = count(); \
                   if (func == \"g\") { @g = 1; } else { @other = 1; } \
                   if (probe != \"kprobe:nope\") { @n = 1; } }";
        let g = rewritten(src, 1);
        assert_eq!(keys_of(&g.stmts[0]), vec![TKind::Int(1), TKind::Int(1)]);
        assert_eq!(g.stmts.len(), 3, "both ifs decided: {:#?}", g.stmts);
        let f = rewritten(src, 0);
        assert_eq!(keys_of(&f.stmts[0]), vec![TKind::Int(0), TKind::Int(0)]);
        let maps: Vec<usize> = f.stmts[1..]
            .iter()
            .map(|s| match s.kind {
                TStmtKind::SetMap { map, .. } => map,
                _ => usize::MAX,
            })
            .collect();
        assert_eq!(maps, vec![2, 3], "f takes the else branch, then @n");
    }

    /// The loop statement of a body.
    fn the_loop(stmts: &[TStmt]) -> &TStmt {
        stmts
            .iter()
            .find(|s| matches!(s.kind, TStmtKind::Loop { .. }))
            .expect("a loop")
    }

    #[test]
    fn what_a_loop_assigns_is_no_constant_in_it_or_after_it() {
        let b = rewritten(
            "kprobe:f { $i = 0; $n = 7; while ($i < $n) { $i++; } @x = $i; @y = $n; }",
            0,
        );
        let TStmtKind::Loop { cond, .. } = &the_loop(&b.stmts).kind else {
            unreachable!()
        };
        // `$n` never changes: its constant goes in; `$i` stays a variable.
        let TKind::Binary { lhs, rhs, .. } = &cond.kind else {
            panic!("{cond:?}")
        };
        assert!(matches!(lhs.kind, TKind::Var(0)), "{lhs:?}");
        assert_eq!(rhs.kind, TKind::Int(7));
        let last = b.stmts.iter().rev().nth(1).unwrap();
        assert!(matches!(value_of(last).kind, TKind::Var(0)), "{last:?}");
        assert_eq!(value_of(b.stmts.last().unwrap()).kind, TKind::Int(7));
    }

    #[test]
    fn values_do_not_move_into_a_loop_or_past_a_jump() {
        // Read in the loop's condition: computed once, before it.
        let b = rewritten(
            "kprobe:f { $i = 0; $a = arg0 + 1; while ($i < $a) { $i++; } }",
            0,
        );
        assert!(set_vars(&b.stmts) >= 2, "{:#?}", b.stmts);
        // A `break` between the value and its reader: after the loop the
        // variable holds the value, so it stays where it was computed.
        let b = rewritten(
            "kprobe:f { $a = 0; while (1) { $a = arg0; if (arg1) { break; } @x = $a; $a = 5; } @y = $a; }",
            0,
        );
        let TStmtKind::Loop { body, .. } = &the_loop(&b.stmts).kind else {
            unreachable!()
        };
        assert!(
            matches!(body[0].kind, TStmtKind::SetVar { .. }),
            "{:#?}",
            body
        );
        // A loop that never runs goes, with what only it reads.
        let b = rewritten("kprobe:f { while (0) { @x = 1; } @y = 2; }", 0);
        assert_eq!(b.stmts.len(), 1);
    }
}
