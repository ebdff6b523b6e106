//! Maps of the checked program: the parts of a key, the kind of value a
//! map holds (assigned, or an aggregation's state), and each map's final
//! layout.

use super::ty::{round8, Stack, Sym, Ty, INET_SIZE};
use crate::lang::ast::Span;
use crate::maps::MapKind;

/// One part of a map key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyTy {
    Int {
        signed: bool,
    },
    Str {
        size: u32,
    },
    Kstack(Stack),
    Sym(Sym),
    /// An `ntop()` address.
    Inet,
}

impl KeyTy {
    /// The key part a value of type `ty` makes, if it can be one.
    pub fn of(ty: Ty) -> Option<KeyTy> {
        match ty {
            Ty::Int { signed } => Some(KeyTy::Int { signed }),
            Ty::Ptr(_) => Some(KeyTy::Int { signed: false }),
            Ty::Str { size } => Some(KeyTy::Str { size }),
            Ty::Kstack(s) => Some(KeyTy::Kstack(s)),
            Ty::Sym(s) => Some(KeyTy::Sym(s)),
            Ty::Inet => Some(KeyTy::Inet),
            Ty::Tuple { .. } | Ty::Buf { .. } | Ty::Error => None,
        }
    }

    pub fn storage(self) -> u32 {
        match self {
            KeyTy::Str { size } => round8(size),
            KeyTy::Inet => INET_SIZE,
            _ => 8,
        }
    }

    /// The type of the value a key part holds.
    pub fn ty(self) -> Ty {
        match self {
            KeyTy::Int { signed } => Ty::Int { signed },
            KeyTy::Str { size } => Ty::Str { size },
            KeyTy::Kstack(s) => Ty::Kstack(s),
            KeyTy::Sym(s) => Ty::Sym(s),
            KeyTy::Inet => Ty::Inet,
        }
    }

    /// Whether two key parts are the same kind (string sizes may differ).
    pub fn same_kind(self, other: KeyTy) -> bool {
        match (self, other) {
            (KeyTy::Sym(a), KeyTy::Sym(b)) => a == b,
            (KeyTy::Kstack(a), KeyTy::Kstack(b)) => a == b,
            _ => std::mem::discriminant(&self) == std::mem::discriminant(&other),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            KeyTy::Int { .. } => "int",
            KeyTy::Str { .. } => "string",
            KeyTy::Kstack(_) => "kstack",
            KeyTy::Sym(s) => s.name(),
            KeyTy::Inet => "inet",
        }
    }
}

/// What a map holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueKind {
    Int {
        signed: bool,
    },
    Str {
        size: u32,
    },
    Sym(Sym),
    /// A stack id (`@s[tid] = kstack`).
    Kstack(Stack),
    /// An `ntop()` address.
    Inet,
    /// A kernel pointer (the type id of what it points at), stored as
    /// its address: read back, it is the pointer again.
    Ptr(u32),
    /// A tuple ([`Ty::Tuple`]): its elements laid out as a tuple
    /// variable's, entry `id` of the checked spec's tuple types.
    Tuple {
        id: u32,
        size: u32,
    },
    Count,
    Sum,
    Min,
    Max,
    Avg,
    Stats,
    Hist,
    Lhist {
        min: i64,
        max: i64,
        step: i64,
    },
}

impl ValueKind {
    /// The type of the value an assigned map holds, read back; `None` for
    /// an aggregation's state.
    pub fn assigned_ty(self) -> Option<Ty> {
        Some(match self {
            ValueKind::Int { signed } => Ty::Int { signed },
            ValueKind::Str { size } => Ty::Str { size },
            ValueKind::Sym(s) => Ty::Sym(s),
            ValueKind::Kstack(s) => Ty::Kstack(s),
            ValueKind::Inet => Ty::Inet,
            ValueKind::Ptr(t) => Ty::Ptr(t),
            ValueKind::Tuple { id, size } => Ty::Tuple { id, size },
            _ => return None,
        })
    }

