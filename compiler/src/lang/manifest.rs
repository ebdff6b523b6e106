//! The manifest: what a runner needs to know about a compiled spec beside
//! its object — the programs and the probes they attach to, each map's key
//! and value layout, every printf record format, the user-space actions
//! of `BEGIN` and `END`, and what the spec's config block asks of a
//! runtime. Serialised as JSON with a stable field order.
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
//! A printf record is a u64 format id followed by the arguments at their
//! `offset`s: ints 8 bytes, strings their `size` (a multiple of 8).

use serde::{Deserialize, Serialize};

use crate::arch::Arch;
use crate::lang::check::ir::{
    self, Checked, KeyTy, MapInfo, PrintfInfo, RuntimeConfig, Sym, Ty, PRINTF_RINGBUF, STACK_MAP,
};
use crate::maps::MapKind;

/// The actions of `BEGIN` and `END`, which the manifest lists for runners.
pub use crate::lang::check::ir::{Action, Literal};

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
    pub printf: Vec<PrintfEntry>,
    /// The ring buffer printf records arrive on, if any probe prints.
    pub ringbuf: Option<String>,
    /// The stack-trace map `kstack` keys refer to, if any probe uses it.
    pub stack_map: Option<String>,
    pub begin: Vec<Action>,
    pub end: Vec<Action>,
    /// Unsafe actions the programs take (`signal`), compiled only with
    /// `--unsafe`; absent when there are none.
    #[serde(rename = "unsafe", default, skip_serializing_if = "Vec::is_empty")]
    pub unsafe_actions: Vec<String>,
    /// What the spec's config block asks of a runtime
    /// (`missing_probes`, `print_maps_on_exit`, `stack_mode`); absent when
    /// it is bpftrace's default.
    #[serde(default, skip_serializing_if = "RuntimeConfig::is_default")]
    pub config: RuntimeConfig,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramEntry {
    /// The function symbol.
    pub name: String,
    /// The ELF section (`kprobe/vfs_read`).
    pub section: String,
    /// bpftrace's spelling (`kprobe:vfs_read`, `ksyscall:openat`,
    /// `kprobe:vfs_*` for a kprobe-multi program).
    pub probe: String,
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
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueEntry {
    pub kind: ValueKind,
    pub size: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lhist: Option<LhistBounds>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LhistBounds {
    pub min: i64,
    pub max: i64,
    pub step: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintfEntry {
    pub id: usize,
    pub format: String,
    /// Bytes of one record.
    pub size: u32,
    pub args: Vec<ArgEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgEntry {
    pub kind: ArgKind,
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
}

/// What a key part holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Int,
    String,
    Func,
    Probe,
    /// A stack id of [`Manifest::stack_map`].
    Kstack,
}

/// What a map's value holds: an assigned value or an aggregation's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    Int,
    String,
    Func,
    Probe,
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

/// What a printf argument holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgKind {
    Int,
    String,
    Func,
    Probe,
}

impl From<Sym> for KeyKind {
    fn from(s: Sym) -> KeyKind {
        match s {
            Sym::Func => KeyKind::Func,
            Sym::Probe => KeyKind::Probe,
        }
    }
}

impl From<ir::ValueKind> for ValueKind {
    fn from(v: ir::ValueKind) -> ValueKind {
        match v {
            ir::ValueKind::Int { .. } => ValueKind::Int,
            ir::ValueKind::Str { .. } => ValueKind::String,
            ir::ValueKind::Sym(Sym::Func) => ValueKind::Func,
            ir::ValueKind::Sym(Sym::Probe) => ValueKind::Probe,
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
                })
                .collect(),
            funcs: checked.names(Sym::Func),
            func_ip: checked.func_ip,
            probes: checked.names(Sym::Probe),
            maps: checked
                .maps
                .iter()
                .map(|m| map_entry(m, checked.settings.max_entries))
                .collect(),
            printf: checked.printfs.iter().map(printf_entry).collect(),
            ringbuf: checked.uses_printf().then(|| PRINTF_RINGBUF.to_string()),
            stack_map: checked.uses_kstack().then(|| STACK_MAP.to_string()),
            begin: checked.begin.clone(),
            end: checked.end.clone(),
            unsafe_actions: checked.unsafe_actions.clone(),
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

fn map_entry(m: &MapInfo, max_entries: u32) -> MapEntry {
    let offsets = m.key_offsets();
    let keys = m
        .keys
        .iter()
        .zip(&offsets)
        .map(|(k, &offset)| key_entry(*k, offset))
        .collect();
    let v = m.value_kind();
    MapEntry {
        name: m.display(),
        symbol: m.symbol(),
        kind: v.map_kind(),
        keys,
        key_size: m.key_size(),
        value: ValueEntry {
            kind: v.into(),
            size: v.size(),
            signed: match v {
                ir::ValueKind::Int { signed } => Some(signed),
                _ => None,
            },
            lhist: match v {
                ir::ValueKind::Lhist { min, max, step } => Some(LhistBounds { min, max, step }),
                _ => None,
            },
        },
        max_entries,
    }
}

fn key_entry(k: KeyTy, offset: u32) -> KeyEntry {
    let (size, signed) = match k {
        KeyTy::Int { signed } => (Some(8), Some(signed)),
        KeyTy::Str { .. } => (Some(k.storage()), None),
        KeyTy::Kstack => (None, None),
        KeyTy::Sym(_) => (Some(8), None),
    };
    let kind = match k {
        KeyTy::Int { .. } => KeyKind::Int,
        KeyTy::Str { .. } => KeyKind::String,
        KeyTy::Kstack => KeyKind::Kstack,
        KeyTy::Sym(s) => s.into(),
    };
    KeyEntry {
        kind,
        size,
        signed,
        offset,
    }
}

fn printf_entry(p: &PrintfInfo) -> PrintfEntry {
    let args = p
        .args
        .iter()
        .zip(p.offsets())
        .map(|(t, offset)| ArgEntry {
            kind: match t {
                Ty::Str { .. } => ArgKind::String,
                Ty::Sym(Sym::Func) => ArgKind::Func,
                Ty::Sym(Sym::Probe) => ArgKind::Probe,
                _ => ArgKind::Int,
            },
            offset,
            size: t.storage(),
            signed: matches!(t, Ty::Int { signed: true }),
        })
        .collect();
    PrintfEntry {
        id: p.id,
        format: p.format.clone(),
        size: p.size(),
        args,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_serialise_as_documented() {
        let acts = vec![
            Action::Printf {
                format: "hi %d %s\n".into(),
                args: vec![Literal::Int(-1), Literal::Str("x".into())],
            },
            Action::Print("@x".into()),
            Action::Clear("@x".into()),
            Action::Zero("@".into()),
            Action::Exit(()),
        ];
        let json = serde_json::to_string(&acts).unwrap();
        assert_eq!(
            json,
            r#"[{"printf":{"format":"hi %d %s\n","args":[-1,"x"]}},{"print":"@x"},{"clear":"@x"},{"zero":"@"},{"exit":null}]"#
        );
        let back: Vec<Action> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, acts);
    }

    #[test]
    fn key_entries_carry_what_a_reader_needs() {
        let k = serde_json::to_string(&key_entry(KeyTy::Str { size: 10 }, 8)).unwrap();
        assert_eq!(k, r#"{"kind":"string","size":16,"offset":8}"#);
        let k = serde_json::to_string(&key_entry(KeyTy::Kstack, 0)).unwrap();
        assert_eq!(k, r#"{"kind":"kstack","offset":0}"#);
        let k = serde_json::to_string(&key_entry(KeyTy::Int { signed: false }, 0)).unwrap();
        assert_eq!(k, r#"{"kind":"int","size":8,"signed":false,"offset":0}"#);
        let k = serde_json::to_string(&key_entry(KeyTy::Sym(Sym::Probe), 8)).unwrap();
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
