//! The BTF string table an encoder builds (deduplicated, starting with the
//! empty string at offset 0, every string NUL-terminated), and the rules the
//! kernel applies to the names in it.

use std::collections::HashMap;

use super::BtfError;

/// The largest name offset the kernel accepts (`BTF_MAX_NAME_OFFSET`).
pub const MAX_NAME_OFFSET: usize = 0x00ff_ffff;

/// Longest identifier accepted (the kernel's limit is `KSYM_NAME_LEN`, 128
/// on older releases).
const MAX_IDENT_LEN: usize = 127;

/// A deduplicated string table.
#[derive(Clone, Debug)]
pub struct StringTable {
    bytes: Vec<u8>,
    offsets: HashMap<String, u32>,
}

impl Default for StringTable {
    fn default() -> Self {
        StringTable::new()
    }
}

impl StringTable {
    /// A table holding only the empty string, at offset 0.
    pub fn new() -> StringTable {
        StringTable {
            bytes: vec![0],
            offsets: HashMap::from([(String::new(), 0)]),
        }
    }

    /// The offset of `s`, adding it if new. Strings may not contain NUL.
    pub fn add(&mut self, s: &str) -> Result<u32, BtfError> {
        if let Some(&off) = self.offsets.get(s) {
            return Ok(off);
        }
        if s.contains('\0') {
            return Err(BtfError::StringContainsNul(s.to_string()));
        }
        let off = self.bytes.len();
        if off > MAX_NAME_OFFSET {
            return Err(BtfError::StringTableFull);
        }
        let off = off as u32;
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
        self.offsets.insert(s.to_string(), off);
        Ok(off)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Whether `s` is a C identifier, as the kernel requires of struct, member,
/// variable, function, parameter and typedef names.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && s.len() <= MAX_IDENT_LEN && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `s` may name an INT: identifiers separated by single spaces
/// (`unsigned int`), as compilers write them.
pub fn is_int_name(s: &str) -> bool {
    !s.is_empty() && s.split(' ').all(is_identifier)
}

/// Whether `s` may name a DATASEC: printable, without spaces (`.maps`).
pub fn is_section_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_IDENT_LEN && s.bytes().all(|b| b.is_ascii_graphic())
}

/// Ok if `valid(name)`, else an error saying what `name` was to name.
pub fn check_name(name: &str, what: &'static str, valid: fn(&str) -> bool) -> Result<(), BtfError> {
    if valid(name) {
        Ok(())
    } else {
        Err(BtfError::InvalidName {
            name: name.to_string(),
            what,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_starts_with_nul_and_deduplicates() {
        let mut t = StringTable::new();
        assert_eq!(t.add("").unwrap(), 0);
        let a = t.add("int").unwrap();
        let b = t.add(".maps").unwrap();
        assert_eq!(t.add("int").unwrap(), a);
        assert_eq!((a, b), (1, 5));
        assert_eq!(t.bytes(), b"\0int\0.maps\0");
    }

    #[test]
    fn nul_inside_a_string_is_refused() {
        let mut t = StringTable::new();
        assert!(matches!(t.add("a\0b"), Err(BtfError::StringContainsNul(_))));
    }

    #[test]
    fn names_follow_the_kernel_rules() {
        assert!(is_identifier("pt_regs") && is_identifier("_x1"));
        assert!(!is_identifier("1x") && !is_identifier("") && !is_identifier("a-b"));
        assert!(is_int_name("unsigned int") && is_int_name("__ARRAY_SIZE_TYPE__"));
        assert!(!is_int_name("unsigned  int") && !is_int_name(" int"));
        assert!(is_section_name(".maps") && is_section_name("kprobe/vfs_read"));
        assert!(!is_section_name("a b") && !is_section_name(""));
    }
}
