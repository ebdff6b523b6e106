//! A run in this kernel as the manifest says a runner makes it, and as
//! bpftrace runs a script: the `begin` programs run once
//! (`BPF_PROG_TEST_RUN`) before any kprobe is attached, the kprobes
//! attached, each `interval` program run at its period while they are
//! ([`Session::poll`]), the kprobes detached, the `end` programs run; each
//! record of the ring buffer acted on in the order it arrived (the
//! runtime's `exec`: its text printed, a map printed as it is then,
//! cleared or zeroed, `exit()` ending the run), then every map read.
//! [`System`] is the host a live run prints the time, files and commands
//! of.

use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use probecc::lang::manifest::{Manifest, ProgramKind};

use super::{LiveError, Loaded};
use crate::decode::MapDump;
use crate::exec::{self, Step};
use crate::host::Host;
use crate::ksyms::Ksyms;
use crate::output::{Chunk, Output};
use crate::strftime::WallTime;

/// Records acted on per drain at most: a program that floods the ring
/// buffer cannot keep a drain from ending.
const MAX_RECORDS: usize = 100_000;

/// An object's run.
pub struct Session {
    loaded: Loaded,
    manifest: Manifest,
    ksyms: Ksyms,
    chunks: Vec<Chunk>,
    /// `exit()`'s status, once a record asked for it.
    exit: Option<i64>,
    /// Each interval program, its period and when it runs next.
    intervals: Vec<(String, Duration, Instant)>,
}

impl Session {
    /// `loaded` started: its `begin` programs run, in order, and their
    /// records acted on; no kprobe attached yet. Stack frames are named by
    /// `ksyms`.
    pub fn begin(loaded: Loaded, manifest: Manifest, ksyms: Ksyms) -> Result<Session, LiveError> {
        let now = Instant::now();
        let intervals = manifest
            .programs
            .iter()
            .filter_map(|p| match p.kind {
                ProgramKind::Interval { period_ns } => {
                    let period = Duration::from_nanos(period_ns.max(1));
                    Some((p.name.clone(), period, now + period))
                }
                _ => None,
            })
            .collect();
        let mut s = Session {
            loaded,
            manifest,
            ksyms,
            chunks: Vec::new(),
            exit: None,
            intervals,
        };
        s.run_all(ProgramKind::Begin)?;
        Ok(s)
    }

    /// Every kprobe and kretprobe attached; the ones that failed, by
    /// section, with why.
    pub fn attach(&mut self) -> Vec<(String, LiveError)> {
        self.loaded.attach_all(&self.manifest)
    }

    /// The interval programs that are due run (each once, however late),
    /// and the waiting records are acted on.
    pub fn poll(&mut self) -> Result<(), LiveError> {
        let now = Instant::now();
        for i in 0..self.intervals.len() {
            let (name, period, next) = self.intervals[i].clone();
            if next <= now && self.exit.is_none() {
                self.loaded.test_run(&name)?;
                self.intervals[i].2 = next.max(now - period) + period;
            }
        }
        self.drain()
    }

    /// When the next interval program is due, if there is one.
    pub fn next_due(&self) -> Option<Instant> {
        self.intervals.iter().map(|(_, _, next)| *next).min()
    }

    /// `exit()`'s status, once a record asked for it.
    pub fn exited(&self) -> Option<i64> {
        self.exit
    }

    /// The object, to read or measure.
    pub fn loaded(&self) -> &Loaded {
        &self.loaded
    }

