//! Disassembly into the text `llvm-objdump -d` prints, so that probecc's
//! listings and LLVM's can be compared line by line.
//!
//! The reference is LLVM 19's `llvm-objdump -d --no-print-imm-hex` (checked
//! against the real tool, see the tests): every slot it decodes is printed
//! exactly as it prints it, including its quirks: register fields 0..=11
//! print as `rN`/`wN` and 12..=15 make the slot `<unknown>`; fields an
//! instruction does not use are ignored, while the `off` of an ALU operation
//! must be 0 unless it selects a variant (`s/=`, `s%=`, `movsx`,
//! `addr_space_cast`); `callx` takes its register from `dst`; an atomic's
//! operation is read from `imm` bits 7..4 and its fetch flag from bits 3..0
//! (exactly 1), the other bits ignored; a 32-bit non-fetch `lock` add prints
//! its source as `rN`; `ld_imm64` with a pseudo source prints as
//! `ld_pseudo\tr1, 1, 7` (the source field, then the low 32 bits of the
//! immediate). Jump targets are offsets only: the ` <sym+0x10>` suffix LLVM 19
//! appends is the caller's business (it depends on symbols).
//!
//! LLVM 19's default cpu (v1) does not know two families, which print as a
//! later LLVM prints them instead:
//! - 32-bit atomics other than the non-fetch add (`|=`, `&=`, `^=`,
//!   `atomic_fetch_*`, `xchg32_32`, `cmpxchg32_32`): `<unknown>` to LLVM 19
//!   by default, and a 32-bit `atomic_fetch_add` misread as `lock ... +=`;
//!   probecc prints them as `llvm-objdump-19 --mcpu=v4` (and LLVM 20+) does.
//! - `load_acquire`/`store_release` (`imm` 0x100/0x110, kernel 6.15, LLVM
//!   20+): `<unknown>` to LLVM 19, or for a 32/64-bit `load_acquire` misread
//!   as `lock ... +=` (LLVM 19 ignores `imm` bits above 7).

use std::fmt::Write as _;

use crate::insn::{alu, atomic, class, jmp, mode, size, src, Endian, Insn};

const UNKNOWN: &str = "<unknown>";

/// The text of the instruction at slot `idx` and how many slots it spans (2
/// for a complete `ld_imm64`, 1 otherwise, also for `<unknown>`).
pub fn insn_text(insns: &[Insn], idx: usize) -> (String, usize) {
    let Some(insn) = insns.get(idx) else {
        return (UNKNOWN.to_string(), 1);
    };
    if insn.is_ld_imm64() {
        return match insns
            .get(idx + 1)
            .and_then(|next| ld_imm64_text(insn, next))
        {
            Some(text) => (text, 2),
            None => (UNKNOWN.to_string(), 1),
        };
    }
    (
        one_slot_text(insn).unwrap_or_else(|| UNKNOWN.to_string()),
        1,
    )
}

/// One line of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// An instruction: its first slot, slot count, bytes and text.
    Insn {
        slot: usize,
        span: usize,
        bytes: Vec<u8>,
        text: String,
    },
    /// A run of all-zero slots, which `llvm-objdump` prints as `...`.
    Zeros { slot: usize, span: usize },
}

impl Line {
    /// The first slot of this line.
    pub fn slot(&self) -> usize {
        match self {
            Line::Insn { slot, .. } | Line::Zeros { slot, .. } => *slot,
        }
    }

    /// How many slots this line covers.
    pub fn span(&self) -> usize {
        match self {
            Line::Insn { span, .. } | Line::Zeros { span, .. } => *span,
        }
    }

    /// The line as `llvm-objdump -d` prints it, numbering slots from `base`
    /// (the slot of the function within its section). No newline.
    pub fn render(&self, base: usize) -> String {
        match self {
            Line::Zeros { .. } => "\t\t...".to_string(),
            Line::Insn {
                slot, bytes, text, ..
            } => {
                format!("{:>8}:\t{}\t{}", base + slot, hex_bytes(bytes), text)
            }
        }
    }
}

