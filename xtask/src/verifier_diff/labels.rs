//! Kernel labels: each judging kernel's verdicts on the clang-built half
//! of the corpus (`fixtures/verifier/*.c` and `clang/*.c`, whose bytes do
//! not change with probecc's compiler), kept as data in
//! `fixtures/verifier/labels/ARCH-MAJOR.MINOR.tsv`. With them, verifier-sim
//! is held against every kernel it was measured against, on every test
//! run, without booting one (`xtask/tests/verifier.rs`).
//! `cargo xtask verifier-diff [--arch A --release R] --save-labels`
//! writes the file of the kernel that judged.
//!
//! A file opens with `# key: value` lines naming the kernel (`kernel`,
//! `arch`, `jit`, `btf`, `private stack`, `judged`), then a header row and one row per
//! program: its name, the verdict (`accept`, `refuse`, or `loader` for an
//! object the loader refused before the verifier saw it), the kernel's
//! message, and a note: `false-reject` where verifier-sim refused a
//! program this kernel accepts when the file was written, a known gap
//! that the test lets pass. Any other disagreement fails it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use probecc::arch::Arch;

use super::report::Report;
use super::{Judge, Row};

/// The directory of the label files.
pub fn dir() -> PathBuf {
    super::corpus_dir().join("labels")
}

/// What the kernel did with a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Refuse,
    /// The loader refused the object before any program load.
    Loader,
}

impl Verdict {
    fn name(self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Refuse => "refuse",
            Verdict::Loader => "loader",
        }
    }

    pub fn accepted(self) -> bool {
        self == Verdict::Accept
    }
}

/// One program's label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub name: String,
    pub verdict: Verdict,
    /// The kernel's last error line, or the loader's error.
    pub message: String,
    /// verifier-sim refused it when the file was written, though the
    /// kernel accepts it.
    pub known_false_reject: bool,
}

/// One kernel's labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labels {
    pub judge: Judge,
    /// Where it judged: the host, or a QEMU guest.
    pub judged: String,
    pub labels: Vec<Label>,
}

impl Labels {
    /// The labels of a report's clang-built rows.
    pub fn of(report: &Report, judged: &str) -> Labels {
        let labels = report
            .rows
            .iter()
            .filter(|r| is_labelled(&r.entry.rule))
            .map(label_of)
            .collect();
        Labels {
            judge: report.judge.clone(),
            judged: judged.to_string(),
            labels,
        }
    }

    /// `ARCH-MAJOR.MINOR.tsv`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.tsv", self.judge.arch.name(), self.judge.release)
    }

    pub fn render(&self) -> String {
        let j = &self.judge;
        let mut s = String::new();
        let _ = writeln!(s, "# kernel: {}", j.name);
        let _ = writeln!(s, "# arch: {}", j.arch.name());
        let _ = writeln!(s, "# jit: {}", if j.jit { "on" } else { "off" });
        let _ = writeln!(s, "# btf: {}", if j.btf { "yes" } else { "no" });
        let yes = if j.private_stack { "yes" } else { "no" };
        let _ = writeln!(s, "# private stack: {yes}");
        let _ = writeln!(s, "# judged: {}", self.judged);
        s.push_str("program\tverdict\tmessage\tnote\n");
        for l in &self.labels {
            let note = if l.known_false_reject {
                "false-reject"
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "{}\t{}\t{}\t{note}",
                l.name,
                l.verdict.name(),
                one_cell(&l.message)
            );
        }
        s
    }

    pub fn parse(text: &str) -> Result<Labels> {
        let mut keys = std::collections::BTreeMap::new();
        let mut labels = Vec::new();
        let mut header = false;
        for (i, line) in text.lines().enumerate() {
            let at = || format!("line {}", i + 1);
            if let Some(kv) = line.strip_prefix("# ") {
                let (k, v) = kv
                    .split_once(": ")
                    .with_context(|| format!("{}: `# key: value`", at()))?;
                keys.insert(k.to_string(), v.to_string());
                continue;
            }
            if !header {
                if line != "program\tverdict\tmessage\tnote" {
                    bail!("{}: expected the header row", at());
                }
                header = true;
                continue;
            }
            let cells: Vec<&str> = line.split('\t').collect();
            let [name, verdict, message, note] = cells[..] else {
                bail!("{}: expected four cells, found {}", at(), cells.len());
            };
            let verdict = match verdict {
                "accept" => Verdict::Accept,
                "refuse" => Verdict::Refuse,
                "loader" => Verdict::Loader,
                other => bail!("{}: unknown verdict `{other}`", at()),
            };
            let known_false_reject = match note {
                "" => false,
                "false-reject" => true,
                other => bail!("{}: unknown note `{other}`", at()),
            };
            labels.push(Label {
                name: name.to_string(),
                verdict,
                message: message.to_string(),
                known_false_reject,
            });
        }
        let key = |k: &str| {
            keys.get(k)
                .cloned()
                .with_context(|| format!("no `# {k}:` line"))
        };
        let name = key("kernel")?;
        let judge = Judge {
            arch: Arch::parse(&key("arch")?)?,
            release: super::kernel::version_of(&name)
                .with_context(|| format!("no version in kernel `{name}`"))?,
            jit: key("jit")? == "on",
            btf: key("btf")? == "yes",
            private_stack: key("private stack")? == "yes",
            name,
        };
        Ok(Labels {
            judge,
            judged: key("judged")?,
            labels,
        })
    }

    /// Writes the file under `dir`; its path.
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(self.file_name());
        std::fs::write(&path, self.render())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Every label file under `dir`, by file name.
    pub fn load_all(dir: &Path) -> Result<Vec<(String, Labels)>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p)?;
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
                let labels = Labels::parse(&text).with_context(|| p.display().to_string())?;
                Ok((name.unwrap_or_default(), labels))
            })
            .collect()
    }
}

