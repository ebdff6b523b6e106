//! object: a BPF ELF object read from its bytes with goblin — never from the
//! compiler's in-memory `Object` — into what the runner needs: the byte
//! order, every program (one per `STT_FUNC` symbol of an executable section)
//! with its instructions decoded in that order, the maps that the `.maps`
//! BTF defines, which `ld_imm64` of a program loads which map (its
//! `R_BPF_64_64` relocations) and which loads the address of which
//! subprogram of `.text` (a callback, itself one of the programs). An
//! `ld_imm64` relocated against an
//! undefined symbol loads a kernel symbol's address (a `.ksyms` extern):
//! it is resolved here as a loader would, to the symbol's synthetic
//! address ([`Kaddr`]: the externs come first, in the order the object
//! relocates them). An `ld_imm64` relocated against a symbol of `.rodata`
//! loads the address of a read-only global (`const volatile`): it is kept
//! as its offset there, which the runner points into its own copy of the
//! section (as libbpf points it into the `.rodata` map's value).

use goblin::elf::section_header::{SHF_EXECINSTR, SHT_PROGBITS};
use goblin::elf::sym::{STT_FUNC, STT_SECTION};
use goblin::elf::Elf;
use probecc::insn::{self, Endian, Insn};
use probecc::maps::MapKind;

use crate::error::{Error, Result};
use crate::kaddr::Kaddr;

const EM_BPF: u16 = 247;

/// One map as the object defines it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    /// The ELF symbol / BTF variable name (`AT_count`, `printf_rb`).
    pub name: String,
    pub kind: MapKind,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
}

/// One program: its section, symbol and instructions.
#[derive(Clone, Debug)]
pub struct ProgramCode {
    pub section: String,
    pub symbol: String,
    pub insns: Vec<Insn>,
    /// `(instruction index, map index)` for every map load.
    pub map_refs: Vec<(usize, usize)>,
    /// `(instruction index, offset in .rodata)` for every load of a
    /// read-only global's address (the instruction's `imm` not added).
    pub rodata_refs: Vec<(usize, u64)>,
    /// `(instruction index, program index)` for every load of a
    /// subprogram's address (a callback).
    pub func_refs: Vec<(usize, usize)>,
}

impl ProgramCode {
    /// Whether this is a subprogram (`.text`), which programs call or
    /// pass as a callback and nothing runs on its own.
    pub fn is_subprogram(&self) -> bool {
        self.section == probecc::program::SUBPROGRAMS
    }
}

/// `.rodata`: its bytes as the object holds them, and its symbols.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rodata {
    pub bytes: Vec<u8>,
    /// `(name, offset, size)` of each global.
    pub symbols: Vec<(String, u64, u64)>,
}

/// The parts of an object the runner uses.
#[derive(Clone, Debug)]
pub struct Object {
    pub endian: Endian,
    pub programs: Vec<ProgramCode>,
    pub maps: Vec<MapDef>,
    /// The kernel symbols the programs load the address of, in order.
    pub ksyms: Vec<String>,
    /// The read-only globals' section, if the object has one.
    pub rodata: Option<Rodata>,
}

impl Object {
    pub fn parse(bytes: &[u8]) -> Result<Object> {
        let elf = Elf::parse(bytes)?;
        if elf.header.e_machine != EM_BPF {
            return Err(Error::Object(format!(
                "machine is {}, not EM_BPF ({EM_BPF})",
                elf.header.e_machine
            )));
        }
        let endian = if elf.little_endian {
            Endian::Little
        } else {
            Endian::Big
        };
        let maps = read_maps(&elf, bytes)?;
        let rodata = read_rodata(&elf, bytes)?;
        let mut programs = Vec::new();
        let mut kaddr = Kaddr::default();
        let mut ksyms = Vec::new();
        // (section, byte offset, function) of each load of a function.
        let mut func_relocs: Vec<(usize, u64, Callee)> = Vec::new();
        let mut sections: Vec<usize> = Vec::new();
        for (idx, sh) in elf.section_headers.iter().enumerate() {
            if !executable(&elf, idx) || sh.sh_size == 0 {
                continue;
            }
            let section = elf
                .shdr_strtab
                .get_at(sh.sh_name)
                .unwrap_or("?")
                .to_string();
            let data = section_bytes(bytes, sh.sh_offset, sh.sh_size, &section)?;
            let mut insns = insn::decode_all(data, endian)
                .map_err(|e| Error::Object(format!("section {section}: {e}")))?;
            let target = Target {
                index: idx,
                name: &section,
                maps: &maps,
                rodata: rodata.as_ref().map(|(i, _)| *i),
            };
            let (refs, externs, funcs) = map_relocations(&elf, &target)?;
            func_relocs.extend(funcs.into_iter().map(|(off, name)| (idx, off, name)));
            for (off, name) in externs {
                let addr = kaddr.addr(&name);
                if !ksyms.contains(&name) {
                    ksyms.push(name.clone());
                }
                let i = (off / 8) as usize;
                match insns.get_mut(i..i + 2) {
                    Some([lo, hi]) if lo.is_ld_imm64() => {
                        lo.imm = addr as u32 as i32;
                        hi.imm = (addr >> 32) as u32 as i32;
                    }
                    _ => {
                        return Err(Error::Object(format!(
                            "section {section}: the relocation against `{name}` at offset {off} is on no ld_imm64"
                        )))
                    }
                }
            }
            let split = split_programs(&elf, idx, &section, &insns, &refs);
            sections.extend(split.iter().map(|_| idx));
            programs.extend(split);
        }
        resolve_funcs(&elf, &mut programs, &sections, &func_relocs)?;
        if programs.is_empty() {
            return Err(Error::Object("no program sections".into()));
        }
        Ok(Object {
            endian,
            programs,
            maps,
            ksyms,
            rodata: rodata.map(|(_, r)| r),
        })
    }

