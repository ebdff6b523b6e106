//! `cargo xtask qemu` (one arch, one kernel) and `cargo xtask matrix`
//! (every arch and release, or a shard of them): fetch the kernel, stage
//! the guest, boot, digest the results (`results`) and, for the matrix,
//! write the reports (`report`). Exit status non-zero when anything failed.
//!
//! Under faults nothing already produced is lost and nothing needs
//! cleaning up by hand: the matrix rewrites its reports after every boot
//! (a boot that ends early is reported with what it printed, and a job
//! that cannot run, e.g. a kernel that does not download, is reported and
//! the next job runs); staging and booting an arch hold
//! `<out>/<arch>.lock`, and a matrix run holds `<out>/matrix.lock`, so a
//! second run on the same output directory waits, saying for whom (locks
//! die with their holder). Missing tools are named before any work starts
//! (`deps`).

use std::time::Duration;

use anyhow::{bail, Context, Result};
use probecc::arch::Arch;

use crate::kernels::{self, Kernel};
use crate::lock::FileLock;
use crate::qemu::{self, BootSpec, QemuArgs, RunFlags};
use crate::results::{self, ArchResult};
use crate::stage::{self, StageOptions};
use crate::{deps, machine, report};

#[derive(clap::Args)]
pub struct MatrixArgs {
    /// Architectures (comma-separated, or all)
    #[arg(long, default_value = "all")]
    pub arch: String,
    /// Debian releases (bookworm, trixie, sid, all); default: each arch's own
    /// (bookworm and trixie; riscv64 trixie and sid)
    #[arg(long)]
    pub release: Option<String>,
    /// Run only shard i of n (1-based, `i/n`) of the (arch, release) list
    #[arg(long)]
    pub shard: Option<String>,
    /// Skip the parity run against bpftrace that follows the boots (one
    /// boot per arch of the run)
    #[arg(long)]
    pub no_parity: bool,
    #[command(flatten)]
    pub run: RunFlags,
}

/// One boot to make.
struct Job {
    arch: Arch,
    kernel: Kernel,
}

/// How to run each job.
struct RunOptions<'a> {
    accel: &'a str,
    stage: StageOptions,
    timeout: u64,
    append: &'a str,
}

pub fn run_qemu(args: &QemuArgs) -> Result<()> {
    let arch = Arch::parse(&args.arch)?;
    qemu::preflight(arch, &args.run.accel)?;
    deps::ensure_matrix(&[arch])?;
    let kernel = match &args.kernel {
        Some(path) => kernels::custom(arch, path)?,
        None => {
            let r = match args.release.as_deref() {
                Some(named) => kernels::releases(arch, Some(named))?
                    .first()
                    .copied()
                    .with_context(|| format!("no {arch} kernel in Debian {named}"))?,
                None => machine::default_release(arch),
            };
            kernels::fetch(arch, r, false)?
        }
    };
    let opts = RunOptions::new(&args.run);
    let result = run_one(&Job { arch, kernel }, &opts)?;
    report::print_summary(std::slice::from_ref(&result));
    if !result.ok() {
        bail!("{}", failed_message(&result));
    }
    Ok(())
}

/// "x86_64 6.1.0-50-cloud-amd64 (bookworm): <first failure> (and N
/// more); console log: <path>".
fn failed_message(r: &ArchResult) -> String {
    let first = r.failures.first().map_or("failed", String::as_str);
    let more = match r.failures.len() {
        0 | 1 => String::new(),
        n => format!(" (and {} more above)", n - 1),
    };
    format!(
        "{} {} ({}): {first}{more}; console log: {}",
        r.arch, r.kernel, r.release, r.log
    )
}

