//! `probecc trace SPEC|OBJ [ARG...]`, `probecc trace -e 'PROGRAM' [ARG...]`,
//! `probecc trace - [ARG...]` (the spec on stdin): a spec compiled for the
//! running kernel (its arch and release from `uname`, its types from
//! `/sys/kernel/btf/vmlinux`, its traceable functions for wildcards) and
//! checked by verifier-sim, or an object with the manifest beside it,
//! run in the kernel as bpftrace runs a script (`probecc_runtime::live`):
//! loaded, every program verified, `Attaching N probes...`, BEGIN, the
//! probes attached, the `-c` command released; printf output streamed as
//! it comes; at the end (Ctrl-C, SIGTERM, `exit()`, `--duration`, or the
//! command's exit) the probes detached, END, and the maps printed as
//! bpftrace prints them, in its text or (`-f json`) its JSON lines.
//!
//! Exit status 0 after a normal end, 1 when the kernel or the machine
//! refused (a capability, a verifier rejection, a probe that would not
//! attach, no kprobes), 2 for bad input (the spec, the object, the
//! arguments). Nothing stays in the kernel after any end: programs, maps
//! and probes are descriptors of this process, nothing is pinned.

mod child;
mod explain;
mod signals;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use probecc::arch::{Arch, KernelVersion};
use probecc::lang::check::ir::settings::MissingProbes;
use probecc::lang::manifest::Manifest;
use probecc::lang::{AttachMode, CompileOptions};
use probecc_runtime::live::{
    self, kernel, privilege, LiveError, LoadOptions, Loaded, Printer, Session,
};
use probecc_runtime::output::Style;

use crate::build::{self, Spec};
use crate::input::{self, BadInput};
use crate::multi::Multi;
use crate::target::Attach;
use child::Held;

/// How `trace` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// bpftrace's text output
    Text,
    /// bpftrace's JSON output (`bpftrace -f json`), one object a line
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A probe specification, an object built by `probecc build` (its
    /// NAME.manifest.json beside it), or `-` for a specification on
    /// stdin; with -e, the first ARG
    #[arg(value_name = "SPEC|OBJ")]
    pub input: Option<String>,
    /// Positional parameters ($1, $2, ...)
    #[arg(value_name = "ARG")]
    pub args: Vec<String>,
    /// The program text itself, instead of a file
    #[arg(short = 'e', value_name = "PROGRAM")]
    pub program: Option<String>,
    /// Run CMD (split at spaces, found on PATH) once the probes are
    /// attached, and end when it exits
    #[arg(short = 'c', value_name = "CMD")]
    pub command: Option<String>,
    /// Output format
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// End after this many seconds
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Do not print `Attaching N probes...`
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Kernel types for a spec's struct casts, `->` and `curtask`
    /// (default: the running kernel's /sys/kernel/btf/vmlinux)
    #[arg(long, value_name = "FILE")]
    pub btf: Option<PathBuf>,
    /// A System.map, /proc/kallsyms or available_filter_functions that a
    /// spec's wildcards expand against (default: the running kernel's
    /// available_filter_functions, else /proc/kallsyms)
    #[arg(long, value_name = "FILE")]
    pub symbols: Option<PathBuf>,
    /// Allow actions that change what the probed task does (`signal()`)
    #[arg(long = "unsafe")]
    pub allow_unsafe: bool,
    /// What `kprobe:` and `kretprobe:` attach points become: kprobes,
    /// fentry and fexit programs, or `auto` (the default): fentry/fexit
    /// where this kernel has BPF trampolines, kprobes where it refuses them
    #[arg(long, value_name = "KIND", value_enum, default_value_t = Attach::Auto)]
    pub attach: Attach,
    /// Compile a block of several kprobe (or kretprobe) attach points
    /// into one kprobe-multi program attached by one link: auto from
    /// Linux 5.18, falling back to one attachment per function (saying
    /// so) where the kernel refuses the link
    #[arg(long, value_enum, default_value_t = Multi::Auto)]
    pub multi: Multi,
}

/// The longest wait between checks of the signals, the deadline and the
/// command: a signal ends a wait at once, this bounds a race with one.
const TICK: Duration = Duration::from_millis(200);

