//! Debian kernels to boot, fetched with a private apt (see `private_apt`)
//! and cached under a directory of the caller's ([`KernelCache`]; the
//! project's xtask uses `target/kernels`, `probecc qemu` the user's cache
//! directory), or a kernel image of the user's ([`custom`]).
//!
//! Cache layout, per release and arch:
//! `<cache>/<release>/<arch>/<package>/{image, config, System.map,
//! kernel.json}` and `current.json` naming the package last resolved.
//! A kernel directory is assembled in a temporary directory and renamed into
//! place only when complete, so a partial download is never taken for a
//! kernel; a lock file per (release, arch) makes concurrent runs take turns.
//! Debian ships a stub `System.map` (the real one is in the -dbg package);
//! the guest reads `/proc/kallsyms` instead.
//!
//! A cache that goes bad mends itself: `kernel.json` records the image's
//! SHA-256 at assembly, and every use checks it; a kernel directory whose
//! image is missing or differs, or whose `kernel.json` does not parse, is
//! removed, said so, and fetched again. Temporary directories that an
//! interrupted run left are removed under the lock (damaged package lists
//! apt itself fetches again). A kernel cached before checksums were
//! recorded gets its checksum on first use.
//! A kernel is fetched under a lock of its own, (release, arch): boots
//! of other kernels go on meanwhile.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{bail, Context, Result};
use probecc::arch::Arch;
use serde::{Deserialize, Serialize};

use crate::files::write_atomic;
use crate::lock::FileLock;
use crate::machine::{self, Release};
use crate::private_apt::{extract, PrivateApt};
use crate::say::say;

/// A kernel ready to boot.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Kernel {
    pub arch: String,
    /// `bookworm`, `trixie`, `sid`, or `custom` for `--kernel`.
    pub release: String,
    /// The kernel release string (`6.1.0-37-arm64`), or the file name.
    pub version: String,
    /// The Debian package it came from, if any.
    pub package: Option<String>,
    pub image: PathBuf,
    pub config: Option<PathBuf>,
    pub system_map: Option<PathBuf>,
    /// SHA-256 of `image` at assembly (hex); `None` for `--kernel`.
    #[serde(default)]
    pub image_sha256: Option<String>,
}

/// The releases to test `arch` on: those named (skipping ones without a
/// kernel for it, with a note), or the arch's default ones.
pub fn releases(arch: Arch, named: Option<&str>) -> Result<Vec<Release>> {
    let Some(named) = named else {
        return Ok(machine::default_releases(arch));
    };
    let mut out = Vec::new();
    for r in Release::parse_list(named)? {
        if machine::has_kernel(arch, r) {
            out.push(r);
        } else {
            say(
                "kernels",
                &format!("Debian {r} has no {arch} kernel; skipping it"),
            );
        }
    }
    Ok(out)
}

/// Whether the kernel publishes BTF (`CONFIG_DEBUG_INFO_BTF`), by its
/// config; `None` without one.
pub fn has_btf(k: &Kernel) -> Option<bool> {
    config_flag(k, "CONFIG_DEBUG_INFO_BTF")
}

/// Whether the kernel's config sets `option` (`=y`); `None` without a
/// config.
pub fn config_flag(k: &Kernel, option: &str) -> Option<bool> {
    let text = std::fs::read_to_string(k.config.as_ref()?).ok()?;
    let set = format!("{option}=y");
    Some(text.lines().any(|l| l.trim() == set))
}

/// A user's kernel image.
pub fn custom(arch: Arch, image: &Path) -> Result<Kernel> {
    if !image.is_file() {
        bail!("--kernel {}: no such file", image.display());
    }
    let name = image
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("kernel");
    let version = name
        .trim_start_matches("vmlinuz-")
        .trim_start_matches("vmlinux-")
        .to_string();
    let beside = |prefix: &str| {
        let p = image.with_file_name(format!("{prefix}-{version}"));
        p.is_file().then_some(p)
    };
    Ok(Kernel {
        arch: arch.name().into(),
        release: "custom".into(),
        version: version.clone(),
        package: None,
        image: image.to_path_buf(),
        config: beside("config"),
        system_map: beside("System.map"),
        image_sha256: None,
    })
}

