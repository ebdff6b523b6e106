//! Reading map definitions back from BTF, as libbpf and aya do: the `.maps`
//! DATASEC lists one VAR per map, whose STRUCT has members `type`,
//! `max_entries`, `map_flags`, `key_size`/`value_size` (each a pointer to an
//! array whose element count is the value) and typed `key`/`value` (each a
//! pointer to the key or value type).

use super::parse::Btf;
use super::types::BtfType;
use super::BtfError;
use crate::maps::MapKind;

/// The name of the section holding BTF-defined maps.
pub const MAPS_SECTION: &str = ".maps";

/// One map as its BTF describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtfMap {
    pub name: String,
    /// Where the definition lies in `.maps`.
    pub offset: u32,
    pub size: u32,
    /// The `BPF_MAP_TYPE_*` number.
    pub map_type: u32,
    /// The kind, if probecc knows the number.
    pub kind: Option<MapKind>,
    pub max_entries: u32,
    pub map_flags: u32,
    pub key_size: u32,
    pub value_size: u32,
    /// The key type when declared with `__type(key, T)`.
    pub key: Option<TypedSlot>,
    pub value: Option<TypedSlot>,
}

/// A typed key or value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedSlot {
    pub type_id: u32,
    /// The type as C (`u32`, `struct event`).
    pub name: String,
}

impl Btf {
    /// The maps of the `.maps` DATASEC, in its order; none if it is absent.
    pub fn maps(&self) -> Result<Vec<BtfMap>, BtfError> {
        let Some((_, BtfType::Datasec { vars, .. })) = self.datasec(MAPS_SECTION) else {
            return Ok(vec![]);
        };
        vars.iter()
            .map(|v| self.map_def(v.type_id, v.offset, v.size))
            .collect()
    }

    fn map_def(&self, var_id: u32, offset: u32, size: u32) -> Result<BtfMap, BtfError> {
        let BtfType::Var {
            name_off, type_id, ..
        } = self.type_by_id(var_id)?
        else {
            return Err(self.not_a(var_id, "VAR"));
        };
        let name = self.string_at(*name_off)?.to_string();
        let def_id = self.resolve(*type_id)?;
        let BtfType::Struct {
            members,
            bitfields: false,
            ..
        } = self.type_by_id(def_id)?
        else {
            return Err(BtfError::BadMapDef {
                map: name,
                reason: format!("type {def_id} is not a plain STRUCT"),
            });
        };
        let mut m = BtfMap {
            name,
            offset,
            size,
            map_type: 0,
            kind: None,
            max_entries: 0,
            map_flags: 0,
            key_size: 0,
            value_size: 0,
            key: None,
            value: None,
        };
        for member in members {
            self.apply_member(&mut m, self.string_at(member.name_off)?, member.type_id)?;
        }
        m.kind = MapKind::from_type_id(m.map_type);
        Ok(m)
    }

    fn apply_member(&self, m: &mut BtfMap, field: &str, type_id: u32) -> Result<(), BtfError> {
        match field {
            "type" => m.map_type = self.uint_member(m, field, type_id)?,
            "max_entries" => m.max_entries = self.uint_member(m, field, type_id)?,
            "map_flags" => m.map_flags = self.uint_member(m, field, type_id)?,
            "key_size" => m.key_size = self.uint_member(m, field, type_id)?,
            "value_size" => m.value_size = self.uint_member(m, field, type_id)?,
            "key" => {
                let slot = self.typed_member(m, field, type_id)?;
                m.key_size = self.size_of(slot.type_id)?;
                m.key = Some(slot);
            }
            "value" => {
                let slot = self.typed_member(m, field, type_id)?;
                m.value_size = self.size_of(slot.type_id)?;
                m.value = Some(slot);
            }
            // pinning, numa_node, map_extra, values, ...: not probecc's.
            _ => {}
        }
        Ok(())
    }

    /// The target of a member that must be a pointer.
    fn pointee(&self, m: &BtfMap, field: &str, type_id: u32) -> Result<u32, BtfError> {
        match self.type_by_id(self.resolve(type_id)?)? {
            BtfType::Ptr { type_id } => Ok(*type_id),
            other => Err(BtfError::BadMapDef {
                map: m.name.clone(),
                reason: format!("member `{field}` is {}, not PTR", other.kind_name()),
            }),
        }
    }

