//! The checker: gives a parsed [`Spec`] its meaning for one arch. It expands
//! attach points into programs ([`attach`]), types every expression
//! ([`expr`]) and statement ([`stmt`]), keeps each map's key and value
//! consistent over all its uses and each variable's type over its
//! assignments ([`tables`]). `BEGIN`, `END` and `interval` blocks are
//! programs like the others, which the loader runs rather than attaches
//! (they read no function's arguments). The config block becomes the spec's settings
//! ([`config`]) and top-level C definitions are checked against the
//! kernel's types ([`cdefs`]). The result is an [`ir::Checked`] that
//! `lower` compiles without further questions.
//!
//! Map and variable types are settled before errors are reported: two
//! "declare" passes collect every assignment (so that a map read in a probe
//! written before the one that assigns it has its type, and string sizes
//! grow to the largest use), then a "check" pass reports every error of the
//! file.

pub mod attach;
mod cdefs;
mod config;
mod constant;
mod declare;
mod expr;
pub(crate) mod fentry;

pub use fentry::AttachMode;
pub mod format;
mod functions;
pub mod ir;
mod map_stmt;
mod multi;
mod output;
mod record;
mod stmt;
mod tables;
mod tuple;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::btf::core::CoreError;
use crate::btf::kernel::KernelBtf;

use crate::arch::{Arch, KernelVersion};
use crate::kprobe::AttachPoint;
use crate::lang::ast::{Expr, ExprKind, ProbeKind, Span, Spec};
use crate::lang::diag::{line_col, Diagnostic};
use crate::lang::preprocess::map::SourceMap;
use crate::lang::preprocess::Preprocessed;

use ir::{
    Body, Checked, MapInfo, OutputInfo, OutputKind, ProbeProgram, Settings, TStmt, TStmtKind,
    VarInfo,
};

/// What `check`, `lower` and `compile` need besides the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    /// The spec's file name, for line info, messages and the manifest name.
    pub file: String,
    /// Kernel function symbols that wildcard attach points expand against.
    pub symbols: Option<Vec<String>>,
    /// The kernel the object is for (syscall wrappers, pt_regs size);
    /// `None` is the arch's [`Arch::default_kernel`].
    pub kernel: Option<KernelVersion>,
    /// Allow actions that change what the probed task or the system does
    /// (`signal`, `system`); `--unsafe` on the command line.
    pub unsafe_actions: bool,
    /// The kernel types struct casts, `->` and `curtask` are checked
    /// against (`--btf`); `None`: a spec that needs them is an error.
    pub btf: Option<TypeSource>,
    /// The values of the positional parameters `$1`... (`$#` is their
    /// count), fixed when the spec compiles, as bpftrace fixes them; `None`:
    /// none given, and the parameters the spec reads are read-only globals
    /// a loader sets before load (`lang::check::ir::param`).
    pub params: Option<Vec<String>>,
    /// What `kprobe:` and `kretprobe:` attach points become (`--attach`).
    pub attach: AttachMode,
    /// Make each block of several kprobe (or kretprobe) attach points one
    /// kprobe-multi program (`--multi`), where its body allows.
    pub multi: bool,
}

/// Where a spec's kernel types come from: a BTF file (the kernel's
/// `/sys/kernel/btf/vmlinux`, or one a user names), read when a spec first
/// needs it: most specs need none, and reading a vmlinux BTF takes longer
/// than compiling. Clones share what was read.
#[derive(Clone, Debug)]
pub struct TypeSource {
    path: PathBuf,
    loaded: Arc<OnceLock<Result<Arc<KernelBtf>, Arc<CoreError>>>>,
}

/// Why a [`TypeSource`]'s types cannot be read: the path, and the
/// [`CoreError`] that reading it gave (shared by every clone of the source,
/// and the `source()` of this error, so that a caller walking the causes
/// finds it and what it wraps).
#[derive(Clone, Debug)]
pub struct TypesUnreadable {
    pub path: PathBuf,
    cause: Arc<CoreError>,
}

impl TypesUnreadable {
    /// What reading the file gave.
    pub fn cause(&self) -> &CoreError {
        &self.cause
    }
}

impl std::fmt::Display for TypesUnreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reading kernel types from {}", self.path.display())
    }
}

impl std::error::Error for TypesUnreadable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.cause.as_ref())
    }
}

impl TypeSource {
    /// The BTF in `path` (raw BTF, or an ELF with a `.BTF` section).
    pub fn file(path: impl Into<PathBuf>) -> TypeSource {
        TypeSource {
            path: path.into(),
            loaded: Arc::new(OnceLock::new()),
        }
    }

