//! The BTF encoder: a [`Builder`] collects type records and their names,
//! handing out type ids (1, 2, ...; 0 is void), and [`Builder::finish`]
//! writes header, records and string table in either byte order.
//!
//! Identical records are stored once, so asking twice for `int` or for a
//! pointer to the same type gives the same id. A record may only refer to
//! ids that already exist, so a built BTF has no reference cycles (a struct
//! reaches itself only through a FWD). Names are checked against the
//! kernel's rules as they are added, so a mistake surfaces here, not as an
//! `EINVAL` from `BPF_BTF_LOAD`.

use std::collections::HashMap;

use super::bytes::Writer;
use super::strings::{check_name, is_identifier, is_int_name, is_section_name, StringTable};
use super::types::{int_encoding, BtfType, EnumValue, Member, Param, VarSecinfo};
use super::BtfError;
use crate::insn::Endian;

/// The BTF magic number.
pub const MAGIC: u16 = 0xeb9f;
/// Size of the `.BTF` header.
pub const HEADER_LEN: u32 = 24;
/// The largest type id the kernel accepts (`BTF_MAX_TYPE`).
pub const MAX_TYPE_ID: usize = 0x000f_ffff;
/// The most members, enumerators or parameters one type holds (`vlen` is
/// 16 bits).
pub const MAX_VLEN: usize = 0xffff;

/// How the bits of an INT are interpreted. The kernel takes one at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntEncoding {
    Unsigned,
    Signed,
    Char,
    Bool,
}

impl IntEncoding {
    /// The `BTF_INT_*` bits.
    pub fn bits(self) -> u8 {
        match self {
            IntEncoding::Unsigned => 0,
            IntEncoding::Signed => int_encoding::SIGNED,
            IntEncoding::Char => int_encoding::CHAR,
            IntEncoding::Bool => int_encoding::BOOL,
        }
    }
}

/// Linkage of a VAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VarLinkage {
    Static = 0,
    GlobalAllocated = 1,
    Extern = 2,
}

/// Linkage of a FUNC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FuncLinkage {
    Static = 0,
    Global = 1,
    Extern = 2,
}

/// Builds one BTF blob.
#[derive(Clone, Debug, Default)]
pub struct Builder {
    strings: StringTable,
    /// Type `id` is `types[id - 1]`.
    types: Vec<BtfType>,
    ids: HashMap<BtfType, u32>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The string-table offset of `s`, adding it if new. `.BTF.ext` records
    /// use these offsets too.
    pub fn string(&mut self, s: &str) -> Result<u32, BtfError> {
        self.strings.add(s)
    }

    /// The records added so far; type id `n` is at index `n - 1`.
    pub fn types(&self) -> &[BtfType] {
        &self.types
    }

    /// Adds `ty` (or finds its twin) and returns its id.
    pub fn add(&mut self, ty: BtfType) -> Result<u32, BtfError> {
        if let Some(&id) = self.ids.get(&ty) {
            return Ok(id);
        }
        let count = self.types.len() as u32;
        if let Some(&bad) = ty.referenced_ids().iter().find(|&&r| r > count) {
            return Err(BtfError::TypeIdOutOfRange { id: bad, count });
        }
        if ty.vlen() > MAX_VLEN {
            return Err(BtfError::TooManyEntries {
                kind: ty.kind_name(),
                count: ty.vlen(),
            });
        }
        if self.types.len() >= MAX_TYPE_ID {
            return Err(BtfError::TooManyTypes);
        }
        let id = count + 1;
        self.ids.insert(ty.clone(), id);
        self.types.push(ty);
        Ok(id)
    }

    fn name(
        &mut self,
        name: &str,
        what: &'static str,
        valid: fn(&str) -> bool,
    ) -> Result<u32, BtfError> {
        check_name(name, what, valid)?;
        self.string(name)
    }

    /// An optional identifier: empty for anonymous types.
    fn opt_name(&mut self, name: &str, what: &'static str) -> Result<u32, BtfError> {
        if name.is_empty() {
            Ok(0)
        } else {
            self.name(name, what, is_identifier)
        }
    }

    /// An INT of `size` bytes (1, 2, 4, 8 or 16) using all its bits.
    pub fn int(&mut self, name: &str, size: u32, encoding: IntEncoding) -> Result<u32, BtfError> {
        if !matches!(size, 1 | 2 | 4 | 8 | 16) {
            return Err(BtfError::BadIntSize {
                name: name.to_string(),
                size,
            });
        }
        let name_off = self.name(name, "INT", is_int_name)?;
        let bits = (size * 8) as u8;
        self.add(BtfType::Int {
            name_off,
            size,
            encoding: encoding.bits(),
            offset: 0,
            bits,
        })
    }