pub fn run_matrix(args: &MatrixArgs) -> Result<()> {
    let arches = Arch::parse_list(&args.arch)?;
    for &a in &arches {
        qemu::preflight(a, &args.run.accel)?;
    }
    let mut pairs = Vec::new();
    for &a in &arches {
        for r in kernels::releases(a, args.release.as_deref())? {
            pairs.push((a, r));
        }
    }
    let pairs = shard(pairs, args.shard.as_deref())?;
    let needed: Vec<Arch> = pairs.iter().map(|(a, _)| *a).collect();
    deps::ensure_matrix(&needed)?;
    let opts = RunOptions::new(&args.run);
    let dir = args.run.out_dir();
    let _lock = FileLock::acquire(
        &dir.join("matrix.lock"),
        &format!(
            "xtask: matrix: waiting for another matrix run writing to {}",
            dir.display()
        ),
    )?;
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for (arch, release) in pairs {
        let ran = kernels::fetch(arch, release, false)
            .and_then(|kernel| run_one(&Job { arch, kernel }, &opts));
        match ran {
            Ok(r) => results.push(r),
            Err(e) => {
                let e = format!("{arch} {release}: {e:#}");
                println!("xtask: matrix: {e}; going on with the next");
                errors.push(e);
            }
        }
        report::write(&dir, &results)?;
    }
    report::print_summary(&results);
    println!(
        "xtask: matrix: reports in {}/report.{{json,md,svg}}",
        dir.display()
    );
    let mut failed: Vec<String> = results
        .iter()
        .filter(|r| !r.ok())
        .map(failed_message)
        .collect();
    failed.extend(errors.into_iter().map(|e| format!("not run: {e}")));
    if !args.no_parity {
        println!("xtask: matrix: parity with bpftrace");
        if let Err(e) = crate::parity::run_for_matrix(&arches, &dir) {
            failed.push(format!("parity: {e:#}"));
        }
    }
    if !failed.is_empty() {
        bail!("the matrix failed:\n{}", failed.join("\n"));
    }
    Ok(())
}

/// What booting `arch` on its default kernel needs: the tools (installed
/// when missing and allowed, see `deps`) and the kernel (fetched).
pub fn prepare(arch: Arch) -> Result<()> {
    deps::ensure_matrix(&[arch])?;
    kernels::fetch(arch, machine::default_release(arch), false).map(|_| ())
}

/// The matrix as `cargo xtask test` runs it: every arch on its default
/// kernels. A missing prerequisite (QEMU, cross linker, a kernel that does
/// not download) fails under CI and is skipped with the reason elsewhere.
pub fn run_in_test(ci: bool) -> Result<()> {
    let prepared = Arch::ALL.iter().try_for_each(|&a| {
        deps::ensure_matrix(&[a])?;
        machine::default_releases(a)
            .into_iter()
            .try_for_each(|r| kernels::fetch(a, r, false).map(|_| ()))
    });
    if let Err(e) = prepared {
        if ci {
            return Err(e.context("the QEMU matrix's prerequisites (CI=true)"));
        }
        println!("xtask: skipping the QEMU matrix (set CI=true to make this an error): {e:#}");
        return Ok(());
    }
    run_matrix(&MatrixArgs {
        arch: "all".into(),
        release: None,
        shard: None,
        // `cargo xtask test` runs parity itself, after the matrix.
        no_parity: true,
        run: RunFlags {
            accel: "tcg".into(),
            rounds: 5,
            iterations: 2000,
            timeout: 900,
            only: None,
            no_overhead: false,
            append: String::new(),
            out: None,
        },
    })
}

/// Shard `i/n` of `items`: every n-th item starting at the i-th.
fn shard<T>(items: Vec<T>, spec: Option<&str>) -> Result<Vec<T>> {
    let Some(spec) = spec else { return Ok(items) };
    let parsed = spec
        .split_once('/')
        .and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
    let Some((i, n)) = parsed.filter(|(i, n)| *n > 0 && (1..=*n).contains(i)) else {
        bail!("--shard {spec}: expected i/n with 1 <= i <= n");
    };
    Ok(items
        .into_iter()
        .enumerate()
        .filter(|(k, _)| k % n == i - 1)
        .map(|(_, t)| t)
        .collect())
}

