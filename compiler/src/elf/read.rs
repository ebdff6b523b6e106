//! The ELF reader: parses any BPF relocatable object, probecc's or clang's,
//! into sections, symbols, functions (each executable section split at its
//! `STT_FUNC` symbols) with decoded instructions and relocations, the map
//! symbols of `.maps`, the license and the raw BTF.
//!
//! Every offset and size is checked against the file, its section and the
//! instruction it relocates before it is used, so that a corrupt object is an
//! [`ElfError`] naming the section, symbol or offset, never a panic.

use std::collections::BTreeMap;

use object::elf::{FileHeader64, SectionHeader64, Sym64};
use object::read::elf::{
    FileHeader, Rel as _, Rela as _, SectionHeader as _, SectionTable, Sym as _,
};
use object::read::{SectionIndex, SymbolIndex};
use object::{elf, Endianness};

use super::{endianness, ElfError, RelocKind, EM_BPF};
use crate::insn::{decode_all, Endian, Insn};

/// Offsets of the class and data bytes in `e_ident`.
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;

type Sections<'a> = SectionTable<'a, FileHeader64<Endianness>, &'a [u8]>;

/// Everything probecc reads from a BPF object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectFile {
    pub endian: Endian,
    /// Every section header, index 0 (the null section) included.
    pub sections: Vec<Section>,
    /// Every symbol of `.symtab`, index 0 included.
    pub symbols: Vec<Symbol>,
    /// The functions of every executable section, in section then offset order.
    pub programs: Vec<Function>,
    /// The symbols of `.maps`.
    pub maps: Vec<MapSymbol>,
    /// The raw contents of `license`.
    pub license: Option<Vec<u8>>,
    /// The value of a 4-byte `version` section.
    pub version: Option<u32>,
    pub btf: Option<Vec<u8>>,
    pub btf_ext: Option<Vec<u8>>,
}

/// One section header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub index: usize,
    pub name: String,
    pub sh_type: u32,
    pub flags: u64,
    pub offset: u64,
    pub size: u64,
    pub align: u64,
}

/// One symbol of the symbol table. Section symbols carry their section's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    /// `STT_*`.
    pub kind: u8,
    /// `STB_*`.
    pub bind: u8,
    /// The index of a defining section; `None` for undefined, absolute or
    /// common symbols.
    pub section: Option<usize>,
    pub value: u64,
    pub size: u64,
}

/// One function of an executable section: a program or a subprogram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// The `STT_FUNC` symbol, or the section name if the section has none.
    pub name: String,
    pub section: String,
    pub section_index: usize,
    /// Byte offset of the first instruction in the section.
    pub offset: u64,
    /// Whether the symbol is global (a loader's entry point) rather than local.
    pub global: bool,
    pub insns: Vec<Insn>,
    /// Relocations on this function's instructions, in offset order.
    pub relocs: Vec<Reloc>,
}

impl Function {
    /// The slot index of the first instruction in its section.
    pub fn first_slot(&self) -> usize {
        (self.offset / Insn::SIZE as u64) as usize
    }
}

/// A relocation on an instruction of a function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloc {
    /// The slot within the function.
    pub insn: usize,
    /// The byte offset within the section.
    pub offset: u64,
    pub symbol: String,
    pub kind: RelocKind,
}

/// A map's symbol in `.maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSymbol {
    pub name: String,
    pub offset: u64,
    pub size: u64,
}

impl ObjectFile {
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The function named `name`.
    pub fn program(&self, name: &str) -> Option<&Function> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The license text up to its first NUL.
    pub fn license_text(&self) -> Option<String> {
        let bytes = self.license.as_ref()?;
        let text = bytes.split(|b| *b == 0).next().unwrap_or_default();
        Some(String::from_utf8_lossy(text).into_owned())
    }
}

impl Symbol {
    /// A named `NOTYPE`, `OBJECT` or `FUNC` symbol: what `llvm-objdump` names
    /// addresses after (functions, and clang's `LBB` labels).
    pub fn names_address(&self) -> bool {
        !self.name.is_empty()
            && matches!(self.kind, elf::STT_NOTYPE | elf::STT_OBJECT | elf::STT_FUNC)
    }
}

