//! What a loader does to an object before the kernel sees it: its CO-RE
//! relocations applied for a target kernel's BTF, for the offline runner
//! and verifier-sim. [`relocate_object`] takes an object's bytes, finds
//! its relocations in `.BTF.ext` ([`object_relocations`]) and patches each
//! section; [`relocate_section`] computes each relocation's value on the
//! target as libbpf's `bpf_core_calc_relo` does and patches the
//! instruction as `bpf_core_patch_insn` does (ALU immediates, LDX/ST/STX
//! offsets with the memory size adjusted for a resized unsigned integer or
//! pointer, `ld_imm64`), including libbpf's check that the instruction
//! holds the value the object's own BTF gives.
//!
//! Above both `btf` (types, access paths: `btf::core::access`) and `elf`
//! (the object's sections), which know nothing of each other here.
//!
//! Written here rather than taken from `aya-obj` (`Object::relocate_btf`)
//! because that works on aya's own parse of the ELF file and its function
//! map rather than on instructions in hand; reads no split BTF; never checks
//! the instruction's original value; and, when a field is missing, poisons
//! the instruction without saying which field, where the runner wants an
//! error naming it ([`OnMissing::Error`]; [`OnMissing::Poison`] does what
//! libbpf and aya do). The tests check it against libbpf itself.

use crate::btf::core::access::{match_target, parse_access, type_name, FieldAccess, FieldValue};
use crate::btf::core::{CoreError, CoreKind};
use crate::btf::ext::{CoreRecord, CoreReloSection};
use crate::btf::kernel::KernelBtf;
use crate::btf::parse::Btf;
use crate::btf::types::{int_encoding, BtfType};
use crate::btf::BtfError;
use crate::elf::{ElfError, ObjectFile};
use crate::insn::{class, ld_imm64_value, size, src, Insn, InsnError};

/// libbpf's poison: `call 0xbad2310`, which the verifier reports as an
/// unknown helper if the instruction is reachable.
pub const POISON_IMM: i32 = 0x0bad_2310;

/// What to do when a field is not in the target kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnMissing {
    /// Fail with [`CoreError::MissingInTarget`], naming the field.
    Error,
    /// Poison the instruction as libbpf does (a guarded access may be dead).
    Poison,
}

/// One relocation as applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// Instruction slot in the section.
    pub insn: usize,
    pub kind: CoreKind,
    /// `struct task_struct`.
    pub root: String,
    pub access: String,
    /// The field path, `real_parent` or `__sk_common.skc_dport`.
    pub field: String,
    /// The value on the object's own BTF, and on the target (`None`:
    /// poisoned).
    pub local: u64,
    pub target: Option<u64>,
}

/// The target value of one relocation: `None` when the field is missing;
/// and whether the target has the root type at all.
fn target_value(
    spec: &FieldAccess,
    local: &Btf,
    target: &KernelBtf,
    kind: CoreKind,
) -> Result<(Option<FieldValue>, bool), CoreError> {
    let name = local.name_of(spec.root)?;
    let essential = name.split("___").next().unwrap_or(name);
    let root_kind = local.type_by_id(spec.root)?.kind();
    let mut found: Option<(FieldValue, u32)> = None;
    let mut count = 0;
    let mut any = false;
    for &cand in target.ids_named(essential) {
        let tb = target.btf();
        if tb.type_by_id(cand)?.kind() != root_kind {
            continue;
        }
        any = true;
        let Some(tspec) = match_target(spec, local, tb, cand)? else {
            continue;
        };
        // The program runs in the object's byte order (an s390x object
        // relocated against a little-endian host's BTF for the runner).
        let v = tspec.value_in(tb, kind, local.endian)?;
        count += 1;
        match found {
            Some((prev, bits)) if prev.value != v.value || bits != tspec.bit_offset => {
                return Err(CoreError::Ambiguous {
                    ty: type_name(local, spec.root),
                    field: spec.field_path(),
                    count,
                });
            }
            Some(_) => {}
            None => found = Some((v, tspec.bit_offset)),
        }
    }
    Ok((found.map(|(v, _)| v), any))
}

/// Whether a load or store of the field may change size from the local to
/// the target type (libbpf: both pointers, or both non-signed integers).
fn resizable(local: &Btf, local_ty: u32, target: &Btf, target_ty: u32) -> bool {
    match (local.type_by_id(local_ty), target.type_by_id(target_ty)) {
        (Ok(BtfType::Ptr { .. }), Ok(BtfType::Ptr { .. })) => true,
        (Ok(BtfType::Int { encoding: a, .. }), Ok(BtfType::Int { encoding: b, .. })) => {
            *a != int_encoding::SIGNED && *b != int_encoding::SIGNED
        }
        _ => false,
    }
}

