//! The checked program: what `check` makes of a [`Spec`](crate::lang::ast::Spec)
//! for one arch, and what `lower` and `manifest` read. Every expression has a
//! type, every variable and map an index into a table, every attach point is
//! expanded into the programs it makes, and every map knows its final key
//! and value layout (string sizes unified over all uses).
//!
//! Layout rules (shared by lowering, the manifest and BTF): every integer is
//! 8 bytes; a string of capacity `N` (NUL included) is stored in
//! `round8(N)` bytes; map keys concatenate their parts at 8-byte aligned
//! offsets (a keyless map has one u64 key, 0); histogram maps append a u64
//! bucket to the key.
//!
//! The value types are in `ty`, the maps' keys, values and layout in `map`,
//! the aggregations in `agg`;
//! this module holds the typed expressions and statements, the programs,
//! the records they send user space ([`OutputInfo`]) and the whole
//! checked spec.

mod agg;
mod map;
mod names;
pub mod param;
pub mod settings;
mod ty;

use crate::btf::core::access::FieldAccess;
use crate::kprobe::AttachPoint;
use crate::lang::ast::{BinOp, Builtin, IntType, ProbeKind, Span};
use crate::lang::preprocess::map::SourceMap;

pub use agg::Agg;
pub use map::{KeyTy, MapInfo, ValueKind, MAX_ENTRIES};
pub use names::NameTable;
pub use param::{Param, ParamKind};
pub use settings::{RuntimeConfig, Settings};
pub use ty::{round8, stack_map, tuple_offsets, Stack, Sym, Ty, INET_SIZE};

/// A typed expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TExpr {
    pub kind: TKind,
    pub ty: Ty,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TKind {
    Int(i64),
    /// A string literal's bytes, without the NUL.
    Str(Vec<u8>),
    /// A builtin; `func` and `probe` are resolved per program when lowering.
    Builtin(Builtin),
    /// A scratch variable, by index into [`Body::vars`].
    Var(usize),
    /// A positional parameter read at run time from its read-only global
    /// ([`param`]).
    Param(Param),
    /// A map read, by index into [`Checked::maps`].
    MapRead {
        map: usize,
        keys: Vec<TExpr>,
    },
    Neg(Box<TExpr>),
    BitNot(Box<TExpr>),
    /// Logical `!`.
    Not(Box<TExpr>),
    /// Arithmetic, bitwise or comparison operator on integers. `signed`
    /// selects signed comparisons.
    Binary {
        op: BinOp,
        lhs: Box<TExpr>,
        rhs: Box<TExpr>,
        signed: bool,
    },
    /// `s == "lit"` (`eq`) or `s != "lit"`: the literal's bytes, and with
    /// `nul` its NUL too (without, a prefix: `strncmp(s, "lit", n)`).
    StrEq {
        s: Box<TExpr>,
        lit: Vec<u8>,
        eq: bool,
        nul: bool,
    },
    /// Short-circuit `&&`.
    And(Box<TExpr>, Box<TExpr>),
    /// Short-circuit `||`.
    Or(Box<TExpr>, Box<TExpr>),
    Ternary {
        cond: Box<TExpr>,
        then: Box<TExpr>,
        els: Box<TExpr>,
    },
    /// `(type)expr`: truncation and extension.
    Cast {
        int: IntType,
        expr: Box<TExpr>,
    },
    /// `*(type *)addr`: an `int.bytes`-byte kernel memory read.
    Deref {
        int: IntType,
        addr: Box<TExpr>,
    },
    /// `str(addr, len)`.
    StrRead {
        addr: Box<TExpr>,
        len: u32,
    },
    /// `offsetof(struct T, m)`: the member's byte offset, a CO-RE
    /// relocated immediate.
    FieldOffset(FieldAccess),
    /// `(a, b, ...)`: the elements, stored one after the other.
    Tuple(Vec<TExpr>),
    /// Element `index` of `tuple`, a tuple variable.
    TupleGet {
        tuple: Box<TExpr>,
        index: usize,
    },
    /// A kernel struct field at `base + offset`, `base` a pointer to the
    /// access's root struct; the offset (and a bitfield's size and shifts)
    /// are CO-RE relocations the loader patches for the running kernel.
    Field {
        base: Box<TExpr>,
        access: FieldAccess,
        read: FieldRead,
    },
    /// `bswap(x)`: the low `bytes` bytes of `x` in the other byte order.
    Bswap {
        bytes: u8,
        expr: Box<TExpr>,
    },
    /// `has_key(@m, k...)`: 1 if the map has the key, 0 if not.
    HasKey {
        map: usize,
        keys: Vec<TExpr>,
    },
    /// `kaddr("sym")`: the kernel symbol's address, which the loader
    /// resolves (a typeless `.ksyms` extern).
    KernelAddr(String),
    /// `len(@m)`: the number of entries of map `m`, counted by
    /// `bpf_for_each_map_elem`'s callback.
    MapLen(usize),
    /// `ntop([af, ]addr)`: an [`Ty::Inet`] of family `af` (`AF_INET` for
    /// an integer address, `AF_INET6` for a 16-byte array) and the
    /// address: an integer's low 4 bytes as they are in memory, or an
    /// array member's bytes.
    Ntop {
        af: Box<TExpr>,
        addr: Box<TExpr>,
    },
    /// `buf(addr, len)`: up to `cap` bytes at `addr`, `len` of them.
    Buf {
        addr: Box<TExpr>,
        len: Box<TExpr>,
        cap: u32,
    },
}

