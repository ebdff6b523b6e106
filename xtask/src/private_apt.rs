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
        let prefix = format!("{package}_");
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with(&prefix) && name.ends_with(".deb") {
                return Ok(path);
            }
        }
        bail!(
            "apt-get download {package} left no .deb in {}",
            dir.display()
        )
    }
}

/// The runs of digits in `s`, for ordering versioned names.
fn numbers(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter_map(|d| d.parse().ok())
        .collect()
}
