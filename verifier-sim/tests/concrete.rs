//! Soundness of whole programs, checked by running them: random loop-free
//! programs (64- and 32-bit ALU operations with edge-value constants,
//! signed and unsigned 64- and 32-bit jumps, stack spills and fills, reads
//! through a map value pointer moved by a checked or unchecked index) are
//! verified with every path followed (`verify::trace`), then run on
//! concrete inputs picked at the edges. Before every instruction of every
//! run, the concrete registers and spilled stack slots must be members of
//! one of the abstract states verifier-sim had there; and a program it
//! accepts must never read or write outside its memory.
//!
//! The runs use the small interpreter below rather than vm-tests' rbpf
//! runner: it has to report each instruction's registers (rbpf runs a
//! program to its end), and it must not share code with verifier-sim's
//! transfer functions, or a wrong one would agree with itself.

use probecc::arch::{Arch, KernelVersion};
use probecc::insn::{self as i, alu, class, jmp, pseudo, AluOp, Cond, Insn, Reg, Size};
use probecc_test_support::xorshift::XorShift64Star;
use verifier_sim::reg::{PtrKind, RegState};
use verifier_sim::scalar::Scalar;
use verifier_sim::state::{Byte, State, STACK_SIZE};
use verifier_sim::{MapSpec, Program, Target};

const CTX: u64 = 0x1000_0000_0000;
const CTX_SIZE: u64 = 168;
const STACK: u64 = 0x2000_0000_0000;
const FP: u64 = STACK + STACK_SIZE as u64;
const VALUE: u64 = 0x3000_0000_0000;
const VALUE_SIZE: u64 = 64;
const MAP: u64 = 0x4000_0000_0000;

/// Numbers next to the boundaries the verifier's arithmetic turns on.
const EDGES: &[u64] = &[
    0,
    1,
    2,
    7,
    8,
    15,
    16,
    63,
    64,
    65,
    255,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0xffff_ffff_ffff_fff0,
    0xffff_ffff_ffff_ffff,
];

struct Gen(XorShift64Star);

impl Gen {
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// An edge, an edge moved by a little, or anything.
    fn value(&mut self) -> u64 {
        match self.below(4) {
            0 | 1 => self.0.pick(EDGES),
            2 => self
                .0
                .pick(EDGES)
                .wrapping_add(self.below(7) as u64)
                .wrapping_sub(3),
            _ => self.0.next_u64(),
        }
    }

    fn imm(&mut self) -> i32 {
        if self.chance(60) {
            self.below(80) as i32 - 8
        } else {
            self.value() as i32
        }
    }

    /// A scalar register of the body: r0-r4 and r6-r9 (r5 holds the map
    /// value, r1 starts as the ctx but is a number by then).
    fn scalar_reg(&mut self) -> Reg {
        const REGS: [Reg; 9] = [
            Reg::R0,
            Reg::R1,
            Reg::R2,
            Reg::R3,
            Reg::R4,
            Reg::R6,
            Reg::R7,
            Reg::R8,
            Reg::R9,
        ];
        self.0.pick(&REGS)
    }
}

const ALU_OPS: [AluOp; 12] = [
    AluOp::Add,
    AluOp::Sub,
    AluOp::Mul,
    AluOp::Div,
    AluOp::Mod,
    AluOp::Or,
    AluOp::And,
    AluOp::Xor,
    AluOp::Lsh,
    AluOp::Rsh,
    AluOp::Arsh,
    AluOp::Mov,
];

const CONDS: [Cond; 11] = [
    Cond::Eq,
    Cond::Ne,
    Cond::Gt,
    Cond::Ge,
    Cond::Lt,
    Cond::Le,
    Cond::SGt,
    Cond::SGe,
    Cond::SLt,
    Cond::SLe,
    Cond::Set,
];

/// One piece of the body: instructions and, for a jump, the piece it
/// jumps past (patched once all pieces are laid out).
enum Piece {
    Plain(Vec<Insn>),
    /// A conditional jump to the start of the piece `skip` pieces later
    /// (or the epilogue).
    Jump(Insn, usize),
}

