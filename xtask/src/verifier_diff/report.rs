//! The differential report: counts, per-rule table, every disagreement and
//! message mismatch (`report.md`), and both verdicts of every program
//! (`report.json`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use probecc::arch::{Arch, KernelVersion};
use serde_json::{json, Value};

use super::{Judge, Row, SimOutcome};

/// Where the numbers were measured.
#[derive(Clone, Debug, Default)]
pub struct Machine {
    pub cpu: String,
    pub kernel: String,
    pub clang: String,
    pub bpftool: String,
}

fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

impl Machine {
    pub fn detect(release: &str) -> Machine {
        let cpu = Command::new("lscpu")
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .find_map(|l| l.strip_prefix("Model name:").map(|m| m.trim().to_string()))
            })
            .unwrap_or_else(|| "unknown".into());
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        Machine {
            cpu: format!("{cpu}, {cpus} CPUs"),
            kernel: release.to_string(),
            clang: first_line("clang", &["--version"]),
            bpftool: first_line("bpftool", &["version"]),
        }
    }
}

/// How verifier-sim's message compares with the kernel's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MessageMatch {
    /// The same text as the log's last line.
    Exact,
    /// The same as another line of the kernel's error, or one contains the
    /// other (the kernel's line carries more detail).
    Partial,
    Differs,
}

pub fn compare_messages(kernel: &str, sim: &str) -> MessageMatch {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let (k, s) = (norm(kernel), norm(sim));
    if k == s {
        MessageMatch::Exact
    } else if !s.is_empty() && (k.contains(&s) || s.contains(&k)) {
        MessageMatch::Partial
    } else {
        MessageMatch::Differs
    }
}

/// The x86_64 kernel's verdict carried over to `arch`: `None` when the
/// kernel refused only a ctx access that `arch`'s `pt_regs` holds (no
/// kernel here can say what that arch's verifier does next).
pub fn expected_for(row: &Row, arch: Arch, version: KernelVersion) -> Option<bool> {
    if row.kernel.accepted {
        return Some(true);
    }
    let Some((off, size)) = row.kernel.message.as_deref().and_then(ctx_access) else {
        return Some(false);
    };
    let limit = i64::from(arch.pt_regs_size(version));
    let fits = off >= 0 && size > 0 && off % size == 0 && off + size <= limit;
    (!fits).then_some(false)
}

/// `(off, size)` of `invalid bpf_context access off=O size=S`.
fn ctx_access(msg: &str) -> Option<(i64, i64)> {
    let rest = msg.strip_prefix("invalid bpf_context access off=")?;
    let (off, size) = rest.split_once(" size=")?;
    Some((off.parse().ok()?, size.trim().parse().ok()?))
}

/// Counts over a set of rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub kernel_accepts: usize,
    pub agree: usize,
    pub false_accepts: usize,
    pub false_rejects: usize,
    /// verifier-sim refused the object as unusable (not a verdict).
    pub sim_errors: usize,
    /// verifier-sim panicked or hung.
    pub sim_crashes: usize,
    /// Rejected by both.
    pub both_reject: usize,
    pub message_exact: usize,
    pub message_partial: usize,
    /// Refused by libbpf before the kernel saw it.
    pub loader_rejects: usize,
}

impl Counts {
    fn add(&mut self, row: &Row) {
        self.total += 1;
        self.kernel_accepts += usize::from(row.kernel.accepted);
        self.loader_rejects += usize::from(row.kernel.by_loader);
        match (&row.sim, row.kernel.accepted) {
            (SimOutcome::Crash(_), _) => self.sim_crashes += 1,
            (SimOutcome::Error(_), _) => self.sim_errors += 1,
            (SimOutcome::Verdict { accepted, .. }, k) if *accepted == k => {
                self.agree += 1;
                if !k {
                    self.both_reject += 1;
                    match message_match(row) {
                        Some(MessageMatch::Exact) => self.message_exact += 1,
                        Some(MessageMatch::Partial) => self.message_partial += 1,
                        _ => {}
                    }
                }
            }
            (SimOutcome::Verdict { .. }, true) => self.false_rejects += 1,
            (SimOutcome::Verdict { .. }, false) => self.false_accepts += 1,
        }
    }

