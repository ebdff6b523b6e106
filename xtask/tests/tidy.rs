//! Tidiness checked mechanically over the whole workspace, in the manner of
//! rust-analyzer's `tidy`: every Rust file opens with a `//!` header saying
//! what it owns; no header speaks of the work items the code was written
//! for, only of what it does; `ARCHITECTURE.md` names every
//! crate and every top-level module of each; no source file is longer than
//! [`MAX_LINES`] outside its `#[cfg(test)]` modules; the README stays a
//! first page ([`MAX_README_BYTES`]) and every relative link of it and of
//! `docs/` leads to a file that exists. Each test prints every violation it
//! finds at once, one per line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The longest a source file may be, test modules not counted: past it a
/// file is more than a newcomer can hold.
const MAX_LINES: usize = 800;

/// The README is a newcomer's first page: what probecc is, the two
/// commands, a tour. References and measured tables go to `docs/`.
const MAX_README_BYTES: usize = 12_000;

fn root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// A workspace member: its directory and its package name.
struct Member {
    dir: PathBuf,
    name: String,
}

/// The workspace's members, from the root `Cargo.toml`, and `fuzz/`.
fn members() -> Vec<Member> {
    let root = root();
    let read = |p: &Path| -> toml::Table {
        let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let manifest = read(&root.join("Cargo.toml"));
    let mut dirs: Vec<String> = manifest["workspace"]["members"]
        .as_array()
        .expect("workspace.members")
        .iter()
        .filter_map(|m| m.as_str().map(String::from))
        .collect();
    dirs.push("fuzz".into());
    dirs.into_iter()
        .map(|d| {
            let dir = root.join(&d);
            let package = read(&dir.join("Cargo.toml"));
            let name = package["package"]["name"]
                .as_str()
                .expect("package.name")
                .to_string();
            Member { dir, name }
        })
        .collect()
}

/// Every `.rs` file under `dir`, build output left out.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for m in members() {
        rust_files(&m.dir, &mut files);
    }
    files.sort();
    files
}

fn relative(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The `//!` lines a file opens with (after any `#![...]` attributes).
fn header(text: &str) -> Vec<&str> {
    text.lines()
        .skip_while(|l| l.starts_with("#![") || l.trim().is_empty())
        .take_while(|l| l.starts_with("//!"))
        .collect()
}

fn report(what: &str, violations: &[String]) {
    assert!(
        violations.is_empty(),
        "{} {what}:\n  {}\n",
        violations.len(),
        violations.join("\n  ")
    );
}

#[test]
fn every_rust_file_has_a_header() {
    let violations: Vec<String> = all_rust_files()
        .iter()
        .filter(|p| header(&read(p)).is_empty())
        .map(|p| format!("{}: no `//!` header saying what it owns", relative(p)))
        .collect();
    report("files without a header", &violations);
}

/// Whether `text` talks about issues (the word, not a part of another).
fn mentions_issues(text: &str) -> bool {
    text.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == "issue" || w == "issues")
}

