//! `target/corpus/report.md`: each release's summary row and, per tool,
//! its scope, the arches it compiled for, whether it loaded and printed
//! what bpftrace printed, and why not.

use std::fmt::Write as _;

use super::{equal, ReleaseRun};

/// The per-release summary, as a markdown table.
pub(super) fn summary_table(runs: &[ReleaseRun]) -> String {
    let mut md = String::from(
        "| release | tools | kprobe scope | compiled (x86_64) | compiled (all five arches) | loaded (x86_64, host kernel) | equal to bpftrace |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for r in runs {
        let s = r.summary();
        let equal = match s.equal {
            Some((ran, same)) => format!("{same} of the {ran} compared"),
            None => "not run".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} ({:.1}%) | {} | {} | {equal} |",
            r.release,
            s.tools,
            s.scope,
            s.compiled_x86,
            s.percent(),
            s.compiled_all,
            s.loaded
        );
    }
    md
}

pub(super) fn report(runs: &[ReleaseRun]) -> String {
    let mut md = String::from(
        "# The bpftrace tools of Debian's packages, compiled by probecc\n\n\
         Every `*.bt` of each release's `bpftrace` package (tools and examples), compiled \
         as published for all five arches against this host's kernel types \
         (`/sys/kernel/btf/vmlinux`); x86_64's wildcards expand against this host's \
         traceable functions, the other arches' against the lists `--symbols ARCH=FILE` gives \
         (none: the compiler's error naming `--symbols`). \"compiled\" means \
         the object was written and verifier-sim accepted every program. The x86_64 \
         objects of the kprobe-scope tools are loaded into this host's kernel and \
         verified by it. Those that compiled for x86_64 then run in a QEMU guest of the \
         release's x86_64 kernel under the release's bpftrace and under `probecc trace`, \
         around one workload (`dd` reading a file), both filtered to comm `dd`; \"equal\" \
         means the same lines with digits masked and the same map keys (values depend \
         on timing). A tool bpftrace itself cannot run there, or whose probes the \
         workload does not reach (bpftrace prints nothing it decides), is not counted.\n\n",
    );
    md.push_str(&summary_table(runs));
    for r in runs {
        let _ = writeln!(md, "\n## {}\n", r.release);
        md.push_str(
            "| tool | scope | compiled | loaded | equal | reason |\n|---|---|---|---|---|---|\n",
        );
        for o in &r.outcomes {
            let scope = if o.in_scope() {
                "kprobe".to_string()
            } else {
                format!("out: {}", o.outside.join(", "))
            };
            let ok: Vec<&str> = o
                .compiled
                .iter()
                .filter(|(_, e)| e.is_none())
                .map(|(a, _)| a.name())
                .collect();
            let compiled = match ok.len() {
                5 => "all five".to_string(),
                0 => "no".to_string(),
                _ => ok.join(", "),
            };
            let loaded = match &o.loaded {
                Some(Ok(())) => "yes",
                Some(Err(_)) => "no",
                None => "-",
            };
            let mut reasons: Vec<String> = Vec::new();
            // One line per distinct reason, with the arches it stops.
            for (arch, why) in &o.compiled {
                let Some(why) = why else { continue };
                match reasons
                    .iter_mut()
                    .find(|r| r.ends_with(&format!(": {why}")))
                {
                    Some(r) => {
                        let (archs, rest) = r.split_once(": ").unwrap_or((r, ""));
                        *r = format!("{archs}, {}: {rest}", arch.name());
                    }
                    None => reasons.push(format!("{}: {why}", arch.name())),
                }
            }
            if let Some(Err(why)) = &o.loaded {
                reasons.push(format!("load: {why}"));
            }
            let equal = match &o.equal {
                None => "-",
                Some(equal::Equality::Equal) => "yes",
                Some(equal::Equality::Differs(why)) => {
                    reasons.push(format!("equal: {why}"));
                    "no"
                }
                Some(equal::Equality::BpftraceFails(why)) => {
                    reasons.push(format!("bpftrace: {why}"));
                    "bpftrace fails"
                }
                Some(equal::Equality::NotReached) => "not reached",
            };
            let reason = reasons.join("<br>").replace('|', "\\|");
            let _ = writeln!(
                md,
                "| {} | {scope} | {compiled} | {loaded} | {equal} | {} |",
                o.name,
                if reason.is_empty() { "".into() } else { reason }
            );
        }
    }
    md
}
