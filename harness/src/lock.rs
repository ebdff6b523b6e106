//! An exclusive advisory lock on a file (`flock`), held until dropped, so
//! that concurrent xtask runs sharing `target/` take turns on a cache entry
//! or an output directory. The holder writes its pid and command line into
//! the file, so that a run that has to wait can say whom it waits for. The
//! kernel drops the lock when its holder dies, so a killed run never leaves
//! a lock behind (the file stays; it is only a name to lock).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::{Context, Result};

/// Holds the lock while alive; the kernel releases it when the file closes,
/// also when the process dies.
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Blocks until the lock on `path` (created if missing) is ours,
    /// printing `waiting` once, with the holder, if someone else holds it.
    pub fn acquire(path: &Path, waiting: &str) -> Result<FileLock> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .with_context(|| format!("opening lock file {}", path.display()))?;
        let fd = file.as_raw_fd();
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            crate::say::line(&waiting_line(waiting, holder.trim(), std::process::id()));
            // SAFETY: as above, now blocking.
            if unsafe { libc::flock(fd, libc::LOCK_EX) } != 0 {
                return Err(std::io::Error::last_os_error())
                    .with_context(|| format!("locking {}", path.display()));
            }
        }
        // Who holds it now: for the next run's waiting message only.
        let me = format!(
            "pid {}: {}\n",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(me.as_bytes()));
        Ok(FileLock { _file: file })
    }
}

/// What a waiter says: `waiting`, and who holds the lock, from the
/// holder's `pid N: command` line; the waiter's own pid is another part
/// of the same run (a matrix and its parity run fetch the same kernel).
fn waiting_line(waiting: &str, holder: &str, own_pid: u32) -> String {
    if holder.is_empty() {
        waiting.to_string()
    } else if holder.starts_with(&format!("pid {own_pid}:")) {
        format!("{waiting} (held by another part of this run)")
    } else {
        format!("{waiting} (held by {holder})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiter_names_the_holder_or_says_it_is_its_own_run() {
        assert_eq!(waiting_line("w", "", 7), "w");
        assert_eq!(
            waiting_line("w", "pid 8: xtask matrix", 7),
            "w (held by pid 8: xtask matrix)"
        );
        assert_eq!(
            waiting_line("w", "pid 7: xtask matrix", 7),
            "w (held by another part of this run)"
        );
        assert_eq!(
            waiting_line("w", "pid 70: xtask matrix", 7),
            "w (held by pid 70: xtask matrix)"
        );
    }

    /// A second holder in this process waits until the first is dropped
    /// (flock locks belong to open file descriptions, so two opens in one
    /// process exclude each other like two processes do).
    #[test]
    fn a_second_holder_waits_for_the_first() {
        let dir = std::env::temp_dir().join(format!("xtask-lock-{}", std::process::id()));
        let path = dir.join("x.lock");
        let first = FileLock::acquire(&path, "unexpected wait").expect("first lock");
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        let waiter = std::thread::spawn(move || {
            let _second = FileLock::acquire(&p, "waiting").expect("second lock");
            let _ = tx.send(());
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "the second holder got the lock while the first held it"
        );
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            holder.contains(&format!("pid {}", std::process::id())),
            "{holder}"
        );
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the second holder got the lock after the first dropped it");
        let _ = waiter.join();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