/// The program to run: its text (from a file, `-e` or stdin) or an object.
#[derive(Debug)]
enum Source {
    Spec {
        src: String,
        file: String,
        name: String,
    },
    Object {
        bytes: Vec<u8>,
        path: PathBuf,
    },
}

/// The running kernel, as a spec is compiled for it.
#[derive(Debug)]
struct Running {
    arch: Arch,
    version: KernelVersion,
}

/// What runs: the object's bytes and its manifest.
#[derive(Debug)]
struct Ready {
    object: Vec<u8>,
    manifest: Manifest,
}

pub fn run(args: &Args) -> Result<()> {
    let duration = match args.duration {
        Some(s) if !(s.is_finite() && s > 0.0) => {
            let problem = format!("--duration {s}: not a positive number of seconds");
            return Err(BadInput::Arguments(problem).into());
        }
        s => s.map(Duration::from_secs_f64),
    };
    let (source, params) = source(args)?;
    let running = running()?;
    // Without a JIT there are no trampolines, whatever the release.
    let mode = match args.attach {
        Attach::Auto if !live::kernel::has_jit() => AttachMode::Kprobe,
        a => a.into(),
    };
    let mut ready = match &source {
        Source::Spec { src, file, name } => {
            compile(args, mode, &running, src, file, name, &params)?
        }
        Source::Object { bytes, path } => object(&running, bytes.clone(), path)?,
    };
    let auto = args.attach == Attach::Auto;
    if let (true, Some(func), Source::Spec { src, file, name }) =
        (auto, untraceable(&ready.manifest), &source)
    {
        // Not ftrace-able: no trampoline can attach, where a kprobe can.
        eprintln!(
            "note: `{func}` is not in this kernel's available_filter_functions, so no fentry/fexit \
             can attach to it; attaching kprobes instead"
        );
        ready = compile(args, AttachMode::Kprobe, &running, src, file, name, &params)?;
    }
    let missing = privilege::missing();
    if !missing.is_empty() {
        bail!(
            "tracing needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN, or root); this process \
             lacks {}",
            missing.join(" and ")
        );
    }
    signals::install();
    // The command exists before the object is loaded (its pid is known
    // for globals), and runs only once every probe is attached.
    let mut command = args.command.as_deref().map(Held::spawn).transpose()?;
    let options = load_options(
        &ready.manifest,
        &params,
        running.arch,
        command.as_ref().map(Held::pid),
    )?;
    let style = match args.format {
        Format::Text => Style::Text,
        Format::Json => Style::Json,
    };
    let fallback = auto && retargeted(&ready.manifest);
    let mut session = match (prepare(&ready, &options, style, !fallback), &source) {
        // `auto` chose fentry/fexit and this kernel refused them: kprobes
        // do the same work.
        (Err(e), Source::Spec { src, file, name }) if fallback => {
            eprintln!(
                "note: this kernel refused fentry/fexit ({}); attaching kprobes instead",
                probecc::error::chain(e.as_ref())
            );
            ready = compile(args, AttachMode::Kprobe, &running, src, file, name, &params)?;
            prepare(&ready, &options, style, true)?
        }
        (other, _) => other?,
    };
    // A kprobe-multi link needs no kprobes (fprobe is ftrace's).
    let probes = ready
        .manifest
        .programs
        .iter()
        .any(|p| live::is_probe(&p.section) && !live::multi::is_multi(&p.section));
    if probes && !kernel::has_kprobes() {
        return Err(LiveError::NoKprobes.into());
    }
    if !args.quiet {
        attaching(style, session.probes())?;
    }
    session.begin()?;
    if !session.exited() {
        attach(&mut session, &ready.manifest)?;
        if let Some(c) = command.as_mut() {
            c.release().context("releasing the -c command")?;
        }
        watch(&mut session, command.as_mut(), duration)?;
    }
    if let Some(c) = command.as_mut() {
        c.stop();
    }
    session.end()?;
    Ok(())
}

