//! The manifest: what a runner needs to know about a compiled spec beside
//! its object — the programs, what each is (`kind`: a kprobe or kretprobe
//! to attach; `begin`, `end` or `interval` with its period, which the
//! runner runs itself with `BPF_PROG_TEST_RUN`), each map's key and value
//! layout, every record kind the programs send user space (`output`: what
//! to do with it and its arguments' layout), what the spec's config
//! block asks of a runtime, and the read-only globals a loader sets
//! before load (`globals`: the positional parameters read at run time).
//! Serialised as JSON with a stable field order.
//!
//! A runner runs the `begin` programs in order before attaching any
//! kprobe, each `interval` program at its period while they are attached,
//! and the `end` programs after the last is detached; it acts on the
//! records of the ring buffer in the order they arrive (a `print` of a
//! map prints the map as it is then), and at the end prints every map.
//!
//! Value encodings (per CPU for the aggregations, which a reader sums or
//! combines over CPUs): `int` an s64/u64; `string` a NUL-terminated char
//! array; `func` and `probe` a u64 index into [`Manifest::funcs`] and
//! [`Manifest::probes`] (bpftrace likewise keeps addresses and probe ids
//! in maps and names them in user space; the object's BTF names them too,
//! as `enum func` and `enum probe`); `count`/`sum` a u64/s64; `min`/`max` a struct `{s64 value; u64
//! set}` where `set` is 0 on CPUs that never saw a value; `avg`/`stats` a
//! struct `{s64 total; u64 count}`; `hist`/`lhist` a u64 count per bucket,
//! the bucket being a trailing u64 of the key (`hist`: 0 for x < 0, 1 for
//! x == 0, k + 2 for 2^k <= x < 2^(k+1); `lhist`: 0 for x < min,
//! 1 + (x - min) / step, and 1 + ceil((max - min) / step) for x >= max).
//! Every key part is at an 8-byte aligned `offset`; a keyless map's key is
//! a u64 0.
//!
//! A record is a u64 id into [`Manifest::output`] followed by the
//! arguments at their `offset`s: ints 8 bytes, strings their `size` (a
//! multiple of 8), `kstack` a stack id of its `stack` map.
//!
//! A `tuple` (a map value or a record's argument) is its elements one
//! after the other, each at an 8-byte aligned offset, described by
//! `elems` exactly as key parts are (the same kinds, sizes and offsets,
//! from the tuple's start).

use serde::{Deserialize, Serialize};

use crate::arch::Arch;
use crate::kprobe::AttachPoint;
use crate::lang::check::ir::{
    self, Checked, KeyTy, MapInfo, OutputInfo, OutputKind, RuntimeConfig, Stack, Sym, Ty,
    OUTPUT_RINGBUF,
};
use crate::maps::MapKind;

pub use crate::lang::check::ir::settings::StackMode;

/// The whole manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub arch: String,
    pub programs: Vec<ProgramEntry>,
    /// The kernel functions a `func` value (kind `func`, a u64) indexes.
    pub funcs: Vec<String>,
    /// `func` values are instead the probed function's address
    /// (`bpf_get_func_ip`), named through the kernel's symbols: set when a
    /// program is a kprobe-multi one, which cannot know its function's id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub func_ip: bool,
    /// The probes a `probe` value (kind `probe`, a u64) indexes, in
    /// bpftrace's spelling.
    pub probes: Vec<String>,
    pub maps: Vec<MapEntry>,
    /// The record kinds the programs send, by id.
    pub output: Vec<OutputEntry>,
    /// The ring buffer records arrive on, if any program sends one.
    pub ringbuf: Option<String>,
    /// Unsafe actions the programs take (`signal`, `system`), compiled only
    /// with `--unsafe`; absent when there are none.
    #[serde(rename = "unsafe", default, skip_serializing_if = "Vec::is_empty")]
    pub unsafe_actions: Vec<String>,
    /// What the spec's config block asks of a runtime
    /// (`missing_probes`, `print_maps_on_exit`, `stack_mode`); absent when
    /// it is bpftrace's default.
    #[serde(default, skip_serializing_if = "RuntimeConfig::is_default")]
    pub config: RuntimeConfig,
    /// The read-only globals (`.rodata`) a loader sets before load: the
    /// positional parameters the programs read at run time; absent when
    /// there are none (no parameter read, or their values fixed when the
    /// spec compiled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub globals: Vec<GlobalEntry>,
}

