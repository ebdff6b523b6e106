//! The verifier state at one instruction (`struct bpf_verifier_state`): the
//! call frames, each with eleven registers and a 512-byte stack whose bytes
//! are invalid, misc, zero or part of a spilled register; and the
//! references held. [`State::subsumes`] is the pruning test
//! (`states_equal`): an explored state covers the current one when every
//! register the rest of the program reads and every stack byte is at least
//! as general.

use std::collections::HashMap;

use crate::reg::{Ptr, PtrKind, RegState};
use crate::scalar::Scalar;

/// The kernel's per-program stack limit.
pub const STACK_SIZE: usize = 512;
const SLOTS: usize = STACK_SIZE / 8;

/// What one stack byte holds (`STACK_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Byte {
    Invalid,
    Misc,
    Zero,
    /// Part of the register spilled into its 8-byte slot.
    Spill,
}

/// One frame's stack: byte `i` is at `r10 - 512 + i`. How deep a
/// function's stack goes is the verifier's (per function, over every
/// path), not the state's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Stack {
    pub bytes: Vec<Byte>,
    pub spilled: Vec<Option<RegState>>,
}

impl Default for Stack {
    fn default() -> Stack {
        Stack {
            bytes: vec![Byte::Invalid; STACK_SIZE],
            spilled: vec![None; SLOTS],
        }
    }
}

impl Stack {
    /// The byte index of `r10 + off`.
    pub fn index(off: i64) -> Option<usize> {
        let i = off + STACK_SIZE as i64;
        (0..STACK_SIZE as i64).contains(&i).then_some(i as usize)
    }

    /// Marks `[at, at + size)` as written with kind `b` (breaking spills
    /// they touch).
    pub fn write(&mut self, at: usize, size: usize, b: Byte) {
        for i in at..at + size {
            let slot = i / 8;
            if self.spilled[slot].is_some() {
                self.spilled[slot] = None;
                for j in slot * 8..slot * 8 + 8 {
                    if self.bytes[j] == Byte::Spill {
                        self.bytes[j] = Byte::Misc;
                    }
                }
            }
            self.bytes[i] = b;
        }
    }

    /// Spills `r` into the aligned slot at `at`.
    pub fn spill(&mut self, at: usize, r: RegState) {
        let slot = at / 8;
        self.spilled[slot] = Some(r);
        for b in &mut self.bytes[at..at + 8] {
            *b = Byte::Spill;
        }
    }
}

/// One call frame.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    pub regs: [RegState; 11],
    pub stack: Stack,
    /// Where execution continues when this frame returns.
    pub ret: usize,
    /// The function this frame runs (its index among the program's
    /// functions, the entry 0).
    pub subprog: usize,
    /// For a callback's frame: the helper call that called it.
    pub callsite: Option<usize>,
    /// How many times the callback of the helper call this frame is in
    /// has run on this path (callbacks called any number of times).
    pub iterations: u32,
}

impl Frame {
    pub fn new(frameno: usize, ret: usize, subprog: usize) -> Frame {
        let mut regs = [RegState::NotInit; 11];
        regs[10] = RegState::Ptr(Ptr::new(PtrKind::Stack { frame: frameno }));
        Frame {
            regs,
            stack: Stack::default(),
            ret,
            subprog,
            callsite: None,
            iterations: 0,
        }
    }
}

/// A held reference: its id and the instruction that acquired it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ref {
    pub id: u32,
    pub insn: usize,
}

/// The whole state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    pub frames: Vec<Frame>,
    pub refs: Vec<Ref>,
}

impl State {
    /// The state at a program's first instruction: r1 the ctx.
    pub fn entry() -> State {
        let mut s = State::function(0);
        s.cur_mut().regs[1] = RegState::Ptr(Ptr::new(PtrKind::Ctx));
        s
    }

    /// The state at the first instruction of function `subprog` verified
    /// on its own (a global function): no argument set yet.
    pub fn function(subprog: usize) -> State {
        State {
            frames: vec![Frame::new(0, usize::MAX, subprog)],
            refs: vec![],
        }
    }

    pub fn cur(&self) -> &Frame {
        &self.frames[self.frames.len() - 1]
    }

    pub fn cur_mut(&mut self) -> &mut Frame {
        let n = self.frames.len() - 1;
        &mut self.frames[n]
    }

    /// Calls `f` on every register and spilled register of every frame.
    pub fn each_reg(&mut self, f: &mut dyn FnMut(&mut RegState)) {
        for fr in &mut self.frames {
            fr.regs.iter_mut().for_each(&mut *f);
            fr.stack.spilled.iter_mut().flatten().for_each(&mut *f);
        }
    }

    /// Whether this explored state covers `cur`: `live` says which registers
    /// of the innermost frame the rest of the program reads, `need` which
    /// of their scalars must be compared by range (others need only be
    /// scalars), and `slots` the same for spilled scalars, by `r10` offset.
    pub fn subsumes(&self, cur: &State, live: u16, need: &Need) -> bool {
        if self.frames.len() != cur.frames.len() || self.refs.len() != cur.refs.len() {
            return false;
        }
        let mut ids = IdMap::default();
        let last = self.frames.len() - 1;
        for (i, (old, new)) in self.frames.iter().zip(&cur.frames).enumerate() {
            if old.ret != new.ret || old.callsite != new.callsite {
                return false;
            }
            let inner = i == last;
            for r in 0..11 {
                let read = !inner || live & (1 << r) != 0;
                let exact = !inner || need.regs & (1 << r) != 0;
                if read && !reg_covers(&old.regs[r], &new.regs[r], exact, &mut ids) {
                    return false;
                }
            }
            let slot_exact = |slot: usize| {
                !inner
                    || need.all_slots
                    || need.slots.contains(&(slot as i64 * 8 - STACK_SIZE as i64))
            };
            if !stack_covers(&old.stack, &new.stack, &slot_exact, &mut ids) {
                return false;
            }
        }
        self.refs
            .iter()
            .zip(&cur.refs)
            .all(|(a, b)| ids.same(a.id, b.id))
    }
}

