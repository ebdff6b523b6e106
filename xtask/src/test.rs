//! `cargo xtask test`: installs the tools the tests use (see `deps`), builds
//! every example for every arch, runs the workspace's tests, checks the
//! x86_64 constant table against its headers (`consts`), then the QEMU
//! matrix on all five arches (`matrix::run_in_test`) and the parity run
//! against bpftrace on x86_64 (`parity::run_in_test`). Tests that
//! need a tool, root or the host kernel are `#[ignore]`d for a plain
//! `cargo test`; here they run (`--include-ignored`) under
//! `probecc_test_support`'s rule: under CI a missing prerequisite fails,
//! elsewhere the test is skipped and the skips are listed at the end.
//! The fault suite (`xtask/tests/faults.rs`) boots x86_64, so its QEMU,
//! default kernel and bpftrace tree are made ready before the tests run.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{build, deps};

#[derive(clap::Args)]
pub struct TestArgs {
    /// Skip the QEMU matrix
    #[arg(long)]
    pub no_matrix: bool,
    /// Skip the parity run against bpftrace (x86_64)
    #[arg(long)]
    pub no_parity: bool,
    /// Extra arguments for `cargo test` (e.g. a test name filter)
    #[arg(trailing_var_arg = true)]
    pub cargo_args: Vec<String>,
}

pub fn run(args: &TestArgs) -> Result<()> {
    deps::ensure(deps::TEST_TOOLS)?;
    let ci = probecc_test_support::in_ci();
    if let Err(e) = crate::parity::prepare(probecc::arch::Arch::X86_64) {
        if ci {
            return Err(
                e.context("x86_64's QEMU, kernel and bpftrace, for the fault tests (CI=true)")
            );
        }
        println!("xtask: the fault tests will skip (set CI=true to make this an error): {e:#}");
    }
    println!("xtask: building every example and fixture for every arch");
    let out = crate::workspace_root().join("target/bpf");
    for arch in probecc::arch::Arch::ALL {
        build::build_arch(arch, &out)?;
    }
    println!("xtask: running the workspace's tests, with those that need the machine");
    let skips = crate::workspace_root().join("target/test-skips.txt");
    let _ = std::fs::remove_file(&skips);
    let (cargo_args, test_args) = match args.cargo_args.iter().position(|a| a == "--") {
        Some(i) => (&args.cargo_args[..i], &args.cargo_args[i + 1..]),
        None => (&args.cargo_args[..], &[][..]),
    };
    let chosen = test_args
        .iter()
        .any(|a| a == "--ignored" || a == "--include-ignored");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(crate::workspace_root())
        .env(probecc_test_support::need::SKIPS_ENV, &skips)
        .args(["test", "--workspace", "--locked"])
        .args(cargo_args)
        .arg("--")
        .args((!chosen).then_some("--include-ignored"))
        .args(test_args)
        .status()
        .context("running cargo test")?;
    print_skips(&skips)?;
    if !status.success() {
        bail!("tests failed ({status})");
    }
    println!("xtask: the constant table of x86_64 against its kernel headers");
    crate::consts::run_in_test(ci)?;
    println!("xtask: Debian trixie's bpftrace tools, compiled as published");
    crate::corpus::run_in_test(ci)?;
    let matrix = if args.no_matrix {
        println!("xtask: --no-matrix: not running the QEMU matrix");
        Ok(())
    } else {
        println!("xtask: the QEMU matrix on all five arches");
        crate::matrix::run_in_test(ci)
    };
    if args.no_parity {
        println!("xtask: --no-parity: not running the parity run against bpftrace");
        return matrix;
    }
    println!("xtask: parity with bpftrace on x86_64");
    matrix.and(crate::parity::run_in_test(ci))
}

/// How many tests were skipped for which missing prerequisite, and which
/// (nothing when none was).
fn print_skips(file: &std::path::Path) -> Result<()> {
    let skips = probecc_test_support::skips::read(file)
        .with_context(|| format!("reading {}", file.display()))?;
    if skips.is_empty() {
        return Ok(());
    }
    println!(
        "xtask: {} tests skipped, their prerequisites missing (under CI=true they fail):",
        skips.len()
    );
    for line in probecc_test_support::skips::summary(&skips) {
        println!("xtask:   {line}");
    }
    Ok(())
}
