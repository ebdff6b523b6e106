//! Member paths on a BTF, as clang's CO-RE and libbpf see them.
//!
//! A path starts at a struct or union (the object a pointer points to) and
//! names members and array elements: `task_struct` → `comm` → `[0]`. Clang
//! records it as an *access string*: the index of the pointer's element
//! (always 0 here), then per step the member's index in its struct or the
//! array index; members of anonymous structs and unions are found through
//! them, and the anonymous member's own index comes first (`sock` →
//! `__sk_common` → `skc_dport` is `0:0:2:1:0`: `skc_dport` sits in an
//! anonymous struct in an anonymous union).
//!
//! [`FieldAccess`] is libbpf's `bpf_core_spec`: the raw indices, the
//! *accessors* (named members and array indices, not the anonymous members
//! in between), and the bit offset from the root, plus what the language
//! needs of the field (type, size, signedness, bitfield). It comes from a
//! path of names ([`resolve_path`]), from an access string
//! ([`parse_access`], libbpf's `bpf_core_parse_spec`), or by matching
//! another BTF's spec member by member name ([`match_target`], libbpf's
//! `bpf_core_spec_match`). [`FieldAccess::value`] is the value a
//! relocation kind takes (`bpf_core_calc_field_relo`).
//!
//! Every step is checked and every sum saturates: a hostile BTF or access
//! string gives an error, never a panic.

use super::{CoreError, CoreKind};
use crate::btf::kernel::nearest;
use crate::btf::parse::Btf;
use crate::btf::types::{int_encoding, BtfType, Member};
use crate::insn::Endian;

/// libbpf's `BPF_CORE_SPEC_MAX_LEN`: the most indices an access string has.
pub const MAX_SPEC_LEN: usize = 64;

/// One step of a member path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// `.name` or `->name` (the language decides which is legal; here a
    /// member is always of the current struct).
    Member(String),
    /// `[n]` of an array member.
    Index(u32),
}

impl From<&str> for Step {
    fn from(name: &str) -> Step {
        Step::Member(name.to_string())
    }
}

impl From<u32> for Step {
    fn from(index: u32) -> Step {
        Step::Index(index)
    }
}

/// libbpf's `bpf_core_accessor`: a named member (`type_id` is the struct or
/// union holding it, `index` its member index) or an array element
/// (`type_id` is the element type, `index` the element), or the root
/// (`type_id` the root, `index` the pointer's element, 0).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Accessor {
    pub type_id: u32,
    pub index: u32,
    pub name: Option<String>,
}

/// Where a bitfield lies: its first bit, counted from the start of the
/// root, and its width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bitfield {
    pub bit_offset: u32,
    pub bit_size: u32,
}

/// A field access resolved on one BTF (see the module header).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldAccess {
    /// The root struct or union (typedefs and qualifiers skipped).
    pub root: u32,
    /// The access string's numbers.
    pub raw: Vec<u32>,
    /// libbpf's spec: root, named members and array elements.
    pub accessors: Vec<Accessor>,
    /// Bits from the start of the root to the field.
    pub bit_offset: u32,
    /// The field's type as declared (`pid_t`).
    pub type_id: u32,
    /// `type_id` with typedefs and qualifiers skipped (`int`).
    pub resolved: u32,
    /// sizeof the field; of the underlying integer for a bitfield.
    pub size: u32,
    /// Whether the field is a signed integer or enum (libbpf's
    /// `FIELD_SIGNED`).
    pub signed: bool,
    pub bitfield: Option<Bitfield>,
}

/// What a relocation kind computes for one spec (libbpf's
/// `bpf_core_calc_field_relo` outputs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldValue {
    pub value: u64,
    /// For a byte offset of a non-bitfield: the field's size, which a load
    /// or store of it must have (0 otherwise).
    pub mem_size: u32,
    /// For a byte offset of a non-bitfield: the field's resolved type.
    pub type_id: u32,
    /// Whether the instruction must already hold this value for the local
    /// spec (libbpf skips the check for most bitfield kinds).
    pub validate: bool,
}

