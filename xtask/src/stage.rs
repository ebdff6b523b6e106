//! Staging one arch's guest: the static agent, every fixture object with
//! its manifest, the overhead subjects (empty kprobe and kretprobe from
//! `fixtures/matrix/empty_*.bt`, the fixtures, the clang twins), the
//! expectations of `fixtures/matrix/expectations.toml`, all in one plan
//! and one initramfs at `<out>/<arch>/initramfs.cpio.gz` (`--out`, default
//! `target/matrix`; the caller holds that directory's lock, see `matrix`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use probecc::arch::Arch;
use probecc_guest::protocol::{Expectation, FixturePlan, OverheadPlan, Plan, Subject, PLAN_PATH};
use serde::Deserialize;

use crate::initramfs::Initramfs;
use crate::{guest_build, twins};
use probecc_fixtures as fixtures;

/// What a staging run is asked for.
pub struct StageOptions {
    /// Fixture names to run (all when empty).
    pub only: Vec<String>,
    pub overhead: bool,
    pub rounds: u32,
    pub iterations: u64,
    pub watchdog_secs: u64,
    /// The output directory (`--out`).
    pub out: PathBuf,
}

/// One fixture's entry in expectations.toml.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Declared {
    workload: Vec<String>,
    expect: Vec<Expectation>,
    /// arch → why the fixture cannot work there.
    #[serde(default)]
    unsupported: BTreeMap<String, String>,
    #[serde(default)]
    known_failure: Option<String>,
}

pub struct Staged {
    pub initramfs: PathBuf,
    pub plan: Plan,
    /// This arch's `[platform.<arch>]` entry in expectations.toml.
    platform: Option<Platform>,
    /// The fixtures that read kernel structs: they load only on a kernel
    /// with BTF.
    pub needs_btf: Vec<String>,
}

impl Staged {
    /// A known defect of the arch's kernel in Debian `release` that fails
    /// the whole boot's checks.
    pub fn platform_known_failure(&self, release: &str) -> Option<&str> {
        let p = self.platform.as_ref()?;
        let applies = p
            .releases
            .as_ref()
            .is_none_or(|rs| rs.iter().any(|r| r == release));
        p.known_failure.as_deref().filter(|_| applies)
    }
}

/// `[platform.<arch>]` in expectations.toml.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Platform {
    known_failure: Option<String>,
    /// The Debian releases whose kernels have the defect (default: all).
    releases: Option<Vec<String>>,
}

const OBJ_DIR: &str = "/probecc/objects";

pub fn expectations_path() -> PathBuf {
    fixtures::dir().join("matrix/expectations.toml")
}

/// The fixtures' declarations and the per-arch `platform` ones.
fn declared() -> Result<(BTreeMap<String, Declared>, BTreeMap<String, Platform>)> {
    let path = expectations_path();
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut table: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let platform = match table.remove("platform") {
        Some(p) => p
            .try_into()
            .with_context(|| format!("[platform] in {}", path.display()))?,
        None => BTreeMap::new(),
    };
    let fixtures = toml::Value::Table(table)
        .try_into()
        .with_context(|| format!("parsing {}", path.display()))?;
    Ok((fixtures, platform))
}