/// The object loaded and its programs verified, in a session that prints
/// in `style`; a refusal `explain`ed on stderr (mapped to spec lines).
fn prepare(
    ready: &Ready,
    options: &LoadOptions,
    style: Style,
    explain: bool,
) -> Result<Session<Printer<std::io::Stdout>>> {
    let loaded = Loaded::load_with(&ready.object, options)
        .map_err(|e| anyhow::Error::new(e).context("loading the object"))?;
    let mut session = Session::new(loaded, ready.manifest.clone(), style, std::io::stdout());
    verify(&mut session, ready, explain)?;
    Ok(session)
}

/// Whether any `kprobe:`/`kretprobe:` block was built as fentry/fexit
/// (`--attach`), which a kprobe build can replace.
fn retargeted(manifest: &Manifest) -> bool {
    manifest.programs.iter().any(|p| {
        live::is_tracing(&p.section)
            && (p.probe.starts_with("kprobe:") || p.probe.starts_with("kretprobe:"))
    })
}

/// The first function a `kprobe:`/`kretprobe:` block built as fentry/fexit
/// attaches to that this kernel's `available_filter_functions` lacks (none
/// when the kernel publishes no such list).
fn untraceable(manifest: &Manifest) -> Option<String> {
    if !retargeted(manifest) {
        return None;
    }
    let (path, names) = kernel::traceable().ok()?;
    if !path.ends_with("available_filter_functions") {
        return None;
    }
    manifest
        .programs
        .iter()
        .filter(|p| live::is_tracing(&p.section))
        .map(|p| live::target(&p.section).0)
        .find(|f| names.binary_search(f).is_err())
}

/// The globals the object reads, set before it is loaded: the positional
/// parameters (`$1`, `str($1)`, `$#`) an object built without ARGs reads
/// at run time, from the ARGs after it (`probecc_runtime::params`: a
/// number where `$N` is an integer, an error naming `$N` where it is not).
/// A spec's were fixed when it compiled, as bpftrace fixes them, and an
/// object's when it was built with `probecc build -- ARG...`: its manifest
/// lists no global, and ARGs go unused, as bpftrace leaves parameters a
/// script does not read.
fn load_options(
    manifest: &Manifest,
    params: &[String],
    arch: Arch,
    _cpid: Option<u32>,
) -> Result<LoadOptions, BadInput> {
    let globals = probecc_runtime::params::globals(manifest, params, arch.endian())
        .map_err(|e| BadInput::Arguments(e.to_string()))?;
    Ok(LoadOptions {
        globals,
        ..LoadOptions::default()
    })
}

/// The program and the positional parameters, from the arguments.
fn source(args: &Args) -> Result<(Source, Vec<String>), BadInput> {
    let mut params: Vec<String> = args.input.iter().chain(&args.args).cloned().collect();
    // A program not from a file is named as bpftrace names it.
    let unnamed = |src: String| Source::Spec {
        src,
        file: "stdin".into(),
        name: "stdin".into(),
    };
    if let Some(text) = &args.program {
        return Ok((unnamed(text.clone()), params));
    }
    if params.is_empty() {
        return Err(BadInput::Arguments(
            "nothing to trace: give a spec or object file, `-` for stdin, or -e PROGRAM".into(),
        ));
    }
    let input = params.remove(0);
    if input == "-" {
        let mut src = String::new();
        std::io::stdin()
            .read_to_string(&mut src)
            .map_err(|e| BadInput::file("reading the spec from stdin", e))?;
        return Ok((unnamed(src), params));
    }
    let path = PathBuf::from(&input);
    let bytes = input::bytes(&path)?;
    if bytes.starts_with(b"\x7fELF") {
        return Ok((Source::Object { bytes, path }, params));
    }
    let src = String::from_utf8(bytes).map_err(|e| BadInput::file(input::reading(&path), e))?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("spec")
        .to_string();
    Ok((
        Source::Spec {
            src,
            file: input,
            name,
        },
        params,
    ))
}

/// The arch and release of the running kernel.
fn running() -> Result<Running> {
    let u = kernel::uname()?;
    Ok(Running {
        arch: u.arch()?,
        version: u.version()?,
    })
}

