//! `cargo xtask verifier-diff`: verifier-sim measured against a kernel's
//! verifier on a differential corpus. The corpus is `fixtures/verifier/*.c`
//! (hand-written assembly, one rule per file), `fixtures/verifier/clang/*.c`
//! (C as kprobe authors write it), each program compiled by clang into an
//! object of its own ([`corpus`]), and the fixture specs' programs as
//! compiled and mutated ([`mutate`]). Nothing in it says what the verdict
//! should be: each object is loaded into a kernel and its verdict and last
//! log line are the truth that verifier-sim's verdict on the same bytes,
//! with that kernel's release's rules ([`verifier_sim::release`]), is
//! compared with.
//!
//! Each kernel's verdicts on the clang-built half are kept as data
//! ([`labels`]), so that every test run holds verifier-sim against every
//! kernel it was measured against without booting one.
//!
//! [`judge`] is the comparison for any kernel, given a way to load an
//! object into it: [`run`] gives it the host's ([`kernel`]), and a QEMU
//! guest can give it its own (the objects built for its arch with
//! [`build_corpus`]). On the host, the other four arches are measured on
//! the same x86_64 objects with their own `pt_regs` size, the x86_64
//! kernel's verdict expected, except where the kernel refused only a ctx
//! access that fits the other arch's `pt_regs`, which no kernel here can
//! decide.

pub mod corpus;
pub mod kernel;
pub mod labels;
pub mod mutate;
pub mod report;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;
use probecc::arch::{Arch, KernelVersion};
use verifier_sim::{Rodata, Rules, Target};

pub use kernel::KernelVerdict;

/// One program of the corpus, in an object of its own.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Unique in the corpus: the program's symbol for hand-written ones,
    /// `orig_<spec>_<k>` / `mut_<spec>_<operator>` for the fixtures'.
    pub name: String,
    /// The program's function symbol in the object.
    pub program: String,
    /// The corpus file stem (`ctx`, `ringbuf`...), `fixtures` or `mutants`.
    pub rule: String,
    /// Where it comes from: `fixtures/verifier/ctx.c:12`, or the spec, the
    /// program and the mutation.
    pub origin: String,
    pub object: PathBuf,
    pub bytes: Vec<u8>,
}

/// verifier-sim's answer on one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimOutcome {
    Verdict {
        accepted: bool,
        message: Option<String>,
        insn: Option<usize>,
        processed: usize,
    },
    /// `check_object` refused the object, or named no such program.
    Error(String),
    /// It panicked or did not finish in time.
    Crash(String),
}

impl SimOutcome {
    pub fn accepted(&self) -> Option<bool> {
        match self {
            SimOutcome::Verdict { accepted, .. } => Some(*accepted),
            _ => None,
        }
    }

    pub fn message(&self) -> Option<&str> {
        match self {
            SimOutcome::Verdict { message, .. } => message.as_deref(),
            SimOutcome::Error(m) | SimOutcome::Crash(m) => Some(m),
        }
    }
}

/// How long verifier-sim may take on one object before it counts as hung.
pub const SIM_TIMEOUT: Duration = Duration::from_secs(60);

/// The kernel that judges: its arch, release and whether its JIT is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judge {
    pub arch: Arch,
    /// major.minor of the running release.
    pub release: KernelVersion,
    pub jit: bool,
    /// Whether it has its own BTF (`/sys/kernel/btf/vmlinux`).
    pub btf: bool,
    /// Whether its build runs kprobe frames on private stacks
    /// (`Rules::private_stack`).
    pub private_stack: bool,
    /// The full release string (`6.18.44-fc-v669`, `6.1.0-27-arm64`).
    pub name: String,
}

impl Judge {
    /// verifier-sim's target for this kernel's verdicts on `arch`: its
    /// release's rules, and `.rodata` as the object holds it (the loader
    /// sets nothing).
    pub fn target(&self, arch: Arch) -> Target {
        Target {
            arch,
            rules: Rules {
                jit: self.jit,
                btf: self.btf,
                private_stack: self.private_stack,
                ..Rules::new(arch, self.release)
            },
            rodata: Rodata::Initial,
        }
    }
}

