//! `hist` and `lhist` buckets as the manifest encodes them, a u64 at the
//! end of the key: the values each bucket holds, `min <= v < max` (`None`
//! for an open end). `hist`: 0 for v < 0, 1 for 0, k + 2 for 2^k <= v <
//! 2^(k+1). `lhist(min, max, step)`: 0 below `min`, 1 + (v - min) / step,
//! and past the last step the open bucket from `max` on. A bucket's upper
//! bound is its lower plus `step`, as bpftrace labels it, even where
//! `step` does not divide `max - min`.

use probecc::lang::manifest::LhistBounds;

/// The values `hist` bucket `i` holds.
pub fn hist_bounds(i: u64) -> (Option<i128>, Option<i128>) {
    match i {
        0 => (None, Some(0)),
        1 => (Some(0), Some(1)),
        i if i >= 65 => (Some(1i128 << 63), None),
        i => (Some(1i128 << (i - 2)), Some(1i128 << (i - 1))),
    }
}

/// How many buckets of `step` lie between `min` and `max` (the last may
/// reach past `max`).
pub fn lhist_steps(b: LhistBounds) -> i128 {
    let step = b.step.max(1) as i128;
    (b.max as i128 - b.min as i128 + step - 1).div_euclid(step)
}

/// The values `lhist` bucket `i` holds.
pub fn lhist_bounds(b: LhistBounds, i: u64) -> (Option<i128>, Option<i128>) {
    let step = b.step.max(1) as i128;
    let i = i as i128;
    if i == 0 {
        (None, Some(b.min as i128))
    } else if i > lhist_steps(b) {
        (Some(b.max as i128), None)
    } else {
        let lo = b.min as i128 + (i - 1) * step;
        (Some(lo), Some(lo + step))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hist_buckets_are_powers_of_two() {
        assert_eq!(hist_bounds(0), (None, Some(0)));
        assert_eq!(hist_bounds(1), (Some(0), Some(1)));
        assert_eq!(hist_bounds(2), (Some(1), Some(2)));
        assert_eq!(hist_bounds(4), (Some(4), Some(8)));
        assert_eq!(hist_bounds(64), (Some(1 << 62), Some(1 << 63)));
        assert_eq!(hist_bounds(65), (Some(1 << 63), None));
        assert_eq!(hist_bounds(u64::MAX), (Some(1 << 63), None));
    }

    #[test]
    fn lhist_buckets_are_steps_with_open_ends() {
        let b = LhistBounds {
            min: 0,
            max: 1024,
            step: 128,
        };
        assert_eq!(lhist_bounds(b, 0), (None, Some(0)));
        assert_eq!(lhist_bounds(b, 1), (Some(0), Some(128)));
        assert_eq!(lhist_bounds(b, 8), (Some(896), Some(1024)));
        assert_eq!(lhist_bounds(b, 9), (Some(1024), None));
        // A step that does not divide the range: the last step's bound
        // is not capped at max, as bpftrace labels it.
        let b = LhistBounds {
            min: -10,
            max: 1000,
            step: 300,
        };
        assert_eq!(lhist_steps(b), 4);
        assert_eq!(lhist_bounds(b, 0), (None, Some(-10)));
        assert_eq!(lhist_bounds(b, 4), (Some(890), Some(1190)));
        assert_eq!(lhist_bounds(b, 5), (Some(1000), None));
    }
}
