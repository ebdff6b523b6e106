//! `cargo xtask test`: installs the tools the tests use (see `deps`), builds
//! every example for every arch, runs the workspace's tests, checks the
//! x86_64 constant table against its headers (`consts`), then the QEMU
//! matrix on all five arches with the parity run against bpftrace on
//! x86_64 beside it, their boots sharing the CPUs
//! (`qemu::run_in_test`), and `examples/user-project` built and its
//! matrix run on x86_64 (`user_project`). Tests that
//! need a tool, root or the host kernel are `#[ignore]`d for a plain
//! `cargo test`; here they run (`--include-ignored`) under
//! `probecc_test_support`'s rule: under CI a missing prerequisite fails,
//! elsewhere the test is skipped and the skips are listed at the end.
//! The fault suite (`xtask/tests/faults.rs`) boots x86_64, so its QEMU,
//! default kernel and bpftrace tree are made ready before the tests run.

use std::process::Command;

use anyhow::{bail, Context, Result};
use probecc_harness::tools::{self, Tool};

use crate::build;

/// What `cargo xtask test` needs.
const TEST_TOOLS: &[Tool] = &[
    Tool {
        command: "llvm-objdump-19",
        package: "llvm-19",
        why: "the reference disassembler: LLVM 19 knows every instruction form up to cpu v4",
    },
    Tool {
        command: "llvm-readelf",
        package: "llvm",
        why: "to check ELF headers",
    },
    Tool {
        command: "bpftool",
        package: "bpftool",
        why: "libbpf's view of the objects and the kernel verifier",
    },
    Tool {
        command: "clang",
        package: "clang",
        why: "to build C objects that disasm must read",
    },
    Tool {
        command: "valgrind",
        package: "valgrind",
        why: "to count the instructions a build executes (cli/tests/scale.rs)",
    },
    Tool {
        command: "go",
        package: "golang-go",
        why: "to build the cilium/ebpf checker (xtask/tests/cilium)",
    },
    Tool {
        command: "/usr/share/gocode/src/github.com/cilium/ebpf",
        package: "golang-github-cilium-ebpf-dev",
        why: "cilium/ebpf, the Go loader the objects are tested with",
    },
];

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
    let t0 = std::time::Instant::now();
    tools::ensure_tools(TEST_TOOLS, &crate::qemu::install())?;
    let ci = probecc_test_support::in_ci();
    if let Err(e) = crate::parity::prepare(probecc::arch::Arch::X86_64) {
        if ci {
            return Err(
                e.context("x86_64's QEMU, kernel and bpftrace, for the fault tests (CI=true)")
            );
        }
        step(
            t0,
            &format!("the fault tests will skip (set CI=true to make this an error): {e:#}"),
        );
    }
    step(t0, "building every example and fixture for every arch");
    let out = crate::workspace_root().join("target/bpf");
    for arch in probecc::arch::Arch::ALL {
        build::build_arch(arch, &out)?;
    }
    step(
        t0,
        "running the workspace's tests, with those that need the machine",
    );
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
    step(
        t0,
        "the constant table of x86_64 against its kernel headers",
    );
    crate::consts::run_in_test(ci)?;
    step(t0, "Debian trixie's bpftrace tools, compiled as published");
    let corpus = crate::corpus::run_in_test(ci)?;
    // Its comparison with bpftrace and a guest kernel's verifier boot
    // beside the matrix's boots.
    let beside = |slots: &probecc_harness::matrix::Slots| {
        std::thread::scope(|s| {
            let verifier = s.spawn(|| crate::verifier_guest::run_in_test(ci, slots));
            let compared = corpus.map_or(Ok(()), |c| c.compare(ci, slots));
            let verifier = verifier
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the verifier guest panicked")));
            compared.and(verifier)
        })
    };
    step(t0, "examples/user-project: build --arch arm64");
    crate::user_project::build()?;
    if args.no_parity {
        step(
            t0,
            "--no-parity: not running the parity run against bpftrace",
        );
    }
    if args.no_matrix {
        step(
            t0,
            "--no-matrix: not running the QEMU matrix, nor the corpus's comparison in QEMU",
        );
        if args.no_parity {
            return Ok(());
        }
        step(t0, "parity with bpftrace on x86_64");
        let slots = probecc_harness::matrix::Slots::per_cpu();
        return crate::parity::run_in_test(ci, &slots);
    }
    step(
        t0,
        "the QEMU matrix on x86_64 (bookworm, trixie) and s390x (trixie), parity with \
         bpftrace on x86_64 (`cargo xtask matrix --arch all` boots all ten kernels), \
         trixie's tools against its bpftrace, and verifier-sim against arm64 trixie's verifier",
    );
    let matrix = crate::qemu::run_in_test(ci, !args.no_parity, beside);
    step(t0, "examples/user-project: matrix --arch x86_64");
    let example = match crate::qemu::prepare(probecc::arch::Arch::X86_64) {
        Ok(()) => crate::user_project::matrix(),
        Err(e) if !ci => {
            step(
                t0,
                &format!("skipping its matrix (set CI=true to make this an error): {e:#}"),
            );
            Ok(())
        }
        Err(e) => Err(e.context("x86_64's QEMU and kernel, for examples/user-project (CI=true)")),
    };
    step(t0, "done");
    matrix.and(example)
}

/// A step of the run announced with the seconds since it began, so a
/// log shows where the time goes.
fn step(t0: std::time::Instant, what: &str) {
    println!("xtask: [{:.0} s] {what}", t0.elapsed().as_secs_f64());
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
