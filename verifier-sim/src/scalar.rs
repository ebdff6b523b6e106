//! What the verifier knows of a scalar: a [`Tnum`] and signed and unsigned
//! 64-bit bounds, kept consistent with each other as the kernel's
//! `reg_bounds_sync` does; the ALU operations on that knowledge
//! (`adjust_scalar_min_max_vals`); and what a conditional jump decides or
//! teaches (`is_branch_taken`, `reg_set_min_max`). 32-bit operations are
//! modelled on the zero-extended low half. Where the kernel tracks more
//! (separate 32-bit bounds), this model knows less, which can only make it
//! reject more, never accept what the kernel rejects.

use crate::tnum::Tnum;

/// Knowledge of one scalar value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scalar {
    pub t: Tnum,
    pub smin: i64,
    pub smax: i64,
    pub umin: u64,
    pub umax: u64,
}

pub use probecc::insn::Cond as Cmp;

impl Scalar {
    pub const UNKNOWN: Scalar = Scalar {
        t: Tnum::UNKNOWN,
        smin: i64::MIN,
        smax: i64::MAX,
        umin: 0,
        umax: u64::MAX,
    };

    pub fn constant(v: u64) -> Scalar {
        Scalar {
            t: Tnum::constant(v),
            smin: v as i64,
            smax: v as i64,
            umin: v,
            umax: v,
        }
    }

    /// A value in `[0, max]`.
    pub fn up_to(max: u64) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.umax = max;
        s.sync();
        s
    }

    pub fn as_const(&self) -> Option<u64> {
        self.t.is_const().then_some(self.t.value)
    }

    /// Whether no value fits (a branch that cannot be taken).
    pub fn is_empty(&self) -> bool {
        self.smin > self.smax || self.umin > self.umax
    }

    /// Makes bounds and tnum agree (`reg_bounds_sync`).
    pub fn sync(&mut self) {
        for _ in 0..2 {
            self.smin = self.smin.max(self.t.smin());
            self.smax = self.smax.min(self.t.smax());
            self.umin = self.umin.max(self.t.umin());
            self.umax = self.umax.min(self.t.umax());
            if self.smin >= 0 || self.smax < 0 {
                // The sign is known: both views describe one interval.
                let lo = self.umin.max(self.smin as u64);
                let hi = self.umax.min(self.smax as u64);
                self.umin = lo;
                self.umax = hi;
                self.smin = lo as i64;
                self.smax = hi as i64;
            } else if (self.umax as i64) >= 0 {
                self.smin = self.umin as i64;
                self.umax = self.umax.min(self.smax as u64);
                self.smax = self.umax as i64;
            } else if (self.umin as i64) < 0 {
                self.umin = self.umin.max(self.smin as u64);
                self.smin = self.umin as i64;
                self.smax = self.umax as i64;
            }
            if self.is_empty() {
                return;
            }
            self.t = self.t.intersect(Tnum::range(self.umin, self.umax));
        }
    }

    fn from_tnum(t: Tnum) -> Scalar {
        let mut s = Scalar {
            t,
            ..Scalar::UNKNOWN
        };
        s.sync();
        s
    }

    /// Whether every value `b` may hold, `self` may hold.
    pub fn contains(&self, b: &Scalar) -> bool {
        self.smin <= b.smin
            && b.smax <= self.smax
            && self.umin <= b.umin
            && b.umax <= self.umax
            && self.t.contains(b.t)
    }

    /// The zero-extended low 32 bits.
    pub fn low32(&self) -> Scalar {
        if self.umax <= u64::from(u32::MAX) {
            return *self;
        }
        Scalar::from_tnum(self.t.subreg())
    }
}

/// A 64-bit ALU operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Or,
    And,
    Xor,
    Lsh,
    Rsh,
    Arsh,
}

