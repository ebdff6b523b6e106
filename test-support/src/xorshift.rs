//! xorshift64* (Vigna, "An experimental exploration of Marsaglia's
//! xorshift generators, scrambled"): the seeded stream behind the runner's
//! `bpf_get_prandom_u32`, `cargo xtask soak`'s random events and mutants,
//! and the tests' random instructions. Reproducible from its seed, not
//! statistically strong, and no dependency for that.

/// A xorshift64* generator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XorShift64Star {
    state: u64,
}

impl XorShift64Star {
    /// A generator seeded with `seed` (0, which would stay 0, counts as 1).
    pub fn new(seed: u64) -> Self {
        XorShift64Star { state: seed.max(1) }
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The next 32 bits: the high half, the better half of xorshift64*.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// One of `xs`, which must not be empty.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_xorshift64_star() {
        let mut r = XorShift64Star::new(1);
        // The state after one step from 1 is 0x2000001 ^ (that >> 27).
        let x = 1u64 ^ (1 << 25);
        let x = x ^ (x >> 27);
        assert_eq!(r.next_u64(), x.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let mut a = XorShift64Star::new(7);
        let mut b = XorShift64Star::new(7);
        let s: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        assert!(
            s.iter().all(|&v| v == b.next_u64()),
            "same seed, same stream"
        );
        assert_eq!(XorShift64Star::new(0), XorShift64Star::new(1));
        let mut c = XorShift64Star::new(7);
        assert_eq!(c.next_u32(), (s[0] >> 32) as u32);
    }

    #[test]
    fn below_and_pick_stay_in_range() {
        let mut r = XorShift64Star::new(42);
        assert!((0..1000).all(|_| r.below(3) < 3));
        assert_eq!(r.below(0), 0);
        let xs = ['a', 'b'];
        assert!((0..100).all(|_| xs.contains(&r.pick(&xs))));
    }
}
