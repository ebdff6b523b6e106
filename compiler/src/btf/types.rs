//! The BTF type record: one [`BtfType`] per kind, as the kernel's
//! `struct btf_type` and the trailing data of each kind lay it out, with the
//! encoding of a record to bytes and its decoding from bytes. Names are kept
//! as offsets into the string table; the encoder and the parser share this
//! model.

use super::bytes::{Reader, Writer};
use super::BtfError;

/// `BTF_KIND_*` numbers.
pub mod kind {
    pub const INT: u32 = 1;
    pub const PTR: u32 = 2;
    pub const ARRAY: u32 = 3;
    pub const STRUCT: u32 = 4;
    pub const UNION: u32 = 5;
    pub const ENUM: u32 = 6;
    pub const FWD: u32 = 7;
    pub const TYPEDEF: u32 = 8;
    pub const VOLATILE: u32 = 9;
    pub const CONST: u32 = 10;
    pub const RESTRICT: u32 = 11;
    pub const FUNC: u32 = 12;
    pub const FUNC_PROTO: u32 = 13;
    pub const VAR: u32 = 14;
    pub const DATASEC: u32 = 15;
    pub const FLOAT: u32 = 16;
    pub const DECL_TAG: u32 = 17;
    pub const TYPE_TAG: u32 = 18;
    pub const ENUM64: u32 = 19;
}

/// `BTF_INT_*` encoding bits of an INT (the kernel accepts at most one).
pub mod int_encoding {
    pub const SIGNED: u8 = 1;
    pub const CHAR: u8 = 2;
    pub const BOOL: u8 = 4;
}

/// A member of a STRUCT or UNION.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Member {
    pub name_off: u32,
    pub type_id: u32,
    /// The raw offset word: the bit offset, or with the struct's kind flag
    /// set, `bitfield_size << 24 | bit_offset`.
    pub offset: u32,
}

impl Member {
    /// The member's offset in bits from the start of the struct.
    pub fn bit_offset(&self, bitfields: bool) -> u32 {
        if bitfields {
            self.offset & 0x00ff_ffff
        } else {
            self.offset
        }
    }

    /// The width of a bitfield member, 0 for an ordinary member.
    pub fn bitfield_size(&self, bitfields: bool) -> u32 {
        if bitfields {
            self.offset >> 24
        } else {
            0
        }
    }
}

/// A FUNC_PROTO parameter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    pub name_off: u32,
    pub type_id: u32,
}

/// An ENUM or ENUM64 enumerator.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EnumValue {
    pub name_off: u32,
    pub value: i64,
}

/// A variable of a DATASEC: where it lives in the section.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VarSecinfo {
    /// The VAR (or FUNC, for extern sections).
    pub type_id: u32,
    pub offset: u32,
    pub size: u32,
}

/// One BTF type record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BtfType {
    Int {
        name_off: u32,
        size: u32,
        encoding: u8,
        offset: u8,
        bits: u8,
    },
    Ptr {
        type_id: u32,
    },
    Array {
        elem: u32,
        index: u32,
        nelems: u32,
    },
    /// `bitfields` is the kind flag: member offsets carry bitfield sizes.
    Struct {
        name_off: u32,
        size: u32,
        bitfields: bool,
        members: Vec<Member>,
    },
    Union {
        name_off: u32,
        size: u32,
        bitfields: bool,
        members: Vec<Member>,
    },
    Enum {
        name_off: u32,
        size: u32,
        signed: bool,
        values: Vec<EnumValue>,
    },
    Fwd {
        name_off: u32,
        union: bool,
    },
    Typedef {
        name_off: u32,
        type_id: u32,
    },
    Volatile {
        type_id: u32,
    },
    Const {
        type_id: u32,
    },
    Restrict {
        type_id: u32,
    },
    /// `linkage`: 0 static, 1 global, 2 extern.
    Func {
        name_off: u32,
        proto: u32,
        linkage: u32,
    },
    FuncProto {
        ret: u32,
        params: Vec<Param>,
    },
    /// `linkage`: 0 static, 1 global allocated, 2 extern.
    Var {
        name_off: u32,
        type_id: u32,
        linkage: u32,
    },
    Datasec {
        name_off: u32,
        size: u32,
        vars: Vec<VarSecinfo>,
    },
    Float {
        name_off: u32,
        size: u32,
    },
    /// `component_idx` -1 tags the type itself, else a member or parameter.
    DeclTag {
        name_off: u32,
        type_id: u32,
        component_idx: i32,
    },
    TypeTag {
        name_off: u32,
        type_id: u32,
    },
    Enum64 {
        name_off: u32,
        size: u32,
        signed: bool,
        values: Vec<EnumValue>,
    },
}

