//! Staging a parity boot: the guest agent (with its `pworkload` and `sh`
//! applets), busybox (the workloads' commands), bpftrace and its
//! libraries (`Bundle`), the `probecc` dist binary (`cargo xtask dist`),
//! and per case the bpftrace script, probecc's object and manifest of the
//! same (comm-filtered) spec, and that spec's text (with the symbol list
//! of its wildcards) for `probecc trace` to compile on the device; with a
//! plan that holds only parity cases.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use probecc::arch::Arch;
use probecc::lang::manifest::Manifest;
use probecc::lang::{self, diag, CompileOptions};
use probecc_guest::protocol::{AttachScalePlan, ParityCase, Plan, PLAN_PATH, PROBECC};

use probecc_harness::guest::GuestSource;
use probecc_harness::initramfs::Initramfs;
use probecc_harness::stage::BUSYBOX;

use super::rules::{Filter, Rule};
use super::{shim, Bundle};
use crate::dist;

const DIR: &str = "/probecc/parity";

/// One staged case, with what the host needs to compare it.
pub struct Case {
    pub plan: ParityCase,
    pub manifest: Manifest,
    pub renames: Vec<(String, String)>,
    /// The text bpftrace ran (for the report).
    pub script: String,
}

/// A fixture (or a published tool) to stage.
pub struct Fixture<'a> {
    pub name: String,
    pub path: PathBuf,
    pub workload: Vec<String>,
    pub rule: &'a Rule,
    /// How probecc compiles it: a fixture's own options; a published
    /// tool's are the corpus run's.
    pub opts: CompileOptions,
    /// Whether bpftrace runs the text translated to bpftrace 0.17's
    /// spelling (`shim::for_bpftrace`): a fixture is written in probecc's;
    /// a published tool runs as written, under its own release's bpftrace.
    /// Translated, wildcards become the object's functions, and the trace
    /// expands them against the same list; as written, bpftrace and the
    /// trace both expand them against the running kernel's.
    pub translate: bool,
}

/// The comm every command of `workload` runs under.
pub fn workload_comm(workload: &[String]) -> Result<String> {
    let comms: BTreeSet<&str> = workload
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    match comms.into_iter().collect::<Vec<_>>()[..] {
        [one] => Ok(one.to_string()),
        ref many => bail!("a parity workload runs under one comm, not {many:?}"),
    }
}

/// The spec both sides run: the fixture, filtered as its rule says.
fn spec_text(f: &Fixture) -> Result<String> {
    let src = std::fs::read_to_string(&f.path)
        .with_context(|| format!("reading {}", f.path.display()))?;
    match f.rule.filter {
        Filter::Comm => shim::filter_comm(&src, &workload_comm(&f.workload)?),
        Filter::None => Ok(src),
    }
}

fn case(fs: &mut Initramfs, f: &Fixture, arch: Arch) -> Result<Case> {
    let spec = spec_text(f).with_context(|| format!("parity case {}", f.name))?;
    let opts = &f.opts;
    let compiled = match lang::compile(&spec, arch, opts) {
        Ok(c) => c,
        Err(d) => bail!(
            "{} (parity text) for {arch}:\n{}",
            opts.file,
            diag::render(&opts.file, &spec, &d)
        ),
    };
    let probes: Vec<String> = compiled
        .manifest
        .programs
        .iter()
        .map(|p| p.probe.clone())
        .collect();
    let shimmed = if f.translate {
        shim::for_bpftrace(&spec, arch, &probes)
            .with_context(|| format!("parity case {}: bpftrace's script", f.name))?
    } else {
        shim::Shimmed {
            text: spec.clone(),
            renames: Vec::new(),
        }
    };
    let object = format!("{DIR}/{}.o", f.name);
    let manifest = format!("{DIR}/{}.manifest.json", f.name);
    let script = format!("{DIR}/{}.bt", f.name);
    let traced = format!("{DIR}/{}.trace.bt", f.name);
    fs.file(&object, 0o644, probecc::elf::write(&compiled.object)?);
    fs.file(&manifest, 0o644, compiled.manifest.to_json().into_bytes());
    fs.file(&script, 0o644, shimmed.text.clone().into_bytes());
    fs.file(&traced, 0o644, spec.clone().into_bytes());
    // The trace expands wildcards against the list the object's and
    // bpftrace's attach points come from, so all three attach alike.
    let symbols = opts.symbols.as_ref().filter(|_| f.translate).map(|names| {
        let path = format!("{DIR}/{}.symbols", f.name);
        fs.file(&path, 0o644, format!("{}\n", names.join("\n")).into_bytes());
        path
    });
    Ok(Case {
        plan: ParityCase {
            name: f.name.clone(),
            script,
            object,
            manifest,
            workload: f.workload.clone(),
            spec: Some(traced),
            symbols,
        },
        manifest: compiled.manifest,
        renames: shimmed.renames,
        script: shimmed.text,
    })
}

