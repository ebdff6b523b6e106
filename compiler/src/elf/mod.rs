//! ELF relocatable BPF objects, both ways: [`write()`] turns a
//! [`crate::program::Object`] into the bytes that libbpf, aya and cilium/ebpf
//! load; [`read()`] parses any BPF object (probecc's or clang's) back into
//! sections, functions with their instructions and relocations, map symbols,
//! the license and the raw `.BTF` / `.BTF.ext` bytes.
//!
//! What loaders require of an object (DESIGN.md) is written here and checked
//! on read: ELF64 relocatable, `e_machine = EM_BPF`, `SHT_REL` relocations,
//! one global `STT_FUNC` symbol with its size per program, `license` exactly
//! the text and one NUL.

mod read;
mod write;

pub use read::{byte_order, read, Function, MapSymbol, ObjectFile, Reloc, Section, Symbol};
pub use write::{write, write_with_btf};

use crate::insn::{Endian, InsnError};

/// The `object` crate's name for a byte order.
fn endianness(e: Endian) -> object::Endianness {
    match e {
        Endian::Little => object::Endianness::Little,
        Endian::Big => object::Endianness::Big,
    }
}

/// `e_machine` of BPF objects.
pub const EM_BPF: u16 = 247;

/// A BPF relocation type (`R_BPF_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelocKind {
    /// `R_BPF_64_64` (1): the 64-bit immediate of an `ld_imm64` (maps, globals).
    Imm64,
    /// `R_BPF_64_ABS64` (2): a 64-bit data word (DWARF).
    Abs64,
    /// `R_BPF_64_ABS32` (3): a 32-bit data word (DWARF, `.BTF`).
    Abs32,
    /// `R_BPF_64_NODYLD32` (4): a 32-bit word the loader leaves alone (`.BTF.ext`).
    NoDyld32,
    /// `R_BPF_64_32` (10): the immediate of a `call` (BPF-to-BPF calls).
    Call32,
    /// Any other type number.
    Other(u32),
}

impl RelocKind {
    pub fn from_raw(r_type: u32) -> RelocKind {
        match r_type {
            1 => RelocKind::Imm64,
            2 => RelocKind::Abs64,
            3 => RelocKind::Abs32,
            4 => RelocKind::NoDyld32,
            10 => RelocKind::Call32,
            n => RelocKind::Other(n),
        }
    }

    pub fn raw(self) -> u32 {
        match self {
            RelocKind::Imm64 => 1,
            RelocKind::Abs64 => 2,
            RelocKind::Abs32 => 3,
            RelocKind::NoDyld32 => 4,
            RelocKind::Call32 => 10,
            RelocKind::Other(n) => n,
        }
    }

    /// The name `llvm-objdump -r` prints.
    pub fn name(self) -> String {
        match self {
            RelocKind::Imm64 => "R_BPF_64_64".into(),
            RelocKind::Abs64 => "R_BPF_64_ABS64".into(),
            RelocKind::Abs32 => "R_BPF_64_ABS32".into(),
            RelocKind::NoDyld32 => "R_BPF_64_NODYLD32".into(),
            RelocKind::Call32 => "R_BPF_64_32".into(),
            RelocKind::Other(n) => format!("R_BPF_{n}"),
        }
    }
}

