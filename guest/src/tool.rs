//! One run of a tracing tool (bpftrace, `probecc trace`) measured: its
//! stdout and stderr, its exit status (minus the signal that killed it),
//! its time from start to the line that says it is attaching (`Attaching
//! N probes...` in text, on either stream, or a JSON `attached_probes`
//! record), and its peak resident set (`VmHWM` of `/proc/PID/status`,
//! sampled while it runs: the peak is at compile and load, long before
//! it exits). A run longer than its timeout is killed.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use probecc_guest::protocol::ParitySide;

/// How often the resident set is sampled.
const SAMPLE: Duration = Duration::from_millis(20);

/// What one run did.
#[derive(Debug, Default)]
pub struct Ran {
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
    pub secs: f64,
    pub attach_secs: Option<f64>,
    pub peak_rss_kb: Option<u64>,
}

impl Ran {
    /// The run as a side of a parity case whose workload ran as `pids`.
    pub fn side(self, pids: Vec<u32>) -> ParitySide {
        ParitySide {
            stdout: self.stdout,
            stderr: self.stderr,
            status: self.status,
            pids,
            secs: self.secs,
            attach_secs: self.attach_secs,
            peak_rss_kb: self.peak_rss_kb,
            ..ParitySide::default()
        }
    }
}

/// Whether `line` says the tool is attaching its probes.
fn attaching(line: &str) -> bool {
    line.starts_with("Attaching ") || line.contains("\"attached_probes\"")
}

/// The peak resident set of process `pid` so far, in KiB.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}

/// A stream read line by line on a thread of its own: its text, and the
/// time its first attaching line came (sent on `seen`).
fn reader(
    stream: impl Read + Send + 'static,
    t0: Instant,
    seen: mpsc::Sender<f64>,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut lines = BufReader::new(stream);
        let mut line = String::new();
        while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
            if attaching(&line) {
                let _ = seen.send(t0.elapsed().as_secs_f64());
            }
            text.push_str(&line);
            line.clear();
        }
        text
    })
}

/// Runs `cmd` (its stdin closed, stdout and stderr read), killing it after
/// `timeout`.
pub fn run(mut cmd: Command, timeout: Duration) -> Ran {
    let t0 = Instant::now();
    let spawned = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return Ran {
                stderr: format!("starting {:?}: {e}", cmd.get_program()),
                status: -1,
                ..Ran::default()
            }
        }
    };
    let (seen, attach) = mpsc::channel();
    let out = child.stdout.take().map(|o| reader(o, t0, seen.clone()));
    let err = child.stderr.take().map(|e| reader(e, t0, seen));
    let mut peak = None;
    let mut killed = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(_) => break None,
        }
        peak = vm_hwm(child.id()).max(peak);
        if t0.elapsed() > timeout && !killed {
            let _ = child.kill();
            killed = true;
        }
        std::thread::sleep(SAMPLE);
    };
    let secs = t0.elapsed().as_secs_f64();
    let stdout = out.and_then(|h| h.join().ok()).unwrap_or_default();
    let mut stderr = err.and_then(|h| h.join().ok()).unwrap_or_default();
    if killed {
        stderr.push_str(&format!("\n(killed after {} s)", timeout.as_secs()));
    }
    Ran {
        stdout,
        stderr,
        status: match status {
            Some(s) => s.code().unwrap_or_else(|| -s.signal().unwrap_or(1)),
            None => -1,
        },
        secs,
        attach_secs: attach.try_iter().reduce(f64::min),
        peak_rss_kb: peak,
    }
}
