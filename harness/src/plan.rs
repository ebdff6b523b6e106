//! A plan: the specs to attach, how to exercise each and what each must
//! record, read from a TOML file of one table per spec, the shape of the
//! project's `fixtures/matrix/expectations.toml`:
//!
//! ```toml
//! [read_sizes]
//! spec = "probes/read_sizes.bt"    # relative to the plan file; or an
//!                                  # object, `{arch}` for the arch's name
//! workload = ["dd if=/dev/zero of=/dev/null bs=7 count=1000 status=none"]
//! expect = [{ map = "@bytes", key = ["dd"], at_least = 7000 }]
//! unsupported = { riscv64 = "why" }   # optional
//! known_failure = "why"               # optional
//! first_valid_offset = true           # optional: FUNC+OFFSET probes attach
//!                                     # at the guest kernel's first valid
//!                                     # offset of FUNC instead
//!
//! [platform.riscv64]                  # optional: a kernel's known defect
//! releases = ["trixie"]
//! known_failure = "why"
//! ```
//!
//! `expect` is a list of `probecc_guest::protocol::Expectation`. A table
//! without `spec` is `<name>.bt` in the plan's spec directory (the plan
//! file's own, or one the caller names). Specs are in name order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use probecc::arch::Arch;
use probecc_guest::protocol::Expectation;
use serde::Deserialize;

use crate::error::{bail, Context, Result};

/// What a plan's entry attaches: a spec compiled on the host for each
/// arch, or objects already built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A `.bt` spec.
    Spec(PathBuf),
    /// A `.o` object (its manifest `NAME.manifest.json` beside it); `{arch}`
    /// in the path stands for the arch's name.
    Object(PathBuf),
}

impl Source {
    /// A `.o` path is an object, anything else a spec.
    pub fn from_path(path: PathBuf) -> Source {
        if path.extension().is_some_and(|e| e == "o") {
            Source::Object(path)
        } else {
            Source::Spec(path)
        }
    }

    /// The path, with `{arch}` replaced by `arch`'s name.
    pub fn path_for(&self, arch: Arch) -> PathBuf {
        let p = match self {
            Source::Spec(p) | Source::Object(p) => p,
        };
        PathBuf::from(p.to_string_lossy().replace("{arch}", arch.name()))
    }
}

/// One spec of a plan.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    pub source: Source,
    /// Commands run in the guest, in order, while the spec is attached.
    pub workload: Vec<String>,
    pub expect: Vec<Expectation>,
    /// arch → why the spec cannot work there: attach failures are notes
    /// and the expectations are not checked.
    pub unsupported: BTreeMap<String, String>,
    /// A known defect that makes the spec fail: its failures are reported
    /// as known and do not fail the run.
    pub known_failure: Option<String>,
    /// `kprobe:FUNC+OFFSET` programs attach at the first valid offset of
    /// FUNC past its entry in each guest's kernel, not the spec's offset.
    pub first_valid_offset: bool,
}

/// A known defect of an arch's kernel that fails a boot's checks.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    pub known_failure: Option<String>,
    /// The Debian releases whose kernels have the defect (default: all).
    pub releases: Option<Vec<String>>,
}

/// A plan file's entries and platforms.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub entries: Vec<Entry>,
    /// arch → its kernel's known defect.
    pub platform: BTreeMap<String, Platform>,
}

/// One table of the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Declared {
    spec: Option<String>,
    #[serde(default)]
    workload: Vec<String>,
    #[serde(default)]
    expect: Vec<Expectation>,
    #[serde(default)]
    unsupported: BTreeMap<String, String>,
    #[serde(default)]
    known_failure: Option<String>,
    #[serde(default)]
    first_valid_offset: bool,
}

impl Plan {
    /// The plan in `path`; a table without `spec` is `<name>.bt` beside
    /// the plan.
    pub fn load(path: &Path) -> Result<Plan> {
        let dir = path.parent().unwrap_or(Path::new("."));
        Plan::load_with_specs(path, dir)
    }

    /// The plan in `path`; a table without `spec` is `<name>.bt` in
    /// `spec_dir`.
    pub fn load_with_specs(path: &Path, spec_dir: &Path) -> Result<Plan> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the plan {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Plan::parse(&text, base, spec_dir).with_context(|| format!("{}", path.display()))
    }

    /// A plan's text: spec paths relative to `base`, defaults in
    /// `spec_dir`.
    pub fn parse(text: &str, base: &Path, spec_dir: &Path) -> Result<Plan> {
        let mut table: toml::Table = toml::from_str(text).context("not a plan's TOML")?;
        let platform = match table.remove("platform") {
            Some(p) => p.try_into().context("[platform]")?,
            None => BTreeMap::new(),
        };
        let mut entries = Vec::new();
        for (name, value) in table {
            let d: Declared = value.try_into().with_context(|| format!("[{name}]"))?;
            let path = match d.spec {
                Some(s) if s.trim().is_empty() => bail!("[{name}]: `spec` is empty"),
                Some(s) => base.join(s),
                None => spec_dir.join(format!("{name}.bt")),
            };
            entries.push(Entry {
                name,
                source: Source::from_path(path),
                workload: d.workload,
                expect: d.expect,
                unsupported: d.unsupported,
                known_failure: d.known_failure,
                first_valid_offset: d.first_valid_offset,
            });
        }
        Ok(Plan { entries, platform })
    }

