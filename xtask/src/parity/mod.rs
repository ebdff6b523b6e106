//! `cargo xtask parity [--arch A] [--icount] [SPEC...]`: every fixture
//! bpftrace accepts, run under Debian's bpftrace of the arch (its package
//! tree and the binary's libraries: `probecc_harness::packages`, cached
//! under `target/bpftrace`, `XTASK_BPFTRACE_DIR` moves it), as probecc's
//! object, and under `probecc trace` of the dist binary compiling the
//! spec on the device (`trace`), in one guest boot of a Debian kernel
//! with BTF (`parity_kernel`), each probecc side compared with bpftrace
//! entry by entry under `fixtures/parity.toml` (the trace side with its
//! time to `Attaching` and peak RSS beside bpftrace's; with `--icount`
//! the guest clock counts instructions), and the verdicts written to
//! `target/parity/report.{json,md}` (and appended to the matrix report:
//! `cargo xtask matrix` and `cargo xtask test` run it beside their
//! matrix, its boots sharing the CPUs with the matrix's). Exit status
//! non-zero when a spec differs without a documented reason or a side
//! fails.

mod compare;
pub(crate) mod report;
pub(crate) mod rules;
pub(crate) mod shim;
pub(crate) mod stage;
pub(crate) mod trace;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use probecc::arch::Arch;
use probecc_guest::protocol::{
    AttachScalePlan, ParityReport, ScaleReport, BPFTRACE, PARITY_MARK, SCALE_MARK,
};
use probecc_harness::boot::{self, BootSpec};
use probecc_harness::kernels::{self, Kernel};
use probecc_harness::lock::FileLock;
use probecc_harness::matrix::{self as harness_matrix, Slots};
use probecc_harness::{machine, packages, tools};

use compare::Normalise;
use probecc_fixtures as fixtures;
use report::{ArchReport, SpecResult, Verdict};
use rules::{Filter, Mode, Rule};

#[derive(clap::Args)]
pub struct ParityArgs {
    /// Architectures (x86_64, arm64, s390x, ppc64le, riscv64, a comma-separated list, or all)
    #[arg(long, default_value = "x86_64")]
    pub arch: String,
    /// Seconds before the guest counts as hung
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
    /// Output directory (default target/parity)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Boot with `-icount shift=0,sleep=off`: the guest's clock then
    /// counts guest instructions (1 ns each), so times are exact and
    /// repeatable
    #[arg(long)]
    pub icount: bool,
    /// The Debian release whose kernel each arch boots (default: the
    /// arch's default release, or the next one with BTF)
    #[arg(long)]
    pub release: Option<String>,
    /// Also time bpftrace and `probecc trace` (as it chooses, and as one
    /// kprobe per function) attaching each kprobe GLOB, or for a number N
    /// the family of the guest kernel's functions (`PREFIX_*`) nearest N
    /// in size, each run to completion around a command that does
    /// nothing. With no spec named, only this runs
    #[arg(long, value_name = "GLOB|N", value_delimiter = ',')]
    pub attach_scale: Vec<String>,
    /// Runs of each tool for `--attach-scale` (interleaved; the report
    /// gives the median)
    #[arg(long, default_value_t = 3)]
    pub scale_runs: u32,
    /// Fixture names (default: every fixture, less those the rules skip)
    pub specs: Vec<String>,
}

/// The unpacked bpftrace of an arch and the files its binary loads.
pub struct Bundle {
    /// e.g. `bpftrace 0.17.0-1 (Debian bookworm arm64)`.
    pub version: String,
    /// The upstream version, e.g. `0.17.0` (the rules' `bpftrace = ...`).
    pub upstream: String,
    pub files: packages::Bundle,
}

/// Where Debian's bpftrace packages are unpacked: `target/bpftrace`, or
/// `XTASK_BPFTRACE_DIR` (the fault tests damage a copy there).
pub fn bpftrace_dir() -> PathBuf {
    crate::qemu::env_dir("XTASK_BPFTRACE_DIR", "target/bpftrace")
}

/// Debian's bpftrace of `arch`, from the oldest release that has the arch
/// (`machine::first_release`), under `target/bpftrace` or
/// `XTASK_BPFTRACE_DIR` (the fault tests damage a copy there).
fn bundle(arch: Arch) -> Result<Bundle> {
    bundle_of(arch, machine::first_release(arch))
}