impl BtfType {
    /// The `BTF_KIND_*` number.
    pub fn kind(&self) -> u32 {
        match self {
            BtfType::Int { .. } => kind::INT,
            BtfType::Ptr { .. } => kind::PTR,
            BtfType::Array { .. } => kind::ARRAY,
            BtfType::Struct { .. } => kind::STRUCT,
            BtfType::Union { .. } => kind::UNION,
            BtfType::Enum { .. } => kind::ENUM,
            BtfType::Fwd { .. } => kind::FWD,
            BtfType::Typedef { .. } => kind::TYPEDEF,
            BtfType::Volatile { .. } => kind::VOLATILE,
            BtfType::Const { .. } => kind::CONST,
            BtfType::Restrict { .. } => kind::RESTRICT,
            BtfType::Func { .. } => kind::FUNC,
            BtfType::FuncProto { .. } => kind::FUNC_PROTO,
            BtfType::Var { .. } => kind::VAR,
            BtfType::Datasec { .. } => kind::DATASEC,
            BtfType::Float { .. } => kind::FLOAT,
            BtfType::DeclTag { .. } => kind::DECL_TAG,
            BtfType::TypeTag { .. } => kind::TYPE_TAG,
            BtfType::Enum64 { .. } => kind::ENUM64,
        }
    }