/// The listing of a program, line by line.
///
/// Runs of all-zero slots collapse into one [`Line::Zeros`], as in
/// `llvm-objdump`; unlike it, the run always ends on a slot boundary.
pub fn lines(insns: &[Insn], endian: Endian) -> Vec<Line> {
    let mut out = Vec::new();
    let mut idx = 0;
    while idx < insns.len() {
        let zeros = insns[idx..]
            .iter()
            .take_while(|i| **i == Insn::default())
            .count();
        if zeros > 0 {
            out.push(Line::Zeros {
                slot: idx,
                span: zeros,
            });
            idx += zeros;
            continue;
        }
        let (text, span) = insn_text(insns, idx);
        let bytes = crate::insn::encode_all(&insns[idx..idx + span], endian);
        out.push(Line::Insn {
            slot: idx,
            span,
            bytes,
            text,
        });
        idx += span;
    }
    out
}

/// The listing of a program in `llvm-objdump -d`'s layout, one line per
/// instruction: `{idx:>8}:\t{bytes}\t{text}\n`.
pub fn program_text(insns: &[Insn], endian: Endian) -> String {
    lines(insns, endian).iter().fold(String::new(), |mut s, l| {
        s.push_str(&l.render(0));
        s.push('\n');
        s
    })
}

/// The listing of every program of an object before it is written: for each,
/// `section <symbol>:`, its instructions as [`program_text`] prints them, and
/// its map relocations as `; reloc slot N -> map`, its read-only globals'
/// addresses as `; reloc slot N -> global name`, its kernel symbol
/// addresses as `; reloc slot N -> ksym sym`.
pub fn object_text(obj: &crate::program::Object) -> String {
    let mut text = String::new();
    for p in &obj.programs {
        text += &format!("\n{} <{}>:\n", p.section, p.name);
        text += &program_text(&p.insns, obj.arch.endian());
        for r in &p.map_relocs {
            text += &format!("; reloc slot {} -> {}\n", r.insn, r.map);
        }
        for r in &p.global_relocs {
            text += &format!("; reloc slot {} -> global {}\n", r.insn, r.global);
        }
        for r in &p.ksym_relocs {
            text += &format!("; reloc slot {} -> ksym {}\n", r.insn, r.symbol);
        }
        for r in obj.core.relocs().iter().filter(|r| r.program == p.name) {
            let listing = crate::btf::core::listing(r.kind.raw(), &r.field, &r.access);
            text += &format!("; reloc slot {} -> {listing}\n", r.insn);
        }
    }
    text
}

fn hex_bytes(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

// ---------------------------------------------------------------------------
// Operands
// ---------------------------------------------------------------------------

/// A register operand: LLVM's register class holds r0..r11.
fn reg(n: u8) -> Option<String> {
    (n <= 11).then(|| format!("r{n}"))
}

/// The 32-bit view of a register.
fn wreg(n: u8) -> Option<String> {
    (n <= 11).then(|| format!("w{n}"))
}

/// `rN` or `wN` by operand width.
fn reg_w(n: u8, wide: bool) -> Option<String> {
    if wide {
        reg(n)
    } else {
        wreg(n)
    }
}

/// `(r1 + 8)` / `(r10 - 4)`.
fn addr(base: u8, off: i16) -> Option<String> {
    let sign = if off < 0 { '-' } else { '+' };
    Some(format!(
        "({} {} {})",
        reg(base)?,
        sign,
        (off as i32).unsigned_abs()
    ))
}

/// `r1 + 8` / `r10 - 4` without parentheses (xchg/cmpxchg operands).
fn addr_bare(base: u8, off: i16) -> Option<String> {
    let a = addr(base, off)?;
    Some(a[1..a.len() - 1].to_string())
}

/// A jump distance: `+3`, `-5`, `+0`.
fn rel<T: Into<i64>>(off: T) -> String {
    format!("{:+}", off.into())
}

fn size_name(sz: u8) -> &'static str {
    match sz {
        size::B => "8",
        size::H => "16",
        size::W => "32",
        _ => "64",
    }
}

// ---------------------------------------------------------------------------
// Instruction classes
// ---------------------------------------------------------------------------

fn ld_imm64_text(first: &Insn, second: &Insn) -> Option<String> {
    if first.off != 0 {
        return None;
    }
    let dst = reg(first.dst)?;
    if first.src == 0 {
        let value = crate::insn::ld_imm64_value(first, second) as i64;
        Some(format!("{dst} = {value} ll"))
    } else {
        Some(format!(
            "ld_pseudo\t{dst}, {}, {}",
            first.src, first.imm as u32
        ))
    }
}

fn one_slot_text(i: &Insn) -> Option<String> {
    match i.class() {
        class::LD => ld_legacy(i),
        class::LDX => ldx(i),
        class::ST => st(i),
        class::STX => stx(i),
        class::ALU | class::ALU64 => alu_text(i),
        class::JMP | class::JMP32 => jmp_text(i),
        _ => None,
    }
}

