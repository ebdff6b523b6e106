//! fentry and fexit blocks: each attach point's prototype from the kernel's
//! BTF (`btf::proto`), and the arguments by name (`args.NAME`,
//! `args->NAME`) and position (`argN`) and fexit's `retval`, typed by it: a
//! pointer argument is a kernel pointer (`args.file->f_pos` needs no cast),
//! an integer has its C signedness. Every attach point of a block must
//! agree on what an argument it reads is, since one body serves them all.

use std::sync::Arc;

use super::ir::{ProbeProgram, TExpr, TKind, Ty};
use super::Checker;
use crate::btf::proto::{self, ArgType, FuncProto};
use crate::kprobe::AttachPoint;
use crate::lang::ast::{Builtin, Expr, ExprKind, Probe, ProbeKind, Span, Stmt};
use crate::lang::diag::Diagnostic;

/// What `kprobe:` and `kretprobe:` attach points compile to (`--attach`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AttachMode {
    /// As written: kprobes.
    #[default]
    Kprobe,
    /// fentry for `kprobe:FUNC`, fexit for `kretprobe:FUNC`; a function
    /// no trampoline can call is an error.
    Fentry,
    /// fentry and fexit where the target's arch and kernel release have BPF
    /// trampolines and every function of a block has a prototype that
    /// allows it; kprobes elsewhere, and where the release is not given.
    Auto,
}

impl AttachMode {
    /// The command-line spellings.
    pub const NAMES: [&'static str; 3] = ["kprobe", "fentry", "auto"];

    pub fn from_name(name: &str) -> Option<AttachMode> {
        match name {
            "kprobe" => Some(AttachMode::Kprobe),
            "fentry" => Some(AttachMode::Fentry),
            "auto" => Some(AttachMode::Auto),
            _ => None,
        }
    }
}

/// The fentry (or fexit) attach point of `target`, `FUNC` or bpftrace's
/// `MODULE:FUNC` (the kernel finds a module's function by its name).
pub fn attach_point(target: &str, fexit: bool) -> AttachPoint {
    let func = target.rsplit(':').next().unwrap_or(target).to_string();
    if fexit {
        AttachPoint::Fexit { func }
    } else {
        AttachPoint::Fentry { func }
    }
}

/// Whether `probe`'s predicate or body has an expression `wanted` accepts.
fn reads(probe: &Probe, wanted: &dyn Fn(&ExprKind) -> bool) -> bool {
    fn expr(e: &mut Expr, wanted: &dyn Fn(&ExprKind) -> bool) -> bool {
        wanted(&e.kind) || e.children_mut().into_iter().any(|c| expr(c, wanted))
    }
    fn stmt(s: &mut Stmt, wanted: &dyn Fn(&ExprKind) -> bool) -> bool {
        s.exprs_mut().into_iter().any(|e| expr(e, wanted))
            || s.blocks_mut()
                .into_iter()
                .any(|b| b.stmts.iter_mut().any(|s| stmt(s, wanted)))
    }
    let mut p = probe.clone();
    p.pred.as_mut().is_some_and(|e| expr(e, wanted))
        || p.body.stmts.iter_mut().any(|s| stmt(s, wanted))
}

/// Whether `probe`'s predicate or body reads `kstack`, bare or as
/// `kstack(MODE, N)`.
fn reads_kstack(probe: &Probe) -> bool {
    reads(probe, &|k| match k {
        ExprKind::Builtin(b) => matches!(b, Builtin::Kstack),
        ExprKind::Call { name, .. } => name == "kstack",
        _ => false,
    })
}

/// Whether `probe` reads an `argN` past the `params` arguments a
/// function takes: a kprobe reads that register whatever the function
/// is, a tracing program has no such slot.
fn reads_arg_past(probe: &Probe, params: usize) -> bool {
    reads(
        probe,
        &|k| matches!(k, ExprKind::Builtin(Builtin::Arg(n)) if usize::from(*n) >= params),
    )
}

impl Checker<'_> {
    /// The prototype of a tracing attach point's function, or the error
    /// saying why it cannot be traced so.
    pub(super) fn tracing_proto(
        &mut self,
        at: &AttachPoint,
        span: Span,
    ) -> Result<Arc<FuncProto>, Diagnostic> {
        let what = format!("`{at}`");
        let k = match &self.opts.btf {
            None => Err(format!(
                "{what} needs the kernel's types, and none were given: pass `--btf FILE` (a vmlinux BTF such as /sys/kernel/btf/vmlinux)"
            )),
            Some(src) => src.get().map_err(|e| crate::error::chain(&e)),
        }
        .map_err(|msg| Diagnostic::new(span, msg).with_label("no kernel BTF"))?;
        proto::lookup(&k, at.func(), at.is_return())
            .map(Arc::new)
            .map_err(|e| Diagnostic::new(span, e.to_string()).with_label("not traceable"))
    }

