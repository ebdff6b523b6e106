//! `probecc qemu SPEC|OBJ... --arch <arch|all|a,b> [--release R,...]
//! [--kernel PATH] [--workload CMD]... [--plan FILE] [--attach MODE]
//! [--out DIR] [--json] [--shard i/n] [--guest-file SRC[:DST]]`: the
//! user's probes attached in QEMU guests of real Debian kernels through
//! the harness (`probecc_harness`). Each spec is compiled on the host for
//! each arch (an object is taken as built, its manifest beside it), the
//! guest loads and attaches it with the runtime's loader, runs the
//! workloads (real commands: busybox's applets and `--guest-file`s),
//! checks the plan's expectations, renders what bpftrace would have
//! printed, and measures what each spec adds per probe hit against an
//! empty probe on the same functions in the same boot. Output: bpftrace's
//! text per spec and boot on stdout (or the whole report as JSON with
//! `--json`), the summary and progress on stderr, `report.{json,md,svg}`
//! in `--out`. Exit status 0 only if every attach and every expectation
//! held; 2 for bad arguments or a plan that cannot be read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use probecc::arch::Arch;
use probecc::lang::{self, diag, Compiled};
use probecc_harness::matrix::{self, Options, Releases, Settings, Slots};
use probecc_harness::plan::{Plan, Source};
use probecc_harness::stage::{Compiler, GuestFile};
use probecc_harness::tools::Install;
use probecc_harness::{report, say};

