//! bpftrace for the guest: Debian's `bpftrace` package of the guest's arch,
//! from the oldest release that has the arch (`machine::first_release`),
//! with every package it depends on, fetched through the private apt
//! (signature-checked) and unpacked once under
//! `target/bpftrace/<release>/<arch>/root`. From that tree a bundle takes
//! the binary, the dynamic loader its `PT_INTERP` names and every shared
//! library the loader will open, found by walking `DT_NEEDED` as ld.so
//! searches (`object` reads the ELF): `ldd` cannot run a foreign binary.
//!
//! A cached tree that lost a file is unpacked again (`XTASK_BPFTRACE_DIR`
//! moves the cache, for the fault tests).
//!
//! The guest gets Debian's merged-/usr layout (`/lib` → `usr/lib`), so
//! the loader finds a library by any of the paths Debian's packages and
//! its built-in search list use.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use probecc::arch::Arch;
use probecc_guest::protocol::BPFTRACE;
use serde::{Deserialize, Serialize};

use crate::kernels;
use crate::lock::FileLock;
use crate::machine::{self, Release};
use crate::private_apt::PrivateApt;

/// The files of one bundle, and the guest's merged-/usr symlinks.
pub struct Bundle {
    /// e.g. `bpftrace 0.17.0-1 (Debian bookworm arm64)`.
    pub version: String,
    /// The upstream version, e.g. `0.17.0` (the rules' `bpftrace = ...`).
    pub upstream: String,
    /// (path in the guest, file on the host).
    pub files: Vec<(String, PathBuf)>,
    /// (link in the guest, its target).
    pub links: Vec<(String, String)>,
}

/// The top-level directories that merged /usr makes symlinks into `usr/`.
const MERGED: [&str; 3] = ["lib", "lib64", "lib32"];

/// What `bundle.json` records of an unpacked tree.
#[derive(Serialize, Deserialize)]
struct Stamp {
    /// e.g. `bpftrace 0.17.0-1 (Debian bookworm arm64)`.
    version: String,
    /// Debian's version of the package, e.g. `0.17.0-1`.
    debian: String,
    /// `name version` of every package unpacked.
    packages: Vec<String>,
}

/// The bundle for `arch`, fetching and unpacking its packages the first
/// time.
pub fn fetch(arch: Arch) -> Result<Bundle> {
    let release = machine::first_release(arch);
    let dir = root().join(release.name()).join(arch.name());
    let tree = dir.join("root");
    let stamp_path = dir.join("bundle.json");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _lock = FileLock::acquire(
        &dir.join("lock"),
        &format!("xtask: parity: waiting for another run unpacking bpftrace for {arch}"),
    )?;
    let cached = read_stamp(&stamp_path).filter(|_| tree.is_dir());
    let from_cache = cached.is_some();
    let mut stamp = match cached {
        Some(s) => s,
        None => unpack(arch, release, &dir)?,
    };
    let files = match closure(&tree, arch, BPFTRACE) {
        Ok(files) => files,
        // A cached tree that lost a file (an interrupted cleanup, a
        // hand edit) is unpacked again, once.
        Err(e) if from_cache => {
            println!(
                "xtask: parity: the cached bpftrace tree is damaged ({e:#}); unpacking it again"
            );
            stamp = unpack(arch, release, &dir)?;
            closure(&tree, arch, BPFTRACE)?
        }
        Err(e) => return Err(e),
    };
    let links = MERGED
        .iter()
        .filter(|d| {
            files
                .iter()
                .any(|(g, _)| g.starts_with(&format!("/usr/{d}/")))
        })
        .map(|d| (format!("/{d}"), format!("usr/{d}")))
        .collect();
    Ok(Bundle {
        upstream: upstream(&stamp.debian).to_string(),
        version: stamp.version,
        files,
        links,
    })
}

