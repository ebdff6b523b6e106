//! Debian packages for the guest: a package of the guest's arch with
//! every package it depends on, fetched through the private apt
//! (signature-checked) and unpacked once under
//! `<dir>/<release>/<arch>/root` ([`fetch`]; `<dir>` is the caller's, one
//! per package), with `bundle.json` recording what was unpacked. From such
//! a tree a [`Bundle`] takes a dynamically linked binary, the dynamic
//! loader its `PT_INTERP` names and every shared library the loader will
//! open, found by walking `DT_NEEDED` as ld.so searches (`object` reads
//! the ELF): `ldd` cannot run a foreign binary. A static binary (Debian's
//! `busybox-static`) is one file of its tree ([`file`]).
//!
//! A cached tree that lost a file (what the caller's check of it finds
//! missing) is said to be damaged and unpacked again, once. An
//! interrupted unpack leaves only a `root.tmp*` directory, removed under
//! the lock by the next run.
//!
//! A bundle gets Debian's merged-/usr layout (`/lib` → `usr/lib`), so
//! the loader finds a library by any of the paths Debian's packages and
//! its built-in search list use.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use probecc::arch::Arch;
use serde::{Deserialize, Serialize};

use crate::error::{Context, Result};
use crate::files::write_atomic;
use crate::lock::FileLock;
use crate::machine::Release;
use crate::private_apt::{extract, PrivateApt};
use crate::say::say;

/// A package's unpacked tree.
#[derive(Clone, Debug)]
pub struct Tree {
    /// The unpacked files: the guest's `/` of the package's closure.
    pub root: PathBuf,
    /// e.g. `bpftrace 0.17.0-1 (Debian bookworm arm64)`.
    pub version: String,
    /// Debian's version of the package, e.g. `0.17.0-1`.
    pub debian: String,
}

impl Tree {
    /// The upstream version, e.g. `0.17.0`.
    pub fn upstream(&self) -> &str {
        upstream(&self.debian)
    }
}

