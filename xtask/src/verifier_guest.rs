//! `cargo xtask verifier-diff --arch A --release R`: a QEMU guest's kernel
//! as verifier-sim's judge. The corpus is built for the arch (`bpfeb`
//! objects for s390x), carried in an initramfs with the guest agent and a
//! plan of verifier cases; the guest verifies each program with the
//! runtime's loader and prints its verdict and the end of its log
//! (`probecc-guest`'s `verifier`). Those verdicts, labelled with the
//! guest's arch, `uname -r` and JIT, are what `verifier_diff::judge`
//! compares verifier-sim with, at that release's rules. The kernel, the
//! agent, the initramfs's base and the boot are the harness's
//! (`probecc_harness`). Report, objects and console log under
//! `<out>/<arch>-<release>/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use probecc::arch::{Arch, KernelVersion};
use probecc_guest::protocol::{
    Plan, Report as GuestReport, VerifierCase, VerifierReport, MARK, PLAN_PATH, VERIFIER_MARK,
};
use xtask::verifier_diff::{self, kernel, report, Entry, Judge, KernelVerdict};

use probecc_harness::boot::{self, BootSpec};
use probecc_harness::guest::GuestSource;
use probecc_harness::kernels::Kernel;
use probecc_harness::machine::Release;
use probecc_harness::{files, matrix, stage};

/// Where the corpus objects sit in the guest.
const OBJ_DIR: &str = "/probecc/vdiff";

/// One guest's run.
pub struct GuestRun {
    pub arch: Arch,
    pub release: Release,
    /// The directory the run's own directory goes under.
    pub out: PathBuf,
    pub only: Option<String>,
    pub seed: u64,
    pub verbose: bool,
    /// Seconds before the guest counts as hung.
    pub timeout: u64,
    /// Judge again from the console log of the last boot, without booting.
    pub reuse: bool,
}

/// The guest `cargo xtask test` judges with (`cargo xtask verifier-diff
/// --arch all --release all` boots the rest): an arch the host cannot
/// judge, at a release with BTF and a JIT.
pub const TEST_TARGET: (Arch, Release) = (Arch::Arm64, Release::Trixie);

/// `cargo xtask test`'s guest judge: [`TEST_TARGET`]'s kernel verifies
/// the whole corpus, its boot taking one of `slots`; fails on a false
/// accept or a crash. Without QEMU or the kernel it fails under CI and
/// is skipped with the reason elsewhere.
pub fn run_in_test(ci: bool, slots: &matrix::Slots) -> Result<()> {
    let (arch, release) = TEST_TARGET;
    let out = xtask::workspace_root().join("target/verifier-diff");
    let prepared = (|| -> Result<()> {
        matrix::check_tools(&crate::qemu::settings(&out), &[arch])?;
        crate::qemu::kernel_cache().fetch(arch, release, false)?;
        Ok(())
    })();
    if let Err(e) = prepared {
        if ci {
            return Err(e.context(format!("the {arch} {release} verifier guest (CI=true)")));
        }
        println!("xtask: skipping the {arch} {release} verifier guest (set CI=true to make this an error): {e:#}");
        return Ok(());
    }
    let _slot = slots.take();
    let report = run(&GuestRun {
        arch,
        release,
        out,
        only: None,
        seed: verifier_diff::mutate::DEFAULT_SEED,
        verbose: false,
        timeout: 3600,
        reuse: false,
    })?;
    crate::diff::summary(&format!("{arch} {release}"), &report);
    let c = &report.counts;
    if !report.passes() {
        bail!(
            "verifier-sim accepted {} program(s) the {arch} {release} kernel refuses and crashed on {}",
            c.false_accepts,
            c.sim_crashes
        );
    }
    Ok(())
}