    /// Types already read (named `name` in messages).
    pub fn parsed(name: &str, btf: KernelBtf) -> TypeSource {
        let loaded = OnceLock::new();
        let _ = loaded.set(Ok(Arc::new(btf)));
        TypeSource {
            path: PathBuf::from(name),
            loaded: Arc::new(loaded),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the types can be had, without reading them to decide: read
    /// already, or a file that exists.
    pub fn available(&self) -> bool {
        match self.loaded.get() {
            Some(read) => read.is_ok(),
            None => self.path.exists(),
        }
    }

    /// The types, read on the first call; why they cannot be read otherwise.
    pub fn get(&self) -> Result<Arc<KernelBtf>, TypesUnreadable> {
        self.loaded
            .get_or_init(|| {
                KernelBtf::from_file(&self.path)
                    .map(Arc::new)
                    .map_err(Arc::new)
            })
            .clone()
            .map_err(|cause| TypesUnreadable {
                path: self.path.clone(),
                cause,
            })
    }
}

impl PartialEq for TypeSource {
    fn eq(&self, other: &TypeSource) -> bool {
        self.path == other.path
    }
}

impl Eq for TypeSource {}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            file: "<spec>".into(),
            symbols: None,
            kernel: None,
            unsafe_actions: false,
            btf: None,
            params: None,
            attach: AttachMode::Kprobe,
            multi: false,
        }
    }
}

impl CompileOptions {
    /// The kernel release the objects for `arch` target.
    pub fn kernel_for(&self, arch: Arch) -> KernelVersion {
        self.kernel.unwrap_or_else(|| arch.default_kernel())
    }
}

/// Checks `spec` for `arch`; every error of the file on failure. Without
/// the source text, messages cite other places by byte offset and the
/// programs get no line info: prefer [`check_source`].
pub fn check(spec: &Spec, arch: Arch, opts: &CompileOptions) -> Result<Checked, Vec<Diagnostic>> {
    check_source(spec, "", arch, opts)
}

/// Checks `spec`, parsed from `source`, for `arch`. The source text gives
/// messages their `line:col` and lowering its line info.
pub fn check_source(
    spec: &Spec,
    source: &str,
    arch: Arch,
    opts: &CompileOptions,
) -> Result<Checked, Vec<Diagnostic>> {
    check_mapped(spec, source, &SourceMap::identity(), arch, opts)
}

/// Checks `spec`, parsed from `pre`, the preprocessed text of `source`:
/// messages, their `line:col` and the line info are about `source`.
pub fn check_preprocessed(
    spec: &Spec,
    source: &str,
    pre: &Preprocessed,
    arch: Arch,
    opts: &CompileOptions,
) -> Result<Checked, Vec<Diagnostic>> {
    check_mapped(spec, source, &pre.map, arch, opts)
}

fn check_mapped(
    spec: &Spec,
    source: &str,
    map: &SourceMap,
    arch: Arch,
    opts: &CompileOptions,
) -> Result<Checked, Vec<Diagnostic>> {
    // Most specs define no macro: they are checked as parsed, uncopied.
    let expanded;
    let (spec, macro_uses) = if spec.macros.is_empty() {
        (spec, Vec::new())
    } else {
        match crate::lang::macros::expand(spec) {
            Ok((s, uses)) => {
                expanded = s;
                (&expanded, uses)
            }
            Err(mut d) => {
                d.sort_by_key(|d| d.span.start);
                return Err(d);
            }
        }
    };
    let mut cx = Checker::new(arch, opts, source, map);
    cx.mode = Mode::Check;
    cx.settings = cx.settings(spec.config.as_ref());
    cx.c_defs(&spec.c_defs);
    let plans = cx.plan_programs(spec);
    let attach_errors = std::mem::take(&mut cx.diags);
    for mode in [Mode::Declare, Mode::Declare, Mode::Check] {
        cx.pass(spec, &plans, mode);
    }
    cx.declare_maps(&spec.map_decls);
    let mut diags = attach_errors;
    diags.append(&mut cx.diags);
    if !diags.is_empty() {
        diags.sort_by_key(|d| d.span.start);
        crate::lang::macros::annotate(&mut diags, &macro_uses, source);
        return Err(map.diagnostics(diags));
    }
    let unsafe_used = unsafe_actions(&cx.bodies, &cx.outputs);
    let (mut programs, notes) = number_bodies(plans, &cx.bodies, (&opts.file, source, map));
    let mut bodies = cx.bodies;
    if uses_elapsed(&bodies) && !programs.iter().any(|p| p.kind == ProbeKind::Begin) {
        // `elapsed` counts from the first BEGIN program: a spec without
        // one gets an empty one.
        programs.insert(0, begin_program(bodies.len()));
        bodies.push(Body {
            pred: None,
            stmts: vec![],
            vars: vec![],
            span: Span::default(),
        });
    }
    Ok(Checked {
        name: spec_name(&opts.file),
        source: source.to_string(),
        map: map.clone(),
        func_ip: programs.iter().any(|p| p.multi.is_some()),
        programs,
        notes,
        bodies,
        maps: cx.maps,
        outputs: cx.outputs,
        unsafe_actions: unsafe_used,
        settings: cx.settings,
        tuples: cx.tuples,
        strftime: cx.strftime,
        macro_uses,
    })
}