    pub fn map_index(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.name == name)
    }
}

fn section_bytes<'b>(bytes: &'b [u8], off: u64, size: u64, name: &str) -> Result<&'b [u8]> {
    let start = usize::try_from(off).ok();
    let end = start
        .zip(usize::try_from(size).ok())
        .and_then(|(s, n)| s.checked_add(n));
    start
        .zip(end)
        .and_then(|(s, e)| bytes.get(s..e))
        .ok_or_else(|| Error::Object(format!("section {name} lies outside the file")))
}

fn read_maps(elf: &Elf, bytes: &[u8]) -> Result<Vec<MapDef>> {
    let Some(sh) = elf
        .section_headers
        .iter()
        .find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(".BTF"))
    else {
        return Ok(vec![]);
    };
    let btf = probecc::btf::parse(section_bytes(bytes, sh.sh_offset, sh.sh_size, ".BTF")?)?;
    btf.maps()?
        .into_iter()
        .map(|m| {
            let kind = m.kind.ok_or_else(|| {
                Error::Object(format!("map {} has unknown type {}", m.name, m.map_type))
            })?;
            Ok(MapDef {
                name: m.name,
                kind,
                key_size: m.key_size,
                value_size: m.value_size,
                max_entries: m.max_entries,
            })
        })
        .collect()
}

/// Whether section `idx` holds code.
fn executable(elf: &Elf, idx: usize) -> bool {
    elf.section_headers
        .get(idx)
        .is_some_and(|sh| sh.sh_type == SHT_PROGBITS && sh.sh_flags & u64::from(SHF_EXECINSTR) != 0)
}

/// `.rodata`'s section index and contents, if the object has one.
fn read_rodata(elf: &Elf, bytes: &[u8]) -> Result<Option<(usize, Rodata)>> {
    let Some((index, sh)) = elf
        .section_headers
        .iter()
        .enumerate()
        .find(|(_, sh)| elf.shdr_strtab.get_at(sh.sh_name) == Some(".rodata"))
    else {
        return Ok(None);
    };
    let data = section_bytes(bytes, sh.sh_offset, sh.sh_size, ".rodata")?.to_vec();
    let symbols = elf
        .syms
        .iter()
        .filter(|s| s.st_shndx == index && s.st_name != 0)
        .map(|s| {
            let name = elf.strtab.get_at(s.st_name).unwrap_or("?").to_string();
            (name, s.st_value, s.st_size)
        })
        .collect();
    Ok(Some((
        index,
        Rodata {
            bytes: data,
            symbols,
        },
    )))
}

/// `(byte offset in the section, what it loads)` of the relocations that
/// apply to a section, `(byte offset, symbol)` of those against an
/// undefined symbol (a kernel symbol's address), and `(byte offset,
/// function)` of those against a function (a callback's address).
type Relocations = (Vec<(u64, Load)>, Vec<(u64, String)>, Vec<(u64, Callee)>);

/// What a load of a function's address is relocated against: the
/// function's symbol, or (as clang writes a static function's) its
/// section's, the `ld_imm64` holding the function's byte offset there.
#[derive(Clone, Debug)]
enum Callee {
    Symbol(String),
    Section(usize),
}

/// Points each load of a function's address at the program holding that
/// function: its index in `programs` (whose sections are `sections`).
fn resolve_funcs(
    elf: &Elf,
    programs: &mut [ProgramCode],
    sections: &[usize],
    relocs: &[(usize, u64, Callee)],
) -> Result<()> {
    let starts: Vec<usize> = programs
        .iter()
        .zip(sections)
        .map(|(p, &sec)| symbol_start(elf, sec, &p.symbol).unwrap_or(0))
        .collect();
    for (shndx, off, callee) in relocs {
        let i = (off / 8) as usize;
        // The program of section `shndx` whose code holds slot `i` (a
        // section without function symbols is one program from slot 0).
        let Some(at) = (0..programs.len()).find(|&p| {
            sections[p] == *shndx && (starts[p]..starts[p] + programs[p].insns.len()).contains(&i)
        }) else {
            continue;
        };
        let target = (0..programs.len()).find(|&p| {
            programs[p].is_subprogram()
                && match callee {
                    Callee::Symbol(name) => programs[p].symbol == *name,
                    Callee::Section(sec) => {
                        let imm = programs[at].insns[i - starts[at]].imm;
                        sections[p] == *sec && i64::from(imm) == starts[p] as i64 * 8
                    }
                }
        });
        let target = target.ok_or_else(|| {
            Error::Object(format!(
                "the relocation at offset {off} loads the address of {callee:?}, which is no subprogram of `.text`"
            ))
        })?;
        programs[at].func_refs.push((i - starts[at], target));
    }
    Ok(())
}

