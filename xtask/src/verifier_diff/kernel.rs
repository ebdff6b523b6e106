//! The ground truth: the host kernel's verifier, through libbpf as
//! `bpftool prog loadall OBJ /sys/fs/bpf/DIR` (root). bpftool prints the
//! verifier log when a load fails; its last meaningful line is the kernel's
//! message. Pins are removed right after each load.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// What the kernel (or, before it, libbpf) said about one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelVerdict {
    pub accepted: bool,
    /// The verifier log's last meaningful line, or libbpf's error when the
    /// program never reached the kernel.
    pub message: Option<String>,
    /// Every line of the error: the log's lines after the last instruction
    /// it printed, trailers left out (`message` is the last of them). The
    /// kernel sometimes says more than one thing (`invalid access to map
    /// value, value_size=48 off=44 size=8`, then `R0 min value is outside
    /// of the allowed memory range`).
    pub error: Vec<String>,
    /// True when libbpf refused the object before any BPF_PROG_LOAD.
    pub by_loader: bool,
    pub millis: u128,
}

/// Lines of the verifier log that follow the message rather than state it.
const TRAILERS: &[&str] = &[
    "processed ",
    // 7.x's count, before the `processed` line
    "insns processed ",
    "verification time",
    "stack depth",
    "cur state:",
    "old state:",
    "func#",
];

/// The kernel's message in bpftool's stderr: the last line of the verifier
/// log (between libbpf's BEGIN/END PROG LOAD LOG markers) that is not a
/// statistics or state trailer.
pub fn log_message(stderr: &str) -> Option<String> {
    log_error(stderr).pop()
}

/// The lines of the verifier log's error: those after the last printed
/// instruction (`12: (79) r0 = ...`) or source line (`; ...`), trailers
/// left out.
pub fn log_error(stderr: &str) -> Vec<String> {
    let Some(begin) = stderr.rfind("-- BEGIN PROG LOAD LOG --") else {
        return vec![];
    };
    let log = &stderr[begin..];
    let log = log.find('\n').map_or("", |i| &log[i + 1..]);
    let log = log.split("-- END PROG LOAD LOG --").next().unwrap_or(log);
    let lines: Vec<&str> = log
        .lines()
        .map(|l| {
            // messages printed without a newline run into the statistics
            match l.find("processed ") {
                Some(i) if i > 0 && l[i..].contains(" insns (limit ") => &l[..i],
                _ => l,
            }
        })
        .map(str::trim)
        .filter(|l| !l.is_empty() && !TRAILERS.iter().any(|t| l.starts_with(t)))
        .collect();
    let start = lines
        .iter()
        .rposition(|l| is_insn_line(l) || l.starts_with(';'))
        .map_or(0, |i| i + 1);
    let mut error: Vec<String> = lines[start..].iter().map(|l| l.to_string()).collect();
    if error.is_empty() {
        // the error names the instruction it printed last
        error.extend(lines.last().map(|l| l.to_string()));
    }
    error
}

/// `12: (79) r0 = *(u64 *)(r1 +0)` or a state line `12: R0=...`.
fn is_insn_line(l: &str) -> bool {
    let digits = l.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && l[digits..].starts_with(": ")
}

/// libbpf's own complaint when nothing reached the verifier.
fn loader_message(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .find(|l| l.starts_with("libbpf: ") && !l.contains("failed to load object"))
        .or_else(|| stderr.lines().find(|l| l.starts_with("Error: ")))
        .map(|l| l.trim().to_string())
}

