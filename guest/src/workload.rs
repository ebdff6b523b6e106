//! The deterministic workloads: `dd`, `cat` and `touch` as the fixtures'
//! table spells them, emulated by this binary under the same comm. `/bin/dd`
//! and friends are links to `/init`; run through them, the process's comm
//! is the applet's name, as with the real tools, and its pid is known.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The applets this binary answers to when called by that name.
pub const APPLETS: [&str; 3] = ["dd", "cat", "touch"];

/// A finished workload command (some are meant to fail, like
/// `cat /nonexistent`; only the pid matters).
pub struct Ran {
    pub pid: u32,
}

/// Runs one workload command line (`dd if=... of=... bs=7 count=1000`)
/// as a child process, killing it after `timeout`.
pub fn spawn(line: &str, timeout: Duration) -> io::Result<Ran> {
    let mut words = line.split_whitespace();
    let applet = words.next().unwrap_or_default();
    if !APPLETS.contains(&applet) {
        return Err(io::Error::other(format!(
            "unknown workload command `{applet}`"
        )));
    }
    let mut child = Command::new(format!("/bin/{applet}"))
        .args(words)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait()?.is_some() {
            return Ok(Ran { pid });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!("`{line}` timed out")));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The applet `name` with its arguments; the process's exit code.
pub fn applet(name: &str, args: &[String]) -> i32 {
    let r = match name {
        "dd" => dd(args),
        "cat" => cat(args),
        "touch" => touch(args),
        _ => Err(io::Error::other("unknown applet")),
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{name}: {e}");
            1
        }
    }
}

/// `dd if=IN of=OUT bs=N [count=M]`: reads of `bs` bytes, each written
/// out, until `count` blocks or end of input.
fn dd(args: &[String]) -> io::Result<()> {
    let get = |k: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
    };
    let input = get("if").unwrap_or("/dev/stdin");
    let output = get("of").unwrap_or("/dev/stdout");
    let bs: usize = get("bs").and_then(|v| v.parse().ok()).unwrap_or(512);
    let count: Option<u64> = get("count").and_then(|v| v.parse().ok());
    let mut src = File::open(input)?;
    let mut dst = File::create(output)?;
    let mut buf = vec![0u8; bs.max(1)];
    let mut blocks = 0u64;
    while count.is_none_or(|c| blocks < c) {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        dst.write_all(&buf[..n])?;
        blocks += 1;
    }
    Ok(())
}

/// `cat FILE...`: each file read in 128 KiB chunks to stdout; a missing
/// file is an error after the others are done.
fn cat(args: &[String]) -> io::Result<()> {
    let mut failed = None;
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; 128 * 1024];
    for path in args {
        match File::open(path) {
            Ok(mut f) => loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])?;
            },
            Err(e) => failed = Some(io::Error::new(e.kind(), format!("{path}: {e}"))),
        }
    }
    failed.map_or(Ok(()), Err)
}

/// `touch FILE...`: opened for writing, created with mode 0666.
fn touch(args: &[String]) -> io::Result<()> {
    for path in args {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
    }
    Ok(())
}
