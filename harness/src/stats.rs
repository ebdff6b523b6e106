//! The median, the one statistic the measurements summarise a sample by:
//! the matrix's timed rounds (`results`) and the benches' repeated runs
//! (`bench`, `verifier_bench`) alike.

use std::time::Duration;

/// The middle value, or the mean of the middle two of an even count;
/// `None` for no values.
pub fn median(v: &[f64]) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(s[n / 2]),
        _ => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
    }
}

/// [`median`] of durations.
pub fn median_duration(v: &[Duration]) -> Option<Duration> {
    let secs: Vec<f64> = v.iter().map(Duration::as_secs_f64).collect();
    median(&secs).map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_lists() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let ms = Duration::from_millis;
        assert_eq!(median_duration(&[ms(9), ms(1), ms(4), ms(2)]), Some(ms(3)));
        assert_eq!(median_duration(&[]), None);
    }
}
