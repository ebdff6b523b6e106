//! `cargo xtask bench`: how fast and how small probecc is beside its peers,
//! measured in the same run and reported as ratios.
//!
//! - Compile time and peak memory: `probecc build X.bt --arch all` (all five
//!   arches) against `clang -O2 -target bpf` on the spec's C twin (one arch)
//!   and `bpftrace --emit-elf` on the same spec (one arch), each run as a
//!   process `--runs` times; medians of wall time, the largest peak RSS
//!   (from `wait4`'s rusage).
//! - Code size: instructions of every fixture's x86_64 object against
//!   bpftrace 0.17's object for the same spec, where bpftrace accepts it.
//! - Verification time: verifier-sim against the host kernel's verifier on
//!   the same objects ([`crate::verifier_bench`]).
//! - Attach points at scale: time and memory per attach point for 100 to
//!   10,000 attach points and for `kprobe:*` on the host's kallsyms
//!   ([`crate::scale_bench`]; alone with `--scale`, which needs no peer).
//!
//! The report goes to stdout and `target/bench/report.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use probecc::arch::Arch;

use probecc_harness::stats::median_duration;
use probecc_harness::tools::{self, Tool};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Runs of each command (the median is reported)
    #[arg(long, default_value_t = 21)]
    pub runs: usize,
    /// Only the attach points at scale (neither clang nor bpftrace needed)
    #[arg(long)]
    pub scale: bool,
}

const BENCH_TOOLS: &[Tool] = &[
    Tool {
        command: "clang",
        package: "clang",
        why: "the C compiler peer",
    },
    Tool {
        command: "bpftrace",
        package: "bpftrace",
        why: "the bpftrace peer (--emit-elf)",
    },
];

/// One process run: wall time, CPU time (user + system) and peak resident
/// memory.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: i64,
}

/// Runs of one command: median wall and CPU times, the largest peak RSS.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    pub wall: Duration,
    pub cpu: Duration,
    pub max_rss_kib: i64,
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}

/// Runs `cmd` to completion and measures it; a failing command is an error
/// naming it.
fn measure(cmd: &mut Command) -> Result<Sample> {
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let start = Instant::now();
    let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, not yet waited for; the pointers are valid.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if r != pid {
        bail!("waiting for {cmd:?}: {}", std::io::Error::last_os_error());
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("{cmd:?} failed (wait status {status})");
    }
    Ok(Sample {
        wall,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss,
    })
}

/// `runs` runs of the command `make` builds.
pub fn repeat(runs: usize, mut make: impl FnMut() -> Command) -> Result<Measured> {
    let (mut walls, mut cpus) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    let mut rss = 0;
    for _ in 0..runs {
        let s = measure(&mut make())?;
        walls.push(s.wall);
        cpus.push(s.cpu);
        rss = rss.max(s.max_rss_kib);
    }
    Ok(Measured {
        wall: median_duration(&walls).unwrap_or_default(),
        cpu: median_duration(&cpus).unwrap_or_default(),
        max_rss_kib: rss,
    })
}

fn probecc_binary() -> Result<PathBuf> {
    let root = crate::workspace_root();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .args(["build", "--release", "-q", "-p", "probecc-cli"])
        .status()
        .context("building probecc")?;
    if !status.success() {
        bail!("building probecc failed");
    }
    Ok(root.join("target/release/probecc"))
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if !args.scale {
        tools::ensure_tools(BENCH_TOOLS, &crate::qemu::install())?;
    }
    let probecc = probecc_binary()?;
    let work = crate::workspace_root().join("target/bench");
    std::fs::create_dir_all(&work)?;
    let mut report = String::from("# probecc benchmark\n\n");
    let host = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let _ = writeln!(
        report,
        "Machine: {host}, {} CPUs. Medians of {} runs.\n",
        num_cpus(),
        args.runs
    );
    if !args.scale {
        compile_time(args, &probecc, &work, &mut report)?;
        code_size(&work, &mut report)?;
        crate::verifier_bench::run(args.runs, &work, tools::is_root(), &mut report)?;
    }
    crate::scale_bench::run(args.runs, &probecc, &work, &mut report)?;
    let path = work.join("report.md");
    std::fs::write(&path, &report)?;
    print!("{report}");
    println!("\nwritten to {}", path.display());
    Ok(())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn compile_time(args: &BenchArgs, probecc: &Path, work: &Path, report: &mut String) -> Result<()> {
    let twins = probecc_fixtures::dir().join("c/twins");
    let _ = writeln!(report, "## Compile time and peak memory\n");
    let _ = writeln!(
        report,
        "| spec | probecc, 5 arches: ms / MiB | clang -O2, 1 arch: ms / MiB | bpftrace --emit-elf, 1 arch: ms / MiB | clang ÷ probecc | bpftrace ÷ probecc |"
    );
    let _ = writeln!(report, "|---|---|---|---|---|---|");
    for (name, spec) in probecc_fixtures::specs()? {
        let twin = twins.join(format!("{name}.bpf.c"));
        if !twin.exists() {
            continue;
        }
        let out = work.join(&name);
        let ours = repeat(args.runs, || {
            let mut c = Command::new(probecc);
            c.arg("build")
                .arg(&spec)
                .args(["--arch", "all", "-o"])
                .arg(&out);
            c
        })?;
        let clang = repeat(args.runs, || {
            let mut c = Command::new("clang");
            c.args(["-O2", "-g", "-target", "bpfel", "-D__TARGET_ARCH_x86", "-c"])
                .arg(&twin)
                .arg("-o")
                .arg(out.with_extension("clang.o"));
            c
        })?;
        let bpftrace = repeat(args.runs, || {
            let mut c = Command::new("bpftrace");
            c.arg("--emit-elf")
                .arg(out.with_extension("bpftrace.o"))
                .arg(&spec);
            c
        })?;
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
        let _ = writeln!(
            report,
            "| {name} | {} / {:.1} | {} / {:.1} | {} / {:.1} | {:.1}× | {:.1}× |",
            ms(ours.wall),
            ours.max_rss_kib as f64 / 1024.0,
            ms(clang.wall),
            clang.max_rss_kib as f64 / 1024.0,
            ms(bpftrace.wall),
            bpftrace.max_rss_kib as f64 / 1024.0,
            ratio(clang.wall, ours.wall),
            ratio(bpftrace.wall, ours.wall)
        );
    }
    let _ = writeln!(report);
    Ok(())
}

/// bpftrace's programs in an object: (attach points it serves, instruction
/// slots). Sections are `s_<attach>[,<attach>...]_<n>`; BEGIN and END are
/// left out (probecc runs them in user space).
fn bpftrace_programs(path: &Path) -> Result<Vec<(Vec<String>, usize)>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let obj = probecc::elf::read(&bytes).with_context(|| format!("reading {}", path.display()))?;
    Ok(obj
        .programs
        .iter()
        .filter_map(|p| {
            let list = p.section.strip_prefix("s_")?.rsplit_once('_')?.0;
            let points: Vec<String> = list.split(',').map(str::to_string).collect();
            let kernel = points.iter().all(|a| a != "BEGIN" && a != "END");
            kernel.then_some((points, p.insns.len()))
        })
        .collect())
}

