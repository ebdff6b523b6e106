//! The ELF writer: one executable section per program section name, `.maps`
//! with a symbol per map at the slot the BTF encoder chose, `R_BPF_64_64`
//! relocations for map loads, for read-only globals' addresses (`.rodata`,
//! zero-filled, a global `STT_OBJECT` per global, as clang writes `const
//! volatile` globals) and, against undefined symbols, for kernel
//! symbols' addresses (`.ksyms` externs), `license`, `.BTF` and
//! `.BTF.ext`. Symbol and
//! string tables and the local-first symbol order come from the `object`
//! crate's writer.

use std::collections::{BTreeMap, BTreeSet};

use object::write::{
    Object as ElfObject, Relocation, SectionId, Symbol as ElfSymbol, SymbolId, SymbolSection,
};
use object::{
    elf, Architecture, BinaryFormat, RelocationFlags, SectionFlags, SectionKind, SymbolFlags,
    SymbolKind, SymbolScope,
};

use super::{endianness, ElfError};
use crate::btf::{self, EncodedBtf, MapSlot};
use crate::insn::{encode_all, Insn};
use crate::program::{Object, Program, RODATA, SUBPROGRAMS};

/// Writes `obj` as an ELF64 relocatable BPF object in its architecture's
/// byte order, with BTF from the BTF encoder.
pub fn write(obj: &Object) -> Result<Vec<u8>, ElfError> {
    let btf = btf::encode_object(obj)?;
    write_with_btf(obj, &btf)
}

/// Writes `obj` with the given encoded BTF (its `maps` slots place the map
/// symbols in `.maps`).
pub fn write_with_btf(obj: &Object, btf: &EncodedBtf) -> Result<Vec<u8>, ElfError> {
    check_names(obj)?;
    let license = license_bytes(&obj.license)?;
    let mut out = ElfObject::new(
        BinaryFormat::Elf,
        Architecture::Bpf,
        endianness(obj.arch.endian()),
    );
    let (placed, funcs) = add_programs(&mut out, obj)?;
    let maps = add_maps(&mut out, obj, &btf.maps)?;
    let globals = add_globals(&mut out, obj);
    let ksyms: BTreeMap<String, SymbolId> = obj
        .ksyms()
        .into_iter()
        .map(|name| (name.to_string(), out.add_symbol(undefined(name))))
        .collect();
    let targets = Targets {
        maps: &maps,
        ksyms: &ksyms,
        globals: &globals,
        funcs: &funcs,
    };
    for (program, (section, base)) in obj.programs.iter().zip(&placed) {
        add_imm64_relocs(&mut out, program, *section, *base, &targets)?;
    }
    add_data(
        &mut out,
        "license",
        &license,
        1,
        elf::SHF_ALLOC | elf::SHF_WRITE,
        Some("_license"),
    );
    add_data(&mut out, ".BTF", &btf.btf, 4, 0, None);
    if let Some(ext) = &btf.ext {
        add_data(&mut out, ".BTF.ext", ext, 4, 0, None);
    }
    out.write().map_err(ElfError::Write)
}

/// Program and map names are symbols of one table: each must be unique, and
/// every program must have code.
fn check_names(obj: &Object) -> Result<(), ElfError> {
    let mut seen = BTreeSet::new();
    let names = obj
        .programs
        .iter()
        .map(|p| &p.name)
        .chain(obj.maps.iter().map(|m| &m.name))
        .chain(obj.globals.iter().map(|g| &g.name));
    for name in names.chain(std::iter::once(&"_license".to_string())) {
        if !seen.insert(name.clone()) {
            return Err(ElfError::DuplicateSymbol(name.clone()));
        }
    }
    match obj.programs.iter().find(|p| p.insns.is_empty()) {
        Some(p) => Err(ElfError::EmptyProgram(p.name.clone())),
        None => Ok(()),
    }
}

/// The license text and exactly one NUL (aya rejects more padding).
fn license_bytes(license: &str) -> Result<Vec<u8>, ElfError> {
    if license.contains('\0') {
        return Err(ElfError::LicenseNul(license.to_string()));
    }
    let mut bytes = license.as_bytes().to_vec();
    bytes.push(0);
    Ok(bytes)
}

fn section_with_flags(
    out: &mut ElfObject,
    name: &str,
    kind: SectionKind,
    sh_flags: u32,
) -> SectionId {
    let id = out.add_section(Vec::new(), name.as_bytes().to_vec(), kind);
    out.section_mut(id).flags = SectionFlags::Elf {
        sh_flags: u64::from(sh_flags),
    };
    id
}

