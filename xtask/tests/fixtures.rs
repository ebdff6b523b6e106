//! The fixture corpus through the compiler: every valid spec compiles for
//! every arch (its disassembly and manifest snapshotted), and every broken
//! spec fails with the diagnostics its `// expect:` line names (rendered
//! output snapshotted), with no panic.

use std::path::Path;

use probecc::arch::Arch;
use probecc::disasm;
use probecc::lang::{self, diag};
use probecc_fixtures as fixtures;

#[test]
fn every_fixture_compiles_for_every_arch() {
    let specs = fixtures::specs().expect("listing fixtures");
    assert!(specs.len() >= 30, "only {} fixtures", specs.len());
    for (name, path) in &specs {
        for arch in Arch::ALL {
            let compiled = fixtures::compile(path, arch).unwrap_or_else(|e| panic!("{e:#}"));
            insta::assert_snapshot!(
                format!("{name}__{arch}"),
                disasm::object_text(&compiled.object)
            );
            if arch == Arch::X86_64 {
                insta::assert_snapshot!(format!("{name}__manifest"), compiled.manifest.to_json());
            }
        }
    }
}

/// `// expect: a | b` and optional `// arch: s390x` header lines.
fn header(src: &str) -> (Vec<String>, Option<Arch>) {
    let mut expect = Vec::new();
    let mut arch = None;
    for line in src.lines().take(3) {
        if let Some(e) = line.strip_prefix("// expect:") {
            expect = e.split(" | ").map(|f| f.trim().to_lowercase()).collect();
        } else if let Some(a) = line.strip_prefix("// arch:") {
            arch = Some(Arch::parse(a.trim()).expect("valid arch header"));
        }
    }
    (expect, arch)
}

fn check_bad(name: &str, path: &Path) {
    let src = std::fs::read_to_string(path).expect("reading a bad fixture");
    let (expect, only_arch) = header(&src);
    assert!(!expect.is_empty(), "{name}: no `// expect:` line");
    let opts = fixtures::options(path).expect("options");
    for arch in Arch::ALL {
        let result = lang::compile(&src, arch, &opts);
        if only_arch.is_some_and(|a| a != arch) {
            assert!(result.is_ok(), "{name}: must compile on {arch}");
            continue;
        }
        let Err(diags) = result else {
            panic!("{name}: compiled on {arch} but must fail")
        };
        let messages: Vec<String> = diags.iter().map(|d| d.message.to_lowercase()).collect();
        for fragment in &expect {
            assert!(
                messages.iter().any(|m| m.contains(fragment.as_str())),
                "{name} on {arch}: no diagnostic mentions `{fragment}`; got {messages:?}"
            );
        }
        if only_arch.is_some() || arch == Arch::X86_64 {
            insta::assert_snapshot!(
                format!("bad_{name}"),
                diag::render(&opts.file, &src, &diags)
            );
        }
    }
}

#[test]
fn every_bad_fixture_fails_with_its_diagnostic() {
    let bad = fixtures::specs_in("bad").expect("listing fixtures/bad");
    assert!(bad.len() >= 20, "only {} bad fixtures", bad.len());
    for (name, path) in &bad {
        check_bad(name, path);
    }
}
