//! The assembler DSL: small constructor functions that read like the
//! instructions they make (the Rust counterpart of clj-ebpf's `dsl`
//! namespace and cilium/ebpf's `asm` package), symbolic labels, map
//! references by name and helper calls with argument set-up (one wrapper
//! per helper: `helper_calls`, re-exported here), all resolved in one
//! place, [`assemble`].
//!
//! A program is a `Vec<Op>`; constructors return one [`Op`], so programs are
//! written as `vec![...]` literals and joined with `concat()`. Nothing
//! panics: an undefined or duplicate label, a jump that does not fit its
//! offset field, a register that does not exist or a helper called with the
//! wrong number of arguments is an [`AsmError`] naming the op.

use std::collections::BTreeMap;

use crate::btf::core::access::FieldAccess;
use crate::btf::core::CoreKind;
use crate::helpers::Helper;
use crate::insn::{self, AluOp, AtomicOp, Cond, Insn, Reg, Size};
use crate::program::{FuncReloc, GlobalReloc, KsymReloc, LineInfo, MapReloc, Program};

mod helper_calls;
pub use helper_calls::*;

/// The registers, as bare names for DSL code: `mov(R0, 0)`.
pub mod regs {
    use crate::insn::Reg;
    pub const R0: Reg = Reg::R0;
    pub const R1: Reg = Reg::R1;
    pub const R2: Reg = Reg::R2;
    pub const R3: Reg = Reg::R3;
    pub const R4: Reg = Reg::R4;
    pub const R5: Reg = Reg::R5;
    pub const R6: Reg = Reg::R6;
    pub const R7: Reg = Reg::R7;
    pub const R8: Reg = Reg::R8;
    pub const R9: Reg = Reg::R9;
    pub const R10: Reg = Reg::R10;
    pub const FP: Reg = Reg::R10;
}

/// One element of a DSL program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A complete one-slot instruction.
    Insn(Insn),
    /// `dst = imm64` with a pseudo source (two slots).
    LdImm64 { dst: Reg, src: u8, imm: u64 },
    /// `dst = map` by name: an `ld_imm64` that the loader relocates.
    LoadMap { dst: Reg, map: String },
    /// `dst = &symbol`, a kernel symbol's address: an `ld_imm64` that the
    /// loader resolves.
    LoadKsym { dst: Reg, symbol: String },
    /// `dst = &global`, a read-only global's address: an `ld_imm64` that
    /// the loader relocates into its `.rodata` map.
    LoadGlobal { dst: Reg, global: String },
    /// `dst = &func`, a subprogram's address (a callback of
    /// `bpf_for_each_map_elem`): an `ld_imm64` with `BPF_PSEUDO_FUNC` that
    /// the loader relocates to the subprogram it appends.
    LoadFunc { dst: Reg, func: String },
    /// A jump whose offset is the distance to `target`.
    Jump { insn: Insn, target: String },
    /// A BPF-to-BPF call of the code at `target`.
    CallLocal { target: String },
    /// A helper call with its arguments, moved into r1..r5 by the assembler.
    HelperCall { helper: Helper, args: Vec<Arg> },
    /// Marks the position of a label.
    Label(String),
    /// The source line the following instructions come from.
    Source(SourceLine),
    /// A one-slot instruction holding a CO-RE relocated value (an ALU
    /// immediate or a memory offset) of a kernel struct field: the loader
    /// patches it for the running kernel.
    Core { insn: Insn, field: CoreField },
}

/// What a [`Op::Core`] instruction holds: `kind` of the field `access`
/// reaches (resolved on the compile's kernel BTF).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreField {
    pub access: FieldAccess,
    pub kind: CoreKind,
}

/// A source position for `.BTF.ext` line info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub text: String,
}

/// A helper argument, as the DSL's helper wrappers take it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// The value of a register.
    Reg(Reg),
    /// A constant.
    Imm(i64),
    /// A map, by name (loaded with `ld_imm64`).
    Map(String),
    /// A pointer to the stack: `r10 + off`.
    Stack(i16),
}

impl From<Reg> for Arg {
    fn from(r: Reg) -> Arg {
        Arg::Reg(r)
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Imm(v)
    }
}

impl From<i32> for Arg {
    fn from(v: i32) -> Arg {
        Arg::Imm(v.into())
    }
}