pub fn stage(arch: Arch, opts: &StageOptions) -> Result<Staged> {
    let guest = guest_build::build(arch)?;
    let mut fs = Initramfs::default();
    for d in [
        "/bin", "/dev", "/proc", "/sys", "/tmp", "/etc", "/probecc", OBJ_DIR,
    ] {
        fs.dir(d);
    }
    let binary = std::fs::read(&guest).with_context(|| format!("reading {}", guest.display()))?;
    fs.file("/init", 0o755, binary);
    for applet in ["dd", "cat", "touch"] {
        fs.symlink(&format!("/bin/{applet}"), "/init");
    }
    let mut plan = Plan {
        arch: arch.name().into(),
        watchdog_secs: opts.watchdog_secs,
        ..Plan::default()
    };
    let (mut declared, mut platform) = declared()?;
    let mut needs_btf = Vec::new();
    let mut subjects = vec![Subject {
        name: "no probe".into(),
        kind: "baseline".into(),
        ..Subject::default()
    }];
    for empty in ["empty_kprobe", "empty_kretprobe"] {
        let path = fixtures::dir().join(format!("matrix/{empty}.bt"));
        let Added {
            object, programs, ..
        } = add_spec(&mut fs, arch, empty, &path)?;
        subjects.push(Subject {
            name: empty.into(),
            kind: "empty".into(),
            object,
            programs,
            twin_of: None,
        });
    }
    for (name, path) in fixtures::specs()? {
        if !opts.only.is_empty() && !opts.only.contains(&name) {
            continue;
        }
        let Some(d) = declared.remove(&name) else {
            bail!(
                "fixture {name} declares no expectations in {}",
                expectations_path().display()
            );
        };
        let Added {
            object,
            programs,
            core,
        } = add_spec(&mut fs, arch, &name, &path)?;
        let unsupported = d.unsupported.get(arch.name()).cloned();
        if core {
            needs_btf.push(name.clone());
        }
        // A fixture that reads kernel structs is measured by no round: it
        // loads only where the kernel has BTF, and aya parses that BTF
        // once per load (seconds under emulation).
        if unsupported.is_none() && !core {
            subjects.push(Subject {
                name: name.clone(),
                kind: "fixture".into(),
                object: object.clone(),
                programs,
                twin_of: None,
            });
        }
        plan.fixtures.push(FixturePlan {
            name: name.clone(),
            manifest: format!("{OBJ_DIR}/{name}.manifest.json"),
            object: object.clone(),
            workload: d.workload,
            expect: d.expect,
            unsupported,
            known_failure: d.known_failure,
        });
    }
    for t in twins::build(arch)? {
        if !plan.fixtures.iter().any(|f| f.name == t.fixture) {
            continue;
        }
        let bytes = std::fs::read(&t.object)?;
        let programs = programs_of(&bytes)?;
        let object = format!("{OBJ_DIR}/{}.clang.o", t.fixture);
        fs.file(&object, 0o644, bytes);
        subjects.push(Subject {
            name: format!("{} (clang)", t.fixture),
            kind: "clang".into(),
            object,
            programs,
            twin_of: Some(t.fixture),
        });
    }
    if opts.overhead {
        plan.overhead = Some(OverheadPlan {
            iterations: opts.iterations,
            rounds: opts.rounds,
            calibration_iterations: 200,
            subjects,
        });
    }
    fs.file(PLAN_PATH, 0o644, serde_json::to_vec_pretty(&plan)?);
    let dir = opts.out.join(arch.name());
    std::fs::create_dir_all(&dir)?;
    let initramfs = dir.join("initramfs.cpio.gz");
    crate::kernels::write_atomic(&initramfs, &fs.finish()?)?;
    Ok(Staged {
        initramfs,
        plan,
        platform: platform.remove(arch.name()),
        needs_btf,
    })
}

/// A spec staged in the initramfs.
struct Added {
    /// The object's path in the guest.
    object: String,
    /// (function symbol, ELF section) of each program.
    programs: Vec<(String, String)>,
    /// Whether it has CO-RE relocations (reads kernel structs).
    core: bool,
}

/// Compiles a spec the fixture way and adds object and manifest.
fn add_spec(fs: &mut Initramfs, arch: Arch, name: &str, path: &Path) -> Result<Added> {
    let compiled = fixtures::compile(path, arch)?;
    let bytes = probecc::elf::write(&compiled.object)
        .with_context(|| format!("writing {name} for {arch}"))?;
    let programs = compiled
        .manifest
        .programs
        .iter()
        .map(|p| (p.name.clone(), p.section.clone()))
        .collect();
    let object = format!("{OBJ_DIR}/{name}.o");
    fs.file(&object, 0o644, bytes);
    fs.file(
        &format!("{OBJ_DIR}/{name}.manifest.json"),
        0o644,
        compiled.manifest.to_json().into_bytes(),
    );
    Ok(Added {
        object,
        programs,
        core: !compiled.object.core.is_empty(),
    })
}

/// (symbol, section) of every global program of an object (clang's too).
fn programs_of(bytes: &[u8]) -> Result<Vec<(String, String)>> {
    let obj = probecc::elf::read(bytes).context("reading a twin object")?;
    Ok(obj
        .programs
        .iter()
        .filter(|f| {
            f.global && (f.section.starts_with("kprobe/") || f.section.starts_with("kretprobe/"))
        })
        .map(|f| (f.name.clone(), f.section.clone()))
        .collect())
}
