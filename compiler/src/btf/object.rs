//! The BTF of a whole [`Object`]: its maps as clang declares them for libbpf
//! (`.maps` DATASEC → VAR → anonymous STRUCT of `__uint`/`__type` members),
//! one FUNC per program with the prototype `int f(struct pt_regs *ctx)`, its
//! record types, its read-only globals as clang describes `const volatile`
//! ones (`.rodata` DATASEC → VAR → CONST → VOLATILE → the type, a char
//! array's qualifiers on its elements), and the `.BTF.ext` func and line
//! records of its programs.

use std::collections::HashMap;

use super::builder::{Builder, FuncLinkage, IntEncoding, VarLinkage};
use super::ext::{ExtBuilder, SourceLine};
use super::map_defs::MAPS_SECTION;
use super::types::VarSecinfo;
use super::BtfError;
use crate::ctype::CType;
use crate::maps::{MapDef, Slot};
use crate::program::{GlobalType, LineInfo, Object, Program, RODATA};

/// What the ELF writer puts in `.BTF`, `.BTF.ext` and `.maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedBtf {
    pub btf: Vec<u8>,
    /// `None` when there is no record to write (an object without
    /// programs): libbpf refuses a `.BTF.ext` that is only a header, and
    /// cilium/ebpf one whose func_info or line_info lacks its record size,
    /// which libbpf refuses without records; clang writes none either.
    pub ext: Option<Vec<u8>>,
    /// Each map's definition in `.maps`, in `Object::maps` order; the ELF
    /// writer gives each a global `STT_OBJECT` symbol there.
    pub maps: Vec<MapSlot>,
}

/// Where one map's definition lies in `.maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSlot {
    pub name: String,
    pub offset: u32,
    pub size: u32,
}

/// Builds `.BTF` and `.BTF.ext` for `obj`, in its architecture's byte order.
///
/// Programs that share an ELF section are taken to lie in it one after the
/// other, in object order.
pub fn encode_object(obj: &Object) -> Result<EncodedBtf, BtfError> {
    let endian = obj.arch.endian();
    let mut b = Builder::new();
    let maps = add_maps(&mut b, &obj.maps)?;
    add_license(&mut b, &obj.license)?;
    let mut ext = ExtBuilder::new();
    let placed = add_programs(&mut b, &mut ext, &obj.programs)?;
    for t in &obj.types {
        b.ctype(t)?;
    }
    add_core(&mut b, &mut ext, obj, &placed)?;
    add_ksyms(&mut b, obj)?;
    add_globals(&mut b, obj)?;
    Ok(EncodedBtf {
        btf: b.finish(endian),
        ext: (!ext.is_empty()).then(|| ext.finish(endian)),
        maps,
    })
}

/// `__uint(name, n)`: a pointer to `int[n]`.
fn uint_member(b: &mut Builder, n: u32) -> Result<u32, BtfError> {
    let int = b.int("int", 4, IntEncoding::Signed)?;
    let index = b.array_index_type()?;
    let arr = b.array(int, index, n)?;
    b.ptr(arr)
}

/// The member for a key or value: `__type(typed, T)` or `__uint(sized, n)`.
fn slot_member(
    b: &mut Builder,
    slot: &Slot,
    typed: &'static str,
    sized: &'static str,
) -> Result<(&'static str, u32), BtfError> {
    match slot {
        Slot::Typed(t) => {
            let id = b.ctype(t)?;
            Ok((typed, b.ptr(id)?))
        }
        Slot::Sized(n) => Ok((sized, uint_member(b, *n)?)),
    }
}

/// The members of a map definition, in clang's usual order.
fn map_members(b: &mut Builder, m: &MapDef) -> Result<Vec<(&'static str, u32)>, BtfError> {
    let mut members = vec![("type", uint_member(b, m.kind.type_id())?)];
    if m.max_entries != 0 {
        members.push(("max_entries", uint_member(b, m.max_entries)?));
    }
    if let Some(key) = &m.key {
        members.push(slot_member(b, key, "key", "key_size")?);
    }
    if let Some(value) = &m.value {
        members.push(slot_member(b, value, "value", "value_size")?);
    }
    Ok(members)
}