impl Section {
    pub fn is_code(&self) -> bool {
        self.sh_type == elf::SHT_PROGBITS && self.flags & u64::from(elf::SHF_EXECINSTR) != 0
    }

    /// The `SHT_*` name, as `readelf` spells it.
    pub fn type_name(&self) -> String {
        match self.sh_type {
            elf::SHT_NULL => "NULL".into(),
            elf::SHT_PROGBITS => "PROGBITS".into(),
            elf::SHT_SYMTAB => "SYMTAB".into(),
            elf::SHT_STRTAB => "STRTAB".into(),
            elf::SHT_RELA => "RELA".into(),
            elf::SHT_NOBITS => "NOBITS".into(),
            elf::SHT_REL => "REL".into(),
            elf::SHT_NOTE => "NOTE".into(),
            0x6fff4c03 => "LLVM_ADDRSIG".into(),
            t => format!("0x{t:x}"),
        }
    }
}

/// The byte order of a BPF relocatable object, from its ELF header alone.
pub fn byte_order(bytes: &[u8]) -> Result<Endian, ElfError> {
    let endian = check_ident(bytes)?;
    check_type(header(bytes)?, endianness(endian))?;
    Ok(endian)
}

fn header(bytes: &[u8]) -> Result<&FileHeader64<Endianness>, ElfError> {
    FileHeader64::<Endianness>::parse(bytes).map_err(|e| ElfError::BadHeader(e.to_string()))
}

/// Parses a BPF relocatable object.
pub fn read(bytes: &[u8]) -> Result<ObjectFile, ElfError> {
    let endian = byte_order(bytes)?;
    let header = header(bytes)?;
    let e = endianness(endian);
    let table = section_table(header, e, bytes)?;
    let sections = read_sections(&table, e, bytes)?;
    let symbols = read_symbols(&table, e, bytes, &sections)?;
    let relocs = read_code_relocs(&table, e, bytes, &sections, &symbols)?;
    let programs = read_functions(&table, e, bytes, &sections, &symbols, relocs, endian)?;
    Ok(ObjectFile {
        endian,
        maps: map_symbols(&sections, &symbols),
        license: named_data(&table, e, bytes, &sections, "license")?,
        version: version(&table, e, bytes, &sections)?,
        btf: named_data(&table, e, bytes, &sections, ".BTF")?,
        btf_ext: named_data(&table, e, bytes, &sections, ".BTF.ext")?,
        sections,
        symbols,
        programs,
    })
}

/// Magic, class and byte order, from the raw identification bytes.
fn check_ident(bytes: &[u8]) -> Result<Endian, ElfError> {
    let header_len = std::mem::size_of::<FileHeader64<Endianness>>();
    if bytes.len() < 4 || bytes[..4] != elf::ELFMAG {
        return Err(ElfError::NotElf);
    }
    if bytes.len() < header_len {
        return Err(ElfError::Truncated {
            what: "the ELF header",
            need: header_len as u64,
            len: bytes.len(),
        });
    }
    if bytes[EI_CLASS] != elf::ELFCLASS64 {
        return Err(ElfError::NotElf64(bytes[EI_CLASS]));
    }
    match bytes[EI_DATA] {
        elf::ELFDATA2LSB => Ok(Endian::Little),
        elf::ELFDATA2MSB => Ok(Endian::Big),
        other => Err(ElfError::BadByteOrder(other)),
    }
}

fn check_type(header: &FileHeader64<Endianness>, e: Endianness) -> Result<(), ElfError> {
    let machine = header.e_machine(e);
    if machine.swap_bytes() == EM_BPF {
        let said = if e == Endianness::Little {
            "little-endian"
        } else {
            "big-endian"
        };
        return Err(ElfError::ContradictoryByteOrder(said));
    }
    if machine != EM_BPF {
        return Err(ElfError::WrongMachine(machine));
    }
    let ty = header.e_type(e);
    if ty != elf::ET_REL {
        return Err(ElfError::NotRelocatable(ty));
    }
    Ok(())
}