    /// The plan of specs given by path (on a command line): each spec or
    /// object named by its file stem, all with the same workload.
    pub fn of_paths(paths: &[PathBuf], workload: &[String]) -> Result<Plan> {
        let mut entries: Vec<Entry> = Vec::new();
        for p in paths {
            let stem = p
                .file_stem()
                .and_then(|s| s.to_str())
                .with_context(|| format!("{} has no file name", p.display()))?;
            let name = stem.trim_end_matches(".bpf").to_string();
            if entries.iter().any(|e| e.name == name) {
                bail!("two specs are named {name}: rename one, or give a plan");
            }
            entries.push(Entry {
                name,
                source: Source::from_path(p.clone()),
                workload: workload.to_vec(),
                expect: Vec::new(),
                unsupported: BTreeMap::new(),
                known_failure: None,
                first_valid_offset: false,
            });
        }
        Ok(Plan {
            entries,
            platform: BTreeMap::new(),
        })
    }

    /// A known defect of `arch`'s kernel in Debian `release`.
    pub fn platform_known_failure(&self, arch: Arch, release: &str) -> Option<&str> {
        let p = self.platform.get(arch.name())?;
        let applies = p
            .releases
            .as_ref()
            .is_none_or(|rs| rs.iter().any(|r| r == release));
        p.known_failure.as_deref().filter(|_| applies)
    }

    /// The entry named `name`.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"
[platform.riscv64]
releases = ["trixie"]
known_failure = "no entry kprobes"

[reads]
spec = "probes/reads.bt"
workload = ["dd if=/dev/zero of=/dev/null bs=7 count=10 status=none"]
expect = [{ map = "@bytes", key = ["dd"], at_least = 70 }]

[prebuilt]
spec = "target/bpf/{arch}/prebuilt.o"
unsupported = { s390x = "not there" }

[fixture]
known_failure = "a known defect"
first_valid_offset = true
expect = [{ map = "@hits", key = ["dd"], same_as = "@entry" }]
"#;

    #[test]
    fn specs_are_relative_to_the_plan_and_objects_per_arch() {
        let plan = Plan::parse(PLAN, Path::new("/p"), Path::new("/specs")).unwrap();
        let names: Vec<&str> = plan.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["fixture", "prebuilt", "reads"]);
        let reads = plan.entry("reads").unwrap();
        assert_eq!(reads.source, Source::Spec("/p/probes/reads.bt".into()));
        assert_eq!(reads.expect[0].at_least, Some(70));
        let pre = plan.entry("prebuilt").unwrap();
        assert_eq!(
            pre.source.path_for(Arch::Arm64),
            PathBuf::from("/p/target/bpf/arm64/prebuilt.o")
        );
        assert!(matches!(pre.source, Source::Object(_)));
        assert_eq!(pre.unsupported["s390x"], "not there");
        let f = plan.entry("fixture").unwrap();
        assert_eq!(f.source, Source::Spec("/specs/fixture.bt".into()));
        assert_eq!(f.known_failure.as_deref(), Some("a known defect"));
        assert!(f.first_valid_offset && !reads.first_valid_offset);
        assert_eq!(f.expect[0].same_as.as_deref(), Some("@entry"));
        assert_eq!(
            plan.platform_known_failure(Arch::Riscv64, "trixie"),
            Some("no entry kprobes")
        );
        assert_eq!(plan.platform_known_failure(Arch::Riscv64, "sid"), None);
    }

    #[test]
    fn a_mistake_in_a_plan_names_its_table() {
        let e = Plan::parse(
            "[reads]\nworkload = [\"dd\"]\nexpect = [{ mapp = \"@x\" }]\n",
            Path::new("."),
            Path::new("."),
        )
        .unwrap_err();
        let text = probecc::error::chain(&e);
        assert!(text.starts_with("[reads]: "), "{text}");
        assert!(text.contains("mapp"), "{text}");
        let e = Plan::parse("[x]\nspec = \"\"\n", Path::new("."), Path::new(".")).unwrap_err();
        assert_eq!(e.to_string(), "[x]: `spec` is empty");
    }

    #[test]
    fn paths_on_a_command_line_are_a_plan_of_one_workload() {
        let plan = Plan::of_paths(
            &["a/opens.bt".into(), "b/reads.bpf.o".into()],
            &["cat /etc/hostname".into()],
        )
        .unwrap();
        assert_eq!(plan.entries[0].name, "opens");
        assert_eq!(plan.entries[1].name, "reads");
        assert!(matches!(plan.entries[1].source, Source::Object(_)));
        assert_eq!(plan.entries[1].workload, ["cat /etc/hostname"]);
        let e = Plan::of_paths(&["a/x.bt".into(), "b/x.bt".into()], &[]).unwrap_err();
        assert!(e.to_string().contains("two specs are named x"), "{e}");
    }
}