/// A binary of a tree with the files it loads, for the guest.
pub struct Bundle {
    /// (path in the guest, file on the host).
    pub files: Vec<(String, PathBuf)>,
    /// (link in the guest, its target): the merged-/usr symlinks.
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

/// `package` of Debian `release` for `arch` unpacked under
/// `<dir>/<release>/<arch>/root` (fetched the first time), and what
/// `check` takes from the tree; a cached tree that `check` finds damaged
/// is unpacked again, once.
pub fn fetch<T>(
    dir: &Path,
    package: &str,
    arch: Arch,
    release: Release,
    check: impl Fn(&Tree) -> Result<T>,
) -> Result<(Tree, T)> {
    let dir = dir.join(release.name()).join(arch.name());
    let tree = dir.join("root");
    let stamp_path = dir.join("bundle.json");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _lock = FileLock::acquire(
        &dir.join("lock"),
        &format!(
            "{}: packages: waiting for the unpacking of {package} for {arch} under way",
            crate::say::prefix()
        ),
    )?;
    let cached = read_stamp(&stamp_path).filter(|_| tree.is_dir());
    let from_cache = cached.is_some();
    let stamp = match cached {
        Some(s) => s,
        None => unpack(package, arch, release, &dir)?,
    };
    let unpacked = |stamp: Stamp| Tree {
        root: tree.clone(),
        version: stamp.version,
        debian: stamp.debian,
    };
    let t = unpacked(stamp);
    match check(&t) {
        Ok(v) => Ok((t, v)),
        // A cached tree that lost a file (an interrupted cleanup, a hand
        // edit) is unpacked again, once.
        Err(e) if from_cache => {
            say(
                "packages",
                &format!(
                    "the cached {package} tree is damaged ({}); unpacking it again",
                    probecc::error::chain(&e)
                ),
            );
            let t = unpacked(unpack(package, arch, release, &dir)?);
            let v = check(&t)?;
            Ok((t, v))
        }
        Err(e) => Err(e),
    }
}

/// `binary` of `tree` with its loader and libraries, as guest files, and
/// the merged-/usr links they need.
pub fn bundle(tree: &Tree, arch: Arch, binary: &str) -> Result<Bundle> {
    let files = closure(&tree.root, arch, binary)?;
    let links = MERGED
        .iter()
        .filter(|d| {
            files
                .iter()
                .any(|(g, _)| g.starts_with(&format!("/usr/{d}/")))
        })
        .map(|d| (format!("/{d}"), format!("usr/{d}")))
        .collect();
    Ok(Bundle { files, links })
}

/// The files of Debian `release`'s `package` itself, without the
/// packages it depends on (a package whose files are the same on every
/// arch: amd64's), unpacked once under `<dir>/<release>/package/root`
/// beside the guests' trees.
pub fn package_tree(dir: &Path, package: &str, release: Release) -> Result<PathBuf> {
    let dir = dir.join(release.name()).join("package");
    let tree = dir.join("root");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _lock = FileLock::acquire(
        &dir.join("lock"),
        &format!(
            "{}: packages: waiting for the unpacking of {release}'s {package} under way",
            crate::say::prefix()
        ),
    )?;
    if tree.is_dir() {
        return Ok(tree);
    }
    say(
        "packages",
        &format!(
            "fetching Debian {release}'s {package} package (signature-checked apt, into {})",
            dir.display()
        ),
    );
    let apt = PrivateApt::new(&dir.join("apt"), "amd64", release.name())?;
    apt.update()?;
    let debs = dir.join("debs");
    std::fs::create_dir_all(&debs).with_context(|| format!("creating {}", debs.display()))?;
    let deb = apt.download(package, &debs)?;
    let tmp = dir.join(format!("root.tmp{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    extract(&deb, &tmp, ".")?;
    std::fs::rename(&tmp, &tree)
        .with_context(|| format!("renaming {} to {}", tmp.display(), tree.display()))?;
    Ok(tree)
}

/// The regular file of `tree` at the first of `paths` (guest paths) that
/// has one.
pub fn file(tree: &Tree, paths: &[&str]) -> Result<PathBuf> {
    paths
        .iter()
        .find_map(|p| resolve(&tree.root, p))
        .with_context(|| format!("{} holds none of {}", tree.root.display(), paths.join(", ")))
}

/// The Debian release whose `busybox-static` every arch's guest carries:
/// a static binary runs on any kernel, and trixie has it for all five.
pub const BUSYBOX_RELEASE: Release = Release::Trixie;

/// The static busybox of `arch` (Debian's `busybox-static`), unpacked
/// under `<packages>/busybox-static/`.
pub fn busybox(packages: &Path, arch: Arch) -> Result<PathBuf> {
    let (_, file) = fetch(
        &packages.join("busybox-static"),
        "busybox-static",
        arch,
        BUSYBOX_RELEASE,
        |tree| file(tree, &["/usr/bin/busybox", "/bin/busybox"]),
    )?;
    Ok(file)
}

/// Debian's `[epoch:]upstream[-revision]` → upstream.
fn upstream(debian: &str) -> &str {
    let v = debian.split_once(':').map_or(debian, |(_, v)| v);
    v.rsplit_once('-').map_or(v, |(u, _)| u)
}

fn read_stamp(path: &Path) -> Option<Stamp> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Downloads `package` and its dependency closure and unpacks every
/// package into `dir/root` (atomically: a half-unpacked tree is never
/// used).
fn unpack(package: &str, arch: Arch, release: Release, dir: &Path) -> Result<Stamp> {
    say(
        "packages",
        &format!(
            "fetching Debian {release}'s {package} for {arch} with the packages it \
             depends on (signature-checked apt, into {})",
            dir.display()
        ),
    );
    let apt = PrivateApt::new(&dir.join("apt"), arch.debian_arch(), release.name())?;
    apt.update()?;
    let debs = apt.download_closure(package)?;
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
        extract(deb, &tmp, ".")?;
        packages.push(format!("{name} {v}"));
        if name == package {
            debian = Some(v.clone());
        }
    }
    let debian =
        debian.with_context(|| format!("apt's closure of {package} does not hold {package}"))?;
    let version = format!(
        "{package} {debian} (Debian {release} {})",
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
    write_atomic(
        &dir.join("bundle.json"),
        &serde_json::to_vec_pretty(&stamp)?,
    )?;
    say(
        "packages",
        &format!("unpacked {} packages for {}", debs.len(), stamp.version),
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
    let name = Path::new(binary)
        .file_name()
        .map_or(binary.into(), |n| n.to_string_lossy());
    closure_of(tree, arch, binary)
        .with_context(|| format!("{name}'s libraries in {}", tree.display()))
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
        let t =
            std::env::temp_dir().join(format!("probecc-packages-{name}-{}", std::process::id()));
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
