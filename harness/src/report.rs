//! A run's reports, all from its `ArchResult`s: `report.json`
//! (everything), `report.md` (a table arch × kernel → attach,
//! expectations, tables, baseline, added cost per hit of an empty kprobe
//! and kretprobe, ours vs clang (as kprobes, and as fentry against
//! clang's fentry build); then per boot the overhead loop's
//! subjects, each spec's cost under its own workload against an empty
//! probe on its functions, the table checks and the failures) and
//! `report.svg` (added guest instructions per hit by arch), and the
//! summary of a run ([`summary`]).

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Context, Result};

use crate::results::{ArchResult, FixtureRow};

/// Writes the three reports, each through a temporary file renamed into
/// place: the matrix rewrites them after every boot, so a run that is
/// stopped halfway leaves whole reports of the boots it finished.
pub fn write(dir: &Path, results: &[ArchResult]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(results)?;
    let put = |name: &str, bytes: &[u8]| {
        crate::files::write_atomic(&dir.join(name), bytes)
            .with_context(|| format!("writing {name}"))
    };
    put("report.json", json.as_bytes())?;
    put("report.md", markdown(results).as_bytes())?;
    put("report.svg", svg(results).as_bytes())
}

fn num(v: Option<f64>) -> String {
    v.map_or("—".into(), |x| format!("{x:.0}"))
}

/// A figure with its sign: `+350`, `-1092`, or `—`.
fn signed(v: Option<f64>) -> String {
    match v {
        Some(x) if x.round() < 0.0 => format!("-{:.0}", -x),
        Some(x) => format!("+{x:.0}"),
        None => "—".into(),
    }
}

fn ratio(v: Option<f64>) -> String {
    v.map_or("—".into(), |x| format!("{x:.2}"))
}

/// The cells both the table and the summary show: attached,
/// expectations, tables, empty kprobe and kretprobe added per hit, ours
/// vs clang.
fn cells(r: &ArchResult) -> [String; 6] {
    let added = |n: &str| num(r.subject(n).and_then(|x| x.added_per_hit));
    [
        attach_cell(r),
        expect_cell(r),
        tables_cell(r),
        added("empty_kprobe"),
        added("empty_kretprobe"),
        clang_cell(r),
    ]
}

/// The fentry/fexit cells: empty fentry and fexit added per hit (or why
/// the kernel has none), fentry over kprobe, and the fixtures that ran
/// built as fentry/fexit.
fn tracing_cells(r: &ArchResult) -> [String; 4] {
    let per_hit = |n: &str| r.subject(n).and_then(|x| x.added_per_hit);
    let added = |n: &str| match (per_hit(n), r.unavailable(n)) {
        (Some(x), _) => format!("{x:.0}"),
        (None, Some(_)) => "none".into(),
        (None, None) => "—".into(),
    };
    let ratio_cell = ratio(
        per_hit("empty_fentry")
            .zip(per_hit("empty_kprobe"))
            .map(|(f, k)| f / k),
    );
    let as_fentry: Vec<&FixtureRow> = r
        .fixtures
        .iter()
        .filter(|f| f.name.ends_with(crate::stage::AS_FENTRY))
        .collect();
    let fixtures = if as_fentry.is_empty() {
        let none = r
            .unavailable
            .iter()
            .any(|u| u.what.ends_with(crate::stage::AS_FENTRY));
        if none {
            "none".into()
        } else {
            "—".into()
        }
    } else {
        let ok = as_fentry.iter().filter(|f| f.ok).count();
        format!("{ok}/{}", as_fentry.len())
    };
    [
        added("empty_fentry"),
        added("empty_fexit"),
        ratio_cell,
        fixtures,
    ]
}

