//! `printf` in a probe: one record in the `printf_rb` ring buffer — the
//! format id, then each argument at its offset (ints 8 bytes, strings
//! their padded size) — reserved, filled in place (strings are read
//! straight into the record) and submitted. A full ring buffer drops the
//! record.

use crate::asm;
use crate::insn::{Cond, Reg, Size};
use crate::lang::check::ir::{TExpr, PRINTF_RINGBUF};

use super::gen::{Gen, R};
use super::operand::Mem;

impl Gen<'_> {
    pub fn printf(&mut self, id: usize, args: &[TExpr]) -> R<()> {
        let checked = self.checked;
        let info = checked
            .printfs
            .get(id)
            .ok_or_else(|| self.fail("internal error: unknown printf"))?;
        let rec = self
            .frame
            .safe()
            .ok_or_else(|| self.fail("internal error: no callee-saved register for the record"))?;
        let skip = self.label();
        let size = i16::try_from(info.size()).map(i32::from).map_err(|_| {
            self.fail(format!(
                "this printf record takes {} bytes; at most 32767 fit",
                info.size()
            ))
        })?;
        let id = i32::try_from(id).map_err(|_| self.fail("too many printf calls"))?;
        self.emit_all([
            asm::ringbuf_reserve(asm::map(PRINTF_RINGBUF), size),
            asm::jmp_imm(Cond::Eq, Reg::R0, 0, &skip),
            asm::mov_reg(rec, Reg::R0),
            asm::store_imm(Size::DW, rec, 0, id),
        ]);
        for ((arg, ty), off) in args.iter().zip(&info.args).zip(info.offsets()) {
            let at = Mem {
                base: rec,
                off: off as i16,
            };
            if ty.is_str() {
                self.str_into(arg, at, ty.storage(), false)?;
            } else {
                self.store_int(arg, at)?;
            }
        }
        self.emit_all([asm::ringbuf_submit(rec), asm::label(&skip)]);
        self.frame.free(rec);
        Ok(())
    }
}