/// The files of Debian `release`'s bpftrace package itself (its tools
/// and examples, the same on every arch: amd64's), unpacked once under
/// `<cache>/<release>/package/root` beside the guests' trees.
pub fn package_tree(release: Release) -> Result<PathBuf> {
    let dir = root().join(release.name()).join("package");
    let tree = dir.join("root");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _lock = FileLock::acquire(
        &dir.join("lock"),
        &format!("xtask: waiting for another run unpacking {release}'s bpftrace package"),
    )?;
    if tree.is_dir() {
        return Ok(tree);
    }
    println!(
        "xtask: fetching Debian {release}'s bpftrace package (signature-checked apt, into {})",
        dir.display()
    );
    let apt = PrivateApt::new(&dir.join("apt"), "amd64", release.name())?;
    apt.update()?;
    let debs = dir.join("debs");
    std::fs::create_dir_all(&debs)?;
    let deb = apt.download("bpftrace", &debs)?;
    let tmp = dir.join(format!("root.tmp{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    kernels::extract(&deb, &tmp, ".")?;
    std::fs::rename(&tmp, &tree)
        .with_context(|| format!("renaming {} to {}", tmp.display(), tree.display()))?;
    Ok(tree)
}

/// Where the unpacked trees live: `target/bpftrace`, or
/// `XTASK_BPFTRACE_DIR` (the fault tests damage a copy there).
fn root() -> PathBuf {
    match std::env::var_os("XTASK_BPFTRACE_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => crate::workspace_root().join("target/bpftrace"),
    }
}

/// Debian's `[epoch:]upstream[-revision]` → upstream.
fn upstream(debian: &str) -> &str {
    let v = debian.split_once(':').map_or(debian, |(_, v)| v);
    v.rsplit_once('-').map_or(v, |(u, _)| u)
}

fn read_stamp(path: &Path) -> Option<Stamp> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Downloads bpftrace and its dependency closure and unpacks every package
/// into `dir/root` (atomically: a half-unpacked tree is never used).
fn unpack(arch: Arch, release: Release, dir: &Path) -> Result<Stamp> {
    println!(
        "xtask: parity: fetching Debian {release}'s bpftrace for {arch} with the packages it \
         depends on (signature-checked apt, into {})",
        dir.display()
    );
    let apt = PrivateApt::new(&dir.join("apt"), arch.debian_arch(), release.name())?;
    apt.update()?;
    let debs = apt.download_closure("bpftrace")?;
    // Under the lock: any root.tmp* is what an interrupted run left.
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("root.tmp"))
        {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("removing {}", path.display()))?;
        }
    }
    let tmp = dir.join(format!("root.tmp{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let mut packages = Vec::new();
    let mut debian = None;
    for (name, v, deb) in &debs {
        kernels::extract(deb, &tmp, ".")?;
        packages.push(format!("{name} {v}"));
        if name == "bpftrace" {
            debian = Some(v.clone());
        }
    }
    let debian = debian.context("apt's closure of bpftrace does not hold bpftrace")?;
    let version = format!(
        "bpftrace {debian} (Debian {release} {})",
        arch.debian_arch()
    );
    let tree = dir.join("root");
    if tree.exists() {
        std::fs::remove_dir_all(&tree)?;
    }
    std::fs::rename(&tmp, &tree)
        .with_context(|| format!("renaming {} to {}", tmp.display(), tree.display()))?;
    let stamp = Stamp {
        version,
        debian,
        packages,
    };
    kernels::write_atomic(
        &dir.join("bundle.json"),
        &serde_json::to_vec_pretty(&stamp)?,
    )?;
    println!(
        "xtask: parity: unpacked {} packages for {}",
        debs.len(),
        stamp.version
    );
    Ok(stamp)
}

/// The dynamic facts of one ELF file.
struct Dynamic {
    interpreter: Option<String>,
    needed: Vec<String>,
    runpath: Vec<String>,
}

fn dynamic(path: &Path) -> Result<Dynamic> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    read_dynamic(&bytes).with_context(|| format!("{} is not a 64-bit ELF file", path.display()))
}

/// `PT_INTERP`, and the `DT_NEEDED`, `DT_RUNPATH` and `DT_RPATH` entries
/// of the dynamic section (runpath before rpath, as before).
fn read_dynamic(bytes: &[u8]) -> object::read::Result<Dynamic> {
    use object::elf::{FileHeader64, DT_NEEDED, DT_RPATH, DT_RUNPATH};
    use object::read::elf::{Dyn as _, FileHeader as _, ProgramHeader as _};

    let header = FileHeader64::<object::Endianness>::parse(bytes)?;
    let e = header.endian()?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut interpreter = None;
    for segment in header.program_headers(e, bytes)? {
        if let Some(interp) = segment.interpreter(e, bytes)? {
            interpreter = Some(text(interp));
        }
    }
    let (mut needed, mut runpath, mut rpath) = (Vec::new(), Vec::new(), Vec::new());
    let sections = header.sections(e, bytes)?;
    if let Some((entries, strtab)) = sections.dynamic(e, bytes)? {
        let strings = sections.strings(e, bytes, strtab)?;
        for entry in entries {
            let list = match entry.tag32(e).map(i64::from) {
                Some(DT_NEEDED) => &mut needed,
                Some(DT_RUNPATH) => &mut runpath,
                Some(DT_RPATH) => &mut rpath,
                _ => continue,
            };
            list.push(text(entry.string(e, strings)?));
        }
    }
    Ok(Dynamic {
        interpreter,
        needed,
        runpath: runpath
            .iter()
            .chain(&rpath)
            .flat_map(|p| p.split(':'))
            .map(str::to_string)
            .collect(),
    })
}