/// A random loop-free program over one array map of 64-byte values.
fn program(g: &mut Gen) -> Vec<Insn> {
    let m = i::ld_imm64_pseudo(Reg::R1, pseudo::MAP_FD, 0);
    let mut insns = vec![
        i::ldx(Size::DW, Reg::R6, Reg::R1, 0),
        i::ldx(Size::DW, Reg::R7, Reg::R1, 8),
        i::ldx(Size::W, Reg::R8, Reg::R1, 16),
        i::ldx(Size::DW, Reg::R9, Reg::R1, 24),
        i::st(Size::W, Reg::R10, -4, 0),
        i::alu64_reg(AluOp::Mov, Reg::R2, Reg::R10),
        i::alu64_imm(AluOp::Add, Reg::R2, -4),
        m[0],
        m[1],
        i::call_helper(1),
    ];
    let lookup_end = insns.len();
    // if r0 == 0 goto the epilogue: patched below
    insns.push(i::jmp_imm(Cond::Eq, Reg::R0, 0, 0));
    insns.push(i::alu64_reg(AluOp::Mov, Reg::R5, Reg::R0));
    for r in [Reg::R0, Reg::R1, Reg::R2, Reg::R3, Reg::R4] {
        let v = g.imm();
        insns.push(i::alu64_imm(AluOp::Mov, r, v));
    }
    let mut pieces = Vec::new();
    for _ in 0..8 + g.below(24) {
        pieces.push(piece(g));
    }
    // lay out: jump offsets count instructions to the target piece
    let mut starts = Vec::with_capacity(pieces.len() + 1);
    let mut at = insns.len();
    for p in &pieces {
        starts.push(at);
        at += match p {
            Piece::Plain(v) => v.len(),
            Piece::Jump(..) => 1,
        };
    }
    let epilogue = at;
    starts.push(epilogue);
    for (k, p) in pieces.into_iter().enumerate() {
        match p {
            Piece::Plain(v) => insns.extend(v),
            Piece::Jump(mut j, skip) => {
                let target = starts[(k + 1 + skip).min(starts.len() - 1)];
                j.off = (target - starts[k] - 1) as i16;
                insns.push(j);
            }
        }
    }
    insns[lookup_end].off = (epilogue - lookup_end - 1) as i16;
    insns.push(i::alu64_imm(AluOp::Mov, Reg::R0, 0));
    insns.push(i::exit());
    insns
}

fn piece(g: &mut Gen) -> Piece {
    let d = g.scalar_reg();
    let s = g.scalar_reg();
    match g.below(10) {
        0..=3 => {
            let op = g.0.pick(&ALU_OPS);
            let wide = g.chance(60);
            let insn = match (g.chance(50), op) {
                (true, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) => {
                    let n = g.below(if wide { 64 } else { 32 }) as i32;
                    if wide {
                        i::alu64_imm(op, d, n)
                    } else {
                        i::alu32_imm(op, d, n)
                    }
                }
                (true, AluOp::Div | AluOp::Mod) => {
                    let n = g.imm().max(1);
                    if wide {
                        i::alu64_imm(op, d, n)
                    } else {
                        i::alu32_imm(op, d, n)
                    }
                }
                (true, _) => {
                    let n = g.imm();
                    if wide {
                        i::alu64_imm(op, d, n)
                    } else {
                        i::alu32_imm(op, d, n)
                    }
                }
                (false, _) if wide => i::alu64_reg(op, d, s),
                (false, _) => i::alu32_reg(op, d, s),
            };
            Piece::Plain(vec![insn])
        }
        4..=6 => {
            let cond = g.0.pick(&CONDS);
            let wide = g.chance(60);
            let imm = if g.chance(50) {
                g.below(70) as i32
            } else {
                g.imm()
            };
            let insn = match (g.chance(60), wide) {
                (true, true) => i::jmp_imm(cond, d, imm, 0),
                (true, false) => i::jmp32_imm(cond, d, imm, 0),
                (false, true) => i::jmp_reg(cond, d, s, 0),
                (false, false) => i::jmp32_reg(cond, d, s, 0),
            };
            Piece::Jump(insn, g.below(4))
        }
        7 => {
            let off = -8 * (2 + g.below(5) as i16);
            let insn = if g.chance(50) {
                i::stx(Size::DW, Reg::R10, off, s)
            } else {
                i::ldx(Size::DW, d, Reg::R10, off)
            };
            Piece::Plain(vec![insn])
        }
        8 => Piece::Plain(vec![if g.chance(50) {
            i::neg64(d)
        } else {
            i::neg32(d)
        }]),
        _ => {
            // d = *(u8 *)(value + s); d's pointer copy becomes a number again
            let size = [Size::B, Size::H, Size::W, Size::DW][g.below(4)];
            let off = g.below(4) as i16 * 8;
            let t = if d == s { Reg::R0 } else { d };
            let t = if t == s { Reg::R1 } else { t };
            Piece::Plain(vec![
                i::alu64_reg(AluOp::Mov, t, Reg::R5),
                i::alu64_reg(AluOp::Add, t, s),
                i::ldx(size, t, t, off),
            ])
        }
    }
}

