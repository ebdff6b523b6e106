//! apt with a private configuration: its own sources.list, package lists,
//! caches and an empty dpkg status, all under one directory, so that it can
//! fetch another architecture's packages without touching the host's dpkg or
//! apt state. Signature checks stay on (Debian's archive keyring).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

const MIRROR: &str = "http://deb.debian.org/debian";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// One private apt root for (Debian arch, suite).
pub struct PrivateApt {
    root: PathBuf,
    debian_arch: String,
}

impl PrivateApt {
    /// Prepares the directory layout and sources.list under `root`.
    pub fn new(root: &Path, debian_arch: &str, suite: &str) -> Result<PrivateApt> {
        for sub in ["lists/partial", "archives/partial", "cache"] {
            let d = root.join(sub);
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        }
        if !Path::new(KEYRING).is_file() {
            bail!("{KEYRING} is missing: install Debian's `debian-archive-keyring`");
        }
        let sources = format!("deb [signed-by={KEYRING}] {MIRROR} {suite} main\n");
        let path = root.join("sources.list");
        std::fs::write(&path, sources).with_context(|| format!("writing {}", path.display()))?;
        Ok(PrivateApt {
            root: root.to_path_buf(),
            debian_arch: debian_arch.to_string(),
        })
    }

    /// The `-o` options that point apt at the private root.
    fn options(&self) -> Vec<String> {
        let r = self.root.display();
        let a = &self.debian_arch;
        let mut o = vec![
            format!("APT::Architecture={a}"),
            format!("APT::Architectures::={a}"),
            format!("Dir::State::Lists={r}/lists"),
            format!("Dir::Etc::SourceList={r}/sources.list"),
            "Dir::Etc::SourceParts=/dev/null".into(),
            "Dir::State::status=/dev/null".into(),
            format!("Dir::Cache={r}/cache"),
            format!("Dir::Cache::Archives={r}/archives"),
            "APT::Sandbox::User=root".into(),
            "Acquire::Languages=none".into(),
        ];
        for t in ["DEP-11", "DEP-11-icons", "DEP-11-icons-small", "CNF"] {
            o.push(format!(
                "Acquire::IndexTargets::deb::{t}::DefaultEnabled=false"
            ));
        }
        o.into_iter().flat_map(|x| ["-o".to_string(), x]).collect()
    }

    fn run(&self, tool: &str, args: &[&str], cwd: &Path) -> Result<String> {
        let out = Command::new(tool)
            .args(self.options())
            .args(args)
            .current_dir(cwd)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .with_context(|| format!("running {tool}"))?;
        if !out.status.success() {
            bail!(
                "{tool} {} failed ({}):\n{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `apt-get update` of the private lists.
    pub fn update(&self) -> Result<()> {
        self.run("apt-get", &["update", "-qq"], &self.root)
            .map(|_| ())
    }

    /// The first package a (meta) package depends on whose name starts
    /// with `prefix`: `linux-image-arm64` → `linux-image-6.1.0-37-arm64`.
    pub fn dependency(&self, package: &str, prefix: &str) -> Result<String> {
        let text = self.run("apt-cache", &["depends", package], &self.root)?;
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("Depends: "))
            .find(|d| d.starts_with(prefix))
            .map(str::to_string)
            .with_context(|| format!("{package} depends on no `{prefix}*` package"))
    }

    /// Packages whose names match the regex `pattern`, newest first
    /// (compared by the numbers in their names).
    pub fn search_names(&self, pattern: &str) -> Result<Vec<String>> {
        let text = self.run(
            "apt-cache",
            &["search", "--names-only", pattern],
            &self.root,
        )?;
        let mut names: Vec<String> = text
            .lines()
            .filter_map(|l| l.split(" - ").next())
            .map(str::to_string)
            .collect();
        names.sort_by_key(|n| std::cmp::Reverse(numbers(n)));
        Ok(names)
    }

    /// Downloads `package`'s .deb into `dir`, returning its path.
    pub fn download(&self, package: &str, dir: &Path) -> Result<PathBuf> {
        self.run("apt-get", &["download", "-qq", package], dir)?;
        deb_named(dir, &format!("{package}_"))?.with_context(|| {
            format!(
                "apt-get download {package} left no .deb in {}",
                dir.display()
            )
        })
    }

    /// Downloads `package` and every package it depends on (not the ones
    /// it recommends), as apt resolves them against the empty status, into
    /// the private archive cache; returns (name, version, .deb) of each.
    pub fn download_closure(&self, package: &str) -> Result<Vec<(String, String, PathBuf)>> {
        let base = ["install", "-qq", "--no-install-recommends"];
        let plan = self.run(
            "apt-get",
            &[&base[..], &["-s", package]].concat(),
            &self.root,
        )?;
        let wanted = simulated_installs(&plan);
        if wanted.is_empty() {
            bail!("apt resolves `{package}` to no packages:\n{plan}");
        }
        self.run(
            "apt-get",
            &[&base[..], &["-y", "--download-only", package]].concat(),
            &self.root,
        )?;
        let archives = self.root.join("archives");
        wanted
            .into_iter()
            .map(|(name, version)| {
                let deb = find_deb(&archives, &name, &version)?;
                Ok((name, version, deb))
            })
            .collect()
    }
}

/// `Inst libc6 (2.36-9+deb12u14 Debian:12.13/stable [arm64])` lines of
/// `apt-get install -s` → (name, version).
fn simulated_installs(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("Inst ")?;
            let (name, rest) = rest.split_once(" (")?;
            let version = rest.split_whitespace().next()?;
            Some((name.to_string(), version.to_string()))
        })
        .collect()
}