/// One read-only global a loader sets: the ELF symbol (aya's
/// `EbpfLoader::set_global`, a libbpf skeleton's `rodata` member), its
/// place in `.rodata`, and what to put there. Each is zero in the object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalEntry {
    pub symbol: String,
    /// Which positional parameter: `N` of `$N`, 0 for `$#`.
    pub param: u32,
    /// `int`: the parameter's text as an s64 (as bpftrace reads a number;
    /// text that is none is an error); `str`: the text, cut to `size - 1`
    /// bytes, NUL-padded to `size`; `count`: the number of parameters, a
    /// u64. Integers in the target's byte order.
    pub kind: ir::ParamKind,
    /// Its offset in `.rodata`.
    pub offset: u32,
    pub size: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramEntry {
    /// The function symbol.
    pub name: String,
    /// The ELF section (`kprobe/vfs_read`, `raw_tp`).
    pub section: String,
    /// bpftrace's spelling (`kprobe:vfs_read`, `ksyscall:openat`, `BEGIN`,
    /// `kprobe:vfs_*` for a kprobe-multi program).
    pub probe: String,
    /// What the program is: attached, or run by the runner.
    #[serde(flatten)]
    pub kind: ProgramKind,
    /// An fentry/fexit program's context: the function's arguments by
    /// name and u64 slot, and the slot of the return value; absent for
    /// kprobes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<TracingCtx>,
    /// A kprobe-multi program's functions as the build's symbols had
    /// them; a loader resolves a `kprobe.multi/PATTERN` section's glob
    /// on the target instead, and attaches a bare `kprobe.multi` to these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<String>,
    /// The wildcard attach point this program's was expanded from
    /// (`kprobe:vfs_*`), if any: where the kernel refuses it, a loader
    /// warns and goes on without it, as bpftrace does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wildcard: Option<String>,
}

/// What a program is, and so what a runner does with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProgramKind {
    /// Attached to its section's function entry (ksyscall ones too).
    Kprobe,
    /// Attached to its section's function return.
    Kretprobe,
    /// Attached to its function's entry through a BPF trampoline.
    Fentry,
    /// Attached to its function's return through a BPF trampoline.
    Fexit,
    /// Run once, before any kprobe is attached.
    Begin,
    /// Run once, after every kprobe is detached.
    End,
    /// Run every `period_ns` nanoseconds while the kprobes are attached.
    Interval { period_ns: u64 },
}

impl ProgramKind {
    /// The kind of a program at `at`.
    pub fn of(at: &AttachPoint) -> ProgramKind {
        match at {
            AttachPoint::Kprobe { .. } => ProgramKind::Kprobe,
            AttachPoint::Kretprobe { .. } => ProgramKind::Kretprobe,
            AttachPoint::Fentry { .. } => ProgramKind::Fentry,
            AttachPoint::Fexit { .. } => ProgramKind::Fexit,
            AttachPoint::Begin => ProgramKind::Begin,
            AttachPoint::End => ProgramKind::End,
            AttachPoint::Interval { period_ns } => ProgramKind::Interval {
                period_ns: *period_ns,
            },
        }
    }

    /// Whether the program is attached (rather than run by the runner).
    pub fn attached(self) -> bool {
        matches!(
            self,
            ProgramKind::Kprobe | ProgramKind::Kretprobe | ProgramKind::Fentry | ProgramKind::Fexit
        )
    }
}

/// The u64 slots of an fentry/fexit program's context.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TracingCtx {
    /// The arguments in order.
    pub args: Vec<TracingArg>,
    /// The slot after the arguments, fexit's return value.
    pub ret_slot: usize,
}