/// Writes `<out>/initramfs-<pid>.cpio` and returns its path and the
/// cases.
pub fn stage(
    arch: Arch,
    bundle: &Bundle,
    busybox: &Path,
    list: &[Fixture],
    attach_scale: Option<AttachScalePlan>,
    watchdog_secs: u64,
    out: &Path,
) -> Result<(PathBuf, Vec<Case>)> {
    let guest = GuestSource::default()
        .build(&[arch])?
        .remove(&arch)
        .context("no guest agent built")?;
    let probecc = dist::build(arch)?.path;
    let mut fs = Initramfs::default();
    let mut dirs = BTreeSet::new();
    for d in [
        "/bin", "/dev", "/proc", "/sys", "/tmp", "/etc", "/probecc", DIR,
    ] {
        dirs.insert(d.to_string());
    }
    for (path, _) in &bundle.files.files {
        let mut p = Path::new(path).parent();
        while let Some(d) = p.filter(|d| d != &Path::new("/")) {
            dirs.insert(d.display().to_string());
            p = d.parent();
        }
    }
    // Parents first: BTreeSet order puts `/a` before `/a/b`.
    for d in &dirs {
        fs.dir(d);
    }
    for (link, target) in &bundle.files.links {
        fs.symlink(link, target);
    }
    let binary = std::fs::read(&guest).with_context(|| format!("reading {}", guest.display()))?;
    fs.file("/init", 0o755, binary);
    let binary =
        std::fs::read(&probecc).with_context(|| format!("reading {}", probecc.display()))?;
    fs.file(PROBECC, 0o755, binary);
    // The agent's applets first: busybox's are linked only where no file
    // is (its `sh` would not answer bpftrace's clang query).
    for applet in ["pworkload", "sh"] {
        fs.symlink(&format!("/bin/{applet}"), "/init");
    }
    let bb = std::fs::read(busybox).with_context(|| format!("reading {}", busybox.display()))?;
    fs.file(BUSYBOX, 0o755, bb);
    for (path, host) in &bundle.files.files {
        let bytes = std::fs::read(host).with_context(|| format!("reading {}", host.display()))?;
        fs.file(path, 0o755, bytes);
    }
    let mut cases = Vec::new();
    for f in list {
        cases.push(case(&mut fs, f, arch)?);
    }
    let plan = Plan {
        arch: arch.name().into(),
        watchdog_secs,
        parity: cases.iter().map(|c| c.plan.clone()).collect(),
        busybox: Some(BUSYBOX.into()),
        attach_scale,
        ..Plan::default()
    };
    fs.file(PLAN_PATH, 0o644, serde_json::to_vec_pretty(&plan)?);
    std::fs::create_dir_all(out)?;
    let initramfs = out.join(format!("initramfs-{}.cpio", std::process::id()));
    probecc_harness::files::write_atomic(&initramfs, &fs.finish()?)?;
    Ok((initramfs, cases))
}
