//! The frame of one program: 8-byte aligned stack slots below r10 (at most
//! 512 bytes, released in LIFO order with marks) and the registers in use.
//!
//! Registers come in two pools: scratch r0-r5, which every helper call
//! clobbers, and callee-saved r6-r9 (minus the ctx register) for values
//! that must survive a call. A register is *busy* while allocated and
//! *live* while it holds a value something else is evaluated beside; the
//! code generator checks that no live scratch register meets a call.

use crate::insn::Reg;

/// The kernel's BPF stack limit.
pub const STACK_LIMIT: u32 = 512;

const SCRATCH: [Reg; 6] = [Reg::R0, Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5];
const SAFE: [Reg; 4] = [Reg::R7, Reg::R8, Reg::R9, Reg::R6];

/// Bit of register `r` in a mask.
fn bit(r: Reg) -> u16 {
    1 << r.num()
}

/// The mask of r0-r5.
pub const SCRATCH_MASK: u16 = 0b11_1111;

#[derive(Clone, Debug)]
pub struct Frame {
    used: u32,
    busy: u16,
    live: u16,
    /// Registers allocated for the whole program (ctx, variables).
    pinned: u16,
}

impl Frame {
    /// A frame whose ctx pointer (if kept) lives in `ctx`.
    pub fn new(ctx: Option<Reg>) -> Frame {
        Frame {
            used: 0,
            busy: ctx.map_or(0, bit),
            live: 0,
            pinned: ctx.map_or(0, bit),
        }
    }

    /// A slot of `bytes` (rounded up to 8): its offset from r10.
    pub fn slot(&mut self, bytes: u32) -> Result<i16, String> {
        let need = self.used + bytes.div_ceil(8) * 8;
        if need > STACK_LIMIT {
            return Err(format!(
                "this needs {need} bytes of BPF stack; the kernel allows {STACK_LIMIT}"
            ));
        }
        self.used = need;
        Ok(-(need as i16))
    }

    /// The current stack depth, to [`release`](Self::release) back to.
    pub fn mark(&self) -> u32 {
        self.used
    }

    pub fn release(&mut self, mark: u32) {
        self.used = self.used.min(mark);
    }

    /// A free scratch register, r0 first (helper results land there).
    pub fn scratch(&mut self) -> Option<Reg> {
        self.take_first(&SCRATCH)
    }

    /// A free callee-saved register.
    pub fn safe(&mut self) -> Option<Reg> {
        self.take_first(&SAFE)
    }

    fn take_first(&mut self, pool: &[Reg]) -> Option<Reg> {
        let r = pool.iter().copied().find(|r| self.busy & bit(*r) == 0)?;
        self.busy |= bit(r);
        Some(r)
    }

    /// Allocates `r` if it is free.
    pub fn take(&mut self, r: Reg) -> bool {
        if self.busy & bit(r) != 0 {
            return false;
        }
        self.busy |= bit(r);
        true
    }

    /// Allocates `r` for the whole program.
    pub fn pin(&mut self, r: Reg) {
        self.busy |= bit(r);
        self.pinned |= bit(r);
    }

    /// Frees `r` (never a pinned register).
    pub fn free(&mut self, r: Reg) {
        if self.pinned & bit(r) == 0 {
            self.busy &= !bit(r);
            self.live &= !bit(r);
        }
    }

    /// The callee-saved registers not pinned.
    pub fn unpinned_safe(&self) -> Vec<Reg> {
        SAFE.iter()
            .copied()
            .filter(|r| self.pinned & bit(*r) == 0)
            .collect()
    }

    pub fn set_live(&mut self, r: Reg, live: bool) {
        if live {
            self.live |= bit(r);
        } else {
            self.live &= !bit(r);
        }
    }

    /// Whether a scratch register other than `except` holds a live value.
    pub fn live_scratch_except(&self, except: Reg) -> bool {
        self.live & SCRATCH_MASK & !bit(except) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_aligned_and_limited() {
        let mut f = Frame::new(None);
        assert_eq!(f.slot(4), Ok(-8));
        let m = f.mark();
        assert_eq!(f.slot(16), Ok(-24));
        f.release(m);
        assert_eq!(f.slot(8), Ok(-16));
        let e = f.slot(500).unwrap_err();
        assert!(e.contains("kernel allows 512"), "{e}");
    }

    #[test]
    fn registers_come_from_their_pools() {
        let mut f = Frame::new(Some(Reg::R6));
        assert_eq!(f.scratch(), Some(Reg::R0));
        assert_eq!(f.scratch(), Some(Reg::R1));
        assert_eq!(f.safe(), Some(Reg::R7));
        assert_eq!(f.safe(), Some(Reg::R8));
        assert_eq!(f.safe(), Some(Reg::R9));
        assert_eq!(f.safe(), None, "r6 holds the ctx");
        f.free(Reg::R0);
        assert!(f.take(Reg::R0));
        assert!(!f.take(Reg::R0));
        f.set_live(Reg::R1, true);
        assert!(f.live_scratch_except(Reg::R0));
        assert!(!f.live_scratch_except(Reg::R1));
        f.free(Reg::R6);
        assert!(!f.take(Reg::R6));
        assert_eq!(f.unpinned_safe(), vec![Reg::R7, Reg::R8, Reg::R9]);
        f.pin(Reg::R9);
        f.free(Reg::R9);
        assert!(!f.take(Reg::R9));
    }
}