    /// The run ended: the kprobes detached, the waiting records acted on,
    /// the `end` programs run (after an `exit()` too, as bpftrace's END)
    /// and their records acted on, and every map read.
    pub fn end(mut self) -> Result<Output, LiveError> {
        self.loaded.detach_all();
        self.drain()?;
        self.exit = None;
        self.run_all(ProgramKind::End)?;
        let mut maps: Vec<MapDump> = Vec::with_capacity(self.manifest.maps.len());
        for m in &self.manifest.maps {
            maps.push(self.loaded.map(&self.manifest, m, &self.ksyms)?);
        }
        maps.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Output {
            chunks: self.chunks,
            maps,
        })
    }

    /// The programs of `kind` run in manifest order, each one's records
    /// acted on before the next runs.
    fn run_all(&mut self, kind: ProgramKind) -> Result<(), LiveError> {
        let names: Vec<String> = self
            .manifest
            .programs
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| p.name.clone())
            .collect();
        for name in names {
            self.loaded.test_run(&name)?;
            self.drain()?;
        }
        Ok(())
    }

    /// The records waiting in the ring buffer acted on, in order; after
    /// `exit()` they are dropped.
    fn drain(&mut self) -> Result<(), LiveError> {
        let Some(ring) = self.manifest.ringbuf.clone() else {
            return Ok(());
        };
        for record in self.loaded.records(&ring, MAX_RECORDS)? {
            if self.exit.is_some() {
                continue;
            }
            let step = self
                .loaded
                .with_decoder(&self.manifest, &self.ksyms, |d| exec::step(&record, d))?;
            match step {
                Step::Print(c) => self.chunks.push(c),
                Step::PrintMap { map, top, div } => {
                    let dump =
                        self.loaded
                            .map(&self.manifest, &self.manifest.maps[map], &self.ksyms)?;
                    self.chunks.push(Chunk::Print(dump.shown(top, div)));
                }
                Step::Clear(map) => self.loaded.clear(&self.manifest.maps[map])?,
                Step::Zero(map) => self.loaded.zero(&self.manifest.maps[map])?,
                Step::Exit(code) => self.exit = Some(code),
            }
        }
        Ok(())
    }
}

/// This machine: its clock in its local zone, its users (`/etc/passwd`),
/// its cgroups (the cgroup2 hierarchy under `/sys/fs/cgroup`, named
/// `unified:/path` as bpftrace names them), its files (a file that cannot
/// be read prints nothing), its shell.
#[derive(Clone, Copy, Debug, Default)]
pub struct System;

/// The wall-clock time `since` the epoch, in this machine's local zone.
fn local(since: Duration) -> WallTime {
    let secs = since.as_secs() as libc::time_t;
    // SAFETY: `tm` is plain data that localtime_r fills; both pointers
    // are valid for the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let local = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    let zone = if local && !tm.tm_zone.is_null() {
        // SAFETY: tm_zone points at a NUL-terminated name of the C
        // library's zone data.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    } else {
        "UTC".to_string()
    };
    WallTime {
        secs: since.as_secs() as i64,
        nanos: since.subsec_nanos(),
        offset: if local { tm.tm_gmtoff as i32 } else { 0 },
        zone,
    }
}

impl Host for System {
    fn now(&self) -> WallTime {
        local(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
        )
    }

    fn boot(&self) -> WallTime {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // SAFETY: `ts` is plain data clock_gettime fills.
        let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let up = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        local(now.saturating_sub(up))
    }

    fn username(&self, uid: u64) -> String {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        crate::host::user_in(&passwd, uid)
    }

    fn cgroup_path(&self, id: u64) -> String {
        use std::os::unix::fs::MetadataExt;
        let root = std::path::Path::new("/sys/fs/cgroup");
        let mut todo = vec![root.to_path_buf()];
        while let Some(dir) = todo.pop() {
            if std::fs::metadata(&dir).is_ok_and(|m| m.ino() == id) {
                let rel = dir.strip_prefix(root).unwrap_or(&dir);
                return format!("unified:/{}", rel.display());
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            todo.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
        String::new()
    }

    fn cat(&self, path: &str, max: usize) -> String {
        let mut bytes = Vec::new();
        let read = std::fs::File::open(path)
            .and_then(|f| f.take(max as u64).read_to_end(&mut bytes).map(|_| ()));
        match read {
            Ok(()) => String::from_utf8_lossy(&bytes).into_owned(),
            // bpftrace prints nothing on stdout either.
            Err(_) => String::new(),
        }
    }

    fn system(&self, command: &str) -> String {
        Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_default()
    }
}
