//! Tristate numbers, the kernel verifier's bit-level knowledge of a scalar
//! (`kernel/bpf/tnum.c`): every bit is known 0, known 1 or unknown. `value`
//! holds the known ones, `mask` the unknown bits; `value & mask == 0`.
//! Written here because no crate models the kernel's tnums.

/// A tristate number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tnum {
    pub value: u64,
    pub mask: u64,
}

// The kernel's names (tnum_add, tnum_sub, tnum_mul), not operator traits.
#[allow(clippy::should_implement_trait)]
impl Tnum {
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    pub const fn constant(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    pub fn is_const(self) -> bool {
        self.mask == 0
    }

    /// The tnum of every value in `[min, max]` (unsigned).
    pub fn range(min: u64, max: u64) -> Tnum {
        let chi = min ^ max;
        let bits = 64 - chi.leading_zeros();
        if bits > 63 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits) - 1;
        Tnum {
            value: min & !delta,
            mask: delta,
        }
    }

    pub fn add(self, b: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(b.mask);
        let sv = self.value.wrapping_add(b.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: sv & !mu,
            mask: mu,
        }
    }

    pub fn sub(self, b: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(b.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(b.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: dv & !mu,
            mask: mu,
        }
    }

    pub fn and(self, b: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = b.value | b.mask;
        let v = self.value & b.value;
        Tnum {
            value: v,
            mask: alpha & beta & !v,
        }
    }

    pub fn or(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v,
            mask: mu & !v,
        }
    }

    pub fn xor(self, b: Tnum) -> Tnum {
        let v = self.value ^ b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    pub fn lshift(self, n: u32) -> Tnum {
        Tnum {
            value: self.value << n,
            mask: self.mask << n,
        }
    }

    pub fn rshift(self, n: u32) -> Tnum {
        Tnum {
            value: self.value >> n,
            mask: self.mask >> n,
        }
    }

    /// Arithmetic shift right of the low `bits` (32 or 64) bits.
    pub fn arshift(self, n: u32, bits: u32) -> Tnum {
        if bits == 32 {
            Tnum {
                value: ((self.value as i32) >> n) as u32 as u64,
                mask: ((self.mask as i32) >> n) as u32 as u64,
            }
        } else {
            Tnum {
                value: ((self.value as i64) >> n) as u64,
                mask: ((self.mask as i64) >> n) as u64,
            }
        }
    }

    /// Multiplication (the kernel's shift-and-add over known bits).
    pub fn mul(self, b: Tnum) -> Tnum {
        let mut a = self;
        let mut b = b;
        let acc_v = a.value.wrapping_mul(b.value);
        let mut acc_m = Tnum::constant(0);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.mask,
                });
            } else if a.mask & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.value | b.mask,
                });
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        Tnum::constant(acc_v).add(acc_m)
    }

    /// What both `self` and `b` say (they describe the same value).
    pub fn intersect(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask & b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// The low 32 bits, zero-extended.
    pub fn subreg(self) -> Tnum {
        Tnum {
            value: self.value & 0xffff_ffff,
            mask: self.mask & 0xffff_ffff,
        }
    }

    /// Whether every value `b` can hold, `self` can hold.
    pub fn contains(self, b: Tnum) -> bool {
        if b.mask & !self.mask != 0 {
            return false;
        }
        (b.value & !self.mask) == self.value
    }

    /// The smallest and largest unsigned values.
    pub fn umin(self) -> u64 {
        self.value
    }
    pub fn umax(self) -> u64 {
        self.value | self.mask
    }

    /// Whether the tnum's sign bit is known.
    pub fn smin(self) -> i64 {
        if self.mask & (1 << 63) != 0 {
            (self.value | (self.mask & (1 << 63))) as i64
        } else {
            self.value as i64
        }
    }
    pub fn smax(self) -> i64 {
        if self.mask & (1 << 63) != 0 {
            ((self.value | self.mask) & !(1 << 63)) as i64
        } else {
            (self.value | self.mask) as i64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A tnum and a value it contains.
    fn member() -> impl Strategy<Value = (Tnum, u64)> {
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(v, m, pick)| {
            let t = Tnum {
                value: v & !m,
                mask: m,
            };
            (t, t.value | (pick & m))
        })
    }

    fn holds(t: Tnum, x: u64) -> bool {
        x & !t.mask == t.value
    }

    proptest! {
        #[test]
        fn operations_are_sound((a, x) in member(), (b, y) in member(), n in 0u32..64) {
            prop_assert!(holds(a.add(b), x.wrapping_add(y)));
            prop_assert!(holds(a.sub(b), x.wrapping_sub(y)));
            prop_assert!(holds(a.and(b), x & y));
            prop_assert!(holds(a.or(b), x | y));
            prop_assert!(holds(a.xor(b), x ^ y));
            prop_assert!(holds(a.mul(b), x.wrapping_mul(y)));
            prop_assert!(holds(a.lshift(n), x << n));
            prop_assert!(holds(a.rshift(n), x >> n));
            prop_assert!(holds(a.arshift(n, 64), ((x as i64) >> n) as u64));
            prop_assert!(a.umin() <= x && x <= a.umax());
            prop_assert!(a.smin() <= x as i64 && x as i64 <= a.smax());
        }

        #[test]
        fn ranges_contain_their_members(a in any::<u64>(), b in any::<u64>(), pick in any::<u64>()) {
            let (lo, hi) = (a.min(b), a.max(b));
            let x = lo + pick % (hi - lo).saturating_add(1).max(1);
            prop_assert!(holds(Tnum::range(lo, hi), x.min(hi)));
        }
    }

    #[test]
    fn constants_and_containment() {
        let five = Tnum::constant(5);
        assert!(five.is_const());
        assert_eq!(five.add(Tnum::constant(3)), Tnum::constant(8));
        assert!(Tnum::UNKNOWN.contains(five));
        assert!(!five.contains(Tnum::UNKNOWN));
        assert_eq!(Tnum::range(0, 7), Tnum { value: 0, mask: 7 });
        assert_eq!(Tnum::UNKNOWN.and(Tnum::constant(0xff)).umax(), 0xff);
    }
}
