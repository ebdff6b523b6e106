//! A program as the kernel receives it from a loader: read from the
//! object's bytes (probecc's ELF reader, any BPF object), with the `.text`
//! subprograms it calls (or passes as callbacks) appended and its calls
//! pointed at them, as libbpf does:
//! - a load of a `.maps` symbol (`R_BPF_64_64`) becomes a map reference
//!   (`BPF_PSEUDO_MAP_FD`, `imm` the map's index);
//! - a load of a global variable in `.data`, `.rodata`, `.bss` or a custom
//!   `.data.*`/`.rodata.*` section becomes a pointer into the value of the
//!   one-element array map libbpf makes of that section
//!   (`BPF_PSEUDO_MAP_VALUE`, the offset in the second `imm`); `.rodata`
//!   maps are read-only to the program and frozen ([`GlobalData`]);
//! - a load of a function's address (a callback for `bpf_loop`) becomes
//!   `BPF_PSEUDO_FUNC` with the relative instruction offset.
//!
//! Global (non-static) functions keep their BTF signature ([`Func`]): the
//! kernel verifies them on their own, from their argument types. The maps
//! come from the object's BTF; line info from `.BTF.ext`.
//!
//! A `kprobe.multi/PATTERN` or `kretprobe.multi` section is a kprobe
//! program too, which a loader loads with expected attach type
//! `BPF_TRACE_KPROBE_MULTI`: the verifier's rules for it are a kprobe's
//! (`pt_regs` context; its `bpf_get_func_ip` takes the same arguments).

use std::collections::HashMap;

use probecc::btf::{self, Btf, BtfMap, BtfType};
use probecc::elf::{self, Function, ObjectFile, RelocKind};
use probecc::insn::{pseudo, Insn};

use crate::CheckError;

/// One map the program may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    pub name: String,
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
}

/// `BPF_MAP_TYPE_ARRAY`, the kind of map libbpf makes of a data section.
pub const ARRAY: u32 = 2;

/// A global-data section as the map libbpf makes of it: a one-element
/// array whose value is the section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalData {
    /// The index of its map in [`Program::maps`].
    pub map: usize,
    /// `.data`, `.rodata`, `.bss`, `.data.custom`...
    pub section: String,
    /// The section's bytes as the object holds them (zeros for `.bss`).
    pub init: Vec<u8>,
    /// `.rodata*`: `BPF_F_RDONLY_PROG` and frozen before load.
    pub read_only: bool,
}

/// What an argument of a global function is to the kernel (`btf_prepare_func_args`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgType {
    /// An integer or enum: any scalar.
    Scalar,
    /// A pointer to the program's context type, written as the typedef
    /// `bpf_user_pt_regs_t`.
    Ctx,
    /// A pointer to struct `name` of `size` bytes: the context where the
    /// arch's kprobe context is that struct (`ArchInfo::kprobe_ctx_struct`),
    /// else memory that may be NULL (the verifier decides, knowing the arch).
    Struct { name: String, size: u32 },
    /// A pointer to `size` bytes of memory, possibly NULL (`PTR_TO_MEM | PTR_MAYBE_NULL`).
    Mem { size: u32 },
    /// A type the kernel does not take (the kernel's complaint names it).
    Unsupported(String),
}

/// A function of the program other than the entry: where it starts and,
/// for a global one, its BTF signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Func {
    pub name: String,
    /// Its first instruction in [`Program::insns`].
    pub start: usize,
    /// `Some` for a global function (BTF linkage global), verified alone.
    pub global: Option<Signature>,
}

/// A global function's arguments and whether it returns an integer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub args: Vec<ArgType>,
    pub returns_scalar: bool,
}

/// A program ready to check.
#[derive(Clone, Debug)]
pub struct Program {
    pub name: String,
    pub section: String,
    pub insns: Vec<Insn>,
    pub maps: Vec<MapSpec>,
    /// `file:line: text` for instructions that start a source line.
    pub lines: Vec<(usize, String)>,
    pub gpl: bool,
    /// The data sections among [`Program::maps`].
    pub globals: Vec<GlobalData>,
    /// The functions appended after the entry, by start.
    pub funcs: Vec<Func>,
}

impl Program {
    /// A bare instruction stream with `maps` (no data sections, no
    /// global functions, no line info).
    pub fn bare(insns: &[Insn], maps: &[MapSpec], gpl: bool) -> Program {
        Program {
            name: "prog".into(),
            section: "kprobe/prog".into(),
            insns: insns.to_vec(),
            maps: maps.to_vec(),
            lines: vec![],
            gpl,
            globals: vec![],
            funcs: vec![],
        }
    }

