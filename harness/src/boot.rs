//! Booting one guest: the verified QEMU line for the arch (`machine`),
//! the kernel and the staged initramfs, the whole console kept in a log
//! under `target/`, the agent's `PROBECC` lines parsed as they arrive, and
//! a verdict: completed, kernel panic, hang (killed at the timeout), or a
//! guest that reported nothing. QEMU never outlives this process: it is
//! killed when its guard drops (every return path, errors included), and
//! the kernel kills it if the harness's process dies (`PR_SET_PDEATHSIG`,
//! which covers Ctrl-C too). Boots run in parallel threads, each with its
//! own QEMU, console log and spinner (all spinners in one
//! `MultiProgress`).
//!
//! Faults are reported, not lost: QEMU killed from outside or exiting
//! early ends the boot as incomplete (or silent) with the results already
//! read and how QEMU ended (`Boot::ended`: "killed by signal 9"); a panic
//! keeps the panic line (`Boot::panic`). `--append` adds kernel
//! command-line arguments, which is also how a boot failure is provoked on
//! purpose (`--append rdinit=/nonexistent` panics: no init).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, LazyLock};
use std::time::{Duration, Instant};

use crate::error::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use probecc::arch::Arch;
use probecc_guest::protocol::{Report, MARK};
use serde::Serialize;

use crate::kernels::Kernel;
use crate::machine;

/// How a boot ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The agent printed `done`.
    Completed,
    /// The kernel panicked.
    Panic,
    /// Still running at the timeout; killed.
    Hang,
    /// QEMU ended without a single result line.
    Silent,
    /// The agent's watchdog powered it off.
    Watchdog,
    /// QEMU ended after some results but before `done`.
    Incomplete,
}

impl Verdict {
    /// What went wrong, for a failure line; `None` for `Completed`.
    pub fn failure(self, boot: &Boot) -> Option<String> {
        let ended = boot
            .ended
            .as_deref()
            .map(|e| format!("; QEMU {e}"))
            .unwrap_or_default();
        let n = boot.reports.len();
        Some(match self {
            Verdict::Completed => return None,
            Verdict::Panic => format!(
                "kernel panic: {}",
                boot.panic.as_deref().unwrap_or("(no panic line)")
            ),
            Verdict::Hang => format!(
                "the guest hung: no `done` within {:.0} s; QEMU killed",
                boot.secs
            ),
            Verdict::Silent => {
                format!("the guest reported nothing before QEMU ended{ended}")
            }
            Verdict::Watchdog => "the guest's watchdog powered it off".into(),
            Verdict::Incomplete => format!(
                "the guest did not complete: QEMU ended after {n} result line(s), before `done`{ended}"
            ),
        })
    }
}

/// What one boot produced.
pub struct Boot {
    pub verdict: Verdict,
    pub reports: Vec<Report>,
    pub log: PathBuf,
    pub tail: Vec<String>,
    pub secs: f64,
    pub command: String,
    /// How QEMU ended when it ended by itself, if not with status 0:
    /// "killed by signal 9", "exited with status 1".
    pub ended: Option<String>,
    /// The kernel's panic line, if it panicked.
    pub panic: Option<String>,
}

/// How to boot.
pub struct BootSpec<'a> {
    pub arch: Arch,
    pub kernel: &'a Kernel,
    pub initramfs: &'a Path,
    pub accel: &'a str,
    /// `-icount shift=0,sleep=off`: guest ns = guest instructions.
    pub icount: bool,
    pub timeout: Duration,
    pub log: PathBuf,
    /// Extra kernel command-line arguments.
    pub append: &'a str,
}

/// The QEMU command line.
pub fn command(s: &BootSpec) -> Command {
    let mut c = Command::new(machine::qemu_binary(s.arch));
    c.args(["-accel", s.accel]);
    if s.accel == "kvm" {
        c.args(["-cpu", "host"]);
    } else {
        c.args(machine::machine_args(s.arch));
    }
    c.args(["-m", "1024", "-smp", "1", "-nographic", "-no-reboot"]);
    if s.icount {
        c.args(["-icount", "shift=0,sleep=off"]);
    }
    c.arg("-kernel").arg(&s.kernel.image);
    c.arg("-initrd").arg(s.initramfs);
    let mut append = format!(
        "console={} panic=-1 quiet loglevel=4",
        machine::console(s.arch)
    );
    if !s.append.trim().is_empty() {
        append.push(' ');
        append.push_str(s.append.trim());
    }
    c.args(["-append", &append]);
    c
}