/// A concrete run's memory.
struct Memory {
    ctx: Vec<u8>,
    stack: Vec<u8>,
    value: Vec<u8>,
}

impl Memory {
    fn region(&mut self, addr: u64, n: u64) -> Option<&mut [u8]> {
        let (base, mem) = if (CTX..CTX + CTX_SIZE).contains(&addr) {
            (CTX, &mut self.ctx)
        } else if (STACK..FP).contains(&addr) {
            (STACK, &mut self.stack)
        } else if (VALUE..VALUE + VALUE_SIZE).contains(&addr) {
            (VALUE, &mut self.value)
        } else {
            return None;
        };
        let at = (addr - base) as usize;
        mem.get_mut(at..at + n as usize)
    }
}

/// Why a run went wrong, and where.
type Fault = String;

/// What a run shows before each instruction: the pc, the registers, the stack.
type Observer<'a> = dyn FnMut(usize, &[Option<u64>; 11], &[u8]) + 'a;

/// Runs `insns` with `regs` and `mem`, calling `at` before every
/// instruction with the pc, the registers and the stack.
fn run(
    insns: &[Insn],
    mem: &mut Memory,
    lookup_hits: bool,
    at: &mut Observer,
) -> Result<(), Fault> {
    let mut regs: [Option<u64>; 11] = [None; 11];
    regs[1] = Some(CTX);
    regs[10] = Some(FP);
    let mut pc = 0;
    loop {
        at(pc, &regs, &mem.stack);
        let insn = insns[pc];
        let get = |regs: &[Option<u64>; 11], r: u8| {
            regs[usize::from(r)].ok_or_else(|| format!("insn {pc} reads r{r}, never set"))
        };
        let outside = |addr: u64| format!("insn {pc} accesses {addr:#x}, outside its memory");
        let size = match insn.size() {
            probecc::insn::size::B => 1,
            probecc::insn::size::H => 2,
            probecc::insn::size::W => 4,
            _ => 8,
        };
        match insn.class() {
            class::ALU | class::ALU64 => {
                let wide = insn.class() == class::ALU64;
                let d = insn.dst;
                let y = if insn.source() != 0 {
                    get(&regs, insn.src)?
                } else if wide {
                    insn.imm as i64 as u64
                } else {
                    u64::from(insn.imm as u32)
                };
                let x = if insn.op() == alu::MOV {
                    0
                } else {
                    get(&regs, d)?
                };
                regs[usize::from(d)] = Some(alu_op(insn.op(), x, y, wide));
                pc += 1;
            }
            class::LD => {
                // the map: its pointer
                regs[usize::from(insn.dst)] = Some(MAP);
                pc += 2;
            }
            class::LDX => {
                let addr = get(&regs, insn.src)?.wrapping_add(insn.off as i64 as u64);
                let bytes = mem.region(addr, size).ok_or_else(|| outside(addr))?;
                let v = bytes.iter().rev().fold(0u64, |v, b| v << 8 | u64::from(*b));
                regs[usize::from(insn.dst)] = Some(v);
                pc += 1;
            }
            class::ST | class::STX => {
                let addr = get(&regs, insn.dst)?.wrapping_add(insn.off as i64 as u64);
                let v = if insn.class() == class::ST {
                    insn.imm as i64 as u64
                } else {
                    get(&regs, insn.src)?
                };
                let bytes = mem.region(addr, size).ok_or_else(|| outside(addr))?;
                for (k, b) in bytes.iter_mut().enumerate() {
                    *b = (v >> (8 * k)) as u8;
                }
                pc += 1;
            }
            _ => match insn.op() {
                jmp::EXIT => return get(&regs, 0).map(|_| ()),
                jmp::CALL => {
                    // bpf_map_lookup_elem: the value or NULL
                    regs[0] = Some(if lookup_hits { VALUE } else { 0 });
                    regs[1..=5].fill(None);
                    pc += 1;
                }
                op => {
                    let wide = insn.class() == class::JMP;
                    let x = get(&regs, insn.dst)?;
                    let y = if insn.source() != 0 {
                        get(&regs, insn.src)?
                    } else {
                        insn.imm as i64 as u64
                    };
                    let taken = compare(op, x, y, wide);
                    pc = if taken {
                        (pc as i64 + 1 + i64::from(insn.off)) as usize
                    } else {
                        pc + 1
                    };
                }
            },
        }
    }
}