    pub fn percent(part: usize, whole: usize) -> String {
        if whole == 0 {
            "–".into()
        } else {
            format!("{:.1}%", 100.0 * part as f64 / whole as f64)
        }
    }
}

/// For a program both reject: how the messages compare.
pub fn message_match(row: &Row) -> Option<MessageMatch> {
    match (&row.sim, &row.kernel.message) {
        (
            SimOutcome::Verdict {
                accepted: false,
                message: Some(s),
                ..
            },
            Some(k),
        ) if !row.kernel.accepted => Some(
            row.kernel
                .error
                .iter()
                .map(|line| compare_messages(line, s).max(MessageMatch::Partial))
                .chain([compare_messages(k, s)])
                .min()
                .unwrap_or(MessageMatch::Differs),
        ),
        _ => None,
    }
}

/// Counts for another arch against the carried-over x86_64 verdicts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchCounts {
    pub compared: usize,
    pub agree: usize,
    pub false_accepts: usize,
    pub false_rejects: usize,
    pub errors: usize,
    /// ctx reads past x86_64's pt_regs that fit this arch's.
    pub ctx_dependent: usize,
    pub ctx_dependent_sim_accepts: usize,
}

pub struct Report {
    pub rows: Vec<Row>,
    pub machine: Machine,
    /// The kernel whose verdicts label the rows.
    pub judge: Judge,
    pub version: KernelVersion,
    pub elapsed: Duration,
    pub counts: Counts,
    pub by_rule: BTreeMap<String, Counts>,
    pub arches: Vec<(Arch, ArchCounts)>,
}

impl Report {
    pub fn new(rows: Vec<Row>, machine: Machine, judge: Judge, elapsed: Duration) -> Report {
        let version = judge.release;
        let mut counts = Counts::default();
        let mut by_rule: BTreeMap<String, Counts> = BTreeMap::new();
        for row in &rows {
            counts.add(row);
            by_rule.entry(row.entry.rule.clone()).or_default().add(row);
        }
        let mut arches: Vec<(Arch, ArchCounts)> = Vec::new();
        for arch in Arch::ALL.into_iter().filter(|a| *a != Arch::X86_64) {
            let mut c = ArchCounts::default();
            for row in &rows {
                let Some((_, sim)) = row.others.iter().find(|(a, _)| *a == arch) else {
                    continue;
                };
                match (expected_for(row, arch, version), sim.accepted()) {
                    (_, None) => c.errors += 1,
                    (None, Some(s)) => {
                        c.ctx_dependent += 1;
                        c.ctx_dependent_sim_accepts += usize::from(s);
                    }
                    (Some(e), Some(s)) => {
                        c.compared += 1;
                        if e == s {
                            c.agree += 1;
                        } else if s {
                            c.false_accepts += 1;
                        } else {
                            c.false_rejects += 1;
                        }
                    }
                }
            }
            arches.push((arch, c));
        }
        Report {
            rows,
            machine,
            judge,
            version,
            elapsed,
            counts,
            by_rule,
            arches,
        }
    }

