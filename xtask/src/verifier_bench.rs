//! The verifier part of `cargo xtask bench`: time for verifier-sim to check
//! each fixture's x86_64 object and a 4,096-instruction program, beside the
//! host kernel's own verifier on the same object (the `verification time`
//! its log reports for every program, summed, under `bpftool -d prog
//! loadall`), as a ratio. Medians of `--runs`; the kernel column needs root.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use probecc::arch::{Arch, KernelVersion};
use probecc::insn::{self, AluOp, Cond, Reg, Size};
use probecc::program::{Object, Program};
use probecc_harness::stats::median_duration;

const KERNEL: KernelVersion = KernelVersion(6, 1);

/// A straight-line kprobe program of exactly 4,096 instructions: ctx
/// reads, masks and a conditional jump per block, so that the verifier
/// tracks bounds and visits a prune point every three instructions.
pub fn long_program() -> Object {
    let mut insns = vec![insn::alu64_reg(AluOp::Mov, Reg::R6, Reg::R1)];
    while insns.len() + 3 <= 4094 {
        insns.extend([
            insn::ldx(Size::DW, Reg::R0, Reg::R6, 0x70),
            insn::alu64_imm(AluOp::And, Reg::R0, 0xff),
            insn::jmp_imm(Cond::Gt, Reg::R0, 100, 0),
        ]);
    }
    while insns.len() < 4094 {
        insns.push(insn::alu64_imm(AluOp::Add, Reg::R0, 1));
    }
    insns.extend([insn::alu64_imm(AluOp::Mov, Reg::R0, 0), insn::exit()]);
    let mut obj = Object::new(Arch::X86_64);
    obj.programs.push(Program {
        name: "long".into(),
        section: "kprobe/vfs_read".into(),
        insns,
        map_relocs: vec![],
        ksym_relocs: vec![],
        global_relocs: vec![],
        func_relocs: vec![],
        lines: vec![],
    });
    obj
}

/// verifier-sim's median time on `bytes`, and how many programs it accepted.
fn sim_time(bytes: &[u8], runs: usize) -> Result<(Duration, usize, usize)> {
    let mut times = Vec::with_capacity(runs);
    let mut verdicts = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        verdicts = verifier_sim::check_object(bytes, Arch::X86_64, KERNEL)?;
        times.push(t.elapsed());
    }
    let accepted = verdicts.iter().filter(|v| v.accepted).count();
    Ok((
        median_duration(&times).unwrap_or_default(),
        accepted,
        verdicts.len(),
    ))
}

/// The kernel verifier's median time on the object at `path`: the sum of
/// its programs' `verification time N usec`.
fn kernel_time(path: &Path, runs: usize) -> Result<Option<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let pin = format!("/sys/fs/bpf/probecc-bench-{}-{i}", std::process::id());
        let out = Command::new("bpftool")
            .args(["-d", "prog", "loadall"])
            .arg(path)
            .arg(&pin)
            .output()
            .context("running bpftool")?;
        let _ = std::fs::remove_dir_all(&pin);
        if !out.status.success() {
            return Ok(None);
        }
        let log = String::from_utf8_lossy(&out.stderr);
        let usec: u64 = log
            .lines()
            .filter_map(|l| l.strip_prefix("verification time "))
            .filter_map(|l| l.split(' ').next()?.parse::<u64>().ok())
            .sum();
        times.push(Duration::from_micros(usec));
    }
    Ok(median_duration(&times))
}

fn us(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

/// Appends the verifier table to `report`.
pub fn run(runs: usize, work: &Path, as_root: bool, report: &mut String) -> Result<()> {
    let dir = work.join("verifier");
    std::fs::create_dir_all(&dir)?;
    let _ = writeln!(
        report,
        "## verifier-sim beside the kernel's verifier (x86_64)\n"
    );
    if !as_root {
        let _ = writeln!(
            report,
            "The kernel column needs root (bpftool prog loadall); not run as root, it is empty.\n"
        );
    }
    let _ = writeln!(
        report,
        "| object | instructions | verifier-sim µs | kernel verifier µs | verifier-sim ÷ kernel |"
    );
    let _ = writeln!(report, "|---|---|---|---|---|");
    let mut objects = Vec::new();
    for (name, spec) in probecc_fixtures::specs()? {
        objects.push((name, probecc_fixtures::compile(&spec, Arch::X86_64)?.object));
    }
    objects.push(("4096-instruction program".to_string(), long_program()));
    for (name, obj) in objects {
        let bytes = probecc::elf::write(&obj)?;
        let path = dir.join(format!("{}.o", name.replace(' ', "_")));
        std::fs::write(&path, &bytes)?;
        let (sim, accepted, total) = sim_time(&bytes, runs)?;
        let kernel = if as_root {
            kernel_time(&path, runs)?
        } else {
            None
        };
        let insns: usize = obj.programs.iter().map(|p| p.insns.len()).sum();
        let note = if accepted == total {
            String::new()
        } else {
            format!(" ({} of {total} rejected)", total - accepted)
        };
        let (k, ratio) = match kernel {
            Some(k) => (
                us(k),
                format!("{:.2}", sim.as_secs_f64() / k.as_secs_f64().max(1e-9)),
            ),
            None => ("—".into(), "—".into()),
        };
        let _ = writeln!(
            report,
            "| {name}{note} | {insns} | {} | {k} | {ratio} |",
            us(sim)
        );
    }
    let _ = writeln!(report);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_long_program_has_4096_instructions_and_passes() {
        let obj = long_program();
        assert_eq!(obj.programs[0].insns.len(), 4096);
        let bytes = probecc::elf::write(&obj).unwrap();
        let v = verifier_sim::check_object(&bytes, Arch::X86_64, KERNEL).unwrap();
        assert!(v[0].accepted, "{v:?}");
    }
}
