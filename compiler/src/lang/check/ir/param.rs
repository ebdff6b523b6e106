//! Positional parameters read at run time: when a spec compiles with no
//! values given (`CompileOptions::params` is `None`), each `$N`, `str($N)`
//! and `$#` it reads is a read-only global (`const volatile` in C, in
//! `.rodata`) that a loader sets before load, as libbpf's skeletons set
//! `rodata`. Their ELF symbols, which the manifest lists, are:
//!
//! - `$N`: `probecc_argN`, an `s64` (bpftrace's positional integers are
//!   signed 64-bit);
//! - `str($N)`: `probecc_argN_str`, a `char` array of the spec's string
//!   size (`max_strlen`, 64 by default) rounded up to 8: the text, cut to
//!   leave room for its NUL, zero-padded;
//! - `$#`: `probecc_argc`, a `u64`, the number of parameters given.
//!
//! Each is zero in the object: a loader that sets nothing runs the spec
//! as bpftrace runs it with no parameters (`0`, `""`, `0`).

use serde::{Deserialize, Serialize};

use super::{round8, Checked, TExpr, TKind};
use crate::program::{lay_out_globals, Global, GlobalType};

/// One positional parameter as the programs read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Param {
    /// `$#`.
    Count,
    /// `$N` as an integer.
    Int(u32),
    /// `str($N)`.
    Str(u32),
}

/// What a parameter's global holds, as the manifest names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    /// The parameter's text as a signed 64-bit integer.
    Int,
    /// The parameter's text, NUL-terminated in the global's size.
    Str,
    /// The number of parameters given.
    Count,
}

impl Param {
    /// The parameter's number (`$#` is 0).
    pub fn number(self) -> u32 {
        match self {
            Param::Count => 0,
            Param::Int(n) | Param::Str(n) => n,
        }
    }

    pub fn kind(self) -> ParamKind {
        match self {
            Param::Count => ParamKind::Count,
            Param::Int(_) => ParamKind::Int,
            Param::Str(_) => ParamKind::Str,
        }
    }

    /// The ELF symbol (and BTF VAR) of its global.
    pub fn symbol(self) -> String {
        match self {
            Param::Count => "probecc_argc".into(),
            Param::Int(n) => format!("probecc_arg{n}"),
            Param::Str(n) => format!("probecc_arg{n}_str"),
        }
    }

    /// Its global's type, strings `str_size` bytes (NUL included) long.
    pub fn global_type(self, str_size: u32) -> GlobalType {
        match self {
            Param::Count => GlobalType::U64,
            Param::Int(_) => GlobalType::S64,
            Param::Str(_) => GlobalType::Chars(round8(str_size)),
        }
    }
}

/// The globals of `params` (strings `str_size` bytes long), laid out in
/// `.rodata` in that order.
pub fn globals(params: &[Param], str_size: u32) -> Vec<Global> {
    lay_out_globals(params.iter().map(|p| (p.symbol(), p.global_type(str_size))))
}

impl Checked {
    /// The positional parameters the programs read at run time, each
    /// once, in [`Param`]'s order (`$#`, then by number, `$N` before
    /// `str($N)`): the object's read-only globals, laid out in this order.
    pub fn params(&self) -> Vec<Param> {
        let mut params = Vec::new();
        for b in &self.bodies {
            let mut f = |e: &TExpr| {
                if let TKind::Param(p) = e.kind {
                    params.push(p);
                }
            };
            b.pred.iter().for_each(|p| p.visit(&mut f));
            b.stmts.iter().for_each(|s| s.visit_exprs(&mut f));
        }
        params.sort();
        params.dedup();
        params
    }

    /// Each parameter of [`params`](Self::params) with its global in
    /// `.rodata`.
    pub fn param_globals(&self) -> Vec<(Param, Global)> {
        let params = self.params();
        let globals = globals(&params, self.settings.str_size);
        params.into_iter().zip(globals).collect()
    }
}
