//! Every fixture spec runs over its event file (`fixtures/events/`) on all
//! five arches: the outputs must be identical (cross-arch equivalence), and
//! the x86_64 output is snapshotted, as JSON and as bpftrace text.

mod support;

use probecc::arch::Arch;
use vm_tests::{events, Options};

fn outputs(name: &str, arch: Arch) -> (String, String) {
    let a = support::compile_fixture(name, arch);
    let p = support::load(&a, arch, Options::default());
    let evs = events::parse(&support::events(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let r = p
        .run(&evs)
        .unwrap_or_else(|e| panic!("{name} on {arch}: {e}"));
    (r.to_json(true), r.to_text())
}

#[test]
fn every_fixture_has_an_event_file() {
    for name in support::fixtures() {
        let path = support::root().join(format!("fixtures/events/{name}.jsonl"));
        assert!(path.exists(), "missing {}", path.display());
    }
}

#[test]
fn fixtures_give_the_same_output_on_every_arch_and_match_their_snapshots() {
    for name in support::fixtures() {
        let (json, text) = outputs(&name, Arch::X86_64);
        for arch in &Arch::ALL[1..] {
            let (j, t) = outputs(&name, *arch);
            assert_eq!(j, json, "{name}: {arch} JSON differs from x86_64");
            assert_eq!(t, text, "{name}: {arch} text differs from x86_64");
        }
        insta::assert_snapshot!(name.as_str(), format!("{json}\n--- text ---\n{text}"));
    }
}

/// rbpf's JIT gives the interpreter's output on every fixture whose code
/// fits its one page; the others are refused with a reason, never run.
#[cfg(target_arch = "x86_64")]
#[test]
fn the_jit_agrees_with_the_interpreter() {
    let mut jitted = 0;
    for name in support::fixtures() {
        let arch = Arch::X86_64;
        let a = support::compile_fixture(&name, arch);
        let opts = Options {
            engine: vm_tests::Engine::Jit,
            ..Options::default()
        };
        let evs = events::parse(&support::events(&name)).expect("events");
        let p = support::load(&a, arch, opts);
        let r = match p.run(&evs) {
            Ok(r) => r,
            Err(vm_tests::Error::Jit { reason, .. }) => {
                assert!(reason.contains("one 4096-byte page"), "{name}: {reason}");
                continue;
            }
            Err(e) => panic!("{name}: {e}"),
        };
        let (json, text) = outputs(&name, arch);
        assert_eq!(r.to_json(true), json, "{name}");
        assert_eq!(r.to_text(), text, "{name}");
        jitted += 1;
    }
    assert!(jitted >= 20, "only {jitted} fixtures fit the JIT");
}
