//! Tests of the ELF writer and reader: round trips in both byte orders, every
//! malformed object the reader must refuse, and clang's objects read back.

use super::*;
use crate::arch::Arch;
use crate::btf::{EncodedBtf, MapSlot};
use crate::ctype::CType;
use crate::insn::{self as i, AluOp, Cond, Endian, Insn, Reg, Size};
use crate::maps::MapDef;
use crate::program::{MapReloc, Object, Program};
use proptest::prelude::*;

fn program(name: &str, section: &str, insns: Vec<Insn>, map_relocs: Vec<MapReloc>) -> Program {
    Program {
        name: name.into(),
        section: section.into(),
        insns,
        map_relocs,
        ksym_relocs: vec![],
        global_relocs: vec![],
        func_relocs: vec![],
        lines: vec![],
    }
}

fn no_btf() -> EncodedBtf {
    EncodedBtf {
        btf: vec![],
        ext: None,
        maps: vec![],
    }
}

/// Two programs in one section, one kretprobe; no maps.
fn plain_object(arch: Arch) -> Object {
    let mut obj = Object::new(arch);
    let entry = vec![
        i::ldx(Size::DW, Reg::R0, Reg::R1, 112),
        i::jmp_imm(Cond::Eq, Reg::R0, 0, 1),
        i::alu64_imm(AluOp::Mov, Reg::R0, 1),
        i::exit(),
    ];
    obj.programs
        .push(program("on_read", "kprobe/vfs_read", entry, vec![]));
    let ret = vec![i::alu64_imm(AluOp::Mov, Reg::R0, 0), i::exit()];
    obj.programs.push(program(
        "on_read_ret",
        "kretprobe/vfs_read",
        ret.clone(),
        vec![],
    ));
    obj.programs
        .push(program("on_read2", "kprobe/vfs_read", ret, vec![]));
    obj
}

/// One program that looks up map `counts`.
fn map_object(arch: Arch) -> Object {
    let mut obj = Object::new(arch);
    obj.maps
        .push(MapDef::hash("counts", CType::u32(), CType::u64(), 64));
    obj.maps.push(MapDef::ringbuf("events", 4096));
    let mut insns = vec![
        i::st(Size::W, Reg::R10, -4, 0),
        i::alu64_reg(AluOp::Mov, Reg::R2, Reg::R10),
    ];
    insns.push(i::alu64_imm(AluOp::Add, Reg::R2, -4));
    insns.extend(i::ld_imm64(Reg::R1, 0));
    insns.extend([
        i::call_helper(1),
        i::alu64_imm(AluOp::Mov, Reg::R0, 0),
        i::exit(),
    ]);
    let relocs = vec![MapReloc {
        insn: 3,
        map: "counts".into(),
    }];
    obj.programs
        .push(program("count", "kprobe/do_sys_openat2+4", insns, relocs));
    obj
}

#[test]
fn round_trip_without_maps_in_both_byte_orders() {
    for arch in [Arch::X86_64, Arch::S390x] {
        let obj = plain_object(arch);
        let bytes = write_with_btf(&obj, &no_btf()).unwrap();
        assert_eq!(bytes[5], if arch == Arch::S390x { 2 } else { 1 }, "EI_DATA");
        let machine = arch.endian().read_u16([bytes[18], bytes[19]]);
        assert_eq!(machine, EM_BPF);
        let read = read(&bytes).unwrap();
        assert_eq!(read.endian, arch.endian());
        assert_eq!(read.license.as_deref(), Some(&b"GPL\0"[..]));
        assert_eq!(read.license_text().as_deref(), Some("GPL"));
        let names: Vec<_> = read
            .programs
            .iter()
            .map(|p| (p.name.as_str(), p.section.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("on_read", "kprobe/vfs_read"),
                ("on_read2", "kprobe/vfs_read"),
                ("on_read_ret", "kretprobe/vfs_read")
            ]
        );
        for p in &read.programs {
            let orig = obj.programs.iter().find(|o| o.name == p.name).unwrap();
            assert_eq!(p.insns, orig.insns, "{}", p.name);
            assert!(p.global && p.relocs.is_empty());
        }
        assert_eq!(read.program("on_read2").unwrap().offset, 32);
        let sym = read.symbols.iter().find(|s| s.name == "on_read").unwrap();
        assert_eq!(
            (sym.kind, sym.bind, sym.size),
            (object::elf::STT_FUNC, object::elf::STB_GLOBAL, 32)
        );
        let lic = read.symbols.iter().find(|s| s.name == "_license").unwrap();
        assert_eq!((lic.kind, lic.size), (object::elf::STT_OBJECT, 4));
        let text = read.section("kprobe/vfs_read").unwrap();
        assert!(text.is_code());
        assert_eq!((text.size, text.align), (48, 8));
        assert!(read.maps.is_empty() && read.section(".maps").is_none());
        assert!(
            read.symbols
                .iter()
                .skip(1)
                .take_while(|s| s.bind == object::elf::STB_LOCAL)
                .count()
                < read.symbols.len()
        );
    }
}

