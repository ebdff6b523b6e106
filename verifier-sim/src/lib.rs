//! verifier-sim: an abstract interpreter that applies the kernel verifier's
//! rules for `BPF_PROG_TYPE_KPROBE` programs (and the raw tracepoint
//! programs a loader runs itself, [`prog_type`], and the fentry/fexit
//! tracing programs that stand in for kprobes, [`tracing`]) offline, for any of the
//! five arches, with the kernel's messages.
//!
//! The pipeline: [`program`] reads an object as a loader would (subprograms
//! appended, map loads resolved against the BTF-defined maps, line info);
//! [`cfg`] runs the static checks and computes prune points and register
//! liveness; [`verify`] explores every path with a [`state::State`] of
//! [`reg::RegState`]s (scalars as [`scalar::Scalar`] bounds over a
//! [`tnum::Tnum`]), checking memory access in [`mem`] and helper calls in
//! [`call`]. The per-arch `pt_regs` size comes from `probecc::arch`, the
//! helper prototypes from `probecc::helpers`. Written here because no
//! crate models the kernel verifier.
//!
//! Where the model knows less than the kernel (no separate 32-bit bounds,
//! no scalar ids linking copies, no variable-offset stack access, only the
//! helpers probecc's table lists) it rejects: it may refuse what a kernel
//! accepts, and the differential corpus measures how often, but it must
//! not accept what a kernel refuses.

pub mod call;
pub mod cfg;
pub mod encoding;
pub mod mem;
pub mod precision;
pub mod prog_type;
pub mod program;
pub mod reg;
pub mod scalar;
pub mod state;
pub mod tnum;
pub mod tracing;
pub mod verify;

use probecc::arch::{Arch, KernelVersion};
use probecc::disasm;

pub use program::{MapSpec, Program};

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
    program::each_program(bytes, |p| check_program(&p, arch, kernel))
}

/// Checks one program.
pub fn check_program(prog: &Program, arch: Arch, kernel: KernelVersion) -> Verdict {
    let out = verify::verify(prog, arch, kernel);
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
    let prog = Program {
        name: "prog".into(),
        section: "kprobe/prog".into(),
        insns: insns.to_vec(),
        maps: maps.to_vec(),
        lines: vec![],
        gpl: true,
    };
    check_program(&prog, arch, kernel)
}
