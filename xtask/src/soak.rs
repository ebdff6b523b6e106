//! `cargo xtask soak [--events N] [--programs N]` (not in CI): the offline
//! runner fed `N` random events per fixture, and verifier-sim fed `N`
//! randomly mutated fixture programs. Every failure is caught and counted,
//! never fatal; the report gives throughput and failures, on stdout and in
//! `target/soak/report.md`. A run ends non-zero if anything panicked or
//! verifier-sim ran past its instruction limit.
//!
//! Random inputs come from the seeded xorshift64* generator of
//! `probecc_test_support`: the soak needs reproducible streams, not
//! statistical quality.

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use anyhow::{bail, Result};
use probecc::arch::{Arch, KernelVersion};
use probecc::insn::Insn;
use probecc_test_support::XorShift64Star as Rng;
use vm_tests::events::MemValue;
use vm_tests::{Event, Options, Program};

#[derive(clap::Args)]
pub struct SoakArgs {
    /// Random events per fixture
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    /// Mutated programs for verifier-sim
    #[arg(long, default_value_t = 1_000_000)]
    pub programs: usize,
    /// Seed of the random streams
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

const COMMS: [&str; 4] = ["dd", "bash", "cat", "kworker/0:1"];

/// A random event for one of `probes`: small and huge arguments, some
/// pointing at memory the event provides.
fn event(rng: &mut Rng, probes: &[&str], line: usize) -> Event {
    let mut ev = Event::new(probes[rng.below(probes.len())]);
    ev.line = line;
    ev.args = (0..6)
        .map(|_| match rng.below(4) {
            0 => rng.next_u64() % 4096,
            1 => rng.next_u64(),
            _ => 0x1000 + (rng.next_u64() % 4) * 0x100,
        })
        .collect();
    ev.retval = match rng.below(3) {
        0 => (-(rng.below(40) as i64)) as u64,
        _ => rng.next_u64() % 1_000_000,
    };
    ev.pid = 1 + rng.below(8) as u32;
    ev.tid = ev.pid + rng.below(2) as u32;
    ev.uid = rng.below(3) as u32 * 1000;
    ev.comm = COMMS[rng.below(COMMS.len())].to_string();
    ev.cpu = rng.below(4) as u32;
    ev.ns = 1_000_000 + line as u64 * 1000;
    ev.mem = vec![(
        0x1000,
        MemValue::Bytes(rng.next_u64().to_le_bytes().repeat(8)),
    )];
    ev
}

/// Events/s of one fixture and what failed.
struct RunnerResult {
    name: String,
    per_sec: f64,
    errors: usize,
    first_error: Option<String>,
    panicked: bool,
}

fn soak_fixture(
    name: &str,
    spec: &std::path::Path,
    n: usize,
    rng: &mut Rng,
) -> Result<RunnerResult> {
    let arch = Arch::X86_64;
    let compiled = probecc_fixtures::compile(spec, arch)?;
    let bytes = probecc::elf::write(&compiled.object)?;
    let options = Options {
        budget: 100_000,
        ..Options::default()
    };
    let program = Program::load(&bytes, &compiled.manifest.to_json(), arch, options)?;
    let probes: Vec<&str> = program.probes();
    let (mut errors, mut first_error) = (0, None);
    let start = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<()> {
        let mut session = program.session()?;
        session.begin()?;
        for line in 1..=n {
            if let Err(e) = session.event(&event(rng, &probes, line)) {
                errors += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
        session.end()?;
        Ok(())
    }));
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    let panicked = outcome.is_err();
    if let Ok(Err(e)) = outcome {
        first_error.get_or_insert_with(|| e.to_string());
        errors += 1;
    }
    Ok(RunnerResult {
        name: name.to_string(),
        per_sec: n as f64 / secs,
        errors,
        first_error,
        panicked,
    })
}

/// `insns` with one to three random changes: a field rewritten, an
/// instruction dropped, duplicated or swapped with the next.
fn mutate(rng: &mut Rng, insns: &[Insn]) -> Vec<Insn> {
    let mut v = insns.to_vec();
    for _ in 0..1 + rng.below(3) {
        if v.is_empty() {
            break;
        }
        let i = rng.below(v.len());
        match rng.below(8) {
            0 => v[i].code = rng.next_u64() as u8,
            1 => v[i].dst = rng.below(11) as u8,
            2 => v[i].src = rng.below(11) as u8,
            3 => v[i].off = (rng.next_u64() % 64) as i16 - 32,
            4 => v[i].imm = (rng.next_u64() % 1024) as i32 - 512,
            5 => {
                v.remove(i);
            }
            6 => {
                let x = v[i];
                v.insert(i, x);
            }
            _ if i + 1 < v.len() => v.swap(i, i + 1),
            _ => v[i].imm ^= 1,
        }
    }
    v
}

struct VerifierResult {
    per_sec: f64,
    accepted: usize,
    panics: usize,
    over_limit: usize,
}

fn soak_verifier(programs: &[Vec<Insn>], n: usize, rng: &mut Rng) -> VerifierResult {
    let maps = [verifier_sim::MapSpec {
        name: "m".into(),
        map_type: 1,
        key_size: 8,
        value_size: 16,
        max_entries: 64,
    }];
    let (mut accepted, mut panics, mut over_limit) = (0, 0, 0);
    let start = Instant::now();
    for _ in 0..n {
        let pick = rng.below(programs.len());
        let insns = mutate(rng, &programs[pick]);
        match catch_unwind(|| {
            verifier_sim::check_insns(&insns, &maps, Arch::X86_64, KernelVersion(6, 1))
        }) {
            Ok(v) => {
                accepted += usize::from(v.accepted);
                over_limit += usize::from(v.processed > verifier_sim::verify::INSN_LIMIT + 1);
            }
            Err(_) => panics += 1,
        }
    }
    VerifierResult {
        per_sec: n as f64 / start.elapsed().as_secs_f64().max(1e-9),
        accepted,
        panics,
        over_limit,
    }
}

pub fn run(args: &SoakArgs) -> Result<()> {
    let mut rng = Rng::new(args.seed);
    let mut report = format!(
        "# Soak\n\n`cargo xtask soak --events {} --programs {} --seed {}`\n\n## The runner: {} random events per fixture (x86_64, interpreter)\n\n| fixture | events/s | failed events | first failure |\n|---|---|---|---|\n",
        args.events, args.programs, args.seed, args.events
    );
    let mut programs = Vec::new();
    let mut panicked = Vec::new();
    for (name, spec) in probecc_fixtures::specs()? {
        println!("soak: {name}");
        let r = soak_fixture(&name, &spec, args.events, &mut rng)?;
        if r.panicked {
            panicked.push(r.name.clone());
        }
        let _ = writeln!(
            report,
            "| {} | {:.0} | {} | {} |",
            r.name,
            r.per_sec,
            r.errors,
            r.first_error.unwrap_or_default().replace('|', "\\|")
        );
        let compiled = probecc_fixtures::compile(&spec, Arch::X86_64)?;
        programs.extend(compiled.object.programs.into_iter().map(|p| p.insns));
    }
    println!("soak: verifier-sim on {} mutated programs", args.programs);
    let v = soak_verifier(&programs, args.programs, &mut rng);
    let _ = writeln!(
        report,
        "\n## verifier-sim: {} mutated fixture programs\n\n{:.0} programs/s, {} accepted, {} rejected, {} panics, {} past the instruction limit\n",
        args.programs,
        v.per_sec,
        v.accepted,
        args.programs - v.accepted - v.panics,
        v.panics,
        v.over_limit
    );
    let dir = crate::workspace_root().join("target/soak");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("report.md"), &report)?;
    print!("{report}");
    if !panicked.is_empty() || v.panics > 0 || v.over_limit > 0 {
        bail!(
            "soak failed: runner panics in {:?}, {} verifier-sim panics, {} past the limit",
            panicked,
            v.panics,
            v.over_limit
        );
    }
    Ok(())
}
