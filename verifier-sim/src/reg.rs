//! Register states (`struct bpf_reg_state`): not initialised, a scalar, or a
//! pointer of one of the kinds a kprobe program meets (ctx, stack, map,
//! map value and key, ring-buffer record, memory, function; and a tracing
//! program's pointers to kernel structs, [`crate::btf_ptr`]), with its fixed
//! offset, a variable offset (map values), the id that null checks
//! propagate along, and the reference it carries (ring-buffer records).
//! Names follow the kernel's `reg_type_str`, which messages quote.

use crate::scalar::Scalar;

/// What a pointer points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PtrKind {
    /// The program's `struct pt_regs`.
    Ctx,
    /// A stack frame (by call depth).
    Stack { frame: usize },
    /// A map from `ld_imm64` (by index into the object's maps).
    Map { map: usize },
    /// A value of map `map`.
    MapValue { map: usize },
    /// A ring-buffer record of `size` bytes.
    RingbufMem { size: u32 },
    /// A key of map `map`, passed to a `bpf_for_each_map_elem` callback (read only).
    MapKey { map: usize },
    /// `size` bytes of memory: a global function's pointer argument.
    Mem { size: u32 },
    /// A function's address (`BPF_PSEUDO_FUNC`), the callback of a helper.
    Func { start: usize },
    /// A kernel struct or union (`PTR_TO_BTF_ID`), by its id in the
    /// kernel's BTF: read by direct loads ([`crate::btf_ptr`]).
    BtfId { id: u32 },
}

/// A pointer's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ptr {
    pub kind: PtrKind,
    /// The constant offset from the object's start.
    pub off: i64,
    /// A variable offset added to `off` (scalar knowledge).
    pub var: Scalar,
    /// May be NULL until checked against 0.
    pub or_null: bool,
    /// Shared by copies of one maybe-NULL pointer (0: none).
    pub id: u32,
    /// The reference this pointer holds (0: none).
    pub ref_id: u32,
}

impl Ptr {
    pub fn new(kind: PtrKind) -> Ptr {
        Ptr {
            kind,
            off: 0,
            var: Scalar::constant(0),
            or_null: false,
            id: 0,
            ref_id: 0,
        }
    }
}

/// One register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RegState {
    #[default]
    NotInit,
    Scalar(Scalar),
    Ptr(Ptr),
}

impl RegState {
    pub fn unknown() -> RegState {
        RegState::Scalar(Scalar::UNKNOWN)
    }

    pub fn constant(v: u64) -> RegState {
        RegState::Scalar(Scalar::constant(v))
    }

    pub fn scalar(&self) -> Option<&Scalar> {
        match self {
            RegState::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The kernel's name of the type (`reg_type_str`).
    pub fn type_name(&self) -> String {
        match self {
            RegState::NotInit => "?".into(),
            RegState::Scalar(_) => "scalar".into(),
            RegState::Ptr(p) => {
                let base = match p.kind {
                    PtrKind::Ctx => "ctx",
                    PtrKind::Stack { .. } => "fp",
                    PtrKind::Map { .. } => "map_ptr",
                    PtrKind::MapValue { .. } => "map_value",
                    PtrKind::RingbufMem { .. } => "ringbuf_mem",
                    PtrKind::MapKey { .. } => "map_key",
                    PtrKind::Mem { .. } => "mem",
                    PtrKind::Func { .. } => "func",
                    PtrKind::BtfId { .. } => "ptr_",
                };
                if p.or_null {
                    format!("{base}_or_null")
                } else {
                    base.into()
                }
            }
        }
    }
}