/// `binary`, its loader and every library it needs (transitively), as
/// (merged-/usr guest path, host file under `tree`).
fn closure(tree: &Path, arch: Arch, binary: &str) -> Result<Vec<(String, PathBuf)>> {
    closure_of(tree, arch, binary)
        .with_context(|| format!("bpftrace's libraries in {}", tree.display()))
}

fn closure_of(tree: &Path, arch: Arch, binary: &str) -> Result<Vec<(String, PathBuf)>> {
    let host = resolve(tree, binary).with_context(|| format!("{binary} is not in the tree"))?;
    let top = dynamic(&host)?;
    let mut files = BTreeMap::new();
    files.insert(merged(binary), host);
    let mut loader_name = None;
    if let Some(interp) = &top.interpreter {
        let file = resolve(tree, interp)
            .with_context(|| format!("{binary}'s loader {interp} is not in the tree"))?;
        files.insert(merged(interp), file);
        loader_name = Path::new(interp).file_name().map(|n| n.to_owned());
    }
    let defaults = [format!("/usr/lib/{}", arch.multiarch()), "/usr/lib".into()];
    let mut queue = vec![(binary.to_string(), top)];
    let mut seen = BTreeSet::new();
    while let Some((from, dyn_)) = queue.pop() {
        let origin = Path::new(&from).parent().unwrap_or(Path::new("/"));
        for name in &dyn_.needed {
            if loader_name.as_deref() == Some(std::ffi::OsStr::new(name))
                || !seen.insert(name.clone())
            {
                continue;
            }
            let dirs: Vec<String> = dyn_
                .runpath
                .iter()
                .map(|d| d.replace("$ORIGIN", &origin.display().to_string()))
                .chain(defaults.iter().cloned())
                .collect();
            let (guest, file) = dirs
                .iter()
                .find_map(|d| {
                    let g = format!("{d}/{name}");
                    resolve(tree, &g).map(|f| (g, f))
                })
                .with_context(|| {
                    format!("{from} needs {name}, which is in none of {dirs:?} of the unpacked packages")
                })?;
            queue.push((guest.clone(), dynamic(&file)?));
            files.insert(merged(&guest), file);
        }
    }
    Ok(files.into_iter().collect())
}

/// `/lib/x` → `/usr/lib/x` (merged /usr); other paths as they are.
fn merged(path: &str) -> String {
    let top = path.trim_start_matches('/').split('/').next().unwrap_or("");
    if MERGED.contains(&top) {
        format!("/usr{path}")
    } else {
        path.to_string()
    }
}

/// The regular file that `guest` names in the unpacked `tree`, following
/// symlinks inside the tree (absolute targets are the tree's, not the
/// host's) and treating `/lib` and `/usr/lib` as one directory, as merged
/// /usr does.
fn resolve(tree: &Path, guest: &str) -> Option<PathBuf> {
    resolve_depth(tree, Path::new(guest), 0)
}

fn resolve_depth(tree: &Path, guest: &Path, depth: u32) -> Option<PathBuf> {
    if depth > 40 {
        return None;
    }
    let text = guest.display().to_string();
    let alternative = match text.strip_prefix("/usr") {
        Some(rest) if MERGED.iter().any(|d| rest.starts_with(&format!("/{d}/"))) => {
            rest.to_string()
        }
        _ => merged(&text),
    };
    walk(tree, guest, depth).or_else(|| {
        (alternative != text)
            .then(|| walk(tree, Path::new(&alternative), depth))
            .flatten()
    })
}

