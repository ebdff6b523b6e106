//! `cargo xtask qemu` (one arch, one kernel) and `cargo xtask matrix`
//! (every arch and its default releases, or a shard of them): the
//! project's fixtures run through the harness (`probecc_harness`), with
//! the project's settings — the plan is `fixtures/matrix/expectations.toml`
//! over `fixtures/specs`, compiled the fixture way; kernels under
//! `target/kernels` (`XTASK_KERNELS_DIR` moves them; the fault tests damage
//! a copy there), packages under `target/packages`, reports in
//! `target/matrix` (`--out`); the overhead loop with the clang twins as
//! extra subjects; tools installed when missing unless
//! `XTASK_NO_INSTALL=1`. Beside the matrix's boots runs the parity run of
//! one arch (`--parity` names others), its boots sharing the CPUs with
//! the matrix's. Exit status non-zero when anything failed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use probecc::arch::Arch;
use probecc_harness::kernels::KernelCache;
use probecc_harness::machine::Release;
use probecc_harness::matrix::{
    self, KernelChoice, Options, Outcome, Releases, Settings, Slots, Target,
};
use probecc_harness::plan::Plan;
use probecc_harness::report;
use probecc_harness::stage::{self, LoopOverhead};
use probecc_harness::tools::{Install, Need};

#[derive(clap::Args)]
pub struct QemuArgs {
    /// Architecture to boot
    #[arg(long, default_value = "x86_64")]
    pub arch: String,
    /// Debian release of the kernel (bookworm, trixie, sid); default:
    /// bookworm, riscv64 sid
    #[arg(long)]
    pub release: Option<String>,
    /// Boot this kernel image instead of a Debian one
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunFlags,
}

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
    /// The arches of the parity run against bpftrace beside the boots (a
    /// boot each, 4–8 minutes of a CPU under TCG, twice a matrix boot's):
    /// `one` (the run's first arch, x86_64 in the default matrix), `all`,
    /// `none`, or a comma-separated list of the run's arches
    #[arg(long, default_value = "one")]
    pub parity: String,
    /// The same as `--parity none`
    #[arg(long, conflicts_with = "parity")]
    pub no_parity: bool,
    #[command(flatten)]
    pub run: RunFlags,
}

impl MatrixArgs {
    /// The arches of the run (in order, each once) that the parity run
    /// covers.
    fn parity_arches(&self, ran: &[Arch]) -> Result<Vec<Arch>> {
        if self.no_parity {
            return Ok(Vec::new());
        }
        match self.parity.as_str() {
            "none" => Ok(Vec::new()),
            "one" => Ok(ran.iter().take(1).copied().collect()),
            "all" => Ok(ran.to_vec()),
            list => {
                let named = Arch::parse_list(list)?;
                if let Some(a) = named.iter().find(|a| !ran.contains(a)) {
                    bail!("--parity {list}: {a} is not among the run's arches");
                }
                Ok(named)
            }
        }
    }
}

/// The flags `qemu` and `matrix` share.
#[derive(clap::Args)]
pub struct RunFlags {
    /// QEMU accelerator: tcg, or kvm (x86_64 on a host with working KVM)
    #[arg(long, default_value = "tcg")]
    pub accel: String,
    /// Interleaved overhead rounds (default: 3 under TCG, where -icount
    /// makes rounds agree to a few instructions and the median of three
    /// drops a round something else in the guest disturbed; 5 under KVM)
    #[arg(long)]
    pub rounds: Option<u32>,
    /// Loop iterations per overhead round
    #[arg(long, default_value_t = 2000)]
    pub iterations: u64,
    /// Seconds before a guest counts as hung
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    /// Only these fixtures (comma-separated); default all
    #[arg(long)]
    pub only: Option<String>,
    /// Skip the overhead measurement
    #[arg(long)]
    pub no_overhead: bool,
    /// Extra kernel command-line arguments (e.g. `loglevel=8` to debug a
    /// boot)
    #[arg(long, default_value = "")]
    pub append: String,
    /// Boots at once (default: the machine's CPUs)
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Directory of the initramfs, console logs and reports (one matrix
    /// run at a time per directory, one boot per kernel; others wait);
    /// default target/matrix
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl RunFlags {
    /// `--out`, or `target/matrix`.
    pub fn out_dir(&self) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| crate::workspace_root().join("target/matrix"))
    }

