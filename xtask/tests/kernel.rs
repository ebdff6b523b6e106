//! The host kernel's own verifier accepts every little-endian object:
//! `bpftool prog loadall X.o /sys/fs/bpf/<dir>`, as root. The host kernel
//! has no CONFIG_KPROBES, but BPF_PROG_LOAD of kprobe programs works; the
//! pins are removed afterwards.

mod support;

use std::path::Path;
use std::process::Command;

use support::*;

fn bpffs_mounted() -> bool {
    std::fs::read_to_string("/proc/mounts")
        .is_ok_and(|m| m.lines().any(|l| l.split(' ').nth(2) == Some("bpf")))
}

fn ensure_bpffs() -> bool {
    if bpffs_mounted() {
        return true;
    }
    let _ = std::fs::create_dir_all("/sys/fs/bpf");
    let out = run(Command::new("mount").args(["-t", "bpf", "bpf", "/sys/fs/bpf"]));
    require(
        out.status.success(),
        &format!("mounting bpffs failed: {}", stderr(&out)),
    )
}

#[test]
fn host_kernel_verifier_accepts_every_little_endian_object() {
    if !have_tool("bpftool")
        || !require(is_root(), "loading into the kernel needs root")
        || !ensure_bpffs()
    {
        return;
    }
    for b in little_endian_objects() {
        let pin = format!(
            "/sys/fs/bpf/probecc-test-{}-{}-{}",
            std::process::id(),
            b.arch,
            b.name
        );
        let out = run(Command::new("bpftool")
            .args(["-d", "prog", "loadall"])
            .arg(&b.path)
            .arg(&pin));
        let pinned = std::fs::read_dir(&pin).map(|d| d.count()).unwrap_or(0);
        let _ = std::fs::remove_dir_all(Path::new(&pin));
        assert!(
            out.status.success(),
            "{}/{}: the kernel rejected the object:\n{}",
            b.arch,
            b.name,
            tail(&stderr(&out), 40)
        );
        let programs = b.obj.programs.len();
        assert_eq!(
            pinned, programs,
            "{}/{}: programs pinned by bpftool",
            b.arch, b.name
        );
        let log = stderr(&out);
        assert!(
            log.contains("processed") || log.contains("verification time"),
            "{}/{}: no verifier log in bpftool -d output; was the program loaded?\n{}",
            b.arch,
            b.name,
            tail(&log, 10)
        );
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
