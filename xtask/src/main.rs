//! `cargo xtask`: the project's task runner. `build` compiles every example
//! and every fixture spec into `target/bpf/<arch>/<name>.o`; `test` installs
//! what the tests need and runs them all; `bench` compares compile time,
//! memory and code size with clang and bpftrace and measures them for up to
//! tens of thousands of attach points; `soak` feeds the runner and
//! verifier-sim random input; `verifier-diff` measures verifier-sim against
//! the host kernel's verifier; `mutants` mutation-tests its abstract
//! domain; `kernels`, `qemu` and `matrix` fetch Debian kernels and boot
//! them in QEMU; `parity` compares the fixtures with bpftrace; `btf-subset`
//! cuts the fixtures' kernel BTF; `dist` builds the static `probecc` binary
//! per arch that users copy to a device. An error is printed
//! as its chain of causes, never a backtrace, and exits with status 1.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

mod bench;
mod bpftrace_out;
mod btf_subset;
mod build;
mod consts;
mod corpus;
mod diff;
mod dist;
mod kernels;
mod mutants;
mod parity;
mod qemu;
mod scale_bench;
mod soak;
mod test;
mod twins;
mod user_project;
mod verifier_bench;
mod verifier_guest;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "probecc's build and test tasks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Compile every example into target/bpf/<arch>/<name>.o
    Build(build::BuildArgs),
    /// Install the test prerequisites and run every test
    Test(test::TestArgs),
    /// Compile time, memory and code size against clang and bpftrace
    Bench(bench::BenchArgs),
    /// The runner and verifier-sim fed a million random inputs (not in CI)
    Soak(soak::SoakArgs),
    /// verifier-sim against the host kernel's verifier on fixtures/verifier
    /// and mutated fixtures (root)
    VerifierDiff(diff::DiffArgs),
    /// Mutation testing of verifier-sim's scalar, tnum, reg and mem with
    /// cargo-mutants (slow; not in CI)
    Mutants(mutants::MutantsArgs),
    /// Fetch Debian kernels for the QEMU matrix into target/kernels/
    Kernels(kernels::KernelsArgs),
    /// Boot one arch's kernel in QEMU: attach every fixture, check, measure
    Qemu(qemu::QemuArgs),
    /// The QEMU matrix over arches and kernels, with reports in target/matrix/
    Matrix(qemu::MatrixArgs),
    /// Cut fixtures/btf/kernel.btf (the structs of fixtures/btf/kernel.roots)
    /// from a kernel's BTF
    BtfSubset(btf_subset::BtfSubsetArgs),
    /// Regenerate compiler/data/consts/<arch>.txt from each arch's kernel
    /// headers (--check: compare instead)
    Consts(consts::ConstsArgs),
    /// Every fixture under bpftrace and as probecc's object in one guest;
    /// maps compared (reports in target/parity/)
    Parity(parity::ParityArgs),
    /// Debian's bpftrace tools compiled as published for all five arches,
    /// the kprobe-scope ones loaded (report in target/corpus/)
    Corpus(corpus::CorpusArgs),
    /// The whole probecc command as one static, stripped binary per arch,
    /// in target/dist/<arch>/probecc
    Dist(dist::DistArgs),
}

fn main() -> ExitCode {
    probecc_harness::say::set_prefix("xtask");
    // anyhow's `Debug`, which `main() -> Result` prints, adds a backtrace
    // whenever RUST_BACKTRACE is set; a task's error is for its user.
    match run(Cli::parse().cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Build(args) => build::run(&args),
        Cmd::Test(args) => test::run(&args),
        Cmd::Bench(args) => bench::run(&args),
        Cmd::Soak(args) => soak::run(&args),
        Cmd::VerifierDiff(args) => diff::run(&args),
        Cmd::Mutants(args) => mutants::run(&args),
        Cmd::Kernels(args) => kernels::run(&args),
        Cmd::Qemu(args) => qemu::run_qemu(&args),
        Cmd::Matrix(args) => qemu::run_matrix(&args),
        Cmd::Parity(args) => parity::run(&args),
        Cmd::BtfSubset(args) => btf_subset::run(&args),
        Cmd::Consts(args) => consts::run(&args),
        Cmd::Dist(args) => dist::run(&args),
        Cmd::Corpus(args) => corpus::run(&args),
    }
}

pub use xtask::workspace_root;