/// A map argument: `map_lookup_elem(map("counts"), stack(-8))`.
pub fn map(name: &str) -> Arg {
    Arg::Map(name.to_string())
}

/// A stack-pointer argument: `r10 + off`.
pub fn stack(off: i16) -> Arg {
    Arg::Stack(off)
}

/// What is wrong with a DSL program. `op` is the index in the op list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsmError {
    #[error("op {op}: jump to undefined label `{label}`")]
    UndefinedLabel { op: usize, label: String },
    #[error("op {op}: label `{label}` is defined twice (first at op {first})")]
    DuplicateLabel {
        op: usize,
        first: usize,
        label: String,
    },
    #[error("op {op}: jump to `{label}` spans {distance} instructions; a jump offset holds {min}..={max}")]
    JumpOutOfRange {
        op: usize,
        label: String,
        distance: i64,
        min: i64,
        max: i64,
    },
    #[error("op {op}: label `{label}` is at the end of the program, after the last instruction")]
    JumpPastEnd { op: usize, label: String },
    #[error("op {op}: {source}")]
    BadInsn { op: usize, source: insn::InsnError },
    #[error("op {op}: a 64-bit immediate load is two slots; use ld_imm64() instead of a raw instruction")]
    RawLdImm64 { op: usize },
    #[error("op {op}: register r{reg} does not exist (r0..r10)")]
    BadRegister { op: usize, reg: u8 },
    #[error("op {op}: {helper} takes {expected} arguments, {got} given")]
    HelperArity {
        op: usize,
        helper: Helper,
        expected: usize,
        got: usize,
    },
    #[error("op {op}: the arguments of {helper} form a register cycle ({regs}); move one through a scratch register first")]
    ArgCycle {
        op: usize,
        helper: Helper,
        regs: String,
    },
    #[error("op {op}: r10 is the read-only frame pointer and cannot be written")]
    WriteToFp { op: usize },
}

/// The result of [`assemble`]: instruction slots plus what the ELF writer
/// needs to know about them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Assembled {
    pub insns: Vec<Insn>,
    pub map_relocs: Vec<MapReloc>,
    pub ksym_relocs: Vec<KsymReloc>,
    pub global_relocs: Vec<GlobalReloc>,
    pub func_relocs: Vec<FuncReloc>,
    pub lines: Vec<LineInfo>,
    /// Each label's slot index.
    pub labels: BTreeMap<String, usize>,
    /// The CO-RE relocated instructions: (slot, field).
    pub core: Vec<(usize, CoreField)>,
}

impl Assembled {
    /// Wraps the code as a program with a function symbol and section.
    /// Its lists are cut to their length: an object keeps every program
    /// until it is written, and a list grown by doubling holds up to twice
    /// what it needs.
    pub fn into_program(self, name: &str, section: &str) -> Program {
        fn fitted<T>(mut v: Vec<T>) -> Vec<T> {
            v.shrink_to_fit();
            v
        }
        Program {
            name: name.to_string(),
            section: section.to_string(),
            insns: fitted(self.insns),
            map_relocs: fitted(self.map_relocs),
            ksym_relocs: fitted(self.ksym_relocs),
            global_relocs: fitted(self.global_relocs),
            func_relocs: fitted(self.func_relocs),
            lines: fitted(self.lines),
        }
    }
}

/// Resolves labels, map references and helper-call set-up: the one place
/// where symbolic ops become instruction slots.
pub fn assemble(ops: &[Op]) -> Result<Assembled, AsmError> {
    let flat = expand(ops)?;
    let labels = place_labels(&flat)?;
    emit(&flat, labels)
}

/// An op after helper calls are expanded, with its source index.
type Flat = Vec<(usize, Op)>;

fn expand(ops: &[Op]) -> Result<Flat, AsmError> {
    let mut flat = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::HelperCall { helper, args } => {
                for o in setup_args(i, *helper, args)? {
                    flat.push((i, o));
                }
                flat.push((i, Op::Insn(insn::call_helper(helper.id()))));
            }
            other => flat.push((i, other.clone())),
        }
    }
    Ok(flat)
}

