//! The object's maps and record types as C types for BTF: each map's key
//! (an integer, a char array, or a struct `AT_name_key` of the parts and
//! the histogram bucket) and value (an integer, a char array, a struct
//! `AT_name_val` of two 64-bit fields or of a tuple's elements), a
//! stack-trace map per `kstack`
//! depth, the array of the time `elapsed` counts from, the ring buffer
//! of records for user space, and a struct
//! `output_<id>` per record kind.
//! `func` and `probe` values are 8-byte enums (`enum func`, `enum probe`)
//! whose enumerators are the names, so that `bpftool map dump` prints
//! `vfs_read` where the map holds its id; beyond the enumerators one BTF
//! enum holds (65,535: `kprobe:*` on a whole kernel has more), a plain
//! `u64`, named by the manifest alone.

use crate::btf::builder::MAX_VLEN;
use crate::ctype::{CType, StructType};
use crate::lang::check::ir::{
    round8, stack_map, Checked, KeyTy, MapInfo, OutputInfo, Sym, Ty, ValueKind, ELAPSED_MAP,
    OUTPUT_RINGBUF,
};
use crate::maps::{MapDef, MapKind};

/// Every map of the object: the spec's maps in order of first use, then
/// the stack-trace maps and the output ring buffer if used.
pub fn map_defs(checked: &Checked) -> Vec<MapDef> {
    let mut out: Vec<MapDef> = checked.maps.iter().map(|m| map_def(checked, m)).collect();
    for limit in checked.stack_limits() {
        let name = stack_map(limit);
        out.push(MapDef::stack_trace(
            &name,
            limit,
            checked.settings.max_entries,
        ));
    }
    if checked.uses_elapsed() {
        out.push(MapDef::array(ELAPSED_MAP, CType::u64(), 1));
    }
    if checked.uses_output() {
        out.push(MapDef::ringbuf(
            OUTPUT_RINGBUF,
            checked.settings.ringbuf_bytes,
        ));
    }
    out
}

fn map_def(checked: &Checked, m: &MapInfo) -> MapDef {
    let sym = m.symbol();
    let (key, value) = (key_type(checked, m), value_type(checked, m));
    let entries = m.max_entries(checked.settings.max_entries);
    match m.kind() {
        MapKind::PercpuHash => MapDef::percpu_hash(&sym, key, value, entries),
        MapKind::LruHash => MapDef::lru_hash(&sym, key, value, entries),
        _ => MapDef::hash(&sym, key, value, entries),
    }
}

fn int(signed: bool) -> CType {
    if signed {
        CType::s64()
    } else {
        CType::u64()
    }
}

/// `enum func` or `enum probe`: enumerator k names id k; a `u64` where
/// there are more names than a BTF enum holds, and for the other values
/// user space names.
fn sym_type(checked: &Checked, s: Sym) -> CType {
    if !s.indexes_names() || (s == Sym::Func && checked.func_ip) {
        return CType::u64();
    }
    let names = checked.names(s);
    if names.len() > MAX_VLEN {
        return CType::u64();
    }
    CType::Enum {
        name: s.name().into(),
        size: 8,
        values: names.iter().map(|n| c_identifier(n)).collect(),
    }
}

/// `struct inet { u64 af; char addr[16]; }`: an `ntop()` value.
fn inet_type() -> CType {
    CType::Struct(StructType::new(
        "inet",
        vec![
            ("af".into(), CType::u64()),
            ("addr".into(), CType::char_array(16)),
        ],
    ))
}

/// `name` as a C identifier (BTF requires one): other characters become
/// `_` (`kprobe:vfs_read` is `kprobe_vfs_read`, `foo.isra.0` is
/// `foo_isra_0`).
fn c_identifier(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

fn key_part(checked: &Checked, k: KeyTy) -> CType {
    match k {
        KeyTy::Int { signed } => int(signed),
        KeyTy::Str { .. } => CType::char_array(k.storage()),
        KeyTy::Kstack(_) => CType::u64(),
        KeyTy::Sym(s) => sym_type(checked, s),
        KeyTy::Inet => inet_type(),
    }
}

/// `struct NAME { e0; e1; ... }`: a tuple, each element as a key part of
/// its type is (a tuple's elements are laid out as key parts are).
fn tuple_type(checked: &Checked, ty: Ty, name: &str) -> CType {
    let fields = checked.tuple(ty).map_or_else(Vec::new, |(elems, _)| {
        elems
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((format!("e{i}"), key_part(checked, KeyTy::of(*t)?))))
            .collect()
    });
    CType::Struct(StructType::new(name, fields))
}

