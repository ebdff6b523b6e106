//! `probecc disasm X.o`: an object's ELF summary, sections, maps (from the
//! BTF `.maps` datasec) and license, then each function's instructions in
//! `llvm-objdump -dr`'s layout, relocations under the instructions that carry
//! them and jump targets named after the nearest symbol, so that the listing
//! can be compared with LLVM's line by line.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use probecc::disasm::{lines, Line};
use probecc::elf::{Function, ObjectFile, Section};
use probecc::insn::{Endian, Insn};
use probecc::maps::MapKind;

use crate::input::{self, BadInput};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The object file to disassemble.
    pub obj: PathBuf,
}

pub fn run(args: &Args) -> Result<()> {
    let bytes = input::bytes(&args.obj)?;
    let text = render(&bytes).map_err(|e| BadInput::file(input::reading(&args.obj), e))?;
    print_all(&text)
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn print_all(text: &str) -> Result<()> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}

/// The whole listing of the object in `bytes`.
pub fn render(bytes: &[u8]) -> Result<String> {
    let obj = probecc::elf::read(bytes)?;
    let mut out = String::new();
    summary(&obj, &mut out);
    sections(&obj, &mut out);
    maps(&obj, &mut out)?;
    license(&obj, &mut out);
    disassembly(&obj, &mut out);
    Ok(out)
}

fn summary(obj: &ObjectFile, out: &mut String) {
    let order = match obj.endian {
        Endian::Little => "little-endian (LSB, bpfel)",
        Endian::Big => "big-endian (MSB, bpfeb)",
    };
    let _ = writeln!(
        out,
        "ELF64 relocatable, {order}, machine EM_BPF ({})",
        probecc::elf::EM_BPF
    );
}

fn sections(obj: &ObjectFile, out: &mut String) {
    let width = obj
        .sections
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let _ = writeln!(
        out,
        "\nSections:\n  [Nr] {:<width$}  {:<12}  {:>8}",
        "Name", "Type", "Size"
    );
    for s in obj.sections.iter().skip(1) {
        let _ = writeln!(
            out,
            "  [{:>2}] {:<width$}  {:<12}  {:>8}",
            s.index,
            s.name,
            s.type_name(),
            s.size
        );
    }
}

/// Maps as the BTF `.maps` datasec declares them; the bare symbols when the
/// object has no BTF.
fn maps(obj: &ObjectFile, out: &mut String) -> Result<()> {
    let Some(raw) = &obj.btf else {
        if !obj.maps.is_empty() {
            out.push_str("\nMaps (no BTF):\n");
            for m in &obj.maps {
                let _ = writeln!(out, "  {}: offset {}, {} bytes", m.name, m.offset, m.size);
            }
        }
        return Ok(());
    };
    let btf = probecc::btf::parse(raw).context("section `.BTF`")?;
    let defs = btf.maps().context("section `.BTF`: the `.maps` datasec")?;
    if defs.is_empty() {
        return Ok(());
    }
    out.push_str("\nMaps:\n");
    for m in defs {
        let kind = MapKind::from_type_id(m.map_type)
            .map_or_else(|| format!("type {}", m.map_type), |k| k.name().into());
        let mut line = format!("  {}: {kind}", m.name);
        push_slot(
            &mut line,
            "key",
            m.key.as_ref().map(|k| k.name.as_str()),
            m.key_size,
        );
        push_slot(
            &mut line,
            "value",
            m.value.as_ref().map(|v| v.name.as_str()),
            m.value_size,
        );
        let _ = write!(line, ", max_entries {}", m.max_entries);
        let _ = writeln!(out, "{line}");
    }
    Ok(())
}

/// `, key u32` for a typed slot, `, key 4 bytes` for a sized one.
fn push_slot(line: &mut String, what: &str, ty: Option<&str>, size: u32) {
    match ty {
        Some(name) => {
            let _ = write!(line, ", {what} {name}");
        }
        None if size != 0 => {
            let _ = write!(line, ", {what} {size} bytes");
        }
        None => {}
    }
}

fn license(obj: &ObjectFile, out: &mut String) {
    if let Some(text) = obj.license_text() {
        let _ = writeln!(out, "\nLicense: {text}");
    }
}

