//! One boot's results, digested: the table checks, each spec's attach and
//! expectations (and what bpftrace would have printed, when asked), the
//! overhead statistics (per subject: median, min and max guest ns per loop
//! iteration over the rounds, probe hits per iteration, and the added cost
//! per iteration and per hit over the no-probe baseline; ours against the
//! clang twin), and each spec's cost under its own workload against an
//! empty probe on the same functions. Everything here is computed from
//! the `PROBECC` lines of that boot.

use probecc::arch::{Arch, KernelVersion};
use probecc_guest::protocol::Report;
use serde::{Deserialize, Serialize};

use crate::boot::{Boot, Verdict};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ArchResult {
    pub arch: String,
    pub release: String,
    pub kernel: String,
    pub accel: String,
    pub icount: bool,
    /// `net.core.bpf_jit_enable` in the guest (the agent turns it on);
    /// `None`: the kernel has no JIT, programs ran in the interpreter.
    #[serde(default)]
    pub jit: Option<u8>,
    /// Whether the kernel has BTF (by its config; `None`: unknown), which
    /// objects with CO-RE relocations need.
    #[serde(default)]
    pub btf: Option<bool>,
    /// What the runtime's feature probe said of the kprobe-multi link in
    /// the guest (`None`: not asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kprobe_multi_probe: Option<bool>,
    pub verdict: Verdict,
    pub boot_secs: f64,
    pub log: String,
    pub command: String,
    pub tables: Vec<TableRow>,
    pub fixtures: Vec<FixtureRow>,
    pub overhead: Vec<SubjectStats>,
    /// Each spec's cost under its own workload.
    #[serde(default)]
    pub costs: Vec<SpecCost>,
    /// Everything that failed, one sentence each.
    pub failures: Vec<String>,
    /// Failures of fixtures declared `known_failure` (with the reason);
    /// they do not fail the run.
    #[serde(default)]
    pub known_failures: Vec<String>,
    /// Remarks, e.g. a known failure that passed this time.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The tracing (fentry/fexit) subjects and fixtures this kernel could
    /// not run, each with the kernel's refusal or why none was tried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<Unavailable>,
    /// The console's last lines when the boot did not complete.
    pub tail: Vec<String>,
}

/// A tracing subject or fixture the kernel could not run, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unavailable {
    pub what: String,
    pub why: String,
}

/// The overhead baseline whose load and attach prove that a kernel has BPF
/// trampolines (or that it has none).
pub const EMPTY_FENTRY: &str = "empty_fentry";
/// The overhead subjects of the kprobe-multi comparison: empty kprobes on
/// the loop's read and write, as two programs attached one function at a
/// time, and as one program attached to both by one kprobe-multi link.
pub const EMPTY_KPROBE_PAIR: &str = "empty_kprobe_pair";
pub const EMPTY_KPROBE_MULTI: &str = "empty_kprobe_multi";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableRow {
    pub check: String,
    pub ok: bool,
    pub table: String,
    pub kernel: String,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FixtureRow {
    pub name: String,
    pub ok: bool,
    pub attached: usize,
    pub programs: usize,
    pub expectations_met: usize,
    pub expectations: usize,
    pub errors: Vec<String>,
    pub not_attached: Vec<String>,
    /// What bpftrace would have printed, when the run asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Remarks that fail nothing (a workload command that exited non-zero).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl FixtureRow {
    /// The row of a spec that never reached the guest (it did not
    /// compile for the arch, its object is for another).
    pub fn failed(name: &str, why: String) -> FixtureRow {
        FixtureRow {
            name: name.into(),
            ok: false,
            attached: 0,
            programs: 0,
            expectations_met: 0,
            expectations: 0,
            errors: vec![why],
            not_attached: Vec::new(),
            output: None,
            notes: Vec::new(),
        }
    }
}

/// What one spec costs under its own workload (guest instructions under
/// `-icount`): the medians over the rounds of one workload run with
/// nothing attached, with an empty probe on the spec's functions and with
/// the spec, and each added cost per probe hit.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpecCost {
    pub spec: String,
    /// The workload alone, per run.
    pub baseline: Option<f64>,
    /// Probe hits per workload run, of the spec and of the empty probe.
    pub hits: Option<u64>,
    pub empty_hits: Option<u64>,
    /// (median with the spec − median with nothing) / hits.
    pub added_per_hit: Option<f64>,
    /// The same of the empty probe.
    pub empty_added_per_hit: Option<f64>,
    /// What the spec's own work costs per hit: `added_per_hit −
    /// empty_added_per_hit`.
    pub over_empty_per_hit: Option<f64>,
    /// How far a subject's rounds varied (the widest of the workload
    /// alone, with the empty probe and with the spec), per hit: a figure
    /// per hit smaller than this is within the workload's own variation
    /// (few hits, a noisy workload).
    #[serde(default)]
    pub noise_per_hit: Option<f64>,
    pub rounds: usize,
    /// Workload runs per timed round (more where one run hits little).
    #[serde(default)]
    pub runs: u64,
}

