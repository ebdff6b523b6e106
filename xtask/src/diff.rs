//! `cargo xtask verifier-diff`: the command line over
//! `xtask::verifier_diff`. Installs clang and bpftool if missing, needs
//! root (it loads every corpus program into the running kernel), and exits
//! non-zero when verifier-sim accepts a program the kernel refuses or
//! crashes on one.

use std::path::PathBuf;

use anyhow::{bail, Result};
use xtask::verifier_diff::{self, mutate, Options};

use probecc_harness::tools::{self, Tool};

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
    tools::ensure_tools(TOOLS, &crate::qemu::install())?;
    if !tools::is_root() {
        bail!("verifier-diff loads programs into the running kernel: run it as root");
    }
    let out = if args.out.is_absolute() {
        args.out.clone()
    } else {
        xtask::workspace_root().join(&args.out)
    };
    let report = verifier_diff::run(&Options {
        out,
        only: args.only.clone(),
        seed: args.seed,
        verbose: args.verbose,
    })?;
    let c = &report.counts;
    println!(
        "verifier-diff: {} programs, {} same verdict, {} false accepts, {} false rejects, {} no verdict, {} crashes; messages: {} same, {} partly, of {} rejected by both",
        c.total,
        c.agree,
        c.false_accepts,
        c.false_rejects,
        c.sim_errors,
        c.sim_crashes,
        c.message_exact,
        c.message_partial,
        c.both_reject
    );
    if !report.passes() {
        bail!(
            "verifier-sim accepted {} program(s) the kernel refuses and crashed on {}",
            c.false_accepts,
            c.sim_crashes
        );
    }
    Ok(())
}