/// `a op b` on 64 bits.
pub fn alu64(op: AluOp, a: &Scalar, b: &Scalar) -> Scalar {
    if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
        if let Some(v) = eval(op, x, y, 64) {
            return Scalar::constant(v);
        }
    }
    let mut r = match op {
        AluOp::Add => add(a, b),
        AluOp::Sub => sub(a, b),
        AluOp::Mul => mul(a, b),
        AluOp::And => {
            let t = a.t.and(b.t);
            let mut r = Scalar::from_tnum(t);
            r.umax = r.umax.min(a.umax).min(b.umax);
            r
        }
        AluOp::Or => {
            let t = a.t.or(b.t);
            let mut r = Scalar::from_tnum(t);
            r.umin = r.umin.max(a.umin).max(b.umin);
            r
        }
        AluOp::Xor => Scalar::from_tnum(a.t.xor(b.t)),
        AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => match b.as_const() {
            Some(n) if n < 64 => shift(op, a, n as u32, 64),
            _ => Scalar::UNKNOWN,
        },
        AluOp::Div | AluOp::Mod => Scalar::UNKNOWN,
    };
    r.sync();
    r
}

/// `a op b` on the low 32 bits, zero-extended.
pub fn alu32(op: AluOp, a: &Scalar, b: &Scalar) -> Scalar {
    let (a, b) = (a.low32(), b.low32());
    if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
        if let Some(v) = eval(op, x, y, 32) {
            return Scalar::constant(v);
        }
    }
    let t = match op {
        AluOp::Add => a.t.add(b.t),
        AluOp::Sub => a.t.sub(b.t),
        AluOp::Mul => a.t.mul(b.t),
        AluOp::And => a.t.and(b.t),
        AluOp::Or => a.t.or(b.t),
        AluOp::Xor => a.t.xor(b.t),
        AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => match b.as_const() {
            Some(n) if n < 32 => {
                let n = n as u32;
                match op {
                    AluOp::Lsh => a.t.lshift(n),
                    AluOp::Rsh => a.t.rshift(n),
                    _ => a.t.arshift(n, 32),
                }
            }
            _ => Tnum::UNKNOWN,
        },
        AluOp::Div | AluOp::Mod => Tnum::UNKNOWN,
    };
    let mut r = Scalar::from_tnum(t.subreg());
    // Without a 32-bit overflow the 64-bit bounds of the operands hold.
    if op == AluOp::And {
        r.umax = r.umax.min(a.umax).min(b.umax);
    }
    r.sync();
    r
}

/// The exact result of `x op y` on `bits` bits, as the CPU computes it
/// (division by zero gives 0, modulo by zero keeps `x`).
pub fn eval(op: AluOp, x: u64, y: u64, bits: u32) -> Option<u64> {
    let mask = if bits == 32 {
        u64::from(u32::MAX)
    } else {
        u64::MAX
    };
    let (x, y) = (x & mask, y & mask);
    let sh = y & u64::from(bits - 1);
    let v = match op {
        AluOp::Add => x.wrapping_add(y),
        AluOp::Sub => x.wrapping_sub(y),
        AluOp::Mul => x.wrapping_mul(y),
        AluOp::Div => x.checked_div(y).unwrap_or(0),
        AluOp::Mod => x.checked_rem(y).unwrap_or(x),
        AluOp::Or => x | y,
        AluOp::And => x & y,
        AluOp::Xor => x ^ y,
        AluOp::Lsh => x << sh,
        AluOp::Rsh => x >> sh,
        AluOp::Arsh => {
            if bits == 32 {
                ((x as u32 as i32) >> sh) as u32 as u64
            } else {
                ((x as i64) >> sh) as u64
            }
        }
    };
    Some(v & mask)
}

fn add(a: &Scalar, b: &Scalar) -> Scalar {
    let mut r = Scalar::from_tnum(a.t.add(b.t));
    if let (Some(lo), Some(hi)) = (a.smin.checked_add(b.smin), a.smax.checked_add(b.smax)) {
        r.smin = r.smin.max(lo);
        r.smax = r.smax.min(hi);
    }
    if let (Some(lo), Some(hi)) = (a.umin.checked_add(b.umin), a.umax.checked_add(b.umax)) {
        r.umin = r.umin.max(lo);
        r.umax = r.umax.min(hi);
    }
    r
}