    /// The data section whose map is `map`.
    pub fn global(&self, map: usize) -> Option<&GlobalData> {
        self.globals.iter().find(|g| g.map == map)
    }
}

impl Program {
    /// The source line an instruction belongs to: the last line record at
    /// or before it.
    pub fn line_of(&self, insn: usize) -> Option<&str> {
        self.lines
            .iter()
            .rev()
            .find(|(at, _)| *at <= insn)
            .map(|(_, l)| l.as_str())
    }
}

/// Licenses the kernel treats as GPL-compatible (`license_is_gpl_compatible`).
pub fn gpl_compatible(license: &str) -> bool {
    matches!(
        license,
        "GPL"
            | "GPL v2"
            | "GPL and additional rights"
            | "Dual BSD/GPL"
            | "Dual MIT/GPL"
            | "Dual MPL/GPL"
    )
}

/// Every program of the object (a function outside `.text`).
pub fn programs(bytes: &[u8]) -> Result<Vec<Program>, CheckError> {
    each_program(bytes, |p| p)
}

/// Whether the object has CO-RE relocations (`.BTF.ext`'s `core_relo`),
/// which a loader applies against the kernel's own BTF.
pub fn has_core_relocations(bytes: &[u8]) -> Result<bool, CheckError> {
    let obj = elf::read(bytes)?;
    let (Some(btf), Some(ext)) = (obj.btf.as_deref(), obj.btf_ext.as_deref()) else {
        return Ok(false);
    };
    let btf = btf::parse(btf)?;
    let ext = btf::ext::parse(ext, &btf)?;
    Ok(ext.core_relo.iter().any(|s| !s.records.is_empty()))
}

/// `f` of every program of the object, each linked as `f` needs it and
/// dropped after: the object's programs are never all linked at once.
pub fn each_program<T>(
    bytes: &[u8],
    mut f: impl FnMut(Program) -> T,
) -> Result<Vec<T>, CheckError> {
    let obj = elf::read(bytes)?;
    let btf = obj.btf.as_deref().map(btf::parse).transpose()?;
    let mut maps: Vec<MapSpec> = match &btf {
        Some(b) => b.maps()?.into_iter().map(spec).collect(),
        None => Vec::new(),
    };
    let globals = data_sections(&obj, bytes, &mut maps);
    let ext = match (&btf, &obj.btf_ext) {
        (Some(b), Some(e)) => Some(btf::ext::parse(e, b)?),
        _ => None,
    };
    let gpl = obj.license_text().is_some_and(|l| gpl_compatible(&l));
    let object = Object {
        obj: &obj,
        index: Index::new(&obj, ext.as_ref()),
        maps: &maps,
        globals: &globals,
        btf: btf.as_ref(),
        gpl,
    };
    obj.programs
        .iter()
        .filter(|func| func.section != ".text")
        .map(|func| object.link(func).map(&mut f))
        .collect()
}

/// The object's functions, symbols and line records by name or ELF
/// section, gathered once: an object has a section per program, and
/// linking each program by searching every section would cost the square
/// of the programs.
struct Index<'a> {
    functions: HashMap<&'a str, Vec<&'a Function>>,
    symbols: HashMap<&'a str, &'a elf::Symbol>,
    lines: HashMap<&'a str, Vec<&'a btf::ext::LineInfoSection>>,
}

impl<'a> Index<'a> {
    fn new(obj: &'a ObjectFile, ext: Option<&'a btf::ext::BtfExt>) -> Index<'a> {
        let mut functions: HashMap<&str, Vec<&Function>> = HashMap::new();
        for f in &obj.programs {
            functions.entry(f.section.as_str()).or_default().push(f);
        }
        let mut symbols = HashMap::new();
        for s in &obj.symbols {
            symbols.entry(s.name.as_str()).or_insert(s);
        }
        let mut lines: HashMap<&str, Vec<&btf::ext::LineInfoSection>> = HashMap::new();
        for s in ext.iter().flat_map(|e| &e.line_info) {
            lines.entry(s.section.as_str()).or_default().push(s);
        }
        Index {
            functions,
            symbols,
            lines,
        }
    }

    /// The functions of `section`, in the object's order.
    fn in_section(&self, section: &str) -> impl Iterator<Item = &'a Function> + '_ {
        self.functions.get(section).into_iter().flatten().copied()
    }

    /// The first symbol named `name`, as a search of the table finds it.
    fn symbol(&self, name: &str) -> Option<&'a elf::Symbol> {
        self.symbols.get(name).copied()
    }
}