/// What pruning compares exactly at one instruction (see [`crate::precision`]).
#[derive(Clone, Copy)]
pub struct Need<'a> {
    pub regs: u16,
    pub slots: &'a std::collections::BTreeSet<i64>,
    /// Every slot is compared exactly (a value read through a pointer
    /// other than `r10` needs precision, and no one knows which slot).
    pub all_slots: bool,
}

/// A consistent renaming of ids between two states (`check_ids`).
#[derive(Default)]
struct IdMap {
    map: HashMap<u32, u32>,
}

impl IdMap {
    fn same(&mut self, old: u32, cur: u32) -> bool {
        if old == 0 || cur == 0 {
            return old == cur;
        }
        *self.map.entry(old).or_insert(cur) == cur
    }
}

fn scalar_covers(old: &Scalar, cur: &Scalar) -> bool {
    old.contains(cur)
}

fn reg_covers(old: &RegState, cur: &RegState, exact: bool, ids: &mut IdMap) -> bool {
    match (old, cur) {
        (RegState::NotInit, _) => true,
        (RegState::Scalar(a), RegState::Scalar(b)) => !exact || scalar_covers(a, b),
        (RegState::Ptr(a), RegState::Ptr(b)) => {
            a.kind == b.kind
                && a.off == b.off
                && a.or_null == b.or_null
                && scalar_covers(&a.var, &b.var)
                && ids.same(a.id, b.id)
                && ids.same(a.ref_id, b.ref_id)
        }
        _ => false,
    }
}

fn stack_covers(old: &Stack, cur: &Stack, exact: &dyn Fn(usize) -> bool, ids: &mut IdMap) -> bool {
    for (i, (a, b)) in old.bytes.iter().zip(&cur.bytes).enumerate() {
        let ok = match (a, b) {
            (Byte::Invalid, _) => true,
            (Byte::Misc, Byte::Misc | Byte::Zero) => true,
            (Byte::Misc, Byte::Spill) => matches!(cur.spilled[i / 8], Some(RegState::Scalar(_))),
            (Byte::Zero, Byte::Zero) => true,
            (Byte::Spill, Byte::Spill) => {
                if i % 8 != 0 {
                    true
                } else {
                    match (&old.spilled[i / 8], &cur.spilled[i / 8]) {
                        (Some(x), Some(y)) => reg_covers(x, y, exact(i / 8), ids),
                        _ => false,
                    }
                }
            }
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Need<'static> {
        static NONE: std::collections::BTreeSet<i64> = std::collections::BTreeSet::new();
        Need {
            regs: u16::MAX,
            slots: &NONE,
            all_slots: false,
        }
    }

    #[test]
    fn scalars_without_need_of_precision_only_need_to_be_scalars() {
        let mut old = State::entry();
        let mut cur = State::entry();
        old.cur_mut().regs[3] = RegState::constant(1);
        cur.cur_mut().regs[3] = RegState::constant(2);
        let slots = std::collections::BTreeSet::new();
        let loose = Need {
            regs: 0,
            slots: &slots,
            all_slots: false,
        };
        assert!(old.subsumes(&cur, 1 << 3, &loose));
        assert!(!old.subsumes(&cur, 1 << 3, &all()));
        cur.cur_mut().regs[3] = RegState::Ptr(Ptr::new(PtrKind::Ctx));
        assert!(
            !old.subsumes(&cur, 1 << 3, &loose),
            "a pointer is not a scalar"
        );
    }

    #[test]
    fn wider_scalars_and_dead_registers_cover() {
        let mut old = State::entry();
        let mut cur = State::entry();
        old.cur_mut().regs[0] = RegState::Scalar(Scalar::up_to(10));
        cur.cur_mut().regs[0] = RegState::constant(3);
        assert!(old.subsumes(&cur, 1, &all()));
        assert!(!cur.subsumes(&old, 1, &all()));
        cur.cur_mut().regs[2] = RegState::constant(1);
        old.cur_mut().regs[2] = RegState::Ptr(Ptr::new(PtrKind::Ctx));
        assert!(!old.subsumes(&cur, 0b101, &all()));
        assert!(old.subsumes(&cur, 0b001, &all()), "r2 is dead");
    }

    #[test]
    fn stack_bytes_cover_by_generality() {
        let mut old = State::entry();
        let mut cur = State::entry();
        old.cur_mut().stack.write(504, 8, Byte::Misc);
        cur.cur_mut().stack.write(504, 8, Byte::Zero);
        assert!(old.subsumes(&cur, 0, &all()));
        assert!(!cur.subsumes(&old, 0, &all()));
        let mut uninit = State::entry();
        uninit.cur_mut().stack.write(504, 4, Byte::Misc);
        assert!(!uninit.subsumes(&State::entry(), 0, &all()));
        assert!(State::entry().subsumes(&uninit, 0, &all()));
    }

    #[test]
    fn writes_break_the_spills_they_touch() {
        let mut s = Stack::default();
        s.spill(496, RegState::Ptr(Ptr::new(PtrKind::Ctx)));
        s.write(500, 1, Byte::Misc);
        assert_eq!(s.spilled[62], None);
        assert_eq!(&s.bytes[496..500], &[Byte::Misc; 4]);
    }
}