/// The unsafe actions the bodies use, by name.
fn unsafe_actions(bodies: &[Body], outputs: &[OutputInfo]) -> Vec<String> {
    fn signals(stmts: &[TStmt]) -> bool {
        stmts.iter().any(|s| {
            matches!(s.kind, TStmtKind::Signal { .. }) || s.blocks().into_iter().any(|b| signals(b))
        })
    }
    let signal = bodies.iter().any(|b| signals(&b.stmts));
    let system = outputs
        .iter()
        .any(|o| matches!(o.kind, OutputKind::System { .. }));
    [(signal, "signal"), (system, "system")]
        .into_iter()
        .filter(|(used, _)| *used)
        .map(|(_, name)| name.to_string())
        .collect()
}

/// Whether a body reads `elapsed`.
fn uses_elapsed(bodies: &[Body]) -> bool {
    let mut found = false;
    let mut f = |e: &ir::TExpr| {
        found |= matches!(
            e.kind,
            ir::TKind::Builtin(crate::lang::ast::Builtin::Elapsed)
        )
    };
    for b in bodies {
        b.pred.iter().for_each(|p| p.visit(&mut f));
        b.stmts.iter().for_each(|s| s.visit_exprs(&mut f));
    }
    found
}

/// A BEGIN program of body `body`, which the spec did not write.
fn begin_program(body: usize) -> ProbeProgram {
    ProbeProgram {
        attach: crate::kprobe::AttachPoint::Begin,
        kind: ProbeKind::Begin,
        probe: "BEGIN".into(),
        func: String::new(),
        symbol: "BEGIN".into(),
        body,
        span: Span::default(),
        wrapped_syscall: false,
        proto: None,
        multi: None,
        wildcard: None,
    }
}

/// The longest program symbol (`kretprobe_<func>` and a uniqueness
/// suffix): BTF identifiers hold at most 127 bytes.
const MAX_SYMBOL: usize = 120;

/// The file stem: `vfs_read` for `fixtures/vfs_read.bt`.
fn spec_name(file: &str) -> String {
    std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "spec".into())
}

/// Whether a pass collects types or reports errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Declare,
    Check,
}

/// What one probe block of the spec becomes.
struct Plan {
    /// The kinds of its attach points.
    kinds: Vec<ProbeKind>,
    programs: Vec<ProbeProgram>,
    /// The one kprobe-multi program that can stand for `programs`
    /// ([`CompileOptions::multi`]), unless its body needs them apart.
    multi: Option<ProbeProgram>,
}

/// The probe being checked.
#[derive(Default)]
struct ProbeCx {
    kinds: Vec<ProbeKind>,
    wrapped_syscall: bool,
    /// Variables assigned so far, anywhere (reading others is an error).
    assigned: Vec<bool>,
    /// Variables assigned so far at the top level of the block.
    top_assigned: Vec<bool>,
    depth: u32,
    /// The `let` declarations of each enclosing block, innermost last:
    /// name and variable index.
    scopes: Vec<Vec<(String, usize)>>,
    /// Loops around the statement being checked.
    loops: u32,
    /// The prototypes of an fentry/fexit block's functions.
    protos: Vec<Arc<crate::btf::proto::FuncProto>>,
}