fn spec(m: BtfMap) -> MapSpec {
    MapSpec {
        name: m.name,
        map_type: m.map_type,
        key_size: m.key_size,
        value_size: m.value_size,
        max_entries: m.max_entries,
    }
}

/// Whether libbpf makes a map of the section `name`
/// (`bpf_object__init_global_data_maps`).
fn is_data_section(name: &str) -> bool {
    let under = |base: &str| name == base || name.starts_with(&format!("{base}."));
    under(".data") || under(".rodata") || under(".bss")
}

/// The data sections of `obj` as array maps, appended to `maps`.
fn data_sections(obj: &ObjectFile, bytes: &[u8], maps: &mut Vec<MapSpec>) -> Vec<GlobalData> {
    const NOBITS: u32 = 8;
    let mut out = Vec::new();
    for sec in &obj.sections {
        if !is_data_section(&sec.name) || sec.size == 0 {
            continue;
        }
        let Ok(size) = u32::try_from(sec.size) else {
            continue;
        };
        let init = if sec.sh_type == NOBITS {
            vec![0; size as usize]
        } else {
            let (Ok(at), Ok(len)) = (usize::try_from(sec.offset), usize::try_from(sec.size)) else {
                continue;
            };
            match bytes.get(at..at.saturating_add(len)) {
                Some(b) => b.to_vec(),
                None => continue,
            }
        };
        out.push(GlobalData {
            map: maps.len(),
            section: sec.name.clone(),
            init,
            read_only: sec.name.starts_with(".rodata"),
        });
        maps.push(MapSpec {
            name: sec.name.clone(),
            map_type: ARRAY,
            key_size: 4,
            value_size: size,
            max_entries: 1,
        });
    }
    out
}

/// What linking one program reads of the object.
struct Object<'a> {
    obj: &'a ObjectFile,
    index: Index<'a>,
    maps: &'a [MapSpec],
    globals: &'a [GlobalData],
    btf: Option<&'a Btf>,
    gpl: bool,
}

/// A `.text` function a program reaches: by a call, or by loading its
/// address.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    Call,
    Address,
}

