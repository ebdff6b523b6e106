//! The object's side of CO-RE: the kernel types a program's relocations
//! name, copied into the object's own `.BTF`, and the relocation records.
//!
//! libbpf resolves each access string against the *local* type (the
//! object's), checks that the instruction holds the value the local type
//! gives, then finds the target's members by name. So a local struct must
//! keep its real size and the real offsets and indices of the members on
//! an access path. [`CoreTypes`] copies every struct and union on a path
//! with all its members, so member indices (and the access strings) stay
//! exactly clang's, but a member no path uses becomes opaque bytes of its
//! size (`unsigned char[n]`, or an unsigned integer for a bitfield), and a
//! pointer to a struct becomes a pointer to its FWD: a used struct costs
//! one record, not the kernel's whole type graph.
//!
//! [`CoreTypes`] is owned data (no borrow of the kernel BTF), so an
//! [`Object`](crate::program::Object) can carry it to
//! [`encode_object`](crate::btf::encode_object), which emits the types and
//! the `.BTF.ext` records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::access::{FieldAccess, FieldValue, MAX_SPEC_LEN};
use super::{CoreError, CoreKind};
use crate::btf::builder::{Builder, IntEncoding};
use crate::btf::parse::Btf;
use crate::btf::types::{BtfType, EnumValue, Member};
use crate::btf::BtfError;

/// A member of a copied struct, as the kernel has it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MemberSnap {
    name: String,
    type_id: u32,
    /// The raw offset word (with the bitfield size when the struct's kind
    /// flag is set).
    offset: u32,
    /// Bytes of the member's type (0 when it has none).
    size: u32,
    bitfield: bool,
}

/// How one kernel type is copied.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Plan {
    Void,
    Composite {
        union: bool,
        name: String,
        size: u32,
        bitfields: bool,
        members: Vec<MemberSnap>,
        /// Members some path goes through or ends at: copied with their
        /// real type; the others are opaque.
        used: BTreeSet<u32>,
    },
    Int {
        name: String,
        size: u32,
        encoding: u8,
        offset: u8,
        bits: u8,
    },
    Float {
        name: String,
        size: u32,
    },
    Enum {
        name: String,
        size: u32,
        signed: bool,
        wide: bool,
        values: Vec<(String, i64)>,
    },
    Fwd {
        name: String,
        union: bool,
    },
    /// A pointer to a copied type.
    Ptr(u32),
    /// A pointer to a struct or union: to its FWD (`None`: `void *`).
    PtrFwd(Option<(String, bool)>),
    /// A kernel function (its name, FUNC_PROTO and linkage).
    Func {
        name: String,
        proto: u32,
        linkage: u32,
    },
    /// A prototype: return type and named parameters.
    FuncProto {
        ret: u32,
        params: Vec<(String, u32)>,
    },
    Array {
        elem: u32,
        nelems: u32,
    },
    Typedef {
        name: String,
        target: u32,
    },
    Const(u32),
    Volatile(u32),
    Restrict(u32),
    /// Copied as its target (type tags).
    Alias(u32),
}

/// A CO-RE relocation of the object: instruction `insn` of program
/// `program` holds `kind` of the field `access` reaches from kernel type
/// `root`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreReloc {
    pub program: String,
    /// Instruction slot in the program.
    pub insn: usize,
    /// The root struct's id in the kernel BTF it was resolved on.
    pub root: u32,
    pub access: String,
    pub kind: CoreKind,
    /// The field as C names it, for listings: `struct task_struct.tgid`.
    pub field: String,
}

/// The kernel types and CO-RE relocations of one object (see the module
/// header). All accesses must be resolved on the same kernel BTF.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoreTypes {
    plans: BTreeMap<u32, Plan>,
    relocs: Vec<CoreReloc>,
    /// Types first planned for a function ([`CoreTypes::add_function`]):
    /// emitted after the others, so that adding functions to a cut leaves
    /// the ids of its other types as they were.
    late: BTreeSet<u32>,
}

impl CoreTypes {
    pub fn new() -> CoreTypes {
        CoreTypes::default()
    }

    pub fn is_empty(&self) -> bool {
        self.relocs.is_empty() && self.plans.is_empty()
    }

    /// These types with the relocations of `program` only (an object cut
    /// down to one of its programs).
    pub fn for_program(&self, program: &str) -> CoreTypes {
        CoreTypes {
            plans: self.plans.clone(),
            late: self.late.clone(),
            relocs: self
                .relocs
                .iter()
                .filter(|r| r.program == program)
                .cloned()
                .collect(),
        }
    }

    /// The relocations in the order they were added.
    pub fn relocs(&self) -> &[CoreReloc] {
        &self.relocs
    }