/// One argument of an fentry/fexit program's function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TracingArg {
    pub name: String,
    /// Its (first) u64 slot in the context.
    pub slot: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapEntry {
    /// `@name` (`@` for the anonymous map).
    pub name: String,
    /// The ELF symbol (`AT_name`).
    pub symbol: String,
    /// `hash` or `percpu_hash` (spelled as [`MapKind::name`]).
    #[serde(with = "map_kind")]
    pub kind: MapKind,
    /// The user key parts (a `hist`/`lhist` bucket follows them).
    pub keys: Vec<KeyEntry>,
    pub key_size: u32,
    pub value: ValueEntry,
    pub max_entries: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    pub kind: KeyKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<bool>,
    pub offset: u32,
    /// A `kstack`'s map and how it prints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<StackEntry>,
    /// A `timestamp`'s strftime format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// Where a `kstack` value's frames are and how they print.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackEntry {
    /// The stack-trace map the id is a key of.
    pub map: String,
    pub mode: StackMode,
    /// The most frames the map keeps.
    pub limit: u32,
}

impl From<Stack> for StackEntry {
    fn from(s: Stack) -> StackEntry {
        StackEntry {
            map: s.map(),
            mode: s.mode,
            limit: s.limit,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueEntry {
    pub kind: ValueKind,
    pub size: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lhist: Option<LhistBounds>,
    /// A `kstack`'s map and how it prints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<StackEntry>,
    /// A `timestamp`'s strftime format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// A `tuple`'s elements, described as key parts are, at their offsets
    /// in the value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elems: Vec<KeyEntry>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LhistBounds {
    pub min: i64,
    pub max: i64,
    pub step: i64,
}

/// One record kind: what user space does with it, and its arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputEntry {
    pub id: usize,
    #[serde(flatten)]
    pub action: OutputAction,
    /// Bytes of one record.
    pub size: u32,
    pub args: Vec<ArgEntry>,
}

/// What user space does with a record, in bpftrace's terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutputAction {
    /// Print the arguments through the format, as C's printf does.
    Printf { format: String },
    /// Print the wall-clock time now through the strftime format.
    Time { format: String },
    /// Print the map as it is now: only the last `top` entries of its
    /// printed order when `top` is not 0, each value divided by `div`
    /// when it is not 0.
    Print {
        map: String,
        #[serde(default, skip_serializing_if = "is_zero")]
        top: u32,
        #[serde(default, skip_serializing_if = "is_zero")]
        div: u32,
    },
    /// Print the one argument, and a newline.
    Value,
    /// Delete every entry of the map.
    Clear { map: String },
    /// Set every value of the map to zero.
    Zero { map: String },
    /// Stop: act on no more records, run END, print the maps. An argument
    /// is the exit status.
    Exit,
    /// Print the contents of the file the format names.
    Cat { format: String },
    /// Run the command the format makes and print its output (unsafe).
    System { format: String },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgEntry {
    pub kind: ArgKind,
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
    /// A `kstack`'s map and how it prints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<StackEntry>,
    /// A `timestamp`'s strftime format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// A `tuple`'s elements, described as key parts are, at their offsets
    /// from the argument's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elems: Vec<KeyEntry>,
}

/// What a key part holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Int,
    String,
    Func,
    Probe,
    /// A stack id of the entry's `stack` map.
    Kstack,
    /// A kernel address, printed as the symbol it is in.
    Ksym,
    /// A uid, printed as its user's name.
    Username,
    /// Nanoseconds since boot, printed through the entry's strftime
    /// `format`.
    Timestamp,
    /// A cgroup id, printed as its path.
    CgroupPath,
    /// `ntop()`: a u64 address family and 16 bytes of address, printed as
    /// `inet_ntop` does.
    Inet,
}

/// What a map's value holds: an assigned value or an aggregation's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    Int,
    String,
    Func,
    Probe,
    /// A stack id of the entry's `stack` map.
    Kstack,
    /// A kernel address, printed as the symbol it is in.
    Ksym,
    /// A uid, printed as its user's name.
    Username,
    /// Nanoseconds since boot, printed through the entry's strftime
    /// `format`.
    Timestamp,
    /// A cgroup id, printed as its path.
    CgroupPath,
    /// `ntop()`: a u64 address family and 16 bytes of address, printed as
    /// `inet_ntop` does.
    Inet,
    /// Elements one after the other, each described by the value's
    /// `elems` as a key part is.
    Tuple,
    Count,
    Sum,
    Min,
    Max,
    Avg,
    Stats,
    Hist,
    Lhist,
}

