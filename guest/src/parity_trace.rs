//! The third side of a parity case: the `probecc` binary users copy to a
//! device (`cargo xtask dist`), run as `probecc trace SPEC -f json -c
//! "/bin/pworkload ..."`: the spec compiled here, for this kernel, and
//! traced while the same workload runs. Its JSON lines, status and
//! stderr go to the host, which compares them with bpftrace's output
//! (`cargo xtask parity`), with its time to `Attaching` and peak RSS.
//! What it leaves in the kernel is counted too: a program or link more
//! after the run than before it is an error of the run.

use std::process::Command;
use std::time::Duration;

use probecc_guest::protocol::{ParityCase, ParitySide, PROBECC};
use probecc_runtime::live::bpf::{self, Objects};

use crate::parity::{applet_command, read_pids};
use crate::tool;
use crate::workload::fresh_tmp;

/// A trace (compile, load, attach, workload, exit dump) longer than this
/// is killed.
const TIMEOUT: Duration = Duration::from_secs(300);

/// How many programs and links the kernel holds.
fn kernel_objects() -> (usize, usize) {
    let count = |what| bpf::ids(what).map_or(0, |ids| ids.len());
    (count(Objects::Programs), count(Objects::Links))
}

/// `probecc trace` of the case's spec, if it has one.
pub fn run(case: &ParityCase) -> Option<ParitySide> {
    let spec = case.spec.as_ref()?;
    fresh_tmp();
    let before = kernel_objects();
    let mut cmd = Command::new(PROBECC);
    cmd.args(["trace", spec, "-f", "json", "-c", &applet_command(case)])
        .env("PATH", "/bin:/usr/bin")
        .env("HOME", "/tmp");
    if let Some(symbols) = &case.symbols {
        // One program per listed function: a kprobe-multi section keeps
        // the spec's glob, which a loader resolves against the running
        // kernel (more vfs_* functions are traceable on some arches than
        // the list the object and bpftrace attach to).
        cmd.args(["--symbols", symbols, "--multi", "never"]);
    }
    let mut side = tool::run(cmd, TIMEOUT).side(read_pids());
    let after = kernel_objects();
    if after.0 > before.0 || after.1 > before.1 {
        side.stderr.push_str(&format!(
            "\nleft behind in the kernel: {} programs and {} links more than before",
            after.0.saturating_sub(before.0),
            after.1.saturating_sub(before.1)
        ));
    }
    Some(side)
}
