//! The code generator of one program: the state shared by the expression,
//! string, map and output-record generators ([`Gen`]), the program skeleton
//! (ctx kept in r6 when needed, variables zeroed where the verifier would
//! see an uninitialised read, predicate, statements, `exit:` returning 0)
//! and the statements, each preceded by its source line for `.BTF.ext`.

use crate::arch::Arch;
use crate::asm::{self, CoreField, Op};
use crate::insn::Reg;
use crate::kprobe::{self, AttachPoint, KprobeProgram, EXIT_LABEL};
use crate::lang::ast::{Builtin, Span};
use crate::lang::check::ir::{Body, Checked, ProbeProgram, TExpr, TKind, TStmt, TStmtKind, Ty};
use crate::lang::check::CompileOptions;
use crate::lang::diag::{Diagnostic, Lines};
use crate::program::Program;

use super::frame::Frame;
use super::operand::VarLoc;
use super::propagate::SymTables;

/// Results of code generation; errors point at the statement being lowered.
pub type R<T> = Result<T, Diagnostic>;

/// Where the ctx pointer is kept when it is read after a helper call.
pub const CTX_SAVED: Reg = Reg::R6;

/// What every program of a spec looks up, built once per object (a
/// lookup built per program would make lowering grow with the square of
/// the attach points).
pub struct Shared<'a> {
    pub syms: SymTables,
    /// The line starts of [`Checked::source`], for line info.
    pub lines: Lines<'a>,
    /// The symbol of the program that records the start `elapsed` counts
    /// from (the first BEGIN program), when a program reads `elapsed`.
    pub elapsed_start: Option<&'a str>,
}

impl<'a> Shared<'a> {
    pub fn new(checked: &'a Checked) -> Shared<'a> {
        Shared {
            syms: SymTables::new(checked),
            lines: Lines::new(&checked.source),
            elapsed_start: checked
                .programs
                .iter()
                .find(|p| p.attach == AttachPoint::Begin)
                .filter(|_| checked.uses_elapsed())
                .map(|p| p.symbol.as_str()),
        }
    }
}

pub struct Gen<'a> {
    pub arch: Arch,
    pub checked: &'a Checked,
    shared: &'a Shared<'a>,
    pub prog: &'a ProbeProgram,
    pub opts: &'a CompileOptions,
    pub ops: Vec<Op>,
    pub frame: Frame,
    /// Where each variable lives.
    pub vars: Vec<VarLoc>,
    /// Types of the variables.
    pub var_tys: Vec<Ty>,
    labels: usize,
    /// The program-wide slot holding the key 0 of keyless maps, if shared.
    pub zero_key: Option<i16>,
    /// A 16-byte slot whose second u64 is 1 for the whole program.
    pub one_pair: Option<i16>,
    /// Keys the body's statements build alike, built once per hit
    /// (`consts::SharedKey`).
    pub shared_keys: Vec<super::consts::SharedKey>,
    /// A callee-saved register holding 1 for the whole program, if spared.
    pub one_reg: Option<Reg>,
    /// The register holding the ctx pointer: r1 as the program received
    /// it (valid until the first helper call), or r6.
    pub ctx: Reg,
    /// Whether a helper call has been emitted (r1 no longer holds the ctx).
    called: bool,
    /// Set when the ctx was needed in r1 after a call: retry with r6.
    ctx_lost: bool,
    /// The statement being lowered, for errors.
    pub span: Span,
    /// The `continue` and `break` labels of the loops around the statement
    /// being lowered, innermost last.
    loops: Vec<(String, String)>,
    /// The callbacks of its `for` loops over maps, compiled.
    pub subprograms: Vec<Code>,
}

/// Compiled code and its CO-RE relocated instructions (slot, field).
pub type Code = (Program, Vec<(usize, CoreField)>);

/// A compiled program and the subprograms only it uses.
pub type Generated = (Code, Vec<Code>);