impl Object<'_> {
    /// The program `f` with the subprograms it reaches appended, in the
    /// order first reached.
    fn link(&self, f: &Function) -> Result<Program, CheckError> {
        let mut order: Vec<&Function> = vec![f];
        let mut uses: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut k = 0;
        while k < order.len() {
            let func = order[k];
            let mut targets = Vec::new();
            for (at, insn) in func.insns.iter().enumerate() {
                let target = if insn.is_call() && insn.src == pseudo::CALL {
                    subprogram(self.obj, &self.index, func, at, Use::Call)?
                } else if insn.is_ld_imm64() && self.is_func_address(func, at) {
                    subprogram(self.obj, &self.index, func, at, Use::Address)?
                } else {
                    continue;
                };
                let idx = match order.iter().position(|o| std::ptr::eq(*o, target)) {
                    Some(i) => i,
                    None => {
                        order.push(target);
                        order.len() - 1
                    }
                };
                targets.push((at, idx));
            }
            uses.push(targets);
            k += 1;
        }
        let mut starts = Vec::with_capacity(order.len());
        let mut total = 0;
        for func in &order {
            starts.push(total);
            total += func.insns.len();
        }
        let (mut insns, mut lines) = (Vec::with_capacity(total), Vec::new());
        for (k, func) in order.iter().enumerate() {
            let mut body = func.insns.clone();
            self.resolve_loads(func, &mut body)?;
            for &(at, target) in &uses[k] {
                body[at].imm = (starts[target] as i64 - (starts[k] + at) as i64 - 1) as i32;
                if body[at].is_ld_imm64() {
                    body[at].src = pseudo::FUNC;
                    if let Some(next) = body.get_mut(at + 1) {
                        next.imm = 0;
                    }
                }
            }
            lines.extend(func_lines(func, starts[k], &self.index));
            insns.extend(body);
        }
        let funcs = order
            .iter()
            .zip(&starts)
            .skip(1)
            .map(|(func, &start)| Func {
                name: func.name.clone(),
                start,
                global: self.signature(func),
            })
            .collect();
        Ok(Program {
            name: f.name.clone(),
            section: f.section.clone(),
            insns,
            maps: self.maps.to_vec(),
            lines,
            gpl: self.gpl,
            globals: self.globals.to_vec(),
            funcs,
        })
    }

    /// Whether the `ld_imm64` at `at` loads the address of a function.
    fn is_func_address(&self, func: &Function, at: usize) -> bool {
        func.relocs.iter().any(|r| {
            r.insn == at
                && r.kind == RelocKind::Imm64
                && self
                    .symbol(&r.symbol)
                    .and_then(|s| self.obj.sections.get(s.section?))
                    .is_some_and(|sec| sec.is_code())
        })
    }

    fn symbol(&self, name: &str) -> Option<&elf::Symbol> {
        self.index.symbol(name)
    }

    /// Whether `r` loads a typeless kernel symbol (a `.ksyms` extern, an
    /// undefined symbol): the loader writes the symbol's address in, a
    /// number to the verifier, so the load is left as it is.
    fn is_ksym(&self, r: &elf::Reloc) -> bool {
        r.kind == RelocKind::Imm64
            && self
                .symbol(&r.symbol)
                .is_some_and(|s| s.section.is_none() && s.value == 0)
    }

    /// Map and global-data loads become `BPF_PSEUDO_MAP_FD` with the map's
    /// index, or `BPF_PSEUDO_MAP_VALUE` with the data map's index and the
    /// variable's offset.
    fn resolve_loads(&self, f: &Function, body: &mut [Insn]) -> Result<(), CheckError> {
        for r in &f.relocs {
            let insn = body[r.insn];
            if insn.is_call()
                || (insn.is_ld_imm64() && self.is_func_address(f, r.insn))
                || self.is_ksym(r)
            {
                continue;
            }
            let unsupported = |what: String| CheckError::Unsupported {
                program: f.name.clone(),
                what,
            };
            if !insn.is_ld_imm64() || r.kind != RelocKind::Imm64 || r.insn + 1 >= body.len() {
                return Err(unsupported(format!(
                    "relocation {} against `{}` at instruction {}",
                    r.kind.name(),
                    r.symbol,
                    r.insn
                )));
            }
            if let Some(idx) = self.maps.iter().position(|m| m.name == r.symbol) {
                if self.globals.iter().all(|g| g.map != idx) {
                    body[r.insn].src = pseudo::MAP_FD;
                    body[r.insn].imm = idx as i32;
                    continue;
                }
            }
            let sym = self.symbol(&r.symbol);
            let section = sym
                .and_then(|s| self.obj.sections.get(s.section?))
                .map(|s| s.name.as_str());
            let Some(data) = section.and_then(|n| self.globals.iter().find(|g| g.section == n))
            else {
                return Err(unsupported(format!(
                    "a load of `{}`, which is neither a BTF-defined map nor a global variable",
                    r.symbol
                )));
            };
            let base = sym.map_or(0, |s| s.value);
            let off = i64::from(insn.imm) + base as i64;
            body[r.insn].src = pseudo::MAP_VALUE;
            body[r.insn].imm = data.map as i32;
            body[r.insn + 1].imm = i32::try_from(off)
                .map_err(|_| unsupported(format!("the offset {off} into `{}`", data.section)))?;
        }
        Ok(())
    }

    /// A global function's signature from its BTF `FUNC` (linkage global).
    fn signature(&self, f: &Function) -> Option<Signature> {
        let btf = self.btf?;
        if !f.global {
            return None;
        }
        let id = (1..=btf.count()).find(|&id| {
            matches!(btf.type_by_id(id), Ok(BtfType::Func { linkage: 1, .. }))
                && btf.name_of(id).is_ok_and(|n| n == f.name)
        })?;
        let Ok(BtfType::Func { proto, .. }) = btf.type_by_id(id) else {
            return None;
        };
        let Ok(BtfType::FuncProto { ret, params }) = btf.type_by_id(*proto) else {
            return None;
        };
        let scalar = |t: u32| {
            matches!(
                btf.resolve(t).and_then(|r| btf.type_by_id(r)),
                Ok(BtfType::Int { .. } | BtfType::Enum { .. } | BtfType::Enum64 { .. })
            )
        };
        let args = params.iter().map(|p| arg_type(btf, p.type_id)).collect();
        Some(Signature {
            args,
            returns_scalar: scalar(*ret),
        })
    }
}