/// Debian `release`'s bpftrace of `arch` (the corpus runs each release's
/// tools under their own release's bpftrace).
pub(crate) fn bundle_of(arch: Arch, release: machine::Release) -> Result<Bundle> {
    let dir = bpftrace_dir();
    let (tree, files) = packages::fetch(&dir, "bpftrace", arch, release, |t| {
        packages::bundle(t, arch, BPFTRACE)
    })?;
    Ok(Bundle {
        upstream: tree.upstream().to_string(),
        version: tree.version,
        files,
    })
}

pub fn run(args: &ParityArgs) -> Result<()> {
    run_with(args, &Slots::per_cpu())
}

/// `cargo xtask parity`, its boots taking `slots`.
fn run_with(args: &ParityArgs, slots: &Slots) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(parity_dir);
    // The arguments first: a misspelt name costs nothing to report, the
    // downloads and boots before it would cost minutes.
    let arches = Arch::parse_list(&args.arch)?;
    known_specs(&args.specs)?;
    let mut reports = Vec::new();
    // The arches at once, each boot taking one of `slots`. One arch's
    // failure (a download, a boot) is reported; the others still run.
    let done: std::sync::Mutex<Vec<(Arch, ArchReport)>> = Default::default();
    std::thread::scope(|s| {
        for &arch in &arches {
            let (done, out) = (&done, &out);
            s.spawn(move || {
                let r = run_arch(arch, args, out, slots).unwrap_or_else(|e| {
                    println!("xtask: parity: {arch}: {e:#}");
                    ArchReport::not_run(arch, format!("{e:#}"))
                });
                let mut all = done.lock().unwrap_or_else(|p| p.into_inner());
                all.push((arch, r));
                all.sort_by_key(|(a, _)| *a as usize);
                let rs: Vec<&ArchReport> = all.iter().map(|(_, r)| r).collect();
                if let Err(e) = report::write(out, &rs) {
                    println!("xtask: parity: writing the report: {e:#}");
                }
            });
        }
    });
    reports.extend(
        done.into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .map(|(_, r)| r),
    );
    report::write(&out, &reports.iter().collect::<Vec<_>>())?;
    report::print_summary(&reports);
    println!(
        "xtask: parity: reports in {}/report.{{json,md}}",
        out.display()
    );
    if reports.iter().any(ArchReport::failed) {
        bail!(
            "parity: specs differ from bpftrace (see {}/report.md)",
            out.display()
        );
    }
    Ok(())
}

/// `target/parity`, where the matrix's parity run writes.
fn parity_dir() -> PathBuf {
    crate::workspace_root().join("target/parity")
}

/// What a parity run of `arch` needs before it boots: QEMU, the kernel and
/// bpftrace's tree (the fault tests use x86_64's).
pub fn prepare(arch: Arch) -> Result<()> {
    crate::qemu::prepare(arch)?;
    bundle(arch).map(|_| ())
}

/// Parity as `cargo xtask test` runs it: x86_64, every spec, its boot
/// taking one of `slots`. A missing prerequisite fails under CI and is
/// skipped with the reason elsewhere.
pub fn run_in_test(ci: bool, slots: &Slots) -> Result<()> {
    let arch = Arch::X86_64;
    if let Err(e) = prepare(arch) {
        if ci {
            return Err(e.context("the parity run's prerequisites (CI=true)"));
        }
        println!("xtask: skipping the parity run (set CI=true to make this an error): {e:#}");
        return Ok(());
    }
    run_for_matrix(&[arch], slots)
}

/// Parity as `cargo xtask matrix` runs it beside its boots: the matrix's
/// arches, every spec, into `target/parity` (`join_report` adds it to the
/// matrix report once the matrix is done).
pub fn run_for_matrix(arches: &[Arch], slots: &Slots) -> Result<()> {
    let names: Vec<&str> = arches.iter().map(|a| a.name()).collect();
    run_with(
        &ParityArgs {
            arch: names.join(","),
            timeout: 1800,
            out: Some(parity_dir()),
            icount: false,
            release: None,
            attach_scale: Vec::new(),
            scale_runs: 3,
            specs: Vec::new(),
        },
        slots,
    )
}

