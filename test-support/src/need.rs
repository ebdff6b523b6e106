//! What a test needs of the machine (a tool, root, bpffs, the host
//! kernel's BTF, a cache xtask fills), and the one rule for a test whose
//! prerequisite is missing.
//!
//! Such a test is marked `#[ignore = "needs X"]`, so a plain `cargo test`
//! lists it as ignored, with its reason, on every machine; and it begins
//! with `if !require(&[Need::...]) { return; }`. `cargo xtask test` runs
//! the ignored tests too (`--include-ignored`). When one runs and a
//! prerequisite is missing:
//!
//! - under CI (`CI=true` or `CI=1`) the test fails;
//! - elsewhere, under `cargo xtask test` (which names a file in
//!   [`SKIPS_ENV`]), the test appends its name and the reason to that file
//!   and returns; xtask lists the skips at the end ([`crate::skips`]);
//! - elsewhere, run by hand (`cargo test -- --ignored`), the test fails
//!   saying what is missing: it was asked for, and a pass would hide that
//!   it did not run.
//!
//! A tool is present when `TOOL --version` runs and exits with status 0.
//! Starting is not enough: a dangling alternatives link, a wrapper whose
//! LLVM is gone or a binary missing a library starts (or is found on PATH)
//! and cannot do the test's work, and the test would then fail far from
//! the cause instead of saying which tool is missing. Every tool the tests
//! use answers `--version` with status 0.

use std::path::Path;
use std::process::{Command, Stdio};

/// The environment variable `cargo xtask test` sets to the file that
/// collects skips outside CI.
pub const SKIPS_ENV: &str = "PROBECC_TEST_SKIPS";

/// The host kernel's BTF.
pub const HOST_BTF: &str = "/sys/kernel/btf/vmlinux";

/// One prerequisite of a test.
#[derive(Clone, Debug)]
pub enum Need {
    /// A command on PATH that answers `--version` with status 0.
    Tool(&'static str),
    /// Effective uid 0.
    Root,
    /// bpffs at `/sys/fs/bpf`, mounted if it is not (which takes root):
    /// what loading into the host kernel with pins takes.
    Bpffs,
    /// The host kernel's BTF ([`HOST_BTF`]).
    HostBtf,
    /// Anything else: whether it holds, and what it is (said as "needs
    /// ...").
    That(bool, String),
}

impl Need {
    /// `None` when the prerequisite holds; otherwise why the test cannot
    /// run ("needs ...").
    pub fn missing(&self) -> Option<String> {
        match self {
            Need::Tool(tool) => (!tool_runs(tool))
                .then(|| format!("needs {tool} (`{tool} --version` does not run and exit 0)")),
            Need::Root => (!is_root()).then(|| "needs root".to_string()),
            Need::Bpffs => crate::bpffs::ensure()
                .err()
                .map(|e| format!("needs bpffs: {e}")),
            Need::HostBtf => (!Path::new(HOST_BTF).is_file())
                .then(|| format!("needs {HOST_BTF} (a kernel built with CONFIG_DEBUG_INFO_BTF)")),
            Need::That(ok, what) => (!ok).then(|| format!("needs {what}")),
        }
    }
}

/// Whether `CI` says this is a CI run: `true` or `1`.
pub fn in_ci() -> bool {
    ci_value(std::env::var("CI").ok().as_deref())
}

/// The rule [`in_ci`] applies to the value of `CI`.
fn ci_value(v: Option<&str>) -> bool {
    matches!(v, Some("true" | "1"))
}

/// Whether `tool --version` runs and exits with status 0.
pub fn tool_runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether this process runs with effective uid 0.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Whether the test may go on: true when every prerequisite holds. When
/// one is missing it applies the rule (see the module's header): fails
/// under CI or when run by hand, and under `cargo xtask test` elsewhere
/// records the skip and returns false. A failure names the test's line.
#[track_caller]
pub fn require(needs: &[Need]) -> bool {
    let missing: Vec<String> = needs.iter().filter_map(Need::missing).collect();
    if missing.is_empty() {
        return true;
    }
    let ci = std::env::var("CI").ok();
    let skips = std::env::var_os(SKIPS_ENV);
    if let Err(failure) = skip(
        &missing.join("; "),
        ci.as_deref(),
        skips.as_deref().map(Path::new),
        &test_name(),
    ) {
        panic!("{failure}");
    }
    false
}

/// The rule for a test that cannot run for `why`, given `CI` and the
/// skips file: the skip recorded, or the failure's message.
fn skip(why: &str, ci: Option<&str>, skips: Option<&Path>, test: &str) -> Result<(), String> {
    if ci_value(ci) {
        return Err(format!(
            "prerequisite missing under CI={}: {why}",
            ci.unwrap_or_default()
        ));
    }
    let Some(file) = skips else {
        return Err(format!(
            "{why}: this test is ignored by default for that reason; run by hand it fails \
             without it (outside CI, `cargo xtask test` lists it as skipped instead)"
        ));
    };
    crate::skips::record(file, test, why).map_err(|e| {
        format!(
            "{why}; and recording the skip in {} failed: {e}",
            file.display()
        )
    })
}

/// The running test, as `package/binary: path::to::test` (libtest names
/// each test's thread after the test; cargo gives the package's name).
fn test_name() -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let package = std::env::var("CARGO_PKG_NAME").ok();
    let thread = std::thread::current();
    label(package.as_deref(), &binary, thread.name().unwrap_or("?"))
}

