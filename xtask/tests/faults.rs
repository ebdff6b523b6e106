//! The QEMU harness under faults, each provoked for real through the
//! `xtask` binary on x86_64 (the fastest boot: one fixture, no overhead
//! where the fault allows), each run with an output directory of its own
//! (`--out`) and `XTASK_NO_INSTALL=1` (tests never run apt):
//!
//! - QEMU killed mid-run: verdict incomplete, the results already read
//!   kept in the report and the log, a message naming the arch and how
//!   QEMU ended, non-zero exit;
//! - a kernel panic at boot (`--append rdinit=/nonexistent`: no init):
//!   "kernel panic" with the panic line and the console's last lines;
//! - a damaged cached kernel (a copy of the cache, `XTASK_KERNELS_DIR`):
//!   detected by its checksum, said so, fetched again, and the boot works;
//! - a damaged bpftrace tree (a copy, `XTASK_BPFTRACE_DIR`, missing a
//!   library): said so, unpacked again, and a parity case is equal;
//! - a missing QEMU or cross linker (a PATH without it): an error naming
//!   the command and its Debian package before any work starts;
//! - two matrix runs on one output directory: the second waits, saying
//!   so, and both finish.
//!
//! After each, no QEMU process that mentions the test's directories is
//! left. Booting needs QEMU and the cached x86_64 bookworm kernel (`cargo
//! xtask test` prepares both), so the tests that boot are `#[ignore]`d and
//! run by `cargo xtask test`, under `probecc_test_support`'s rule for a
//! missing prerequisite.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use probecc_test_support::{require, Need};
use support::*;

/// The xtask binary, with the fault tests' environment.
fn xtask_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.env("RUST_BACKTRACE", "0")
        .env("XTASK_NO_INSTALL", "1")
        .env_remove("XTASK_KERNELS_DIR")
        .env_remove("XTASK_BPFTRACE_DIR")
        .stdin(Stdio::null());
    c
}

