//! Printing BTF types as C: `u32`, `char[16]`, `struct pt_regs *`,
//! `int (*)[1]`, anonymous structs spelled out as `struct { u32 pid; }`.
//!
//! Types are written the way C declarators nest: a pointer prefixes `*` to
//! the declarator, an array or function suffixes `[n]` or `(params)`, and a
//! pointer under a suffix is parenthesised. Input may be hostile, so the
//! walk keeps the chain of types it is inside (a type met again is a cycle),
//! a depth limit (no stack overflow on long chains) and a work budget (no
//! blow-up on types shared many times).

use super::parse::Btf;
use super::types::{BtfType, EnumValue, Member, Param};
use super::BtfError;

/// The deepest nesting printed.
const MAX_DEPTH: usize = 64;
/// The most type visits one call makes.
const MAX_VISITS: usize = 10_000;

impl Btf {
    /// Type `id` as C; 0 is `void`.
    pub fn format_type(&self, id: u32) -> Result<String, BtfError> {
        Ok(Formatter {
            btf: self,
            chain: vec![],
            visits: 0,
        }
        .decl(id, String::new())?
        .trim_end()
        .to_string())
    }
}

struct Formatter<'a> {
    btf: &'a Btf,
    /// The types being printed, outermost first.
    chain: Vec<u32>,
    visits: usize,
}

/// `base` followed by the declarator `inner`.
fn join(base: &str, inner: &str) -> String {
    if inner.is_empty() {
        base.to_string()
    } else if inner.starts_with('[') {
        format!("{base}{inner}")
    } else {
        format!("{base} {inner}")
    }
}

/// The declarator `inner` ready for a suffix: parenthesised if a pointer.
fn before_suffix(inner: String) -> String {
    if inner.starts_with('*') {
        format!("({inner})")
    } else {
        inner
    }
}

