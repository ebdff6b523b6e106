//! Positional parameters read at run time, through the whole compiler:
//! the read-only globals in `.rodata` (section, symbols, relocations, BTF)
//! as clang writes `const volatile` globals, in both byte orders, and the
//! manifest that names them; fixed values make none.

use crate::arch::Arch;
use crate::btf::{self, BtfType};
use crate::elf::{self, RelocKind};
use crate::insn::{class, size};
use crate::lang::check::ir::ParamKind;
use crate::lang::manifest::GlobalEntry;
use crate::lang::{compile, CompileOptions, Compiled};
use crate::program::{Global, GlobalType};

const SPEC: &str = "kprobe:vfs_read /arg2 > $1/ { @big[str($2)] = count(); @n = $#; @m = $1; }";

fn build(src: &str, arch: Arch, params: Option<&[&str]>) -> Compiled {
    let opts = CompileOptions {
        file: "p.bt".into(),
        params: params.map(|p| p.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    compile(src, arch, &opts).unwrap_or_else(|d| panic!("{d:?}"))
}

fn global(name: &str, offset: u32, ty: GlobalType) -> Global {
    Global {
        name: name.into(),
        offset,
        ty,
    }
}

#[test]
fn each_parameter_read_is_one_global_laid_out_in_order() {
    let c = build(SPEC, Arch::X86_64, None);
    assert_eq!(
        c.object.globals,
        [
            global("probecc_argc", 0, GlobalType::U64),
            global("probecc_arg1", 8, GlobalType::S64),
            global("probecc_arg2_str", 16, GlobalType::Chars(64)),
        ]
    );
    let entry = |symbol: &str, param, kind, offset, size| GlobalEntry {
        symbol: symbol.into(),
        param,
        kind,
        offset,
        size,
    };
    assert_eq!(
        c.manifest.globals,
        [
            entry("probecc_argc", 0, ParamKind::Count, 0, 8),
            entry("probecc_arg1", 1, ParamKind::Int, 8, 8),
            entry("probecc_arg2_str", 2, ParamKind::Str, 16, 64),
        ]
    );
    let json = serde_json::to_value(&c.manifest).unwrap();
    assert_eq!(
        json["globals"][2],
        serde_json::json!({"symbol": "probecc_arg2_str", "param": 2, "kind": "str",
                           "offset": 16, "size": 64})
    );
}

/// `str($N)`'s global is the spec's string size rounded up to 8.
#[test]
fn a_string_global_is_max_strlen_rounded_up() {
    let c = build(
        "config = { max_strlen = 13 } BEGIN { @s[str($3)] = 1; }",
        Arch::X86_64,
        None,
    );
    assert_eq!(
        c.object.globals,
        [global("probecc_arg3_str", 0, GlobalType::Chars(16))]
    );
}

#[test]
fn fixed_values_and_unread_parameters_make_no_global() {
    for c in [
        build(SPEC, Arch::X86_64, Some(&["5", "x"])),
        build(SPEC, Arch::X86_64, Some(&[])),
        build("kprobe:vfs_read { @c = count(); }", Arch::X86_64, None),
    ] {
        assert!(c.object.globals.is_empty());
        assert!(c.manifest.globals.is_empty());
        assert!(serde_json::to_value(&c.manifest).unwrap()["globals"].is_null());
        let bytes = elf::write(&c.object).unwrap();
        let obj = elf::read(&bytes).unwrap();
        assert!(obj.section(".rodata").is_none());
        let btf = btf::parse(obj.btf.as_deref().unwrap()).unwrap();
        assert!(btf.datasec(".rodata").is_none());
    }
}

/// `.rodata` as clang writes it: PROGBITS, SHF_ALLOC, 8-aligned, zeros; a
/// global `STT_OBJECT` per global; each load an `ld_imm64` of src 0 and
/// imm 0 with an `R_BPF_64_64` against the global's symbol, read by an
/// 8-byte load (or 8-byte copies, for a string).
#[test]
fn the_section_symbols_and_relocations_are_clangs() {
    for arch in [Arch::X86_64, Arch::S390x] {
        let c = build(SPEC, arch, None);
        let bytes = elf::write(&c.object).unwrap();
        let obj = elf::read(&bytes).unwrap();
        let sec = obj.section(".rodata").expect("a .rodata section");
        const PROGBITS: u32 = 1;
        const SHF_ALLOC: u64 = 2;
        assert_eq!(
            (sec.sh_type, sec.flags, sec.size, sec.align),
            (PROGBITS, SHF_ALLOC, 80, 8)
        );
        let data = &bytes[sec.offset as usize..(sec.offset + sec.size) as usize];
        assert!(data.iter().all(|&b| b == 0));
        let symbols: Vec<(&str, u8, u8, u64, u64)> = obj
            .symbols
            .iter()
            .filter(|s| s.section == Some(sec.index) && !s.name.starts_with('.'))
            .map(|s| (s.name.as_str(), s.kind, s.bind, s.value, s.size))
            .collect();
        const OBJECT: u8 = 1;
        const GLOBAL: u8 = 1;
        assert_eq!(
            symbols,
            [
                ("probecc_argc", OBJECT, GLOBAL, 0, 8),
                ("probecc_arg1", OBJECT, GLOBAL, 8, 8),
                ("probecc_arg2_str", OBJECT, GLOBAL, 16, 64),
            ]
        );
        let p = &obj.programs[0];
        let loads: Vec<&str> = p
            .relocs
            .iter()
            .filter(|r| r.symbol.starts_with("probecc_"))
            .map(|r| {
                assert_eq!(r.kind, RelocKind::Imm64);
                let (lo, hi) = (p.insns[r.insn], p.insns[r.insn + 1]);
                assert!(lo.is_ld_imm64(), "{arch}: slot {}", r.insn);
                assert_eq!((lo.src, lo.imm, hi.imm), (0, 0, 0), "{arch}");
                let next = p.insns[r.insn + 2];
                assert_eq!(
                    (next.class(), next.code & 0x18, next.src, next.off),
                    (class::LDX, size::DW, lo.dst, 0),
                    "{arch}: {} is read 8 bytes at a time from its start",
                    r.symbol
                );
                r.symbol.as_str()
            })
            .collect();
        assert_eq!(
            loads,
            [
                "probecc_arg1",
                "probecc_arg2_str",
                "probecc_argc",
                "probecc_arg1"
            ],
            "{arch}"
        );
    }
}

/// The BTF clang writes for `const volatile s64 x`, `const volatile u64 x`
/// and `const volatile char x[N]`: VARs of global linkage in a `.rodata`
/// DATASEC at their offsets, their types CONST → VOLATILE → the type (a
/// char array's qualifiers on its elements).
#[test]
fn btf_describes_them_as_const_volatile_globals() {
    for arch in [Arch::X86_64, Arch::S390x] {
        let c = build(SPEC, arch, None);
        let obj = elf::read(&elf::write(&c.object).unwrap()).unwrap();
        let btf = btf::parse(obj.btf.as_deref().unwrap()).unwrap();
        let (_, sec) = btf.datasec(".rodata").expect("a .rodata DATASEC");
        let BtfType::Datasec { size, vars, .. } = sec else {
            panic!("not a DATASEC")
        };
        assert_eq!(*size, 80);
        let described: Vec<(String, u32, u32, u32)> = vars
            .iter()
            .map(|v| {
                let BtfType::Var {
                    type_id, linkage, ..
                } = btf.type_by_id(v.type_id).unwrap()
                else {
                    panic!("not a VAR: {}", v.type_id)
                };
                let BtfType::Const { type_id: inner } = btf.type_by_id(*type_id).unwrap() else {
                    // A char array: its elements are qualified.
                    let BtfType::Array { elem, .. } = btf.type_by_id(*type_id).unwrap() else {
                        panic!("neither CONST nor ARRAY: {type_id}")
                    };
                    let BtfType::Const { type_id: q } = btf.type_by_id(*elem).unwrap() else {
                        panic!("an array of unqualified elements")
                    };
                    assert!(matches!(
                        btf.type_by_id(*q).unwrap(),
                        BtfType::Volatile { .. }
                    ));
                    return (
                        btf.format_type(v.type_id).unwrap(),
                        *linkage,
                        v.offset,
                        v.size,
                    );
                };
                assert!(matches!(
                    btf.type_by_id(*inner).unwrap(),
                    BtfType::Volatile { .. }
                ));
                (
                    btf.format_type(v.type_id).unwrap(),
                    *linkage,
                    v.offset,
                    v.size,
                )
            })
            .collect();
        const GLOBAL_ALLOCATED: u32 = 1;
        assert_eq!(
            described,
            [
                (
                    "const volatile u64 probecc_argc".to_string(),
                    GLOBAL_ALLOCATED,
                    0,
                    8
                ),
                (
                    "const volatile s64 probecc_arg1".to_string(),
                    GLOBAL_ALLOCATED,
                    8,
                    8
                ),
                (
                    "const volatile char probecc_arg2_str[64]".to_string(),
                    GLOBAL_ALLOCATED,
                    16,
                    64
                ),
            ],
            "{arch}"
        );
    }
}

/// Where a literal is needed, a parameter read at run time is an error
/// that says to give its value when compiling; given, it compiles.
#[test]
fn a_parameter_where_a_literal_is_needed_must_be_given_when_compiling() {
    let src = "kprobe:vfs_read { @h = lhist(arg2, 0, $1, 1); @s[str(arg1, $2)] = count(); }";
    let d = compile(src, Arch::X86_64, &CompileOptions::default()).unwrap_err();
    let helps: Vec<Option<&str>> = d.iter().map(|d| d.help.as_deref()).collect();
    assert_eq!(d.len(), 2, "{d:#?}");
    assert!(
        helps
            .iter()
            .all(|h| h.is_some_and(|h| h.ends_with("`probecc build SPEC -- ARG...`"))),
        "{helps:?}"
    );
    assert!(build(src, Arch::X86_64, Some(&["100", "8"]))
        .object
        .globals
        .is_empty());
}

/// `$#`, `$1` and `str($1)` declared as a libbpf user declares them, read
/// by one program, for clang.
const GLOBALS_C: &str = r#"
typedef unsigned long long u64;
typedef long long s64;
#define SEC(n) __attribute__((section(n), used))
const volatile u64 probecc_argc = 0;
const volatile s64 probecc_arg1 = 0;
const volatile char probecc_arg1_str[64] = {};
SEC("kprobe/vfs_read") int kprobe_vfs_read(void *ctx)
{
	return probecc_argc + probecc_arg1 + probecc_arg1_str[0];
}
char _license[] SEC("license") = "GPL";
"#;

/// An object's read-only globals as `(section type, flags, size, align)`
/// of `.rodata`, each symbol's `(name, kind, bind, value, size)`, each
/// VAR's declaration as C with its linkage, and each relocated load's
/// `(symbol, src, imm, next imm)`, sorted.
type Described = (
    (u32, u64, u64, u64),
    Vec<(String, u8, u8, u64, u64)>,
    Vec<(String, u32)>,
    Vec<(String, u8, i32, i32)>,
);

fn describe(bytes: &[u8]) -> Described {
    let obj = elf::read(bytes).unwrap();
    let sec = obj.section(".rodata").expect(".rodata");
    let mut symbols: Vec<_> = obj
        .symbols
        .iter()
        .filter(|s| s.section == Some(sec.index) && !s.name.starts_with('.'))
        .map(|s| (s.name.clone(), s.kind, s.bind, s.value, s.size))
        .collect();
    symbols.sort();
    let btf = btf::parse(obj.btf.as_deref().unwrap()).unwrap();
    let (_, datasec) = btf.datasec(".rodata").expect("a .rodata DATASEC");
    let BtfType::Datasec { vars, .. } = datasec else {
        panic!("not a DATASEC")
    };
    let mut declared: Vec<_> = vars
        .iter()
        .map(|v| {
            let BtfType::Var { linkage, .. } = btf.type_by_id(v.type_id).unwrap() else {
                panic!("not a VAR")
            };
            (btf.format_type(v.type_id).unwrap(), *linkage)
        })
        .collect();
    declared.sort();
    let mut loads: Vec<_> = obj
        .programs
        .iter()
        .flat_map(|p| {
            p.relocs
                .iter()
                .filter(|r| r.symbol.starts_with("probecc_"))
                .map(|r| {
                    let (lo, hi) = (p.insns[r.insn], p.insns[r.insn + 1]);
                    (r.symbol.clone(), lo.src, lo.imm, hi.imm)
                })
        })
        .collect();
    loads.sort();
    loads.dedup();
    (
        (sec.sh_type, sec.flags, sec.size, sec.align),
        symbols,
        declared,
        loads,
    )
}

/// The same globals compiled by clang: the same section, symbols, BTF
/// declarations and relocated loads.
#[test]
#[ignore = "needs clang"]
fn globals_match_clangs_const_volatile_ones() {
    use probecc_test_support::{clang, require, Need};
    if !require(&[Need::Tool("clang")]) {
        return;
    }
    let ours = build(
        "kprobe:vfs_read { @a = $#; @b = $1; @c[str($1)] = 1; }",
        Arch::X86_64,
        None,
    );
    let ours = describe(&elf::write(&ours.object).unwrap());
    let theirs = describe(&clang::compile_source(GLOBALS_C, "bpfel", &[]));
    assert_eq!(ours, theirs);
    assert_eq!(ours.1.len(), 3);
}