    /// Records that instruction `insn` of `program` holds `kind` of
    /// `access` (resolved on `kernel`), copying the types it needs. Returns
    /// the value the instruction must hold (the local value, which libbpf
    /// checks before patching).
    ///
    /// ```no_run
    /// # use probecc::btf::{kernel::KernelBtf, core::{CoreKind, local::CoreTypes}};
    /// # let k = KernelBtf::from_file("/sys/kernel/btf/vmlinux")?;
    /// let pid = k.field("task_struct", &["pid".into()])?;
    /// let mut core = CoreTypes::new();
    /// let v = core.field(k.btf(), "prog", 3, &pid, CoreKind::FieldByteOffset)?;
    /// // emit `ldx w r0, [r1 + v.value]` at slot 3 of `prog`
    /// # Ok::<(), probecc::btf::core::CoreError>(())
    /// ```
    pub fn field(
        &mut self,
        kernel: &Btf,
        program: &str,
        insn: usize,
        access: &FieldAccess,
        kind: CoreKind,
    ) -> Result<FieldValue, CoreError> {
        let value = access.value(kernel, kind)?;
        self.add_types(kernel, access)?;
        self.relocs.push(CoreReloc {
            program: program.to_string(),
            insn,
            root: access.root,
            access: access.access_string(),
            kind,
            field: format!(
                "{}.{}",
                super::access::type_name(kernel, access.root),
                access.field_path()
            ),
        });
        Ok(value)
    }

    /// Copies the types on `access`'s path (without a relocation).
    pub fn add_types(&mut self, kernel: &Btf, access: &FieldAccess) -> Result<(), CoreError> {
        self.snap(kernel, access.root, 0)?;
        let mut cur = access.root;
        for &index in access.raw.iter().skip(1) {
            let here = kernel.resolve(cur)?;
            match kernel.type_by_id(here)? {
                BtfType::Struct { members, .. } | BtfType::Union { members, .. } => {
                    let m = members
                        .get(index as usize)
                        .ok_or(BtfError::TypeIdOutOfRange {
                            id: index,
                            count: members.len() as u32,
                        })?;
                    if let Some(Plan::Composite { used, .. }) = self.plans.get_mut(&here) {
                        used.insert(index);
                    }
                    self.snap(kernel, m.type_id, 0)?;
                    cur = m.type_id;
                }
                BtfType::Array { elem, .. } => cur = *elem,
                _ => break,
            }
        }
        Ok(())
    }

    /// Copies kernel type `id` whole (an enum with its enumerators).
    pub fn add_type(&mut self, kernel: &Btf, id: u32) -> Result<(), CoreError> {
        self.snap(kernel, id, 0)
    }

    /// Plans the copy of kernel FUNC `id`, its prototype and the types of
    /// its parameters and return value (struct pointers as pointers to
    /// forward declarations).
    pub fn add_function(&mut self, kernel: &Btf, id: u32) -> Result<(), CoreError> {
        let before: BTreeSet<u32> = self.plans.keys().copied().collect();
        self.snap(kernel, id, 0)?;
        let added: Vec<u32> = self
            .plans
            .keys()
            .copied()
            .filter(|k| !before.contains(k))
            .collect();
        self.late.extend(added);
        Ok(())
    }