    /// The INT clang uses as the index type of every array:
    /// `__ARRAY_SIZE_TYPE__`, 4 bytes, unsigned.
    pub fn array_index_type(&mut self) -> Result<u32, BtfError> {
        self.int("__ARRAY_SIZE_TYPE__", 4, IntEncoding::Unsigned)
    }

    pub fn ptr(&mut self, target: u32) -> Result<u32, BtfError> {
        self.add(BtfType::Ptr { type_id: target })
    }

    pub fn array(&mut self, elem: u32, index: u32, nelems: u32) -> Result<u32, BtfError> {
        self.add(BtfType::Array {
            elem,
            index,
            nelems,
        })
    }

    /// A STRUCT (anonymous when `name` is empty) with members given as
    /// `(name, type, bit offset)`.
    pub fn struct_type(
        &mut self,
        name: &str,
        size: u32,
        members: &[(&str, u32, u32)],
    ) -> Result<u32, BtfError> {
        let name_off = self.opt_name(name, "STRUCT")?;
        let members = self.members(members)?;
        self.add(BtfType::Struct {
            name_off,
            size,
            bitfields: false,
            members,
        })
    }

    /// A UNION, like [`Builder::struct_type`].
    pub fn union_type(
        &mut self,
        name: &str,
        size: u32,
        members: &[(&str, u32, u32)],
    ) -> Result<u32, BtfError> {
        let name_off = self.opt_name(name, "UNION")?;
        let members = self.members(members)?;
        self.add(BtfType::Union {
            name_off,
            size,
            bitfields: false,
            members,
        })
    }

    fn members(&mut self, members: &[(&str, u32, u32)]) -> Result<Vec<Member>, BtfError> {
        members
            .iter()
            .map(|&(name, type_id, offset)| {
                let name_off = self.opt_name(name, "member")?;
                Ok(Member {
                    name_off,
                    type_id,
                    offset,
                })
            })
            .collect()
    }

    /// An ENUM of `size` bytes (1, 2, 4 or 8) with 32-bit enumerators,
    /// anonymous when `name` is empty.
    pub fn enum_type(
        &mut self,
        name: &str,
        size: u32,
        values: &[(&str, i32)],
    ) -> Result<u32, BtfError> {
        let name_off = self.opt_name(name, "ENUM")?;
        let signed = values.iter().any(|&(_, v)| v < 0);
        let values = values
            .iter()
            .map(|&(n, v)| {
                Ok(EnumValue {
                    name_off: self.name(n, "enumerator", is_identifier)?,
                    value: i64::from(v),
                })
            })
            .collect::<Result<Vec<_>, BtfError>>()?;
        self.add(BtfType::Enum {
            name_off,
            size,
            signed,
            values,
        })
    }

    /// A forward declaration `struct name;` (or `union name;`).
    pub fn fwd(&mut self, name: &str, union: bool) -> Result<u32, BtfError> {
        let name_off = self.name(name, "FWD", is_identifier)?;
        self.add(BtfType::Fwd { name_off, union })
    }

    pub fn typedef(&mut self, name: &str, target: u32) -> Result<u32, BtfError> {
        let name_off = self.name(name, "TYPEDEF", is_identifier)?;
        self.add(BtfType::Typedef {
            name_off,
            type_id: target,
        })
    }

    pub fn const_type(&mut self, target: u32) -> Result<u32, BtfError> {
        self.add(BtfType::Const { type_id: target })
    }

    pub fn volatile_type(&mut self, target: u32) -> Result<u32, BtfError> {
        self.add(BtfType::Volatile { type_id: target })
    }

    pub fn var(&mut self, name: &str, type_id: u32, linkage: VarLinkage) -> Result<u32, BtfError> {
        let name_off = self.name(name, "VAR", is_identifier)?;
        self.add(BtfType::Var {
            name_off,
            type_id,
            linkage: linkage as u32,
        })
    }

    /// A DATASEC; its variables are sorted by offset (the kernel requires
    /// it) and its size is the end of the last one.
    pub fn datasec(&mut self, name: &str, vars: &[VarSecinfo]) -> Result<u32, BtfError> {
        let name_off = self.name(name, "DATASEC", is_section_name)?;
        let mut vars = vars.to_vec();
        vars.sort_by_key(|v| v.offset);
        let size = vars
            .iter()
            .map(|v| v.offset.saturating_add(v.size))
            .max()
            .unwrap_or(0);
        self.add(BtfType::Datasec {
            name_off,
            size,
            vars,
        })
    }