impl ValueKind {
    /// Whether the key ends in a `hist`/`lhist` bucket (a u64).
    pub fn bucketed(self) -> bool {
        matches!(self, ValueKind::Hist | ValueKind::Lhist)
    }
}

/// What a record's argument holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgKind {
    Int,
    String,
    Func,
    Probe,
    /// A stack id of the entry's `stack` map.
    Kstack,
    /// A kernel address, printed as the symbol it is in.
    Ksym,
    /// A uid, printed as its user's name.
    Username,
    /// Nanoseconds since boot, printed through the entry's strftime
    /// `format`.
    Timestamp,
    /// A cgroup id, printed as its path.
    CgroupPath,
    /// `ntop()`: a u64 address family and 16 bytes of address, printed as
    /// `inet_ntop` does.
    Inet,
    /// `buf()`: a u64 length and the bytes, printed as `%r` does.
    Buf,
    /// Elements one after the other, each described by the argument's
    /// `elems` as a key part is.
    Tuple,
}

impl From<Sym> for KeyKind {
    fn from(s: Sym) -> KeyKind {
        match s {
            Sym::Func => KeyKind::Func,
            Sym::Probe => KeyKind::Probe,
            Sym::Ksym => KeyKind::Ksym,
            Sym::Username => KeyKind::Username,
            Sym::Timestamp(_) => KeyKind::Timestamp,
            Sym::CgroupPath => KeyKind::CgroupPath,
        }
    }
}

impl From<ir::ValueKind> for ValueKind {
    fn from(v: ir::ValueKind) -> ValueKind {
        match v {
            ir::ValueKind::Int { .. } | ir::ValueKind::Ptr(_) => ValueKind::Int,
            ir::ValueKind::Str { .. } => ValueKind::String,
            ir::ValueKind::Sym(Sym::Func) => ValueKind::Func,
            ir::ValueKind::Sym(Sym::Probe) => ValueKind::Probe,
            ir::ValueKind::Sym(Sym::Ksym) => ValueKind::Ksym,
            ir::ValueKind::Sym(Sym::Username) => ValueKind::Username,
            ir::ValueKind::Sym(Sym::Timestamp(_)) => ValueKind::Timestamp,
            ir::ValueKind::Sym(Sym::CgroupPath) => ValueKind::CgroupPath,
            ir::ValueKind::Inet => ValueKind::Inet,
            ir::ValueKind::Kstack(_) => ValueKind::Kstack,
            ir::ValueKind::Tuple { .. } => ValueKind::Tuple,
            ir::ValueKind::Count => ValueKind::Count,
            ir::ValueKind::Sum => ValueKind::Sum,
            ir::ValueKind::Min => ValueKind::Min,
            ir::ValueKind::Max => ValueKind::Max,
            ir::ValueKind::Avg => ValueKind::Avg,
            ir::ValueKind::Stats => ValueKind::Stats,
            ir::ValueKind::Hist => ValueKind::Hist,
            ir::ValueKind::Lhist { .. } => ValueKind::Lhist,
        }
    }
}

/// A map kind as its name ([`MapKind::name`]), the one spelling.
mod map_kind {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    use crate::maps::MapKind;