/// How a [`TKind::Field`] is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldRead {
    /// An integer, enum or pointer of `bytes` bytes.
    Int { bytes: u8, signed: bool },
    /// A bitfield: its bytes, shifted into place.
    Bitfield { signed: bool },
    /// A `char[size]` array, as a string of `size` bytes.
    Chars { size: u32 },
}

impl TExpr {
    pub fn new(kind: TKind, ty: Ty, span: Span) -> TExpr {
        TExpr { kind, ty, span }
    }

    /// A placeholder for an expression that failed to check.
    pub fn error(span: Span) -> TExpr {
        TExpr::new(TKind::Int(0), Ty::Error, span)
    }

    /// The value of an integer literal that fits an instruction's
    /// 32-bit immediate.
    pub fn imm32(&self) -> Option<i32> {
        match self.kind {
            TKind::Int(v) => i32::try_from(v).ok(),
            _ => None,
        }
    }

    /// Whether evaluating this expression calls a helper in a program of
    /// `kind` (which clobbers r0-r5). `wrapped` says whether syscall
    /// arguments are read through the user `pt_regs`.
    pub fn has_call(&self, wrapped_syscall: bool) -> bool {
        let c = |e: &TExpr| e.has_call(wrapped_syscall);
        match &self.kind {
            TKind::Int(_)
            | TKind::Str(_)
            | TKind::Var(_)
            | TKind::Param(_)
            | TKind::FieldOffset(_)
            | TKind::KernelAddr(_) => false,
            TKind::Bswap { expr, .. } => c(expr),
            TKind::HasKey { .. } | TKind::Ntop { .. } | TKind::Buf { .. } | TKind::MapLen(_) => {
                true
            }
            TKind::Tuple(elems) => elems.iter().any(c),
            TKind::TupleGet { tuple, .. } => c(tuple),
            TKind::Builtin(b) => match b {
                // `func` may be `bpf_get_func_ip` (Checked::func_ip).
                Builtin::Probe | Builtin::Retval => false,
                Builtin::Arg(_) => wrapped_syscall,
                _ => true,
            },
            TKind::MapRead { .. }
            | TKind::Deref { .. }
            | TKind::StrRead { .. }
            | TKind::Field { .. } => true,
            TKind::Neg(e) | TKind::BitNot(e) | TKind::Not(e) | TKind::Cast { expr: e, .. } => c(e),
            TKind::StrEq { s, .. } => c(s),
            TKind::Binary { lhs, rhs, .. } => c(lhs) || c(rhs),
            TKind::And(a, b) | TKind::Or(a, b) => c(a) || c(b),
            TKind::Ternary { cond, then, els } => c(cond) || c(then) || c(els),
        }
    }

