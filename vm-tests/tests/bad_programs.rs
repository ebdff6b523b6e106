//! Programs that loop forever, read outside their memory or call what the
//! runner does not know end with an error naming the instruction — never a
//! hang or a panic — in the interpreter and in the JIT.

use probecc::arch::Arch;
use probecc::asm::{self, regs::*, Op};
use probecc::insn::{self, Size};
use probecc::program::Object;
use vm_tests::{Engine, Error, Event, Options, Program};

const SECTION: &str = "kprobe/vfs_read";

/// An object with one program of `ops` on `kprobe:vfs_read`, and its
/// manifest.
fn build(arch: Arch, ops: &[Op]) -> (Vec<u8>, String) {
    let code = asm::assemble(ops).expect("assembles");
    let mut obj = Object::new(arch);
    obj.programs.push(code.into_program("prog", SECTION));
    let bytes = probecc::elf::write(&obj).expect("writes");
    let manifest = format!(
        r#"{{"name": "bad", "arch": "{arch}", "programs": [{{"name": "prog", "section": "{SECTION}", "probe": "kprobe:vfs_read", "kind": "kprobe"}}],
            "maps": [], "output": [], "ringbuf": null, "funcs": [], "probes": []}}"#
    );
    (bytes, manifest)
}

fn load(arch: Arch, ops: &[Op], engine: Engine) -> Result<Program, Error> {
    let (o, m) = build(arch, ops);
    // These programs test the runner's own guards: no kernel would load
    // them, so verifier-sim is off.
    let opts = Options {
        budget: 10_000,
        engine,
        verify: false,
        ..Options::default()
    };
    Program::load(&o, &m, arch, opts)
}

fn run(arch: Arch, ops: &[Op], engine: Engine) -> Error {
    let p = load(arch, ops, engine).unwrap_or_else(|e| panic!("{arch}: {e}"));
    let mut ev = Event::new("kprobe:vfs_read");
    ev.line = 7;
    p.run(&[ev]).expect_err("the run must fail")
}

fn engines() -> Vec<Engine> {
    if cfg!(target_arch = "x86_64") {
        vec![Engine::Interpreter, Engine::Jit]
    } else {
        vec![Engine::Interpreter]
    }
}

#[test]
fn an_endless_loop_runs_out_of_budget_at_its_jump() {
    let ops = [
        asm::label("top"),
        asm::mov(R0, 0),
        asm::jmp("top"),
        asm::exit(),
    ];
    for arch in Arch::ALL {
        for engine in engines()
            .into_iter()
            .filter(|e| arch == Arch::X86_64 || *e == Engine::Interpreter)
        {
            let e = run(arch, &ops, engine);
            let Error::Fault { line, site, reason } = &e else {
                panic!("{arch} {engine:?}: {e}")
            };
            assert_eq!(
                (*line, site.index, site.section.as_str()),
                (7, 1, SECTION),
                "{e}"
            );
            assert!(
                reason.contains("budget of 10000 instructions ran out"),
                "{e}"
            );
            assert_eq!(
                e.to_string(),
                "events line 7: kprobe/vfs_read, instruction 1 `goto -2`: the run's budget of 10000 instructions ran out in the loop closing here"
            );
        }
    }
}

#[test]
fn a_read_beyond_pt_regs_names_the_load() {
    for arch in Arch::ALL {
        // The runner's context is pt_regs as the arch's default kernel has it.
        let past = arch.pt_regs_size(arch.default_kernel()) as i16;
        let ops = [
            asm::mov(R0, 0),
            asm::load_mem(Size::DW, R2, R1, past),
            asm::exit(),
        ];
        let e = run(arch, &ops, Engine::Interpreter);
        let Error::Fault { site, reason, .. } = &e else {
            panic!("{arch}: {e}")
        };
        assert_eq!(site.index, 1, "{e}");
        assert!(reason.starts_with("load of 8 bytes at 0x"), "{e}");
        assert!(reason.ends_with("is outside the program's memory"), "{e}");
    }
}