    /// Plans the copy of kernel type `id` (and what it needs).
    fn snap(&mut self, k: &Btf, id: u32, depth: usize) -> Result<(), CoreError> {
        if id == 0 || self.plans.contains_key(&id) {
            return Ok(());
        }
        if depth > MAX_SPEC_LEN {
            return Err(BtfError::TooComplex { id }.into());
        }
        let name = |off: u32| k.string_at(off).map(str::to_string);
        // Guards against reference cycles in hostile input.
        self.plans.insert(id, Plan::Void);
        let plan = match k.type_by_id(id)? {
            BtfType::Int {
                name_off,
                size,
                encoding,
                offset,
                bits,
            } => Plan::Int {
                name: name(*name_off)?,
                size: *size,
                encoding: *encoding,
                offset: *offset,
                bits: *bits,
            },
            BtfType::Float { name_off, size } => Plan::Float {
                name: name(*name_off)?,
                size: *size,
            },
            t @ (BtfType::Enum {
                name_off,
                size,
                signed,
                values,
            }
            | BtfType::Enum64 {
                name_off,
                size,
                signed,
                values,
            }) => Plan::Enum {
                name: name(*name_off)?,
                size: *size,
                signed: *signed,
                wide: matches!(t, BtfType::Enum64 { .. }),
                values: values
                    .iter()
                    .map(|v| Ok((name(v.name_off)?, v.value)))
                    .collect::<Result<_, BtfError>>()?,
            },
            t @ (BtfType::Struct {
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
            }) => Plan::Composite {
                union: matches!(t, BtfType::Union { .. }),
                name: name(*name_off)?,
                size: *size,
                bitfields: *bitfields,
                members: members
                    .iter()
                    .map(|m| snap_member(k, m, *bitfields))
                    .collect::<Result<_, BtfError>>()?,
                used: BTreeSet::new(),
            },
            BtfType::Fwd { name_off, union } => Plan::Fwd {
                name: name(*name_off)?,
                union: *union,
            },
            BtfType::Ptr { type_id } => {
                let to = k.resolve(*type_id)?;
                match k.type_by_id(to) {
                    Ok(
                        BtfType::Struct { name_off, .. }
                        | BtfType::Union { name_off, .. }
                        | BtfType::Fwd { name_off, .. },
                    ) => {
                        let union = matches!(
                            k.type_by_id(to),
                            Ok(BtfType::Union { .. } | BtfType::Fwd { union: true, .. })
                        );
                        let n = name(*name_off)?;
                        Plan::PtrFwd((!n.is_empty()).then_some((n, union)))
                    }
                    Ok(BtfType::FuncProto { .. }) | Err(_) => Plan::PtrFwd(None),
                    Ok(_) => {
                        self.snap(k, *type_id, depth + 1)?;
                        Plan::Ptr(*type_id)
                    }
                }
            }
            BtfType::Array { elem, nelems, .. } => {
                self.snap(k, *elem, depth + 1)?;
                Plan::Array {
                    elem: *elem,
                    nelems: *nelems,
                }
            }
            BtfType::Typedef { name_off, type_id } => {
                self.snap(k, *type_id, depth + 1)?;
                Plan::Typedef {
                    name: name(*name_off)?,
                    target: *type_id,
                }
            }
            BtfType::Const { type_id } => {
                self.snap(k, *type_id, depth + 1)?;
                Plan::Const(*type_id)
            }
            BtfType::Volatile { type_id } => {
                self.snap(k, *type_id, depth + 1)?;
                Plan::Volatile(*type_id)
            }
            BtfType::Restrict { type_id } => {
                self.snap(k, *type_id, depth + 1)?;
                Plan::Restrict(*type_id)
            }
            BtfType::TypeTag { type_id, .. } => {
                self.snap(k, *type_id, depth + 1)?;
                Plan::Alias(*type_id)
            }
            BtfType::Func {
                name_off,
                proto,
                linkage,
            } => {
                self.snap(k, *proto, depth + 1)?;
                Plan::Func {
                    name: name(*name_off)?,
                    proto: *proto,
                    linkage: *linkage,
                }
            }
            BtfType::FuncProto { ret, params } => {
                self.snap(k, *ret, depth + 1)?;
                let mut copied = Vec::with_capacity(params.len());
                for p in params {
                    self.snap(k, p.type_id, depth + 1)?;
                    copied.push((name(p.name_off)?, p.type_id));
                }
                Plan::FuncProto {
                    ret: *ret,
                    params: copied,
                }
            }
            BtfType::Var { .. } | BtfType::Datasec { .. } | BtfType::DeclTag { .. } => Plan::Void,
        };
        self.plans.insert(id, plan);
        Ok(())
    }

    /// Adds the copied types to `b`; returns each kernel id's local id.
    pub fn emit(&self, b: &mut Builder) -> Result<HashMap<u32, u32>, BtfError> {
        let mut ids = HashMap::new();
        let early = self.plans.keys().filter(|id| !self.late.contains(id));
        for &id in early.chain(&self.late) {
            self.emit_id(b, id, &mut ids, 0)?;
        }
        Ok(ids)
    }

