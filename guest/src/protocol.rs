//! The plan (host → guest) and the result lines (guest → host). One JSON
//! object per console line, after the [`MARK`] prefix, so that the host
//! finds them among the kernel's messages.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The prefix of every result line on the console.
pub const MARK: &str = "PROBECC ";
/// Where the plan lives in the initramfs.
pub const PLAN_PATH: &str = "/probecc/plan.json";

/// Everything the guest is asked to do in one boot.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Plan {
    /// The canonical arch name (`probecc::arch::Arch::name`).
    pub arch: String,
    /// Seconds after which the guest's own watchdog powers it off.
    pub watchdog_secs: u64,
    pub fixtures: Vec<FixturePlan>,
    pub overhead: Option<OverheadPlan>,
    /// Specs run under bpftrace and under probecc (`cargo xtask parity`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parity: Vec<ParityCase>,
    /// Objects the kernel only verifies (`cargo xtask verifier-diff
    /// --arch`): each program loaded, never attached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verifier: Vec<VerifierCase>,
    /// What each spec costs under its own workload, against an empty
    /// probe on the same functions (`probecc qemu`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub costs: Vec<CostPlan>,
    /// Where busybox is in the guest: the agent links each of its applets
    /// into `/bin` (those not there already) before anything runs, so
    /// that workloads are real commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busybox: Option<String>,
    /// Many functions attached at once by bpftrace and by `probecc
    /// trace` (`cargo xtask parity --attach-scale N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_scale: Option<AttachScalePlan>,
}

/// The attach-scale measurement: for each of `globs`, a counting probe on
/// it run to completion around a command that does nothing, by each tool
/// in turn, `runs` times. A glob that is a number N stands for the family
/// of the guest kernel's traceable functions (`PREFIX_*`) whose size is
/// nearest N.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AttachScalePlan {
    pub globs: Vec<String>,
    pub runs: u32,
}

/// The prefix of an attach-scale result line ([`ScaleReport`]), which
/// `cargo xtask parity` reads from the console log.
pub const SCALE_MARK: &str = "PROBECC-SCALE ";

/// One tool's runs of the attach-scale probe.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ScaleReport {
    /// The glob, e.g. `tcp_*`, and how many traceable functions of this
    /// kernel it matches.
    pub pattern: String,
    pub matched: usize,
    /// `bpftrace`, `probecc trace` (its defaults: the kprobe-multi link
    /// where the kernel has it) or `probecc trace, one kprobe per
    /// function` (`--multi never --attach kprobe`).
    pub tool: String,
    pub runs: Vec<ScaleRun>,
}

/// One run of one tool: the whole command (compile, load, attach, run
/// the command, detach, print), in seconds of the guest clock.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ScaleRun {
    pub secs: f64,
    pub status: i32,
    /// The probes the tool said it attaches (`Attaching N probes...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached: Option<usize>,
    /// Seconds to that line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_secs: Option<f64>,
    /// The tool's stderr (its notes, or why it failed), at most a few lines.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr: String,
}

/// Where the guest's commands are: what a workload's command is looked up
/// in, in order.
pub const PATH: [&str; 4] = ["/bin", "/sbin", "/usr/bin", "/usr/sbin"];

/// What one spec costs under its own workload: `rounds` interleaved
/// rounds of the workload with nothing attached, with `subjects` attached
/// one at a time (an empty probe on the spec's functions, then the spec),
/// each timed from the first command's start to the last one's end; a
/// calibration run with the kernel's BPF run statistics counts each
/// subject's probe hits per workload run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CostPlan {
    /// The spec's name (a fixture of the plan).
    pub name: String,
    pub workload: Vec<String>,
    pub rounds: u32,
    pub subjects: Vec<Subject>,
}

/// One program of the verifier-diff corpus for the guest's kernel to judge.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct VerifierCase {
    /// The corpus entry's name (unique in the plan).
    pub name: String,
    /// The object's path in the guest.
    pub object: String,
    /// The program's function symbol in the object.
    pub program: String,
}

/// The prefix of a verifier result line ([`VerifierReport`]), which the
/// matrix's readers pass over.
pub const VERIFIER_MARK: &str = "PROBECC-VERIFIER ";

/// The kernel's verdict on one [`VerifierCase`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierReport {
    pub name: String,
    pub accepted: bool,
    /// The verifier log's last lines when the kernel refused it (at most
    /// [`VERIFIER_LOG_LINES`]).
    #[serde(default)]
    pub log: String,
    /// The loader's error when the program never reached the kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loader: Option<String>,
    pub millis: u64,
}