/// Builds the corpus for the arch, boots the guest, and compares its
/// kernel's verdicts with verifier-sim's; writes `report.md` and
/// `report.json`.
pub fn run(g: &GuestRun) -> Result<report::Report> {
    let started = Instant::now();
    if !g.reuse {
        boot::preflight(g.arch, "tcg")?;
        matrix::check_tools(&crate::qemu::settings(&g.out), &[g.arch])?;
    }
    let dir = g
        .out
        .join(format!("{}-{}", g.arch.name(), g.release.name()));
    std::fs::create_dir_all(&dir)?;
    let entries =
        verifier_diff::build_corpus(&dir.join("objects"), g.only.as_deref(), g.seed, g.arch)?;
    println!(
        "verifier-diff: {} programs built for {} in {:.1} s",
        entries.len(),
        g.arch,
        started.elapsed().as_secs_f64()
    );
    let (judge, verdicts) = if g.reuse {
        let log = dir.join("console.log");
        let text = std::fs::read_to_string(&log)
            .with_context(|| format!("reading {} (--reuse needs a boot first)", log.display()))?;
        (judge_of(&text, g.arch)?, verdicts(&text))
    } else {
        let kernel = crate::qemu::kernel_cache().fetch(g.arch, g.release, false)?;
        let initramfs = stage(g.arch, &entries, g.timeout, &dir)?;
        run_guest(g, &kernel, &initramfs, &dir)?
    };
    let missing = entries
        .iter()
        .filter(|e| !verdicts.contains_key(&e.name))
        .count();
    if missing > 0 {
        println!(
            "verifier-diff: the guest judged {} of {} programs; the rest are left out",
            entries.len() - missing,
            entries.len()
        );
    }
    let judged: Vec<Entry> = entries
        .into_iter()
        .filter(|e| verdicts.contains_key(&e.name))
        .collect();
    let load = |_: usize, entry: &Entry| -> Result<KernelVerdict> {
        verdicts
            .get(&entry.name)
            .map(kernel_verdict)
            .with_context(|| format!("no verdict for {}", entry.name))
    };
    let rows = verifier_diff::judge(&judged, &judge, &load, g.verbose)?;
    let machine = report::Machine::detect(&judge.name);
    let report = report::Report::new(rows, machine, judge, started.elapsed());
    std::fs::write(dir.join("report.md"), report.markdown())?;
    std::fs::write(dir.join("report.json"), report.json())?;
    println!("verifier-diff: wrote {}", dir.join("report.md").display());
    Ok(report)
}

/// The initramfs: the agent as `/init`, each entry's object, the plan.
fn stage(arch: Arch, entries: &[Entry], timeout: u64, dir: &Path) -> Result<PathBuf> {
    let guest = GuestSource::default()
        .build(&[arch])?
        .remove(&arch)
        .context("no guest agent built")?;
    let mut fs = stage::base(&guest, &[OBJ_DIR])?;
    let mut plan = Plan {
        arch: arch.name().into(),
        watchdog_secs: timeout.saturating_sub(30).max(60),
        ..Plan::default()
    };
    for (i, e) in entries.iter().enumerate() {
        let object = format!("{OBJ_DIR}/{i}.o");
        fs.file(&object, 0o644, e.bytes.clone());
        plan.verifier.push(VerifierCase {
            name: e.name.clone(),
            object,
            program: e.program.clone(),
        });
    }
    fs.file(PLAN_PATH, 0o644, serde_json::to_vec_pretty(&plan)?);
    let initramfs = dir.join("initramfs.cpio");
    files::write_atomic(&initramfs, &fs.finish()?)?;
    Ok(initramfs)
}

/// Boots the guest; its kernel as a judge and its verdict per entry name.
fn run_guest(
    g: &GuestRun,
    kernel: &Kernel,
    initramfs: &Path,
    dir: &Path,
) -> Result<(Judge, BTreeMap<String, VerifierReport>)> {
    let log = dir.join("console.log");
    let spec = BootSpec {
        arch: g.arch,
        kernel,
        initramfs,
        accel: "tcg",
        icount: false,
        timeout: Duration::from_secs(g.timeout),
        log: log.clone(),
        append: "",
    };
    let label = format!("verifier-diff {} {}", g.arch, kernel.version);
    let (_, text) = boot::boot_logged(&spec, "verifier-diff", &label)?;
    let judge =
        judge_of(&text, g.arch).with_context(|| format!("console log: {}", log.display()))?;
    Ok((judge, verdicts(&text)))
}