fn global(name: &str, value: u64, size: u64, kind: SymbolKind, section: SectionId) -> ElfSymbol {
    ElfSymbol {
        name: name.as_bytes().to_vec(),
        value,
        size,
        kind,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Section(section),
        flags: SymbolFlags::None,
    }
}

/// The symbols an `ld_imm64` may be relocated against, by name.
struct Targets<'a> {
    maps: &'a BTreeMap<String, SymbolId>,
    ksyms: &'a BTreeMap<String, SymbolId>,
    globals: &'a BTreeMap<String, SymbolId>,
    funcs: &'a BTreeMap<String, SymbolId>,
}

/// Each program's code goes into the section it names (programs sharing a
/// name share the section), with a global `STT_FUNC` symbol; a subprogram's
/// symbol is local, as clang makes a static function's, so that loaders
/// append it to the programs that use it rather than load it alone. A load
/// of a subprogram's address holds its byte offset in `.text` and is
/// relocated against the section's symbol, as clang relocates a static
/// function's (libbpf takes no other form). Returns each program's section
/// and byte offset in it, and the symbol and offset of each subprogram.
fn add_programs(out: &mut ElfObject, obj: &Object) -> Result<Placed, ElfError> {
    let endian = obj.arch.endian();
    let mut sections: BTreeMap<&str, SectionId> = BTreeMap::new();
    let mut placed = Vec::with_capacity(obj.programs.len());
    // Subprograms follow each other in `.text` from offset 0.
    let mut funcs: BTreeMap<String, u64> = BTreeMap::new();
    let mut at = 0;
    for p in obj.programs.iter().filter(|p| p.is_subprogram()) {
        funcs.insert(p.name.clone(), at);
        at += (p.insns.len() * Insn::SIZE) as u64;
    }
    for p in &obj.programs {
        let id = *sections.entry(p.section.as_str()).or_insert_with(|| {
            section_with_flags(
                out,
                &p.section,
                SectionKind::Text,
                elf::SHF_ALLOC | elf::SHF_EXECINSTR,
            )
        });
        let mut insns = p.insns.clone();
        for r in &p.func_relocs {
            let (Some(&off), Some(ins)) = (funcs.get(&r.func), insns.get_mut(r.insn)) else {
                return Err(ElfError::UnknownFunc {
                    program: p.name.clone(),
                    slot: r.insn,
                    func: r.func.clone(),
                });
            };
            ins.imm = i32::try_from(off).map_err(|_| ElfError::UnknownFunc {
                program: p.name.clone(),
                slot: r.insn,
                func: r.func.clone(),
            })?;
        }
        let code = encode_all(&insns, endian);
        let base = out.append_section_data(id, &code, 8);
        let mut sym = global(&p.name, base, code.len() as u64, SymbolKind::Text, id);
        if p.is_subprogram() {
            sym.scope = SymbolScope::Compilation;
        }
        out.add_symbol(sym);
        placed.push((id, base));
    }
    let text = sections.get(SUBPROGRAMS).map(|&id| out.section_symbol(id));
    let funcs = funcs
        .into_keys()
        .filter_map(|name| Some((name, text?)))
        .collect();
    Ok((placed, funcs))
}

/// Each program's section and offset, and the symbol a load of each
/// subprogram's address is relocated against (`.text`'s).
type Placed = (Vec<(SectionId, u64)>, BTreeMap<String, SymbolId>);

/// `.maps`: zero-filled, one global `STT_OBJECT` per map where BTF put it.
fn add_maps(
    out: &mut ElfObject,
    obj: &Object,
    slots: &[MapSlot],
) -> Result<BTreeMap<String, SymbolId>, ElfError> {
    let mut symbols = BTreeMap::new();
    if obj.maps.is_empty() && slots.is_empty() {
        return Ok(symbols);
    }
    if let Some(m) = obj
        .maps
        .iter()
        .find(|m| !slots.iter().any(|s| s.name == m.name))
    {
        return Err(ElfError::MapWithoutBtf(m.name.clone()));
    }
    let len = slots
        .iter()
        .map(|s| u64::from(s.offset) + u64::from(s.size))
        .max()
        .unwrap_or(0);
    let id = section_with_flags(
        out,
        ".maps",
        SectionKind::Data,
        elf::SHF_ALLOC | elf::SHF_WRITE,
    );
    out.set_section_data(id, vec![0u8; len as usize], 8);
    for s in slots {
        let sym = global(
            &s.name,
            u64::from(s.offset),
            u64::from(s.size),
            SymbolKind::Data,
            id,
        );
        symbols.insert(s.name.clone(), out.add_symbol(sym));
    }
    Ok(symbols)
}