/// The spec compiled for the running kernel and checked by verifier-sim.
fn compile(
    args: &Args,
    attach: AttachMode,
    running: &Running,
    src: &str,
    file: &str,
    name: &str,
    params: &[String],
) -> Result<Ready> {
    let (src, file, name) = (src.to_string(), file.to_string(), name.to_string());
    let symbols = match (&args.symbols, has_wildcard(&src)) {
        (Some(path), _) => Some(input::symbols(path)?),
        (None, true) => kernel::traceable().ok().map(|(_, names)| names),
        (None, false) => None,
    };
    let opts = CompileOptions {
        file,
        symbols,
        kernel: Some(running.version),
        unsafe_actions: args.allow_unsafe,
        btf: build::type_source(args.btf.as_deref()),
        params: Some(params.to_vec()),
        attach,
        multi: args
            .multi
            .for_running(running.version, kernel::has_kprobe_multi),
    };
    let no_btf = opts.btf.is_none();
    let mut spec = Spec::new(src, name, opts);
    spec.notes = args.multi != Multi::Auto;
    let compiled = spec.compile(running.arch).inspect_err(|_| {
        if no_btf {
            eprintln!(
                "note: this kernel publishes no types ({} is missing: a kernel built without \
                 CONFIG_DEBUG_INFO_BTF); a spec that reads kernel structs needs --btf FILE",
                probecc::btf::kernel::HOST_VMLINUX
            );
        }
    })?;
    spec.check_offsets(&compiled, running.arch)?;
    let object = build::object_bytes(&compiled)?;
    let types = build::tracing_types(&object, spec.opts.btf.as_ref())?;
    build::verify(&object, running.arch, running.version, types.as_deref())?;
    Ok(Ready {
        object,
        manifest: compiled.manifest,
    })
}

/// Whether an attach point of `src` may be a wildcard: reading the
/// kernel's function list costs time on a small device, so a spec without
/// one does not. A spec that does not parse as written (its preprocessor
/// may make attach points) may have one.
fn has_wildcard(src: &str) -> bool {
    match probecc::lang::parse::parse(src) {
        Ok(spec) => spec
            .probes
            .iter()
            .flat_map(|p| &p.attach)
            .any(|a| a.target.contains('*')),
        Err(_) => true,
    }
}

/// An object and the manifest beside it, which must be for this kernel's
/// arch, its `+OFFSET`s at places this kernel takes a kprobe.
fn object(running: &Running, bytes: Vec<u8>, path: &Path) -> Result<Ready> {
    let manifest_path = input::manifest_path(path);
    let (_, manifest) = input::manifest(&manifest_path)?;
    let arch = crate::target::object_arch(None, path, &bytes, Some((&manifest_path, &manifest)))?;
    if arch != running.arch {
        return Err(BadInput::Contradiction {
            path: manifest_path,
            problem: format!(
                "the object is for {arch}, but this kernel runs {}",
                running.arch
            ),
        }
        .into());
    }
    let sections: Vec<&str> = manifest
        .programs
        .iter()
        .map(|p| p.section.as_str())
        .collect();
    if let Err(problem) = crate::offsets::check_object(&sections, running.arch) {
        let path = path.to_path_buf();
        return Err(BadInput::Contradiction { path, problem }.into());
    }
    Ok(Ready {
        object: bytes,
        manifest,
    })
}

/// Every program through the kernel's verifier; a rejection printed with
/// the log's last lines mapped to the spec.
fn verify<W: Write>(session: &mut Session<Printer<W>>, ready: &Ready, explain: bool) -> Result<()> {
    let Err(e) = session.loaded().verify_all(&ready.manifest) else {
        return Ok(());
    };
    if let (true, LiveError::Rejected { name, log, .. }) = (explain, &e) {
        let programs = verifier_sim::program::programs(&ready.object).unwrap_or_default();
        let program = programs.iter().find(|p| &p.name == name);
        let line_of = |i: usize| program.and_then(|p| p.line_of(i)).map(str::to_string);
        eprint!("{}", explain::rejection(log, line_of));
    }
    Err(e.into())
}

