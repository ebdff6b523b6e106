//! A run: a plan's specs attached in guests of every target (an arch and
//! a kernel), the boots in parallel up to the machine's CPUs, each boot's
//! results digested and the reports rewritten after each.
//!
//! First, on the host and before any boot: the tools are checked (named
//! with their packages before any work), every kernel fetched, the agent
//! built for every arch in one cargo run, each arch's busybox fetched and
//! each arch staged once (both kernels of an arch boot one initramfs).
//! Then the boots, each taking one of the [`Slots`] the caller shares
//! with its other boots (TCG runs a guest's one vCPU on one host thread,
//! so as many at once as the machine has CPUs).
//!
//! Under faults nothing already produced is lost and nothing needs
//! cleaning up by hand: a target that cannot run (a kernel that does not
//! download) is reported and the others run; a boot that ends early is
//! reported with what it printed; the reports are rewritten after every
//! boot. A run that writes reports holds `<out>/matrix.lock`, so a second
//! run on the same output directory waits, saying for whom; each boot
//! holds `<out>/<arch>/<release>.lock` for its console log, so runs on
//! other kernels go on; the initramfs are the run's own files (locks die
//! with their holder, and what a killed run left is removed by the next).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use probecc::arch::Arch;

use crate::boot::{self, BootSpec, Verdict};
use crate::error::{bail, Context, Error, Result};
use crate::files::write_atomic;
use crate::guest::GuestSource;
use crate::kernels::{self, Kernel, KernelCache};
use crate::lock::FileLock;
use crate::machine::{self, Release};
use crate::packages;
use crate::plan::Plan;
use crate::report;
use crate::results::{self, ArchResult};
use crate::say::say;
use crate::stage::{self, Compiler, ExtraSubject, GuestFile, LoopOverhead, StageInput, Staged};
use crate::tools::{self, Install, Need};

/// Where and how a run works, apart from what it runs.
#[derive(Clone, Debug)]
pub struct Settings {
    pub kernels: KernelCache,
    /// Where Debian package trees are unpacked, `<packages>/<package>/`
    /// (busybox-static, the caller's own).
    pub packages: PathBuf,
    /// Reports, console logs, initramfs.
    pub out: PathBuf,
    pub guest: GuestSource,
    pub install: Install,
    /// QEMU's accelerator: `tcg`, or `kvm` (x86_64 on a host with working
    /// KVM).
    pub accel: String,
    /// A boot still running after this is a hang, killed.
    pub timeout: Duration,
    /// Extra kernel command-line arguments.
    pub append: String,
    /// Whether the run writes `report.{json,md,svg}` (and holds the
    /// output directory's lock).
    pub reports: bool,
    /// What else the caller needs of the host, checked with the harness's
    /// own needs before any work.
    pub extra_needs: Vec<Need>,
}

impl Settings {
    /// The harness's defaults for a user's run: kernels and packages in
    /// `cache`, reports in `out`, TCG, 15 minutes per boot, reports
    /// written, nothing installed.
    pub fn new(cache: &Path, out: &Path) -> Settings {
        Settings {
            kernels: KernelCache::new(cache.join("kernels")),
            packages: cache.join("packages"),
            out: out.to_path_buf(),
            guest: GuestSource::default(),
            install: Install::Never(
                "the harness installs nothing unless its caller allows it".into(),
            ),
            accel: "tcg".into(),
            timeout: Duration::from_secs(900),
            append: String::new(),
            reports: true,
            extra_needs: Vec::new(),
        }
    }

    /// Whether boots run under `-icount` (TCG): the guest's clock counts
    /// instructions, so one round measures exactly what five would.
    pub fn icount(&self) -> bool {
        self.accel == "tcg"
    }
}

/// The user's cache directory: `$PROBECC_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/probecc`, else `~/.cache/probecc`.
pub fn user_cache() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = var("PROBECC_CACHE_DIR") {
        return d.into();
    }
    if let Some(d) = var("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("probecc");
    }
    match var("HOME") {
        Some(h) => PathBuf::from(h).join(".cache/probecc"),
        None => PathBuf::from(".probecc-cache"),
    }
}

/// What a run does in each guest.
pub struct Options<'a> {
    pub plan: &'a Plan,
    /// The plan's entries to run (all when empty).
    pub only: Vec<String>,
    pub compiler: &'a dyn Compiler,
    pub guest_files: Vec<GuestFile>,
    /// The read/write loop over the empty probes and the specs.
    pub loop_overhead: Option<LoopOverhead>,
    /// Rounds of each spec's cost under its own workload.
    pub cost_rounds: Option<u32>,
    /// Whether each spec's row carries what bpftrace would have printed.
    pub output: bool,
    /// Overhead subjects of the caller's, per arch (the project's clang
    /// twins).
    pub extra_subjects: &'a (dyn Fn(Arch) -> Result<Vec<ExtraSubject>> + Sync),
}