fn disassembly(obj: &ObjectFile, out: &mut String) {
    let core = core_relocations(obj, out);
    // Like llvm-objdump, skip empty code sections (clang's unused `.text`).
    for section in obj.sections.iter().filter(|s| s.is_code() && s.size > 0) {
        let _ = writeln!(out, "\nDisassembly of section {}:", section.name);
        let symbols = section_symbols(obj, section);
        let none = Vec::new();
        let relos = core.get(&section.name).unwrap_or(&none);
        for f in obj
            .programs
            .iter()
            .filter(|f| f.section_index == section.index)
        {
            function(obj, section, f, &symbols, relos, out);
        }
    }
}

/// The CO-RE relocations of `.BTF.ext` per section: (byte offset in the
/// section, listing). An unreadable `.BTF.ext` is said in `out`.
fn core_relocations(obj: &ObjectFile, out: &mut String) -> HashMap<String, Vec<(u64, String)>> {
    let mut by_section = HashMap::new();
    let (btf, sections) = match probecc::load::object_relocations(obj) {
        Ok(Some(found)) => found,
        Ok(None) => return by_section,
        Err(e) => {
            let _ = writeln!(out, "\nCO-RE relocations: unreadable .BTF.ext: {e}");
            return by_section;
        }
    };
    for s in sections {
        let list: Vec<(u64, String)> = s
            .records
            .iter()
            .map(|r| {
                let field = probecc::btf::core::record_field(&btf, r.type_id, &r.access);
                (
                    u64::from(r.insn_off),
                    probecc::btf::core::listing(r.kind, &field, &r.access),
                )
            })
            .collect();
        by_section.insert(s.section, list);
    }
    by_section
}

/// The named symbols of a section (functions and labels), by offset: what
/// `llvm-objdump` names jump targets and splits listings after.
fn section_symbols(obj: &ObjectFile, section: &Section) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = obj
        .symbols
        .iter()
        .filter(|s| s.section == Some(section.index) && s.names_address())
        .map(|s| (s.value, s.name.clone()))
        .collect();
    out.sort();
    out
}

fn function(
    obj: &ObjectFile,
    section: &Section,
    f: &Function,
    symbols: &[(u64, String)],
    core: &[(u64, String)],
    out: &mut String,
) {
    let _ = writeln!(out, "\n{:016x} <{}>:", f.offset, f.name);
    let base = f.first_slot();
    for line in lines(&f.insns, obj.endian) {
        let at = f.offset + (line.slot() * Insn::SIZE) as u64;
        if line.slot() > 0 {
            if let Some((_, label)) = symbols.iter().find(|(v, n)| *v == at && *n != f.name) {
                let _ = writeln!(out, "\n{at:016x} <{label}>:");
            }
        }
        out.push_str(&line.render(base));
        if let Some(target) = jump_target(section, f, &line, symbols) {
            let _ = write!(out, " <{target}>");
        }
        out.push('\n');
        for r in f
            .relocs
            .iter()
            .filter(|r| r.insn >= line.slot() && r.insn < line.slot() + line.span())
        {
            let _ = writeln!(
                out,
                "\t\t{:016x}:  {}\t{}",
                r.offset,
                r.kind.name(),
                r.symbol
            );
        }
        for (_, listing) in core.iter().filter(|(off, _)| *off == at) {
            let _ = writeln!(out, "\t\t{at:016x}:  {listing}");
        }
    }
}

