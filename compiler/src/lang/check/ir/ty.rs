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
    /// An 8-byte value whose text user space makes: `func` or `probe`, a
    /// u64 index into the object's table of function or probe names
    /// ([`Checked::names`](super::Checked::names)), named in user space as
    /// bpftrace names its `ksym`s and probe ids; a kernel address named by
    /// its symbol (`ksym()`), a uid by its user (`username`), a time
    /// since boot by a strftime format (`strftime()`), a cgroup id by its
    /// path (`cgroup_path()`).
    Sym(Sym),
    /// `ntop()`'s address: a u64 address family (`AF_INET`, `AF_INET6`) and
    /// 16 bytes of address in network order, 24 bytes.
    Inet,
    /// `buf(addr, n)`: a u64 length, then up to `size` bytes, printed with
    /// `%r`.
    Buf { size: u32 },
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

/// What a [`Ty::Sym`] holds, and so how user space names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sym {
    /// An index into the names of the functions probed.
    Func,
    /// An index into the names of the probes.
    Probe,
    /// A kernel address, named by the symbol it is in.
    Ksym,
    /// A uid, named by its user.
    Username,
    /// Nanoseconds since boot, printed through strftime format `n` of
    /// [`Checked::strftime`](super::Checked::strftime).
    Timestamp(u32),
    /// A cgroup id, named by its path.
    CgroupPath,
}

impl Sym {
    /// The manifest's and the messages' name: `func`, `probe`, `ksym`...
    pub fn name(self) -> &'static str {
        match self {
            Sym::Func => "func",
            Sym::Probe => "probe",
            Sym::Ksym => "ksym",
            Sym::Username => "username",
            Sym::Timestamp(_) => "timestamp",
            Sym::CgroupPath => "cgroup_path",
        }
    }

    /// Whether the value is an index into the object's names, which `==`
    /// compares with a string literal at compile time.
    pub fn indexes_names(self) -> bool {
        matches!(self, Sym::Func | Sym::Probe)
    }
}

/// Bytes of an `ntop()` value: the address family, then 16 bytes.
pub const INET_SIZE: u32 = 24;

impl Ty {
    pub const INT: Ty = Ty::Int { signed: true };

    /// Bytes this value takes in a map key, a variable or a record.
    pub fn storage(self) -> u32 {
        match self {
            Ty::Str { size } => round8(size),
            Ty::Tuple { size, .. } => size,
            Ty::Inet => INET_SIZE,
            Ty::Buf { size } => 8 + round8(size),
            _ => 8,
        }
    }

    /// Whether the value lives in memory rather than in a register:
    /// strings, tuples, `ntop()` and `buf()` values.
    pub fn in_memory(self) -> bool {
        matches!(
            self,
            Ty::Str { .. } | Ty::Tuple { .. } | Ty::Inet | Ty::Buf { .. }
        )
    }

    pub fn is_str(self) -> bool {
        matches!(self, Ty::Str { .. })
    }

    /// Whether the value is bytes written into its place (a string, an
    /// `ntop()` address, a `buf()`), not an integer stored.
    pub fn is_bytes(self) -> bool {
        matches!(self, Ty::Str { .. } | Ty::Inet | Ty::Buf { .. })
    }

    /// A string or a name (`func`, `probe`): what `==` compares with a
    /// string literal.
    pub fn is_named(self) -> bool {
        match self {
            Ty::Str { .. } => true,
            Ty::Sym(s) => s.indexes_names(),
            _ => false,
        }
    }

    /// What `%s` prints: a string, or a value user space makes the text
    /// of.
    pub fn is_text(self) -> bool {
        matches!(self, Ty::Str { .. } | Ty::Sym(_) | Ty::Kstack(_) | Ty::Inet)
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
            Ty::Inet => "an address (ntop)".into(),
            Ty::Buf { size } => format!("buffer[{size}]"),
            Ty::Error => "<error>".into(),
        }
    }
}
