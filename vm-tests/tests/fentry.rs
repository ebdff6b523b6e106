//! fentry and fexit offline: the specs of `fixtures/fentry/` run over
//! their event files (arguments by position and by name, `retval`) with
//! the same output on every arch, snapshotted; and every fixture spec of
//! `fixtures/specs/` built with `--attach fentry` gives, over its
//! kprobe-style event file, the output its kprobe build gives.

mod support;

use std::path::Path;

use probecc::arch::Arch;
use probecc::lang::{AttachMode, CompileOptions};
use probecc_runtime::output::Style;
use vm_tests::spec::{self, Artifacts};
use vm_tests::{events, Options};

fn options(path: &Path, attach: AttachMode) -> CompileOptions {
    let opts = probecc_fixtures::options(path).unwrap_or_else(|e| panic!("{e}"));
    CompileOptions { attach, ..opts }
}

fn build(path: &Path, arch: Arch, attach: AttachMode) -> Result<Artifacts, String> {
    let src = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    spec::compile(&src, arch, &options(path, attach)).map_err(|e| e.to_string())
}

/// The text output of `a` run over `events` on `arch`.
fn text(a: &Artifacts, arch: Arch, events: &str) -> String {
    let p = support::load(a, arch, Options::default());
    let evs = events::parse(events).unwrap_or_else(|e| panic!("{e}"));
    p.run(&evs)
        .unwrap_or_else(|e| panic!("{arch}: {e}"))
        .render(Style::Text)
}

fn sections(a: &Artifacts) -> Vec<String> {
    let m: probecc::lang::manifest::Manifest =
        serde_json::from_str(&a.manifest).unwrap_or_else(|e| panic!("{e}"));
    m.programs.iter().map(|p| p.section.clone()).collect()
}

#[test]
fn fentry_fixtures_give_the_same_output_on_every_arch_and_match_their_snapshots() {
    let specs = probecc_fixtures::specs_in("fentry").expect("fixtures/fentry");
    assert!(specs.len() >= 2, "{specs:?}");
    for (name, path) in specs {
        let events = std::fs::read_to_string(path.with_extension("jsonl"))
            .unwrap_or_else(|e| panic!("{name}.jsonl: {e}"));
        let build = |arch| build(&path, arch, AttachMode::Kprobe).unwrap();
        let x86 = text(&build(Arch::X86_64), Arch::X86_64, &events);
        for arch in &Arch::ALL[1..] {
            assert_eq!(text(&build(*arch), *arch, &events), x86, "{name} on {arch}");
        }
        insta::assert_snapshot!(format!("fentry_{name}"), x86);
    }
}

/// The fixture specs `--attach fentry` refuses, and why: `args_dump`
/// reads an argument `do_sys_openat2` does not have (a kprobe reads
/// whatever the register holds); `kstack_modes` and `kstack_opens` read
/// `kstack`, which starts at the trampoline in a tracing program; the
/// wildcards match functions the fixture BTF (`fixtures/btf/kernel.roots`) does not hold (`--attach auto` keeps
/// them kprobes).
const REFUSED: &[&str] = &[
    "args_dump: error: `do_sys_openat2` takes 3 arguments, and this block reads an `argN` past them, which an fentry/fexit program has no slot for",
    "kstack_modes: error: kstack in an fentry/fexit program starts at the BPF trampoline, not at the probed function as a kprobe's does",
    "kstack_opens: error: kstack in an fentry/fexit program starts at the BPF trampoline, not at the probed function as a kprobe's does",
    "wildcard_mixed: error: `vfs_readv` is not a function in the kernel's BTF; did you mean vfs_read, vfs_write?",
    "wildcard_vfs_errors: error: `vfs_fsync` is not a function in the kernel's BTF",
    "wildcard_vfscount: error: `vfs_fsync` is not a function in the kernel's BTF",
];

#[test]
fn kprobe_fixtures_built_as_fentry_give_the_kprobe_output() {
    let mut converted = 0;
    let mut refused = Vec::new();
    for (name, path) in probecc_fixtures::specs().expect("fixtures/specs") {
        let events = support::events(&name);
        let kprobe = build(&path, Arch::X86_64, AttachMode::Kprobe).unwrap();
        let fentry = match build(&path, Arch::X86_64, AttachMode::Fentry) {
            Ok(a) => a,
            Err(e) => {
                refused.push(format!("{name}: {}", e.lines().next().unwrap_or("")));
                continue;
            }
        };
        if sections(&fentry) == sections(&kprobe) {
            continue;
        }
        converted += 1;
        for arch in [Arch::X86_64, Arch::S390x] {
            let kprobe = build(&path, arch, AttachMode::Kprobe).unwrap();
            let fentry = build(&path, arch, AttachMode::Fentry).unwrap();
            assert_eq!(
                text(&fentry, arch, &events),
                text(&kprobe, arch, &events),
                "{name} on {arch}: fentry build differs"
            );
        }
    }
    assert_eq!(refused, REFUSED, "refused by --attach fentry");
    assert!(converted >= 40, "only {converted} fixtures became fentry");
}

/// Every fentry/fexit object the fixtures build (`fixtures/fentry`, and
/// `fixtures/specs` with `--attach fentry`) passes verifier-sim with the
/// prototypes of the BTF they compile against, which type their contexts
/// as the kernel does.
#[test]
fn fentry_builds_pass_the_check_typed_by_their_prototypes() {
    let fentry = probecc_fixtures::specs_in("fentry").expect("fixtures/fentry");
    let specs = probecc_fixtures::specs().expect("fixtures/specs");
    let builds = fentry
        .iter()
        .map(|s| (s, AttachMode::Kprobe))
        .chain(specs.iter().map(|s| (s, AttachMode::Fentry)));
    let mut checked = 0;
    for ((name, path), attach) in builds {
        let opts = options(path, attach);
        let types = opts
            .btf
            .as_ref()
            .expect("fixtures compile with kernel types");
        let types = types.get().unwrap_or_else(|e| panic!("{e}"));
        for arch in [Arch::X86_64, Arch::S390x] {
            let Ok(a) = build(path, arch, attach) else {
                continue;
            };
            if !verifier_sim::tracing::in_object(&a.object) {
                continue;
            }
            let target = verifier_sim::Target::new(arch, arch.default_kernel());
            let verdicts = verifier_sim::check_object_typed(&a.object, &target, Some(&types))
                .unwrap_or_else(|e| panic!("{name} on {arch}: {e}"));
            for v in verdicts {
                assert!(v.accepted, "{name} on {arch}: {v:?}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 80, "only {checked} fentry objects checked");
}