    /// The manifest's name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            ValueKind::Int { .. } | ValueKind::Ptr(_) => "int",
            ValueKind::Str { .. } => "string",
            ValueKind::Sym(s) => s.name(),
            ValueKind::Kstack(_) => "kstack",
            ValueKind::Inet => "inet",
            ValueKind::Tuple { .. } => "tuple",
            ValueKind::Count => "count",
            ValueKind::Sum => "sum",
            ValueKind::Min => "min",
            ValueKind::Max => "max",
            ValueKind::Avg => "avg",
            ValueKind::Stats => "stats",
            ValueKind::Hist => "hist",
            ValueKind::Lhist { .. } => "lhist",
        }
    }

    /// How messages name it: `int`, `string`, `count()`.
    pub fn describe(self) -> String {
        match self {
            ValueKind::Int { .. }
            | ValueKind::Str { .. }
            | ValueKind::Sym(_)
            | ValueKind::Kstack(_)
            | ValueKind::Inet => self.name().into(),
            ValueKind::Ptr(_) => "a kernel pointer".into(),
            ValueKind::Tuple { .. } => "a tuple".into(),
            other => format!("{}()", other.name()),
        }
    }

    /// Whether two kinds are the same (string sizes and signedness may
    /// differ; lhist bounds may not; two tuples are, and their elements
    /// are compared where both are known).
    pub fn same_kind(self, other: ValueKind) -> bool {
        match (self, other) {
            (ValueKind::Lhist { .. }, ValueKind::Lhist { .. })
            | (ValueKind::Sym(_), ValueKind::Sym(_))
            | (ValueKind::Kstack(_), ValueKind::Kstack(_))
            | (ValueKind::Ptr(_), ValueKind::Ptr(_)) => self == other,
            _ => std::mem::discriminant(&self) == std::mem::discriminant(&other),
        }
    }

    /// Aggregations are per-CPU; assigned values are shared.
    pub fn map_kind(self) -> MapKind {
        match self {
            ValueKind::Int { .. }
            | ValueKind::Str { .. }
            | ValueKind::Sym(_)
            | ValueKind::Kstack(_)
            | ValueKind::Inet
            | ValueKind::Ptr(_)
            | ValueKind::Tuple { .. } => MapKind::Hash,
            _ => MapKind::PercpuHash,
        }
    }

    /// Whether the key carries a trailing u64 bucket.
    pub fn has_bucket(self) -> bool {
        matches!(self, ValueKind::Hist | ValueKind::Lhist { .. })
    }

    /// Bytes of one value: `{s64 value; u64 set}` for min/max,
    /// `{s64 total; u64 count}` for avg/stats.
    pub fn size(self) -> u32 {
        match self {
            ValueKind::Str { size } => round8(size),
            ValueKind::Inet => INET_SIZE,
            ValueKind::Tuple { size, .. } => size,
            ValueKind::Min | ValueKind::Max | ValueKind::Avg | ValueKind::Stats => 16,
            _ => 8,
        }
    }

    /// Whether a probe may read the map as an integer (`@m[k]` in an
    /// expression): ints and the single-counter aggregations, whose read
    /// gives this CPU's value.
    pub fn readable_int(self) -> bool {
        matches!(
            self,
            ValueKind::Int { .. }
                | ValueKind::Count
                | ValueKind::Sum
                | ValueKind::Min
                | ValueKind::Max
        )
    }
}

/// Default max_entries of every map (bpftrace's).
pub const MAX_ENTRIES: u32 = 4096;

/// One map of the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    /// The name without `@` (empty for `@`).
    pub name: String,
    pub keys: Vec<KeyTy>,
    /// `None` until assigned; `check` fails for maps never assigned.
    pub value: Option<ValueKind>,
    /// The first use, which fixed the key.
    pub first: Span,
    /// The first assignment, which fixed the value kind.
    pub first_value: Span,
    /// The kind and size a `let @name = KIND(N);` declared.
    pub declared: Option<(MapKind, u32)>,
}

