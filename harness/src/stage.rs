//! Staging one arch's guest: the static agent as `/init`, the arch's
//! busybox (its applets become the workloads' commands), the user's own
//! files, every spec of the plan compiled for the arch (or its object
//! taken) with its manifest, the overhead subjects, the expectations —
//! all in one guest plan and one initramfs. Both kernels of an arch boot
//! the same initramfs.
//!
//! A spec that does not compile for the arch (or an object that is not
//! for it) does not stop the others: it becomes a failed row with the
//! error ([`Staged::failed`]) and the boot goes on without it.

use std::path::{Path, PathBuf};

use probecc::arch::Arch;
use probecc::lang::manifest::{Manifest, ProgramKind};
use probecc::lang::{self, CompileOptions, Compiled};
use probecc_guest::protocol::{
    CostPlan, FixturePlan, OverheadPlan, Plan as GuestPlan, Subject, PLAN_PATH,
};

use crate::error::{bail, Context, Result};
use crate::initramfs::Initramfs;
use crate::plan::{Entry, Plan, Source};
use crate::results::{FixtureRow, EMPTY_KPROBE_MULTI, EMPTY_KPROBE_PAIR};

/// Where objects and manifests go in the guest.
const OBJ_DIR: &str = "/probecc/objects";
/// Where busybox goes in the guest.
pub const BUSYBOX: &str = "/bin/busybox";

/// The overhead baseline: an empty kprobe on the loop's read.
const EMPTY_KPROBE: &str = include_str!("../specs/empty_kprobe.bt");
/// The overhead baseline: an empty kretprobe on the loop's read.
const EMPTY_KRETPROBE: &str = include_str!("../specs/empty_kretprobe.bt");
/// The overhead baselines where the kernel has BPF trampolines: an empty
/// fentry and an empty fexit program on the loop's read.
const EMPTY_FENTRY: &str = include_str!("../specs/empty_fentry.bt");
const EMPTY_FEXIT: &str = include_str!("../specs/empty_fexit.bt");
/// The kprobe-multi comparison: empty kprobes on the loop's read and
/// write, built as two programs (`empty_kprobe_pair`) and as one
/// kprobe-multi program (`empty_kprobe_multi`).
const EMPTY_KPROBE_PAIR_SPEC: &str = include_str!("../specs/empty_kprobe_pair.bt");

/// The suffix of a fixture's name when it runs built as fentry/fexit.
pub const AS_FENTRY: &str = "@fentry";

/// How a plan's specs become objects: compiled on the host for an arch.
/// An error is the rendered diagnostics (it fails that spec's row).
pub trait Compiler: Sync {
    fn compile(&self, spec: &Path, arch: Arch) -> std::result::Result<Compiled, String>;

    /// The spec built with its `kprobe:`/`kretprobe:` attach points as
    /// fentry/fexit (`--attach fentry`), so that a run attaches it both
    /// ways; `None` (the default) runs it one way only. A spec that cannot
    /// be built so (`kstack`, an `argN` past the prototype) is an error
    /// here and simply runs one way.
    fn compile_fentry(
        &self,
        _spec: &Path,
        _arch: Arch,
    ) -> Option<std::result::Result<Compiled, String>> {
        None
    }

    /// The kernel types (a vmlinux BTF) the harness's empty fentry and
    /// fexit baselines are built with; `None` (the default) leaves them
    /// out.
    fn types(&self) -> Option<PathBuf> {
        None
    }
}

/// Specs compiled with plain options: the arch's default kernel, kernel
/// types from `btf` (a vmlinux BTF) if given.
#[derive(Clone, Debug, Default)]
pub struct Plain {
    pub btf: Option<PathBuf>,
}

impl Compiler for Plain {
    fn types(&self) -> Option<PathBuf> {
        self.btf.clone()
    }

    fn compile(&self, spec: &Path, arch: Arch) -> std::result::Result<Compiled, String> {
        let src = std::fs::read_to_string(spec)
            .map_err(|e| format!("reading {}: {e}", spec.display()))?;
        let opts = CompileOptions {
            btf: self.btf.as_ref().map(lang::check::TypeSource::file),
            ..plain_options(&spec.display().to_string())
        };
        lang::compile(&src, arch, &opts).map_err(|d| lang::diag::render(&opts.file, &src, &d))
    }
}

/// A file of the user's for the guest (`--guest-file SRC[:DST]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestFile {
    pub src: PathBuf,
    /// Its path in the guest (default `/bin/<file name>`).
    pub dst: String,
}