/// One VAR per map, laid out consecutively in a `.maps` DATASEC.
fn add_maps(b: &mut Builder, maps: &[MapDef]) -> Result<Vec<MapSlot>, BtfError> {
    let mut slots: Vec<MapSlot> = Vec::with_capacity(maps.len());
    let mut vars = Vec::with_capacity(maps.len());
    let mut offset = 0u32;
    for m in maps {
        if slots.iter().any(|s| s.name == m.name) {
            return Err(BtfError::DuplicateMap(m.name.clone()));
        }
        let members = map_members(b, m)?;
        let size = members.len() as u32 * 8;
        let fields: Vec<(&str, u32, u32)> = members
            .iter()
            .enumerate()
            .map(|(i, &(name, ty))| (name, ty, i as u32 * 64))
            .collect();
        let def = b.struct_type("", size, &fields)?;
        let var = b.var(&m.name, def, VarLinkage::GlobalAllocated)?;
        vars.push(VarSecinfo {
            type_id: var,
            offset,
            size,
        });
        slots.push(MapSlot {
            name: m.name.clone(),
            offset,
            size,
        });
        offset += size;
    }
    if !vars.is_empty() {
        b.datasec(MAPS_SECTION, &vars)?;
    }
    Ok(slots)
}

/// The `.ksyms` externs the programs load the address of, as clang
/// describes `extern const void sym __ksym;`: a VAR of type void with
/// extern linkage per symbol in a `.ksyms` DATASEC (8 bytes each: the
/// section has no ELF counterpart whose size a loader could take).
fn add_ksyms(b: &mut Builder, obj: &Object) -> Result<(), BtfError> {
    let mut vars = Vec::new();
    for (i, name) in obj.ksyms().into_iter().enumerate() {
        let var = b.var(name, 0, VarLinkage::Extern)?;
        vars.push(VarSecinfo {
            type_id: var,
            offset: i as u32 * 8,
            size: 8,
        });
    }
    if !vars.is_empty() {
        b.datasec(KSYMS_SECTION, &vars)?;
    }
    Ok(())
}

/// The read-only globals: a VAR of global linkage each, typed `const
/// volatile` as clang types them, in a `.rodata` DATASEC at their offsets
/// (libbpf makes the `.rodata` map's value type of it, and looks each VAR
/// up by its ELF symbol).
fn add_globals(b: &mut Builder, obj: &Object) -> Result<(), BtfError> {
    let mut vars = Vec::with_capacity(obj.globals.len());
    for g in &obj.globals {
        let qualified = |b: &mut Builder, t: &CType| -> Result<u32, BtfError> {
            let id = b.ctype(t)?;
            let volatile = b.volatile_type(id)?;
            b.const_type(volatile)
        };
        let ty = match g.ty {
            GlobalType::U64 => qualified(b, &CType::u64())?,
            GlobalType::S64 => qualified(b, &CType::s64())?,
            GlobalType::Chars(n) => {
                let elem = qualified(b, &CType::char())?;
                let index = b.array_index_type()?;
                b.array(elem, index, n)?
            }
        };
        let var = b.var(&g.name, ty, VarLinkage::GlobalAllocated)?;
        vars.push(VarSecinfo {
            type_id: var,
            offset: g.offset,
            size: g.ty.size(),
        });
    }
    if !vars.is_empty() {
        b.datasec(RODATA, &vars)?;
    }
    Ok(())
}

/// The DATASEC of the kernel symbols' externs.
pub const KSYMS_SECTION: &str = ".ksyms";

/// `char _license[N]` in a `license` DATASEC, as clang describes the
/// license: libbpf's linker (`bpftool gen object`) wants BTF for every
/// global variable of an object it links.
fn add_license(b: &mut Builder, license: &str) -> Result<(), BtfError> {
    let size = license.len() as u32 + 1;
    let char_t = b.int("char", 1, IntEncoding::Signed)?;
    let index = b.array_index_type()?;
    let array = b.array(char_t, index, size)?;
    let var = b.var("_license", array, VarLinkage::GlobalAllocated)?;
    b.datasec(
        "license",
        &[VarSecinfo {
            type_id: var,
            offset: 0,
            size,
        }],
    )?;
    Ok(())
}

