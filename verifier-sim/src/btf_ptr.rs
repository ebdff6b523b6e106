//! Pointers to kernel structs (`PTR_TO_BTF_ID`): what a tracing program
//! gets from a context slot whose argument points to a struct or union,
//! and from loading a pointer-to-struct member through such a pointer.
//! The kernel lets a program read them with direct loads
//! (`check_ptr_to_btf_access`), compiled as `BPF_PROBE_MEM` (a read
//! through NULL or a bad address gives 0 at run time, so no NULL check is
//! needed): at a constant offset that is not negative, inside the struct,
//! never a store ("only read is supported"), as `btf_struct_walk` finds the
//! member it lands on — a pointer to a struct gives another such pointer,
//! anything else a number of the load's size. Messages are the kernel's.
//!
//! A forward declaration stands for the struct or union of its name where
//! the BTF defines one: a kernel's own BTF declares only what it does not
//! define, and a cut of it (`fixtures/btf`) declares what it cut.
//!
//! Where kernels differ this model takes the stricter side: a load of a
//! pointer member to something other than a struct is a number (6.1; later
//! kernels make it untrusted read-only memory), and a comparison with 0
//! never decides a branch (later kernels know a trusted pointer is not
//! NULL).

use probecc::btf::kernel::{KernelBtf, NamedKind};
use probecc::btf::{Btf, BtfType, Member};

use crate::reg::{Ptr, PtrKind, RegState};
use crate::verify::{err, Verifier};
use crate::VerifyError;

/// What a load from a kernel struct gives (`enum bpf_struct_walk_result`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    /// A number.
    Scalar,
    /// A pointer to the struct or union with this BTF id.
    Ptr(u32),
}

/// A struct's or union's layout, as the walk reads it.
struct Composite<'a> {
    name: &'a str,
    size: u32,
    bitfields: bool,
    members: &'a [Member],
}

fn composite(btf: &Btf, id: u32) -> Option<Composite<'_>> {
    match btf.type_by_id(id).ok()? {
        BtfType::Struct {
            name_off,
            size,
            bitfields,
            members,
        }
        | BtfType::Union {
            name_off,
            size,
            bitfields,
            members,
        } => Some(Composite {
            name: btf.string_at(*name_off).unwrap_or(""),
            size: *size,
            bitfields: *bitfields,
            members,
        }),
        _ => None,
    }
}

/// Whether `id` (modifiers skipped) is a struct or union.
pub fn is_composite(btf: &Btf, id: u32) -> bool {
    composite(btf, id).is_some()
}

/// The type a pointer to `id` points to, modifiers skipped: for a forward
/// declaration, the struct or union of its name if the BTF defines one.
pub fn pointee(k: &KernelBtf, id: u32) -> u32 {
    let btf = k.btf();
    let to = btf.resolve(id).unwrap_or(id);
    let Ok(BtfType::Fwd { name_off, union }) = btf.type_by_id(to) else {
        return to;
    };
    let kind = if *union {
        NamedKind::Union
    } else {
        NamedKind::Struct
    };
    let defined = btf
        .string_at(*name_off)
        .ok()
        .and_then(|n| k.find(kind, n))
        .filter(|&d| is_composite(btf, d));
    defined.unwrap_or(to)
}

/// The name of the type `id`, as the kernel's messages print it.
pub fn name(btf: &Btf, id: u32) -> &str {
    btf.name_of(id).unwrap_or("")
}

/// A member's type with modifiers skipped, its size, and for an array the
/// innermost element's type and the count of all its elements
/// (`__btf_resolve_size`: `int a[2][3]` is 6 ints).
struct Sized {
    ty: u32,
    size: u32,
    elem: Option<(u32, u32)>,
}

fn resolve_size(btf: &Btf, id: u32) -> Option<Sized> {
    let ty = btf.resolve(id).ok()?;
    let size = btf.size_of(ty).ok()?;
    let mut elem = None;
    let mut cur = ty;
    let mut count: u32 = 1;
    while let Ok(BtfType::Array {
        elem: e, nelems, ..
    }) = btf.type_by_id(cur)
    {
        count = count.saturating_mul(*nelems);
        cur = btf.resolve(*e).ok()?;
        elem = Some((cur, count));
    }
    Some(Sized { ty, size, elem })
}

