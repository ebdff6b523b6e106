//! `cargo xtask verifier-diff`: the command line over
//! `xtask::verifier_diff`. Installs clang and bpftool if missing, needs
//! root (it loads every corpus program into the running kernel), and exits
//! non-zero when verifier-sim accepts a program the kernel refuses or
//! crashes on one. With `--arch`, the judges are QEMU guests of that arch
//! and `--release` instead (`verifier_guest`), one boot each.

use std::path::PathBuf;

use anyhow::{bail, Result};
use probecc::arch::Arch;
use xtask::verifier_diff::labels::{self, Labels};
use xtask::verifier_diff::{self, mutate, report::Report, Options};

use probecc_harness::machine::{self, Release};
use probecc_harness::tools::{self, Tool};

use crate::verifier_guest::{self, GuestRun};

#[derive(clap::Args)]
pub struct DiffArgs {
    /// Where objects, verifier logs, report.md and report.json go
    #[arg(long, default_value = "target/verifier-diff")]
    pub out: PathBuf,
    /// Only the programs whose name contains this
    #[arg(long)]
    pub only: Option<String>,
    /// Seed of the fixture mutations
    #[arg(long, default_value_t = mutate::DEFAULT_SEED)]
    pub seed: u64,
    /// A line per program, not only per disagreement
    #[arg(long, short)]
    pub verbose: bool,
    /// Judge in QEMU guests of this arch (or `all`) instead of the host
    #[arg(long)]
    pub arch: Option<String>,
    /// The guests' Debian releases (bookworm, trixie, sid, a list, or
    /// `all`); default: each arch's own
    #[arg(long, requires = "arch")]
    pub release: Option<String>,
    /// Seconds before a guest counts as hung
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
    /// Judge again from each guest's last console log, without booting
    #[arg(long, requires = "arch")]
    pub reuse: bool,
    /// Also write the judging kernel's verdicts on the clang-built
    /// programs to fixtures/verifier/labels/
    #[arg(long)]
    pub save_labels: bool,
}

const TOOLS: &[Tool] = &[
    Tool {
        command: "clang",
        package: "clang",
        why: "to compile the corpus in fixtures/verifier",
    },
    Tool {
        command: "bpftool",
        package: "bpftool",
        why: "to load each program into the kernel's verifier",
    },
];

pub fn run(args: &DiffArgs) -> Result<()> {
    let out = if args.out.is_absolute() {
        args.out.clone()
    } else {
        xtask::workspace_root().join(&args.out)
    };
    if let Some(arch) = &args.arch {
        return run_guests(args, arch, out);
    }
    tools::ensure_tools(TOOLS, &crate::qemu::install())?;
    if !tools::is_root() {
        bail!("verifier-diff loads programs into the running kernel: run it as root");
    }
    let report = verifier_diff::run(&Options {
        out,
        only: args.only.clone(),
        seed: args.seed,
        verbose: args.verbose,
    })?;
    summary("host", &report);
    if args.save_labels {
        save_labels(&report, "the host, bpftool")?;
    }
    if !report.passes() {
        let c = &report.counts;
        bail!(
            "verifier-sim accepted {} program(s) the kernel refuses and crashed on {}",
            c.false_accepts,
            c.sim_crashes
        );
    }
    Ok(())
}

/// Every (arch, release) guest in turn, one boot each; fails if any
/// judged a false accept or a crash, or did not run.
fn run_guests(args: &DiffArgs, arch: &str, out: PathBuf) -> Result<()> {
    tools::ensure_tools(&TOOLS[..1], &crate::qemu::install())?;
    let arches = if arch == "all" {
        Arch::ALL.to_vec()
    } else {
        vec![Arch::parse(arch)?]
    };
    let mut failed = Vec::new();
    for arch in arches {
        let releases = match &args.release {
            Some(r) => Release::parse_list(r)?,
            None => machine::default_releases(arch),
        };
        for release in releases {
            if !machine::has_kernel(arch, release) {
                println!("verifier-diff: Debian {release} has no {arch} kernel; skipped");
                continue;
            }
            let label = format!("{arch} {release}");
            let run = GuestRun {
                arch,
                release,
                out: out.clone(),
                only: args.only.clone(),
                seed: args.seed,
                verbose: args.verbose,
                timeout: args.timeout,
                reuse: args.reuse,
            };
            match verifier_guest::run(&run) {
                Ok(report) => {
                    summary(&label, &report);
                    if args.save_labels {
                        save_labels(&report, "a QEMU guest (TCG), aya")?;
                    }
                    if !report.passes() {
                        failed.push(format!("{label}: false accepts or crashes"));
                    }
                }
                Err(e) => {
                    println!("verifier-diff: {label}: {e:#}");
                    failed.push(format!("{label}: {e:#}"));
                }
            }
        }
    }
    if !failed.is_empty() {
        bail!("verifier-diff: {}", failed.join("; "));
    }
    Ok(())
}

/// Writes the report's kernel labels into the corpus.
fn save_labels(report: &Report, judged: &str) -> Result<()> {
    let labels = Labels::of(report, judged);
    let path = labels.save(&labels::dir())?;
    println!(
        "verifier-diff: {} labels of {} written to {}",
        labels.labels.len(),
        report.judge.name,
        path.display()
    );
    Ok(())
}

/// The one-line account of a run, as every verifier-diff caller prints it.
pub(crate) fn summary(label: &str, report: &Report) {
    let c = &report.counts;
    println!(
        "verifier-diff ({label}, {}): {} programs, {} same verdict, {} false accepts, {} false rejects, {} no verdict, {} crashes, {} refused by the loader; messages: {} same, {} partly, of {} rejected by both",
        report.judge.name,
        c.total,
        c.agree,
        c.false_accepts,
        c.false_rejects,
        c.sim_errors,
        c.sim_crashes,
        c.loader_rejects,
        c.message_exact,
        c.message_partial,
        c.both_reject
    );
}