fn section_table<'a>(
    header: &'a FileHeader64<Endianness>,
    e: Endianness,
    bytes: &'a [u8],
) -> Result<Sections<'a>, ElfError> {
    let (off, num) = (header.e_shoff(e), u64::from(header.e_shnum(e)));
    let entsize = u64::from(header.e_shentsize(e));
    if off != 0 && entsize != std::mem::size_of::<SectionHeader64<Endianness>>() as u64 {
        return Err(ElfError::SectionTable(format!(
            "entry size {entsize}, not 64"
        )));
    }
    let end = off.checked_add(num.saturating_mul(entsize));
    if end.is_none_or(|end| end > bytes.len() as u64) {
        return Err(ElfError::SectionTable(format!(
            "{num} entries at offset {off} extend past end of file ({} bytes)",
            bytes.len()
        )));
    }
    header
        .sections(e, bytes)
        .map_err(|err| ElfError::SectionTable(err.to_string()))
}

fn read_sections(
    table: &Sections<'_>,
    e: Endianness,
    bytes: &[u8],
) -> Result<Vec<Section>, ElfError> {
    let mut out = Vec::with_capacity(table.len());
    for (index, sh) in table.iter().enumerate() {
        let name = table
            .section_name(e, sh)
            .map_err(|err| ElfError::SectionName {
                index,
                reason: err.to_string(),
            })?;
        let section = Section {
            index,
            name: String::from_utf8_lossy(name).into_owned(),
            sh_type: sh.sh_type(e),
            flags: sh.sh_flags(e),
            offset: sh.sh_offset(e),
            size: sh.sh_size(e),
            align: sh.sh_addralign(e),
        };
        let past_end = section
            .offset
            .checked_add(section.size)
            .is_none_or(|end| end > bytes.len() as u64);
        if section.sh_type != elf::SHT_NOBITS && section.sh_type != elf::SHT_NULL && past_end {
            return Err(ElfError::SectionPastEnd {
                section: section.name,
                offset: section.offset,
                size: section.size,
                len: bytes.len(),
            });
        }
        out.push(section);
    }
    Ok(out)
}

/// The data of section `index`, already checked to lie inside the file.
fn section_data<'a>(
    table: &Sections<'a>,
    e: Endianness,
    bytes: &'a [u8],
    sections: &[Section],
    index: usize,
) -> Result<&'a [u8], ElfError> {
    let name = || {
        sections
            .get(index)
            .map_or_else(|| format!("#{index}"), |s| s.name.clone())
    };
    let sh = table
        .section(SectionIndex(index))
        .map_err(|err| ElfError::SectionTable(format!("section {}: {err}", name())))?;
    sh.data(e, bytes).map_err(|_| ElfError::SectionPastEnd {
        section: name(),
        offset: sh.sh_offset(e),
        size: sh.sh_size(e),
        len: bytes.len(),
    })
}

fn read_symbols(
    table: &Sections<'_>,
    e: Endianness,
    bytes: &[u8],
    sections: &[Section],
) -> Result<Vec<Symbol>, ElfError> {
    let Some(symtab) = sections.iter().find(|s| s.sh_type == elf::SHT_SYMTAB) else {
        return Ok(Vec::new());
    };
    let entsize = std::mem::size_of::<Sym64<Endianness>>() as u64;
    if symtab.size % entsize != 0 {
        return Err(ElfError::SymbolTable(format!(
            "size {} is not a multiple of {entsize}",
            symtab.size
        )));
    }
    let st = table
        .symbols(e, bytes, elf::SHT_SYMTAB)
        .map_err(|err| ElfError::SymbolTable(err.to_string()))?;
    let mut out = Vec::with_capacity(st.len());
    for (index, sym) in st.iter().enumerate() {
        let raw_name = st.symbol_name(e, sym).map_err(|err| ElfError::SymbolName {
            index,
            reason: err.to_string(),
        })?;
        // Past 65,279 sections a symbol's section index is in
        // `.symtab_shndx` (`kprobe:*` on a whole kernel makes that many).
        let section = st
            .symbol_section(e, sym, SymbolIndex(index))
            .map_err(|err| ElfError::SymbolTable(format!("symbol {index}: {err}")))?;
        let mut symbol = Symbol {
            name: String::from_utf8_lossy(raw_name).into_owned(),
            kind: sym.st_type(),
            bind: sym.st_bind(),
            section: section.map(|s| s.0),
            value: sym.st_value(e),
            size: sym.st_size(e),
        };
        check_symbol(&mut symbol, sections)?;
        out.push(symbol);
    }
    Ok(out)
}

