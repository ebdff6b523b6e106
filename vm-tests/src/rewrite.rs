//! rewrite: turns a program, as the kernel would run it, into code that rbpf
//! 0.4 executes with the kernel's semantics, in either byte order.
//!
//! rbpf 0.4 differs from the kernel in ways a runner must not inherit, so
//! every instruction is mapped to one or more instructions that rbpf's
//! interpreter *and* its x86_64 JIT execute exactly as the kernel does:
//!
//! - **Atomics** (`lock *(u64 *)(r0 + 0) += r1`, emitted for `count`/`sum`):
//!   rbpf rejects `BPF_ATOMIC`. A run is single-threaded, so the
//!   read-modify-write is done as load, operate, store through a temporary
//!   register saved in a scratch stack slot. Only the non-fetching
//!   add/or/and/xor exist in kprobe code generators; fetch, xchg and cmpxchg
//!   are refused with an error naming the instruction.
//! - **Big-endian objects** (s390x): every byte of program memory (stack,
//!   `pt_regs`, map values, ring-buffer records, the event's memory) is kept
//!   in the target's byte order, exactly as the s390x kernel holds it. rbpf
//!   loads and stores little-endian, so each 2/4/8-byte load is followed by a
//!   byte swap (`be16/32/64`, which also zero-extends like a load), and each
//!   such store swaps a copy of the value in a temporary register first.
//!   `le`/`be` conversions swap their meaning. Helpers and output decoding
//!   read multi-byte values in the object's order (see `memory`). Results
//!   are therefore identical to a little-endian object of the same spec.
//! - **64-bit compare with a negative immediate**: the interpreter
//!   zero-extends the immediate of `jeq/jne/jgt/jge/jlt/jle` (the kernel and
//!   rbpf's JIT sign-extend it); such jumps compare against a register loaded
//!   with `mov64` (which sign-extends) instead.
//! - **32-bit moves and `le16/le32`**: the JIT copies all 64 bits for
//!   `w0 = w1` and treats `le` as a no-op; the kernel zero-extends. Both are
//!   rewritten with `or32 dst, 0` / `and64 dst, 0xffff`, which zero-extend
//!   everywhere. `mod32` by zero gets the same trailing `or32` (the kernel
//!   leaves the zero-extended dividend).
//! - **Instruction budget**: rbpf has none. Each backward jump is preceded by
//!   code that subtracts the loop's length from a counter in a scratch stack
//!   slot and, when it is used up, calls a runner helper that records which
//!   instruction looped, then exits. Loop-free programs (all that probecc
//!   emits) pay nothing.
//! - **The frame**: a three-instruction prologue hands r10 to a runner
//!   helper, so that helpers can check that pointers into the stack are real.
//!   A subprogram passed as a callback then loads its four arguments from
//!   the ctx the calling helper gives it (rbpf passes one register).
//!
//! The scratch slots are the lowest 16 bytes of the 512-byte stack; a
//! program whose stack reaches below `r10 - 496` is refused. Map loads
//! (`ld_imm64` with a map relocation) and loads of a callback's address
//! become handles helpers recognise; loads of a read-only global's
//! address, the address of its bytes in the runner's copy of `.rodata` (as
//! the kernel's `BPF_PSEUDO_MAP_VALUE` becomes the map value's address).
//! cpu-v4 forms rbpf lacks (sign-extending loads and moves, signed division,
//! `gotol` targets beyond 32K, `may_goto`, BPF-to-BPF calls) are refused
//! with an error naming the instruction.

use probecc::disasm;
use probecc::helpers::Helper;
use probecc::insn::{alu, atomic, class, jmp, mode, size, src, Endian, Insn};

use crate::abi::{FUNC_HANDLE, HELPER_BUDGET, HELPER_FRAME, MAP_HANDLE};
use crate::error::{Error, Result, Site};
use crate::object::ProgramCode;