/// The kprobe-multi cells: the empty kprobe pair on the loop's read and
/// write added per hit, attached one function at a time and by one
/// kprobe-multi link (or "none" where the kernel refused the link), and
/// the link's cost over the kprobes'.
fn multi_cells(r: &ArchResult) -> [String; 3] {
    use crate::results::{EMPTY_KPROBE_MULTI, EMPTY_KPROBE_PAIR};
    let per_hit = |n: &str| r.subject(n).and_then(|x| x.added_per_hit);
    let multi = match (
        per_hit(EMPTY_KPROBE_MULTI),
        r.unavailable(EMPTY_KPROBE_MULTI),
    ) {
        (Some(x), _) => format!("{x:.0}"),
        (None, Some(_)) => "none".into(),
        (None, None) => "—".into(),
    };
    [
        num(per_hit(EMPTY_KPROBE_PAIR)),
        multi,
        ratio(
            per_hit(EMPTY_KPROBE_MULTI)
                .zip(per_hit(EMPTY_KPROBE_PAIR))
                .map(|(m, k)| m / k),
        ),
    ]
}

/// "attached/programs" over all fixtures.
fn attach_cell(r: &ArchResult) -> String {
    let a: usize = r.fixtures.iter().map(|f| f.attached).sum();
    let p: usize = r.fixtures.iter().map(|f| f.programs).sum();
    format!("{a}/{p}")
}

fn expect_cell(r: &ArchResult) -> String {
    let met = r.fixtures.iter().filter(|f| f.ok).count();
    format!("{met}/{} fixtures", r.fixtures.len())
}

fn tables_cell(r: &ArchResult) -> String {
    let ok = r.tables.iter().filter(|t| t.ok).count();
    format!("{ok}/{}", r.tables.len())
}

/// Ours vs clang over the fixtures that have a twin, as `name ratio`.
fn clang_cell(r: &ArchResult) -> String {
    let v: Vec<String> = r
        .overhead
        .iter()
        .filter_map(|s| s.ours_vs_clang.map(|x| format!("{} {x:.2}", s.subject)))
        .collect();
    if v.is_empty() {
        "—".into()
    } else {
        v.join(", ")
    }
}

