//! The corpus's "equal to bpftrace" column. Every kprobe-scope tool of a
//! release that compiled for x86_64 runs in one QEMU guest of that
//! release's x86_64 kernel, under that release's bpftrace (the version
//! the tools were written for) and under `probecc trace` (the device
//! runtime compiling the tool as published, as a user runs it), both
//! around one generic workload, through the parity run's staging, boot
//! and comparison (`crate::parity`).
//!
//! The generic workload is [`WORKLOAD`]: `dd` reading the guest agent's
//! binary and writing it to `/dev/null`, in two block sizes, so open,
//! read, write, close and the VFS paths under them run, and every run
//! finds the guest as the last left it (a file it made would be created
//! by bpftrace's run and found by the next: the dentry cache differs). Each
//! side is filtered to comm `dd` (ANDed into every kernel probe's
//! predicate, in the text as written), so the agent, bpftrace and kernel
//! threads do not count. The generic rule ([`rule`]) compares what the
//! workload determines and not what timing does: the printed lines with
//! every run of digits masked (times, latencies, addresses, pids), and
//! each map's keys (counts, sums and histograms of latencies differ from
//! run to run). A tool bpftrace itself cannot run in the guest (its
//! error) is reported as such and not counted.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use probecc::arch::Arch;
use probecc::lang::{self, CompileOptions};
use probecc_guest::protocol::ParityReport;
use probecc_harness::machine::Release;
use probecc_harness::matrix::{self as harness_matrix, Slots};
use probecc_harness::{packages, tools};

use crate::parity::report::{SpecResult, Verdict};
use crate::parity::rules::{Filter, Loose, Mode, Rule};
use crate::parity::{self, stage, ParityArgs};

/// What the guest runs under every tool, all under comm `dd`.
pub const WORKLOAD: [&str; 2] = [
    "dd if=/init of=/dev/null bs=4096 count=16 status=none",
    "dd if=/init of=/dev/null bs=512 count=64 status=none",
];

/// A tool's verdict in the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Equality {
    Equal,
    /// The first difference, or why probecc's side failed.
    Differs(String),
    /// bpftrace itself could not run the tool here (not counted).
    BpftraceFails(String),
    /// bpftrace printed nothing the workload decides: the workload did
    /// not reach the tool's probes (not counted).
    NotReached,
}

/// A published tool to compare: its report name and file.
pub struct Tool<'a> {
    pub name: &'a str,
    pub path: &'a Path,
}

/// The generic rule: comm-filtered, lines compared with digits masked,
/// every map by its keys.
pub fn rule() -> Rule {
    let why = |w: &str| Loose {
        compare: Mode::Keys,
        why: w.into(),
    };
    Rule {
        filter: Filter::Comm,
        maps: BTreeMap::new(),
        every_map: Some(why(
            "a published tool's values (counts, sizes, latencies) depend on the run's timing",
        )),
        printf: Some(Loose {
            compare: Mode::Masked,
            why: "times, latencies, pids and addresses differ per run".into(),
        }),
        skip: None,
        differs: None,
    }
}

/// The name a tool's files take in the guest (`sbin/opensnoop.bt` →
/// `sbin-opensnoop`).
fn case_name(tool: &str) -> String {
    tool.trim_end_matches(".bt").replace(['/', '.'], "-")
}

/// Every tool of `tools` run in one guest of `release`'s x86_64 kernel,
/// its boot taking one of `slots`; per tool name, its verdict. An error
/// is the whole boot's (no kernel, no bpftrace, a hung guest).
pub fn run(
    release: Release,
    tools: &[Tool],
    opts: &CompileOptions,
    out: &Path,
    slots: &Slots,
) -> Result<BTreeMap<String, Equality>> {
    let arch = Arch::X86_64;
    let settings = crate::qemu::settings(out);
    harness_matrix::check_tools(&settings, &[arch])?;
    tools::ensure_static(&[arch], &settings.install)?;
    let kernel = crate::qemu::kernel_cache().fetch(arch, release, false)?;
    let bundle = parity::bundle_of(arch, release)?;
    let busybox = packages::busybox(&settings.packages, arch)?;
    let mut opts = opts.clone();
    // The object's wildcards expand against the guest kernel's functions
    // where its package's System.map lists them (Debian ships a stub in
    // most images; the host's list stays then). Only the trace side,
    // which expands against the running kernel as bpftrace does, is
    // judged.
    let guest_symbols = kernel
        .system_map
        .as_ref()
        .and_then(|m| std::fs::read_to_string(m).ok())
        .and_then(|text| probecc::symbols::parse(&text).ok());
    if let Some(names) = guest_symbols {
        opts.symbols = Some(names);
    }
    let rule = rule();
    let workload = WORKLOAD.map(String::from).to_vec();
    // The comm stage filters each tool by, which the check below must use.
    let comm = stage::workload_comm(&workload)?;
    let mut verdicts = BTreeMap::new();
    let mut staged = Vec::new();
    for t in tools {
        // A tool the host cannot filter or compile for the guest is that
        // tool's verdict, not the boot's.
        match filtered_compiles(t.path, &comm, &opts) {
            Ok(()) => staged.push(stage::Fixture {
                name: case_name(t.name),
                path: t.path.to_path_buf(),
                workload: workload.clone(),
                rule: &rule,
                opts: CompileOptions {
                    file: t.name.to_string(),
                    ..opts.clone()
                },
                translate: false,
            }),
            Err(why) => {
                verdicts.insert(t.name.to_string(), Equality::Differs(why));
            }
        }
    }
    if staged.is_empty() {
        return Ok(verdicts);
    }
    let dir = out.join(release.to_string());
    let args = ParityArgs {
        arch: arch.name().into(),
        timeout: 1800,
        out: Some(dir.clone()),
        icount: false,
        release: Some(release.to_string()),
        attach_scale: Vec::new(),
        scale_runs: 1,
        specs: Vec::new(),
    };
    let (initramfs, made) = stage::stage(
        arch,
        &bundle,
        &busybox,
        &staged,
        None,
        args.timeout.saturating_sub(30),
        &dir,
    )?;
    let booted = {
        let _slot = slots.take();
        parity::boot(arch, &kernel, &initramfs, &args, &dir)
    };
    let _ = std::fs::remove_file(&initramfs);
    let (reports, _, _) = booted?;
    for (f, c) in staged.iter().zip(&made) {
        let name = original(tools, &f.name);
        verdicts.insert(
            name,
            verdict(&rule, c, reports.get(&f.name), &bundle.upstream),
        );
    }
    Ok(verdicts)
}

