//! Many functions attached at once, by bpftrace and by `probecc trace`
//! (as it chooses, and as one kprobe per function) in the same guest:
//! for each glob of the plan a counting probe, run to completion around a
//! command that does nothing (`-c /bin/pworkload`), each tool in turn,
//! interleaved over the runs. What is timed is the whole command, because
//! bpftrace says `Attaching N probes...` before it attaches them. One
//! `PROBECC-SCALE <json>` line per glob and tool; the host takes the
//! medians (`cargo xtask parity --attach-scale vfs_*,1000`).
//!
//! A number N stands for a family of functions, `PREFIX_*`, whose size
//! is nearest N; the families that the tools' own work runs through
//! (BPF, perf, tracing, RCU, locking, interrupts, the scheduler) are never
//! chosen, so that no tool traces itself attaching.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Command;
use std::time::Duration;

use probecc::error::chain;
use probecc_guest::protocol::{
    AttachScalePlan, Report, ScaleReport, ScaleRun, BPFTRACE, PROBECC, SCALE_MARK,
};
use probecc_runtime::live::kernel;

use crate::sys::report;
use crate::{parity, tool};

/// Families no tool is asked to trace en masse.
const LEFT_OUT: [&str; 20] = [
    "__", "arch_", "bpf_", "fprobe_", "ftrace_", "irq_", "kprobe_", "kprobes_", "lock_", "native_",
    "perf_", "preempt_", "raw_", "rcu_", "rethook_", "sched_", "text_", "trace_", "tracing_",
    "x86_",
];

/// bpftrace's `BPFTRACE_MAX_PROBES` for these runs.
const MAX_PROBES: &str = "100000";

/// A run longer than this is killed.
const TIMEOUT: Duration = Duration::from_secs(600);
/// A tool whose first run took longer than this runs once only.
const SLOW_SECS: f64 = 120.0;

/// The family of `name`: its text up to and including the first `_`
/// after a lowercase word (`tcp_v4_rcv` → `tcp_`), if it has one.
fn family(name: &str) -> Option<&str> {
    let end = name.find('_')?;
    let word = &name[..end];
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    plain.then(|| &name[..=end])
}

