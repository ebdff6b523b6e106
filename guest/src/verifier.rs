//! The guest's kernel as the judge of `cargo xtask verifier-diff --arch`:
//! each corpus object loaded with the runtime's loader (its maps created,
//! its global data set as the object holds it) and its one program
//! verified, never attached; one `PROBECC-VERIFIER <json>` line per
//! program with the verdict and the end of the verifier's log, or the
//! loader's error when the program never reached the kernel.
//!
//! A refused program is verified first with the summary log (its error
//! and statistics): a program that walks a million instructions writes
//! tens of megabytes with the full log, and the loader verifies it again
//! for every larger buffer it tries, which took most of an emulated
//! guest's run. Only a refusal that walked fewer than [`FULL_LOG_WALK`]
//! instructions (or says nothing of its walk) is verified again for the
//! full log, the one verifier-sim's messages are compared with.

use std::io::Write;
use std::time::Instant;

use probecc::error::chain;
use probecc_guest::protocol::{VerifierCase, VerifierReport, VERIFIER_LOG_LINES, VERIFIER_MARK};
use probecc_runtime::live::{LiveError, LoadOptions, Loaded, VerifierLog};

/// The walk, in instructions, under which a refusal's full log is read.
pub const FULL_LOG_WALK: u64 = 20_000;

/// Judges one case and prints its result line.
pub fn run(case: &VerifierCase) {
    let report = judge(case);
    let json = serde_json::to_string(&report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{VERIFIER_MARK}{json}\n").as_bytes());
    let _ = out.flush();
}

fn judge(case: &VerifierCase) -> VerifierReport {
    let t0 = Instant::now();
    let mut report = VerifierReport {
        name: case.name.clone(),
        ..VerifierReport::default()
    };
    let verdict = std::fs::read(&case.object)
        .map_err(|e| format!("{}: {e}", case.object))
        .and_then(|bytes| {
            let summary = verify(&bytes, &case.program, VerifierLog::Summary)?;
            match summary {
                Err(LiveError::Rejected { ref log, .. })
                    if walked(log).is_none_or(|n| n < FULL_LOG_WALK) =>
                {
                    verify(&bytes, &case.program, VerifierLog::Full)
                }
                other => Ok(other),
            }
        });
    match verdict {
        Err(loader) => report.loader = Some(loader),
        Ok(Ok(())) => report.accepted = true,
        Ok(Err(LiveError::Rejected { log, .. })) => report.log = tail(&log),
        Ok(Err(other)) => report.loader = Some(chain(&other)),
    }
    report.millis = t0.elapsed().as_millis() as u64;
    report
}

/// The object loaded with `log` and its program verified: the loader's
/// error, or the verifier's verdict.
fn verify(bytes: &[u8], program: &str, log: VerifierLog) -> Result<Result<(), LiveError>, String> {
    let options = LoadOptions {
        verifier_log: log,
        ..LoadOptions::default()
    };
    let mut object = Loaded::load_with(bytes, &options).map_err(|e| chain(&e))?;
    Ok(object.verify(program))
}

/// The instructions the verifier walked, from its statistics line
/// (`processed N insns (limit 1000000) ...`), if the log has one.
fn walked(log: &str) -> Option<u64> {
    log.lines().rev().find_map(|l| {
        l.strip_prefix("processed ")?
            .split_once(" insns")?
            .0
            .parse()
            .ok()
    })
}

/// The log's last [`VERIFIER_LOG_LINES`] lines.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(VERIFIER_LOG_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_logs_end() {
        let log: String = (0..100).map(|i| format!("{i}\n")).collect();
        let t = tail(&log);
        assert_eq!(t.lines().count(), VERIFIER_LOG_LINES);
        assert_eq!(t.lines().last(), Some("99"));
        assert_eq!(tail("one"), "one");
    }

    #[test]
    fn the_walk_is_read_from_the_statistics_line() {
        let log = "R1 invalid mem access\nprocessed 1000001 insns (limit 1000000) max_states_per_insn 4\n";
        assert_eq!(walked(log), Some(1_000_001));
        assert_eq!(walked("processed 12 insns (limit 1000000)"), Some(12));
        assert_eq!(
            walked("BPF program is too large. Processed 1000001 insn"),
            None
        );
        assert_eq!(walked(""), None);
    }

    #[test]
    fn a_missing_object_is_the_loaders_refusal() {
        let r = judge(&VerifierCase {
            name: "x".into(),
            object: "/nonexistent/x.o".into(),
            program: "p".into(),
        });
        assert!(!r.accepted);
        assert!(r
            .loader
            .as_deref()
            .is_some_and(|l| l.contains("/nonexistent/x.o")));
    }
}