/// `Attaching N probes...`: on stderr in text (stdout stays the
/// program's output), a record on stdout in JSON.
fn attaching(style: Style, n: usize) -> Result<()> {
    let line = style.attached_probes(n);
    match style {
        Style::Text => std::io::stderr().write_all(line.as_bytes()),
        Style::Json => {
            let mut out = std::io::stdout();
            out.write_all(line.as_bytes()).and_then(|()| out.flush())
        }
    }
    .context("writing the output")
}

/// Every probe attached; one the kernel refuses fails the trace, or is
/// a warning or nothing when the spec's config says `missing_probes`.
fn attach<W: Write>(session: &mut Session<Printer<W>>, manifest: &Manifest) -> Result<()> {
    let failed = session.loaded().attach_all(manifest);
    for (program, why) in session.loaded().fallbacks() {
        eprintln!(
            "note: {program} is attached one function at a time, not by one \
             kprobe-multi link: {why}"
        );
    }
    if failed.is_empty() {
        return Ok(());
    }
    let traceable = kernel::traceable().ok().map(|(_, names)| names);
    let mut explained = Vec::new();
    for (section, e) in &failed {
        if let LiveError::NoKprobes = e {
            return Err(LiveError::NoKprobes.into());
        }
        let probe = manifest
            .programs
            .iter()
            .find(|p| &p.section == section)
            .map_or(section.as_str(), |p| p.probe.as_str());
        let (func, _) = live::target(section);
        let why = explain::not_attached(probe, &func, e, traceable.as_deref());
        explained.push((section.as_str(), why));
    }
    let Triage {
        skipped,
        mut reasons,
    } = triage(manifest, explained);
    skipped
        .iter()
        .for_each(|w| eprintln!("probecc: warning: {w}"));
    if reasons.is_empty() {
        if session.loaded().attached() == 0 {
            bail!("no probe could be attached: the kernel refused every function the wildcards matched");
        }
        return Ok(());
    }
    match manifest.config.missing_probes {
        MissingProbes::Error => {
            let first = reasons.remove(0);
            for r in &reasons {
                eprintln!("probecc: error: {r}");
            }
            Err(first.into())
        }
        MissingProbes::Warn => {
            reasons
                .iter()
                .for_each(|r| eprintln!("probecc: warning: {r}"));
            Ok(())
        }
        MissingProbes::Ignore => Ok(()),
    }
}

/// The attach points the kernel refused, sorted: the matches of a
/// wildcard (a name two functions share, one on the kprobe blacklist)
/// are left out with a warning, as bpftrace leaves them (silently where
/// the spec's config says `missing_probes = "ignore"`); the rest are the
/// reasons `missing_probes` rules on.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Triage<E> {
    pub skipped: Vec<String>,
    pub reasons: Vec<E>,
}

pub(crate) fn triage<E: std::fmt::Display>(
    manifest: &Manifest,
    failed: Vec<(&str, E)>,
) -> Triage<E> {
    let mut out = Triage {
        skipped: Vec::new(),
        reasons: Vec::new(),
    };
    for (section, why) in failed {
        let glob = manifest
            .programs
            .iter()
            .find(|p| p.section == section)
            .and_then(|p| p.wildcard.as_deref());
        match glob {
            Some(_) if manifest.config.missing_probes == MissingProbes::Ignore => {}
            Some(glob) => out
                .skipped
                .push(format!("{why} (a match of {glob}), skipping")),
            None => out.reasons.push(why),
        }
    }
    out
}

/// Prints records as they come until the trace ends: a signal, `exit()`,
/// the deadline, or the command's exit.
fn watch<W: Write>(
    session: &mut Session<Printer<W>>,
    mut command: Option<&mut Held>,
    duration: Option<Duration>,
) -> Result<()> {
    let deadline = duration.map(|d| Instant::now() + d);
    loop {
        if signals::stop_requested() || session.exited() {
            return Ok(());
        }
        if command.as_deref_mut().is_some_and(Held::exited) {
            return Ok(());
        }
        let left = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left,
                _ => return Ok(()),
            },
            None => TICK,
        };
        session.wait(left.min(TICK))?;
    }
}

#[cfg(test)]
mod tests;