use crate::build::Spec;
use crate::input::{self, BadInput};
use crate::target::{ArchName, ArchParser, Attach, Target};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Specs (.bt) to compile for each arch, or objects (.o, their
    /// NAME.manifest.json beside them) to attach as built
    pub specs: Vec<PathBuf>,
    /// Architectures to boot: one, a comma-separated list, or `all`
    #[arg(long, value_name = "ARCH", value_delimiter = ',', value_parser = ArchParser, required = true)]
    pub arch: Vec<ArchName>,
    /// Debian releases of the kernels (bookworm, trixie, sid, a list, or
    /// all); default: each arch's oldest whose kernel takes entry kprobes
    #[arg(long, value_name = "RELEASES")]
    pub release: Option<String>,
    /// Boot this kernel image instead of a Debian one (one arch; no
    /// download, so it works on a host without apt)
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// A command the guest runs while the specs are attached (repeatable,
    /// run in order; busybox's applets, e.g. `dd if=/dev/zero
    /// of=/dev/null bs=7 count=1000 status=none`, `sh -c '...'`)
    #[arg(long, value_name = "CMD")]
    pub workload: Vec<String>,
    /// A plan: a TOML table per spec (`spec = "path"` relative to the
    /// plan, `workload`, `expect`, `unsupported`, `known_failure`), the
    /// shape of probecc's fixtures/matrix/expectations.toml
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// What `kprobe:` and `kretprobe:` attach points compile to: kprobes,
    /// fentry and fexit programs, or `auto` (the default): fentry/fexit
    /// where the arch's default kernel release has BPF trampolines
    #[arg(long, value_name = "KIND", value_enum, default_value_t = Attach::Auto)]
    pub attach: Attach,
    /// Directory of the reports, console logs and initramfs
    #[arg(long, value_name = "DIR", default_value = "probecc-qemu")]
    pub out: PathBuf,
    /// Print the report (every boot, every spec) as JSON on stdout
    /// instead of bpftrace's text
    #[arg(long)]
    pub json: bool,
    /// Run only shard i of n (1-based) of the arch × kernel boots
    #[arg(long, value_name = "i/n")]
    pub shard: Option<String>,
    /// A file of yours for the guest (a static binary a workload runs),
    /// at DST (default /bin/<name>); repeatable
    #[arg(long, value_name = "SRC[:DST]")]
    pub guest_file: Vec<String>,
    /// Rounds of each spec's cost under its workload (the median is
    /// taken: under TCG the guest counts instructions, and the median of
    /// three drops a round other work in the guest disturbed)
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Seconds before a guest counts as hung
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    /// QEMU accelerator: tcg, or kvm (x86_64 on a host with working KVM)
    #[arg(long, default_value = "tcg")]
    pub accel: String,
    /// Boots at once (default: the machine's CPUs)
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Where kernels and packages are cached (default
    /// $PROBECC_CACHE_DIR, $XDG_CACHE_HOME/probecc or ~/.cache/probecc)
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Install what is missing (QEMU, cross linkers, Rust targets) with
    /// apt-get and rustup, as root; by default probecc only names it
    #[arg(long)]
    pub install: bool,
    /// Kernel types for specs' struct accesses (a vmlinux BTF; default
    /// /sys/kernel/btf/vmlinux when present)
    #[arg(long, value_name = "FILE")]
    pub btf: Option<PathBuf>,
    /// Allow actions that change what the probed task does (`signal()`)
    #[arg(long = "unsafe")]
    pub allow_unsafe: bool,
}

/// Specs compiled as `probecc build` compiles them.
struct Specs {
    allow_unsafe: bool,
    btf: Option<PathBuf>,
    attach: Attach,
}

impl Compiler for Specs {
    /// The empty fentry and fexit baselines are built with the types the
    /// specs are (`--btf`, else the host's own).
    fn types(&self) -> Option<PathBuf> {
        let host = Path::new("/sys/kernel/btf/vmlinux");
        self.btf
            .clone()
            .or_else(|| host.exists().then(|| host.to_path_buf()))
    }

    fn compile(&self, path: &Path, arch: Arch) -> Result<Compiled, String> {
        let spec = Spec::load(
            path,
            None,
            None,
            self.allow_unsafe,
            self.btf.as_deref(),
            self.attach.into(),
        )
        .map_err(|e| probecc::error::chain(&e))?;
        lang::compile(&spec.src, arch, &spec.opts)
            .map_err(|d| diag::render(&spec.file, &spec.src, &d))
    }
}

pub fn run(args: &Args) -> Result<()> {
    say::set_prefix("probecc");
    say::to_stderr();
    let plan = plan(args)?;
    let arches = Target {
        arch: args.arch.clone(),
        ..Target::default()
    }
    .arches();
    let targets = matrix::targets(
        &arches,
        args.release.as_deref(),
        Releases::One,
        args.kernel.as_deref(),
    )
    .map_err(|e| BadInput::Arguments(probecc::error::chain(&e)))?;
    let targets = matrix::shard(targets, args.shard.as_deref())
        .map_err(|e| BadInput::Arguments(e.to_string()))?;
    let guest_files = args
        .guest_file
        .iter()
        .map(|g| GuestFile::parse(g).map_err(|e| BadInput::Arguments(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    for g in &guest_files {
        input::bytes(&g.src)?;
    }
    let cache = args.cache.clone().unwrap_or_else(matrix::user_cache);
    let mut settings = Settings::new(&cache, &args.out);
    settings.accel = args.accel.clone();
    settings.timeout = Duration::from_secs(args.timeout);
    settings.install = if args.install {
        Install::AsRoot
    } else {
        Install::Never("probecc installs nothing without --install".into())
    };
    let compiler = Specs {
        allow_unsafe: args.allow_unsafe,
        btf: args.btf.clone(),
        attach: args.attach,
    };
    let options = Options {
        plan: &plan,
        only: Vec::new(),
        compiler: &compiler,
        guest_files,
        loop_overhead: None,
        cost_rounds: Some(args.rounds.max(1)),
        output: true,
        extra_subjects: &matrix::no_extra_subjects,
    };
    let slots = args.jobs.map_or_else(Slots::per_cpu, Slots::new);
    let outcome = matrix::run(&settings, &options, &targets, &slots)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome.results)?);
    } else {
        for r in &outcome.results {
            for f in &r.fixtures {
                let Some(text) = &f.output else { continue };
                println!("== {} on {} {} ({})", f.name, r.arch, r.kernel, r.release);
                print!("{text}");
            }
        }
    }
    eprint!("{}", report::summary(&outcome.results));
    eprintln!(
        "probecc: reports in {}/report.{{json,md,svg}}",
        args.out.display()
    );
    let failed = outcome.failures();
    if !failed.is_empty() {
        anyhow::bail!(
            "not every attach and expectation held:\n{}",
            failed.join("\n")
        );
    }
    Ok(())
}

/// The plan's entries and the command line's specs, one plan; every
/// file named is there.
fn plan(args: &Args) -> Result<Plan, BadInput> {
    let mut plan = match &args.plan {
        Some(path) => {
            input::bytes(path)?;
            Plan::load(path).map_err(|e| BadInput::file(input::reading(path), e))?
        }
        None => Plan::default(),
    };
    let given = Plan::of_paths(&args.specs, &args.workload)
        .map_err(|e| BadInput::Arguments(e.to_string()))?;
    for e in given.entries {
        if plan.entry(&e.name).is_some() {
            return Err(BadInput::Arguments(format!(
                "{} is named {} like an entry of the plan: rename one",
                e.source.path_for(Arch::X86_64).display(),
                e.name
            )));
        }
        plan.entries.push(e);
    }
    if plan.entries.is_empty() {
        return Err(BadInput::Arguments(
            "nothing to attach: give specs or objects, or --plan FILE".into(),
        ));
    }
    if args.plan.is_some() && !args.workload.is_empty() && args.specs.is_empty() {
        return Err(BadInput::Arguments(
            "--workload applies to the specs on the command line; a plan names each spec's own"
                .into(),
        ));
    }
    for e in &plan.entries {
        if let Source::Spec(p) = &e.source {
            input::text(p)?;
        }
        if let Source::Object(p) = &e.source {
            if !p.to_string_lossy().contains("{arch}") {
                input::bytes(p)?;
            }
        }
    }
    Ok(plan)
}