/// Compiles one program. The ctx pointer stays in r1 when every read of it
/// comes before the first helper call; otherwise it is saved in r6.
pub fn program(
    checked: &Checked,
    shared: &Shared,
    prog: &ProbeProgram,
    arch: Arch,
    opts: &CompileOptions,
) -> R<Generated> {
    let body = checked
        .bodies
        .get(prog.body)
        .ok_or_else(|| Diagnostic::new(prog.span, "internal error: program without a body"))?;
    let body = &super::propagate::body(body, &shared.syms, prog);
    if !needs_ctx(body) {
        return generate(checked, shared, prog, body, arch, opts, None).map_err(|(d, _)| d);
    }
    if ctx_read_in_loop(&body.stmts) {
        // A loop runs its first read again after the calls of its body.
        return generate(checked, shared, prog, body, arch, opts, Some(CTX_SAVED))
            .map_err(|(d, _)| d);
    }
    match generate(checked, shared, prog, body, arch, opts, Some(Reg::R1)) {
        Err((_, true)) => {
            generate(checked, shared, prog, body, arch, opts, Some(CTX_SAVED)).map_err(|(d, _)| d)
        }
        other => other.map_err(|(d, _)| d),
    }
}

/// One attempt: the program, or the error and whether it was only the ctx
/// being lost from r1.
fn generate(
    checked: &Checked,
    shared: &Shared,
    prog: &ProbeProgram,
    body: &Body,
    arch: Arch,
    opts: &CompileOptions,
    ctx: Option<Reg>,
) -> Result<Generated, (Diagnostic, bool)> {
    let mut g = Gen {
        arch,
        checked,
        shared,
        prog,
        opts,
        ops: Vec::new(),
        frame: Frame::new(ctx),
        vars: Vec::new(),
        var_tys: body.vars.iter().map(|v| v.ty).collect(),
        labels: 0,
        zero_key: None,
        one_pair: None,
        shared_keys: Vec::new(),
        one_reg: None,
        ctx: ctx.unwrap_or(CTX_SAVED),
        called: false,
        ctx_lost: false,
        span: prog.span,
        loops: Vec::new(),
        subprograms: Vec::new(),
    };
    g.body(body).map_err(|d| (d, g.ctx_lost))?;
    let mut ops = g.source_line(prog.span).into_iter().collect::<Vec<_>>();
    let p = KprobeProgram {
        args: vec![],
        ctx_reg: ctx.filter(|r| *r != Reg::R1),
        body: std::mem::take(&mut g.ops),
        return_value: 0,
    };
    let fail = |m: String| (g.fail(m), false);
    ops.extend(kprobe::build_kprobe_program(arch, &p).map_err(|e| fail(e.to_string()))?);
    let mut code = asm::assemble(&ops).map_err(|e| fail(format!("internal error: {e}")))?;
    let core = std::mem::take(&mut code.core);
    let subprograms = std::mem::take(&mut g.subprograms);
    Ok((
        (code.into_program(&prog.symbol, &prog.section()), core),
        subprograms,
    ))
}

/// Whether any expression reads the ctx after a helper may have run:
/// arguments, the return value, the stack.
fn needs_ctx(body: &Body) -> bool {
    let mut found = false;
    body.pred
        .iter()
        .for_each(|p| p.visit(&mut |e| found |= reads_ctx(e)));
    body.stmts
        .iter()
        .for_each(|s| s.visit_exprs(&mut |e| found |= reads_ctx(e)));
    found
}

/// Whether `e` itself reads the ctx.
fn reads_ctx(e: &TExpr) -> bool {
    matches!(
        e.kind,
        TKind::Builtin(Builtin::Arg(_) | Builtin::Retval | Builtin::Kstack | Builtin::Func)
    )
}

/// Whether a loop among `stmts` reads the ctx.
fn ctx_read_in_loop(stmts: &[TStmt]) -> bool {
    stmts.iter().any(|s| match &s.kind {
        TStmtKind::Loop { .. } => {
            let mut found = false;
            s.visit_exprs(&mut |e| found |= reads_ctx(e));
            found
        }
        _ => s.blocks().into_iter().any(|b| ctx_read_in_loop(b)),
    })
}