/// The glob (`PREFIX_*`) whose match count among `names` is nearest
/// `target`, with that count; families in [`LEFT_OUT`] are not chosen.
pub fn pattern_near(names: &[String], target: usize) -> Option<(String, usize)> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for n in names {
        if let Some(f) = family(n).filter(|f| !LEFT_OUT.iter().any(|l| f.starts_with(l))) {
            *counts.entry(f).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .min_by_key(|(_, n)| n.abs_diff(target))
        .map(|(f, n)| (format!("{f}*"), n))
}

/// `Attaching N probes...` → N.
fn attached(text: &str) -> Option<usize> {
    text.lines()
        .find_map(|l| l.strip_prefix("Attaching "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The last lines of `stderr`, shortened.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let text = lines[lines.len().saturating_sub(4)..].join("\n");
    text.chars().take(600).collect()
}

/// One run of `tool` (its program and leading arguments) on `script`.
fn run_once(tool: &[&str], script: &str) -> ScaleRun {
    crate::workload::fresh_tmp();
    let mut cmd = Command::new(tool[0]);
    cmd.args(&tool[1..])
        .args(["-e", script, "-c", &format!("/bin/{}", parity::APPLET)])
        .env("PATH", "/bin:/usr/bin")
        .env("HOME", "/tmp");
    // bpftrace refuses more than 512 probes unless told it may attach
    // more (its own limit, not the kernel's).
    cmd.env("BPFTRACE_MAX_PROBES", MAX_PROBES);
    let ran = tool::run(cmd, TIMEOUT);
    let text = format!("{}\n{}", ran.stdout, ran.stderr);
    ScaleRun {
        secs: ran.secs,
        status: ran.status,
        attached: attached(&text),
        attach_secs: ran.attach_secs,
        stderr: tail(&ran.stderr),
    }
}

/// The tools, by name: the program and its leading arguments.
const TOOLS: [(&str, &[&str]); 3] = [
    ("bpftrace", &[BPFTRACE]),
    ("probecc trace", &[PROBECC, "trace"]),
    (
        "probecc trace, one kprobe per function",
        &[PROBECC, "trace", "--multi", "never", "--attach", "kprobe"],
    ),
];

pub fn run(plan: &AttachScalePlan) {
    let names = match kernel::traceable() {
        Ok((_, names)) => names,
        Err(e) => {
            return report(&Report::Error {
                what: "attach scale".into(),
                error: chain(&e),
            })
        }
    };
    for glob in &plan.globs {
        match resolve(glob, &names) {
            Some((pattern, matched)) => measure(&pattern, matched, plan.runs),
            None => report(&Report::Error {
                what: format!("attach scale {glob}"),
                error: "no traceable function of this kernel matches".into(),
            }),
        }
    }
}

/// A glob as given, or a number as the family nearest it; with how many
/// of `names` it matches (none: `None`).
fn resolve(glob: &str, names: &[String]) -> Option<(String, usize)> {
    match glob.parse::<usize>() {
        Ok(n) => pattern_near(names, n),
        Err(_) => {
            let matched = probecc::symbols::expand(glob, names).len();
            (matched > 0).then(|| (glob.to_string(), matched))
        }
    }
}

/// Every tool's runs on `kprobe:PATTERN`, interleaved, one result line
/// per tool.
fn measure(pattern: &str, matched: usize, runs: u32) {
    let script = format!("kprobe:{pattern} {{ @ = count(); }}");
    let mut reports: Vec<ScaleReport> = TOOLS
        .iter()
        .map(|(name, _)| ScaleReport {
            pattern: pattern.to_string(),
            matched,
            tool: name.to_string(),
            runs: Vec::new(),
        })
        .collect();
    for round in 0..runs.max(1) {
        for ((_, argv), r) in TOOLS.iter().zip(reports.iter_mut()) {
            let slow = r.runs.first().is_some_and(|f| f.secs > SLOW_SECS);
            if round > 0 && slow {
                continue;
            }
            r.runs.push(run_once(argv, &script));
        }
    }
    let mut out = std::io::stdout().lock();
    for r in &reports {
        let json = serde_json::to_string(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        let _ = out.write_all(format!("{SCALE_MARK}{json}\n").as_bytes());
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(spec: &[(&str, usize)]) -> Vec<String> {
        spec.iter()
            .flat_map(|(prefix, n)| (0..*n).map(move |i| format!("{prefix}f{i}")))
            .collect()
    }

    #[test]
    fn the_family_nearest_the_target_is_chosen() {
        let n = names(&[("tcp_", 400), ("xfs_", 1900), ("ext4_", 900), ("vfs_", 80)]);
        assert_eq!(pattern_near(&n, 1000), Some(("ext4_*".into(), 900)));
        assert_eq!(pattern_near(&n, 100), Some(("vfs_*".into(), 80)));
        assert_eq!(pattern_near(&n, 5000), Some(("xfs_*".into(), 1900)));
    }

    #[test]
    fn the_tools_own_families_and_odd_names_are_never_chosen() {
        let n = names(&[
            ("bpf_", 1000),
            ("trace_", 1000),
            ("__x64_", 1000),
            ("tcp_", 10),
        ]);
        assert_eq!(pattern_near(&n, 1000), Some(("tcp_*".into(), 10)));
        assert_eq!(family("Tcp_x"), None);
        assert_eq!(family("nounderscore"), None);
        assert_eq!(family("_leading"), None);
        assert_eq!(pattern_near(&[], 1000), None);
    }

    #[test]
    fn a_glob_is_taken_as_given_and_a_number_as_a_family() {
        let n = names(&[("tcp_", 400), ("vfs_", 80)]);
        assert_eq!(resolve("vfs_*", &n), Some(("vfs_*".into(), 80)));
        assert_eq!(resolve("tcp_f1*", &n).map(|r| r.1), Some(111));
        assert_eq!(resolve("300", &n), Some(("tcp_*".into(), 400)));
        assert_eq!(resolve("xfs_*", &n), None);
    }

    #[test]
    fn the_attach_count_is_read_from_either_tools_line() {
        assert_eq!(attached("x\nAttaching 1012 probes...\n"), Some(1012));
        assert_eq!(attached("Attaching 1 probe...\n"), Some(1));
        assert_eq!(attached("nothing"), None);
    }
}