impl Formatter<'_> {
    /// The declaration of `inner` as type `id`.
    fn decl(&mut self, id: u32, inner: String) -> Result<String, BtfError> {
        if self.chain.contains(&id) {
            return Err(BtfError::Cycle { id });
        }
        self.visits += 1;
        if self.chain.len() >= MAX_DEPTH || self.visits > MAX_VISITS {
            return Err(BtfError::TooComplex { id });
        }
        self.chain.push(id);
        let out = self.decl_of(id, inner);
        self.chain.pop();
        out
    }

    fn decl_of(&mut self, id: u32, inner: String) -> Result<String, BtfError> {
        if id == 0 {
            return Ok(join("void", &inner));
        }
        let btf = self.btf;
        let name = |off: u32| btf.string_at(off);
        match btf.type_by_id(id)? {
            BtfType::Ptr { type_id } => self.decl(*type_id, format!("*{inner}")),
            BtfType::Array { elem, nelems, .. } => {
                self.decl(*elem, format!("{}[{nelems}]", before_suffix(inner)))
            }
            BtfType::FuncProto { ret, params } => {
                let params = self.params(params)?;
                self.decl(*ret, format!("{}({params})", before_suffix(inner)))
            }
            BtfType::Const { type_id } => self.qualified("const", *type_id, inner),
            BtfType::Volatile { type_id } => self.qualified("volatile", *type_id, inner),
            BtfType::Restrict { type_id } => self.qualified("restrict", *type_id, inner),
            BtfType::TypeTag { name_off, type_id } => {
                let q = format!("__attribute__((btf_type_tag(\"{}\")))", name(*name_off)?);
                self.qualified(&q, *type_id, inner)
            }
            BtfType::Func {
                name_off, proto, ..
            } => self.decl(*proto, join(name(*name_off)?, &inner)),
            BtfType::Var {
                name_off, type_id, ..
            } => self.decl(*type_id, join(name(*name_off)?, &inner)),
            other => Ok(join(&self.base(other)?, &inner)),
        }
    }

    /// A qualifier applies to what it precedes: after the `*` of a pointer,
    /// before any other type.
    fn qualified(&mut self, q: &str, target: u32, inner: String) -> Result<String, BtfError> {
        let is_ptr = target != 0 && matches!(self.btf.type_by_id(target)?, BtfType::Ptr { .. });
        if is_ptr {
            self.decl(target, format!("{q} {inner}"))
        } else {
            Ok(format!("{q} {}", self.decl(target, inner)?))
        }
    }

    /// The name of a type that has no declarator part.
    fn base(&mut self, t: &BtfType) -> Result<String, BtfError> {
        let name = self.btf.string_at(t.name_off())?.to_string();
        Ok(match t {
            BtfType::Struct {
                members, bitfields, ..
            } => self.aggregate("struct", name, members, *bitfields)?,
            BtfType::Union {
                members, bitfields, ..
            } => self.aggregate("union", name, members, *bitfields)?,
            BtfType::Enum { values, .. } | BtfType::Enum64 { values, .. } => {
                self.enumeration(name, values)?
            }
            BtfType::Fwd { union, .. } => {
                format!("{} {name}", if *union { "union" } else { "struct" })
            }
            BtfType::Datasec { .. } => format!("SEC(\"{name}\")"),
            BtfType::DeclTag { .. } => format!("__attribute__((btf_decl_tag(\"{name}\")))"),
            _ if name.is_empty() => format!("<anonymous {}>", t.kind_name()),
            _ => name,
        })
    }

    fn aggregate(
        &mut self,
        kw: &str,
        name: String,
        members: &[Member],
        bitfields: bool,
    ) -> Result<String, BtfError> {
        if !name.is_empty() {
            return Ok(format!("{kw} {name}"));
        }
        let mut out = format!("{kw} {{");
        for m in members {
            let field = self.decl(m.type_id, self.btf.string_at(m.name_off)?.to_string())?;
            match m.bitfield_size(bitfields) {
                0 => out.push_str(&format!(" {field};")),
                bits => out.push_str(&format!(" {field}:{bits};")),
            }
        }
        out.push_str(if members.is_empty() { "}" } else { " }" });
        Ok(out)
    }

    fn enumeration(&mut self, name: String, values: &[EnumValue]) -> Result<String, BtfError> {
        if !name.is_empty() {
            return Ok(format!("enum {name}"));
        }
        let values = values
            .iter()
            .map(|v| Ok(format!("{} = {}", self.btf.string_at(v.name_off)?, v.value)))
            .collect::<Result<Vec<_>, BtfError>>()?;
        Ok(format!("enum {{ {} }}", values.join(", ")))
    }

    fn params(&mut self, params: &[Param]) -> Result<String, BtfError> {
        if params.is_empty() {
            return Ok("void".to_string());
        }
        let mut out = Vec::with_capacity(params.len());
        for p in params {
            let name = self.btf.string_at(p.name_off)?.to_string();
            out.push(if p.type_id == 0 && name.is_empty() {
                "...".to_string()
            } else {
                self.decl(p.type_id, name)?
            });
        }
        Ok(out.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::super::builder::{Builder, FuncLinkage, IntEncoding, VarLinkage};
    use super::super::parse::parse;
    use super::*;
    use crate::insn::Endian;

    #[test]
    fn c_spellings() {
        let mut b = Builder::new();
        let int = b.int("int", 4, IntEncoding::Signed).unwrap();
        let ch = b.int("char", 1, IntEncoding::Signed).unwrap();
        let idx = b.array_index_type().unwrap();
        let comm = b.array(ch, idx, 16).unwrap();
        let fwd = b.fwd("pt_regs", false).unwrap();
        let ctx = b.ptr(fwd).unwrap();
        let arr1 = b.array(int, idx, 1).unwrap();
        let parr = b.ptr(arr1).unwrap();
        let anon = b
            .struct_type("", 16, &[("type", parr, 0), ("comm", comm, 64)])
            .unwrap();
        let named = b.struct_type("event", 16, &[("comm", comm, 0)]).unwrap();
        let proto = b.func_proto(&[("ctx", ctx)], int).unwrap();
        let func = b.func("probe", proto, FuncLinkage::Global).unwrap();
        let var = b.var("m", anon, VarLinkage::GlobalAllocated).unwrap();
        let cch = b.const_type(ch).unwrap();
        let pcch = b.ptr(cch).unwrap();
        let cptr = b.const_type(pcch).unwrap();
        let pp = b.ptr(ctx).unwrap();
        let btf = parse(&b.finish(Endian::Little)).unwrap();
        let f = |id| btf.format_type(id).unwrap();
        assert_eq!(f(0), "void");
        assert_eq!(f(int), "int");
        assert_eq!(f(comm), "char[16]");
        assert_eq!(f(ctx), "struct pt_regs *");
        assert_eq!(f(pp), "struct pt_regs **");
        assert_eq!(f(parr), "int (*)[1]");
        assert_eq!(f(anon), "struct { int (*type)[1]; char comm[16]; }");
        assert_eq!(f(named), "struct event");
        assert_eq!(f(proto), "int (struct pt_regs *ctx)");
        assert_eq!(f(func), "int probe(struct pt_regs *ctx)");
        assert_eq!(f(var), "struct { int (*type)[1]; char comm[16]; } m");
        assert_eq!(f(pcch), "const char *");
        assert_eq!(f(cptr), "const char *const");
    }

    #[test]
    fn self_referencing_pointer_is_a_cycle_error() {
        let btf = Btf {
            endian: Endian::Little,
            types: vec![BtfType::Ptr { type_id: 1 }],
            strings: vec![0],
        };
        assert!(matches!(btf.format_type(1), Err(BtfError::Cycle { id: 1 })));
    }

    #[test]
    fn long_chains_and_bad_ids_are_errors() {
        let types = (1..=1000)
            .map(|i| BtfType::Ptr { type_id: i + 1 })
            .collect();
        let btf = Btf {
            endian: Endian::Little,
            types,
            strings: vec![0],
        };
        assert!(matches!(
            btf.format_type(1),
            Err(BtfError::TooComplex { .. })
        ));
        assert!(matches!(
            btf.format_type(995),
            Err(BtfError::TypeIdOutOfRange { id: 1001, .. })
        ));
    }

    #[test]
    fn shared_anonymous_structs_do_not_blow_up() {
        // Each struct has two members of the previous one: 2^40 leaves.
        let mut types = vec![BtfType::Int {
            name_off: 1,
            size: 4,
            encoding: 0,
            offset: 0,
            bits: 32,
        }];
        for i in 1..=40u32 {
            let m = Member {
                name_off: 1,
                type_id: i,
                offset: 0,
            };
            types.push(BtfType::Struct {
                name_off: 0,
                size: 8,
                bitfields: false,
                members: vec![m.clone(), m],
            });
        }
        let btf = Btf {
            endian: Endian::Little,
            types,
            strings: b"\0a\0".to_vec(),
        };
        assert!(matches!(
            btf.format_type(41),
            Err(BtfError::TooComplex { .. })
        ));
        assert_eq!(btf.format_type(2).unwrap(), "struct { a a; a a; }");
    }
}