/// The packet loads `LD | ABS` and `LD | IND` (no `DW` form).
fn ld_legacy(i: &Insn) -> Option<String> {
    if i.size() == size::DW {
        return None;
    }
    let bits = size_name(i.size());
    match i.mode() {
        mode::ABS => Some(format!("r0 = *(u{bits} *)skb[{}]", i.imm)),
        mode::IND => Some(format!("r0 = *(u{bits} *)skb[{}]", reg(i.src)?)),
        _ => None,
    }
}

fn ldx(i: &Insn) -> Option<String> {
    let bits = size_name(i.size());
    let (dst, a) = (reg(i.dst)?, addr(i.src, i.off)?);
    match i.mode() {
        mode::MEM => Some(format!("{dst} = *(u{bits} *){a}")),
        mode::MEMSX if i.size() != size::DW => Some(format!("{dst} = *(s{bits} *){a}")),
        _ => None,
    }
}

fn st(i: &Insn) -> Option<String> {
    if i.mode() != mode::MEM {
        return None;
    }
    Some(format!(
        "*(u{} *){} = {}",
        size_name(i.size()),
        addr(i.dst, i.off)?,
        i.imm
    ))
}

fn stx(i: &Insn) -> Option<String> {
    match i.mode() {
        mode::MEM => Some(format!(
            "*(u{} *){} = {}",
            size_name(i.size()),
            addr(i.dst, i.off)?,
            reg(i.src)?
        )),
        mode::ATOMIC => atomic_text(i),
        _ => None,
    }
}

/// `STX | ATOMIC`: the operation is in `imm`.
///
/// Like LLVM, reads the operation from bits 7..4 of `imm` and the fetch flag
/// from bits 3..0 (exactly 1), ignoring the other bits; only the exact values
/// of `load_acquire` and `store_release` are told apart.
fn atomic_text(i: &Insn) -> Option<String> {
    let sz = i.size();
    let wide = sz == size::DW;
    let ty = format!("u{}", size_name(sz));
    match i.imm {
        atomic::LOAD_ACQ => {
            return Some(format!(
                "{} = load_acquire(({ty} *){})",
                reg_w(i.dst, wide)?,
                addr(i.src, i.off)?
            ));
        }
        atomic::STORE_REL => {
            return Some(format!(
                "store_release(({ty} *){}, {})",
                addr(i.dst, i.off)?,
                reg_w(i.src, wide)?
            ));
        }
        _ if sz != size::W && sz != size::DW => return None,
        _ => {}
    }
    let a = addr(i.dst, i.off)?;
    let s = reg_w(i.src, wide)?;
    let op = i.imm & 0xf0;
    let fetch = i.imm & 0x0f == atomic::FETCH;
    let (sym, name) = match op {
        atomic::ADD => ("+=", "add"),
        atomic::OR => ("|=", "or"),
        atomic::AND => ("&=", "and"),
        atomic::XOR => ("^=", "xor"),
        _ if !fetch => return None,
        _ if op == atomic::XCHG & 0xf0 => {
            let suffix = if wide { "_64" } else { "32_32" };
            return Some(format!(
                "{s} = xchg{suffix}({}, {s})",
                addr_bare(i.dst, i.off)?
            ));
        }
        _ if op == atomic::CMPXCHG & 0xf0 => {
            let (suffix, r0) = if wide { ("_64", "r0") } else { ("32_32", "w0") };
            return Some(format!(
                "{r0} = cmpxchg{suffix}({}, {r0}, {s})",
                addr_bare(i.dst, i.off)?
            ));
        }
        _ => return None,
    };
    if fetch {
        Some(format!("{s} = atomic_fetch_{name}(({ty} *){a}, {s})"))
    } else if op == atomic::ADD && !wide {
        // LLVM's only 32-bit atomic without cpu v3: its source prints as `rN`.
        Some(format!("lock *({ty} *){a} += {}", reg(i.src)?))
    } else {
        Some(format!("lock *({ty} *){a} {sym} {s}"))
    }
}

fn alu_op_symbol(op: u8) -> Option<&'static str> {
    Some(match op {
        alu::ADD => "+=",
        alu::SUB => "-=",
        alu::MUL => "*=",
        alu::OR => "|=",
        alu::AND => "&=",
        alu::LSH => "<<=",
        alu::RSH => ">>=",
        alu::XOR => "^=",
        alu::ARSH => "s>>=",
        _ => return None,
    })
}

