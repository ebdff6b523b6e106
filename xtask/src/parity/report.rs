//! The parity report: per spec equal, differing (entries side by side),
//! documented as differing, failed or skipped, with how it was compared,
//! as `report.json` and `report.md` in the output directory.

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
    pub specs: Vec<SpecResult>,
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
            specs: Vec::new(),
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
        "Each spec ran once under bpftrace and once as probecc's object, on the same kernel \
         and workload (`cargo xtask parity`; rules in `fixtures/parity.toml`).\n",
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
        md.push_str(
            "\n\n| spec | result | entries and lines | how | bpftrace s | probecc s |\n|---|---|---|---|---|---|\n",
        );
        for s in &r.specs {
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
        for s in r.specs.iter().filter(|s| !s.diffs.is_empty()) {
            md.push_str(&format!(
                "\n### {} ({:?})\n\n| what | key | bpftrace | probecc |\n|---|---|---|---|\n",
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
        for s in r
            .specs
            .iter()
            .filter(|s| matches!(s.verdict, Verdict::Differs | Verdict::Failed))
        {
            println!("  {} {:?}: {}", s.name, s.verdict, s.notes.join("; "));
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