    fn emit_id(
        &self,
        b: &mut Builder,
        id: u32,
        ids: &mut HashMap<u32, u32>,
        depth: usize,
    ) -> Result<u32, BtfError> {
        if id == 0 {
            return Ok(0);
        }
        if let Some(&local) = ids.get(&id) {
            return Ok(local);
        }
        if depth > 4 * MAX_SPEC_LEN {
            return Err(BtfError::Cycle { id });
        }
        let plan = self.plans.get(&id).ok_or(BtfError::TypeIdOutOfRange {
            id,
            count: self.plans.len() as u32,
        })?;
        let mut sub = |b: &mut Builder, t: u32| self.emit_id(b, t, ids, depth + 1);
        let local = match plan {
            Plan::Void => 0,
            Plan::Int {
                name,
                size,
                encoding,
                offset,
                bits,
            } => {
                let name_off = b.string(name)?;
                b.add(BtfType::Int {
                    name_off,
                    size: *size,
                    encoding: *encoding,
                    offset: *offset,
                    bits: *bits,
                })?
            }
            Plan::Float { name, size } => {
                let name_off = b.string(name)?;
                b.add(BtfType::Float {
                    name_off,
                    size: *size,
                })?
            }
            Plan::Enum {
                name,
                size,
                signed,
                wide,
                values,
            } => {
                let name_off = b.string(name)?;
                let values = values
                    .iter()
                    .map(|(n, v)| {
                        Ok(EnumValue {
                            name_off: b.string(n)?,
                            value: *v,
                        })
                    })
                    .collect::<Result<Vec<_>, BtfError>>()?;
                let (size, signed) = (*size, *signed);
                b.add(if *wide {
                    BtfType::Enum64 {
                        name_off,
                        size,
                        signed,
                        values,
                    }
                } else {
                    BtfType::Enum {
                        name_off,
                        size,
                        signed,
                        values,
                    }
                })?
            }
            Plan::Composite {
                union,
                name,
                size,
                bitfields,
                members,
                used,
            } => {
                let mut out = Vec::with_capacity(members.len());
                for (i, m) in members.iter().enumerate() {
                    let type_id = if used.contains(&(i as u32)) {
                        sub(b, m.type_id)?
                    } else if m.bitfield {
                        b.int(uint_name(m.size), m.size, IntEncoding::Unsigned)?
                    } else {
                        let byte = b.int("unsigned char", 1, IntEncoding::Unsigned)?;
                        let index = b.array_index_type()?;
                        b.array(byte, index, m.size)?
                    };
                    out.push(Member {
                        name_off: b.string(&m.name)?,
                        type_id,
                        offset: m.offset,
                    });
                }
                let name_off = b.string(name)?;
                let (size, bitfields) = (*size, *bitfields);
                b.add(if *union {
                    BtfType::Union {
                        name_off,
                        size,
                        bitfields,
                        members: out,
                    }
                } else {
                    BtfType::Struct {
                        name_off,
                        size,
                        bitfields,
                        members: out,
                    }
                })?
            }
            Plan::Fwd { name, union } => b.fwd(name, *union)?,
            Plan::Ptr(t) => {
                let t = sub(b, *t)?;
                b.ptr(t)?
            }
            Plan::PtrFwd(None) => b.ptr(0)?,
            Plan::PtrFwd(Some((name, union))) => {
                let f = b.fwd(name, *union)?;
                b.ptr(f)?
            }
            Plan::Array { elem, nelems } => {
                let e = sub(b, *elem)?;
                let index = b.array_index_type()?;
                b.array(e, index, *nelems)?
            }
            Plan::Typedef { name, target } => {
                let t = sub(b, *target)?;
                let name_off = b.string(name)?;
                b.add(BtfType::Typedef {
                    name_off,
                    type_id: t,
                })?
            }
            Plan::Const(t) => {
                let t = sub(b, *t)?;
                b.const_type(t)?
            }
            Plan::Volatile(t) => {
                let t = sub(b, *t)?;
                b.volatile_type(t)?
            }
            Plan::Restrict(t) => {
                let t = sub(b, *t)?;
                b.add(BtfType::Restrict { type_id: t })?
            }
            Plan::Alias(t) => sub(b, *t)?,
            Plan::Func {
                name,
                proto,
                linkage,
            } => {
                let proto = sub(b, *proto)?;
                let name_off = b.string(name)?;
                b.add(BtfType::Func {
                    name_off,
                    proto,
                    linkage: *linkage,
                })?
            }
            Plan::FuncProto { ret, params } => {
                let ret = sub(b, *ret)?;
                let mut out = Vec::with_capacity(params.len());
                for (pname, t) in params {
                    let type_id = sub(b, *t)?;
                    let name_off = b.string(pname)?;
                    out.push(crate::btf::types::Param { name_off, type_id });
                }
                b.add(BtfType::FuncProto { ret, params: out })?
            }
        };
        ids.insert(id, local);
        Ok(local)
    }
}

fn snap_member(k: &Btf, m: &Member, bitfields: bool) -> Result<MemberSnap, BtfError> {
    Ok(MemberSnap {
        name: k.string_at(m.name_off)?.to_string(),
        type_id: m.type_id,
        offset: m.offset,
        size: k.size_of(m.type_id).unwrap_or(0),
        bitfield: m.bitfield_size(bitfields) > 0,
    })
}

/// The C name of an unsigned integer of `size` bytes, as the kernel's BTF
/// spells it.
fn uint_name(size: u32) -> &'static str {
    match size {
        1 => "unsigned char",
        2 => "short unsigned int",
        4 => "unsigned int",
        16 => "__int128 unsigned",
        _ => "long long unsigned int",
    }
}

#[cfg(test)]
mod tests;