/// A directory of Debian kernels, `<root>/<release>/<arch>/`.
#[derive(Clone, Debug)]
pub struct KernelCache {
    pub root: PathBuf,
}

/// `p` relative to the current directory where it is under it, for
/// messages.
pub(crate) fn rel(p: &Path) -> &Path {
    match std::env::current_dir() {
        Ok(cwd) => p.strip_prefix(&cwd).unwrap_or(p),
        Err(_) => p,
    }
}

impl KernelCache {
    pub fn new(root: impl Into<PathBuf>) -> KernelCache {
        KernelCache { root: root.into() }
    }

    /// The cached kernel for (arch, release), fetching it if there is
    /// none (or `refresh`).
    pub fn fetch(&self, arch: Arch, release: Release, refresh: bool) -> Result<Kernel> {
        fetch(&self.root, arch, release, refresh)
    }
}

/// [`KernelCache::fetch`] under `root`.
fn fetch(root: &Path, arch: Arch, release: Release, refresh: bool) -> Result<Kernel> {
    if !machine::has_kernel(arch, release) {
        bail!(
            "Debian {release} has no {arch} kernel (the first release with one is {})",
            machine::first_release(arch)
        );
    }
    let dir = root.join(release.name()).join(arch.name());
    let _lock = FileLock::acquire(
        &dir.with_extension("lock"),
        &format!(
            "{}: kernels: waiting for the fetch of {release}/{arch} under way",
            crate::say::prefix()
        ),
    )?;
    remove_leftovers(&dir)?;
    if !refresh {
        if let Some(k) = cached(&dir)? {
            return Ok(k);
        }
    }
    let flavour = machine::kernel_flavour(arch);
    say(
        "kernels",
        &format!("resolving linux-image-{flavour} in Debian {release} ({arch})"),
    );
    let apt = PrivateApt::new(&dir.join("apt"), arch.debian_arch(), release.name())?;
    apt.update()?;
    let newest = apt.dependency(&format!("linux-image-{flavour}"), "linux-image-")?;
    let mut candidates = vec![newest.clone()];
    for older in apt.search_names(&format!("^linux-image-[0-9].*-{flavour}$"))? {
        if !candidates.contains(&older) {
            candidates.push(older);
        }
    }
    let mut errors = Vec::new();
    for package in candidates.iter().take(3) {
        let done = dir.join(package);
        let got = if whole(&done)?.is_some() {
            Ok(())
        } else {
            download(&apt, package, &dir, arch, release)
        };
        match got {
            Ok(()) => {
                if *package != newest {
                    say(
                        "kernels",
                        &format!("using {package} ({newest} did not download)"),
                    );
                }
                write_atomic(&dir.join("current.json"), package.as_bytes())?;
                return read_kernel(&done);
            }
            Err(e) => {
                let e = probecc::error::chain(&e);
                say("kernels", &format!("{package}: {e}"));
                errors.push(format!("{package}: {e}"));
            }
        }
    }
    bail!(
        "no {arch} kernel of Debian {release} downloaded:\n{}",
        errors.join("\n")
    )
}

/// The kernel `current.json` names, if it is complete and whole.
fn cached(dir: &Path) -> Result<Option<Kernel>> {
    let Ok(package) = std::fs::read_to_string(dir.join("current.json")) else {
        return Ok(None);
    };
    let package = package.trim();
    if package.is_empty() || package.contains('/') || package.starts_with('.') {
        return Ok(None);
    }
    whole(&dir.join(package))
}