/// Appends the parity report to the matrix report `matrix`, if both are
/// there (replacing a parity section already there).
pub fn join_report(matrix: &Path) -> Result<()> {
    let (Ok(m), Ok(p)) = (
        std::fs::read_to_string(matrix),
        std::fs::read_to_string(parity_dir().join("report.md")),
    ) else {
        return Ok(());
    };
    let head = m.split("\n# Parity with bpftrace").next().unwrap_or(&m);
    probecc_harness::files::write_atomic(matrix, format!("{}\n{p}", head.trim_end()).as_bytes())?;
    Ok(())
}

/// The fixtures to run (all, or those named) with their workloads and
/// rules.
fn selected<'a>(
    rules: &'a BTreeMap<String, Rule>,
    named: &[String],
) -> Result<Vec<stage::Fixture<'a>>> {
    let workloads = workloads()?;
    let specs = fixtures::specs()?;
    let mut out = Vec::new();
    for (name, path) in specs {
        if !named.is_empty() && !named.contains(&name) {
            continue;
        }
        let rule = rules
            .get(&name)
            .with_context(|| format!("{name} has no parity rule"))?;
        let workload = workloads
            .get(&name)
            .cloned()
            .with_context(|| format!("{name} has no workload in expectations.toml"))?;
        let opts = fixtures::options(&path)?;
        out.push(stage::Fixture {
            name,
            path,
            workload,
            rule,
            opts,
            translate: true,
        });
    }
    Ok(out)
}

