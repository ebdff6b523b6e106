//! verifier-sim: an abstract interpreter that applies the kernel verifier's
//! rules for `BPF_PROG_TYPE_KPROBE` programs (and the raw tracepoint
//! programs a loader runs itself, [`prog_type`], and the fentry/fexit
//! tracing programs that stand in for kprobes, [`tracing`], whose contexts
//! and struct pointers, [`btf_ptr`], are typed by their functions'
//! prototypes when the kernel's BTF is given) offline, for any of the
//! five arches, with the kernel's messages.
//!
//! The pipeline: [`program`] reads an object as a loader would (subprograms
//! and callbacks appended, map and global-data loads resolved, global
//! functions' BTF signatures, line info); [`cfg`] runs the static checks
//! and computes prune points and register liveness; [`verify`] explores
//! every path with a [`state::State`] of [`reg::RegState`]s (scalars as
//! [`scalar::Scalar`] bounds over a [`tnum::Tnum`]), checking memory
//! access in [`mem`] and helper calls in [`call`], then the stack of every
//! call chain in [`depth`]. What changed between kernel releases is the
//! table in [`release`]; a [`Target`] names the release. The per-arch
//! `pt_regs` size comes from `probecc::arch`, the helper prototypes from
//! `probecc::helpers`. Written here because no crate models the kernel
//! verifier.
//!
//! Where the model knows less than the kernel (no separate 32-bit bounds,
//! no scalar ids linking copies, only the helpers probecc's table lists)
//! it rejects: it may refuse what a kernel accepts, and the differential
//! corpus measures how often, but it must not accept what a kernel
//! refuses.

mod alu;
mod branch;
pub mod btf_ptr;
pub mod call;
pub mod cfg;
pub mod depth;
pub mod encoding;
#[cfg(test)]
mod gen;
pub mod mem;
pub mod precision;
pub mod prog_type;
pub mod program;
pub mod reg;
pub mod release;
pub mod scalar;
pub mod state;
pub mod tnum;
pub mod tracing;
pub mod verify;

use probecc::arch::{Arch, KernelVersion};
use probecc::btf::kernel::KernelBtf;
use probecc::disasm;

pub use program::{MapSpec, Program};
pub use release::Rules;

/// What `.rodata` holds when the program is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rodata {
    /// Anything: a loader may set `const volatile` values before load, and
    /// the verdict must hold for every value (loads read unknown numbers).
    Unknown,
    /// The bytes the object holds (a loader that sets nothing, such as
    /// `bpftool prog load`): the kernel reads them as constants.
    Initial,
}

/// Where a program is to be loaded: the arch, the kernel's rules, and
/// what its read-only data will hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub arch: Arch,
    pub rules: Rules,
    pub rodata: Rodata,
}

impl Target {
    /// `arch` at `kernel`, the JIT as Debian has it, `.rodata` unknown.
    pub fn new(arch: Arch, kernel: KernelVersion) -> Target {
        Target {
            arch,
            rules: Rules::new(arch, kernel),
            rodata: Rodata::Unknown,
        }
    }
}

/// A rule broken at an instruction, in the kernel's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{insn}: {message}")]
pub struct VerifyError {
    pub insn: usize,
    pub message: String,
}

/// An object that cannot be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Elf(#[from] probecc::elf::ElfError),
    #[error(transparent)]
    Btf(#[from] probecc::btf::BtfError),
    #[error("{program}: unsupported: {what}")]
    Unsupported { program: String, what: String },
}

/// The verdict on one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The function symbol.
    pub name: String,
    /// The ELF section (`kprobe/vfs_read`).
    pub section: String,
    pub accepted: bool,
    /// Why it was rejected, in the kernel's words.
    pub message: Option<String>,
    /// The instruction (as loaded, subprograms appended) that broke a rule.
    pub insn: Option<usize>,
    /// That instruction, disassembled.
    pub disasm: Option<String>,
    /// `file:line: text` of that instruction, from `.BTF.ext` line info.
    pub line: Option<String>,
    /// Instructions processed, as the kernel counts them.
    pub processed: usize,
}

/// Checks every program of the object in `bytes` for `arch` at `kernel`.
pub fn check_object(
    bytes: &[u8],
    arch: Arch,
    kernel: KernelVersion,
) -> Result<Vec<Verdict>, CheckError> {
    check_object_for(bytes, &Target::new(arch, kernel))
}

/// Checks every program of the object in `bytes` for `target`.
pub fn check_object_for(bytes: &[u8], target: &Target) -> Result<Vec<Verdict>, CheckError> {
    check_object_typed(bytes, target, None)
}

/// Why no program of the object reaches the verifier of `target`'s
/// kernel: it has CO-RE relocations, and the kernel no BTF to relocate
/// them against (libbpf and aya refuse it at load).
fn unrelocatable(bytes: &[u8], target: &Target) -> Result<Option<&'static str>, CheckError> {
    if target.rules.btf || !program::has_core_relocations(bytes)? {
        return Ok(None);
    }
    Ok(Some(
        "the object reads kernel structs (CO-RE relocations), and this kernel has no BTF to \
         relocate them against (CONFIG_DEBUG_INFO_BTF is not set)",
    ))
}

/// Checks one program.
pub fn check_program(prog: &Program, arch: Arch, kernel: KernelVersion) -> Verdict {
    check_program_for(prog, &Target::new(arch, kernel))
}

/// Checks every program of the object in `bytes` for `target`, with the
/// kernel's types when given: fentry/fexit programs then see their
/// function's prototype, as the kernel's verifier does
/// ([`tracing`], [`btf_ptr`]); without them, the conservative model.
pub fn check_object_typed(
    bytes: &[u8],
    target: &Target,
    types: Option<&KernelBtf>,
) -> Result<Vec<Verdict>, CheckError> {
    let refused = unrelocatable(bytes, target)?;
    program::each_program(bytes, |p| match refused {
        Some(why) => Verdict {
            name: p.name.clone(),
            section: p.section.clone(),
            accepted: false,
            message: Some(why.to_string()),
            insn: None,
            disasm: None,
            line: None,
            processed: 0,
        },
        None => check_program_typed(&p, target, types),
    })
}

/// Checks one program for `target`.
pub fn check_program_for(prog: &Program, target: &Target) -> Verdict {
    check_program_typed(prog, target, None)
}

/// Checks one program for `target` with the kernel's types, if given.
pub fn check_program_typed(prog: &Program, target: &Target, types: Option<&KernelBtf>) -> Verdict {
    let out = verify::verify_typed(prog, target, types);
    let mut v = Verdict {
        name: prog.name.clone(),
        section: prog.section.clone(),
        accepted: out.result.is_ok(),
        message: None,
        insn: None,
        disasm: None,
        line: None,
        processed: out.processed,
    };
    if let Err(e) = out.result {
        v.disasm = (e.insn < prog.insns.len()).then(|| disasm::insn_text(&prog.insns, e.insn).0);
        v.line = prog.line_of(e.insn).map(str::to_string);
        v.insn = Some(e.insn);
        v.message = Some(e.message);
    }
    v
}

/// Checks a bare instruction stream as a kprobe program with `maps` and a
/// GPL license (for fuzzing and the runner's hook).
pub fn check_insns(
    insns: &[probecc::insn::Insn],
    maps: &[MapSpec],
    arch: Arch,
    kernel: KernelVersion,
) -> Verdict {
    check_program(&Program::bare(insns, maps, true), arch, kernel)
}