/// Whether the tool, filtered to the workload's comm, compiles for the
/// guest; else why not.
fn filtered_compiles(path: &Path, comm: &str, opts: &CompileOptions) -> Result<(), String> {
    let src = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let filtered =
        parity::shim::filter_comm(&src, comm).map_err(|e| format!("the comm filter: {e:#}"))?;
    lang::compile(&filtered, Arch::X86_64, opts)
        .map(|_| ())
        .map_err(|d| match d.first() {
            Some(d) => format!("filtered, against the guest kernel: {}", d.message),
            None => "filtered, refused without a diagnostic".into(),
        })
}

/// The tool whose case is `case`.
fn original(tools: &[Tool], case: &str) -> String {
    tools
        .iter()
        .find(|t| case_name(t.name) == case)
        .map_or_else(|| case.to_string(), |t| t.name.to_string())
}

/// A tool's verdict from its result line: bpftrace's failure first (the
/// tool is then not counted), then the trace side's comparison.
fn verdict(rule: &Rule, case: &stage::Case, r: Option<&ParityReport>, version: &str) -> Equality {
    let Some(r) = r else {
        return Equality::Differs("no result line from the guest".into());
    };
    if r.bpftrace.status != 0 {
        let why = r.bpftrace.stderr.lines().find(|l| l.contains("ERROR"));
        let why = why
            .or_else(|| r.bpftrace.stderr.lines().next())
            .unwrap_or("");
        return Equality::BpftraceFails(format!("exit {}: {}", r.bpftrace.status, why.trim()));
    }
    let Some(res) = parity::trace::judge(rule, case, r, version) else {
        return Equality::Differs("no trace side".into());
    };
    classify(&res)
}

/// The trace side's result as a corpus verdict: a case bpftrace printed
/// nothing for is not reached; a difference names its first entry, a
/// failure its last note.
fn classify(res: &SpecResult) -> Equality {
    match res.verdict {
        Verdict::Equal => Equality::Equal,
        _ if res.notes.iter().any(|n| n == parity::NOTHING_COMPARED) => Equality::NotReached,
        _ => Equality::Differs(match res.diffs.first() {
            Some(d) => format!(
                "{} {}: bpftrace {:?}, probecc {:?}",
                d.what, d.key, d.bpftrace, d.probecc
            ),
            None => res.notes.last().cloned().unwrap_or_default(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_names_are_file_names() {
        assert_eq!(case_name("sbin/opensnoop.bt"), "sbin-opensnoop");
        assert_eq!(case_name("examples/tcp.v2.bt"), "examples-tcp-v2");
    }

    #[test]
    fn the_generic_rule_masks_lines_and_compares_keys() {
        let r = rule();
        assert_eq!(r.filter, Filter::Comm);
        assert_eq!(r.printf_mode(), Mode::Masked);
        assert_eq!(r.map_mode("@anything"), Mode::Keys);
        assert!(r.skip_for("0.23.2").is_none() && r.differs_for("0.17.0").is_none());
    }

    fn result(verdict: Verdict, notes: &[&str]) -> SpecResult {
        SpecResult::bare("t", verdict, notes.iter().map(|n| n.to_string()).collect())
    }

    #[test]
    fn only_an_empty_bpftrace_side_is_not_reached() {
        let empty = result(Verdict::Failed, &["only comm", parity::NOTHING_COMPARED]);
        assert_eq!(classify(&empty), Equality::NotReached);
        // The trace failing compares nothing either, and is a difference.
        let failed = result(
            Verdict::Failed,
            &["only comm", "probecc trace exited with 1: no"],
        );
        assert_eq!(
            classify(&failed),
            Equality::Differs("probecc trace exited with 1: no".into())
        );
        assert_eq!(classify(&result(Verdict::Equal, &[])), Equality::Equal);
    }

    #[test]
    fn the_workload_runs_under_one_comm() {
        let w = WORKLOAD.map(String::from);
        assert_eq!(stage::workload_comm(&w).unwrap(), "dd");
    }
}
