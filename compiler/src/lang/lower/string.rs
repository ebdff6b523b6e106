//! Strings: written straight into their destination (a stack slot, a map
//! key or value buffer, a ring-buffer record) rather than copied around —
//! `comm` with `get_current_comm`, `str()` with `probe_read_*_str`,
//! literals with immediate stores, variables, map values and `str($N)`'s
//! read-only global by 8-byte copies. Destinations that become map keys or values are zero-padded so
//! equal strings hash equal. Comparison with a literal loads 4/2/1-byte
//! chunks up to the literal's NUL and compares them as immediates.

use crate::asm::{self, Arg};
use crate::helpers::Helper;
use crate::insn::{Cond, Endian, Reg, Size};
use crate::lang::ast::Builtin;
use crate::lang::check::ir::{round8, FieldRead, Param, TExpr, TKind, Ty};

use super::gen::{Gen, R};
use super::operand::Mem;

/// The bytes of `chunk` as a load of its size reads them, as an immediate.
fn chunk_imm(chunk: &[u8], endian: Endian) -> i32 {
    endian.read_uint(chunk) as u32 as i32
}

/// Splits `n` bytes into aligned loads: 4-byte ones, then 2, then 1.
fn chunks(n: u32) -> Vec<(u32, Size)> {
    let mut out = Vec::new();
    let mut at = 0;
    for (size, bytes) in [(Size::W, 4), (Size::H, 2), (Size::B, 1)] {
        while n - at >= bytes {
            out.push((at, size));
            at += bytes;
        }
    }
    out
}