/// Moves helper arguments into r1..rN, ordering the moves so that no
/// register is overwritten before it is read.
fn setup_args(op: usize, helper: Helper, args: &[Arg]) -> Result<Vec<Op>, AsmError> {
    let expected = helper.proto().args.len();
    if args.len() != expected {
        return Err(AsmError::HelperArity {
            op,
            helper,
            expected,
            got: args.len(),
        });
    }
    let mut pending: Vec<(Reg, &Arg)> = args
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let dst = Reg::new(i as u8 + 1)?;
            (a != &Arg::Reg(dst)).then_some((dst, a))
        })
        .collect();
    let mut out = Vec::new();
    while !pending.is_empty() {
        let read_later = |dst: Reg, pending: &[(Reg, &Arg)]| {
            pending
                .iter()
                .any(|(d, a)| *d != dst && matches!(a, Arg::Reg(r) if *r == dst))
        };
        let Some(pos) = pending
            .iter()
            .position(|(dst, _)| !read_later(*dst, &pending))
        else {
            let regs = pending
                .iter()
                .map(|(d, a)| format!("{d} <- {}", arg_text(a)))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(AsmError::ArgCycle { op, helper, regs });
        };
        let (dst, arg) = pending.remove(pos);
        out.extend(load_arg(dst, arg));
    }
    Ok(out)
}

fn arg_text(a: &Arg) -> String {
    match a {
        Arg::Reg(r) => r.to_string(),
        Arg::Imm(v) => v.to_string(),
        Arg::Map(m) => format!("map {m}"),
        Arg::Stack(o) => format!("r10{o:+}"),
    }
}

fn load_arg(dst: Reg, arg: &Arg) -> Vec<Op> {
    match arg {
        Arg::Reg(r) => vec![mov_reg(dst, *r)],
        Arg::Imm(v) => match i32::try_from(*v) {
            Ok(small) => vec![mov(dst, small)],
            Err(_) => vec![ld_imm64(dst, *v as u64)],
        },
        Arg::Map(m) => vec![ld_map(dst, m)],
        Arg::Stack(off) => vec![mov_reg(dst, Reg::R10), add(dst, i32::from(*off))],
    }
}

fn slots(op: &Op) -> usize {
    match op {
        Op::Insn(_) | Op::Jump { .. } | Op::CallLocal { .. } | Op::Core { .. } => 1,
        Op::LdImm64 { .. }
        | Op::LoadMap { .. }
        | Op::LoadKsym { .. }
        | Op::LoadGlobal { .. }
        | Op::LoadFunc { .. } => 2,
        Op::Label(_) | Op::Source(_) | Op::HelperCall { .. } => 0,
    }
}

fn place_labels(flat: &Flat) -> Result<BTreeMap<String, (usize, usize)>, AsmError> {
    let mut labels: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut pc = 0;
    for (i, op) in flat {
        if let Op::Label(name) = op {
            if let Some(&(_, first)) = labels.get(name) {
                return Err(AsmError::DuplicateLabel {
                    op: *i,
                    first,
                    label: name.clone(),
                });
            }
            labels.insert(name.clone(), (pc, *i));
        }
        pc += slots(op);
    }
    Ok(labels)
}

