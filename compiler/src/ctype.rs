//! C types as an object describes them: the integers, arrays and structs that
//! map keys and values and ring-buffer records are made of. Sizes and
//! alignment follow the C rules of the 64-bit targets probecc serves (every
//! scalar aligned to its size), which is what the kernel and a ring-buffer
//! consumer assume. `btf` turns these into BTF types.

/// A C type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CType {
    /// An integer of 1, 2, 4 or 8 bytes.
    Int {
        name: String,
        size: u32,
        signed: bool,
    },
    /// A fixed-size array.
    Array { elem: Box<CType>, len: u32 },
    /// A struct with its members at their C offsets.
    Struct(StructType),
    /// An enum of `size` bytes whose enumerators name the values 0, 1, 2...
    /// (C identifiers).
    Enum {
        name: String,
        size: u32,
        values: Vec<String>,
    },
}

/// A struct whose member offsets were computed with C alignment rules.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StructType {
    pub name: String,
    pub fields: Vec<Field>,
    /// Total size, padded to the struct's alignment.
    pub size: u32,
    pub align: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    pub name: String,
    pub ty: CType,
    /// Byte offset from the start of the struct.
    pub offset: u32,
}

impl CType {
    pub fn u8() -> CType {
        CType::int("u8", 1, false)
    }
    pub fn u16() -> CType {
        CType::int("u16", 2, false)
    }
    pub fn u32() -> CType {
        CType::int("u32", 4, false)
    }
    pub fn u64() -> CType {
        CType::int("u64", 8, false)
    }
    pub fn s32() -> CType {
        CType::int("s32", 4, true)
    }
    pub fn s64() -> CType {
        CType::int("s64", 8, true)
    }
    /// `char`, as BTF describes it (1 byte, signed).
    pub fn char() -> CType {
        CType::int("char", 1, true)
    }

    /// `char[len]`, the type of `comm` and other strings.
    pub fn char_array(len: u32) -> CType {
        CType::Array {
            elem: Box::new(CType::char()),
            len,
        }
    }

    pub fn int(name: &str, size: u32, signed: bool) -> CType {
        CType::Int {
            name: name.to_string(),
            size,
            signed,
        }
    }

    pub fn array(elem: CType, len: u32) -> CType {
        CType::Array {
            elem: Box::new(elem),
            len,
        }
    }

    pub fn size(&self) -> u32 {
        match self {
            CType::Int { size, .. } => *size,
            CType::Array { elem, len } => elem.size() * len,
            CType::Struct(s) => s.size,
            CType::Enum { size, .. } => *size,
        }
    }

    pub fn align(&self) -> u32 {
        match self {
            CType::Int { size, .. } => *size,
            CType::Array { elem, .. } => elem.align(),
            CType::Struct(s) => s.align,
            CType::Enum { size, .. } => *size,
        }
    }
}

impl StructType {
    /// Lays out `fields` in order with C alignment and tail padding.
    pub fn new(name: &str, fields: Vec<(String, CType)>) -> StructType {
        let mut offset = 0u32;
        let mut align = 1u32;
        let mut out = Vec::with_capacity(fields.len());
        for (fname, ty) in fields {
            let a = ty.align().max(1);
            offset = offset.next_multiple_of(a);
            align = align.max(a);
            let size = ty.size();
            out.push(Field {
                name: fname,
                ty,
                offset,
            });
            offset += size;
        }
        StructType {
            name: name.to_string(),
            fields: out,
            size: offset.next_multiple_of(align),
            align,
        }
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_layout_follows_c_alignment() {
        let s = StructType::new(
            "ev",
            vec![
                ("a".into(), CType::u8()),
                ("b".into(), CType::u64()),
                ("c".into(), CType::u32()),
                ("comm".into(), CType::char_array(16)),
                ("d".into(), CType::u16()),
            ],
        );
        let offs: Vec<u32> = s.fields.iter().map(|f| f.offset).collect();
        assert_eq!(offs, vec![0, 8, 16, 20, 36]);
        assert_eq!(s.align, 8);
        assert_eq!(s.size, 40);
    }
}