    /// The direct subexpressions, for rewriting in place.
    pub fn children_mut(&mut self) -> Vec<&mut TExpr> {
        match &mut self.kind {
            TKind::Int(_)
            | TKind::Str(_)
            | TKind::Var(_)
            | TKind::Param(_)
            | TKind::Builtin(_)
            | TKind::FieldOffset(_)
            | TKind::KernelAddr(_)
            | TKind::MapLen(_) => vec![],
            TKind::Bswap { expr, .. } => vec![&mut **expr],
            TKind::HasKey { keys, .. } => keys.iter_mut().collect(),
            TKind::Ntop { af, addr } => vec![&mut **af, &mut **addr],
            TKind::Buf { addr, len, .. } => vec![&mut **addr, &mut **len],
            TKind::Tuple(elems) => elems.iter_mut().collect(),
            TKind::TupleGet { tuple, .. } => vec![&mut **tuple],
            TKind::MapRead { keys, .. } => keys.iter_mut().collect(),
            TKind::Neg(e) | TKind::BitNot(e) | TKind::Not(e) | TKind::Cast { expr: e, .. } => {
                vec![&mut **e]
            }
            TKind::Deref { addr, .. }
            | TKind::StrRead { addr, .. }
            | TKind::Field { base: addr, .. } => vec![&mut **addr],
            TKind::StrEq { s, .. } => vec![&mut **s],
            TKind::Binary { lhs, rhs, .. } => vec![&mut **lhs, &mut **rhs],
            TKind::And(a, b) | TKind::Or(a, b) => vec![&mut **a, &mut **b],
            TKind::Ternary { cond, then, els } => vec![&mut **cond, &mut **then, &mut **els],
        }
    }

    /// Calls `f` on this expression and every subexpression.
    pub fn visit(&self, f: &mut dyn FnMut(&TExpr)) {
        f(self);
        match &self.kind {
            TKind::Int(_)
            | TKind::Str(_)
            | TKind::Var(_)
            | TKind::Param(_)
            | TKind::Builtin(_)
            | TKind::FieldOffset(_)
            | TKind::KernelAddr(_)
            | TKind::MapLen(_) => {}
            TKind::Bswap { expr, .. } => expr.visit(f),
            TKind::HasKey { keys, .. } => keys.iter().for_each(|k| k.visit(f)),
            TKind::Ntop { af, addr } => {
                af.visit(f);
                addr.visit(f);
            }
            TKind::Buf { addr, len, .. } => {
                addr.visit(f);
                len.visit(f);
            }
            TKind::Tuple(elems) => elems.iter().for_each(|e| e.visit(f)),
            TKind::TupleGet { tuple, .. } => tuple.visit(f),
            TKind::MapRead { keys, .. } => keys.iter().for_each(|k| k.visit(f)),
            TKind::Neg(e) | TKind::BitNot(e) | TKind::Not(e) | TKind::Cast { expr: e, .. } => {
                e.visit(f)
            }
            TKind::Deref { addr, .. }
            | TKind::StrRead { addr, .. }
            | TKind::Field { base: addr, .. } => addr.visit(f),
            TKind::StrEq { s, .. } => s.visit(f),
            TKind::Binary { lhs, rhs, .. } => {
                lhs.visit(f);
                rhs.visit(f);
            }
            TKind::And(a, b) | TKind::Or(a, b) => {
                a.visit(f);
                b.visit(f);
            }
            TKind::Ternary { cond, then, els } => {
                cond.visit(f);
                then.visit(f);
                els.visit(f);
            }
        }
    }
}