    /// `--only` as a list (empty: all fixtures).
    fn only_list(&self) -> Vec<String> {
        self.only
            .as_deref()
            .map(|s| s.split(',').map(|f| f.trim().to_string()).collect())
            .unwrap_or_default()
    }

    /// `--jobs`, or one boot per CPU.
    pub fn slots(&self) -> Slots {
        match self.jobs {
            Some(n) => Slots::new(n),
            None => Slots::per_cpu(),
        }
    }

    /// The harness's settings for this project and these flags.
    fn settings(&self, reports: bool) -> Settings {
        let mut s = settings(&self.out_dir());
        s.accel = self.accel.clone();
        s.timeout = Duration::from_secs(self.timeout);
        s.append = self.append.clone();
        s.reports = reports;
        s
    }

    /// The overhead loop, unless `--no-overhead`: three rounds under TCG
    /// (`-icount` makes rounds agree to a few instructions; the median of
    /// three drops one disturbed by other work in the guest), five
    /// otherwise.
    fn loop_overhead(&self) -> Option<LoopOverhead> {
        let default = if self.accel == "tcg" { 3 } else { 5 };
        (!self.no_overhead).then(|| LoopOverhead {
            rounds: self.rounds.unwrap_or(default),
            iterations: self.iterations,
        })
    }
}

/// The kernel cache: `XTASK_KERNELS_DIR`, or `target/kernels`.
pub fn kernel_cache() -> KernelCache {
    KernelCache::new(env_dir("XTASK_KERNELS_DIR", "target/kernels"))
}

/// `$var` when set and not empty, else `default` under the workspace.
pub fn env_dir(var: &str, default: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => crate::workspace_root().join(default),
    }
}

/// What xtask may install: nothing under `XTASK_NO_INSTALL=1` (any value
/// but empty and `0`), else whatever is missing, as root.
pub fn install() -> Install {
    match std::env::var("XTASK_NO_INSTALL") {
        Ok(v) if !v.is_empty() && v != "0" => {
            Install::Never("XTASK_NO_INSTALL is set: xtask installs nothing".into())
        }
        _ => Install::AsRoot,
    }
}

/// The project's settings of the harness, writing to `out`.
pub fn settings(out: &Path) -> Settings {
    let mut s = Settings::new(&crate::workspace_root().join("target"), out);
    s.kernels = kernel_cache();
    s.install = install();
    s.extra_needs = vec![Need::new(
        "clang",
        "clang",
        "to compile the C twins for the overhead comparison",
    )];
    s
}

/// The fixtures' plan: `fixtures/matrix/expectations.toml`, a table per
/// spec of `fixtures/specs`, every spec declared.
pub fn fixtures_plan() -> Result<Plan> {
    let path = probecc_fixtures::dir().join("matrix/expectations.toml");
    let plan = Plan::load_with_specs(&path, &probecc_fixtures::dir().join("specs"))?;
    for (name, _) in probecc_fixtures::specs()? {
        if plan.entry(&name).is_none() {
            bail!(
                "fixture {name} declares no expectations in {}",
                path.display()
            );
        }
    }
    Ok(plan)
}

/// Fixtures compile the one fixture way (`probecc_fixtures::compile`).
pub(crate) struct Fixtures;

impl stage::Compiler for Fixtures {
    fn compile(&self, spec: &Path, arch: Arch) -> Result<probecc::lang::Compiled, String> {
        probecc_fixtures::compile(spec, arch).map_err(|e| format!("{e:#}"))
    }

    /// Every fixture runs both ways, as kprobes and as fentry/fexit.
    fn compile_fentry(
        &self,
        spec: &Path,
        arch: Arch,
    ) -> Option<Result<probecc::lang::Compiled, String>> {
        let fentry = probecc::lang::AttachMode::Fentry;
        Some(probecc_fixtures::compile_as(spec, arch, fentry).map_err(|e| format!("{e:#}")))
    }

    fn types(&self) -> Option<PathBuf> {
        Some(probecc_fixtures::btf())
    }
}