#[test]
fn no_header_mentions_issues() {
    let violations: Vec<String> = all_rust_files()
        .iter()
        .flat_map(|p| {
            let text = read(p);
            header(&text)
                .into_iter()
                .enumerate()
                .filter(|(_, l)| mentions_issues(l))
                .map(|(i, l)| format!("{}:{}: {}", relative(p), i + 1, l.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    report(
        "header lines that mention issues (say what the code does instead)",
        &violations,
    );
}

/// The identifiers inside backticks in `text`: `a::b`, `src/c.rs` and
/// `cargo xtask d` name `a`, `b`, `src`, `c`, `rs`, `cargo`, `xtask`, `d`.
fn named_in_code(text: &str) -> BTreeSet<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|code| {
            code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .filter(|w| !w.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The top-level modules of a crate: `src/NAME.rs` and `src/NAME/`, less
/// the crate roots.
fn top_level_modules(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir.join("src"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            if path.is_dir() {
                return path.file_name()?.to_str().map(String::from);
            }
            if path.extension()? != "rs" {
                return None;
            }
            path.file_stem()?.to_str().map(String::from)
        })
        .filter(|n| n != "main" && n != "lib" && n != "bin")
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn architecture_names_every_crate_and_top_level_module() {
    let doc = read(&root().join("ARCHITECTURE.md"));
    let named = named_in_code(&doc);
    let mut violations = Vec::new();
    for m in members() {
        if !named.contains(&m.name) {
            violations.push(format!("crate `{}` ({})", m.name, relative(&m.dir)));
        }
        for module in top_level_modules(&m.dir) {
            if !named.contains(&module) {
                violations.push(format!(
                    "module `{module}` of `{}` ({}/src/{module})",
                    m.name,
                    relative(&m.dir)
                ));
            }
        }
    }
    report("not named in ARCHITECTURE.md (in backticks)", &violations);
}

/// The lines of `text` outside its `#[cfg(test)]` modules: a `#[cfg(test)]`
/// line before `mod NAME {` starts one, the `}` at that `mod`'s indent
/// (rustfmt's layout) ends it.
fn non_test_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let mut count = 0;
    let mut i = 0;
    while i < lines.len() {
        let opens_test_mod = lines[i].trim() == "#[cfg(test)]"
            && lines.get(i + 1).is_some_and(|l| {
                let t = l.trim_start();
                (t.starts_with("mod ") || t.starts_with("pub mod ")) && t.ends_with('{')
            });
        if opens_test_mod {
            let indent = &lines[i + 1][..lines[i + 1].len() - lines[i + 1].trim_start().len()];
            let close = format!("{indent}}}");
            i += 2;
            while i < lines.len() && lines[i] != close {
                i += 1;
            }
            i += 1;
            continue;
        }
        count += 1;
        i += 1;
    }
    count
}

/// Whether `path` is a test module or suite itself: under `tests/` or
/// `benches/`, or a `tests.rs` (declared `#[cfg(test)] mod tests;`).
fn is_test_file(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "tests.rs")
        || path
            .components()
            .any(|c| c.as_os_str() == "tests" || c.as_os_str() == "benches")
}

#[test]
fn no_source_file_is_over_the_limit() {
    let violations: Vec<String> = all_rust_files()
        .iter()
        .filter(|p| !is_test_file(p.strip_prefix(root()).unwrap_or(p)))
        .filter_map(|p| {
            let n = non_test_lines(&read(p));
            (n > MAX_LINES).then(|| {
                format!(
                    "{}: {n} lines outside #[cfg(test)] (limit {MAX_LINES})",
                    relative(p)
                )
            })
        })
        .collect();
    report("source files over the limit", &violations);
}

/// The relative targets of a Markdown text's inline links `[text](target)`,
/// anchors and web addresses left out.
fn relative_links(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(target, _)| target))
        .map(|target| target.split('#').next().unwrap_or("").to_string())
        .filter(|target| !target.is_empty() && !target.contains("://"))
        .collect()
}

/// The README and every page of `docs/`.
fn markdown_pages() -> Vec<PathBuf> {
    let root = root();
    let mut pages = vec![root.join("README.md")];
    if let Ok(entries) = std::fs::read_dir(root.join("docs")) {
        pages.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "md")),
        );
    }
    pages
}

#[test]
fn the_readme_is_a_first_page_and_its_links_lead_somewhere() {
    let mut violations = Vec::new();
    let readme = root().join("README.md");
    let size = read(&readme).len();
    if size > MAX_README_BYTES {
        violations.push(format!(
            "README.md: {size} bytes, over {MAX_README_BYTES}: move reference text to docs/"
        ));
    }
    for page in markdown_pages() {
        let dir = page.parent().unwrap_or(Path::new("."));
        for link in relative_links(&read(&page)) {
            if !dir.join(&link).exists() {
                violations.push(format!(
                    "{}: link to {link}, which does not exist",
                    relative(&page)
                ));
            }
        }
    }
    report("problems with the README and docs/", &violations);
}

#[test]
fn the_checks_see_what_they_check() {
    // Each helper on a small sample, so that a check that passes does so
    // because the tree is tidy, not because it looks at nothing.
    assert_eq!(
        header("#![no_main]\n//! Owns x.\n//! More.\nuse y;\n"),
        ["//! Owns x.", "//! More."]
    );
    assert!(header("use y;\n//! late\n").is_empty());
    assert!(mentions_issues("//! Later issues add qemu."));
    assert!(!mentions_issues("//! Reissued tissues."));
    let named = named_in_code("The `probecc-cli` crate: `lang::diag`, `cli/src/input.rs`.");
    for w in ["probecc-cli", "lang", "diag", "cli", "input"] {
        assert!(named.contains(w), "{w}");
    }
    assert!(!named.contains("crate"));
    let text = "fn a() {}\n#[cfg(test)]\nmod tests {\n    fn b() {\n    }\n}\nfn c() {}\n";
    assert_eq!(non_test_lines(text), 2);
    assert!(is_test_file(Path::new("compiler/src/lang/lower/tests.rs")));
    assert!(is_test_file(Path::new("xtask/tests/tidy.rs")));
    assert!(!is_test_file(Path::new("xtask/src/stats.rs")));
    assert!(all_rust_files().len() > 100);
    assert!(members().iter().any(|m| m.name == "probecc"));
    assert!(top_level_modules(&root().join("compiler")).contains(&"lang".to_string()));
    assert_eq!(
        relative_links("See [a](docs/a.md#x), [b](https://e.org/b) and [c](../c.md)."),
        ["docs/a.md", "../c.md"]
    );
    assert!(markdown_pages().len() > 5);
}
