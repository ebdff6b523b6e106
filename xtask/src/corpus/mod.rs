//! `cargo xtask corpus`: the bpftrace tools Debian ships, compiled as
//! published. For each release, its `bpftrace` package (fetched once
//! through the private apt into the parity run's bpftrace cache,
//! `probecc_harness::packages::package_tree`) gives every `sbin/*.bt` tool and every
//! `examples/*.bt`. Each is classified (kprobe scope: every probe a
//! kprobe, kretprobe, ksyscall, kretsyscall, BEGIN, END or interval),
//! compiled for all five arches with the host's kernel types and, for
//! x86_64, its traceable functions for wildcards (other arches take a
//! list from `--symbols ARCH=FILE`; without one their wildcards fail with
//! the compiler's error naming `--symbols`), each object checked by
//! verifier-sim; the x86_64 objects
//! of the kprobe-scope tools are loaded into the host kernel and verified
//! by it (root). `target/corpus/report.md` says, per tool, compiled,
//! loaded or the precise reason, and sums each release up.
//!
//! Then each release's kprobe-scope tools that compiled for x86_64 run in
//! a QEMU guest of that release's x86_64 kernel, under its bpftrace and
//! under `probecc trace`, their outputs compared ([`equal`]); the boots
//! take a CPU each (`--no-equal` skips them).

mod equal;
mod report;

use report::{report, summary_table};

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use probecc::arch::Arch;
use probecc::lang::check::TypeSource;
use probecc::lang::{self, CompileOptions};

use probecc_harness::machine::Release;
use probecc_harness::matrix::Slots;
use probecc_harness::packages::package_tree;

#[derive(clap::Args)]
pub struct CorpusArgs {
    /// Releases whose bpftrace package to take the tools of: bookworm,
    /// trixie, sid, a comma-separated list, or all
    #[arg(long, default_value = "all")]
    pub release: String,
    /// Fail unless at least this percentage of the kprobe-scope tools of
    /// every release compiles for x86_64
    #[arg(long)]
    pub min_percent: Option<f64>,
    /// A symbol list (System.map, /proc/kallsyms or
    /// available_filter_functions) of ARCH's target kernel, for its
    /// wildcards: ARCH=FILE, repeated (x86_64 has the host's by default)
    #[arg(long = "symbols", value_name = "ARCH=FILE")]
    pub symbols: Vec<String>,
    /// Do not compare the tools' output with bpftrace's in QEMU guests
    #[arg(long)]
    pub no_equal: bool,
}

/// Where the report goes.
fn out_dir() -> PathBuf {
    crate::workspace_root().join("target/corpus")
}

/// The probe providers of kprobe scope, in every spelling bpftrace takes.
const KPROBE_SCOPE: [&str; 12] = [
    "kprobe",
    "k",
    "kretprobe",
    "kr",
    "ksyscall",
    "kretsyscall",
    "BEGIN",
    "END",
    "begin",
    "end",
    "interval",
    "i",
];

/// One published program.
struct Tool {
    /// `sbin/opensnoop.bt`, `examples/hello.bt`.
    name: String,
    path: PathBuf,
}

/// What became of one tool.
struct Outcome {
    name: String,
    /// The providers of its probes outside kprobe scope (empty: in scope).
    outside: Vec<String>,
    /// Per arch, `None` when it compiled (and verifier-sim accepted it),
    /// else why not.
    compiled: Vec<(Arch, Option<String>)>,
    /// Loaded into the host kernel (x86_64, kprobe scope): `None` if not
    /// tried, `Some(Ok)` loaded, `Some(Err(why))`.
    loaded: Option<Result<(), String>>,
    /// bpftrace's output against `probecc trace`'s in a QEMU guest
    /// (kprobe scope, compiled for x86_64); `None`: not run.
    equal: Option<equal::Equality>,
}

impl Outcome {
    fn in_scope(&self) -> bool {
        self.outside.is_empty()
    }

    fn compiled_on(&self, arch: Arch) -> bool {
        self.compiled.iter().any(|(a, e)| *a == arch && e.is_none())
    }

    fn compiled_everywhere(&self) -> bool {
        self.compiled.iter().all(|(_, e)| e.is_none())
    }
}

/// One release's tools and what became of them.
struct ReleaseRun {
    release: Release,
    tools: Vec<Tool>,
    outcomes: Vec<Outcome>,
}