    /// A block of `kprobe:`/`kretprobe:` attach points made fentry/fexit
    /// programs as `--attach` asks: every program of the block or none
    /// (one body reads one kind of context). Each program keeps its kind
    /// and probe name, so the body is checked as the kprobe it was
    /// (`argN` and `retval` untyped 64-bit values, `probe` and `func` as
    /// they were); only where it attaches changes.
    pub(super) fn retarget(
        &mut self,
        probe: &Probe,
        kinds: &[ProbeKind],
        programs: &mut [ProbeProgram],
    ) {
        let arch = self.arch;
        let wanted = match self.opts.attach {
            AttachMode::Kprobe => false,
            AttachMode::Fentry => true,
            AttachMode::Auto => self.opts.kernel.is_some_and(|k| arch.has_trampolines(k)),
        };
        let kprobes = |k: &ProbeKind| matches!(k, ProbeKind::Kprobe | ProbeKind::Kretprobe);
        let at_entry = |p: &ProbeProgram| !matches!(p.attach, AttachPoint::Kprobe { offset, .. } if offset != 0);
        if !wanted
            || programs.is_empty()
            || !kinds.iter().all(kprobes)
            || !programs.iter().all(at_entry)
            || self.one_link_instead(probe, programs)
        {
            return;
        }
        if reads_kstack(probe) {
            // A tracing program's stack starts at the trampoline, where a
            // kprobe's starts at the function: kstack would differ.
            if self.opts.attach == AttachMode::Fentry {
                self.diags.push(
                    Diagnostic::new(
                        probe.span,
                        "kstack in an fentry/fexit program starts at the BPF trampoline, not at the probed function as a kprobe's does",
                    )
                    .with_label("reads kstack")
                    .with_help("`--attach auto` keeps this block a kprobe"),
                );
            }
            return;
        }
        let mut protos = Vec::with_capacity(programs.len());
        for p in programs.iter() {
            let at = attach_point(p.attach.func(), p.attach.is_return());
            match self.tracing_proto(&at, p.span) {
                Ok(proto) => protos.push((at, proto)),
                Err(d) if self.opts.attach == AttachMode::Fentry => {
                    self.diags.push(d.with_help("`--attach fentry` makes this kprobe an fentry program; `--attach auto` keeps it a kprobe"));
                    return;
                }
                Err(_) => return,
            }
        }
        if let Some((at, proto)) = protos
            .iter()
            .find(|(_, proto)| reads_arg_past(probe, proto.params.len()))
        {
            // A kprobe reads any argument register; a tracing program has
            // only the function's own arguments.
            if self.opts.attach == AttachMode::Fentry {
                self.diags.push(
                    Diagnostic::new(
                        probe.span,
                        format!(
                            "`{}` takes {} arguments, and this block reads an `argN` past them, which an fentry/fexit program has no slot for",
                            at.func(),
                            proto.params.len()
                        ),
                    )
                    .with_label("reads an argument the function does not take")
                    .with_help("`--attach auto` keeps this block a kprobe"),
                );
            }
            return;
        }
        for (p, (at, proto)) in programs.iter_mut().zip(protos) {
            p.attach = at;
            p.proto = Some(proto);
        }
    }

    /// Whether `auto` leaves a block of `programs` kprobes for one
    /// kprobe-multi program (with `--multi`): a wildcard block, whose
    /// attach cost as fentry grows with what the glob matches on the
    /// target (each fentry program is verified and gets a trampoline of
    /// its own), where one link attaches any number of functions at once.
    /// bpftrace attaches wildcards by one link too. A block that lists its
    /// functions stays fentry: its count is what the user wrote.
    fn one_link_instead(&self, probe: &Probe, programs: &[ProbeProgram]) -> bool {
        self.opts.attach == AttachMode::Auto
            && self.opts.multi
            && programs.len() > 1
            && probe.attach.iter().any(|a| a.target.contains('*'))
    }