struct Checker<'a> {
    arch: Arch,
    opts: &'a CompileOptions,
    /// The text as written, and the map of the spans to it.
    source: &'a str,
    map: &'a SourceMap,
    mode: Mode,
    diags: Vec<Diagnostic>,
    maps: Vec<MapInfo>,
    map_index: HashMap<String, usize>,
    /// Maps already reported as never assigned.
    unassigned_reported: Vec<bool>,
    outputs: Vec<OutputInfo>,
    /// Variables of each probe block, kept across passes.
    vars: Vec<Vec<VarInfo>>,
    bodies: Vec<Body>,
    probe: ProbeCx,
    /// Index of the probe block being checked.
    block: usize,
    /// What the config block sets.
    settings: Settings,
    /// The types `let` declares, by (probe block, variable).
    decl_tys: HashMap<(usize, usize), tables::DeclTy>,
    /// The element types of each tuple type.
    tuples: Vec<Vec<ir::Ty>>,
    /// The formats of `strftime()`, interned.
    strftime: Vec<String>,
}

impl<'a> Checker<'a> {
    fn new(arch: Arch, opts: &'a CompileOptions, source: &'a str, map: &'a SourceMap) -> Self {
        Checker {
            arch,
            opts,
            source,
            map,
            mode: Mode::Declare,
            diags: vec![],
            maps: vec![],
            map_index: HashMap::new(),
            unassigned_reported: vec![],
            outputs: vec![],
            vars: vec![],
            bodies: vec![],
            probe: ProbeCx::default(),
            block: 0,
            settings: Settings::default(),
            decl_tys: HashMap::new(),
            tuples: Vec::new(),
            strftime: Vec::new(),
        }
    }

    /// Reports `d` in the check pass; the declare passes stay silent.
    fn error(&mut self, d: Diagnostic) {
        if self.mode == Mode::Check {
            self.diags.push(d);
        }
    }

    /// Reports `d`, that `e` is not the literal its place needs; a
    /// positional parameter read at run time is told how to fix it.
    fn not_literal(&mut self, e: &Expr, d: Diagnostic) {
        let d = match e.kind {
            ExprKind::Param(_) | ExprKind::ParamStr(_) => d.with_help(
                "with no values given when the spec compiles, positional parameters are read \
                 at run time; give them here with `probecc build SPEC -- ARG...`",
            ),
            _ => d,
        };
        self.error(d);
    }

    /// `line:col` of a span, for messages that cite another place.
    fn pos(&self, span: Span) -> String {
        if self.source.is_empty() {
            return format!("byte {}", span.start);
        }
        let (line, col) = line_col(self.source, self.map.span(span).start);
        format!("{line}:{col}")
    }

    /// Expands each probe's attach points into programs with unique symbols.
    fn plan_programs(&mut self, spec: &Spec) -> Vec<Plan> {
        let mut used: HashMap<String, usize> = HashMap::new();
        let mut plans = Vec::with_capacity(spec.probes.len());
        let mut unmatched = Vec::new();
        for probe in &spec.probes {
            self.diags.extend(self.mixed_tracing(probe));
            let kinds: Vec<ProbeKind> = probe.attach.iter().map(|a| a.kind).collect();
            let mut programs: Vec<ProbeProgram> = Vec::new();
            // The block's attach points so far: a wildcard block has
            // thousands, so repeats are found by hash, not by a scan.
            let mut seen: HashSet<AttachPoint> = HashSet::new();
            for a in &probe.attach {
                match attach::expand(a, self.arch, self.opts.symbols.as_deref()) {
                    Ok(list) => {
                        for e in list {
                            if seen.contains(&e.attach) {
                                continue;
                            }
                            let symbol = unique_symbol(&mut used, e.attach.symbol());
                            if symbol.len() > MAX_SYMBOL {
                                // The symbol names the program's BTF FUNC,
                                // which BTF limits to 127 bytes.
                                self.diags.push(
                                    Diagnostic::new(
                                        a.span,
                                        format!(
                                            "function name `{}` is {} characters long; at most {}",
                                            e.attach.func(),
                                            e.attach.func().len(),
                                            MAX_SYMBOL - 16
                                        ),
                                    )
                                    .with_label("too long"),
                                );
                                continue;
                            }
                            seen.insert(e.attach.clone());
                            let proto = match e.attach.is_tracing() {
                                false => None,
                                true => match self.tracing_proto(&e.attach, a.span) {
                                    Ok(p) => Some(p),
                                    Err(d) => {
                                        self.diags.push(d);
                                        continue;
                                    }
                                },
                            };
                            programs.push(ProbeProgram {
                                proto,
                                func: e.attach.func().to_string(),
                                attach: e.attach,
                                kind: a.kind,
                                probe: e.probe,
                                symbol,
                                body: 0,
                                span: a.span,
                                wrapped_syscall: a.kind == ProbeKind::Ksyscall
                                    && self.arch.syscall_wrapped(self.opts.kernel_for(self.arch)),
                                multi: None,
                                wildcard: a
                                    .target
                                    .contains('*')
                                    .then(|| format!("{}:{}", a.kind.name(), a.target)),
                            });
                        }
                    }
                    // A wildcard that matches nothing where the probe
                    // has other attach points is left out, as bpftrace
                    // leaves it: tools list the variants kernels name a
                    // function by (`lookup_fast`, `lookup_fast.constprop.*`).
                    Err(d) if probe.attach.len() > 1 && attach::is_unmatched_wildcard(a, &d) => {
                        unmatched.push(d)
                    }
                    Err(d) => self.diags.push(d),
                }
            }
            if programs.is_empty() {
                self.diags.append(&mut unmatched);
            }
            unmatched.clear();
            self.retarget(probe, &kinds, &mut programs);
            // A block made fentry/fexit is not a kprobe-multi one.
            let retargeted = programs.iter().any(|p| p.attach.is_tracing());
            let multi = if self.opts.multi && !retargeted {
                multi::group(&probe.attach, &programs, |base| {
                    unique_symbol(&mut used, base)
                })
            } else {
                None
            };
            plans.push(Plan {
                kinds,
                programs,
                multi,
            });
        }
        plans
    }

