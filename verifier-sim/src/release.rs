//! The verifier's rules that changed between kernel releases, in one
//! table: each [`Change`] names the kernel commit that made it and the
//! first release with it, and [`Rules`] (a kernel release, an arch and
//! whether the JIT is on) answers whether a change is in force. The rest
//! of verifier-sim asks [`Rules::has`]; no other module compares kernel
//! versions.
//!
//! Rules every supported release shares (6.1 on) are not here: they are
//! simply the model. A change is listed when a program's verdict or the
//! kernel's message differs between two releases probecc targets (Debian's
//! 6.1, 6.12 and newer, and the kernels users name with `--kernel`).

use probecc::arch::{Arch, KernelVersion};

/// One change of the verifier's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// A privileged program may read stack bytes it never wrote, directly
    /// (they read as unknown) or through a helper's memory argument, and a
    /// helper may fill a stack buffer of a variable size. Before, each such
    /// read is refused (`invalid read from stack`, `invalid indirect read
    /// from stack`), and so is a variable size for a buffer the helper
    /// writes, unless the buffer is initialised.
    UninitStackReads,
    /// The instructions of cpu v4: sign-extending loads (`BPF_MEMSX`) and
    /// moves, signed division and modulo, unconditional byte swaps and
    /// 32-bit-offset jumps (`gotol`). Before, unknown opcodes or reserved
    /// fields.
    CpuV4,
    /// Callbacks (`bpf_loop`, `bpf_for_each_map_elem`) are verified as if
    /// called any number of times, zero included: the path after the call
    /// goes on without the callback, and each return from the callback
    /// calls it again with the caller's stack as the last call left it.
    /// Before, the callback was followed once.
    CallbacksAnyNumberOfTimes,
    /// A comparison of two registers neither of which is a known constant
    /// teaches both their bounds, and decides the branch when their ranges
    /// do. Before, a branch is decided only against a constant source, what
    /// is learnt is learnt only against a constant, and of two unknowns
    /// only `==` and `!=` of 64 bits teach anything.
    RangeVsRange,
    /// A callback's return value outside its range is reported as
    /// `should have been in [0, 1]`; before, as a tnum `(0x0; 0x1)`.
    RetvalRangeMessage,
    /// Combined stack sizes of JIT-compiled programs are rounded up to 16
    /// bytes per frame; before (and without the JIT), to 32.
    JitStackRounding16,
    /// Kprobe programs without tail calls run each frame of 64 bytes or
    /// more on a private stack, when the arch's JIT supports it: such
    /// frames no longer count towards the 512-byte combined stack, only
    /// towards their own 512. Kernel builds differ here: the 6.18.44 host
    /// of the differential runs refuses two 304-byte frames (`combined
    /// stack size of 2 calls is 608`), another build of it accepted them.
    /// So it is assumed only when [`Rules::private_stack`] says so.
    PrivateStack,
    /// `bpf_map_lookup_elem` on an array map with a constant key below
    /// `max_entries` (on the stack, spilled or zero) returns a map value,
    /// not `map_value_or_null`.
    ConstKeyArrayLookupNotNull,
    /// A reference leaked at exit is followed by `BPF_EXIT instruction in
    /// main prog would lead to reference leak` (the `Unreleased reference`
    /// line stays before it).
    LeakAtExitMessage,
    /// A tail call in a program with BPF-to-BPF calls that no JIT will
    /// build is refused as `mixing of tail_calls and bpf-to-bpf calls is
    /// not supported`; before, as `tail_calls are not allowed in non-JITed
    /// programs with bpf-to-bpf calls`. Both at the call.
    TailCallMixingMessage,
}

/// A change: what, since when, by which commit.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub change: Change,
    /// The first release with the change.
    pub since: KernelVersion,
    /// The arches whose JIT it needs, with the release each got it;
    /// empty when it applies on every arch.
    pub arches: &'static [(Arch, KernelVersion)],
    /// Whether it applies only when the JIT compiles the program.
    pub needs_jit: bool,
    /// Whether it applies only when the kernel build is known to have it
    /// ([`Rules::private_stack`]).
    pub needs_build: bool,
    /// The kernel commit (`kernel/bpf/verifier.c`), abbreviated id and title.
    pub commit: &'static str,
}

