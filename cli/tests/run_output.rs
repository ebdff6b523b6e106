//! What `probecc run` prints in each format, with stdout a pipe: bpftrace's
//! text by default (as bpftrace prints, whatever stdout is), bpftrace's
//! JSON lines with `-f json`, one report document with `--format report`.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `probecc run` of the `end_print` fixture over its events, with `args`.
fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_probecc"))
        .args([
            "run",
            "fixtures/specs/end_print.bt",
            "--events",
            "fixtures/events/end_print.jsonl",
        ])
        .args(args)
        .current_dir(root())
        .output()
        .expect("running probecc");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "probecc run {args:?}: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn text_is_the_default_even_into_a_pipe() {
    let text = run(&[]);
    assert_eq!(run(&["-f", "text"]), text);
    assert!(
        text.starts_with("@reads[bash]: 1\n@reads[cat]: 2\n@bytes: "),
        "{text}"
    );
    assert!(
        text.contains("\n\n\n@bytes: 0\n@reads[bash]: 1\n"),
        "{text}"
    );
}

#[test]
fn json_is_one_bpftrace_record_a_line() {
    let json = run(&["-f", "json"]);
    let types: Vec<String> = json
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON object");
            v["type"].as_str().expect("a type").to_string()
        })
        .collect();
    assert_eq!(types, ["map", "map", "map", "map"]);
    assert!(json
        .starts_with("{\"type\": \"map\", \"data\": {\"@reads\": {\"bash\": 1, \"cat\": 2}}}\n"));
}

#[test]
fn report_is_one_document() {
    let doc: serde_json::Value =
        serde_json::from_str(&run(&["--format", "report"])).expect("one JSON document");
    assert_eq!(doc["maps"]["@bytes"][0]["value"], 0);
    assert_eq!(doc["print"][0]["map"], "@reads");
    assert_eq!(doc["maps"]["@start"], serde_json::json!([]));
}

/// `probecc run INPUT --events fixtures/events/positional.jsonl -- ARG...`
/// (the events read 7, 0 and 4096 bytes).
fn run_positional(input: &std::path::Path, params: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_probecc"))
        .arg("run")
        .arg(input)
        .args(["--events", "fixtures/events/positional.jsonl", "--"])
        .args(params)
        .current_dir(root())
        .output()
        .expect("running probecc")
}

/// What a successful run printed.
fn printed(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `probecc run SPEC -- ARG...` fixes `$1`, `str($2)` and `$#` when the
/// spec compiles: reads of more than `$1` bytes counted, keyed by the
/// second parameter. With no ARG, the object reads them from read-only
/// globals, which the run leaves zero.
#[test]
fn positional_parameters_follow_the_double_dash() {
    let spec = std::path::Path::new("fixtures/specs/positional.bt");
    let run = |params: &[&str]| printed(run_positional(spec, params));
    assert_eq!(run(&["5", "small"]), "\n\n@big[small]: 2\n@params: 2\n");
    assert_eq!(run(&["100", "x", "y"]), "\n\n@big[x]: 1\n@params: 3\n");
    // None given: 0 and "", as bpftrace defaults them.
    assert_eq!(run(&[]), "\n\n@big[]: 2\n@params: 0\n");
}

/// `probecc build SPEC` with no ARGs makes one object whose parameters a
/// loader sets; `probecc run OBJ -- ARG...` sets them from the ARGs, so the
/// same object counts differently (a text for `$1` is bad input, exit 2).
#[test]
fn one_object_built_without_args_runs_with_any() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("positional-object");
    std::fs::create_dir_all(&dir).expect("a tmp dir");
    let object = dir.join("positional.o");
    let built = Command::new(env!("CARGO_BIN_EXE_probecc"))
        .args(["build", "fixtures/specs/positional.bt", "-o"])
        .arg(&object)
        .current_dir(root())
        .output()
        .expect("running probecc build");
    printed(built);
    let run = |params: &[&str]| printed(run_positional(&object, params));
    assert_eq!(run(&["5", "small"]), "\n\n@big[small]: 2\n@params: 2\n");
    assert_eq!(run(&["100", "x", "y"]), "\n\n@big[x]: 1\n@params: 3\n");
    assert_eq!(run(&[]), "\n\n@big[]: 2\n@params: 0\n");
    let bad = run_positional(&object, &["big", "x"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("$1 used numerically but given \"big\""),
        "{stderr}"
    );
}