/// The numbers of one release's summary row.
struct Summary {
    tools: usize,
    scope: usize,
    compiled_x86: usize,
    compiled_all: usize,
    loaded: usize,
    /// Tools compared in the guest (bpftrace ran them and printed what
    /// the workload decides), and of those, equal; `None`: the guest did
    /// not run.
    equal: Option<(usize, usize)>,
}

impl ReleaseRun {
    fn summary(&self) -> Summary {
        let scope: Vec<&Outcome> = self.outcomes.iter().filter(|o| o.in_scope()).collect();
        Summary {
            tools: self.outcomes.len(),
            scope: scope.len(),
            compiled_x86: scope.iter().filter(|o| o.compiled_on(Arch::X86_64)).count(),
            compiled_all: scope.iter().filter(|o| o.compiled_everywhere()).count(),
            loaded: scope
                .iter()
                .filter(|o| matches!(o.loaded, Some(Ok(()))))
                .count(),
            equal: self.equal_counts(),
        }
    }
}

impl ReleaseRun {
    /// (tools compared, equal) over the tools the guest ran.
    fn equal_counts(&self) -> Option<(usize, usize)> {
        use equal::Equality;
        let judged: Vec<&Equality> = self
            .outcomes
            .iter()
            .filter_map(|o| o.equal.as_ref())
            .collect();
        if judged.is_empty() {
            return None;
        }
        let ran = judged
            .iter()
            .filter(|e| !matches!(e, Equality::BpftraceFails(_) | Equality::NotReached))
            .count();
        let same = judged.iter().filter(|e| **e == &Equality::Equal).count();
        Some((ran, same))
    }

    /// The tools the guest compares: kprobe scope, compiled for x86_64.
    fn to_compare(&self) -> Vec<equal::Tool<'_>> {
        self.outcomes
            .iter()
            .filter(|o| o.in_scope() && o.compiled_on(Arch::X86_64))
            .filter_map(|o| self.tools.iter().find(|t| t.name == o.name))
            .map(|t| equal::Tool {
                name: &t.name,
                path: &t.path,
            })
            .collect()
    }

    /// Runs the guest comparison and records its verdicts; the boot's
    /// error, if it failed.
    fn compare(&mut self, host: &Host, slots: &Slots) -> Result<()> {
        let verdicts = equal::run(
            self.release,
            &self.to_compare(),
            &options("", Arch::X86_64, host),
            &out_dir().join("guest"),
            slots,
        )
        .with_context(|| format!("{}: the comparison with bpftrace in QEMU", self.release))?;
        for o in &mut self.outcomes {
            o.equal = verdicts.get(&o.name).cloned();
        }
        Ok(())
    }
}

impl Summary {
    /// The share of the kprobe-scope tools that compile for x86_64.
    fn percent(&self) -> f64 {
        if self.scope == 0 {
            return 100.0;
        }
        100.0 * self.compiled_x86 as f64 / self.scope as f64
    }
}

pub fn run(args: &CorpusArgs) -> Result<()> {
    let releases = Release::parse_list(&args.release)?;
    let mut host = Host::new();
    for given in &args.symbols {
        let (arch, file) = given
            .split_once('=')
            .with_context(|| format!("--symbols {given}: expected ARCH=FILE"))?;
        let arch = Arch::parse(arch).with_context(|| format!("--symbols {given}"))?;
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
        let names = probecc::symbols::parse(&text).with_context(|| format!("reading {file}"))?;
        host.symbols.retain(|(a, _)| *a != arch);
        host.symbols.push((arch, names));
    }
    let mut runs = runs(&releases, &host)?;
    let failed = if args.no_equal {
        Vec::new()
    } else {
        compare_all(&mut runs, &host, &Slots::per_cpu())
    };
    let report = report(&runs);
    let dir = out_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("report.md");
    std::fs::write(&path, &report).with_context(|| format!("writing {}", path.display()))?;
    println!("{}", summary_table(&runs));
    println!("xtask: corpus: the report is {}", path.display());
    if !failed.is_empty() {
        bail!("{}", failed.join("\n"));
    }
    if let Some(min) = args.min_percent {
        let low: Vec<String> = runs
            .iter()
            .map(|r| (r.release, r.summary().percent()))
            .filter(|(_, p)| *p < min)
            .map(|(r, p)| format!("{r} {p:.1}%"))
            .collect();
        if !low.is_empty() {
            bail!(
                "fewer than {min}% of the kprobe-scope tools compile: {}",
                low.join(", ")
            );
        }
    }
    Ok(())
}

