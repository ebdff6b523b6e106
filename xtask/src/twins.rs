//! The C twins of some fixtures (`fixtures/c/twins/<name>.bpf.c`), compiled
//! by clang for an arch (`-target bpfel|bpfeb`, `-D__TARGET_ARCH_<arch>`,
//! both from `probecc::arch`) into `target/matrix/twins/<arch>/`, for the
//! overhead comparison: each twice, as kprobes (`<name>.o`) and with
//! `-DTWIN_FENTRY` as fentry/fexit (`<name>.fentry.o`, twin.h's sections
//! and context), the twin of the fixture's `--attach fentry` build. An
//! object newer than its sources is reused; one is compiled to a temporary
//! name and renamed into place, so a concurrent run never reads a
//! half-written object. They join the harness's overhead loop as the
//! caller's subjects ([`subjects`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use probecc::arch::Arch;
use probecc_harness::stage::{ExtraSubject, AS_FENTRY};

/// The twins of `arch` as overhead subjects (kind `clang`), each named
/// `<subject> (clang)` after the subject it is held to: the fixture, or
/// its fentry build `<fixture>@fentry` (a tracing subject, which a kernel
/// without BPF trampolines reports unavailable).
pub fn subjects(arch: Arch) -> probecc_harness::Result<Vec<ExtraSubject>> {
    let failed = |e: anyhow::Error| probecc_harness::Error::Failed(format!("{e:#}"));
    build(arch)
        .and_then(|twins| twins.iter().map(Twin::subject).collect())
        .map_err(failed)
}

/// What a twin is built as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Its kprobes and kretprobes, as written.
    Kprobe,
    /// With `-DTWIN_FENTRY`: fentry and fexit programs.
    Fentry,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Kprobe, Kind::Fentry];

    fn defines(self) -> &'static [&'static str] {
        match self {
            Kind::Kprobe => &[],
            Kind::Fentry => &["-DTWIN_FENTRY"],
        }
    }

    fn object(self, fixture: &str) -> String {
        match self {
            Kind::Kprobe => format!("{fixture}.o"),
            Kind::Fentry => format!("{fixture}.fentry.o"),
        }
    }
}

/// A compiled twin: the fixture it mirrors, what it is built as and its
/// object.
pub struct Twin {
    pub fixture: String,
    pub kind: Kind,
    pub object: PathBuf,
}

impl Twin {
    /// The overhead subject it is held to: the fixture, or its fentry
    /// build.
    pub fn twin_of(&self) -> String {
        match self.kind {
            Kind::Kprobe => self.fixture.clone(),
            Kind::Fentry => format!("{}{AS_FENTRY}", self.fixture),
        }
    }

    /// It as an overhead subject.
    fn subject(&self) -> Result<ExtraSubject> {
        let object = std::fs::read(&self.object)
            .with_context(|| format!("reading {}", self.object.display()))?;
        let twin_of = self.twin_of();
        Ok(ExtraSubject {
            name: format!("{twin_of} (clang)"),
            kind: "clang".into(),
            twin_of: Some(twin_of),
            tracing: self.kind == Kind::Fentry,
            object,
        })
    }
}

pub fn build(arch: Arch) -> Result<Vec<Twin>> {
    let out_dir = crate::workspace_root()
        .join("target/matrix/twins")
        .join(arch.name());
    build_into(arch, &probecc_fixtures::dir().join("c/twins"), &out_dir)
}

/// Every twin of `src_dir` built both ways for `arch` into `out_dir`,
/// ordered by fixture, its kprobe build first. A fentry build with no
/// fentry or fexit program (a twin of syscall probes only) is left out,
/// as the harness leaves out such a fixture's.
fn build_into(arch: Arch, src_dir: &Path, out_dir: &Path) -> Result<Vec<Twin>> {
    std::fs::create_dir_all(out_dir)?;
    let header = src_dir.join("twin.h");
    let mut twins = Vec::new();
    for entry in
        std::fs::read_dir(src_dir).with_context(|| format!("reading {}", src_dir.display()))?
    {
        let src = entry?.path();
        let Some(fixture) = src
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".bpf.c"))
            .map(str::to_string)
        else {
            continue;
        };
        for kind in Kind::ALL {
            let object = out_dir.join(kind.object(&fixture));
            if stale(&object, &[&src, &header]) {
                compile(arch, &src, kind.defines(), &object)?;
            }
            if kind == Kind::Fentry && !has_tracing_program(&object)? {
                continue;
            }
            twins.push(Twin {
                fixture: fixture.clone(),
                kind,
                object,
            });
        }
    }
    twins.sort_by(|a, b| a.fixture.cmp(&b.fixture));
    Ok(twins)
}