/// `name` or `name+0x10`: the jump target of `line` by the nearest symbol at
/// or before it, or the section when none is.
fn jump_target(
    section: &Section,
    f: &Function,
    line: &Line,
    symbols: &[(u64, String)],
) -> Option<String> {
    let Line::Insn { slot, text, .. } = line else {
        return None;
    };
    let insn = f.insns.get(*slot)?;
    if !insn.is_jump() || text == "<unknown>" {
        return None;
    }
    let target_slot = (f.first_slot() + slot) as i64 + 1 + insn.jump_offset();
    let byte = u64::try_from(target_slot)
        .ok()?
        .checked_mul(Insn::SIZE as u64)?;
    if byte > section.size {
        return None;
    }
    let (base, name) = symbols
        .iter()
        .rev()
        .find(|(v, _)| *v <= byte)
        .map_or((0, section.name.as_str()), |(v, n)| (*v, n.as_str()));
    Some(match byte - base {
        0 => name.to_string(),
        d => format!("{name}+0x{d:x}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::arch::Arch;
    use probecc::ctype::CType;
    use probecc::insn::{self as i, AluOp, Cond, Reg, Size};
    use probecc::maps::MapDef;
    use probecc::program::{MapReloc, Object, Program};
    use probecc_test_support::{clang, require, Need};
    use std::process::Command;

    fn object(arch: Arch) -> Object {
        let mut obj = Object::new(arch);
        obj.maps
            .push(MapDef::hash("counts", CType::u32(), CType::u64(), 64));
        obj.maps.push(MapDef::perf_event_array("events"));
        let mut insns = vec![
            i::st(Size::W, Reg::R10, -4, 0),
            i::alu64_reg(AluOp::Mov, Reg::R2, Reg::R10),
        ];
        insns.push(i::alu64_imm(AluOp::Add, Reg::R2, -4));
        insns.extend(i::ld_imm64(Reg::R1, 0));
        insns.extend([
            i::call_helper(1),
            i::jmp_imm(Cond::Eq, Reg::R0, 0, 0),
            i::exit(),
        ]);
        obj.programs.push(Program {
            name: "count".into(),
            section: "kprobe/vfs_read".into(),
            insns,
            map_relocs: vec![MapReloc {
                insn: 3,
                map: "counts".into(),
            }],
            ksym_relocs: vec![],
            global_relocs: vec![],
            func_relocs: vec![],
            lines: vec![],
        });
        obj
    }

    #[test]
    fn core_relocations_are_listed_under_their_instructions() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let src = "kprobe:vfs_read { @pos = max(((struct file *)arg0)->f_pos); @t[curtask->comm] = count(); }";
        let opts = probecc::lang::CompileOptions {
            btf: Some(probecc::lang::check::TypeSource::file(format!(
                "{root}/fixtures/btf/kernel.btf"
            ))),
            ..Default::default()
        };
        for arch in [Arch::X86_64, Arch::S390x] {
            let c = probecc::lang::compile(src, arch, &opts).unwrap_or_else(|e| panic!("{e:?}"));
            let bytes = probecc::elf::write(&c.object).unwrap();
            let text = render(&bytes).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            let at = lines
                .iter()
                .position(|l| l.contains("CO-RE <byte_off> struct file.f_pos (0:12)"))
                .unwrap_or_else(|| panic!("{arch}: no f_pos relocation in\n{text}"));
            // Right under the `+= offset` it relocates.
            assert!(
                lines[at - 1].contains("+= 112"),
                "{arch}: {}",
                lines[at - 1]
            );
            assert!(
                text.contains("CO-RE <byte_off> struct task_struct.comm (0:125)"),
                "{arch}: {text}"
            );
        }
    }

    #[test]
    fn kprobe_multi_sections_are_listed_with_their_code() {
        let opts = probecc::lang::CompileOptions {
            symbols: Some(vec!["vfs_read".into(), "vfs_write".into()]),
            multi: true,
            ..Default::default()
        };
        let src = "kprobe:vfs_* { @[func] = count(); }";
        for arch in [Arch::X86_64, Arch::S390x] {
            let c = probecc::lang::compile(src, arch, &opts).unwrap_or_else(|e| panic!("{e:?}"));
            let bytes = probecc::elf::write(&c.object).unwrap();
            let text = render(&bytes).unwrap();
            let code = text
                .split_once("Disassembly of section kprobe.multi/vfs_*:\n")
                .unwrap_or_else(|| panic!("{arch}: no kprobe.multi section in\n{text}"))
                .1;
            assert!(code.contains("<kprobe_multi_vfs__>:"), "{arch}: {code}");
            // `func`: bpf_get_func_ip, as llvm-objdump writes the call.
            assert!(code.contains("call 173"), "{arch}: {code}");
        }
    }

    #[test]
    fn lists_summary_maps_and_code() {
        let bytes = probecc::elf::write(&object(Arch::S390x)).unwrap();
        let text = render(&bytes).unwrap();
        assert!(
            text.starts_with("ELF64 relocatable, big-endian (MSB, bpfeb), machine EM_BPF (247)\n"),
            "{text}"
        );
        assert!(
            text.contains("  counts: hash, key u32, value u64, max_entries 64\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "  events: perf_event_array, key 4 bytes, value 4 bytes, max_entries 0\n"
            ),
            "{text}"
        );
        assert!(text.contains("\nLicense: GPL\n"), "{text}");
        let row = text.lines().find(|l| l.starts_with("  [ 1] ")).unwrap();
        assert_eq!(
            row.split_whitespace().collect::<Vec<_>>(),
            ["[", "1]", "kprobe/vfs_read", "PROGBITS", "64"]
        );
        let tail = text
            .split_once("Disassembly of section kprobe/vfs_read:\n")
            .unwrap()
            .1;
        let want = [
            "",
            "0000000000000000 <count>:",
            "       0:\t62 a0 ff fc 00 00 00 00\t*(u32 *)(r10 - 4) = 0",
            "       1:\tbf 2a 00 00 00 00 00 00\tr2 = r10",
            "       2:\t07 20 00 00 ff ff ff fc\tr2 += -4",
            "       3:\t18 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0 ll",
            "\t\t0000000000000018:  R_BPF_64_64\tcounts",
            "       5:\t85 00 00 00 00 00 00 01\tcall 1",
            "       6:\t15 00 00 00 00 00 00 00\tif r0 == 0 goto +0 <count+0x38>",
            "       7:\t95 00 00 00 00 00 00 00\texit",
        ];
        assert_eq!(tail.lines().collect::<Vec<_>>(), want);
    }

    #[test]
    fn corrupt_objects_are_errors_naming_the_problem() {
        let bytes = probecc::elf::write(&object(Arch::X86_64)).unwrap();
        let e = render(&bytes[..bytes.len() - 10]).unwrap_err();
        assert!(format!("{e:#}").contains("section header table"), "{e:#}");
        let mut bad = bytes.clone();
        bad[18] = 62;
        assert_eq!(
            format!("{:#}", render(&bad).unwrap_err()),
            "e_machine is 62, not EM_BPF (247)"
        );
        let e = run(&Args {
            obj: "/nonexistent/x.o".into(),
        })
        .unwrap_err();
        assert!(
            format!("{e:#}").starts_with("reading /nonexistent/x.o: "),
            "{e:#}"
        );
    }

    const SOURCE: &str = include_str!("../../fixtures/c/subprograms.bpf.c");

    const MINIMAL: &str = r#"
#define SEC(n) __attribute__((section(n), used))
SEC("kprobe/x") int p(void *ctx) { return 0; }
char _license[] SEC("license") = "GPL";
"#;

    /// probecc's own objects list as `llvm-objdump -dr` lists them (with
    /// only forms LLVM 14 knows).
    #[test]
    #[ignore = "needs llvm-objdump"]
    fn matches_llvm_objdump_on_probecc_objects() {
        if !require(&[Need::Tool("llvm-objdump")]) {
            return;
        }
        let dir = std::env::temp_dir().join(format!("probecc-cli-own-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for arch in [Arch::X86_64, Arch::S390x] {
            let mut obj = object(arch);
            obj.programs[0].insns[0] = i::stx(Size::W, Reg::R10, -4, Reg::R1);
            let mut second = obj.programs[0].clone();
            second.name = "again".into();
            second.map_relocs[0].map = "events".into();
            obj.programs.push(second);
            let bytes = probecc::elf::write(&obj).unwrap();
            let path = dir.join(format!("{arch}.o"));
            std::fs::write(&path, &bytes).unwrap();
            let llvm = Command::new("llvm-objdump")
                .arg("-dr")
                .arg(&path)
                .output()
                .unwrap();
            let llvm = String::from_utf8(llvm.stdout).unwrap();
            let ours = render(&bytes).unwrap();
            let from = |s: &str| s[s.find("Disassembly of section").unwrap()..].to_string();
            assert_eq!(from(&ours), from(&llvm), "{arch}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The listing of a clang object equals `llvm-objdump -dr`'s from the
    /// first `Disassembly of section` on.
    #[test]
    #[ignore = "needs clang, llvm-objdump"]
    fn matches_llvm_objdump_on_clang_objects() {
        if !require(&[Need::Tool("clang"), Need::Tool("llvm-objdump")]) {
            return;
        }
        let dir = std::env::temp_dir().join(format!("probecc-cli-disasm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, source) in [("full", SOURCE), ("minimal", MINIMAL)] {
            let src = dir.join(format!("{name}.c"));
            std::fs::write(&src, source).unwrap();
            for target in ["bpfel", "bpfeb"] {
                let obj = dir.join(format!("{name}-{target}.o"));
                let bytes = clang::compile(&src, target, &[], &obj);
                let llvm = Command::new("llvm-objdump")
                    .arg("-dr")
                    .arg(&obj)
                    .output()
                    .unwrap();
                let llvm = String::from_utf8(llvm.stdout).unwrap();
                let ours = render(&bytes).unwrap();
                let from = |s: &str| s[s.find("Disassembly of section").unwrap()..].to_string();
                assert_eq!(from(&ours), from(&llvm), "{name} {target}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
