//! One version of each crate in the build: `cargo tree -d` over the whole
//! workspace (normal, build and dev dependencies, for the host) lists no
//! crate in two semver-incompatible versions but those of [`ALLOWED`], each
//! with the reason it cannot be one today. A new duplicate fails, and so
//! does an allowance that is no longer needed, so the list stays true.

use std::collections::BTreeMap;
use std::process::Command;

/// Crates allowed in more than one major version, and why.
const ALLOWED: &[(&str, &str)] = &[
    (
        "hashbrown",
        "rbpf 0.4 (the offline runner's VM) depends on hashbrown 0.16, indexmap and aya 0.14 on 0.17",
    ),
    (
        "syn",
        "criterion's zerocopy-derive (through ciborium and half) is on syn 2, the derives of clap, serde and thiserror on syn 3",
    ),
];

/// (crate, its versions) of every crate `cargo tree -d` lists.
fn duplicates() -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(cargo)
        .current_dir(&root)
        .args(["tree", "--workspace", "--locked", "--duplicates"])
        .args(["--edges", "normal,build,dev", "--depth", "0"])
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .expect("running cargo tree");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo tree failed:\n{stderr}");
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// `name vX.Y.Z [(source)]` lines → versions by name.
fn parse(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(name), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        let versions = out.entry(name.to_string()).or_default();
        if !versions.iter().any(|v| v == version) {
            versions.push(version.to_string());
        }
    }
    out
}

#[test]
fn no_crate_is_built_in_two_major_versions_unless_allowed() {
    let found = duplicates();
    let mut problems = Vec::new();
    for (name, versions) in &found {
        if !ALLOWED.iter().any(|(a, _)| a == name) {
            problems.push(format!(
                "{name} in {}: make them one, or add it to ALLOWED with the reason",
                versions.join(" and ")
            ));
        }
    }
    for (name, _) in ALLOWED {
        if !found.contains_key(*name) {
            problems.push(format!(
                "{name} is in one version now: remove it from ALLOWED"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "duplicate crate versions:\n  {}\n",
        problems.join("\n  ")
    );
}

#[test]
fn cargo_trees_lines_are_read() {
    let text =
        "console v0.15.11\nconsole v0.16.6\n\nsyn v2.0.1 (proc-macro)\nsyn v2.0.1 (proc-macro)\n";
    let d = parse(text);
    assert_eq!(d["console"], ["v0.15.11", "v0.16.6"]);
    assert_eq!(d["syn"], ["v2.0.1"]);
}