fn alu_text(i: &Insn) -> Option<String> {
    let wide = i.class() == class::ALU64;
    let by_reg = i.source() == src::X;
    let dst = reg_w(i.dst, wide)?;
    let operand = || {
        if by_reg {
            reg_w(i.src, wide)
        } else {
            Some(i.imm.to_string())
        }
    };
    match i.op() {
        // LLVM checks neither the `off` of `neg` nor that of the byte swaps.
        alu::NEG if !by_reg => Some(format!("{dst} = -{dst}")),
        alu::END => end_text(i, wide, by_reg),
        alu::MOV => mov_text(i, wide, by_reg, &dst),
        alu::DIV | alu::MOD => {
            let signed = match i.off {
                0 => "",
                1 => "s",
                _ => return None,
            };
            let sym = if i.op() == alu::DIV { "/=" } else { "%=" };
            Some(format!("{dst} {signed}{sym} {}", operand()?))
        }
        _ if i.off != 0 => None,
        op => Some(format!("{dst} {} {}", alu_op_symbol(op)?, operand()?)),
    }
}

/// `mov`, the sign-extending `movsx` of cpu v4 (`off` = source bits) and
/// `addr_space_cast` (`off` = 1, `imm` = destination address space << 16 |
/// source address space).
fn mov_text(i: &Insn, wide: bool, by_reg: bool, dst: &str) -> Option<String> {
    if !by_reg {
        return (i.off == 0).then(|| format!("{dst} = {}", i.imm));
    }
    let s = reg_w(i.src, wide)?;
    match (i.off, wide) {
        (0, _) => Some(format!("{dst} = {s}")),
        (1, true) => {
            let imm = i.imm as u32;
            Some(format!(
                "{dst} = addr_space_cast({s}, {}, {})",
                imm >> 16,
                imm & 0xffff
            ))
        }
        (8 | 16, _) | (32, true) => Some(format!("{dst} = (s{}){s}", i.off)),
        _ => None,
    }
}

/// Byte order conversions: `le`/`be` in the ALU class, `bswap` in ALU64.
fn end_text(i: &Insn, wide: bool, by_reg: bool) -> Option<String> {
    if !matches!(i.imm, 16 | 32 | 64) {
        return None;
    }
    let name = match (wide, by_reg) {
        (false, false) => "le",
        (false, true) => "be",
        (true, false) => "bswap",
        (true, true) => return None,
    };
    let r = reg(i.dst)?;
    Some(format!("{r} = {name}{} {r}", i.imm))
}

fn cond_symbol(op: u8) -> Option<&'static str> {
    Some(match op {
        jmp::JEQ => "==",
        jmp::JGT => ">",
        jmp::JGE => ">=",
        jmp::JSET => "&",
        jmp::JNE => "!=",
        jmp::JSGT => "s>",
        jmp::JSGE => "s>=",
        jmp::JLT => "<",
        jmp::JLE => "<=",
        jmp::JSLT => "s<",
        jmp::JSLE => "s<=",
        _ => return None,
    })
}

fn jmp_text(i: &Insn) -> Option<String> {
    let wide = i.class() == class::JMP;
    let by_reg = i.source() == src::X;
    match (i.op(), wide, by_reg) {
        (jmp::JA, true, false) => Some(format!("goto {}", rel(i.off))),
        (jmp::JA, false, false) => Some(format!("gotol {}", rel(i.imm))),
        (jmp::CALL, true, false) => Some(format!("call {}", i.imm)),
        // LLVM 19 takes callx's register from dst (LLVM 14 took it from imm).
        (jmp::CALL, true, true) => Some(format!("callx {}", reg(i.dst)?)),
        (jmp::EXIT, true, false) if i.imm == 0 => Some("exit".to_string()),
        (jmp::JCOND, true, false) => Some(format!("may_goto {}", rel(i.off))),
        (jmp::JA | jmp::CALL | jmp::EXIT | jmp::JCOND, _, _) => None,
        (op, _, _) => {
            let sym = cond_symbol(op)?;
            let dst = reg_w(i.dst, wide)?;
            let rhs = if by_reg {
                reg_w(i.src, wide)?
            } else {
                i.imm.to_string()
            };
            Some(format!("if {dst} {sym} {rhs} goto {}", rel(i.off)))
        }
    }
}

#[cfg(test)]
mod tests;