#[test]
fn round_trip_with_maps_and_btf() {
    for arch in [Arch::Arm64, Arch::S390x] {
        let obj = map_object(arch);
        let encoded = crate::btf::encode_object(&obj).unwrap();
        let bytes = write(&obj).unwrap();
        let read = read(&bytes).unwrap();
        let maps: Vec<_> = read
            .maps
            .iter()
            .map(|m| (m.name.clone(), m.offset as u32, m.size as u32))
            .collect();
        let slots: Vec<_> = encoded
            .maps
            .iter()
            .map(|m| (m.name.clone(), m.offset, m.size))
            .collect();
        assert_eq!(maps, slots);
        let p = read.program("count").unwrap();
        assert_eq!(p.section, "kprobe/do_sys_openat2+4");
        assert_eq!(
            p.relocs,
            [Reloc {
                insn: 3,
                offset: 24,
                symbol: "counts".into(),
                kind: RelocKind::Imm64
            }]
        );
        assert_eq!(read.btf.as_deref(), Some(encoded.btf.as_slice()));
        assert_eq!(read.btf_ext, encoded.ext);
        let btf = crate::btf::parse(read.btf.as_deref().unwrap()).unwrap();
        let names: Vec<_> = btf.maps().unwrap().into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["counts", "events"]);
        let rel = read.section(".relkprobe/do_sys_openat2+4").unwrap();
        assert_eq!(rel.sh_type, object::elf::SHT_REL);
    }
}

#[test]
fn write_rejects_bad_objects() {
    let mut obj = map_object(Arch::X86_64);
    obj.programs[0].map_relocs[0].map = "nope".into();
    let e = write(&obj).unwrap_err();
    assert_eq!(
        e.to_string(),
        "program `count`: slot 3 refers to map `nope`, which the object does not define"
    );

    let mut obj = map_object(Arch::X86_64);
    obj.programs[0].map_relocs[0].insn = 0;
    assert!(matches!(
        write(&obj),
        Err(ElfError::MapRelocNotLdImm64 { slot: 0, .. })
    ));
    let mut obj = map_object(Arch::X86_64);
    obj.programs[0].map_relocs[0].insn = 4; // the second half
    assert!(matches!(
        write(&obj),
        Err(ElfError::MapRelocNotLdImm64 { slot: 4, .. })
    ));

    let mut obj = plain_object(Arch::X86_64);
    obj.programs[1].name = "on_read".into();
    let e = write_with_btf(&obj, &no_btf()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "symbol `on_read` is defined twice (program and map names share one namespace)"
    );

    let mut obj = plain_object(Arch::X86_64);
    obj.programs[0].insns.clear();
    assert!(matches!(
        write_with_btf(&obj, &no_btf()),
        Err(ElfError::EmptyProgram(_))
    ));

    let mut obj = plain_object(Arch::X86_64);
    obj.license = "GPL\0".into();
    assert!(matches!(
        write_with_btf(&obj, &no_btf()),
        Err(ElfError::LicenseNul(_))
    ));

    let obj = map_object(Arch::X86_64);
    let btf = EncodedBtf {
        maps: vec![MapSlot {
            name: "counts".into(),
            offset: 0,
            size: 32,
        }],
        ..no_btf()
    };
    assert!(matches!(write_with_btf(&obj, &btf), Err(ElfError::MapWithoutBtf(m)) if m == "events"));
}

fn valid(arch: Arch) -> Vec<u8> {
    write(&map_object(arch)).unwrap()
}