fn sub(a: &Scalar, b: &Scalar) -> Scalar {
    let mut r = Scalar::from_tnum(a.t.sub(b.t));
    if let (Some(lo), Some(hi)) = (a.smin.checked_sub(b.smax), a.smax.checked_sub(b.smin)) {
        r.smin = r.smin.max(lo);
        r.smax = r.smax.min(hi);
    }
    if a.umin >= b.umax {
        r.umin = r.umin.max(a.umin - b.umax);
        r.umax = r.umax.min(a.umax - b.umin);
    }
    r
}

fn mul(a: &Scalar, b: &Scalar) -> Scalar {
    let mut r = Scalar::from_tnum(a.t.mul(b.t));
    if a.smin >= 0 && b.smin >= 0 {
        if let Some(hi) = a.umax.checked_mul(b.umax) {
            r.umin = r.umin.max(a.umin * b.umin);
            r.umax = r.umax.min(hi);
        }
    }
    r
}

fn shift(op: AluOp, a: &Scalar, n: u32, bits: u32) -> Scalar {
    match op {
        AluOp::Lsh => {
            let mut r = Scalar::from_tnum(a.t.lshift(n));
            if n == 0 || a.umax >> (64 - n) == 0 {
                r.umin = r.umin.max(a.umin << n);
                r.umax = r.umax.min(a.umax << n);
            }
            r
        }
        AluOp::Rsh => {
            let mut r = Scalar::from_tnum(a.t.rshift(n));
            r.umin = r.umin.max(a.umin >> n);
            r.umax = r.umax.min(a.umax >> n);
            r
        }
        _ => {
            let mut r = Scalar::from_tnum(a.t.arshift(n, bits));
            r.smin = r.smin.max(a.smin >> n);
            r.smax = r.smax.min(a.smax >> n);
            r
        }
    }
}

/// Whether `a op b` is certainly true (`Some(true)`), certainly false, or
/// either.
pub fn decided(a: &Scalar, op: Cmp, b: &Scalar) -> Option<bool> {
    if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
        return Some(holds(op, x, y));
    }
    let r = match op {
        Cmp::Eq | Cmp::Ne => {
            let differ = a.umax < b.umin
                || b.umax < a.umin
                || a.smax < b.smin
                || b.smax < a.smin
                || (a.t.value ^ b.t.value) & !(a.t.mask | b.t.mask) != 0;
            if !differ {
                return None;
            }
            op == Cmp::Ne
        }
        Cmp::Gt => return order(a.umin > b.umax, a.umax <= b.umin),
        Cmp::Ge => return order(a.umin >= b.umax, a.umax < b.umin),
        Cmp::Lt => return order(a.umax < b.umin, a.umin >= b.umax),
        Cmp::Le => return order(a.umax <= b.umin, a.umin > b.umax),
        Cmp::SGt => return order(a.smin > b.smax, a.smax <= b.smin),
        Cmp::SGe => return order(a.smin >= b.smax, a.smax < b.smin),
        Cmp::SLt => return order(a.smax < b.smin, a.smin >= b.smax),
        Cmp::SLe => return order(a.smax <= b.smin, a.smin > b.smax),
        Cmp::Set => {
            if a.t.value & b.t.value != 0 {
                true
            } else if (a.t.value | a.t.mask) & (b.t.value | b.t.mask) == 0 {
                false
            } else {
                return None;
            }
        }
    };
    Some(r)
}

fn order(yes: bool, no: bool) -> Option<bool> {
    if yes {
        Some(true)
    } else if no {
        Some(false)
    } else {
        None
    }
}

/// The truth of `x op y` for known values.
pub fn holds(op: Cmp, x: u64, y: u64) -> bool {
    let (sx, sy) = (x as i64, y as i64);
    match op {
        Cmp::Eq => x == y,
        Cmp::Ne => x != y,
        Cmp::Gt => x > y,
        Cmp::Ge => x >= y,
        Cmp::Lt => x < y,
        Cmp::Le => x <= y,
        Cmp::SGt => sx > sy,
        Cmp::SGe => sx >= sy,
        Cmp::SLt => sx < sy,
        Cmp::SLe => sx <= sy,
        Cmp::Set => x & y != 0,
    }
}

