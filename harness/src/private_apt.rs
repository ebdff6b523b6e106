//! apt with a private configuration: its own sources.list, package lists,
//! caches and an empty dpkg status, all under one directory, so that it can
//! fetch another architecture's packages without touching the host's dpkg or
//! apt state. Signature checks stay on (Debian's archive keyring). The
//! mirror is the Debian archive the host's own apt sources name (deb822
//! `*.sources` or one-line `sources.list`); a host without apt, or
//! without a Debian archive among its sources, gets [`Error::NoApt`],
//! which says that a kernel given with `--kernel PATH` needs no download.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{bail, Context, Error, Result};

const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// The host's apt configuration directory.
const ETC_APT: &str = "/etc/apt";

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
        if !crate::tools::on_path("apt-get") {
            return Err(Error::NoApt(format!(
                "this host has no apt (`apt-get` is not on PATH), which fetches Debian's \
                 {debian_arch} packages for {suite}: boot a kernel you have with \
                 `--kernel PATH`, which needs no download"
            )));
        }
        if !Path::new(KEYRING).is_file() {
            return Err(Error::NoApt(format!(
                "{KEYRING} is missing, which checks Debian's signatures: install Debian's \
                 `debian-archive-keyring`, or boot a kernel you have with `--kernel PATH`, \
                 which needs no download"
            )));
        }
        // An empty dpkg status of its own: apt takes its frontend lock
        // beside the status file, so with `/dev/null` every private root
        // would share `/dev/lock-frontend` and fetches for two arches at
        // once would refuse each other.
        let status = root.join("status");
        if !status.exists() {
            std::fs::write(&status, "").with_context(|| format!("writing {}", status.display()))?;
        }
        let mirror = host_mirror(Path::new(ETC_APT))?;
        let sources = format!("deb [signed-by={KEYRING}] {mirror} {suite} main\n");
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
            format!("Dir::State::status={r}/status"),
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

/// One `deb` source of an apt configuration, in either format.
#[derive(Debug, Default, PartialEq, Eq)]
struct Source {
    types: Vec<String>,
    uris: Vec<String>,
    suites: Vec<String>,
    components: Vec<String>,
    signed_by: Option<String>,
    enabled: bool,
}

impl Source {
    /// A Debian archive (not its security archive, not another vendor's
    /// repository) that apt can fetch any suite's `main` from: its URI if
    /// so.
    fn debian_archive(&self) -> Option<&str> {
        let words = |v: &[String], w: &str| v.iter().any(|x| x == w);
        let debian_key = self
            .signed_by
            .as_deref()
            .is_none_or(|k| k.contains("debian-archive-keyring"));
        let archive = self.suites.iter().any(|s| !s.ends_with("-security"));
        if !(self.enabled
            && words(&self.types, "deb")
            && words(&self.components, "main")
            && debian_key
            && archive)
        {
            return None;
        }
        self.uris
            .iter()
            .map(String::as_str)
            .find(|u| u.starts_with("http://") || u.starts_with("https://"))
    }
}

/// The sources of a deb822 `*.sources` file: stanzas of `Field: value`
/// lines (continued on indented lines) separated by blank lines.
fn deb822(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in stanza.lines() {
            if line.starts_with('#') {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = fields.last_mut() {
                    value.push('\n');
                    value.push_str(line.trim());
                }
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        if fields.is_empty() {
            continue;
        }
        let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
        let list = |k: &str| get(k).map_or(Vec::new(), words);
        out.push(Source {
            types: list("types"),
            uris: list("uris"),
            suites: list("suites"),
            components: list("components"),
            signed_by: get("signed-by").map(str::to_string),
            enabled: get("enabled").is_none_or(|v| !v.eq_ignore_ascii_case("no")),
        });
    }
    out
}

/// The sources of a one-line `sources.list`: `deb [OPTIONS] URI SUITE
/// COMPONENT...`.
fn one_line(text: &str) -> Vec<Source> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next()?.trim();
            let (ty, rest) = line.split_once(char::is_whitespace)?;
            let rest = rest.trim_start();
            let (options, rest) = match rest.strip_prefix('[') {
                Some(r) => r.split_once(']')?,
                None => ("", rest),
            };
            let mut parts = words(rest).into_iter();
            let uri = parts.next()?;
            let suite = parts.next()?;
            let signed_by = words(options)
                .into_iter()
                .find_map(|o| o.strip_prefix("signed-by=").map(str::to_string));
            Some(Source {
                types: vec![ty.to_string()],
                uris: vec![uri],
                suites: vec![suite],
                components: parts.collect(),
                signed_by,
                enabled: true,
            })
        })
        .collect()
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// The Debian archive mirror of the apt configuration in `etc_apt`
/// (`sources.list`, then `sources.list.d/*.list` and `*.sources` in name
/// order): the first source that is one.
fn host_mirror(etc_apt: &Path) -> Result<String> {
    let mut files = vec![etc_apt.join("sources.list")];
    let parts = etc_apt.join("sources.list.d");
    if let Ok(dir) = std::fs::read_dir(&parts) {
        let mut found: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        found.sort();
        files.extend(found);
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let sources = match file.extension().and_then(|e| e.to_str()) {
            Some("sources") => deb822(&text),
            Some("list") => one_line(&text),
            _ => continue,
        };
        if let Some(uri) = sources.iter().find_map(Source::debian_archive) {
            return Ok(uri.trim_end_matches('/').to_string());
        }
    }
    Err(Error::NoApt(format!(
        "no Debian archive among the host's apt sources ({0}/sources.list, \
         {0}/sources.list.d/*.sources or *.list), which the packages are \
         downloaded from: add one, or boot a kernel you have with \
         `--kernel PATH`, which needs no download",
        etc_apt.display()
    )))
}