/// The share of a release's kprobe-scope tools that must compile for
/// x86_64 unchanged.
const TARGET_PERCENT: f64 = 95.0;

/// `cargo xtask test`'s corpus step: trixie's tools, at least
/// [`TARGET_PERCENT`] of the kprobe-scope ones compiling for x86_64.
/// Without its prerequisites (the package cannot be fetched) it says so,
/// or fails under CI=true. The guest comparison is [`InTest::compare`],
/// which the test run makes beside the matrix's boots.
pub fn run_in_test(ci: bool) -> Result<Option<InTest>> {
    let tree = match package_tree(&crate::parity::bpftrace_dir(), "bpftrace", Release::Trixie) {
        Ok(t) => t,
        Err(e) if !ci => {
            println!("xtask: corpus: not run (set CI=true to make this an error): {e:#}");
            return Ok(None);
        }
        Err(e) => {
            let e = anyhow::Error::new(e);
            return Err(e.context("trixie's bpftrace package, for the corpus (CI=true)"));
        }
    };
    let host = Host::new();
    let run = release_run(Release::Trixie, &tree, &host)?;
    let s = run.summary();
    if s.percent() < TARGET_PERCENT {
        bail!(
            "trixie: {} of {} kprobe-scope tools compile for x86_64 ({:.1}%), under the {TARGET_PERCENT}% \
             target (target/corpus/report.md after `cargo xtask corpus --release trixie` says why)",
            s.compiled_x86,
            s.scope,
            s.percent()
        );
    }
    println!(
        "xtask: corpus: trixie: {} of {} kprobe-scope tools compile for x86_64 ({:.1}%), {} on all \
         five arches, {} load into this kernel",
        s.compiled_x86,
        s.scope,
        s.percent(),
        s.compiled_all,
        s.loaded
    );
    Ok(Some(InTest { run, host }))
}

/// The corpus run of `cargo xtask test`, its guest comparison to come.
pub struct InTest {
    run: ReleaseRun,
    host: Host,
}

impl InTest {
    /// Compares trixie's tools with bpftrace in a guest taking one of
    /// `slots`, prints the count and writes `target/corpus/report.md`.
    /// QEMU or the kernel missing fails under CI and is skipped with the
    /// reason elsewhere; a boot that fails is an error.
    pub fn compare(mut self, ci: bool, slots: &Slots) -> Result<()> {
        if let Err(e) = crate::qemu::prepare(Arch::X86_64) {
            if ci {
                return Err(e.context("the corpus's QEMU guest (CI=true)"));
            }
            println!("xtask: corpus: not compared with bpftrace (set CI=true to make this an error): {e:#}");
            return Ok(());
        }
        self.run.compare(&self.host, slots)?;
        let runs = [self.run];
        let dir = out_dir();
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("report.md"), report(&runs))?;
        if let Some((ran, same)) = runs[0].summary().equal {
            println!(
                "xtask: corpus: trixie: {same} of the {ran} tools compared in the guest print \
                 the same as `probecc trace` (target/corpus/report.md)"
            );
        }
        Ok(())
    }
}

/// Every release's guest comparison, the boots side by side as `slots`
/// allow; the errors of those that failed (their tools stay "not run").
fn compare_all(runs: &mut [ReleaseRun], host: &Host, slots: &Slots) -> Vec<String> {
    std::thread::scope(|s| {
        let handles: Vec<_> = runs
            .iter_mut()
            .map(|r| s.spawn(move || r.compare(host, slots)))
            .collect();
        handles
            .into_iter()
            .filter_map(|h| match h.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("{e:#}")),
                Err(_) => Some("a comparison with bpftrace panicked".into()),
            })
            .inspect(|e| println!("xtask: corpus: {e}"))
            .collect()
    })
}

fn runs(releases: &[Release], host: &Host) -> Result<Vec<ReleaseRun>> {
    releases
        .iter()
        .map(|&release| {
            let tree = package_tree(&crate::parity::bpftrace_dir(), "bpftrace", release)?;
            release_run(release, &tree, host)
        })
        .collect()
}

