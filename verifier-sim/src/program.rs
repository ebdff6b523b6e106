//! A program as the kernel receives it from a loader: read from the
//! object's bytes (probecc's ELF reader, any BPF object), with the `.text`
//! subprograms it calls appended and its calls pointed at them, and every
//! map load (`R_BPF_64_64` against a `.maps` symbol) turned into a map
//! reference (`BPF_PSEUDO_MAP_FD`, `imm` the map's index) as libbpf does.
//! The maps come from the object's BTF; line info from `.BTF.ext`. A
//! `kprobe.multi/PATTERN` or `kretprobe.multi` section is a kprobe
//! program too, which a loader loads with expected attach type
//! `BPF_TRACE_KPROBE_MULTI`: the verifier's rules for it are a kprobe's
//! (`pt_regs` context; its `bpf_get_func_ip` takes the same arguments).

use std::collections::{HashMap, HashSet};

use probecc::btf::{self, BtfMap};
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

/// `f` of every program of the object, each linked as `f` needs it and
/// dropped after: the object's programs are never all linked at once.
pub fn each_program<T>(
    bytes: &[u8],
    mut f: impl FnMut(Program) -> T,
) -> Result<Vec<T>, CheckError> {
    let obj = elf::read(bytes)?;
    let btf = obj.btf.as_deref().map(btf::parse).transpose()?;
    let maps = match &btf {
        Some(b) => b.maps()?.into_iter().map(spec).collect(),
        None => Vec::new(),
    };
    let ext = match (&btf, &obj.btf_ext) {
        (Some(b), Some(e)) => Some(btf::ext::parse(e, b)?),
        _ => None,
    };
    let gpl = obj.license_text().is_some_and(|l| gpl_compatible(&l));
    let index = Index::new(&obj, ext.as_ref());
    obj.programs
        .iter()
        .filter(|f| f.section != ".text")
        .map(|func| link(&index, func, &maps, gpl).map(&mut f))
        .collect()
}

/// The object's functions and line records by ELF section, gathered once:
/// an object has a section per program, and linking each program by
/// searching every section would cost the square of the programs.
struct Index<'a> {
    /// The undefined symbols (`.ksyms` externs) by name.
    externs: HashSet<&'a str>,
    functions: HashMap<&'a str, Vec<&'a Function>>,
    lines: HashMap<&'a str, Vec<&'a btf::ext::LineInfoSection>>,
}

impl<'a> Index<'a> {
    fn new(obj: &'a ObjectFile, ext: Option<&'a btf::ext::BtfExt>) -> Index<'a> {
        let mut functions: HashMap<&str, Vec<&Function>> = HashMap::new();
        for f in &obj.programs {
            functions.entry(f.section.as_str()).or_default().push(f);
        }
        let mut lines: HashMap<&str, Vec<&btf::ext::LineInfoSection>> = HashMap::new();
        for s in ext.iter().flat_map(|e| &e.line_info) {
            lines.entry(s.section.as_str()).or_default().push(s);
        }
        let externs = obj
            .symbols
            .iter()
            .filter(|s| s.section.is_none() && s.value == 0)
            .map(|s| s.name.as_str())
            .collect();
        Index {
            externs,
            functions,
            lines,
        }
    }

    /// The functions of `section`, in the object's order.
    fn in_section(&self, section: &str) -> impl Iterator<Item = &'a Function> + '_ {
        self.functions.get(section).into_iter().flatten().copied()
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

/// The program `f` with the subprograms it reaches appended, in the order
/// first called.
fn link(index: &Index, f: &Function, maps: &[MapSpec], gpl: bool) -> Result<Program, CheckError> {
    let mut order: Vec<&Function> = vec![f];
    let mut calls: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut k = 0;
    while k < order.len() {
        let func = order[k];
        let mut targets = Vec::new();
        for (at, insn) in func.insns.iter().enumerate() {
            if !(insn.is_call() && insn.src == pseudo::CALL) {
                continue;
            }
            let target = subprogram(index, func, at)?;
            let idx = match order.iter().position(|o| std::ptr::eq(*o, target)) {
                Some(i) => i,
                None => {
                    order.push(target);
                    order.len() - 1
                }
            };
            targets.push((at, idx));
        }
        calls.push(targets);
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
        resolve_maps(&index.externs, func, &mut body, maps)?;
        for &(at, target) in &calls[k] {
            body[at].imm = (starts[target] as i64 - (starts[k] + at) as i64 - 1) as i32;
        }
        lines.extend(func_lines(func, starts[k], index));
        insns.extend(body);
    }
    Ok(Program {
        name: f.name.clone(),
        section: f.section.clone(),
        insns,
        maps: maps.to_vec(),
        lines,
        gpl,
    })
}

/// The function the subprogram call at `at` of `from` reaches: the
/// function its relocation names, or, without one, the function of the
/// same section at the call's pc-relative target.
fn subprogram<'a>(
    index: &Index<'a>,
    from: &Function,
    at: usize,
) -> Result<&'a Function, CheckError> {
    let call = &from.insns[at];
    let reloc = from.relocs.iter().find(|r| r.insn == at);
    let (section, slot, named) = match reloc {
        Some(r) => (".text", i64::from(call.imm) + 1, Some(r.symbol.as_str())),
        None => (
            from.section.as_str(),
            from.first_slot() as i64 + at as i64 + i64::from(call.imm) + 1,
            None,
        ),
    };
    let in_section = || index.in_section(section);
    let found = named
        .and_then(|n| in_section().find(|p| p.name == n))
        .or_else(|| in_section().find(|p| p.first_slot() as i64 == slot));
    found.ok_or_else(|| CheckError::Unsupported {
        program: from.name.clone(),
        what: format!("the call at instruction {at}, which reaches no function"),
    })
}

/// Map loads become `BPF_PSEUDO_MAP_FD` with the map's index.
fn resolve_maps(
    externs: &HashSet<&str>,
    f: &Function,
    body: &mut [Insn],
    maps: &[MapSpec],
) -> Result<(), CheckError> {
    for r in &f.relocs {
        let insn = body[r.insn];
        if insn.is_call() || is_ksym(externs, r) {
            continue;
        }
        if !insn.is_ld_imm64() || r.kind != RelocKind::Imm64 {
            return Err(CheckError::Unsupported {
                program: f.name.clone(),
                what: format!(
                    "relocation {} against `{}` at instruction {}",
                    r.kind.name(),
                    r.symbol,
                    r.insn
                ),
            });
        }
        let Some(idx) = maps.iter().position(|m| m.name == r.symbol) else {
            return Err(CheckError::Unsupported {
                program: f.name.clone(),
                what: format!("a load of `{}`, which is not a BTF-defined map", r.symbol),
            });
        };
        body[r.insn].src = pseudo::MAP_FD;
        body[r.insn].imm = idx as i32;
    }
    Ok(())
}

/// Whether `r` loads a kernel symbol's address: an `ld_imm64` against an
/// undefined symbol (a `.ksyms` extern), which the loader resolves to a
/// constant (libbpf's typeless ksyms): a scalar to the verifier.
fn is_ksym(externs: &HashSet<&str>, r: &probecc::elf::Reloc) -> bool {
    r.kind == RelocKind::Imm64 && externs.contains(r.symbol.as_str())
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
