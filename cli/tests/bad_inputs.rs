//! The bad-input corpus through the `probecc` command: every corrupted
//! object of `fixtures/bad-objects` under `disasm`, `check` and `run`, and
//! every malformed event file of `fixtures/bad-events` under `run`, exits
//! with status 2 and a message naming what is wrong and where — never a
//! panic, never a hang (each run has a deadline). The messages are insta
//! snapshots.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Exit status and stderr of `probecc args...` run from the workspace root.
fn probecc(args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_probecc"))
        .args(args)
        .current_dir(root())
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
            panic!("probecc {args:?} still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn files(dir: &str, ext: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join(dir))
        .expect("the bad-input corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| format!("{dir}/{}", file_name(&p)))
        .collect();
    out.sort();
    out
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One line per run: the command, its status, its message.
fn runs(cases: &[Vec<String>]) -> String {
    let mut report = String::new();
    for args in cases {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stderr) = probecc(&argv);
        assert!(
            !stderr.contains("panicked"),
            "probecc {argv:?} panicked:\n{stderr}"
        );
        assert_eq!(code, 2, "probecc {argv:?} should exit 2:\n{stderr}");
        let msg = stderr.trim().replace('\n', "\n    ");
        let _ = writeln!(
            report,
            "$ probecc {}\n  exit {code}: {msg}\n",
            argv.join(" ")
        );
    }
    report
}

/// `run` reads the manifest beside an object first: each corrupted object
/// gets a copy of vfscount's (the spec the objects were cut from), in a
/// scratch directory, so that it is the object that fails.
fn with_manifests(objects: &[String]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad-objects");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let built = dir.join("built");
    let (code, err) = probecc(&[
        "build",
        "fixtures/specs/vfscount.bt",
        "-o",
        built.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(code, 0, "{err}");
    let manifest = std::fs::read(built.join("vfscount.manifest.json")).expect("manifest");
    for o in objects {
        let name = file_name(Path::new(o));
        std::fs::copy(root().join(o), dir.join(&name)).expect("copying an object");
        let stem = name.trim_end_matches(".o");
        std::fs::write(dir.join(format!("{stem}.manifest.json")), &manifest).expect("manifest");
    }
    dir
}

#[test]
fn corrupted_objects() {
    let objects = files("fixtures/bad-objects", "o");
    let scratch = with_manifests(&objects);
    let mut cases = Vec::new();
    for f in &objects {
        cases.push(vec!["disasm".to_string(), f.clone()]);
        cases.push(vec![
            "check".into(),
            f.clone(),
            "--arch".into(),
            "x86_64".into(),
        ]);
        let copy = scratch.join(file_name(Path::new(f)));
        cases.push(vec![
            "run".into(),
            copy.to_string_lossy().into_owned(),
            "--arch".into(),
            "x86_64".into(),
            "--events".into(),
            "fixtures/events/vfscount.jsonl".into(),
        ]);
    }
    assert!(cases.len() >= 30, "the corpus shrank");
    let report = runs(&cases).replace(&scratch.to_string_lossy().into_owned(), "$SCRATCH");
    insta::assert_snapshot!(report);
}

#[test]
fn malformed_event_files() {
    let cases: Vec<Vec<String>> = files("fixtures/bad-events", "jsonl")
        .into_iter()
        .map(|f| {
            [
                "run",
                "fixtures/specs/vfscount.bt",
                "--arch",
                "x86_64",
                "--events",
                &f,
            ]
            .map(String::from)
            .to_vec()
        })
        .collect();
    assert!(cases.len() >= 9, "the corpus shrank");
    insta::assert_snapshot!(runs(&cases));
}