impl FieldAccess {
    /// The access string clang writes: `0:3:1`.
    pub fn access_string(&self) -> String {
        let parts: Vec<String> = self.raw.iter().map(u32::to_string).collect();
        parts.join(":")
    }

    /// Bytes from the start of the root to the field (to the byte holding
    /// its first bit, for a bitfield).
    pub fn byte_offset(&self) -> u32 {
        self.bit_offset / 8
    }

    /// The field's name path, for messages: `__sk_common.skc_dport`,
    /// `comm[0]`.
    pub fn field_path(&self) -> String {
        let mut out = String::new();
        for a in self.accessors.iter().skip(1) {
            match &a.name {
                Some(n) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(n);
                }
                None => out.push_str(&format!("[{}]", a.index)),
            }
        }
        out
    }

    /// The value relocation `kind` takes for this spec on `btf` (the BTF
    /// the spec was resolved on), as libbpf computes it on a machine of
    /// `btf`'s byte order.
    pub fn value(&self, btf: &Btf, kind: CoreKind) -> Result<FieldValue, CoreError> {
        self.value_in(btf, kind, btf.endian)
    }

    /// [`value`](Self::value) for a program of byte order `endian` (which
    /// decides a bitfield's left shift): an s390x object compiled against
    /// a little-endian host's BTF holds the big-endian value.
    pub fn value_in(
        &self,
        btf: &Btf,
        kind: CoreKind,
        endian: Endian,
    ) -> Result<FieldValue, CoreError> {
        let plain = |value: u64| FieldValue {
            value,
            mem_size: 0,
            type_id: 0,
            validate: true,
        };
        if !kind.is_field() {
            return Err(CoreError::UnsupportedKind(kind.raw()));
        }
        if kind == CoreKind::FieldExists {
            return Ok(plain(1));
        }
        let last = self
            .accessors
            .last()
            .ok_or_else(|| CoreError::BadAccessString {
                ty: type_name(btf, self.root),
                access: self.access_string(),
                reason: "empty".into(),
            })?;
        let Some(name) = &last.name else {
            // The root or an array element.
            let size = btf.size_of(last.type_id)?;
            return match kind {
                CoreKind::FieldByteOffset => Ok(FieldValue {
                    value: u64::from(self.bit_offset / 8),
                    mem_size: size,
                    type_id: last.type_id,
                    validate: true,
                }),
                CoreKind::FieldByteSize => Ok(plain(u64::from(size))),
                _ => Err(CoreError::KindNotApplicable {
                    kind,
                    what: "an array element".into(),
                }),
            };
        };
        let (bitfields, m) = member(btf, last.type_id, last.index)?;
        let field_type = btf.resolve(m.type_id)?;
        let bit_off = self.bit_offset;
        let mut bit_sz = m.bitfield_size(bitfields);
        let bitfield = bit_sz > 0;
        let (byte_off, byte_sz) = if bitfield {
            let mut byte_sz = btf.size_of(field_type)?.max(1);
            let mut byte_off = bit_off / 8 / byte_sz * byte_sz;
            while u64::from(bit_off) + u64::from(bit_sz) - u64::from(byte_off) * 8
                > u64::from(byte_sz) * 8
            {
                if byte_sz >= 8 {
                    return Err(CoreError::BitfieldTooWide {
                        ty: type_name(btf, last.type_id),
                        member: name.clone(),
                    });
                }
                byte_sz *= 2;
                byte_off = bit_off / 8 / byte_sz * byte_sz;
            }
            (byte_off, byte_sz)
        } else {
            let byte_sz = btf.size_of(field_type)?;
            bit_sz = byte_sz.saturating_mul(8);
            (bit_off / 8, byte_sz)
        };
        let (bit_off, bit_sz, byte_off, byte_sz) = (
            u64::from(bit_off),
            u64::from(bit_sz),
            u64::from(byte_off),
            u64::from(byte_sz),
        );
        let mut out = plain(0);
        out.validate = !bitfield;
        match kind {
            CoreKind::FieldByteOffset => {
                out.value = byte_off;
                if !bitfield {
                    out.mem_size = byte_sz as u32;
                    out.type_id = field_type;
                }
            }
            CoreKind::FieldByteSize => out.value = byte_sz,
            CoreKind::FieldSigned => {
                out.value = u64::from(is_signed(btf, field_type)?);
                out.validate = true;
            }
            CoreKind::FieldLshiftU64 => {
                let v = match endian {
                    Endian::Little => 64i64 - (bit_off + bit_sz - byte_off * 8) as i64,
                    Endian::Big => ((8i64 - byte_sz as i64) * 8) + (bit_off - byte_off * 8) as i64,
                };
                out.value = v as u64;
            }
            CoreKind::FieldRshiftU64 => {
                out.value = 64u64.saturating_sub(bit_sz);
                out.validate = true;
            }
            _ => return Err(CoreError::UnsupportedKind(kind.raw())),
        }
        Ok(out)
    }
}