    /// One pass over every probe block.
    fn pass(&mut self, spec: &Spec, plans: &[Plan], mode: Mode) {
        self.mode = mode;
        self.outputs.clear();
        self.bodies.clear();
        self.vars.resize(spec.probes.len(), Vec::new());
        if mode == Mode::Check {
            for vars in &mut self.vars {
                vars.iter_mut().for_each(|v| v.needs_init = false);
            }
            self.unassigned_reported = vec![false; self.maps.len()];
        }
        for (i, (probe, plan)) in spec.probes.iter().zip(plans).enumerate() {
            self.block = i;
            self.probe_block(probe, plan);
        }
    }

    /// One block and its attach points.
    fn probe_block(&mut self, probe: &crate::lang::ast::Probe, plan: &Plan) {
        let nvars = self.vars[self.block].len();
        self.probe = ProbeCx {
            kinds: plan.kinds.clone(),
            wrapped_syscall: plan.programs.iter().any(|p| p.wrapped_syscall),
            assigned: vec![false; nvars],
            top_assigned: vec![false; nvars],
            depth: 0,
            scopes: vec![Vec::new()],
            loops: 0,
            protos: plan
                .programs
                .iter()
                .filter_map(|p| p.proto.clone())
                .collect(),
        };
        let pred = probe.pred.as_ref().map(|p| {
            let t = self.expr(p);
            self.need_int(&t, "a predicate");
            t
        });
        let stmts = self.block_stmts(&probe.body.stmts);
        let body = Body {
            pred,
            stmts,
            vars: self.vars[self.block].clone(),
            span: probe.span,
        };
        self.bodies.push(body);
    }
}

/// The programs of every block, each pointing at its block's body (bodies
/// are numbered in block order): a block's one kprobe-multi program where
/// it has one and its body allows, and a note for each block whose body
/// split it, saying why.
fn number_bodies(
    plans: Vec<Plan>,
    bodies: &[Body],
    (file, source, map): (&str, &str, &SourceMap),
) -> (Vec<ProbeProgram>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for (body, plan) in plans.into_iter().enumerate() {
        let split = bodies.get(body).and_then(multi::split_reason);
        let programs = match (plan.multi, split) {
            (Some(m), None) => vec![m],
            (Some(m), Some((span, why))) => {
                let (line, col) = line_col(source, map.span(span).start);
                notes.push(format!(
                    "{file}:{line}:{col}: note: {} is not one kprobe-multi program: {why}",
                    m.probe
                ));
                plan.programs
            }
            (None, _) => plan.programs,
        };
        out.extend(programs.into_iter().map(|p| ProbeProgram { body, ..p }));
    }
    (out, notes)
}

/// `base`, or `base_2`, `base_3`... whichever is still free.
fn unique_symbol(used: &mut HashMap<String, usize>, base: String) -> String {
    let n = used.entry(base.clone()).or_insert(0);
    *n += 1;
    if *n == 1 {
        return base;
    }
    let candidate = format!("{base}_{n}");
    if used.contains_key(&candidate) {
        return unique_symbol(used, candidate);
    }
    used.insert(candidate.clone(), 1);
    candidate
}

#[cfg(test)]
mod constant_tests;
#[cfg(test)]
mod record_tests;
#[cfg(test)]
mod syntax_tests;
#[cfg(test)]
mod tests;
