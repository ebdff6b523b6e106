//! The exploration (`do_check`): every path from the first instruction is
//! followed with its [`State`], depth first; at prune points a state that
//! an explored one covers stops, and a state equal to one still being
//! explored on the same path is an infinite loop. Global functions are
//! then verified on their own, from their BTF argument types, and the
//! stack of every call chain is checked ([`crate::depth`]). ALU
//! operations, conditional jumps and BPF-to-BPF calls live here; memory
//! access in [`crate::mem`], helper calls and callbacks in [`crate::call`].

use probecc::insn::{alu, class, jmp, mode, pseudo, Insn};

use crate::cfg::{self, Cfg};
use crate::program::{ArgType, Program};
use crate::reg::{Ptr, PtrKind, RegState};
use crate::release::{Change, Rules};
use crate::scalar::{self, AluOp, Cmp, Scalar};
use crate::state::{Frame, Need, State};
use crate::{Target, VerifyError};

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
    pub ctx_size: i64,
    pub next_id: u32,
    pub processed: usize,
    pub rules: Rules,
    pub target: Target,
    /// The first instruction of each function, the entry's (0) first.
    pub subprogs: Vec<usize>,
    /// How deep each function's stack goes, over every path (bytes).
    pub depth: Vec<usize>,
    /// Instructions where a callback-calling helper is called.
    pub callback_calls: Vec<bool>,
    cfg: Cfg,
    explored: Vec<Vec<Explored>>,
    /// Every stack slot needs precision for pruning (a constant key
    /// decides whether a lookup can be NULL).
    all_slots: bool,
    /// When tracing: the state before every instruction processed, and no
    /// pruning (every path is followed to its end).
    trace: Option<Vec<(usize, State)>>,
}

/// The result of a whole check.
pub struct Outcome {
    pub result: Result<(), VerifyError>,
    pub processed: usize,
}

/// Verifies `prog` for `target` (arch, kernel rules, what `.rodata` holds).
pub fn verify(prog: &Program, target: &Target) -> Outcome {
    verify_with(prog, target, false).0
}

/// Verifies `prog` following every path without pruning, and returns the
/// state before each instruction processed, for tests that run programs
/// concretely and check that every concrete state is one of these.
/// Programs with loops may not end: give it loop-free ones.
pub fn trace(prog: &Program, target: &Target) -> (Outcome, Vec<(usize, State)>) {
    let (out, trace) = verify_with(prog, target, true);
    (out, trace.unwrap_or_default())
}

fn verify_with(
    prog: &Program,
    target: &Target,
    tracing: bool,
) -> (Outcome, Option<Vec<(usize, State)>>) {
    let args = |id: i32| probecc::helpers::proto(id).map_or(5, |p| p.args.len());
    let cfg = match cfg::analyse(&prog.insns, &args) {
        Ok(c) => c,
        Err(e) => {
            let out = Outcome {
                result: Err(e),
                processed: 0,
            };
            return (out, tracing.then(Vec::new));
        }
    };
    let subprogs = crate::depth::starts(&prog.insns, &prog.funcs);
    let callback_calls: Vec<bool> = prog
        .insns
        .iter()
        .map(|i| i.is_call() && i.src == 0 && crate::call::calls_back(i.imm))
        .collect();
    let lookups = prog
        .insns
        .iter()
        .any(|i| i.is_call() && i.src == 0 && i.imm == 1);
    let rules = target.rules;
    let mut v = Verifier {
        prog,
        insns: &prog.insns,
        ctx_size: i64::from(target.arch.pt_regs_size(rules.kernel)),
        next_id: 0,
        processed: 0,
        rules,
        target: *target,
        depth: vec![0; subprogs.len()],
        subprogs,
        callback_calls,
        explored: (0..prog.insns.len()).map(|_| Vec::new()).collect(),
        all_slots: lookups && rules.has(Change::ConstKeyArrayLookupNotNull),
        trace: tracing.then(Vec::new),
        cfg,
    };
    let result = v.run_all();
    let out = Outcome {
        result,
        processed: v.processed,
    };
    (out, v.trace)
}