    /// A block mixing fentry/fexit with other kinds: one body cannot read
    /// arguments from both kinds of context.
    pub(super) fn mixed_tracing(&self, probe: &Probe) -> Option<Diagnostic> {
        let tracing = probe.attach.iter().filter(|a| a.kind.is_tracing()).count();
        (tracing > 0 && tracing < probe.attach.len()).then(|| {
            Diagnostic::new(
                probe.span,
                "fentry and fexit attach points cannot share a block with other kinds",
            )
            .with_label("give them a block of their own")
        })
    }

    /// Whether the block being checked is fentry/fexit.
    pub(super) fn in_tracing_block(&self) -> bool {
        !self.probe.kinds.is_empty() && self.probe.kinds.iter().all(|k| k.is_tracing())
    }

    /// Whether `e` is `args.NAME` or `args->NAME` in an fentry/fexit block.
    pub(super) fn is_tracing_args(&self, e: &Expr) -> bool {
        matches!(&e.kind, ExprKind::Member { expr, .. }
            if matches!(&expr.kind, ExprKind::Ident(n) if n == "args"))
            && self.in_tracing_block()
    }

    /// `args.NAME` or `args->NAME` in an fentry/fexit block, typed; `None`
    /// when `e` is not one (or the block is of another kind).
    pub(super) fn tracing_args_member(&mut self, e: &Expr) -> Option<TExpr> {
        if !self.is_tracing_args(e) {
            return None;
        }
        let ExprKind::Member {
            member,
            member_span,
            ..
        } = &e.kind
        else {
            return None;
        };
        let mut index = None;
        for p in &self.probe.protos {
            let found = p.param(member).map(|(i, _)| i);
            match (found, index) {
                (None, _) => {
                    let names: Vec<&str> = p.params.iter().map(|q| q.name.as_str()).collect();
                    let msg = format!("`{}` has no argument `{member}`", p.func);
                    self.error(
                        Diagnostic::new(*member_span, msg)
                            .with_label("no such argument")
                            .with_help(format!("its arguments: {}", names.join(", "))),
                    );
                    return Some(TExpr::error(e.span));
                }
                (Some(i), Some(j)) if i != j => {
                    let msg = format!(
                        "`{member}` is argument {i} of `{}` and argument {j} of another function of the block",
                        p.func
                    );
                    self.error(Diagnostic::new(*member_span, msg).with_label("ambiguous"));
                    return Some(TExpr::error(e.span));
                }
                (Some(i), _) => index = Some(i),
            }
        }
        let n = index.and_then(|i| u8::try_from(i).ok())?;
        Some(self.tracing_arg(n, e.span))
    }

    /// `argN` (or `args.NAME`, argument `n`) in an fentry/fexit block.
    pub(super) fn tracing_arg(&mut self, n: u8, span: Span) -> TExpr {
        let mut ty: Option<ArgType> = None;
        for p in &self.probe.protos {
            let Some(param) = p.params.get(usize::from(n)) else {
                let msg = format!(
                    "`{}` takes {} arguments; arg{n} is not one of them",
                    p.func,
                    p.params.len()
                );
                self.error(Diagnostic::new(span, msg).with_label("no such argument"));
                return TExpr::error(span);
            };
            match ty {
                Some(t) if t != param.ty => {
                    let msg = format!(
                        "argument {n} (`{}`) has different types in the functions of the block",
                        param.name
                    );
                    self.error(Diagnostic::new(span, msg).with_label("types differ"));
                    return TExpr::error(span);
                }
                _ => ty = Some(param.ty),
            }
        }
        let Some(t) = ty else {
            return TExpr::error(span);
        };
        self.typed(TKind::Builtin(Builtin::Arg(n)), t, span, "argument")
    }

    /// `retval` in an fexit block: the function's return value, typed.
    pub(super) fn tracing_retval(&mut self, span: Span) -> TExpr {
        if !self.probe.kinds.iter().all(|k| k.is_return()) {
            self.error(
                Diagnostic::new(span, "retval is only available in fexit, not fentry")
                    .with_label("not a return probe"),
            );
            return TExpr::error(span);
        }
        let mut ty: Option<ArgType> = None;
        for p in &self.probe.protos {
            match (p.ret, ty) {
                (None, _) => {
                    let msg = format!("`{}` returns void: there is no retval", p.func);
                    self.error(Diagnostic::new(span, msg).with_label("void function"));
                    return TExpr::error(span);
                }
                (Some(r), Some(t)) if r != t => {
                    self.error(
                        Diagnostic::new(span, "the functions of the block return different types")
                            .with_label("types differ"),
                    );
                    return TExpr::error(span);
                }
                (Some(r), _) => ty = Some(r),
            }
        }
        let Some(t) = ty else {
            return TExpr::error(span);
        };
        self.typed(TKind::Builtin(Builtin::Retval), t, span, "return value")
    }