fn mem_bytes(insn: &Insn) -> u32 {
    match insn.size() {
        size::B => 1,
        size::H => 2,
        size::W => 4,
        _ => 8,
    }
}

fn size_bits(bytes: u32) -> Option<u8> {
    match bytes {
        1 => Some(size::B),
        2 => Some(size::H),
        4 => Some(size::W),
        8 => Some(size::DW),
        _ => None,
    }
}

fn poison(insns: &mut [Insn], i: usize) {
    let was_ld_imm64 = insns.get(i).is_some_and(Insn::is_ld_imm64);
    let call = Insn::new(class::JMP | crate::insn::jmp::CALL, 0, 0, 0, POISON_IMM);
    for slot in insns
        .iter_mut()
        .skip(i)
        .take(if was_ld_imm64 { 2 } else { 1 })
    {
        *slot = call;
    }
}

/// What one relocation must write, with libbpf's checks of the
/// instruction's current contents.
struct Patch {
    orig: FieldValue,
    new: FieldValue,
    /// The load/store may not change size (libbpf's `fail_memsz_adjust`).
    size_fixed: bool,
}

fn patch(insns: &mut [Insn], i: usize, p: &Patch) -> Result<(), CoreError> {
    let bad = |reason: String| CoreError::BadInstruction { insn: i, reason };
    let insn = *insns
        .get(i)
        .ok_or_else(|| bad("is past the end of the section".into()))?;
    let (orig, new) = (p.orig.value, p.new.value);
    match insn.class() {
        class::ALU | class::ALU64 => {
            if insn.source() != src::K {
                return Err(bad("ALU relocation on a register operand".into()));
            }
            if p.orig.validate && i64::from(insn.imm) != orig as i64 {
                return Err(bad(format!("holds {}, expected {orig}", insn.imm)));
            }
            insns[i].imm = new as i32;
        }
        class::LDX | class::ST | class::STX => {
            if p.orig.validate && i64::from(insn.off) != orig as i64 {
                return Err(bad(format!("offset {} expected {orig}", insn.off)));
            }
            if new > i16::MAX as u64 {
                return Err(bad(format!("offset {new} does not fit 16 bits")));
            }
            if p.new.mem_size != p.orig.mem_size && p.new.mem_size != 0 {
                if p.size_fixed {
                    return Err(bad(format!(
                        "field is {} bytes in the object but {} in the target",
                        p.orig.mem_size, p.new.mem_size
                    )));
                }
                if mem_bytes(&insn) != p.orig.mem_size {
                    return Err(bad(format!(
                        "accesses {} bytes of a {}-byte field",
                        mem_bytes(&insn),
                        p.orig.mem_size
                    )));
                }
                let bits = size_bits(p.new.mem_size)
                    .ok_or_else(|| bad(format!("cannot access {} bytes", p.new.mem_size)))?;
                insns[i].code = insn.mode() | bits | insn.class();
            }
            insns[i].off = new as i16;
        }
        class::LD if insn.is_ld_imm64() => {
            let next = *insns
                .get(i + 1)
                .ok_or_else(|| bad("ld_imm64 lacks its second slot".into()))?;
            if insn.src != 0
                || insn.off != 0
                || next.code != 0
                || next.dst != 0
                || next.src != 0
                || next.off != 0
            {
                return Err(bad("is not a plain ld_imm64".into()));
            }
            if p.orig.validate && ld_imm64_value(&insn, &next) != orig {
                return Err(bad(format!(
                    "loads {}, expected {orig}",
                    ld_imm64_value(&insn, &next)
                )));
            }
            insns[i].imm = new as u32 as i32;
            insns[i + 1].imm = (new >> 32) as u32 as i32;
        }
        c => return Err(bad(format!("class {c:#x} cannot be relocated"))),
    }
    Ok(())
}