/// The section exists, and a function's or object's bytes lie inside it.
/// Section symbols take their section's name.
fn check_symbol(symbol: &mut Symbol, sections: &[Section]) -> Result<(), ElfError> {
    let Some(index) = symbol.section else {
        return Ok(());
    };
    let Some(section) = sections.get(index) else {
        return Err(ElfError::SymbolSection {
            symbol: symbol.name.clone(),
            index,
        });
    };
    if symbol.kind == elf::STT_SECTION {
        symbol.name = section.name.clone();
        return Ok(());
    }
    let end = symbol.value.checked_add(symbol.size);
    if end.is_none_or(|end| end > section.size) {
        return Err(ElfError::SymbolPastSection {
            symbol: symbol.name.clone(),
            section: section.name.clone(),
            value: symbol.value,
            size: symbol.size,
            section_size: section.size,
        });
    }
    Ok(())
}

/// A relocation as read, before it is attached to a function.
struct RawReloc {
    offset: u64,
    symbol: String,
    kind: RelocKind,
}

/// The relocations of every executable section, by section index, checked
/// to lie inside it and sorted by offset.
fn read_code_relocs(
    table: &Sections<'_>,
    e: Endianness,
    bytes: &[u8],
    sections: &[Section],
    symbols: &[Symbol],
) -> Result<BTreeMap<usize, Vec<RawReloc>>, ElfError> {
    let mut out: BTreeMap<usize, Vec<RawReloc>> = BTreeMap::new();
    for (index, sh) in table.iter().enumerate() {
        let ty = sh.sh_type(e);
        if ty != elf::SHT_REL && ty != elf::SHT_RELA {
            continue;
        }
        let rel_name = &sections[index].name;
        let target = sh.sh_info(e) as usize;
        let Some(target_section) = sections.get(target) else {
            return Err(ElfError::RelocSection {
                section: rel_name.clone(),
                reason: format!("applies to section #{target}, which does not exist"),
            });
        };
        if !target_section.is_code() {
            continue;
        }
        let entries = rel_entries(table, e, bytes, sections, index, ty)?;
        let list = out.entry(target).or_default();
        for (offset, sym, r_type) in entries {
            list.push(raw_reloc(target_section, offset, sym, r_type, symbols)?);
        }
        list.sort_by_key(|r| r.offset);
    }
    Ok(out)
}

/// `(r_offset, r_sym, r_type)` of each entry of a REL or RELA section.
fn rel_entries(
    table: &Sections<'_>,
    e: Endianness,
    bytes: &[u8],
    sections: &[Section],
    index: usize,
    ty: u32,
) -> Result<Vec<(u64, u32, u32)>, ElfError> {
    let bad = |reason: String| ElfError::RelocSection {
        section: sections[index].name.clone(),
        reason,
    };
    let sh = table
        .section(SectionIndex(index))
        .map_err(|err| bad(err.to_string()))?;
    section_data(table, e, bytes, sections, index)?;
    if ty == elf::SHT_REL {
        let rels = sh
            .rel(e, bytes)
            .map_err(|err| bad(err.to_string()))?
            .map_or(&[][..], |(r, _)| r);
        Ok(rels
            .iter()
            .map(|r| (r.r_offset(e), r.r_sym(e), r.r_type(e)))
            .collect())
    } else {
        let relas = sh
            .rela(e, bytes)
            .map_err(|err| bad(err.to_string()))?
            .map_or(&[][..], |(r, _)| r);
        Ok(relas
            .iter()
            .map(|r| (r.r_offset(e), r.r_sym(e, false), r.r_type(e, false)))
            .collect())
    }
}

