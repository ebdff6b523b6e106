//! Compile cost grows linearly in attach points, counted rather than
//! timed: a spec of N attach points (`probecc_fixtures::scale`, as a block
//! each and as one wildcard block) against the same spec of 10N, compiled,
//! written and checked by verifier-sim. Linear work makes every count 10
//! times larger (a little less: some work does not grow with N); a step
//! whose cost grows with the square of N makes it 100 times larger, and
//! shows as soon as it is a few percent of the whole.
//!
//! What each count sees:
//! - heap allocations and bytes allocated, by this thread: work that
//!   allocates per attach point per attach point (a table rebuilt for each
//!   program), and the peak of live bytes against the object's size (the
//!   memory a build holds grows no faster than what it writes);
//! - instructions executed by the whole `probecc build` process, counted
//!   by valgrind (needs valgrind): any work at all, searches that allocate
//!   nothing included, once it is about 3% of the work at 10N.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::process::Command;

use probecc::arch::Arch;
use probecc::lang::{self, CompileOptions};
use probecc_fixtures::scale::{self, Form};
use probecc_test_support::{require, Need};

/// Attach points of the smaller spec; the larger has ten times as many.
const N: usize = 500;
/// The largest growth from N to 10N that counts as linear: 10, and 3% for
/// work that grows a little faster, such as sorting. (Linear work measures
/// 9.96× to 9.98× here; each of the searches per program that these counts
/// were written against measured 10.4× to 70× at 300 and 3,000.)
const LINEAR: f64 = 10.3;
/// How much faster than the object the peak of live memory may grow: a
/// buffer that doubles as it fills holds up to twice what it needs, at one
/// size and not at another (measured: 0.96 to 1.06 times the object's
/// growth).
const DOUBLING: f64 = 1.25;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

/// The system allocator, counting what this thread allocates (the tests of
/// this file run on threads of their own).
struct Counting;

fn record(bytes: usize, freed: usize) {
    ALLOCATIONS.with(|c| c.set(c.get() + 1));
    ALLOCATED.with(|c| c.set(c.get() + bytes as u64));
    let live = LIVE.with(|c| {
        c.set(c.get() + bytes as i64 - freed as i64);
        c.get()
    });
    PEAK.with(|c| c.set(c.get().max(live)));
}

// SAFETY: every call is passed on to `System` unchanged; the counters are
// thread-local cells that allocate nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size(), 0);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.with(|c| c.set(c.get() - layout.size() as i64));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size, layout.size());
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// What one build of `n` attach points allocated.
#[derive(Debug)]
struct Cost {
    allocations: u64,
    allocated: u64,
    /// The most bytes live at once, above those live before the build.
    peak: i64,
    /// The object's size in bytes.
    object: usize,
}

/// Compiles, writes and checks the x86_64 object of `n` attach points in
/// `form`, counting this thread's allocations.
fn cost(n: usize, form: Form) -> Cost {
    let src = scale::spec(n, form);
    let opts = CompileOptions {
        symbols: Some(scale::symbols(n)),
        ..CompileOptions::default()
    };
    let start = (
        ALLOCATIONS.with(Cell::get),
        ALLOCATED.with(Cell::get),
        LIVE.with(Cell::get),
    );
    PEAK.with(|c| c.set(start.2));
    let compiled = lang::compile(&src, Arch::X86_64, &opts).expect("the spec compiles");
    let bytes = probecc::elf::write(&compiled.object).expect("the object is written");
    let json = compiled.manifest.to_json();
    let verdicts = verifier_sim::check_object(&bytes, Arch::X86_64, Arch::X86_64.default_kernel())
        .expect("the object reads");
    assert!(
        verdicts.iter().all(|v| v.accepted),
        "{form:?} {n}: rejected"
    );
    assert_eq!(verdicts.len(), n);
    let cost = Cost {
        allocations: ALLOCATIONS.with(Cell::get) - start.0,
        allocated: ALLOCATED.with(Cell::get) - start.1,
        peak: PEAK.with(Cell::get) - start.2,
        object: bytes.len(),
    };
    drop((compiled, json, verdicts));
    cost
}

#[test]
fn allocations_grow_linearly_in_attach_points() {
    for form in Form::ALL {
        let (small, large) = (cost(N, form), cost(10 * N, form));
        let why = format!("{form:?}: {small:?} for {N}, {large:?} for {}", 10 * N);
        let growth = |a: f64, b: f64| b / a;
        let allocations = growth(small.allocations as f64, large.allocations as f64);
        let allocated = growth(small.allocated as f64, large.allocated as f64);
        assert!(
            allocations <= LINEAR,
            "allocations grew {allocations:.2}×: {why}"
        );
        assert!(
            allocated <= LINEAR,
            "bytes allocated grew {allocated:.2}×: {why}"
        );
        // The object grows about tenfold; the memory held must not grow
        // faster, but for buffers that grow by doubling.
        let object = growth(small.object as f64, large.object as f64);
        let peak = growth(small.peak as f64, large.peak as f64);
        assert!(
            peak <= object * DOUBLING,
            "peak memory grew {peak:.2}×, the object {object:.2}×: {why}"
        );
    }
}

/// Instructions `probecc build` executes for `n` attach points in `form`
/// (x86_64, checked), counted by valgrind.
fn instructions(n: usize, form: Form, dir: &Path) -> u64 {
    let spec = dir.join(format!("{}{n}.bt", form.name()));
    let map = dir.join(format!("{n}.map"));
    std::fs::write(&spec, scale::spec(n, form)).expect("writing the spec");
    std::fs::write(&map, scale::system_map(n)).expect("writing the map");
    let out = Command::new("valgrind")
        .args([
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
        ])
        .arg(env!("CARGO_BIN_EXE_probecc"))
        .arg("build")
        .arg(&spec)
        .arg("--symbols")
        .arg(&map)
        .arg("-o")
        .arg(dir.join("out"))
        .output()
        .expect("running valgrind");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // `==PID== I   refs:      623,515,125`
    let refs = stderr
        .lines()
        .find_map(|l| {
            l.split_once("I   refs:")
                .map(|(_, n)| n.trim().replace(',', ""))
        })
        .unwrap_or_else(|| panic!("no instruction count in {stderr}"));
    refs.parse()
        .unwrap_or_else(|_| panic!("bad count {refs:?}"))
}

#[test]
#[ignore = "needs valgrind"]
fn instructions_grow_linearly_in_attach_points() {
    if !require(&[Need::Tool("valgrind")]) {
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scale");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    for form in Form::ALL {
        let (small, large) = (
            instructions(N, form, &dir),
            instructions(10 * N, form, &dir),
        );
        let growth = large as f64 / small as f64;
        assert!(
            growth <= LINEAR,
            "{form:?}: {small} instructions for {N} attach points, {large} for {} ({growth:.2}×)",
            10 * N
        );
    }
}
