//! The command `-c CMD` traces: split at spaces and found on `PATH` as
//! bpftrace finds it, forked before the object is loaded (so its pid is
//! known before anything runs) and held before `exec` until the probes are
//! attached, so that nothing it does escapes them; released, it is the
//! command. It never outlives the trace: dropped before it ran, it is
//! killed; a trace that ends while it runs stops it with `SIGTERM`, as
//! bpftrace does.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::input::BadInput;

/// A forked command, held before `exec` or running.
pub struct Held {
    pid: libc::pid_t,
    /// The pipe the child waits on: one byte releases it, closing it
    /// without one makes it exit.
    gate: Option<OwnedFd>,
    /// Its exit status, once reaped.
    status: Option<libc::c_int>,
}

/// `cmd`'s words, the first resolved to the file it runs.
fn resolve(cmd: &str) -> Result<(PathBuf, Vec<String>), BadInput> {
    let words: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
    let Some(program) = words.first() else {
        return Err(BadInput::Arguments("-c needs a command".into()));
    };
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let found = if program.contains('/') {
        Some(PathBuf::from(program)).filter(|p| executable(p))
    } else {
        let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
        std::env::split_paths(&path)
            .map(|d| d.join(program))
            .find(|p| executable(p))
    };
    let file = found.ok_or_else(|| {
        BadInput::Arguments(format!(
            "-c {cmd}: {program} is not an executable file{}",
            if program.contains('/') {
                ""
            } else {
                " on PATH"
            }
        ))
    })?;
    Ok((file, words))
}

fn c_string(s: &[u8]) -> Result<CString, BadInput> {
    CString::new(s).map_err(|_| BadInput::Arguments("-c: a command holds a NUL byte".into()))
}

impl Held {
    /// `cmd` forked and held. A command that is not found is bad input.
    pub fn spawn(cmd: &str) -> Result<Held, anyhow::Error> {
        let (file, words) = resolve(cmd)?;
        // Everything the child touches is made before the fork: between
        // fork and exec only async-signal-safe calls are allowed.
        let file = c_string(OsStr::new(&file).as_bytes())?;
        let argv: Vec<CString> = words
            .iter()
            .map(|w| c_string(w.as_bytes()))
            .collect::<Result<_, _>>()?;
        let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error().into());
        }
        // SAFETY: pipe2 just returned these descriptors to us.
        let (wait_end, gate) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: the child runs only async-signal-safe calls (close, read,
        // signal, execv, _exit) on memory prepared above.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error().into());
        }
        if pid == 0 {
            // SAFETY: see above; the child never returns from this block.
            unsafe {
                libc::close(gate.as_raw_fd());
                let mut byte = 0u8;
                loop {
                    let n = libc::read(wait_end.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
                    if n == 1 {
                        break;
                    }
                    if n == 0 || *libc::__errno_location() != libc::EINTR {
                        // The trace ended (or failed) before the probes
                        // were attached: the command must not run.
                        libc::_exit(1);
                    }
                }
                // Rust ignores SIGPIPE; the command gets the default.
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::execv(file.as_ptr(), argv_ptrs.as_ptr());
                libc::_exit(127);
            }
        }
        drop(wait_end);
        Ok(Held {
            pid,
            gate: Some(gate),
            status: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Lets the command run.
    pub fn release(&mut self) -> io::Result<()> {
        let Some(gate) = self.gate.take() else {
            return Ok(());
        };
        // SAFETY: one byte from a valid buffer to the pipe we own.
        let n = unsafe { libc::write(gate.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        if n == 1 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Whether the command has exited (reaping it if so).
    pub fn exited(&mut self) -> bool {
        if self.status.is_some() {
            return true;
        }
        let mut status = 0;
        // SAFETY: waiting for our own child, without blocking.
        let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        if r == self.pid || r < 0 {
            self.status = Some(status);
        }
        self.status.is_some()
    }

    /// Ends the command: `SIGTERM` if it still runs (`SIGKILL` if it
    /// never ran), then reaps it.
    pub fn stop(&mut self) {
        if self.exited() {
            return;
        }
        let signal = if self.gate.is_some() {
            libc::SIGKILL
        } else {
            libc::SIGTERM
        };
        self.gate = None;
        let mut status = 0;
        // SAFETY: signalling and reaping our own child.
        unsafe {
            libc::kill(self.pid, signal);
            libc::waitpid(self.pid, &mut status, 0);
        }
        self.status = Some(status);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_split_at_spaces_and_found_on_path() {
        let (file, words) = resolve("sh -c  true").unwrap();
        assert!(file.ends_with("sh") && file.is_absolute(), "{file:?}");
        assert_eq!(words, ["sh", "-c", "true"]);
        let e = resolve("no-such-command-here x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "-c no-such-command-here x: no-such-command-here is not an executable file on PATH"
        );
        let e = resolve("/etc/passwd").unwrap_err();
        assert_eq!(
            e.to_string(),
            "-c /etc/passwd: /etc/passwd is not an executable file"
        );
        assert!(resolve("  ").is_err());
    }

    #[test]
    fn a_held_command_runs_only_once_released() {
        let dir = std::env::temp_dir().join(format!("probecc-held-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mark = dir.join("ran");
        let cmd = format!("touch {}", mark.display());
        let mut held = Held::spawn(&cmd).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!held.exited(), "it waits");
        assert!(!mark.exists(), "it has not run");
        held.release().unwrap();
        while !held.exited() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(mark.exists(), "it ran");
        // Dropped unreleased, it never runs.
        let _ = std::fs::remove_file(&mark);
        let held = Held::spawn(&cmd).unwrap();
        drop(held);
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!mark.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_running_command_is_stopped() {
        let mut held = Held::spawn("sleep 30").unwrap();
        held.release().unwrap();
        let t = std::time::Instant::now();
        held.stop();
        assert!(held.exited());
        assert!(t.elapsed().as_secs() < 5);
    }
}