/// Relocates the instructions of one ELF section (`insns[0]` is the
/// section's first slot) by its CO-RE `records`, whose type ids and access
/// strings refer to `local` (the object's `.BTF`), for `target`.
pub fn relocate_section(
    insns: &mut [Insn],
    records: &[CoreRecord],
    local: &Btf,
    target: &KernelBtf,
    on_missing: OnMissing,
) -> Result<Vec<Applied>, CoreError> {
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let kind = CoreKind::from_raw(r.kind)
            .filter(|k| k.is_field())
            .ok_or(CoreError::UnsupportedKind(r.kind))?;
        let i = (r.insn_off / 8) as usize;
        let spec = parse_access(local, r.type_id, &r.access)?;
        let orig = spec.value(local, kind)?;
        let (found, root_found) = target_value(&spec, local, target, kind)?;
        let new = match (found, kind) {
            (Some(v), _) => Some(v),
            (None, CoreKind::FieldExists) => Some(FieldValue { value: 0, ..orig }),
            (None, _) => None,
        };
        let applied = Applied {
            insn: i,
            kind,
            root: type_name(local, spec.root),
            access: r.access.clone(),
            field: spec.field_path(),
            local: orig.value,
            target: new.map(|v| v.value),
        };
        match new {
            Some(new) => {
                let size_fixed = orig.mem_size != new.mem_size
                    && !resizable(local, orig.type_id, target.btf(), new.type_id);
                patch(
                    insns,
                    i,
                    &Patch {
                        orig,
                        new,
                        size_fixed,
                    },
                )?;
            }
            None if on_missing == OnMissing::Poison => poison(insns, i),
            None if !root_found => return Err(CoreError::TypeMissingInTarget { ty: applied.root }),
            None => {
                return Err(CoreError::MissingInTarget {
                    ty: applied.root,
                    field: applied.field,
                })
            }
        }
        out.push(applied);
    }
    Ok(out)
}

/// Why an object's relocations cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum RelocateError {
    #[error("the object")]
    Object(#[from] ElfError),
    #[error("the object's BTF")]
    Btf(#[from] BtfError),
    #[error("the object: CO-RE relocations for a missing section {0}")]
    MissingSection(String),
    #[error("the object: section {0} lies outside the file")]
    SectionPastEnd(String),
    #[error("the object: section {section}")]
    Instructions {
        section: String,
        #[source]
        source: InsnError,
    },
    #[error("CO-RE relocation")]
    Relocation(#[from] CoreError),
}

/// An object's own BTF and the sections of its `.BTF.ext` that hold CO-RE
/// relocations (the loader's view: what [`relocate_object`] patches, what
/// `probecc disasm` lists); `None` for an object without `.BTF` and
/// `.BTF.ext`.
pub fn object_relocations(
    obj: &ObjectFile,
) -> Result<Option<(Btf, Vec<CoreReloSection>)>, BtfError> {
    let (Some(raw), Some(ext)) = (&obj.btf, &obj.btf_ext) else {
        return Ok(None);
    };
    let local = crate::btf::parse(raw)?;
    let mut sections = crate::btf::ext::parse(ext, &local)?.core_relo;
    sections.retain(|s| !s.records.is_empty());
    Ok(Some((local, sections)))
}

/// An object's bytes with every CO-RE relocation of its `.BTF.ext` applied
/// for `target`, as a loader would hand them to the kernel (what the
/// offline runner runs and verifier-sim checks), and what was applied. An
/// object without CO-RE relocations comes back unchanged.
pub fn relocate_object(
    bytes: &[u8],
    target: &KernelBtf,
    on_missing: OnMissing,
) -> Result<(Vec<u8>, Vec<Applied>), RelocateError> {
    let obj = crate::elf::read(bytes)?;
    let Some((local, sections)) = object_relocations(&obj)? else {
        return Ok((bytes.to_vec(), Vec::new()));
    };
    let mut out = bytes.to_vec();
    let mut applied = Vec::new();
    for s in &sections {
        let section = obj
            .section(&s.section)
            .ok_or_else(|| RelocateError::MissingSection(s.section.clone()))?;
        let (start, len) = (section.offset as usize, section.size as usize);
        let code = out
            .get(start..start.saturating_add(len))
            .ok_or_else(|| RelocateError::SectionPastEnd(s.section.clone()))?;
        let mut insns = crate::insn::decode_all(code, obj.endian).map_err(|source| {
            RelocateError::Instructions {
                section: s.section.clone(),
                source,
            }
        })?;
        applied.extend(relocate_section(
            &mut insns, &s.records, &local, target, on_missing,
        )?);
        let patched = crate::insn::encode_all(&insns, obj.endian);
        out[start..start + patched.len()].copy_from_slice(&patched);
    }
    Ok((out, applied))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::caused_by;

    #[test]
    fn errors_keep_their_cause() {
        let k = KernelBtf::parse(
            &crate::btf::builder::Builder::new().finish(crate::insn::Endian::Little),
        )
        .unwrap();
        let e = relocate_object(b"not an object", &k, OnMissing::Error).unwrap_err();
        assert!(
            matches!(e, RelocateError::Object(ElfError::NotElf)),
            "{e:?}"
        );
        assert!(caused_by::<ElfError>(&e));
        assert_eq!(
            crate::error::chain(&e),
            "the object: not an ELF file (bad magic)"
        );
    }
}
