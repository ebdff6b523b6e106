//! The probe language: bpftrace-compatible specifications (`.bt` files) for
//! kprobes and kretprobes. `parse` turns text into an [`ast::Spec`],
//! `macros` expands bpftrace's macros in it, `check` resolves names, types,
//! maps and attach points for one arch, `lower` turns the checked spec into
//! DSL programs, and `manifest` describes the result for the runners.
//! Errors of every stage are [`diag::Diagnostic`]s.

pub mod ast;
pub mod check;
pub mod diag;
pub mod lex;
pub mod lower;
pub mod macros;
pub mod manifest;
pub mod parse;
pub mod pretty;

pub use check::{check, check_source, CompileOptions};
pub use lower::{lower, Compiled};

/// Parses, checks and lowers `src` for `arch`: the object and its manifest,
/// or every error of the first stage that failed.
pub fn compile(
    src: &str,
    arch: crate::Arch,
    opts: &CompileOptions,
) -> Result<Compiled, Vec<diag::Diagnostic>> {
    let spec = parse::parse(src)?;
    let checked = check_source(&spec, src, arch, opts)?;
    lower(&checked, arch, opts).map_err(|mut d| {
        macros::annotate(&mut d, &checked.macro_uses, src);
        d
    })
}