/// A checked statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TStmt {
    pub kind: TStmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TStmtKind {
    SetVar {
        var: usize,
        value: TExpr,
    },
    /// `@m[k] = v` for an int or string map.
    SetMap {
        map: usize,
        keys: Vec<TExpr>,
        value: TExpr,
    },
    /// `@m[k] op= v`, `++`, `--`: read-modify-write, a missing entry is 0.
    UpdateMap {
        map: usize,
        keys: Vec<TExpr>,
        op: BinOp,
        value: TExpr,
    },
    /// `@m[k] = agg(...)`.
    Aggregate {
        map: usize,
        keys: Vec<TExpr>,
        agg: Agg,
    },
    /// `delete(@m[k])`; with `ok`, that variable is set to 1 if an entry
    /// was deleted, 0 if there was none (`$ok = delete(@m, k)`).
    Delete {
        map: usize,
        keys: Vec<TExpr>,
        ok: Option<usize>,
    },
    /// A record for user space (`printf`, `print`, `time`...), by index
    /// into [`Checked::outputs`], with the values it carries.
    Output {
        id: usize,
        args: Vec<TExpr>,
    },
    /// `signal(sig)`: `bpf_send_signal` to the current task (unsafe).
    Signal {
        sig: TExpr,
    },
    If {
        cond: TExpr,
        then: Vec<TStmt>,
        els: Vec<TStmt>,
    },
    Unroll {
        count: u64,
        body: Vec<TStmt>,
    },
    /// A bounded loop: while `cond` holds, `body` then `step` (where
    /// `continue` goes). `while` has no step; `for ($i : a..b)` steps
    /// `$i`.
    Loop {
        cond: TExpr,
        body: Vec<TStmt>,
        step: Vec<TStmt>,
    },
    /// `for ($kv : @m) { body }`: `body` once per entry of map `map`,
    /// variable `var` the tuple (key, value); `break` and `continue` are
    /// the walk's. It runs as `bpf_for_each_map_elem`'s callback.
    ForMap {
        map: usize,
        var: usize,
        body: Vec<TStmt>,
    },
    /// Leaves the innermost loop.
    Break,
    /// Goes to the innermost loop's step.
    Continue,
    /// Ends the program.
    Return,
}

impl TStmt {
    /// The variable this statement itself assigns, if any.
    pub fn assigned_var(&self) -> Option<usize> {
        match self.kind {
            TStmtKind::SetVar { var, .. } => Some(var),
            TStmtKind::Delete { ok, .. } => ok,
            _ => None,
        }
    }

    /// The expressions of this statement itself (an `if`'s condition, not
    /// the statements nested in it), for rewriting in place.
    pub fn exprs_mut(&mut self) -> Vec<&mut TExpr> {
        match &mut self.kind {
            TStmtKind::SetVar { value, .. } => vec![value],
            TStmtKind::SetMap { keys, value, .. } | TStmtKind::UpdateMap { keys, value, .. } => {
                keys.iter_mut().chain(std::iter::once(value)).collect()
            }
            TStmtKind::Aggregate { keys, agg, .. } => {
                keys.iter_mut().chain(agg.value_mut()).collect()
            }
            TStmtKind::Delete { keys, .. } => keys.iter_mut().collect(),
            TStmtKind::Output { args, .. } => args.iter_mut().collect(),
            TStmtKind::Signal { sig } => vec![sig],
            TStmtKind::If { cond, .. } | TStmtKind::Loop { cond, .. } => vec![cond],
            TStmtKind::Unroll { .. }
            | TStmtKind::ForMap { .. }
            | TStmtKind::Break
            | TStmtKind::Continue
            | TStmtKind::Return => vec![],
        }
    }

    /// The statement lists nested in this one.
    pub fn blocks_mut(&mut self) -> Vec<&mut Vec<TStmt>> {
        match &mut self.kind {
            TStmtKind::If { then, els, .. } => vec![then, els],
            TStmtKind::Unroll { body, .. } => vec![body],
            TStmtKind::Loop { body, step, .. } => vec![body, step],
            TStmtKind::ForMap { body, .. } => vec![body],
            _ => vec![],
        }
    }

    /// The statement lists nested in this one, to read.
    pub fn blocks(&self) -> Vec<&Vec<TStmt>> {
        match &self.kind {
            TStmtKind::If { then, els, .. } => vec![then, els],
            TStmtKind::Unroll { body, .. } => vec![body],
            TStmtKind::Loop { body, step, .. } => vec![body, step],
            TStmtKind::ForMap { body, .. } => vec![body],
            _ => vec![],
        }
    }