    pub fn serialize<S: Serializer>(k: &MapKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(k.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<MapKind, D::Error> {
        let name = String::deserialize(d)?;
        MapKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| D::Error::custom(format!("unknown map kind `{name}`")))
    }
}

impl Manifest {
    /// The manifest of a checked spec for `arch`.
    pub fn build(checked: &Checked, arch: Arch) -> Manifest {
        Manifest {
            name: checked.name.clone(),
            arch: arch.name().into(),
            programs: checked
                .programs
                .iter()
                .map(|p| ProgramEntry {
                    name: p.symbol.clone(),
                    section: p.section(),
                    probe: p.probe.clone(),
                    kind: ProgramKind::of(&p.attach),
                    tracing: p.proto.as_deref().map(|f| TracingCtx {
                        args: f
                            .params
                            .iter()
                            .map(|a| TracingArg {
                                name: a.name.clone(),
                                slot: a.slot,
                            })
                            .collect(),
                        ret_slot: f.ret_slot(),
                    }),
                    functions: p.multi.as_ref().map_or(Vec::new(), |m| m.funcs.clone()),
                    wildcard: p.wildcard.clone(),
                })
                .collect(),
            funcs: checked.names(Sym::Func),
            func_ip: checked.func_ip,
            probes: checked.names(Sym::Probe),
            maps: checked.maps.iter().map(|m| map_entry(checked, m)).collect(),
            output: checked
                .outputs
                .iter()
                .map(|o| output_entry(checked, o))
                .collect(),
            ringbuf: checked.uses_output().then(|| OUTPUT_RINGBUF.to_string()),
            unsafe_actions: checked.unsafe_actions.clone(),
            globals: checked
                .param_globals()
                .into_iter()
                .map(|(p, g)| GlobalEntry {
                    symbol: g.name,
                    param: p.number(),
                    kind: p.kind(),
                    offset: g.offset,
                    size: g.ty.size(),
                })
                .collect(),
            config: checked.settings.runtime.clone(),
        }
    }

