//! The BTF parser: [`parse`] reads a `.BTF` section of either byte order
//! (told apart by how the magic reads) into a [`Btf`], checking the header,
//! the section bounds, every record, and that every type id and string
//! offset a record uses exists. [`parse_split`] reads split BTF (a kernel
//! module's, whose type ids and string offsets continue from its base) into
//! one [`Btf`] holding base and split together, so that every id and offset
//! means what it means in the split blob. The accessors here look types and
//! names up; `format` prints types as C and `map_defs` reads the `.maps`
//! section.

use super::bytes::{endian_of_magic, section, Reader};
use super::types::BtfType;
use super::BtfError;
use crate::insn::Endian;

/// A parsed BTF blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Btf {
    pub endian: Endian,
    /// Type id `n` (from 1; 0 is void) is `types[n - 1]`.
    pub types: Vec<BtfType>,
    /// The string table, NUL-separated, starting with the empty string.
    pub strings: Vec<u8>,
}

/// The `.BTF` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub endian: Endian,
    pub version: u8,
    pub flags: u8,
    pub hdr_len: u32,
    pub type_off: u32,
    pub type_len: u32,
    pub str_off: u32,
    pub str_len: u32,
}

/// Reads and checks the header.
pub fn parse_header(bytes: &[u8]) -> Result<Header, BtfError> {
    let magic = bytes.get(..2).ok_or(BtfError::Truncated {
        what: "BTF header",
        offset: 0,
        need: 2,
    })?;
    let endian = endian_of_magic([magic[0], magic[1]])?;
    let mut r = Reader::new(bytes, endian, "BTF header");
    r.take(2)?;
    let version = r.u8()?;
    if version != 1 {
        return Err(BtfError::UnsupportedVersion(version));
    }
    let flags = r.u8()?;
    let hdr_len = r.u32()?;
    let h = Header {
        endian,
        version,
        flags,
        hdr_len,
        type_off: r.u32()?,
        type_len: r.u32()?,
        str_off: r.u32()?,
        str_len: r.u32()?,
    };
    if hdr_len < 24 || hdr_len as usize > bytes.len() {
        return Err(BtfError::BadHeaderLen(hdr_len));
    }
    if h.type_off % 4 != 0 || h.type_len % 4 != 0 {
        return Err(BtfError::Misaligned {
            off: h.type_off,
            len: h.type_len,
        });
    }
    Ok(h)
}

/// Parses a `.BTF` section.
pub fn parse(bytes: &[u8]) -> Result<Btf, BtfError> {
    let h = parse_header(bytes)?;
    let type_bytes = section(bytes, h.hdr_len, h.type_off, h.type_len, "type")?;
    let strings = section(bytes, h.hdr_len, h.str_off, h.str_len, "string")?;
    check_string_table(strings)?;
    let types = decode_types(type_bytes, h.endian, 1)?;
    let btf = Btf {
        endian: h.endian,
        types,
        strings: strings.to_vec(),
    };
    btf.check_references(0)?;
    Ok(btf)
}

/// Parses split BTF on top of `base`: its type ids continue after the
/// base's last id and its string offsets after the base's string table
/// (libbpf's `btf__parse_split`). The result holds the base's types and
/// strings followed by the split's, so ids and offsets need no translation.
pub fn parse_split(bytes: &[u8], base: &Btf) -> Result<Btf, BtfError> {
    let h = parse_header(bytes)?;
    if h.endian != base.endian {
        return Err(BtfError::SplitByteOrder);
    }
    let type_bytes = section(bytes, h.hdr_len, h.type_off, h.type_len, "type")?;
    let strings = section(bytes, h.hdr_len, h.str_off, h.str_len, "string")?;
    // libbpf: a split string table may be empty and need not start with NUL.
    if strings.last().is_some_and(|&b| b != 0) {
        return Err(BtfError::BadStringTable("does not end with NUL"));
    }
    let first_id = base.count().saturating_add(1);
    let mut types = Vec::with_capacity(base.types.len() + type_bytes.len() / 16);
    types.extend_from_slice(&base.types);
    types.extend(decode_types(type_bytes, h.endian, first_id)?);
    let mut all = Vec::with_capacity(base.strings.len() + strings.len());
    all.extend_from_slice(&base.strings);
    all.extend_from_slice(strings);
    let btf = Btf {
        endian: h.endian,
        types,
        strings: all,
    };
    btf.check_references(base.types.len())?;
    Ok(btf)
}

/// libbpf's rule: non-empty, starting and ending with NUL.
fn check_string_table(s: &[u8]) -> Result<(), BtfError> {
    match (s.first(), s.last()) {
        (None, _) | (_, None) => Err(BtfError::BadStringTable("is empty")),
        (Some(0), Some(0)) => Ok(()),
        (Some(0), Some(_)) => Err(BtfError::BadStringTable("does not end with NUL")),
        (Some(_), Some(_)) => Err(BtfError::BadStringTable("does not start with NUL")),
    }
}