    /// `__uint(field, N)`: a pointer to an array of N elements.
    fn uint_member(&self, m: &BtfMap, field: &str, type_id: u32) -> Result<u32, BtfError> {
        let arr = self.resolve(self.pointee(m, field, type_id)?)?;
        match self.type_by_id(arr)? {
            BtfType::Array { nelems, .. } => Ok(*nelems),
            other => Err(BtfError::BadMapDef {
                map: m.name.clone(),
                reason: format!(
                    "member `{field}` points to {}, not ARRAY",
                    other.kind_name()
                ),
            }),
        }
    }

    /// `__type(field, T)`: a pointer to T.
    fn typed_member(&self, m: &BtfMap, field: &str, type_id: u32) -> Result<TypedSlot, BtfError> {
        let t = self.pointee(m, field, type_id)?;
        Ok(TypedSlot {
            type_id: t,
            name: self.format_type(t)?,
        })
    }

    fn not_a(&self, id: u32, expected: &'static str) -> BtfError {
        let found = self.type_by_id(id).map_or("void", BtfType::kind_name);
        BtfError::NotA {
            id,
            expected,
            found,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::builder::{Builder, IntEncoding, VarLinkage};
    use super::super::parse::parse;
    use super::super::types::VarSecinfo;
    use super::*;
    use crate::insn::Endian;

    #[test]
    fn clang_style_map_reads_back() {
        let mut b = Builder::new();
        let int = b.int("int", 4, IntEncoding::Signed).unwrap();
        let idx = b.array_index_type().unwrap();
        let a1 = b.array(int, idx, 1).unwrap();
        let p1 = b.ptr(a1).unwrap();
        let a1024 = b.array(int, idx, 1024).unwrap();
        let p1024 = b.ptr(a1024).unwrap();
        let u32_ = b.int("unsigned int", 4, IntEncoding::Unsigned).unwrap();
        let td = b.typedef("u32", u32_).unwrap();
        let pk = b.ptr(td).unwrap();
        let s = b
            .struct_type(
                "",
                24,
                &[
                    ("type", p1, 0),
                    ("max_entries", p1024, 64),
                    ("key", pk, 128),
                ],
            )
            .unwrap();
        let v = b.var("counts", s, VarLinkage::GlobalAllocated).unwrap();
        b.datasec(
            ".maps",
            &[VarSecinfo {
                type_id: v,
                offset: 0,
                size: 24,
            }],
        )
        .unwrap();
        let btf = parse(&b.finish(Endian::Big)).unwrap();
        let maps = btf.maps().unwrap();
        assert_eq!(maps.len(), 1);
        let m = &maps[0];
        assert_eq!(
            (m.name.as_str(), m.map_type, m.kind, m.max_entries),
            ("counts", 1, Some(MapKind::Hash), 1024)
        );
        assert_eq!(m.key_size, 4);
        assert_eq!(m.key.as_ref().map(|k| k.name.as_str()), Some("u32"));
        assert_eq!(m.value, None);
    }

    #[test]
    fn non_pointer_member_is_an_error_naming_the_map() {
        let mut b = Builder::new();
        let int = b.int("int", 4, IntEncoding::Signed).unwrap();
        let s = b.struct_type("", 8, &[("type", int, 0)]).unwrap();
        let v = b.var("bad", s, VarLinkage::GlobalAllocated).unwrap();
        b.datasec(
            ".maps",
            &[VarSecinfo {
                type_id: v,
                offset: 0,
                size: 8,
            }],
        )
        .unwrap();
        let btf = parse(&b.finish(Endian::Little)).unwrap();
        let err = btf.maps().unwrap_err();
        assert!(
            matches!(&err, BtfError::BadMapDef { map, .. } if map == "bad"),
            "{err}"
        );
    }

    #[test]
    fn no_maps_section_means_no_maps() {
        let mut b = Builder::new();
        b.int("int", 4, IntEncoding::Signed).unwrap();
        assert!(parse(&b.finish(Endian::Little))
            .unwrap()
            .maps()
            .unwrap()
            .is_empty());
    }
}