impl GuestFile {
    /// `SRC[:DST]`.
    pub fn parse(s: &str) -> Result<GuestFile> {
        let (src, dst) = match s.split_once(':') {
            Some((src, dst)) => (src, Some(dst)),
            None => (s, None),
        };
        let src = PathBuf::from(src);
        let dst = match dst {
            Some(d) if d.starts_with('/') => d.to_string(),
            Some(d) => bail!("--guest-file {s}: the guest path `{d}` is not absolute"),
            None => {
                let name = src
                    .file_name()
                    .and_then(|n| n.to_str())
                    .with_context(|| format!("--guest-file {s}: no file name"))?;
                format!("/bin/{name}")
            }
        };
        Ok(GuestFile { src, dst })
    }
}

/// An overhead subject the caller adds (the project's clang twins).
#[derive(Clone, Debug)]
pub struct ExtraSubject {
    pub name: String,
    pub kind: String,
    /// The subject it is held against: a spec's name, or `NAME@fentry`
    /// ([`AS_FENTRY`]) for its fentry/fexit build. Staged only where that
    /// spec (or build) is.
    pub twin_of: Option<String>,
    /// fentry/fexit programs: a kernel without BPF trampolines (or BTF)
    /// reports them unavailable, as it does the spec's fentry build.
    pub tracing: bool,
    pub object: Vec<u8>,
}

/// The overhead loop's settings.
#[derive(Clone, Copy, Debug)]
pub struct LoopOverhead {
    pub rounds: u32,
    pub iterations: u64,
}

/// What staging one arch takes.
pub struct StageInput<'a> {
    pub arch: Arch,
    pub plan: &'a Plan,
    /// The plan's entries to run (all when empty).
    pub only: &'a [String],
    pub compiler: &'a dyn Compiler,
    /// The agent binary for the arch.
    pub agent: &'a Path,
    /// The arch's static busybox.
    pub busybox: Option<&'a Path>,
    pub guest_files: &'a [GuestFile],
    /// The overhead loop over the empty probes and the specs, if any.
    pub loop_overhead: Option<LoopOverhead>,
    pub extra_subjects: &'a [ExtraSubject],
    /// Rounds of each spec's cost under its own workload, if measured.
    pub cost_rounds: Option<u32>,
    /// Whether the guest renders what bpftrace would print.
    pub output: bool,
    pub watchdog_secs: u64,
}

/// One arch staged.
pub struct Staged {
    pub arch: Arch,
    /// The initramfs (an uncompressed cpio archive).
    pub initramfs: Vec<u8>,
    pub plan: GuestPlan,
    /// The entries that could not be staged for the arch, as failed rows.
    pub failed: Vec<FixtureRow>,
    /// The entries that read kernel structs: they load only on a kernel
    /// with BTF.
    pub needs_btf: Vec<String>,
}

/// An entry's object for one arch.
struct Artifact {
    object: Vec<u8>,
    manifest: Manifest,
    /// Whether it has CO-RE relocations (reads kernel structs).
    core: bool,
}