/// The CPU's answer to one ALU operation (BPF semantics: division by zero
/// gives 0, modulo by zero leaves the dividend; shifts take the low bits
/// of the amount; 32-bit results are zero-extended).
fn alu_op(op: u8, x: u64, y: u64, wide: bool) -> u64 {
    let (mask, amount) = if wide {
        (u64::MAX, 63)
    } else {
        (u64::from(u32::MAX), 31)
    };
    let (x, y) = (x & mask, y & mask);
    let signed = if wide {
        x as i64
    } else {
        i64::from(x as u32 as i32)
    };
    let r = match op {
        alu::ADD => x.wrapping_add(y),
        alu::SUB => x.wrapping_sub(y),
        alu::MUL => x.wrapping_mul(y),
        alu::DIV => x.checked_div(y).unwrap_or(0),
        alu::MOD => x.checked_rem(y).unwrap_or(x),
        alu::OR => x | y,
        alu::AND => x & y,
        alu::XOR => x ^ y,
        alu::LSH => x << (y & amount),
        alu::RSH => x >> (y & amount),
        alu::ARSH => (signed >> (y & amount)) as u64,
        alu::NEG => signed.wrapping_neg() as u64,
        _ => y,
    };
    r & mask
}

fn compare(op: u8, x: u64, y: u64, wide: bool) -> bool {
    let (ux, uy, sx, sy) = if wide {
        (x, y, x as i64, y as i64)
    } else {
        (
            u64::from(x as u32),
            u64::from(y as u32),
            i64::from(x as u32 as i32),
            i64::from(y as u32 as i32),
        )
    };
    match op {
        jmp::JEQ => ux == uy,
        jmp::JNE => ux != uy,
        jmp::JGT => ux > uy,
        jmp::JGE => ux >= uy,
        jmp::JLT => ux < uy,
        jmp::JLE => ux <= uy,
        jmp::JSGT => sx > sy,
        jmp::JSGE => sx >= sy,
        jmp::JSLT => sx < sy,
        jmp::JSLE => sx <= sy,
        jmp::JSET => ux & uy != 0,
        _ => false,
    }
}

fn member(s: &Scalar, x: u64) -> bool {
    s.umin <= x
        && x <= s.umax
        && s.smin <= x as i64
        && x as i64 <= s.smax
        && x & !s.t.mask == s.t.value
}

/// Whether the concrete value `v` (None: never set) is one `r` allows.
fn allows(r: &RegState, v: Option<u64>) -> bool {
    let Some(v) = v else {
        return matches!(r, RegState::NotInit);
    };
    match r {
        RegState::NotInit => true,
        RegState::Scalar(s) => member(s, v),
        RegState::Ptr(p) => {
            if p.or_null && v == 0 {
                return true;
            }
            let base = match p.kind {
                PtrKind::Ctx => CTX,
                PtrKind::Stack { frame: 0 } => FP,
                PtrKind::MapValue { .. } => VALUE,
                PtrKind::Map { .. } => return v == MAP,
                _ => return false,
            };
            member(&p.var, v.wrapping_sub(base).wrapping_sub(p.off as u64))
        }
    }
}

