//! From [`CType`] to BTF: integers become INTs named as the program names
//! them (`u32`, `char`), arrays ARRAYs indexed by clang's
//! `__ARRAY_SIZE_TYPE__`, structs STRUCTs with members at `offset * 8` bits.
//! The builder's deduplication makes equal C types one BTF type.

use super::builder::{Builder, IntEncoding};
use super::BtfError;
use crate::ctype::{CType, StructType};

impl Builder {
    /// The id of `ty`, adding it and the types it is made of.
    pub fn ctype(&mut self, ty: &CType) -> Result<u32, BtfError> {
        match ty {
            CType::Int { name, size, signed } => {
                let enc = if *signed {
                    IntEncoding::Signed
                } else {
                    IntEncoding::Unsigned
                };
                self.int(name, *size, enc)
            }
            CType::Array { elem, len } => {
                let elem = self.ctype(elem)?;
                let index = self.array_index_type()?;
                self.array(elem, index, *len)
            }
            CType::Struct(s) => self.struct_ctype(s),
            CType::Enum { name, size, values } => {
                let values: Vec<(&str, i32)> = values
                    .iter()
                    .zip(0..)
                    .map(|(n, v)| (n.as_str(), v))
                    .collect();
                self.enum_type(name, *size, &values)
            }
        }
    }

    fn struct_ctype(&mut self, s: &StructType) -> Result<u32, BtfError> {
        let mut members = Vec::with_capacity(s.fields.len());
        for f in &s.fields {
            let ty = self.ctype(&f.ty)?;
            let bits = f
                .offset
                .checked_mul(8)
                .ok_or_else(|| BtfError::StructTooLarge(s.name.clone()))?;
            members.push((f.name.as_str(), ty, bits));
        }
        self.struct_type(&s.name, s.size, &members)
    }
}

#[cfg(test)]
mod tests {
    use super::super::types::BtfType;
    use super::*;

    #[test]
    fn struct_members_are_at_bit_offsets_and_types_are_shared() {
        let ev = StructType::new(
            "event",
            vec![
                ("pid".into(), CType::u32()),
                ("comm".into(), CType::char_array(16)),
                ("ts".into(), CType::u64()),
            ],
        );
        let mut b = Builder::new();
        let id = b.ctype(&CType::Struct(ev.clone())).unwrap();
        assert_eq!(b.ctype(&CType::Struct(ev)).unwrap(), id);
        let u32_id = b.ctype(&CType::u32()).unwrap();
        let BtfType::Struct { size, members, .. } = &b.types()[id as usize - 1] else {
            panic!()
        };
        assert_eq!(*size, 32);
        let offs: Vec<u32> = members.iter().map(|m| m.offset).collect();
        assert_eq!(offs, vec![0, 32, 192]);
        assert_eq!(members[0].type_id, u32_id);
    }

    #[test]
    fn array_index_is_a_real_int() {
        let mut b = Builder::new();
        let id = b.ctype(&CType::char_array(16)).unwrap();
        let BtfType::Array { index, nelems, .. } = b.types()[id as usize - 1].clone() else {
            panic!()
        };
        assert_eq!(nelems, 16);
        assert!(matches!(
            b.types()[index as usize - 1],
            BtfType::Int {
                size: 4,
                encoding: 0,
                bits: 32,
                ..
            }
        ));
    }

    #[test]
    fn bad_member_name_is_an_error() {
        let s = StructType::new("e", vec![("not ok".into(), CType::u8())]);
        assert!(matches!(
            Builder::new().ctype(&CType::Struct(s)),
            Err(BtfError::InvalidName { .. })
        ));
    }
}