/// The kernel's limit of call frames (`MAX_CALL_FRAMES`).
pub const MAX_CALL_FRAMES: usize = 8;

/// Whether a call at `pc` may push one more frame.
pub fn room_for_frame(s: &State, pc: usize) -> Result<(), VerifyError> {
    if s.frames.len() >= MAX_CALL_FRAMES {
        return Err(err(
            pc,
            format!(
                "the call stack of {} frames is too deep !",
                s.frames.len() + 1
            ),
        ));
    }
    Ok(())
}

pub fn err(insn: usize, message: impl Into<String>) -> VerifyError {
    VerifyError {
        insn,
        message: message.into(),
    }
}

impl Verifier<'_> {
    /// The entry, then each global function alone, then the limits
    /// checked over the whole program (stack of call chains, the JIT).
    fn run_all(&mut self) -> Result<(), VerifyError> {
        self.maps_creatable()?;
        self.run(State::entry(), 0)?;
        for k in 1..self.subprogs.len() {
            let start = self.subprogs[k];
            let Some(func) = self.prog.funcs.iter().find(|f| f.start == start) else {
                continue;
            };
            let Some(sig) = &func.global else { continue };
            if !sig.returns_scalar {
                return Err(err(
                    start,
                    format!(
                        "Global function {}() doesn't return scalar. Only those are supported.",
                        func.name
                    ),
                ));
            }
            let mut state = State::function(k);
            for (i, arg) in sig.args.iter().enumerate().take(5) {
                let r = match arg {
                    ArgType::Scalar => RegState::unknown(),
                    ArgType::Ctx => RegState::Ptr(Ptr::new(PtrKind::Ctx)),
                    ArgType::Mem { size } => {
                        let mut p = Ptr::new(PtrKind::Mem { size: *size });
                        p.or_null = true;
                        p.id = self.fresh_id();
                        RegState::Ptr(p)
                    }
                    ArgType::Unsupported(t) => {
                        return Err(err(
                            start,
                            format!("Arg#{i} type {t} in {}() is not supported yet.", func.name),
                        ))
                    }
                };
                state.cur_mut().regs[i + 1] = r;
            }
            for e in &mut self.explored {
                e.clear();
            }
            self.run(state, start)?;
        }
        crate::depth::check(self)?;
        self.interpreter_limits()
    }

    /// Maps the kernel refuses to create fail the load before any
    /// verification (`array_map_alloc_check`): a loader creates every map
    /// of the object first.
    fn maps_creatable(&self) -> Result<(), VerifyError> {
        const ARRAYS: [u32; 3] = [crate::program::ARRAY, 3, 6];
        for m in &self.prog.maps {
            if ARRAYS.contains(&m.map_type) && m.key_size != 4 {
                return Err(err(
                    0,
                    format!(
                        "map '{}' cannot be created: an array map's key is 4 bytes, not {}",
                        m.name, m.key_size
                    ),
                ));
            }
        }
        Ok(())
    }

    /// What the interpreter cannot run, refused after verification when
    /// the JIT is off (`fixup_call_args`).
    fn interpreter_limits(&self) -> Result<(), VerifyError> {
        if self.rules.jit {
            return Ok(());
        }
        let tail_call = self
            .insns
            .iter()
            .any(|i| i.is_call() && i.src == 0 && i.imm == crate::call::TAIL_CALL);
        if self.subprogs.len() > 1 && tail_call {
            return Err(err(
                0,
                "tail_calls are not allowed in non-JITed programs with bpf-to-bpf calls",
            ));
        }
        if let Some(at) = self
            .insns
            .iter()
            .position(|i| i.is_ld_imm64() && i.src == pseudo::FUNC)
        {
            return Err(err(at, "callbacks are not allowed in non-JITed programs"));
        }
        Ok(())
    }

    /// The function instruction `pc` belongs to.
    pub fn subprog_of(&self, pc: usize) -> usize {
        self.subprogs
            .partition_point(|&s| s <= pc)
            .saturating_sub(1)
    }

    /// Records that function `subprog` uses its stack `bytes` deep.
    pub fn touch_stack(&mut self, subprog: usize, bytes: usize) {
        if let Some(d) = self.depth.get_mut(subprog) {
            *d = (*d).max(bytes);
        }
    }

    fn run(&mut self, entry: State, pc: usize) -> Result<(), VerifyError> {
        let mut work = vec![Work::Explore(Box::new(entry), pc)];
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
                if let Some(t) = &mut self.trace {
                    t.push((pc, (*state).clone()));
                } else if self.cfg.prune[pc] || self.callback_calls[pc] {
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
            all_slots: self.cfg.precision.all_slots || self.all_slots,
        };
        for e in &self.explored[pc] {
            if e.complete && e.state.subsumes(state, live, &need) {
                return Ok(Visit::Pruned);
            }
            // A callback called again with what an earlier call on this
            // path covers adds nothing (`calls_callback`).
            if !e.complete && self.callback_calls[pc] && e.state.subsumes(state, live, &need) {
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
        if !self.rules.has(Change::CpuV4) {
            if let Some(msg) = crate::encoding::before_v4(&insn) {
                return Err(err(pc, msg));
            }
        }
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
            pseudo::MAP_VALUE => {
                let map = usize::try_from(insn.imm)
                    .ok()
                    .filter(|&m| m < self.prog.maps.len())
                    .ok_or_else(|| {
                        err(
                            pc,
                            format!("fd {} is not pointing to valid bpf_map", insn.imm),
                        )
                    })?;
                let spec = &self.prog.maps[map];
                if spec.map_type != crate::program::ARRAY || spec.max_entries != 1 {
                    return Err(err(pc, "no direct value access support for this map type"));
                }
                let off = self.insns[pc + 1].imm as u32;
                if off >= spec.value_size {
                    return Err(err(
                        pc,
                        format!("direct value offset of {off} is not allowed"),
                    ));
                }
                let mut p = Ptr::new(PtrKind::MapValue { map });
                p.off = i64::from(off);
                RegState::Ptr(p)
            }
            pseudo::FUNC => {
                let target = pc as i64 + 1 + i64::from(insn.imm);
                let start = usize::try_from(target)
                    .ok()
                    .filter(|t| self.subprogs.contains(t))
                    .ok_or_else(|| err(pc, format!("call to invalid destination {target}")))?;
                RegState::Ptr(Ptr::new(PtrKind::Func { start }))
            }
            other => {
                return Err(err(
                    pc,
                    format!("unsupported ld_imm64 kind {other} (no BTF ids or fd arrays here)"),
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
        if matches!(aop, AluOp::Div | AluOp::Mod) && insn.off == 1 {
            // Signed division and modulo (cpu v4): known only of constants.
            let r = match (
                dst.scalar().and_then(Scalar::as_const),
                src.scalar().and_then(Scalar::as_const),
            ) {
                (Some(a), Some(b)) => RegState::constant(signed_div(aop, a, b, is64)),
                _ if matches!((dst, src), (RegState::Scalar(_), RegState::Scalar(_))) => {
                    RegState::unknown()
                }
                _ => return Err(err(pc, ptr_op_prohibited(d, aop))),
            };
            return self.write(s, pc, d, r);
        }
        let r = self.alu_values(pc, d, aop, dst, src, is64)?;
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
    ) -> Result<RegState, VerifyError> {
        match (dst, src) {
            (RegState::Scalar(a), RegState::Scalar(b)) => Ok(RegState::Scalar(if is64 {
                scalar::alu64(aop, &a, &b)
            } else {
                scalar::alu32(aop, &a, &b)
            })),
            (RegState::Ptr(p), RegState::Scalar(b)) => {
                self.ptr_math(pc, d, aop, p, b, is64, PtrSide::Dst)
            }
            (RegState::Scalar(a), RegState::Ptr(p)) => {
                self.ptr_math(pc, d, aop, p, a, is64, PtrSide::Src)
            }
            // Two pointers: only a privileged subtraction, which gives a
            // number (`adjust_reg_min_max_vals`).
            (RegState::Ptr(_), RegState::Ptr(_)) if aop == AluOp::Sub => Ok(RegState::unknown()),
            (RegState::Ptr(_), RegState::Ptr(_)) => Err(err(
                pc,
                format!("R{d} pointer {} pointer prohibited", op_sym(aop)),
            )),
            _ => Err(err(pc, format!("R{d} !read_ok"))),
        }
    }

    /// Pointer arithmetic (`adjust_ptr_min_max_vals`), in the kernel's
    /// order of checks: 32-bit, NULL, the pointer's kind, then the operator.
    #[allow(clippy::too_many_arguments)]
    fn ptr_math(
        &mut self,
        pc: usize,
        d: u8,
        aop: AluOp,
        p: Ptr,
        b: Scalar,
        is64: bool,
        side: PtrSide,
    ) -> Result<RegState, VerifyError> {
        let name = RegState::Ptr(p).type_name();
        if !is64 {
            // A privileged program may subtract: a meaningless number.
            if aop == AluOp::Sub {
                return Ok(RegState::unknown());
            }
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
        match p.kind {
            // `map_ptr += 0` is allowed, nothing else on a map pointer.
            PtrKind::Map { .. } if aop == AluOp::Add && b.as_const() == Some(0) => {
                return Ok(RegState::Ptr(p))
            }
            PtrKind::Map { .. } | PtrKind::Func { .. } => {
                return Err(err(
                    pc,
                    format!("R{d} pointer arithmetic on {name} prohibited"),
                ))
            }
            _ => {}
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
        if aop == AluOp::Sub {
            if side == PtrSide::Src {
                return Err(err(
                    pc,
                    format!("R{d} tried to subtract pointer from scalar"),
                ));
            }
            // JITs may not cope with a frame pointer moved down by subtraction.
            if matches!(p.kind, PtrKind::Stack { .. }) {
                return Err(err(
                    pc,
                    format!("R{d} subtraction from stack pointer prohibited"),
                ));
            }
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
                .filter(|o| o.unsigned_abs() < 1 << 29)
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
            jmp::CALL if insn.src == 0 => self.call_helper(s, pc, insn.imm),
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
            let r0 = s.cur().regs[0];
            if let Some(callsite) = s.cur().callsite {
                return self.callback_exit(s, pc, r0, callsite);
            }
            // A subprogram's R0 goes back as it is; the caller reading it
            // uninitialised is the error (`prepare_func_exit`).
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
            let msg = if self.rules.has(Change::LeakAtExitMessage) {
                "BPF_EXIT instruction in main prog would lead to reference leak".to_string()
            } else {
                format!("Unreleased reference id={} alloc_insn={}", r.id, r.insn)
            };
            return Err(err(pc, msg));
        }
        // A privileged program may return a pointer; kprobes read a number.
        let r0 = self.read(s, pc, 0)?;
        if s.frames[0].subprog != 0 && !matches!(r0, RegState::Scalar(_)) {
            return Err(err(
                pc,
                format!(
                    "At subprogram exit the register R0 is not a scalar value ({})",
                    r0.type_name()
                ),
            ));
        }
        Ok(Step::Done)
    }

    /// A callback returns: R0 in [0, 1], then back to the helper's caller:
    /// after the call (the callback ran once), or, where callbacks run any
    /// number of times, to the call again with what this run left.
    fn callback_exit(
        &mut self,
        s: &mut State,
        pc: usize,
        r0: RegState,
        callsite: usize,
    ) -> Result<Step, VerifyError> {
        let v = match r0 {
            RegState::NotInit => return Err(err(pc, "R0 !read_ok")),
            RegState::Scalar(v) => v,
            RegState::Ptr(_) => return Err(err(pc, "R0 not a scalar value")),
        };
        let new = self.rules.has(Change::RetvalRangeMessage);
        // Before the retval ranges the kernel asked the tnum; since, the
        // signed bounds.
        let within = if new {
            v.smin >= 0 && v.smax <= 1
        } else {
            crate::tnum::Tnum::range(0, 1).contains(v.t)
        };
        if !within {
            let has = if v.t == crate::tnum::Tnum::UNKNOWN {
                "has unknown scalar value".to_string()
            } else {
                format!("has value ({:#x}; {:#x})", v.t.value, v.t.mask)
            };
            let range = if new { "[0, 1]" } else { "(0x0; 0x1)" };
            return Err(err(
                pc,
                format!("At callback return the register R0 {has} should have been in {range}"),
            ));
        }
        let callee = s.frames.pop();
        if self.rules.has(Change::CallbacksAnyNumberOfTimes) {
            let caller = s.cur_mut();
            caller.iterations = caller.iterations.saturating_add(1);
            return Ok(Step::Next(callsite));
        }
        Ok(Step::Next(callee.map_or(callsite + 1, |f| f.ret)))
    }

    fn call_subprog(&mut self, s: &mut State, pc: usize, insn: &Insn) -> Result<Step, VerifyError> {
        room_for_frame(s, pc)?;
        let target = (pc as i64 + 1 + i64::from(insn.imm)) as usize;
        let sub = self.subprog_of(target);
        let global = self
            .prog
            .funcs
            .iter()
            .find(|f| f.start == target)
            .and_then(|f| f.global.clone());
        if let Some(sig) = global {
            // Verified on its own: here only the arguments are checked
            // against its BTF types, and R0 is any number.
            for (i, arg) in sig.args.iter().enumerate().take(5) {
                let r = i as u8 + 1;
                if !self.global_arg_ok(s, pc, r, arg)? {
                    return Err(err(
                        pc,
                        format!("Caller passes invalid args into func#{sub}"),
                    ));
                }
            }
            let f = s.cur_mut();
            for r in 1..=5 {
                f.regs[r] = RegState::NotInit;
            }
            f.regs[0] = RegState::unknown();
            return Ok(Step::Next(pc + 1));
        }
        let mut callee = Frame::new(s.frames.len(), pc + 1, sub);
        for r in 1..=5 {
            callee.regs[r] = s.cur().regs[r];
        }
        s.frames.push(callee);
        Ok(Step::Next(target))
    }

    /// Whether register `r` fits a global function's argument `arg`
    /// (`btf_check_subprog_arg_match`).
    fn global_arg_ok(
        &mut self,
        s: &mut State,
        pc: usize,
        r: u8,
        arg: &ArgType,
    ) -> Result<bool, VerifyError> {
        let v = s.cur().regs[usize::from(r)];
        Ok(match (arg, v) {
            (ArgType::Scalar, RegState::Scalar(_)) => true,
            (ArgType::Ctx, RegState::Ptr(p)) => p.kind == PtrKind::Ctx && p.off == 0,
            (ArgType::Mem { .. }, RegState::Scalar(sc)) => sc.as_const() == Some(0),
            (ArgType::Mem { size }, RegState::Ptr(p)) => {
                let mut p = p;
                p.or_null = false;
                let mut probe = s.clone();
                self.helper_mem(&mut probe, pc, r, p, u64::from(*size), true)
                    .and_then(|_| self.helper_mem(&mut probe, pc, r, p, u64::from(*size), false))
                    .is_ok()
            }
            _ => false,
        })
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
        // A 32-bit jump compares the low halves. Unsigned, that is the
        // 64-bit comparison of the zero-extended halves; signed, only when
        // both halves are below 2^31. What it teaches goes back to a
        // register whose upper half is known zero (the kernel's
        // `__reg_combine_32_into_64`); of another, nothing is learnt.
        let (la, lb) = if is32 {
            (sa.low32(), sb.low32())
        } else {
            (sa, sb)
        };
        if is32 && is_signed(cmp) && !(narrow32(&la) && narrow32(&lb)) {
            if let (Some(x), Some(y)) = (la.as_const(), lb.as_const()) {
                let t = scalar::holds(cmp, sext32(x), sext32(y));
                return Ok(Step::Next(if t { taken } else { next }));
            }
            return Ok(Step::Fork(next, Box::new(s.clone()), taken));
        }
        // Before `RangeVsRange`, only a constant source decides a branch,
        // only a constant teaches the other side, and of two unknowns only
        // a 64-bit `==` or `!=` teaches anything.
        let vs_range = self.rules.has(Change::RangeVsRange);
        let (ca, cb) = (la.as_const().is_some(), lb.as_const().is_some());
        if vs_range || cb {
            match scalar::decided(&la, cmp, &lb) {
                Some(true) => return Ok(Step::Next(taken)),
                Some(false) => return Ok(Step::Next(next)),
                None => {}
            }
        }
        let learns = vs_range || ca || cb || (!is32 && matches!(cmp, Cmp::Eq | Cmp::Ne));
        let ((ta, tb), (fa, fb)) = if learns {
            (
                scalar::refine(&la, cmp, &lb),
                scalar::refine_not(&la, cmp, &lb),
            )
        } else {
            ((la, lb), (la, lb))
        };
        let t_ok = !ta.is_empty() && !tb.is_empty();
        let f_ok = !fa.is_empty() && !fb.is_empty();
        if !(vs_range || cb) && !(t_ok && f_ok) {
            // The kernel did not decide it: both ways, nothing learnt.
            return Ok(Step::Fork(next, Box::new(s.clone()), taken));
        }
        let mut t = s.clone();
        set_scalar(&mut t, d, learnt(&sa, &la, &ta));
        set_scalar(s, d, learnt(&sa, &la, &fa));
        if x {
            set_scalar(&mut t, sr, learnt(&sb, &lb, &tb));
            set_scalar(s, sr, learnt(&sb, &lb, &fb));
        }
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

/// Which operand of an ALU operation is the pointer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PtrSide {
    Dst,
    Src,
}

/// What a register `whole` is where its compared view `view` became
/// `now`: `now` itself when the view is the whole register; after a 32-bit
/// jump on a register whose upper half may be set, the whole register with
/// the low half's known bits learnt (the rest of the 64-bit knowledge is
/// not touched).
fn learnt(whole: &Scalar, view: &Scalar, now: &Scalar) -> Scalar {
    if whole == view || now.is_empty() {
        return *now;
    }
    const HIGH: u64 = 0xffff_ffff_0000_0000;
    let low = now
        .t
        .intersect(crate::tnum::Tnum::range(now.umin, now.umax));
    let mut r = *whole;
    r.t = r.t.intersect(crate::tnum::Tnum {
        value: low.value & !HIGH,
        mask: low.mask | HIGH,
    });
    r.sync();
    r
}

fn set_scalar(s: &mut State, r: u8, v: Scalar) {
    if r < 10 {
        s.cur_mut().regs[usize::from(r)] = RegState::Scalar(v);
    }
}

/// Whether a zero-extended 32-bit value reads the same signed: below 2^31.
fn narrow32(s: &Scalar) -> bool {
    s.umax < 1 << 31
}

fn is_signed(cmp: Cmp) -> bool {
    matches!(cmp, Cmp::SGt | Cmp::SGe | Cmp::SLt | Cmp::SLe)
}

/// A 32-bit operand as a signed comparison reads it.
fn sext32(v: u64) -> u64 {
    v as u32 as i32 as i64 as u64
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

/// `a s/ b` or `a s% b` as the CPU computes them for BPF: by zero, 0 and
/// `a`; the most negative number divided by -1 stays itself.
fn signed_div(op: AluOp, a: u64, b: u64, is64: bool) -> u64 {
    if is64 {
        let (a, b) = (a as i64, b as i64);
        let r = match (op, b) {
            (AluOp::Div, 0) => 0,
            (AluOp::Mod, 0) => a,
            (AluOp::Div, _) => a.wrapping_div(b),
            _ => a.wrapping_rem(b),
        };
        r as u64
    } else {
        let (a, b) = (a as u32 as i32, b as u32 as i32);
        let r = match (op, b) {
            (AluOp::Div, 0) => 0,
            (AluOp::Mod, 0) => a,
            (AluOp::Div, _) => a.wrapping_div(b),
            _ => a.wrapping_rem(b),
        };
        u64::from(r as u32)
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
