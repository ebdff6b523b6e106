//! Booting one guest: the verified QEMU line for the arch (`machine`),
//! the kernel and the staged initramfs, the whole console kept in a log
//! under `target/`, the agent's `PROBECC` lines parsed as they arrive, and
//! a verdict: completed, kernel panic, hang (killed at the timeout), or a
//! guest that reported nothing. QEMU never outlives this process: it is
//! killed when its guard drops (every return path, errors included), and
//! the kernel kills it if xtask itself dies (`PR_SET_PDEATHSIG`, which
//! covers Ctrl-C too).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use probecc::arch::Arch;
use probecc_guest::protocol::{Report, MARK};
use serde::Serialize;

use crate::kernels::Kernel;
use crate::machine;

#[derive(clap::Args)]
pub struct QemuArgs {
    /// Architecture to boot
    #[arg(long, default_value = "x86_64")]
    pub arch: String,
    /// Debian release of the kernel (bookworm, trixie, sid); default:
    /// bookworm, riscv64 sid
    #[arg(long)]
    pub release: Option<String>,
    /// Boot this kernel image instead of a Debian one
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// Only these fixtures (comma-separated); default all
    #[arg(long)]
    pub only: Option<String>,
    /// Skip the overhead measurement
    #[arg(long)]
    pub no_overhead: bool,
    #[command(flatten)]
    pub run: RunFlags,
}

/// The flags `qemu` and `matrix` share.
#[derive(clap::Args)]
pub struct RunFlags {
    /// QEMU accelerator: tcg, or kvm (x86_64 on a host with working KVM)
    #[arg(long, default_value = "tcg")]
    pub accel: String,
    /// Interleaved overhead rounds
    #[arg(long, default_value_t = 5)]
    pub rounds: u32,
    /// Loop iterations per overhead round
    #[arg(long, default_value_t = 2000)]
    pub iterations: u64,
    /// Seconds before a guest counts as hung
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
}

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

/// What one boot produced.
pub struct Boot {
    pub verdict: Verdict,
    pub reports: Vec<Report>,
    pub log: PathBuf,
    pub tail: Vec<String>,
    pub secs: f64,
    pub command: String,
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
    let append = format!(
        "console={} panic=-1 quiet loglevel=4",
        machine::console(s.arch)
    );
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

fn spawn(mut cmd: Command) -> Result<Guard> {
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
    let child = cmd.spawn().context("starting QEMU")?;
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
    let mut guard = spawn(cmd)?;
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
            Err(mpsc::RecvTimeoutError::Disconnected) => break true,
        }
    };
    drop(guard);
    let verdict = watch.verdict(ended);
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
    })
}

/// What the console has said so far.
#[derive(Default)]
struct Watch {
    reports: Vec<Report>,
    tail: std::collections::VecDeque<String>,
    panicked: bool,
    panic_lines: usize,
    done: bool,
    watchdog: bool,
}

impl Watch {
    fn line(&mut self, line: &str, bar: &ProgressBar) {
        self.tail.push_back(line.to_string());
        if self.tail.len() > 30 {
            self.tail.pop_front();
        }
        if self.panicked {
            self.panic_lines += 1;
        }
        if line.contains("Kernel panic") {
            self.panicked = true;
        }
        let Some(json) = line.find(MARK).map(|i| &line[i + MARK.len()..]) else {
            return;
        };
        match serde_json::from_str::<Report>(json) {
            Ok(r) => {
                let text = progress_text(&r);
                // Without a terminal the spinner is hidden: say the
                // milestones as plain lines instead.
                if bar.is_hidden() && !matches!(r, Report::Round { .. } | Report::Hits { .. }) {
                    println!("{}: {text}", bar.prefix());
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

fn progress_text(r: &Report) -> String {
    match r {
        Report::Boot { kernel, .. } => format!("booted {kernel}; checking the tables"),
        Report::Table { check, .. } => format!("tables: {check}"),
        Report::Fixture { name, ok, .. } => {
            format!("attaching: {name} {}", if *ok { "ok" } else { "FAILED" })
        }
        Report::Hits { subject, .. } => format!("measuring: calibrated {subject}"),
        Report::Round { subject, round, .. } => format!("measuring: round {} {subject}", round + 1),
        Report::Error { what, .. } => format!("error: {what}"),
        Report::Watchdog { .. } => "watchdog fired".into(),
        Report::Done { .. } => "done".into(),
    }
}

/// A spinner for one phase.
pub fn spinner(prefix: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
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
