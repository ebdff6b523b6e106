//! The record of skipped tests that `cargo xtask test` keeps outside CI:
//! each test that cannot run appends one line (`reason`, a tab, `test`) to
//! the file named by [`crate::need::SKIPS_ENV`]; xtask reads it after the
//! tests and prints how many were skipped, for which reason, and which.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

/// One skipped test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    /// `binary: path::to::test`.
    pub test: String,
    /// Why it could not run ("needs ...").
    pub reason: String,
}

/// Appends a skip to `file` (one line, one write: tests of a binary run
/// in parallel).
pub fn record(file: &Path, test: &str, reason: &str) -> std::io::Result<()> {
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let line = format!("{}\t{}\n", clean(reason), clean(test));
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?
        .write_all(line.as_bytes())
}

/// The skips recorded in `file`; none when it does not exist.
pub fn read(file: &Path) -> std::io::Result<Vec<Skip>> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(reason, test)| Skip {
            test: test.to_string(),
            reason: reason.to_string(),
        })
        .collect())
}

/// "N skipped: reason" per reason (most first), each followed by its
/// tests, sorted; empty when nothing was skipped.
pub fn summary(skips: &[Skip]) -> Vec<String> {
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in skips {
        by_reason.entry(&s.reason).or_default().push(&s.test);
    }
    let mut groups: Vec<(&str, Vec<&str>)> = by_reason.into_iter().collect();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    let mut lines = Vec::new();
    for (reason, mut tests) in groups {
        tests.sort_unstable();
        lines.push(format!("{} skipped: {reason}", tests.len()));
        lines.extend(tests.into_iter().map(|t| format!("    {t}")));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_round_trip_and_group_by_reason() {
        let dir = std::env::temp_dir().join(format!("probecc-skips-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("skips");
        assert_eq!(read(&file).expect("a missing file"), vec![]);
        record(&file, "xtask_kernel: loads", "needs root").expect("record");
        record(&file, "probecc: clang\ttab", "needs clang").expect("record");
        record(&file, "probecc: a_loader", "needs root").expect("record");
        let skips = read(&file).expect("read");
        std::fs::remove_dir_all(&dir).expect("removing the temp dir");
        assert_eq!(skips.len(), 3);
        assert_eq!(skips[1].test, "probecc: clang tab");
        assert_eq!(
            summary(&skips),
            [
                "2 skipped: needs root",
                "    probecc: a_loader",
                "    xtask_kernel: loads",
                "1 skipped: needs clang",
                "    probecc: clang tab",
            ]
        );
        assert!(summary(&[]).is_empty());
    }
}
