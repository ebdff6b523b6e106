//! An exclusive advisory lock on a file (`flock`), held until dropped, so
//! that concurrent xtask runs sharing `target/` take turns on a cache entry.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::{Context, Result};

/// Holds the lock while alive; the kernel releases it when the file closes,
/// also when the process dies.
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Blocks until the lock on `path` (created if missing) is ours,
    /// printing `waiting` once if someone else holds it.
    pub fn acquire(path: &Path, waiting: &str) -> Result<FileLock> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("opening lock file {}", path.display()))?;
        let fd = file.as_raw_fd();
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            println!("{waiting}");
            // SAFETY: as above, now blocking.
            if unsafe { libc::flock(fd, libc::LOCK_EX) } != 0 {
                return Err(std::io::Error::last_os_error())
                    .with_context(|| format!("locking {}", path.display()));
            }
        }
        Ok(FileLock { _file: file })
    }
}
