//! The byte values user space formats: `ntop()`'s address (the family as
//! a u64, then 16 bytes: an integer address's low 4 bytes as they are in
//! memory, an array member's bytes read with `bpf_probe_read_kernel`, or a
//! 4- or 16-byte string's)
//! and `buf()` (its length as a u64, clamped to its capacity, then that
//! many bytes read from the address), each written straight into its
//! place: a record, a map key or value, a variable's slot.

use crate::asm::{self, Arg};
use crate::helpers::Helper;
use crate::insn::{Cond, Reg, Size};
use crate::lang::check::ir::{FieldRead, TExpr, TKind, Ty};

use super::gen::{Gen, R};
use super::operand::Mem;

impl Gen<'_> {
    /// `ntop(af, addr)` into the 24 bytes at `dst`.
    pub fn ntop_into(&mut self, af: &TExpr, addr: &TExpr, dst: Mem) -> R<()> {
        self.store_int(af, dst)?;
        let bytes = dst.at(8);
        match &addr.kind {
            TKind::Field {
                base,
                access,
                read: FieldRead::Chars { size },
            } => {
                if *size < 16 {
                    self.zero(bytes, 16);
                }
                self.field_bytes(base, access, *size, bytes, Helper::ProbeReadKernel)
            }
            _ if matches!(addr.ty, Ty::Str { .. }) => {
                let size = addr.ty.storage().min(16);
                if size < 16 {
                    self.zero(bytes, 16);
                }
                self.str_into(addr, bytes, size, true)
            }
            _ => {
                self.zero(bytes, 16);
                let t = self.scratch()?;
                self.int(addr, t)?;
                self.emit(asm::store_mem(Size::W, bytes.base, bytes.off, t));
                self.frame.free(t);
                Ok(())
            }
        }
    }

    /// `buf(addr, len)` into `dst`: the length (at most `cap`), then the
    /// bytes. The clamped length waits on the stack while the address is
    /// computed: a spilled register keeps its bounds, which the helper's
    /// size must have.
    pub fn buf_into(&mut self, addr: &TExpr, len: &TExpr, cap: u32, dst: Mem) -> R<()> {
        let held = self.slot(8)?;
        let n = self.scratch()?;
        self.int(len, n)?;
        let ok = self.label();
        self.emit_all([
            asm::jmp_imm(Cond::Le, n, cap as i32, &ok),
            asm::mov(n, cap as i32),
            asm::label(&ok),
            asm::store_mem(Size::DW, Reg::R10, held, n),
        ]);
        self.frame.free(n);
        let a = self.scratch()?;
        self.int(addr, a)?;
        let bytes = dst.at(8);
        let ptr = self.ptr_arg(bytes, Some(a));
        let src = if a == Reg::R1 && bytes.base != Reg::R10 {
            Reg::R3
        } else {
            a
        };
        let src = if src == Reg::R2 {
            self.emit(asm::mov_reg(Reg::R3, Reg::R2));
            Reg::R3
        } else {
            src
        };
        self.emit_all([
            asm::load_mem(Size::DW, Reg::R2, Reg::R10, held),
            asm::store_mem(Size::DW, dst.base, dst.off, Reg::R2),
            asm::helper_call(
                self.read_helper(),
                vec![ptr, Arg::Reg(Reg::R2), Arg::Reg(src)],
            ),
        ]);
        self.frame.free(a);
        Ok(())
    }

    /// The helper that reads the memory a probe's pointers point at:
    /// user memory in syscall probes, kernel memory elsewhere.
    pub fn read_helper(&self) -> Helper {
        if self.prog.reads_user() {
            Helper::ProbeReadUser
        } else {
            Helper::ProbeReadKernel
        }
    }
}