/// Scratch slot for a saved temporary register.
pub const SAVE: i16 = -512;
/// Scratch slot for the budget counter.
pub const COUNTER: i16 = -504;
/// The lowest stack offset a program may use.
pub const STACK_FLOOR: i16 = -496;
/// rbpf's interpreter adds jump offsets in 16 bits.
const MAX_LEN: usize = i16::MAX as usize;

/// A program ready for rbpf.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// Little-endian instruction bytes.
    pub code: Vec<u8>,
    /// For each rewritten slot, the object instruction it comes from.
    pub origin: Vec<Option<usize>>,
    /// Whether the program has backward jumps (and so budget checks).
    pub loops: bool,
}

enum Out {
    Insn(Insn),
    /// A jump whose offset is resolved to the start of object instruction
    /// `target`.
    Jump(Insn, usize),
}

struct Builder<'p> {
    prog: &'p ProgramCode,
    endian: Endian,
    /// The address of the runner's copy of `.rodata`.
    rodata: u64,
    out: Vec<(Out, Option<usize>)>,
    start: Vec<usize>,
    cur: Option<usize>,
}

/// Rewrites `prog` (instructions in `endian` order) for rbpf; `budget` is
/// the instruction budget of one run; its loads of `.rodata` globals point
/// into the runner's copy of the section at `rodata` (an address).
pub fn lower(prog: &ProgramCode, endian: Endian, budget: u32, rodata: u64) -> Result<Lowered> {
    check_stack(prog)?;
    let mut b = Builder {
        prog,
        endian,
        rodata,
        out: Vec::new(),
        start: vec![0; prog.insns.len() + 1],
        cur: None,
    };
    let loops = has_back_edges(prog);
    b.prologue(loops.then_some(budget));
    let mut i = 0;
    while i < prog.insns.len() {
        b.start[i] = b.out.len();
        b.cur = Some(i);
        let wide = prog.insns[i].is_ld_imm64();
        b.insn(i)?;
        if wide {
            b.start[i + 1] = b.start[i] + 1;
            i += 1;
        }
        i += 1;
    }
    b.start[prog.insns.len()] = b.out.len();
    b.finish(loops)
}

fn has_back_edges(prog: &ProgramCode) -> bool {
    prog.insns
        .iter()
        .enumerate()
        .any(|(i, x)| x.is_jump() && x.jump_offset() < 0 && !is_ld_imm64_tail(prog, i))
}

fn is_ld_imm64_tail(prog: &ProgramCode, i: usize) -> bool {
    i > 0 && prog.insns[i - 1].is_ld_imm64()
}

pub fn site(prog: &ProgramCode, index: usize) -> Site {
    let text = if index < prog.insns.len() {
        disasm::insn_text(&prog.insns, index).0
    } else {
        "?".into()
    };
    Site {
        section: prog.section.clone(),
        index,
        text,
    }
}

fn unsupported(prog: &ProgramCode, index: usize, reason: impl Into<String>) -> Error {
    Error::Unsupported {
        site: site(prog, index),
        reason: reason.into(),
    }
}

/// Refuses programs whose stack reaches into the scratch slots: direct
/// `r10`-relative accesses and pointers made as `rX = r10; rX += K`.
fn check_stack(prog: &ProgramCode) -> Result<()> {
    let mut derived: [Option<i64>; 11] = [None; 11];
    for (i, x) in prog.insns.iter().enumerate() {
        if is_ld_imm64_tail(prog, i) {
            continue;
        }
        let cls = x.class();
        let memory = matches!(cls, class::LDX | class::ST | class::STX);
        let base = if cls == class::LDX { x.src } else { x.dst };
        if memory && base == 10 && (x.off as i64) < STACK_FLOOR as i64 {
            return Err(unsupported(prog, i, stack_reason()));
        }
        if x.is_jump() {
            derived = [None; 11];
            continue;
        }
        let dst = (x.dst as usize).min(10);
        match (cls, x.op(), x.source()) {
            (class::ALU64, alu::MOV, src::X) if x.src == 10 => derived[dst] = Some(0),
            (class::ALU64, alu::ADD, src::K) => {
                if let Some(k) = derived[dst] {
                    let k = k + x.imm as i64;
                    if k < STACK_FLOOR as i64 {
                        return Err(unsupported(prog, i, stack_reason()));
                    }
                    derived[dst] = Some(k);
                }
            }
            (class::ALU | class::ALU64 | class::LDX, _, _) => derived[dst] = None,
            (class::LD, _, _) if x.is_ld_imm64() => derived[dst] = None,
            _ => {}
        }
        if x.is_call() {
            derived[..6].fill(None);
        }
    }
    Ok(())
}