pub fn markdown(results: &[ArchResult]) -> String {
    let mut s = String::from("# QEMU matrix\n\n");
    s.push_str("Guest ns are guest instructions where `icount` is yes (`-icount shift=0,sleep=off`: one ns per instruction). ");
    s.push_str("Added = median with the probe − median without, per loop iteration (a 1-byte read of /dev/zero and a 1-byte write to /dev/null), divided by the probe hits per iteration.\n\n");
    s.push_str("BPF JIT: `net.core.bpf_jit_enable` in the guest, which the agent sets to 1 where a kernel leaves it off; \"no\" means the kernel has no JIT and programs ran in the interpreter.\n\n");
    s.push_str("BTF: whether the kernel has BTF (`CONFIG_DEBUG_INFO_BTF`), without which objects that read kernel structs (CO-RE) cannot load.\n\n");
    s.push_str("fentry columns: the empty fentry and fexit programs on the same read (\"none\": the kernel has no BPF trampolines, or no BTF; the notes say which), fentry's added cost over the empty kprobe's, and the fixtures built as fentry/fexit (`--attach fentry`) meeting the same expectations.\n\n");
    s.push_str("ours vs clang: a fixture's added cost per hit over its C twin's, both as kprobes (`NAME`) and both as fentry/fexit (`NAME@fentry`, against the twin built with `-DTWIN_FENTRY`, `NAME@fentry (clang)`).\n\n");
    s.push_str("kprobe-multi columns: empty kprobes on the loop's read and write, attached one function at a time and by one kprobe-multi link (\"none\": the kernel has no link; the notes say why), and the link's added cost over the kprobes'.\n\n");
    s.push_str("| arch | kernel | accel | icount | BPF JIT | BTF | verdict | attached | expectations | tables | baseline ns/op | empty kprobe added/hit | empty kretprobe added/hit | empty fentry added/hit | empty fexit added/hit | fentry / kprobe | fixtures as fentry | kprobes added/hit | kprobe-multi added/hit | multi / kprobes | ours vs clang (added/hit) |\n");
    s.push_str(
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        let base = r
            .overhead
            .iter()
            .find(|x| x.kind == "baseline")
            .map(|x| x.median);
        let [fentry, fexit, fentry_ratio, as_fentry] = tracing_cells(r);
        let [pair, multi, multi_ratio] = multi_cells(r);
        let _ = writeln!(
            s,
            "| {} | {} ({}) | {} | {} | {} | {} | {:?} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.arch,
            r.kernel,
            r.release,
            r.accel,
            if r.icount { "yes" } else { "no" },
            r.jit.map_or("no".to_string(), |j| j.to_string()),
            match r.btf {
                Some(true) => "yes",
                Some(false) => "no",
                None => "?",
            },
            r.verdict,
            attach_cell(r),
            expect_cell(r),
            tables_cell(r),
            num(base),
            num(r.subject("empty_kprobe").and_then(|x| x.added_per_hit)),
            num(r.subject("empty_kretprobe").and_then(|x| x.added_per_hit)),
            fentry,
            fexit,
            fentry_ratio,
            as_fentry,
            pair,
            multi,
            multi_ratio,
            clang_cell(r),
        );
    }
    for r in results {
        let _ = writeln!(s, "\n## {} {} ({})\n", r.arch, r.kernel, r.release);
        let _ = writeln!(s, "`{}`\n", r.command);
        s.push_str("| subject | kind | median ns/op | min | max | hits/iter | added/iter | added/hit | vs clang |\n|---|---|---|---|---|---|---|---|---|\n");
        for x in &r.overhead {
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} |",
                x.subject,
                x.kind,
                x.median,
                x.min,
                x.max,
                x.hits_per_iteration
                    .map_or("—".into(), |h| format!("{h:.2}")),
                num(x.added_per_iteration),
                num(x.added_per_hit),
                ratio(x.ours_vs_clang),
            );
        }
        if !r.costs.is_empty() {
            s.push_str("\nEach spec under its own workload (guest instructions; added per probe hit over the workload alone):\n\n");
            s.push_str("| spec | workload alone | hits/run | spec added/hit | empty probe added/hit | spec over empty/hit | ± workload's spread/hit | rounds × runs |\n|---|---|---|---|---|---|---|---|\n");
            for c in &r.costs {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} × {} |",
                    c.spec,
                    num(c.baseline),
                    c.hits.map_or("—".into(), |h| h.to_string()),
                    num(c.added_per_hit),
                    num(c.empty_added_per_hit),
                    num(c.over_empty_per_hit),
                    num(c.noise_per_hit),
                    c.rounds,
                    c.runs
                );
            }
        }
        if !r.tables.is_empty() {
            s.push_str(
                "\n| table check | ok | probecc::arch | kernel | detail |\n|---|---|---|---|---|\n",
            );
            for t in &r.tables {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} |",
                    t.check, t.ok, t.table, t.kernel, t.detail
                );
            }
        }
        if !r.failures.is_empty() {
            s.push_str("\nFailures:\n\n");
            for f in &r.failures {
                let _ = writeln!(s, "- {}", f.replace('\n', " "));
            }
        }
        for (title, list) in [("Known failures", &r.known_failures), ("Notes", &r.notes)] {
            if !list.is_empty() {
                let _ = writeln!(s, "\n{title}:\n");
                for f in list {
                    let _ = writeln!(s, "- {}", f.replace('\n', " "));
                }
            }
        }
        if !r.tail.is_empty() {
            s.push_str("\nLast console lines:\n\n```\n");
            for l in &r.tail {
                let _ = writeln!(s, "{l}");
            }
            s.push_str("```\n");
        }
    }
    s
}