fn raw_reloc(
    target: &Section,
    offset: u64,
    sym: u32,
    r_type: u32,
    symbols: &[Symbol],
) -> Result<RawReloc, ElfError> {
    let kind = RelocKind::from_raw(r_type);
    let Some(symbol) = symbols.get(sym as usize) else {
        return Err(ElfError::RelocSymbol {
            section: target.name.clone(),
            offset,
            index: sym,
        });
    };
    let width = if kind == RelocKind::Imm64 {
        16
    } else {
        Insn::SIZE as u64
    };
    if offset
        .checked_add(width)
        .is_none_or(|end| end > target.size)
    {
        return Err(ElfError::RelocPastSection {
            section: target.name.clone(),
            offset,
            size: target.size,
            kind: kind.name(),
            symbol: symbol.name.clone(),
        });
    }
    Ok(RawReloc {
        offset,
        symbol: symbol.name.clone(),
        kind,
    })
}

/// A function's extent in its section before its code is decoded.
struct Extent {
    name: String,
    global: bool,
    start: u64,
    end: u64,
}

fn read_functions(
    table: &Sections<'_>,
    e: Endianness,
    bytes: &[u8],
    sections: &[Section],
    symbols: &[Symbol],
    mut relocs: BTreeMap<usize, Vec<RawReloc>>,
    endian: Endian,
) -> Result<Vec<Function>, ElfError> {
    // The function symbols of each section, gathered in one pass (an
    // object has a section per program: a pass per section would cost the
    // square of the programs).
    let mut funcs: BTreeMap<usize, Vec<&Symbol>> = BTreeMap::new();
    for s in symbols.iter().filter(|s| s.kind == elf::STT_FUNC) {
        if let Some(section) = s.section {
            funcs.entry(section).or_default().push(s);
        }
    }
    let mut out = Vec::new();
    for section in sections.iter().filter(|s| s.is_code()) {
        let data = section_data(table, e, bytes, sections, section.index)?;
        let insns = decode_all(data, endian).map_err(|source| ElfError::Instructions {
            section: section.name.clone(),
            source,
        })?;
        let extents = function_extents(section, funcs.remove(&section.index).unwrap_or_default())?;
        let section_relocs = relocs.remove(&section.index).unwrap_or_default();
        let mut functions = split(section, &insns, &extents);
        attach_relocs(section, &mut functions, section_relocs)?;
        out.extend(functions);
    }
    Ok(out)
}

/// The functions of a code section: its `STT_FUNC` symbols (`funcs`) in
/// offset order (a size of 0 runs to the next function), or the whole
/// section named after itself if it has none (and is not empty, like
/// clang's unused `.text`).
fn function_extents(section: &Section, mut funcs: Vec<&Symbol>) -> Result<Vec<Extent>, ElfError> {
    funcs.sort_by_key(|s| (s.value, s.bind != elf::STB_GLOBAL));
    funcs.dedup_by_key(|s| s.value);
    if funcs.is_empty() && section.size == 0 {
        return Ok(Vec::new());
    }
    if funcs.is_empty() {
        let name = section.name.clone();
        return Ok(vec![Extent {
            name,
            global: true,
            start: 0,
            end: section.size,
        }]);
    }
    let slot = Insn::SIZE as u64;
    let mut out = Vec::with_capacity(funcs.len());
    for (i, f) in funcs.iter().enumerate() {
        if f.value % slot != 0 || f.size % slot != 0 {
            return Err(ElfError::FunctionMisaligned {
                symbol: f.name.clone(),
                section: section.name.clone(),
                value: f.value,
                size: f.size,
            });
        }
        let next = funcs.get(i + 1).map_or(section.size, |n| n.value);
        let end = if f.size == 0 { next } else { f.value + f.size };
        let global = f.bind == elf::STB_GLOBAL || f.bind == elf::STB_WEAK;
        out.push(Extent {
            name: f.name.clone(),
            global,
            start: f.value,
            end,
        });
    }
    Ok(out)
}