fn key_type(checked: &Checked, m: &MapInfo) -> CType {
    let mut parts: Vec<(String, CType)> = m
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| (format!("k{i}"), key_part(checked, *k)))
        .collect();
    if m.value_kind().has_bucket() {
        parts.push(("bucket".into(), CType::u64()));
    }
    match parts.len() {
        0 => CType::u64(),
        1 => parts.remove(0).1,
        _ => CType::Struct(StructType::new(&format!("{}_key", m.symbol()), parts)),
    }
}

fn value_type(checked: &Checked, m: &MapInfo) -> CType {
    let pair = |a: &str, b: &str| {
        CType::Struct(StructType::new(
            &format!("{}_val", m.symbol()),
            vec![(a.into(), CType::s64()), (b.into(), CType::u64())],
        ))
    };
    match m.value_kind() {
        ValueKind::Int { signed } => int(signed),
        v @ ValueKind::Str { .. } => CType::char_array(v.size()),
        ValueKind::Sym(s) => sym_type(checked, s),
        ValueKind::Kstack(_) | ValueKind::Ptr(_) => CType::u64(),
        ValueKind::Inet => inet_type(),
        ValueKind::Tuple { id, size } => tuple_type(
            checked,
            Ty::Tuple { id, size },
            &format!("{}_val", m.symbol()),
        ),
        ValueKind::Sum => CType::s64(),
        ValueKind::Min | ValueKind::Max => pair("value", "set"),
        ValueKind::Avg | ValueKind::Stats => pair("total", "count"),
        ValueKind::Count | ValueKind::Hist | ValueKind::Lhist { .. } => CType::u64(),
    }
}

/// The record struct of each output record kind.
pub fn output_types(checked: &Checked) -> Vec<CType> {
    checked
        .outputs
        .iter()
        .map(|p| output_type(checked, p))
        .collect()
}

fn output_type(checked: &Checked, p: &OutputInfo) -> CType {
    let mut fields = vec![("id".to_string(), CType::u64())];
    for (i, t) in p.args.iter().enumerate() {
        let ty = match t {
            Ty::Str { .. } => CType::char_array(t.storage()),
            Ty::Int { signed } => int(*signed),
            Ty::Sym(s) => sym_type(checked, *s),
            Ty::Inet => inet_type(),
            Ty::Buf { size } => CType::Struct(StructType::new(
                &format!("output_{}_buf{i}", p.id),
                vec![
                    ("len".into(), CType::u64()),
                    ("data".into(), CType::char_array(round8(*size))),
                ],
            )),
            Ty::Tuple { .. } => tuple_type(checked, *t, &format!("output_{}_tuple{i}", p.id)),
            _ => CType::u64(),
        };
        fields.push((format!("arg{i}"), ty));
    }
    CType::Struct(StructType::new(&format!("output_{}", p.id), fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Arch;
    use crate::lang::check::{check, CompileOptions};
    use crate::lang::parse::parse;
    use crate::maps::Slot;

    /// The key type of the one map of `kprobe:f* { @[func] = count(); }`
    /// expanded against `n` functions.
    fn func_key(n: usize) -> Option<Slot> {
        let spec = parse("kprobe:f* { @[func] = count(); }").unwrap();
        let opts = CompileOptions {
            symbols: Some((0..n).map(|i| format!("f{i}")).collect()),
            ..CompileOptions::default()
        };
        let c = check(&spec, Arch::X86_64, &opts).unwrap_or_else(|d| panic!("{d:#?}"));
        assert_eq!(c.programs.len(), n);
        map_defs(&c).remove(0).key
    }

    #[test]
    fn names_are_an_enum_while_btf_can_hold_them() {
        let Some(Slot::Typed(CType::Enum { name, values, .. })) = func_key(MAX_VLEN) else {
            panic!("not an enum");
        };
        assert_eq!((name.as_str(), values.len()), ("func", MAX_VLEN));
        assert_eq!(func_key(MAX_VLEN + 1), Some(Slot::Typed(CType::u64())));
    }

    #[test]
    fn names_become_c_identifiers() {
        assert_eq!(c_identifier("vfs_read"), "vfs_read");
        assert_eq!(c_identifier("kretprobe:vfs_read"), "kretprobe_vfs_read");
        assert_eq!(c_identifier("foo.isra.0"), "foo_isra_0");
        assert_eq!(c_identifier("9p_open"), "_9p_open");
        assert_eq!(c_identifier(""), "_");
    }
}
