//! Kernel struct fields ([`TKind::Field`](crate::lang::check::ir::TKind)):
//! the address `base + offset`, the offset an ALU immediate the loader
//! relocates (CO-RE `FIELD_BYTE_OFFSET`), read with
//! `bpf_probe_read_kernel` into a stack slot. A bitfield is read as clang's
//! `BPF_CORE_READ_BITFIELD_PROBED` reads it: its relocated byte size into
//! the low-order end of a zeroed u64, shifted left and right by relocated
//! amounts. Every value written here is the one the compile's kernel BTF
//! gives, which libbpf checks before it patches.

use std::sync::Arc;

use crate::asm::{self, Arg};
use crate::btf::core::access::FieldAccess;
use crate::btf::core::CoreKind;
use crate::btf::kernel::KernelBtf;
use crate::helpers::Helper;
use crate::insn::{self, AluOp, Endian, Reg, Size};
use crate::lang::check::ir::{FieldRead, TExpr};

use super::gen::{Gen, R};
use super::operand::Mem;

/// The registers a field address may live in: the helper's third argument
/// first, never r1 or r2.
const ADDR_REGS: [Reg; 4] = [Reg::R3, Reg::R4, Reg::R5, Reg::R0];

impl Gen<'_> {
    fn kernel_btf(&self) -> R<Arc<KernelBtf>> {
        let src = self
            .opts
            .btf
            .as_ref()
            .ok_or_else(|| self.fail("internal error: a struct field without kernel types"))?;
        src.get().map_err(|e| self.fail(crate::error::chain(&e)))
    }

    /// The value `kind` of `access` takes in this program (its arch's byte
    /// order), as an immediate.
    fn core_imm(&self, access: &FieldAccess, kind: CoreKind) -> R<i32> {
        let k = self.kernel_btf()?;
        let v = access
            .value_in(k.btf(), kind, self.arch.endian())
            .map_err(|e| self.fail(e.to_string()))?;
        i32::try_from(v.value).map_err(|_| {
            self.fail(format!(
                "{} {} does not fit an immediate",
                access.field_path(),
                kind.name()
            ))
        })
    }

    /// A register holding `base + offset(access)`, relocated, never r1 or
    /// r2 (a bitfield read sets those for the helper call itself): r3 when
    /// free (the helper's third argument), else the caller's result
    /// register `dst` when it can serve (it holds nothing until the read),
    /// else another free one. The base is evaluated straight into it, so
    /// its own pointer hops reuse it in turn, and the stack its evaluation
    /// used is released: a chain of any length needs one register and one
    /// slot per hop in flight.
    fn field_addr(&mut self, base: &TExpr, access: &FieldAccess, dst: Option<Reg>) -> R<Reg> {
        let a = if self.frame.take(Reg::R3) {
            Reg::R3
        } else if let Some(d) = dst.filter(|r| ADDR_REGS.contains(r)) {
            d
        } else {
            ADDR_REGS
                .into_iter()
                .find(|&r| self.frame.take(r))
                .ok_or_else(|| self.fail("internal error: no free register for a field address"))?
        };
        let mark = self.frame.mark();
        self.int(base, a)?;
        self.frame.release(mark);
        let off = self.core_imm(access, CoreKind::FieldByteOffset)?;
        self.emit(asm::core(
            insn::alu64_imm(AluOp::Add, a, off),
            access,
            CoreKind::FieldByteOffset,
        ));
        Ok(a)
    }

    /// Frees a field address register unless it is the caller's `dst`.
    fn free_addr(&mut self, a: Reg, dst: Option<Reg>) {
        if Some(a) != dst {
            self.frame.free(a);
        }
    }

    /// `dst = offsetof(...)`: the field's offset as a relocated `mov`.
    pub fn field_offset(&mut self, access: &FieldAccess, dst: Reg) -> R<()> {
        let off = self.core_imm(access, CoreKind::FieldByteOffset)?;
        self.emit(asm::core(
            insn::alu64_imm(AluOp::Mov, dst, off),
            access,
            CoreKind::FieldByteOffset,
        ));
        Ok(())
    }

    /// `dst = base->field` for an integer, enum, pointer or bitfield.
    pub fn field_int(
        &mut self,
        base: &TExpr,
        access: &FieldAccess,
        read: FieldRead,
        dst: Reg,
    ) -> R<()> {
        match read {
            FieldRead::Int { bytes, signed } => {
                let a = self.field_addr(base, access, Some(dst))?;
                let slot = self.slot(8)?;
                self.emit(asm::probe_read_kernel(
                    asm::stack(slot),
                    Arg::Imm(bytes.into()),
                    a,
                ));
                self.free_addr(a, Some(dst));
                let size = Size::from_bytes(bytes.into()).unwrap_or(Size::DW);
                self.emit(asm::load_mem(size, dst, Reg::R10, slot));
                if signed && bytes < 8 {
                    let bits = 64 - i32::from(bytes) * 8;
                    self.emit_all([asm::lsh(dst, bits), asm::arsh(dst, bits)]);
                }
            }
            FieldRead::Bitfield { signed } => self.bitfield(base, access, signed, dst)?,
            FieldRead::Chars { .. } => {
                return Err(self.fail("internal error: a char array where an integer is needed"))
            }
        }
        Ok(())
    }

    fn bitfield(&mut self, base: &TExpr, access: &FieldAccess, signed: bool, dst: Reg) -> R<()> {
        let a = self.field_addr(base, access, Some(dst))?;
        let slot = self.slot(8)?;
        self.emit(asm::store_imm(Size::DW, Reg::R10, slot, 0));
        let size = self.core_imm(access, CoreKind::FieldByteSize)?;
        if !self.frame.take(Reg::R2) {
            return Err(self.fail("internal error: r2 is busy at a bitfield read"));
        }
        self.emit(asm::core(
            insn::alu64_imm(AluOp::Mov, Reg::R2, size),
            access,
            CoreKind::FieldByteSize,
        ));
        // The shifts take the bytes at the u64's low-order end: on a
        // big-endian arch they go to its last `size` bytes (as libbpf's
        // __CORE_BITFIELD_PROBE_READ does), a size known only at load.
        let into = match self.arch.endian() {
            Endian::Little => asm::stack(slot),
            Endian::Big => {
                // r1 is the call's to clobber (a ctx still in r1 is dead
                // past this call, as `gen` arranges). The kernel refuses
                // any subtraction from the frame pointer, so the offset
                // is worked out as a number first and then added to it.
                self.emit_all([
                    asm::mov(Reg::R1, i32::from(slot) + 8),
                    asm::sub_reg(Reg::R1, Reg::R2),
                    asm::add_reg(Reg::R1, Reg::R10),
                ]);
                Arg::Reg(Reg::R1)
            }
        };
        self.emit(asm::helper_call(
            Helper::ProbeReadKernel,
            vec![into, Arg::Reg(Reg::R2), Arg::Reg(a)],
        ));
        self.frame.free(Reg::R2);
        self.free_addr(a, Some(dst));
        self.emit(asm::load_mem(Size::DW, dst, Reg::R10, slot));
        let left = self.core_imm(access, CoreKind::FieldLshiftU64)?;
        self.emit(asm::core(
            insn::alu64_imm(AluOp::Lsh, dst, left),
            access,
            CoreKind::FieldLshiftU64,
        ));
        let right = self.core_imm(access, CoreKind::FieldRshiftU64)?;
        let op = if signed { AluOp::Arsh } else { AluOp::Rsh };
        self.emit(asm::core(
            insn::alu64_imm(op, dst, right),
            access,
            CoreKind::FieldRshiftU64,
        ));
        Ok(())
    }

    /// `base->chars` (a `char[n]` member) into `dst`: at most `size` bytes
    /// up to the first NUL (`bpf_probe_read_kernel_str`, so that what
    /// follows the NUL stays as the caller left it: zeros in a key).
    pub fn field_chars(
        &mut self,
        base: &TExpr,
        access: &FieldAccess,
        size: u32,
        dst: Mem,
    ) -> R<()> {
        self.field_bytes(base, access, size, dst, Helper::ProbeReadKernelStr)
    }

    /// `size` bytes of `base->member` into `dst` with `helper` (a string
    /// read, or `bpf_probe_read_kernel` for all of them).
    pub fn field_bytes(
        &mut self,
        base: &TExpr,
        access: &FieldAccess,
        size: u32,
        dst: Mem,
        helper: Helper,
    ) -> R<()> {
        let a = self.field_addr(base, access, None)?;
        let ptr = self.ptr_arg(dst, Some(a));
        let src = if a == Reg::R1 && dst.base != Reg::R10 {
            Reg::R3
        } else {
            a
        };
        self.emit(asm::helper_call(
            helper,
            vec![ptr, Arg::Imm(size.into()), Arg::Reg(src)],
        ));
        self.frame.free(a);
        Ok(())
    }
}
