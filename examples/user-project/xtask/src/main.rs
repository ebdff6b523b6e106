//! This project's tasks, on probecc's crates:
//!
//! - `cargo xtask build [--arch A|all|a,b]` compiles every spec of
//!   `probes/` into `target/bpf/<arch>/<name>.o` with its manifest
//!   `<name>.manifest.json`, for any loader (libbpf, aya, cilium/ebpf,
//!   `probecc trace`).
//! - `cargo xtask matrix [--arch ...] [--release ...] [--shard i/n]` runs
//!   `probes/plan.toml` in QEMU guests of Debian's kernels through
//!   probecc's harness: each spec attached, its workload run, its
//!   expectations checked, its cost per probe hit measured; reports in
//!   `target/qemu/report.{json,md,svg}`. Kernels and packages are cached
//!   in `$PROBECC_CACHE_DIR` (default `~/.cache/probecc`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use probecc::arch::Arch;
use probecc_harness::matrix::{self, Options, Releases, Settings, Slots};
use probecc_harness::plan::Plan;
use probecc_harness::stage::{Compiler, Plain};
use probecc_harness::tools::Install;
use probecc_harness::{report, say};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "This project's probe tasks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Compile every spec of probes/ into target/bpf/<arch>/
    Build {
        /// Architectures: x86_64, arm64, s390x, ppc64le, riscv64, a list, or all
        #[arg(long, default_value = "all")]
        arch: String,
    },
    /// Run probes/plan.toml in QEMU on real kernels of each arch
    Matrix {
        /// Architectures: x86_64, arm64, s390x, ppc64le, riscv64, a list, or all
        #[arg(long, default_value = "all")]
        arch: String,
        /// Debian releases (bookworm, trixie, sid, a list, all); default:
        /// each arch's two oldest with a kernel
        #[arg(long)]
        release: Option<String>,
        /// Only shard i of n (1-based) of the arch × kernel boots
        #[arg(long)]
        shard: Option<String>,
        /// Install what is missing (QEMU, cross linkers), as root
        #[arg(long)]
        install: bool,
    },
}

fn main() -> ExitCode {
    say::set_prefix("xtask");
    let run = match Cli::parse().cmd {
        Cmd::Build { arch } => build(&arch),
        Cmd::Matrix {
            arch,
            release,
            shard,
            install,
        } => run_matrix(&arch, release.as_deref(), shard.as_deref(), install),
    };
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The project's root (the parent of xtask/).
fn root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// Where cargo puts this workspace's builds.
fn target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// How specs compile: the arch's default kernel, kernel types from the
/// host's BTF when it has one.
fn compiler() -> Plain {
    let host = Path::new("/sys/kernel/btf/vmlinux");
    Plain {
        btf: host.exists().then(|| host.to_path_buf()),
    }
}

fn build(arch: &str) -> Result<()> {
    let compiler = compiler();
    let mut specs: Vec<PathBuf> = std::fs::read_dir(root().join("probes"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "bt"))
        .collect();
    specs.sort();
    for arch in Arch::parse_list(arch)? {
        let dir = target().join("bpf").join(arch.name());
        std::fs::create_dir_all(&dir)?;
        for spec in &specs {
            let compiled = compiler
                .compile(spec, arch)
                .map_err(|d| anyhow::anyhow!("{d}"))?;
            let name = spec.file_stem().context("a spec's name")?.to_string_lossy();
            let object = dir.join(format!("{name}.o"));
            std::fs::write(&object, probecc::elf::write(&compiled.object)?)?;
            std::fs::write(
                dir.join(format!("{name}.manifest.json")),
                compiled.manifest.to_json(),
            )?;
            println!("{}", object.display());
        }
    }
    Ok(())
}

fn run_matrix(arch: &str, release: Option<&str>, shard: Option<&str>, install: bool) -> Result<()> {
    let plan = Plan::load(&root().join("probes/plan.toml"))?;
    let arches = Arch::parse_list(arch)?;
    let targets = matrix::targets(&arches, release, Releases::Defaults, None)?;
    let targets = matrix::shard(targets, shard)?;
    let out = target().join("qemu");
    let mut settings = Settings::new(&matrix::user_cache(), &out);
    if install {
        settings.install = Install::AsRoot;
    }
    let options = Options {
        plan: &plan,
        only: Vec::new(),
        compiler: &compiler(),
        guest_files: Vec::new(),
        loop_overhead: None,
        cost_rounds: Some(3),
        output: true,
        extra_subjects: &matrix::no_extra_subjects,
    };
    let outcome = matrix::run(&settings, &options, &targets, &Slots::per_cpu())?;
    for r in &outcome.results {
        for f in &r.fixtures {
            if let Some(text) = &f.output {
                println!(
                    "== {} on {} {} ({})\n{text}",
                    f.name, r.arch, r.kernel, r.release
                );
            }
        }
    }
    report::print_summary(&outcome.results);
    println!("xtask: reports in {}/report.{{json,md,svg}}", out.display());
    let failed = outcome.failures();
    if !failed.is_empty() {
        bail!("the matrix failed:\n{}", failed.join("\n"));
    }
    Ok(())
}
