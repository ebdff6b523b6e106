//! The process's open-file limit raised to what it may be: every loaded
//! program, map and attachment is a file descriptor, so a wildcard over a
//! thousand functions attached one at a time needs a few thousand, past
//! the usual soft limit of 1,024 (the kernel then says "Too many open
//! files" at the next load). The soft limit goes up to the hard limit,
//! which needs no privilege; once per process, before the first load.

use std::io;
use std::sync::OnceLock;

/// The soft limit after raising it (or why it could not be read or set).
pub fn raise_open_files() -> &'static Result<libc::rlim_t, String> {
    static RAISED: OnceLock<Result<libc::rlim_t, String>> = OnceLock::new();
    RAISED.get_or_init(|| raise().map_err(|e| format!("RLIMIT_NOFILE: {e}")))
}

fn raise() -> io::Result<libc::rlim_t> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for the kernel to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit; raising the soft limit up to
        // the hard one is allowed to any process.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(io::Error::last_os_error());
        }
        lim = raised;
    }
    Ok(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> libc::rlimit {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid rlimit for the kernel to fill.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        lim
    }

    #[test]
    fn a_lowered_soft_limit_goes_back_up_to_the_hard_one() {
        let hard = limits().rlim_max;
        let low = libc::rlimit {
            rlim_cur: 64.min(hard),
            rlim_max: hard,
        };
        // SAFETY: a valid rlimit, lowering only the soft limit.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &low) }, 0);
        assert_eq!(raise().expect("raised"), hard);
        assert_eq!(limits().rlim_cur, hard);
        // The once-per-process entry point agrees.
        assert_eq!(raise_open_files().clone(), Ok(hard));
    }
}