impl MapInfo {
    /// The map's kind: declared, else as its value needs.
    pub fn kind(&self) -> MapKind {
        self.declared
            .map_or_else(|| self.value_kind().map_kind(), |(k, _)| k)
    }

    /// The map's `max_entries`: declared, else `default`.
    pub fn max_entries(&self, default: u32) -> u32 {
        self.declared.map_or(default, |(_, n)| n)
    }

    /// `@name`.
    pub fn display(&self) -> String {
        format!("@{}", self.name)
    }

    /// The ELF symbol: `AT_name`.
    pub fn symbol(&self) -> String {
        format!("AT_{}", self.name)
    }

    pub fn value_kind(&self) -> ValueKind {
        self.value.unwrap_or(ValueKind::Int { signed: true })
    }

    /// Offsets of the user key parts, then of the bucket if any.
    pub fn key_offsets(&self) -> Vec<u32> {
        let mut off = 0;
        let mut out = Vec::with_capacity(self.keys.len() + 1);
        for k in &self.keys {
            out.push(off);
            off += k.storage();
        }
        if self.value_kind().has_bucket() {
            out.push(off);
        }
        out
    }

    /// Bytes of the whole key.
    pub fn key_size(&self) -> u32 {
        let parts: u32 = self.keys.iter().map(|k| k.storage()).sum();
        let bucket = if self.value_kind().has_bucket() { 8 } else { 0 };
        (parts + bucket).max(8)
    }

    /// The offset of the histogram bucket in the key.
    pub fn bucket_offset(&self) -> u32 {
        self.keys.iter().map(|k| k.storage()).sum()
    }

    /// How messages name the key: `(string, int)`.
    pub fn describe_keys(keys: &[KeyTy]) -> String {
        if keys.is_empty() {
            return "no key".into();
        }
        let parts: Vec<&str> = keys.iter().map(|k| k.describe()).collect();
        format!("key ({})", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(keys: Vec<KeyTy>, value: ValueKind) -> MapInfo {
        MapInfo {
            name: "m".into(),
            keys,
            value: Some(value),
            first: Span::default(),
            first_value: Span::default(),
            declared: None,
        }
    }

    #[test]
    fn keys_are_eight_byte_aligned_parts() {
        let m = map(
            vec![KeyTy::Str { size: 10 }, KeyTy::Int { signed: true }],
            ValueKind::Count,
        );
        assert_eq!(m.key_offsets(), vec![0, 16]);
        assert_eq!(m.key_size(), 24);
        let h = map(vec![KeyTy::Int { signed: false }], ValueKind::Hist);
        assert_eq!(h.key_offsets(), vec![0, 8]);
        assert_eq!(h.key_size(), 16);
        assert_eq!(map(vec![], ValueKind::Count).key_size(), 8);
        assert_eq!(map(vec![], ValueKind::Hist).key_size(), 8);
        assert_eq!(MapInfo::describe_keys(&m.keys), "key (string, int)");
        assert_eq!(MapInfo::describe_keys(&[]), "no key");
    }

    #[test]
    fn value_kinds_name_and_size() {
        assert_eq!(ValueKind::Min.size(), 16);
        assert_eq!(ValueKind::Str { size: 13 }.size(), 16);
        assert_eq!(ValueKind::Count.describe(), "count()");
        assert_eq!(ValueKind::Int { signed: true }.describe(), "int");
        assert!(ValueKind::Int { signed: true }.same_kind(ValueKind::Int { signed: false }));
        let l = |min| ValueKind::Lhist {
            min,
            max: 10,
            step: 1,
        };
        assert!(!l(0).same_kind(l(1)));
        assert_eq!(ValueKind::Hist.map_kind(), MapKind::PercpuHash);
    }
}
