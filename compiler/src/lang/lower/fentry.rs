//! Arguments and the return value in fentry and fexit programs: the
//! trampoline's context is an array of u64, argument slot `i` at `8 * i`
//! and fexit's return value in the slot after the arguments
//! (`btf::proto::FuncProto`). A slot is read whole (the kernel allows only
//! aligned reads of a slot, and an integer narrower than 8 bytes leaves the
//! rest of its register unspecified), then narrowed to the C type.

use crate::asm;
use crate::btf::proto::{ArgType, FuncProto};
use crate::helpers::Helper;
use crate::insn::{Reg, Size};

use super::gen::{Gen, R};

impl Gen<'_> {
    /// The prototype of this tracing program's function.
    fn proto(&self) -> R<&FuncProto> {
        self.prog
            .proto
            .as_deref()
            .ok_or_else(|| self.fail("internal error: a tracing program without a prototype"))
    }

    /// `dst = argN` of an fentry/fexit program.
    pub(super) fn tracing_arg(&mut self, n: usize, dst: Reg) -> R<()> {
        let (slot, ty) = {
            let p = self.proto()?;
            let param = p.params.get(n).ok_or_else(|| {
                self.fail(format!(
                    "`{}` takes {} arguments; as an fentry program (`--attach`) it has no arg{n}",
                    p.func,
                    p.params.len()
                ))
            })?;
            (param.slot, param.ty)
        };
        self.tracing_slot(slot, self.as_read(ty), dst)
    }

    /// How a slot of type `ty` is read: as its C type in an fentry/fexit
    /// block; whole, as the kprobe's 64-bit register was, in a kprobe
    /// block built as fentry (`--attach`), where a struct pointer must be
    /// a number (`Record` stands for "copied out", see `tracing_slot`).
    fn as_read(&self, ty: ArgType) -> ArgType {
        match (self.prog.kind.is_tracing(), ty) {
            (true, _) => ty,
            (false, ArgType::Ptr { btf_id: true, .. }) => ArgType::Record { bytes: 8 },
            (false, _) => ArgType::Int {
                bytes: 8,
                signed: true,
            },
        }
    }

    /// `dst = retval` of an fexit program.
    pub(super) fn tracing_retval(&mut self, dst: Reg) -> R<()> {
        let (slot, ty) = {
            let p = self.proto()?;
            let ty = p.ret.ok_or_else(|| {
                self.fail(format!(
                    "`{}` returns void; as an fexit program (`--attach`) it has no retval",
                    p.func
                ))
            })?;
            (p.ret_slot(), ty)
        };
        self.tracing_slot(slot, self.as_read(ty), dst)
    }

    /// `dst = ctx[slot]`, narrowed to `ty`. A `Record` read (a kprobe
    /// built as fentry reading a struct pointer) copies the slot out with
    /// `bpf_probe_read_kernel`: loaded directly, the kernel would type it
    /// `PTR_TO_BTF_ID` and refuse the arithmetic a kprobe's number allows.
    fn tracing_slot(&mut self, slot: usize, ty: ArgType, dst: Reg) -> R<()> {
        let ctx = self.ctx_reg()?;
        let off = i16::try_from(slot * 8)
            .map_err(|_| self.fail(format!("internal error: context slot {slot}")))?;
        if let ArgType::Record { .. } = ty {
            let scratch = self.slot(8)?;
            self.emit_all([
                asm::mov_reg(Reg::R3, ctx),
                asm::add(Reg::R3, i32::from(off)),
                asm::helper_call(
                    Helper::ProbeReadKernel,
                    vec![asm::stack(scratch), asm::Arg::Imm(8), Reg::R3.into()],
                ),
                asm::load_mem(Size::DW, dst, Reg::R10, scratch),
            ]);
            return Ok(());
        }
        self.emit(asm::load_mem(Size::DW, dst, ctx, off));
        match ty {
            ArgType::Int { bytes: 8, .. } | ArgType::Ptr { .. } | ArgType::Record { .. } => {}
            ArgType::Int {
                bytes: 4,
                signed: false,
            } => self.emit(asm::mov32_reg(dst, dst)),
            ArgType::Int {
                bytes,
                signed: false,
            } => self.emit(asm::and(dst, (1i32 << (i32::from(bytes) * 8)) - 1)),
            ArgType::Int {
                bytes,
                signed: true,
            } => {
                let shift = 64 - i32::from(bytes) * 8;
                self.emit_all([asm::lsh(dst, shift), asm::arsh(dst, shift)]);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::arch::Arch;
    use crate::insn::{class, Insn};
    use crate::lang::check::fentry::tests::opts;
    use crate::lang::compile;

    fn insns(src: &str, arch: Arch) -> Vec<Insn> {
        let c = compile(src, arch, &opts()).unwrap_or_else(|d| panic!("{d:#?}"));
        assert_eq!(c.object.programs.len(), 1);
        c.object.programs[0].insns.clone()
    }

    /// The offsets of the program's u64 loads from the ctx in r1.
    fn ctx_loads(code: &[Insn]) -> Vec<i16> {
        code.iter()
            .filter(|i| i.class() == class::LDX && i.src == 1)
            .map(|i| i.off)
            .collect()
    }

    #[test]
    fn arguments_and_the_return_value_are_read_from_their_slots() {
        for arch in Arch::ALL {
            let code = insns("fentry:vfs_read { @m = args.count; }", arch);
            assert_eq!(ctx_loads(&code), [16], "{arch}");
            let code = insns("fexit:vfs_read { @m = retval; }", arch);
            assert_eq!(ctx_loads(&code), [32], "{arch}: after the 4 arguments");
        }
    }

    #[test]
    fn a_kprobe_built_as_fentry_reads_whole_slots() {
        let opts = crate::lang::CompileOptions {
            attach: crate::lang::AttachMode::Fentry,
            ..opts()
        };
        let c = compile("kprobe:narrow { @m = arg0; }", Arch::X86_64, &opts).unwrap();
        let code = &c.object.programs[0].insns;
        let i = code.iter().position(|i| i.class() == class::LDX).unwrap();
        // As the kprobe read the whole register: no narrowing after.
        assert_eq!(code[i].off, 0);
        assert!(code[i + 1].class() != class::ALU64 || code[i + 1].imm != 32);
    }

    #[test]
    fn a_kprobe_built_as_fentry_copies_struct_pointers_out_as_numbers() {
        let opts = crate::lang::CompileOptions {
            attach: crate::lang::AttachMode::Fentry,
            ..opts()
        };
        let read_kernel = |src: &str| {
            let c = compile(src, Arch::X86_64, &opts).unwrap();
            c.object.programs[0]
                .insns
                .iter()
                .any(|i| i.is_call() && i.imm == crate::helpers::Helper::ProbeReadKernel.id())
        };
        // `struct file *file`: the kernel would type a direct load PTR_TO_BTF_ID.
        assert!(read_kernel("kprobe:vfs_read { @a = arg0 & 0xff; }"));
        // `char *buf` is a number to the kernel already.
        assert!(!read_kernel("kprobe:vfs_read { @a = arg1 & 0xff; }"));
        // In an fentry block the struct pointer is a pointer, read directly.
        let c = compile("fentry:vfs_read { @a = arg0; }", Arch::X86_64, &opts).unwrap();
        assert_eq!(ctx_loads(&c.object.programs[0].insns), [0]);
    }

    #[test]
    fn narrow_integers_are_extended_from_the_slot() {
        let code = insns("fentry:narrow { @m = args.a; }", Arch::S390x);
        let i = code.iter().position(|i| i.class() == class::LDX).unwrap();
        // A whole slot, then `<<= 32; s>>= 32` for the signed int.
        assert_eq!(code[i].off, 0);
        assert_eq!((code[i + 1].imm, code[i + 2].imm), (32, 32));
        let code = insns("fentry:narrow { @m = args.b; }", Arch::X86_64);
        let i = code.iter().position(|i| i.class() == class::LDX).unwrap();
        assert_eq!((code[i].off, code[i + 1].imm), (8, 0xffff));
    }
}