/// Whether a corpus rule's programs are labelled: all but the fixture
/// specs' programs and their mutants, which probecc compiles.
pub fn is_labelled(rule: &str) -> bool {
    rule != "fixtures" && rule != "mutants"
}

fn label_of(row: &Row) -> Label {
    let k = &row.kernel;
    let verdict = if k.accepted {
        Verdict::Accept
    } else if k.by_loader {
        Verdict::Loader
    } else {
        Verdict::Refuse
    };
    Label {
        name: row.entry.name.clone(),
        verdict,
        message: k.message.clone().unwrap_or_default(),
        known_false_reject: k.accepted && row.sim.accepted() == Some(false),
    }
}

/// A message as one TSV cell: no tabs, no line breaks.
fn one_cell(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::arch::KernelVersion;

    fn sample() -> Labels {
        Labels {
            judge: Judge {
                arch: Arch::S390x,
                release: KernelVersion(6, 12),
                jit: false,
                btf: true,
                private_stack: false,
                name: "6.12.107+deb13-s390x".into(),
            },
            judged: "QEMU guest (TCG)".into(),
            labels: vec![
                Label {
                    name: "a".into(),
                    verdict: Verdict::Accept,
                    message: String::new(),
                    known_false_reject: true,
                },
                Label {
                    name: "b".into(),
                    verdict: Verdict::Refuse,
                    message: "R1 invalid mem access 'scalar'".into(),
                    known_false_reject: false,
                },
                Label {
                    name: "c".into(),
                    verdict: Verdict::Loader,
                    message: "no BTF".into(),
                    known_false_reject: false,
                },
            ],
        }
    }

    #[test]
    fn a_file_reads_back_as_written() {
        let l = sample();
        assert_eq!(l.file_name(), "s390x-6.12.tsv");
        assert_eq!(Labels::parse(&l.render()).expect("parses"), l);
    }

    #[test]
    fn a_message_stays_in_its_cell() {
        assert_eq!(one_cell("a\tb\nc"), "a b c");
    }

    #[test]
    fn damaged_files_are_refused_with_the_line() {
        let text = sample().render();
        let no_kernel = text.replacen("# kernel: 6.12.107+deb13-s390x\n", "", 1);
        assert!(Labels::parse(&no_kernel).is_err());
        let bad = text.replace("\trefuse\t", "\tmaybe\t");
        let e = Labels::parse(&bad).expect_err("unknown verdict");
        assert!(format!("{e:#}").contains("line 9"), "{e:#}");
        let short = text.replace("a\taccept\t\tfalse-reject", "a\taccept");
        let e = Labels::parse(&short).expect_err("two cells");
        assert!(format!("{e:#}").contains("found 2"), "{e:#}");
    }
}
