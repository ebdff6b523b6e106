//! Top-level C definitions (`struct nameidata { struct path path; ... };`,
//! which tools write for kernel types no header exports). probecc does not
//! compile C: kernel types come from the kernel's BTF, and members are
//! read at the offsets the loading kernel relocates them to (CO-RE). A
//! definition is therefore checked against the BTF type of its name: the
//! type must exist and have every member the definition names; then casts
//! and members use the BTF type. An `enum` definition is not supported.

use super::Checker;
use crate::btf::core::access::{resolve_path, Step};
use crate::btf::kernel::NamedKind;
use crate::lang::ast::CDef;
use crate::lang::diag::Diagnostic;

impl Checker<'_> {
    /// Checks every top-level definition.
    pub(super) fn c_defs(&mut self, defs: &[CDef]) {
        for d in defs {
            self.c_def(d);
        }
    }

    fn c_def(&mut self, d: &CDef) {
        let (kind, word) = match d.keyword.as_str() {
            "struct" => (NamedKind::Struct, "struct"),
            "union" => (NamedKind::Union, "union"),
            _ => {
                self.error(
                    Diagnostic::new(d.span, "C enum definitions are not supported yet")
                        .with_label("an enum definition")
                        .with_help("use the values as integers; kernel enums come from BTF"),
                );
                return;
            }
        };
        let c_name = format!("{word} {}", d.name);
        let what = format!("the definition of `{c_name}`");
        let Some(k) = self.kernel_types(d.name_span, &what) else {
            return;
        };
        let id = match k.lookup(kind, &d.name) {
            Ok(id) => id,
            Err(e) => {
                self.error(
                    Diagnostic::new(
                        d.name_span,
                        format!("`{c_name}` is defined here but is not a kernel type: {e}"),
                    )
                    .with_label("not in the kernel's BTF")
                    .with_help(
                        "probecc takes kernel types from BTF and does not compile C definitions",
                    ),
                );
                return;
            }
        };
        for (member, span) in &d.members {
            if let Err(e) = resolve_path(k.btf(), id, &[Step::Member(member.clone())]) {
                self.error(
                    Diagnostic::new(
                        *span,
                        format!("the kernel's `{c_name}` has no member `{member}`: {e}"),
                    )
                    .with_label("not in the kernel's type")
                    .with_help(
                        "probecc reads the kernel's definition (BTF), not this one: each member it names must be the kernel's",
                    ),
                );
            }
        }
    }
}