/// `type_id` as C for messages (`struct sock`), or `type #N` when it
/// cannot be printed.
pub(crate) fn type_name(btf: &Btf, type_id: u32) -> String {
    btf.format_type(type_id)
        .unwrap_or_else(|_| format!("type #{type_id}"))
}

/// The kind flag and members of struct or union `id` (already resolved).
fn composite(btf: &Btf, id: u32) -> Option<(bool, &[Member])> {
    match btf.type_by_id(id).ok()? {
        BtfType::Struct {
            bitfields, members, ..
        }
        | BtfType::Union {
            bitfields, members, ..
        } => Some((*bitfields, members)),
        _ => None,
    }
}

/// Member `index` of struct or union `id`.
fn member(btf: &Btf, id: u32, index: u32) -> Result<(bool, &Member), CoreError> {
    let bad = || CoreError::BadAccessString {
        ty: type_name(btf, id),
        access: index.to_string(),
        reason: format!("no member #{index}"),
    };
    let (bitfields, members) = composite(btf, id).ok_or_else(bad)?;
    let m = members.get(index as usize).ok_or_else(bad)?;
    Ok((bitfields, m))
}

/// libbpf's `FIELD_SIGNED`: a signed INT, or an enum with the signed flag.
fn is_signed(btf: &Btf, resolved: u32) -> Result<bool, CoreError> {
    if resolved == 0 {
        return Ok(false);
    }
    Ok(match btf.type_by_id(resolved)? {
        BtfType::Int { encoding, .. } => encoding & int_encoding::SIGNED != 0,
        BtfType::Enum { signed, .. } | BtfType::Enum64 { signed, .. } => *signed,
        _ => false,
    })
}

/// A spec being built on one BTF.
struct Walk<'a> {
    btf: &'a Btf,
    root: u32,
    raw: Vec<u32>,
    accessors: Vec<Accessor>,
    bit_offset: u64,
    /// The type reached so far (as declared).
    cur: u32,
    /// The struct and member index of the last step, when it was a member.
    last_member: Option<(u32, u32)>,
}