/// How much of a refusal's verifier log a result line carries: its end,
/// where the error is.
pub const VERIFIER_LOG_LINES: usize = 40;

/// One spec of the parity run: the bpftrace script and probecc's object
/// of the same spec (paths in the guest), and the workload both run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ParityCase {
    pub name: String,
    /// The script bpftrace runs (`bpftrace SCRIPT -c WORKLOAD`).
    pub script: String,
    pub object: String,
    pub manifest: String,
    /// Workload commands, as in `FixturePlan::workload`.
    pub workload: Vec<String>,
    /// The spec `probecc trace` compiles on the device (the text the
    /// object was compiled from); `None`: no trace side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// The symbol list its wildcards expand against (the one the
    /// object's and bpftrace's attach points come from), if it has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbols: Option<String>,
}

/// Where the guest holds bpftrace (the host packs it there, the agent
/// runs it from there).
pub const BPFTRACE: &str = "/usr/bin/bpftrace";

/// Where the guest holds the `probecc` dist binary (`cargo xtask dist`).
pub const PROBECC: &str = "/bin/probecc";

/// The prefix of a parity result line ([`ParityReport`]): not a
/// [`Report`], so the matrix's readers pass over it; `cargo xtask parity`
/// reads these lines from the console log.
pub const PARITY_MARK: &str = "PROBECC-PARITY ";

/// One parity case's result line.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ParityReport {
    pub name: String,
    pub bpftrace: ParitySide,
    pub probecc: ParitySide,
    /// `probecc trace` on the device, when the case has a spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<ParitySide>,
}

/// What one side of a parity case printed or read.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ParitySide {
    /// bpftrace: its stdout; probecc: empty.
    #[serde(default)]
    pub stdout: String,
    /// bpftrace: its stderr; probecc: load, attach and read errors.
    #[serde(default)]
    pub stderr: String,
    /// The exit status (bpftrace: minus the signal that killed it).
    #[serde(default)]
    pub status: i32,
    /// probecc: every map decoded in full (`{name: [{key, value}]}`).
    #[serde(default)]
    pub maps: Value,
    /// probecc: the text lines its records printed (printf, time, ...),
    /// in order.
    #[serde(default)]
    pub printf: Vec<String>,
    /// probecc: each map `print()` showed, in order (`{map, entries}`).
    #[serde(default)]
    pub prints: Vec<Value>,
    /// The pids of the workload's processes.
    #[serde(default)]
    pub pids: Vec<u32>,
    pub secs: f64,
    /// bpftrace and `probecc trace`: seconds from the start to the
    /// `Attaching N probes` line (guest clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_secs: Option<f64>,
    /// bpftrace and `probecc trace`: the process's peak resident set
    /// (`VmHWM`), in KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_kb: Option<u64>,
}

/// One fixture: its object and manifest (paths in the guest), the
/// workload that exercises it, and what its maps must hold afterwards.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FixturePlan {
    pub name: String,
    pub object: String,
    pub manifest: String,
    /// Workload commands run in order, each a command line of the guest's
    /// commands (busybox's applets and the files added to the guest;
    /// words split as a shell does, with quotes: `sh -c 'a; b'`), run as
    /// a process of that comm.
    pub workload: Vec<String>,
    pub expect: Vec<Expectation>,
    /// Why this fixture cannot work on this arch, if it cannot (e.g. a
    /// `FUNC+OFFSET` the kernel refuses or never reaches here): attach
    /// errors are then notes and the expectations are not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
    /// A known defect that makes this fixture fail (the host reports its
    /// failures as known rather than failing the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_failure: Option<String>,
    /// Whether each `kprobe:FUNC+OFFSET` program attaches at FUNC's first
    /// valid offset past its entry in the guest's kernel (what `probecc
    /// offsets FUNC --valid` lists first past 0 and the ftrace site) instead
    /// of the section's offset, which is then only checked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first_valid_offset: bool,
    /// The fixture built with `kprobe:`/`kretprobe:` as fentry/fexit
    /// (`--attach fentry`): run only where the kernel has BPF trampolines
    /// and BTF (the arch table's `trampolines_since`), else reported as
    /// [`Report::Unavailable`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tracing: bool,
    /// Whether the report carries what bpftrace would have printed
    /// (`Report::Fixture::output`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub output: bool,
}

