//! One object, built without values for its positional parameters, runs
//! differently with different ones: the runner sets its read-only globals
//! (`.rodata`) from ARGs before any run, as a loader sets them before load,
//! on every arch (s390x's in its byte order), interpreted and JIT-compiled.

mod support;

use probecc::arch::Arch;
use probecc_runtime::output::Style;
use vm_tests::events;
use vm_tests::{Engine, Options, Program};

/// `positional.bt` built once for `arch`, run over its events with `args`.
fn run(program: &mut Program, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let globals = probecc_runtime::params::globals(&program.manifest, &args, program.arch.endian())
        .expect("the ARGs fit");
    program.set_globals(&globals).expect("globals set");
    let events = events::parse(&support::events("positional")).expect("events");
    program.run(&events).expect("a run").render(Style::Text)
}

#[test]
fn the_same_object_follows_the_args_it_is_given() {
    for arch in Arch::ALL {
        let built = support::compile_fixture("positional", arch);
        for engine in [Engine::Interpreter, Engine::Jit] {
            if engine == Engine::Jit && !cfg!(target_arch = "x86_64") {
                continue;
            }
            let opts = Options {
                engine,
                ..Options::default()
            };
            let mut p = support::load(&built, arch, opts);
            // Reads of more than $1 bytes, keyed by str($2); the events
            // read 7, 0 and 4096 bytes.
            assert_eq!(
                run(&mut p, &["5", "small"]),
                "\n\n@big[small]: 2\n@params: 2\n",
                "{arch} {engine:?}"
            );
            assert_eq!(
                run(&mut p, &["100", "x", "y"]),
                "\n\n@big[x]: 1\n@params: 3\n",
                "{arch} {engine:?}"
            );
            // -1 is signed: every read is bigger. A long text is cut to 63
            // bytes and its NUL.
            let long = "abcdefghijklmnopqrstuvwxyz".repeat(3);
            assert_eq!(
                run(&mut p, &["-1", &long]),
                format!("\n\n@big[{}]: 3\n@params: 2\n", &long[..63]),
                "{arch} {engine:?}"
            );
            // None given: 0 and "", as bpftrace defaults them.
            assert_eq!(
                run(&mut p, &[]),
                "\n\n@big[]: 2\n@params: 0\n",
                "{arch} {engine:?}"
            );
        }
    }
}

#[test]
fn a_global_the_object_lacks_or_of_another_size_is_refused() {
    let built = support::compile_fixture("positional", Arch::X86_64);
    let mut p = support::load(&built, Arch::X86_64, Options::default());
    let e = p
        .set_globals(&[("probecc_arg9".into(), vec![0; 8])])
        .unwrap_err();
    assert!(
        e.to_string().contains("no read-only global `probecc_arg9`"),
        "{e}"
    );
    let e = p
        .set_globals(&[("probecc_arg1".into(), vec![0; 4])])
        .unwrap_err();
    assert!(e.to_string().contains("given 4"), "{e}");
}
