//! Every fixture spec runs over its event file (`fixtures/events/`) on all
//! five arches: the outputs must be identical (cross-arch equivalence), and
//! the x86_64 output is snapshotted in the three ways `probecc run` prints
//! it: the report document, bpftrace's text and bpftrace's JSON lines.

mod support;

use probecc::arch::Arch;
use probecc_runtime::output::{Output, Style};
use probecc_runtime::report;
use vm_tests::{events, Options};

/// The report, the text and the JSON lines of a run.
fn renderings(r: &Output) -> (String, String, String) {
    (
        report::document(r, true),
        r.render(Style::Text),
        r.render(Style::Json),
    )
}

fn outputs(name: &str, arch: Arch) -> (String, String, String) {
    let a = support::compile_fixture(name, arch);
    let p = support::load(&a, arch, Options::default());
    let evs = events::parse(&support::events(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let r = p
        .run(&evs)
        .unwrap_or_else(|e| panic!("{name} on {arch}: {e}"));
    renderings(&r)
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
        let x86 = outputs(&name, Arch::X86_64);
        for arch in &Arch::ALL[1..] {
            assert_eq!(
                outputs(&name, *arch),
                x86,
                "{name}: {arch} differs from x86_64"
            );
        }
        let (report, text, json) = x86;
        insta::assert_snapshot!(
            name.as_str(),
            format!("{report}\n--- text ---\n{text}\n--- json ---\n{json}")
        );
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
        assert_eq!(renderings(&r), outputs(&name, arch), "{name}");
        jitted += 1;
    }
    assert!(jitted >= 20, "only {jitted} fixtures fit the JIT");
}