fn release_run(release: Release, tree: &Path, host: &Host) -> Result<ReleaseRun> {
    let tools = tools(tree)?;
    if tools.is_empty() {
        bail!(
            "{release}'s bpftrace package has no .bt tools under {}",
            tree.display()
        );
    }
    let outcomes = tools.iter().map(|t| outcome(t, host)).collect();
    Ok(ReleaseRun {
        release,
        tools,
        outcomes,
    })
}

/// Every `*.bt` of the package: its tools (`sbin/`, `usr/sbin/`) and its
/// examples, sorted.
fn tools(tree: &Path) -> Result<Vec<Tool>> {
    let places = [
        ("sbin", tree.join("sbin")),
        ("sbin", tree.join("usr/sbin")),
        ("examples", tree.join("usr/share/doc/bpftrace/examples")),
    ];
    let mut out = Vec::new();
    for (label, dir) in places {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e?.path();
            let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            // A symlink of merged /usr lists the same tool twice.
            let name = format!("{label}/{file}");
            if file.ends_with(".bt") && !out.iter().any(|t: &Tool| t.name == name) {
                out.push(Tool { name, path });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// What the host gives every compile: its kernel's types and the symbol
/// lists wildcards expand against (x86_64's: its traceable functions).
struct Host {
    btf: Option<TypeSource>,
    symbols: Vec<(Arch, Vec<String>)>,
    root: bool,
}

impl Host {
    fn new() -> Host {
        let vmlinux = Path::new(probecc::btf::kernel::HOST_VMLINUX);
        Host {
            btf: vmlinux.exists().then(|| TypeSource::file(vmlinux)),
            symbols: probecc_runtime::live::kernel::traceable()
                .ok()
                .map(|(_, names)| (Arch::X86_64, names))
                .into_iter()
                .collect(),
            // SAFETY: geteuid has no preconditions.
            root: unsafe { libc::geteuid() } == 0,
        }
    }
}

fn outcome(tool: &Tool, host: &Host) -> Outcome {
    let src = match std::fs::read_to_string(&tool.path) {
        Ok(s) => s,
        Err(e) => {
            let why = format!("unreadable: {e}");
            return Outcome {
                name: tool.name.clone(),
                outside: Vec::new(),
                compiled: Arch::ALL.iter().map(|&a| (a, Some(why.clone()))).collect(),
                loaded: None,
                equal: None,
            };
        }
    };
    let outside = outside_scope(&src);
    let mut compiled = Vec::new();
    let mut x86 = None;
    for arch in Arch::ALL {
        let opts = options(&tool.name, arch, host);
        match build(&src, arch, &opts) {
            Ok(built) => {
                if arch == Arch::X86_64 {
                    x86 = Some(built);
                }
                compiled.push((arch, None));
            }
            Err(why) => compiled.push((arch, Some(why))),
        }
    }
    let loaded = match (&x86, outside.is_empty()) {
        (Some((object, manifest)), true) if host.root => Some(load(object, manifest)),
        (Some(_), true) => Some(Err("not tried: loading needs root".into())),
        _ => None,
    };
    Outcome {
        name: tool.name.clone(),
        outside,
        compiled,
        loaded,
        equal: None,
    }
}

/// How every tool is compiled for `arch`: the host's kernel types, its
/// symbol list for wildcards.
fn options(file: &str, arch: Arch, host: &Host) -> CompileOptions {
    CompileOptions {
        file: file.to_string(),
        symbols: host
            .symbols
            .iter()
            .find(|(a, _)| *a == arch)
            .map(|(_, names)| names.clone()),
        kernel: None,
        unsafe_actions: false,
        btf: host.btf.clone(),
        // As bpftrace compiles a tool run without arguments: `$N` is 0
        // where the tool needs a literal (lhist bounds, str() lengths).
        params: Some(Vec::new()),
        attach: lang::AttachMode::Kprobe,
        multi: false,
    }
}

/// The spec compiled for `arch`, written as an object and accepted by
/// verifier-sim, as `probecc build` makes it; else the first reason, with
/// its line and column.
fn build(
    src: &str,
    arch: Arch,
    opts: &CompileOptions,
) -> Result<(Vec<u8>, lang::manifest::Manifest), String> {
    let compiled = lang::compile(src, arch, opts).map_err(|diags| match diags.first() {
        Some(d) => {
            let (line, col) = line_col(src, d.span.start);
            let help = d
                .help
                .as_ref()
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            format!("{line}:{col}: {}{help}", d.message)
        }
        None => "refused without a diagnostic".into(),
    })?;
    let object =
        probecc::elf::write(&compiled.object).map_err(|e| format!("writing the object: {e}"))?;
    let kernel = arch.default_kernel();
    let verdicts = verifier_sim::check_object(&object, arch, kernel)
        .map_err(|e| format!("verifier-sim could not read the object: {e}"))?;
    if let Some(v) = verdicts.iter().find(|v| !v.accepted) {
        let why = v.message.as_deref().unwrap_or("rejected");
        return Err(format!("verifier-sim rejects {}: {why}", v.section));
    }
    Ok((object, compiled.manifest))
}

/// The 1-based line and column of byte `at` of `src`.
fn line_col(src: &str, at: usize) -> (usize, usize) {
    let before = &src[..at.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// The object loaded into the host kernel and every program verified by
/// it; unloaded again when it drops.
fn load(object: &[u8], manifest: &lang::manifest::Manifest) -> Result<(), String> {
    let mut loaded =
        probecc_runtime::live::Loaded::load(object).map_err(|e| probecc::error::chain(&e))?;
    loaded
        .verify_all(manifest)
        .map_err(|e| probecc::error::chain(&e))
}

/// The providers of the probes outside kprobe scope, sorted, without
/// duplicates: the attach points are the text outside every `{...}`
/// block, with comments, strings, preprocessor lines and predicates
/// (`/.../`) left out, and `config = ...` and `macro` definitions too.
fn outside_scope(src: &str) -> Vec<String> {
    let mut providers: Vec<String> = attach_points(src)
        .into_iter()
        .filter_map(|ap| {
            let provider = ap.split(':').next().unwrap_or(&ap).to_string();
            (!KPROBE_SCOPE.contains(&provider.as_str())).then_some(provider)
        })
        .collect();
    providers.sort();
    providers.dedup();
    providers
}

/// The attach points of every probe of `src`, as written.
fn attach_points(src: &str) -> Vec<String> {
    let mut top = String::new();
    let mut depth = 0usize;
    let mut chars = src.chars().peekable();
    let mut at_line_start = true;
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                top.push('\n');
                at_line_start = true;
                continue;
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                top.push(' ');
                continue;
            }
            '#' if at_line_start => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                top.push('\n');
                continue;
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                }
                continue;
            }
            '{' => {
                depth += 1;
                top.push(' ');
            }
            '}' => {
                depth = depth.saturating_sub(1);
                top.push(';');
            }
            c if depth == 0 => top.push(c),
            _ => {}
        }
        at_line_start = c == '\n' || (at_line_start && c.is_whitespace());
    }
    let mut out = Vec::new();
    for header in top.split(';') {
        // A predicate `/.../` follows the attach points.
        let header = header.split('/').next().unwrap_or("");
        let header = header.trim();
        if header.is_empty()
            || header.starts_with("config")
            || header.starts_with("macro")
            || header.starts_with("struct")
            || header.starts_with("union")
            || header.starts_with("let")
        {
            continue;
        }
        for ap in header.split(|c: char| c == ',' || c.is_whitespace()) {
            if !ap.is_empty() {
                out.push(ap.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_points_are_the_headers_outside_blocks() {
        let src = "#!/usr/bin/env bpftrace\n#include <linux/sched.h>\n// kprobe:in_comment\n\
                   config = { max_map_keys = 10 }\n\
                   BEGIN { printf(\"tracepoint:x {\\n\"); }\n\
                   kprobe:vfs_read, kretprobe:vfs_write /pid == 1/ { if (1) { @a = 1; } }\n\
                   tracepoint:block:block_rq_issue { }\nt:sched:x,profile:hz:99 { }\nEND { }\n";
        assert_eq!(
            attach_points(src),
            [
                "BEGIN",
                "kprobe:vfs_read",
                "kretprobe:vfs_write",
                "tracepoint:block:block_rq_issue",
                "t:sched:x",
                "profile:hz:99",
                "END"
            ]
        );
        assert_eq!(outside_scope(src), ["profile", "t", "tracepoint"]);
        assert!(outside_scope("kprobe:a { } interval:s:1 { } ksyscall:read { }").is_empty());
    }

    #[test]
    fn reasons_cite_line_and_column() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 0), (1, 1));
    }
}