    /// Calls `f` on every expression of this statement and the statements
    /// nested in it.
    pub fn visit_exprs(&self, f: &mut dyn FnMut(&TExpr)) {
        let keys_and =
            |keys: &[TExpr], f: &mut dyn FnMut(&TExpr)| keys.iter().for_each(|k| k.visit(f));
        match &self.kind {
            TStmtKind::SetVar { value, .. } => value.visit(f),
            TStmtKind::SetMap { keys, value, .. } | TStmtKind::UpdateMap { keys, value, .. } => {
                keys_and(keys, f);
                value.visit(f);
            }
            TStmtKind::Aggregate { keys, agg, .. } => {
                keys_and(keys, f);
                if let Some(v) = agg.value() {
                    v.visit(f);
                }
            }
            TStmtKind::Delete { keys, .. } => keys_and(keys, f),
            TStmtKind::Output { args, .. } => keys_and(args, f),
            TStmtKind::Signal { sig } => sig.visit(f),
            TStmtKind::If { cond, then, els } => {
                cond.visit(f);
                then.iter().chain(els).for_each(|s| s.visit_exprs(f));
            }
            TStmtKind::Unroll { body, .. } | TStmtKind::ForMap { body, .. } => {
                body.iter().for_each(|s| s.visit_exprs(f))
            }
            TStmtKind::Loop { cond, body, step } => {
                cond.visit(f);
                body.iter().chain(step).for_each(|s| s.visit_exprs(f));
            }
            TStmtKind::Break | TStmtKind::Continue | TStmtKind::Return => {}
        }
    }
}

/// A scratch variable of one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarInfo {
    pub name: String,
    pub ty: Ty,
    /// Read somewhere it may not have been assigned yet on every path: the
    /// program zeroes it first (the verifier rejects uninitialised reads).
    pub needs_init: bool,
    /// Where `let` declares it, for a variable of one block; `None` for a
    /// variable of the whole probe (assigned without `let`).
    pub decl: Option<Span>,
    /// The bytes of the integer its first assignment or declaration gives
    /// it (a 2-byte struct field, a `(uint16)` cast), which `bswap`
    /// swaps; 8 otherwise.
    pub bytes: u8,
}

/// The checked block of one probe, shared by the programs its attach points
/// make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    pub pred: Option<TExpr>,
    pub stmts: Vec<TStmt>,
    pub vars: Vec<VarInfo>,
    pub span: Span,
}

/// One BPF program: an expanded attach point and the body it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeProgram {
    pub attach: AttachPoint,
    pub kind: ProbeKind,
    /// bpftrace's spelling of the (expanded) attach point: `kprobe:vfs_read`,
    /// `ksyscall:openat`; the value of `probe`.
    pub probe: String,
    /// The kernel function probed; the value of `func`.
    pub func: String,
    /// The function symbol, unique in the object.
    pub symbol: String,
    /// Index into [`Checked::bodies`].
    pub body: usize,
    /// The attach point as written.
    pub span: Span,
    /// Whether argN are read through the user `pt_regs` (ksyscall on a
    /// kernel with syscall wrappers).
    pub wrapped_syscall: bool,
    /// An fentry/fexit program's function as its trampoline passes it.
    pub proto: Option<std::sync::Arc<crate::btf::proto::FuncProto>>,
    /// Set for a kprobe-multi program: one program for all of a block's
    /// functions (`attach`, `probe` and `func` are then its first's).
    pub multi: Option<MultiTarget>,
    /// The wildcard attach point this one was expanded from, as written
    /// (`kprobe:vfs_*`): a loader skips it with a warning where the
    /// kernel refuses it, as bpftrace does, instead of failing.
    pub wildcard: Option<String>,
}

/// What one kprobe-multi program attaches to: libbpf's glob, which a
/// loader resolves on the target kernel, or (several attach points
/// written out) the functions themselves, which the loader names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiTarget {
    /// The block's one wildcard (`vfs_*`); `None` for a list.
    pub pattern: Option<String>,
    /// The functions it matched at build time, or the list.
    pub funcs: Vec<String>,
}