/// Every change, oldest first.
pub const CHANGES: &[Entry] = &[
    Entry {
        change: Change::UninitStackReads,
        since: KernelVersion(6, 4),
        arches: &[],
        needs_jit: false,
        needs_build: false,
        commit: "6715df8d5d24 bpf: Allow reads from uninit stack",
    },
    Entry {
        change: Change::CpuV4,
        since: KernelVersion(6, 6),
        arches: &[],
        needs_jit: false,
        needs_build: false,
        commit: "bpf: Support new sign-extension load insns, ... (the cpu v4 series)",
    },
    Entry {
        change: Change::CallbacksAnyNumberOfTimes,
        since: KernelVersion(6, 7),
        arches: &[],
        needs_jit: false,
        needs_build: false,
        commit: "ab5cfac139ab bpf: verify callbacks as if they are called unknown number of times",
    },
    Entry {
        change: Change::RangeVsRange,
        since: KernelVersion(6, 8),
        arches: &[],
        needs_jit: false,
        needs_build: false,
        commit: "4621202adc5b bpf: generalize reg_set_min_max() to handle non-const register comparisons; fc3615dd0ee9 bpf: generalize is_branch_taken to work with two registers",
    },
    Entry {
        change: Change::RetvalRangeMessage,
        since: KernelVersion(6, 8),
        arches: &[],
        needs_jit: false,
        needs_build: false,
        commit: "bpf: enforce precise retval range on program exit (struct bpf_retval_range)",
    },
    Entry {
        change: Change::JitStackRounding16,
        since: KernelVersion(6, 9),
        arches: &[],
        needs_jit: true,
        needs_build: false,
        commit: "bpf: Fix test verif_scale_strobemeta_subprogs failure due to llvm19 (round_up_stack_depth)",
    },
    Entry {
        change: Change::PrivateStack,
        since: KernelVersion(6, 13),
        arches: &[
            (Arch::X86_64, KernelVersion(6, 13)),
            (Arch::Arm64, KernelVersion(6, 17)),
            // seen in Debian 7.2's guest; the release that brought
            // ppc64's is not identified
            (Arch::Ppc64le, KernelVersion(7, 2)),
        ],
        needs_jit: true,
        needs_build: true,
        commit: "bpf: Support private stack for bpf progs (bpf_enable_priv_stack); arm64: bpf, arm64: JIT support for private stack",
    },
    Entry {
        change: Change::ConstKeyArrayLookupNotNull,
        since: KernelVersion(6, 14),
        arches: &[],
        needs_jit: false,
        needs_build: false,
        commit: "d2102f2f5d75 bpf: verifier: Support eliding map lookup nullness",
    },
    Entry {
        change: Change::LeakAtExitMessage,
        since: KernelVersion(6, 14),
        arches: &[],
        needs_jit: false,
        needs_build: false,
        commit: "bpf: Improve verifier log for resource leak on exit (check_resource_leak)",
    },
    Entry {
        change: Change::TailCallMixingMessage,
        // 6.12's guests print the old words and 7.2's the new; the
        // release between is not identified, so the first after 6.18.
        since: KernelVersion(7, 0),
        arches: &[],
        needs_jit: false,
        needs_build: false,
        commit: "bpf: reword check_map_func_compatibility's refusal of tail calls beside bpf-to-bpf calls (first seen in 7.2)",
    },
];

/// Debian's kernels known to run kprobe frames on private stacks
/// ([`Change::PrivateStack`]), by arch and first release: sid's 7.2
/// guests accepted call chains of 608 bytes that 6.12 and the 6.18 host
/// refuse (riscv64's refuses them). Releases between were not booted.
pub const DEBIAN_PRIVATE_STACK: &[(Arch, KernelVersion)] = &[
    (Arch::X86_64, KernelVersion(7, 2)),
    (Arch::Arm64, KernelVersion(7, 2)),
    (Arch::Ppc64le, KernelVersion(7, 2)),
];

/// The rules of one kernel release on one arch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    pub kernel: KernelVersion,
    pub arch: Arch,
    /// Whether the kernel JIT-compiles the program (`net.core.bpf_jit_enable`).
    pub jit: bool,
    /// Whether the kernel build is known to run kprobe frames on private
    /// stacks ([`Change::PrivateStack`]); off unless measured, because a
    /// false "accepted" is worse than a false "rejected".
    pub private_stack: bool,
    /// Whether the kernel has its own BTF (`CONFIG_DEBUG_INFO_BTF`): without
    /// it a loader cannot relocate CO-RE reads, and the verifier refuses
    /// reads of a `struct bpf_map`. A property of the kernel's build, as
    /// the JIT is; on unless the judge is known to lack it.
    pub btf: bool,
}

impl Rules {
    /// `kernel`'s rules on `arch`, with the JIT as Debian's kernel for it
    /// has it ([`jit_by_default`]) and the kernel's own BTF (a build
    /// without it is the exception: Debian's s390x and ppc64le before
    /// 6.12, [`Rules::debian`]).
    pub fn new(arch: Arch, kernel: KernelVersion) -> Rules {
        Rules {
            kernel,
            arch,
            jit: jit_by_default(arch),
            private_stack: false,
            btf: true,
        }
    }