/// `.rodata`: zero-filled, one global `STT_OBJECT` per read-only global at
/// its offset (no section without any).
fn add_globals(out: &mut ElfObject, obj: &Object) -> BTreeMap<String, SymbolId> {
    let mut symbols = BTreeMap::new();
    if obj.globals.is_empty() {
        return symbols;
    }
    let id = section_with_flags(
        out,
        RODATA,
        SectionKind::Elf(elf::SHT_PROGBITS),
        elf::SHF_ALLOC,
    );
    out.set_section_data(id, vec![0u8; obj.rodata_size() as usize], 8);
    for g in &obj.globals {
        let sym = global(
            &g.name,
            u64::from(g.offset),
            u64::from(g.ty.size()),
            SymbolKind::Data,
            id,
        );
        symbols.insert(g.name.clone(), out.add_symbol(sym));
    }
    symbols
}

/// A global symbol of no section: an extern the loader resolves.
fn undefined(name: &str) -> ElfSymbol {
    ElfSymbol {
        name: name.as_bytes().to_vec(),
        value: 0,
        size: 0,
        kind: SymbolKind::Unknown,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Undefined,
        flags: SymbolFlags::None,
    }
}

/// The `R_BPF_64_64` relocations of program `p`'s `ld_imm64`s: against
/// each map it loads, each read-only global, and each kernel symbol and
/// subprogram it loads the address of.
fn add_imm64_relocs(
    out: &mut ElfObject,
    p: &Program,
    section: SectionId,
    base: u64,
    to: &Targets,
) -> Result<(), ElfError> {
    let targets = p
        .map_relocs
        .iter()
        .map(|r| {
            let symbol = to.maps.get(&r.map).ok_or_else(|| ElfError::UnknownMap {
                program: p.name.clone(),
                slot: r.insn,
                map: r.map.clone(),
            });
            (r.insn, symbol)
        })
        .chain(p.global_relocs.iter().map(|r| {
            let symbol = to
                .globals
                .get(&r.global)
                .ok_or_else(|| ElfError::UnknownGlobal {
                    program: p.name.clone(),
                    slot: r.insn,
                    global: r.global.clone(),
                });
            (r.insn, symbol)
        }))
        .chain(p.ksym_relocs.iter().filter_map(|r| {
            // Every extern has its symbol: `ksyms` holds them all.
            Some((r.insn, Ok(to.ksyms.get(&r.symbol)?)))
        }))
        .chain(p.func_relocs.iter().map(|r| {
            let symbol = to.funcs.get(&r.func).ok_or_else(|| ElfError::UnknownFunc {
                program: p.name.clone(),
                slot: r.insn,
                func: r.func.clone(),
            });
            (r.insn, symbol)
        }));
    for (slot, symbol) in targets {
        if !is_complete_ld_imm64(&p.insns, slot) {
            return Err(ElfError::MapRelocNotLdImm64 {
                program: p.name.clone(),
                slot,
            });
        }
        let reloc = Relocation {
            offset: base + (slot * Insn::SIZE) as u64,
            symbol: *symbol?,
            addend: 0,
            flags: RelocationFlags::Elf {
                r_type: elf::R_BPF_64_64,
            },
        };
        out.add_relocation(section, reloc)?;
    }
    Ok(())
}

fn is_complete_ld_imm64(insns: &[Insn], slot: usize) -> bool {
    insns.get(slot).is_some_and(Insn::is_ld_imm64) && slot + 1 < insns.len()
}

/// A non-executable section with fixed contents and, optionally, a global
/// `STT_OBJECT` symbol covering it.
fn add_data(
    out: &mut ElfObject,
    name: &str,
    data: &[u8],
    align: u64,
    sh_flags: u32,
    symbol: Option<&str>,
) {
    let id = section_with_flags(out, name, SectionKind::Elf(elf::SHT_PROGBITS), sh_flags);
    out.set_section_data(id, data.to_vec(), align);
    if let Some(sym) = symbol {
        out.add_symbol(global(sym, 0, data.len() as u64, SymbolKind::Data, id));
    }
}