/// Decodes records until the end of `bytes`; the first gets id `first_id`.
fn decode_types(bytes: &[u8], endian: Endian, first_id: u32) -> Result<Vec<BtfType>, BtfError> {
    let mut r = Reader::new(bytes, endian, "type");
    // The smallest record is 12 bytes; vmlinux averages a little over 16.
    let mut types = Vec::with_capacity(bytes.len() / 16);
    while !r.is_empty() {
        let id = first_id.saturating_add(types.len() as u32);
        types.push(BtfType::decode(&mut r, id)?);
    }
    Ok(types)
}

impl Btf {
    /// Every type id and string offset that the records from index `from`
    /// on use must exist. A kernel's BTF has 100k+ records, so this avoids
    /// allocating per record and, when the whole table is UTF-8 (it always
    /// is in practice), checks a string by its offset alone.
    fn check_references(&self, from: usize) -> Result<(), BtfError> {
        let count = self.types.len() as u32;
        let table_utf8 = std::str::from_utf8(&self.strings).ok();
        let check_id = |id: u32| {
            if id > count {
                Err(BtfError::TypeIdOutOfRange { id, count })
            } else {
                Ok(())
            }
        };
        let check_str = |off: u32| match table_utf8 {
            Some(s) if s.is_char_boundary(off as usize) && (off as usize) < s.len() => Ok(()),
            _ => self.string_at(off).map(|_| ()),
        };
        for t in self.types.iter().skip(from) {
            t.visit_ids(check_id)?;
            t.visit_name_offsets(check_str)?;
        }
        Ok(())
    }

    /// How many types there are (the largest id).
    pub fn count(&self) -> u32 {
        self.types.len() as u32
    }

    /// The record of type `id`. Id 0 (void) has none.
    pub fn type_by_id(&self, id: u32) -> Result<&BtfType, BtfError> {
        if id == 0 {
            return Err(BtfError::Void);
        }
        self.types
            .get(id as usize - 1)
            .ok_or(BtfError::TypeIdOutOfRange {
                id,
                count: self.count(),
            })
    }

    /// The NUL-terminated string at `off` in the string table.
    pub fn string_at(&self, off: u32) -> Result<&str, BtfError> {
        let out_of_range = || BtfError::StringOutOfRange {
            offset: off,
            len: self.strings.len(),
        };
        let tail = self
            .strings
            .get(off as usize..)
            .filter(|t| !t.is_empty())
            .ok_or_else(out_of_range)?;
        let end = tail.iter().position(|&b| b == 0).ok_or_else(out_of_range)?;
        let bytes = tail.get(..end).ok_or_else(out_of_range)?;
        std::str::from_utf8(bytes).map_err(|_| BtfError::StringNotUtf8 { offset: off })
    }

    /// The name of type `id`: "" for anonymous types, "void" for id 0.
    pub fn name_of(&self, id: u32) -> Result<&str, BtfError> {
        if id == 0 {
            return Ok("void");
        }
        self.string_at(self.type_by_id(id)?.name_off())
    }

    /// The first type named `name`, if any.
    pub fn find_by_name(&self, name: &str) -> Option<u32> {
        (1..=self.count()).find(|&id| self.name_of(id).is_ok_and(|n| n == name))
    }

    /// `id` with typedefs and qualifiers (const, volatile, restrict, type
    /// tags) skipped.
    pub fn resolve(&self, id: u32) -> Result<u32, BtfError> {
        let mut cur = id;
        for _ in 0..=self.types.len() {
            if cur == 0 {
                return Ok(0);
            }
            match self.type_by_id(cur)? {
                BtfType::Typedef { type_id, .. }
                | BtfType::Const { type_id }
                | BtfType::Volatile { type_id }
                | BtfType::Restrict { type_id }
                | BtfType::TypeTag { type_id, .. } => cur = *type_id,
                _ => return Ok(cur),
            }
        }
        Err(BtfError::Cycle { id })
    }