/// The byte offset of the symbol table entry of `name`.
fn symbol_entry(bytes: &[u8], name: &str) -> (usize, Endian) {
    let parsed = read(bytes).unwrap();
    let symtab = parsed
        .sections
        .iter()
        .find(|s| s.sh_type == object::elf::SHT_SYMTAB)
        .unwrap();
    let index = parsed.symbols.iter().position(|s| s.name == name).unwrap();
    (symtab.offset as usize + index * 24, parsed.endian)
}

fn put_u64(bytes: &mut [u8], at: usize, v: u64, e: Endian) {
    bytes[at..at + 8].copy_from_slice(&e.u64_bytes(v));
}

#[test]
fn a_write_error_keeps_the_writers_cause() {
    // The writer cannot fail on an object it built itself; a bare
    // `object` writer for an arch it lacks stands in for its error.
    let cause = object::write::Object::new(
        object::BinaryFormat::Elf,
        object::Architecture::Unknown,
        object::Endianness::Little,
    )
    .write()
    .unwrap_err();
    let e = ElfError::from(cause);
    assert_eq!(e.to_string(), "writing ELF");
    assert!(crate::error::caused_by::<object::write::Error>(&e));
    assert!(crate::error::chain(&e).starts_with("writing ELF: "));
}

#[test]
fn truncated_objects_are_errors() {
    for arch in [Arch::X86_64, Arch::S390x] {
        let bytes = valid(arch);
        for len in 0..bytes.len() {
            assert!(
                read(&bytes[..len]).is_err(),
                "{arch}: prefix of {len} bytes read"
            );
        }
    }
    let bytes = valid(Arch::X86_64);
    assert!(matches!(
        read(&bytes[..40]),
        Err(ElfError::Truncated { .. })
    ));
    assert!(matches!(read(&bytes[..3]), Err(ElfError::NotElf)));
}

#[test]
fn truncation_names_the_section() {
    let bytes = valid(Arch::X86_64);
    let parsed = read(&bytes).unwrap();
    // Move the section header table to the front of a shortened copy is
    // hard; instead point one section past the end.
    let shoff = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
    let index = parsed
        .sections
        .iter()
        .position(|s| s.name == "kprobe/do_sys_openat2+4")
        .unwrap();
    let mut bad = bytes.clone();
    put_u64(
        &mut bad,
        shoff + index * 64 + 24,
        bytes.len() as u64,
        Endian::Little,
    );
    let e = read(&bad).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("section `kprobe/do_sys_openat2+4` extends past end of file"),
        "{e}"
    );
}

#[test]
fn wrong_machine_class_and_type() {
    let mut bytes = valid(Arch::X86_64);
    bytes[18] = 62; // EM_X86_64
    assert!(matches!(read(&bytes), Err(ElfError::WrongMachine(62))));
    let mut bytes = valid(Arch::S390x);
    bytes[19] = 22; // EM_S390, big-endian
    assert!(matches!(read(&bytes), Err(ElfError::WrongMachine(22))));
    let mut bytes = valid(Arch::X86_64);
    bytes[4] = 1;
    assert!(matches!(read(&bytes), Err(ElfError::NotElf64(1))));
    let mut bytes = valid(Arch::X86_64);
    bytes[5] = 3;
    assert!(matches!(read(&bytes), Err(ElfError::BadByteOrder(3))));
    let mut bytes = valid(Arch::X86_64);
    bytes[16] = 2; // ET_EXEC
    assert!(matches!(read(&bytes), Err(ElfError::NotRelocatable(2))));
}

#[test]
fn symbol_past_its_section() {
    for arch in [Arch::X86_64, Arch::S390x] {
        let mut bytes = valid(arch);
        let (at, e) = symbol_entry(&bytes, "count");
        put_u64(&mut bytes, at + 16, 4096, e); // st_size
        let err = read(&bytes).unwrap_err();
        assert!(
            matches!(&err, ElfError::SymbolPastSection { symbol, .. } if symbol == "count"),
            "{err}"
        );
        assert!(err.to_string().contains("kprobe/do_sys_openat2+4"), "{err}");

        let mut bytes = valid(arch);
        let (at, e) = symbol_entry(&bytes, "counts");
        put_u64(&mut bytes, at + 8, 1 << 20, e); // st_value
        assert!(matches!(
            read(&bytes),
            Err(ElfError::SymbolPastSection { .. })
        ));
    }
}