/// What `a` and `b` are where `a op b` holds (`reg_set_min_max`).
pub fn refine(a: &Scalar, op: Cmp, b: &Scalar) -> (Scalar, Scalar) {
    let (mut a, mut b) = (*a, *b);
    match op {
        Cmp::Eq => {
            let t = a.t.intersect(b.t);
            for s in [&mut a, &mut b] {
                s.t = t;
            }
            let (umin, umax) = (a.umin.max(b.umin), a.umax.min(b.umax));
            let (smin, smax) = (a.smin.max(b.smin), a.smax.min(b.smax));
            for s in [&mut a, &mut b] {
                (s.umin, s.umax, s.smin, s.smax) = (umin, umax, smin, smax);
            }
        }
        Cmp::Ne => {
            // Only an endpoint can be cut off.
            if let Some(k) = b.as_const() {
                cut_endpoint(&mut a, k);
            }
            if let Some(k) = a.as_const() {
                cut_endpoint(&mut b, k);
            }
        }
        Cmp::Gt | Cmp::Ge => {
            let strict = u64::from(op == Cmp::Gt);
            a.umin = a.umin.max(b.umin.saturating_add(strict));
            b.umax = b.umax.min(a.umax.saturating_sub(strict));
        }
        Cmp::Lt | Cmp::Le => return swap(refine(&b, op.swap(), &a)),
        Cmp::SGt | Cmp::SGe => {
            let strict = i64::from(op == Cmp::SGt);
            a.smin = a.smin.max(b.smin.saturating_add(strict));
            b.smax = b.smax.min(a.smax.saturating_sub(strict));
        }
        Cmp::SLt | Cmp::SLe => return swap(refine(&b, op.swap(), &a)),
        Cmp::Set => {}
    }
    a.sync();
    b.sync();
    (a, b)
}

/// What `a` and `b` are where `a op b` fails.
pub fn refine_not(a: &Scalar, op: Cmp, b: &Scalar) -> (Scalar, Scalar) {
    match op.negate() {
        Some(n) => refine(a, n, b),
        None => {
            // `a & k` is 0: the bits of a constant k are known zero in a.
            let mut a = *a;
            if let Some(k) = b.as_const() {
                a.t.value &= !k;
                a.t.mask &= !k;
                a.sync();
            }
            (a, *b)
        }
    }
}

fn swap((x, y): (Scalar, Scalar)) -> (Scalar, Scalar) {
    (y, x)
}