/// A grouped bar chart: per (arch, kernel), the added instructions per hit
/// of the empty kprobe, the empty kretprobe and every fixture with a twin
/// and its twin.
pub fn svg(results: &[ArchResult]) -> String {
    let series = ["empty_kprobe", "empty_kretprobe"];
    let colors = [
        "#4878d0", "#ee854a", "#6acc64", "#d65f5f", "#956cb4", "#8c613c", "#dc7ec0",
    ];
    let mut names: Vec<String> = series.iter().map(|s| s.to_string()).collect();
    for r in results {
        for x in &r.overhead {
            if (x.kind == "clang" || x.ours_vs_clang.is_some()) && !names.contains(&x.subject) {
                names.push(x.subject.clone());
            }
        }
    }
    for r in results {
        for c in &r.costs {
            for n in [c.spec.clone(), format!("{} (empty probe)", c.spec)] {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
    }
    let max = results
        .iter()
        .flat_map(|r| names.iter().filter_map(|n| added_per_hit(r, n)))
        .fold(1.0f64, f64::max);
    let (bar_w, gap, h, top, left) = (14.0, 30.0, 300.0, 40.0, 60.0);
    let group_w = bar_w * names.len() as f64 + gap;
    let width = left + group_w * results.len().max(1) as f64 + 220.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n",
        h + top + 80.0
    );
    let _ = writeln!(s, "<text x=\"{left}\" y=\"20\" font-size=\"14\">Added guest instructions per probe hit (icount; lower is better)</text>");
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>",
        top + h,
        width - 220.0,
        top + h
    );
    let _ = writeln!(s, "<text x=\"5\" y=\"{}\">{max:.0}</text>", top + 5.0);
    for (g, r) in results.iter().enumerate() {
        let x0 = left + g as f64 * group_w;
        for (i, n) in names.iter().enumerate() {
            if let Some(v) = added_per_hit(r, n) {
                let bh = (v.max(0.0) / max) * h;
                let _ = writeln!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar_w}\" height=\"{bh:.1}\" fill=\"{}\"><title>{n}: {v:.0}</title></rect>",
                    x0 + i as f64 * bar_w,
                    top + h - bh,
                    colors[i % colors.len()]
                );
            }
        }
        let _ = writeln!(
            s,
            "<text x=\"{x0:.1}\" y=\"{}\">{}</text>",
            top + h + 15.0,
            r.arch
        );
        let _ = writeln!(
            s,
            "<text x=\"{x0:.1}\" y=\"{}\">{}</text>",
            top + h + 28.0,
            r.release
        );
    }
    for (i, n) in names.iter().enumerate() {
        let y = top + 15.0 * i as f64;
        let lx = width - 210.0;
        let _ = writeln!(
            s,
            "<rect x=\"{lx}\" y=\"{y}\" width=\"10\" height=\"10\" fill=\"{}\"/>",
            colors[i % colors.len()]
        );
        let _ = writeln!(s, "<text x=\"{}\" y=\"{}\">{n}</text>", lx + 14.0, y + 9.0);
    }
    s.push_str("</svg>\n");
    s
}

/// A bar of the chart: an overhead subject's added cost per hit, or a
/// spec's (`NAME`) or its empty probe's (`NAME (empty probe)`) under its
/// own workload.
fn added_per_hit(r: &ArchResult, name: &str) -> Option<f64> {
    if let Some(x) = r.subject(name) {
        return x.added_per_hit;
    }
    r.costs.iter().find_map(|c| {
        if c.spec == name {
            c.added_per_hit
        } else if name.strip_suffix(" (empty probe)") == Some(c.spec.as_str()) {
            c.empty_added_per_hit
        } else {
            None
        }
    })
}

/// The end-of-run summary on stdout.
pub fn print_summary(results: &[ArchResult]) {
    print!("{}", summary(results));
}

