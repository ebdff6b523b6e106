//! What a spec costs under its own workload (`CostPlan`): the workload's
//! commands timed with CLOCK_MONOTONIC (under QEMU's `-icount shift=0`
//! one ns per guest instruction) with nothing attached, with an empty
//! probe on the spec's functions, and with the spec, in interleaved
//! rounds after one untimed run that warms the caches; a calibration run
//! with the kernel's BPF run statistics counts each subject's probe hits
//! per workload run. A workload that hits the spec's probes only a few
//! times is run again within each timed run, up to [`MAX_RUNS`] times or
//! [`TARGET_HITS`] hits, so that what the probes add stands out of what
//! one run of the workload varies by. Every number is printed as it is
//! measured (guest ns per workload run); the host takes the medians and
//! divides by the hits.

use std::time::Duration;

use aya::sys::{enable_stats, Stats};
use probecc::error::chain;
use probecc_guest::protocol::{CostPlan, Report, Subject};
use probecc_runtime::live::Loaded;

use crate::sys::{monotonic_ns, report};
use crate::workload;

/// The subject name of the rounds with nothing attached.
pub const NONE: &str = "none";

/// One workload command may run this long.
const TIMEOUT: Duration = Duration::from_secs(120);
/// The probe hits a timed run aims at.
pub const TARGET_HITS: u64 = 500;
/// The most workload runs in one timed run.
pub const MAX_RUNS: u64 = 30;

pub fn run(plan: &CostPlan) {
    let error = |what: String, error: String| report(&Report::Error { what, error });
    let mut subjects: Vec<(String, Option<(Loaded, &Subject)>)> = vec![(NONE.into(), None)];
    for s in &plan.subjects {
        match load(s) {
            Ok(l) => subjects.push((s.name.clone(), Some((l, s)))),
            Err(e) => return error(format!("cost of {}: {}", plan.name, s.name), e),
        }
    }
    if let Err(e) = workload_run(&plan.workload) {
        return error(format!("cost of {}: the workload", plan.name), e);
    }
    let mut spec_hits = 0;
    match enable_stats(Stats::RunTime) {
        Ok(_stats) => {
            for (name, subject) in subjects.iter_mut() {
                let Some((object, s)) = subject else { continue };
                let before = object.run_count();
                let ran = attached(object, s, || workload_run(&plan.workload));
                let hits = object.run_count() - before;
                match ran.and_then(|r| r) {
                    Ok(_) => {
                        spec_hits = spec_hits.max(hits);
                        report(&Report::CostHits {
                            spec: plan.name.clone(),
                            subject: name.clone(),
                            hits,
                        })
                    }
                    Err(e) => error(format!("cost of {}: calibrating {name}", plan.name), e),
                }
            }
        }
        Err(e) => return error("BPF run statistics".into(), e.to_string()),
    }
    let runs = TARGET_HITS.div_ceil(spec_hits.max(1)).clamp(1, MAX_RUNS);
    let repeated = || -> Result<u64, String> {
        let mut ns = 0;
        for _ in 0..runs {
            ns += workload_run(&plan.workload)?;
        }
        Ok(ns / runs)
    };
    for round in 0..plan.rounds {
        let n = subjects.len();
        for i in 0..n {
            let (name, subject) = &mut subjects[(i + round as usize) % n];
            let timed = match subject {
                Some((object, s)) => attached(object, s, repeated),
                None => Ok(repeated()),
            };
            match timed.and_then(|r| r) {
                Ok(ns) => report(&Report::Cost {
                    spec: plan.name.clone(),
                    subject: name.clone(),
                    round,
                    ns: ns as f64,
                    runs,
                }),
                Err(e) => error(format!("cost of {}: round {round} of {name}", plan.name), e),
            }
        }
    }
}

fn load(s: &Subject) -> Result<Loaded, String> {
    let mut object = Loaded::load_file(std::path::Path::new(&s.object))
        .map_err(|e| format!("{}: {}", s.object, chain(&e)))?;
    for (name, _) in &s.programs {
        object.verify(name).map_err(|e| chain(&e))?;
    }
    Ok(object)
}

/// Attaches every program of `s`, runs `f`, detaches (a failed attach
/// detaches what was attached before it).
fn attached<T>(object: &mut Loaded, s: &Subject, f: impl FnOnce() -> T) -> Result<T, String> {
    for (name, section) in &s.programs {
        if let Err(e) = object.attach(name, section) {
            object.detach_all();
            return Err(format!("attaching {section}: {}", chain(&e)));
        }
    }
    let out = f();
    object.detach_all();
    Ok(out)
}

/// Runs the workload's commands in order; the guest ns it took.
fn workload_run(lines: &[String]) -> Result<u64, String> {
    let t0 = monotonic_ns();
    for line in lines {
        workload::spawn(line, TIMEOUT).map_err(|e| format!("workload `{line}`: {e}"))?;
    }
    Ok(monotonic_ns() - t0)
}
