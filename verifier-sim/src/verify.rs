//! The exploration (`do_check`): every path from the first instruction is
//! followed with its [`State`], depth first; at prune points a state that
//! an explored one covers stops, and a state equal to one still being
//! explored on the same path is an infinite loop. ALU operations and
//! conditional jumps live here; memory access in [`crate::mem`], calls in
//! [`crate::call`].

use probecc::arch::{Arch, KernelVersion};
use probecc::insn::{alu, class, jmp, mode, pseudo, Insn};

use crate::cfg::{self, Cfg};
use crate::prog_type::ProgType;
use crate::program::Program;
use crate::reg::{Ptr, PtrKind, RegState};
use crate::scalar::{self, AluOp, Cmp, Scalar};
use crate::state::{Need, State};
use crate::VerifyError;

/// The kernel's limit of processed instructions (`BPF_COMPLEXITY_LIMIT_INSNS`).
pub const INSN_LIMIT: usize = 1_000_000;
/// Explored states kept per instruction.
const KEPT: usize = 64;

/// What one instruction does to the path.
pub enum Step {
    Next(usize),
    /// Both successors are possible: continue with the first.
    Fork(usize, Box<State>, usize),
    /// The path ended at a program exit.
    Done,
}

enum Work {
    Explore(Box<State>, usize),
    /// All paths from this explored state are done.
    Complete(usize, usize),
}

struct Explored {
    state: State,
    complete: bool,
}

/// One program being verified.
pub struct Verifier<'a> {
    pub prog: &'a Program,
    pub insns: &'a [Insn],
    pub prog_type: ProgType,
    pub ctx_size: i64,
    pub next_id: u32,
    pub processed: usize,
    cfg: Cfg,
    explored: Vec<Vec<Explored>>,
}

/// The result of a whole check.
pub struct Outcome {
    pub result: Result<(), VerifyError>,
    pub processed: usize,
}

/// Verifies `prog` for `arch` at kernel `kernel`.
pub fn verify(prog: &Program, arch: Arch, kernel: KernelVersion) -> Outcome {
    let args = |id: i32| probecc::helpers::proto(id).map_or(5, |p| p.args.len());
    let cfg = match cfg::analyse(&prog.insns, &args) {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                result: Err(e),
                processed: 0,
            }
        }
    };
    let prog_type = ProgType::of_section(&prog.section);
    let mut v = Verifier {
        prog,
        insns: &prog.insns,
        prog_type,
        ctx_size: prog_type.ctx_size(arch, kernel),
        next_id: 0,
        processed: 0,
        explored: (0..prog.insns.len()).map(|_| Vec::new()).collect(),
        cfg,
    };
    let result = v.run();
    Outcome {
        result,
        processed: v.processed,
    }
}

pub fn err(insn: usize, message: impl Into<String>) -> VerifyError {
    VerifyError {
        insn,
        message: message.into(),
    }
}