/// The kernel types of `obj.core` and its CO-RE relocation records, each
/// at its program's place in its section (`placed`: name → first slot).
fn add_core(
    b: &mut Builder,
    ext: &mut ExtBuilder,
    obj: &Object,
    placed: &HashMap<&str, u32>,
) -> Result<(), BtfError> {
    if obj.core.is_empty() {
        return Ok(());
    }
    let ids = obj.core.emit(b)?;
    for r in obj.core.relocs() {
        let bad = |reason: &str| BtfError::BadCoreRelo {
            program: r.program.clone(),
            insn: r.insn,
            reason: reason.into(),
        };
        let p = obj
            .programs
            .iter()
            .find(|p| p.name == r.program)
            .ok_or_else(|| bad("no such program"))?;
        if r.insn >= p.insns.len() {
            return Err(bad("past the last instruction"));
        }
        let base = placed.get(p.name.as_str()).copied().unwrap_or(0);
        let root = ids
            .get(&r.root)
            .copied()
            .ok_or_else(|| bad("root type not copied"))?;
        let off = (base as usize + r.insn) * 8;
        let off = u32::try_from(off).map_err(|_| bad("offset overflows"))?;
        ext.core_relo(b, &p.section, off, root, &r.access, r.kind)?;
    }
    Ok(())
}

/// A FUNC per program (all sharing `int (struct pt_regs *ctx)`; a
/// subprogram, static, `long (void *map, void *key, void *value, void
/// *ctx)` as a `bpf_for_each_map_elem` callback is), and its func_info and
/// line_info records. Returns each program's first slot in its section.
fn add_programs<'a>(
    b: &mut Builder,
    ext: &mut ExtBuilder,
    programs: &'a [Program],
) -> Result<HashMap<&'a str, u32>, BtfError> {
    let mut starts = HashMap::new();
    let int = b.int("int", 4, IntEncoding::Signed)?;
    let regs = b.fwd("pt_regs", false)?;
    let ctx = b.ptr(regs)?;
    let proto = b.func_proto(&[("ctx", ctx)], int)?;
    let mut callback = None;
    // Slots already placed in each section.
    let mut placed: HashMap<&str, u32> = HashMap::new();
    for p in programs {
        let func = if p.is_subprogram() {
            let proto = match callback {
                Some(proto) => proto,
                None => {
                    let long = b.int("long", 8, IntEncoding::Signed)?;
                    let void = b.ptr(0)?;
                    let params = [("map", void), ("key", void), ("value", void), ("ctx", void)];
                    *callback.insert(b.func_proto(&params, long)?)
                }
            };
            b.func(&p.name, proto, FuncLinkage::Static)?
        } else {
            b.func(&p.name, proto, FuncLinkage::Global)?
        };
        let base = placed.get(p.section.as_str()).copied().unwrap_or(0);
        starts.insert(p.name.as_str(), base);
        ext.func(b, &p.section, base * 8, func)?;
        for l in kernel_lines(p)? {
            let off = (base + l.insn as u32) * 8;
            ext.line(
                b,
                &p.section,
                off,
                SourceLine {
                    file: &l.file,
                    text: &l.text,
                    line: l.line,
                    col: l.col,
                },
            )?;
        }
        placed.insert(&p.section, base + p.insns.len() as u32);
    }
    Ok(starts)
}

