//! Where `probecc build` writes and what it says: `-o FILE.o` is that
//! file with `FILE.manifest.json` beside it, an existing directory stays a
//! directory whatever its name, several arches go to `DIR/<arch>/`, and
//! the summary line counts in the singular for one. A wildcard expands
//! against the running kernel's functions for the machine's own arch,
//! and needs `--symbols` for another.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh scratch directory `name` holding `one.bt`: one program, one map.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    std::fs::write(
        dir.join("one.bt"),
        "kprobe:vfs_read { @reads = count(); }\n",
    )
    .expect("spec");
    dir
}

/// `probecc build` with `args`: its stdout, after asserting success.
fn build(args: &[&Path]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_probecc"))
        .arg("build")
        .args(args)
        .current_dir(root())
        .output()
        .expect("running probecc");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "probecc build {args:?}: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn o_names_the_object_file_for_one_arch() {
    let dir = scratch("build-file");
    let obj = dir.join("vfs.o");
    let stdout = build(&[&dir.join("one.bt"), Path::new("-o"), &obj]);
    let bytes = std::fs::read(&obj).expect("the object is a file");
    assert_eq!(&bytes[..4], b"\x7fELF");
    let manifest = std::fs::read_to_string(dir.join("vfs.manifest.json")).expect("manifest");
    assert!(manifest.contains("\"arch\": \"x86_64\""), "{manifest}");
    let line = format!("{}: 1 program, ", obj.display());
    assert!(stdout.starts_with(&line), "{stdout}");
    assert!(
        stdout.ends_with(&format!(" instructions, 1 map, {} bytes\n", bytes.len())),
        "{stdout}"
    );
}

/// `kprobe:vfs_read*` without `--symbols`: built for this machine's arch
/// from the running kernel's functions (where it lists them), refused for
/// another arch with the reason.
#[test]
fn wildcards_expand_against_the_running_kernel_for_its_own_arch() {
    let dir = scratch("build-wildcard");
    let spec = dir.join("w.bt");
    std::fs::write(&spec, "kprobe:vfs_read* { @[func] = count(); }\n").expect("spec");
    let readable = [
        "/sys/kernel/tracing/available_filter_functions",
        "/proc/kallsyms",
    ]
    .iter()
    .any(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("vfs_read")));
    if cfg!(target_arch = "x86_64") && readable {
        let stdout = build(&[&spec, Path::new("-o"), &dir.join("w.o")]);
        assert!(stdout.contains(" programs, "), "{stdout}");
    }
    let other = if cfg!(target_arch = "s390x") {
        "x86_64"
    } else {
        "s390x"
    };
    let out = Command::new(env!("CARGO_BIN_EXE_probecc"))
        .args(["build", "--arch", other])
        .arg(&spec)
        .arg("-o")
        .arg(dir.join("other.o"))
        .output()
        .expect("running probecc");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("wildcard `vfs_read*` needs a symbol list: pass --symbols"),
        "{stderr}"
    );
}

#[test]
fn a_directory_stays_a_directory() {
    let dir = scratch("build-dir");
    let out = dir.join("existing.o");
    std::fs::create_dir(&out).expect("a directory named like an object");
    build(&[&dir.join("one.bt"), Path::new("-o"), &out]);
    assert!(out.join("one.o").is_file());
    assert!(out.join("one.manifest.json").is_file());
    let fresh = dir.join("fresh");
    build(&[
        &dir.join("one.bt"),
        Path::new("--arch"),
        Path::new("s390x,arm64"),
        Path::new("-o"),
        &fresh,
    ]);
    for arch in ["s390x", "arm64"] {
        assert!(fresh.join(arch).join("one.o").is_file(), "{arch}");
    }
    assert!(!fresh.join("x86_64").exists());
}