fn emit(flat: &Flat, labels: BTreeMap<String, (usize, usize)>) -> Result<Assembled, AsmError> {
    let total: usize = flat.iter().map(|(_, o)| slots(o)).sum();
    let mut out = Assembled {
        labels: labels.iter().map(|(k, (pc, _))| (k.clone(), *pc)).collect(),
        ..Assembled::default()
    };
    let target = |op: usize, label: &str| -> Result<usize, AsmError> {
        let &(pc, _) = labels.get(label).ok_or_else(|| AsmError::UndefinedLabel {
            op,
            label: label.to_string(),
        })?;
        if pc >= total {
            return Err(AsmError::JumpPastEnd {
                op,
                label: label.to_string(),
            });
        }
        Ok(pc)
    };
    for (i, op) in flat {
        let i = *i;
        let pc = out.insns.len();
        match op {
            Op::Insn(ins) => {
                if ins.is_ld_imm64() {
                    return Err(AsmError::RawLdImm64 { op: i });
                }
                ins.validate()
                    .map_err(|source| AsmError::BadInsn { op: i, source })?;
                check_writable(i, ins)?;
                out.insns.push(*ins);
            }
            Op::LdImm64 { dst, src, imm } => {
                out.insns.extend(insn::ld_imm64_pseudo(*dst, *src, *imm));
            }
            Op::LoadMap { dst, map } => {
                // As clang emits it: src 0, imm 0, and a relocation from which
                // the loader sets BPF_PSEUDO_MAP_FD and the map's fd.
                out.map_relocs.push(MapReloc {
                    insn: pc,
                    map: map.clone(),
                });
                out.insns.extend(insn::ld_imm64(*dst, 0));
            }
            Op::LoadKsym { dst, symbol } => {
                out.ksym_relocs.push(KsymReloc {
                    insn: pc,
                    symbol: symbol.clone(),
                });
                out.insns.extend(insn::ld_imm64(*dst, 0));
            }
            Op::LoadGlobal { dst, global } => {
                // As clang emits a `const volatile` global's address: src 0,
                // imm 0 and a relocation against its symbol.
                out.global_relocs.push(GlobalReloc {
                    insn: pc,
                    global: global.clone(),
                });
                out.insns.extend(insn::ld_imm64(*dst, 0));
            }
            Op::LoadFunc { dst, func } => {
                // As clang emits a callback's address: BPF_PSEUDO_FUNC, imm
                // 0, and a relocation against the function's symbol.
                out.func_relocs.push(FuncReloc {
                    insn: pc,
                    func: func.clone(),
                });
                out.insns
                    .extend(insn::ld_imm64_pseudo(*dst, insn::pseudo::FUNC, 0));
            }
            Op::Jump {
                insn: ins,
                target: label,
            } => {
                let distance = target(i, label)? as i64 - (pc as i64 + 1);
                out.insns.push(with_offset(i, *ins, label, distance)?);
            }
            Op::CallLocal { target: label } => {
                let distance = target(i, label)? as i64 - (pc as i64 + 1);
                let imm =
                    i32::try_from(distance).map_err(|_| out_of_range(i, label, distance, true))?;
                out.insns.push(insn::call_local(imm));
            }
            Op::Source(s) => out.lines.push(LineInfo {
                insn: pc,
                file: s.file.clone(),
                text: s.text.clone(),
                line: s.line,
                col: s.col,
            }),
            Op::Core { insn: ins, field } => {
                ins.validate()
                    .map_err(|source| AsmError::BadInsn { op: i, source })?;
                check_writable(i, ins)?;
                out.core.push((pc, field.clone()));
                out.insns.push(*ins);
            }
            Op::Label(_) | Op::HelperCall { .. } => {}
        }
    }
    Ok(out)
}

/// r10 may be read but never written: the kernel rejects `r10 = ...`
/// (`frame pointer is read only`).
fn check_writable(op: usize, ins: &Insn) -> Result<(), AsmError> {
    use crate::insn::class;
    let writes_dst = matches!(ins.class(), class::ALU | class::ALU64 | class::LDX);
    if writes_dst && ins.dst == 10 {
        return Err(AsmError::WriteToFp { op });
    }
    Ok(())
}

fn out_of_range(op: usize, label: &str, distance: i64, wide: bool) -> AsmError {
    let (min, max) = if wide {
        (i32::MIN as i64, i32::MAX as i64)
    } else {
        (i16::MIN as i64, i16::MAX as i64)
    };
    AsmError::JumpOutOfRange {
        op,
        label: label.to_string(),
        distance,
        min,
        max,
    }
}

fn with_offset(op: usize, mut ins: Insn, label: &str, distance: i64) -> Result<Insn, AsmError> {
    use crate::insn::{class, jmp};
    if ins.code == class::JMP32 | jmp::JA {
        ins.imm = i32::try_from(distance).map_err(|_| out_of_range(op, label, distance, true))?;
    } else {
        ins.off = i16::try_from(distance).map_err(|_| out_of_range(op, label, distance, false))?;
    }
    Ok(ins)
}

/// A register by number, for code that computes register numbers; an error
/// (not a panic) outside r0..r10.
pub fn reg(n: u8) -> Result<Reg, AsmError> {
    Reg::new(n).ok_or(AsmError::BadRegister { op: 0, reg: n })
}

// ---------------------------------------------------------------------------
// Constructors. Names follow clj-ebpf's DSL: `mov`, `mov_reg`, `add`,
// `load_mem`, `store_mem`, `jmp_imm`, `call`, `exit`; 32-bit forms end in 32,
// register-source forms in `_reg`.
// ---------------------------------------------------------------------------

