//! Kernel function prototypes as a BPF trampoline presents them to fentry
//! and fexit programs: the FUNC record of a function in the kernel's BTF and
//! its FUNC_PROTO, each parameter's name, type and u64 slot in the tracing
//! context (`ctx[slot]`, 8 bytes each; a struct passed by value takes one
//! slot per 8 bytes), the slot of the return value after them (fexit), and
//! the functions the kernel refuses to attach tracing programs to.

use super::kernel::KernelBtf;
use super::parse::Btf;
use super::types::BtfType;
use super::BtfError;

/// The most arguments a trampoline passes on every arch and kernel probecc
/// targets: x86_64 took 6 until the limit was raised to 12
/// (`MAX_BPF_FUNC_ARGS`), and the other arches' trampolines pass what their
/// argument registers hold. Functions with more are refused here rather
/// than by the loading kernel.
pub const MAX_TRAMPOLINE_ARGS: usize = 6;

/// The largest struct a trampoline passes by value (two registers).
pub const MAX_STRUCT_ARG: u32 = 16;

/// Functions the kernel's verifier refuses tracing programs on, and why.
/// From its `btf_id_deny` set (any tracing program: they run inside the
/// trampoline's own bookkeeping) and its `noreturn_deny` set (fexit only:
/// they never return).
const DENIED: &[(&str, Denied)] = &[
    ("migrate_disable", Denied::Always),
    ("migrate_enable", Denied::Always),
    ("rcu_read_unlock_strict", Denied::Always),
    ("preempt_count_add", Denied::Always),
    ("preempt_count_sub", Denied::Always),
    ("__rcu_read_lock", Denied::Always),
    ("__rcu_read_unlock", Denied::Always),
    ("__x64_sys_exit", Denied::NoReturn),
    ("__x64_sys_exit_group", Denied::NoReturn),
    ("do_exit", Denied::NoReturn),
    ("do_group_exit", Denied::NoReturn),
    ("kthread_complete_and_exit", Denied::NoReturn),
    ("kthread_exit", Denied::NoReturn),
    ("make_task_dead", Denied::NoReturn),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Denied {
    /// Neither fentry nor fexit.
    Always,
    /// fexit: the function never returns.
    NoReturn,
}

/// What a parameter or the return value is, as a program reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgType {
    /// An integer, enum or bool of `bytes` bytes.
    Int { bytes: u8, signed: bool },
    /// A pointer; `pointee` is the type id it points to (0: `void *`).
    /// `btf_id`: it points to a struct or union, so the kernel types the
    /// slot `PTR_TO_BTF_ID` (no arithmetic but adding constants); a
    /// pointer to void or an integer is a number to it.
    Ptr { pointee: u32, btf_id: bool },
    /// A struct or union passed by value, `bytes` long.
    Record { bytes: u32 },
}

impl ArgType {
    /// How many u64 slots of the context the value takes.
    pub fn slots(self) -> usize {
        match self {
            ArgType::Record { bytes } => bytes.div_ceil(8).max(1) as usize,
            _ => 1,
        }
    }
}

/// One parameter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    pub name: String,
    pub ty: ArgType,
    /// Its first u64 slot in the context.
    pub slot: usize,
}

/// A function as its trampoline calls a tracing program.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncProto {
    pub func: String,
    pub params: Vec<Param>,
    /// The return type; `None` for `void`.
    pub ret: Option<ArgType>,
}

impl FuncProto {
    /// The slot after the arguments, where fexit finds the return value;
    /// also the number of slots fentry's context has.
    pub fn ret_slot(&self) -> usize {
        self.params.last().map_or(0, |p| p.slot + p.ty.slots())
    }

    /// Whether a parameter is a pointer the kernel types `PTR_TO_BTF_ID`.
    pub fn has_btf_pointers(&self) -> bool {
        self.params
            .iter()
            .any(|p| matches!(p.ty, ArgType::Ptr { btf_id: true, .. }))
    }

    /// The parameter called `name`.
    pub fn param(&self, name: &str) -> Option<(usize, &Param)> {
        self.params.iter().enumerate().find(|(_, p)| p.name == name)
    }
}

/// Why a function cannot have a tracing program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    #[error("`{func}` is not a function in the kernel's BTF{}", did_you_mean(.suggestions))]
    NotFound {
        func: String,
        suggestions: Vec<String>,
    },
    #[error(
        "`{func}` takes {count} arguments; BPF trampolines pass at most {MAX_TRAMPOLINE_ARGS}"
    )]
    TooManyArgs { func: String, count: usize },
    #[error("`{func}` takes a variable argument list, which a BPF trampoline cannot pass")]
    Variadic { func: String },
    #[error(
        "argument `{name}` of `{func}` is a {bytes}-byte struct passed by value; a BPF trampoline passes at most {MAX_STRUCT_ARG} bytes"
    )]
    BigRecord {
        func: String,
        name: String,
        bytes: u32,
    },
    #[error("argument `{name}` of `{func}` has a type a BPF trampoline cannot pass")]
    Unpassable { func: String, name: String },
    #[error("the kernel refuses tracing programs on `{func}`: {why}")]
    Denied { func: String, why: &'static str },
    #[error("the BTF FUNC `{func}` has no FUNC_PROTO")]
    NoProto { func: String },
    #[error("the BTF of `{func}` is malformed")]
    Btf {
        func: String,
        #[source]
        source: BtfError,
    },
}