    /// A FUNC_PROTO with `(name, type)` parameters.
    pub fn func_proto(&mut self, params: &[(&str, u32)], ret: u32) -> Result<u32, BtfError> {
        let params = params
            .iter()
            .map(|&(name, type_id)| {
                Ok(Param {
                    name_off: self.opt_name(name, "parameter")?,
                    type_id,
                })
            })
            .collect::<Result<Vec<_>, BtfError>>()?;
        self.add(BtfType::FuncProto { ret, params })
    }

    pub fn func(&mut self, name: &str, proto: u32, linkage: FuncLinkage) -> Result<u32, BtfError> {
        let name_off = self.name(name, "FUNC", is_identifier)?;
        self.add(BtfType::Func {
            name_off,
            proto,
            linkage: linkage as u32,
        })
    }

    /// The `.BTF` section: header, type records, string table.
    pub fn finish(&self, endian: Endian) -> Vec<u8> {
        let mut records = Writer::new(endian);
        for t in &self.types {
            t.encode(&mut records);
        }
        let records = records.into_bytes();
        let strings = self.strings.bytes();
        let mut w = Writer::new(endian);
        w.u16(MAGIC);
        w.u8(1); // version
        w.u8(0); // flags
        w.u32(HEADER_LEN);
        w.u32(0); // type_off
        w.u32(records.len() as u32);
        w.u32(records.len() as u32); // str_off
        w.u32(strings.len() as u32);
        w.bytes(&records);
        w.bytes(strings);
        w.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_types_share_an_id() {
        let mut b = Builder::new();
        let a = b.int("int", 4, IntEncoding::Signed).unwrap();
        assert_eq!(b.int("int", 4, IntEncoding::Signed).unwrap(), a);
        let p = b.ptr(a).unwrap();
        assert_eq!(b.ptr(a).unwrap(), p);
        assert_eq!((a, p), (1, 2));
        assert_ne!(b.int("int", 4, IntEncoding::Unsigned).unwrap(), a);
    }

    #[test]
    fn forward_references_are_refused() {
        let mut b = Builder::new();
        assert!(matches!(
            b.ptr(1),
            Err(BtfError::TypeIdOutOfRange { id: 1, count: 0 })
        ));
        assert_eq!(b.ptr(0).unwrap(), 1, "void * is fine");
    }

    #[test]
    fn names_are_checked() {
        let mut b = Builder::new();
        assert!(matches!(
            b.fwd("pt regs", false),
            Err(BtfError::InvalidName { what: "FWD", .. })
        ));
        assert!(b.var("1map", 0, VarLinkage::GlobalAllocated).is_err());
        assert!(b.datasec(".maps", &[]).is_ok());
        assert!(b.int("u32", 3, IntEncoding::Unsigned).is_err());
    }

    #[test]
    fn datasec_sorts_vars_and_sizes_itself() {
        let mut b = Builder::new();
        let i = b.int("int", 4, IntEncoding::Signed).unwrap();
        let v1 = b.var("a", i, VarLinkage::GlobalAllocated).unwrap();
        let v2 = b.var("b", i, VarLinkage::GlobalAllocated).unwrap();
        let vars = [
            VarSecinfo {
                type_id: v2,
                offset: 4,
                size: 4,
            },
            VarSecinfo {
                type_id: v1,
                offset: 0,
                size: 4,
            },
        ];
        let d = b.datasec(".data", &vars).unwrap();
        let BtfType::Datasec { size, vars, .. } = &b.types()[d as usize - 1] else {
            panic!()
        };
        assert_eq!(*size, 8);
        assert_eq!(vars[0].type_id, v1);
    }

    #[test]
    fn header_bytes_follow_the_byte_order() {
        let mut b = Builder::new();
        b.int("int", 4, IntEncoding::Signed).unwrap();
        let le = b.finish(Endian::Little);
        let be = b.finish(Endian::Big);
        assert_eq!(&le[..8], &[0x9f, 0xeb, 1, 0, 24, 0, 0, 0]);
        assert_eq!(&be[..8], &[0xeb, 0x9f, 1, 0, 0, 0, 0, 24]);
        // type_len 16, str_off 16, str_len 5 ("\0int\0").
        assert_eq!(
            &le[8..24],
            &[0, 0, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0, 5, 0, 0, 0]
        );
        assert_eq!(le.len(), 24 + 16 + 5);
        assert_eq!(&le[40..], b"\0int\0");
    }
}
