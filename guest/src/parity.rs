//! Parity with bpftrace: one spec run on the same kernel as
//! `bpftrace SCRIPT -c WORKLOAD` (bpftrace prints its maps when the
//! workload ends), as probecc's object through the runtime's loader (the
//! fixture path), and as `probecc trace` of the dist binary
//! (`parity_trace`), followed by one `PROBECC-PARITY <json>` line with
//! what bpftrace printed, what probecc's maps and ring buffer held and
//! what `probecc trace` printed. The host parses and compares (`cargo
//! xtask parity`).
//!
//! The sides run the workload the same way, each from an empty `/tmp`:
//! through the `pworkload` applet, which runs the fixture's commands in
//! order as child processes (so `dd` is `dd` under each) and writes their
//! pids to [`PIDS`] for the host to recognise pids in keys and printf
//! lines.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use probecc::error::chain;
use probecc_guest::protocol::{ParityCase, ParityReport, ParitySide, BPFTRACE, PARITY_MARK};
use probecc_runtime::ksyms::Ksyms;
use probecc_runtime::live::{Loaded, Session};
use probecc_runtime::report;
use serde_json::Value;

use crate::{fixture, parity_trace, tool, workload};

/// The applet that runs a parity workload.
pub const APPLET: &str = "pworkload";
/// The applets of the parity run: `pworkload`, and `sh` for the one
/// command bpftrace runs through a shell (see [`sh`]).
pub const APPLETS: [&str; 2] = [APPLET, "sh"];
/// Where `pworkload` writes the pids of the commands it ran.
pub const PIDS: &str = "/tmp/parity.pids";
/// A bpftrace run (start-up, attach, workload, exit dump) longer than this
/// is killed.
const BPFTRACE_TIMEOUT: Duration = Duration::from_secs(300);

/// The applet `name` with its arguments; the process's exit code.
pub fn applet(name: &str, args: &[String]) -> i32 {
    match name {
        "sh" => sh(args),
        _ => pworkload(args),
    }
}

/// `sh -c 'clang-14 -Wp,-v -x c -fsyntax-only /dev/null 2>&1'`: bpftrace
/// 0.17 asks clang for its include directories through `popen` before
/// it resolves any cast to a pointer type (`*(uint64 *)arg2`), and
/// crashes (SIGSEGV) when the shell or clang is missing. The guest has
/// neither, and the answer does not matter without headers: the search
/// list clang prints, with no directory of its own. Any other command
/// fails.
fn sh(args: &[String]) -> i32 {
    match args {
        [c, cmd] if c == "-c" && cmd.starts_with("clang") => {
            println!("#include \"...\" search starts here:");
            println!("#include <...> search starts here:");
            println!(" /usr/include");
            println!("End of search list.");
            0
        }
        _ => {
            eprintln!("sh: the guest runs only bpftrace's clang query, not {args:?}");
            127
        }
    }
}

/// `pworkload CMD...`: each argument one workload command with `,` for
/// its spaces; the process's exit code.
fn pworkload(args: &[String]) -> i32 {
    let mut pids = String::new();
    let mut failed = 0;
    for arg in args {
        let line = arg.replace(',', " ");
        match workload::spawn(&line, Duration::from_secs(120)) {
            Ok(ran) => pids.push_str(&format!("{}\n", ran.pid)),
            Err(e) => {
                eprintln!("{APPLET}: {line}: {e}");
                failed = 1;
            }
        }
    }
    if let Err(e) = std::fs::write(PIDS, pids) {
        eprintln!("{APPLET}: {PIDS}: {e}");
        failed = 1;
    }
    failed
}

/// The workload as `pworkload`'s arguments.
fn applet_args(case: &ParityCase) -> Vec<String> {
    case.workload
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(","))
        .collect()
}

/// The workload as one command line (`-c` of bpftrace and probecc trace).
pub fn applet_command(case: &ParityCase) -> String {
    format!("/bin/{APPLET} {}", applet_args(case).join(" "))
}

/// Runs one case on every side and prints its result line.
pub fn run(case: &ParityCase, ksyms: &Ksyms) {
    let report = ParityReport {
        name: case.name.clone(),
        bpftrace: under_bpftrace(case),
        probecc: under_probecc(case, ksyms),
        trace: parity_trace::run(case),
    };
    let json = serde_json::to_string(&report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{PARITY_MARK}{json}\n").as_bytes());
    let _ = out.flush();
}

pub fn read_pids() -> Vec<u32> {
    std::fs::read_to_string(PIDS)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// `bpftrace SCRIPT -c "/bin/pworkload ..."`, killed after
/// [`BPFTRACE_TIMEOUT`], measured as `probecc trace` is.
fn under_bpftrace(case: &ParityCase) -> ParitySide {
    crate::workload::fresh_tmp();
    let mut cmd = Command::new(BPFTRACE);
    cmd.arg(&case.script)
        .arg("-c")
        .arg(applet_command(case))
        .env("PATH", "/bin:/usr/bin")
        .env("HOME", "/tmp");
    tool::run(cmd, BPFTRACE_TIMEOUT).side(read_pids())
}

/// probecc's object through the runtime's session: load, BEGIN, attach,
/// `pworkload`, detach, END, the records acted on in order, the maps
/// (every entry).
fn under_probecc(case: &ParityCase, ksyms: &Ksyms) -> ParitySide {
    crate::workload::fresh_tmp();
    let t0 = Instant::now();
    let mut side = ParitySide::default();
    let mut errors = Vec::new();
    if let Err(e) = attach_and_run(case, ksyms, &mut side, &mut errors) {
        errors.push(e);
    }
    side.stderr = errors.join("\n");
    side.pids = read_pids();
    side.secs = t0.elapsed().as_secs_f64();
    side
}

fn attach_and_run(
    case: &ParityCase,
    ksyms: &Ksyms,
    side: &mut ParitySide,
    errors: &mut Vec<String>,
) -> Result<(), String> {
    let manifest = fixture::read_manifest(&case.manifest)?;
    let object = Loaded::load_file(std::path::Path::new(&case.object))
        .map_err(|e| format!("{}: {}", case.object, chain(&e)))?;
    let mut session = Session::collecting(object, manifest, ksyms.clone());
    session
        .begin()
        .map_err(|e| format!("BEGIN: {}", chain(&e)))?;
    for (section, e) in session.attach() {
        errors.push(format!("{section}: {}", chain(&e)));
    }
    let status = fixture::while_running(&mut session, || {
        Command::new(format!("/bin/{APPLET}"))
            .args(applet_args(case))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("running {APPLET}: {e}"))
    })??;
    let out = session
        .output()
        .map_err(|e| format!("END: {}", chain(&e)))?;
    side.status = status.code().unwrap_or(-1);
    side.printf = out.lines();
    side.prints = report::prints(&out);
    side.maps = Value::Object(fixture::maps_of(&out).into_iter().collect());
    Ok(())
}
