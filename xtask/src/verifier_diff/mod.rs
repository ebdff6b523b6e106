//! `cargo xtask verifier-diff`: verifier-sim measured against the host
//! kernel's verifier on a differential corpus. The corpus is
//! `fixtures/verifier/*.c` (hand-written programs, one rule per file, each
//! compiled by clang into an object of its own, see [`corpus`]) and the
//! fixture specs' programs as compiled and mutated ([`mutate`]). Nothing
//! in it says what the verdict should be: each object is loaded into the
//! running kernel ([`kernel`]) and its verdict and last log line are the
//! truth that verifier-sim's verdict on the same bytes is compared with.
//!
//! The host's x86_64 kernel is the only verifier it runs: the other four
//! arches are measured on the same x86_64 objects with their own `pt_regs`
//! size, the x86_64 kernel's verdict expected, except where the kernel
//! refused only a ctx access that fits the other arch's `pt_regs`, which
//! no kernel here can decide.

pub mod corpus;
pub mod kernel;
pub mod mutate;
pub mod report;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;
use probecc::arch::{Arch, KernelVersion};

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

/// Runs verifier-sim on `bytes` for `arch` and returns its verdict on the
/// program `name`, catching panics and giving up after [`SIM_TIMEOUT`].
pub fn simulate(bytes: &[u8], name: &str, arch: Arch, kernel: KernelVersion) -> SimOutcome {
    let (tx, rx) = mpsc::channel();
    let bytes = bytes.to_vec();
    let wanted = name.to_string();
    std::thread::spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(|| {
            verifier_sim::check_object(&bytes, arch, kernel)
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

/// One program through the kernel and through verifier-sim for every arch.
fn measure(i: usize, entry: &Entry, logs: &Path, version: KernelVersion) -> Result<Row> {
    let pin = PathBuf::from(format!(
        "/sys/fs/bpf/probecc-vdiff-{}-{i}",
        std::process::id()
    ));
    let log = logs.join(format!("{}.log", entry.name));
    let kernel = kernel::load(&entry.object, &pin, &log, Duration::from_secs(600))?;
    let sim = simulate(&entry.bytes, &entry.program, Arch::X86_64, version);
    let others = Arch::ALL
        .into_iter()
        .filter(|a| *a != Arch::X86_64)
        .map(|a| (a, simulate(&entry.bytes, &entry.program, a, version)))
        .collect();
    Ok(Row {
        entry: entry.clone(),
        kernel,
        sim,
        others,
    })
}

/// The corpus directory.
pub fn corpus_dir() -> PathBuf {
    crate::workspace_root().join("fixtures/verifier")
}

/// Builds the whole corpus under `out`.
pub fn build_corpus(out: &Path, only: Option<&str>, seed: u64) -> Result<Vec<Entry>> {
    let mut entries = corpus::build(&corpus_dir(), out, only)?;
    entries.extend(mutate::build(out, seed, only)?);
    Ok(entries)
}

/// Builds the corpus, loads every program into the host kernel (needs root,
/// bpftool and clang), runs verifier-sim on the same bytes, and writes
/// `report.md` and `report.json` under `opts.out`.
pub fn run(opts: &Options) -> Result<report::Report> {
    let started = Instant::now();
    std::fs::create_dir_all(&opts.out)?;
    let entries = build_corpus(&opts.out, opts.only.as_deref(), opts.seed)?;
    println!(
        "verifier-diff: {} programs built in {:.1} s",
        entries.len(),
        started.elapsed().as_secs_f64()
    );
    probecc_test_support::bpffs::ensure()?;
    let release = kernel::release();
    let version = kernel::version_of(&release).unwrap_or(KernelVersion(6, 1));
    let logs = opts.out.join("logs");
    std::fs::create_dir_all(&logs)?;
    // two workers, every other program each: loads are independent (one
    // pin directory per program) and the machine has two CPUs
    let indexed: Vec<(usize, Entry)> = entries.into_iter().enumerate().collect();
    let results: Vec<Result<Vec<(usize, Row)>>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let mine: Vec<&(usize, Entry)> = indexed.iter().skip(w).step_by(WORKERS).collect();
                let logs = &logs;
                s.spawn(move || -> Result<Vec<(usize, Row)>> {
                    mine.into_iter()
                        .map(|(i, entry)| {
                            let row = measure(*i, entry, logs, version)?;
                            if opts.verbose || row.sim.accepted() != Some(row.kernel.accepted) {
                                println!("{}", report::one_line(&row));
                            }
                            Ok((*i, row))
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
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    let machine = report::Machine::detect(&release);
    let report = report::Report::new(rows, machine, version, started.elapsed());
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
