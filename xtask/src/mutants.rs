//! `cargo xtask mutants`: mutation testing of verifier-sim's abstract
//! domain (`scalar`, `tnum`, `reg`, `mem` by default) with cargo-mutants,
//! installed with `cargo install` when missing. Each mutant (an operator
//! swapped, a constant moved, a body replaced) is built and verifier-sim's
//! tests run against it: its unit tests (the property oracles of `tnum`
//! and `scalar`, and the exact-bound tests), or with `--all-tests` every
//! suite (the concrete runs included). A mutant every test survives is a test missing or an equivalent
//! mutant. Prints and writes `report.md` (caught / missed / timed out /
//! unviable per file, the score, every survivor) under the output
//! directory. verifier-sim is built unoptimised without debug info for the
//! run (a build per mutant dominates the time: 4 s, and 5 s of tests). Slow
//! (an hour for `scalar`, `tnum` and `reg`): not in CI.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use probecc_harness::tools;

#[derive(clap::Args)]
pub struct MutantsArgs {
    /// verifier-sim's source files to mutate (under verifier-sim/src/)
    #[arg(long = "file", default_values_t = ["scalar.rs", "tnum.rs", "reg.rs", "mem.rs"].map(String::from))]
    pub files: Vec<String>,
    /// Where cargo-mutants writes mutants.out/ and this command report.md
    #[arg(long, default_value = "target/mutants")]
    pub out: PathBuf,
    /// Mutants built and tested at once (each in a copy of the tree)
    #[arg(long, short, default_value_t = 1)]
    pub jobs: usize,
    /// Seconds one mutant's tests may run before it counts as timed out
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Mutate the working tree itself rather than a copy (one job; needs
    /// no room for copies, and leaves a mutant behind if interrupted)
    #[arg(long)]
    pub in_place: bool,
    /// Run every verifier-sim suite, not only the unit tests
    #[arg(long)]
    pub all_tests: bool,
}

/// Programs the concrete-run test draws per mutant (with `--all-tests`).
const CONCRETE_PROGRAMS: &str = "1500";

/// One file's outcomes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileScore {
    pub caught: usize,
    pub missed: usize,
    pub timeout: usize,
    pub unviable: usize,
}

impl FileScore {
    /// Caught (timeouts included: the tests did not pass) of the viable.
    pub fn score(&self) -> String {
        let viable = self.caught + self.missed + self.timeout;
        if viable == 0 {
            return "–".into();
        }
        format!(
            "{:.1}%",
            100.0 * (self.caught + self.timeout) as f64 / viable as f64
        )
    }
}

pub fn run(args: &MutantsArgs) -> Result<()> {
    let root = xtask::workspace_root();
    if !tools::on_path("cargo-mutants") {
        println!("mutants: cargo-mutants is not installed; installing it with cargo install");
        let ok = Command::new("cargo")
            .args(["install", "cargo-mutants", "--locked"])
            .status()
            .context("running cargo install")?
            .success();
        if !ok {
            bail!("cargo install cargo-mutants failed");
        }
    }
    let out = if args.out.is_absolute() {
        args.out.clone()
    } else {
        root.join(&args.out)
    };
    std::fs::create_dir_all(&out)?;
    let mut cmd = Command::new("cargo");
    cmd.current_dir(&root)
        .args(["mutants", "--package", "verifier-sim"]);
    for f in &args.files {
        cmd.arg("--file").arg(format!("verifier-sim/src/{f}"));
    }
    cmd.arg("--output")
        .arg(&out)
        .args(["--jobs", &args.jobs.to_string()])
        .args(["--timeout", &args.timeout.to_string()])
        .arg("--no-shuffle")
        .arg("--cargo-arg=--config=profile.dev.package.verifier-sim.opt-level=0")
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env("CONCRETE_PROGRAMS", CONCRETE_PROGRAMS);
    if args.in_place {
        cmd.arg("--in-place");
    }
    if !args.all_tests {
        cmd.args(["--", "--lib"]);
    }
    // cargo-mutants exits non-zero when a mutant survives: the report says which.
    let status = cmd.status().context("running cargo mutants")?;
    let outcomes = out.join("mutants.out").join("outcomes.json");
    let text = std::fs::read_to_string(&outcomes)
        .with_context(|| format!("reading {} (cargo mutants: {status})", outcomes.display()))?;
    let json: Value = serde_json::from_str(&text).context("parsing outcomes.json")?;
    let (scores, missed) = tally(&json);
    let md = report(&scores, &missed);
    std::fs::write(out.join("report.md"), &md)?;
    print!("{md}");
    println!("mutants: wrote {}", out.join("report.md").display());
    Ok(())
}

