//! What a spec's `config = { ... }` block sets: the limits code
//! generation uses (`str()` size, map entries, ring buffer size) and the
//! runtime behaviour the manifest passes on to loaders.

use serde::{Deserialize, Serialize};

use super::map::MAX_ENTRIES;

/// The default `str()` size, NUL included (bpftrace's `max_strlen`).
pub const STR_DEFAULT: u32 = 64;
/// The largest string probecc keeps: strings live on the 512-byte BPF
/// stack.
pub const STR_MAX: u32 = 200;
/// The default ring buffer size in pages (bpftrace's `perf_rb_pages`).
pub const RINGBUF_PAGES: u32 = 64;
/// The page size ring buffer sizes count in.
pub const PAGE_SIZE: u32 = 4096;

/// The settings of one spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The size of `str(addr)` without a length, NUL included.
    pub str_size: u32,
    /// Every map's `max_entries`.
    pub max_entries: u32,
    /// The printf ring buffer's size in bytes.
    pub ringbuf_bytes: u32,
    pub runtime: RuntimeConfig,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            str_size: STR_DEFAULT,
            max_entries: MAX_ENTRIES,
            ringbuf_bytes: RINGBUF_PAGES * PAGE_SIZE,
            runtime: RuntimeConfig::default(),
        }
    }
}

/// What a runtime does differently for this spec (the manifest's
/// `config`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    /// What to do with an attach point that cannot attach.
    pub missing_probes: MissingProbes,
    /// Whether the maps still holding entries are printed at exit.
    pub print_maps_on_exit: bool,
    /// How kernel stacks are printed.
    pub stack_mode: StackMode,
}

impl Default for RuntimeConfig {
    fn default() -> RuntimeConfig {
        RuntimeConfig {
            missing_probes: MissingProbes::Error,
            print_maps_on_exit: true,
            stack_mode: StackMode::Bpftrace,
        }
    }
}

impl RuntimeConfig {
    /// Whether nothing differs from bpftrace's defaults.
    pub fn is_default(&self) -> bool {
        *self == RuntimeConfig::default()
    }
}

/// bpftrace's `missing_probes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingProbes {
    /// Fail to start.
    Error,
    /// Print a warning and go on without the probe.
    Warn,
    /// Go on without the probe, silently.
    Ignore,
}

/// bpftrace's `stack_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StackMode {
    /// One frame per line, indented.
    Bpftrace,
    /// `perf`'s layout: address, symbol, module.
    Perf,
    /// Addresses only.
    Raw,
}