/// No extra subjects.
pub fn no_extra_subjects(_: Arch) -> Result<Vec<ExtraSubject>> {
    Ok(Vec::new())
}

/// The kernel a target boots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelChoice {
    /// Debian's current kernel of the release.
    Debian(Release),
    /// A kernel image of the user's (`--kernel PATH`).
    Image(PathBuf),
}

/// One boot of a run: an arch on a kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub arch: Arch,
    pub kernel: KernelChoice,
}

/// How many releases an arch gets when none is named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Releases {
    /// The arch's default one (`machine::default_release`).
    One,
    /// The arch's default two (`machine::default_releases`).
    Defaults,
}

/// The targets of `arches` × releases (`named`: a list as
/// `Release::parse_list` reads it, releases without a kernel for an arch
/// skipped with a note), or each arch on `image`.
pub fn targets(
    arches: &[Arch],
    named: Option<&str>,
    defaults: Releases,
    image: Option<&Path>,
) -> Result<Vec<Target>> {
    if let Some(image) = image {
        if named.is_some() {
            bail!("--kernel boots one image: give no --release with it");
        }
        if let [arch] = arches {
            return Ok(vec![Target {
                arch: *arch,
                kernel: KernelChoice::Image(image.to_path_buf()),
            }]);
        }
        bail!(
            "--kernel {} boots one arch: give one --arch",
            image.display()
        );
    }
    let mut out = Vec::new();
    for &arch in arches {
        let releases = match (named, defaults) {
            (Some(_), _) => kernels::releases(arch, named)?,
            (None, Releases::Defaults) => machine::default_releases(arch),
            (None, Releases::One) => vec![machine::default_release(arch)],
        };
        out.extend(releases.into_iter().map(|r| Target {
            arch,
            kernel: KernelChoice::Debian(r),
        }));
    }
    Ok(out)
}

/// Shard `i/n` of `items`: every n-th item starting at the i-th.
pub fn shard<T>(items: Vec<T>, spec: Option<&str>) -> Result<Vec<T>> {
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

/// Boots at once: a counting semaphore every boot of a process takes one
/// of, so that the matrix's boots and the caller's others (the parity
/// run) share the CPUs. Slots go to the waiting in the order they asked.
pub struct Slots {
    state: Mutex<Queue>,
    freed: Condvar,
}

/// The free slots and the tickets of those waiting, oldest first.
struct Queue {
    free: usize,
    waiting: std::collections::VecDeque<u64>,
    next: u64,
}

/// One slot, given back when dropped.
pub struct Slot<'a>(&'a Slots);