/// What a load of `size` bytes at `off` in the struct `id` gives, or the
/// kernel's complaint (`btf_struct_access` over `btf_struct_walk`).
pub fn walk(k: &KernelBtf, id: u32, off: u32, size: u32) -> Result<Walk, String> {
    let btf = k.btf();
    let (mut id, mut off) = (id, off);
    // Each round enters a nested struct, so the types bound the rounds.
    for _ in 0..=btf.count() {
        let t_id = btf.resolve(id).unwrap_or(id);
        let Some(t) = composite(btf, t_id) else {
            return Err(format!("Type '{}' is not a struct", name(btf, t_id)));
        };
        if u64::from(off) + u64::from(size) > u64::from(t.size) {
            match flexible_tail(btf, &t, off) {
                Tail::Scalar => return Ok(Walk::Scalar),
                Tail::Into(elem, at) => {
                    (id, off) = (elem, at);
                    continue;
                }
                Tail::Beyond => {
                    return Err(format!(
                        "access beyond struct {} at off {off} size {size}",
                        t.name
                    ))
                }
            }
        }
        match members(k, &t, off, size)? {
            Step::Done(w) => return Ok(w),
            Step::Into(next, at) => (id, off) = (next, at),
        }
    }
    Err(format!("Type '{}' is not a struct", name(btf, id)))
}

/// A load past the end of a struct, as its last member decides.
enum Tail {
    /// Inside a flexible array of integers.
    Scalar,
    /// Inside a flexible array of structs: this one, at this offset.
    Into(u32, u32),
    /// Beyond the struct.
    Beyond,
}

/// A load past the end of `t` lands in its last member if that is a
/// flexible array (`T tail[]`): an element of integers is a number, an
/// element that is a struct is walked at the offset inside it.
fn flexible_tail(btf: &Btf, t: &Composite<'_>, off: u32) -> Tail {
    let Some(last) = t.members.last() else {
        return Tail::Beyond;
    };
    let Ok(m) = btf.resolve(last.type_id) else {
        return Tail::Beyond;
    };
    let Ok(BtfType::Array {
        elem, nelems: 0, ..
    }) = btf.type_by_id(m)
    else {
        return Tail::Beyond;
    };
    let moff = last.bit_offset(t.bitfields) / 8;
    if off < moff {
        return Tail::Beyond;
    }
    let elem = btf.resolve(*elem).unwrap_or(*elem);
    if matches!(btf.type_by_id(elem), Ok(BtfType::Int { .. })) {
        return Tail::Scalar;
    }
    match composite(btf, elem) {
        Some(e) if e.size > 0 => Tail::Into(elem, (off - moff) % e.size),
        _ => Tail::Beyond,
    }
}

/// One round of the walk: the load's answer, or the nested struct to
/// enter and the offset inside it.
enum Step {
    Done(Walk),
    Into(u32, u32),
}

/// The member of `t` a load of `size` bytes at `off` lands on.
fn members(k: &KernelBtf, t: &Composite<'_>, off: u32, size: u32) -> Result<Step, String> {
    let btf = k.btf();
    let end = off + size;
    for m in t.members {
        let bit_off = m.bit_offset(t.bitfields);
        let moff = bit_off / 8;
        if end <= moff {
            break;
        }
        let bits = m.bitfield_size(t.bitfields);
        if bits != 0 {
            // The whole bitfield inside the load: a number; else on to
            // the next member.
            if off <= moff && (bit_off + bits).div_ceil(8) <= end {
                return Ok(Step::Done(Walk::Scalar));
            }
            continue;
        }
        if off < moff {
            break;
        }
        let mname = btf.string_at(m.name_off).unwrap_or("");
        let Some(sized) = resolve_size(btf, m.type_id) else {
            return Err(format!("field {mname} doesn't have size"));
        };
        let mtrue_end = moff + sized.size;
        if off >= mtrue_end {
            continue;
        }
        let (mut ty, mut moff, mut msize) = (sized.ty, moff, sized.size);
        if let Some((elem, count)) = sized.elem {
            if moff == mtrue_end {
                continue;
            }
            msize /= count.max(1);
            moff += (off - moff) / msize.max(1) * msize;
            ty = elem;
        }
        if is_composite(btf, ty) {
            return Ok(Step::Into(ty, off - moff));
        }
        if let Ok(BtfType::Ptr { type_id }) = btf.type_by_id(ty) {
            if msize != size || off != moff {
                return Err(format!(
                    "cannot access ptr member {mname} with moff {moff} in struct {} with off {off} size {size}",
                    t.name
                ));
            }
            let to = pointee(k, *type_id);
            if is_composite(btf, to) {
                return Ok(Step::Done(Walk::Ptr(to)));
            }
        }
        if end > mtrue_end {
            return Err(format!(
                "access beyond the end of member {mname} (mend:{mtrue_end}) in struct {} with off {off} size {size}",
                t.name
            ));
        }
        return Ok(Step::Done(Walk::Scalar));
    }
    Err(format!(
        "struct {} doesn't have field at offset {off}",
        t.name
    ))
}

