//! The attach-point part of `cargo xtask bench`: how `probecc build`'s
//! cost grows with the attach points of a spec. Specs of N = 100, 1,000
//! and 10,000 attach points (`probecc_fixtures::scale`: a block each, and
//! one wildcard block) are built for all five arches, checked, and for
//! x86_64 with `--no-check`; the report gives time and peak memory per
//! attach point and the growth from each N to the next beside the
//! object's, against the goal of at most ten times the time for ten times
//! the attach points. Then `kprobe:*` against the host's `/proc/kallsyms`,
//! once each way. CPU time (user + system) is reported beside wall time:
//! on a shared machine it is the steadier of the two.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use probecc_fixtures::scale::{self, Form};

use crate::bench::{repeat, Measured};

/// The attach point counts measured.
const COUNTS: [usize; 3] = [100, 1_000, 10_000];

/// How a spec is built.
#[derive(Clone, Copy)]
enum Mode {
    /// `--arch all`, every object checked by verifier-sim.
    AllChecked,
    /// `--arch x86_64 --no-check`.
    X86NoCheck,
}

impl Mode {
    const ALL: [Mode; 2] = [Mode::AllChecked, Mode::X86NoCheck];

    fn label(self) -> &'static str {
        match self {
            Mode::AllChecked => "5 arches, checked",
            Mode::X86NoCheck => "x86_64, --no-check",
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            Mode::AllChecked => &["--arch", "all"],
            Mode::X86NoCheck => &["--arch", "x86_64", "--no-check"],
        }
    }

    /// Where the x86_64 object of spec `name` is written under `out`.
    fn object(self, out: &Path, name: &str) -> std::path::PathBuf {
        match self {
            Mode::AllChecked => out.join("x86_64").join(format!("{name}.o")),
            Mode::X86NoCheck => out.join(format!("{name}.o")),
        }
    }
}

/// One build measured: the process's cost and the x86_64 object's size.
struct Row {
    m: Measured,
    object: u64,
}

/// Runs of a spec of `n` attach points: all of `runs` for the smallest,
/// fewer (at least 3) as each run takes longer.
fn runs_for(runs: usize, n: usize) -> usize {
    (runs * COUNTS[0] / n).max(3).min(runs.max(1))
}