impl ProbeProgram {
    /// Whether reading `argN` may call a helper: through the user
    /// `pt_regs` of a wrapped syscall, or (`lower::fentry`) a struct
    /// pointer slot of a kprobe built as fentry, read as a number.
    pub fn arg_calls(&self) -> bool {
        self.wrapped_syscall
            || (!self.kind.is_tracing()
                && self.proto.as_ref().is_some_and(|p| p.has_btf_pointers()))
    }

    /// Whether `str()` reads user memory (syscall probes).
    pub fn reads_user(&self) -> bool {
        matches!(self.kind, ProbeKind::Ksyscall | ProbeKind::Kretsyscall)
    }

    /// The ELF section: the attach point's (`kprobe/vfs_read`), or for a
    /// kprobe-multi program libbpf's `kprobe.multi/PATTERN` or
    /// `kretprobe.multi/PATTERN` (bare `kprobe.multi` for a list, which
    /// libbpf loads without attaching).
    pub fn section(&self) -> String {
        let Some(m) = &self.multi else {
            return self.attach.section();
        };
        let kind = if self.attach.is_return() {
            "kretprobe"
        } else {
            "kprobe"
        };
        match &m.pattern {
            Some(p) => format!("{kind}.multi/{p}"),
            None => format!("{kind}.multi"),
        }
    }

    /// The value `func` or `probe` has in this program; `None` for the
    /// other kinds of [`Sym`], which name no program.
    pub fn sym_value(&self, sym: Sym) -> Option<&str> {
        match sym {
            Sym::Func => Some(&self.func),
            Sym::Probe => Some(&self.probe),
            _ => None,
        }
    }
}

/// What a record asks user space to do, in the order records arrive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// `printf(format, args...)`: the text, as C's printf makes it.
    Printf { format: String },
    /// `time(format)`: the wall-clock time when the record is processed,
    /// as strftime formats it.
    Time { format: String },
    /// `print(@m[, top[, div]])`: the map as it is when the record is
    /// processed; with `top`, only the last `top` entries printed (0: all),
    /// each value divided by `div` (0: as it is).
    Print { map: usize, top: u32, div: u32 },
    /// `print(value)`: the one argument, and a newline.
    Value,
    /// `clear(@m)`: every entry deleted.
    Clear { map: usize },
    /// `zero(@m)`: every value set to zero.
    Zero { map: usize },
    /// `exit()`: no more records or events; END runs. An argument is the
    /// exit status.
    Exit,
    /// `cat(format, args...)`: the named file's contents.
    Cat { format: String },
    /// `system(format, args...)`: the command run, its output printed
    /// (unsafe).
    System { format: String },
}

impl OutputKind {
    /// The spec's name of the call.
    pub fn name(&self) -> &'static str {
        match self {
            OutputKind::Printf { .. } => "printf",
            OutputKind::Time { .. } => "time",
            OutputKind::Print { .. } | OutputKind::Value => "print",
            OutputKind::Clear { .. } => "clear",
            OutputKind::Zero { .. } => "zero",
            OutputKind::Exit => "exit",
            OutputKind::Cat { .. } => "cat",
            OutputKind::System { .. } => "system",
        }
    }
}

/// One record kind a program sends on the ring buffer: a call of the spec
/// (`printf`, `print`, `time`...) and the types of the values it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputInfo {
    pub id: usize,
    pub kind: OutputKind,
    /// The argument types.
    pub args: Vec<Ty>,
    pub span: Span,
}

impl OutputInfo {
    /// Offsets of the arguments in the record, after the u64 id.
    pub fn offsets(&self) -> Vec<u32> {
        let mut off = 8;
        self.args
            .iter()
            .map(|t| {
                let at = off;
                off += t.storage();
                at
            })
            .collect()
    }

    /// Bytes of one record.
    pub fn size(&self) -> u32 {
        8 + self.args.iter().map(|t| t.storage()).sum::<u32>()
    }
}