/// Whether the concrete registers and stack are one of `s`'s.
fn contains(s: &State, regs: &[Option<u64>; 11], stack: &[u8]) -> bool {
    let f = &s.frames[0];
    if !(0..11).all(|r| allows(&f.regs[r], regs[r])) {
        return false;
    }
    (0..STACK_SIZE / 8).all(|slot| {
        let bytes = &stack[slot * 8..slot * 8 + 8];
        let word = bytes.iter().rev().fold(0u64, |v, b| v << 8 | u64::from(*b));
        match &f.stack.spilled[slot] {
            Some(r) => allows(r, Some(word)),
            None => f.stack.bytes[slot * 8..slot * 8 + 8]
                .iter()
                .zip(bytes)
                .all(|(b, v)| *b != Byte::Zero || *v == 0),
        }
    })
}

fn memory(g: &mut Gen) -> Memory {
    let mut ctx = vec![0u8; CTX_SIZE as usize];
    for w in ctx.chunks_mut(8) {
        w.copy_from_slice(&g.value().to_le_bytes());
    }
    let stack = (0..STACK_SIZE).map(|_| g.0.next_u32() as u8).collect();
    let value = (0..VALUE_SIZE).map(|_| g.0.next_u32() as u8).collect();
    Memory { ctx, stack, value }
}

#[test]
fn every_concrete_state_is_one_verifier_sim_had() {
    // an array (its one value is always found) or a hash (it may miss)
    let map = |map_type| MapSpec {
        name: "values".into(),
        map_type,
        key_size: 4,
        value_size: VALUE_SIZE as u32,
        max_entries: 1,
    };
    let programs: usize = std::env::var("CONCRETE_PROGRAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut g = Gen(XorShift64Star::new(0x5eed_f501_1d00));
    let (mut accepted, mut checked_states) = (0, 0usize);
    for n in 0..programs {
        let insns = program(&mut g);
        let hash = n % 4 < 2;
        let prog = Program::bare(&insns, &[map(if hash { 1 } else { 2 })], true);
        let kernel = if n % 2 == 0 {
            KernelVersion(6, 1)
        } else {
            KernelVersion(6, 18)
        };
        let (out, trace) = verifier_sim::verify::trace(&prog, &Target::new(Arch::X86_64, kernel));
        if out.result.is_err() {
            continue;
        }
        accepted += 1;
        let mut at_pc: Vec<Vec<&State>> = vec![Vec::new(); insns.len()];
        for (pc, s) in &trace {
            at_pc[*pc].push(s);
        }
        for run_no in 0..16 {
            let mut mem = memory(&mut g);
            let mut missing = None;
            let result = run(
                &insns,
                &mut mem,
                !hash || run_no % 4 != 0,
                &mut |pc, regs, stack| {
                    if missing.is_none() && !at_pc[pc].iter().any(|s| contains(s, regs, stack)) {
                        missing = Some((pc, *regs));
                    }
                    checked_states += 1;
                },
            );
            let listing = || probecc::disasm::program_text(&insns, probecc::Endian::Little);
            if let Some((pc, regs)) = missing {
                panic!(
                    "program {n} ({kernel}): at insn {pc} the registers {regs:x?} are in none of verifier-sim's {} states there:\n{:#?}\n{}",
                    at_pc[pc].len(),
                    at_pc[pc].iter().map(|s| s.frames[0].regs).collect::<Vec<_>>(),
                    listing()
                );
            }
            if let Err(f) = result {
                panic!(
                    "program {n} ({kernel}) was accepted but its run failed: {f}\n{}",
                    listing()
                );
            }
        }
    }
    eprintln!("{accepted} of {programs} accepted, {checked_states} concrete states checked");
    assert!(
        accepted > programs / 5,
        "only {accepted} of {programs} accepted: the programs test too little"
    );
    assert!(checked_states > 0);
}
