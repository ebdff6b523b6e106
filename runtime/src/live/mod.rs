//! live (feature `live`, Linux): an object in the running kernel. Loaded
//! through aya ([`Loaded`]): its maps created, its programs verified and
//! attached to their kprobes and kretprobes (the kprobe PMU) or run
//! (`BEGIN`, `END` and `interval` programs, `BPF_PROG_TEST_RUN`), its ring
//! buffer drained and its maps read back, both decoded by the manifest
//! beside it; [`Session`] is a whole run in the manifest's order. Every
//! attachment ends with the [`Loaded`] that made it — detached explicitly
//! or when it drops, on every path, a failed attach included — and
//! nothing is pinned. [`bpf`] is the raw `bpf()` layer under the map
//! reads and writes and the test runs.

pub mod bpf;
mod loaded;
mod session;

use std::path::PathBuf;

pub use loaded::{target, Loaded};
pub use session::{Session, System};

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
    #[error("{name} is not a kprobe program")]
    NotKprobe {
        name: String,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    #[error("running {name} (BPF_PROG_TEST_RUN)")]
    TestRun {
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
    #[error("loading {name}")]
    ProgramLoad {
        name: String,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    #[error("attaching {name} to {func}+{offset}")]
    Attach {
        name: String,
        func: String,
        offset: u64,
        #[source]
        source: Box<aya::programs::ProgramError>,
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
}

/// How many CPUs the kernel may bring up (`/sys/devices/system/cpu/
/// possible`): a per-CPU map holds a value for each.
pub fn possible_cpus() -> usize {
    aya::util::nr_cpus().unwrap_or(1).max(1)
}