/// The first slot of function `name` in section `shndx`.
fn symbol_start(elf: &Elf, shndx: usize, name: &str) -> Option<usize> {
    elf.syms
        .iter()
        .find(|s| {
            s.st_shndx == shndx
                && s.st_type() == STT_FUNC
                && elf.strtab.get_at(s.st_name) == Some(name)
        })
        .map(|s| (s.st_value / 8) as usize)
}

/// What a relocated `ld_imm64` loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Load {
    /// A map, by index.
    Map(usize),
    /// The address of a read-only global, by offset in `.rodata`.
    Rodata(u64),
}

/// The section relocations apply to, and what they may load.
struct Target<'a> {
    index: usize,
    name: &'a str,
    maps: &'a [MapDef],
    /// `.rodata`'s section index.
    rodata: Option<usize>,
}

fn map_relocations(elf: &Elf, target: &Target) -> Result<Relocations> {
    let (maps, section) = (target.maps, target.name);
    let mut refs = Vec::new();
    let mut externs = Vec::new();
    let mut funcs = Vec::new();
    for (rel_idx, relocs) in &elf.shdr_relocs {
        let applies = elf
            .section_headers
            .get(*rel_idx)
            .is_some_and(|sh| sh.sh_info as usize == target.index);
        if !applies {
            continue;
        }
        for r in relocs.iter() {
            let sym = elf.syms.get(r.r_sym);
            let name = sym
                .and_then(|s| elf.strtab.get_at(s.st_name))
                .unwrap_or("?");
            if sym.is_some_and(|s| s.st_shndx == 0) {
                externs.push((r.r_offset, name.to_string()));
                continue;
            }
            if sym.is_some_and(|s| s.st_type() == STT_FUNC) {
                funcs.push((r.r_offset, Callee::Symbol(name.to_string())));
                continue;
            }
            if let Some(s) =
                sym.filter(|s| s.st_type() == STT_SECTION && executable(elf, s.st_shndx))
            {
                funcs.push((r.r_offset, Callee::Section(s.st_shndx)));
                continue;
            }
            if let Some(s) = sym.filter(|s| Some(s.st_shndx) == target.rodata) {
                refs.push((r.r_offset, Load::Rodata(s.st_value)));
                continue;
            }
            let map = maps.iter().position(|m| m.name == name).ok_or_else(|| {
                Error::Object(format!(
                    "section {section}: relocation at offset {} refers to `{name}`, which is not a map",
                    r.r_offset
                ))
            })?;
            refs.push((r.r_offset, Load::Map(map)));
        }
    }
    Ok((refs, externs, funcs))
}

/// The programs of one section: one per function symbol, or the whole
/// section when it has none.
fn split_programs(
    elf: &Elf,
    shndx: usize,
    section: &str,
    insns: &[Insn],
    refs: &[(u64, Load)],
) -> Vec<ProgramCode> {
    let mut funcs: Vec<(usize, usize, String)> = elf
        .syms
        .iter()
        .filter(|s| s.st_shndx == shndx && s.st_type() == STT_FUNC)
        .map(|s| {
            let start = (s.st_value / 8) as usize;
            let len = if s.st_size == 0 {
                insns.len().saturating_sub(start)
            } else {
                (s.st_size / 8) as usize
            };
            let name = elf.strtab.get_at(s.st_name).unwrap_or(section).to_string();
            (start, len, name)
        })
        .collect();
    funcs.sort();
    if funcs.is_empty() {
        funcs.push((0, insns.len(), section.to_string()));
    }
    funcs
        .into_iter()
        .filter_map(|(start, len, symbol)| {
            let end = start.checked_add(len)?.min(insns.len());
            let code = insns.get(start..end)?.to_vec();
            let inside = |off: u64| {
                let i = (off / 8) as usize;
                (i >= start && i < end).then(|| i - start)
            };
            let map_refs = refs
                .iter()
                .filter_map(|&(off, load)| match load {
                    Load::Map(map) => Some((inside(off)?, map)),
                    Load::Rodata(_) => None,
                })
                .collect();
            let rodata_refs = refs
                .iter()
                .filter_map(|&(off, load)| match load {
                    Load::Rodata(at) => Some((inside(off)?, at)),
                    Load::Map(_) => None,
                })
                .collect();
            Some(ProgramCode {
                section: section.to_string(),
                symbol,
                insns: code,
                map_refs,
                rodata_refs,
                func_refs: Vec::new(),
            })
        })
        .collect()
}
