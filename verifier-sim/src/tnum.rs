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
    use crate::gen::{tnum_member as member, value};
    use proptest::prelude::*;

    fn holds(t: Tnum, x: u64) -> bool {
        x & !t.mask == t.value
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn operations_are_sound((a, x) in member(), (b, y) in member(), n in 0u32..64) {
            prop_assert!(holds(a, x) && holds(b, y));
            prop_assert!(holds(a.add(b), x.wrapping_add(y)), "add {a:?} {b:?}");
            prop_assert!(holds(a.sub(b), x.wrapping_sub(y)), "sub {a:?} {b:?}");
            prop_assert!(holds(a.and(b), x & y));
            prop_assert!(holds(a.or(b), x | y));
            prop_assert!(holds(a.xor(b), x ^ y));
            prop_assert!(holds(a.mul(b), x.wrapping_mul(y)), "mul {a:?} {b:?}");
            prop_assert!(holds(a.lshift(n), x << n));
            prop_assert!(holds(a.rshift(n), x >> n));
            prop_assert!(holds(a.arshift(n, 64), ((x as i64) >> n) as u64));
            let n32 = n % 32;
            let x32 = u64::from(x as u32);
            prop_assert!(holds(a.subreg().arshift(n32, 32), u64::from(((x as u32 as i32) >> n32) as u32)));
            prop_assert!(holds(a.subreg(), x32));
            prop_assert!(a.umin() <= x && x <= a.umax());
            prop_assert!(a.smin() <= x as i64 && x as i64 <= a.smax());
            if holds(b, x) {
                prop_assert!(holds(a.intersect(b), x), "intersect {a:?} {b:?}");
            }
            if a.contains(b) {
                prop_assert!(holds(a, y), "{a:?} contains {b:?} but not {y:#x}");
            }
        }

        /// Every value of a range, its endpoints included, is in its tnum.
        #[test]
        fn ranges_contain_their_members(a in value(), b in value(), pick in any::<u64>()) {
            let (lo, hi) = (a.min(b), a.max(b));
            let t = Tnum::range(lo, hi);
            prop_assert!(holds(t, lo) && holds(t, hi), "{lo:#x}..{hi:#x}: {t:?}");
            let x = lo.wrapping_add(pick % (hi - lo).saturating_add(1).max(1));
            prop_assert!(holds(t, x.min(hi)));
        }

        /// A range's tnum is no wider than its span needs: it knows the
        /// bits above the highest one where the endpoints differ.
        #[test]
        fn ranges_know_the_common_prefix(a in value(), b in value()) {
            let (lo, hi) = (a.min(b), a.max(b));
            let t = Tnum::range(lo, hi);
            let span = 64 - (lo ^ hi).leading_zeros();
            if span < 64 {
                prop_assert_eq!(t.mask, (1u64 << span) - 1, "{:#x}..{:#x}", lo, hi);
                prop_assert_eq!(t.value, lo & !t.mask);
            } else {
                prop_assert_eq!(t, Tnum::UNKNOWN);
            }
        }
    }

    #[test]
    fn constants_and_containment() {
        let five = Tnum::constant(5);
        assert!(five.is_const());
        assert!(!Tnum { value: 4, mask: 1 }.is_const());
        assert_eq!(five.add(Tnum::constant(3)), Tnum::constant(8));
        assert_eq!(five.sub(Tnum::constant(7)), Tnum::constant(-2i64 as u64));
        assert_eq!(five.mul(Tnum::constant(3)), Tnum::constant(15));
        assert!(Tnum::UNKNOWN.contains(five));
        assert!(!five.contains(Tnum::UNKNOWN));
        assert!(!five.contains(Tnum::constant(4)));
        assert!(Tnum { value: 4, mask: 1 }.contains(five));
        assert_eq!(Tnum::range(0, 7), Tnum { value: 0, mask: 7 });
        assert_eq!(Tnum::range(8, 8), Tnum::constant(8));
        assert_eq!(Tnum::range(4, 5), Tnum { value: 4, mask: 1 });
        assert_eq!(Tnum::UNKNOWN.and(Tnum::constant(0xff)).umax(), 0xff);
    }

    /// Exact results where the operands are nearly known: the kernel's
    /// arithmetic keeps every known bit it can, and so must this.
    #[test]
    fn nearly_known_operands_keep_their_known_bits() {
        let x = Tnum {
            value: 0b1000,
            mask: 0b0001,
        }; // 8 or 9
        assert_eq!(
            x.add(Tnum::constant(1)),
            Tnum {
                value: 0b1000,
                mask: 0b0011
            }
        );
        assert_eq!(
            x.add(Tnum::constant(2)),
            Tnum {
                value: 0b1010,
                mask: 0b0001
            }
        );
        assert_eq!(x.sub(Tnum::constant(8)), Tnum { value: 0, mask: 1 });
        assert_eq!(x.or(Tnum::constant(1)), Tnum::constant(9));
        assert_eq!(x.and(Tnum::constant(0b1110)), Tnum::constant(8));
        assert_eq!(x.xor(Tnum::constant(0b1000)), Tnum { value: 0, mask: 1 });
        assert_eq!(
            x.lshift(4),
            Tnum {
                value: 0x80,
                mask: 0x10
            }
        );
        assert_eq!(x.rshift(3), Tnum { value: 1, mask: 0 });
        assert_eq!(x.mul(Tnum::constant(2)), Tnum { value: 16, mask: 2 });
        assert_eq!(x.umin(), 8);
        assert_eq!(x.umax(), 9);
        let neg = Tnum {
            value: 1 << 63,
            mask: 1,
        };
        assert_eq!(neg.smin(), i64::MIN);
        assert_eq!(neg.smax(), i64::MIN + 1);
        let sign = Tnum {
            value: 0,
            mask: (1 << 63) | 3,
        };
        assert_eq!(sign.smin(), i64::MIN);
        assert_eq!(sign.smax(), 3);
        assert_eq!(
            Tnum {
                value: 0x8000_0000,
                mask: 1
            }
            .arshift(4, 32),
            Tnum {
                value: 0xf800_0000,
                mask: 0
            }
        );
        assert_eq!(
            Tnum {
                value: 0x8000_0000,
                mask: 0x10
            }
            .arshift(4, 32),
            Tnum {
                value: 0xf800_0000,
                mask: 1
            }
        );
        assert_eq!(
            Tnum {
                value: 0xffff_0000_1234_0000,
                mask: 0xff
            }
            .subreg(),
            Tnum {
                value: 0x1234_0000,
                mask: 0xff
            }
        );
        assert_eq!(
            Tnum {
                value: 0b100,
                mask: 0b011
            }
            .intersect(Tnum {
                value: 0b110,
                mask: 0b001
            }),
            Tnum {
                value: 0b110,
                mask: 0b001
            }
        );
    }
}
