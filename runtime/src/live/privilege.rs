//! Whether this process may trace: loading kprobe programs takes
//! `CAP_BPF` and `CAP_PERFMON`, attaching them `CAP_PERFMON` (kernels
//! before 5.8 know neither and ask for `CAP_SYS_ADMIN`, which still
//! covers both). Read from the effective set in `/proc/self/status`, so
//! that a missing capability is named before the kernel answers `EPERM`.

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The capabilities tracing needs that this process lacks, by name;
/// empty when it has them (or when its status cannot be read: the kernel
/// will say).
pub fn missing() -> Vec<&'static str> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    match effective(&status) {
        Some(caps) => missing_from(caps),
        None => Vec::new(),
    }
}

/// The `CapEff:` mask of a `/proc/PID/status` text.
fn effective(status: &str) -> Option<u64> {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    u64::from_str_radix(hex, 16).ok()
}

/// What an effective set `caps` lacks of `CAP_BPF` and `CAP_PERFMON`,
/// unless it has `CAP_SYS_ADMIN`.
fn missing_from(caps: u64) -> Vec<&'static str> {
    let has = |bit: u32| caps & (1 << bit) != 0;
    if has(CAP_SYS_ADMIN) {
        return Vec::new();
    }
    [(CAP_BPF, "CAP_BPF"), (CAP_PERFMON, "CAP_PERFMON")]
        .into_iter()
        .filter(|&(bit, _)| !has(bit))
        .map(|(_, name)| name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_admin_or_both_new_capabilities_suffice() {
        // Root on a kernel before 5.8: bits 0..=37, CAP_SYS_ADMIN among them.
        assert!(missing_from(0x3f_ffff_ffff).is_empty());
        assert!(missing_from(1 << CAP_SYS_ADMIN).is_empty());
        assert!(missing_from((1 << CAP_BPF) | (1 << CAP_PERFMON)).is_empty());
        assert_eq!(missing_from(1 << CAP_BPF), ["CAP_PERFMON"]);
        assert_eq!(missing_from(1 << CAP_PERFMON), ["CAP_BPF"]);
        assert_eq!(missing_from(0), ["CAP_BPF", "CAP_PERFMON"]);
    }

    #[test]
    fn the_effective_set_is_read_from_the_status() {
        let status = "Name:\tcat\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n\
                      CapEff:\t0000008000000000\nCapBnd:\t000001ffffffffff\n";
        assert_eq!(effective(status), Some(1 << CAP_BPF));
        assert_eq!(effective("Name:\tcat\n"), None);
    }
}