    /// The kind's name as `bpftool btf dump` prints it.
    pub fn kind_name(&self) -> &'static str {
        kind_name(self.kind())
    }

    /// The offset of the type's own name; 0 for kinds without one.
    pub fn name_off(&self) -> u32 {
        match self {
            BtfType::Int { name_off, .. }
            | BtfType::Struct { name_off, .. }
            | BtfType::Union { name_off, .. }
            | BtfType::Enum { name_off, .. }
            | BtfType::Fwd { name_off, .. }
            | BtfType::Typedef { name_off, .. }
            | BtfType::Func { name_off, .. }
            | BtfType::Var { name_off, .. }
            | BtfType::Datasec { name_off, .. }
            | BtfType::Float { name_off, .. }
            | BtfType::DeclTag { name_off, .. }
            | BtfType::TypeTag { name_off, .. }
            | BtfType::Enum64 { name_off, .. } => *name_off,
            BtfType::Ptr { .. }
            | BtfType::Array { .. }
            | BtfType::Volatile { .. }
            | BtfType::Const { .. }
            | BtfType::Restrict { .. }
            | BtfType::FuncProto { .. } => 0,
        }
    }

    /// Every string offset the record uses: its name and those of its
    /// members, parameters and enumerators.
    pub fn name_offsets(&self) -> Vec<u32> {
        let mut out = vec![];
        let _ = self.visit_name_offsets(|off| {
            out.push(off);
            Ok::<(), ()>(())
        });
        out
    }

    /// Calls `f` with every string offset [`name_offsets`] lists, without
    /// allocating, stopping at the first error.
    ///
    /// [`name_offsets`]: BtfType::name_offsets
    pub fn visit_name_offsets<E>(&self, mut f: impl FnMut(u32) -> Result<(), E>) -> Result<(), E> {
        f(self.name_off())?;
        match self {
            BtfType::Struct { members, .. } | BtfType::Union { members, .. } => {
                members.iter().try_for_each(|m| f(m.name_off))
            }
            BtfType::Enum { values, .. } | BtfType::Enum64 { values, .. } => {
                values.iter().try_for_each(|v| f(v.name_off))
            }
            BtfType::FuncProto { params, .. } => params.iter().try_for_each(|p| f(p.name_off)),
            _ => Ok(()),
        }
    }

    /// Every type id the record refers to (0 is void).
    pub fn referenced_ids(&self) -> Vec<u32> {
        let mut out = vec![];
        let _ = self.visit_ids(|id| {
            out.push(id);
            Ok::<(), ()>(())
        });
        out
    }

    /// Calls `f` with every id [`referenced_ids`] lists, without
    /// allocating, stopping at the first error.
    ///
    /// [`referenced_ids`]: BtfType::referenced_ids
    pub fn visit_ids<E>(&self, mut f: impl FnMut(u32) -> Result<(), E>) -> Result<(), E> {
        match self {
            BtfType::Int { .. }
            | BtfType::Enum { .. }
            | BtfType::Enum64 { .. }
            | BtfType::Fwd { .. }
            | BtfType::Float { .. } => Ok(()),
            BtfType::Ptr { type_id }
            | BtfType::Typedef { type_id, .. }
            | BtfType::Volatile { type_id }
            | BtfType::Const { type_id }
            | BtfType::Restrict { type_id }
            | BtfType::Var { type_id, .. }
            | BtfType::DeclTag { type_id, .. }
            | BtfType::TypeTag { type_id, .. } => f(*type_id),
            BtfType::Func { proto, .. } => f(*proto),
            BtfType::Array { elem, index, .. } => {
                f(*elem)?;
                f(*index)
            }
            BtfType::Struct { members, .. } | BtfType::Union { members, .. } => {
                members.iter().try_for_each(|m| f(m.type_id))
            }
            BtfType::FuncProto { ret, params } => {
                f(*ret)?;
                params.iter().try_for_each(|p| f(p.type_id))
            }
            BtfType::Datasec { vars, .. } => vars.iter().try_for_each(|v| f(v.type_id)),
        }
    }

    /// The number of trailing entries (the `vlen` of the info word).
    pub fn vlen(&self) -> usize {
        match self {
            BtfType::Struct { members, .. } | BtfType::Union { members, .. } => members.len(),
            BtfType::Enum { values, .. } | BtfType::Enum64 { values, .. } => values.len(),
            BtfType::FuncProto { params, .. } => params.len(),
            BtfType::Datasec { vars, .. } => vars.len(),
            BtfType::Func { linkage, .. } => *linkage as usize,
            _ => 0,
        }
    }

    /// The kind flag of the info word.
    fn kind_flag(&self) -> bool {
        match self {
            BtfType::Struct { bitfields, .. } | BtfType::Union { bitfields, .. } => *bitfields,
            BtfType::Enum { signed, .. } | BtfType::Enum64 { signed, .. } => *signed,
            BtfType::Fwd { union, .. } => *union,
            _ => false,
        }
    }

    /// The `size`/`type` word of the common header.
    fn size_or_type(&self) -> u32 {
        match self {
            BtfType::Int { size, .. }
            | BtfType::Struct { size, .. }
            | BtfType::Union { size, .. }
            | BtfType::Enum { size, .. }
            | BtfType::Datasec { size, .. }
            | BtfType::Float { size, .. }
            | BtfType::Enum64 { size, .. } => *size,
            BtfType::Ptr { type_id }
            | BtfType::Typedef { type_id, .. }
            | BtfType::Volatile { type_id }
            | BtfType::Const { type_id }
            | BtfType::Restrict { type_id }
            | BtfType::Var { type_id, .. }
            | BtfType::DeclTag { type_id, .. }
            | BtfType::TypeTag { type_id, .. } => *type_id,
            BtfType::Func { proto, .. } => *proto,
            BtfType::FuncProto { ret, .. } => *ret,
            BtfType::Array { .. } | BtfType::Fwd { .. } => 0,
        }
    }

    /// Appends the record (common header and trailing data). The caller
    /// guarantees `vlen() <= 0xffff`.
    pub(super) fn encode(&self, w: &mut Writer) {
        let info = (self.kind() << 24)
            | (self.vlen() as u32 & 0xffff)
            | (u32::from(self.kind_flag()) << 31);
        w.u32(self.name_off());
        w.u32(info);
        w.u32(self.size_or_type());
        self.encode_tail(w);
    }

    fn encode_tail(&self, w: &mut Writer) {
        match self {
            BtfType::Int {
                encoding,
                offset,
                bits,
                ..
            } => {
                w.u32(
                    u32::from(*encoding & 0x0f) << 24 | u32::from(*offset) << 16 | u32::from(*bits),
                );
            }
            BtfType::Array {
                elem,
                index,
                nelems,
            } => {
                w.u32(*elem);
                w.u32(*index);
                w.u32(*nelems);
            }
            BtfType::Struct { members, .. } | BtfType::Union { members, .. } => {
                for m in members {
                    w.u32(m.name_off);
                    w.u32(m.type_id);
                    w.u32(m.offset);
                }
            }
            BtfType::Enum { values, .. } => {
                for v in values {
                    w.u32(v.name_off);
                    w.u32(v.value as u32);
                }
            }
            BtfType::Enum64 { values, .. } => {
                for v in values {
                    w.u32(v.name_off);
                    w.u32(v.value as u32);
                    w.u32((v.value as u64 >> 32) as u32);
                }
            }
            BtfType::FuncProto { params, .. } => {
                for p in params {
                    w.u32(p.name_off);
                    w.u32(p.type_id);
                }
            }
            BtfType::Var { linkage, .. } => w.u32(*linkage),
            BtfType::Datasec { vars, .. } => {
                for v in vars {
                    w.u32(v.type_id);
                    w.u32(v.offset);
                    w.u32(v.size);
                }
            }
            BtfType::DeclTag { component_idx, .. } => w.i32(*component_idx),
            _ => {}
        }
    }

    /// Reads one record. `id` is the id it will have, for error messages.
    pub(super) fn decode(r: &mut Reader<'_>, id: u32) -> Result<BtfType, BtfError> {
        let name_off = r.u32()?;
        let info = r.u32()?;
        let st = r.u32()?;
        let head = Head {
            name_off,
            kind: (info >> 24) & 0x1f,
            vlen: info & 0xffff,
            flag: info >> 31 == 1,
            st,
        };
        decode_body(r, &head, id)
    }
}