impl Gen<'_> {
    /// The bytes of a string known when compiling: a literal.
    pub fn literal_of(&self, e: &TExpr) -> Option<Vec<u8>> {
        match &e.kind {
            TKind::Str(b) => Some(b.clone()),
            _ => None,
        }
    }

    /// Writes string `e` to `dst`, which has room for `cap` bytes (a
    /// multiple of 8). With `pad`, every byte up to `cap` is written (zeros
    /// after the string).
    pub fn str_into(&mut self, e: &TExpr, dst: Mem, cap: u32, pad: bool) -> R<()> {
        if let Some(bytes) = self.literal_of(e) {
            let len = if pad {
                cap
            } else {
                cap.min(round8(bytes.len() as u32 + 1))
            };
            self.write_literal(&bytes, dst, len);
            return Ok(());
        }
        let size = match e.ty {
            Ty::Str { size } => round8(size).min(cap),
            Ty::Inet | Ty::Buf { .. } => e.ty.storage().min(cap),
            _ => return Err(self.fail("internal error: not a string")),
        };
        match &e.kind {
            TKind::Builtin(Builtin::Comm) => {
                // bpf_get_current_comm copies with strscpy: the bytes after
                // the NUL keep whatever the slot held, so a key or value
                // slot is zeroed first or one comm makes many map keys.
                if pad {
                    self.zero(dst, cap.max(16));
                }
                let ptr = self.ptr_arg(dst, None);
                self.emit(asm::get_current_comm(ptr, 16));
            }
            TKind::StrRead { addr, len } => {
                if pad {
                    self.zero(dst, cap);
                }
                self.read_str(addr, *len, dst)?;
            }
            TKind::Field {
                base,
                access,
                read: FieldRead::Chars { size: n },
            } => {
                if pad {
                    self.zero(dst, cap);
                }
                self.field_chars(base, access, (*n).min(size), dst)?;
            }
            TKind::Var(i) => {
                let slot = self.var_slot(*i)?;
                self.copy(Mem::stack(slot), dst, size)?;
                self.pad_from(dst, size, cap, pad);
            }
            TKind::TupleGet { .. } => {
                let src = self.tuple_elem(e)?;
                self.copy(src, dst, size)?;
                self.pad_from(dst, size, cap, pad);
            }
            TKind::Param(p @ Param::Str(_)) => {
                // Its global holds round8(size) bytes, NUL-padded.
                let t = self.scratch()?;
                self.emit(asm::ld_global(t, &p.symbol()));
                let copied = self.hold(t, |g| g.copy(Mem { base: t, off: 0 }, dst, size));
                self.frame.free(t);
                copied?;
                self.pad_from(dst, size, cap, pad);
            }
            TKind::MapRead { map, keys } => {
                let (null, end) = (self.label(), self.label());
                self.map_lookup(*map, keys)?;
                self.emit(asm::jmp_imm(Cond::Eq, Reg::R0, 0, &null));
                let took = self.frame.take(Reg::R0);
                let copied = self.hold(Reg::R0, |g| {
                    g.copy(
                        Mem {
                            base: Reg::R0,
                            off: 0,
                        },
                        dst,
                        size,
                    )
                });
                if took {
                    self.frame.free(Reg::R0);
                }
                copied?;
                self.pad_from(dst, size, cap, pad);
                self.emit(asm::jmp(&end));
                self.emit(asm::label(&null));
                self.zero(dst, cap);
                self.emit(asm::label(&end));
            }
            TKind::Ntop { af, addr } => self.ntop_into(af, addr, dst)?,
            TKind::Buf { addr, len, cap: n } => self.buf_into(addr, len, *n, dst)?,
            TKind::Ternary { cond, then, els } => {
                let (other, end) = (self.label(), self.label());
                self.branch(cond, &other, false)?;
                self.str_into(then, dst, cap, pad)?;
                self.emit(asm::jmp(&end));
                self.emit(asm::label(&other));
                self.str_into(els, dst, cap, pad)?;
                self.emit(asm::label(&end));
            }
            _ => return Err(self.fail("internal error: not a string expression")),
        }
        Ok(())
    }

    /// `str(addr, len)` into `dst`: user memory in syscall probes;
    /// elsewhere, where the arch's kernel and user addresses never
    /// overlap, `bpf_probe_read_str`, which reads the memory the address
    /// is in (user below `TASK_SIZE`, kernel above), as bpftrace's `str()`
    /// of an untyped address does: the address may be a user pointer
    /// passed to a kernel function. The kernel offers that helper only on
    /// such arches (`CONFIG_ARCH_HAS_NON_OVERLAPPING_ADDRESS_SPACE`); on
    /// s390x an address says nothing of its memory, and the read stays a
    /// kernel read.
    fn read_str(&mut self, addr: &TExpr, len: u32, dst: Mem) -> R<()> {
        let helper = if self.prog.reads_user() {
            Helper::ProbeReadUserStr
        } else if self.arch.info().split_address_space {
            Helper::ProbeReadStr
        } else {
            Helper::ProbeReadKernelStr
        };
        let t = self.scratch()?;
        self.int(addr, t)?;
        let ptr = self.ptr_arg(dst, Some(t));
        // ptr_arg moved the address out of r1 if it was there.
        let src = if t == Reg::R1 && dst.base != Reg::R10 {
            Reg::R3
        } else {
            t
        };
        self.emit(asm::helper_call(
            helper,
            vec![ptr, Arg::Imm(len.into()), Arg::Reg(src)],
        ));
        self.frame.free(t);
        Ok(())
    }

    /// A helper argument pointing at `dst`: `r10 + off`, or `r1 = base +
    /// off` (moving `keep` to r3 first if it is in r1).
    pub fn ptr_arg(&mut self, dst: Mem, keep: Option<Reg>) -> Arg {
        if dst.base == Reg::R10 {
            return asm::stack(dst.off);
        }
        if keep == Some(Reg::R1) {
            self.emit(asm::mov_reg(Reg::R3, Reg::R1));
        }
        self.emit(asm::mov_reg(Reg::R1, dst.base));
        self.emit(asm::add(Reg::R1, dst.off.into()));
        Arg::Reg(Reg::R1)
    }

    /// Zeroes `dst` from `from` to `cap` when padding.
    pub fn pad_from(&mut self, dst: Mem, from: u32, cap: u32, pad: bool) {
        if pad && cap > from {
            self.zero(dst.at(from), cap - from);
        }
    }

    /// Zeroes `bytes` (a multiple of 8) at `dst`.
    pub fn zero(&mut self, dst: Mem, bytes: u32) {
        for at in (0..bytes).step_by(8) {
            self.emit(asm::store_imm(Size::DW, dst.base, dst.off + at as i16, 0));
        }
    }

    /// Copies `bytes` (a multiple of 8) from `src` to `dst`.
    pub fn copy(&mut self, src: Mem, dst: Mem, bytes: u32) -> R<()> {
        let t = self.scratch()?;
        for at in (0..bytes).step_by(8) {
            let d = at as i16;
            self.emit(asm::load_mem(Size::DW, t, src.base, src.off + d));
            self.emit(asm::store_mem(Size::DW, dst.base, dst.off + d, t));
        }
        self.frame.free(t);
        Ok(())
    }

    /// Stores `bytes`, a NUL and zeros up to `len` (a multiple of 8) at
    /// `dst`, truncating the string to fit.
    fn write_literal(&mut self, bytes: &[u8], dst: Mem, len: u32) {
        let keep = bytes.len().min(len.saturating_sub(1) as usize);
        let mut data = bytes[..keep].to_vec();
        data.resize(len as usize, 0);
        let endian = self.arch.endian();
        for (i, chunk) in data.chunks(8).enumerate() {
            let off = dst.off + 8 * i as i16;
            let word = endian.read_uint(chunk) as i64;
            if let Ok(small) = i32::try_from(word) {
                self.emit(asm::store_imm(Size::DW, dst.base, off, small));
            } else {
                self.emit(asm::store_imm(
                    Size::W,
                    dst.base,
                    off,
                    chunk_imm(&chunk[..4], endian),
                ));
                self.emit(asm::store_imm(
                    Size::W,
                    dst.base,
                    off + 4,
                    chunk_imm(&chunk[4..], endian),
                ));
            }
        }
    }

    /// Jumps to `target` when string `s` equals `lit` (`jump_if_equal`) or
    /// differs from it: the literal's bytes, and with `nul` its NUL too
    /// (without, `s` only starts with them).
    pub fn str_eq(
        &mut self,
        s: &TExpr,
        lit: &[u8],
        nul: bool,
        jump_if_equal: bool,
        target: &str,
    ) -> R<()> {
        if let Some(bytes) = self.literal_of(s) {
            let same = if nul {
                bytes == lit
            } else {
                bytes.starts_with(lit)
            };
            if same == jump_if_equal {
                self.emit(asm::jmp(target));
            }
            return Ok(());
        }
        let Ty::Str { size } = s.ty else {
            return Err(self.fail("internal error: comparing a non-string"));
        };
        let mem = match s.kind {
            TKind::Var(i) => Mem::stack(self.var_slot(i)?),
            TKind::TupleGet { .. } => self.tuple_elem(s)?,
            _ => {
                let slot = self.slot(round8(size))?;
                self.str_into(s, Mem::stack(slot), round8(size), false)?;
                Mem::stack(slot)
            }
        };
        let mut want = lit.to_vec();
        if nul {
            want.push(0);
        }
        let n = (want.len() as u32).min(size);
        let skip = self.label();
        let differ = if jump_if_equal {
            skip.clone()
        } else {
            target.to_string()
        };
        let t = self.scratch()?;
        let endian = self.arch.endian();
        for (at, sz) in chunks(n) {
            let bytes = &want[at as usize..at as usize + sz.bytes()];
            self.emit(asm::load_mem(sz, t, mem.base, mem.off + at as i16));
            self.emit(asm::jmp32_imm(
                Cond::Ne,
                t,
                chunk_imm(bytes, endian),
                &differ,
            ));
        }
        self.frame.free(t);
        if jump_if_equal {
            self.emit(asm::jmp(target));
            self.emit(asm::label(&skip));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_bytes_with_aligned_loads() {
        let sizes = |n| {
            chunks(n)
                .into_iter()
                .map(|(a, s)| (a, s.bytes()))
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(3), vec![(0, 2), (2, 1)]);
        assert_eq!(sizes(7), vec![(0, 4), (4, 2), (6, 1)]);
        assert_eq!(sizes(8), vec![(0, 4), (4, 4)]);
        assert_eq!(sizes(1), vec![(0, 1)]);
    }

    #[test]
    fn chunk_values_follow_the_byte_order() {
        assert_eq!(chunk_imm(b"dd", Endian::Little), 0x6464);
        assert_eq!(chunk_imm(b"ab", Endian::Little), 0x6261);
        assert_eq!(chunk_imm(b"ab", Endian::Big), 0x6162);
        assert_eq!(
            chunk_imm(&[0xff, 0, 0, 0x80], Endian::Little),
            0x8000_00ff_u32 as i32
        );
    }
}
