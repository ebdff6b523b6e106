//! Ring-buffer event layouts, the Rust twin of clj-ebpf's `defevent`: a named
//! record of fields laid out with C alignment, its size and field offsets,
//! and the store instructions that fill a field of a reserved record. The
//! layout's [`CType`] goes into `Object::types` so that the record's struct
//! is in the object's BTF for consumers to decode.

use crate::ctype::{CType, Field, StructType};
use crate::insn::{self, Insn, Reg, Size};

/// What is wrong with a field access.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event `{event}` has no field `{field}`")]
    UnknownField { event: String, field: String },
    #[error("event `{event}` has more than one field `{field}`")]
    DuplicateField { event: String, field: String },
    #[error("field `{event}.{field}` is {ty}, not a 1-, 2-, 4- or 8-byte integer a single store can write")]
    NotScalar {
        event: String,
        field: String,
        ty: String,
    },
    #[error("field `{event}.{field}` lies at offset {offset}, beyond a store's 16-bit offset")]
    OffsetTooLarge {
        event: String,
        field: String,
        offset: u32,
    },
    #[error("{imm} does not fit the {size}-byte field `{event}.{field}`")]
    ImmOutOfRange {
        event: String,
        field: String,
        size: usize,
        imm: i32,
    },
}

/// A record type of a ring buffer or perf buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventLayout {
    st: StructType,
}

impl EventLayout {
    /// Lays out `fields` in order, each aligned to its natural alignment,
    /// with tail padding to the struct's alignment.
    pub fn new(name: &str, fields: &[(&str, CType)]) -> EventLayout {
        let fields = fields
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect();
        EventLayout {
            st: StructType::new(name, fields),
        }
    }

    pub fn name(&self) -> &str {
        &self.st.name
    }

    /// sizeof the record, padding included: what to reserve.
    pub fn size(&self) -> u32 {
        self.st.size
    }

    pub fn fields(&self) -> &[Field] {
        &self.st.fields
    }

    /// The field named `name`; an error if there is none or more than one.
    pub fn field(&self, name: &str) -> Result<&Field, EventError> {
        let mut found = self.st.fields.iter().filter(|f| f.name == name);
        match (found.next(), found.next()) {
            (Some(f), None) => Ok(f),
            (None, _) => Err(self.err_unknown(name)),
            (Some(_), Some(_)) => Err(EventError::DuplicateField {
                event: self.st.name.clone(),
                field: name.into(),
            }),
        }
    }

    /// The byte offset of field `name`.
    pub fn field_offset(&self, name: &str) -> Result<u32, EventError> {
        Ok(self.field(name)?.offset)
    }

    /// The record's struct, for `Object::types`.
    pub fn ctype(&self) -> CType {
        CType::Struct(self.st.clone())
    }

    /// `*(size *)(base + offset(field)) = src`, the size being the field's.
    pub fn store_field(&self, base: Reg, field: &str, src: Reg) -> Result<Insn, EventError> {
        let (size, off) = self.scalar_slot(field)?;
        Ok(insn::stx(size, base, off, src))
    }

    /// `*(size *)(base + offset(field)) = imm`. An 8-byte field receives
    /// `imm` sign-extended; a narrower one must hold `imm` (as signed or
    /// unsigned).
    pub fn store_imm_field(&self, base: Reg, field: &str, imm: i32) -> Result<Insn, EventError> {
        let (size, off) = self.scalar_slot(field)?;
        if !imm_fits(imm, size) {
            let (event, field) = (self.st.name.clone(), field.to_string());
            return Err(EventError::ImmOutOfRange {
                event,
                field,
                size: size.bytes(),
                imm,
            });
        }
        Ok(insn::st(size, base, off, imm))
    }

    /// The access size and offset of an integer field.
    fn scalar_slot(&self, name: &str) -> Result<(Size, i16), EventError> {
        let f = self.field(name)?;
        let size = match &f.ty {
            CType::Int { size, .. } => Size::from_bytes(*size as usize),
            _ => None,
        };
        let (event, field) = (self.st.name.clone(), name.to_string());
        let size = size.ok_or_else(|| EventError::NotScalar {
            event: event.clone(),
            field: field.clone(),
            ty: describe(&f.ty),
        })?;
        let off = i16::try_from(f.offset).map_err(|_| EventError::OffsetTooLarge {
            event,
            field,
            offset: f.offset,
        })?;
        Ok((size, off))
    }

