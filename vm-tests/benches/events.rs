//! Events per second through the runner: a counting probe (`@reads[comm] =
//! count()`, the shape of vfscount and call_counter) in the interpreter and,
//! on x86_64, rbpf's JIT, plus two fixtures interpreted. Each iteration
//! feeds 1000 events into one session (per-event cost: building pt_regs,
//! moving the helpers' world in and out, the program and its helpers).
//!
//! `cargo bench -p vm-tests --bench events`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use probecc::arch::Arch;
use probecc::lang::CompileOptions;
use vm_tests::{spec, Engine, Event, Options, Program};

const COUNTING: &str = "kprobe:vfs_read { @reads[comm] = count(); }";
const BATCH: usize = 1000;

fn program(src: &str, arch: Arch, engine: Engine) -> Program {
    let opts = CompileOptions {
        file: "bench.bt".into(),
        ..CompileOptions::default()
    };
    let a = spec::compile(src, arch, &opts).expect("compiles");
    let o = Options {
        engine,
        ..Options::default()
    };
    Program::load(&a.object, &a.manifest, arch, o).expect("loads")
}

fn events() -> Vec<Event> {
    (0..BATCH)
        .map(|i| {
            let mut e = Event::new("kprobe:vfs_read");
            e.comm = ["dd", "cat", "bash"][i % 3].into();
            e.args = vec![3, 0x7ffc_0000_1000, (i % 5000) as u64];
            e.cpu = (i % 2) as u32;
            e.ns = 1_000_000 + i as u64 * 1000;
            e
        })
        .collect()
}

fn bench(c: &mut Criterion, group: &str, src: &str, engines: &[Engine]) {
    let evs = events();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(BATCH as u64));
    for &arch in &[Arch::X86_64, Arch::S390x] {
        for &engine in engines {
            if engine == Engine::Jit && arch != Arch::X86_64 {
                continue;
            }
            let p = program(src, arch, engine);
            let mut s = p.session().expect("session");
            let id = BenchmarkId::new(format!("{engine:?}").to_lowercase(), arch);
            g.bench_function(id, |b| {
                b.iter(|| {
                    for e in &evs {
                        s.event(e).expect("runs");
                    }
                })
            });
        }
    }
    g.finish();
}

fn counting(c: &mut Criterion) {
    let mut engines = vec![Engine::Interpreter];
    if cfg!(target_arch = "x86_64") {
        engines.push(Engine::Jit);
    }
    bench(c, "counting", COUNTING, &engines);
}

fn fixtures(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/specs/");
    for name in ["read_size_hist", "aggregations"] {
        let src = std::fs::read_to_string(format!("{dir}{name}.bt")).expect("fixture");
        let src = src.replace("vfs_write", "vfs_read");
        bench(c, name, &src, &[Engine::Interpreter]);
    }
}

criterion_group!(benches, counting, fixtures);
criterion_main!(benches);