impl<'a> Gen<'a> {
    /// A generator for a subprogram of this program (a callback): the same
    /// spec, program and variable types, a frame of its own without a ctx,
    /// labels that do not collide with this one's.
    pub fn sub(&self) -> Gen<'a> {
        Gen {
            arch: self.arch,
            checked: self.checked,
            shared: self.shared,
            prog: self.prog,
            opts: self.opts,
            ops: Vec::new(),
            frame: Frame::new(None),
            vars: Vec::new(),
            var_tys: self.var_tys.clone(),
            labels: self.labels + 1_000_000,
            zero_key: None,
            one_pair: None,
            shared_keys: Vec::new(),
            one_reg: None,
            ctx: CTX_SAVED,
            called: true,
            ctx_lost: false,
            span: self.span,
            loops: Vec::new(),
            subprograms: Vec::new(),
        }
    }

    /// Lowers `body` as the body of a loop whose `continue` goes to `next`
    /// and `break` to `end`.
    pub fn loop_body(&mut self, body: &[TStmt], next: &str, end: &str) -> R<()> {
        self.loops.push((next.to_string(), end.to_string()));
        let done = self.stmts(body);
        self.loops.pop();
        done
    }

    /// The source-line marker for `span`, if the source text is known.
    pub fn line_of(&self, span: Span) -> Option<Op> {
        self.source_line(span)
    }
}

