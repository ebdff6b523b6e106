//! bpffs at `/sys/fs/bpf`, where the tests (and `cargo xtask
//! verifier-diff`) pin what they load into the host kernel: mounted when
//! it is not, idempotently and once per process at a time, so no test
//! depends on another having run first.

use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;

/// Where bpffs is mounted.
pub const DIR: &str = "/sys/fs/bpf";

/// Why bpffs could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum BpffsError {
    #[error("{DIR} is not a bpffs, and mounting one needs root")]
    NotRoot,
    #[error("creating {DIR}: {0}")]
    CreateDir(std::io::Error),
    #[error("running mount: {0}")]
    Spawn(std::io::Error),
    #[error("`mount -t bpf bpf {DIR}` failed ({status}): {stderr}")]
    Mount { status: ExitStatus, stderr: String },
    #[error("`mount -t bpf bpf {DIR}` succeeded, yet {DIR} is not a bpffs")]
    NotMounted,
}

/// Whether a bpffs is mounted at [`DIR`].
pub fn mounted() -> bool {
    std::fs::read_to_string("/proc/self/mounts").is_ok_and(|m| is_bpffs_at_dir(&m))
}

/// Whether the mount table `mounts` (`/proc/self/mounts`'s format) has a
/// bpffs at [`DIR`].
fn is_bpffs_at_dir(mounts: &str) -> bool {
    mounts.lines().any(|l| {
        let mut f = l.split(' ');
        let (_, at, kind) = (f.next(), f.next(), f.next());
        at == Some(DIR) && kind == Some("bpf")
    })
}

/// Makes sure a bpffs is mounted at [`DIR`]: nothing when one is, else
/// `mount -t bpf bpf /sys/fs/bpf` (as root).
pub fn ensure() -> Result<(), BpffsError> {
    static LOCK: Mutex<()> = Mutex::new(());
    let _held = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if mounted() {
        return Ok(());
    }
    if !crate::need::is_root() {
        return Err(BpffsError::NotRoot);
    }
    std::fs::create_dir_all(DIR).map_err(BpffsError::CreateDir)?;
    let out = Command::new("mount")
        .args(["-t", "bpf", "bpf", DIR])
        .stdin(Stdio::null())
        .output()
        .map_err(BpffsError::Spawn)?;
    if !out.status.success() {
        return Err(BpffsError::Mount {
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    if mounted() {
        Ok(())
    } else {
        Err(BpffsError::NotMounted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bpffs_at_sys_fs_bpf_counts() {
        let bpffs = "bpf /sys/fs/bpf bpf rw,relatime 0 0\n";
        assert!(is_bpffs_at_dir(&format!("proc /proc proc rw 0 0\n{bpffs}")));
        assert!(!is_bpffs_at_dir("bpf /mnt/bpf bpf rw 0 0\n"));
        assert!(!is_bpffs_at_dir("tmpfs /sys/fs/bpf tmpfs rw 0 0\n"));
        assert!(!is_bpffs_at_dir(""));
    }

    /// As root it mounts bpffs when it is not there, and only then (to see
    /// the mount happen, run it in a mount namespace of its own after
    /// `umount /sys/fs/bpf`: `unshare -m`).
    #[test]
    #[ignore = "needs root"]
    fn ensure_mounts_bpffs_once() {
        if !crate::require(&[crate::Need::Root]) {
            return;
        }
        let at_dir = || {
            let mounts = std::fs::read_to_string("/proc/self/mounts").expect("mounts");
            mounts
                .lines()
                .filter(|l| l.split(' ').nth(1) == Some(DIR))
                .count()
        };
        let (was, before) = (mounted(), at_dir());
        ensure().expect("bpffs mounted");
        assert!(mounted());
        ensure().expect("still mounted");
        let added = at_dir() - before;
        assert_eq!(added, usize::from(!was), "mounts added at {DIR}");
    }
}