/// The end-of-run summary: a line per boot, then its failures, known
/// failures, notes, each spec's cost and, for a boot that did not
/// complete, the console's last lines.
pub fn summary(results: &[ArchResult]) -> String {
    let mut s = String::new();
    for r in results {
        let [att, exp, tab, kp, krp, clang] = cells(r);
        let [fe, fx, fr, as_fentry] = tracing_cells(r);
        let [pair, multi, mr] = multi_cells(r);
        // The overhead loop's figures, where it ran (a user's run
        // measures each spec's cost instead: the `cost` lines).
        let looped = if r.overhead.is_empty() {
            String::new()
        } else {
            format!(
                "; empty kprobe +{kp} / kretprobe +{krp} / fentry {fe} / fexit {fx} per hit \
                 (fentry/kprobe {fr}); kprobes {pair} / kprobe-multi {multi} per hit \
                 (multi/kprobes {mr}); ours vs clang: {clang}{}",
                if r.overhead.iter().any(|x| {
                    x.ours_vs_clang.is_some() && x.subject.ends_with(crate::stage::AS_FENTRY)
                }) {
                    " (NAME@fentry: ours and clang's both as fentry/fexit)"
                } else {
                    ""
                }
            )
        };
        let as_fentry = match as_fentry.as_str() {
            "—" => String::new(),
            f => format!(" (as fentry: {f})"),
        };
        let _ = writeln!(
            s,
            "{} {} ({}): {:?} in {:.0} s; attached {att}; expectations {exp}{as_fentry}; \
             tables {tab}{looped}",
            r.arch, r.kernel, r.release, r.verdict, r.boot_secs,
        );
        for c in &r.costs {
            let _ = writeln!(
                s,
                "  cost   {}: {} per hit ({} a run), an empty probe on its functions {}: \
                 the spec's own work {} per hit{}",
                c.spec,
                signed(c.added_per_hit),
                match c.hits {
                    Some(1) => "1 hit".into(),
                    Some(h) => format!("{h} hits"),
                    None => "no hits".into(),
                },
                signed(c.empty_added_per_hit),
                signed(c.over_empty_per_hit),
                match c.noise_per_hit {
                    Some(n) if c.within_noise() => format!(
                        ", within its rounds' spread of {n:.0} per hit: no measurement \
                         (a workload that hits the probes more often measures it)"
                    ),
                    Some(n) => format!(" (rounds vary by {n:.0} per hit)"),
                    None => String::new(),
                },
            );
        }
        for f in &r.failures {
            let _ = writeln!(s, "  FAILED {}", f.replace('\n', "\n    "));
        }
        for f in &r.known_failures {
            let _ = writeln!(s, "  known  {}", f.replace('\n', " "));
        }
        for f in &r.notes {
            let _ = writeln!(s, "  note   {f}");
        }
        if !r.tail.is_empty() {
            let _ = writeln!(s, "  last console lines ({}):", r.log);
            for l in &r.tail {
                let _ = writeln!(s, "    {l}");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::Verdict;
    use crate::results::{FixtureRow, SpecCost, SubjectStats};

    fn result() -> ArchResult {
        ArchResult {
            arch: "x86_64".into(),
            release: "bookworm".into(),
            kernel: "6.1.0-50-cloud-amd64".into(),
            accel: "tcg".into(),
            icount: true,
            jit: Some(1),
            btf: Some(true),
            kprobe_multi_probe: None,
            verdict: Verdict::Completed,
            boot_secs: 40.0,
            log: "x.console.log".into(),
            command: "qemu-system-x86_64".into(),
            tables: Vec::new(),
            fixtures: vec![FixtureRow::failed(
                "opens",
                "does not compile for x86_64:\nerror: unknown function".into(),
            )],
            overhead: Vec::new(),
            costs: vec![SpecCost {
                spec: "reads".into(),
                baseline: Some(2_000_000.0),
                hits: Some(1000),
                empty_hits: Some(1000),
                added_per_hit: Some(900.0),
                empty_added_per_hit: Some(350.0),
                over_empty_per_hit: Some(550.0),
                noise_per_hit: Some(3.0),
                rounds: 1,
                runs: 1,
            }],
            failures: vec!["opens: does not compile for x86_64:\nerror: unknown function".into()],
            known_failures: Vec::new(),
            notes: Vec::new(),
            unavailable: Vec::new(),
            tail: Vec::new(),
        }
    }

    fn stats(subject: &str, added_per_hit: f64) -> SubjectStats {
        SubjectStats {
            subject: subject.into(),
            kind: "empty".into(),
            twin_of: None,
            rounds: vec![1000.0],
            median: 1000.0,
            min: 1000.0,
            max: 1000.0,
            hits_per_iteration: Some(1.0),
            added_per_iteration: Some(added_per_hit),
            added_per_hit: Some(added_per_hit),
            ours_vs_clang: None,
        }
    }

    #[test]
    fn fentry_columns_give_its_cost_beside_kprobes_or_say_none() {
        let mut r = result();
        r.overhead = vec![
            stats("no probe", 0.0),
            stats("empty_kprobe", 400.0),
            stats("empty_kretprobe", 900.0),
            stats("empty_fentry", 100.0),
            stats("empty_fexit", 150.0),
        ];
        r.fixtures.push(FixtureRow {
            ok: true,
            ..FixtureRow::failed("reads@fentry", String::new())
        });
        assert_eq!(
            tracing_cells(&r),
            ["100", "150", "0.25", "1/1"].map(String::from)
        );
        assert!(
            summary(&[r.clone()]).contains("fentry 100 / fexit 150 per hit (fentry/kprobe 0.25)")
        );
        let mut none = result();
        none.overhead = vec![stats("empty_kprobe", 400.0)];
        none.unavailable = ["empty_fentry", "empty_fexit", "reads@fentry"]
            .map(|w| crate::results::Unavailable {
                what: w.into(),
                why: "ENOTSUPP".into(),
            })
            .to_vec();
        assert_eq!(
            tracing_cells(&none),
            ["none", "none", "—", "none"].map(String::from)
        );
        assert!(markdown(&[none]).contains("| none | none | — | none |"));
    }

    #[test]
    fn ours_vs_clang_gives_each_kind_against_the_twin_of_that_kind() {
        let mut r = result();
        let subject =
            |name: &str, kind: &str, twin_of: Option<&str>, ratio: Option<f64>| SubjectStats {
                kind: kind.into(),
                twin_of: twin_of.map(String::from),
                ours_vs_clang: ratio,
                ..stats(name, 500.0)
            };
        r.overhead = vec![
            subject("write_counts", "fixture", None, Some(0.98)),
            subject("write_counts@fentry", "fixture", None, Some(0.97)),
            subject("write_counts (clang)", "clang", Some("write_counts"), None),
            subject(
                "write_counts@fentry (clang)",
                "clang",
                Some("write_counts@fentry"),
                None,
            ),
        ];
        assert_eq!(
            clang_cell(&r),
            "write_counts 0.98, write_counts@fentry 0.97"
        );
        let md = markdown(std::slice::from_ref(&r));
        assert!(
            md.contains(
                "| write_counts@fentry | fixture | 1000 | 1000 | 1000 | 1.00 | 500 | 500 | 0.97 |"
            ),
            "{md}"
        );
        assert!(md.contains("both as fentry/fexit (`NAME@fentry`"), "{md}");
        let text = summary(std::slice::from_ref(&r));
        assert!(
            text.contains(
                "ours vs clang: write_counts 0.98, write_counts@fentry 0.97 \
                 (NAME@fentry: ours and clang's both as fentry/fexit)"
            ),
            "{text}"
        );
        // Where the kernel ran no fentry twin, nothing says there was one.
        r.overhead.truncate(1);
        assert!(!summary(&[r]).contains("NAME@fentry"));
    }

    #[test]
    fn a_specs_cost_is_in_every_report() {
        let r = [result()];
        let md = markdown(&r);
        assert!(
            md.contains("| reads | 2000000 | 1000 | 900 | 350 | 550 | 3 | 1 × 1 |"),
            "{md}"
        );
        assert!(
            md.contains("- opens: does not compile for x86_64: error"),
            "{md}"
        );
        let svg = svg(&r);
        assert!(svg.contains("<title>reads: 900</title>"), "{svg}");
        assert!(
            svg.contains("<title>reads (empty probe): 350</title>"),
            "{svg}"
        );
        let text = summary(&r);
        assert!(
            text.contains("cost   reads: +900 per hit (1000 hits a run), an empty probe on its functions +350: the spec's own work +550 per hit (rounds vary by 3 per hit)"),
            "{text}"
        );
        assert!(text.contains("FAILED opens: does not compile"), "{text}");
        assert!(
            !text.contains("empty kprobe +"),
            "no overhead loop ran, so none of its figures: {text}"
        );
    }

    #[test]
    fn a_cost_within_the_workloads_spread_is_said_to_be_no_measurement() {
        let mut r = result();
        let c = &mut r.costs[0];
        c.added_per_hit = Some(171.0);
        c.empty_added_per_hit = Some(1263.0);
        c.over_empty_per_hit = Some(-1092.0);
        c.noise_per_hit = Some(5044.0);
        assert!(c.within_noise());
        let text = summary(&[r]);
        assert!(
            text.contains(
                "cost   reads: +171 per hit (1000 hits a run), an empty probe on its functions \
                 +1263: the spec's own work -1092 per hit, within its rounds' spread of \
                 5044 per hit: no measurement"
            ),
            "{text}"
        );
        let mut r = result();
        r.costs[0].noise_per_hit = Some(549.0);
        assert!(!r.costs[0].within_noise(), "550 stands out of 549");
    }

    #[test]
    fn the_summary_gives_the_overhead_loops_figures_where_it_ran() {
        let mut r = result();
        r.overhead.push(SubjectStats {
            subject: "empty_kprobe".into(),
            kind: "empty".into(),
            twin_of: None,
            rounds: vec![1805.0],
            median: 1805.0,
            min: 1805.0,
            max: 1805.0,
            hits_per_iteration: Some(1.0),
            added_per_iteration: Some(346.0),
            added_per_hit: Some(346.0),
            ours_vs_clang: None,
        });
        let text = summary(&[r.clone()]);
        assert!(
            text.contains(
                "expectations 0/1 fixtures; tables 0/0; empty kprobe +346 / kretprobe +— / \
                 fentry — / fexit — per hit (fentry/kprobe —); kprobes — / kprobe-multi — per \
                 hit (multi/kprobes —); ours vs clang: —"
            ),
            "{text}"
        );
        // The pair attached both ways: the link's cost over the kprobes'.
        let empty = r.overhead[0].clone();
        for (name, per_hit) in [("empty_kprobe_pair", 400.0), ("empty_kprobe_multi", 100.0)] {
            r.overhead.push(SubjectStats {
                subject: name.into(),
                hits_per_iteration: Some(2.0),
                added_per_hit: Some(per_hit),
                ..empty.clone()
            });
        }
        let text = summary(&[r.clone()]);
        assert!(
            text.contains("kprobes 400 / kprobe-multi 100 per hit (multi/kprobes 0.25)"),
            "{text}"
        );
        // A kernel that refused the link shows "none", and the table cell too.
        r.overhead.pop();
        r.unavailable.push(crate::results::Unavailable {
            what: "empty_kprobe_multi".into(),
            why: "Operation not supported (os error 95)".into(),
        });
        assert!(
            summary(&[r.clone()])
                .contains("kprobes 400 / kprobe-multi none per hit (multi/kprobes —)"),
            "{}",
            summary(&[r.clone()])
        );
        assert!(markdown(&[r]).contains("| 400 | none | — |"));
    }
}
