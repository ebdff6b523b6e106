//! The rules that differ for tracing programs (`BPF_PROG_TYPE_TRACING`,
//! sections `fentry/FUNC` and `fexit/FUNC`): the context is the
//! trampoline's array of u64 argument slots, read only, each read aligned
//! to its slot (`bpf_tracing_ctx_access`, `btf_ctx_access`), and the
//! program must return 0.
//!
//! The kernel sizes the context by the function's BTF prototype (the
//! arguments, and fexit's return value after them) and types a slot
//! pointing to a struct or union `PTR_TO_BTF_ID` (`btf_ctx_access`). An
//! object does not carry the prototype: given the kernel's BTF
//! ([`Proto`], from the section's function), this model does the same,
//! each slot an integer, enum or struct by value read as a number, a
//! pointer to void or an integer a number read whole, a pointer to a
//! struct a [`crate::btf_ptr`] pointer, anything else refused as the
//! kernel refuses it. Without the BTF it bounds the context by the most
//! slots any function has (`MAX_BPF_FUNC_ARGS`) and reads every slot as a
//! number: it cannot hold reads to the prototype's slots (the compiler
//! does), and a program that dereferences a pointer slot is refused.

use probecc::btf::kernel::KernelBtf;
use probecc::btf::{Btf, BtfType};

use crate::reg::{Ptr, PtrKind, RegState};
use crate::verify::{err, Verifier};
use crate::VerifyError;

/// `MAX_BPF_FUNC_ARGS`: the most argument slots a tracing context has.
pub const MAX_BPF_FUNC_ARGS: i64 = 12;

/// Whether the program in `section` is a tracing program.
pub fn is_tracing(section: &str) -> bool {
    section.starts_with("fentry/") || section.starts_with("fexit/")
}

/// Whether the object in `bytes` holds a tracing program: the programs
/// whose check the kernel's types change (an unreadable object: none).
pub fn in_object(bytes: &[u8]) -> bool {
    probecc::elf::read(bytes).is_ok_and(|o| o.programs.iter().any(|p| is_tracing(&p.section)))
}

/// The context's size in bytes.
pub fn ctx_size() -> i64 {
    8 * MAX_BPF_FUNC_ARGS
}

/// Whether a context read of `n` bytes at `off` is one the kernel allows:
/// inside a slot, starting at its beginning.
pub fn ctx_read_ok(off: i64, n: i64) -> bool {
    (0..ctx_size()).contains(&off) && off % 8 == 0 && n <= 8
}

/// The prototype of the function a tracing program attaches to, as the
/// kernel's BTF has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proto {
    pub func: String,
    /// Each parameter's BTF type id.
    pub params: Vec<u32>,
    /// The return type's id (0: void).
    pub ret: u32,
    /// An fexit program: the slot after the arguments holds the return value.
    pub fexit: bool,
}

/// What a context slot gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Scalar,
    /// `PTR_TO_BTF_ID` to the struct or union with this id.
    BtfId(u32),
}

impl Proto {
    /// The prototype of the function `section` (`fentry/FUNC`,
    /// `fexit/FUNC`) attaches to; `None` for another section; the
    /// loader's complaint when the kernel has no such function.
    pub fn of(k: &KernelBtf, section: &str) -> Option<Result<Proto, String>> {
        let (kind, func) = section.split_once('/')?;
        let fexit = match kind {
            "fentry" => false,
            "fexit" => true,
            _ => return None,
        };
        let btf = k.btf();
        let missing = || format!("failed to find kernel BTF type ID of '{func}'");
        let proto = k.function(func).and_then(|id| match btf.type_by_id(id) {
            Ok(BtfType::Func { proto, .. }) => match btf.type_by_id(*proto) {
                Ok(BtfType::FuncProto { ret, params }) => Some(Proto {
                    func: func.to_string(),
                    params: params.iter().map(|p| p.type_id).collect(),
                    ret: *ret,
                    fexit,
                }),
                _ => None,
            },
            _ => None,
        });
        Some(proto.ok_or_else(missing))
    }