/// Stages `input.arch`.
pub fn stage(input: &StageInput) -> Result<Staged> {
    let arch = input.arch;
    let mut fs = base(input.agent, &[OBJ_DIR])?;
    let mut plan = GuestPlan {
        arch: arch.name().into(),
        watchdog_secs: input.watchdog_secs,
        ..GuestPlan::default()
    };
    if let Some(bb) = input.busybox {
        let bytes = std::fs::read(bb).with_context(|| format!("reading {}", bb.display()))?;
        fs.file(BUSYBOX, 0o755, bytes);
        plan.busybox = Some(BUSYBOX.into());
    }
    add_guest_files(&mut fs, input.guest_files)?;
    if input.guest_files.iter().any(|f| f.dst == BUSYBOX) {
        // The user's own busybox: its applets are the workloads' commands.
        plan.busybox = Some(BUSYBOX.into());
    }
    let mut failed = Vec::new();
    let mut needs_btf = Vec::new();
    let mut subjects = vec![Subject {
        name: "no probe".into(),
        kind: "baseline".into(),
        ..Subject::default()
    }];
    // The empty fentry and fexit need the kernel's types (the function's
    // prototype), which the compiler may not have.
    let types = input.compiler.types();
    let tracing = [("empty_fentry", EMPTY_FENTRY), ("empty_fexit", EMPTY_FEXIT)];
    let empties = [
        ("empty_kprobe", EMPTY_KPROBE),
        ("empty_kretprobe", EMPTY_KRETPROBE),
    ]
    .into_iter()
    .map(|e| (e, None))
    .chain(
        types
            .iter()
            .flat_map(|btf| tracing.map(|e| (e, Some(btf.as_path())))),
    );
    for ((name, text), btf) in empties {
        let a = builtin_with(name, text, arch, btf)?;
        let object = add(&mut fs, name, &a);
        subjects.push(subject(name, "empty", object, &a.manifest, btf.is_some()));
    }
    for multi in [false, true] {
        let name = if multi {
            EMPTY_KPROBE_MULTI
        } else {
            EMPTY_KPROBE_PAIR
        };
        let opts = CompileOptions {
            multi,
            ..plain_options(&format!("{name}.bt"))
        };
        let a = builtin_compiled(name, EMPTY_KPROBE_PAIR_SPEC, arch, &opts)?;
        let object = add(&mut fs, name, &a);
        subjects.push(Subject {
            multi,
            functions: multi_functions(&a.manifest),
            ..subject(name, "empty", object, &a.manifest, false)
        });
    }
    for e in &input.plan.entries {
        if !input.only.is_empty() && !input.only.contains(&e.name) {
            continue;
        }
        let a = match artifact(e, arch, input.compiler) {
            Ok(a) => a,
            Err(why) => {
                failed.push(FixtureRow::failed(&e.name, why));
                continue;
            }
        };
        let unsupported = e.unsupported.get(arch.name()).cloned();
        if a.core {
            needs_btf.push(e.name.clone());
        }
        let object = add(&mut fs, &e.name, &a);
        // A spec that reads kernel structs is measured by no round: it
        // loads only where the kernel has BTF, and aya parses that BTF
        // once per load (seconds under emulation).
        // An offset probe's place is chosen in each guest by the fixture
        // run (`first_valid_offset`), which the loop does not repeat.
        let measured = unsupported.is_none() && !a.core && !e.first_valid_offset;
        if measured {
            subjects.push(subject(
                e.name.clone(),
                "fixture",
                object.clone(),
                &a.manifest,
                false,
            ));
        }
        if let (Some(rounds), true, false) = (input.cost_rounds, measured, e.workload.is_empty()) {
            match cost_plan(&mut fs, e, &a, &object, arch, rounds) {
                Ok(c) => plan.costs.push(c),
                Err(why) => failed.push(FixtureRow::failed(&e.name, why)),
            }
        }
        plan.fixtures.push(FixturePlan {
            name: e.name.clone(),
            manifest: manifest_path(&e.name),
            object,
            workload: e.workload.clone(),
            expect: e.expect.clone(),
            unsupported,
            known_failure: e.known_failure.clone(),
            first_valid_offset: e.first_valid_offset,
            tracing: false,
            output: input.output,
        });
        if let Some(f) = as_fentry(e, arch, input.compiler) {
            let name = format!("{}{AS_FENTRY}", e.name);
            let object = add(&mut fs, &name, &f);
            // Timed where there is a C twin to hold it to (the kprobe
            // twin, or clang's own fentry build): the loop's rounds are
            // most of a boot, and the empty fentry and fexit give what the
            // kind of program costs.
            let twinned = input.extra_subjects.iter().any(|t| {
                t.twin_of
                    .as_deref()
                    .is_some_and(|f| f == e.name || f == name)
            });
            if measured && twinned && !f.core {
                subjects.push(subject(
                    name.clone(),
                    "fixture",
                    object.clone(),
                    &f.manifest,
                    true,
                ));
            }
            let last = plan.fixtures.last().cloned();
            plan.fixtures.extend(last.map(|k| FixturePlan {
                name: name.clone(),
                manifest: manifest_path(&name),
                object,
                tracing: true,
                ..k
            }));
        }
    }
    for t in input.extra_subjects {
        if !t
            .twin_of
            .as_ref()
            .is_none_or(|f| plan.fixtures.iter().any(|p| &p.name == f))
        {
            continue;
        }
        let programs = programs_of(&t.object)?;
        let object = format!("{OBJ_DIR}/{}.{}.o", file_name(&t.name), t.kind);
        fs.file(&object, 0o644, t.object.clone());
        subjects.push(Subject {
            name: t.name.clone(),
            kind: t.kind.clone(),
            object,
            programs,
            twin_of: t.twin_of.clone(),
            tracing: t.tracing,
            ..Subject::default()
        });
    }
    if let Some(o) = input.loop_overhead {
        plan.overhead = Some(OverheadPlan {
            iterations: o.iterations,
            rounds: o.rounds,
            calibration_iterations: 200,
            subjects,
        });
    }
    fs.file(PLAN_PATH, 0o644, serde_json::to_vec_pretty(&plan)?);
    Ok(Staged {
        arch,
        initramfs: fs.finish()?,
        plan,
        failed,
        needs_btf,
    })
}

/// What every guest's initramfs starts from: the directories the agent
/// mounts and writes in, `dirs` (each under one of them or `/`), and the
/// agent at `agent` as `/init`.
pub fn base(agent: &Path, dirs: &[&str]) -> Result<Initramfs> {
    let mut fs = Initramfs::default();
    for d in ["/bin", "/dev", "/proc", "/sys", "/tmp", "/etc", "/probecc"]
        .iter()
        .chain(dirs)
    {
        fs.dir(d);
    }
    let bytes = std::fs::read(agent).with_context(|| format!("reading {}", agent.display()))?;
    fs.file("/init", 0o755, bytes);
    Ok(fs)
}