#[test]
fn a_store_through_a_null_pointer_names_the_store() {
    let ops = [
        asm::mov(R2, 0),
        asm::mov(R3, 1),
        asm::store_mem(Size::W, R2, 16, R3),
        asm::mov(R0, 0),
        asm::exit(),
    ];
    for arch in [Arch::X86_64, Arch::S390x] {
        let e = run(arch, &ops, Engine::Interpreter);
        let Error::Fault { site, reason, .. } = &e else {
            panic!("{arch}: {e}")
        };
        assert_eq!(site.index, 2, "{e}");
        assert!(reason.starts_with("store of 4 bytes at 0x10"), "{e}");
    }
}

#[test]
fn an_unknown_helper_is_refused_at_load_naming_the_call() {
    let ops = [
        asm::raw(insn::call_helper(9999)),
        asm::mov(R0, 0),
        asm::exit(),
    ];
    for engine in engines() {
        let Err(e) = load(Arch::Arm64, &ops, engine) else {
            panic!("loaded")
        };
        assert_eq!(
            e.to_string(),
            "kprobe/vfs_read, instruction 0 `call 9999`: call to unknown helper 9999"
        );
    }
}

#[test]
fn a_helper_the_runner_does_not_emulate_is_refused() {
    let ops = [asm::raw(insn::call_helper(6)), asm::mov(R0, 0), asm::exit()];
    let Err(e) = load(Arch::X86_64, &ops, Engine::Interpreter) else {
        panic!("loaded")
    };
    assert!(
        e.to_string()
            .contains("helper bpf_trace_printk (6) is not emulated"),
        "{e}"
    );
}

#[test]
fn a_bad_key_pointer_faults_in_the_helper() {
    let ops = [
        asm::mov(R1, 0),
        asm::mov(R2, 64),
        asm::raw(insn::call_helper(1)),
        asm::mov(R0, 0),
        asm::exit(),
    ];
    let e = run(Arch::X86_64, &ops, Engine::Interpreter);
    assert!(
        e.to_string()
            .contains("bpf_map_lookup_elem: 0x0 is not a map"),
        "{e}"
    );
}

#[test]
fn stack_below_the_runner_s_scratch_is_refused() {
    let ops = [
        asm::store_imm(Size::DW, R10, -512, 0),
        asm::mov(R0, 0),
        asm::exit(),
    ];
    let Err(e) = load(Arch::X86_64, &ops, Engine::Interpreter) else {
        panic!("loaded")
    };
    assert!(
        e.to_string().contains("uses the stack below r10 -496"),
        "{e}"
    );
}

#[test]
fn an_event_for_another_probe_names_its_line() {
    let ops = [asm::mov(R0, 0), asm::exit()];
    let p = load(Arch::X86_64, &ops, Engine::Interpreter).expect("loads");
    let mut ev = Event::new("kprobe:vfs_write");
    ev.line = 3;
    let e = p.run(&[ev]).expect_err("unknown probe");
    assert_eq!(
        e.to_string(),
        "events line 3: probe `kprobe:vfs_write` is not one of the spec's attach points (kprobe:vfs_read)"
    );
}

#[test]
fn what_the_kernel_would_reject_is_refused_at_load() {
    let ops = [asm::load_mem(Size::DW, R0, R1, 400), asm::exit()];
    let (o, m) = build(Arch::X86_64, &ops);
    let Err(e) = Program::load(&o, &m, Arch::X86_64, Options::default()) else {
        panic!("a ctx read past pt_regs loaded");
    };
    assert_eq!(
        e.to_string(),
        "kprobe/vfs_read: the kernel would reject this program: instruction 0 `r0 = *(u64 *)(r1 + 400)`: invalid bpf_context access off=400 size=8"
    );
}