    /// The argument a context offset falls in (`btf_ctx_arg_idx`): a
    /// pointer takes 8 bytes, anything else its size rounded up to 8; the
    /// return value comes after them (void takes none).
    fn arg_at(&self, btf: &Btf, off: i64) -> usize {
        let bytes = |id: u32| match btf.resolve(id).ok().map(|r| (r, btf.type_by_id(r))) {
            Some((_, Ok(BtfType::Ptr { .. }))) => 8,
            Some((0, _)) | None => 0,
            Some((r, _)) => i64::from(btf.size_of(r).unwrap_or(0).div_ceil(8) * 8),
        };
        let mut end = 0;
        for (i, p) in self.params.iter().enumerate() {
            end += bytes(*p);
            if off < end {
                return i;
            }
        }
        end += bytes(self.ret);
        if off < end {
            self.params.len()
        } else {
            self.params.len() + 1
        }
    }

    /// What a read of `n` bytes at `off` gives, or the kernel's complaint
    /// (`btf_ctx_access`).
    pub fn read(&self, k: &KernelBtf, off: i64, n: i64) -> Result<Slot, String> {
        let btf = k.btf();
        let f = &self.func;
        if off % 8 != 0 {
            return Err(format!("func '{f}' offset {off} is not multiple of 8"));
        }
        let arg = self.arg_at(btf, off);
        let nr_args = self.params.len();
        let missing = || format!("func '{f}' doesn't have {}-th argument", arg + 1);
        let ty = match self.params.get(arg) {
            Some(ty) => *ty,
            None if arg == nr_args && self.fexit => self.ret,
            None => return Err(missing()),
        };
        let t = btf.resolve(ty).unwrap_or(ty);
        let kind = |id: u32| match btf.type_by_id(id) {
            Ok(t) => t.kind_name(),
            Err(_) => "UNKN",
        };
        match btf.type_by_id(t) {
            Ok(BtfType::Int { size, .. }) if *size <= 8 => return Ok(Slot::Scalar),
            Ok(BtfType::Enum { .. } | BtfType::Enum64 { .. }) => return Ok(Slot::Scalar),
            Ok(BtfType::Struct { .. } | BtfType::Union { .. }) => return Ok(Slot::Scalar),
            Ok(BtfType::Ptr { .. }) => {}
            _ => {
                return Err(format!(
                    "func '{f}' arg{arg} '{}' has type {}. Only pointer access is allowed",
                    crate::btf_ptr::name(btf, t),
                    kind(t)
                ))
            }
        }
        if n != 8 {
            return Err(format!("func '{f}' size {n} must be 8"));
        }
        let Ok(BtfType::Ptr { type_id }) = btf.type_by_id(t) else {
            return Ok(Slot::Scalar);
        };
        let to = crate::btf_ptr::pointee(k, *type_id);
        match btf.type_by_id(to) {
            _ if to == 0 => Ok(Slot::Scalar),
            Ok(BtfType::Int { .. }) => Ok(Slot::Scalar),
            _ if crate::btf_ptr::is_composite(btf, to) => Ok(Slot::BtfId(to)),
            _ => Err(format!(
                "func '{f}' arg{arg} type {} is not a struct",
                kind(to)
            )),
        }
    }
}

impl Verifier<'_> {
    /// The value a context read of `n` bytes at `insn_off` through `p`
    /// gives a tracing program whose prototype is known, or the kernel's
    /// complaint; `None` without the prototype (any number).
    pub(crate) fn typed_ctx_read(
        &self,
        pc: usize,
        p: &Ptr,
        insn_off: i16,
        n: i64,
    ) -> Result<Option<RegState>, VerifyError> {
        let (Some(proto), Some(types)) = (&self.proto, self.types) else {
            return Ok(None);
        };
        let off = p.off + i64::from(insn_off);
        match proto.read(types, off, n) {
            Ok(Slot::Scalar) => Ok(Some(crate::mem::loaded(n))),
            Ok(Slot::BtfId(id)) => Ok(Some(RegState::Ptr(Ptr::new(PtrKind::BtfId { id })))),
            Err(m) => Err(err(pc, m)),
        }
    }
}