/// The kernel assembled in `dir`, if there is one and it is whole:
/// `kernel.json` parses and the image's SHA-256 is the recorded one. A
/// damaged one is removed, saying why, so that the caller fetches it
/// again; one without a recorded checksum (cached by an older xtask) gets
/// it now.
fn whole(dir: &Path) -> Result<Option<Kernel>> {
    if !dir.join("kernel.json").is_file() {
        return Ok(None);
    }
    let damage = match read_kernel(dir) {
        Err(e) => probecc::error::chain(&e),
        Ok(mut k) if k.image.is_file() => {
            let found = sha256(&k.image)?;
            match &k.image_sha256 {
                Some(recorded) if *recorded == found => return Ok(Some(k)),
                Some(recorded) => {
                    format!("the image's SHA-256 is {found}, kernel.json recorded {recorded}")
                }
                None => {
                    say(
                        "kernels",
                        &format!(
                            "recording the SHA-256 of {} (cached before checksums were kept)",
                            rel(&k.image).display()
                        ),
                    );
                    record_sha256(dir, &found)?;
                    k.image_sha256 = Some(found);
                    return Ok(Some(k));
                }
            }
        }
        Ok(_) => "its image is missing".into(),
    };
    say(
        "kernels",
        &format!(
            "{} is damaged ({damage}); removing it and fetching it again",
            rel(dir).display()
        ),
    );
    std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    Ok(None)
}

