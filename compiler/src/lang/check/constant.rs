//! A bare name used as a value (`AF_INET`, `TCP_ESTABLISHED`, `O_CREAT`):
//! a constant, as scripts take them from kernel headers. The script's own
//! `#define`s were expanded by the preprocessor; a name still left is
//! looked up in the kernel BTF's enumerators (when the compile has kernel
//! BTF), then in the arch's UAPI table and the supplement of
//! [`crate::lang::constants`]. A name found nowhere is an error at its
//! use, with the nearest known names.

use std::sync::Arc;

use super::ir::{TExpr, TKind, Ty};
use super::{Checker, Mode};
use crate::btf::kernel::KernelBtf;
use crate::lang::ast::{IntType, Span, BUILTINS};
use crate::lang::constants;
use crate::lang::diag::{suggest, Diagnostic};
use crate::suggest::nearest;

/// bpftrace builtins probecc does not support, for a precise message.
const UNSUPPORTED_BUILTINS: &[&str] = &[
    "ustack", "args", "ctx", "jiffies", "numaid", "cpid", "sarg0", "sarg1", "sarg2", "sarg3",
    "sarg4", "sarg5",
];

/// The kernel BTF whose enumerators are constants: `None` when the
/// compile has none; why it cannot be read otherwise.
type Kernel = Result<Option<Arc<KernelBtf>>, String>;

impl Checker<'_> {
    /// `name` as a value: its constant, or an error.
    pub(super) fn constant(&mut self, name: &str, span: Span) -> TExpr {
        match self.constant_value(name, span) {
            Some(v) => TExpr::new(TKind::Int(v), Ty::INT, span),
            None => TExpr::error(span),
        }
    }

    /// The value of constant `name`; `None` once the error is reported.
    pub(super) fn constant_value(&mut self, name: &str, span: Span) -> Option<i64> {
        let kernel = self.enum_source();
        if let Ok(Some(k)) = &kernel {
            if let Some(v) = k.enumerator(name) {
                return Some(v);
            }
        }
        if let Some(v) = constants::lookup(self.arch, name) {
            return Some(v);
        }
        if self.mode != Mode::Check {
            return None; // reported in the check pass, nearest names and all
        }
        let mut d = Diagnostic::new(span, format!("unknown identifier `{name}`"))
            .with_label("not a builtin, constant, variable or map");
        d = match self.nearest_names(name, &kernel) {
            Some(help) => d.with_help(help),
            None => d,
        };
        if let Err(why) = kernel {
            d = d.with_note(format!("the kernel BTF's enums were not searched: {why}"));
        }
        self.error(d);
        None
    }

    fn enum_source(&self) -> Kernel {
        match &self.opts.btf {
            Some(t) if t.available() => t.get().map(Some).map_err(|e| crate::error::chain(&e)),
            Some(t) => Err(format!("{} does not exist", t.path().display())),
            None => Ok(None),
        }
    }

    /// "Did you mean" for an unknown name: a builtin, what bpftrace means
    /// by it, a cast, or the nearest constants.
    fn nearest_names(&self, name: &str, kernel: &Kernel) -> Option<String> {
        if let Some(s) = suggest(name, BUILTINS.iter().map(|(n, _)| *n)) {
            return Some(format!("did you mean `{s}`?"));
        }
        if UNSUPPORTED_BUILTINS.contains(&name) {
            return Some(format!(
                "`{name}` is a bpftrace builtin that probecc does not support"
            ));
        }
        if IntType::from_word(name).is_some() {
            return Some(format!("a cast is written `({name})expr`"));
        }
        if super::expr::FUNCTIONS.contains(&name) {
            return Some(format!(
                "variables are written `${name}`, maps `@{name}`, and calls `{name}(...)`"
            ));
        }
        let mut known: Vec<&str> = constants::names(self.arch).collect();
        if let Ok(Some(k)) = kernel {
            known.extend(k.enumerator_names());
        }
        let near = nearest(name, known);
        Some(match near.as_slice() {
            [] => format!(
                "variables are written `${name}`, maps `@{name}`, and calls `{name}(...)`; constants come from `#define`, the kernel BTF's enums and the kernel headers"
            ),
            [one] => format!("did you mean `{one}`?"),
            more => format!(
                "did you mean one of {}?",
                more.iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }
}