/// fentry and fexit programs must return 0 (`check_return_code`).
pub fn check_return(pc: usize, r0: &RegState) -> Result<(), VerifyError> {
    match r0 {
        RegState::Scalar(s) if s.as_const() == Some(0) => Ok(()),
        RegState::Scalar(s) => Err(err(
            pc,
            format!(
                "At program exit the register R0 has smin={} smax={} should have been in [0, 0]",
                s.smin, s.smax
            ),
        )),
        _ => Err(err(
            pc,
            "At program exit the register R0 is not a known value (ptr_)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::arch::{Arch, KernelVersion};
    use probecc::asm::{self, assemble};
    use probecc::insn::{Reg, Size};

    /// The verdict on `ops` as a program in `section`.
    fn verdict(section: &str, ops: &[asm::Op]) -> Option<String> {
        let prog = crate::Program {
            name: "p".into(),
            section: section.into(),
            ..crate::Program::bare(&assemble(ops).unwrap().insns, &[], true)
        };
        crate::check_program(&prog, Arch::X86_64, KernelVersion(6, 1)).message
    }

    fn read_then_return(off: i16, ret: i32) -> Vec<asm::Op> {
        vec![
            asm::load_mem(Size::DW, Reg::R2, Reg::R1, off),
            asm::mov(Reg::R0, ret),
            asm::exit(),
        ]
    }

    #[test]
    fn fentry_and_fexit_programs_follow_the_tracing_rules() {
        assert_eq!(verdict("fentry/vfs_read", &read_then_return(88, 0)), None);
        assert_eq!(verdict("fexit/vfs_read", &read_then_return(32, 0)), None);
        assert_eq!(
            verdict("fentry/vfs_read", &read_then_return(96, 0)).as_deref(),
            Some("invalid bpf_context access off=96 size=8")
        );
        assert_eq!(
            verdict("fexit/vfs_read", &read_then_return(0, 1)).as_deref(),
            Some("At program exit the register R0 has smin=1 smax=1 should have been in [0, 0]")
        );
        let store = returning(&[asm::store_imm(Size::DW, Reg::R1, 0, 1)]);
        assert_eq!(
            verdict("fentry/vfs_read", &store).as_deref(),
            Some("invalid bpf_context access off=0 size=8")
        );
        // A kprobe may return anything, and reads pt_regs beyond 96 bytes.
        assert_eq!(verdict("kprobe/vfs_read", &read_then_return(112, 1)), None);
    }

    /// A kernel BTF with `struct inode { long i_size; }` (8 bytes),
    /// `struct file { unsigned int f_mode; struct inode *f_inode; }` (16
    /// bytes), `ssize_t vfs_read(struct file *file, char *buf, size_t count,
    /// loff_t *pos)`, `struct file *file_get(int fd)` and `void
    /// nothing(void)`.
    fn kernel() -> KernelBtf {
        use probecc::btf::{Builder, FuncLinkage, IntEncoding};
        let mut b = Builder::new();
        let long = b.int("long", 8, IntEncoding::Signed).unwrap();
        let ulong = b.int("unsigned long", 8, IntEncoding::Unsigned).unwrap();
        let uint = b.int("unsigned int", 4, IntEncoding::Unsigned).unwrap();
        let int = b.int("int", 4, IntEncoding::Signed).unwrap();
        let ch = b.int("char", 1, IntEncoding::Char).unwrap();
        let inode = b.struct_type("inode", 8, &[("i_size", long, 0)]).unwrap();
        let pinode = b.ptr(inode).unwrap();
        let file = b
            .struct_type("file", 16, &[("f_mode", uint, 0), ("f_inode", pinode, 64)])
            .unwrap();
        let pfile = b.ptr(file).unwrap();
        let pch = b.ptr(ch).unwrap();
        let loff = b.typedef("loff_t", long).unwrap();
        let ploff = b.ptr(loff).unwrap();
        let ssize = b.typedef("ssize_t", long).unwrap();
        let params = [
            ("file", pfile),
            ("buf", pch),
            ("count", ulong),
            ("pos", ploff),
        ];
        let proto = b.func_proto(&params, ssize).unwrap();
        b.func("vfs_read", proto, FuncLinkage::Global).unwrap();
        let proto = b.func_proto(&[("fd", int)], pfile).unwrap();
        b.func("file_get", proto, FuncLinkage::Global).unwrap();
        let proto = b.func_proto(&[], 0).unwrap();
        b.func("nothing", proto, FuncLinkage::Global).unwrap();
        KernelBtf::parse(&b.finish(probecc::endian::Endian::Little)).unwrap()
    }

    /// The verdict on `ops` in `section` with the kernel's types
    /// (`typed`) or without.
    fn typed(section: &str, ops: &[asm::Op], typed: bool) -> Option<String> {
        let k = kernel();
        let prog = crate::Program {
            name: "p".into(),
            section: section.into(),
            ..crate::Program::bare(&assemble(ops).unwrap().insns, &[], true)
        };
        let target = crate::Target::new(Arch::X86_64, KernelVersion(6, 1));
        crate::check_program_typed(&prog, &target, typed.then_some(&k)).message
    }

    /// `body`, then `return 0`.
    fn returning(body: &[asm::Op]) -> Vec<asm::Op> {
        let mut ops = body.to_vec();
        ops.extend([asm::mov(Reg::R0, 0), asm::exit()]);
        ops
    }

    /// `r1 = file`, then `body`, then `return 0`.
    fn through_file(body: &[asm::Op]) -> Vec<asm::Op> {
        let mut ops = vec![asm::load_mem(Size::DW, Reg::R1, Reg::R1, 0)];
        ops.extend_from_slice(body);
        returning(&ops)
    }

    #[test]
    fn the_prototype_sizes_the_context() {
        let fentry = |off| typed("fentry/vfs_read", &read_then_return(off, 0), true);
        assert_eq!(fentry(24), None);
        assert_eq!(
            fentry(32).as_deref(),
            Some("func 'vfs_read' doesn't have 5-th argument")
        );
        assert_eq!(
            fentry(40).as_deref(),
            Some("func 'vfs_read' doesn't have 6-th argument")
        );
        // fexit reads the return value in the slot after the arguments.
        assert_eq!(
            typed("fexit/vfs_read", &read_then_return(32, 0), true),
            None
        );
        assert_eq!(
            typed("fexit/vfs_read", &read_then_return(40, 0), true).as_deref(),
            Some("func 'vfs_read' doesn't have 6-th argument")
        );
        // A void function has no return value to read.
        assert_eq!(
            typed("fexit/nothing", &read_then_return(0, 0), true).as_deref(),
            Some("func 'nothing' doesn't have 2-th argument")
        );
        // Without the prototype: any of the 12 slots.
        assert_eq!(
            typed("fentry/vfs_read", &read_then_return(32, 0), false),
            None
        );
        let narrow = returning(&[asm::load_mem(Size::W, Reg::R2, Reg::R1, 0)]);
        assert_eq!(
            typed("fentry/vfs_read", &narrow, true).as_deref(),
            Some("func 'vfs_read' size 4 must be 8")
        );
        assert_eq!(
            typed("fentry/vfs_raed", &read_then_return(0, 0), true).as_deref(),
            Some("failed to find kernel BTF type ID of 'vfs_raed'")
        );
    }

    #[test]
    fn a_struct_pointer_argument_is_read_by_direct_loads() {
        let f_mode = through_file(&[asm::load_mem(Size::W, Reg::R2, Reg::R1, 0)]);
        assert_eq!(typed("fentry/vfs_read", &f_mode, true), None);
        // Without the types the slot is a number, which cannot be loaded from.
        assert_eq!(
            typed("fentry/vfs_read", &f_mode, false).as_deref(),
            Some("R1 invalid mem access 'scalar'")
        );
        // `char *buf` and `loff_t *pos` are numbers to the kernel too.
        let buf = returning(&[
            asm::load_mem(Size::DW, Reg::R1, Reg::R1, 8),
            asm::load_mem(Size::B, Reg::R2, Reg::R1, 0),
        ]);
        assert_eq!(
            typed("fentry/vfs_read", &buf, true).as_deref(),
            Some("R1 invalid mem access 'scalar'")
        );
        // The value read is a number of the load's size.
        let masked = through_file(&[
            asm::load_mem(Size::B, Reg::R2, Reg::R1, 0),
            asm::jmp_imm(probecc::insn::Cond::Le, Reg::R2, 255, "ok"),
            asm::load_mem(Size::DW, Reg::R3, Reg::R3, 0),
            asm::label("ok"),
        ]);
        assert_eq!(typed("fentry/vfs_read", &masked, true), None);
    }

    #[test]
    fn loads_beyond_the_struct_stores_and_variable_offsets_are_refused() {
        let past = through_file(&[asm::load_mem(Size::DW, Reg::R2, Reg::R1, 16)]);
        assert_eq!(
            typed("fentry/vfs_read", &past, true).as_deref(),
            Some("access beyond struct file at off 16 size 8")
        );
        let store = through_file(&[asm::store_imm(Size::W, Reg::R1, 0, 1)]);
        assert_eq!(
            typed("fentry/vfs_read", &store, true).as_deref(),
            Some("only read is supported")
        );
        let negative = through_file(&[asm::load_mem(Size::DW, Reg::R2, Reg::R1, -8)]);
        assert_eq!(
            typed("fentry/vfs_read", &negative, true).as_deref(),
            Some("R1 is ptr_file invalid negative access: off=-8")
        );
        let variable = returning(&[
            asm::load_mem(Size::DW, Reg::R2, Reg::R1, 16),
            asm::and(Reg::R2, 0xf),
            asm::load_mem(Size::DW, Reg::R1, Reg::R1, 0),
            asm::add_reg(Reg::R1, Reg::R2),
            asm::load_mem(Size::B, Reg::R3, Reg::R1, 0),
        ]);
        assert_eq!(
            typed("fentry/vfs_read", &variable, true).as_deref(),
            Some("R1 is ptr_file invalid variable offset: off=0, var_off=(0x0; 0xf)")
        );
        // A constant moves the offset.
        let moved = through_file(&[
            asm::add(Reg::R1, 8),
            asm::load_mem(Size::DW, Reg::R1, Reg::R1, 0),
            asm::load_mem(Size::DW, Reg::R2, Reg::R1, 0),
        ]);
        assert_eq!(typed("fentry/vfs_read", &moved, true), None);
    }

    #[test]
    fn a_pointer_member_is_a_pointer_to_its_struct() {
        // file->f_inode->i_size
        let nested = |off| {
            through_file(&[
                asm::load_mem(Size::DW, Reg::R1, Reg::R1, 8),
                asm::load_mem(Size::DW, Reg::R2, Reg::R1, off),
            ])
        };
        assert_eq!(typed("fentry/vfs_read", &nested(0), true), None);
        // An inode, not a file: 8 bytes.
        assert_eq!(
            typed("fentry/vfs_read", &nested(8), true).as_deref(),
            Some("access beyond struct inode at off 8 size 8")
        );
        // No NULL check needed, and one does not stop the loads.
        let checked = through_file(&[
            asm::jmp_imm(probecc::insn::Cond::Eq, Reg::R1, 0, "null"),
            asm::load_mem(Size::DW, Reg::R1, Reg::R1, 8),
            asm::label("null"),
            asm::load_mem(Size::W, Reg::R2, Reg::R1, 0),
        ]);
        assert_eq!(typed("fentry/vfs_read", &checked, true), None);
        // fexit's struct pointer return value is one too.
        let ret = returning(&[
            asm::load_mem(Size::DW, Reg::R1, Reg::R1, 8),
            asm::load_mem(Size::DW, Reg::R1, Reg::R1, 8),
            asm::load_mem(Size::DW, Reg::R2, Reg::R1, 0),
        ]);
        assert_eq!(typed("fexit/file_get", &ret, true), None);
        assert_eq!(
            typed("fentry/file_get", &ret, true).as_deref(),
            Some("func 'file_get' doesn't have 2-th argument")
        );
    }

    #[test]
    fn a_struct_pointer_goes_to_helpers_that_take_anything() {
        let read = through_file(&[asm::probe_read_kernel(asm::stack(-8), 8, Reg::R1)]);
        assert_eq!(typed("fentry/vfs_read", &read, true), None);
        // It is not memory of the program's.
        let out = through_file(&[asm::probe_read_kernel(Reg::R1, 8, Reg::R1)]);
        assert_eq!(
            typed("fentry/vfs_read", &out, true).as_deref(),
            Some("R1 type=ptr_ expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf")
        );
    }

    #[test]
    fn only_slot_aligned_reads_inside_the_slots() {
        assert!(ctx_read_ok(0, 8));
        assert!(ctx_read_ok(88, 8));
        assert!(ctx_read_ok(16, 4));
        assert!(!ctx_read_ok(96, 8));
        assert!(!ctx_read_ok(4, 4));
        assert!(!ctx_read_ok(-8, 8));
    }

    #[test]
    fn the_return_value_must_be_zero() {
        assert!(check_return(3, &RegState::constant(0)).is_ok());
        let e = check_return(3, &RegState::constant(1)).unwrap_err();
        assert_eq!(e.insn, 3);
        assert_eq!(
            e.message,
            "At program exit the register R0 has smin=1 smax=1 should have been in [0, 0]"
        );
        assert!(check_return(3, &RegState::unknown()).is_err());
    }
}
