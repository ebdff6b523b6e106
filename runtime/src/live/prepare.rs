//! What an object needs before aya loads it: whether it needs the
//! kernel's BTF (CO-RE relocations), and the kernel symbols it loads (an
//! `ld_imm64` against an undefined `.ksyms` extern) resolved from
//! `/proc/kallsyms` with its BTF made one the kernel takes, as libbpf
//! does; aya does neither.

use probecc::endian::Endian;

use super::{kernel, LiveError};

/// Whether the object's `.BTF.ext` holds CO-RE relocations.
pub(super) fn has_core_relocations(bytes: &[u8]) -> bool {
    probecc::elf::read(bytes)
        .ok()
        .and_then(|obj| probecc::load::object_relocations(&obj).ok().flatten())
        .is_some_and(|(_, sections)| !sections.is_empty())
}

/// The object with the address of each kernel symbol it loads (an
/// `ld_imm64` relocated against an undefined `.ksyms` extern, as libbpf
/// resolves a typeless ksym) written into the instruction from
/// `/proc/kallsyms`, and its BTF made one the kernel takes
/// ([`sanitize_extern_vars`]); `None` if it loads none. aya leaves such
/// relocations alone.
pub(super) fn resolve_ksyms(object: &[u8]) -> Result<Option<Vec<u8>>, LiveError> {
    let Ok(obj) = probecc::elf::read(object) else {
        return Ok(None);
    };
    let externs: Vec<(u64, &str)> = obj
        .programs
        .iter()
        .flat_map(|f| f.relocs.iter().map(move |r| (f.section_index, r)))
        .filter(|(_, r)| {
            obj.symbols
                .iter()
                .any(|s| s.name == r.symbol && s.section.is_none() && s.value == 0)
        })
        .filter_map(|(section, r)| {
            let base = obj.sections.get(section)?.offset;
            Some((base + r.offset, r.symbol.as_str()))
        })
        .collect();
    if externs.is_empty() {
        return Ok(None);
    }
    let kallsyms = std::fs::read_to_string(kernel::KALLSYMS).unwrap_or_default();
    let mut bytes = object.to_vec();
    if let Some(btf) = obj.section(".BTF") {
        let (start, size) = (btf.offset as usize, btf.size as usize);
        if let Some(section) = bytes.get_mut(start..start + size) {
            sanitize_extern_vars(section, obj.endian);
        }
    }
    for (at, name) in externs {
        let addr = crate::ksyms::address_in(&kallsyms, name)
            .filter(|&a| a != 0)
            .ok_or_else(|| LiveError::NoKsym(name.to_string()))?;
        let at = at as usize;
        // imm of the ld_imm64's two slots: the low, then the high half.
        for (slot, half) in [(at + 4, addr as u32), (at + 12, (addr >> 32) as u32)] {
            if let Some(imm) = bytes.get_mut(slot..slot + 4) {
                imm.copy_from_slice(&obj.endian.u32_bytes(half));
            }
        }
    }
    Ok(Some(bytes))
}

/// The extern VARs of a BTF (`.ksyms`: type void, extern linkage, as
/// clang writes them and libbpf wants them) made static `int`s in place,
/// as libbpf does before it hands the BTF to the kernel, which refuses
/// extern VARs. aya does not, and a BTF the kernel refused leaves aya
/// creating the maps with its type ids and no BTF fd: every map fails.
/// A BTF that does not parse, or has no INT, is left as it is.
fn sanitize_extern_vars(btf: &mut [u8], endian: Endian) {
    const KIND_INT: u32 = 1;
    const KIND_VAR: u32 = 14;
    const EXTERN: u32 = 2;
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(match endian {
            Endian::Little => u32::from_le_bytes(w),
            Endian::Big => u32::from_be_bytes(w),
        })
    };
    let (Some(hdr_len), Some(type_off), Some(type_len)) =
        (u32_at(btf, 4), u32_at(btf, 8), u32_at(btf, 12))
    else {
        return;
    };
    let start = (hdr_len + type_off) as usize;
    let end = start + type_len as usize;
    let (mut at, mut id, mut int, mut vars) = (start, 1u32, None, Vec::new());
    while at + 12 <= end {
        let Some(info) = u32_at(btf, at + 4) else {
            return;
        };
        let (kind, vlen) = ((info >> 24) & 0x1f, info & 0xffff);
        let extra = match kind {
            KIND_INT | KIND_VAR | 17 => 4, // INT, VAR, DECL_TAG
            3 => 12,                       // ARRAY
            4 | 5 | 15 | 19 => 12 * vlen,  // STRUCT, UNION, DATASEC, ENUM64
            6 | 13 => 8 * vlen,            // ENUM, FUNC_PROTO
            2 | 7..=12 | 16 | 18 => 0,     // PTR, FWD, TYPEDEF, qualifiers, FUNC, FLOAT, TYPE_TAG
            _ => return,
        } as usize;
        if kind == KIND_INT && int.is_none() {
            int = Some(id);
        }
        if kind == KIND_VAR && u32_at(btf, at + 12) == Some(EXTERN) {
            vars.push(at);
        }
        at += 12 + extra;
        id += 1;
    }
    let Some(int) = int else { return };
    for var in vars {
        btf[var + 8..var + 12].copy_from_slice(&endian.u32_bytes(int));
        btf[var + 12..var + 16].copy_from_slice(&endian.u32_bytes(0));
    }
}