    fn err_unknown(&self, field: &str) -> EventError {
        EventError::UnknownField {
            event: self.st.name.clone(),
            field: field.to_string(),
        }
    }
}

/// Whether a store of `size` keeps `imm` whole (signed or unsigned reading).
fn imm_fits(imm: i32, size: Size) -> bool {
    let v = i64::from(imm);
    match size {
        Size::B => (-0x80..=0xff).contains(&v),
        Size::H => (-0x8000..=0xffff).contains(&v),
        Size::W | Size::DW => true,
    }
}

/// A short C spelling of a type for messages.
fn describe(t: &CType) -> String {
    match t {
        CType::Int { name, .. } => name.clone(),
        CType::Array { elem, len } => format!("{}[{len}]", describe(elem)),
        CType::Struct(s) => format!("struct {}", s.name),
        CType::Enum { name, .. } => format!("enum {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::{class, mode, size};

    fn exec_event() -> EventLayout {
        EventLayout::new(
            "exec_event",
            &[
                ("flag", CType::u8()),
                ("timestamp", CType::u64()),
                ("pid", CType::u32()),
                ("comm", CType::char_array(16)),
                ("port", CType::u16()),
            ],
        )
    }

    #[test]
    fn layout_follows_c_alignment() {
        let ev = exec_event();
        let offs: Vec<u32> = ["flag", "timestamp", "pid", "comm", "port"]
            .iter()
            .map(|f| ev.field_offset(f).unwrap())
            .collect();
        assert_eq!(offs, vec![0, 8, 16, 20, 36]);
        assert_eq!(ev.size(), 40);
        assert_eq!(ev.name(), "exec_event");
        let CType::Struct(s) = ev.ctype() else {
            panic!("not a struct")
        };
        assert_eq!((s.name.as_str(), s.size, s.align), ("exec_event", 40, 8));
    }

    #[test]
    fn stores_use_the_field_size_and_offset() {
        let ev = exec_event();
        let i = ev.store_field(Reg::R6, "timestamp", Reg::R0).unwrap();
        assert_eq!(i, insn::stx(Size::DW, Reg::R6, 8, Reg::R0));
        assert_eq!(i.code, class::STX | mode::MEM | size::DW);
        assert_eq!(
            ev.store_field(Reg::R6, "pid", Reg::R7).unwrap(),
            insn::stx(Size::W, Reg::R6, 16, Reg::R7)
        );
        assert_eq!(
            ev.store_field(Reg::R6, "port", Reg::R1).unwrap(),
            insn::stx(Size::H, Reg::R6, 36, Reg::R1)
        );
        assert_eq!(
            ev.store_field(Reg::R6, "flag", Reg::R1).unwrap(),
            insn::stx(Size::B, Reg::R6, 0, Reg::R1)
        );
        assert_eq!(
            ev.store_imm_field(Reg::R6, "pid", -1).unwrap(),
            insn::st(Size::W, Reg::R6, 16, -1)
        );
        assert_eq!(
            ev.store_imm_field(Reg::R6, "flag", 255).unwrap(),
            insn::st(Size::B, Reg::R6, 0, 255)
        );
    }

    #[test]
    fn errors_name_the_struct_and_field() {
        let ev = exec_event();
        let e = ev.store_field(Reg::R6, "uid", Reg::R0).unwrap_err();
        assert_eq!(e.to_string(), "event `exec_event` has no field `uid`");
        let e = ev.store_field(Reg::R6, "comm", Reg::R0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field `exec_event.comm` is char[16], not a 1-, 2-, 4- or 8-byte integer a single store can write"
        );
        let e = ev.store_imm_field(Reg::R6, "flag", 256).unwrap_err();
        assert_eq!(
            e.to_string(),
            "256 does not fit the 1-byte field `exec_event.flag`"
        );
        assert!(ev.field_offset("nope").is_err());
    }

    #[test]
    fn duplicate_and_far_fields_are_errors() {
        let dup = EventLayout::new("d", &[("a", CType::u32()), ("a", CType::u64())]);
        assert!(matches!(
            dup.field_offset("a"),
            Err(EventError::DuplicateField { .. })
        ));
        let far = EventLayout::new(
            "far",
            &[
                ("pad", CType::array(CType::u8(), 40_000)),
                ("x", CType::u32()),
            ],
        );
        assert!(matches!(
            far.store_field(Reg::R6, "x", Reg::R0),
            Err(EventError::OffsetTooLarge { offset: 40_000, .. })
        ));
    }
}