/// The user's files, each at its guest path (their directories made).
fn add_guest_files(fs: &mut Initramfs, files: &[GuestFile]) -> Result<()> {
    for f in files {
        let bytes = std::fs::read(&f.src)
            .with_context(|| format!("--guest-file: reading {}", f.src.display()))?;
        let mut dirs = Vec::new();
        let mut p = Path::new(&f.dst).parent();
        while let Some(d) = p.filter(|d| *d != Path::new("/")) {
            dirs.push(d.display().to_string());
            p = d.parent();
        }
        for d in dirs.iter().rev() {
            if !fs.has(d) {
                fs.dir(d);
            }
        }
        fs.file(&f.dst, 0o755, bytes);
    }
    Ok(())
}

/// The guest path of an entry's manifest.
fn manifest_path(name: &str) -> String {
    format!("{OBJ_DIR}/{}.manifest.json", file_name(name))
}

/// A name as a file name of the guest (no `/`).
fn file_name(name: &str) -> String {
    name.replace(['/', ' '], "_")
}

/// Adds an artifact's object and manifest; the object's guest path.
fn add(fs: &mut Initramfs, name: &str, a: &Artifact) -> String {
    let object = format!("{OBJ_DIR}/{}.o", file_name(name));
    fs.file(&object, 0o644, a.object.clone());
    fs.file(
        &manifest_path(name),
        0o644,
        a.manifest.to_json().into_bytes(),
    );
    object
}

/// The listed functions of each kprobe-multi program of a manifest (a
/// bare `kprobe.multi` section, which names none itself), by program.
fn multi_functions(m: &Manifest) -> std::collections::BTreeMap<String, Vec<String>> {
    m.programs
        .iter()
        .filter(|p| !p.functions.is_empty())
        .map(|p| (p.name.clone(), p.functions.clone()))
        .collect()
}

/// (function symbol, ELF section) of each program of a manifest.
fn programs(m: &Manifest) -> Vec<(String, String)> {
    m.programs
        .iter()
        .filter(|p| !is_run_not_attached(&p.section))
        .map(|p| (p.name.clone(), p.section.clone()))
        .collect()
}

/// Whether a program of `section` is run by the loader rather than
/// attached (the bare `raw_tp` programs of BEGIN, END and interval): a
/// cost subject attaches only what a probe hit runs.
fn is_run_not_attached(section: &str) -> bool {
    section == "raw_tp" || section == "raw_tracepoint"
}

/// Plain options for the spec `file`: the arch's default kernel, no
/// kernel types.
fn plain_options(file: &str) -> CompileOptions {
    CompileOptions {
        file: file.into(),
        symbols: None,
        kernel: None,
        unsafe_actions: false,
        btf: None,
        params: None,
        attach: lang::AttachMode::Kprobe,
        multi: false,
    }
}

/// An overhead subject: an object of ours and its attached programs.
fn subject(
    name: impl Into<String>,
    kind: &str,
    object: impl Into<String>,
    m: &Manifest,
    tracing: bool,
) -> Subject {
    Subject {
        name: name.into(),
        kind: kind.into(),
        object: object.into(),
        programs: programs(m),
        twin_of: None,
        tracing,
        ..Subject::default()
    }
}

/// An entry's spec built as fentry/fexit, where the compiler builds
/// specs so and the result has a tracing program (a spec of syscall or
/// offset probes only stays kprobes: nothing to compare).
fn as_fentry(e: &Entry, arch: Arch, compiler: &dyn Compiler) -> Option<Artifact> {
    let Source::Spec(_) = &e.source else {
        return None;
    };
    let c = compiler
        .compile_fentry(&e.source.path_for(arch), arch)?
        .ok()?;
    let tracing = c
        .manifest
        .programs
        .iter()
        .any(|p| matches!(p.kind, ProgramKind::Fentry | ProgramKind::Fexit));
    tracing.then(|| artifact_of(c).ok()).flatten()
}

/// One of the harness's own specs compiled for `arch`.
fn builtin(name: &str, text: &str, arch: Arch) -> Result<Artifact> {
    builtin_with(name, text, arch, None)
}

/// One of the harness's own specs compiled for `arch` with the kernel
/// types of `btf`, if given.
fn builtin_with(name: &str, text: &str, arch: Arch, btf: Option<&Path>) -> Result<Artifact> {
    let opts = CompileOptions {
        btf: btf.map(lang::check::TypeSource::file),
        ..plain_options(&format!("{name}.bt"))
    };
    builtin_compiled(name, text, arch, &opts)
}

fn builtin_compiled(name: &str, text: &str, arch: Arch, opts: &CompileOptions) -> Result<Artifact> {
    match lang::compile(text, arch, opts) {
        Ok(c) => artifact_of(c),
        Err(d) => bail!(
            "the harness's {name}.bt for {arch}:\n{}",
            lang::diag::render(&opts.file, text, &d)
        ),
    }
}

