//! Lowering: a checked spec becomes an [`Object`] — one program per
//! expanded attach point ([`gen`]: expressions in [`int`] and [`string`],
//! fentry/fexit arguments in [`fentry`],
//! maps and aggregations in [`maps`], `len(@m)` and its callback in
//! [`len`], `for` over a map and its callback in [`formap`], records for user space in [`output`],
//! variables in [`vars`] (tuples in [`tuple`]), shared constants in
//! [`consts`], on a [`frame`] of
//! stack slots and registers, handing each other the [`operand`]s at the
//! bottom of `lower`), the maps and record types of [`layout`], the
//! read-only globals of the positional parameters read at run time
//! (`check::ir::param`) — and the [`Manifest`] that describes it.

mod bits;
mod bytes;
mod consts;
mod fentry;
mod field;
mod fold;
mod formap;
mod frame;
mod gen;
mod int;
mod layout;
mod len;
mod maps;
mod operand;
mod output;
mod propagate;
mod string;
mod tuple;
mod vars;

use crate::arch::Arch;
use crate::asm::CoreField;
use crate::lang::ast::Span;
use crate::lang::check::ir::Checked;
use crate::lang::check::CompileOptions;
use crate::lang::diag::Diagnostic;
use crate::lang::manifest::Manifest;
use crate::program::Object;

/// A compiled spec: the object to write with `elf::write`, and its manifest.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub object: Object,
    pub manifest: Manifest,
    /// What the compiler tells but is no error ([`Checked::notes`]).
    pub notes: Vec<String>,
}

/// Compiles every program of `checked`; every program's error on failure.
pub fn lower(
    checked: &Checked,
    arch: Arch,
    opts: &CompileOptions,
) -> Result<Compiled, Vec<Diagnostic>> {
    let mut object = Object::new(arch);
    object.maps = layout::map_defs(checked);
    object.types = layout::output_types(checked);
    object.globals = checked
        .param_globals()
        .into_iter()
        .map(|(_, g)| g)
        .collect();
    let mut diags = Vec::new();
    let shared = gen::Shared::new(checked);
    let mut subprograms = Vec::new();
    for p in &checked.programs {
        let done = gen::program(checked, &shared, p, arch, opts).and_then(|(main, subs)| {
            for (code, core) in std::iter::once(&main).chain(&subs) {
                record_core(&mut object, &code.name, core, p.span, opts)?;
            }
            Ok((main.0, subs))
        });
        match done {
            Ok((prog, subs)) => {
                object.programs.push(prog);
                subprograms.extend(subs.into_iter().map(|(code, _)| code));
            }
            Err(d) => diags.push(d),
        }
    }
    // Subprograms follow the programs, as clang's `.text` does.
    object.programs.extend(subprograms);
    object.programs.extend(len::callback(checked, &opts.file));
    if !diags.is_empty() {
        crate::lang::macros::annotate(&mut diags, &checked.macro_uses, &checked.source);
        return Err(checked.map.diagnostics(diags));
    }
    Ok(Compiled {
        object,
        manifest: Manifest::build(checked, arch),
        notes: checked.notes.clone(),
    })
}

/// Records a program's CO-RE relocations in the object, which copies the
/// kernel types they name into its BTF.
fn record_core(
    object: &mut Object,
    program: &str,
    core: &[(usize, CoreField)],
    span: Span,
    opts: &CompileOptions,
) -> Result<(), Diagnostic> {
    if core.is_empty() {
        return Ok(());
    }
    let kernel = opts
        .btf
        .as_ref()
        .ok_or_else(|| Diagnostic::new(span, "internal error: CO-RE without kernel types"))?
        .get()
        .map_err(|e| Diagnostic::new(span, crate::error::chain(&e)))?;
    for (slot, f) in core {
        object
            .core
            .field(kernel.btf(), program, *slot, &f.access, f.kind)
            .map_err(|e| Diagnostic::new(span, e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod param_tests;
#[cfg(test)]
mod tests;
