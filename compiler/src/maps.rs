//! Map definitions: the kinds of BPF map a kprobe program uses, with their key
//! and value types and sizes, as they are declared in an object's `.maps`
//! section (one BTF-described struct per map; see `btf` and `elf`).

use crate::ctype::CType;

/// The map types probecc emits (`enum bpf_map_type` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapKind {
    Hash,
    Array,
    PercpuHash,
    PercpuArray,
    LruHash,
    Ringbuf,
    PerfEventArray,
    StackTrace,
}

impl MapKind {
    /// The kernel's `BPF_MAP_TYPE_*` number.
    pub fn type_id(self) -> u32 {
        match self {
            MapKind::Hash => 1,
            MapKind::Array => 2,
            MapKind::PerfEventArray => 4,
            MapKind::PercpuHash => 5,
            MapKind::PercpuArray => 6,
            MapKind::StackTrace => 7,
            MapKind::LruHash => 9,
            MapKind::Ringbuf => 27,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MapKind::Hash => "hash",
            MapKind::Array => "array",
            MapKind::PercpuHash => "percpu_hash",
            MapKind::PercpuArray => "percpu_array",
            MapKind::LruHash => "lru_hash",
            MapKind::Ringbuf => "ringbuf",
            MapKind::PerfEventArray => "perf_event_array",
            MapKind::StackTrace => "stack_trace",
        }
    }

    /// The kind whose `BPF_MAP_TYPE_*` number is `id`.
    pub fn from_type_id(id: u32) -> Option<MapKind> {
        MapKind::ALL.into_iter().find(|k| k.type_id() == id)
    }

    pub const ALL: [MapKind; 8] = [
        MapKind::Hash,
        MapKind::Array,
        MapKind::PercpuHash,
        MapKind::PercpuArray,
        MapKind::LruHash,
        MapKind::Ringbuf,
        MapKind::PerfEventArray,
        MapKind::StackTrace,
    ];
}

/// Depth of the stacks a `stack_trace` map stores (`PERF_MAX_STACK_DEPTH`).
pub const STACK_DEPTH: u32 = 127;

/// How a map's key or value is described in BTF.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// A typed member (`__type(key, T)`): `bpftool map dump` prints it structured.
    Typed(CType),
    /// A size only (`__uint(key_size, N)`), as the kernel requires for
    /// perf-event arrays and stack-trace maps.
    Sized(u32),
}

impl Slot {
    pub fn size(&self) -> u32 {
        match self {
            Slot::Typed(t) => t.size(),
            Slot::Sized(n) => *n,
        }
    }
}

/// One map of an object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MapDef {
    /// The symbol name in `.maps`; what programs refer to.
    pub name: String,
    pub kind: MapKind,
    /// `None` for ring buffers, which have no key.
    pub key: Option<Slot>,
    /// `None` for ring buffers, which have no value.
    pub value: Option<Slot>,
    /// Entries; for a ring buffer its size in bytes (a power of two, a
    /// multiple of the page size).
    pub max_entries: u32,
}

impl MapDef {
    pub fn hash(name: &str, key: CType, value: CType, max_entries: u32) -> MapDef {
        MapDef::typed(name, MapKind::Hash, key, value, max_entries)
    }
    pub fn lru_hash(name: &str, key: CType, value: CType, max_entries: u32) -> MapDef {
        MapDef::typed(name, MapKind::LruHash, key, value, max_entries)
    }
    pub fn percpu_hash(name: &str, key: CType, value: CType, max_entries: u32) -> MapDef {
        MapDef::typed(name, MapKind::PercpuHash, key, value, max_entries)
    }
    /// An array map; its key is always `u32`.
    pub fn array(name: &str, value: CType, max_entries: u32) -> MapDef {
        MapDef::typed(name, MapKind::Array, CType::u32(), value, max_entries)
    }
    /// A per-CPU array map; its key is always `u32`.
    pub fn percpu_array(name: &str, value: CType, max_entries: u32) -> MapDef {
        MapDef::typed(name, MapKind::PercpuArray, CType::u32(), value, max_entries)
    }
    /// A ring buffer of `bytes` bytes.
    pub fn ringbuf(name: &str, bytes: u32) -> MapDef {
        MapDef {
            name: name.into(),
            kind: MapKind::Ringbuf,
            key: None,
            value: None,
            max_entries: bytes,
        }
    }
    /// A perf-event array; the loader sizes it to the CPU count when
    /// `max_entries` is 0.
    pub fn perf_event_array(name: &str) -> MapDef {
        MapDef {
            name: name.into(),
            kind: MapKind::PerfEventArray,
            key: Some(Slot::Sized(4)),
            value: Some(Slot::Sized(4)),
            max_entries: 0,
        }
    }
    /// A stack-trace map holding up to `max_entries` stacks of `depth`
    /// frames (at most [`STACK_DEPTH`]).
    pub fn stack_trace(name: &str, depth: u32, max_entries: u32) -> MapDef {
        MapDef {
            name: name.into(),
            kind: MapKind::StackTrace,
            key: Some(Slot::Sized(4)),
            value: Some(Slot::Sized(8 * depth.min(STACK_DEPTH))),
            max_entries,
        }
    }

    fn typed(name: &str, kind: MapKind, key: CType, value: CType, max_entries: u32) -> MapDef {
        MapDef {
            name: name.into(),
            kind,
            key: Some(Slot::Typed(key)),
            value: Some(Slot::Typed(value)),
            max_entries,
        }
    }

    pub fn key_size(&self) -> u32 {
        self.key.as_ref().map_or(0, Slot::size)
    }

    pub fn value_size(&self) -> u32 {
        self.value.as_ref().map_or(0, Slot::size)
    }
}
