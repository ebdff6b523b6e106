//! What an object holds before it is written: programs (assembled
//! instructions with their map references and source lines), maps, extra
//! record types, read-only globals (`.rodata`), and the license. `elf`
//! writes an [`Object`] to bytes.

use crate::arch::Arch;
use crate::ctype::CType;
use crate::insn::Insn;
use crate::maps::MapDef;

/// One BPF program: one ELF section and one global function symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The function symbol (a C identifier).
    pub name: String,
    /// The ELF section: `kprobe/<func>`, `kprobe/<func>+<off>` or `kretprobe/<func>`.
    pub section: String,
    /// Instruction slots; `ld_imm64` takes two.
    pub insns: Vec<Insn>,
    /// `ld_imm64` slots that load a map, by map name.
    pub map_relocs: Vec<MapReloc>,
    /// `ld_imm64` slots that load a kernel symbol's address.
    pub ksym_relocs: Vec<KsymReloc>,
    /// `ld_imm64` slots that load the address of a read-only global.
    pub global_relocs: Vec<GlobalReloc>,
    /// `ld_imm64` slots that load a subprogram's address (a callback).
    pub func_relocs: Vec<FuncReloc>,
    /// Source lines for `.BTF.ext` line info, in ascending slot order.
    pub lines: Vec<LineInfo>,
}

/// An `ld_imm64` at slot `insn` that must load the map `map`: written as an
/// `R_BPF_64_64` relocation against the map's symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapReloc {
    pub insn: usize,
    pub map: String,
}

/// An `ld_imm64` at slot `insn` that must load the address of kernel symbol
/// `symbol`: written as an `R_BPF_64_64` relocation against an undefined
/// symbol described in BTF as a typeless extern of `.ksyms` (clang's
/// `extern const void symbol __ksym;`), which libbpf resolves from
/// `/proc/kallsyms` at load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KsymReloc {
    pub insn: usize,
    pub symbol: String,
}

/// An `ld_imm64` at slot `insn` that must load the address of the
/// read-only global `global` ([`Global`]): written as clang writes a load of
/// a `const volatile` global, src 0 and imm 0 with an `R_BPF_64_64`
/// relocation against the global's symbol in `.rodata`, from which the
/// loader sets `BPF_PSEUDO_MAP_VALUE`, the `.rodata` map and the offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalReloc {
    pub insn: usize,
    pub global: String,
}

/// A read-only global variable, `const volatile` in C: `ty.size()` bytes
/// of `.rodata` at `offset`, zero in the object. A loader may set it before
/// load (libbpf's skeleton `rodata`, aya's `EbpfLoader::set_global`); the
/// kernel then freezes the map, and programs read the value set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    /// The ELF symbol and BTF VAR name.
    pub name: String,
    /// Its place in `.rodata`, a multiple of 8.
    pub offset: u32,
    pub ty: GlobalType,
}

/// What a [`Global`] holds, as C declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalType {
    /// `const volatile u64`.
    U64,
    /// `const volatile s64`.
    S64,
    /// `const volatile char[n]`, `n` a multiple of 8.
    Chars(u32),
}

impl GlobalType {
    /// Its size in bytes.
    pub fn size(self) -> u32 {
        match self {
            GlobalType::U64 | GlobalType::S64 => 8,
            GlobalType::Chars(n) => n,
        }
    }
}

/// The name of the section read-only globals live in.
pub const RODATA: &str = ".rodata";

/// Globals of these names and types laid out in `.rodata` in this order,
/// each at the next 8-byte aligned offset.
pub fn lay_out_globals(decls: impl IntoIterator<Item = (String, GlobalType)>) -> Vec<Global> {
    let mut offset = 0;
    decls
        .into_iter()
        .map(|(name, ty)| {
            let g = Global { name, offset, ty };
            offset = (offset + ty.size()).next_multiple_of(8);
            g
        })
        .collect()
}

/// An `ld_imm64` at slot `insn` (`BPF_PSEUDO_FUNC`) that must load the
/// address of subprogram `func`, a static function of [`SUBPROGRAMS`]:
/// written as clang writes it, the function's byte offset in `.text` as
/// the immediate and an `R_BPF_64_64` relocation against `.text`'s
/// section symbol, which libbpf and aya turn into the relative offset of
/// the copy they append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncReloc {
    pub insn: usize,
    pub func: String,
}

/// The section of subprograms: static functions that programs call or
/// pass as callbacks, never loaded on their own (clang's `.text`).
pub const SUBPROGRAMS: &str = ".text";

impl Program {
    /// Whether this is a subprogram of [`SUBPROGRAMS`] rather than a
    /// program a loader loads.
    pub fn is_subprogram(&self) -> bool {
        self.section == SUBPROGRAMS
    }
}

impl Object {
    /// The size of `.rodata`: the end of its last global (0 without any).
    pub fn rodata_size(&self) -> u32 {
        self.globals
            .iter()
            .map(|g| g.offset + g.ty.size())
            .max()
            .unwrap_or(0)
    }

    /// The kernel symbols the programs load the address of, each once, in
    /// order of first use.
    pub fn ksyms(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in self.programs.iter().flat_map(|p| &p.ksym_relocs) {
            if !out.contains(&r.symbol.as_str()) {
                out.push(&r.symbol);
            }
        }
        out
    }
}

/// The source line that instruction slot `insn` (and those after it, up to the
/// next entry) came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineInfo {
    pub insn: usize,
    /// The source file name as the user gave it.
    pub file: String,
    /// The text of the line.
    pub text: String,
    /// 1-based line and column.
    pub line: u32,
    pub col: u32,
}

/// Everything one `.o` file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    pub arch: Arch,
    pub programs: Vec<Program>,
    pub maps: Vec<MapDef>,
    /// Record types that no map names but a consumer must decode (ring-buffer
    /// events): written to `.BTF` so that `bpftool btf dump` shows them.
    pub types: Vec<CType>,
    /// `"GPL"` unless the user says otherwise; written NUL-terminated.
    pub license: String,
    /// Kernel types and CO-RE relocations of kernel struct accesses:
    /// written to `.BTF` and `.BTF.ext` for the loader to re-target.
    pub core: crate::btf::core::local::CoreTypes,
    /// Read-only globals in `.rodata`, laid out in this order; no
    /// `.rodata` section without any.
    pub globals: Vec<Global>,
}

impl Object {
    pub fn new(arch: Arch) -> Object {
        Object {
            arch,
            programs: vec![],
            maps: vec![],
            types: vec![],
            license: "GPL".into(),
            core: Default::default(),
            globals: vec![],
        }
    }

    pub fn map(&self, name: &str) -> Option<&MapDef> {
        self.maps.iter().find(|m| m.name == name)
    }
}