fn artifact_of(c: Compiled) -> Result<Artifact> {
    let object = probecc::elf::write(&c.object)
        .with_context(|| format!("writing {} for {}", c.manifest.name, c.object.arch))?;
    Ok(Artifact {
        core: !c.object.core.is_empty(),
        object,
        manifest: c.manifest,
    })
}

/// An entry's object for `arch`: its spec compiled, or its object read
/// (with the manifest beside it); the error is the row's failure.
fn artifact(
    e: &Entry,
    arch: Arch,
    compiler: &dyn Compiler,
) -> std::result::Result<Artifact, String> {
    let path = e.source.path_for(arch);
    match &e.source {
        Source::Spec(_) => {
            let c = compiler
                .compile(&path, arch)
                .map_err(|d| format!("does not compile for {arch}:\n{}", d.trim_end()))?;
            artifact_of(c).map_err(|e| probecc::error::chain(&e))
        }
        Source::Object(raw) => read_object(&path, arch, raw.to_string_lossy().contains("{arch}")),
    }
}

/// A `.o` and its manifest, refused when it is built for another arch.
fn read_object(path: &Path, arch: Arch, per_arch: bool) -> std::result::Result<Artifact, String> {
    let object = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let mpath = path.with_extension("manifest.json");
    let text = std::fs::read_to_string(&mpath).map_err(|e| {
        format!(
            "reading its manifest {} (`probecc build` writes it beside the object): {e}",
            mpath.display()
        )
    })?;
    let manifest = Manifest::from_json(&text).map_err(|e| format!("{}: {e}", mpath.display()))?;
    if manifest.arch != arch.name() {
        let hint = if per_arch {
            String::new()
        } else {
            " (give the spec, or one object per arch with `{arch}` in its path)".into()
        };
        return Err(format!(
            "{} is built for {}, not {arch}{hint}",
            path.display(),
            manifest.arch
        ));
    }
    let core = probecc::elf::read(&object)
        .ok()
        .and_then(|o| probecc::load::object_relocations(&o).ok().flatten())
        .is_some_and(|(_, sections)| !sections.is_empty());
    Ok(Artifact {
        object,
        manifest,
        core,
    })
}

/// What measuring an entry's cost stages: an empty probe on each of its
/// kprobe and kretprobe functions, and the entry itself.
fn cost_plan(
    fs: &mut Initramfs,
    e: &Entry,
    a: &Artifact,
    object: &str,
    arch: Arch,
    rounds: u32,
) -> std::result::Result<CostPlan, String> {
    let points = attach_points(&a.manifest);
    if points.is_empty() {
        return Err("has no kprobe, kretprobe, fentry or fexit program to measure".into());
    }
    let text = format!("{}\n{{\n}}\n", points.join(",\n"));
    let empty_name = format!("{}.empty", e.name);
    let empty = builtin(&empty_name, &text, arch).map_err(|e| probecc::error::chain(&e))?;
    let empty_object = add(fs, &empty_name, &empty);
    Ok(CostPlan {
        name: e.name.clone(),
        workload: e.workload.clone(),
        rounds,
        subjects: vec![
            subject("empty", "empty", empty_object, &empty.manifest, false),
            subject("spec", "fixture", object, &a.manifest, false),
        ],
    })
}

/// The kprobe and kretprobe attach points of a manifest's programs, in
/// bpftrace's spelling (`kprobe:vfs_read`), each once. An fentry (fexit)
/// program stands for a kprobe (kretprobe) on its function: the baseline
/// of every spec is an empty kprobe, so that what fentry saves shows.
fn attach_points(m: &Manifest) -> Vec<String> {
    const KINDS: [(&str, &str); 4] = [
        ("kprobe", "kprobe"),
        ("kretprobe", "kretprobe"),
        ("fentry", "kprobe"),
        ("fexit", "kretprobe"),
    ];
    let mut out: Vec<String> = Vec::new();
    for p in &m.programs {
        let point = KINDS.iter().find_map(|(section, kind)| {
            p.section
                .strip_prefix(section)
                .and_then(|r| r.strip_prefix('/'))
                .map(|func| format!("{kind}:{func}"))
        });
        if let Some(point) = point.filter(|p| !out.contains(p)) {
            out.push(point);
        }
    }
    out
}