impl Verifier<'_> {
    fn run(&mut self) -> Result<(), VerifyError> {
        let mut work = vec![Work::Explore(Box::new(State::entry()), 0)];
        while let Some(w) = work.pop() {
            let (mut state, mut pc) = match w {
                Work::Explore(s, pc) => (s, pc),
                Work::Complete(pc, k) => {
                    if let Some(e) = self.explored[pc].get_mut(k) {
                        e.complete = true;
                    }
                    continue;
                }
            };
            loop {
                if self.cfg.prune[pc] {
                    match self.visit(&state, pc)? {
                        Visit::Pruned => break,
                        Visit::Recorded(k) => work.push(Work::Complete(pc, k)),
                        Visit::Continue => {}
                    }
                }
                self.processed += 1;
                if self.processed > INSN_LIMIT {
                    return Err(err(
                        pc,
                        format!(
                            "BPF program is too large. Processed {} insn",
                            self.processed
                        ),
                    ));
                }
                match self.step(&mut state, pc)? {
                    Step::Next(n) => pc = n,
                    Step::Fork(n, other, other_pc) => {
                        work.push(Work::Explore(other, other_pc));
                        pc = n;
                    }
                    Step::Done => break,
                }
            }
        }
        Ok(())
    }

    /// The pruning test at a prune point (`is_state_visited`).
    fn visit(&mut self, state: &State, pc: usize) -> Result<Visit, VerifyError> {
        let live = self.cfg.live[pc];
        let need = Need {
            regs: self.cfg.precision.regs[pc],
            slots: &self.cfg.precision.slots,
        };
        for e in &self.explored[pc] {
            if e.complete && e.state.subsumes(state, live, &need) {
                return Ok(Visit::Pruned);
            }
            if !e.complete && e.state == *state {
                return Err(err(pc, format!("infinite loop detected at insn {pc}")));
            }
        }
        if self.explored[pc].len() >= KEPT {
            // Keep the states still on the path (loop detection).
            if let Some(k) = self.explored[pc].iter().position(|e| e.complete) {
                self.explored[pc].remove(k);
            } else {
                return Ok(Visit::Continue);
            }
        }
        self.explored[pc].push(Explored {
            state: state.clone(),
            complete: false,
        });
        Ok(Visit::Recorded(self.explored[pc].len() - 1))
    }

    pub fn fresh_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    /// The state of register `r`, which must be initialised.
    pub fn read(&self, s: &State, pc: usize, r: u8) -> Result<RegState, VerifyError> {
        match s.cur().regs[usize::from(r)] {
            RegState::NotInit => Err(err(pc, format!("R{r} !read_ok"))),
            other => Ok(other),
        }
    }

    /// Writes register `r` (never r10).
    pub fn write(&self, s: &mut State, pc: usize, r: u8, v: RegState) -> Result<(), VerifyError> {
        if r == 10 {
            return Err(err(pc, "frame pointer is read only"));
        }
        s.cur_mut().regs[usize::from(r)] = v;
        Ok(())
    }

    fn step(&mut self, s: &mut State, pc: usize) -> Result<Step, VerifyError> {
        let insn = self.insns[pc];
        if let Some(msg) = crate::encoding::reserved(&insn) {
            return Err(err(pc, msg));
        }
        match insn.class() {
            class::ALU | class::ALU64 => {
                self.alu(s, pc, &insn)?;
                Ok(Step::Next(pc + 1))
            }
            class::LD => {
                self.ld_imm64(s, pc, &insn)?;
                Ok(Step::Next(pc + 2))
            }
            class::LDX => {
                self.load(s, pc, &insn)?;
                Ok(Step::Next(pc + 1))
            }
            class::ST | class::STX => {
                self.store(s, pc, &insn)?;
                Ok(Step::Next(pc + 1))
            }
            _ => self.jump(s, pc, &insn),
        }
    }

    fn ld_imm64(&mut self, s: &mut State, pc: usize, insn: &Insn) -> Result<(), VerifyError> {
        if insn.mode() != mode::IMM || insn.size() != probecc::insn::size::DW {
            return Err(err(pc, format!("unknown opcode {:02x}", insn.code)));
        }
        let value = match insn.src {
            pseudo::NONE => {
                let v = probecc::insn::ld_imm64_value(insn, &self.insns[pc + 1]);
                RegState::constant(v)
            }
            pseudo::MAP_FD if (insn.imm as usize) < self.prog.maps.len() && insn.imm >= 0 => {
                RegState::Ptr(Ptr::new(PtrKind::Map {
                    map: insn.imm as usize,
                }))
            }
            pseudo::MAP_FD => {
                return Err(err(
                    pc,
                    format!("fd {} is not pointing to valid bpf_map", insn.imm),
                ))
            }
            other => {
                return Err(err(
                    pc,
                    format!("unsupported ld_imm64 kind {other} (no global data or BTF ids here)"),
                ))
            }
        };
        self.write(s, pc, insn.dst, value)
    }

    fn alu(&mut self, s: &mut State, pc: usize, insn: &Insn) -> Result<(), VerifyError> {
        let is64 = insn.class() == class::ALU64;
        let x = insn.source() != 0;
        let op = insn.op();
        let (d, sr) = (insn.dst, insn.src);
        if op == alu::END {
            if !matches!(insn.imm, 16 | 32 | 64) || sr != 0 {
                return Err(err(pc, "BPF_END uses reserved fields"));
            }
            let v = self.read(s, pc, d)?;
            let r = match v.scalar().and_then(|s| s.as_const()) {
                Some(c) => RegState::constant(swap(c, insn.imm as u32, x || is64)),
                None => match insn.imm {
                    64 => RegState::unknown(),
                    bits => RegState::Scalar(Scalar::up_to((1u64 << bits) - 1)),
                },
            };
            return self.write(s, pc, d, r);
        }
        if op == alu::NEG {
            let v = self.read(s, pc, d)?;
            let r = match v {
                RegState::Scalar(a) => match a.as_const() {
                    Some(c) if is64 => RegState::constant(c.wrapping_neg()),
                    Some(c) => RegState::constant(u64::from((c as u32).wrapping_neg())),
                    None => RegState::unknown(),
                },
                // A privileged program may negate a pointer: a number.
                _ => RegState::unknown(),
            };
            return self.write(s, pc, d, r);
        }
        if !x && sr != 0 {
            return Err(err(pc, "BPF_ALU uses reserved fields"));
        }
        let src = if x {
            self.read(s, pc, sr)?
        } else {
            let imm = if is64 {
                insn.imm as i64 as u64
            } else {
                u64::from(insn.imm as u32)
            };
            RegState::constant(imm)
        };
        if op == alu::MOV {
            if insn.off != 0 {
                // movsx: sign extension of the low 8/16/32 bits.
                let v = match src.scalar().and_then(|s| s.as_const()) {
                    Some(c) => RegState::constant(sign_extend(c, insn.off as u32, is64)),
                    None => RegState::unknown(),
                };
                return self.write(s, pc, d, v);
            }
            let v = match (src, is64) {
                (v, true) => v,
                (RegState::Scalar(a), false) => RegState::Scalar(a.low32()),
                // A 32-bit copy of a pointer is a number (privileged).
                (_, false) => RegState::Scalar(Scalar::up_to(u64::from(u32::MAX))),
            };
            return self.write(s, pc, d, v);
        }
        let Some(aop) = alu_op(op) else {
            return Err(err(pc, format!("invalid BPF_ALU opcode {op:x}")));
        };
        if !x && matches!(aop, AluOp::Div | AluOp::Mod) && insn.imm == 0 {
            return Err(err(pc, "div by zero"));
        }
        let width = if is64 { 64 } else { 32 };
        if !x
            && matches!(aop, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh)
            && !(0..width).contains(&insn.imm)
        {
            return Err(err(pc, format!("invalid shift {}", insn.imm)));
        }
        let dst = self.read(s, pc, d)?;
        let r = self.alu_values(pc, d, aop, dst, src, is64, op)?;
        self.write(s, pc, d, r)
    }

    #[allow(clippy::too_many_arguments)]
    fn alu_values(
        &mut self,
        pc: usize,
        d: u8,
        aop: AluOp,
        dst: RegState,
        src: RegState,
        is64: bool,
        op: u8,
    ) -> Result<RegState, VerifyError> {
        match (dst, src) {
            (RegState::Scalar(a), RegState::Scalar(b)) => Ok(RegState::Scalar(if is64 {
                scalar::alu64(aop, &a, &b)
            } else {
                scalar::alu32(aop, &a, &b)
            })),
            (RegState::Ptr(p), RegState::Scalar(b)) => self.ptr_math(pc, d, aop, p, b, is64, op),
            (RegState::Scalar(a), RegState::Ptr(p)) if aop == AluOp::Add => {
                self.ptr_math(pc, d, aop, p, a, is64, op)
            }
            (RegState::Scalar(_), RegState::Ptr(_)) if !is64 => Err(err(
                pc,
                format!("R{d} 32-bit pointer arithmetic prohibited"),
            )),
            (RegState::Scalar(_), RegState::Ptr(_)) if aop == AluOp::Sub => Err(err(
                pc,
                format!("R{d} tried to subtract pointer from scalar"),
            )),
            (RegState::Scalar(_), RegState::Ptr(_)) => Err(err(pc, ptr_op_prohibited(d, aop))),
            (RegState::Ptr(a), RegState::Ptr(b)) if aop == AluOp::Sub && is64 => {
                if a.kind != b.kind {
                    return Err(err(pc, format!("R{d} pointer -= pointer prohibited")));
                }
                Ok(RegState::unknown())
            }
            (RegState::Ptr(_), RegState::Ptr(_)) => Err(err(
                pc,
                format!("R{d} pointer {} pointer prohibited", op_sym(aop)),
            )),
            _ => Err(err(pc, format!("R{d} !read_ok"))),
        }
    }

    /// Pointer arithmetic (`adjust_ptr_min_max_vals`).
    #[allow(clippy::too_many_arguments)]
    fn ptr_math(
        &mut self,
        pc: usize,
        d: u8,
        aop: AluOp,
        p: Ptr,
        b: Scalar,
        is64: bool,
        _op: u8,
    ) -> Result<RegState, VerifyError> {
        let name = RegState::Ptr(p).type_name();
        if !is64 {
            return Err(err(
                pc,
                format!("R{d} 32-bit pointer arithmetic prohibited"),
            ));
        }
        if p.or_null {
            return Err(err(
                pc,
                format!("R{d} pointer arithmetic on {name} prohibited, null-check it first"),
            ));
        }
        if matches!(p.kind, PtrKind::Map { .. }) {
            return Err(err(
                pc,
                format!("R{d} pointer arithmetic on {name} prohibited"),
            ));
        }
        if !matches!(aop, AluOp::Add | AluOp::Sub) {
            return Err(err(pc, ptr_op_prohibited(d, aop)));
        }
        if b.smin == i64::MIN && b.as_const().is_none() {
            return Err(err(
                pc,
                format!("math between {name} pointer and register with unbounded min value is not allowed"),
            ));
        }
        let mut q = p;
        match b.as_const() {
            Some(c) => {
                let c = c as i64;
                q.off = if aop == AluOp::Add {
                    p.off.checked_add(c)
                } else {
                    p.off.checked_sub(c)
                }
                .filter(|o| o.abs() < 1 << 29)
                .ok_or_else(|| {
                    err(
                        pc,
                        format!("math between {name} pointer and {c} is not allowed"),
                    )
                })?;
            }
            None => {
                q.var = if aop == AluOp::Add {
                    scalar::alu64(AluOp::Add, &p.var, &b)
                } else {
                    scalar::alu64(AluOp::Sub, &p.var, &b)
                };
                // A new variable offset breaks the link to copies.
                q.id = 0;
            }
        }
        Ok(RegState::Ptr(q))
    }

    fn jump(&mut self, s: &mut State, pc: usize, insn: &Insn) -> Result<Step, VerifyError> {
        let is32 = insn.class() == class::JMP32;
        match insn.op() {
            jmp::JA => Ok(Step::Next((pc as i64 + 1 + insn.jump_offset()) as usize)),
            jmp::EXIT => self.exit(s, pc),
            jmp::CALL if insn.src == pseudo::CALL => self.call_subprog(s, pc, insn),
            jmp::CALL if insn.src == 0 => {
                self.call_helper(s, pc, insn.imm)?;
                Ok(Step::Next(pc + 1))
            }
            jmp::CALL => Err(err(pc, "calling kernel functions is not supported here")),
            op => {
                let Some(cmp) = Cmp::from_bits(op) else {
                    return Err(err(pc, format!("invalid BPF_JMP/JMP32 opcode {op:x}")));
                };
                self.cond(s, pc, insn, cmp, is32)
            }
        }
    }

    fn exit(&mut self, s: &mut State, pc: usize) -> Result<Step, VerifyError> {
        if s.frames.len() > 1 {
            // A subprogram's R0 goes back as it is; the caller reading it
            // uninitialised is the error (`prepare_func_exit`).
            let r0 = s.cur().regs[0];
            if let RegState::Ptr(p) = r0 {
                if matches!(p.kind, PtrKind::Stack { frame } if frame == s.frames.len() - 1) {
                    return Err(err(pc, "cannot return stack pointer to the caller"));
                }
            }
            let callee = s.frames.pop();
            let ret = callee.map_or(pc + 1, |f| f.ret);
            let caller = s.cur_mut();
            caller.regs[0] = r0;
            for r in 1..=5 {
                caller.regs[r] = RegState::NotInit;
            }
            return Ok(Step::Next(ret));
        }
        if let Some(r) = s.refs.first() {
            return Err(err(
                pc,
                format!("Unreleased reference id={} alloc_insn={}", r.id, r.insn),
            ));
        }
        // A privileged program may return a pointer; kprobes read a number.
        let r0 = self.read(s, pc, 0)?;
        if self.prog_type == ProgType::Tracing {
            crate::tracing::check_return(pc, &r0)?;
        }
        Ok(Step::Done)
    }

    fn call_subprog(&mut self, s: &mut State, pc: usize, insn: &Insn) -> Result<Step, VerifyError> {
        const MAX_CALL_FRAMES: usize = 8;
        if s.frames.len() >= MAX_CALL_FRAMES {
            return Err(err(
                pc,
                format!(
                    "the call stack of {} frames is too deep !",
                    s.frames.len() + 1
                ),
            ));
        }
        let target = (pc as i64 + 1 + i64::from(insn.imm)) as usize;
        let mut callee = crate::state::Frame::new(s.frames.len(), pc + 1);
        for r in 1..=5 {
            callee.regs[r] = s.cur().regs[r];
        }
        s.frames.push(callee);
        Ok(Step::Next(target))
    }

    fn cond(
        &mut self,
        s: &mut State,
        pc: usize,
        insn: &Insn,
        cmp: Cmp,
        is32: bool,
    ) -> Result<Step, VerifyError> {
        let x = insn.source() != 0;
        let (d, sr) = (insn.dst, insn.src);
        if !x && sr != 0 {
            return Err(err(pc, "BPF_JMP/JMP32 uses reserved fields"));
        }
        let a = self.read(s, pc, d)?;
        let b = if x {
            self.read(s, pc, sr)?
        } else if is32 {
            RegState::constant(u64::from(insn.imm as u32))
        } else {
            RegState::constant(insn.imm as i64 as u64)
        };
        let taken = (pc as i64 + 1 + i64::from(insn.off)) as usize;
        let next = pc + 1;
        // A maybe-NULL pointer against the immediate 0: the null check
        // (`mark_ptr_or_null_regs`, 64-bit BPF_K only). A valid pointer
        // against a known 0 decides the branch (`is_branch_taken`).
        if let (RegState::Ptr(p), Some(0), Cmp::Eq | Cmp::Ne, false) =
            (a, b.scalar().and_then(Scalar::as_const), cmp, is32)
        {
            if p.or_null && x {
                return Ok(Step::Fork(next, Box::new(s.clone()), taken));
            }
            if p.or_null {
                let (mut null, mut nonnull) = (s.clone(), s.clone());
                mark_null(&mut null, p, true);
                mark_null(&mut nonnull, p, false);
                let (t, f) = if cmp == Cmp::Eq {
                    (null, nonnull)
                } else {
                    (nonnull, null)
                };
                *s = f;
                return Ok(Step::Fork(next, Box::new(t), taken));
            }
            // A pointer that cannot be NULL is never equal to 0.
            let is_eq = cmp == Cmp::Eq;
            return Ok(Step::Next(if is_eq { next } else { taken }));
        }
        let (RegState::Scalar(sa), RegState::Scalar(sb)) = (a, b) else {
            // Other pointer comparisons: both ways, nothing learnt.
            return Ok(Step::Fork(next, Box::new(s.clone()), taken));
        };
        let (sa, sb) = if is32 {
            match (narrow32(&sa), narrow32(&sb)) {
                (Some(x), Some(y)) => (x, y),
                _ => {
                    if let (Some(x), Some(y)) = (sa.as_const(), sb.as_const()) {
                        let t = scalar::holds(cmp, sext32(x, cmp), sext32(y, cmp));
                        return Ok(Step::Next(if t { taken } else { next }));
                    }
                    return Ok(Step::Fork(next, Box::new(s.clone()), taken));
                }
            }
        } else {
            (sa, sb)
        };
        match scalar::decided(&sa, cmp, &sb) {
            Some(true) => return Ok(Step::Next(taken)),
            Some(false) => return Ok(Step::Next(next)),
            None => {}
        }
        let (ta, tb) = scalar::refine(&sa, cmp, &sb);
        let (fa, fb) = scalar::refine_not(&sa, cmp, &sb);
        let mut t = s.clone();
        if !is32 || (ta.umax <= u64::from(u32::MAX)) {
            set_scalar(&mut t, d, ta);
            if x {
                set_scalar(&mut t, sr, tb);
            }
            set_scalar(s, d, fa);
            if x {
                set_scalar(s, sr, fb);
            }
        }
        let t_ok = !ta.is_empty() && !tb.is_empty();
        let f_ok = !fa.is_empty() && !fb.is_empty();
        match (t_ok, f_ok) {
            (true, true) => Ok(Step::Fork(next, Box::new(t), taken)),
            (true, false) => {
                *s = t;
                Ok(Step::Next(taken))
            }
            _ => Ok(Step::Next(next)),
        }
    }
}