fn stack_reason() -> String {
    format!(
        "the program uses the stack below r10 {STACK_FLOOR}; the runner keeps the lowest {} bytes for itself",
        -(SAVE as i32) + STACK_FLOOR as i32
    )
}

/// The first of r0..r9 that is not in `avoid`.
fn temp(avoid: &[u8]) -> u8 {
    (0..10).find(|r| !avoid.contains(r)).unwrap_or(9)
}

fn ins(code: u8, dst: u8, src_reg: u8, off: i16, imm: i32) -> Insn {
    Insn::new(code, dst, src_reg, off, imm)
}

fn save(t: u8) -> Insn {
    ins(class::STX | mode::MEM | size::DW, 10, t, SAVE, 0)
}

fn restore(t: u8) -> Insn {
    ins(class::LDX | mode::MEM | size::DW, t, 10, SAVE, 0)
}

fn mov64_imm(dst: u8, imm: i32) -> Insn {
    ins(class::ALU64 | alu::MOV | src::K, dst, 0, 0, imm)
}

fn mov64_reg(dst: u8, s: u8) -> Insn {
    ins(class::ALU64 | alu::MOV | src::X, dst, s, 0, 0)
}

/// `or32 dst, 0`: zero-extends the low half, in the interpreter and the JIT.
fn zext32(dst: u8) -> Insn {
    ins(class::ALU | alu::OR | src::K, dst, 0, 0, 0)
}

/// rbpf's `be{bits}` on a little-endian host: swap and zero-extend.
fn swap(dst: u8, bits: i32) -> Insn {
    ins(class::ALU | alu::END | src::X, dst, 0, 0, bits)
}

fn access_bits(x: &Insn) -> i32 {
    match x.size() {
        size::H => 16,
        size::W => 32,
        size::DW => 64,
        _ => 8,
    }
}

