//! The parity report: per spec equal, differing (entries side by side),
//! documented as differing, failed or skipped, with how it was compared,
//! for probecc's object and for `probecc trace` on the device (with its
//! time to `Attaching` and peak RSS against bpftrace's, as ratios), as
//! `report.json` and `report.md` in the output directory.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use probecc::arch::Arch;
use probecc_guest::protocol::ScaleReport;
use serde::Serialize;

use super::compare::Diff;

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Equal,
    /// Differs, for the documented reason in `note`.
    Documented,
    Differs,
    /// A side could not run (bpftrace's error, an attach failure, no
    /// result line).
    Failed,
    /// Not run: `fixtures/parity.toml` says why.
    Skipped,
}

/// One spec's outcome.
#[derive(Debug, Serialize)]
pub struct SpecResult {
    pub name: String,
    pub verdict: Verdict,
    /// How it was compared: the filter and every non-exact rule with its
    /// reason; the documented difference; why it failed or was skipped.
    pub notes: Vec<String>,
    pub diffs: Vec<Diff>,
    /// bpftrace's map entries and printf lines the comparison covered.
    pub compared: usize,
    pub bpftrace_secs: f64,
    pub probecc_secs: f64,
    /// bpftrace's and `probecc trace`'s time from start to `Attaching`
    /// (the trace side only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach_secs: Option<[f64; 2]>,
    /// bpftrace's and `probecc trace`'s peak resident set, KiB (the
    /// trace side only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_kb: Option<[u64; 2]>,
}

impl SpecResult {
    /// A result with nothing compared or timed.
    pub fn bare(name: &str, verdict: Verdict, notes: Vec<String>) -> SpecResult {
        SpecResult {
            name: name.into(),
            verdict,
            notes,
            diffs: Vec::new(),
            compared: 0,
            bpftrace_secs: 0.0,
            probecc_secs: 0.0,
            attach_secs: None,
            peak_rss_kb: None,
        }
    }
}

/// One arch's run.
#[derive(Debug, Serialize)]
pub struct ArchReport {
    pub arch: String,
    pub kernel: String,
    /// Why the kernel is not the arch's default release's, when it is not.
    pub why_kernel: Option<String>,
    pub bpftrace: String,
    /// Boot to power-off, in seconds; `None` when there was no boot.
    pub boot_secs: Option<f64>,
    /// The error that stopped the arch's run (a failure), when one did.
    pub not_run: Option<String>,
    /// The guest ran under `-icount shift=0,sleep=off`: its seconds are
    /// guest instructions (10^9 a second).
    pub icount: bool,
    /// probecc's object against bpftrace.
    pub specs: Vec<SpecResult>,
    /// `probecc trace` on the device against bpftrace.
    pub trace: Vec<SpecResult>,
    /// Each tool attaching one glob of many functions
    /// (`--attach-scale`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scale: Vec<ScaleReport>,
}

impl ArchReport {
    pub fn new(arch: Arch) -> ArchReport {
        ArchReport {
            arch: arch.name().into(),
            kernel: String::new(),
            why_kernel: None,
            bpftrace: String::new(),
            boot_secs: None,
            not_run: None,
            icount: false,
            specs: Vec::new(),
            trace: Vec::new(),
            scale: Vec::new(),
        }
    }

    /// The report of an arch whose run stopped with `why`.
    pub fn not_run(arch: Arch, why: String) -> ArchReport {
        ArchReport {
            not_run: Some(why),
            ..ArchReport::new(arch)
        }
    }

    /// Whether anything failed or differs without a documented reason.
    pub fn failed(&self) -> bool {
        self.not_run.is_some()
            || self
                .specs
                .iter()
                .chain(&self.trace)
                .any(|s| matches!(s.verdict, Verdict::Differs | Verdict::Failed))
            || self.scale_failed()
    }

    /// Whether a `probecc trace` run of the attach-scale probe failed.
    fn scale_failed(&self) -> bool {
        self.scale
            .iter()
            .filter(|r| r.tool == "probecc trace")
            .any(|r| r.runs.is_empty() || r.runs.iter().any(|x| x.status != 0))
    }
}

pub fn write(dir: &Path, reports: &[&ArchReport]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    probecc_harness::files::write_atomic(
        &dir.join("report.json"),
        serde_json::to_string_pretty(reports)?.as_bytes(),
    )?;
    probecc_harness::files::write_atomic(&dir.join("report.md"), markdown(reports).as_bytes())?;
    Ok(())
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "<br>")
}