/// The fixture at `spec` compiled for x86_64 with its positional
/// parameters fixed, none given.
fn compile_without_arguments(spec: &Path) -> Result<probecc::lang::Compiled> {
    let src =
        std::fs::read_to_string(spec).with_context(|| format!("reading {}", spec.display()))?;
    let opts = probecc::lang::CompileOptions {
        params: Some(Vec::new()),
        ..probecc_fixtures::options(spec)?
    };
    probecc::lang::compile(&src, Arch::X86_64, &opts)
        .map_err(|d| anyhow::anyhow!("{}", probecc::lang::diag::render(&opts.file, &src, &d)))
}

/// Code size per attach point: each probecc program (one per attach point)
/// beside the bpftrace program serving the same attach point (bpftrace
/// attaches one program to every attach point of a block, and expands
/// wildcards at attach time). Attach points bpftrace emitted no program for
/// (it drops kretprobes it cannot resolve on a host without kprobes) are
/// left out and counted. Each spec compiles as bpftrace compiles it run
/// without arguments: positional parameters fixed (`$1` is 0, `str($1)`
/// is ""), not read-only globals a loader sets.
fn code_size(work: &Path, report: &mut String) -> Result<()> {
    let _ = writeln!(
        report,
        "## Code size (x86_64 instructions per attach point)\n"
    );
    let _ = writeln!(
        report,
        "| spec | attach points compared | probecc insns | bpftrace 0.17 insns | ratio |"
    );
    let _ = writeln!(report, "|---|---|---|---|---|");
    let (mut ours_all, mut theirs_all, mut worse) = (0usize, 0usize, Vec::new());
    for (name, spec) in probecc_fixtures::specs()? {
        let compiled = compile_without_arguments(&spec)?;
        let bt_obj = work.join(format!("{name}.bpftrace.o"));
        let status = Command::new("bpftrace")
            .arg("--emit-elf")
            .arg(&bt_obj)
            .arg(&spec)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("running bpftrace")?;
        if !status.success() {
            let _ = writeln!(report, "| {name} | rejected by bpftrace 0.17 | | | |");
            continue;
        }
        let theirs = bpftrace_programs(&bt_obj)?;
        let (mut ours_sum, mut theirs_sum, mut matched, mut missing) = (0, 0, 0, 0);
        for entry in &compiled.manifest.programs {
            let ours = compiled
                .object
                .programs
                .iter()
                .find(|p| p.name == entry.name)
                .map_or(0, |p| p.insns.len());
            let serving = theirs.iter().find(|(points, _)| {
                points
                    .iter()
                    .any(|pat| probecc::symbols::glob_match(pat, &entry.probe))
            });
            match serving {
                Some((_, n)) => {
                    ours_sum += ours;
                    theirs_sum += n;
                    matched += 1;
                }
                None => missing += 1,
            }
        }
        if matched == 0 {
            let _ = writeln!(
                report,
                "| {name} | none emitted by bpftrace here ({missing}) | | | |"
            );
            continue;
        }
        let ratio = ours_sum as f64 / theirs_sum.max(1) as f64;
        if ratio > 1.0 {
            worse.push(format!("{name} ({ratio:.2})"));
        }
        ours_all += ours_sum;
        theirs_all += theirs_sum;
        let note = if missing > 0 {
            format!(" (+{missing} without a bpftrace program)")
        } else {
            String::new()
        };
        let _ = writeln!(
            report,
            "| {name} | {matched}{note} | {ours_sum} | {theirs_sum} | {ratio:.2} |"
        );
    }
    let _ = writeln!(
        report,
        "| **all** | | {ours_all} | {theirs_all} | {:.2} |\n",
        ours_all as f64 / theirs_all.max(1) as f64
    );
    if worse.is_empty() {
        let _ = writeln!(
            report,
            "probecc's code is at most bpftrace's on every fixture bpftrace compiles."
        );
    } else {
        let _ = writeln!(report, "Larger than bpftrace's: {}.", worse.join(", "));
    }
    Ok(())
}
