//! Workloads: real commands of the guest (busybox's applets, linked into
//! `/bin` at boot, and files the host added), one command line at a time,
//! its words split as a shell splits them (quotes, backslashes; no
//! expansion: `sh -c '...'` is there for that). Each runs as a child
//! process of its own name, so probes see the command's comm, and its pid
//! is known. The agent waits for it blocked (never polling: under
//! `-icount` an idle guest's clock jumps ahead, which a timed run must
//! not count), and kills it at the timeout. Its stdin and stdout are
//! copies of one `/dev/null` the agent opened at boot ([`open_null`]), so
//! starting a command opens no file while the specs are attached: a spec
//! that counts opens sees the workload's, not the agent's.

use std::fs::File;
use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use probecc_guest::protocol::PATH;

/// A finished workload command.
pub struct Ran {
    pub pid: u32,
    /// A remark when it exited non-zero (some are meant to, like `cat
    /// /nonexistent`): the status and the first line it printed to stderr.
    pub note: Option<String>,
}

/// `/dev/null`, opened once by [`open_null`].
static NULL: OnceLock<Option<File>> = OnceLock::new();

/// Opens `/dev/null` for the workloads' stdin and stdout; called at boot,
/// before anything is attached.
pub fn open_null() {
    NULL.get_or_init(|| {
        File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .ok()
    });
}

/// A copy (`dup`, not `open`) of the `/dev/null` opened at boot; a fresh
/// open where there is none (a process that did not call [`open_null`]).
fn null() -> Stdio {
    NULL.get()
        .and_then(|f| f.as_ref())
        .and_then(|f| f.try_clone().ok())
        .map_or_else(Stdio::null, Stdio::from)
}

/// Runs one workload command line as a child process, killing it after
/// `timeout`. A command that is not in the guest is an error naming it.
pub fn spawn(line: &str, timeout: Duration) -> Result<Ran, String> {
    let words = words(line)?;
    let Some((command, args)) = words.split_first() else {
        return Err("an empty command line".into());
    };
    let program = find(command).ok_or_else(|| {
        format!(
            "no command `{command}` in the guest (busybox has no such applet; \
             add a static binary of your own with --guest-file)"
        )
    })?;
    let mut child = Command::new(&program)
        .arg0(command)
        .args(args)
        .env("PATH", PATH.join(":"))
        .stdin(null())
        .stdout(null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", program.display()))?;
    let pid = child.id();
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut e) = stderr {
            let _ = e.read_to_string(&mut text);
        }
        text
    });
    let (done, wait) = mpsc::channel::<()>();
    let killer = std::thread::spawn(move || {
        if wait.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
            // SAFETY: kill(2) of our own child, which has not been reaped
            // (the main thread is still waiting for it).
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            return true;
        }
        false
    });
    let status = child
        .wait()
        .map_err(|e| format!("waiting for `{line}`: {e}"))?;
    let _ = done.send(());
    let killed = killer.join().unwrap_or(false);
    let said = reader.join().unwrap_or_default();
    if killed {
        return Err(format!("`{line}` timed out after {} s", timeout.as_secs()));
    }
    let note = (!status.success()).then(|| {
        let first = said.lines().next().unwrap_or("").trim();
        format!("`{line}` exited with {status}: {first}")
    });
    Ok(Ran { pid, note })
}

/// The file a command names: a path as it is, a name looked up in
/// [`PATH`].
fn find(command: &str) -> Option<PathBuf> {
    if command.contains('/') {
        let p = PathBuf::from(command);
        return p.is_file().then_some(p);
    }
    PATH.iter()
        .map(|d| Path::new(d).join(command))
        .find(|p| p.exists())
}

/// A command line's words, split as a POSIX shell splits them: blanks
/// separate, `'...'` keeps everything, `"..."` keeps all but `\"` and
/// `\\`, a backslash outside quotes keeps the next character.
pub fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if let Some(w) = word.take() {
                    out.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(format!("an unclosed ' in `{line}`")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(format!("an unclosed \" in `{line}`")),
                        },
                        Some(c) => w.push(c),
                        None => return Err(format!("an unclosed \" in `{line}`")),
                    }
                }
            }
            '\\' => {
                let w = word.get_or_insert_with(String::new);
                if let Some(c) = chars.next() {
                    w.push(c);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = word {
        out.push(w);
    }
    Ok(out)
}

/// Empties `/tmp` of what workloads made, so that every run of a workload
/// meets the same guest: `touch /tmp/x` opens (creates) the file only
/// where it is not there yet, so a second run of the same fixture (its
/// fentry twin, another parity side) would otherwise see no open at all.
/// What `/tmp` held before the first call (files the initramfs placed
/// there, `--guest-file x:/tmp/x`) stays.
pub fn fresh_tmp() {
    static BEFORE: OnceLock<Vec<PathBuf>> = OnceLock::new();
    let entries = || -> Vec<PathBuf> {
        let dir = std::fs::read_dir("/tmp").into_iter().flatten().flatten();
        dir.map(|e| e.path()).collect()
    };
    let before = BEFORE.get_or_init(entries);
    for p in entries().into_iter().filter(|p| !before.contains(p)) {
        let _ = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_as_a_shell_splits_them() {
        assert_eq!(
            words("dd if=/dev/zero  of=/dev/null bs=7").unwrap(),
            ["dd", "if=/dev/zero", "of=/dev/null", "bs=7"]
        );
        assert_eq!(
            words(r#"sh -c 'cat /etc/hostname; echo "x y"' a\ b "q\"t" ''"#).unwrap(),
            [
                "sh",
                "-c",
                r#"cat /etc/hostname; echo "x y""#,
                "a b",
                "q\"t",
                ""
            ]
        );
        assert!(words("sh -c 'open").unwrap_err().contains("unclosed '"));
        assert!(words("echo \"open").unwrap_err().contains("unclosed \""));
        assert_eq!(words("  ").unwrap(), Vec::<String>::new());
    }
}
