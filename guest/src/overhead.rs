//! What a probe hit costs: a tight loop of 1-byte reads from /dev/zero
//! and writes to /dev/null, timed with CLOCK_MONOTONIC (under QEMU's
//! `-icount shift=0` one ns per guest instruction), in interleaved rounds
//! over the subjects (nothing attached, empty kprobe, empty kretprobe,
//! fixtures, their clang twins). A calibration run with the kernel's BPF
//! run statistics on counts each subject's probe hits per iteration.
//! Every number is printed as it is measured; the host does the medians.

use std::fs::File;
use std::io::{Read, Write};

use aya::sys::{enable_stats, Stats};
use probecc::error::chain;
use probecc_guest::protocol::{OverheadPlan, Report, Subject};
use probecc_runtime::live::{self, multi};

use crate::sys::{monotonic_ns, report, set_comm};

/// A subject ready to attach: its object loaded, programs verified.
struct Loaded {
    subject: Subject,
    object: Option<live::Loaded>,
}

pub fn run(plan: &OverheadPlan) {
    set_comm("dd");
    let mut loaded = Vec::new();
    for s in &plan.subjects {
        match load(s) {
            Ok(l) => loaded.push(l),
            Err(e) => report(&refused(s, format!("overhead subject {}", s.name), e)),
        }
    }
    let mut io = match Loop::open() {
        Ok(io) => io,
        Err(e) => {
            return report(&Report::Error {
                what: "overhead loop".into(),
                error: e,
            })
        }
    };
    let hit = calibrate(&mut loaded, &mut io, plan.calibration_iterations);
    loaded.retain(|s| s.object.is_none() || hit.contains(&s.subject.name));
    for round in 0..plan.rounds {
        // Rotate the order each round so no subject always runs first.
        let n = loaded.len().max(1);
        for i in 0..loaded.len() {
            let s = &mut loaded[(i + round as usize) % n];
            match timed(s, &mut io, plan.iterations) {
                Ok(ns) => report(&Report::Round {
                    subject: s.subject.name.clone(),
                    round,
                    ns_per_op: ns,
                }),
                Err(e) => report(&Report::Error {
                    what: format!("round {round} of {}", s.subject.name),
                    error: e,
                }),
            }
        }
    }
    set_comm("init");
}

fn load(s: &Subject) -> Result<Loaded, String> {
    if s.object.is_empty() {
        return Ok(Loaded {
            subject: s.clone(),
            object: None,
        });
    }
    let mut object = live::Loaded::load_file(std::path::Path::new(&s.object))
        .map_err(|e| format!("{}: {}", s.object, chain(&e)))?;
    // A kprobe-multi program is loaded for its link when it attaches.
    for (name, _) in s.programs.iter().filter(|(_, sec)| !multi::is_multi(sec)) {
        object.verify(name).map_err(|e| chain(&e))?;
    }
    Ok(Loaded {
        subject: s.clone(),
        object: Some(object),
    })
}

/// The loop's two file descriptors and its byte.
struct Loop {
    zero: File,
    null: File,
    buf: [u8; 1],
}

impl Loop {
    fn open() -> Result<Loop, String> {
        Ok(Loop {
            zero: File::open("/dev/zero").map_err(|e| format!("/dev/zero: {e}"))?,
            null: File::options()
                .write(true)
                .open("/dev/null")
                .map_err(|e| format!("/dev/null: {e}"))?,
            buf: [0],
        })
    }

    fn spin(&mut self, n: u64) {
        for _ in 0..n {
            let _ = self.zero.read(&mut self.buf);
            let _ = self.null.write(&self.buf);
        }
    }
}

/// Attaches every program of `s`, runs `f`, detaches (a failed attach
/// detaches what was attached before it). A kprobe-multi program attaches
/// by one kprobe-multi link on its listed functions, or its pattern's
/// functions on this kernel, and by nothing else.
fn attached<T>(s: &mut Loaded, f: impl FnOnce() -> T) -> Result<T, String> {
    if let Some(object) = s.object.as_mut() {
        for (name, section) in &s.subject.programs {
            let r = if multi::is_multi(section) {
                attach_multi(object, &s.subject, name, section)
            } else {
                object.attach(name, section).map_err(|e| chain(&e))
            };
            if let Err(e) = r {
                object.detach_all();
                return Err(e);
            }
        }
    }
    let out = f();
    if let Some(object) = s.object.as_mut() {
        object.detach_all();
    }
    Ok(out)
}

/// Program `name` attached by one kprobe-multi link on the functions the
/// plan lists for it, else its section's pattern matched against this
/// kernel's traceable functions.
fn attach_multi(
    object: &mut live::Loaded,
    subject: &Subject,
    name: &str,
    section: &str,
) -> Result<(), String> {
    let listed = subject.functions.get(name).cloned().unwrap_or_default();
    let funcs = multi::functions_here(section, &listed).map_err(|e| chain(&e))?;
    if funcs.is_empty() {
        return Err(format!("{section}: no function of this kernel matches"));
    }
    object
        .attach_multi_link(name, section, &funcs)
        .map_err(|e| chain(&e))
}

fn timed(s: &mut Loaded, io: &mut Loop, n: u64) -> Result<f64, String> {
    attached(s, || {
        let t0 = monotonic_ns();
        io.spin(n);
        (monotonic_ns() - t0) as f64 / n as f64
    })
}

/// Hits per iteration of each subject, from the programs' run counts;
/// the names of the subjects the loop hits.
fn calibrate(loaded: &mut [Loaded], io: &mut Loop, n: u64) -> Vec<String> {
    let mut hit = Vec::new();
    let _stats = match enable_stats(Stats::RunTime) {
        Ok(fd) => fd,
        Err(e) => {
            report(&Report::Error {
                what: "BPF run statistics".into(),
                error: e.to_string(),
            });
            // Without counts every subject is timed.
            return loaded.iter().map(|s| s.subject.name.clone()).collect();
        }
    };
    for s in loaded.iter_mut() {
        let before = run_count(s);
        let r = attached(s, || io.spin(n));
        let after = run_count(s);
        match r {
            Ok(()) => {
                if after > before {
                    hit.push(s.subject.name.clone());
                }
                report(&Report::Hits {
                    subject: s.subject.name.clone(),
                    per_iteration: (after - before) as f64 / n.max(1) as f64,
                })
            }
            Err(e) => report(&refused(
                &s.subject,
                format!("calibrating {}", s.subject.name),
                e,
            )),
        }
    }
    hit
}

/// A subject's load or attach refused: unavailable for a tracing subject
/// (a kernel without trampolines refuses fentry) or a kprobe-multi one (a
/// kernel without the link refuses it), which the host checks against the
/// arch table; an error for any other.
fn refused(s: &Subject, what: String, error: String) -> Report {
    if s.tracing || s.multi {
        Report::Unavailable {
            what: s.name.clone(),
            why: error,
        }
    } else {
        Report::Error { what, error }
    }
}

fn run_count(s: &Loaded) -> u64 {
    s.object.as_ref().map_or(0, live::Loaded::run_count)
}