pub fn markdown(reports: &[&ArchReport]) -> String {
    let mut md = String::from("# Parity with bpftrace\n\n");
    md.push_str(
        "Each spec ran under bpftrace, as probecc's object and under `probecc trace` (the \
         dist binary, compiling the spec in the guest), on the same kernel and workload \
         (`cargo xtask parity`; rules in `fixtures/parity.toml`).\n",
    );
    for r in reports {
        md.push_str(&format!("\n## {} ({})\n\n", r.arch, r.kernel));
        if let Some(why) = &r.not_run {
            md.push_str(&format!("Not run: {why}\n"));
            continue;
        }
        if let Some(why) = &r.why_kernel {
            md.push_str(&format!("Kernel: {why}.\n\n"));
        }
        md.push_str(&format!("bpftrace: {}", r.bpftrace));
        if let Some(s) = r.boot_secs {
            md.push_str(&format!("; one boot, {s:.0} s from start to power-off"));
        }
        md.push_str("\n\n### probecc's object\n\n");
        md.push_str(&verdicts(&r.specs, "probecc"));
        if !r.trace.is_empty() {
            md.push_str(&format!(
                "\n### probecc trace on the device\n\nThe dist binary compiled each spec in the \
                 guest and traced it with the same workload (`probecc trace SPEC -f json -c \
                 WORKLOAD`).{}\n\n",
                if r.icount {
                    " The guest ran under `-icount shift=0,sleep=off`: its seconds are 10^9 guest \
                     instructions."
                } else {
                    " Times are TCG wall time: indicative only."
                }
            ));
            md.push_str(&verdicts(&r.trace, "probecc trace"));
            md.push_str(&measures(&r.trace));
        }
        if !r.scale.is_empty() {
            md.push_str(&scale_table(&r.scale, r.icount));
        }
    }
    md
}

/// The median of `v` (the upper middle of an even count), if any.
fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// The attach-scale globs in the order they ran, each with its tools'
/// reports.
fn by_glob(scale: &[ScaleReport]) -> Vec<(&ScaleReport, Vec<&ScaleReport>)> {
    let mut out: Vec<(&ScaleReport, Vec<&ScaleReport>)> = Vec::new();
    for r in scale {
        match out.iter_mut().find(|(first, _)| first.pattern == r.pattern) {
            Some((_, tools)) => tools.push(r),
            None => out.push((r, vec![r])),
        }
    }
    out
}

/// A tool's median whole run.
fn scale_secs(r: &ScaleReport) -> Option<f64> {
    median(r.runs.iter().map(|x| x.secs).collect())
}

/// `(tool / bpftrace)` of one glob's tools, for each probecc tool.
fn scale_ratios(tools: &[&ScaleReport]) -> Vec<String> {
    let theirs = tools
        .iter()
        .find(|r| r.tool == "bpftrace")
        .and_then(|r| scale_secs(r));
    tools
        .iter()
        .filter(|r| r.tool != "bpftrace")
        .filter_map(|r| {
            Some(format!(
                "{} / bpftrace {:.2}",
                r.tool,
                scale_secs(r)? / theirs?
            ))
        })
        .collect()
}

/// The attach-scale runs, a line per glob: each tool's median whole run,
/// its exit statuses when not all 0, and the ratios.
fn scale_lines(r: &ArchReport) -> Vec<String> {
    by_glob(&r.scale)
        .into_iter()
        .map(|(first, tools)| {
            let each: Vec<String> = tools
                .iter()
                .map(|x| {
                    let bad: Vec<String> = x
                        .runs
                        .iter()
                        .filter(|run| run.status != 0)
                        .map(|run| format!("exit {}: {}", run.status, run.stderr))
                        .collect();
                    format!(
                        "{} {}{}",
                        x.tool,
                        scale_secs(x).map_or("—".into(), |s| format!("{s:.2} s")),
                        if bad.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", bad.join("; "))
                        }
                    )
                })
                .collect();
            let ratios = scale_ratios(&tools);
            format!(
                "parity {} ({}) attach scale: kprobe:{} ({} functions): {}{}",
                r.arch,
                r.kernel,
                first.pattern,
                first.matched,
                each.join(", "),
                if ratios.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", ratios.join(", "))
                }
            )
        })
        .collect()
}

