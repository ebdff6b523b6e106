//! verifier-sim: an abstract interpreter that applies the kernel verifier's
//! rules for `BPF_PROG_TYPE_KPROBE` programs offline. It reads the per-arch
//! `pt_regs` facts from `probecc::arch`; the ctx bound is the first rule
//! modelled.

use probecc::arch::{Arch, KernelVersion};

/// Checks one ctx (`struct pt_regs`) access the way the kernel's
/// `kprobe_prog_is_valid_access` does: a read, aligned to its size, inside
/// sizeof(pt_regs) of the target. The error text is the kernel's.
pub fn check_ctx_read(
    arch: Arch,
    kernel: KernelVersion,
    off: i64,
    size: u32,
) -> Result<(), String> {
    let limit = i64::from(arch.pt_regs_size(kernel));
    let size_i = i64::from(size);
    if off < 0 || off >= limit || off % size_i != 0 || off + size_i > limit {
        return Err(format!("invalid bpf_context access off={off} size={size}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctx_reads_follow_the_arch_size() {
        let v = KernelVersion(6, 1);
        assert!(check_ctx_read(Arch::X86_64, v, 160, 8).is_ok());
        assert_eq!(
            check_ctx_read(Arch::X86_64, v, 168, 8).unwrap_err(),
            "invalid bpf_context access off=168 size=8"
        );
        assert!(check_ctx_read(Arch::X86_64, v, 4, 8).is_err());
        assert!(check_ctx_read(Arch::Arm64, v, 256, 8).is_ok());
    }
}