fn did_you_mean(names: &[String]) -> String {
    match names {
        [] => String::new(),
        _ => format!("; did you mean {}?", names.join(", ")),
    }
}

/// The prototype of kernel function `func` for an fentry (`fexit` false)
/// or fexit program.
pub fn lookup(k: &KernelBtf, func: &str, fexit: bool) -> Result<FuncProto, ProtoError> {
    if let Some((_, denied)) = DENIED.iter().find(|(name, _)| *name == func) {
        let why = match denied {
            Denied::Always => "it runs inside the trampoline's own bookkeeping",
            Denied::NoReturn if fexit => "it never returns, so fexit would never run",
            Denied::NoReturn => "",
        };
        if !why.is_empty() {
            return Err(ProtoError::Denied {
                func: func.into(),
                why,
            });
        }
    }
    let Some(id) = k.function(func) else {
        return Err(ProtoError::NotFound {
            func: func.into(),
            suggestions: k.suggest_functions(func),
        });
    };
    let btf = k.btf();
    let bad = |source| ProtoError::Btf {
        func: func.into(),
        source,
    };
    let proto_id = match btf.type_by_id(id).map_err(bad)? {
        BtfType::Func { proto, .. } => *proto,
        _ => return Err(ProtoError::NoProto { func: func.into() }),
    };
    let (ret, params) = match btf.type_by_id(proto_id).map_err(bad)? {
        BtfType::FuncProto { ret, params } => (*ret, params),
        _ => return Err(ProtoError::NoProto { func: func.into() }),
    };
    // A trailing parameter of type 0 is C's `...`.
    if params.last().is_some_and(|p| p.type_id == 0) {
        return Err(ProtoError::Variadic { func: func.into() });
    }
    if params.len() > MAX_TRAMPOLINE_ARGS {
        return Err(ProtoError::TooManyArgs {
            func: func.into(),
            count: params.len(),
        });
    }
    let mut out = Vec::with_capacity(params.len());
    let mut slot = 0;
    for (i, p) in params.iter().enumerate() {
        let name = match btf.string_at(p.name_off).map_err(bad)? {
            "" => format!("arg{i}"),
            n => n.to_string(),
        };
        let unpassable = || ProtoError::Unpassable {
            func: func.into(),
            name: name.clone(),
        };
        let ty = arg_type(btf, p.type_id)
            .map_err(bad)?
            .ok_or_else(unpassable)?;
        if let ArgType::Record { bytes } = ty {
            if bytes > MAX_STRUCT_ARG {
                return Err(ProtoError::BigRecord {
                    func: func.into(),
                    name,
                    bytes,
                });
            }
        }
        out.push(Param { name, ty, slot });
        slot += ty.slots();
    }
    let ret = match btf.resolve(ret).map_err(bad)? {
        0 => None,
        _ => arg_type(btf, ret).map_err(bad)?,
    };
    Ok(FuncProto {
        func: func.into(),
        params: out,
        ret,
    })
}