    /// sizeof the type `id`, in bytes.
    pub fn size_of(&self, id: u32) -> Result<u32, BtfError> {
        let mut mult: u64 = 1;
        let mut cur = id;
        for _ in 0..=self.types.len() {
            let size = match self
                .type_by_id(cur)
                .map_err(|_| BtfError::NoSize { id: cur })?
            {
                BtfType::Int { size, .. }
                | BtfType::Struct { size, .. }
                | BtfType::Union { size, .. }
                | BtfType::Enum { size, .. }
                | BtfType::Enum64 { size, .. }
                | BtfType::Float { size, .. }
                | BtfType::Datasec { size, .. } => *size,
                BtfType::Ptr { .. } => 8,
                BtfType::Array { elem, nelems, .. } => {
                    mult = mult.saturating_mul(u64::from(*nelems));
                    cur = *elem;
                    continue;
                }
                BtfType::Typedef { type_id, .. }
                | BtfType::Const { type_id }
                | BtfType::Volatile { type_id }
                | BtfType::Restrict { type_id }
                | BtfType::TypeTag { type_id, .. }
                | BtfType::Var { type_id, .. } => {
                    cur = *type_id;
                    continue;
                }
                BtfType::Fwd { .. }
                | BtfType::Func { .. }
                | BtfType::FuncProto { .. }
                | BtfType::DeclTag { .. } => return Err(BtfError::NoSize { id: cur }),
            };
            let total = mult.saturating_mul(u64::from(size));
            return u32::try_from(total).map_err(|_| BtfError::SizeOverflow { id });
        }
        Err(BtfError::Cycle { id })
    }

    /// The DATASEC named `name`, if any: its id and record.
    pub fn datasec(&self, name: &str) -> Option<(u32, &BtfType)> {
        (1..=self.count()).find_map(|id| {
            let t = self.type_by_id(id).ok()?;
            let is_it =
                matches!(t, BtfType::Datasec { .. }) && self.string_at(t.name_off()).ok()? == name;
            is_it.then_some((id, t))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::builder::{Builder, IntEncoding};
    use super::*;

    fn small() -> Vec<u8> {
        let mut b = Builder::new();
        let int = b.int("int", 4, IntEncoding::Signed).unwrap();
        let td = b.typedef("myint", int).unwrap();
        let c = b.const_type(td).unwrap();
        let idx = b.array_index_type().unwrap();
        b.array(c, idx, 3).unwrap();
        b.finish(Endian::Little)
    }

    #[test]
    fn accessors() {
        let btf = parse(&small()).unwrap();
        assert_eq!(btf.count(), 5);
        assert_eq!(btf.name_of(1).unwrap(), "int");
        assert_eq!(btf.name_of(0).unwrap(), "void");
        assert_eq!(btf.name_of(3).unwrap(), "");
        assert_eq!(btf.resolve(3).unwrap(), 1);
        assert_eq!(btf.size_of(5).unwrap(), 12);
        assert_eq!(btf.find_by_name("myint"), Some(2));
        assert!(matches!(btf.type_by_id(0), Err(BtfError::Void)));
        assert!(matches!(
            btf.type_by_id(6),
            Err(BtfError::TypeIdOutOfRange { id: 6, count: 5 })
        ));
    }

    #[test]
    fn bad_magic() {
        let mut b = small();
        b[0] = 0;
        assert!(matches!(parse(&b), Err(BtfError::BadMagic([0, 0xeb]))));
    }

    #[test]
    fn truncated_header() {
        let b = small();
        assert!(matches!(
            parse(&b[..10]),
            Err(BtfError::Truncated {
                what: "BTF header",
                ..
            })
        ));
        assert!(matches!(parse(&b[..1]), Err(BtfError::Truncated { .. })));
    }

    #[test]
    fn truncated_sections() {
        let b = small();
        assert!(matches!(
            parse(&b[..b.len() - 1]),
            Err(BtfError::SectionOutOfBounds { what: "string", .. })
        ));
    }

    #[test]
    fn string_offset_out_of_range() {
        let mut b = small();
        // The name of type 1 (INT "int") is the first word after the header.
        b[24..28].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(
            parse(&b),
            Err(BtfError::StringOutOfRange { offset: 1000, .. })
        ));
    }

    #[test]
    fn type_id_out_of_range() {
        let mut b = small();
        // Type 2 (TYPEDEF) starts at 24 + 16; its type word is at +8.
        b[48..52].copy_from_slice(&77u32.to_le_bytes());
        assert!(matches!(
            parse(&b),
            Err(BtfError::TypeIdOutOfRange { id: 77, count: 5 })
        ));
    }

    #[test]
    fn string_table_must_begin_and_end_with_nul() {
        let mut b = small();
        let last = b.len() - 1;
        b[last] = b'x';
        assert!(matches!(parse(&b), Err(BtfError::BadStringTable(_))));
    }

    #[test]
    fn qualifier_cycle_is_an_error() {
        let btf = Btf {
            endian: Endian::Little,
            types: vec![
                BtfType::Const { type_id: 2 },
                BtfType::Volatile { type_id: 1 },
            ],
            strings: vec![0],
        };
        assert!(matches!(btf.resolve(1), Err(BtfError::Cycle { id: 1 })));
        assert!(matches!(btf.size_of(1), Err(BtfError::Cycle { id: 1 })));
    }
}