impl Builder<'_> {
    fn push(&mut self, x: Insn) {
        self.out.push((Out::Insn(x), self.cur));
    }

    fn jump(&mut self, x: Insn, target: usize) {
        self.out.push((Out::Jump(x, target), self.cur));
    }

    fn big(&self) -> bool {
        self.endian == Endian::Big
    }

    fn prologue(&mut self, budget: Option<u32>) {
        self.push(mov64_reg(1, 10));
        self.push(ins(class::JMP | jmp::CALL, 0, 0, 0, HELPER_FRAME as i32));
        self.push(mov64_reg(1, 0));
        if self.prog.is_subprogram() {
            // A callback's arguments: the helper that calls it passes r1
            // to r4 as four host-order u64s in its ctx.
            for r in [4u8, 3, 2, 1] {
                let off = i16::from(r - 1) * 8;
                self.push(ins(class::LDX | mode::MEM | size::DW, r, 1, off, 0));
            }
        }
        if let Some(b) = budget {
            let b = b.min(i32::MAX as u32) as i32;
            self.push(ins(class::ST | mode::MEM | size::DW, 10, 0, COUNTER, b));
        }
    }

    fn err(&self, i: usize, reason: impl Into<String>) -> Error {
        unsupported(self.prog, i, reason)
    }

    fn insn(&mut self, i: usize) -> Result<()> {
        let x = self.prog.insns[i];
        if x.dst > 10 || x.src > 10 {
            return Err(self.err(i, "register number beyond r10"));
        }
        match x.class() {
            class::LD => self.ld(i, x),
            class::LDX => self.ldx(i, x),
            class::ST => self.st(i, x),
            class::STX => self.stx(i, x),
            class::ALU | class::ALU64 => self.alu(i, x),
            _ => self.jmp(i, x),
        }
    }

    fn ld(&mut self, i: usize, x: Insn) -> Result<()> {
        if !x.is_ld_imm64() || i + 1 >= self.prog.insns.len() {
            return Err(self.err(i, "legacy packet loads do not exist in kprobe programs"));
        }
        let mut lo = x;
        let mut hi = self.prog.insns[i + 1];
        let map = self.prog.map_refs.iter().find(|(at, _)| *at == i);
        let func = self.prog.func_refs.iter().find(|(at, _)| *at == i);
        let handle = match (map, func) {
            (Some(&(_, map)), _) => Some(MAP_HANDLE + map as u64),
            (None, Some(&(_, func))) => Some(FUNC_HANDLE + func as u64),
            (None, None) => None,
        };
        if let Some(v) = handle {
            lo = ins(x.code, x.dst, 0, 0, v as u32 as i32);
            hi = ins(0, 0, 0, 0, (v >> 32) as u32 as i32);
        } else if let Some(&(_, at)) = self.prog.rodata_refs.iter().find(|(a, _)| *a == i) {
            // As libbpf: the offset is the symbol's plus the instruction's imm.
            let v = self
                .rodata
                .wrapping_add(at)
                .wrapping_add(i64::from(x.imm) as u64);
            lo = ins(x.code, x.dst, 0, 0, v as u32 as i32);
            hi = ins(0, 0, 0, 0, (v >> 32) as u32 as i32);
        } else if x.src != 0 {
            return Err(self.err(
                i,
                format!(
                    "ld_imm64 with pseudo source {} and no map relocation",
                    x.src
                ),
            ));
        }
        self.push(lo);
        self.push(hi);
        Ok(())
    }

    fn ldx(&mut self, i: usize, x: Insn) -> Result<()> {
        if x.mode() != mode::MEM {
            return Err(self.err(
                i,
                "only plain loads (BPF_MEM) are supported; rbpf lacks sign-extending loads",
            ));
        }
        self.push(x);
        if self.big() && x.size() != size::B {
            self.push(swap(x.dst, access_bits(&x)));
        }
        Ok(())
    }

    fn st(&mut self, i: usize, x: Insn) -> Result<()> {
        if x.mode() != mode::MEM {
            return Err(self.err(i, "only plain stores (BPF_MEM) are supported"));
        }
        if !self.big() {
            self.push(x);
            return Ok(());
        }
        match x.size() {
            size::B => self.push(x),
            size::H => self.push(ins(
                x.code,
                x.dst,
                0,
                x.off,
                (x.imm as u16).swap_bytes() as i32,
            )),
            size::W => self.push(ins(
                x.code,
                x.dst,
                0,
                x.off,
                (x.imm as u32).swap_bytes() as i32,
            )),
            _ => {
                let t = temp(&[x.dst]);
                self.push(save(t));
                self.push(mov64_imm(t, x.imm));
                self.push(swap(t, 64));
                self.push(ins(class::STX | mode::MEM | size::DW, x.dst, t, x.off, 0));
                self.push(restore(t));
            }
        }
        Ok(())
    }

    fn stx(&mut self, i: usize, x: Insn) -> Result<()> {
        match x.mode() {
            mode::MEM if !self.big() || x.size() == size::B => {
                self.push(x);
                Ok(())
            }
            mode::MEM => {
                let t = temp(&[x.dst, x.src]);
                self.push(save(t));
                self.push(mov64_reg(t, x.src));
                self.push(swap(t, access_bits(&x)));
                self.push(ins(class::STX | mode::MEM | x.size(), x.dst, t, x.off, 0));
                self.push(restore(t));
                Ok(())
            }
            mode::ATOMIC => self.atomic(i, x),
            _ => Err(self.err(i, "unknown store mode")),
        }
    }

    /// A non-fetching atomic op as load, op, store: runs are single-threaded.
    fn atomic(&mut self, i: usize, x: Insn) -> Result<()> {
        let op = match x.imm {
            atomic::ADD => alu::ADD,
            atomic::OR => alu::OR,
            atomic::AND => alu::AND,
            atomic::XOR => alu::XOR,
            _ => {
                return Err(self.err(
                    i,
                    format!(
                    "atomic operation {:#x} is not emulated (only add/or/and/xor without fetch)",
                    x.imm
                ),
                ))
            }
        };
        if !matches!(x.size(), size::W | size::DW) {
            return Err(self.err(i, "atomic operations take 4 or 8 bytes"));
        }
        let bits = access_bits(&x);
        let t = temp(&[x.dst, x.src]);
        self.push(save(t));
        self.push(ins(class::LDX | mode::MEM | x.size(), t, x.dst, x.off, 0));
        if self.big() {
            self.push(swap(t, bits));
        }
        self.push(ins(class::ALU64 | op | src::X, t, x.src, 0, 0));
        if self.big() {
            self.push(swap(t, bits));
        }
        self.push(ins(class::STX | mode::MEM | x.size(), x.dst, t, x.off, 0));
        self.push(restore(t));
        Ok(())
    }

    fn alu(&mut self, i: usize, x: Insn) -> Result<()> {
        let is64 = x.class() == class::ALU64;
        if x.dst == 10 {
            return Err(self.err(i, "r10 is read-only"));
        }
        match x.op() {
            alu::DIV | alu::MOD if x.off != 0 => {
                Err(self.err(i, "signed division (cpu v4) is not supported by rbpf"))
            }
            alu::MOV if x.off != 0 => {
                Err(self.err(i, "sign-extending moves (cpu v4) are not supported by rbpf"))
            }
            alu::END => self.end(i, x, is64),
            alu::MOV if !is64 && x.source() == src::X => {
                if x.dst != x.src {
                    self.push(mov64_reg(x.dst, x.src));
                }
                self.push(zext32(x.dst));
                Ok(())
            }
            alu::MOD if !is64 => {
                self.push(x);
                self.push(zext32(x.dst));
                Ok(())
            }
            _ => {
                self.push(x);
                Ok(())
            }
        }
    }

    /// Byte-order conversions, as meant on the target: `le` swaps on a
    /// big-endian target and only truncates on a little-endian one; `be` the
    /// other way round; `bswap` (ALU64) always swaps.
    fn end(&mut self, i: usize, x: Insn, is64: bool) -> Result<()> {
        if !matches!(x.imm, 16 | 32 | 64) {
            return Err(self.err(i, "byte swaps take 16, 32 or 64 bits"));
        }
        let to_be = x.source() == src::X;
        let swaps = is64 || (to_be != self.big());
        if swaps {
            self.push(swap(x.dst, x.imm));
        } else {
            match x.imm {
                16 => self.push(ins(class::ALU64 | alu::AND | src::K, x.dst, 0, 0, 0xffff)),
                32 => self.push(zext32(x.dst)),
                _ => self.push(mov64_reg(x.dst, x.dst)),
            }
        }
        Ok(())
    }

    fn jmp(&mut self, i: usize, x: Insn) -> Result<()> {
        if x.is_exit() {
            self.push(x);
            return Ok(());
        }
        if x.is_call() {
            return self.call(i, x);
        }
        if x.op() == jmp::JCOND {
            return Err(self.err(i, "may_goto is not supported"));
        }
        let target = i as i64 + 1 + x.jump_offset();
        let n = self.prog.insns.len() as i64;
        if target < 0 || target >= n || is_ld_imm64_tail(self.prog, target as usize) {
            return Err(self.err(
                i,
                format!("jump to {target}, outside the program or into an ld_imm64"),
            ));
        }
        let target = target as usize;
        if target <= i {
            self.budget_check(i, target);
        }
        let x = if x.code == class::JMP32 | jmp::JA {
            ins(class::JMP | jmp::JA, 0, 0, 0, 0)
        } else {
            x
        };
        let zero_extended = matches!(
            x.op(),
            jmp::JEQ | jmp::JNE | jmp::JGT | jmp::JGE | jmp::JLT | jmp::JLE
        );
        if x.class() == class::JMP && x.source() == src::K && x.imm < 0 && zero_extended {
            self.jump_negative_imm(x, target);
        } else {
            self.jump(x, target);
        }
        Ok(())
    }

    /// `if dst OP imm` with imm < 0, comparing with a sign-extended register.
    fn jump_negative_imm(&mut self, x: Insn, target: usize) {
        let t = temp(&[x.dst]);
        self.push(save(t));
        self.push(mov64_imm(t, x.imm));
        self.push(ins(class::JMP | x.op() | src::X, x.dst, t, 2, 0));
        self.push(restore(t));
        self.push(ins(class::JMP | jmp::JA, 0, 0, 2, 0));
        self.push(restore(t));
        self.jump(ins(class::JMP | jmp::JA, 0, 0, 0, 0), target);
    }

    /// Before the backward jump at `i`: take the loop's length off the
    /// counter; when it runs out, report and exit.
    fn budget_check(&mut self, i: usize, target: usize) {
        let cost = (i - target + 1).min(i32::MAX as usize) as i32;
        let t = 0;
        self.push(save(t));
        self.push(ins(class::LDX | mode::MEM | size::DW, t, 10, COUNTER, 0));
        self.push(ins(class::ALU64 | alu::ADD | src::K, t, 0, 0, -cost));
        self.push(ins(class::STX | mode::MEM | size::DW, 10, t, COUNTER, 0));
        self.push(ins(class::JMP | jmp::JSGT | src::K, t, 0, 3, 0));
        self.push(mov64_imm(1, i as i32));
        self.push(ins(class::JMP | jmp::CALL, 0, 0, 0, HELPER_BUDGET as i32));
        self.push(ins(class::JMP | jmp::EXIT, 0, 0, 0, 0));
        self.push(restore(t));
    }

    fn call(&mut self, i: usize, x: Insn) -> Result<()> {
        if x.src != 0 {
            return Err(self.err(i, "BPF-to-BPF and kfunc calls are not supported"));
        }
        match Helper::from_id(x.imm) {
            Some(h) if crate::helpers::emulated(h) => {
                self.push(x);
                Ok(())
            }
            Some(h) => Err(self.err(i, format!("helper {h} ({}) is not emulated", x.imm))),
            None => Err(self.err(i, format!("call to unknown helper {}", x.imm))),
        }
    }

    fn finish(self, loops: bool) -> Result<Lowered> {
        if self.out.len() > MAX_LEN {
            return Err(Error::Unsupported {
                site: site(self.prog, 0),
                reason: format!(
                    "the rewritten program has {} instructions; rbpf jumps reach {MAX_LEN}",
                    self.out.len()
                ),
            });
        }
        let mut code = Vec::with_capacity(self.out.len() * 8);
        let mut origin = Vec::with_capacity(self.out.len());
        for (pos, (o, from)) in self.out.iter().enumerate() {
            let x = match o {
                Out::Insn(x) => *x,
                Out::Jump(x, target) => {
                    let off = self.start[*target] as i64 - pos as i64 - 1;
                    Insn {
                        off: off as i16,
                        ..*x
                    }
                }
            };
            code.extend_from_slice(&x.encode(Endian::Little));
            origin.push(*from);
        }
        Ok(Lowered {
            code,
            origin,
            loops,
        })
    }
}