/// The common header of a record, split into its fields.
struct Head {
    name_off: u32,
    kind: u32,
    vlen: u32,
    flag: bool,
    /// The `size`/`type` word.
    st: u32,
}

fn decode_body(r: &mut Reader<'_>, h: &Head, id: u32) -> Result<BtfType, BtfError> {
    let (name_off, size, type_id) = (h.name_off, h.st, h.st);
    Ok(match h.kind {
        kind::INT => {
            let word = r.u32()?;
            let encoding = ((word >> 24) & 0x0f) as u8;
            BtfType::Int {
                name_off,
                size,
                encoding,
                offset: (word >> 16) as u8,
                bits: word as u8,
            }
        }
        kind::PTR => BtfType::Ptr { type_id },
        kind::ARRAY => BtfType::Array {
            elem: r.u32()?,
            index: r.u32()?,
            nelems: r.u32()?,
        },
        kind::STRUCT => BtfType::Struct {
            name_off,
            size,
            bitfields: h.flag,
            members: members(r, h.vlen)?,
        },
        kind::UNION => BtfType::Union {
            name_off,
            size,
            bitfields: h.flag,
            members: members(r, h.vlen)?,
        },
        kind::ENUM => BtfType::Enum {
            name_off,
            size,
            signed: h.flag,
            values: enum32(r, h.vlen, h.flag)?,
        },
        kind::FWD => BtfType::Fwd {
            name_off,
            union: h.flag,
        },
        kind::TYPEDEF => BtfType::Typedef { name_off, type_id },
        kind::VOLATILE => BtfType::Volatile { type_id },
        kind::CONST => BtfType::Const { type_id },
        kind::RESTRICT => BtfType::Restrict { type_id },
        kind::FUNC => BtfType::Func {
            name_off,
            proto: type_id,
            linkage: h.vlen,
        },
        kind::FUNC_PROTO => BtfType::FuncProto {
            ret: type_id,
            params: params(r, h.vlen)?,
        },
        kind::VAR => BtfType::Var {
            name_off,
            type_id,
            linkage: r.u32()?,
        },
        kind::DATASEC => BtfType::Datasec {
            name_off,
            size,
            vars: secinfos(r, h.vlen)?,
        },
        kind::FLOAT => BtfType::Float { name_off, size },
        kind::DECL_TAG => BtfType::DeclTag {
            name_off,
            type_id,
            component_idx: r.i32()?,
        },
        kind::TYPE_TAG => BtfType::TypeTag { name_off, type_id },
        kind::ENUM64 => BtfType::Enum64 {
            name_off,
            size,
            signed: h.flag,
            values: enum64(r, h.vlen)?,
        },
        other => return Err(BtfError::UnknownKind { id, kind: other }),
    })
}