/// The releases verifier-sim is also run at on the host's objects, to show
/// which verdicts change with the release's rules (Debian's 6.1 and 6.12).
pub const OTHER_RELEASES: [KernelVersion; 2] = [KernelVersion(6, 1), KernelVersion(6, 12)];

/// Runs verifier-sim on `bytes` for `target` and returns its verdict on
/// the program `name`, catching panics and giving up after [`SIM_TIMEOUT`].
pub fn simulate(bytes: &[u8], name: &str, target: Target) -> SimOutcome {
    let (tx, rx) = mpsc::channel();
    let bytes = bytes.to_vec();
    let wanted = name.to_string();
    std::thread::spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(|| {
            verifier_sim::check_object_for(&bytes, &target)
        }));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(SIM_TIMEOUT) {
        Err(_) => SimOutcome::Crash(format!("did not finish in {SIM_TIMEOUT:?}")),
        Ok(Err(panic)) => SimOutcome::Crash(format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)")
        )),
        Ok(Ok(Err(e))) => SimOutcome::Error(e.to_string()),
        Ok(Ok(Ok(verdicts))) => match verdicts.into_iter().find(|v| v.name == wanted) {
            Some(v) => SimOutcome::Verdict {
                accepted: v.accepted,
                message: v.message,
                insn: v.insn,
                processed: v.processed,
            },
            None => SimOutcome::Error(format!("no verdict for program {wanted}")),
        },
    }
}

/// One program's verdicts.
#[derive(Clone, Debug)]
pub struct Row {
    pub entry: Entry,
    pub kernel: KernelVerdict,
    pub sim: SimOutcome,
    /// verifier-sim on the same bytes with each other arch's `pt_regs`.
    pub others: Vec<(Arch, SimOutcome)>,
    /// verifier-sim on the same bytes with other releases' rules.
    pub releases: Vec<(KernelVersion, SimOutcome)>,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where objects, logs and the report go.
    pub out: PathBuf,
    /// Keep only programs whose name contains this.
    pub only: Option<String>,
    /// The mutation seed.
    pub seed: u64,
    /// Print a line per program.
    pub verbose: bool,
}

impl Options {
    pub fn new(out: PathBuf) -> Options {
        Options {
            out,
            only: None,
            seed: mutate::DEFAULT_SEED,
            verbose: false,
        }
    }
}

const WORKERS: usize = 2;

/// Loads one corpus object into the judging kernel: the entry's index (for
/// unique pin paths) and the entry; the kernel's verdict and log.
pub type Load<'a> = dyn Fn(usize, &Entry) -> Result<KernelVerdict> + Sync + 'a;

