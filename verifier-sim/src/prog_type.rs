//! The program types verifier-sim checks, told apart by section as
//! loaders do, and what each allows: the size of its context and the
//! helpers it may call. A kprobe's ctx is the arch's `struct pt_regs`
//! (`kprobe_prog_is_valid_access`), its helpers `kprobe_prog_func_proto`
//! over `bpf_tracing_func_proto`. A raw tracepoint's (`raw_tp` sections:
//! the programs of `BEGIN`, `END` and `interval`, which a loader runs with
//! `BPF_PROG_TEST_RUN`) is `u64 args[MAX_BPF_FUNC_ARGS]`, 96 bytes read
//! only (`raw_tp_prog_is_valid_access`), its helpers
//! `raw_tp_prog_func_proto`: the tracing set with its own
//! `perf_event_output`, `get_stackid` and `get_stack`, and not kprobe's
//! `get_func_ip` and `get_attach_cookie`. An fentry/fexit program's
//! (`BPF_PROG_TYPE_TRACING`) follows [`crate::tracing`].

use probecc::arch::{Arch, KernelVersion};
use probecc::helpers::Helper;

/// `BPF_PROG_TYPE_KPROBE`, `BPF_PROG_TYPE_RAW_TRACEPOINT` or
/// `BPF_PROG_TYPE_TRACING`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgType {
    Kprobe,
    RawTracepoint,
    Tracing,
}

impl ProgType {
    /// The type a loader gives a program of `section`: libbpf's
    /// `raw_tp`/`raw_tracepoint` prefixes (bare, or with a tracepoint
    /// name) make a raw tracepoint, `fentry/` and `fexit/` a tracing
    /// program; anything else is checked as a kprobe.
    pub fn of_section(section: &str) -> ProgType {
        if crate::tracing::is_tracing(section) {
            return ProgType::Tracing;
        }
        let base = section.split('/').next().unwrap_or(section);
        match base {
            "raw_tp" | "raw_tracepoint" => ProgType::RawTracepoint,
            _ => ProgType::Kprobe,
        }
    }

    /// Bytes of the ctx the program may read.
    pub fn ctx_size(self, arch: Arch, kernel: KernelVersion) -> i64 {
        match self {
            ProgType::Kprobe => i64::from(arch.pt_regs_size(kernel)),
            // `u64 args[MAX_BPF_FUNC_ARGS]`, as a tracing program's.
            ProgType::RawTracepoint | ProgType::Tracing => crate::tracing::ctx_size(),
        }
    }

    /// Whether a program of this type may call `helper`.
    pub fn allows(self, helper: Helper) -> bool {
        match self {
            ProgType::Kprobe | ProgType::Tracing => true,
            ProgType::RawTracepoint => {
                !matches!(helper, Helper::GetFuncIp | Helper::GetAttachCookie)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_decide_the_type() {
        assert_eq!(ProgType::of_section("raw_tp"), ProgType::RawTracepoint);
        assert_eq!(
            ProgType::of_section("raw_tracepoint/sched_switch"),
            ProgType::RawTracepoint
        );
        assert_eq!(ProgType::of_section("kprobe/vfs_read"), ProgType::Kprobe);
        assert_eq!(ProgType::of_section("raw_tpx"), ProgType::Kprobe);
        assert_eq!(ProgType::of_section("fexit/vfs_read"), ProgType::Tracing);
    }

    #[test]
    fn raw_tracepoints_read_twelve_args_and_no_function_ip() {
        let k = KernelVersion(6, 1);
        assert_eq!(ProgType::RawTracepoint.ctx_size(Arch::S390x, k), 96);
        assert_eq!(ProgType::Kprobe.ctx_size(Arch::X86_64, k), 168);
        assert!(!ProgType::RawTracepoint.allows(Helper::GetFuncIp));
        assert!(ProgType::RawTracepoint.allows(Helper::RingbufReserve));
        assert!(ProgType::Kprobe.allows(Helper::GetFuncIp));
    }
}
