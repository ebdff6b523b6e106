//! `probecc qemu` refusing what it cannot use: nothing to attach, a spec
//! or plan that is not there or not a plan, an `--attach` kind that does
//! not exist, `--kernel` with several arches, a shard or
//! guest file that makes no sense. Each exits with status 2 and a message
//! naming the problem, at once: before any download or boot (each run has
//! a deadline far below a boot's time).

#![cfg(feature = "qemu")]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Exit status and stderr of `probecc qemu args...` from the workspace
/// root, with a cache and output directory of the test's own.
fn qemu(args: &[&str]) -> (i32, String) {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("qemu-args");
    let mut child = Command::new(env!("CARGO_BIN_EXE_probecc"))
        .arg("qemu")
        .args(args)
        .arg("--out")
        .arg(tmp.join("out"))
        .arg("--cache")
        .arg(tmp.join("cache"))
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running probecc");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waiting for probecc") {
            let out = child.wait_with_output().expect("probecc's output");
            let code = status.code().unwrap_or(-1);
            return (code, String::from_utf8_lossy(&out.stderr).into_owned());
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("probecc qemu {args:?} still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn what_it_cannot_use_is_refused_with_status_2_before_any_boot() {
    let bad_plan = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad-plan.toml");
    std::fs::write(
        &bad_plan,
        "[reads]\nspec = \"r.bt\"\nexpect = [{ mapp = \"@x\" }]\n",
    )
    .expect("writing the plan");
    let bad_plan = bad_plan.to_string_lossy().into_owned();
    let spec = "fixtures/specs/vfscount.bt";
    let cases: &[(&[&str], &str)] = &[
        (&["--arch", "x86_64"], "nothing to attach"),
        (&["nosuch.bt", "--arch", "x86_64"], "reading nosuch.bt"),
        (
            &["--plan", "nosuch.toml", "--arch", "x86_64"],
            "reading nosuch.toml",
        ),
        (&["--plan", &bad_plan, "--arch", "x86_64"], "[reads]"),
        (
            &[spec, "--arch", "x86_64", "--attach", "fexit"],
            "invalid value 'fexit' for '--attach <KIND>'",
        ),
        (
            &[spec, "--arch", "all", "--kernel", "/etc/hostname"],
            "boots one arch: give one --arch",
        ),
        (
            &[spec, "--arch", "x86_64", "--shard", "3/2"],
            "expected i/n",
        ),
        (
            &[spec, "--arch", "x86_64", "--guest-file", "Cargo.toml:etc/x"],
            "is not absolute",
        ),
        (
            &[spec, spec, "--arch", "x86_64"],
            "two specs are named vfscount",
        ),
    ];
    for (args, said) in cases {
        let (code, err) = qemu(args);
        assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
        assert_eq!(code, 2, "{args:?} should exit 2:\n{err}");
        assert!(err.contains(said), "{args:?}: `{said}` not said:\n{err}");
    }
}