impl Slots {
    pub fn new(n: usize) -> Slots {
        Slots {
            state: Mutex::new(Queue {
                free: n.max(1),
                waiting: Default::default(),
                next: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// As many as the machine has CPUs.
    pub fn per_cpu() -> Slots {
        Slots::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Blocks until a slot is free and every earlier taker has one.
    pub fn take(&self) -> Slot<'_> {
        let mut q = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let ticket = q.next;
        q.next += 1;
        q.waiting.push_back(ticket);
        while !(q.free > 0 && q.waiting.front() == Some(&ticket)) {
            q = self.freed.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        q.waiting.pop_front();
        q.free -= 1;
        // The next in line may find a slot free too.
        self.freed.notify_all();
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut q = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        q.free += 1;
        self.0.freed.notify_all();
    }
}

/// What a run produced.
pub struct Outcome {
    /// One per boot, in target order.
    pub results: Vec<ArchResult>,
    /// The targets that could not run, each with why.
    pub not_run: Vec<String>,
}

impl Outcome {
    /// Every boot completed and held, and every target ran.
    pub fn ok(&self) -> bool {
        self.not_run.is_empty() && self.results.iter().all(ArchResult::ok)
    }

    /// One sentence per failed boot and target not run.
    pub fn failures(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .results
            .iter()
            .filter(|r| !r.ok())
            .map(failed_message)
            .collect();
        v.extend(self.not_run.iter().map(|e| format!("not run: {e}")));
        v
    }
}

/// "x86_64 6.1.0-50-cloud-amd64 (bookworm): <first failure> (and N
/// more); console log: <path>".
pub fn failed_message(r: &ArchResult) -> String {
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

/// The tools that booting `arches` needs, installed or named (see
/// `tools`), before any other work.
pub fn check_tools(settings: &Settings, arches: &[Arch]) -> Result<()> {
    for &a in arches {
        boot::preflight(a, &settings.accel)?;
    }
    let mut unique: Vec<Arch> = arches.to_vec();
    unique.dedup();
    tools::ensure_for_boot(&unique, &settings.extra_needs, &settings.install)
}

/// A job: a target with its kernel, ready to boot.
struct Job {
    arch: Arch,
    kernel: Kernel,
}

/// Runs `options` on every target, `slots` boots at a time. The tools
/// are checked first (`check_tools`); a target whose kernel, guest or
/// staging fails is reported in [`Outcome::not_run`] and the others run.
pub fn run(
    settings: &Settings,
    options: &Options,
    targets: &[Target],
    slots: &Slots,
) -> Result<Outcome> {
    let arches: Vec<Arch> = targets.iter().map(|t| t.arch).collect();
    check_tools(settings, &arches)?;
    let out = &settings.out;
    let _lock = if settings.reports {
        Some(FileLock::acquire(
            &out.join("matrix.lock"),
            &format!(
                "{}: matrix: waiting for another matrix run writing to {}",
                crate::say::prefix(),
                out.display()
            ),
        )?)
    } else {
        None
    };
    remove_stale_initramfs(out);
    let mut not_run = Vec::new();
    let mut jobs = Vec::new();
    for t in targets {
        let kernel = match &t.kernel {
            KernelChoice::Debian(r) => settings.kernels.fetch(t.arch, *r, false),
            KernelChoice::Image(p) => kernels::custom(t.arch, p),
        };
        match kernel {
            Ok(kernel) => jobs.push(Job {
                arch: t.arch,
                kernel,
            }),
            Err(Error::NoApt(why)) => return Err(Error::NoApt(why)),
            Err(e) => {
                let e = format!("{} {}: {}", t.arch, kernel_name(&t.kernel), chain(&e));
                say("matrix", &format!("{e}; going on with the next"));
                not_run.push(e);
            }
        }
    }
    let mut staged: BTreeMap<Arch, (Staged, PathBuf)> = BTreeMap::new();
    let mut guest_arches: Vec<Arch> = jobs.iter().map(|j| j.arch).collect();
    guest_arches.dedup();
    if !guest_arches.is_empty() {
        say("matrix", "building the guest agent");
        let agents = settings.guest.build(&guest_arches)?;
        for (&arch, agent) in &agents {
            match stage_arch(settings, options, arch, agent) {
                Ok(s) => {
                    staged.insert(arch, s);
                }
                Err(e) => {
                    let e = format!("{arch}: staging the guest: {}", chain(&e));
                    say("matrix", &format!("{e}; going on with the next"));
                    not_run.push(e);
                }
            }
        }
    }
    let jobs: Vec<Job> = jobs
        .into_iter()
        .filter(|j| staged.contains_key(&j.arch))
        .collect();
    let results: Mutex<Vec<(usize, ArchResult)>> = Mutex::new(Vec::new());
    let failed_boots: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // Each thread takes a slot, then the next job: the jobs boot in
    // order, whichever thread a freed slot wakes.
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.len() {
            let (results, failed_boots, next, staged, jobs) =
                (&results, &failed_boots, &next, &staged, &jobs);
            scope.spawn(move || {
                let slot = slots.take();
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(job) = jobs.get(i) else { return };
                let (staged, initramfs) = &staged[&job.arch];
                let booted = boot_one(settings, options, job, staged, initramfs);
                drop(slot);
                match booted {
                    Ok(r) => {
                        let mut all = results.lock().unwrap_or_else(|p| p.into_inner());
                        all.push((i, r));
                        all.sort_by_key(|(i, _)| *i);
                        if settings.reports {
                            let rs: Vec<ArchResult> = all.iter().map(|(_, r)| r.clone()).collect();
                            if let Err(e) = report::write(out, &rs) {
                                say("matrix", &format!("writing the reports: {}", chain(&e)));
                            }
                        }
                    }
                    Err(e) => {
                        let e = format!("{} {}: {}", job.arch, job.kernel.version, chain(&e));
                        say("matrix", &format!("{e}; going on with the next"));
                        failed_boots
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(e);
                    }
                }
            });
        }
    });
    for (_, initramfs) in staged.values() {
        let _ = std::fs::remove_file(initramfs);
    }
    let results: Vec<ArchResult> = results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    not_run.extend(failed_boots.into_inner().unwrap_or_else(|p| p.into_inner()));
    if settings.reports {
        report::write(out, &results)?;
    }
    Ok(Outcome { results, not_run })
}

fn chain(e: &Error) -> String {
    probecc::error::chain(e)
}

fn kernel_name(k: &KernelChoice) -> String {
    match k {
        KernelChoice::Debian(r) => r.name().into(),
        KernelChoice::Image(p) => p.display().to_string(),
    }
}

/// Stages `arch` and writes its initramfs, a file of this run's own.
fn stage_arch(
    settings: &Settings,
    options: &Options,
    arch: Arch,
    agent: &Path,
) -> Result<(Staged, PathBuf)> {
    let busybox = busybox(settings, options, arch)?;
    let extra = (options.extra_subjects)(arch)?;
    let staged = stage::stage(&StageInput {
        arch,
        plan: options.plan,
        only: &options.only,
        compiler: options.compiler,
        agent,
        busybox: busybox.as_deref(),
        guest_files: &options.guest_files,
        loop_overhead: options.loop_overhead,
        extra_subjects: &extra,
        cost_rounds: options.cost_rounds,
        output: options.output,
        watchdog_secs: settings.timeout.as_secs().saturating_sub(30).max(60),
    })?;
    let dir = settings.out.join(arch.name());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("initramfs-{}.cpio", std::process::id()));
    write_atomic(&path, &staged.initramfs)?;
    Ok((staged, path))
}

/// The arch's static busybox: the user's (`--guest-file ...:/bin/busybox`)
/// or Debian's `busybox-static`; `None` when it cannot be fetched and no
/// workload needs it.
fn busybox(settings: &Settings, options: &Options, arch: Arch) -> Result<Option<PathBuf>> {
    if options.guest_files.iter().any(|f| f.dst == stage::BUSYBOX) {
        return Ok(None);
    }
    match packages::busybox(&settings.packages, arch) {
        Ok(file) => Ok(Some(file)),
        Err(e) if options.plan.entries.iter().all(|e| e.workload.is_empty()) => {
            say(
                "matrix",
                &format!(
                    "{arch}: no busybox in the guest ({}); no workload needs one",
                    chain(&e)
                ),
            );
            Ok(None)
        }
        Err(e) => Err(e.context(format!(
            "fetching Debian's busybox-static for {arch}, whose applets the workloads run \
             (or give a static busybox with --guest-file PATH:{})",
            stage::BUSYBOX
        ))),
    }
}

/// One boot, digested.
fn boot_one(
    settings: &Settings,
    options: &Options,
    job: &Job,
    staged: &Staged,
    initramfs: &Path,
) -> Result<ArchResult> {
    let arch = job.arch;
    let k = &job.kernel;
    let label = format!("{arch} {}", k.version);
    let dir = settings.out.join(arch.name());
    // The console log is per output directory and kernel: one run at a
    // time boots a kernel there.
    let _lock = FileLock::acquire(
        &dir.join(format!("{}.lock", k.release)),
        &format!(
            "{}: {label}: waiting for another run booting {arch} {} in {}",
            crate::say::prefix(),
            k.release,
            settings.out.display()
        ),
    )?;
    let icount = settings.icount();
    let log = dir.join(format!("{}-{}.console.log", k.release, k.version));
    let bar = boot::spinner(&label);
    bar.set_message("booting");
    let b = boot::boot(
        &BootSpec {
            arch,
            kernel: k,
            initramfs,
            accel: &settings.accel,
            icount,
            timeout: settings.timeout,
            log,
            append: &settings.append,
        },
        &bar,
    )?;
    bar.finish_with_message(format!("{:?} in {:.0} s", b.verdict, b.secs));
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
        k.release.as_str(),
        k.version.as_str(),
        settings.accel.as_str(),
        icount,
    );
    let mut result = results::digest(&b, header, &kinds);
    for row in &staged.failed {
        result.add_failed_row(row.clone());
    }
    let known: Vec<(String, String)> = staged
        .plan
        .fixtures
        .iter()
        .filter_map(|f| f.known_failure.clone().map(|k| (f.name.clone(), k)))
        .collect();
    result.apply_known(&known);
    result.btf = kernels::has_btf(k);
    if result.btf == Some(false) {
        let why = "the kernel has no BTF (CONFIG_DEBUG_INFO_BTF is not set), so it cannot load an object with CO-RE relocations";
        let known: Vec<(String, String)> = staged
            .needs_btf
            .iter()
            .map(|n| (n.clone(), why.to_string()))
            .collect();
        result.apply_known(&known);
    }
    if k.release != "custom" {
        result.check_btf(arch);
        if let Some(has) = kernels::config_flag(k, "CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS") {
            result.check_unaligned_access(arch, has);
        }
    }
    result.check_trampolines(arch);
    result.check_kprobe_multi(arch);
    if let Some(reason) = options.plan.platform_known_failure(arch, &k.release) {
        result.apply_platform_known(reason);
    }
    for f in &staged.plan.fixtures {
        if let Some(why) = &f.unsupported {
            result
                .notes
                .push(format!("{} not checked on {arch}: {why}", f.name));
        }
    }
    let ran: Vec<&str> = result
        .fixtures
        .iter()
        .map(|f| f.name.as_str())
        .chain(result.unavailable.iter().map(|u| u.what.as_str()))
        .collect();
    let missing: Vec<String> = staged
        .plan
        .fixtures
        .iter()
        .filter(|f| !ran.contains(&f.name.as_str()) && b.verdict == Verdict::Completed)
        .map(|f| format!("{}: no result from the guest", f.name))
        .collect();
    result.failures.extend(missing);
    Ok(result)
}

/// Removes the initramfs that runs killed before they could (their pid
/// is gone).
fn remove_stale_initramfs(out: &Path) {
    let Ok(arches) = std::fs::read_dir(out) else {
        return;
    };
    for dir in arches.flatten() {
        let Ok(files) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        for f in files.flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix("initramfs-")
                .and_then(|r| r.strip_suffix(".cpio"))
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                let _ = std::fs::remove_file(f.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_targets_round_robin() {
        let items: Vec<u32> = (1..=5).collect();
        assert_eq!(shard(items.clone(), Some("1/2")).unwrap(), [1, 3, 5]);
        assert_eq!(shard(items.clone(), Some("2/2")).unwrap(), [2, 4]);
        assert_eq!(shard(items.clone(), None).unwrap(), items);
        for bad in ["0/2", "3/2", "1/0", "x", "1/x"] {
            let e = shard(items.clone(), Some(bad)).unwrap_err();
            assert!(e.to_string().contains("expected i/n"), "{bad}: {e}");
        }
    }

    #[test]
    fn targets_are_arches_by_their_releases_or_one_image() {
        let t = targets(
            &[Arch::X86_64, Arch::Riscv64],
            None,
            Releases::Defaults,
            None,
        )
        .unwrap();
        let k: Vec<(Arch, KernelChoice)> = t.into_iter().map(|t| (t.arch, t.kernel)).collect();
        use KernelChoice::Debian;
        assert_eq!(
            k,
            [
                (Arch::X86_64, Debian(Release::Bookworm)),
                (Arch::X86_64, Debian(Release::Trixie)),
                (Arch::Riscv64, Debian(Release::Trixie)),
                (Arch::Riscv64, Debian(Release::Sid)),
            ]
        );
        let one = targets(&[Arch::Riscv64], None, Releases::One, None).unwrap();
        assert_eq!(one[0].kernel, Debian(Release::Sid));
        let named = targets(&[Arch::Riscv64], Some("bookworm,sid"), Releases::One, None).unwrap();
        assert_eq!(named.len(), 1, "bookworm has no riscv64 kernel");
        let img = Path::new("/boot/vmlinuz");
        let t = targets(&[Arch::Arm64], None, Releases::One, Some(img)).unwrap();
        assert_eq!(t[0].kernel, KernelChoice::Image(img.into()));
        let e = targets(&[Arch::Arm64, Arch::X86_64], None, Releases::One, Some(img)).unwrap_err();
        assert!(e.to_string().contains("one --arch"), "{e}");
    }

    #[test]
    fn slots_go_in_the_order_they_were_asked_for() {
        let slots = Slots::new(1);
        let order = Mutex::new(Vec::new());
        let first = slots.take();
        let waiting = |slots: &Slots| slots.state.lock().unwrap().waiting.len();
        std::thread::scope(|s| {
            for i in 0..4 {
                let (slots, order) = (&slots, &order);
                s.spawn(move || {
                    let _slot = slots.take();
                    order.lock().unwrap().push(i);
                });
                // Each asks after the one before is waiting.
                while waiting(slots) < i + 1 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            drop(first);
        });
        assert_eq!(order.into_inner().unwrap(), [0, 1, 2, 3]);
    }

    #[test]
    fn slots_let_as_many_through_as_they_hold() {
        let slots = Slots::new(2);
        let running = std::sync::atomic::AtomicUsize::new(0);
        let most = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..6 {
                s.spawn(|| {
                    let _slot = slots.take();
                    let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(30));
                    running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                });
            }
        });
        assert_eq!(most.into_inner(), 2);
    }
}