impl Gen<'_> {
    /// A fresh label.
    pub fn label(&mut self) -> String {
        self.labels += 1;
        format!("l{}", self.labels)
    }

    pub fn emit(&mut self, op: Op) {
        self.called |=
            matches!(&op, Op::HelperCall { .. }) || matches!(&op, Op::Insn(i) if i.is_call());
        self.ops.push(op);
    }

    pub fn emit_all(&mut self, ops: impl IntoIterator<Item = Op>) {
        ops.into_iter().for_each(|op| self.emit(op));
    }

    /// The register holding the ctx pointer here.
    pub fn ctx_reg(&mut self) -> R<Reg> {
        if self.ctx == Reg::R1 && self.called {
            self.ctx_lost = true;
            return Err(self.fail("internal error: the ctx is no longer in r1"));
        }
        Ok(self.ctx)
    }

    /// An error at the current statement.
    pub fn fail(&self, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.span, msg)
    }

    /// A stack slot, or an error naming the limit.
    pub fn slot(&mut self, bytes: u32) -> R<i16> {
        self.frame.slot(bytes).map_err(|m| self.fail(m))
    }

    /// A scratch register (there are always enough: expressions hold at
    /// most two at a time).
    pub fn scratch(&mut self) -> R<Reg> {
        self.frame
            .scratch()
            .ok_or_else(|| self.fail("internal error: out of scratch registers"))
    }

    /// Runs `f` with `r` marked as holding a live value.
    pub fn hold<T>(&mut self, r: Reg, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        self.frame.set_live(r, true);
        let out = f(self);
        self.frame.set_live(r, false);
        out
    }

    /// Whether reading an argument calls a helper here (syscall arguments
    /// through the user pt_regs; see `ProbeProgram::arg_calls`).
    pub fn wrapped(&self) -> bool {
        self.prog.arg_calls()
    }

    /// The source-line marker for `span`, if the source text is known.
    fn source_line(&self, span: Span) -> Option<Op> {
        let src = &self.checked.source;
        if src.is_empty() {
            return None;
        }
        let lines = &self.shared.lines;
        let (line, col) = lines.line_col(self.checked.map.span(span).start);
        let text = lines.line(line);
        // BTF strings end at a NUL: one inside the line would cut it (and
        // the encoder refuses it), so it shows as U+FFFD.
        let text = text.replace('\0', "\u{fffd}");
        Some(asm::source(&self.opts.file, line as u32, col as u32, &text))
    }

    fn body(&mut self, body: &Body) -> R<()> {
        self.place_vars(body)?;
        self.place_consts(body)?;
        if self.shared.elapsed_start == Some(self.prog.symbol.as_str()) {
            self.record_start()?;
        }
        if let Some(p) = &body.pred {
            self.span = p.span;
            self.emit_all(self.source_line(p.span));
            let mark = self.frame.mark();
            self.branch(p, EXIT_LABEL, false)?;
            self.frame.release(mark);
        }
        self.share_keys(&body.stmts)?;
        self.stmts(&body.stmts)
    }

    pub fn stmts(&mut self, stmts: &[TStmt]) -> R<()> {
        stmts.iter().try_for_each(|s| self.stmt(s))
    }

    fn stmt(&mut self, s: &TStmt) -> R<()> {
        self.span = s.span;
        self.emit_all(self.source_line(s.span));
        let mark = self.frame.mark();
        match &s.kind {
            TStmtKind::SetVar { var, value } => self.set_var(*var, value)?,
            TStmtKind::SetMap { map, keys, value } => self.set_map(*map, keys, value)?,
            TStmtKind::UpdateMap {
                map,
                keys,
                op,
                value,
            } => self.update_map(*map, keys, *op, value)?,
            TStmtKind::Aggregate { map, keys, agg } => self.aggregate(*map, keys, agg)?,
            TStmtKind::Delete { map, keys, ok } => self.delete(*map, keys, *ok)?,
            TStmtKind::Signal { sig } => self.signal(sig)?,
            TStmtKind::Output { id, args } => self.output(*id, args)?,
            TStmtKind::If { cond, then, els } => self.if_stmt(cond, then, els)?,
            TStmtKind::Unroll { count, body } => {
                for _ in 0..*count {
                    self.stmts(body)?;
                }
            }
            TStmtKind::Loop { cond, body, step } => self.loop_stmt(cond, body, step)?,
            TStmtKind::ForMap { map, var, body } => self.for_map(*map, *var, body)?,
            TStmtKind::Break | TStmtKind::Continue => {
                let (next, end) = self
                    .loops
                    .last()
                    .cloned()
                    .ok_or_else(|| self.fail("internal error: a jump outside a loop"))?;
                let to = if s.kind == TStmtKind::Break {
                    end
                } else {
                    next
                };
                self.emit(asm::jmp(&to));
            }
            TStmtKind::Return => self.emit(asm::jmp(EXIT_LABEL)),
        }
        self.frame.release(mark);
        Ok(())
    }

    /// `signal(sig)`: `bpf_send_signal`, the number as an immediate when
    /// it is one.
    fn signal(&mut self, sig: &TExpr) -> R<()> {
        if let Some(v) = sig.imm32() {
            self.emit(asm::send_signal(i64::from(v)));
            return Ok(());
        }
        let r = self.scratch()?;
        self.int(sig, r)?;
        self.emit(asm::send_signal(r));
        self.frame.free(r);
        Ok(())
    }

    /// `top: if !cond goto end; body; next: step; goto top; end:`, with
    /// `continue` going to `next` and `break` to `end`. The verifier
    /// follows the iterations; the loop must be bounded for it to accept.
    fn loop_stmt(&mut self, cond: &TExpr, body: &[TStmt], step: &[TStmt]) -> R<()> {
        use super::propagate::{breaks, continues, falls_through_never, returns};
        if matches!(cond.kind, TKind::Int(c) if c != 0)
            && !breaks(body)
            && !breaks(step)
            && !returns(body)
        {
            return Err(self.fail(
                "this loop never ends: its condition is always true and no `break` or `return` leaves it",
            ));
        }
        let (top, next, end) = (self.label(), self.label(), self.label());
        self.emit(asm::label(&top));
        self.branch(cond, &end, false)?;
        self.loops.push((next.clone(), end.clone()));
        let done = self.stmts(body);
        self.loops.pop();
        done?;
        // A body that always leaves (ends in `break` or `return`, and no
        // `continue` goes to the step) never runs again: no back jump,
        // which no path would reach.
        if !body.last().is_some_and(falls_through_never) || continues(body) {
            self.emit(asm::label(&next));
            self.stmts(step)?;
            self.emit(asm::jmp(&top));
        }
        self.emit(asm::label(&end));
        Ok(())
    }

    fn if_stmt(&mut self, cond: &TExpr, then: &[TStmt], els: &[TStmt]) -> R<()> {
        // `if (c) { break; }` and the like: one jump where `c` holds.
        if let ([only], []) = (then, els) {
            let to = match &only.kind {
                TStmtKind::Break => self.loops.last().map(|(_, end)| end.clone()),
                TStmtKind::Continue => self.loops.last().map(|(next, _)| next.clone()),
                TStmtKind::Return => Some(EXIT_LABEL.to_string()),
                _ => None,
            };
            if let Some(to) = to {
                return self.branch(cond, &to, true);
            }
        }
        let other = self.label();
        self.branch(cond, &other, false)?;
        self.stmts(then)?;
        if els.is_empty() {
            self.emit(asm::label(&other));
            return Ok(());
        }
        let end = self.label();
        // No jump past the else branch from a branch that never gets there.
        if !then
            .last()
            .is_some_and(super::propagate::falls_through_never)
        {
            self.emit(asm::jmp(&end));
        }
        self.emit(asm::label(&other));
        self.stmts(els)?;
        self.emit(asm::label(&end));
        Ok(())
    }
}