/// Loads `obj` with bpftool, pinning under `pin` (removed afterwards).
/// bpftool's stderr goes to `log`, cut to its last 200 lines once read
/// (a log of a million processed instructions runs to tens of MB).
pub fn load(obj: &Path, pin: &Path, log: &Path, timeout: Duration) -> Result<KernelVerdict> {
    let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let start = Instant::now();
    let mut child = Command::new("bpftool")
        .args(["prog", "loadall"])
        .arg(obj)
        .arg(pin)
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .context("running bpftool")?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(pin);
            bail!(
                "bpftool did not finish loading {} in {timeout:?}",
                obj.display()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let millis = start.elapsed().as_millis();
    let _ = std::fs::remove_dir_all(pin);
    let mut stderr = String::new();
    std::fs::File::open(log)?.read_to_string(&mut stderr)?;
    let tail: Vec<&str> = stderr.lines().collect();
    let tail = tail[tail.len().saturating_sub(200)..].join("\n");
    std::fs::write(log, &tail)?;
    if status.success() {
        return Ok(KernelVerdict {
            accepted: true,
            message: None,
            error: vec![],
            by_loader: false,
            millis,
        });
    }
    let error = log_error(&stderr);
    let (message, by_loader) = match error.last() {
        Some(m) => (Some(m.clone()), false),
        None => (loader_message(&stderr), true),
    };
    Ok(KernelVerdict {
        accepted: false,
        message,
        error,
        by_loader,
        millis,
    })
}

/// The running kernel's release, e.g. `6.18.44-fc-v669`.
pub fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// major.minor of a kernel release string.
pub fn version_of(release: &str) -> Option<probecc::arch::KernelVersion> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some(probecc::arch::KernelVersion(major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOP: &str = "libbpf: prog 'p': BPF program load failed: Invalid argument
libbpf: prog 'p': -- BEGIN PROG LOAD LOG --
Global function p() doesn't return scalar. Only those are supported.
2: (15) if r0 == 0x0 goto pc-2        ; R0=0
infinite loop detected at insn 1
cur state: R0=0 R1=1 R10=fp0
old state: R0=P0 R1=1 R10=fp0
processed 10 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0
-- END PROG LOAD LOG --
libbpf: prog 'p': failed to load: -22
libbpf: failed to load object 'p.o'
";

    #[test]
    fn the_message_is_the_last_line_before_the_trailers() {
        assert_eq!(
            log_message(LOOP).as_deref(),
            Some("infinite loop detected at insn 1")
        );
        let glued = "-- BEGIN PROG LOAD LOG --\n3: (85) call bpf_tail_call#12\nexpected prog array map for tail callprocessed 3 insns (limit 1000000) max_states_per_insn 0\n-- END PROG LOAD LOG --\n";
        assert_eq!(
            log_message(glued).as_deref(),
            Some("expected prog array map for tail call")
        );
        let plain = "-- BEGIN PROG LOAD LOG --\nR0 !read_ok\nverification time 5 usec\nstack depth 0\nprocessed 1 insns (limit 1000000)\n-- END PROG LOAD LOG --\n";
        assert_eq!(log_message(plain).as_deref(), Some("R0 !read_ok"));
        let seven = "-- BEGIN PROG LOAD LOG --\n8: (79) r0 = *(u64 *)(r0 +3)\nmisaligned value access off 0+3 size 8\nverification time 1855 usec\nstack depth 8 max 0\ninsns processed 8\nprocessed 8 insns (limit 1000000)\n-- END PROG LOAD LOG --\n";
        assert_eq!(
            log_message(seven).as_deref(),
            Some("misaligned value access off 0+3 size 8")
        );
        assert_eq!(log_error(LOOP), ["infinite loop detected at insn 1"]);
        let two = "-- BEGIN PROG LOAD LOG --\n8: (79) r0 = *(u64 *)(r0 +44)\ninvalid access to map value, value_size=48 off=44 size=8\nR0 min value is outside of the allowed memory range\nprocessed 9 insns\n-- END PROG LOAD LOG --\n";
        assert_eq!(
            log_error(two),
            [
                "invalid access to map value, value_size=48 off=44 size=8",
                "R0 min value is outside of the allowed memory range"
            ]
        );
    }

    #[test]
    fn no_log_means_the_loader_refused() {
        let s = "libbpf: prog 'x': no .text section found yet sub-program call exists\nlibbpf: failed to load object 'x.o'\n";
        assert_eq!(log_message(s), None);
        assert_eq!(
            loader_message(s).as_deref(),
            Some("libbpf: prog 'x': no .text section found yet sub-program call exists")
        );
    }

    #[test]
    fn versions_parse_from_releases() {
        use probecc::arch::KernelVersion;
        assert_eq!(version_of("6.18.44-fc-v669"), Some(KernelVersion(6, 18)));
        assert_eq!(
            version_of("6.1.0-27-cloud-amd64"),
            Some(KernelVersion(6, 1))
        );
        assert_eq!(version_of("x"), None);
    }
}