    /// Pretty JSON, fields in declaration order.
    pub fn to_json(&self) -> String {
        // Serialising plain structs of strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Manifest, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// A timestamp's strftime format, of the spec's `formats`.
fn format_of(ty: Ty, formats: &[String]) -> Option<String> {
    match ty {
        Ty::Sym(Sym::Timestamp(i)) => formats.get(i as usize).cloned(),
        _ => None,
    }
}

/// The elements of tuple type `ty` as key parts at their offsets; none
/// for another type.
fn tuple_elems(checked: &Checked, ty: Ty) -> Vec<KeyEntry> {
    let Some((elems, offsets)) = checked.tuple(ty) else {
        return Vec::new();
    };
    elems
        .iter()
        .zip(offsets)
        .filter_map(|(t, off)| Some(key_entry(KeyTy::of(*t)?, off, &checked.strftime)))
        .collect()
}

fn map_entry(checked: &Checked, m: &MapInfo) -> MapEntry {
    let (max_entries, formats) = (checked.settings.max_entries, &checked.strftime);
    let offsets = m.key_offsets();
    let keys = m
        .keys
        .iter()
        .zip(&offsets)
        .map(|(k, &offset)| key_entry(*k, offset, formats))
        .collect();
    let v = m.value_kind();
    MapEntry {
        name: m.display(),
        symbol: m.symbol(),
        kind: m.kind(),
        keys,
        key_size: m.key_size(),
        value: ValueEntry {
            kind: v.into(),
            size: v.size(),
            signed: match v {
                ir::ValueKind::Int { signed } => Some(signed),
                ir::ValueKind::Ptr(_) => Some(false),
                _ => None,
            },
            lhist: match v {
                ir::ValueKind::Lhist { min, max, step } => Some(LhistBounds { min, max, step }),
                _ => None,
            },
            stack: match v {
                ir::ValueKind::Kstack(s) => Some(s.into()),
                _ => None,
            },
            format: match v {
                ir::ValueKind::Sym(s) => format_of(Ty::Sym(s), formats),
                _ => None,
            },
            elems: v
                .assigned_ty()
                .map_or_else(Vec::new, |t| tuple_elems(checked, t)),
        },
        max_entries: m.max_entries(max_entries),
    }
}

fn key_entry(k: KeyTy, offset: u32, formats: &[String]) -> KeyEntry {
    let (size, signed) = match k {
        KeyTy::Int { signed } => (Some(8), Some(signed)),
        KeyTy::Str { .. } | KeyTy::Inet => (Some(k.storage()), None),
        KeyTy::Kstack(_) => (None, None),
        KeyTy::Sym(_) => (Some(8), None),
    };
    let kind = match k {
        KeyTy::Int { .. } => KeyKind::Int,
        KeyTy::Str { .. } => KeyKind::String,
        KeyTy::Kstack(_) => KeyKind::Kstack,
        KeyTy::Sym(s) => s.into(),
        KeyTy::Inet => KeyKind::Inet,
    };
    KeyEntry {
        kind,
        size,
        signed,
        offset,
        stack: match k {
            KeyTy::Kstack(s) => Some(s.into()),
            _ => None,
        },
        format: format_of(k.ty(), formats),
    }
}

fn output_entry(checked: &Checked, o: &OutputInfo) -> OutputEntry {
    let map = |m: usize| {
        checked
            .maps
            .get(m)
            .map(MapInfo::display)
            .unwrap_or_default()
    };
    let action = match &o.kind {
        OutputKind::Printf { format } => OutputAction::Printf {
            format: format.clone(),
        },
        OutputKind::Time { format } => OutputAction::Time {
            format: format.clone(),
        },
        OutputKind::Print { map: m, top, div } => OutputAction::Print {
            map: map(*m),
            top: *top,
            div: *div,
        },
        OutputKind::Value => OutputAction::Value,
        OutputKind::Clear { map: m } => OutputAction::Clear { map: map(*m) },
        OutputKind::Zero { map: m } => OutputAction::Zero { map: map(*m) },
        OutputKind::Exit => OutputAction::Exit,
        OutputKind::Cat { format } => OutputAction::Cat {
            format: format.clone(),
        },
        OutputKind::System { format } => OutputAction::System {
            format: format.clone(),
        },
    };
    let args = o
        .args
        .iter()
        .zip(o.offsets())
        .map(|(t, offset)| ArgEntry {
            elems: tuple_elems(checked, *t),
            ..arg_entry(*t, offset, &checked.strftime)
        })
        .collect();
    OutputEntry {
        id: o.id,
        action,
        size: o.size(),
        args,
    }
}

fn arg_entry(t: Ty, offset: u32, formats: &[String]) -> ArgEntry {
    ArgEntry {
        kind: match t {
            Ty::Str { .. } => ArgKind::String,
            Ty::Sym(Sym::Func) => ArgKind::Func,
            Ty::Sym(Sym::Probe) => ArgKind::Probe,
            Ty::Sym(Sym::Ksym) => ArgKind::Ksym,
            Ty::Sym(Sym::Username) => ArgKind::Username,
            Ty::Sym(Sym::Timestamp(_)) => ArgKind::Timestamp,
            Ty::Sym(Sym::CgroupPath) => ArgKind::CgroupPath,
            Ty::Kstack(_) => ArgKind::Kstack,
            Ty::Inet => ArgKind::Inet,
            Ty::Buf { .. } => ArgKind::Buf,
            Ty::Tuple { .. } => ArgKind::Tuple,
            _ => ArgKind::Int,
        },
        offset,
        size: t.storage(),
        signed: matches!(t, Ty::Int { signed: true }),
        stack: match t {
            Ty::Kstack(s) => Some(s.into()),
            _ => None,
        },
        format: format_of(t, formats),
        elems: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_programs_serialise_as_documented() {
        let outputs = vec![
            OutputEntry {
                id: 0,
                action: OutputAction::Printf {
                    format: "hi %d\n".into(),
                },
                size: 16,
                args: vec![arg_entry(Ty::INT, 8, &[])],
            },
            OutputEntry {
                id: 1,
                action: OutputAction::Print {
                    map: "@x".into(),
                    top: 0,
                    div: 0,
                },
                size: 8,
                args: vec![],
            },
            OutputEntry {
                id: 2,
                action: OutputAction::Exit,
                size: 8,
                args: vec![],
            },
        ];
        let json = serde_json::to_string(&outputs).unwrap();
        assert_eq!(
            json,
            r#"[{"id":0,"kind":"printf","format":"hi %d\n","size":16,"args":[{"kind":"int","offset":8,"size":8,"signed":true}]},{"id":1,"kind":"print","map":"@x","size":8,"args":[]},{"id":2,"kind":"exit","size":8,"args":[]}]"#
        );
        let back: Vec<OutputEntry> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, outputs);
        let every = ProgramEntry {
            name: "interval_1s".into(),
            section: "raw_tp".into(),
            probe: "interval:s:1".into(),
            kind: ProgramKind::Interval {
                period_ns: 1_000_000_000,
            },
            tracing: None,
            functions: Vec::new(),
            wildcard: None,
        };
        let json = serde_json::to_string(&every).unwrap();
        assert_eq!(
            json,
            r#"{"name":"interval_1s","section":"raw_tp","probe":"interval:s:1","kind":"interval","period_ns":1000000000}"#
        );
        assert_eq!(serde_json::from_str::<ProgramEntry>(&json).unwrap(), every);
        assert!(!every.kind.attached());
        assert!(ProgramKind::of(&AttachPoint::kretprobe("f")).attached());
        let fexit = AttachPoint::Fexit { func: "f".into() };
        assert_eq!(ProgramKind::of(&fexit), ProgramKind::Fexit);
        assert!(ProgramKind::Fexit.attached());
    }

    #[test]
    fn key_entries_carry_what_a_reader_needs() {
        let k = serde_json::to_string(&key_entry(KeyTy::Str { size: 10 }, 8, &[])).unwrap();
        assert_eq!(k, r#"{"kind":"string","size":16,"offset":8}"#);
        let stack = Stack {
            mode: StackMode::Perf,
            limit: 8,
        };
        let k = serde_json::to_string(&key_entry(KeyTy::Kstack(stack), 0, &[])).unwrap();
        assert_eq!(
            k,
            r#"{"kind":"kstack","offset":0,"stack":{"map":"stack_traces_8","mode":"perf","limit":8}}"#
        );
        let k = serde_json::to_string(&key_entry(KeyTy::Int { signed: false }, 0, &[])).unwrap();
        assert_eq!(k, r#"{"kind":"int","size":8,"signed":false,"offset":0}"#);
        let k = serde_json::to_string(&key_entry(KeyTy::Sym(Sym::Probe), 8, &[])).unwrap();
        assert_eq!(k, r#"{"kind":"probe","size":8,"offset":8}"#);
    }

    #[test]
    fn kinds_are_spelt_as_the_ir_names_them() {
        use ir::ValueKind as V;
        let lhist = V::Lhist {
            min: 0,
            max: 10,
            step: 1,
        };
        for v in [
            V::Int { signed: true },
            V::Str { size: 16 },
            V::Sym(Sym::Func),
            V::Sym(Sym::Probe),
            V::Count,
            V::Sum,
            V::Min,
            V::Max,
            V::Avg,
            V::Stats,
            V::Hist,
            lhist,
        ] {
            let kind = ValueKind::from(v);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", v.name()));
            assert_eq!(serde_json::from_str::<ValueKind>(&json).unwrap(), kind);
            assert_eq!(kind.bucketed(), v.has_bucket());
        }
        for (k, name) in [(ArgKind::Int, "int"), (ArgKind::String, "string")] {
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{name}\""));
        }
    }

    #[test]
    fn a_map_kind_is_its_name_and_an_unknown_one_is_refused() {
        let m = MapEntry {
            name: "@x".into(),
            symbol: "AT_x".into(),
            kind: MapKind::Hash,
            keys: vec![],
            key_size: 8,
            value: ValueEntry {
                kind: ValueKind::Int,
                size: 8,
                signed: Some(true),
                lhist: None,
                stack: None,
                format: None,
                elems: vec![],
            },
            max_entries: 1,
        };
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["kind"], MapKind::Hash.name());
        let mut bad = json.clone();
        bad["kind"] = "percpu_tree".into();
        let e = serde_json::from_value::<MapEntry>(bad).unwrap_err();
        assert!(
            e.to_string().contains("unknown map kind `percpu_tree`"),
            "{e}"
        );
        bad = json;
        bad["value"]["kind"] = "median".into();
        let e = serde_json::from_value::<MapEntry>(bad).unwrap_err();
        assert!(e.to_string().contains("unknown variant `median`"), "{e}");
    }
}
