//! BTF, the BPF Type Format: the `.BTF` and `.BTF.ext` sections of an object,
//! written and read in either byte order.
//!
//! Written by hand because no crate writes BTF in both byte orders (s390x
//! objects need big-endian BTF) and the format is small: a header, fixed
//! records per kind, and a string table.
//!
//! - [`Builder`] ([`builder`]) encodes types; [`lower`] adds [`CType`]s to it.
//! - [`encode_object`] ([`object`]) is what the ELF writer calls: the maps as
//!   libbpf expects them in `.maps`, a FUNC per program, `.BTF.ext`.
//! - [`proto`] gives a kernel function's prototype as fentry and fexit
//!   programs see it (argument slots, types, the return value's slot).
//! - [`parse`] reads `.BTF` (clang's too) into a [`Btf`] with lookups,
//!   C formatting ([`format`]) and map definitions ([`Btf::maps`]); [`ext`]
//!   reads and writes `.BTF.ext`.
//!
//! [`CType`]: crate::ctype::CType

pub mod builder;
mod bytes;
pub mod core;
pub mod ext;
mod format;
pub mod kernel;
mod lower;
pub mod map_defs;
pub mod object;
pub mod parse;
pub mod proto;
pub mod strings;
pub mod types;

pub use builder::{Builder, FuncLinkage, IntEncoding, VarLinkage};
pub use ext::{BtfExt, ExtBuilder, SourceLine};
pub use map_defs::{BtfMap, TypedSlot};
pub use object::{encode_object, EncodedBtf, MapSlot};
pub use parse::{parse, parse_split, Btf, Header};
pub use types::{BtfType, EnumValue, Member, Param, VarSecinfo};

