//! This machine as a live run's host ([`System`]): its clock in its local
//! zone, its users, its cgroups, its files and its shell, which the
//! records of `time()`, `strftime()`, `username`, `cgroup_path()`,
//! `cat()` and `system()` are made into text with.

use std::io::Read;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::host::Host;
use crate::strftime::WallTime;

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