    /// The rows where verifier-sim and the kernel disagree (or
    /// verifier-sim gave no verdict).
    pub fn disagreements(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.sim.accepted() != Some(r.kernel.accepted))
            .collect()
    }

    /// The rows whose verifier-sim verdict differs between releases' rules.
    pub fn release_dependent(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| {
                r.releases
                    .iter()
                    .any(|(_, o)| o.accepted() != r.sim.accepted())
            })
            .collect()
    }

    /// Same verdict, as a share of all programs.
    pub fn agreement(&self) -> f64 {
        if self.counts.total == 0 {
            return 0.0;
        }
        self.counts.agree as f64 / self.counts.total as f64
    }

    /// Whether the bar holds: no false accept and no crash.
    pub fn passes(&self) -> bool {
        self.counts.false_accepts == 0 && self.counts.sim_crashes == 0
    }

    pub fn markdown(&self) -> String {
        let c = &self.counts;
        let mut s = String::new();
        let _ = writeln!(s, "# verifier-sim against the kernel verifier\n");
        let rules = self.judge.target(self.judge.arch).rules;
        let changes: Vec<String> = rules.changes().iter().map(|c| format!("{c:?}")).collect();
        let _ = writeln!(
            s,
            "Command: `cargo xtask verifier-diff` (as root). Machine: {}; kernel {}; {}; {}. \
             The kernel's verdicts are labelled {} {} (JIT {}); verifier-sim ran with that \
             release's rules (changes in force: {}), `.rodata` as the objects hold it, and {}'s \
             pt_regs. Took {:.0} s.\n",
            self.machine.cpu,
            self.machine.kernel,
            self.machine.clang,
            self.machine.bpftool,
            self.judge.arch,
            self.judge.release,
            if self.judge.jit { "on" } else { "off" },
            if changes.is_empty() {
                "none".to_string()
            } else {
                changes.join(", ")
            },
            self.judge.arch,
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            s,
            "## {} {}, against its kernel\n",
            self.judge.arch, self.judge.release
        );
        let _ = writeln!(s, "| | programs |\n|---|---|");
        let _ = writeln!(s, "| total | {} |", c.total);
        let _ = writeln!(s, "| accepted by the kernel | {} |", c.kernel_accepts);
        let _ = writeln!(
            s,
            "| refused by libbpf before the kernel | {} |",
            c.loader_rejects
        );
        let _ = writeln!(
            s,
            "| same verdict | {} ({}) |",
            c.agree,
            Counts::percent(c.agree, c.total)
        );
        let _ = writeln!(
            s,
            "| **false accepts** (verifier-sim accepts, kernel rejects) | **{}** |",
            c.false_accepts
        );
        let _ = writeln!(
            s,
            "| false rejects (verifier-sim rejects, kernel accepts) | {} |",
            c.false_rejects
        );
        let _ = writeln!(
            s,
            "| objects verifier-sim could not check | {} |",
            c.sim_errors
        );
        let _ = writeln!(s, "| verifier-sim panics or hangs | {} |", c.sim_crashes);
        let _ = writeln!(
            s,
            "| rejected by both: message = the log's last line / = another line of the error, or contained / different | {} / {} / {} of {} |",
            c.message_exact,
            c.message_partial,
            c.both_reject - c.message_exact - c.message_partial,
            c.both_reject
        );
        let _ = writeln!(s, "\n### By rule\n");
        let _ = writeln!(
            s,
            "| rule | programs | kernel accepts | agree | false accepts | false rejects | no verdict | same message |\n|---|---|---|---|---|---|---|---|"
        );
        for (rule, r) in &self.by_rule {
            let _ = writeln!(
                s,
                "| {rule} | {} | {} | {} | {} | {} | {} | {}/{} |",
                r.total,
                r.kernel_accepts,
                r.agree,
                r.false_accepts,
                r.false_rejects,
                r.sim_errors + r.sim_crashes,
                r.message_exact,
                r.both_reject
            );
        }
        let _ = writeln!(s, "\n### Disagreements\n");
        let dis = self.disagreements();
        if dis.is_empty() {
            let _ = writeln!(s, "None.");
        } else {
            let _ = writeln!(
                s,
                "| program | origin | kernel | verifier-sim |\n|---|---|---|---|"
            );
            for r in dis {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    r.entry.name,
                    cell(&r.entry.origin),
                    cell(&kernel_text(r)),
                    cell(&sim_text(&r.sim))
                );
            }
        }
        let _ = writeln!(s, "\n### Rejected by both, different messages\n");
        let mismatched: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| message_match(r) == Some(MessageMatch::Differs))
            .collect();
        if mismatched.is_empty() {
            let _ = writeln!(s, "None.");
        } else {
            let _ = writeln!(s, "| program | kernel | verifier-sim |\n|---|---|---|");
            for r in mismatched {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} |",
                    r.entry.name,
                    cell(&kernel_text(r)),
                    cell(&sim_text(&r.sim))
                );
            }
        }
        let _ = writeln!(s, "\n### Verdicts that depend on the release's rules\n");
        let dep = self.release_dependent();
        if dep.is_empty() {
            let _ = writeln!(s, "None.");
        } else {
            let mut head = format!(
                "| program | kernel {} | verifier-sim {} |",
                self.judge.release, self.judge.release
            );
            let mut rule = "|---|---|---|".to_string();
            for (r, _) in dep[0].releases.iter() {
                head.push_str(&format!(" verifier-sim {r} |"));
                rule.push_str("---|");
            }
            let _ = writeln!(s, "{head}\n{rule}");
            for r in dep {
                let mut line = format!(
                    "| {} | {} | {} |",
                    r.entry.name,
                    cell(&kernel_text(r)),
                    cell(&sim_text(&r.sim))
                );
                for (_, o) in &r.releases {
                    line.push_str(&format!(" {} |", cell(&sim_text(o))));
                }
                let _ = writeln!(s, "{line}");
            }
        }
        if self.arches.iter().all(|(_, a)| a.compared == 0) {
            return s;
        }
        let _ = writeln!(s, "\n## The other arches, against the x86_64 kernel\n");
        let _ = writeln!(
            s,
            "The same x86_64 objects checked with each arch's sizeof(pt_regs), against the x86_64 \
             kernel's verdicts. A program the kernel refused only for a ctx read past x86_64's 168 \
             bytes that fits the arch's pt_regs has no verdict to compare with (\"ctx-dependent\"). \
             s390x objects are big-endian; these little-endian ones measure its ctx bound only.\n"
        );
        let _ = writeln!(
            s,
            "| arch | pt_regs | compared | agree | false accepts | false rejects | no verdict | ctx-dependent (verifier-sim accepts) |\n|---|---|---|---|---|---|---|---|"
        );
        for (arch, a) in &self.arches {
            let _ = writeln!(
                s,
                "| {arch} | {} | {} | {} | {} | {} | {} | {} ({}) |",
                arch.pt_regs_size(self.version),
                a.compared,
                a.agree,
                a.false_accepts,
                a.false_rejects,
                a.errors,
                a.ctx_dependent,
                a.ctx_dependent_sim_accepts
            );
        }
        s
    }

    pub fn json(&self) -> String {
        let programs: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let others: serde_json::Map<String, Value> = r
                    .others
                    .iter()
                    .map(|(a, o)| {
                        (
                            a.name().to_string(),
                            json!({
                                "expected": expected_for(r, *a, self.version)
                                    .map(verdict_word),
                                "sim": sim_json(o),
                            }),
                        )
                    })
                    .collect();
                json!({
                    "name": r.entry.name,
                    "rule": r.entry.rule,
                    "origin": r.entry.origin,
                    "object": r.entry.object.display().to_string(),
                    "kernel": {
                        "verdict": verdict_word(r.kernel.accepted),
                        "message": r.kernel.message,
                        "error": r.kernel.error,
                        "by_loader": r.kernel.by_loader,
                        "millis": r.kernel.millis as u64,
                    },
                    "sim": sim_json(&r.sim),
                    "agree": r.sim.accepted() == Some(r.kernel.accepted),
                    "message_match": message_match(r).map(|m| format!("{m:?}").to_lowercase()),
                    "other_arches": others,
                    "other_releases": r.releases.iter().map(|(v, o)| {
                        (v.to_string(), sim_json(o))
                    }).collect::<serde_json::Map<String, Value>>(),
                })
            })
            .collect();
        let c = &self.counts;
        let doc = json!({
            "judge": {
                "arch": self.judge.arch.name(),
                "release": self.judge.release.to_string(),
                "jit": self.judge.jit,
                "kernel": self.judge.name,
            },
            "machine": {
                "cpu": self.machine.cpu,
                "kernel": self.machine.kernel,
                "clang": self.machine.clang,
                "bpftool": self.machine.bpftool,
            },
            "summary": {
                "total": c.total,
                "kernel_accepts": c.kernel_accepts,
                "agree": c.agree,
                "false_accepts": c.false_accepts,
                "false_rejects": c.false_rejects,
                "sim_errors": c.sim_errors,
                "sim_crashes": c.sim_crashes,
                "both_reject": c.both_reject,
                "message_exact": c.message_exact,
                "message_partial": c.message_partial,
                "loader_rejects": c.loader_rejects,
            },
            "programs": programs,
        });
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }
}

