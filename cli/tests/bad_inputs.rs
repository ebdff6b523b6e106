//! Bad input through the `probecc` command: every corrupted object of
//! `fixtures/bad-objects` under `disasm`, `check` and `run`; every malformed
//! event file of `fixtures/bad-events` under `run`; and for every verb, a
//! missing, unreadable, garbage and wrong-arch input in each place it
//! reads one. Each exits with status 2 and a message naming the file and
//! what is wrong with it — never a panic, never a hang (each run has a
//! deadline). The messages are insta snapshots.

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

/// vfscount built for x86_64 and s390x into the scratch directory `name`,
/// with manifests beside the objects, and the odd files the cases below
/// need.
fn scratch_objects(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    for arch in ["x86_64", "s390x"] {
        let out = dir.join(format!("{arch}.o"));
        let (code, err) = probecc(&[
            "build",
            "fixtures/specs/vfscount.bt",
            "--arch",
            arch,
            "-o",
            out.to_str().expect("utf-8 path"),
        ]);
        assert_eq!(code, 0, "{err}");
    }
    // An x86_64 object whose manifest says arm64; one whose manifest is
    // not JSON; one without a manifest.
    let copy = |name: &str| {
        std::fs::copy(dir.join("x86_64.o"), dir.join(format!("{name}.o"))).expect("copy");
    };
    copy("arm64_manifest");
    let manifest = std::fs::read_to_string(dir.join("x86_64.manifest.json")).expect("manifest");
    let arm64 = manifest.replace("\"arch\": \"x86_64\"", "\"arch\": \"arm64\"");
    assert_ne!(arm64, manifest, "the manifest names its arch");
    std::fs::write(dir.join("arm64_manifest.manifest.json"), arm64).expect("manifest");
    copy("garbage_manifest");
    std::fs::write(dir.join("garbage_manifest.manifest.json"), "{ not json").expect("manifest");
    copy("lonely");
    std::fs::write(dir.join("not_utf8.bt"), b"kprobe:vfs_read { \xff\xfe }").expect("spec");
    dir
}

#[test]
fn every_verb_refuses_unusable_input() {
    let dir = scratch_objects("inputs");
    let s = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (x86, s390x) = (s("x86_64.o"), s("s390x.o"));
    let spec = "fixtures/specs/vfscount.bt";
    let events = "fixtures/events/vfscount.jsonl";
    // A path through a regular file cannot be opened, not even by root.
    let unreadable = "Cargo.toml/x";
    let cases: Vec<Vec<String>> = [
        // build: the spec, --symbols, --btf, --arch.
        vec!["build", "fixtures/nonexistent.bt"],
        vec!["build", "Cargo.toml/x.bt"],
        vec!["build", "fixtures"],
        vec!["build", &s("not_utf8.bt")],
        vec!["build", "fixtures/bad/arg9.bt", "-o", &s("out")],
        vec!["build", spec, "--arch", "vax"],
        vec!["build", spec, "--symbols", "fixtures/nonexistent.map"],
        vec!["build", spec, "--symbols", unreadable],
        vec!["build", spec, "--symbols", "Cargo.toml"],
        vec![
            "build",
            "fixtures/specs/task_fields.bt",
            "--btf",
            "fixtures/nonexistent.btf",
        ],
        vec![
            "build",
            "fixtures/specs/task_fields.bt",
            "--btf",
            "Cargo.toml",
        ],
        vec!["build", spec, "--kernel", "six"],
        vec!["build", spec, "--arch", "all", "-o", &s("all.o")],
        // check: the object or spec, its manifest, --btf, --arch.
        vec!["check", "fixtures/nonexistent.o"],
        vec!["check", "Cargo.toml/x.o"],
        vec!["check", "Cargo.toml"],
        vec!["check", "fixtures/nonexistent.bt"],
        vec!["check", &s("not_utf8.bt")],
        vec!["check", &x86, "--arch", "s390x"],
        vec!["check", &s390x, "--arch", "arm64"],
        vec!["check", &s("arm64_manifest.o"), "--arch", "x86_64"],
        vec!["check", &s("lonely.o"), "--arch", "s390x"],
        vec!["check", &x86, "--arch", "all"],
        vec!["check", &s("garbage_manifest.o")],
        vec!["check", &x86, "--btf", "fixtures/nonexistent.btf"],
        vec!["check", &x86, "--btf", "Cargo.toml"],
        vec!["check", &x86, "--btf", unreadable],
        // run: the object or spec, its manifest, the events, --arch.
        vec!["run", "fixtures/nonexistent.o", "--events", events],
        vec!["run", "Cargo.toml/x.o", "--events", events],
        vec!["run", &s("lonely.o"), "--events", events],
        vec!["run", &s("garbage_manifest.o"), "--events", events],
        vec![
            "run",
            &s("arm64_manifest.o"),
            "--arch",
            "amd64",
            "--events",
            events,
        ],
        vec!["run", &x86, "--arch", "s390x", "--events", events],
        vec!["run", &s390x, "--arch", "x86_64", "--events", events],
        vec!["run", &x86, "--events", "fixtures/nonexistent.jsonl"],
        vec!["run", &x86, "--events", unreadable],
        vec!["run", &x86, "--events", "Cargo.toml"],
        vec!["run", &x86, "--btf", "Cargo.toml", "--events", events],
        vec!["run", "fixtures/bad/arg9.bt", "--events", events],
        // disasm: the object (it takes no arch).
        vec!["disasm", "fixtures/nonexistent.o"],
        vec!["disasm", "Cargo.toml/x.o"],
        vec!["disasm", "Cargo.toml"],
        vec!["disasm", "fixtures"],
    ]
    .into_iter()
    .map(|c| c.into_iter().map(String::from).collect())
    .collect();
    let report = runs(&cases).replace(&dir.to_string_lossy().into_owned(), "$SCRATCH");
    insta::assert_snapshot!(report);
}

#[test]
fn objects_whose_arch_is_known_need_no_arch() {
    let dir = scratch_objects("known-arch");
    let s390x = dir.join("s390x.o");
    let s390x = s390x.to_str().expect("utf-8 path");
    let events = "fixtures/events/vfscount.jsonl";
    for args in [
        vec!["check", s390x],
        vec!["check", s390x, "--arch", "s390"],
        vec!["run", s390x, "--events", events],
    ] {
        let (code, err) = probecc(&args);
        assert_eq!(code, 0, "probecc {args:?}: {err}");
    }
    // Without its manifest, the byte order tells.
    std::fs::remove_file(dir.join("s390x.manifest.json")).expect("remove");
    let (code, err) = probecc(&["check", s390x]);
    assert_eq!(code, 0, "{err}");
}