/// The .deb of (name, version) in `archives`: apt names it
/// `NAME_VERSION_ARCH.deb` with the epoch's `:` spelled `%3a`.
fn find_deb(archives: &Path, name: &str, version: &str) -> Result<PathBuf> {
    let prefix = format!("{name}_{}_", version.replace(':', "%3a"));
    deb_named(archives, &prefix)?.with_context(|| {
        format!(
            "apt downloaded no {prefix}*.deb into {}",
            archives.display()
        )
    })
}

/// The first `PREFIX*.deb` in `dir`.
fn deb_named(dir: &Path, prefix: &str) -> Result<Option<PathBuf>> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if file.starts_with(prefix) && file.ends_with(".deb") {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// The runs of digits in `s`, for ordering versioned names.
fn numbers(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter_map(|d| d.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_installs_give_names_and_versions() {
        let text = "NOTE: This is only a simulation!\n\
            Inst gcc-12-base (12.2.0-14+deb12u1 Debian:12.15/oldstable [arm64])\n\
            Inst libgcc-s1 (12.2.0-14+deb12u1 Debian:12.15/oldstable [arm64]) []\n\
            Inst zlib1g (1:1.2.13.dfsg-1 Debian:12.15/oldstable [arm64])\n\
            Conf zlib1g (1:1.2.13.dfsg-1 Debian:12.15/oldstable [arm64])\n";
        assert_eq!(
            simulated_installs(text),
            vec![
                ("gcc-12-base".into(), "12.2.0-14+deb12u1".into()),
                ("libgcc-s1".into(), "12.2.0-14+deb12u1".into()),
                ("zlib1g".into(), "1:1.2.13.dfsg-1".into()),
            ]
        );
    }

    #[test]
    fn debs_are_found_by_their_escaped_epoch() {
        let dir = std::env::temp_dir().join(format!("probecc-apt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in [
            "zlib1g_1%3a1.2.13.dfsg-1_arm64.deb",
            "zlib1g-dev_1%3a1.2.13.dfsg-1_arm64.deb",
        ] {
            std::fs::write(dir.join(f), b"").unwrap();
        }
        let found = find_deb(&dir, "zlib1g", "1:1.2.13.dfsg-1").unwrap();
        assert_eq!(found, dir.join("zlib1g_1%3a1.2.13.dfsg-1_arm64.deb"));
        assert!(find_deb(&dir, "zlib1g", "1:1.2.14").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