enum Visit {
    Pruned,
    Recorded(usize),
    Continue,
}

fn set_scalar(s: &mut State, r: u8, v: Scalar) {
    if r < 10 {
        s.cur_mut().regs[usize::from(r)] = RegState::Scalar(v);
    }
}

/// The scalar when its low 32 bits compare the same as all 64: a value in
/// [0, 2^31).
fn narrow32(s: &Scalar) -> Option<Scalar> {
    (s.smin >= 0 && s.umax < 1 << 31).then_some(*s)
}

/// A 32-bit operand as the comparison reads it.
fn sext32(v: u64, cmp: Cmp) -> u64 {
    match cmp {
        Cmp::SGt | Cmp::SGe | Cmp::SLt | Cmp::SLe => v as u32 as i32 as i64 as u64,
        _ => u64::from(v as u32),
    }
}

/// After a null check of `p`: every copy (same id) becomes 0 (`null`) or
/// a valid pointer; a NULL record releases its reference.
fn mark_null(s: &mut State, p: Ptr, null: bool) {
    let id = p.id;
    if id == 0 {
        return;
    }
    s.each_reg(&mut |r| {
        if let RegState::Ptr(q) = r {
            if q.or_null && q.id == id {
                if null {
                    *r = RegState::constant(0);
                } else {
                    q.or_null = false;
                }
            }
        }
    });
    if null && p.ref_id != 0 {
        s.refs.retain(|r| r.id != p.ref_id);
    }
}