/// `ins`, whose immediate or offset is `kind` of the kernel field `access`,
/// relocated by the loader (CO-RE).
pub fn core(ins: Insn, access: &FieldAccess, kind: CoreKind) -> Op {
    Op::Core {
        insn: ins,
        field: CoreField {
            access: access.clone(),
            kind,
        },
    }
}

/// A label at this position.
pub fn label(name: &str) -> Op {
    Op::Label(name.to_string())
}

/// A source-line marker for the instructions that follow.
pub fn source(file: &str, line: u32, col: u32, text: &str) -> Op {
    Op::Source(SourceLine {
        file: file.into(),
        line,
        col,
        text: text.into(),
    })
}

/// A raw instruction.
pub fn raw(ins: Insn) -> Op {
    Op::Insn(ins)
}

macro_rules! alu_ctors {
    ($($op:ident: $imm64:ident, $reg64:ident, $imm32:ident, $reg32:ident;)*) => {$(
        #[doc = concat!("`dst ", stringify!($op), "= imm` (64-bit).")]
        pub fn $imm64(dst: Reg, imm: i32) -> Op { Op::Insn(insn::alu64_imm(AluOp::$op, dst, imm)) }
        #[doc = concat!("`dst ", stringify!($op), "= src` (64-bit).")]
        pub fn $reg64(dst: Reg, src: Reg) -> Op { Op::Insn(insn::alu64_reg(AluOp::$op, dst, src)) }
        #[doc = concat!("`wdst ", stringify!($op), "= imm` (32-bit).")]
        pub fn $imm32(dst: Reg, imm: i32) -> Op { Op::Insn(insn::alu32_imm(AluOp::$op, dst, imm)) }
        #[doc = concat!("`wdst ", stringify!($op), "= wsrc` (32-bit).")]
        pub fn $reg32(dst: Reg, src: Reg) -> Op { Op::Insn(insn::alu32_reg(AluOp::$op, dst, src)) }
    )*};
}

alu_ctors! {
    Mov: mov, mov_reg, mov32, mov32_reg;
    Add: add, add_reg, add32, add32_reg;
    Sub: sub, sub_reg, sub32, sub32_reg;
    Mul: mul, mul_reg, mul32, mul32_reg;
    Div: div, div_reg, div32, div32_reg;
    SDiv: sdiv, sdiv_reg, sdiv32, sdiv32_reg;
    Mod: modulo, mod_reg, mod32, mod32_reg;
    SMod: smod, smod_reg, smod32, smod32_reg;
    And: and, and_reg, and32, and32_reg;
    Or: or, or_reg, or32, or32_reg;
    Xor: xor, xor_reg, xor32, xor32_reg;
    Lsh: lsh, lsh_reg, lsh32, lsh32_reg;
    Rsh: rsh, rsh_reg, rsh32, rsh32_reg;
    Arsh: arsh, arsh_reg, arsh32, arsh32_reg;
}

/// `dst = -dst`.
pub fn neg(dst: Reg) -> Op {
    Op::Insn(insn::neg64(dst))
}

/// `dst = (s8|s16|s32) src`, cpu v4.
pub fn movsx(dst: Reg, src: Reg, bits: i16) -> Op {
    Op::Insn(insn::movsx64(dst, src, bits))
}

/// `dst = be<bits> dst`: to big-endian.
pub fn to_be(dst: Reg, bits: i32) -> Op {
    Op::Insn(insn::to_be(dst, bits))
}

/// `dst = le<bits> dst`: to little-endian.
pub fn to_le(dst: Reg, bits: i32) -> Op {
    Op::Insn(insn::to_le(dst, bits))
}

/// `dst = bswap<bits> dst`, cpu v4.
pub fn bswap(dst: Reg, bits: i32) -> Op {
    Op::Insn(insn::bswap(dst, bits))
}

/// `dst = *(size *)(src + off)`.
pub fn load_mem(size: Size, dst: Reg, src: Reg, off: i16) -> Op {
    Op::Insn(insn::ldx(size, dst, src, off))
}

/// `dst = *(s<size> *)(src + off)`: sign-extending load, cpu v4.
pub fn load_mem_sx(size: Size, dst: Reg, src: Reg, off: i16) -> Op {
    Op::Insn(insn::ldxsx(size, dst, src, off))
}