fn cut_endpoint(s: &mut Scalar, k: u64) {
    if s.umin == k {
        s.umin = s.umin.saturating_add(1);
    }
    if s.umax == k {
        s.umax = s.umax.saturating_sub(1);
    }
    if s.smin == k as i64 {
        s.smin = s.smin.saturating_add(1);
    }
    if s.smax == k as i64 {
        s.smax = s.smax.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{holds as in_range, raw_member, scalar_member, value};
    use proptest::prelude::*;

    const OPS: [AluOp; 11] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::Mod,
        AluOp::Or,
        AluOp::And,
        AluOp::Xor,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Arsh,
    ];

    const CMPS: [Cmp; 11] = [
        Cmp::Eq,
        Cmp::Ne,
        Cmp::Gt,
        Cmp::Ge,
        Cmp::Lt,
        Cmp::Le,
        Cmp::SGt,
        Cmp::SGe,
        Cmp::SLt,
        Cmp::SLe,
        Cmp::Set,
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// The concrete result of every operation on members lands in the
        /// abstract result (64 and 32 bits, shift amounts in range).
        #[test]
        fn alu_results_contain_the_real_result((a, x) in scalar_member(), (b, y) in scalar_member(), i in 0usize..11) {
            let op = OPS[i];
            prop_assert!(in_range(&a, x) && in_range(&b, y), "sync lost a member: {a:?} {x:#x} / {b:?} {y:#x}");
            let (y64, y32) = match op {
                AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => (y % 64, y % 32),
                _ => (y, y),
            };
            let b64 = if y64 == y { b } else { Scalar::constant(y64) };
            let b32 = if y32 == y { b } else { Scalar::constant(y32) };
            let r = alu64(op, &a, &b64);
            prop_assert!(in_range(&r, eval(op, x, y64, 64).unwrap()), "{op:?} {a:?} {b64:?} -> {r:?}");
            let r = alu32(op, &a, &b32);
            prop_assert!(in_range(&r, eval(op, x, y32, 32).unwrap()), "{op:?}/32 {a:?} {b32:?} -> {r:?}");
        }

        /// A decided comparison is decided rightly, and what either branch
        /// teaches keeps the values that take it.
        #[test]
        fn branches_keep_the_values_that_take_them((a, x) in scalar_member(), (b, y) in scalar_member(), i in 0usize..11) {
            prop_assert!(in_range(&a, x) && in_range(&b, y));
            let op = CMPS[i];
            let truth = holds(op, x, y);
            if let Some(d) = decided(&a, op, &b) {
                prop_assert_eq!(d, truth, "{:?} decided wrongly on {:?} {:?}", op, a, b);
            }
            let (ra, rb) = if truth { refine(&a, op, &b) } else { refine_not(&a, op, &b) };
            prop_assert!(in_range(&ra, x) && in_range(&rb, y), "{op:?} {truth}: {a:?} {b:?} -> {ra:?} {rb:?}");
            prop_assert!(!ra.is_empty() && !rb.is_empty());
        }

        /// The same with one side a constant, the form most jumps take.
        #[test]
        fn branches_against_constants_keep_their_values((a, x) in scalar_member(), k in value(), i in 0usize..11) {
            prop_assert!(in_range(&a, x));
            let op = CMPS[i];
            let b = Scalar::constant(k);
            let truth = holds(op, x, k);
            if let Some(d) = decided(&a, op, &b) {
                prop_assert_eq!(d, truth, "{:?} {:#x} decided wrongly on {:?}", op, k, a);
            }
            let (ra, rb) = if truth { refine(&a, op, &b) } else { refine_not(&a, op, &b) };
            prop_assert!(in_range(&ra, x), "{op:?} {k:#x} {truth}: {a:?} -> {ra:?}");
            prop_assert!(in_range(&rb, k), "{op:?} {k:#x} {truth}: the constant became {rb:?}");
        }

        /// `sync` never drops a value the bounds and the tnum both allow.
        #[test]
        fn sync_keeps_every_member((s, x) in raw_member()) {
            prop_assert!(in_range(&s, x));
            let mut t = s;
            t.sync();
            prop_assert!(in_range(&t, x), "{s:?} -> {t:?} lost {x:#x}");
        }

        /// A scalar that contains another holds all its members.
        #[test]
        fn containment_is_of_members((a, _) in scalar_member(), (b, y) in scalar_member()) {
            prop_assume!(in_range(&b, y));
            if a.contains(&b) {
                prop_assert!(in_range(&a, y));
            }
            prop_assert!(Scalar::UNKNOWN.contains(&b));
            prop_assert!(b.contains(&b));
        }

        /// The low half of a member is a member of the low half.
        #[test]
        fn low_halves_hold_low_halves((a, x) in scalar_member()) {
            prop_assert!(in_range(&a, x));
            prop_assert!(in_range(&a.low32(), u64::from(x as u32)));
        }
    }

    #[test]
    fn bounds_checks_narrow_ranges() {
        let (a, _) = refine(&Scalar::UNKNOWN, Cmp::Lt, &Scalar::constant(16));
        assert_eq!((a.umin, a.umax), (0, 15));
        let (a, _) = refine_not(&Scalar::UNKNOWN, Cmp::SGt, &Scalar::constant(7));
        assert_eq!(a.smax, 7);
        let masked = alu64(AluOp::And, &Scalar::UNKNOWN, &Scalar::constant(0xff));
        assert_eq!((masked.umin, masked.umax), (0, 0xff));
        assert_eq!(
            decided(&masked, Cmp::Gt, &Scalar::constant(0xff)),
            Some(false)
        );
    }

    fn between(lo: u64, hi: u64) -> Scalar {
        let mut s = Scalar::up_to(hi);
        s.umin = lo;
        s.sync();
        s
    }

    fn signed(lo: i64, hi: i64) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.smin = lo;
        s.smax = hi;
        s.sync();
        s
    }

    /// Each ordering teaches exactly one past (or at) the other side's
    /// bound, on both sides, signed and unsigned: one more would claim a
    /// value that is possible is not (an off-by-one that once survived
    /// every test), one less would lose precision the kernel has.
    #[test]
    fn orderings_learn_exact_bounds() {
        let a = Scalar::up_to(100);
        let b = between(10, 50);
        let (ta, tb) = refine(&a, Cmp::Gt, &b);
        assert_eq!((ta.umin, tb.umax), (11, 50));
        let (ta, tb) = refine(&a, Cmp::Ge, &b);
        assert_eq!((ta.umin, tb.umax), (10, 50));
        let (ta, tb) = refine(&b, Cmp::Gt, &Scalar::up_to(30));
        assert_eq!((ta.umin, tb.umax), (10, 30));
        let (ta, tb) = refine(&between(10, 20), Cmp::Gt, &between(5, 40));
        assert_eq!((ta.umin, ta.umax, tb.umin, tb.umax), (10, 20, 5, 19));
        let (ta, tb) = refine(&between(10, 20), Cmp::Ge, &between(5, 40));
        assert_eq!((ta.umin, tb.umax), (10, 20));
        let (ta, tb) = refine(&b, Cmp::Lt, &Scalar::up_to(20));
        assert_eq!((ta.umax, tb.umin), (19, 11));
        let (ta, tb) = refine(&b, Cmp::Le, &Scalar::up_to(20));
        assert_eq!((ta.umax, tb.umin), (20, 10));
        let neg = signed(-20, 20);
        let (ta, tb) = refine(&neg, Cmp::SGt, &signed(-5, 30));
        assert_eq!((ta.smin, tb.smax), (-4, 19));
        let (ta, tb) = refine(&neg, Cmp::SGe, &signed(-5, 30));
        assert_eq!((ta.smin, tb.smax), (-5, 20));
        let (ta, tb) = refine(&neg, Cmp::SLt, &signed(-30, 3));
        assert_eq!((ta.smax, tb.smin), (2, -19));
        let (ta, tb) = refine(&neg, Cmp::SLe, &signed(-30, 3));
        assert_eq!((ta.smax, tb.smin), (3, -20));
        // Not equal to an endpoint cuts exactly that endpoint.
        let (ta, _) = refine(&b, Cmp::Ne, &Scalar::constant(10));
        assert_eq!((ta.umin, ta.umax), (11, 50));
        let (ta, _) = refine(&b, Cmp::Ne, &Scalar::constant(50));
        assert_eq!((ta.umin, ta.umax), (10, 49));
        let (ta, _) = refine(&neg, Cmp::Ne, &Scalar::constant(-20i64 as u64));
        assert_eq!(ta.smin, -19);
        let (ta, _) = refine(&neg, Cmp::Ne, &Scalar::constant(20));
        assert_eq!(ta.smax, 19);
        // Equal: both sides become what both allow.
        let (ta, tb) = refine(&between(10, 30), Cmp::Eq, &between(20, 40));
        assert_eq!((ta.umin, ta.umax, tb.umin, tb.umax), (20, 30, 20, 30));
        // JSET false: the constant's bits are zero.
        let (ta, _) = refine_not(&Scalar::up_to(0xff), Cmp::Set, &Scalar::constant(0x0f));
        assert_eq!((ta.t.value, ta.t.mask), (0, 0xf0));
    }

    /// Decisions at the exact boundary of two ranges.
    #[test]
    fn orderings_decide_at_touching_bounds() {
        let lo = Scalar::up_to(10);
        let hi = between(10, 20);
        assert_eq!(decided(&hi, Cmp::Ge, &lo), Some(true));
        assert_eq!(decided(&hi, Cmp::Gt, &lo), None);
        assert_eq!(decided(&lo, Cmp::Le, &hi), Some(true));
        assert_eq!(decided(&lo, Cmp::Lt, &hi), None);
        assert_eq!(decided(&lo, Cmp::Gt, &hi), Some(false));
        assert_eq!(decided(&hi, Cmp::Lt, &lo), Some(false));
        assert_eq!(decided(&lo, Cmp::SGt, &hi), Some(false));
        assert_eq!(decided(&hi, Cmp::SGe, &lo), Some(true));
        assert_eq!(decided(&hi, Cmp::SGt, &lo), None);
        assert_eq!(decided(&lo, Cmp::SLe, &hi), Some(true));
        assert_eq!(decided(&lo, Cmp::SLt, &hi), None);
        assert_eq!(decided(&hi, Cmp::SLt, &lo), Some(false));
        let apart = between(11, 20);
        assert_eq!(decided(&apart, Cmp::Gt, &lo), Some(true));
        assert_eq!(decided(&lo, Cmp::Lt, &apart), Some(true));
        assert_eq!(decided(&apart, Cmp::SGt, &lo), Some(true));
        assert_eq!(decided(&lo, Cmp::SLt, &apart), Some(true));
        assert_eq!(decided(&apart, Cmp::Eq, &lo), Some(false));
        assert_eq!(decided(&apart, Cmp::Ne, &lo), Some(true));
        assert_eq!(decided(&hi, Cmp::Eq, &lo), None);
        assert_eq!(
            decided(&Scalar::constant(4), Cmp::Set, &Scalar::constant(6)),
            Some(true)
        );
        assert_eq!(
            decided(&lo, Cmp::Set, &Scalar::constant(0x100)),
            Some(false)
        );
    }

    /// The transfer functions keep what the kernel keeps: exact bounds of
    /// sums, differences, products and shifts of small ranges.
    #[test]
    fn arithmetic_on_ranges_is_exact_where_the_kernel_is() {
        let a = between(10, 20);
        let b = between(1, 5);
        let s = alu64(AluOp::Add, &a, &b);
        assert_eq!((s.umin, s.umax), (11, 25));
        let d = alu64(AluOp::Sub, &a, &b);
        assert_eq!((d.umin, d.umax, d.smin, d.smax), (5, 19, 5, 19));
        let m = alu64(AluOp::Mul, &a, &b);
        assert_eq!((m.umin, m.umax), (10, 100));
        let l = alu64(AluOp::Lsh, &a, &Scalar::constant(2));
        assert_eq!((l.umin, l.umax), (40, 80));
        let r = alu64(AluOp::Rsh, &a, &Scalar::constant(1));
        assert_eq!((r.umin, r.umax), (5, 10));
        let n = alu64(AluOp::Arsh, &signed(-16, 16), &Scalar::constant(2));
        assert_eq!((n.smin, n.smax), (-4, 4));
        let o = alu64(AluOp::Or, &a, &Scalar::constant(0x100));
        assert!(o.umin >= 0x100);
        let w = alu32(AluOp::And, &Scalar::UNKNOWN, &Scalar::constant(0xff));
        assert_eq!((w.umin, w.umax), (0, 0xff));
        let wrap = alu64(AluOp::Sub, &b, &a);
        assert_eq!((wrap.smin, wrap.smax), (-19, -5));
        assert_eq!(Scalar::up_to(7).low32(), Scalar::up_to(7));
    }

    /// `a` ending where `b` starts, at `k`, signed or unsigned.
    fn touching(k: u64, below: u64, above: u64, signed_view: bool) -> (Scalar, Scalar) {
        if signed_view {
            let k = k as i64;
            (
                signed((below as i64).min(k), k),
                signed(k, (above as i64).max(k)),
            )
        } else {
            (between(below.min(k), k), between(k, above.max(k)))
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Ranges that touch at one value: where an ordering's strict and
        /// non-strict forms part, and an off-by-one in a decision shows.
        #[test]
        fn ranges_touching_at_one_value_compare_soundly(
            k in value(), below in value(), above in value(), signed_view in any::<bool>(), i in 0usize..11,
        ) {
            let op = CMPS[i];
            let (a, b) = touching(k, below, above, signed_view);
            prop_assume!(in_range(&a, k) && in_range(&b, k));
            for (x, y, l, r) in [(k, k, a, b), (k, k, b, a)] {
                let truth = holds(op, x, y);
                if let Some(d) = decided(&l, op, &r) {
                    prop_assert_eq!(d, truth, "{:?} decided wrongly on {:?} {:?}", op, l, r);
                }
                let (rl, rr) = if truth { refine(&l, op, &r) } else { refine_not(&l, op, &r) };
                prop_assert!(in_range(&rl, x) && in_range(&rr, y), "{op:?} {truth}: {l:?} {r:?} -> {rl:?} {rr:?}");
            }
        }
    }

    /// A known sign makes both views one interval (`sync`).
    #[test]
    fn a_known_sign_bounds_both_views() {
        let pos = signed(5, 100);
        assert_eq!((pos.umin, pos.umax), (5, 100));
        let neg = signed(-100, -5);
        assert_eq!((neg.umin, neg.umax), (-100i64 as u64, -5i64 as u64));
        let low = between(3, 0x7fff_ffff_ffff_ffff);
        assert_eq!((low.smin, low.smax), (3, i64::MAX));
    }

    /// Results keep the known bits of the operands' tnums.
    #[test]
    fn results_keep_the_tnums_known_bits() {
        let x = alu64(AluOp::Xor, &Scalar::up_to(0xf), &Scalar::constant(0x10));
        assert_eq!((x.t.value, x.t.mask), (0x10, 0xf));
        assert_eq!((x.umin, x.umax), (0x10, 0x1f));
    }

    /// Each reason two values differ decides `==` alone: unsigned bounds
    /// either way (only they, against a range across the sign bit), signed
    /// bounds either way (only they, against a range across zero), a known
    /// bit.
    #[test]
    fn each_reason_to_differ_decides_equality() {
        let unknown_sign = signed(-5, 5);
        let across_sign_bit = between(i64::MAX as u64, (1 << 63) + 1);
        let cases = [
            (between(0, 5), across_sign_bit),
            (across_sign_bit, between(0, 5)),
            (unknown_sign, Scalar::constant(100)),
            (Scalar::constant(100), unknown_sign),
            (
                alu64(AluOp::Or, &Scalar::UNKNOWN, &Scalar::constant(1)),
                Scalar::constant(2),
            ),
        ];
        for (a, b) in cases {
            assert_eq!(decided(&a, Cmp::Eq, &b), Some(false), "{a:?} {b:?}");
            assert_eq!(decided(&a, Cmp::Ne, &b), Some(true), "{a:?} {b:?}");
        }
    }

    /// At touching bounds the non-strict comparison cannot be decided false.
    #[test]
    fn touching_bounds_leave_non_strict_comparisons_open() {
        let lo = Scalar::up_to(10);
        let hi = between(10, 20);
        assert_eq!(decided(&lo, Cmp::Ge, &hi), None);
        assert_eq!(decided(&lo, Cmp::SGe, &hi), None);
        assert_eq!(decided(&hi, Cmp::Le, &lo), None);
        assert_eq!(decided(&hi, Cmp::SLe, &lo), None);
        assert_eq!(decided(&lo, Cmp::Gt, &hi), Some(false));
        assert_eq!(decided(&lo, Cmp::SGt, &hi), Some(false));
        assert_eq!(decided(&hi, Cmp::Lt, &lo), Some(false));
        assert_eq!(decided(&hi, Cmp::SLt, &lo), Some(false));
    }
}