/// Kills and reaps QEMU when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(mut cmd: Command, arch: Arch) -> Result<Guard> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill
    // this child if its parent dies.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = cmd.spawn().with_context(|| {
        format!(
            "starting `{}` (Debian's `{}`)",
            machine::qemu_binary(arch),
            machine::qemu_package(arch)
        )
    })?;
    Ok(Guard(child))
}

/// Boots and watches the guest until it ends or times out.
pub fn boot(s: &BootSpec, bar: &ProgressBar) -> Result<Boot> {
    let cmd = command(s);
    let command = format!("{cmd:?}").replace('"', "");
    if let Some(dir) = s.log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut log =
        std::fs::File::create(&s.log).with_context(|| format!("creating {}", s.log.display()))?;
    writeln!(log, "# {command}")?;
    let mut guard = spawn(cmd, s.arch)?;
    let (tx, rx) = mpsc::channel::<String>();
    for stream in [
        guard
            .0
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
        guard
            .0
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).split(b'\n').map_while(|l| l.ok()) {
                let text = String::from_utf8_lossy(&line)
                    .trim_end_matches('\r')
                    .to_string();
                if tx.send(text).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let t0 = Instant::now();
    let mut watch = Watch::default();
    let mut closed = false;
    let ended = loop {
        let left = s.timeout.saturating_sub(t0.elapsed());
        if left.is_zero() {
            break false;
        }
        match rx.recv_timeout(left.min(Duration::from_millis(500))) {
            Ok(line) => {
                writeln!(log, "{line}")?;
                watch.line(&line, bar);
                if watch.panicked && watch.panic_lines > 40 {
                    break true;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => bar.tick(),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                closed = true;
                break true;
            }
        }
    };
    // The console closed: QEMU is ending by itself; say how, if oddly.
    let how = if closed { exit_of(&mut guard.0) } else { None };
    drop(guard);
    let verdict = watch.verdict(ended);
    if let Some(how) = &how {
        writeln!(log, "# QEMU {how}")?;
    }
    writeln!(
        log,
        "# verdict: {verdict:?} after {:.1} s",
        t0.elapsed().as_secs_f64()
    )?;
    Ok(Boot {
        verdict,
        reports: watch.reports,
        log: s.log.clone(),
        tail: watch.tail.into_iter().collect(),
        secs: t0.elapsed().as_secs_f64(),
        command,
        ended: how,
        panic: watch.panic_line,
    })
}

/// How a QEMU whose output closed ended, waiting a little for it: `None`
/// for status 0 (the guest powered off) or when it is still running (the
/// guard kills it).
fn exit_of(child: &mut Child) -> Option<String> {
    use std::os::unix::process::ExitStatusExt;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(3) {
        match child.try_wait() {
            Ok(Some(status)) => {
                return match (status.code(), status.signal()) {
                    (Some(0), _) => None,
                    (Some(code), _) => Some(format!("exited with status {code}")),
                    (None, Some(sig)) => Some(format!("was killed by signal {sig}")),
                    (None, None) => Some(format!("ended: {status}")),
                };
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => return None,
        }
    }
    None
}

/// What the console has said so far.
#[derive(Default)]
struct Watch {
    reports: Vec<Report>,
    tail: std::collections::VecDeque<String>,
    panicked: bool,
    panic_line: Option<String>,
    panic_lines: usize,
    done: bool,
    watchdog: bool,
}

impl Watch {
    fn line(&mut self, line: &str, bar: &ProgressBar) {
        self.tail.push_back(printable(line));
        if self.tail.len() > 30 {
            self.tail.pop_front();
        }
        if self.panicked {
            self.panic_lines += 1;
        }
        if let Some(at) = line.find("Kernel panic") {
            self.panicked = true;
            if self.panic_line.is_none() {
                self.panic_line = Some(line[at..].trim().to_string());
            }
        }
        let Some(json) = line.find(MARK).map(|i| &line[i + MARK.len()..]) else {
            return;
        };
        match serde_json::from_str::<Report>(json) {
            Ok(r) => {
                let text = progress_text(&r);
                // Without a terminal the spinner is hidden: say the
                // milestones as plain lines instead.
                let quiet = matches!(
                    r,
                    Report::Round { .. }
                        | Report::Hits { .. }
                        | Report::Cost { .. }
                        | Report::CostHits { .. }
                );
                if bar.is_hidden() && !quiet {
                    crate::say::say(&bar.prefix(), &text);
                }
                bar.set_message(text);
                self.done |= matches!(r, Report::Done { .. });
                self.watchdog |= matches!(r, Report::Watchdog { .. });
                self.reports.push(r);
            }
            Err(e) => bar.println(format!("unparsed result line ({e}): {json}")),
        }
    }

    fn verdict(&self, ended: bool) -> Verdict {
        if self.panicked {
            Verdict::Panic
        } else if self.done {
            Verdict::Completed
        } else if self.watchdog {
            Verdict::Watchdog
        } else if !ended {
            Verdict::Hang
        } else if self.reports.is_empty() {
            Verdict::Silent
        } else {
            Verdict::Incomplete
        }
    }
}

/// A console line without terminal escape sequences and control
/// characters (the firmware clears the screen), for the tail shown in
/// messages; the log keeps the line as it came.
fn printable(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-byte; otherwise ESC and one char.
            if chars.next_if_eq(&'[').is_some() {
                while chars.next().is_some_and(|p| !('@'..='~').contains(&p)) {}
            } else {
                chars.next();
            }
        } else if !c.is_control() || c == '\t' {
            out.push(c);
        }
    }
    out.trim_end().to_string()
}

fn progress_text(r: &Report) -> String {
    match r {
        Report::Boot { kernel, .. } => format!("booted {kernel}; checking the tables"),
        Report::Table { check, .. } => format!("tables: {check}"),
        Report::Fixture { name, ok, .. } => {
            format!("attaching: {name} {}", if *ok { "ok" } else { "FAILED" })
        }
        Report::Hits { subject, .. } => format!("measuring: calibrated {subject}"),
        Report::Round { subject, round, .. } => format!("measuring: round {} {subject}", round + 1),
        Report::CostHits { spec, subject, .. } => format!("cost of {spec}: calibrated {subject}"),
        Report::Cost {
            spec,
            subject,
            round,
            ..
        } => format!("cost of {spec}: round {} {subject}", round + 1),
        Report::Error { what, .. } => format!("error: {what}"),
        Report::Unavailable { what, .. } => format!("not on this kernel: {what}"),
        Report::Watchdog { .. } => "watchdog fired".into(),
        Report::Done { .. } => "done".into(),
    }
}

/// One boot on its own under a spinner labelled `label`, a failure said
/// under `topic` with the console log's path: the boot and the whole
/// console log, for a caller that reads its own result lines from it.
pub fn boot_logged(s: &BootSpec, topic: &str, label: &str) -> Result<(Boot, String)> {
    let bar = spinner(label);
    let b = boot(s, &bar)?;
    bar.finish_with_message(format!("{:?} in {:.0} s", b.verdict, b.secs));
    if let Some(why) = b.verdict.failure(&b) {
        crate::say::say(topic, &format!("{why}; console log: {}", s.log.display()));
    }
    let text =
        std::fs::read_to_string(&s.log).with_context(|| format!("reading {}", s.log.display()))?;
    Ok((b, text))
}

/// The spinners of the boots running at once, drawn together.
static BARS: LazyLock<MultiProgress> = LazyLock::new(MultiProgress::new);

/// A spinner for one phase (one line among those of the other boots
/// running; on a terminal only).
pub fn spinner(prefix: &str) -> ProgressBar {
    let bar = BARS.add(ProgressBar::new_spinner());
    let style = ProgressStyle::with_template("{spinner} [{elapsed:>4}] {prefix}: {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_prefix(prefix.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The check that an arch can boot here: QEMU present, accel usable.
pub fn preflight(arch: Arch, accel: &str) -> Result<()> {
    if !machine::accel_ok(arch, accel) {
        bail!("--accel {accel} is not available for {arch} here (use tcg)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_drops_escapes_and_controls() {
        assert_eq!(
            printable("\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16)\r"),
            "SeaBIOS (version 1.16)"
        );
        assert_eq!(
            printable("[    1.7] Kernel panic"),
            "[    1.7] Kernel panic"
        );
    }

    /// A console that ends without `done`: the results read are kept and
    /// the verdict says how; a panic keeps its line.
    #[test]
    fn verdicts_of_consoles_that_end_early() {
        let bar = ProgressBar::hidden();
        let mut w = Watch::default();
        w.line(
            r#"PROBECC {"kind":"boot","arch":"x86_64","kernel":"6.1","cpus":1}"#,
            &bar,
        );
        assert_eq!(w.verdict(true), Verdict::Incomplete);
        assert_eq!(w.verdict(false), Verdict::Hang);
        assert_eq!(w.reports.len(), 1);
        w.line(
            "[    1.76] Kernel panic - not syncing: No working init found.",
            &bar,
        );
        assert_eq!(w.verdict(true), Verdict::Panic);
        assert_eq!(
            w.panic_line.as_deref(),
            Some("Kernel panic - not syncing: No working init found.")
        );
        assert_eq!(Watch::default().verdict(true), Verdict::Silent);
    }
}