/// Every entry through the kernel (`load`) and through verifier-sim with
/// the judge's rules; on x86_64, verifier-sim also with the other arches'
/// `pt_regs` and at [`OTHER_RELEASES`]. Two workers; a line per
/// disagreement (per program when `verbose`).
pub fn judge(entries: &[Entry], judge: &Judge, load: &Load, verbose: bool) -> Result<Vec<Row>> {
    let measure = |i: usize, entry: &Entry| -> Result<Row> {
        let kernel = load(i, entry)?;
        let sim = simulate(&entry.bytes, &entry.program, judge.target(judge.arch));
        let (others, releases) = if judge.arch == Arch::X86_64 {
            let others = Arch::ALL
                .into_iter()
                .filter(|a| *a != judge.arch)
                .map(|a| (a, simulate(&entry.bytes, &entry.program, judge.target(a))))
                .collect();
            let releases = OTHER_RELEASES
                .into_iter()
                .filter(|r| *r != judge.release)
                .map(|r| {
                    let j = Judge {
                        release: r,
                        ..judge.clone()
                    };
                    (r, simulate(&entry.bytes, &entry.program, j.target(j.arch)))
                })
                .collect();
            (others, releases)
        } else {
            (vec![], vec![])
        };
        Ok(Row {
            entry: entry.clone(),
            kernel,
            sim,
            others,
            releases,
        })
    };
    // two workers, every other program each: loads are independent (one
    // pin directory per program) and the machine has two CPUs
    let results: Vec<Result<Vec<(usize, Row)>>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let measure = &measure;
                s.spawn(move || -> Result<Vec<(usize, Row)>> {
                    entries
                        .iter()
                        .enumerate()
                        .skip(w)
                        .step_by(WORKERS)
                        .map(|(i, entry)| {
                            let row = measure(i, entry)?;
                            if verbose || row.sim.accepted() != Some(row.kernel.accepted) {
                                println!("{}", report::one_line(&row));
                            }
                            Ok((i, row))
                        })
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker panicked")))
            })
            .collect()
    });
    let mut rows: Vec<(usize, Row)> = Vec::new();
    for r in results {
        rows.extend(r?);
    }
    rows.sort_by_key(|(i, _)| *i);
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

/// The corpus directory.
pub fn corpus_dir() -> PathBuf {
    crate::workspace_root().join("fixtures/verifier")
}

/// Builds the whole corpus for `arch` under `out`.
pub fn build_corpus(out: &Path, only: Option<&str>, seed: u64, arch: Arch) -> Result<Vec<Entry>> {
    let mut entries = corpus::build(&corpus_dir(), out, only, arch)?;
    entries.extend(mutate::build(out, seed, only, arch)?);
    Ok(entries)
}

/// The host kernel as a judge: x86_64, the running release, its JIT switch.
pub fn host_judge() -> Judge {
    let name = kernel::release();
    let jit = std::fs::read_to_string("/proc/sys/net/core/bpf_jit_enable")
        .map(|s| s.trim() != "0")
        .unwrap_or(true);
    Judge {
        arch: Arch::X86_64,
        release: kernel::version_of(&name).unwrap_or(KernelVersion(6, 1)),
        jit,
        btf: std::path::Path::new(probecc::btf::kernel::HOST_VMLINUX).exists(),
        // measured: the 6.18.44 host refuses two 304-byte frames
        private_stack: false,
        name,
    }
}

/// Builds the corpus, loads every program into the host kernel (needs root,
/// bpftool and clang), runs verifier-sim on the same bytes, and writes
/// `report.md` and `report.json` under `opts.out`.
pub fn run(opts: &Options) -> Result<report::Report> {
    let started = Instant::now();
    std::fs::create_dir_all(&opts.out)?;
    let entries = build_corpus(&opts.out, opts.only.as_deref(), opts.seed, Arch::X86_64)?;
    println!(
        "verifier-diff: {} programs built in {:.1} s",
        entries.len(),
        started.elapsed().as_secs_f64()
    );
    probecc_test_support::bpffs::ensure()?;
    let host = host_judge();
    let logs = opts.out.join("logs");
    std::fs::create_dir_all(&logs)?;
    let load = |i: usize, entry: &Entry| -> Result<KernelVerdict> {
        let pin = PathBuf::from(format!(
            "/sys/fs/bpf/probecc-vdiff-{}-{i}",
            std::process::id()
        ));
        let log = logs.join(format!("{}.log", entry.name));
        kernel::load(&entry.object, &pin, &log, Duration::from_secs(600))
    };
    let rows = judge(&entries, &host, &load, opts.verbose)?;
    let machine = report::Machine::detect(&host.name);
    let report = report::Report::new(rows, machine, host, started.elapsed());
    let md = opts.out.join("report.md");
    let json = opts.out.join("report.json");
    std::fs::write(&md, report.markdown())?;
    std::fs::write(&json, report.json())?;
    println!(
        "verifier-diff: wrote {} and {}",
        md.display(),
        json.display()
    );
    Ok(report)
}