/// One lookup of `guest` in `tree`, component by component.
fn walk(tree: &Path, guest: &Path, depth: u32) -> Option<PathBuf> {
    let comps: Vec<Component> = guest.components().collect();
    let mut cur = PathBuf::from("/");
    for (i, c) in comps.iter().enumerate() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                cur.pop();
            }
            Component::Normal(n) => {
                let next = cur.join(n);
                let host = tree.join(next.strip_prefix("/").ok()?);
                let meta = std::fs::symlink_metadata(&host).ok()?;
                if meta.file_type().is_symlink() {
                    let target = std::fs::read_link(&host).ok()?;
                    let rest: PathBuf = comps[i + 1..].iter().collect();
                    let base = if target.is_absolute() {
                        target
                    } else {
                        cur.join(target)
                    };
                    return resolve_depth(tree, &base.join(rest), depth + 1);
                }
                cur = next;
            }
        }
    }
    let host = tree.join(cur.strip_prefix("/").ok()?);
    host.is_file().then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc_test_support::{require, Need};
    use std::os::unix::fs::symlink;

    fn tree(name: &str) -> PathBuf {
        let t = std::env::temp_dir().join(format!("probecc-bundle-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&t);
        std::fs::create_dir_all(&t).unwrap();
        t
    }

    fn file(t: &Path, p: &str) {
        let f = t.join(p.trim_start_matches('/'));
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, p).unwrap();
    }

    fn link(t: &Path, p: &str, target: &str) {
        let f = t.join(p.trim_start_matches('/'));
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        symlink(target, f).unwrap();
    }

    #[test]
    fn symlinks_resolve_inside_the_tree_and_lib_is_usr_lib() {
        let t = tree("resolve");
        file(&t, "/usr/lib/llvm-14/lib/libLLVM-14.so.1");
        link(
            &t,
            "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1",
            "../llvm-14/lib/libLLVM-14.so.1",
        );
        file(&t, "/lib/x86_64-linux-gnu/libc.so.6");
        link(
            &t,
            "/lib64/ld-linux-x86-64.so.2",
            "/lib/x86_64-linux-gnu/libc.so.6",
        );
        link(&t, "/usr/lib/loop", "loop");
        let llvm = t.join("usr/lib/llvm-14/lib/libLLVM-14.so.1");
        assert_eq!(
            resolve(&t, "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1"),
            Some(llvm.clone())
        );
        assert_eq!(
            resolve(&t, "/lib/x86_64-linux-gnu/libLLVM-14.so.1"),
            Some(llvm)
        );
        let libc = t.join("lib/x86_64-linux-gnu/libc.so.6");
        assert_eq!(
            resolve(&t, "/usr/lib/x86_64-linux-gnu/libc.so.6"),
            Some(libc.clone())
        );
        // An absolute target is the tree's path, never the host's.
        assert_eq!(resolve(&t, "/lib64/ld-linux-x86-64.so.2"), Some(libc));
        assert_eq!(resolve(&t, "/usr/lib/loop"), None);
        assert_eq!(resolve(&t, "/usr/lib/missing.so"), None);
        assert_eq!(
            resolve(&t, "/usr/lib/llvm-14/lib"),
            None,
            "a directory is no library"
        );
        std::fs::remove_dir_all(&t).unwrap();
    }

    #[test]
    fn upstream_versions_drop_epoch_and_revision() {
        assert_eq!(upstream("0.17.0-1"), "0.17.0");
        assert_eq!(upstream("1:14.0.6-12"), "14.0.6");
        assert_eq!(upstream("0.23.2"), "0.23.2");
        assert_eq!(upstream("2.36-9+deb12u14"), "2.36");
    }

    #[test]
    fn merged_usr_moves_only_the_library_directories() {
        assert_eq!(
            merged("/lib/aarch64-linux-gnu/libc.so.6"),
            "/usr/lib/aarch64-linux-gnu/libc.so.6"
        );
        assert_eq!(merged("/lib64/ld64.so.2"), "/usr/lib64/ld64.so.2");
        assert_eq!(merged("/usr/bin/bpftrace"), "/usr/bin/bpftrace");
        assert_eq!(merged("/library/x"), "/library/x");
    }

    /// The host is a Debian tree too: the closure of a dynamically linked
    /// host binary, found from DT_NEEDED, is what the host's loader loads.
    #[test]
    #[ignore = "needs ldd, an x86_64 Debian host"]
    fn closure_of_a_host_binary_is_what_ldd_lists() {
        let binary = "/usr/bin/apt-get";
        let host = cfg!(target_arch = "x86_64") && Path::new(binary).is_file();
        let debian =
            "an x86_64 Debian host (the test knows its library paths and /usr/bin/apt-get)";
        if !require(&[Need::Tool("ldd"), Need::That(host, debian.into())]) {
            return;
        }
        let out = std::process::Command::new("ldd")
            .arg(binary)
            .output()
            .expect("ldd runs");
        let arch = Arch::X86_64;
        let ldd: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let path = l.split_once("=> ").map_or(l, |(_, p)| p);
                let path = path.split_whitespace().next()?;
                path.starts_with('/').then(|| {
                    Path::new(path)
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned()
                })
            })
            .collect();
        let ours: BTreeSet<String> = closure(Path::new("/"), arch, binary)
            .unwrap()
            .into_iter()
            .filter(|(g, _)| g != binary)
            .map(|(g, _)| {
                Path::new(&g)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert!(ldd.len() >= 4, "ldd listed {ldd:?}");
        assert_eq!(ours, ldd);
    }
}