/// Everything that can go wrong writing or reading BTF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BtfError {
    #[error("bad BTF magic {0:02x?} (expected eb 9f or 9f eb)")]
    BadMagic([u8; 2]),
    #[error("{what} truncated: {need} bytes needed at offset {offset}")]
    Truncated {
        what: &'static str,
        offset: usize,
        need: usize,
    },
    #[error("unsupported BTF version {0} (expected 1)")]
    UnsupportedVersion(u8),
    #[error("bad BTF header length {0}")]
    BadHeaderLen(u32),
    #[error("BTF type section (offset {off}, length {len}) is not 4-byte aligned")]
    Misaligned { off: u32, len: u32 },
    #[error("BTF {what} section [{start}, {end}) lies outside the {size} bytes given")]
    SectionOutOfBounds {
        what: &'static str,
        start: u64,
        end: u64,
        size: usize,
    },
    #[error("BTF string table {0}")]
    BadStringTable(&'static str),
    #[error("string offset {offset} is outside the {len}-byte string table")]
    StringOutOfRange { offset: u32, len: usize },
    #[error("string at offset {offset} is not UTF-8")]
    StringNotUtf8 { offset: u32 },
    #[error("string {0:?} contains NUL")]
    StringContainsNul(String),
    #[error("BTF string table is full")]
    StringTableFull,
    #[error("type {id} has unknown kind {kind}")]
    UnknownKind { id: u32, kind: u32 },
    #[error("type id {id} out of range (there are {count} types)")]
    TypeIdOutOfRange { id: u32, count: u32 },
    #[error("type id 0 is void, not a type record")]
    Void,
    #[error("too many BTF types")]
    TooManyTypes,
    #[error("{kind} with {count} entries (at most 65535)")]
    TooManyEntries { kind: &'static str, count: usize },
    #[error("type {id} refers to itself")]
    Cycle { id: u32 },
    #[error("type {id} nests too deeply to print")]
    TooComplex { id: u32 },
    #[error("type {id} has no size")]
    NoSize { id: u32 },
    #[error("size of type {id} overflows 32 bits")]
    SizeOverflow { id: u32 },
    #[error("type {id} is {found}, expected {expected}")]
    NotA {
        id: u32,
        expected: &'static str,
        found: &'static str,
    },
    #[error("`{name}` is not a valid {what} name")]
    InvalidName { name: String, what: &'static str },
    #[error("INT `{name}` of {size} bytes (expected 1, 2, 4, 8 or 16)")]
    BadIntSize { name: String, size: u32 },
    #[error("struct `{0}` is too large for BTF bit offsets")]
    StructTooLarge(String),
    #[error("map `{map}`: {reason}")]
    BadMapDef { map: String, reason: String },
    #[error("map `{0}` is defined twice")]
    DuplicateMap(String),
    #[error("program `{program}`: line info at instruction {insn} is {reason}")]
    BadLineInfo {
        program: String,
        insn: usize,
        reason: String,
    },
    #[error("program `{program}`: CO-RE relocation at instruction {insn}: {reason}")]
    BadCoreRelo {
        program: String,
        insn: usize,
        reason: String,
    },
    #[error("split BTF and its base differ in byte order")]
    SplitByteOrder,
    #[error("{what} record size {size} is too small or unaligned")]
    BadRecordSize { what: &'static str, size: u32 },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Arch;
    use crate::ctype::{CType, StructType};
    use crate::insn::{self, Reg};
    use crate::maps::MapDef;
    use crate::program::{LineInfo, Object, Program};
    use proptest::prelude::*;

    fn valid_blobs(arch: Arch) -> EncodedBtf {
        let mut o = Object::new(arch);
        o.maps = vec![
            MapDef::hash("counts", CType::u32(), CType::u64(), 64),
            MapDef::ringbuf("events", 4096),
            MapDef::perf_event_array("perf"),
        ];
        let ev = StructType::new(
            "event",
            vec![
                ("pid".into(), CType::u32()),
                ("comm".into(), CType::char_array(16)),
            ],
        );
        o.types = vec![CType::Struct(ev)];
        let line = LineInfo {
            insn: 0,
            file: "f.bt".into(),
            text: "x".into(),
            line: 1,
            col: 2,
        };
        o.programs = vec![Program {
            name: "p".into(),
            section: "kprobe/f".into(),
            insns: vec![insn::alu64_imm(insn::AluOp::Mov, Reg::R0, 0), insn::exit()],
            map_relocs: vec![],
            ksym_relocs: vec![],
            global_relocs: vec![],
            func_relocs: vec![],
            lines: vec![line],
        }];
        encode_object(&o).unwrap()
    }

    /// Everything a consumer might ask of parsed bytes; errors are fine,
    /// panics are not.
    fn exercise(btf_bytes: &[u8], ext_bytes: &[u8]) {
        if let Ok(btf) = parse(btf_bytes) {
            for id in 0..=btf.count() + 1 {
                let _ = btf.format_type(id);
                let _ = btf.size_of(id);
                let _ = btf.resolve(id);
                let _ = btf.name_of(id);
            }
            let _ = btf.maps();
            let _ = ext::parse(ext_bytes, &btf);
        }
    }

    fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
        for &(pos, val) in edits {
            if let Some(len) = std::num::NonZeroUsize::new(bytes.len()) {
                let i = pos % len.get();
                if let Some(b) = bytes.get_mut(i) {
                    *b = val;
                }
            }
        }
        bytes.truncate(bytes.len().saturating_sub(cut));
        bytes
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            exercise(&bytes, &bytes);
        }

        #[test]
        fn parse_never_panics_on_arbitrary_bytes_behind_a_valid_header(
            tail in prop::collection::vec(any::<u8>(), 0..512),
            big in any::<bool>(),
        ) {
            let mut bytes = if big { vec![0xeb, 0x9f, 1, 0] } else { vec![0x9f, 0xeb, 1, 0] };
            bytes.extend(tail);
            exercise(&bytes, &bytes);
        }

        #[test]
        fn parse_never_panics_on_mutated_valid_blobs(
            edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            cut in 0usize..16,
            source in 0usize..4,
            mutate_ext in any::<bool>(),
        ) {
            let (btf, ext) = match source {
                0 | 1 => {
                    let enc = valid_blobs(if source == 1 { Arch::S390x } else { Arch::X86_64 });
                    (enc.btf, enc.ext.unwrap_or_default())
                }
                2 => (CLANG_EL.to_vec(), CLANG_EXT_EL.to_vec()),
                _ => (CLANG_EB.to_vec(), CLANG_EXT_EB.to_vec()),
            };
            let (btf, ext) = if mutate_ext {
                (btf, mutate(ext, &edits, cut))
            } else {
                (mutate(btf, &edits, cut), ext)
            };
            exercise(&btf, &ext);
        }
    }

    /// `fixtures/btf/rich.c` compiled by clang 14 (`-g -O2 -target bpfel|bpfeb`),
    /// its `.BTF` and `.BTF.ext` extracted with `llvm-objcopy --dump-section`.
    const CLANG_EL: &[u8] = include_bytes!("../../../fixtures/btf/rich_el.btf");
    const CLANG_EB: &[u8] = include_bytes!("../../../fixtures/btf/rich_eb.btf");
    const CLANG_EXT_EL: &[u8] = include_bytes!("../../../fixtures/btf/rich_el.btf.ext");
    const CLANG_EXT_EB: &[u8] = include_bytes!("../../../fixtures/btf/rich_eb.btf.ext");

    #[test]
    fn reads_clang_output_in_both_byte_orders() {
        let el = parse(CLANG_EL).unwrap();
        let eb = parse(CLANG_EB).unwrap();
        assert_eq!(
            (el.endian, eb.endian),
            (crate::Endian::Little, crate::Endian::Big)
        );
        assert_eq!((&el.types, &el.strings), (&eb.types, &eb.strings));
        let f = |name: &str| el.format_type(el.find_by_name(name).unwrap()).unwrap();
        assert_eq!(f("probe"), "int probe(struct pt_regs *ctx)");
        assert_eq!(f("helper"), "int helper(struct pt_regs *ctx, int x)");
        assert_eq!(f("target_pid"), "const volatile u32 target_pid");
        assert_eq!(f("event"), "struct event");
        assert_eq!(f("color"), "enum color");
        let ev = el.find_by_name("event").unwrap();
        let BtfType::Struct {
            members,
            bitfields: true,
            size: 64,
            ..
        } = el.type_by_id(ev).unwrap()
        else {
            panic!("event is not a bitfield struct of 64 bytes")
        };
        let m: Vec<String> = members
            .iter()
            .map(|m| el.format_type(m.type_id).unwrap())
            .collect();
        assert_eq!(m[5], "union { int a; long b; }");
        assert_eq!(m[7], "const volatile int *");
        assert_eq!(m[8], "int (*)(int, char)");
        assert_eq!(
            (members[4].bit_offset(true), members[4].bitfield_size(true)),
            (227, 5)
        );
        assert!(el.datasec(".rodata").is_some() && el.datasec("license").is_some());

        let maps = el.maps().unwrap();
        let got: Vec<_> = maps
            .iter()
            .map(|m| {
                (
                    m.name.as_str(),
                    m.map_type,
                    m.max_entries,
                    m.key_size,
                    m.value_size,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![("counts", 1, 1024, 4, 64), ("rb", 27, 4096, 0, 0)]
        );
        assert_eq!(maps[0].key.as_ref().map(|k| k.name.as_str()), Some("u32"));
        assert_eq!(
            maps[0].value.as_ref().map(|k| k.name.as_str()),
            Some("struct event")
        );

        let x_el = ext::parse(CLANG_EXT_EL, &el).unwrap();
        let x_eb = ext::parse(CLANG_EXT_EB, &eb).unwrap();
        assert_eq!(
            (&x_el.func_info, &x_el.line_info),
            (&x_eb.func_info, &x_eb.line_info)
        );
        let secs: Vec<&str> = x_el.func_info.iter().map(|s| s.section.as_str()).collect();
        assert_eq!(secs, vec!["kprobe/vfs_read", ".text"]);
        let probe = el.find_by_name("probe").unwrap();
        assert_eq!(
            x_el.func_info[0].records[0],
            ext::FuncRecord {
                insn_off: 0,
                type_id: probe
            }
        );
        let first = &x_el.line_info[0].records[0];
        assert!(
            first.file.ends_with("rich.c") && first.line > 0,
            "{first:?}"
        );
    }

    #[test]
    fn valid_blobs_parse() {
        for arch in [Arch::X86_64, Arch::S390x] {
            let enc = valid_blobs(arch);
            let btf = parse(&enc.btf).unwrap();
            assert_eq!(btf.maps().unwrap().len(), 3);
            assert_eq!(
                ext::parse(enc.ext.as_deref().unwrap(), &btf)
                    .unwrap()
                    .line_info[0]
                    .records[0]
                    .col,
                2
            );
        }
    }
}