impl SpecCost {
    /// Whether the spec's own work per hit is within what the workload
    /// alone varies by per hit: then the figure is no measurement, and a
    /// workload that hits the probes more often is needed.
    pub fn within_noise(&self) -> bool {
        match (self.over_empty_per_hit, self.noise_per_hit) {
            (Some(own), Some(noise)) => noise >= own.abs(),
            _ => false,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubjectStats {
    pub subject: String,
    pub kind: String,
    pub twin_of: Option<String>,
    pub rounds: Vec<f64>,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub hits_per_iteration: Option<f64>,
    /// Median minus the baseline's median, per loop iteration.
    pub added_per_iteration: Option<f64>,
    /// `added_per_iteration / hits_per_iteration`.
    pub added_per_hit: Option<f64>,
    /// For a fixture with a clang twin: our added cost per hit over clang's.
    pub ours_vs_clang: Option<f64>,
}

/// Subject kinds, from the plan, by subject name.
pub type Kinds = Vec<(String, String, Option<String>)>;

pub fn digest(boot: &Boot, header: (&str, &str, &str, &str, bool), kinds: &Kinds) -> ArchResult {
    let (arch, release, kernel, accel, icount) = header;
    let mut r = ArchResult {
        arch: arch.into(),
        release: release.into(),
        kernel: kernel.into(),
        accel: accel.into(),
        icount,
        jit: None,
        btf: None,
        kprobe_multi_probe: None,
        verdict: boot.verdict,
        boot_secs: boot.secs,
        log: boot.log.display().to_string(),
        command: boot.command.clone(),
        tables: Vec::new(),
        fixtures: Vec::new(),
        overhead: Vec::new(),
        costs: Vec::new(),
        failures: Vec::new(),
        known_failures: Vec::new(),
        notes: Vec::new(),
        unavailable: Vec::new(),
        tail: Vec::new(),
    };
    for rep in &boot.reports {
        absorb(&mut r, rep);
    }
    r.overhead = overhead(&boot.reports, kinds);
    r.costs = costs(&boot.reports);
    if let Some(why) = boot.verdict.failure(boot) {
        r.failures.insert(0, why);
        r.tail = boot.tail.clone();
    }
    r
}

fn absorb(r: &mut ArchResult, rep: &Report) {
    match rep {
        Report::Boot {
            kernel,
            jit,
            kprobe_multi,
            ..
        } => {
            r.kernel = kernel.clone();
            r.jit = *jit;
            r.kprobe_multi_probe = *kprobe_multi;
        }
        Report::Table {
            check,
            ok,
            table,
            kernel,
            detail,
        } => {
            if !ok {
                r.failures.push(table_failure(check, table, kernel, detail));
            }
            r.tables.push(TableRow {
                check: check.clone(),
                ok: *ok,
                table: table.clone(),
                kernel: kernel.clone(),
                detail: detail.clone(),
            });
        }
        Report::Fixture {
            name,
            ok,
            attached,
            programs,
            expectations_met,
            expectations,
            errors,
            not_attached,
            output,
            notes,
            ..
        } => {
            r.fixtures.push(FixtureRow {
                name: name.clone(),
                ok: *ok,
                attached: *attached,
                programs: *programs,
                expectations_met: *expectations_met,
                expectations: *expectations,
                errors: errors.clone(),
                not_attached: not_attached.clone(),
                output: output.clone(),
                notes: notes.clone(),
            });
            r.add_row_failures();
        }
        Report::Error { what, error } => r.failures.push(format!("{what}: {error}")),
        Report::Unavailable { what, why } => r.unavailable.push(Unavailable {
            what: what.clone(),
            why: why.clone(),
        }),
        Report::Watchdog { secs } => r
            .failures
            .push(format!("the guest's watchdog fired after {secs} s")),
        _ => {}
    }
}

/// A failed table check in words: the two values that disagree, or, when
/// the check could not measure the kernel's (an attach refused), why.
fn table_failure(check: &str, table: &str, kernel: &str, detail: &str) -> String {
    if table.is_empty() && kernel.is_empty() {
        format!("table check {check} could not run: {detail}")
    } else {
        format!(
            "table check {check}: probecc::arch says {table}, the kernel says {kernel} ({detail})"
        )
    }
}

fn overhead(reports: &[Report], kinds: &Kinds) -> Vec<SubjectStats> {
    let mut stats: Vec<SubjectStats> = kinds
        .iter()
        .filter_map(|(name, kind, twin_of)| {
            let rounds: Vec<f64> = reports
                .iter()
                .filter_map(|r| match r {
                    Report::Round {
                        subject, ns_per_op, ..
                    } if subject == name => Some(*ns_per_op),
                    _ => None,
                })
                .collect();
            let median = crate::stats::median(&rounds)?;
            let hits = reports.iter().find_map(|r| match r {
                Report::Hits {
                    subject,
                    per_iteration,
                } if subject == name => Some(*per_iteration),
                _ => None,
            });
            Some(SubjectStats {
                subject: name.clone(),
                kind: kind.clone(),
                twin_of: twin_of.clone(),
                median,
                min: rounds.iter().copied().fold(f64::INFINITY, f64::min),
                max: rounds.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                rounds,
                hits_per_iteration: hits,
                added_per_iteration: None,
                added_per_hit: None,
                ours_vs_clang: None,
            })
        })
        .collect();
    let base = stats
        .iter()
        .find(|s| s.kind == "baseline")
        .map(|s| s.median);
    for s in &mut stats {
        if let (Some(b), true) = (base, s.kind != "baseline") {
            let added = s.median - b;
            s.added_per_iteration = Some(added);
            s.added_per_hit = s.hits_per_iteration.filter(|h| *h > 0.0).map(|h| added / h);
        }
    }
    let clang: Vec<(String, Option<f64>)> = stats
        .iter()
        .filter(|s| s.kind == "clang")
        .filter_map(|s| s.twin_of.clone().map(|t| (t, s.added_per_hit)))
        .collect();
    for s in &mut stats {
        if let Some((_, Some(c))) = clang
            .iter()
            .find(|(t, _)| *t == s.subject && s.kind == "fixture")
        {
            s.ours_vs_clang = s.added_per_hit.filter(|_| *c > 0.0).map(|o| o / c);
        }
    }
    stats
}

/// Each spec's cost from its `Cost` and `CostHits` lines.
fn costs(reports: &[Report]) -> Vec<SpecCost> {
    let mut specs: Vec<&str> = Vec::new();
    for r in reports {
        if let Report::Cost { spec, .. } | Report::CostHits { spec, .. } = r {
            if !specs.contains(&spec.as_str()) {
                specs.push(spec);
            }
        }
    }
    specs
        .into_iter()
        .map(|name| {
            let rounds = |subject: &str| -> Vec<f64> {
                reports
                    .iter()
                    .filter_map(|r| match r {
                        Report::Cost {
                            spec,
                            subject: s,
                            ns,
                            ..
                        } if spec == name && s == subject => Some(*ns),
                        _ => None,
                    })
                    .collect()
            };
            let hits = |subject: &str| {
                reports.iter().find_map(|r| match r {
                    Report::CostHits {
                        spec,
                        subject: s,
                        hits,
                    } if spec == name && s == subject => Some(*hits),
                    _ => None,
                })
            };
            let none = crate::stats::median(&rounds("none"));
            // The largest spread of a subject's rounds: each median the
            // figures subtract is that uncertain.
            let spread = ["none", "empty", "spec"]
                .into_iter()
                .filter_map(|subject| {
                    let r = rounds(subject);
                    let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    (r.len() > 1).then_some(hi - lo)
                })
                .reduce(f64::max);
            let per_hit = |subject: &str| {
                let m = crate::stats::median(&rounds(subject))?;
                let h = hits(subject).filter(|h| *h > 0)?;
                Some((m - none?) / h as f64)
            };
            let (spec, empty) = (per_hit("spec"), per_hit("empty"));
            SpecCost {
                spec: name.into(),
                baseline: none,
                hits: hits("spec"),
                empty_hits: hits("empty"),
                added_per_hit: spec,
                empty_added_per_hit: empty,
                over_empty_per_hit: spec.zip(empty).map(|(s, e)| s - e),
                noise_per_hit: spread
                    .zip(hits("spec").filter(|h| *h > 0))
                    .map(|(s, h)| s / h as f64),
                rounds: rounds("none").len(),
                runs: reports
                    .iter()
                    .find_map(|r| match r {
                        Report::Cost { spec, runs, .. } if spec == name => Some(*runs),
                        _ => None,
                    })
                    .unwrap_or(1),
            }
        })
        .collect()
}

impl ArchResult {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// Adds a row for a spec that never reached the guest, with its
    /// failure.
    pub fn add_failed_row(&mut self, row: FixtureRow) {
        self.fixtures.push(row);
        self.add_row_failures();
    }

    /// The failures of the last row added.
    fn add_row_failures(&mut self) {
        let Some(row) = self.fixtures.last() else {
            return;
        };
        for e in &row.errors {
            self.failures.push(format!("{}: {e}", row.name));
        }
        if !row.ok && row.errors.is_empty() {
            self.failures.push(format!("{}: failed", row.name));
        }
    }

    /// Moves every failure to `known_failures` when the arch's kernel has a
    /// declared defect that explains them (`reason`); notes a clean pass.
    pub fn apply_platform_known(&mut self, reason: &str) {
        if self.failures.is_empty() {
            self.notes.push(format!(
                "passed despite the platform's known failure ({reason})"
            ));
            return;
        }
        let n = self.failures.len();
        let first: Vec<String> = self.failures.drain(..).take(5).collect();
        self.known_failures.push(format!(
            "{n} failures, known for this kernel: {reason}. The first: {}",
            first.join("; ")
        ));
    }

    /// Moves the failures of fixtures with a declared known defect
    /// (`(fixture, reason)`) to `known_failures`; notes those that passed.
    pub fn apply_known(&mut self, known: &[(String, String)]) {
        for (name, reason) in known {
            let prefix = format!("{name}: ");
            let (theirs, rest): (Vec<String>, Vec<String>) = self
                .failures
                .drain(..)
                .partition(|f| f.starts_with(&prefix));
            self.failures = rest;
            if !theirs.is_empty() {
                self.known_failures
                    .push(format!("{name} (known: {reason}): {}", theirs.join("; ")));
            } else if self.fixtures.iter().any(|f| f.name == *name && f.ok) {
                self.notes.push(format!(
                    "{name} passed despite its known failure ({reason})"
                ));
            }
        }
    }

    pub fn subject(&self, name: &str) -> Option<&SubjectStats> {
        self.overhead.iter().find(|s| s.subject == name)
    }

    /// Why the kernel could not run `what` (a tracing subject or fixture).
    pub fn unavailable(&self, what: &str) -> Option<&str> {
        self.unavailable
            .iter()
            .find(|u| u.what == what)
            .map(|u| u.why.as_str())
    }

    /// Holds the arch table's fact of BPF trampolines (`has_trampolines`
    /// for this kernel's version, and BTF, which a tracing program's
    /// target is found in) against what the kernel did with the empty
    /// fentry baseline: refused where the table says it has them, or run
    /// where the table says it has none, is a failure naming both. Where
    /// the table and the kernel agree on none, a note says why. Where it
    /// ran, every other tracing subject the kernel refused is a failure.
    /// The arch table's `btf_since` held against this kernel's config
    /// (`btf`): a Debian kernel of `arch` at or after it must have BTF,
    /// one before it none, or the table is wrong (verifier-sim takes the
    /// kernel's BTF from it).
    pub fn check_btf(&mut self, arch: Arch) {
        let (Ok(version), Some(has)) = (self.kernel.parse::<KernelVersion>(), self.btf) else {
            return;
        };
        let since = arch.info().btf_since;
        let table = version >= since;
        if table != has {
            self.failures.push(format!(
                "the arch table says {arch}'s Debian kernels have BTF from {since}, but {} {}",
                self.kernel,
                if has {
                    "has it"
                } else {
                    "has none (CONFIG_DEBUG_INFO_BTF is not set)"
                }
            ));
        }
    }

    /// The arch table's `efficient_unaligned_access` against the kernel's
    /// `CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS` (`has`).
    pub fn check_unaligned_access(&mut self, arch: Arch, has: bool) {
        let table = arch.info().efficient_unaligned_access;
        if table != has {
            self.failures.push(format!(
                "the arch table says {arch}'s Debian kernels {} efficient unaligned access, but {} {} CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS",
                if table { "have" } else { "lack" },
                self.kernel,
                if has { "sets" } else { "does not set" }
            ));
        }
    }

    pub fn check_trampolines(&mut self, arch: Arch) {
        let Ok(version) = self.kernel.parse::<KernelVersion>() else {
            return;
        };
        let ran = self
            .subject(EMPTY_FENTRY)
            .is_some_and(|s| s.hits_per_iteration.is_some());
        let refused = self.unavailable(EMPTY_FENTRY).map(str::to_string);
        if !ran && refused.is_none() {
            return; // No overhead run: nothing to hold the table against.
        }
        let since = arch
            .info()
            .trampolines_since
            .map_or("never".to_string(), |v| format!("from {v}"));
        let btf = self.btf != Some(false);
        // Trampolines are JIT-built: a kernel without a JIT has none.
        let jit = self.jit.is_some();
        let expected = arch.has_trampolines(version) && btf && jit;
        let lacks = match (btf, jit) {
            (false, _) => Some("no BTF"),
            (_, false) => Some("no BPF JIT, which builds trampolines"),
            _ => None,
        };
        match (expected, refused) {
            (true, Some(why)) => self.failures.push(format!(
                "{EMPTY_FENTRY}: the arch table says {arch} {version} has BPF trampolines \
                 ({since}), but the kernel refused it: {why}"
            )),
            (false, None) => self.failures.push(format!(
                "{EMPTY_FENTRY}: the arch table says {arch} {version} has no BPF trampolines \
                 ({since}){}, but the kernel ran it: the table is wrong",
                lacks
                    .map(|l| format!(" and the kernel has {l}"))
                    .unwrap_or_default()
            )),
            (false, Some(why)) => self.notes.push(format!(
                "fentry/fexit not on this kernel ({}): {why}",
                lacks.map_or_else(
                    || format!("{arch} has BPF trampolines {since}"),
                    str::to_string
                )
            )),
            (true, None) => {}
        }
        // Where the empty fentry ran, trampolines are no reason for a
        // tracing subject (a clang twin built as fentry, say) to be
        // refused: it was refused for itself.
        if ran {
            // The kprobe-multi link is no tracing subject: its own check
            // holds it against its own row.
            let refused: Vec<String> = self
                .unavailable
                .iter()
                .filter(|u| u.what != EMPTY_KPROBE_MULTI)
                .map(|u| {
                    format!(
                        "{}: refused, though the kernel ran {EMPTY_FENTRY}: {}",
                        u.what, u.why
                    )
                })
                .collect();
            self.failures.extend(refused);
        }
    }

    /// Holds the arch table's row of the kprobe-multi link
    /// ([`Arch::kprobe_multi`] for this boot's Debian release) against
    /// what the kernel did with the empty kprobe-multi subject: refused
    /// where the table says the release has the link, or attached where it
    /// says it has none, is a failure naming both. A release the table has
    /// no row for gets a note of what the kernel did.
    pub fn check_kprobe_multi(&mut self, arch: Arch) {
        let ran = self
            .subject(EMPTY_KPROBE_MULTI)
            .is_some_and(|s| s.hits_per_iteration.is_some());
        let refused = self.unavailable(EMPTY_KPROBE_MULTI).map(str::to_string);
        if !ran && refused.is_none() {
            return; // No overhead run: nothing to hold the table against.
        }
        let release = self.release.clone();
        // `probecc trace --multi auto` goes by the runtime's probe: it
        // must say what the kernel did with the link.
        if let Some(probe) = self.kprobe_multi_probe.filter(|&p| p != ran) {
            self.failures.push(format!(
                "the runtime's kprobe-multi feature probe says {}, but the kernel {} the link",
                if probe { "yes" } else { "no" },
                if ran { "attached" } else { "refused" }
            ));
        }
        match (arch.kprobe_multi(&release), refused) {
            (Some(true), Some(why)) => self.failures.push(format!(
                "{EMPTY_KPROBE_MULTI}: the arch table says {arch} {release} has the kprobe-multi \
                 link, but the kernel refused it: {why}"
            )),
            (Some(false), None) => self.failures.push(format!(
                "{EMPTY_KPROBE_MULTI}: the arch table says {arch} {release} has no kprobe-multi \
                 link, but the kernel attached it: the table is wrong"
            )),
            (Some(false), Some(why)) => self
                .notes
                .push(format!("kprobe-multi link not on this kernel: {why}")),
            (None, why) => self.notes.push(format!(
                "the arch table has no kprobe-multi row for {arch} {release}; this kernel {}",
                why.map_or("attached the link".to_string(), |w| {
                    format!("refused the link: {w}")
                })
            )),
            (Some(true), None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A completed boot (`arch`, `release`, `kernel`) whose one overhead
    /// subject `subject` ran (calibrated and timed) or was refused with
    /// `why`.
    fn one_subject_boot(
        (arch, release, kernel): (&str, &str, &str),
        subject: &str,
        refused: Option<&str>,
    ) -> ArchResult {
        let mut reports = vec![Report::Boot {
            arch: arch.into(),
            kernel: kernel.into(),
            cpus: 2,
            jit: Some(1),
            kprobe_multi: None,
        }];
        match refused {
            None => reports.extend([
                Report::Hits {
                    subject: subject.into(),
                    per_iteration: 1.0,
                },
                Report::Round {
                    subject: subject.into(),
                    round: 0,
                    ns_per_op: 1100.0,
                },
            ]),
            Some(why) => reports.push(Report::Unavailable {
                what: subject.into(),
                why: why.into(),
            }),
        }
        let boot = Boot {
            verdict: Verdict::Completed,
            reports,
            log: "x.log".into(),
            tail: Vec::new(),
            secs: 1.0,
            command: String::new(),
            ended: None,
            panic: None,
        };
        let kinds = vec![(subject.to_string(), "empty".to_string(), None)];
        digest(&boot, (arch, release, kernel, "tcg", true), &kinds)
    }

    /// A completed arm64 boot of `kernel` with the empty fentry baseline
    /// run or refused.
    fn fentry_boot(kernel: &str, fentry_ran: bool) -> ArchResult {
        let why = (!fentry_ran).then_some("attaching: Unknown error 524");
        let mut r = one_subject_boot(("arm64", "r", kernel), EMPTY_FENTRY, why);
        r.btf = Some(true);
        r
    }

    /// A completed x86_64 boot of `release` whose empty kprobe-multi
    /// subject attached (and was timed) or was refused.
    fn multi_boot(release: &str, attached: bool) -> ArchResult {
        let why = (!attached).then_some("Operation not supported (os error 95)");
        let target = ("x86_64", release, "6.12.57+deb13-cloud-amd64");
        one_subject_boot(target, EMPTY_KPROBE_MULTI, why)
    }

    #[test]
    fn the_kprobe_multi_link_is_held_against_the_arch_table() {
        // x86_64: no link in bookworm, the link in trixie.
        let mut r = multi_boot("bookworm", false);
        r.check_kprobe_multi(Arch::X86_64);
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        assert!(r.notes[0].contains("not on this kernel"), "{:?}", r.notes);
        assert!(r.notes[0].contains("os error 95"), "{:?}", r.notes);
        let mut r = multi_boot("trixie", true);
        r.check_kprobe_multi(Arch::X86_64);
        assert!(r.failures.is_empty() && r.notes.is_empty(), "{r:?}");
        // Each contradiction fails, naming the table's row.
        let mut r = multi_boot("trixie", false);
        r.check_kprobe_multi(Arch::X86_64);
        assert!(
            r.failures[0].contains("says x86_64 trixie has the kprobe-multi link"),
            "{:?}",
            r.failures
        );
        let mut r = multi_boot("bookworm", true);
        r.check_kprobe_multi(Arch::X86_64);
        assert!(
            r.failures[0].contains("the table is wrong"),
            "{:?}",
            r.failures
        );
        // A release the table has no row for: a note of what happened.
        let mut r = multi_boot("forky", true);
        r.check_kprobe_multi(Arch::X86_64);
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        assert!(r.notes[0].contains("no kprobe-multi row"), "{:?}", r.notes);
        // The runtime's feature probe must agree with the kernel.
        let mut r = multi_boot("trixie", true);
        r.kprobe_multi_probe = Some(true);
        r.check_kprobe_multi(Arch::X86_64);
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        let mut r = multi_boot("trixie", true);
        r.kprobe_multi_probe = Some(false);
        r.check_kprobe_multi(Arch::X86_64);
        assert_eq!(
            r.failures,
            ["the runtime's kprobe-multi feature probe says no, but the kernel attached the link"]
        );
        let mut r = multi_boot("bookworm", false);
        r.kprobe_multi_probe = Some(true);
        r.check_kprobe_multi(Arch::X86_64);
        assert!(
            r.failures[0].contains("says yes, but the kernel refused"),
            "{:?}",
            r.failures
        );
        // No overhead run: nothing to hold the table against.
        let mut r = multi_boot("trixie", true);
        r.overhead.clear();
        r.check_kprobe_multi(Arch::X86_64);
        assert!(r.failures.is_empty() && r.notes.is_empty(), "{r:?}");
    }

    #[test]
    fn kernel_btf_is_held_against_the_arch_table() {
        let boot = |kernel: &str, btf: Option<bool>| {
            let mut r = one_subject_boot(("ppc64le", "r", kernel), EMPTY_FENTRY, None);
            r.btf = btf;
            r.check_btf(Arch::Ppc64le);
            r.failures
        };
        // Debian's ppc64le has BTF from 6.12: as the configs say, no failure.
        assert!(boot("6.1.0-50-powerpc64le", Some(false)).is_empty());
        assert!(boot("6.12.107+deb13-powerpc64le", Some(true)).is_empty());
        // A config that says otherwise fails the boot, either way.
        let f = boot("6.1.0-50-powerpc64le", Some(true));
        assert!(
            f[0].contains("BTF from 6.12, but 6.1.0-50-powerpc64le has it"),
            "{f:?}"
        );
        let f = boot("6.12.107+deb13-powerpc64le", Some(false));
        assert!(f[0].contains("has none"), "{f:?}");
        // No config read: nothing to hold the table against.
        assert!(boot("6.1.0-50-powerpc64le", None).is_empty());
    }

    #[test]
    fn unaligned_access_is_held_against_the_arch_table() {
        let boot = |arch: Arch, has: bool| {
            let mut r = one_subject_boot((arch.name(), "r", "6.12.117+deb13"), EMPTY_FENTRY, None);
            r.check_unaligned_access(arch, has);
            r.failures
        };
        assert!(boot(Arch::Riscv64, false).is_empty());
        assert!(boot(Arch::Arm64, true).is_empty());
        let f = boot(Arch::Riscv64, true);
        assert!(f[0].contains("riscv64's Debian kernels lack"), "{f:?}");
        let f = boot(Arch::S390x, false);
        assert!(f[0].contains("does not set"), "{f:?}");
    }

    #[test]
    fn trampolines_are_held_against_the_arch_table() {
        // arm64 has them from 6.4: 6.1 refusing fentry agrees, with a note.
        let mut old = fentry_boot("6.1.0-50-arm64", false);
        old.check_trampolines(Arch::Arm64);
        assert!(old.failures.is_empty(), "{:?}", old.failures);
        assert!(
            old.notes[0].contains("arm64 has BPF trampolines from 6.4"),
            "{:?}",
            old.notes
        );
        assert!(old.notes[0].contains("524"), "{:?}", old.notes);
        // 6.12 refusing it contradicts the table.
        let mut new = fentry_boot("6.12.117+deb13-arm64", false);
        new.check_trampolines(Arch::Arm64);
        assert!(
            new.failures[0].contains("says arm64 6.12 has BPF trampolines"),
            "{:?}",
            new.failures
        );
        // 6.1 running it contradicts the table the other way.
        let mut ran = fentry_boot("6.1.0-50-arm64", true);
        ran.check_trampolines(Arch::Arm64);
        assert!(
            ran.failures[0].contains("the table is wrong"),
            "{:?}",
            ran.failures
        );
        // Without BTF no kernel can, whatever its trampolines.
        let mut no_btf = fentry_boot("6.12.117+deb13-arm64", false);
        no_btf.btf = Some(false);
        no_btf.check_trampolines(Arch::Arm64);
        assert!(no_btf.failures.is_empty() && no_btf.notes[0].contains("no BTF"));
        // Nor without a JIT, which builds them (Debian's s390x).
        let mut no_jit = fentry_boot("6.12.107+deb13-s390x", false);
        no_jit.jit = None;
        no_jit.check_trampolines(Arch::S390x);
        assert!(no_jit.failures.is_empty() && no_jit.notes[0].contains("no BPF JIT"));
        let mut fine = fentry_boot("6.12.117+deb13-arm64", true);
        fine.check_trampolines(Arch::Arm64);
        assert!(fine.failures.is_empty() && fine.notes.is_empty());
    }

    #[test]
    fn a_tracing_subject_refused_where_fentry_runs_is_a_failure() {
        let twin = Unavailable {
            what: "x@fentry (clang)".into(),
            why: "loading: Permission denied".into(),
        };
        // No trampolines: the twin is unavailable, as the empty fentry is.
        let mut old = fentry_boot("6.1.0-50-arm64", false);
        old.unavailable.push(twin.clone());
        old.check_trampolines(Arch::Arm64);
        assert!(old.failures.is_empty(), "{:?}", old.failures);
        // Trampolines: the kernel refused the twin for itself (not so the
        // kprobe-multi link, which arm64 6.12 has not).
        let mut new = fentry_boot("6.12.117+deb13-arm64", true);
        new.unavailable.push(Unavailable {
            what: EMPTY_KPROBE_MULTI.into(),
            why: "Operation not supported (os error 95)".into(),
        });
        new.unavailable.push(twin);
        new.check_trampolines(Arch::Arm64);
        assert_eq!(
            new.failures,
            [
                "x@fentry (clang): refused, though the kernel ran empty_fentry: \
              loading: Permission denied"
            ]
        );
    }

    #[test]
    fn a_table_check_that_could_not_run_says_why_not_two_empty_values() {
        assert_eq!(
            table_failure(
                "argument registers",
                "",
                "",
                "attaching to do_sys_openat2: EINVAL"
            ),
            "table check argument registers could not run: attaching to do_sys_openat2: EINVAL"
        );
        assert_eq!(
            table_failure(
                "syscall prefix",
                "__x64_sys_",
                "",
                "no __x64_sys_read in kallsyms"
            ),
            "table check syscall prefix: probecc::arch says __x64_sys_, the kernel says  \
             (no __x64_sys_read in kallsyms)"
        );
    }

    #[test]
    fn a_specs_cost_is_over_its_workload_alone_and_its_empty_probe() {
        let cost = |subject: &str, round, ns| Report::Cost {
            spec: "reads".into(),
            subject: subject.into(),
            round,
            ns,
            runs: 2,
        };
        let hits = |subject: &str, hits| Report::CostHits {
            spec: "reads".into(),
            subject: subject.into(),
            hits,
        };
        let reports = vec![
            hits("empty", 1000),
            hits("spec", 1000),
            cost("none", 0, 2_000_000.0),
            cost("empty", 0, 2_350_000.0),
            cost("spec", 0, 2_900_000.0),
            cost("none", 1, 2_000_100.0),
            cost("empty", 1, 2_350_100.0),
            cost("spec", 1, 2_900_100.0),
        ];
        let c = &costs(&reports)[0];
        assert_eq!(c.spec, "reads");
        assert_eq!((c.rounds, c.runs), (2, 2));
        assert_eq!(c.baseline, Some(2_000_050.0));
        assert_eq!(c.added_per_hit, Some(900.0));
        assert_eq!(c.empty_added_per_hit, Some(350.0));
        assert_eq!(c.over_empty_per_hit, Some(550.0));
        assert_eq!(c.noise_per_hit, Some(0.1));
        // The spread is the widest of the three subjects' rounds.
        let mut wide = reports.clone();
        wide.push(cost("spec", 2, 2_905_000.0));
        assert_eq!(costs(&wide)[0].noise_per_hit, Some(5.0));
        // No hits: no figure per hit, and nothing made up.
        let none = costs(&[hits("spec", 0), cost("none", 0, 1.0), cost("spec", 0, 2.0)]);
        assert_eq!(none[0].added_per_hit, None);
        assert_eq!(none[0].over_empty_per_hit, None);
    }

    #[test]
    fn added_cost_is_over_the_baseline_and_per_hit() {
        let round = |s: &str, v: f64| Report::Round {
            subject: s.into(),
            round: 0,
            ns_per_op: v,
        };
        let reports = vec![
            round("no probe", 1000.0),
            round("no probe", 1010.0),
            round("no probe", 990.0),
            round("x", 1600.0),
            round("x (clang)", 1400.0),
            Report::Hits {
                subject: "x".into(),
                per_iteration: 2.0,
            },
            Report::Hits {
                subject: "x (clang)".into(),
                per_iteration: 2.0,
            },
        ];
        let kinds = vec![
            ("no probe".into(), "baseline".into(), None),
            ("x".into(), "fixture".into(), None),
            ("x (clang)".into(), "clang".into(), Some("x".into())),
        ];
        let s = overhead(&reports, &kinds);
        assert_eq!(s[0].median, 1000.0);
        assert_eq!(s[1].added_per_iteration, Some(600.0));
        assert_eq!(s[1].added_per_hit, Some(300.0));
        assert_eq!(s[2].added_per_hit, Some(200.0));
        assert_eq!(s[1].ours_vs_clang, Some(1.5));
    }

    #[test]
    fn a_fentry_build_is_held_to_the_clang_twin_built_as_fentry() {
        let timed = |s: &str, ns: f64| {
            [
                Report::Round {
                    subject: s.into(),
                    round: 0,
                    ns_per_op: ns,
                },
                Report::Hits {
                    subject: s.into(),
                    per_iteration: 1.0,
                },
            ]
        };
        let kinds = |twins: &[&str]| -> Kinds {
            let mut k: Kinds = vec![
                ("no probe".into(), "baseline".into(), None),
                ("x".into(), "fixture".into(), None),
                ("x@fentry".into(), "fixture".into(), None),
            ];
            k.extend(
                twins
                    .iter()
                    .map(|t| (format!("{t} (clang)"), "clang".into(), Some(t.to_string()))),
            );
            k
        };
        let mut reports: Vec<Report> = [
            timed("no probe", 1000.0),
            timed("x", 1600.0),
            timed("x (clang)", 1500.0),
            timed("x@fentry", 1300.0),
        ]
        .concat();
        // The kernel refused the fentry twin: ours as fentry has no ratio,
        // and is not held to the kprobe twin instead.
        let s = overhead(&reports, &kinds(&["x", "x@fentry"]));
        let ratio = |s: &[SubjectStats], name: &str| {
            s.iter().find(|x| x.subject == name).unwrap().ours_vs_clang
        };
        assert_eq!(ratio(&s, "x"), Some(1.2));
        assert_eq!(ratio(&s, "x@fentry"), None);
        reports.extend(timed("x@fentry (clang)", 1250.0));
        let s = overhead(&reports, &kinds(&["x", "x@fentry"]));
        assert_eq!(ratio(&s, "x"), Some(1.2), "600 over 500");
        assert_eq!(ratio(&s, "x@fentry"), Some(1.2), "300 over 250");
        assert_eq!(ratio(&s, "x@fentry (clang)"), None, "a twin is not ours");
    }
}