/// The program's line records as the kernel takes them: strictly ascending,
/// the first at instruction 0 (the instructions before the first given line
/// are attributed to it), none inside an `ld_imm64`. Of several lines at one
/// slot, the last is kept: the others produced no instructions.
fn kernel_lines(p: &Program) -> Result<Vec<LineInfo>, BtfError> {
    let mut out: Vec<LineInfo> = Vec::with_capacity(p.lines.len());
    for l in &p.lines {
        let bad = |reason: &str| BtfError::BadLineInfo {
            program: p.name.clone(),
            insn: l.insn,
            reason: reason.into(),
        };
        let insn = p
            .insns
            .get(l.insn)
            .ok_or_else(|| bad("past the last instruction"))?;
        if insn.code == 0 {
            return Err(bad("inside an ld_imm64"));
        }
        match out.last_mut() {
            Some(prev) if prev.insn == l.insn => *prev = l.clone(),
            Some(prev) if prev.insn > l.insn => return Err(bad("before the previous line")),
            _ => out.push(l.clone()),
        }
    }
    if let Some(first) = out.first_mut() {
        first.insn = 0;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::ext;
    use super::super::parse::parse;
    use super::*;
    use crate::arch::Arch;
    use crate::ctype::{CType, StructType};
    use crate::insn::{self, Reg};
    use crate::maps::MapKind;

    fn event() -> CType {
        CType::Struct(StructType::new(
            "event",
            vec![
                ("ts".into(), CType::u64()),
                ("pid".into(), CType::u32()),
                ("comm".into(), CType::char_array(16)),
            ],
        ))
    }

    fn line(insn: usize, text: &str, n: u32) -> LineInfo {
        LineInfo {
            insn,
            file: "probe.bt".into(),
            text: text.into(),
            line: n,
            col: 1,
        }
    }

    fn program(name: &str, section: &str, lines: Vec<LineInfo>) -> Program {
        let mut insns = vec![insn::alu64_imm(insn::AluOp::Mov, Reg::R0, 0)];
        insns.extend(insn::ld_imm64(Reg::R1, 7));
        insns.push(insn::exit());
        Program {
            name: name.into(),
            section: section.into(),
            insns,
            map_relocs: vec![],
            ksym_relocs: vec![],
            global_relocs: vec![],
            func_relocs: vec![],
            lines,
        }
    }

    fn object(arch: Arch) -> Object {
        let mut o = Object::new(arch);
        o.maps = vec![
            MapDef::hash("counts", CType::u32(), CType::u64(), 1024),
            MapDef::array("config", CType::u64(), 4),
            MapDef::ringbuf("events", 1 << 16),
            MapDef::perf_event_array("perf"),
            MapDef::stack_trace("stacks", crate::maps::STACK_DEPTH, 128),
        ];
        o.types = vec![event()];
        o.programs = vec![
            program(
                "on_read",
                "kprobe/vfs_read",
                vec![line(0, "count()", 2), line(3, "exit", 3)],
            ),
            program("on_ret", "kretprobe/vfs_read", vec![line(1, "@x = 1", 5)]),
        ];
        o
    }

    #[test]
    fn round_trip_in_both_byte_orders() {
        for arch in [Arch::X86_64, Arch::S390x] {
            let enc = encode_object(&object(arch)).unwrap();
            let btf = parse(&enc.btf).unwrap();
            assert_eq!(btf.endian, arch.endian());
            let maps = btf.maps().unwrap();
            let summary: Vec<_> = maps
                .iter()
                .map(|m| {
                    (
                        m.name.as_str(),
                        m.kind,
                        m.max_entries,
                        m.key_size,
                        m.value_size,
                        m.offset,
                        m.size,
                    )
                })
                .collect();
            assert_eq!(
                summary,
                vec![
                    ("counts", Some(MapKind::Hash), 1024, 4, 8, 0, 32),
                    ("config", Some(MapKind::Array), 4, 4, 8, 32, 32),
                    ("events", Some(MapKind::Ringbuf), 1 << 16, 0, 0, 64, 16),
                    ("perf", Some(MapKind::PerfEventArray), 0, 4, 4, 80, 24),
                    (
                        "stacks",
                        Some(MapKind::StackTrace),
                        128,
                        4,
                        8 * 127,
                        104,
                        32
                    ),
                ]
            );
            let names = |s: &Option<super::super::TypedSlot>| s.as_ref().map(|t| t.name.clone());
            assert_eq!(names(&maps[0].key).as_deref(), Some("u32"));
            assert_eq!(names(&maps[0].value).as_deref(), Some("u64"));
            assert_eq!((maps[3].key.clone(), maps[4].value.clone()), (None, None));
            let slots: Vec<_> = enc
                .maps
                .iter()
                .map(|s| (s.name.as_str(), s.offset, s.size))
                .collect();
            assert_eq!(
                slots,
                summary.iter().map(|s| (s.0, s.5, s.6)).collect::<Vec<_>>()
            );

            let ev = btf.find_by_name("event").unwrap();
            assert_eq!(btf.format_type(ev).unwrap(), "struct event");
            assert_eq!(btf.size_of(ev).unwrap(), 32);
            let f = btf.find_by_name("on_read").unwrap();
            assert_eq!(
                btf.format_type(f).unwrap(),
                "int on_read(struct pt_regs *ctx)"
            );

            let x = ext::parse(enc.ext.as_deref().unwrap(), &btf).unwrap();
            let funcs: Vec<_> = x
                .func_info
                .iter()
                .map(|s| {
                    (
                        s.section.as_str(),
                        s.records[0].insn_off,
                        s.records[0].type_id,
                    )
                })
                .collect();
            let on_ret = btf.find_by_name("on_ret").unwrap();
            assert_eq!(
                funcs,
                vec![("kprobe/vfs_read", 0, f), ("kretprobe/vfs_read", 0, on_ret)]
            );
            let lines: Vec<_> = x
                .line_info
                .iter()
                .flat_map(|s| {
                    s.records
                        .iter()
                        .map(move |r| (s.section.as_str(), r.insn_off, r.text.as_str(), r.line))
                })
                .collect();
            assert_eq!(
                lines,
                vec![
                    ("kprobe/vfs_read", 0, "count()", 2),
                    ("kprobe/vfs_read", 24, "exit", 3),
                    ("kretprobe/vfs_read", 0, "@x = 1", 5),
                ]
            );
            assert!(x.line_info[0].records.iter().all(|r| r.file == "probe.bt"));
        }
    }

    #[test]
    fn magic_bytes_per_byte_order() {
        let be = encode_object(&object(Arch::S390x)).unwrap();
        let le = encode_object(&object(Arch::Arm64)).unwrap();
        assert_eq!(&be.btf[..4], &[0xeb, 0x9f, 0x01, 0x00]);
        assert_eq!(&le.btf[..4], &[0x9f, 0xeb, 0x01, 0x00]);
        assert_eq!(&be.ext.unwrap()[..4], &[0xeb, 0x9f, 0x01, 0x00]);
        assert_eq!(&le.ext.unwrap()[..4], &[0x9f, 0xeb, 0x01, 0x00]);
    }

    /// `bytes` with its 4-byte words from `from` to `to` reversed, and the
    /// 16-bit magic too: the other byte order of an all-word blob.
    fn swap_words(bytes: &[u8], to: usize) -> Vec<u8> {
        let mut out = bytes.to_vec();
        out.swap(0, 1);
        for w in out[4..to].chunks_mut(4) {
            w.reverse();
        }
        out
    }

    #[test]
    fn big_endian_blobs_are_little_endian_ones_word_swapped() {
        let le = encode_object(&object(Arch::X86_64)).unwrap();
        let be = encode_object(&object(Arch::S390x)).unwrap();
        let btf = parse(&le.btf).unwrap();
        let strings_at = le.btf.len() - btf.strings.len();
        assert_eq!(swap_words(&le.btf, strings_at), be.btf);
        let le_ext = le.ext.unwrap();
        assert_eq!(Some(swap_words(&le_ext, le_ext.len())), be.ext);
        assert_eq!(le.maps, be.maps);
    }

    #[test]
    fn map_structs_are_libbpfs_declarations() {
        let enc = encode_object(&object(Arch::X86_64)).unwrap();
        let btf = parse(&enc.btf).unwrap();
        let (_, sec) = btf.datasec(".maps").unwrap();
        let super::super::BtfType::Datasec { size, vars, .. } = sec else {
            panic!()
        };
        assert_eq!(*size, 136);
        let v = btf.format_type(vars[0].type_id).unwrap();
        assert_eq!(
            v,
            "struct { int (*type)[1]; int (*max_entries)[1024]; u32 *key; u64 *value; } counts"
        );
        let perf = btf.format_type(vars[3].type_id).unwrap();
        assert_eq!(
            perf,
            "struct { int (*type)[4]; int (*key_size)[4]; int (*value_size)[4]; } perf"
        );
    }

    /// `object`'s maps declared as libbpf's `bpf_helpers.h` declares them
    /// (`__uint`, `__type`), for clang.
    const MAPS_C: &str = r#"
typedef unsigned int u32;
typedef unsigned long long u64;
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define SEC(n) __attribute__((section(n), used))
struct { __uint(type, 1); __uint(max_entries, 1024); __type(key, u32); __type(value, u64); } counts SEC(".maps");
struct { __uint(type, 2); __uint(max_entries, 4); __type(key, u32); __type(value, u64); } config SEC(".maps");
struct { __uint(type, 27); __uint(max_entries, 65536); } events SEC(".maps");
struct { __uint(type, 4); __uint(key_size, 4); __uint(value_size, 4); } perf SEC(".maps");
struct { __uint(type, 7); __uint(max_entries, 128); __uint(key_size, 4); __uint(value_size, 1016); } stacks SEC(".maps");
"#;

    /// Each map of a `.maps` DATASEC: (its declaration as C, offset, size),
    /// the offset from `offset_of` (clang leaves the DATASEC's offsets and
    /// size 0 for libbpf to fill in from the ELF symbols).
    fn maps_section(
        btf: &super::super::Btf,
        offset_of: impl Fn(&str) -> u32,
    ) -> Vec<(String, u32, u32)> {
        let (_, sec) = btf.datasec(".maps").unwrap();
        let super::super::BtfType::Datasec { vars, .. } = sec else {
            panic!("not a DATASEC: {sec:?}")
        };
        vars.iter()
            .map(|v| {
                let super::super::BtfType::Var { name_off, .. } =
                    btf.type_by_id(v.type_id).unwrap()
                else {
                    panic!("not a VAR: {}", v.type_id)
                };
                let name = btf.string_at(*name_off).unwrap();
                (btf.format_type(v.type_id).unwrap(), offset_of(name), v.size)
            })
            .collect()
    }

    /// The `.maps` section clang writes for the same maps, declared in C as
    /// libbpf users declare them, has the same map types (printed as C),
    /// offsets and sizes as probecc's.
    #[test]
    #[ignore = "needs clang"]
    fn map_struct_matches_clang() {
        use probecc_test_support::{clang, require, Need};
        if !require(&[Need::Tool("clang")]) {
            return;
        }
        let enc = encode_object(&object(Arch::X86_64)).unwrap();
        let btf = parse(&enc.btf).unwrap();
        let ours = maps_section(&btf, |name| {
            let slot = enc.maps.iter().find(|s| s.name == name).unwrap();
            slot.offset
        });
        let clang = crate::elf::read(&clang::compile_source(MAPS_C, "bpfel", &[])).unwrap();
        let theirs = maps_section(&parse(clang.btf.as_deref().unwrap()).unwrap(), |name| {
            let symbol = clang.maps.iter().find(|m| m.name == name).unwrap();
            u32::try_from(symbol.offset).unwrap()
        });
        assert_eq!(ours, theirs);
        assert_eq!(ours.len(), 5);
        let (_, sec) = btf.datasec(".maps").unwrap();
        let super::super::BtfType::Datasec { size, .. } = sec else {
            panic!()
        };
        assert_eq!(
            Some(u64::from(*size)),
            clang.section(".maps").map(|s| s.size)
        );
    }

    #[test]
    fn programs_sharing_a_section_follow_each_other() {
        let mut o = object(Arch::X86_64);
        o.programs[1].section = "kprobe/vfs_read".into();
        let enc = encode_object(&o).unwrap();
        let x = ext::parse(enc.ext.as_deref().unwrap(), &parse(&enc.btf).unwrap()).unwrap();
        let offs: Vec<u32> = x.func_info[0].records.iter().map(|r| r.insn_off).collect();
        assert_eq!(offs, vec![0, 32]);
        let loffs: Vec<u32> = x.line_info[0].records.iter().map(|r| r.insn_off).collect();
        assert_eq!(loffs, vec![0, 24, 32]);
    }

    #[test]
    fn line_records_are_made_kernel_shaped() {
        let p = program(
            "p",
            "kprobe/f",
            vec![line(1, "a", 1), line(1, "b", 2), line(3, "c", 3)],
        );
        let got: Vec<_> = kernel_lines(&p)
            .unwrap()
            .into_iter()
            .map(|l| (l.insn, l.text))
            .collect();
        assert_eq!(got, vec![(0, "b".to_string()), (3, "c".to_string())]);
        let inside = program("p", "kprobe/f", vec![line(2, "a", 1)]);
        assert!(matches!(
            kernel_lines(&inside),
            Err(BtfError::BadLineInfo { insn: 2, .. })
        ));
        let back = program("p", "kprobe/f", vec![line(3, "a", 1), line(1, "b", 2)]);
        assert!(kernel_lines(&back).is_err());
        let past = program("p", "kprobe/f", vec![line(9, "a", 1)]);
        assert!(kernel_lines(&past).is_err());
    }

    #[test]
    fn bad_names_and_duplicate_maps_are_errors() {
        let mut o = object(Arch::X86_64);
        o.maps.push(MapDef::ringbuf("events", 4096));
        assert!(matches!(encode_object(&o), Err(BtfError::DuplicateMap(n)) if n == "events"));
        let mut o = object(Arch::X86_64);
        o.programs[0].name = "kprobe/x".into();
        assert!(matches!(
            encode_object(&o),
            Err(BtfError::InvalidName { what: "FUNC", .. })
        ));
    }

    #[test]
    fn object_without_maps_has_no_maps_section() {
        let mut o = object(Arch::X86_64);
        o.maps.clear();
        let enc = encode_object(&o).unwrap();
        assert!(enc.maps.is_empty());
        assert!(parse(&enc.btf).unwrap().datasec(".maps").is_none());
    }
}