fn alu_op(op: u8) -> Option<AluOp> {
    Some(match op {
        alu::ADD => AluOp::Add,
        alu::SUB => AluOp::Sub,
        alu::MUL => AluOp::Mul,
        alu::DIV => AluOp::Div,
        alu::MOD => AluOp::Mod,
        alu::OR => AluOp::Or,
        alu::AND => AluOp::And,
        alu::XOR => AluOp::Xor,
        alu::LSH => AluOp::Lsh,
        alu::RSH => AluOp::Rsh,
        alu::ARSH => AluOp::Arsh,
        _ => return None,
    })
}

/// The kernel's complaint about an operation other than add/sub on a
/// pointer.
fn ptr_op_prohibited(d: u8, aop: AluOp) -> String {
    if matches!(aop, AluOp::And | AluOp::Or | AluOp::Xor) {
        format!(
            "R{d} bitwise operator {} on pointer prohibited",
            op_sym(aop)
        )
    } else {
        format!(
            "R{d} pointer arithmetic with {} operator prohibited",
            op_sym(aop)
        )
    }
}

fn op_sym(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div => "/=",
        AluOp::Mod => "%=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Xor => "^=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Arsh => "s>>=",
    }
}

/// `bswap`/`to_be`/`to_le` of a known value (the host-independent meaning:
/// `to_le` on a little-endian CPU only truncates).
fn swap(v: u64, bits: u32, to_be: bool) -> u64 {
    let low = if bits == 64 {
        v
    } else {
        v & ((1u64 << bits) - 1)
    };
    if !to_be {
        return low;
    }
    match bits {
        16 => u64::from((low as u16).swap_bytes()),
        32 => u64::from((low as u32).swap_bytes()),
        _ => low.swap_bytes(),
    }
}

fn sign_extend(v: u64, bits: u32, is64: bool) -> u64 {
    let shift = 64 - bits.clamp(1, 64);
    let r = (((v << shift) as i64) >> shift) as u64;
    if is64 {
        r
    } else {
        u64::from(r as u32)
    }
}