/// Runs the fixtures on `targets`, `slots` boots at a time.
fn run_fixtures(
    flags: &RunFlags,
    reports: bool,
    targets: &[matrix::Target],
    slots: &Slots,
) -> Result<Outcome> {
    let plan = fixtures_plan()?;
    let only = flags.only_list();
    let unknown: Vec<&String> = only.iter().filter(|n| plan.entry(n).is_none()).collect();
    if !unknown.is_empty() {
        bail!("--only: no fixture {unknown:?} in fixtures/specs");
    }
    let options = Options {
        plan: &plan,
        only,
        compiler: &Fixtures,
        guest_files: Vec::new(),
        loop_overhead: flags.loop_overhead(),
        cost_rounds: None,
        output: false,
        extra_subjects: &crate::twins::subjects,
    };
    let settings = flags.settings(reports);
    Ok(matrix::run(&settings, &options, targets, slots)?)
}

pub fn run_qemu(args: &QemuArgs) -> Result<()> {
    let arch = Arch::parse(&args.arch)?;
    let targets = matrix::targets(
        &[arch],
        args.release.as_deref(),
        Releases::One,
        args.kernel.as_deref(),
    )?;
    let outcome = run_fixtures(&args.run, false, &targets, &args.run.slots())?;
    report::print_summary(&outcome.results);
    let failed = outcome.failures();
    if !failed.is_empty() {
        bail!("{}", failed.join("\n"));
    }
    Ok(())
}

pub fn run_matrix(args: &MatrixArgs) -> Result<()> {
    let arches = Arch::parse_list(&args.arch)?;
    let targets = matrix::targets(&arches, args.release.as_deref(), Releases::Defaults, None)?;
    let targets = matrix::shard(targets, args.shard.as_deref())?;
    let mut ran: Vec<Arch> = targets.iter().map(|t| t.arch).collect();
    ran.dedup();
    let slots = args.run.slots();
    let dir = args.run.out_dir();
    let parity_arches = args.parity_arches(&ran)?;
    let (outcome, parity) = std::thread::scope(|s| {
        let parity = (!parity_arches.is_empty())
            .then(|| s.spawn(|| crate::parity::run_for_matrix(&parity_arches, &slots)));
        let outcome = run_fixtures(&args.run, true, &targets, &slots);
        (outcome, parity.map(|p| p.join()))
    });
    let outcome = outcome?;
    report::print_summary(&outcome.results);
    println!(
        "xtask: matrix: reports in {}/report.{{json,md,svg}}",
        dir.display()
    );
    let mut failed = outcome.failures();
    if let Some(parity) = parity {
        let parity = parity.unwrap_or_else(|_| Err(anyhow::anyhow!("the parity run panicked")));
        crate::parity::join_report(&dir.join("report.md"))?;
        if let Err(e) = parity {
            failed.push(format!("parity: {e:#}"));
        }
    }
    if !failed.is_empty() {
        bail!("the matrix failed:\n{}", failed.join("\n"));
    }
    Ok(())
}

/// What booting `arch` on its default kernel needs: the tools (installed
/// when missing and allowed), the kernel and busybox (fetched).
pub fn prepare(arch: Arch) -> Result<()> {
    let s = settings(&RunFlags::default_out());
    matrix::check_tools(&s, &[arch])?;
    s.kernels
        .fetch(arch, probecc_harness::machine::default_release(arch), false)?;
    probecc_harness::packages::busybox(&s.packages, arch)?;
    Ok(())
}

impl RunFlags {
    fn default_out() -> PathBuf {
        crate::workspace_root().join("target/matrix")
    }
}

/// The boots of the matrix that `cargo xtask test` (and so CI) runs: one
/// representative arch, x86_64, on both its default kernels, and s390x on
/// trixie's for the other byte order and the interpreter (Debian's s390x
/// has no BPF JIT). `cargo xtask matrix --arch all` runs all ten default
/// kernels; docs/matrix.md has their table.
pub const TEST_TARGETS: [(Arch, Release); 3] = [
    (Arch::X86_64, Release::Bookworm),
    (Arch::X86_64, Release::Trixie),
    (Arch::S390x, Release::Trixie),
];