/// The guest's kernel as a judge, from its boot line: `uname -r` and
/// whether the JIT is on.
fn judge_of(console: &str, arch: Arch) -> Result<Judge> {
    let boot = console
        .lines()
        .filter_map(|l| l.find(MARK).map(|i| &l[i + MARK.len()..]))
        .filter_map(|json| serde_json::from_str::<GuestReport>(json.trim_end_matches('\r')).ok())
        .find_map(|r| match r {
            GuestReport::Boot { kernel, jit, .. } => Some((kernel, jit)),
            _ => None,
        });
    let Some((name, jit)) = boot else {
        bail!("the guest never reported its kernel");
    };
    let release = kernel::version_of(&name).unwrap_or(KernelVersion(6, 1));
    // Debian's kernels, whose BTF the arch table has from their configs
    // (and the matrix holds it against them), and whose private stacks
    // their guests showed.
    let debian = verifier_sim::Rules::debian(arch, release);
    Ok(Judge {
        arch,
        release,
        jit: jit.is_some_and(|j| j != 0),
        btf: debian.btf,
        private_stack: debian.private_stack,
        name,
    })
}

/// Every verifier result line of a console log, by entry name.
fn verdicts(console: &str) -> BTreeMap<String, VerifierReport> {
    console
        .lines()
        .filter_map(|l| l.find(VERIFIER_MARK).map(|i| &l[i + VERIFIER_MARK.len()..]))
        .filter_map(|json| serde_json::from_str::<VerifierReport>(json.trim_end_matches('\r')).ok())
        .map(|r| (r.name.clone(), r))
        .collect()
}

/// A guest's verdict as the host's loader gives it: the log's error lines
/// read the same way as bpftool's.
fn kernel_verdict(r: &VerifierReport) -> KernelVerdict {
    if r.accepted {
        return KernelVerdict {
            accepted: true,
            message: None,
            error: vec![],
            by_loader: false,
            millis: r.millis.into(),
        };
    }
    let error = match &r.loader {
        Some(_) => vec![],
        None => kernel::log_error(&format!(
            "-- BEGIN PROG LOAD LOG --\n{}\n-- END PROG LOAD LOG --\n",
            r.log
        )),
    };
    KernelVerdict {
        accepted: false,
        message: error.last().cloned().or_else(|| r.loader.clone()),
        by_loader: r.loader.is_some(),
        error,
        millis: r.millis.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_are_found_among_the_kernels_messages() {
        let console = "[    1.0] random: crng init done\n\
            PROBECC-VERIFIER {\"name\":\"a\",\"accepted\":true,\"millis\":3}\r\n\
            PROBECC {\"kind\":\"done\",\"secs\":1.0}\n\
            [    2.0] x PROBECC-VERIFIER {\"name\":\"b\",\"accepted\":false,\"log\":\"0: (b7) r0 = 0\\nR1 !read_ok\",\"millis\":1}\n\
            PROBECC-VERIFIER {\"name\":\"c\",\"accep";
        let v = verdicts(console);
        assert_eq!(v.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(v["a"].accepted);
        let b = kernel_verdict(&v["b"]);
        assert!(!b.accepted && !b.by_loader);
        assert_eq!(b.message.as_deref(), Some("R1 !read_ok"));
    }

    #[test]
    fn the_judge_is_the_kernel_the_guest_booted() {
        let console = "PROBECC {\"kind\":\"boot\",\"arch\":\"s390x\",\"kernel\":\"6.12.48+deb13-s390x\",\"cpus\":1,\"jit\":null}\n";
        let j = judge_of(console, Arch::S390x).expect("a boot line");
        assert_eq!(j.release, KernelVersion(6, 12));
        assert!(!j.jit);
        assert!(judge_of("nothing\n", Arch::S390x).is_err());
    }

    #[test]
    fn a_loader_refusal_is_labelled_as_one() {
        let k = kernel_verdict(&VerifierReport {
            name: "x".into(),
            accepted: false,
            log: String::new(),
            loader: Some("loading the object: unknown relocation".into()),
            millis: 0,
        });
        assert!(k.by_loader && !k.accepted);
        assert_eq!(
            k.message.as_deref(),
            Some("loading the object: unknown relocation")
        );
    }
}