/// Builds `spec` (against `symbols`) `runs` times in `mode`, then removes
/// what was written (a whole kernel's objects are hundreds of MiB).
fn build(
    probecc: &Path,
    spec: &Path,
    symbols: &Path,
    mode: Mode,
    runs: usize,
    out: &Path,
) -> Result<Row> {
    let m = repeat(runs, || {
        let mut c = Command::new(probecc);
        c.arg("build")
            .arg(spec)
            .arg("--symbols")
            .arg(symbols)
            .args(mode.args())
            .arg("-o")
            .arg(out);
        c
    })?;
    let name = spec
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let object = mode.object(out, name);
    let object = std::fs::metadata(&object)
        .with_context(|| format!("reading {}", object.display()))?
        .len();
    std::fs::remove_dir_all(out).with_context(|| format!("removing {}", out.display()))?;
    Ok(Row { m, object })
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn mib(kib: i64) -> f64 {
    kib as f64 / 1024.0
}

pub fn run(runs: usize, probecc: &Path, work: &Path, report: &mut String) -> Result<()> {
    let dir = work.join("scale");
    std::fs::create_dir_all(&dir)?;
    let out = dir.join("out");
    let _ = writeln!(report, "## Attach points at scale\n");
    let _ = writeln!(
        report,
        "`probecc build` of a spec of N attach points, each with the same body (a count by \
         comm and probe, a hist, an `if`), written as a block per attach point and as one \
         wildcard block, against a generated System.map. Medians of {runs} runs for {}, of {} \
         for {} and {} for {}. Growth: this row against the one with a tenth of the attach \
         points (the goal: at most 10× the time; memory no faster than the object).\n",
        COUNTS[0],
        runs_for(runs, COUNTS[1]),
        COUNTS[1],
        runs_for(runs, COUNTS[2]),
        COUNTS[2],
    );
    let _ = writeln!(
        report,
        "| form | build | attach points | wall s | CPU s | CPU µs per attach point | peak MiB | \
         KiB per attach point | x86_64 object KiB | growth: CPU / peak memory / object |"
    );
    let _ = writeln!(report, "|---|---|---|---|---|---|---|---|---|---|");
    for form in Form::ALL {
        for mode in Mode::ALL {
            let mut before: Option<Row> = None;
            for n in COUNTS {
                let spec = dir.join(format!("{}{n}.bt", form.name()));
                let symbols = dir.join(format!("{n}.map"));
                std::fs::write(&spec, scale::spec(n, form))?;
                std::fs::write(&symbols, scale::system_map(n))?;
                let row = build(probecc, &spec, &symbols, mode, runs_for(runs, n), &out)?;
                let growth = before.as_ref().map_or("".to_string(), |b| {
                    format!(
                        "{:.1}× / {:.1}× / {:.1}×",
                        row.m.cpu.as_secs_f64() / b.m.cpu.as_secs_f64().max(1e-9),
                        row.m.max_rss_kib as f64 / b.m.max_rss_kib.max(1) as f64,
                        row.object as f64 / b.object.max(1) as f64
                    )
                });
                let _ = writeln!(
                    report,
                    "| {} | {} | {n} | {} | {} | {:.0} | {:.1} | {:.1} | {:.0} | {growth} |",
                    form.name(),
                    mode.label(),
                    secs(row.m.wall),
                    secs(row.m.cpu),
                    row.m.cpu.as_secs_f64() * 1e6 / n as f64,
                    mib(row.m.max_rss_kib),
                    row.m.max_rss_kib as f64 / n as f64,
                    row.object as f64 / 1024.0,
                );
                before = Some(row);
            }
        }
    }
    let _ = writeln!(report);
    kallsyms(probecc, &dir, &out, report)
}

/// `kprobe:*` against a copy of the host's `/proc/kallsyms`, once each way.
fn kallsyms(probecc: &Path, dir: &Path, out: &Path, report: &mut String) -> Result<()> {
    let text = match std::fs::read_to_string("/proc/kallsyms") {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(
                report,
                "`kprobe:*`: /proc/kallsyms is not readable here ({e}).\n"
            );
            return Ok(());
        }
    };
    let functions = match probecc::symbols::parse(&text) {
        Ok(f) => f.len(),
        Err(e) => {
            let _ = writeln!(
                report,
                "`kprobe:*`: /proc/kallsyms has no functions here ({e}).\n"
            );
            return Ok(());
        }
    };
    let symbols = dir.join("kallsyms");
    std::fs::write(&symbols, &text)?;
    let spec = dir.join("kallsyms.bt");
    std::fs::write(&spec, scale::block("kprobe:*"))?;
    let _ = writeln!(
        report,
        "`kprobe:*` with the same body against this host's /proc/kallsyms ({} lines): {functions} \
         attach points (every text symbol, one program each), one run each:\n",
        text.lines().count()
    );
    let _ = writeln!(
        report,
        "| build | wall s | CPU s | CPU µs per attach point | peak MiB | x86_64 object MiB |"
    );
    let _ = writeln!(report, "|---|---|---|---|---|---|");
    for mode in Mode::ALL {
        let row = build(probecc, &spec, &symbols, mode, 1, out)?;
        let _ = writeln!(
            report,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} |",
            mode.label(),
            secs(row.m.wall),
            secs(row.m.cpu),
            row.m.cpu.as_secs_f64() * 1e6 / functions as f64,
            mib(row.m.max_rss_kib),
            row.object as f64 / (1024.0 * 1024.0),
        );
    }
    let _ = writeln!(report);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewer_runs_as_builds_grow_but_never_fewer_than_three() {
        assert_eq!(runs_for(21, 100), 21);
        assert_eq!(runs_for(21, 1_000), 3);
        assert_eq!(runs_for(21, 10_000), 3);
        assert_eq!(runs_for(1, 100), 1);
        assert_eq!(runs_for(60, 1_000), 6);
    }
}