impl<'a> RunOptions<'a> {
    fn new(flags: &'a RunFlags) -> RunOptions<'a> {
        RunOptions {
            accel: &flags.accel,
            stage: StageOptions {
                only: flags.only_list(),
                overhead: !flags.no_overhead,
                rounds: flags.rounds,
                iterations: flags.iterations,
                watchdog_secs: flags.timeout.saturating_sub(30).max(60),
                out: flags.out_dir(),
            },
            timeout: flags.timeout,
            append: &flags.append,
        }
    }
}

fn run_one(job: &Job, opts: &RunOptions) -> Result<ArchResult> {
    let arch = job.arch;
    let label = format!("{arch} {}", job.kernel.version);
    let out = &opts.stage.out;
    // The initramfs and the console log are per output directory and
    // arch: one run at a time stages and boots there.
    let _lock = FileLock::acquire(
        &out.join(format!("{}.lock", arch.name())),
        &format!(
            "xtask: {label}: waiting for another run staging and booting {arch} in {}",
            out.display()
        ),
    )?;
    let bar = qemu::spinner(&label);
    bar.set_message("building the guest and staging the initramfs");
    let staged = bar.suspend(|| stage::stage(arch, &opts.stage))?;
    let icount = opts.accel == "tcg" && opts.stage.overhead;
    let log = out.join(arch.name()).join(format!(
        "{}-{}.console.log",
        job.kernel.release, job.kernel.version
    ));
    bar.set_message("booting");
    let boot = qemu::boot(
        &BootSpec {
            arch,
            kernel: &job.kernel,
            initramfs: &staged.initramfs,
            accel: opts.accel,
            icount,
            timeout: Duration::from_secs(opts.timeout),
            log,
            append: opts.append,
        },
        &bar,
    )?;
    bar.finish_with_message(format!("{:?} in {:.0} s", boot.verdict, boot.secs));
    let kinds = staged
        .plan
        .overhead
        .as_ref()
        .map(|o| {
            o.subjects
                .iter()
                .map(|s| (s.name.clone(), s.kind.clone(), s.twin_of.clone()))
                .collect()
        })
        .unwrap_or_default();
    let header = (
        arch.name(),
        job.kernel.release.as_str(),
        job.kernel.version.as_str(),
        opts.accel,
        icount,
    );
    let mut result = results::digest(&boot, header, &kinds);
    let known: Vec<(String, String)> = staged
        .plan
        .fixtures
        .iter()
        .filter_map(|f| f.known_failure.clone().map(|k| (f.name.clone(), k)))
        .collect();
    result.apply_known(&known);
    result.btf = kernels::has_btf(&job.kernel);
    if result.btf == Some(false) {
        let why = "the kernel has no BTF (CONFIG_DEBUG_INFO_BTF is not set), so it cannot load an object with CO-RE relocations";
        let known: Vec<(String, String)> = staged
            .needs_btf
            .iter()
            .map(|n| (n.clone(), why.to_string()))
            .collect();
        result.apply_known(&known);
    }
    if let Some(reason) = staged.platform_known_failure(&job.kernel.release) {
        result.apply_platform_known(reason);
    }
    for f in &staged.plan.fixtures {
        if let Some(why) = &f.unsupported {
            result
                .notes
                .push(format!("{} not checked on {arch}: {why}", f.name));
        }
    }
    let ran: Vec<&str> = result.fixtures.iter().map(|f| f.name.as_str()).collect();
    for f in &staged.plan.fixtures {
        if !ran.contains(&f.name.as_str()) && boot.verdict == qemu::Verdict::Completed {
            result
                .failures
                .push(format!("{}: no result from the guest", f.name));
        }
    }
    Ok(result)
}