/// The matrix as `cargo xtask test` runs it: [`TEST_TARGETS`], and
/// parity on x86_64 beside it (unless `parity` is false), and `beside`
/// (more boots, sharing the matrix's slots). A missing prerequisite
/// (QEMU, cross linker, a kernel that does not download) fails under CI
/// and is skipped with the reason elsewhere.
pub fn run_in_test(
    ci: bool,
    parity: bool,
    beside: impl FnOnce(&Slots) -> Result<()> + Send,
) -> Result<()> {
    let prepared = TEST_TARGETS.iter().try_for_each(|&(a, r)| {
        let s = settings(&RunFlags::default_out());
        matrix::check_tools(&s, &[a])?;
        s.kernels
            .fetch(a, r, false)
            .map(|_| ())
            .map_err(anyhow::Error::from)
    });
    if let Err(e) = prepared {
        if ci {
            return Err(e.context("the QEMU matrix's prerequisites (CI=true)"));
        }
        println!("xtask: skipping the QEMU matrix (set CI=true to make this an error): {e:#}");
        let slots = Slots::per_cpu();
        let others = beside(&slots);
        return if parity {
            crate::parity::run_in_test(ci, &slots).and(others)
        } else {
            others
        };
    }
    let flags = RunFlags {
        accel: "tcg".into(),
        rounds: None,
        iterations: 2000,
        timeout: 900,
        only: None,
        no_overhead: false,
        append: String::new(),
        jobs: None,
        out: None,
    };
    let targets: Vec<Target> = TEST_TARGETS
        .iter()
        .map(|&(arch, r)| Target {
            arch,
            kernel: KernelChoice::Debian(r),
        })
        .collect();
    let slots = flags.slots();
    let (outcome, parity, others) = std::thread::scope(|s| {
        let parity = parity.then(|| s.spawn(|| crate::parity::run_in_test(ci, &slots)));
        let others = s.spawn(|| beside(&slots));
        let outcome = run_fixtures(&flags, true, &targets, &slots);
        (outcome, parity.map(|p| p.join()), others.join())
    });
    let others =
        others.unwrap_or_else(|_| Err(anyhow::anyhow!("a run beside the matrix panicked")));
    let outcome = outcome?;
    report::print_summary(&outcome.results);
    let failed = outcome.failures();
    let matrix = if failed.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("the matrix failed:\n{}", failed.join("\n")))
    };
    let matrix = match parity {
        None => matrix,
        Some(p) => {
            let p = p.unwrap_or_else(|_| Err(anyhow::anyhow!("the parity run panicked")));
            crate::parity::join_report(&flags.out_dir().join("report.md"))?;
            matrix.and(p)
        }
    };
    matrix.and(others)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: MatrixArgs,
    }

    fn parity(argv: &[&str], ran: &[Arch]) -> Result<Vec<Arch>> {
        let cli = Cli::try_parse_from(std::iter::once("matrix").chain(argv.iter().copied()))?;
        cli.args.parity_arches(ran)
    }

    #[test]
    fn the_default_parity_run_covers_the_first_arch_of_the_run() {
        let all = [Arch::X86_64, Arch::Arm64, Arch::S390x];
        assert_eq!(parity(&[], &all).unwrap(), [Arch::X86_64]);
        assert_eq!(parity(&[], &[Arch::Arm64]).unwrap(), [Arch::Arm64]);
        assert_eq!(parity(&["--parity", "all"], &all).unwrap(), all);
        assert!(parity(&["--parity", "none"], &all).unwrap().is_empty());
        assert!(parity(&["--no-parity"], &all).unwrap().is_empty());
        assert_eq!(
            parity(&["--parity", "s390x,arm64"], &all).unwrap(),
            [Arch::S390x, Arch::Arm64]
        );
    }

    #[test]
    fn a_parity_arch_outside_the_run_is_an_error() {
        let e = parity(&["--parity", "riscv64"], &[Arch::X86_64]).unwrap_err();
        assert!(e.to_string().contains("riscv64 is not among"), "{e}");
        assert!(parity(&["--parity", "x86_64", "--no-parity"], &[Arch::X86_64]).is_err());
    }
}
