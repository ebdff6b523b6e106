//! `fixtures/parity.toml`: per fixture, what of its output the workload
//! determines and so must be equal under bpftrace and probecc — the
//! filter both sides run with, which maps and printf lines compare how,
//! and the documented reasons where they do not compare exactly.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// How the two sides are kept to the workload's own activity.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// `comm == "<workload comm>"` ANDed into every kernel probe's
    /// predicate (`shim::filter_comm`).
    Comm,
    /// The spec as it is: its own predicates already select the workload.
    None,
}

/// How a map (or the printf lines) compare.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Same keys, same values (the default).
    #[default]
    Exact,
    /// Same keys; per key the number of values recorded: a histogram's
    /// bucket counts summed, `stats`' count; other values not compared.
    Total,
    /// Same keys; values not compared.
    Keys,
    /// printf lines: the same lines with every run of digits replaced by
    /// `#` (values that differ per run: times, addresses).
    Masked,
    /// printf lines: the same number of lines.
    Lines,
    /// Not compared.
    Skip,
}

/// A mode and why it is not `exact`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loose {
    pub compare: Mode,
    pub why: String,
}

/// One fixture's entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub filter: Filter,
    /// Maps that do not compare exactly.
    #[serde(default)]
    pub maps: BTreeMap<String, Loose>,
    /// How the maps not named in `maps` compare (a published tool's
    /// generic rule; a fixture's rule names each map that is not exact).
    #[serde(skip)]
    pub every_map: Option<Loose>,
    /// The printf lines, when they do not compare exactly.
    #[serde(default)]
    pub printf: Option<Loose>,
    /// Why bpftrace cannot run this fixture (it is then not run).
    #[serde(default)]
    pub skip: Option<Reason>,
    /// A documented difference: reported side by side, not a failure.
    #[serde(default)]
    pub differs: Option<Reason>,
}

/// Why, for every bpftrace version (`"why"`) or for the versions listed
/// (`[{ bpftrace = "0.17", why = "..." }]`): the arches' Debian packages
/// differ (riscv64 runs trixie's 0.23, the others bookworm's 0.17).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Reason {
    Always(String),
    Versions(Vec<ForVersion>),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForVersion {
    /// A version or its prefix in whole components: `0.17` holds for
    /// `0.17.0` and `0.17.1`, not `0.171`.
    pub bpftrace: String,
    pub why: String,
}

impl Reason {
    /// The reason as it holds for bpftrace `version` (`0.17.0`), if it does.
    pub fn for_version(&self, version: &str) -> Option<&str> {
        match self {
            Reason::Always(why) => Some(why),
            Reason::Versions(list) => list
                .iter()
                .find(|v| {
                    version == v.bpftrace
                        || version
                            .strip_prefix(&v.bpftrace)
                            .is_some_and(|rest| rest.starts_with('.'))
                })
                .map(|v| v.why.as_str()),
        }
    }
}

impl Rule {
    pub fn map_mode(&self, map: &str) -> Mode {
        self.maps
            .get(map)
            .or(self.every_map.as_ref())
            .map_or(Mode::Exact, |l| l.compare)
    }

    pub fn printf_mode(&self) -> Mode {
        self.printf.as_ref().map_or(Mode::Exact, |l| l.compare)
    }

    /// Why bpftrace `version` cannot run the fixture, if it cannot.
    pub fn skip_for(&self, version: &str) -> Option<&str> {
        self.skip.as_ref()?.for_version(version)
    }

    /// The documented difference under bpftrace `version`, if there is one.
    pub fn differs_for(&self, version: &str) -> Option<&str> {
        self.differs.as_ref()?.for_version(version)
    }
}

pub fn path() -> PathBuf {
    probecc_fixtures::dir().join("parity.toml")
}

/// Every fixture's rule; a fixture of `fixtures/specs` without one is an
/// error (the rule must be decided, not defaulted).
pub fn load() -> Result<BTreeMap<String, Rule>> {
    let p = path();
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    let rules: BTreeMap<String, Rule> =
        toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
    for (name, _) in probecc_fixtures::specs()? {
        if !rules.contains_key(&name) {
            bail!("fixture {name} has no entry in {}", p.display());
        }
    }
    for (name, r) in &rules {
        for (map, l) in &r.maps {
            if matches!(l.compare, Mode::Masked | Mode::Lines) {
                bail!("{name}: {map}: `{:?}` is for printf lines", l.compare);
            }
        }
        if let Some(l) = &r.printf {
            if matches!(l.compare, Mode::Total | Mode::Keys) {
                bail!("{name}: printf: `{:?}` is for maps", l.compare);
            }
        }
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_has_a_rule() {
        super::load().expect("fixtures/parity.toml is complete and valid");
    }

    #[test]
    fn reasons_hold_for_their_versions_only() {
        let r: Rule = toml::from_str(
            "filter = \"comm\"\nskip = \"never runs\"\n\
             differs = [{ bpftrace = \"0.17\", why = \"old\" }, { bpftrace = \"0.23.2\", why = \"new\" }]\n",
        )
        .unwrap();
        assert_eq!(r.skip_for("0.27.1"), Some("never runs"));
        assert_eq!(r.differs_for("0.17.0"), Some("old"));
        assert_eq!(r.differs_for("0.17"), Some("old"));
        assert_eq!(r.differs_for("0.23.2"), Some("new"));
        assert_eq!(r.differs_for("0.23.20"), None);
        assert_eq!(r.differs_for("0.171.0"), None);
        assert_eq!(r.differs_for("0.24.0"), None);
    }
}