fn verdict_word(accepted: bool) -> &'static str {
    if accepted {
        "accept"
    } else {
        "reject"
    }
}

fn sim_json(o: &SimOutcome) -> Value {
    match o {
        SimOutcome::Verdict {
            accepted,
            message,
            insn,
            processed,
        } => json!({
            "verdict": verdict_word(*accepted),
            "message": message,
            "insn": insn,
            "processed": processed,
        }),
        SimOutcome::Error(e) => json!({ "verdict": "error", "message": e }),
        SimOutcome::Crash(e) => json!({ "verdict": "crash", "message": e }),
    }
}

fn kernel_text(r: &Row) -> String {
    let who = if r.kernel.by_loader { "libbpf: " } else { "" };
    match (&r.kernel.message, r.kernel.accepted) {
        (_, true) => "accept".into(),
        (Some(m), false) => format!("reject: {who}{m}"),
        (None, false) => "reject (no log)".into(),
    }
}

fn sim_text(o: &SimOutcome) -> String {
    match o {
        SimOutcome::Verdict { accepted: true, .. } => "accept".into(),
        SimOutcome::Verdict { message, insn, .. } => format!(
            "reject at insn {}: {}",
            insn.map_or("?".into(), |i| i.to_string()),
            message.as_deref().unwrap_or("")
        ),
        SimOutcome::Error(e) => format!("error: {e}"),
        SimOutcome::Crash(e) => format!("CRASH: {e}"),
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// One line per program for the console.
pub fn one_line(r: &Row) -> String {
    let mark = match r.sim.accepted() {
        Some(s) if s == r.kernel.accepted => "  ",
        Some(true) => "FA",
        Some(false) => "FR",
        None => "??",
    };
    format!(
        "{mark} {:<45} kernel: {:<60} sim: {}",
        r.entry.name,
        kernel_text(r),
        sim_text(&r.sim)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_compare_exactly_or_by_containment() {
        assert_eq!(
            compare_messages("R0 !read_ok", "R0  !read_ok"),
            MessageMatch::Exact
        );
        assert_eq!(
            compare_messages(
                "R2 type=ctx expected=fp, pkt, pkt_meta, map_key",
                "R2 type=ctx expected=fp"
            ),
            MessageMatch::Partial
        );
        assert_eq!(
            compare_messages("div by zero", "R1 !read_ok"),
            MessageMatch::Differs
        );
        assert_eq!(compare_messages("div by zero", ""), MessageMatch::Differs);
    }

    #[test]
    fn ctx_accesses_parse() {
        assert_eq!(
            ctx_access("invalid bpf_context access off=176 size=8"),
            Some((176, 8))
        );
        assert_eq!(
            ctx_access("invalid bpf_context access off=-8 size=8"),
            Some((-8, 8))
        );
        assert_eq!(ctx_access("R0 !read_ok"), None);
    }
}
