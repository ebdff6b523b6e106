//! Generators for the property tests of [`crate::tnum`] and
//! [`crate::scalar`]: abstract values with a concrete member, made so that
//! the places where an off-by-one hides come up often — range endpoints
//! (the member is an endpoint a third of the time), exact constants,
//! nearly-known tnums (a few unknown bits), ranges that straddle the sign
//! bit and the 32-bit boundary, values next to powers of two.

use proptest::prelude::*;

use crate::scalar::Scalar;
use crate::tnum::Tnum;

/// Values next to the boundaries the verifier's arithmetic turns on.
pub const EDGES: &[u64] = &[
    0,
    1,
    2,
    3,
    7,
    8,
    15,
    16,
    63,
    64,
    255,
    256,
    4095,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_fffe,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0x8000_0000_0000_0001,
    0xffff_ffff_ffff_fff8,
    0xffff_ffff_ffff_fffe,
    0xffff_ffff_ffff_ffff,
];

/// A number: an edge, an edge moved by a little, a power of two, or any.
pub fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        proptest::sample::select(EDGES),
        (proptest::sample::select(EDGES), -3i64..=3).prop_map(|(e, d)| e.wrapping_add(d as u64)),
        (0u32..64).prop_map(|b| 1u64 << b),
        any::<u64>(),
        (0u64..64),
    ]
}

/// A tnum and a value it holds: constants, nearly-known (1 to 6 unknown
/// bits), the tnum of a range, or any.
pub fn tnum_member() -> impl Strategy<Value = (Tnum, u64)> {
    let pick = |t: Tnum, p: u64| t.value | (p & t.mask);
    prop_oneof![
        value().prop_map(|v| (Tnum::constant(v), v)),
        (
            value(),
            proptest::collection::vec(0u32..64, 1..=6),
            any::<u64>()
        )
            .prop_map(move |(v, bits, p)| {
                let mask = bits.iter().fold(0u64, |m, b| m | 1 << b);
                let t = Tnum {
                    value: v & !mask,
                    mask,
                };
                (t, pick(t, p))
            }),
        (value(), value(), any::<u64>()).prop_map(move |(a, b, p)| {
            let t = Tnum::range(a.min(b), a.max(b));
            (t, pick(t, p))
        }),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(move |(v, m, p)| {
            let t = Tnum {
                value: v & !m,
                mask: m,
            };
            (t, pick(t, p))
        }),
    ]
}

/// A value of `[lo, hi]` (unsigned): an endpoint a third of the time each.
fn within(lo: u64, hi: u64, p: u64) -> u64 {
    match p % 3 {
        0 => lo,
        1 => hi,
        _ => lo.wrapping_add((p / 3) % (hi - lo).saturating_add(1).max(1)),
    }
}

/// Whether `x` is a value `s` may hold.
pub fn holds(s: &Scalar, x: u64) -> bool {
    s.umin <= x
        && x <= s.umax
        && s.smin <= x as i64
        && x as i64 <= s.smax
        && x & !s.t.mask == s.t.value
}

/// A scalar whose bounds and tnum need not agree yet (as an ALU operation
/// leaves them before `sync`), and a value it holds: a constant; an
/// unsigned or a signed range (endpoints from [`value`]); a nearly-known
/// tnum bounded on one side at the member or past it; any.
pub fn raw_member() -> impl Strategy<Value = (Scalar, u64)> {
    prop_oneof![
        value().prop_map(|v| (Scalar::constant(v), v)),
        (value(), value(), any::<u64>()).prop_map(|(a, b, p)| {
            let (lo, hi) = (a.min(b), a.max(b));
            let mut s = Scalar::UNKNOWN;
            s.umin = lo;
            s.umax = hi;
            (s, within(lo, hi, p))
        }),
        (value(), value(), any::<u64>()).prop_map(|(a, b, p)| {
            let (lo, hi) = ((a as i64).min(b as i64), (a as i64).max(b as i64));
            let mut s = Scalar::UNKNOWN;
            s.smin = lo;
            s.smax = hi;
            let x = within(0, hi.wrapping_sub(lo) as u64, p).wrapping_add(lo as u64);
            (s, x)
        }),
        (tnum_member(), any::<u64>()).prop_map(|((t, x), p)| {
            let mut s = Scalar::UNKNOWN;
            s.t = t;
            if p & 1 == 0 {
                s.umax = x.saturating_add(p >> 60);
            } else {
                s.umin = x.saturating_sub(p >> 60);
            }
            (s, x)
        }),
        any::<u64>().prop_map(|x| (Scalar::UNKNOWN, x)),
    ]
}

/// A consistent scalar (synced, as the verifier keeps them) and a value
/// it holds if `sync` keeps what it must: every test asserts that first.
pub fn scalar_member() -> impl Strategy<Value = (Scalar, u64)> {
    raw_member().prop_map(|(mut s, x)| {
        s.sync();
        (s, x)
    })
}