/// One declared expectation of a fixture (data in `fixtures/matrix/`).
///
/// - `printf`: the number of printf lines containing this text;
/// - `map` without `key`: the number of entries;
/// - `map` and `key`: the entry's value (`field` of stats/avg: `count`,
///   `avg` or `total`; `bucket` of hist/lhist: the count of the bucket
///   holding that value, otherwise all buckets' counts summed).
///
/// Key parts are JSON values; the strings `$pid` and `$uid` stand for the
/// workload's pid and uid. The comparison is `equals`, `at_least`,
/// `at_most`, `same_as` (the same key's value, field and bucket in the map
/// it names) (all that are given), or `at_least = 1` if none is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printf: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
}

/// The overhead measurement: a tight loop of 1-byte reads from /dev/zero
/// and writes to /dev/null, `rounds` interleaved rounds over the subjects.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OverheadPlan {
    pub iterations: u64,
    pub rounds: u32,
    /// Iterations of the calibration run that counts probe hits.
    pub calibration_iterations: u64,
    pub subjects: Vec<Subject>,
}

/// Something attached during a round: an object (all its programs), or
/// nothing (`object` empty: the baseline).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Subject {
    pub name: String,
    /// `baseline`, `empty`, `fixture` or `clang`.
    pub kind: String,
    pub object: String,
    /// For `clang`: the fixture this object is the C twin of.
    #[serde(default)]
    pub twin_of: Option<String>,
    /// The object's programs: (function symbol, ELF section).
    #[serde(default)]
    pub programs: Vec<(String, String)>,
    /// fentry/fexit programs, which a kernel without BPF trampolines (or
    /// without BTF) refuses: their refusal is [`Report::Unavailable`],
    /// not an error, and the host checks it against the arch table.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tracing: bool,
    /// A kprobe-multi subject: its kprobe-multi programs attach by one
    /// link each, never one function at a time, and a kernel without the
    /// link refuses it ([`Report::Unavailable`], which the host checks
    /// against the arch table).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multi: bool,
    /// The functions of each kprobe-multi program that lists them (a bare
    /// `kprobe.multi` section), by program; a pattern's section names its
    /// own.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub functions: std::collections::BTreeMap<String, Vec<String>>,
}

fn one() -> u64 {
    1
}

/// One console result line.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Report {
    /// The guest is up.
    Boot {
        arch: String,
        kernel: String,
        cpus: u32,
        /// `net.core.bpf_jit_enable` once the agent has turned the JIT on
        /// (1), or `None` when the kernel has no JIT (the interpreter).
        #[serde(default)]
        jit: Option<u8>,
        /// What the runtime's feature probe says of the kprobe-multi link
        /// (`probecc_runtime::live::kernel::has_kprobe_multi`), which
        /// `probecc trace --multi auto` goes by.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kprobe_multi: Option<bool>,
    },
    /// One check of the compiler's tables against the kernel.
    Table {
        check: String,
        ok: bool,
        table: String,
        kernel: String,
        detail: String,
    },
    /// One fixture: loaded and attached (with aya), workload run,
    /// expectations checked.
    Fixture {
        name: String,
        loaded: bool,
        attached: usize,
        programs: usize,
        expectations_met: usize,
        expectations: usize,
        ok: bool,
        errors: Vec<String>,
        #[serde(default)]
        not_attached: Vec<String>,
        /// The decoded maps, for the log.
        #[serde(default)]
        maps: Value,
        /// What bpftrace would have printed (when the plan asks): the
        /// attach line, the printf output, every map at the end.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<String>,
        /// Remarks that fail nothing: a workload command that exited
        /// non-zero, with what it said.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        notes: Vec<String>,
    },
    /// One timed round of a spec's workload (`CostPlan`): guest ns per
    /// workload run with `subject` attached (`none`: nothing), over `runs`
    /// runs.
    Cost {
        spec: String,
        subject: String,
        round: u32,
        ns: f64,
        #[serde(default = "one")]
        runs: u64,
    },
    /// The probe hits of a subject in one run of a spec's workload.
    CostHits {
        spec: String,
        subject: String,
        hits: u64,
    },
    /// Probe hits per loop iteration of a subject (calibration).
    Hits { subject: String, per_iteration: f64 },
    /// One timed round of one subject: guest ns per loop iteration.
    Round {
        subject: String,
        round: u32,
        ns_per_op: f64,
    },
    /// An error outside any fixture (the overhead run, the plan).
    Error { what: String, error: String },
    /// A tracing subject or fixture this kernel cannot run: the kernel's
    /// refusal, or why the agent did not try (no trampolines, no BTF).
    Unavailable { what: String, why: String },
    /// The guest's watchdog fired.
    Watchdog { secs: u64 },
    /// Everything ran; the guest powers off.
    Done { secs: f64 },
}