/// A table per glob of the attach-scale runs, a row per tool, and the
/// ratios of their median whole runs over bpftrace's.
fn scale_table(scale: &[ScaleReport], icount: bool) -> String {
    let mut md = String::new();
    for (first, tools) in by_glob(scale) {
        md.push_str(&format!(
            "\n### Attaching `kprobe:{}` ({} functions of this kernel)\n\n\
             Each tool ran `-e 'kprobe:{} {{ @ = count(); }}' -c /bin/pworkload` to completion \
             (compile, load, attach, a command that does nothing, detach, print); {}.\n\n\
             | tool | runs | exit | attached | whole run, s (median) | to `Attaching`, s | stderr |\n\
             |---|---|---|---|---|---|---|\n",
            first.pattern,
            first.matched,
            first.pattern,
            if icount {
                "seconds of the guest clock under `-icount shift=0,sleep=off` (10^9 guest \
                 instructions)"
            } else {
                "TCG wall time: indicative only"
            }
        ));
        for r in &tools {
            let exits: BTreeSet<i32> = r.runs.iter().map(|x| x.status).collect();
            let attached: BTreeSet<String> = r
                .runs
                .iter()
                .map(|x| x.attached.map_or("—".into(), |n| n.to_string()))
                .collect();
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                r.tool,
                r.runs.len(),
                exits
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                attached.into_iter().collect::<Vec<_>>().join(", "),
                scale_secs(r).map_or("—".into(), |s| format!("{s:.2}")),
                median(r.runs.iter().filter_map(|x| x.attach_secs).collect())
                    .map_or("—".into(), |s| format!("{s:.2}")),
                cell(r.runs.last().map_or("", |x| x.stderr.as_str())),
            ));
        }
        let ratios = scale_ratios(&tools);
        if !ratios.is_empty() {
            md.push_str(&format!("\nWhole run: {}\n", ratios.join("; ")));
        }
    }
    md
}

/// The table of verdicts and the differences of each spec that has any.
fn verdicts(specs: &[SpecResult], ours: &str) -> String {
    let mut md = format!(
        "| spec | result | entries and lines | how | bpftrace s | {ours} s |\n|---|---|---|---|---|---|\n"
    );
    for s in specs {
        md.push_str(&format!(
            "| {} | {:?} | {} | {} | {:.1} | {:.1} |\n",
            s.name,
            s.verdict,
            s.compared,
            cell(&s.notes.join("; ")),
            s.bpftrace_secs,
            s.probecc_secs
        ));
    }
    for s in specs.iter().filter(|s| !s.diffs.is_empty()) {
        md.push_str(&format!(
            "\n#### {} ({:?})\n\n| what | key | bpftrace | {ours} |\n|---|---|---|---|\n",
            s.name, s.verdict
        ));
        for d in s.diffs.iter().take(40) {
            md.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(&d.what),
                cell(&d.key),
                cell(d.bpftrace.as_deref().unwrap_or("—")),
                cell(d.probecc.as_deref().unwrap_or("—"))
            ));
        }
        if s.diffs.len() > 40 {
            md.push_str(&format!("\n({} more in report.json)\n", s.diffs.len() - 40));
        }
    }
    md
}