/// The byte offset of the first relocation entry of the code section.
fn first_reloc(bytes: &[u8]) -> (usize, Endian) {
    let parsed = read(bytes).unwrap();
    let rel = parsed
        .sections
        .iter()
        .find(|s| s.sh_type == object::elf::SHT_REL)
        .unwrap();
    (rel.offset as usize, parsed.endian)
}

#[test]
fn bad_relocations() {
    for arch in [Arch::X86_64, Arch::S390x] {
        let (at, e) = first_reloc(&valid(arch));

        let mut bytes = valid(arch);
        put_u64(&mut bytes, at, 4096, e);
        let err = read(&bytes).unwrap_err();
        assert!(
            matches!(err, ElfError::RelocPastSection { offset: 4096, .. }),
            "{err}"
        );

        // On the `call` slot (6 * 8) an R_BPF_64_64 is misplaced.
        let mut bytes = valid(arch);
        put_u64(&mut bytes, at, 40, e);
        let err = read(&bytes).unwrap_err();
        assert!(
            matches!(
                &err,
                ElfError::RelocWrongSlot {
                    offset: 40,
                    expected: "an ld_imm64",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
                err.to_string(),
                "relocation R_BPF_64_64 against `counts` at offset 40 of `kprobe/do_sys_openat2+4` is on opcode 0x85, not an ld_imm64"
            );

        let mut bytes = valid(arch);
        put_u64(&mut bytes, at, 26, e);
        assert!(matches!(
            read(&bytes),
            Err(ElfError::RelocOutsideFunction { .. })
        ));

        // r_info: symbol 999.
        let mut bytes = valid(arch);
        put_u64(&mut bytes, at + 8, (999 << 32) | 1, e);
        assert!(matches!(
            read(&bytes),
            Err(ElfError::RelocSymbol { index: 999, .. })
        ));

        // r_info: R_BPF_64_32 on an ld_imm64.
        let mut bytes = valid(arch);
        let parsed = read(&bytes).unwrap();
        let sym = parsed
            .symbols
            .iter()
            .position(|s| s.name == "counts")
            .unwrap() as u64;
        put_u64(&mut bytes, at + 8, (sym << 32) | 10, e);
        assert!(matches!(
            read(&bytes),
            Err(ElfError::RelocWrongSlot {
                expected: "a call",
                ..
            })
        ));
    }
}

#[test]
fn sections_without_function_symbols_are_one_program() {
    let obj = plain_object(Arch::X86_64);
    let mut bytes = write_with_btf(&obj, &no_btf()).unwrap();
    // Turn every STT_FUNC into STT_NOTYPE.
    let parsed = read(&bytes).unwrap();
    let symtab = parsed
        .sections
        .iter()
        .find(|s| s.sh_type == object::elf::SHT_SYMTAB)
        .unwrap();
    for (index, s) in parsed.symbols.iter().enumerate() {
        if s.kind == object::elf::STT_FUNC {
            let info = symtab.offset as usize + index * 24 + 4;
            bytes[info] &= 0xf0;
        }
    }
    let parsed = read(&bytes).unwrap();
    let names: Vec<_> = parsed
        .programs
        .iter()
        .map(|p| (p.name.as_str(), p.insns.len()))
        .collect();
    assert_eq!(names, [("kprobe/vfs_read", 6), ("kretprobe/vfs_read", 2)]);
}

#[test]
fn symbols_past_the_16_bit_section_indexes_keep_their_sections() {
    // More sections than `st_shndx` can number (SHN_LORESERVE is 0xff00):
    // the last programs' indexes are in `.symtab_shndx`.
    let n = 0xff00 + 10;
    let ret = vec![i::alu64_imm(AluOp::Mov, Reg::R0, 0), i::exit()];
    let mut obj = Object::new(Arch::S390x);
    for k in 0..n {
        let (name, section) = (format!("f{k}"), format!("kprobe/f{k}"));
        obj.programs
            .push(program(&name, &section, ret.clone(), vec![]));
    }
    let parsed = read(&write_with_btf(&obj, &no_btf()).unwrap()).unwrap();
    assert_eq!(parsed.programs.len(), n);
    let last = &parsed.programs[n - 1];
    assert_eq!(
        (last.name.as_str(), last.section.as_str()),
        ("f65289", "kprobe/f65289")
    );
    assert!(last.section_index > 0xff00, "{}", last.section_index);
}

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let base = prop::sample::select(vec![valid(Arch::X86_64), valid(Arch::S390x)]);
    (
        base,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        prop::option::weighted(0.2, any::<prop::sample::Index>()),
    )
        .prop_map(|(mut bytes, edits, cut)| {
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()));
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn read_never_panics(bytes in mutated()) {
        let _ = read(&bytes);
    }
}

mod clang {
    //! Reads objects compiled by clang.

    use super::*;
    use probecc_test_support::{clang, require, Need};

    const SOURCE: &str = include_str!("../../../fixtures/c/subprograms.bpf.c");

    const MINIMAL: &str = r#"
#define SEC(n) __attribute__((section(n), used))
SEC("kprobe/x") int p(void *ctx) { return 0; }
char _license[] SEC("license") = "GPL";
"#;

    #[test]
    #[ignore = "needs clang"]
    fn reads_clang_objects() {
        if !require(&[Need::Tool("clang")]) {
            return;
        }
        for (target, endian) in [("bpfel", Endian::Little), ("bpfeb", Endian::Big)] {
            let bytes = clang::compile_source(SOURCE, target, &[]);
            let obj = read(&bytes).unwrap();
            assert_eq!(obj.endian, endian);
            let funcs: Vec<_> = obj
                .programs
                .iter()
                .map(|p| {
                    (
                        p.section.as_str(),
                        p.name.as_str(),
                        p.first_slot(),
                        p.global,
                    )
                })
                .collect();
            assert_eq!(
                funcs,
                [
                    (".text", "global_helper", 0, true),
                    (".text", "helper", 3, false),
                    ("kprobe/vfs_read", "probe", 0, true),
                    ("kretprobe/vfs_read", "probe_ret", 0, true),
                ]
            );
            let probe = obj.program("probe").unwrap();
            let relocs: Vec<_> = probe
                .relocs
                .iter()
                .map(|r| (r.insn, r.symbol.as_str(), r.kind))
                .collect();
            assert_eq!(
                relocs,
                [
                    (4, "counts", RelocKind::Imm64),
                    (25, ".text", RelocKind::Call32),
                    (28, "global_helper", RelocKind::Call32),
                ]
            );
            assert_eq!(
                obj.maps,
                [MapSymbol {
                    name: "counts".into(),
                    offset: 0,
                    size: 32
                }]
            );
            assert_eq!(obj.license.as_deref(), Some(&b"GPL\0"[..]));
            let btf = crate::btf::parse(obj.btf.as_deref().unwrap()).unwrap();
            assert_eq!(btf.maps().unwrap()[0].max_entries, 64);
            assert!(obj.btf_ext.is_some());
        }
    }

    /// Without functions clang writes `.BTF` and no `.BTF.ext`; so
    /// does probecc for a spec without programs.
    #[test]
    #[ignore = "needs clang"]
    fn without_functions_there_is_no_btf_ext_as_from_probecc() {
        if !require(&[Need::Tool("clang")]) {
            return;
        }
        let bytes = clang::compile_source(
            r#"char _license[] __attribute__((section("license"), used)) = "GPL";"#,
            "bpfel",
            &[],
        );
        let clang = read(&bytes).unwrap();
        assert!(clang.btf.is_some() && clang.programs.is_empty());
        assert_eq!(clang.btf_ext, None);
        // An empty spec: BEGIN is a program of its own now, so nothing else
        // makes an object without one.
        let c = crate::lang::compile("", Arch::X86_64, &Default::default()).unwrap();
        let ours = read(&write(&c.object).unwrap()).unwrap();
        assert!(ours.btf.is_some() && ours.programs.is_empty());
        assert_eq!(ours.btf_ext, None);
    }

    /// clang leaves an empty `.text`; it holds no program.
    #[test]
    #[ignore = "needs clang"]
    fn empty_text_is_no_program() {
        if !require(&[Need::Tool("clang")]) {
            return;
        }
        let bytes = clang::compile_source(MINIMAL, "bpf", &[]);
        let obj = read(&bytes).unwrap();
        assert_eq!(obj.section(".text").map(|s| s.size), Some(0));
        let names: Vec<_> = obj.programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["p"]);
    }
}