/// The ring buffer every record for user space goes through (its size is
/// [`Settings::ringbuf_bytes`]).
pub const OUTPUT_RINGBUF: &str = "output_rb";
/// The one-entry array of the time the run started, which the first BEGIN
/// program sets and `elapsed` counts from.
pub const ELAPSED_MAP: &str = "elapsed_start";

/// A whole checked spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The spec's name (the file stem).
    pub name: String,
    /// The spec's text as written (empty if unknown), for line info.
    pub source: String,
    /// Where the spans of the IR are in `source` (they are in the
    /// preprocessed text).
    pub map: SourceMap,
    pub programs: Vec<ProbeProgram>,
    pub bodies: Vec<Body>,
    pub maps: Vec<MapInfo>,
    /// The record kinds the programs send, by id.
    pub outputs: Vec<OutputInfo>,
    /// The unsafe actions the spec uses (`signal`), allowed by
    /// [`CompileOptions::unsafe_actions`](crate::lang::check::CompileOptions).
    pub unsafe_actions: Vec<String>,
    /// What the config block sets.
    pub settings: Settings,
    /// The element types of each tuple type ([`Ty::Tuple`]'s `id`).
    pub tuples: Vec<Vec<Ty>>,
    /// The strftime formats of `strftime()` values, by [`Sym::Timestamp`]'s
    /// index.
    pub strftime: Vec<String>,
    /// The macro expansions the programs hold, for naming them in later
    /// diagnostics.
    pub macro_uses: Vec<crate::lang::macros::MacroUse>,
    /// Whether `func` values are the probed function's address
    /// (`bpf_get_func_ip`, named in user space), as they are in an object
    /// with a kprobe-multi program; otherwise ids into
    /// [`names`](Self::names).
    pub func_ip: bool,
    /// What a reader should know but is no error: why a block that could
    /// have been one kprobe-multi program was split (`file:line:col:
    /// note: ...`).
    pub notes: Vec<String>,
}

impl Checked {
    /// The element types of a tuple type and their offsets.
    pub fn tuple(&self, ty: Ty) -> Option<(&[Ty], Vec<u32>)> {
        match ty {
            Ty::Tuple { id, .. } => {
                let elems = self.tuples.get(id as usize)?;
                Some((elems, tuple_offsets(elems)))
            }
            _ => None,
        }
    }

    /// The depths of the stacks the programs take with `kstack`, each a
    /// stack-trace map of the object ([`Stack::map`]), in ascending order.
    pub fn stack_limits(&self) -> Vec<u32> {
        let mut limits = Vec::new();
        for b in &self.bodies {
            let mut f = |e: &TExpr| {
                if let (TKind::Builtin(Builtin::Kstack), Ty::Kstack(s)) = (&e.kind, e.ty) {
                    limits.push(s.limit);
                }
            };
            b.pred.iter().for_each(|p| p.visit(&mut f));
            b.stmts.iter().for_each(|s| s.visit_exprs(&mut f));
        }
        limits.sort_unstable();
        limits.dedup();
        limits
    }

    /// Whether any program reads `elapsed` (the object then has
    /// [`ELAPSED_MAP`], and a BEGIN program).
    pub fn uses_elapsed(&self) -> bool {
        let mut found = false;
        for b in &self.bodies {
            let mut f = |e: &TExpr| found |= matches!(e.kind, TKind::Builtin(Builtin::Elapsed));
            b.pred.iter().for_each(|p| p.visit(&mut f));
            b.stmts.iter().for_each(|s| s.visit_exprs(&mut f));
        }
        found
    }

    /// Whether any program sends records (the object then has
    /// [`OUTPUT_RINGBUF`]).
    pub fn uses_output(&self) -> bool {
        !self.outputs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_follow_the_id() {
        let p = OutputInfo {
            id: 0,
            kind: OutputKind::Printf {
                format: "%d %s".into(),
            },
            args: vec![Ty::INT, Ty::Str { size: 16 }, Ty::Str { size: 5 }],
            span: Span::default(),
        };
        assert_eq!(p.offsets(), vec![8, 16, 32]);
        assert_eq!(p.size(), 40);
    }
}