    /// [`Rules::new`] with BTF as Debian's kernel of `arch` at `kernel`
    /// has it (the arch table's `btf_since`, which the QEMU matrix holds
    /// against every default kernel's config), and private stacks where
    /// its guests showed them ([`DEBIAN_PRIVATE_STACK`]).
    pub fn debian(arch: Arch, kernel: KernelVersion) -> Rules {
        Rules {
            btf: kernel >= arch.info().btf_since,
            private_stack: DEBIAN_PRIVATE_STACK
                .iter()
                .any(|(a, since)| *a == arch && kernel >= *since),
            ..Rules::new(arch, kernel)
        }
    }

    /// Whether `change` is in force.
    pub fn has(&self, change: Change) -> bool {
        let Some(e) = CHANGES.iter().find(|e| e.change == change) else {
            return false;
        };
        if self.kernel < e.since
            || (e.needs_jit && !self.jit)
            || (e.needs_build && !self.private_stack)
        {
            return false;
        }
        e.arches.is_empty()
            || e.arches
                .iter()
                .any(|(a, since)| *a == self.arch && self.kernel >= *since)
    }

    /// Every change in force, in table order.
    pub fn changes(&self) -> Vec<Change> {
        CHANGES
            .iter()
            .map(|e| e.change)
            .filter(|c| self.has(*c))
            .collect()
    }
}

/// Whether Debian's kernel for `arch` JIT-compiles BPF programs: every arch
/// but s390x, whose Debian kernels run programs in the interpreter (the
/// arch table's fact).
pub fn jit_by_default(arch: Arch) -> bool {
    arch.info().jit_by_default
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_releases_differ_where_the_table_says() {
        let bookworm = Rules::new(Arch::X86_64, KernelVersion(6, 1));
        let trixie = Rules::new(Arch::X86_64, KernelVersion(6, 12));
        let host = Rules::new(Arch::X86_64, KernelVersion(6, 18));
        assert!(bookworm.changes().is_empty());
        assert_eq!(
            trixie.changes(),
            [
                Change::UninitStackReads,
                Change::CpuV4,
                Change::CallbacksAnyNumberOfTimes,
                Change::RangeVsRange,
                Change::RetvalRangeMessage,
                Change::JitStackRounding16
            ]
        );
        // All but the unmeasured build's and the one after 6.18.
        assert_eq!(host.changes().len(), CHANGES.len() - 2);
        assert!(!host.has(Change::PrivateStack));
        assert!(!host.has(Change::TailCallMixingMessage));
        assert!(Rules::new(Arch::X86_64, KernelVersion(7, 2)).has(Change::TailCallMixingMessage));
    }

    #[test]
    fn jit_and_arch_bound_changes_need_both() {
        let measured = |arch, kernel| Rules {
            private_stack: true,
            ..Rules::new(arch, kernel)
        };
        assert!(!measured(Arch::Arm64, KernelVersion(6, 13)).has(Change::PrivateStack));
        assert!(measured(Arch::Arm64, KernelVersion(6, 18)).has(Change::PrivateStack));
        assert!(measured(Arch::X86_64, KernelVersion(6, 13)).has(Change::PrivateStack));
        assert!(!measured(Arch::X86_64, KernelVersion(6, 12)).has(Change::PrivateStack));
        assert!(measured(Arch::Ppc64le, KernelVersion(7, 2)).has(Change::PrivateStack));
        assert!(!measured(Arch::Ppc64le, KernelVersion(6, 18)).has(Change::PrivateStack));
        // Debian's builds, as their 7.2 guests showed.
        let debian = |arch| Rules::debian(arch, KernelVersion(7, 2));
        assert!(debian(Arch::X86_64).has(Change::PrivateStack));
        assert!(debian(Arch::Ppc64le).has(Change::PrivateStack));
        assert!(!debian(Arch::Riscv64).has(Change::PrivateStack));
        assert!(!Rules::debian(Arch::X86_64, KernelVersion(6, 12)).private_stack);
        let s390 = Rules {
            private_stack: true,
            ..Rules::new(Arch::S390x, KernelVersion(6, 18))
        };
        assert!(!s390.jit);
        assert!(!s390.has(Change::JitStackRounding16));
        assert!(!s390.has(Change::PrivateStack));
        let interp = Rules {
            jit: false,
            private_stack: true,
            ..Rules::new(Arch::X86_64, KernelVersion(6, 18))
        };
        assert!(!interp.has(Change::PrivateStack));
        assert!(interp.has(Change::ConstKeyArrayLookupNotNull));
    }

    #[test]
    fn the_table_is_in_release_order_and_names_each_change_once() {
        assert!(CHANGES.windows(2).all(|w| w[0].since <= w[1].since));
        for (i, e) in CHANGES.iter().enumerate() {
            assert!(CHANGES[i + 1..].iter().all(|o| o.change != e.change));
            assert!(!e.commit.is_empty());
        }
    }
}
