//! The exploration (`do_check`): every path from the first instruction is
//! followed with its [`State`], depth first; at prune points a state that
//! an explored one covers stops, and a state equal to one still being
//! explored on the same path is an infinite loop. Global functions are
//! then verified on their own, from their BTF argument types, and the
//! stack of every call chain is checked ([`crate::depth`]). BPF-to-BPF
//! calls live here; ALU operations in `alu`, conditional jumps in
//! `branch`, memory access in [`crate::mem`], helper calls and callbacks
//! in [`crate::call`].

use probecc::btf::kernel::KernelBtf;
use probecc::insn::{class, jmp, mode, pseudo, Insn};

use crate::cfg::{self, Cfg};
use crate::prog_type::ProgType;
use crate::program::{ArgType, Program};
use crate::reg::{Ptr, PtrKind, RegState};
use crate::release::{Change, Rules};
use crate::scalar::Cmp;
use crate::state::{Frame, Need, State};
use crate::tracing::Proto;
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
    pub prog_type: ProgType,
    pub ctx_size: i64,
    pub next_id: u32,
    pub processed: usize,
    pub rules: Rules,
    pub target: Target,
    /// The kernel's types, when known: a tracing program's context and
    /// the structs its pointers point to are read by them.
    pub types: Option<&'a KernelBtf>,
    /// A tracing program's function, from `types`.
    pub proto: Option<Proto>,
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
    /// When recording (`trace`): the state before every instruction processed, and no
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
    verify_typed(prog, target, None)
}

/// Verifies `prog` for `target` with the kernel's types, if given: a
/// tracing program's context is typed by its function's prototype.
pub fn verify_typed(prog: &Program, target: &Target, types: Option<&KernelBtf>) -> Outcome {
    verify_with(prog, target, types, false).0
}

/// Verifies `prog` following every path without pruning, and returns the
/// state before each instruction processed, for tests that run programs
/// concretely and check that every concrete state is one of these.
/// Programs with loops may not end: give it loop-free ones.
pub fn trace(prog: &Program, target: &Target) -> (Outcome, Vec<(usize, State)>) {
    let (out, trace) = verify_with(prog, target, None, true);
    (out, trace.unwrap_or_default())
}

fn verify_with(
    prog: &Program,
    target: &Target,
    types: Option<&KernelBtf>,
    record: bool,
) -> (Outcome, Option<Vec<(usize, State)>>) {
    let proto = match types.and_then(|k| Proto::of(k, &prog.section)) {
        Some(Ok(p)) => Some(p),
        Some(Err(msg)) => {
            let out = Outcome {
                result: Err(err(0, msg)),
                processed: 0,
            };
            return (out, record.then(Vec::new));
        }
        None => None,
    };
    let args = |id: i32| probecc::helpers::proto(id).map_or(5, |p| p.args.len());
    let cfg = match cfg::analyse(&prog.insns, &args) {
        Ok(c) => c,
        Err(e) => {
            let out = Outcome {
                result: Err(e),
                processed: 0,
            };
            return (out, record.then(Vec::new));
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
    let prog_type = ProgType::of_section(&prog.section);
    let mut v = Verifier {
        prog,
        insns: &prog.insns,
        prog_type,
        ctx_size: prog_type.ctx_size(target.arch, rules.kernel),
        next_id: 0,
        processed: 0,
        rules,
        target: *target,
        types,
        proto,
        depth: vec![0; subprogs.len()],
        subprogs,
        callback_calls,
        explored: (0..prog.insns.len()).map(|_| Vec::new()).collect(),
        all_slots: lookups && rules.has(Change::ConstKeyArrayLookupNotNull),
        trace: record.then(Vec::new),
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
                let r = match &self.as_seen(arg) {
                    ArgType::Scalar => RegState::unknown(),
                    ArgType::Ctx => RegState::Ptr(Ptr::new(PtrKind::Ctx)),
                    // `as_seen` leaves no struct pointer: it is the
                    // context or memory.
                    ArgType::Mem { size } | ArgType::Struct { size, .. } => {
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

    /// Whether a JIT will build a program that mixes tail calls with
    /// BPF-to-BPF calls (`bpf_allow_tail_call_in_subprogs`): the JIT is on
    /// and the arch's JIT mixes them at this release.
    pub(crate) fn jit_mixes_tail_calls(&self) -> bool {
        self.rules.jit
            && self
                .target
                .arch
                .info()
                .subprog_tailcalls_since
                .is_some_and(|since| self.rules.kernel >= since)
    }

    /// What the interpreter cannot run, refused after verification when
    /// the JIT is off (`fixup_call_args`): callbacks.
    fn interpreter_limits(&self) -> Result<(), VerifyError> {
        if self.rules.jit {
            return Ok(());
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
        if s.frames[0].subprog == 0 && self.prog_type == ProgType::Tracing {
            crate::tracing::check_return(pc, &r0)?;
        }
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

    /// A global function's argument as this program's kernel sees it: a
    /// pointer to a struct is the context where the program is a kprobe
    /// and the struct is the one the arch's `bpf_user_pt_regs_t` names
    /// (`btf_is_prog_ctx_type`); any other is memory that may be NULL. So
    /// `struct pt_regs *ctx` is the context on x86_64 only: arm64's
    /// kprobe context is `struct user_pt_regs`.
    fn as_seen(&self, arg: &ArgType) -> ArgType {
        match arg {
            ArgType::Struct { name, size } => {
                let ctx = self.target.arch.info().kprobe_ctx_struct;
                if self.prog_type == ProgType::Kprobe && ctx == Some(name.as_str()) {
                    ArgType::Ctx
                } else {
                    ArgType::Mem { size: *size }
                }
            }
            other => other.clone(),
        }
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
        Ok(match (&self.as_seen(arg), v) {
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
}

enum Visit {
    Pruned,
    Recorded(usize),
    Continue,
}