/// The geometric mean of `ratios`.
fn geomean(ratios: &[f64]) -> Option<f64> {
    let logs: Vec<f64> = ratios
        .iter()
        .filter(|r| **r > 0.0)
        .map(|r| r.ln())
        .collect();
    (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
}

/// Time to `Attaching` and peak RSS, `probecc trace` against bpftrace,
/// per spec and as geometric means of the ratios.
fn measures(specs: &[SpecResult]) -> String {
    let mut md = String::from(
        "\n| spec | attaching: bpftrace s | probecc trace s | ratio | peak RSS: bpftrace MiB | \
         probecc trace MiB | ratio |\n|---|---|---|---|---|---|---|\n",
    );
    let (mut times, mut rss) = (Vec::new(), Vec::new());
    for s in specs {
        let (Some([bt, pt]), Some([br, pr])) = (s.attach_secs, s.peak_rss_kb) else {
            continue;
        };
        let mib = |kb: u64| kb as f64 / 1024.0;
        let (t, r) = (pt / bt, pr as f64 / br as f64);
        times.push(t);
        rss.push(r);
        md.push_str(&format!(
            "| {} | {bt:.2} | {pt:.2} | {t:.2} | {:.1} | {:.1} | {r:.2} |\n",
            s.name,
            mib(br),
            mib(pr)
        ));
    }
    if let (Some(t), Some(r)) = (geomean(&times), geomean(&rss)) {
        md.push_str(&format!(
            "| geometric mean ({} specs) | | | {t:.2} | | | {r:.2} |\n",
            times.len()
        ));
    }
    md
}

/// One line per arch and the specs that are not equal.
pub fn print_summary(reports: &[ArchReport]) {
    for r in reports {
        if let Some(why) = &r.not_run {
            println!("parity {}: not run: {why}", r.arch);
            continue;
        }
        for line in scale_lines(r) {
            println!("{line}");
        }
        let count = |v: Verdict| r.specs.iter().filter(|s| s.verdict == v).count();
        println!(
            "parity {} ({}): {} equal, {} documented differences, {} differ, {} failed, {} skipped",
            r.arch,
            r.kernel,
            count(Verdict::Equal),
            count(Verdict::Documented),
            count(Verdict::Differs),
            count(Verdict::Failed),
            count(Verdict::Skipped)
        );
        if !r.trace.is_empty() {
            let count = |v: Verdict| r.trace.iter().filter(|s| s.verdict == v).count();
            println!(
                "parity {} probecc trace: {} equal, {} documented differences, {} differ, {} failed",
                r.arch,
                count(Verdict::Equal),
                count(Verdict::Documented),
                count(Verdict::Differs),
                count(Verdict::Failed),
            );
        }
        for (side, s) in r
            .specs
            .iter()
            .map(|s| ("object", s))
            .chain(r.trace.iter().map(|s| ("trace", s)))
            .filter(|(_, s)| matches!(s.verdict, Verdict::Differs | Verdict::Failed))
        {
            println!(
                "  {} ({side}) {:?}: {}",
                s.name,
                s.verdict,
                s.notes.join("; ")
            );
            for d in s.diffs.iter().take(5) {
                println!(
                    "    {} [{}]: bpftrace {} | probecc {}",
                    d.what,
                    d.key.replace('\n', " / "),
                    d.bpftrace.as_deref().unwrap_or("—"),
                    d.probecc.as_deref().unwrap_or("—")
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc_guest::protocol::ScaleRun;

    fn tool(name: &str, runs: &[(f64, i32)]) -> ScaleReport {
        ScaleReport {
            pattern: "tcp_*".into(),
            matched: 1012,
            tool: name.into(),
            runs: runs
                .iter()
                .map(|&(secs, status)| ScaleRun {
                    secs,
                    status,
                    attached: Some(1012),
                    attach_secs: Some(secs / 2.0),
                    stderr: if status == 0 {
                        String::new()
                    } else {
                        "boom".into()
                    },
                })
                .collect(),
        }
    }

    fn report(scale: Vec<ScaleReport>) -> ArchReport {
        ArchReport {
            kernel: "6.12 (trixie)".into(),
            icount: true,
            scale,
            ..ArchReport::new(Arch::X86_64)
        }
    }

    #[test]
    fn attach_scale_gives_each_tools_median_and_the_ratio() {
        let r = report(vec![
            tool("bpftrace", &[(10.0, 0), (8.0, 0), (30.0, 0)]),
            tool("probecc trace", &[(4.0, 0), (5.0, 0), (3.0, 0)]),
        ]);
        assert!(!r.failed());
        assert_eq!(
            scale_lines(&r),
            [
                "parity x86_64 (6.12 (trixie)) attach scale: kprobe:tcp_* (1012 functions): \
             bpftrace 10.00 s, probecc trace 4.00 s (probecc trace / bpftrace 0.40)"
            ]
        );
        let md = markdown(&[&r]);
        assert!(md.contains("### Attaching `kprobe:tcp_*` (1012 functions of this kernel)"));
        assert!(
            md.contains("| probecc trace | 3 | 0 | 1012 | 4.00 | 2.00 |  |"),
            "{md}"
        );
        assert!(
            md.contains("Whole run: probecc trace / bpftrace 0.40"),
            "{md}"
        );
        // A second glob gets its own line and table.
        let mut two = r.scale.clone();
        two.extend(r.scale.iter().map(|x| ScaleReport {
            pattern: "vfs_*".into(),
            matched: 80,
            ..x.clone()
        }));
        let r = report(two);
        assert_eq!(scale_lines(&r).len(), 2);
        assert!(scale_lines(&r)[1].contains("kprobe:vfs_* (80 functions)"));
        assert_eq!(markdown(&[&r]).matches("### Attaching").count(), 2);
    }

    #[test]
    fn a_failed_trace_run_fails_the_arch_and_bpftraces_only_shows() {
        let ours_failed = report(vec![
            tool("bpftrace", &[(10.0, 0)]),
            tool("probecc trace", &[(4.0, 1)]),
        ]);
        assert!(ours_failed.failed());
        assert!(scale_lines(&ours_failed)[0].contains("(exit 1: boom)"));
        let theirs_failed = report(vec![
            tool("bpftrace", &[(10.0, 1)]),
            tool("probecc trace", &[(4.0, 0)]),
        ]);
        assert!(!theirs_failed.failed());
        let none_ran = report(vec![tool("probecc trace", &[])]);
        assert!(none_ran.failed());
        assert!(scale_lines(&report(Vec::new())).is_empty());
    }
}
