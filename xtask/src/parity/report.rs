//! The parity report: per spec equal, differing (entries side by side),
//! documented as differing, failed or skipped, with how it was compared,
//! for probecc's object and for `probecc trace` on the device (with its
//! time to `Attaching` and peak RSS against bpftrace's, as ratios), as
//! `report.json` and `report.md` in the output directory.

use std::path::Path;

use anyhow::Result;
use probecc::arch::Arch;
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