/// The register a load of `n` bytes gives: a pointer to a struct, or a
/// number zero-extended from `n` bytes.
pub fn loaded(w: Walk, n: i64) -> RegState {
    match w {
        Walk::Ptr(id) => RegState::Ptr(Ptr::new(PtrKind::BtfId { id })),
        Walk::Scalar => crate::mem::loaded(n),
    }
}

impl Verifier<'_> {
    /// A load (`write` false) or store of `n` bytes at `insn_off` through
    /// register `r`, a pointer to the kernel struct `id`
    /// (`check_ptr_to_btf_access`): the value a load gives.
    pub(crate) fn btf_access(
        &self,
        pc: usize,
        r: u8,
        p: &Ptr,
        insn_off: i16,
        n: i64,
        write: bool,
    ) -> Result<RegState, VerifyError> {
        let PtrKind::BtfId { id } = p.kind else {
            return Err(err(pc, format!("R{r} invalid mem access")));
        };
        let Some(types) = self.types else {
            return Err(err(pc, format!("R{r} invalid mem access 'ptr_'")));
        };
        let tname = name(types.btf(), id);
        let off = p.off + i64::from(insn_off);
        if off < 0 {
            return Err(err(
                pc,
                format!("R{r} is ptr_{tname} invalid negative access: off={off}"),
            ));
        }
        if p.var.as_const() != Some(0) {
            return Err(err(
                pc,
                format!(
                    "R{r} is ptr_{tname} invalid variable offset: off={off}, var_off={}",
                    crate::mem::tnum_text(&p.var)
                ),
            ));
        }
        if write {
            return Err(err(pc, "only read is supported"));
        }
        let (Ok(at), Ok(size)) = (u32::try_from(off), u32::try_from(n)) else {
            return Err(err(
                pc,
                format!("access beyond struct {tname} at off {off} size {n}"),
            ));
        };
        walk(types, id, at, size)
            .map(|w| loaded(w, n))
            .map_err(|m| err(pc, m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::btf::{Builder, IntEncoding};
    use probecc::endian::Endian;

    /// `struct inode { long i_size; }`, `struct file { unsigned int f_mode
    /// : 32 at 0; short f_flags at 4; struct inode *f_inode at 8; char
    /// *f_name at 16; struct { int a; int b; } f_pair at 24; int f_arr[2]
    /// at 32; }` (40 bytes), and `struct tail { int n; long v[]; }`.
    pub(crate) fn btf() -> (KernelBtf, u32, u32, u32) {
        let mut b = Builder::new();
        let long = b.int("long", 8, IntEncoding::Signed).unwrap();
        let int = b.int("int", 4, IntEncoding::Signed).unwrap();
        let short = b.int("short", 2, IntEncoding::Signed).unwrap();
        let ch = b.int("char", 1, IntEncoding::Char).unwrap();
        let inode = b.struct_type("inode", 8, &[("i_size", long, 0)]).unwrap();
        let pinode = b.ptr(inode).unwrap();
        let pch = b.ptr(ch).unwrap();
        let pair = b
            .struct_type("", 8, &[("a", int, 0), ("b", int, 32)])
            .unwrap();
        let idx = b.array_index_type().unwrap();
        let arr = b.array(int, idx, 2).unwrap();
        let file = b
            .struct_type(
                "file",
                40,
                &[
                    ("f_mode", int, 0),
                    ("f_flags", short, 32),
                    ("f_inode", pinode, 64),
                    ("f_name", pch, 128),
                    ("f_pair", pair, 192),
                    ("f_arr", arr, 256),
                ],
            )
            .unwrap();
        let flex = b.array(long, idx, 0).unwrap();
        let tail = b
            .struct_type("tail", 8, &[("n", int, 0), ("v", flex, 64)])
            .unwrap();
        let btf = KernelBtf::parse(&b.finish(Endian::Little)).unwrap();
        (btf, file, inode, tail)
    }

    #[test]
    fn members_read_as_numbers_of_the_load_size_or_as_struct_pointers() {
        let (btf, file, inode, _) = btf();
        assert_eq!(walk(&btf, file, 0, 4), Ok(Walk::Scalar));
        assert_eq!(walk(&btf, file, 4, 2), Ok(Walk::Scalar));
        assert_eq!(walk(&btf, file, 8, 8), Ok(Walk::Ptr(inode)));
        // A pointer to char is a number.
        assert_eq!(walk(&btf, file, 16, 8), Ok(Walk::Scalar));
        // Into the nested struct and the array's elements.
        assert_eq!(walk(&btf, file, 28, 4), Ok(Walk::Scalar));
        assert_eq!(walk(&btf, file, 36, 4), Ok(Walk::Scalar));
        assert_eq!(walk(&btf, inode, 0, 8), Ok(Walk::Scalar));
    }

    #[test]
    fn loads_outside_a_member_or_the_struct_are_refused() {
        let (btf, file, _, _) = btf();
        let refused = [
            (40, 8, "access beyond struct file at off 40 size 8"),
            (36, 8, "access beyond struct file at off 36 size 8"),
            (
                12,
                4,
                "cannot access ptr member f_inode with moff 8 in struct file with off 12 size 4",
            ),
            (
                4,
                4,
                "access beyond the end of member f_flags (mend:6) in struct file with off 4 size 4",
            ),
            (6, 2, "struct file doesn't have field at offset 6"),
        ];
        for (off, size, message) in refused {
            assert_eq!(walk(&btf, file, off, size).unwrap_err(), message);
        }
    }

    #[test]
    fn a_flexible_array_at_the_end_reads_past_the_size() {
        let (btf, _, _, tail) = btf();
        assert_eq!(walk(&btf, tail, 24, 8), Ok(Walk::Scalar));
        assert_eq!(
            walk(&btf, tail, 4, 8).unwrap_err(),
            "access beyond struct tail at off 4 size 8"
        );
    }

    #[test]
    fn a_forward_declaration_stands_for_the_struct_of_its_name() {
        let mut b = Builder::new();
        let long = b.int("long", 8, IntEncoding::Signed).unwrap();
        let inode = b.struct_type("inode", 8, &[("i_size", long, 0)]).unwrap();
        let declared = b.fwd("inode", false).unwrap();
        let nowhere = b.fwd("nowhere", false).unwrap();
        let (p, q) = (b.ptr(declared).unwrap(), b.ptr(nowhere).unwrap());
        let holder = b
            .struct_type("holder", 16, &[("p", p, 0), ("q", q, 64)])
            .unwrap();
        let k = KernelBtf::parse(&b.finish(Endian::Little)).unwrap();
        assert_eq!(pointee(&k, declared), inode);
        assert_eq!(walk(&k, holder, 0, 8), Ok(Walk::Ptr(inode)));
        // Declared and defined nowhere: a number.
        assert_eq!(walk(&k, holder, 8, 8), Ok(Walk::Scalar));
    }

    #[test]
    fn a_bitfield_is_read_by_a_load_that_holds_it_whole() {
        let mut b = Builder::new();
        let uint = b.int("unsigned int", 4, IntEncoding::Unsigned).unwrap();
        let member = |b: &mut Builder, name: &str, bits: u32, at: u32| Member {
            name_off: b.string(name).unwrap(),
            type_id: uint,
            offset: bits << 24 | at,
        };
        // `struct bits { unsigned int a:3, b:5; unsigned int c; }`
        let members = vec![
            member(&mut b, "a", 3, 0),
            member(&mut b, "b", 5, 3),
            member(&mut b, "c", 0, 32),
        ];
        let name_off = b.string("bits").unwrap();
        let bits = b
            .add(BtfType::Struct {
                name_off,
                size: 8,
                bitfields: true,
                members,
            })
            .unwrap();
        let k = KernelBtf::parse(&b.finish(Endian::Little)).unwrap();
        assert_eq!(walk(&k, bits, 0, 1), Ok(Walk::Scalar));
        assert_eq!(walk(&k, bits, 0, 4), Ok(Walk::Scalar));
        assert_eq!(walk(&k, bits, 4, 4), Ok(Walk::Scalar));
        // Half of a bitfield's bytes: no member there.
        assert_eq!(
            walk(&k, bits, 1, 1).unwrap_err(),
            "struct bits doesn't have field at offset 1"
        );
    }
}
