//! The guest's kernel as the judge of `cargo xtask verifier-diff --arch`:
//! each corpus object loaded with the runtime's loader (its maps created,
//! its global data set as the object holds it) and its one program
//! verified, never attached; one `PROBECC-VERIFIER <json>` line per
//! program with the verdict and the end of the verifier's log, or the
//! loader's error when the program never reached the kernel.

use std::io::Write;
use std::time::Instant;

use probecc::error::chain;
use probecc_guest::protocol::{VerifierCase, VerifierReport, VERIFIER_LOG_LINES, VERIFIER_MARK};
use probecc_runtime::live::{LiveError, Loaded};

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
        .and_then(|bytes| Loaded::load(&bytes).map_err(|e| chain(&e)))
        .map(|mut object| object.verify(&case.program));
    match verdict {
        Err(loader) => report.loader = Some(loader),
        Ok(Ok(())) => report.accepted = true,
        Ok(Err(LiveError::Rejected { log, .. })) => report.log = tail(&log),
        Ok(Err(other)) => report.loader = Some(chain(&other)),
    }
    report.millis = t0.elapsed().as_millis() as u64;
    report
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