/// What is wrong with an object being written or read.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    // --- writing ---
    #[error("encoding BTF")]
    Btf(#[from] crate::btf::BtfError),
    #[error("program `{0}` has no instructions")]
    EmptyProgram(String),
    #[error("symbol `{0}` is defined twice (program and map names share one namespace)")]
    DuplicateSymbol(String),
    #[error(
        "program `{program}`: slot {slot} refers to map `{map}`, which the object does not define"
    )]
    UnknownMap {
        program: String,
        slot: usize,
        map: String,
    },
    #[error(
        "program `{program}`: slot {slot} loads the global `{global}`, which the object does not define"
    )]
    UnknownGlobal {
        program: String,
        slot: usize,
        global: String,
    },
    #[error(
        "program `{program}`: slot {slot} loads the address of `{func}`, which is no subprogram of the object"
    )]
    UnknownFunc {
        program: String,
        slot: usize,
        func: String,
    },
    #[error(
        "program `{program}`: map relocation at slot {slot} is not on an ld_imm64 instruction"
    )]
    MapRelocNotLdImm64 { program: String, slot: usize },
    #[error("map `{0}` has no slot in the BTF `.maps` section")]
    MapWithoutBtf(String),
    #[error("license {0:?} contains a NUL byte")]
    LicenseNul(String),
    #[error("writing ELF")]
    Write(#[from] object::write::Error),

    // --- reading ---
    #[error("file is {len} bytes, too short for {what} (needs {need})")]
    Truncated {
        what: &'static str,
        need: u64,
        len: usize,
    },
    #[error("not an ELF file (bad magic)")]
    NotElf,
    #[error("ELF class {0} is not ELF64")]
    NotElf64(u8),
    #[error("ELF data encoding {0} is neither LSB (1) nor MSB (2)")]
    BadByteOrder(u8),
    #[error("ELF header: {0}")]
    BadHeader(String),
    #[error("e_machine is {0}, not EM_BPF (247)")]
    WrongMachine(u16),
    #[error("the header says {0}, but e_machine reads EM_BPF only in the other byte order: e_ident[EI_DATA] is wrong")]
    ContradictoryByteOrder(&'static str),
    #[error("e_type is {0}, not ET_REL (1): not a relocatable object")]
    NotRelocatable(u16),
    #[error("section header table: {0}")]
    SectionTable(String),
    #[error("section #{index}: cannot read its name: {reason}")]
    SectionName { index: usize, reason: String },
    #[error("section `{section}` extends past end of file (offset {offset} + size {size} > {len} bytes)")]
    SectionPastEnd {
        section: String,
        offset: u64,
        size: u64,
        len: usize,
    },
    #[error("symbol table: {0}")]
    SymbolTable(String),
    #[error("symbol #{index}: cannot read its name: {reason}")]
    SymbolName { index: usize, reason: String },
    #[error("symbol `{symbol}` refers to section #{index}, which does not exist")]
    SymbolSection { symbol: String, index: usize },
    #[error("symbol `{symbol}` (value {value}, size {size}) extends past section `{section}` ({section_size} bytes)")]
    SymbolPastSection {
        symbol: String,
        section: String,
        value: u64,
        size: u64,
        section_size: u64,
    },
    #[error("function `{symbol}` in section `{section}` is not on 8-byte instruction boundaries (value {value}, size {size})")]
    FunctionMisaligned {
        symbol: String,
        section: String,
        value: u64,
        size: u64,
    },
    #[error("section `{section}`: {source}")]
    Instructions { section: String, source: InsnError },
    #[error("relocation section `{section}`: {reason}")]
    RelocSection { section: String, reason: String },
    #[error("relocation in `{section}` at offset {offset}: symbol #{index} does not exist")]
    RelocSymbol {
        section: String,
        offset: u64,
        index: u32,
    },
    #[error("relocation {kind} against `{symbol}` at offset {offset} lies outside section `{section}` ({size} bytes)")]
    RelocPastSection {
        section: String,
        offset: u64,
        size: u64,
        kind: String,
        symbol: String,
    },
    #[error("relocation {kind} against `{symbol}` at offset {offset} of `{section}` is not on an instruction of any function")]
    RelocOutsideFunction {
        section: String,
        offset: u64,
        kind: String,
        symbol: String,
    },
    #[error("relocation {kind} against `{symbol}` at offset {offset} of `{section}` is on {found}, not {expected}")]
    RelocWrongSlot {
        section: String,
        offset: u64,
        kind: String,
        symbol: String,
        expected: &'static str,
        found: String,
    },
    #[error("section `version` is {0} bytes, not 4")]
    BadVersion(u64),
}

#[cfg(test)]
mod tests;
