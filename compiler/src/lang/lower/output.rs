//! Records for user space (`printf`, `print`, `time`, `exit`...): one
//! record in the `output_rb` ring buffer — the record id, then each
//! argument at its offset (ints 8 bytes, strings their padded size). A
//! record with arguments is reserved, filled in place (strings are read
//! straight into it) and submitted; one without is its id alone, copied
//! from the stack with `bpf_ringbuf_output`. A full ring buffer drops the
//! record.

use crate::asm::{self, Arg};
use crate::insn::{Cond, Reg, Size};
use crate::lang::check::ir::{TExpr, Ty, OUTPUT_RINGBUF};

use super::gen::{Gen, R};
use super::operand::Mem;

impl Gen<'_> {
    pub fn output(&mut self, id: usize, args: &[TExpr]) -> R<()> {
        let checked = self.checked;
        let info = checked
            .outputs
            .get(id)
            .ok_or_else(|| self.fail("internal error: unknown output record"))?;
        let id = i32::try_from(id).map_err(|_| self.fail("too many output records"))?;
        if info.args.is_empty() {
            let slot = self.slot(8)?;
            self.emit_all([
                asm::store_imm(Size::DW, Reg::R10, slot, id),
                asm::ringbuf_output(
                    asm::map(OUTPUT_RINGBUF),
                    asm::stack(slot),
                    Arg::Imm(8),
                    Arg::Imm(0),
                ),
            ]);
            return Ok(());
        }
        let rec = self
            .frame
            .safe()
            .ok_or_else(|| self.fail("internal error: no callee-saved register for the record"))?;
        let skip = self.label();
        let size = i16::try_from(info.size()).map(i32::from).map_err(|_| {
            self.fail(format!(
                "this {} record takes {} bytes; at most 32767 fit",
                info.kind.name(),
                info.size()
            ))
        })?;
        self.emit_all([
            asm::ringbuf_reserve(asm::map(OUTPUT_RINGBUF), size),
            asm::jmp_imm(Cond::Eq, Reg::R0, 0, &skip),
            asm::mov_reg(rec, Reg::R0),
            asm::store_imm(Size::DW, rec, 0, id),
        ]);
        for ((arg, ty), off) in args.iter().zip(&info.args).zip(info.offsets()) {
            let at = Mem {
                base: rec,
                off: off as i16,
            };
            if matches!(ty, Ty::Tuple { .. }) {
                self.tuple_into(arg, at, *ty)?;
            } else if ty.is_bytes() {
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
