//! error: everything that can go wrong loading an object, reading events or
//! running a program, each naming where — the section and instruction, the
//! event line, the map — so that a user can find the cause.

use probecc::btf::BtfError;

/// Where in a program something happened: the section, the instruction's
/// index in the object (not in the rewritten code) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub section: String,
    pub index: usize,
    pub text: String,
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, instruction {} `{}`",
            self.section, self.index, self.text
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not a BPF object: {0}")]
    Elf(#[from] goblin::error::Error),
    #[error("bad object: {0}")]
    Object(String),
    #[error("bad BTF in the object: {0}")]
    Btf(#[from] BtfError),
    #[error("bad manifest: {0}")]
    Manifest(String),
    #[error("{site}: {reason}")]
    Unsupported { site: Site, reason: String },
    #[error("events line {line}: {reason}")]
    Event { line: usize, reason: String },
    #[error("events line {line}: {site}: {reason}")]
    Fault {
        line: usize,
        site: Site,
        reason: String,
    },
    #[error("events line {line}: {section}: {reason}")]
    Run {
        line: usize,
        section: String,
        reason: String,
    },
    #[error(
        "{section}: the kernel would reject this program: instruction {insn} `{disasm}`: {message}"
    )]
    Rejected {
        section: String,
        insn: usize,
        disasm: String,
        message: String,
    },
    #[error("{section}: the JIT cannot run this program: {reason}")]
    Jit { section: String, reason: String },
    /// A map or ring-buffer record that does not decode by the manifest.
    #[error("{0}")]
    Decode(#[from] probecc_runtime::decode::DecodeError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