/// What the kernel makes of a global function's parameter of BTF type `t`.
fn arg_type(btf: &Btf, t: u32) -> ArgType {
    let Ok(r) = btf.resolve(t) else {
        return ArgType::Unsupported("?".into());
    };
    match btf.type_by_id(r) {
        Ok(BtfType::Int { .. } | BtfType::Enum { .. } | BtfType::Enum64 { .. }) => ArgType::Scalar,
        Ok(BtfType::Ptr { type_id }) => {
            if names_user_pt_regs(btf, *type_id) {
                return ArgType::Ctx;
            }
            let pointee = btf.resolve(*type_id).unwrap_or(0);
            let name = btf.name_of(pointee).unwrap_or("");
            let is_struct = matches!(btf.type_by_id(pointee), Ok(BtfType::Struct { .. }));
            match btf.size_of(pointee) {
                Ok(size) if is_struct && pointee != 0 && !name.is_empty() => ArgType::Struct {
                    name: name.to_string(),
                    size,
                },
                Ok(size) if pointee != 0 => ArgType::Mem { size },
                _ => ArgType::Unsupported(name.to_string()),
            }
        }
        Ok(_) => ArgType::Unsupported(btf.name_of(r).unwrap_or("").to_string()),
        Err(_) => ArgType::Unsupported("?".into()),
    }
}

/// Whether type `t`, through its qualifiers but not its typedefs, is the
/// typedef `bpf_user_pt_regs_t`, which a kprobe's global function may
/// take as its context on every arch.
fn names_user_pt_regs(btf: &Btf, t: u32) -> bool {
    let mut cur = t;
    for _ in 0..16 {
        match btf.type_by_id(cur) {
            Ok(
                BtfType::Const { type_id }
                | BtfType::Volatile { type_id }
                | BtfType::Restrict { type_id }
                | BtfType::TypeTag { type_id, .. },
            ) => cur = *type_id,
            Ok(BtfType::Typedef { .. }) => return btf.name_of(cur) == Ok("bpf_user_pt_regs_t"),
            _ => return false,
        }
    }
    false
}

/// The function the subprogram call (or function address load) at `at`
/// of `from` reaches: the function its relocation names (and the offset
/// in `imm` into its section), or, without one, the function of the same
/// section at the call's pc-relative target.
fn subprogram<'a>(
    obj: &'a ObjectFile,
    index: &Index<'a>,
    from: &Function,
    at: usize,
    how: Use,
) -> Result<&'a Function, CheckError> {
    let insn = &from.insns[at];
    let reloc = from.relocs.iter().find(|r| r.insn == at);
    let named = reloc.map(|r| r.symbol.as_str());
    let sym = named.and_then(|n| index.symbol(n));
    let (section, slot) = match (reloc, how) {
        (Some(_), Use::Call) => (".text".to_string(), i64::from(insn.imm) + 1),
        (Some(_), Use::Address) => {
            let sec = sym
                .and_then(|s| obj.sections.get(s.section?))
                .map_or(".text".to_string(), |s| s.name.clone());
            let value = sym.map_or(0, |s| s.value as i64);
            (sec, (value + i64::from(insn.imm)) / Insn::SIZE as i64)
        }
        (None, _) => (
            from.section.clone(),
            from.first_slot() as i64 + at as i64 + i64::from(insn.imm) + 1,
        ),
    };
    let in_section = || index.in_section(&section);
    let found = match how {
        Use::Call => named
            .and_then(|n| in_section().find(|p| p.name == n))
            .or_else(|| in_section().find(|p| p.first_slot() as i64 == slot)),
        Use::Address => in_section().find(|p| p.first_slot() as i64 == slot),
    };
    found.ok_or_else(|| CheckError::Unsupported {
        program: from.name.clone(),
        what: format!("the call at instruction {at}, which reaches no function"),
    })
}

fn func_lines(f: &Function, base: usize, index: &Index) -> Vec<(usize, String)> {
    let first = f.first_slot();
    let end = first + f.insns.len();
    index
        .lines
        .get(f.section.as_str())
        .into_iter()
        .flatten()
        .flat_map(|s| &s.records)
        .filter_map(|r| {
            let slot = r.insn_off as usize / Insn::SIZE;
            (first..end).contains(&slot).then(|| {
                let text = format!("{}:{}: {}", r.file, r.line, r.text.trim());
                (base + slot - first, text)
            })
        })
        .collect()
}