    /// The expression `kind` of BTF type `t`.
    fn typed(&mut self, kind: TKind, t: ArgType, span: Span, what: &str) -> TExpr {
        let ty = match t {
            ArgType::Int { signed, .. } => Ty::Int { signed },
            ArgType::Ptr { pointee: 0, .. } => Ty::Int { signed: false },
            ArgType::Ptr { pointee, .. } => Ty::Ptr(pointee),
            ArgType::Record { bytes } => {
                let msg = format!(
                    "this {what} is a {bytes}-byte struct passed by value, which probecc does not read"
                );
                self.error(Diagnostic::new(span, msg).with_label("a struct by value"));
                return TExpr::error(span);
            }
        };
        TExpr::new(kind, ty, span)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::super::ir::{Checked, TStmtKind};
    use super::*;
    use crate::arch::Arch;
    use crate::lang::check::{check_source, CompileOptions, TypeSource};
    use crate::lang::parse::parse;

    /// Options whose kernel types are `btf::proto`'s test BTF (vfs_read,
    /// vfs_write, narrow, takes_pair...), written once per test process.
    pub(crate) fn opts() -> CompileOptions {
        static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
        let path = PATH.get_or_init(|| {
            let p = std::env::temp_dir().join(format!("probecc-fentry-{}.btf", std::process::id()));
            std::fs::write(&p, crate::btf::proto::tests::kernel_btf_bytes()).unwrap();
            p
        });
        CompileOptions {
            btf: Some(TypeSource::file(path.clone())),
            ..CompileOptions::default()
        }
    }

    fn checked(src: &str) -> Result<Checked, Vec<Diagnostic>> {
        let spec = parse(src).unwrap_or_else(|d| panic!("parse: {d:?}"));
        check_source(&spec, src, Arch::X86_64, &opts())
    }

    /// The value of the first `@m = value;`.
    fn value_of(src: &str) -> TExpr {
        let c = checked(src).unwrap_or_else(|d| panic!("{d:#?}"));
        c.bodies[0]
            .stmts
            .iter()
            .find_map(|s| match &s.kind {
                TStmtKind::SetMap { value, .. } => Some(value.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no map assignment in {src}"))
    }

    /// The message of the one error of `src`.
    fn error_of(src: &str) -> String {
        let d = checked(src).expect_err(src);
        assert_eq!(d.len(), 1, "{d:#?}");
        d[0].message.clone()
    }

    #[test]
    fn arguments_by_name_and_position_are_typed_by_the_prototype() {
        for src in [
            "fentry:vfs_read { @m = args.count; }",
            "fentry:vfs_read { @m = args->count; }",
            "kfunc:vfs_read { @m = arg2; }",
        ] {
            let v = value_of(src);
            assert_eq!(v.kind, TKind::Builtin(Builtin::Arg(2)), "{src}");
            assert_eq!(v.ty, Ty::Int { signed: false }, "{src}");
        }
        let v = value_of("fexit:vfs_read { @m = retval; }");
        assert_eq!(
            (v.kind, v.ty),
            (TKind::Builtin(Builtin::Retval), Ty::Int { signed: true })
        );
        assert_eq!(
            value_of("fentry:narrow { @m = args.a; }").ty,
            Ty::Int { signed: true }
        );
    }

    #[test]
    fn pointer_arguments_read_members_without_a_cast() {
        for src in [
            "fentry:vfs_read { @m = args.file->f_pos; }",
            "fentry:vfs_read { @m = args->file->f_pos; }",
            "fentry:vfs_read { @m = args.file.f_pos; }",
            "fexit:vfs_read { @m = ((struct file *)arg0)->f_pos; }",
        ] {
            let v = value_of(src);
            let TKind::Field { base, .. } = &v.kind else {
                panic!("{src}: {v:?}");
            };
            assert_eq!(base.kind, TKind::Builtin(Builtin::Arg(0)), "{src}");
            assert_eq!(v.ty, Ty::Int { signed: true }, "{src}");
        }
    }

    #[test]
    fn attach_points_and_sections() {
        let c = checked(
            "fentry:vmlinux:vfs_read, f:vfs_write { @m = args.count; }\nkretfunc:vfs_read, fr:vfs_write { @r = retval; }",
        )
        .unwrap_or_else(|d| panic!("{d:#?}"));
        let sections: Vec<String> = c.programs.iter().map(|p| p.attach.section()).collect();
        assert_eq!(
            sections,
            [
                "fentry/vfs_read",
                "fentry/vfs_write",
                "fexit/vfs_read",
                "fexit/vfs_write"
            ]
        );
        assert_eq!(c.programs[2].proto.as_ref().map(|p| p.ret_slot()), Some(4));
    }

    #[test]
    fn what_cannot_be_read_is_an_error_saying_why() {
        let cases = [
            (
                "fentry:vfs_read { @m = args.nope; }",
                "`vfs_read` has no argument `nope`",
            ),
            (
                "fentry:vfs_read { @m = retval; }",
                "retval is only available in fexit, not fentry",
            ),
            (
                "fentry:narrow { @m = arg2; }",
                "`narrow` takes 2 arguments; arg2 is not one of them",
            ),
            (
                "fexit:takes_pair { @m = retval; }",
                "`takes_pair` returns void: there is no retval",
            ),
            (
                "fentry:takes_pair { @m = args.p; }",
                "this argument is a 16-byte struct passed by value, which probecc does not read",
            ),
            (
                "fentry:vfs_read, fentry:narrow { @m = arg1; }",
                "argument 1 (`b`) has different types in the functions of the block",
            ),
            (
                "fentry:vfs_read, kprobe:vfs_write { @m = 1; }",
                "fentry and fexit attach points cannot share a block with other kinds",
            ),
            (
                "fentry:vfs_raed { @m = 1; }",
                "`vfs_raed` is not a function in the kernel's BTF; did you mean vfs_read, vfs_write?",
            ),
            (
                "fentry:seven { @m = 1; }",
                "`seven` takes 7 arguments; BPF trampolines pass at most 6",
            ),
            (
                "fexit:do_exit { @m = 1; }",
                "the kernel refuses tracing programs on `do_exit`: it never returns, so fexit would never run",
            ),
        ];
        for (src, msg) in cases {
            assert_eq!(error_of(src), msg, "{src}");
        }
    }

    /// The sections of `src` checked for `arch` with `attach` and `kernel`.
    fn fentry_both() -> Vec<String> {
        vec![
            "fentry/vfs_read".to_string(),
            "fentry/vfs_write".to_string(),
        ]
    }

    fn sections_with(
        src: &str,
        arch: Arch,
        attach: AttachMode,
        kernel: Option<(u16, u16)>,
    ) -> Vec<String> {
        let spec = parse(src).unwrap();
        let opts = CompileOptions {
            attach,
            kernel: kernel.map(|(a, b)| crate::arch::KernelVersion(a, b)),
            ..opts()
        };
        let c = check_source(&spec, src, arch, &opts).unwrap_or_else(|d| panic!("{d:#?}"));
        c.programs.iter().map(|p| p.attach.section()).collect()
    }

    /// The first error of `src` checked for x86_64 with `--attach fentry`.
    fn first_fentry_error(src: &str) -> String {
        let spec = parse(src).unwrap();
        let opts = CompileOptions {
            attach: AttachMode::Fentry,
            ..opts()
        };
        let d = check_source(&spec, src, Arch::X86_64, &opts).unwrap_err();
        d[0].message.clone()
    }

    #[test]
    fn attach_modes_choose_kprobe_or_fentry() {
        let src = "kprobe:vfs_read { @a = arg2; } kretprobe:vfs_read { @r = retval; } kprobe:vfs_write+4 { @o = 1; }";
        let kprobes = [
            "kprobe/vfs_read",
            "kretprobe/vfs_read",
            "kprobe/vfs_write+4",
        ];
        let fentry = ["fentry/vfs_read", "fexit/vfs_read", "kprobe/vfs_write+4"];
        let x86 = Arch::X86_64;
        assert_eq!(
            sections_with(src, x86, AttachMode::Kprobe, Some((6, 1))),
            kprobes
        );
        assert_eq!(sections_with(src, x86, AttachMode::Fentry, None), fentry);
        assert_eq!(
            sections_with(src, x86, AttachMode::Auto, Some((6, 1))),
            fentry
        );
        // auto with --multi: a wildcard block is one kprobe-multi program,
        // a listed one stays fentry; --attach fentry makes both fentry.
        let with_multi = |src: &str, attach| {
            let spec = parse(src).unwrap();
            let opts = CompileOptions {
                attach,
                kernel: Some(crate::arch::KernelVersion(6, 12)),
                multi: true,
                symbols: Some(["vfs_read", "vfs_write"].map(String::from).to_vec()),
                ..opts()
            };
            let c = check_source(&spec, src, x86, &opts).unwrap_or_else(|d| panic!("{d:#?}"));
            let sections: Vec<String> = c.programs.iter().map(|p| p.attach.section()).collect();
            (
                sections,
                c.programs.iter().filter(|p| p.multi.is_some()).count(),
            )
        };
        let wild = "kprobe:vfs_* { @ = count(); }";
        let listed = "kprobe:vfs_read, kprobe:vfs_write { @ = count(); }";
        assert_eq!(with_multi(wild, AttachMode::Auto).1, 1);
        assert_eq!(with_multi(listed, AttachMode::Auto), (fentry_both(), 0));
        assert_eq!(with_multi(wild, AttachMode::Fentry), (fentry_both(), 0));
        // auto: kprobes where the release is unknown or has no trampolines.
        assert_eq!(sections_with(src, x86, AttachMode::Auto, None), kprobes);
        assert_eq!(
            sections_with(src, Arch::S390x, AttachMode::Auto, Some((6, 1))),
            kprobes
        );
        assert_eq!(
            sections_with(src, Arch::S390x, AttachMode::Auto, Some((6, 12))),
            fentry
        );
        // A function without a prototype: auto keeps the block a kprobe,
        // fentry says why it cannot.
        let missing = "kprobe:vfs_read, kprobe:no_such_fn { @a = 1; }";
        assert_eq!(
            sections_with(missing, x86, AttachMode::Auto, Some((6, 1))),
            ["kprobe/vfs_read", "kprobe/no_such_fn"]
        );
        assert!(first_fentry_error(missing)
            .starts_with("`no_such_fn` is not a function in the kernel's BTF"));
    }

    #[test]
    fn a_block_reading_an_argument_the_function_lacks_stays_a_kprobe() {
        // vfs_read takes four arguments: arg4 is a register to a kprobe
        // and no slot of an fentry program.
        let src = "kprobe:vfs_read { @[arg4] = count(); }";
        let x86 = Arch::X86_64;
        assert_eq!(
            sections_with(src, x86, AttachMode::Auto, Some((6, 1))),
            ["kprobe/vfs_read"]
        );
        let within = "kprobe:vfs_read { @[arg3] = count(); }";
        assert_eq!(
            sections_with(within, x86, AttachMode::Auto, Some((6, 1))),
            ["fentry/vfs_read"]
        );
        let err = first_fentry_error(src);
        assert!(
            err.starts_with(
                "`vfs_read` takes 4 arguments, and this block reads an `argN` past them"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_block_calling_kstack_with_a_mode_stays_a_kprobe() {
        let src = "kprobe:vfs_read { @s[kstack(perf, 3)] = count(); }";
        assert_eq!(
            sections_with(src, Arch::X86_64, AttachMode::Auto, Some((6, 1))),
            ["kprobe/vfs_read"]
        );
    }

    #[test]
    fn a_block_reading_kstack_stays_a_kprobe() {
        let src = "kprobe:vfs_read { if (pid > 1) { @s[kstack] = count(); } }";
        let x86 = Arch::X86_64;
        assert_eq!(
            sections_with(src, x86, AttachMode::Auto, Some((6, 1))),
            ["kprobe/vfs_read"]
        );
        assert!(first_fentry_error(src)
            .starts_with("kstack in an fentry/fexit program starts at the BPF trampoline"));
    }

    #[test]
    fn a_kprobe_built_as_fentry_keeps_its_kind_and_probe_name() {
        let src = "kprobe:narrow { @a = arg1; }";
        let spec = parse(src).unwrap();
        let opts = CompileOptions {
            attach: AttachMode::Fentry,
            ..opts()
        };
        let c = check_source(&spec, src, Arch::X86_64, &opts).unwrap();
        let p = &c.programs[0];
        assert_eq!(
            (p.kind, p.probe.as_str()),
            (ProbeKind::Kprobe, "kprobe:narrow")
        );
        assert_eq!(p.attach.section(), "fentry/narrow");
    }

    #[test]
    fn without_kernel_types_fentry_says_what_it_needs() {
        let src = "fentry:vfs_read { @m = 1; }";
        let spec = parse(src).unwrap();
        let d = check_source(&spec, src, Arch::X86_64, &CompileOptions::default()).unwrap_err();
        assert!(
            d[0].message
                .starts_with("`fentry:vfs_read` needs the kernel's types, and none were given"),
            "{}",
            d[0].message
        );
    }
}