/// `package/binary: test`, the binary's name without cargo's hash, and
/// without the binary where it is the package's own (a crate's unit
/// tests).
fn label(package: Option<&str>, binary: &str, test: &str) -> String {
    let binary = match binary.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name,
        _ => binary,
    };
    match package {
        Some(p) if p.replace('-', "_") == binary => format!("{p}: {test}"),
        Some(p) => format!("{p}/{binary}: {test}"),
        None => format!("{binary}: {test}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_is_true_or_1() {
        assert!(ci_value(Some("true")));
        assert!(ci_value(Some("1")));
        for no in [
            None,
            Some(""),
            Some("0"),
            Some("false"),
            Some("yes"),
            Some("TRUE"),
        ] {
            assert!(!ci_value(no), "{no:?}");
        }
    }

    #[test]
    fn a_tool_is_present_when_its_version_query_succeeds() {
        // GNU `true --version` exits 0; `false --version` starts and exits 1.
        assert!(tool_runs("true"));
        assert!(!tool_runs("false"));
        assert!(!tool_runs("probecc-no-such-tool"));
        assert_eq!(Need::Tool("true").missing(), None);
        let why = Need::Tool("false")
            .missing()
            .expect("false counts as missing");
        assert_eq!(
            why,
            "needs false (`false --version` does not run and exit 0)"
        );
    }

    #[test]
    fn other_needs_say_what_they_need() {
        assert_eq!(Need::That(true, "x".into()).missing(), None);
        assert_eq!(
            Need::That(false, "a cached kernel".into()).missing(),
            Some("needs a cached kernel".into())
        );
        assert_eq!(Need::Root.missing().is_none(), is_root());
    }

    #[test]
    fn a_missing_prerequisite_fails_under_ci_and_when_run_by_hand() {
        let dir = std::env::temp_dir().join(format!("probecc-need-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("skips");
        for ci in ["true", "1"] {
            let e = skip("needs clang", Some(ci), Some(&file), "t").unwrap_err();
            assert_eq!(
                e,
                format!("prerequisite missing under CI={ci}: needs clang")
            );
        }
        assert!(!file.exists(), "a failure records no skip");
        let by_hand = skip("needs root", None, None, "t").unwrap_err();
        assert!(
            by_hand.starts_with("needs root: this test is ignored by default"),
            "{by_hand}"
        );
        skip("needs root", Some("false"), Some(&file), "bin: a::b").expect("recorded");
        let skips = crate::skips::read(&file).expect("the skips file");
        std::fs::remove_dir_all(&dir).expect("removing the temp dir");
        assert_eq!(skips.len(), 1);
        assert_eq!(
            (skips[0].test.as_str(), skips[0].reason.as_str()),
            ("bin: a::b", "needs root")
        );
    }

    #[test]
    fn the_test_name_is_the_package_the_binary_and_the_test_path() {
        let test = "need::tests::the_test_name_is_the_package_the_binary_and_the_test_path";
        assert!(
            test_name().ends_with(&format!(": {test}")),
            "{}",
            test_name()
        );
        let unit = label(Some("vm-tests"), "vm_tests-0123abcd", "a::b");
        assert_eq!(unit, "vm-tests: a::b");
        assert_eq!(
            label(Some("xtask"), "kernel-0123abcd", "t"),
            "xtask/kernel: t"
        );
        assert_eq!(
            label(Some("probecc-cli"), "probecc-99", "t"),
            "probecc-cli/probecc: t"
        );
        assert_eq!(label(None, "probecc-99", "t"), "probecc: t");
        assert_eq!(label(None, "odd-name", "t"), "odd-name: t");
    }
}