/// Per file, the outcomes of `outcomes.json`; and the missed mutants'
/// descriptions.
pub fn tally(json: &Value) -> (BTreeMap<String, FileScore>, Vec<String>) {
    let mut scores: BTreeMap<String, FileScore> = BTreeMap::new();
    let mut missed = Vec::new();
    let outcomes = json["outcomes"].as_array().cloned().unwrap_or_default();
    for o in outcomes {
        let Some(mutant) = o["scenario"].get("Mutant") else {
            continue;
        };
        let file = mutant["file"].as_str().unwrap_or("?");
        let file = Path::new(file)
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or(file)
            .to_string();
        let s = scores.entry(file.clone()).or_default();
        match o["summary"].as_str().unwrap_or("") {
            "CaughtMutant" => s.caught += 1,
            "MissedMutant" => {
                s.missed += 1;
                missed.push(describe(&file, mutant));
            }
            "Timeout" => s.timeout += 1,
            _ => s.unviable += 1,
        }
    }
    missed.sort();
    (scores, missed)
}

/// `scalar.rs:392: replace + with * in refine` from a mutant's record.
fn describe(file: &str, m: &Value) -> String {
    let line = m["span"]["start"]["line"].as_u64().unwrap_or(0);
    let function = m["function"]["function_name"]
        .as_str()
        .or_else(|| m["function"].as_str())
        .unwrap_or("?");
    let what = m["replacement"].as_str().unwrap_or("?");
    let genre = m["genre"].as_str().unwrap_or("");
    format!("{file}:{line}: {genre} `{what}` in {function}")
}

pub fn report(scores: &BTreeMap<String, FileScore>, missed: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Mutation testing of verifier-sim\n");
    let _ = writeln!(
        s,
        "| file | caught | missed | timed out | unviable | score |\n|---|---|---|---|---|---|"
    );
    let mut all = FileScore::default();
    for (file, f) in scores {
        let _ = writeln!(
            s,
            "| {file} | {} | {} | {} | {} | {} |",
            f.caught,
            f.missed,
            f.timeout,
            f.unviable,
            f.score()
        );
        all.caught += f.caught;
        all.missed += f.missed;
        all.timeout += f.timeout;
        all.unviable += f.unviable;
    }
    let _ = writeln!(
        s,
        "| all | {} | {} | {} | {} | {} |",
        all.caught,
        all.missed,
        all.timeout,
        all.unviable,
        all.score()
    );
    let _ = writeln!(s, "\n## Survivors\n");
    if missed.is_empty() {
        let _ = writeln!(s, "None.");
    }
    for m in missed {
        let _ = writeln!(s, "- {m}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_per_file_and_survivors_listed() {
        let json: Value = serde_json::from_str(
            r#"{"outcomes": [
                {"scenario": "Baseline", "summary": "Success"},
                {"scenario": {"Mutant": {"file": "verifier-sim/src/scalar.rs", "function": {"function_name": "refine"},
                  "span": {"start": {"line": 392}}, "replacement": "-", "genre": "BinaryOperator"}}, "summary": "MissedMutant"},
                {"scenario": {"Mutant": {"file": "verifier-sim/src/scalar.rs"}}, "summary": "CaughtMutant"},
                {"scenario": {"Mutant": {"file": "verifier-sim/src/tnum.rs"}}, "summary": "Unviable"},
                {"scenario": {"Mutant": {"file": "verifier-sim/src/tnum.rs"}}, "summary": "Timeout"}
            ]}"#,
        )
        .unwrap();
        let (scores, missed) = tally(&json);
        assert_eq!(
            scores["scalar.rs"],
            FileScore {
                caught: 1,
                missed: 1,
                timeout: 0,
                unviable: 0
            }
        );
        assert_eq!(scores["scalar.rs"].score(), "50.0%");
        assert_eq!(scores["tnum.rs"].score(), "100.0%");
        assert_eq!(
            missed,
            ["scalar.rs:392: BinaryOperator `-` in refine".to_string()]
        );
        let md = report(&scores, &missed);
        assert!(md.contains("| all | 1 | 1 | 1 | 1 | 66.7% |"), "{md}");
    }
}