fn has_tracing_program(object: &Path) -> Result<bool> {
    let bytes = std::fs::read(object).with_context(|| format!("reading {}", object.display()))?;
    let obj =
        probecc::elf::read(&bytes).with_context(|| format!("reading {}", object.display()))?;
    Ok(obj
        .programs
        .iter()
        .any(|p| p.section.starts_with("fentry/") || p.section.starts_with("fexit/")))
}

fn stale(out: &Path, inputs: &[&Path]) -> bool {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match m(out) {
        None => true,
        Some(t) => inputs.iter().any(|i| m(i).is_none_or(|s| s > t)),
    }
}

fn compile(arch: Arch, src: &Path, defines: &[&str], out: &Path) -> Result<()> {
    let tmp = out.with_extension(format!("tmp{}.o", std::process::id()));
    let status = Command::new("clang")
        .args(["-O2", "-g", "-target", arch.clang_target()])
        .arg(format!("-D__TARGET_ARCH_{}", arch.libbpf_target_arch()))
        .args(defines)
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(&tmp)
        .status()
        .context("running clang")?;
    if !status.success() {
        let _ = std::fs::remove_file(&tmp);
        bail!("clang failed on {} for {arch}", src.display());
    }
    std::fs::rename(&tmp, out).with_context(|| format!("renaming to {}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::arch::KernelVersion;
    use probecc::insn::class;
    use probecc_test_support::{require, Need};

    /// A directory of this test's own under the system's temporary one.
    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-twins-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// (section, program) of an object's programs.
    fn programs(object: &Path) -> Vec<(String, String)> {
        let bytes = std::fs::read(object).unwrap();
        let obj = probecc::elf::read(&bytes).unwrap();
        obj.programs
            .iter()
            .map(|p| (p.section.clone(), p.name.clone()))
            .collect()
    }

    #[test]
    #[ignore = "needs clang"]
    fn every_twin_builds_both_ways_on_every_arch_and_passes_verifier_sim() {
        if !require(&[Need::Tool("clang")]) {
            return;
        }
        let src = probecc_fixtures::dir().join("c/twins");
        let out = scratch("both");
        for arch in Arch::ALL {
            let twins = build_into(arch, &src, &out.join(arch.name())).unwrap();
            let fixtures: Vec<(&str, Kind)> =
                twins.iter().map(|t| (t.fixture.as_str(), t.kind)).collect();
            assert_eq!(
                fixtures,
                [
                    ("read_size_hist", Kind::Kprobe),
                    ("read_size_hist", Kind::Fentry),
                    ("vfscount", Kind::Kprobe),
                    ("vfscount", Kind::Fentry),
                    ("write_counts", Kind::Kprobe),
                    ("write_counts", Kind::Fentry),
                ],
                "{arch}"
            );
            for pair in twins.chunks(2) {
                let [kprobe, fentry] = pair else {
                    unreachable!()
                };
                assert_eq!(fentry.twin_of(), format!("{}@fentry", kprobe.fixture));
                // The same functions, each probe's section now fentry/.
                let as_fentry: Vec<(String, String)> = programs(&kprobe.object)
                    .into_iter()
                    .map(|(s, n)| (s.replacen("kprobe/", "fentry/", 1), n))
                    .collect();
                assert_eq!(programs(&fentry.object), as_fentry, "{arch}");
                for t in pair {
                    let bytes = std::fs::read(&t.object).unwrap();
                    let verdicts =
                        verifier_sim::check_object(&bytes, arch, KernelVersion(6, 12)).unwrap();
                    for v in verdicts {
                        assert!(v.accepted, "{arch} {}: {v:?}", t.object.display());
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&out);
    }

    #[test]
    #[ignore = "needs clang"]
    fn the_matrix_holds_each_fixture_both_ways_to_the_twin_of_that_kind() {
        if !require(&[Need::Tool("clang")]) {
            return;
        }
        let out = scratch("staged");
        let arch = Arch::X86_64;
        let twins = build_into(arch, &probecc_fixtures::dir().join("c/twins"), &out).unwrap();
        let extras: Vec<ExtraSubject> = twins.iter().map(|t| t.subject().unwrap()).collect();
        let agent = out.join("agent");
        std::fs::write(&agent, "an agent").unwrap();
        let plan = crate::qemu::fixtures_plan().unwrap();
        let staged = probecc_harness::stage::stage(&probecc_harness::stage::StageInput {
            arch,
            plan: &plan,
            only: &[],
            compiler: &crate::qemu::Fixtures,
            agent: &agent,
            busybox: None,
            guest_files: &[],
            loop_overhead: Some(probecc_harness::stage::LoopOverhead {
                rounds: 1,
                iterations: 10,
            }),
            extra_subjects: &extras,
            cost_rounds: None,
            output: false,
            watchdog_secs: 60,
        })
        .unwrap();
        let subjects = &staged.plan.overhead.unwrap().subjects;
        let find = |name: &str| {
            subjects
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("{name} is not timed"))
        };
        for fixture in ["read_size_hist", "vfscount", "write_counts"] {
            let ours = find(fixture);
            let clang = find(&format!("{fixture} (clang)"));
            assert_eq!(clang.twin_of.as_deref(), Some(fixture));
            assert!(!ours.tracing && !clang.tracing);
            let ours = find(&format!("{fixture}@fentry"));
            let clang = find(&format!("{fixture}@fentry (clang)"));
            assert_eq!(clang.twin_of.as_deref(), Some(ours.name.as_str()));
            assert!(ours.tracing && clang.tracing, "{fixture}");
            // Both attach the same functions, as fentry programs.
            let sections = |s: &probecc_guest::protocol::Subject| {
                let mut v: Vec<String> = s.programs.iter().map(|(_, s)| s.clone()).collect();
                v.sort();
                v
            };
            assert_eq!(sections(ours), sections(clang), "{fixture}");
            assert!(sections(clang).iter().all(|s| s.starts_with("fentry/")));
        }
        let _ = std::fs::remove_dir_all(&out);
    }

    /// The context offsets of the loads from r1 (the ctx) in `object`.
    fn ctx_loads(object: &[u8]) -> Vec<i16> {
        let obj = probecc::elf::read(object).unwrap();
        obj.programs[0]
            .insns
            .iter()
            .filter(|i| i.class() == class::LDX && i.src == 1)
            .map(|i| i.off)
            .collect()
    }

    #[test]
    #[ignore = "needs clang"]
    fn arguments_and_the_return_value_are_read_where_each_kind_has_them() {
        if !require(&[Need::Tool("clang")]) {
            return;
        }
        let dir = scratch("retval");
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("ret.bpf.c");
        std::fs::write(
            &src,
            format!(
                "#include \"{}\"\n\
                 SEC(RETURN_SEC(vfs_read)) int r(void *ctx)\n\
                 {{ return RETVAL(ctx, 4) + ARG(ctx, 2); }}\n",
                probecc_fixtures::dir().join("c/twins/twin.h").display()
            ),
        )
        .unwrap();
        for arch in Arch::ALL {
            let regs = arch.regs();
            for (kind, want, section) in [
                (Kind::Kprobe, [regs.ret, regs.args[2]], "kretprobe/vfs_read"),
                // vfs_read's 4 arguments, then its return value: as
                // probecc's fexit reads `retval` (btf::proto's ret_slot).
                (Kind::Fentry, [32, 16], "fexit/vfs_read"),
            ] {
                let out = dir.join(format!("{}.{kind:?}.o", arch.name()));
                compile(arch, &src, kind.defines(), &out).unwrap();
                let bytes = std::fs::read(&out).unwrap();
                assert_eq!(programs(&out)[0].0, section, "{arch}");
                let mut loads = ctx_loads(&bytes);
                loads.sort();
                let mut want = want.map(|o| o as i16);
                want.sort();
                assert_eq!(loads, want, "{arch} {kind:?}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
