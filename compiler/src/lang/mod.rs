//! The probe language: bpftrace-compatible specifications (`.bt` files) for
//! kprobes and kretprobes. `preprocess` runs the C preprocessor's
//! directives, `parse` turns text into an [`ast::Spec`], `macros` expands
//! bpftrace's macros in it, `check` resolves names, types, maps and attach
//! points for one arch, `lower` turns the checked spec into DSL programs,
//! and `manifest` describes the result for the runners. Errors of every
//! stage are [`diag::Diagnostic`]s.

pub mod ast;
pub mod check;
pub mod constants;
pub mod diag;
pub mod lex;
pub mod lower;
pub mod macros;
pub mod manifest;
pub mod parse;
pub mod preprocess;
pub mod pretty;

pub use check::{check, check_preprocessed, check_source, AttachMode, CompileOptions};
pub use lower::{lower, Compiled};

/// Whether `src` has a wildcard attach point (`kprobe:vfs_*`), which
/// expands against a symbol list; `false` if it does not parse (compiling
/// it says why).
pub fn has_wildcards(src: &str, opts: &CompileOptions) -> bool {
    let Ok(pre) = preprocess::preprocess(src, &preprocess::Options::for_compile(opts)) else {
        return false;
    };
    parse::parse_preprocessed(&pre, src).is_ok_and(|spec| {
        spec.probes
            .iter()
            .flat_map(|p| &p.attach)
            .any(|a| a.target.contains('*'))
    })
}

/// Preprocesses, parses, checks and lowers `src` for `arch`: the object
/// and its manifest, or every error of the first stage that failed, each
/// about the text as written.
pub fn compile(
    src: &str,
    arch: crate::Arch,
    opts: &CompileOptions,
) -> Result<Compiled, Vec<diag::Diagnostic>> {
    let pre = preprocess::preprocess(src, &preprocess::Options::for_compile(opts))?;
    let spec = parse::parse_with_params(&pre, src, opts.params.as_deref())?;
    let checked = check_preprocessed(&spec, src, &pre, arch, opts)?;
    lower(&checked, arch, opts)
}