/// `dpkg-deb --fsys-tarfile DEB | tar -x MEMBER`.
pub fn extract(deb: &Path, into: &Path, member: &str) -> Result<()> {
    let mut dpkg = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .context("running dpkg-deb")?;
    let stdout = dpkg.stdout.take().context("dpkg-deb stdout")?;
    let tar = Command::new("tar")
        .args(["-x", "-f", "-", "-C"])
        .arg(into)
        .arg(member)
        .stdin(stdout)
        .status()
        .context("running tar")?;
    let dpkg_status = dpkg.wait()?;
    if !tar.success() || !dpkg_status.success() {
        bail!("extracting {member} of {} failed", deb.display());
    }
    Ok(())
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

    /// An apt configuration directory holding `files` (name, text).
    fn etc_apt(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("probecc-etc-apt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sources.list.d")).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        dir
    }

    const DEB822: &str = "\
Types: deb
# a comment inside the stanza
URIs: http://security.invalid/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://vendor.invalid/linux/debian
Suites: bookworm
Components: stable
Signed-By: /etc/apt/keyrings/vendor.gpg

Types: deb-src deb
URIs: http://mirror.invalid/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";

    #[test]
    fn deb822_stanzas_give_the_debian_archive() {
        let sources = deb822(DEB822);
        assert_eq!(sources.len(), 3);
        assert_eq!(sources[2].types, ["deb-src", "deb"]);
        assert_eq!(sources[2].suites, ["bookworm", "bookworm-updates"]);
        let archives: Vec<_> = sources.iter().filter_map(Source::debian_archive).collect();
        assert_eq!(archives, ["http://mirror.invalid/debian/"]);
        let dir = etc_apt("deb822", &[("sources.list.d/debian.sources", DEB822)]);
        assert_eq!(host_mirror(&dir).unwrap(), "http://mirror.invalid/debian");
        let disabled = DEB822.replace("Types: deb-src deb", "Types: deb\nEnabled: no");
        assert!(deb822(&disabled)
            .iter()
            .all(|s| s.debian_archive().is_none()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn one_line_sources_give_the_debian_archive() {
        let text = "\
# deb http://commented.invalid/debian bookworm main
deb-src http://mirror.invalid/debian bookworm main
deb [arch=amd64 signed-by=/etc/apt/keyrings/vendor.gpg] https://vendor.invalid/debian bookworm main
deb http://security.invalid/debian-security bookworm-security main
deb [arch=amd64] http://mirror.invalid/debian bookworm main contrib # trailing
";
        let sources = one_line(text);
        assert_eq!(sources.len(), 4);
        assert_eq!(
            sources[1].signed_by.as_deref(),
            Some("/etc/apt/keyrings/vendor.gpg")
        );
        assert_eq!(sources[3].components, ["main", "contrib"]);
        let dir = etc_apt("one-line", &[("sources.list", text)]);
        assert_eq!(host_mirror(&dir).unwrap(), "http://mirror.invalid/debian");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_debian_archive_says_what_avoids_the_download() {
        let dir = etc_apt(
            "none",
            &[(
                "sources.list.d/vendor.list",
                "deb https://vendor.invalid/debian bookworm stable\n",
            )],
        );
        let e = host_mirror(&dir).unwrap_err().to_string();
        assert!(
            e.starts_with("no Debian archive among the host's apt sources"),
            "{e}"
        );
        assert!(e.contains("--kernel PATH"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        let e = host_mirror(Path::new("/nonexistent/etc/apt")).unwrap_err();
        assert!(e.to_string().contains("--kernel PATH"), "{e}");
    }

    #[test]
    fn each_root_has_its_own_dpkg_status_and_so_its_own_lock() {
        let options = |root: &str| {
            PrivateApt {
                root: root.into(),
                debian_arch: "arm64".into(),
            }
            .options()
        };
        let (a, b) = (options("/r/a"), options("/r/b"));
        assert!(
            a.contains(&"Dir::State::status=/r/a/status".to_string()),
            "{a:?}"
        );
        assert!(
            b.contains(&"Dir::State::status=/r/b/status".to_string()),
            "{b:?}"
        );
        assert!(
            !a.iter().any(|o| o.starts_with("Dir::State::status=/dev/")),
            "{a:?}"
        );
    }

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
