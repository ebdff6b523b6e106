//! live (feature `live`, Linux): an object in the running kernel. Loaded
//! through aya ([`Loaded`]): its globals set and maps created, its
//! programs verified and attached to their kprobes and kretprobes (the
//! kprobe PMU) or run once (`BEGIN`, `END` and `interval` programs,
//! `BPF_PROG_TEST_RUN`), its ring buffer drained and its maps read back,
//! both decoded by the manifest beside it. Every attachment ends with the
//! [`Loaded`] that made it — detached explicitly or when it drops, on
//! every path, a failed attach included — and nothing is pinned.
//! kprobe-multi programs, which aya does not load, go through [`multi`],
//! fentry/fexit ones through [`tracing`].
//! [`Session`] runs an object as bpftrace runs a script, in the
//! manifest's order (BEGIN, intervals and records as they come, END, the
//! maps); [`System`] is the host its records' text is made with;
//! [`kernel`] is what the running kernel offers, [`privilege`] whether
//! this process may trace, and [`bpf`] the raw `bpf()` layer under the
//! map reads.

pub mod bpf;
pub mod kernel;
pub mod limits;
mod loaded;
pub mod multi;
mod prepare;
pub mod privilege;
mod session;
mod system;
pub mod tracing;

use std::path::PathBuf;

pub use loaded::{is_probe, target, LoadOptions, Loaded, VerifierLog};
pub use session::{Printer, Session, Sink};
pub use system::System;
pub use tracing::is_tracing;

/// The byte order of this machine, which is the kernel's.
pub(crate) const NATIVE: probecc::endian::Endian = if cfg!(target_endian = "big") {
    probecc::endian::Endian::Big
} else {
    probecc::endian::Endian::Little
};

use crate::decode::DecodeError;

/// What can go wrong loading, attaching or reading an object (aya's
/// errors boxed: they are large).
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the object reads kernel structs (CO-RE relocations), and this kernel has no BTF to \
         relocate them against: /sys/kernel/btf/vmlinux"
    )]
    NoKernelBtf(#[source] Box<aya::BtfError>),
    #[error(
        "the object loads the address of kernel symbol {0}, which /proc/kallsyms does not list \
         (or lists as 0: reading it needs root)"
    )]
    NoKsym(String),
    #[error("loading the object")]
    Load(#[source] Box<aya::EbpfError>),
    #[error("the object has no program {0}")]
    NoProgram(String),
    #[error("{0} is neither a kprobe, an fentry or fexit, nor a raw tracepoint program")]
    Kind(String),
    #[error("loading {name}")]
    ProgramLoad {
        name: String,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    /// The kernel's verifier refused the program; `log` is what it said.
    #[error("the kernel's verifier rejected {name}")]
    Rejected {
        name: String,
        log: String,
        #[source]
        source: std::io::Error,
    },
    #[error("running {name} (BPF_PROG_TEST_RUN)")]
    Run {
        name: String,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    #[error(
        "this kernel has no kprobes (built without CONFIG_KPROBES: there is no {})",
        kernel::KPROBE_PMU
    )]
    NoKprobes,
    #[error("attaching {name} to {func}+{offset}")]
    Attach {
        name: String,
        func: String,
        offset: u64,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    #[error("attaching {name} by one kprobe-multi link")]
    MultiLink {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the object has no map {0}")]
    NoMap(String),
    #[error("{0} is not a ring buffer")]
    NotRingBuf(String),
    #[error("reading map {name}")]
    ReadMap {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("writing map {name}")]
    WriteMap {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("map {name}")]
    MapInfo {
        name: String,
        #[source]
        source: Box<aya::maps::MapError>,
    },
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Exec(#[from] crate::exec::ExecError),
    #[error("an action names {0}, which is not a map of the manifest")]
    NoSuchMap(String),
    #[error(transparent)]
    Kernel(#[from] kernel::KernelError),
    #[error("writing the output")]
    Output(#[source] std::io::Error),
}

impl LiveError {
    /// The system's error under this one (an attach's `perf_event_open`
    /// errno, a verifier's `EACCES`), if one caused it.
    pub fn os_error(&self) -> Option<&std::io::Error> {
        let mut at: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = at {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                return Some(io);
            }
            at = e.source();
        }
        None
    }
}

/// How many CPUs the kernel may bring up (`/sys/devices/system/cpu/
/// possible`): a per-CPU map holds a value for each.
pub fn possible_cpus() -> usize {
    aya::util::nr_cpus().unwrap_or(1).max(1)
}