/// A fresh directory of this test's own (what earlier runs of the test
/// left is removed first).
fn scratch(test: &str) -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let prefix = format!("faults-{test}-");
    for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let d = tmp.join(format!("{prefix}{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("creating the test's directory");
    d
}

/// The kernel directory `current.json` names in the shared cache.
fn cached_kernel() -> Option<PathBuf> {
    let dir = xtask::workspace_root().join("target/kernels/bookworm/x86_64");
    let package = std::fs::read_to_string(dir.join("current.json")).ok()?;
    let k = dir.join(package.trim());
    (k.join("kernel.json").is_file() && k.join("image").is_file()).then_some(k)
}

/// What a boot takes: QEMU and the cached x86_64 bookworm kernel.
fn boot() -> [Need; 2] {
    [
        Need::Tool("qemu-system-x86_64"),
        Need::That(
            cached_kernel().is_some(),
            "the cached x86_64 bookworm kernel (`cargo xtask kernels --arch x86_64 --release bookworm`)"
                .into(),
        ),
    ]
}

/// The pids of live QEMU processes whose command line mentions `dir`.
fn qemus_of(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let zombie = std::fs::read_to_string(e.path().join("stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        });
        if cmdline.contains("qemu-system") && cmdline.contains(&needle) && !zombie {
            pids.push(pid);
        }
    }
    pids
}

/// Asserts that no QEMU mentioning `dir` is alive (a moment's grace for
/// the kernel to reap one just killed).
fn assert_no_qemu(dir: &Path) {
    let t0 = Instant::now();
    while !qemus_of(dir).is_empty() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = qemus_of(dir);
    assert!(left.is_empty(), "QEMU left behind: pids {left:?}");
}

fn text(o: &Output) -> String {
    format!("--- stdout\n{}\n--- stderr\n{}", stdout(o), stderr(o))
}

fn report(out: &Path) -> serde_json::Value {
    let path = out.join("report.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

const ONE_FIXTURE: [&str; 6] = [
    "--arch",
    "x86_64",
    "--release",
    "bookworm",
    "--only",
    "vfscount",
];

#[test]
#[ignore = "boots QEMU: needs qemu-system-x86_64 and the cached x86_64 kernel"]
fn qemu_killed_mid_run_keeps_the_results_and_says_so() {
    if !require(&boot()) {
        return;
    }
    let out = scratch("killed");
    // With the overhead rounds the guest is still busy after its fixture
    // reports, which is when QEMU is killed.
    let mut child = xtask_cmd()
        .arg("matrix")
        .args(ONE_FIXTURE)
        .args(["--no-parity", "--rounds", "30", "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting xtask");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    let mut killed = None;
    for line in lines.by_ref().map_while(Result::ok) {
        seen.push(line.clone());
        if line.contains("attaching: vfscount") {
            let pids = qemus_of(&out);
            assert_eq!(pids.len(), 1, "one QEMU for the run: {pids:?}");
            // SAFETY: kill(2) on a pid just read from /proc.
            assert_eq!(unsafe { libc::kill(pids[0] as i32, libc::SIGKILL) }, 0);
            killed = Some(pids[0]);
            break;
        }
    }
    seen.extend(lines.map_while(Result::ok));
    let status = child.wait().expect("waiting for xtask");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    let all = format!("{}\n--- stderr\n{err}", seen.join("\n"));
    assert!(
        killed.is_some(),
        "the guest never reported its fixture:\n{all}"
    );
    assert!(
        !status.success(),
        "xtask succeeded after QEMU was killed:\n{all}"
    );
    assert!(
        all.contains("Incomplete") && all.contains("QEMU was killed by signal 9"),
        "{all}"
    );
    assert!(
        err.contains("x86_64") && err.contains("killed by signal 9") && err.contains("console log"),
        "the error names the arch, the cause and the log:\n{all}"
    );
    assert!(all.contains("last console lines"), "{all}");
    let r = &report(&out)[0];
    assert_eq!(r["verdict"], "incomplete", "{r}");
    assert_eq!(r["tables"].as_array().map(Vec::len), Some(7), "{r}");
    assert_eq!(r["fixtures"][0]["name"], "vfscount", "{r}");
    assert_eq!(r["fixtures"][0]["ok"], true, "{r}");
    let log = std::fs::read_to_string(r["log"].as_str().unwrap_or_default()).expect("the log");
    assert!(
        log.contains(r#""kind":"fixture","name":"vfscount""#),
        "{log}"
    );
    assert!(log.contains("# QEMU was killed by signal 9"), "{log}");
    assert_no_qemu(&out);
}

#[test]
#[ignore = "boots QEMU: needs qemu-system-x86_64 and the cached x86_64 kernel"]
fn a_kernel_panic_at_boot_is_named_with_the_console() {
    if !require(&boot()) {
        return;
    }
    let out = scratch("panic");
    // No init: the kernel falls back to a root device there is not.
    let o = run(xtask_cmd()
        .arg("qemu")
        .args(ONE_FIXTURE)
        .args(["--no-overhead", "--timeout", "120"])
        .args(["--append", "rdinit=/nonexistent", "--out"])
        .arg(&out));
    let all = text(&o);
    assert!(!o.status.success(), "{all}");
    assert!(
        stderr(&o).contains("x86_64")
            && stderr(&o).contains("kernel panic: Kernel panic - not syncing"),
        "{all}"
    );
    assert!(stdout(&o).contains("Panic in"), "{all}");
    assert!(
        stdout(&o).contains("last console lines") && stdout(&o).contains("Call Trace"),
        "the console's last lines are shown:\n{all}"
    );
    assert_no_qemu(&out);
}

#[test]
#[ignore = "boots QEMU: needs qemu-system-x86_64 and the cached x86_64 kernel"]
fn a_damaged_cached_kernel_is_fetched_again() {
    if !require(&boot()) {
        return;
    }
    let Some(original) = cached_kernel() else {
        return;
    };
    let scratch = scratch("kernel");
    let cache = scratch.join("kernels");
    let arch_dir = cache.join("bookworm/x86_64");
    std::fs::create_dir_all(&arch_dir).expect("the cache copy");
    let src = original.parent().expect("the arch directory");
    let copied = run(Command::new("cp")
        .arg("-a")
        .arg(src.join("current.json"))
        .arg(src.join("apt"))
        .arg(&original)
        .arg(&arch_dir));
    assert!(copied.status.success(), "{}", text(&copied));
    let image = arch_dir
        .join(original.file_name().expect("a name"))
        .join("image");
    let sum = |p: &Path| {
        let o = run(Command::new("sha256sum").arg(p));
        stdout(&o)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let good = sum(&original.join("image"));
    let kernels = |what: &str| {
        let o = run(xtask_cmd().env("XTASK_KERNELS_DIR", &cache).args([
            "kernels",
            "--arch",
            "x86_64",
            "--release",
            "bookworm",
        ]));
        assert!(o.status.success(), "{what}:\n{}", text(&o));
        stdout(&o)
    };
    // A cache that the test's xtask has seen, so that it has a checksum.
    kernels("the copy");

    // Garbled in place, and a download an interrupted run left behind.
    let mut bytes = std::fs::read(&image).expect("the image");
    let mid = bytes.len() / 2;
    bytes[mid..mid + 16].copy_from_slice(b"garbled garbled!");
    std::fs::write(&image, &bytes).expect("garbling");
    let left = arch_dir.join(".tmp-linux-image-interrupted-1");
    std::fs::create_dir_all(&left).expect("leftover");
    let said = kernels("garbled");
    assert!(
        said.contains("is damaged (the image's SHA-256 is")
            && said.contains("fetching it again")
            && said.contains("left by an interrupted run"),
        "{said}"
    );
    assert_eq!(sum(&image), good, "the image is whole again");
    assert!(!left.exists(), "the leftover is removed");
    let again = kernels("recovered");
    assert!(!again.contains("damaged"), "{again}");

    // Truncated, then booted: `qemu` mends the cache before booting.
    let whole = std::fs::read(&image).expect("the image");
    std::fs::write(&image, &whole[..whole.len() / 3]).expect("truncating");
    let out = scratch.join("out");
    let o = run(xtask_cmd()
        .env("XTASK_KERNELS_DIR", &cache)
        .arg("qemu")
        .args(ONE_FIXTURE)
        .args(["--no-overhead", "--timeout", "300", "--out"])
        .arg(&out));
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).contains("is damaged"), "{}", text(&o));
    assert!(stdout(&o).contains("Completed in"), "{}", text(&o));
    assert_eq!(sum(&image), good);
    assert_no_qemu(&scratch);
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The unpacked bpftrace tree of x86_64 in the shared cache.
fn cached_bpftrace() -> Option<PathBuf> {
    let dir = xtask::workspace_root().join("target/bpftrace/bookworm/x86_64");
    (dir.join("bundle.json").is_file() && dir.join("root/usr/bin/bpftrace").is_file())
        .then_some(dir)
}

#[test]
#[ignore = "boots QEMU: needs qemu-system-x86_64, the cached x86_64 kernel and bpftrace tree"]
fn a_damaged_bpftrace_tree_is_unpacked_again() {
    let original = cached_bpftrace();
    let tree = Need::That(
        original.is_some(),
        "the cached x86_64 bpftrace tree (`cargo xtask parity --arch x86_64` makes one)".into(),
    );
    let [qemu, kernel] = boot();
    if !require(&[qemu, kernel, tree]) {
        return;
    }
    let original = original.expect("the tree is there: required above");
    let scratch = scratch("bpftrace");
    let cache = scratch.join("bpftrace");
    let arch_dir = cache.join("bookworm/x86_64");
    std::fs::create_dir_all(arch_dir.parent().expect("a parent")).expect("the cache copy");
    // Hard links: nothing edits a cached file in place, and the test's
    // damage is a removal.
    let copied = run(Command::new("cp").arg("-al").arg(&original).arg(&arch_dir));
    assert!(copied.status.success(), "{}", text(&copied));
    let lib = arch_dir.join("root/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1");
    assert!(lib.exists(), "bpftrace's tree holds {}", lib.display());
    std::fs::remove_file(&lib).expect("removing a library");
    let left = arch_dir.join("root.tmp1");
    std::fs::create_dir_all(&left).expect("leftover");

    let out = scratch.join("out");
    let o = run(xtask_cmd()
        .env("XTASK_BPFTRACE_DIR", &cache)
        .args([
            "parity",
            "--arch",
            "x86_64",
            "dd_filter",
            "--timeout",
            "600",
            "--out",
        ])
        .arg(&out));
    assert!(o.status.success(), "{}", text(&o));
    let said = stdout(&o);
    assert!(
        said.contains("the cached bpftrace tree is damaged")
            && said.contains("libLLVM-14.so.1")
            && said.contains("unpacking it again"),
        "{said}"
    );
    assert!(lib.exists(), "the library is back");
    assert!(!left.exists(), "the leftover is removed");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("the parity report"))
            .expect("JSON");
    let spec = &report[0]["specs"][0];
    assert_eq!(spec["name"], "dd_filter", "{report}");
    assert_eq!(spec["verdict"], "equal", "{report}");
    assert_no_qemu(&scratch);
    let _ = std::fs::remove_dir_all(&scratch);
}

/// A directory of stand-ins for the tools that must look present.
fn fake_tools(dir: &Path, names: &[&str]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).expect("bin dir");
    for n in names {
        let p = dir.join(n);
        std::fs::write(&p, "#!/bin/sh\nexit 0\n").expect("stand-in");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

#[test]
fn a_missing_qemu_or_cross_linker_is_named_before_any_work() {
    let scratch = scratch("missing");
    let bin = scratch.join("bin");
    let out = scratch.join("out");
    // Runs xtask with only the stand-ins on PATH; expects it to fail
    // before creating `out`, with every one of `said` on stderr.
    let fails = |args: &[&str], said: &[&str]| {
        let o = run(xtask_cmd()
            .env("PATH", &bin)
            .args(args)
            .arg("--out")
            .arg(&out));
        let err = stderr(&o);
        assert!(!o.status.success(), "{}", text(&o));
        for s in said {
            assert!(err.contains(s), "`{s}` not said:\n{}", text(&o));
        }
        assert!(
            !out.exists(),
            "work started before the check: {}",
            out.display()
        );
        err
    };
    fake_tools(&bin, &["clang", "dpkg-deb", "cc"]);
    fails(
        &["qemu", "--arch", "x86_64"],
        &[
            "`qemu-system-x86_64` is missing",
            "Debian's `qemu-system-x86`",
            "apt-get install -y qemu-system-x86",
        ],
    );
    fake_tools(&bin, &["qemu-system-aarch64"]);
    let err = fails(
        &["matrix", "--no-parity", "--arch", "arm64"],
        &[
            "`aarch64-linux-gnu-gcc` is missing (to link static binaries (the guest, dist))",
            "Debian's `gcc-aarch64-linux-gnu`",
        ],
    );
    assert!(!err.contains("qemu-system-aarch64"), "{err}");
}

#[test]
#[ignore = "boots QEMU: needs qemu-system-x86_64 and the cached x86_64 kernel"]
fn two_matrix_runs_at_once_both_finish() {
    if !require(&boot()) {
        return;
    }
    let out = scratch("twice");
    let start = || {
        xtask_cmd()
            .arg("matrix")
            .args(ONE_FIXTURE)
            .args(["--no-parity", "--no-overhead", "--timeout", "300", "--out"])
            .arg(&out)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting xtask")
    };
    let (a, b) = (start(), start());
    let (a, b) = (
        a.wait_with_output().expect("first run"),
        b.wait_with_output().expect("second run"),
    );
    for o in [&a, &b] {
        assert!(o.status.success(), "{}", text(o));
        assert!(stdout(o).contains("Completed in"), "{}", text(o));
    }
    let waited = [&a, &b]
        .iter()
        .filter(|o| stdout(o).contains("waiting for another matrix run"))
        .count();
    assert_eq!(
        waited,
        1,
        "one run waits for the other:\n{}\n{}",
        text(&a),
        text(&b)
    );
    let r = &report(&out)[0];
    assert_eq!(r["verdict"], "completed", "{r}");
    let log = std::fs::read_to_string(r["log"].as_str().unwrap_or_default()).expect("the log");
    assert_eq!(log.matches("# verdict: Completed").count(), 1, "{log}");
    assert_no_qemu(&out);
}