/// What type `id` is as an argument; `None` for one no trampoline passes
/// (a float, an array, a function).
fn arg_type(btf: &Btf, id: u32) -> Result<Option<ArgType>, BtfError> {
    let r = btf.resolve(id)?;
    Ok(match btf.type_by_id(r)? {
        BtfType::Int { size, encoding, .. } if matches!(size, 1 | 2 | 4 | 8) => {
            Some(ArgType::Int {
                bytes: *size as u8,
                signed: encoding & 1 != 0,
            })
        }
        BtfType::Enum { size, .. } | BtfType::Enum64 { size, .. }
            if matches!(size, 1 | 2 | 4 | 8) =>
        {
            Some(ArgType::Int {
                bytes: *size as u8,
                signed: false,
            })
        }
        BtfType::Ptr { type_id } => {
            let to = btf.resolve(*type_id)?;
            let btf_id = matches!(
                btf.type_by_id(to),
                Ok(BtfType::Struct { .. } | BtfType::Union { .. } | BtfType::Fwd { .. })
            );
            Some(ArgType::Ptr {
                pointee: *type_id,
                btf_id,
            })
        }
        BtfType::Struct { size, .. } | BtfType::Union { size, .. } => {
            Some(ArgType::Record { bytes: *size })
        }
        _ => None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::btf::{Builder, FuncLinkage, IntEncoding};
    use crate::endian::Endian;

    fn kernel() -> KernelBtf {
        KernelBtf::parse(&kernel_btf_bytes()).unwrap()
    }

    /// A kernel BTF (bytes) with `ssize_t vfs_read(struct file *file, char
    /// *buf, size_t count, loff_t *pos)`, `vfs_write` alike, a void
    /// function of a 16-byte struct and an int, `int narrow(int a, unsigned
    /// short b)`, one of seven arguments, one of a 24-byte struct, `printk`
    /// and `do_exit`; for the checker's tests too.
    pub(crate) fn kernel_btf_bytes() -> Vec<u8> {
        build().unwrap()
    }

    fn build() -> Result<Vec<u8>, BtfError> {
        let mut b = Builder::new();
        let long = b.int("long", 8, IntEncoding::Signed)?;
        let ulong = b.int("unsigned long", 8, IntEncoding::Unsigned)?;
        let int = b.int("int", 4, IntEncoding::Signed)?;
        let ushort = b.int("unsigned short", 2, IntEncoding::Unsigned)?;
        let ch = b.int("char", 1, IntEncoding::Char)?;
        let file = b.struct_type("file", 8, &[("f_pos", long, 0)])?;
        let pair = b.struct_type("pair", 16, &[("a", long, 0), ("b", long, 64)])?;
        let big = b.struct_type("big", 24, &[("a", long, 0)])?;
        let pfile = b.ptr(file)?;
        let pch = b.ptr(ch)?;
        let plong = b.ptr(long)?;
        let ssize = b.typedef("ssize_t", long)?;
        let mut func = |name: &str, params: &[(&str, u32)], ret: u32| -> Result<(), BtfError> {
            let proto = b.func_proto(params, ret)?;
            b.func(name, proto, FuncLinkage::Global)?;
            Ok(())
        };
        let rw = [
            ("file", pfile),
            ("buf", pch),
            ("count", ulong),
            ("pos", plong),
        ];
        func("vfs_read", &rw, ssize)?;
        func("vfs_write", &rw, ssize)?;
        func("takes_pair", &[("p", pair), ("n", int)], 0)?;
        func("narrow", &[("a", int), ("b", ushort)], int)?;
        let seven: Vec<(&str, u32)> = ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .map(|n| (*n, long))
            .collect();
        func("seven", &seven, int)?;
        func("takes_big", &[("b", big)], int)?;
        func("printk", &[("fmt", pch), ("", 0)], int)?;
        func("do_exit", &[("code", long)], 0)?;
        Ok(b.finish(Endian::Little))
    }

    #[test]
    fn parameters_get_names_types_and_slots() {
        let k = kernel();
        let p = lookup(&k, "vfs_read", false).unwrap();
        let names: Vec<&str> = p.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["file", "buf", "count", "pos"]);
        assert!(matches!(p.params[0].ty, ArgType::Ptr { pointee, btf_id: true } if pointee != 0));
        assert!(matches!(p.params[1].ty, ArgType::Ptr { btf_id: false, .. }));
        assert_eq!(
            p.params[2].ty,
            ArgType::Int {
                bytes: 8,
                signed: false
            }
        );
        assert_eq!(
            p.ret,
            Some(ArgType::Int {
                bytes: 8,
                signed: true
            })
        );
        assert_eq!(p.ret_slot(), 4);
        assert_eq!(p.param("count").map(|(i, q)| (i, q.slot)), Some((2, 2)));
    }

    #[test]
    fn a_struct_by_value_takes_a_slot_per_eight_bytes() {
        let p = lookup(&kernel(), "takes_pair", true).unwrap();
        assert_eq!(p.params[0].ty, ArgType::Record { bytes: 16 });
        assert_eq!(p.params[1].slot, 2);
        assert_eq!(p.ret_slot(), 3);
        assert_eq!(p.ret, None);
    }

    #[test]
    fn what_no_trampoline_passes_is_an_error_naming_it() {
        let k = kernel();
        let msg = |f: &str, fexit| lookup(&k, f, fexit).unwrap_err().to_string();
        assert_eq!(
            msg("seven", false),
            "`seven` takes 7 arguments; BPF trampolines pass at most 6"
        );
        assert_eq!(
            msg("takes_big", false),
            "argument `b` of `takes_big` is a 24-byte struct passed by value; a BPF trampoline passes at most 16 bytes"
        );
        assert_eq!(
            msg("printk", false),
            "`printk` takes a variable argument list, which a BPF trampoline cannot pass"
        );
        assert_eq!(
            msg("vfs_raed", false),
            "`vfs_raed` is not a function in the kernel's BTF; did you mean vfs_read, vfs_write?"
        );
        assert_eq!(
            msg("migrate_disable", false),
            "the kernel refuses tracing programs on `migrate_disable`: it runs inside the trampoline's own bookkeeping"
        );
        assert_eq!(
            msg("do_exit", true),
            "the kernel refuses tracing programs on `do_exit`: it never returns, so fexit would never run"
        );
        // fentry on a function that never returns is fine.
        assert!(lookup(&k, "do_exit", false).is_ok());
    }
}