/// (symbol, section) of every global kprobe and fentry/fexit program of
/// an object (clang's too).
fn programs_of(bytes: &[u8]) -> Result<Vec<(String, String)>> {
    let obj = probecc::elf::read(bytes).context("reading an overhead subject's object")?;
    Ok(obj
        .programs
        .iter()
        .filter(|f| {
            f.global
                && ["kprobe/", "kretprobe/", "fentry/", "fexit/"]
                    .iter()
                    .any(|k| f.section.starts_with(k))
        })
        .map(|f| (f.name.clone(), f.section.clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of this test's own, with `files` (name, text).
    fn scratch(test: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("harness-stage-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        dir
    }

    /// Builds specs both ways, with the fixtures' kernel types.
    struct BothWays(Plain);

    impl Compiler for BothWays {
        fn compile(&self, spec: &Path, arch: Arch) -> std::result::Result<Compiled, String> {
            self.0.compile(spec, arch)
        }

        fn compile_fentry(
            &self,
            spec: &Path,
            arch: Arch,
        ) -> Option<std::result::Result<Compiled, String>> {
            let src = std::fs::read_to_string(spec).ok()?;
            let opts = CompileOptions {
                btf: self.0.btf.as_ref().map(lang::check::TypeSource::file),
                attach: lang::AttachMode::Fentry,
                ..plain_options("spec.bt")
            };
            Some(lang::compile(&src, arch, &opts).map_err(|d| format!("{d:?}")))
        }

        fn types(&self) -> Option<PathBuf> {
            self.0.types()
        }
    }

    /// `plan` staged for `arch` with the agent in `dir`, one round of the
    /// overhead loop and the caller's `extras`.
    fn timed(
        arch: Arch,
        plan: &Plan,
        compiler: &dyn Compiler,
        dir: &Path,
        extras: &[ExtraSubject],
    ) -> Staged {
        stage(&StageInput {
            arch,
            plan,
            only: &[],
            compiler,
            agent: &dir.join("agent"),
            busybox: None,
            guest_files: &[],
            loop_overhead: Some(LoopOverhead {
                rounds: 1,
                iterations: 10,
            }),
            extra_subjects: extras,
            cost_rounds: None,
            output: false,
            watchdog_secs: 60,
        })
        .unwrap()
    }

    #[test]
    fn a_compiler_that_builds_both_ways_stages_fentry_twins_and_baselines() {
        let dir = scratch(
            "both",
            &[
                ("agent", "an agent"),
                ("reads.bt", "kprobe:vfs_read { @r[comm] = count(); }"),
                ("opens.bt", "ksyscall:openat { @o = count(); }"),
                ("writes.bt", "kprobe:vfs_write { @w = count(); }"),
                (
                    "plan.toml",
                    "[reads]\nspec = \"reads.bt\"\nworkload = [\"true\"]\n\
                     [opens]\nspec = \"opens.bt\"\nworkload = [\"true\"]\n\
                     [writes]\nspec = \"writes.bt\"\nworkload = [\"true\"]\n",
                ),
            ],
        );
        let plan = Plan::load(&dir.join("plan.toml")).unwrap();
        let btf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/btf/kernel.btf");
        // reads has a C twin (its own kprobe build stands in for clang's).
        let reads = Plain::default()
            .compile(&dir.join("reads.bt"), Arch::S390x)
            .unwrap();
        let twin = ExtraSubject {
            name: "reads (clang)".into(),
            kind: "clang".into(),
            twin_of: Some("reads".into()),
            tracing: false,
            object: probecc::elf::write(&reads.object).unwrap(),
        };
        let compiler = BothWays(Plain { btf: Some(btf) });
        let staged = timed(Arch::S390x, &plan, &compiler, &dir, &[twin]);
        let fixtures: Vec<(&str, bool)> = staged
            .plan
            .fixtures
            .iter()
            .map(|f| (f.name.as_str(), f.tracing))
            .collect();
        // A syscall probe stays a kprobe built either way: no twin.
        assert_eq!(
            fixtures,
            [
                ("opens", false),
                ("reads", false),
                ("reads@fentry", true),
                ("writes", false),
                ("writes@fentry", true)
            ]
        );
        let twin = &staged.plan.fixtures[2];
        assert_eq!(twin.workload, ["true"]);
        let overhead = &staged.plan.overhead.as_ref().unwrap().subjects;
        let subjects: Vec<(&str, bool)> = overhead
            .iter()
            .map(|s| (s.name.as_str(), s.tracing))
            .collect();
        for want in [
            ("empty_fentry", true),
            ("empty_fexit", true),
            ("reads@fentry", true),
            ("empty_kprobe", false),
        ] {
            assert!(subjects.contains(&want), "{want:?} in {subjects:?}");
        }
        // A fentry build without a C twin runs, but is not timed.
        assert!(
            !subjects.iter().any(|(n, _)| *n == "writes@fentry"),
            "{subjects:?}"
        );
        let fentry = overhead.iter().find(|s| s.name == "empty_fentry").unwrap();
        assert_eq!(fentry.programs[0].1, "fentry/vfs_read");
    }

    #[test]
    fn the_kprobe_pair_is_timed_as_two_kprobes_and_as_one_kprobe_multi_link() {
        let dir = scratch(
            "multi",
            &[
                ("agent", "an agent"),
                ("reads.bt", "kprobe:vfs_read { @r = count(); }"),
                ("plan.toml", "[reads]\nspec = \"reads.bt\"\n"),
            ],
        );
        let plan = Plan::load(&dir.join("plan.toml")).unwrap();
        let staged = timed(Arch::Arm64, &plan, &Plain::default(), &dir, &[]);
        let overhead = &staged.plan.overhead.as_ref().unwrap().subjects;
        let find = |n: &str| overhead.iter().find(|s| s.name == n).unwrap();
        let pair = find(EMPTY_KPROBE_PAIR);
        let sections: Vec<&str> = pair.programs.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(sections, ["kprobe/vfs_read", "kprobe/vfs_write"]);
        assert!(!pair.multi && pair.functions.is_empty());
        // One program, in a bare section, whose functions the plan lists.
        let multi = find(EMPTY_KPROBE_MULTI);
        assert!(multi.multi);
        assert_eq!(multi.programs.len(), 1);
        let (name, section) = &multi.programs[0];
        assert_eq!(section, "kprobe.multi");
        assert_eq!(multi.functions[name], ["vfs_read", "vfs_write"]);
    }

    #[test]
    fn a_fentry_twin_is_a_tracing_subject_held_to_the_specs_fentry_build() {
        let dir = scratch(
            "fentry-twin",
            &[
                ("agent", "an agent"),
                ("writes.bt", "kprobe:vfs_write { @w = count(); }"),
                ("opens.bt", "ksyscall:openat { @o = count(); }"),
                (
                    "plan.toml",
                    "[writes]\nspec = \"writes.bt\"\nworkload = [\"true\"]\n\
                     [opens]\nspec = \"opens.bt\"\nworkload = [\"true\"]\n",
                ),
            ],
        );
        let plan = Plan::load(&dir.join("plan.toml")).unwrap();
        let btf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/btf/kernel.btf");
        let compiler = BothWays(Plain { btf: Some(btf) });
        // writes has only a fentry twin (its own fentry build stands in
        // for clang's); opens, a syscall probe, has no fentry build for
        // its twin to be held to.
        let twin = |spec: &str, c: Compiled| ExtraSubject {
            name: format!("{spec}{AS_FENTRY} (clang)"),
            kind: "clang".into(),
            twin_of: Some(format!("{spec}{AS_FENTRY}")),
            tracing: true,
            object: probecc::elf::write(&c.object).unwrap(),
        };
        let spec = |name: &str| dir.join(format!("{name}.bt"));
        let writes = compiler.compile_fentry(&spec("writes"), Arch::X86_64);
        let opens = compiler.compile(&spec("opens"), Arch::X86_64).unwrap();
        let twins = [
            twin("writes", writes.unwrap().unwrap()),
            twin("opens", opens),
        ];
        let staged = timed(Arch::X86_64, &plan, &compiler, &dir, &twins);
        let subjects = &staged.plan.overhead.as_ref().unwrap().subjects;
        let find = |name: &str| subjects.iter().find(|s| s.name == name);
        // The fentry build is timed: its fentry twin holds it to something.
        assert!(find("writes@fentry").is_some_and(|s| s.tracing));
        let twin = find("writes@fentry (clang)").expect("the fentry twin is staged");
        assert_eq!(twin.kind, "clang");
        assert_eq!(twin.twin_of.as_deref(), Some("writes@fentry"));
        assert!(twin.tracing, "a kernel without trampolines refuses it");
        let sections: Vec<&str> = twin.programs.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(sections, ["fentry/vfs_write"]);
        assert!(find("opens@fentry (clang)").is_none(), "{subjects:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_spec_that_does_not_compile_fails_its_row_and_the_rest_is_staged() {
        let dir = scratch(
            "plan",
            &[
                ("agent", "an agent"),
                ("busybox", "a busybox"),
                ("mytool", "a tool"),
                ("reads.bt", "kprobe:vfs_read { @r[comm] = count(); }"),
                ("broken.bt", "kprobe:vfs_read { @r = nosuchfunction(); }"),
                (
                    "plan.toml",
                    "[reads]\nspec = \"reads.bt\"\nworkload = [\"cat -v /etc/hostname\"]\n\
                     expect = [{ map = \"@r\" }]\n[broken]\nspec = \"broken.bt\"\n",
                ),
            ],
        );
        let plan = Plan::load(&dir.join("plan.toml")).unwrap();
        let tool = GuestFile::parse(&format!(
            "{}:/usr/local/bin/mytool",
            dir.join("mytool").display()
        ))
        .unwrap();
        let staged = stage(&StageInput {
            arch: Arch::Riscv64,
            plan: &plan,
            only: &[],
            compiler: &Plain::default(),
            agent: &dir.join("agent"),
            busybox: Some(&dir.join("busybox")),
            guest_files: std::slice::from_ref(&tool),
            loop_overhead: None,
            extra_subjects: &[],
            cost_rounds: Some(1),
            output: true,
            watchdog_secs: 60,
        })
        .unwrap();
        assert_eq!(staged.failed.len(), 1);
        assert_eq!(staged.failed[0].name, "broken");
        assert!(
            staged.failed[0].errors[0].starts_with("does not compile for riscv64:"),
            "{:?}",
            staged.failed[0].errors
        );
        assert!(staged.failed[0].errors[0].contains("nosuchfunction"));
        let names: Vec<&str> = staged
            .plan
            .fixtures
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["reads"]);
        assert!(staged.plan.fixtures[0].output);
        assert_eq!(staged.plan.busybox.as_deref(), Some(BUSYBOX));
        let cost = &staged.plan.costs[0];
        assert_eq!(cost.name, "reads");
        assert_eq!(cost.workload, ["cat -v /etc/hostname"]);
        let kinds: Vec<&str> = cost.subjects.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, ["empty", "fixture"]);
        let cpio = String::from_utf8_lossy(&staged.initramfs);
        for path in [
            "bin/busybox\0",
            "usr/local/bin/mytool\0",
            "init\0",
            "probecc/plan.json\0",
        ] {
            assert!(cpio.contains(path), "{path}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn guest_files_go_to_bin_unless_placed() {
        assert_eq!(
            GuestFile::parse("target/x/mytool").unwrap(),
            GuestFile {
                src: "target/x/mytool".into(),
                dst: "/bin/mytool".into()
            }
        );
        assert_eq!(
            GuestFile::parse("a/data.txt:/etc/data.txt").unwrap().dst,
            "/etc/data.txt"
        );
        let e = GuestFile::parse("a:etc/x").unwrap_err();
        assert!(e.to_string().contains("not absolute"), "{e}");
    }

    #[test]
    fn a_cost_subject_attaches_only_its_probes_not_begin_or_end() {
        let text = "BEGIN { @s = 1; } kprobe:vfs_read { @c = count(); } END { @e = 2; }";
        let c = lang::compile(text, Arch::X86_64, &plain_options("t.bt")).unwrap();
        assert_eq!(c.manifest.programs.len(), 3);
        let sections: Vec<String> = programs(&c.manifest).into_iter().map(|(_, s)| s).collect();
        assert_eq!(sections, ["kprobe/vfs_read"]);
    }

    #[test]
    fn empty_probes_mirror_the_specs_functions() {
        let text = "kprobe:vfs_read { @[comm] = count(); }\n\
                    kretprobe:vfs_read { @r = count(); }\n\
                    kprobe:vfs_read /pid == 1/ { @p = count(); }\n";
        let c = lang::compile(text, Arch::Arm64, &plain_options("t.bt")).unwrap();
        assert_eq!(
            attach_points(&c.manifest),
            ["kprobe:vfs_read", "kretprobe:vfs_read"]
        );
        let empty = builtin(
            "t.empty",
            "kprobe:vfs_read,\nkretprobe:vfs_read\n{\n}\n",
            Arch::Arm64,
        )
        .unwrap();
        assert_eq!(empty.manifest.programs.len(), 2);
        assert!(empty.manifest.maps.is_empty());
    }

    #[test]
    fn an_fentry_specs_baseline_is_an_empty_kprobe_on_its_functions() {
        let btf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/btf/kernel.btf");
        let opts = CompileOptions {
            btf: Some(lang::check::TypeSource::file(btf)),
            attach: lang::AttachMode::Fentry,
            ..plain_options("t.bt")
        };
        let text = "kprobe:vfs_read { @[comm] = count(); }
                    kretprobe:vfs_read { @r = count(); }
";
        let c = lang::compile(text, Arch::X86_64, &opts).unwrap();
        let sections: Vec<&str> = c
            .manifest
            .programs
            .iter()
            .map(|p| p.section.as_str())
            .collect();
        assert_eq!(sections, ["fentry/vfs_read", "fexit/vfs_read"]);
        assert_eq!(
            attach_points(&c.manifest),
            ["kprobe:vfs_read", "kretprobe:vfs_read"]
        );
    }

    #[test]
    fn an_object_for_another_arch_fails_its_row_saying_so() {
        let dir = std::env::temp_dir().join(format!("harness-stage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = lang::compile(
            "kprobe:vfs_read { @c = count(); }",
            Arch::X86_64,
            &plain_options("c.bt"),
        )
        .unwrap();
        let obj = dir.join("c.o");
        std::fs::write(&obj, probecc::elf::write(&c.object).unwrap()).unwrap();
        std::fs::write(dir.join("c.manifest.json"), c.manifest.to_json()).unwrap();
        assert!(read_object(&obj, Arch::X86_64, false).is_ok());
        let e = read_object(&obj, Arch::S390x, false).err().unwrap();
        assert!(e.contains("is built for x86_64, not s390x"), "{e}");
        assert!(e.contains("{arch}"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