/// Reads `vlen` entries with `read`, without trusting `vlen` for allocation.
fn entries<T>(
    r: &mut Reader<'_>,
    vlen: u32,
    entry_size: usize,
    mut read: impl FnMut(&mut Reader<'_>) -> Result<T, BtfError>,
) -> Result<Vec<T>, BtfError> {
    let mut out = Vec::with_capacity((vlen as usize).min(r.remaining() / entry_size));
    for _ in 0..vlen {
        out.push(read(r)?);
    }
    Ok(out)
}

fn members(r: &mut Reader<'_>, vlen: u32) -> Result<Vec<Member>, BtfError> {
    entries(r, vlen, 12, |r| {
        Ok(Member {
            name_off: r.u32()?,
            type_id: r.u32()?,
            offset: r.u32()?,
        })
    })
}

fn params(r: &mut Reader<'_>, vlen: u32) -> Result<Vec<Param>, BtfError> {
    entries(r, vlen, 8, |r| {
        Ok(Param {
            name_off: r.u32()?,
            type_id: r.u32()?,
        })
    })
}

fn secinfos(r: &mut Reader<'_>, vlen: u32) -> Result<Vec<VarSecinfo>, BtfError> {
    entries(r, vlen, 12, |r| {
        Ok(VarSecinfo {
            type_id: r.u32()?,
            offset: r.u32()?,
            size: r.u32()?,
        })
    })
}

fn enum32(r: &mut Reader<'_>, vlen: u32, signed: bool) -> Result<Vec<EnumValue>, BtfError> {
    entries(r, vlen, 8, |r| {
        let name_off = r.u32()?;
        let raw = r.u32()?;
        let value = if signed {
            i64::from(raw as i32)
        } else {
            i64::from(raw)
        };
        Ok(EnumValue { name_off, value })
    })
}

fn enum64(r: &mut Reader<'_>, vlen: u32) -> Result<Vec<EnumValue>, BtfError> {
    entries(r, vlen, 12, |r| {
        let name_off = r.u32()?;
        let lo = u64::from(r.u32()?);
        let hi = u64::from(r.u32()?);
        Ok(EnumValue {
            name_off,
            value: (hi << 32 | lo) as i64,
        })
    })
}

/// The name of a `BTF_KIND_*` number as `bpftool` prints it.
pub fn kind_name(k: u32) -> &'static str {
    match k {
        kind::INT => "INT",
        kind::PTR => "PTR",
        kind::ARRAY => "ARRAY",
        kind::STRUCT => "STRUCT",
        kind::UNION => "UNION",
        kind::ENUM => "ENUM",
        kind::FWD => "FWD",
        kind::TYPEDEF => "TYPEDEF",
        kind::VOLATILE => "VOLATILE",
        kind::CONST => "CONST",
        kind::RESTRICT => "RESTRICT",
        kind::FUNC => "FUNC",
        kind::FUNC_PROTO => "FUNC_PROTO",
        kind::VAR => "VAR",
        kind::DATASEC => "DATASEC",
        kind::FLOAT => "FLOAT",
        kind::DECL_TAG => "DECL_TAG",
        kind::TYPE_TAG => "TYPE_TAG",
        kind::ENUM64 => "ENUM64",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::Endian;

    fn every_kind() -> Vec<BtfType> {
        let m = Member {
            name_off: 1,
            type_id: 2,
            offset: 3 << 24 | 5,
        };
        let ev = EnumValue {
            name_off: 1,
            value: -3,
        };
        vec![
            BtfType::Int {
                name_off: 1,
                size: 4,
                encoding: int_encoding::SIGNED,
                offset: 0,
                bits: 32,
            },
            BtfType::Ptr { type_id: 1 },
            BtfType::Array {
                elem: 1,
                index: 2,
                nelems: 16,
            },
            BtfType::Struct {
                name_off: 1,
                size: 8,
                bitfields: true,
                members: vec![m.clone()],
            },
            BtfType::Union {
                name_off: 0,
                size: 8,
                bitfields: false,
                members: vec![m],
            },
            BtfType::Enum {
                name_off: 1,
                size: 4,
                signed: true,
                values: vec![ev.clone()],
            },
            BtfType::Fwd {
                name_off: 1,
                union: true,
            },
            BtfType::Typedef {
                name_off: 1,
                type_id: 1,
            },
            BtfType::Volatile { type_id: 1 },
            BtfType::Const { type_id: 1 },
            BtfType::Restrict { type_id: 1 },
            BtfType::Func {
                name_off: 1,
                proto: 2,
                linkage: 1,
            },
            BtfType::FuncProto {
                ret: 1,
                params: vec![Param {
                    name_off: 1,
                    type_id: 2,
                }],
            },
            BtfType::Var {
                name_off: 1,
                type_id: 2,
                linkage: 1,
            },
            BtfType::Datasec {
                name_off: 1,
                size: 8,
                vars: vec![VarSecinfo {
                    type_id: 1,
                    offset: 0,
                    size: 8,
                }],
            },
            BtfType::Float {
                name_off: 1,
                size: 8,
            },
            BtfType::DeclTag {
                name_off: 1,
                type_id: 2,
                component_idx: -1,
            },
            BtfType::TypeTag {
                name_off: 1,
                type_id: 2,
            },
            BtfType::Enum64 {
                name_off: 1,
                size: 8,
                signed: true,
                values: vec![EnumValue {
                    value: -1 << 40,
                    ..ev
                }],
            },
        ]
    }

    #[test]
    fn every_kind_round_trips_in_both_orders() {
        for e in [Endian::Little, Endian::Big] {
            for (i, t) in every_kind().into_iter().enumerate() {
                let mut w = Writer::new(e);
                t.encode(&mut w);
                let bytes = w.into_bytes();
                let mut r = Reader::new(&bytes, e, "type");
                assert_eq!(BtfType::decode(&mut r, i as u32 + 1).unwrap(), t, "{e:?}");
                assert!(r.is_empty(), "{}", t.kind_name());
            }
        }
    }

    #[test]
    fn int_word_puts_encoding_in_bits_24_to_27_and_size_in_low_byte() {
        let t = BtfType::Int {
            name_off: 1,
            size: 4,
            encoding: int_encoding::SIGNED,
            offset: 0,
            bits: 32,
        };
        let mut w = Writer::new(Endian::Little);
        t.encode(&mut w);
        let b = w.into_bytes();
        assert_eq!(
            &b[4..8],
            &[0, 0, 0, 0x01],
            "kind INT in the high byte of info"
        );
        assert_eq!(&b[12..16], &[32, 0, 0, 0x01]);
    }

    #[test]
    fn unknown_kind_is_an_error() {
        let mut w = Writer::new(Endian::Little);
        w.u32(0);
        w.u32(31 << 24);
        w.u32(0);
        let b = w.into_bytes();
        let r = BtfType::decode(&mut Reader::new(&b, Endian::Little, "type"), 7);
        assert!(matches!(r, Err(BtfError::UnknownKind { id: 7, kind: 31 })));
    }
}
