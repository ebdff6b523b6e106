//! The types of the checked program's values, and how many bytes each
//! takes in a map key, a variable or a record.

use super::settings::StackMode;

/// Rounds `n` up to a multiple of 8.
pub fn round8(n: u32) -> u32 {
    n.div_ceil(8) * 8
}

/// The type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    /// A 64-bit integer.
    Int { signed: bool },
    /// A NUL-terminated string of capacity `size` bytes (NUL included).
    Str { size: u32 },
    /// A kernel stack id from `kstack`, in the stack map of its depth;
    /// named frame by frame in user space.
    Kstack(Stack),
    /// `func` or `probe`: a u64 index into the object's table of function
    /// or probe names ([`Checked::names`](super::Checked::names)), named in user space as
    /// bpftrace names its `ksym`s and probe ids.
    Sym(Sym),
    /// A pointer to a kernel type, by its id in the compile's kernel BTF
    /// (`(struct file *)arg0`, `curtask`, a pointer member): an unsigned
    /// 64-bit address whose pointee's members `->` reads.
    Ptr(u32),
    /// A tuple: its element types are entry `id` of
    /// [`Checked::tuples`](super::Checked::tuples), laid out one after the
    /// other at 8-byte aligned offsets in `size` bytes.
    Tuple { id: u32, size: u32 },
    /// The type of an expression that already produced a diagnostic.
    Error,
}

/// The byte offset of each element of a tuple of `elems`.
pub fn tuple_offsets(elems: &[Ty]) -> Vec<u32> {
    let mut off = 0;
    elems
        .iter()
        .map(|t| {
            let at = off;
            off += t.storage();
            at
        })
        .collect()
}

/// How `kstack` takes a stack and user space prints it: `kstack`,
/// `kstack(perf)`, `kstack(8)`, `kstack(bpftrace, 8)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stack {
    pub mode: StackMode,
    /// The most frames kept (the stack map's depth).
    pub limit: u32,
}

impl Stack {
    /// bpftrace's depth of `kstack` without a limit.
    pub const DEFAULT_LIMIT: u32 = 127;

    /// The stack-trace map of this depth ([`stack_map`]).
    pub fn map(self) -> String {
        stack_map(self.limit)
    }
}

/// The stack-trace map of stacks `limit` frames deep: `stack_traces` for
/// `kstack`'s default depth, `stack_traces_8` for `kstack(8)`.
pub fn stack_map(limit: u32) -> String {
    if limit == Stack::DEFAULT_LIMIT {
        "stack_traces".to_string()
    } else {
        format!("stack_traces_{limit}")
    }
}

/// Which name table a [`Ty::Sym`] indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sym {
    Func,
    Probe,
}

impl Sym {
    /// The manifest's and the messages' name: `func` or `probe`.
    pub fn name(self) -> &'static str {
        match self {
            Sym::Func => "func",
            Sym::Probe => "probe",
        }
    }
}

impl Ty {
    pub const INT: Ty = Ty::Int { signed: true };

    /// Bytes this value takes in a map key, a variable or a record.
    pub fn storage(self) -> u32 {
        match self {
            Ty::Str { size } => round8(size),
            Ty::Tuple { size, .. } => size,
            _ => 8,
        }
    }

    pub fn is_str(self) -> bool {
        matches!(self, Ty::Str { .. })
    }

    /// A string or a name (`func`, `probe`): what `==` compares with a
    /// string literal and `%s` prints.
    pub fn is_named(self) -> bool {
        matches!(self, Ty::Str { .. } | Ty::Sym(_))
    }

    /// How messages name the type.
    pub fn describe(self) -> String {
        match self {
            Ty::Int { signed: true } => "int".into(),
            Ty::Int { signed: false } => "unsigned int".into(),
            Ty::Str { size } => format!("string[{size}]"),
            Ty::Kstack(_) => "kstack".into(),
            Ty::Sym(s) => s.name().into(),
            Ty::Ptr(_) => "a kernel pointer".into(),
            Ty::Tuple { .. } => "a tuple".into(),
            Ty::Error => "<error>".into(),
        }
    }
}