impl<'a> Walk<'a> {
    /// Starts at element `index` of an array of `root`s (`p[index]`).
    fn new(btf: &'a Btf, root: u32, index: u32) -> Result<Walk<'a>, CoreError> {
        let root = btf.resolve(root)?;
        let size = btf.size_of(root)?;
        Ok(Walk {
            btf,
            root,
            raw: vec![index],
            accessors: vec![Accessor {
                type_id: root,
                index,
                name: None,
            }],
            bit_offset: u64::from(index).saturating_mul(u64::from(size) * 8),
            cur: root,
            last_member: None,
        })
    }

    fn check_len(&self) -> Result<(), CoreError> {
        if self.raw.len() >= MAX_SPEC_LEN {
            return Err(CoreError::TooDeep {
                ty: type_name(self.btf, self.root),
            });
        }
        Ok(())
    }

    /// Steps into member `index` of the (resolved) composite `parent`.
    fn member(&mut self, parent: u32, index: u32) -> Result<(), CoreError> {
        self.check_len()?;
        let (bitfields, m) = member(self.btf, parent, index)?;
        self.bit_offset = self
            .bit_offset
            .saturating_add(u64::from(m.bit_offset(bitfields)));
        self.raw.push(index);
        self.last_member = Some((parent, index));
        let name = self.btf.string_at(m.name_off)?;
        if !name.is_empty() {
            self.accessors.push(Accessor {
                type_id: parent,
                index,
                name: Some(name.to_string()),
            });
        }
        self.cur = m.type_id;
        Ok(())
    }

    /// Whether an array reached through the last accessor is a flexible
    /// array member (`x[]` last in its struct), which has no bound.
    fn is_flex(&self, nelems: u32) -> bool {
        let Some(Accessor {
            type_id,
            index,
            name: Some(_),
        }) = self.accessors.last()
        else {
            return false;
        };
        nelems == 0
            && composite(self.btf, *type_id).is_some_and(|(_, m)| *index as usize + 1 == m.len())
    }

    /// Steps into element `index` of the current type, which must be an
    /// array. `Ok(false)` when it is not one or `index` is out of bounds.
    fn element(&mut self, index: u32) -> Result<bool, CoreError> {
        self.check_len()?;
        let t = self.btf.resolve(self.cur)?;
        let Ok(BtfType::Array { elem, nelems, .. }) = self.btf.type_by_id(t) else {
            return Ok(false);
        };
        if index >= *nelems && !self.is_flex(*nelems) {
            return Ok(false);
        }
        let elem = self.btf.resolve(*elem)?;
        let size = self.btf.size_of(elem)?;
        self.raw.push(index);
        self.accessors.push(Accessor {
            type_id: elem,
            index,
            name: None,
        });
        let bits = u64::from(index).saturating_mul(u64::from(size) * 8);
        self.bit_offset = self.bit_offset.saturating_add(bits);
        self.cur = elem;
        self.last_member = None;
        Ok(true)
    }

    fn finish(self) -> Result<FieldAccess, CoreError> {
        let btf = self.btf;
        let bit_offset =
            u32::try_from(self.bit_offset).map_err(|_| CoreError::BadAccessString {
                ty: type_name(btf, self.root),
                access: self
                    .raw
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(":"),
                reason: "offset overflows 32 bits".into(),
            })?;
        let resolved = btf.resolve(self.cur)?;
        let mut bitfield = None;
        if let Some((parent, index)) = self.last_member {
            let (flags, m) = member(btf, parent, index)?;
            let bit_size = m.bitfield_size(flags);
            if bit_size > 0 {
                bitfield = Some(Bitfield {
                    bit_offset,
                    bit_size,
                });
            }
        }
        Ok(FieldAccess {
            root: self.root,
            raw: self.raw,
            accessors: self.accessors,
            bit_offset,
            type_id: self.cur,
            resolved,
            size: if resolved == 0 {
                0
            } else {
                btf.size_of(resolved)?
            },
            signed: is_signed(btf, resolved)?,
            bitfield,
        })
    }
}

/// The member indices leading from (resolved) composite `id` to the member
/// named `name`, through anonymous struct and union members, depth first
/// in member order (as libbpf searches). `depth` bounds the recursion.
fn find_member(btf: &Btf, id: u32, name: &str, depth: usize) -> Option<Vec<(u32, u32)>> {
    if depth == 0 {
        return None;
    }
    let (_, members) = composite(btf, id)?;
    for (i, m) in members.iter().enumerate() {
        let mname = btf.string_at(m.name_off).ok()?;
        if mname == name {
            return Some(vec![(id, i as u32)]);
        }
        if mname.is_empty() {
            let inner = btf.resolve(m.type_id).ok()?;
            if let Some(mut rest) = find_member(btf, inner, name, depth - 1) {
                rest.insert(0, (id, i as u32));
                return Some(rest);
            }
        }
    }
    None
}

/// Member names reachable from composite `id` (through anonymous members),
/// and `member.inner` for the members of its embedded named structs: what
/// an unknown member's nearest names are chosen from.
fn member_names(btf: &Btf, id: u32, prefix: &str, depth: usize, out: &mut Vec<String>) {
    let Some((_, members)) = composite(btf, id) else {
        return;
    };
    for m in members {
        let Ok(name) = btf.string_at(m.name_off) else {
            continue;
        };
        let inner = btf.resolve(m.type_id).unwrap_or(0);
        if name.is_empty() {
            if depth > 0 {
                member_names(btf, inner, prefix, depth - 1, out);
            }
        } else {
            let full = format!("{prefix}{name}");
            if prefix.is_empty() && depth > 0 {
                member_names(btf, inner, &format!("{full}."), depth - 1, out);
            }
            out.push(full);
        }
    }
}

/// The nearest member names to `name` in composite `id`.
pub fn suggest_members(btf: &Btf, id: u32, name: &str) -> Vec<String> {
    let mut names = vec![];
    member_names(btf, id, "", 8, &mut names);
    nearest(name, names.iter().map(String::as_str))
}

/// Resolves `path` from `root` (a struct or union, or a typedef of one) on
/// `btf`, the way clang does for `p->a.b[2]`.
///
/// ```no_run
/// # use probecc::btf::{kernel::KernelBtf, core::access::{resolve_path, Step}};
/// let k = KernelBtf::from_file("/sys/kernel/btf/vmlinux")?;
/// let sock = k.struct_id("sock")?;
/// let a = resolve_path(k.btf(), sock, &["__sk_common".into(), "skc_dport".into()])?;
/// assert_eq!(a.access_string(), "0:0:2:1:0");
/// # Ok::<(), probecc::btf::core::CoreError>(())
/// ```
pub fn resolve_path(btf: &Btf, root: u32, path: &[Step]) -> Result<FieldAccess, CoreError> {
    let mut w = Walk::new(btf, root, 0)?;
    for step in path {
        match step {
            Step::Member(name) => {
                let here = btf.resolve(w.cur)?;
                if composite(btf, here).is_none() {
                    return Err(CoreError::NotComposite {
                        ty: type_name(btf, w.cur),
                        member: name.clone(),
                    });
                }
                let Some(chain) = find_member(btf, here, name, MAX_SPEC_LEN) else {
                    return Err(CoreError::NoMember {
                        ty: type_name(btf, w.cur),
                        member: name.clone(),
                        suggestions: suggest_members(btf, here, name),
                    });
                };
                for (parent, index) in chain {
                    w.member(parent, index)?;
                }
            }
            Step::Index(i) => {
                let here = w.cur;
                let is_array = matches!(
                    btf.resolve(here).and_then(|t| btf.type_by_id(t)),
                    Ok(BtfType::Array { .. })
                );
                if !w.element(*i)? {
                    let ty = type_name(btf, here);
                    return Err(if is_array {
                        CoreError::IndexOutOfBounds { ty, index: *i }
                    } else {
                        CoreError::NotArray { ty, index: *i }
                    });
                }
            }
        }
    }
    w.finish()
}

/// Parses access string `access` on root `type_id` (libbpf's
/// `bpf_core_parse_spec`, for the object's local BTF).
pub fn parse_access(btf: &Btf, type_id: u32, access: &str) -> Result<FieldAccess, CoreError> {
    let bad = |reason: &str| CoreError::BadAccessString {
        ty: type_name(btf, type_id),
        access: access.to_string(),
        reason: reason.to_string(),
    };
    let raw = access
        .split(':')
        .map(|p| p.parse::<u32>().map_err(|_| bad("not a list of numbers")))
        .collect::<Result<Vec<u32>, _>>()?;
    if raw.len() > MAX_SPEC_LEN {
        return Err(bad("too long"));
    }
    let (&first, rest) = raw.split_first().ok_or_else(|| bad("empty"))?;
    let mut w = Walk::new(btf, type_id, first)?;
    for &index in rest {
        let here = btf.resolve(w.cur)?;
        if composite(btf, here).is_some() {
            w.member(here, index)?;
        } else if !w.element(index)? {
            return Err(bad(&format!(
                "[{index}] does not index {}",
                type_name(btf, w.cur)
            )));
        }
    }
    w.finish()
}

/// Matches `local` (a spec on `local_btf`) against `target_root` of
/// `target` by member names (libbpf's `bpf_core_spec_match`): `None` when a
/// member is missing or incompatible there.
pub fn match_target(
    local: &FieldAccess,
    local_btf: &Btf,
    target: &Btf,
    target_root: u32,
) -> Result<Option<FieldAccess>, CoreError> {
    let Some((first, rest)) = local.accessors.split_first() else {
        return Ok(None);
    };
    let mut w = Walk::new(target, target_root, first.index)?;
    for acc in rest {
        match &acc.name {
            Some(name) => {
                let here = target.resolve(w.cur)?;
                let Some(chain) = find_member(target, here, name, MAX_SPEC_LEN) else {
                    return Ok(None);
                };
                for (parent, index) in chain {
                    w.member(parent, index)?;
                }
                let (_, lm) = member(local_btf, acc.type_id, acc.index)?;
                if !fields_compatible(local_btf, lm.type_id, target, w.cur, 0)? {
                    return Ok(None);
                }
            }
            None => {
                if !w.element(acc.index)? {
                    return Ok(None);
                }
            }
        }
    }
    w.finish().map(Some)
}

/// libbpf's `bpf_core_fields_are_compat`.
fn fields_compatible(
    local: &Btf,
    local_id: u32,
    target: &Btf,
    target_id: u32,
    depth: usize,
) -> Result<bool, CoreError> {
    if depth > MAX_SPEC_LEN {
        return Ok(false);
    }
    let l = local.resolve(local_id)?;
    let t = target.resolve(target_id)?;
    if l == 0 || t == 0 {
        return Ok(l == t);
    }
    let (lt, tt) = (local.type_by_id(l)?, target.type_by_id(t)?);
    let is_composite = |t: &BtfType| matches!(t, BtfType::Struct { .. } | BtfType::Union { .. });
    if is_composite(lt) && is_composite(tt) {
        return Ok(true);
    }
    let is_enum = |t: &BtfType| matches!(t, BtfType::Enum { .. } | BtfType::Enum64 { .. });
    if lt.kind() != tt.kind() && !(is_enum(lt) && is_enum(tt)) {
        return Ok(false);
    }
    Ok(match (lt, tt) {
        (BtfType::Ptr { .. }, _) | (BtfType::Float { .. }, _) => true,
        (BtfType::Fwd { .. } | BtfType::Enum { .. } | BtfType::Enum64 { .. }, _) => {
            let essential = |b: &Btf, t: &BtfType| {
                let n = b.string_at(t.name_off()).unwrap_or("");
                n.split("___").next().unwrap_or("").to_string()
            };
            let (ln, tn) = (essential(local, lt), essential(target, tt));
            ln.is_empty() || tn.is_empty() || ln == tn
        }
        (BtfType::Int { offset: lo, .. }, BtfType::Int { offset: to, .. }) => *lo == 0 && *to == 0,
        (BtfType::Array { elem: le, .. }, BtfType::Array { elem: te, .. }) => {
            fields_compatible(local, *le, target, *te, depth + 1)?
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::kernel::host_for_test;

    fn m(name: &str) -> Step {
        Step::Member(name.into())
    }

    #[test]
    #[ignore = "needs /sys/kernel/btf/vmlinux"]
    fn host_paths_resolve_to_types_offsets_and_bitfields() {
        let Some(k) = host_for_test() else {
            return;
        };
        let b = k.btf();
        let pid = k.field("task_struct", &[m("pid")]).unwrap();
        assert_eq!(b.format_type(pid.type_id).unwrap(), "pid_t");
        assert_eq!(b.format_type(pid.resolved).unwrap(), "int");
        assert_eq!((pid.size, pid.signed, pid.bitfield), (4, true, None));
        assert_eq!(pid.access_string(), format!("0:{}", pid.raw[1]));

        let parent = k.field("task_struct", &[m("real_parent")]).unwrap();
        assert_eq!(
            b.format_type(parent.type_id).unwrap(),
            "struct task_struct *"
        );
        assert_eq!((parent.size, parent.signed), (8, false));

        let comm = k
            .field("task_struct", &[m("comm"), Step::Index(3)])
            .unwrap();
        let comm0 = k
            .field("task_struct", &[m("comm"), Step::Index(0)])
            .unwrap();
        assert_eq!(comm.byte_offset(), comm0.byte_offset() + 3);
        assert_eq!(
            (comm.size, b.format_type(comm.type_id).unwrap().as_str()),
            (1, "char")
        );
        assert_eq!(comm.field_path(), "comm[3]");

        // skc_dport sits in an anonymous struct in an anonymous union.
        let dport = k
            .field("sock", &[m("__sk_common"), m("skc_dport")])
            .unwrap();
        assert_eq!(dport.raw.len(), 5, "{}", dport.access_string());
        assert_eq!(
            dport.accessors.len(),
            3,
            "anonymous members are no accessors"
        );
        assert_eq!(b.format_type(dport.type_id).unwrap(), "__be16");
        assert_eq!(dport.field_path(), "__sk_common.skc_dport");

        let fpos = k.field("file", &[m("f_pos")]).unwrap();
        assert_eq!((fpos.size, fpos.signed), (8, true));

        let reuse = k.field("sock_common", &[m("skc_reuse")]).unwrap();
        let bf = reuse.bitfield.unwrap();
        assert_eq!(bf.bit_size, 4);
        assert_eq!(bf.bit_offset, reuse.bit_offset);
        assert_eq!((reuse.size, reuse.signed), (1, false));
        assert_eq!(reuse.value(b, CoreKind::FieldRshiftU64).unwrap().value, 60);
        let pkt = k.field("sk_buff", &[m("pkt_type")]).unwrap();
        assert_eq!(pkt.bitfield.map(|f| f.bit_size), Some(3));
    }

    #[test]
    #[ignore = "needs /sys/kernel/btf/vmlinux"]
    fn host_errors_name_the_struct_and_the_nearest_members() {
        let Some(k) = host_for_test() else {
            return;
        };
        let err = |root: &str, path: &[Step]| k.field(root, path).unwrap_err().to_string();
        let e = err("task_struct", &[m("pidd")]);
        assert!(
            e.starts_with("struct task_struct has no member `pidd`; did you mean `pid`"),
            "{e}"
        );
        let e = err("sock", &[m("skc_dport")]);
        assert!(e.contains("`__sk_common.skc_dport`"), "{e}");
        assert!(err("sock", &[m("dport")]).contains("`__sk_common.skc_dport`"));
        assert_eq!(
            err("task_struct", &[m("real_parent"), m("pid")]),
            "struct task_struct * is not a struct or union, so it has no member `pid`"
        );
        assert_eq!(
            err("task_struct", &[m("pid"), Step::Index(0)]),
            "pid_t is not an array, so it cannot be indexed with [0]"
        );
        assert_eq!(
            err("task_struct", &[m("comm"), Step::Index(16)]),
            "index [16] is outside char[16]"
        );
        assert!(err("tsak_struct", &[]).contains("did you mean"));
    }

    #[test]
    #[ignore = "needs /sys/kernel/btf/vmlinux"]
    fn access_strings_round_trip_and_hostile_ones_are_errors() {
        let Some(k) = host_for_test() else {
            return;
        };
        let b = k.btf();
        let dport = k
            .field("sock", &[m("__sk_common"), m("skc_dport")])
            .unwrap();
        let back = parse_access(b, dport.root, &dport.access_string()).unwrap();
        assert_eq!(back, dport);
        let matched = match_target(&dport, b, b, dport.root).unwrap().unwrap();
        assert_eq!(matched, dport);
        for bad in [
            "",
            ":",
            "0:",
            "x",
            "0:99999",
            "0:0:0:0:0:0:0:0:0:0",
            "4294967295:1",
        ] {
            assert!(parse_access(b, dport.root, bad).is_err(), "{bad:?}");
        }
        let long = vec!["0"; 70].join(":");
        assert!(parse_access(b, dport.root, &long).is_err());
    }
}