/// `*(size *)(dst + off) = src`.
pub fn store_mem(size: Size, dst: Reg, off: i16, src: Reg) -> Op {
    Op::Insn(insn::stx(size, dst, off, src))
}

/// `*(size *)(dst + off) = imm`.
pub fn store_imm(size: Size, dst: Reg, off: i16, imm: i32) -> Op {
    Op::Insn(insn::st(size, dst, off, imm))
}

/// `lock *(size *)(dst + off) += src` and the other atomic operations.
pub fn atomic(size: Size, op: AtomicOp, dst: Reg, off: i16, src: Reg) -> Op {
    Op::Insn(insn::atomic_op(size, op, dst, off, src))
}

/// `lock *(size *)(dst + off) += src`.
pub fn atomic_add(size: Size, dst: Reg, off: i16, src: Reg) -> Op {
    atomic(size, AtomicOp::Add, dst, off, src)
}

/// `dst = imm64` (two slots).
pub fn ld_imm64(dst: Reg, imm: u64) -> Op {
    Op::LdImm64 {
        dst,
        src: insn::pseudo::NONE,
        imm,
    }
}

/// `dst = &symbol`: the address of a kernel symbol, an `ld_imm64`
/// relocated against an extern the loader resolves.
pub fn ld_ksym(dst: Reg, symbol: &str) -> Op {
    Op::LoadKsym {
        dst,
        symbol: symbol.to_string(),
    }
}

/// `dst = &global`: the address of a read-only global in `.rodata`, an
/// `ld_imm64` relocated against its symbol.
pub fn ld_global(dst: Reg, global: &str) -> Op {
    Op::LoadGlobal {
        dst,
        global: global.to_string(),
    }
}

/// `dst = &map`: an `ld_imm64` relocated against the map's symbol.
pub fn ld_map(dst: Reg, map: &str) -> Op {
    Op::LoadMap {
        dst,
        map: map.to_string(),
    }
}

/// `goto label`.
pub fn jmp(target: &str) -> Op {
    Op::Jump {
        insn: insn::ja(0),
        target: target.into(),
    }
}

/// `gotol label`: a jump with a 32-bit offset, cpu v4.
pub fn jmp_long(target: &str) -> Op {
    Op::Jump {
        insn: insn::gotol(0),
        target: target.into(),
    }
}

/// `if dst <cond> imm goto label` (64-bit compare).
pub fn jmp_imm(cond: Cond, dst: Reg, imm: i32, target: &str) -> Op {
    Op::Jump {
        insn: insn::jmp_imm(cond, dst, imm, 0),
        target: target.into(),
    }
}

/// `if dst <cond> src goto label` (64-bit compare).
pub fn jmp_reg(cond: Cond, dst: Reg, src: Reg, target: &str) -> Op {
    Op::Jump {
        insn: insn::jmp_reg(cond, dst, src, 0),
        target: target.into(),
    }
}

/// `if wdst <cond> imm goto label` (32-bit compare).
pub fn jmp32_imm(cond: Cond, dst: Reg, imm: i32, target: &str) -> Op {
    Op::Jump {
        insn: insn::jmp32_imm(cond, dst, imm, 0),
        target: target.into(),
    }
}

/// `if wdst <cond> wsrc goto label` (32-bit compare).
pub fn jmp32_reg(cond: Cond, dst: Reg, src: Reg, target: &str) -> Op {
    Op::Jump {
        insn: insn::jmp32_reg(cond, dst, src, 0),
        target: target.into(),
    }
}

/// Calls a helper whose arguments are already in r1..r5.
pub fn call(helper: Helper) -> Op {
    Op::Insn(insn::call_helper(helper.id()))
}

/// BPF-to-BPF call of the code at `target`.
pub fn call_fn(target: &str) -> Op {
    Op::CallLocal {
        target: target.into(),
    }
}

/// `exit`: return r0.
pub fn exit() -> Op {
    Op::Insn(insn::exit())
}

/// Calls `helper` with `args` moved into r1..r5 (the arity is checked
/// against the helper table when assembling).
pub fn helper_call(helper: Helper, args: Vec<Arg>) -> Op {
    Op::HelperCall { helper, args }
}

#[cfg(test)]
mod tests;