/// Every name in `named` is a fixture of `fixtures/specs`.
fn known_specs(named: &[String]) -> Result<()> {
    let specs = fixtures::specs()?;
    let unknown: Vec<&str> = named
        .iter()
        .filter(|n| !specs.iter().any(|(s, _)| s == *n))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        bail!(
            "no fixture {} in fixtures/specs (they are: {})",
            unknown.join(", "),
            specs
                .iter()
                .map(|(s, _)| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// Each fixture's `workload` in `fixtures/matrix/expectations.toml`.
fn workloads() -> Result<BTreeMap<String, Vec<String>>> {
    let path = fixtures::dir().join("matrix/expectations.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(table
        .into_iter()
        .filter_map(|(name, v)| {
            let w = v.get("workload")?.as_array()?;
            let cmds = w
                .iter()
                .filter_map(|c| c.as_str().map(String::from))
                .collect();
            Some((name, cmds))
        })
        .collect())
}

fn run_arch(arch: Arch, args: &ParityArgs, out: &Path, slots: &Slots) -> Result<ArchReport> {
    let (named, timeout) = (&args.specs, args.timeout);
    let mut report = ArchReport::new(arch);
    report.icount = args.icount;
    let settings = crate::qemu::settings(out);
    harness_matrix::check_tools(&settings, &[arch])?;
    // The trace side runs the dist binary, which is stripped.
    tools::ensure_static(&[arch], &settings.install)?;
    let (kernel, why_kernel) = match &args.release {
        Some(release) => {
            let release = machine::Release::parse(release)?;
            (
                crate::qemu::kernel_cache().fetch(arch, release, false)?,
                None,
            )
        }
        None => parity_kernel(arch)?,
    };
    report.kernel = format!("{} ({})", kernel.version, kernel.release);
    report.why_kernel = why_kernel;
    let dir = out.join(arch.name());
    let _lock = FileLock::acquire(
        &out.join(format!("{}.lock", arch.name())),
        &format!("xtask: parity: waiting for another parity run of {arch}"),
    )?;
    let bundle = bundle(arch)?;
    report.bpftrace = bundle.version.clone();
    let rules = rules::load()?;
    let mut fixtures = Vec::new();
    // `--attach-scale` alone measures only that.
    let scale_only = !args.attach_scale.is_empty() && named.is_empty();
    for f in selected(&rules, named)?.into_iter().filter(|_| !scale_only) {
        match f.rule.skip_for(&bundle.upstream) {
            Some(why) => report.specs.push(skipped(&f.name, why)),
            None => fixtures.push(f),
        }
    }
    let busybox = packages::busybox(&settings.packages, arch)?;
    let (initramfs, cases) = stage::stage(
        arch,
        &bundle,
        &busybox,
        &fixtures,
        (!args.attach_scale.is_empty()).then(|| AttachScalePlan {
            globs: args.attach_scale.clone(),
            runs: args.scale_runs,
        }),
        timeout.saturating_sub(30).max(60),
        &dir,
    )?;
    let booted = {
        let _slot = slots.take();
        boot(arch, &kernel, &initramfs, args, &dir)
    };
    let _ = std::fs::remove_file(&initramfs);
    let (reports, scale, secs) = booted?;
    report.boot_secs = Some(secs);
    report.scale = scale;
    if !args.attach_scale.is_empty() && report.scale.is_empty() {
        report.not_run = Some("the attach-scale measurement printed no result".into());
    }
    for (f, c) in fixtures.iter().zip(&cases) {
        let r = reports.get(&f.name);
        std::fs::write(dir.join(format!("{}.bpftrace.bt", f.name)), &c.script)?;
        if let Some(r) = r {
            save_raw(&dir, r)?;
        }
        report.specs.push(judge(f.rule, c, r, &bundle.upstream));
        if let Some(t) = r.and_then(|r| trace::judge(f.rule, c, r, &bundle.upstream)) {
            report.trace.push(t);
        }
    }
    report.specs.sort_by(|a, b| a.name.cmp(&b.name));
    report.trace.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(report)
}

/// The kernel a parity boot of `arch` runs: the arch's default release's,
/// unless that kernel has no BTF (Debian's s390x and ppc64le 6.1). Without
/// BTF bpftrace resolves a spec's types with clang and the kernel's headers
/// (`linux/types.h`), which the guest does not carry, so the parity run
/// takes the next default release whose kernel has BTF, and says why.
fn parity_kernel(arch: Arch) -> Result<(Kernel, Option<String>)> {
    let cache = crate::qemu::kernel_cache();
    let first = machine::default_release(arch);
    let kernel = cache.fetch(arch, first, false)?;
    if kernels::has_btf(&kernel) != Some(false) {
        return Ok((kernel, None));
    }
    for release in machine::default_releases(arch) {
        if release == first {
            continue;
        }
        let other = cache.fetch(arch, release, false)?;
        if kernels::has_btf(&other) == Some(true) {
            let why = format!(
                "{first}'s {} has no BTF; without it bpftrace needs the kernel's headers, \
                 which the guest does not carry",
                kernel.version
            );
            return Ok((other, Some(why)));
        }
    }
    Ok((kernel, None))
}

fn skipped(name: &str, why: &str) -> SpecResult {
    SpecResult::bare(name, Verdict::Skipped, vec![why.into()])
}

/// Boots and collects every parity line of the console log.
pub(crate) fn boot(
    arch: Arch,
    kernel: &Kernel,
    initramfs: &Path,
    args: &ParityArgs,
    dir: &Path,
) -> Result<(BTreeMap<String, ParityReport>, Vec<ScaleReport>, f64)> {
    let label = format!("parity {arch} {}", kernel.version);
    let log = dir.join(format!("{}-{}.console.log", kernel.release, kernel.version));
    let spec = BootSpec {
        arch,
        kernel,
        initramfs,
        accel: "tcg",
        icount: args.icount,
        timeout: Duration::from_secs(args.timeout),
        log,
        append: "",
    };
    let (boot, text) = boot::boot_logged(&spec, "parity", &label)?;
    let mut reports = BTreeMap::new();
    let mut scale = Vec::new();
    for line in text.lines() {
        if let Some(json) = line.find(SCALE_MARK).map(|i| &line[i + SCALE_MARK.len()..]) {
            match serde_json::from_str::<ScaleReport>(json.trim_end_matches('\r')) {
                Ok(r) => scale.push(r),
                Err(e) => println!("xtask: parity: unparsed attach-scale line ({e})"),
            }
            continue;
        }
        let Some(json) = line
            .find(PARITY_MARK)
            .map(|i| &line[i + PARITY_MARK.len()..])
        else {
            continue;
        };
        match serde_json::from_str::<ParityReport>(json.trim_end_matches('\r')) {
            Ok(r) => {
                reports.insert(r.name.clone(), r);
            }
            Err(e) => println!("xtask: parity: unparsed result line ({e})"),
        }
    }
    Ok((reports, scale, boot.secs))
}

/// What each side printed, for reading by hand.
fn save_raw(dir: &Path, r: &ParityReport) -> Result<()> {
    std::fs::write(
        dir.join(format!("{}.bpftrace.txt", r.name)),
        &r.bpftrace.stdout,
    )?;
    std::fs::write(
        dir.join(format!("{}.probecc.json", r.name)),
        serde_json::to_string_pretty(&r.probecc)?,
    )?;
    Ok(())
}

/// How a case was compared, for the report.
fn how(rule: &Rule, comm: &str) -> Vec<String> {
    let mut notes = vec![match rule.filter {
        Filter::Comm => format!("only comm \"{comm}\" (both sides filtered)"),
        Filter::None => "the spec's own predicates".into(),
    }];
    for (map, l) in &rule.maps {
        notes.push(format!("{map}: {} ({})", mode_name(l.compare), l.why));
    }
    if let Some(l) = &rule.every_map {
        notes.push(format!("every map: {} ({})", mode_name(l.compare), l.why));
    }
    if let Some(l) = &rule.printf {
        notes.push(format!("printf: {} ({})", mode_name(l.compare), l.why));
    }
    notes
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Exact => "exact",
        Mode::Total => "counts only",
        Mode::Keys => "keys only",
        Mode::Masked => "digits masked",
        Mode::Lines => "line count only",
        Mode::Skip => "not compared",
    }
}

fn judge(rule: &Rule, case: &stage::Case, r: Option<&ParityReport>, version: &str) -> SpecResult {
    let comm = stage::workload_comm(&case.plan.workload).unwrap_or_default();
    let mut res = SpecResult::bare(&case.plan.name, Verdict::Failed, how(rule, &comm));
    let Some(r) = r else {
        res.notes.push("no result line from the guest".into());
        return res;
    };
    res.bpftrace_secs = r.bpftrace.secs;
    res.probecc_secs = r.probecc.secs;
    if r.bpftrace.status != 0 {
        res.notes.push(format!(
            "bpftrace exited with {}: {}",
            r.bpftrace.status,
            r.bpftrace.stderr.trim()
        ));
        return res;
    }
    if !r.probecc.stderr.trim().is_empty() {
        res.notes
            .push(format!("probecc: {}", r.probecc.stderr.trim()));
        return res;
    }
    let theirs = compare::from_bpftrace(
        &r.bpftrace.stdout,
        &Normalise {
            pids: &r.bpftrace.pids,
            renames: &case.renames,
        },
    );
    let ours = compare::from_probecc(
        &r.probecc.maps,
        &r.probecc.printf,
        &r.probecc.prints,
        &case.manifest,
        &Normalise {
            pids: &r.probecc.pids,
            renames: &[],
        },
    );
    conclude(res, &theirs, &ours, rule, version)
}

/// The note of a case whose bpftrace side printed nothing the workload
/// decides.
pub(crate) const NOTHING_COMPARED: &str =
    "bpftrace printed nothing to compare: the workload did not reach the probes";

/// `res` completed by comparing `theirs` (bpftrace's output) with `ours`
/// under `rule`: what was compared, the differences, the verdict.
fn conclude(
    mut res: SpecResult,
    theirs: &compare::Output,
    ours: &compare::Output,
    rule: &Rule,
    version: &str,
) -> SpecResult {
    res.compared = theirs.lines.len() + theirs.blocks.iter().map(|(_, e)| e.len()).sum::<usize>();
    if res.compared == 0 {
        res.notes.push(NOTHING_COMPARED.into());
        return res;
    }
    res.diffs = compare::compare(theirs, ours, rule);
    res.verdict = match (&res.diffs[..], rule.differs_for(version)) {
        ([], _) => Verdict::Equal,
        (_, Some(why)) => {
            res.notes.push(format!("documented difference: {why}"));
            Verdict::Documented
        }
        _ => Verdict::Differs,
    };
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(arch: &str, specs: &[&str]) -> ParityArgs {
        ParityArgs {
            arch: arch.into(),
            timeout: 1,
            out: Some(std::env::temp_dir().join("xtask-parity-args")),
            icount: false,
            release: None,
            attach_scale: Vec::new(),
            scale_runs: 3,
            specs: specs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn bad_arguments_fail_before_any_download_or_boot() {
        // Were the names checked after the downloads, these would take
        // minutes or fail on the network; they fail at once, naming the
        // argument.
        let e = run(&args("x86_64", &["vfscount", "nosuchspec"])).unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.starts_with("no fixture nosuchspec in fixtures/specs (they are: "),
            "{text}"
        );
        assert!(text.contains("vfscount"), "{text}");
        let e = run(&args("vax", &[])).unwrap_err();
        assert!(
            format!("{e:#}").contains("unknown architecture `vax`"),
            "{e:#}"
        );
        assert!(known_specs(&["vfscount".into()]).is_ok());
    }
}