/// Reads `<dir>/kernel.json`, with the file paths taken as `dir`'s own
/// (the layout is fixed; the cache may have moved since it was written).
fn read_kernel(dir: &Path) -> Result<Kernel> {
    let path = dir.join("kernel.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut k: Kernel =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    k.image = dir.join("image");
    k.config = k.config.map(|_| dir.join("config"));
    k.system_map = k.system_map.map(|_| dir.join("System.map"));
    Ok(k)
}

/// Adds `image_sha256` to `<dir>/kernel.json`, leaving the rest as written.
fn record_sha256(dir: &Path, sum: &str) -> Result<()> {
    let path = dir.join("kernel.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if let Some(fields) = json.as_object_mut() {
        fields.insert("image_sha256".into(), sum.into());
    }
    write_atomic(&path, serde_json::to_string_pretty(&json)?.as_bytes())
}

/// The SHA-256 of a file, hex (`sha256sum`, from coreutils).
fn sha256(path: &Path) -> Result<String> {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .context("running sha256sum (coreutils)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.split_whitespace().next() {
        Some(sum) if out.status.success() && sum.len() == 64 => Ok(sum.to_string()),
        _ => bail!(
            "sha256sum {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
}

/// Removes what an interrupted run left in `dir` (a half-assembled
/// `.tmp-*` directory, a `current.json` being replaced); the caller holds
/// the lock, so no live run is using them.
fn remove_leftovers(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(".tmp-") || name.starts_with("current.tmp")) {
            continue;
        }
        say(
            "kernels",
            &format!(
                "removing {}, left by an interrupted run",
                rel(&e.path()).display()
            ),
        );
        let path = e.path();
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

/// Downloads and unpacks `package` into `<dir>/<package>`, via a temporary
/// directory renamed into place when complete.
fn download(
    apt: &PrivateApt,
    package: &str,
    dir: &Path,
    arch: Arch,
    release: Release,
) -> Result<()> {
    let tmp = dir.join(format!(".tmp-{package}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let got = unpack_into(apt, package, &tmp, dir, arch, release);
    if got.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    got
}

/// Downloads and unpacks into `tmp`, then renames it to `<dir>/<package>`.
fn unpack_into(
    apt: &PrivateApt,
    package: &str,
    tmp: &Path,
    dir: &Path,
    arch: Arch,
    release: Release,
) -> Result<()> {
    say(
        "kernels",
        &format!("downloading {package} (signature-checked)"),
    );
    let deb = apt.download(package, tmp)?;
    say(
        "kernels",
        &format!("extracting the image and config of {}", rel(&deb).display()),
    );
    if !extract_boot(&deb, tmp)? {
        split_package(apt, package, tmp)?;
    }
    let kernel = assemble(tmp, package, arch, release, &dir.join(package))?;
    std::fs::remove_file(&deb)?;
    let _ = std::fs::remove_dir_all(tmp.join("boot"));
    let json = serde_json::to_string_pretty(&kernel)?;
    std::fs::write(tmp.join("kernel.json"), json)?;
    let done = dir.join(package);
    let _ = std::fs::remove_dir_all(&done);
    std::fs::rename(tmp, &done)
        .with_context(|| format!("renaming {} to {}", tmp.display(), done.display()))?;
    say("kernels", &format!("{} ready", rel(&done).display()));
    Ok(())
}

/// Extracts `./boot` (the image, config and System.map, not the modules);
/// false when the package has no `/boot` (the split packaging below).
fn extract_boot(deb: &Path, into: &Path) -> Result<bool> {
    if !deb_lists(deb, "./boot/")? {
        return Ok(false);
    }
    extract(deb, into, "./boot")?;
    Ok(true)
}

/// In Debian's newer kernel packaging (sid's 7.x), `linux-image-<ver>` is an
/// empty package depending on `linux-binary-<ver>` (the image) and `linux-base-<ver>`
/// (config, System.map), which keep them in `/usr/lib/modules/<ver>/`.
/// Downloads both and moves their files to the names `/boot` would have.
fn split_package(apt: &PrivateApt, package: &str, tmp: &Path) -> Result<()> {
    let version = package.trim_start_matches("linux-image-");
    let inside = format!("./usr/lib/modules/{version}");
    let boot = tmp.join("boot");
    std::fs::create_dir_all(&boot)?;
    for part in ["linux-binary", "linux-base"] {
        let name = format!("{part}-{version}");
        say(
            "kernels",
            &format!("{package} has no /boot; downloading {name}"),
        );
        let deb = apt.download(&name, tmp)?;
        extract(&deb, tmp, &inside)?;
        std::fs::remove_file(&deb)?;
    }
    let from = tmp.join(inside.trim_start_matches("./"));
    for file in ["vmlinuz", "config", "System.map"] {
        let src = from.join(file);
        if src.is_file() {
            std::fs::rename(&src, boot.join(format!("{file}-{version}")))?;
        }
    }
    std::fs::remove_dir_all(tmp.join("usr"))?;
    Ok(())
}

/// Whether the package's file list has a path starting with `prefix`.
fn deb_lists(deb: &Path, prefix: &str) -> Result<bool> {
    let out = Command::new("dpkg-deb")
        .arg("--contents")
        .arg(deb)
        .output()
        .context("running dpkg-deb")?;
    if !out.status.success() {
        bail!(
            "dpkg-deb --contents {} failed: {}",
            deb.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().any(|l| {
        l.split_whitespace()
            .last()
            .is_some_and(|p| p.starts_with(prefix))
    }))
}

/// Moves the image (ELF `vmlinux` where the package has one, else
/// `vmlinuz`), config and System.map to their final names in `tmp`.
fn assemble(
    tmp: &Path,
    package: &str,
    arch: Arch,
    release: Release,
    done: &Path,
) -> Result<Kernel> {
    let version = package.trim_start_matches("linux-image-").to_string();
    let boot = tmp.join("boot");
    let pick = |prefix: &str| {
        let p = boot.join(format!("{prefix}-{version}"));
        p.is_file().then_some(p)
    };
    let image = pick("vmlinux")
        .or_else(|| pick("vmlinuz"))
        .with_context(|| format!("{package} has no /boot/vmlinu[xz]-{version}"))?;
    std::fs::rename(&image, tmp.join("image"))?;
    let image_sha256 = Some(sha256(&tmp.join("image"))?);
    let mut kernel = Kernel {
        arch: arch.name().into(),
        release: release.name().into(),
        version: version.clone(),
        package: Some(package.into()),
        image: done.join("image"),
        config: None,
        system_map: None,
        image_sha256,
    };
    if let Some(c) = pick("config") {
        std::fs::rename(c, tmp.join("config"))?;
        kernel.config = Some(done.join("config"));
    }
    if let Some(m) = pick("System.map") {
        std::fs::rename(m, tmp.join("System.map"))?;
        kernel.system_map = Some(done.join("System.map"));
    }
    Ok(kernel)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kernel directory as `unpack_into` leaves it, in a temporary
    /// directory of the test's own.
    fn fake_kernel(test: &str, image: &[u8]) -> (PathBuf, Kernel) {
        let dir = std::env::temp_dir()
            .join(format!("xtask-kernels-{test}-{}", std::process::id()))
            .join("linux-image-1.0-test");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("image"), image).expect("image");
        let k = Kernel {
            arch: "x86_64".into(),
            release: "bookworm".into(),
            version: "1.0-test".into(),
            package: Some("linux-image-1.0-test".into()),
            image: PathBuf::from("/elsewhere/image"),
            config: None,
            system_map: None,
            image_sha256: Some(sha256(&dir.join("image")).expect("sha256sum")),
        };
        let json = serde_json::to_string_pretty(&k).expect("json");
        std::fs::write(dir.join("kernel.json"), json).expect("kernel.json");
        (dir, k)
    }

    #[test]
    fn a_whole_kernel_is_used_with_its_own_paths() {
        let (dir, k) = fake_kernel("whole", b"an image");
        let got = whole(&dir).expect("checked").expect("whole");
        assert_eq!(got.image, dir.join("image"));
        assert_eq!(got.image_sha256, k.image_sha256);
        let _ = std::fs::remove_dir_all(dir.parent().unwrap_or(&dir));
    }

    #[test]
    fn a_damaged_kernel_is_removed_to_be_fetched_again() {
        for damage in ["garbled", "truncated", "no image", "bad json"] {
            let (dir, _) = fake_kernel("damaged", b"an image of some length");
            match damage {
                "garbled" => std::fs::write(dir.join("image"), b"an image of some lengtH"),
                "truncated" => std::fs::write(dir.join("image"), b"an ima"),
                "no image" => std::fs::remove_file(dir.join("image")),
                _ => std::fs::write(dir.join("kernel.json"), b"{\"arch\": "),
            }
            .expect("damaging");
            assert!(whole(&dir).expect("checked").is_none(), "{damage}");
            assert!(!dir.exists(), "{damage}: the damaged kernel is removed");
        }
    }

    #[test]
    fn a_kernel_without_a_checksum_gets_one() {
        let (dir, k) = fake_kernel("legacy", b"an old image");
        let json = std::fs::read_to_string(dir.join("kernel.json")).expect("kernel.json");
        let old = json.replace("image_sha256", "unknown_field");
        std::fs::write(dir.join("kernel.json"), old).expect("kernel.json");
        let got = whole(&dir).expect("checked").expect("whole");
        assert_eq!(got.image_sha256, k.image_sha256);
        let again = std::fs::read_to_string(dir.join("kernel.json")).expect("kernel.json");
        assert!(again.contains("image_sha256"), "{again}");
        assert!(
            again.contains("/elsewhere/image"),
            "the rest is left as written: {again}"
        );
        let _ = std::fs::remove_dir_all(dir.parent().unwrap_or(&dir));
    }

    #[test]
    fn leftovers_of_an_interrupted_run_are_removed() {
        let dir = std::env::temp_dir().join(format!("xtask-kernels-left-{}", std::process::id()));
        let partial = dir.join(".tmp-linux-image-1.0-test-1");
        std::fs::create_dir_all(&partial).expect("temp dir");
        std::fs::write(partial.join("half.deb"), b"half").expect("half");
        std::fs::write(dir.join("current.tmp1"), b"linux-").expect("current.tmp");
        std::fs::write(dir.join("current.json"), b"linux-image-1.0-test").expect("current");
        remove_leftovers(&dir).expect("removed");
        assert!(!partial.exists() && !dir.join("current.tmp1").exists());
        assert!(dir.join("current.json").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