fn split(section: &Section, insns: &[Insn], extents: &[Extent]) -> Vec<Function> {
    let slot = Insn::SIZE as u64;
    extents
        .iter()
        .map(|x| {
            let (a, b) = ((x.start / slot) as usize, (x.end / slot) as usize);
            Function {
                name: x.name.clone(),
                section: section.name.clone(),
                section_index: section.index,
                offset: x.start,
                global: x.global,
                insns: insns
                    .get(a..b.min(insns.len()))
                    .unwrap_or_default()
                    .to_vec(),
                relocs: Vec::new(),
            }
        })
        .collect()
}

/// Gives each relocation to the function it lies in, checking that map and
/// call relocations sit on `ld_imm64` and `call` instructions.
fn attach_relocs(
    section: &Section,
    functions: &mut [Function],
    relocs: Vec<RawReloc>,
) -> Result<(), ElfError> {
    for r in relocs {
        let slot_bytes = Insn::SIZE as u64;
        let function = functions.iter_mut().find(|f| {
            let end = f.offset + (f.insns.len() as u64) * slot_bytes;
            r.offset >= f.offset && r.offset < end && (r.offset - f.offset) % slot_bytes == 0
        });
        let Some(f) = function else {
            return Err(ElfError::RelocOutsideFunction {
                section: section.name.clone(),
                offset: r.offset,
                kind: r.kind.name(),
                symbol: r.symbol,
            });
        };
        let insn = ((r.offset - f.offset) / slot_bytes) as usize;
        check_reloc_slot(section, f, insn, &r)?;
        f.relocs.push(Reloc {
            insn,
            offset: r.offset,
            symbol: r.symbol,
            kind: r.kind,
        });
    }
    Ok(())
}

fn check_reloc_slot(
    section: &Section,
    f: &Function,
    insn: usize,
    r: &RawReloc,
) -> Result<(), ElfError> {
    let at = f.insns.get(insn);
    let (ok, expected) = match r.kind {
        RelocKind::Imm64 => (
            at.is_some_and(Insn::is_ld_imm64) && insn + 1 < f.insns.len(),
            "an ld_imm64",
        ),
        RelocKind::Call32 => (at.is_some_and(Insn::is_call), "a call"),
        _ => (true, ""),
    };
    if ok {
        return Ok(());
    }
    let found = match at {
        Some(i) if i.is_ld_imm64() => "an ld_imm64 cut off by the end of its function".to_string(),
        Some(i) => format!("opcode 0x{:02x}", i.code),
        None => "no instruction".to_string(),
    };
    Err(ElfError::RelocWrongSlot {
        section: section.name.clone(),
        offset: r.offset,
        kind: r.kind.name(),
        symbol: r.symbol.clone(),
        expected,
        found,
    })
}

fn map_symbols(sections: &[Section], symbols: &[Symbol]) -> Vec<MapSymbol> {
    let Some(maps) = sections.iter().find(|s| s.name == ".maps") else {
        return Vec::new();
    };
    let mut out: Vec<MapSymbol> = symbols
        .iter()
        .filter(|s| {
            s.section == Some(maps.index) && !matches!(s.kind, elf::STT_SECTION | elf::STT_FILE)
        })
        .map(|s| MapSymbol {
            name: s.name.clone(),
            offset: s.value,
            size: s.size,
        })
        .collect();
    out.sort_by_key(|m| m.offset);
    out
}

fn named_data(
    table: &Sections<'_>,
    e: Endianness,
    bytes: &[u8],
    sections: &[Section],
    name: &str,
) -> Result<Option<Vec<u8>>, ElfError> {
    match sections.iter().find(|s| s.name == name) {
        Some(s) => Ok(Some(
            section_data(table, e, bytes, sections, s.index)?.to_vec(),
        )),
        None => Ok(None),
    }
}

fn version(
    table: &Sections<'_>,
    e: Endianness,
    bytes: &[u8],
    sections: &[Section],
) -> Result<Option<u32>, ElfError> {
    let Some(data) = named_data(table, e, bytes, sections, "version")? else {
        return Ok(None);
    };
    let word: [u8; 4] = data
        .as_slice()
        .try_into()
        .map_err(|_| ElfError::BadVersion(data.len() as u64))?;
    Ok(Some(object::Endian::read_u32(e, word)))
}
