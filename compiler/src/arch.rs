//! The five target architectures and everything probecc must know about each:
//! byte order, where `struct pt_regs` keeps the argument, return-value, stack
//! and instruction-pointer registers, how many arguments travel in registers,
//! how syscall arguments are reached, sizeof(pt_regs) per kernel release,
//! the Debian releases that ship a kernel for it, and its names in Debian,
//! libbpf and Rust.
//!
//! This is the one table every crate reads (compiler, verifier-sim, vm-tests,
//! guest, xtask): [`ARCHS`], one [`ArchInfo`] row per arch. The offsets are
//! those of the kernel headers, which libbpf's `bpf_tracing.h` agrees with;
//! the QEMU matrix checks them against real kernels.

use std::fmt;
use std::str::FromStr;

use crate::insn::{Endian, Size};
use crate::offsets::{decode, rules, TextRules};

/// A target architecture. Canonical names are used for every directory,
/// report and JSON field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    X86_64,
    Arm64,
    S390x,
    Ppc64le,
    Riscv64,
}

/// How a syscall's own arguments are reached from a kprobe on its entry symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallAbi {
    /// The prefix of the kernel symbol of syscall `NAME`: `<prefix>NAME`.
    pub prefix: &'static str,
    /// The first release whose syscall entry points are wrappers
    /// (`ARCH_HAS_SYSCALL_WRAPPER`): their one argument is a pointer to the
    /// user `pt_regs`, and arguments are read through it with
    /// `bpf_probe_read_kernel`. Before it, they are the function's own.
    pub wrapper_since: KernelVersion,
    /// Offsets in the (user) `pt_regs` of syscall arguments 0..5.
    pub args: [u16; 6],
}

/// Where `struct pt_regs` keeps each register of interest, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtRegs {
    /// Function arguments passed in registers, in order.
    pub args: &'static [u16],
    /// The return-value register (kretprobes).
    pub ret: u16,
    pub sp: u16,
    pub ip: u16,
    /// sizeof(struct pt_regs): `(from_release, size)` in ascending release
    /// order; the kernel's kprobe ctx check is `off + size <= sizeof(pt_regs)`.
    pub sizes: &'static [(KernelVersion, u16)],
    pub syscall: SyscallAbi,
}

/// A kernel release, major.minor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion(pub u16, pub u16);

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

impl FromStr for KernelVersion {
    type Err = ArchError;
    /// Parses `6.1`, `6.12.38`, `6.1.0-37-arm64` and the like.
    fn from_str(s: &str) -> Result<Self, ArchError> {
        let bad = || ArchError::BadKernelVersion(s.to_string());
        let mut parts = s.split(|c: char| !c.is_ascii_digit());
        let major = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let minor = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        Ok(KernelVersion(major, minor))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchError {
    #[error("unknown architecture `{0}` (expected one of x86_64, arm64, s390x, ppc64le, riscv64; aliases aarch64, powerpc64le, amd64)")]
    Unknown(String),
    #[error("{arch} passes {max} arguments in registers (arg0..arg{last}); arg{index} is on the stack", last = max - 1)]
    ArgOutOfRange {
        arch: Arch,
        index: usize,
        max: usize,
    },
    #[error("syscall argument {index} does not exist (syscalls take at most 6)")]
    SyscallArgOutOfRange { index: usize },
    #[error("`{0}` is not a kernel version (expected e.g. 6.1 or 6.12.38)")]
    BadKernelVersion(String),
}

/// A Debian release that ships a kernel for an arch, and that kernel's
/// version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DebianKernel {
    /// The release's code name: `bookworm`, `trixie`.
    pub release: &'static str,
    pub version: KernelVersion,
}

/// Whether one Debian release's kernel for an arch has the kprobe-multi
/// link (`BPF_TRACE_KPROBE_MULTI`: Linux 5.18 or later built with
/// `CONFIG_FPROBE`). Read from Debian's kernel configs and verified in
/// QEMU: every matrix boot attaches an empty kprobe-multi program and
/// fails where the kernel contradicts its row
/// (`probecc_harness::results::ArchResult::check_kprobe_multi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KprobeMulti {
    /// The release's code name (`sid`: Debian unstable).
    pub release: &'static str,
    pub supported: bool,
}

const fn multi(release: &'static str, supported: bool) -> KprobeMulti {
    KprobeMulti { release, supported }
}

/// Everything probecc knows of one arch: one row of [`ARCHS`], which every
/// method of [`Arch`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchInfo {
    pub arch: Arch,
    /// The canonical name, used for every directory, report and JSON field.
    pub name: &'static str,
    /// Other names users type for it.
    pub aliases: &'static [&'static str],
    pub endian: Endian,
    pub regs: PtRegs,
    /// The stable Debian releases with a kernel for this arch, oldest
    /// first (Debian unstable, `sid`, has every arch; its kernel version
    /// moves). The oldest one's kernel is [`Arch::default_kernel`].
    pub debian_kernels: &'static [DebianKernel],
    /// Which Debian releases' kernels offer the kprobe-multi link.
    pub kprobe_multi: &'static [KprobeMulti],
    /// The `__TARGET_ARCH_*` macro value libbpf's `bpf_tracing.h` expects.
    pub libbpf_target_arch: &'static str,
    /// Debian's architecture name.
    pub debian_arch: &'static str,
    /// Debian's multiarch tuple: the directory (`/usr/lib/<tuple>`) that
    /// holds this arch's shared libraries.
    pub multiarch: &'static str,
    /// The Rust target triple of a static guest binary.
    pub rust_target: &'static str,
    /// Whether kernel and user addresses never overlap
    /// (`ARCH_HAS_NON_OVERLAPPING_ADDRESS_SPACE`): an address says which
    /// memory it is in, so a `str()` whose kernel read fails may be a user
    /// pointer and is read again as one. s390x's two address spaces share
    /// their addresses.
    pub split_address_space: bool,
    /// The ELF `e_machine` of its kernel images (a vmlinux).
    pub elf_machine: u16,
    /// How its kernel text splits into instructions, and where its kernel
    /// refuses a kprobe (`kprobe:FUNC+OFFSET`): see [`crate::offsets`].
    pub text: TextRules,
    /// The first kernel release where fentry and fexit programs attach to
    /// kernel functions: its JIT builds BPF trampolines
    /// (`arch_prepare_bpf_trampoline`) and its ftrace calls them
    /// (`DYNAMIC_FTRACE_WITH_DIRECT_CALLS`; without it `register_fentry`
    /// says `ENOTSUPP`); `None` where no release has both. From the
    /// kernel's history, each row saying how far QEMU has verified it.
    pub trampolines_since: Option<KernelVersion>,
    /// Whether the arch's BPF JIT makes an atomic add a load-reserved /
    /// store-conditional retry loop (ppc64: `ldarx`, `add`, `stdcx.`,
    /// `bne`), where a plain load, add and store is shorter. Elsewhere it
    /// is one instruction: x86's `lock add`, arm64's LSE `stadd`, s390x's
    /// `laag`, riscv64's `amoadd.d`. From each JIT's `BPF_ATOMIC` case.
    pub atomic_add_loops: bool,
    /// The struct the kernel's `bpf_user_pt_regs_t` (a kprobe's context
    /// type) names: `struct pt_regs` on x86_64, the uapi `user_pt_regs`
    /// or `user_regs_struct` elsewhere, `None` where it is an anonymous
    /// struct (s390x). A global function's pointer argument is the
    /// context only when it points to this struct, or is written as the
    /// typedef `bpf_user_pt_regs_t` (`btf_is_prog_ctx_type`); a `struct
    /// pt_regs *` on another arch is memory that may be NULL. From each
    /// arch's `asm/bpf_perf_event.h` (`include/uapi`).
    pub kprobe_ctx_struct: Option<&'static str>,
    /// The first release whose JIT mixes tail calls with BPF-to-BPF calls
    /// (`bpf_jit_supports_subprog_tailcalls`); before it, or with the JIT
    /// off, the verifier refuses such a program at its tail call ("tail_calls
    /// are not allowed in non-JITed programs with bpf-to-bpf calls", worded
    /// "mixing of tail_calls and bpf-to-bpf calls is not supported" by 7.2).
    /// ppc64's came with its trampolines (6.13): its 6.12 refused them in
    /// QEMU, as riscv64's 6.12 and 7.2 do.
    pub subprog_tailcalls_since: Option<KernelVersion>,
    /// Whether its Debian kernels JIT-compile BPF programs by default.
    /// Where they run them in the interpreter (s390x), the verifier
    /// refuses callbacks (`bpf_for_each_map_elem`'s): `callbacks are not
    /// allowed in non-JITed programs`.
    pub jit_by_default: bool,
    /// The first of its Debian kernels built with
    /// `CONFIG_DEBUG_INFO_BTF` (checked in each default kernel's config):
    /// before it `/sys/kernel/btf/vmlinux` is absent, so a loader cannot
    /// relocate an object's CO-RE reads, and the verifier refuses reads
    /// of a map's `struct bpf_map` ("map_ptr access not supported without
    /// CONFIG_DEBUG_INFO_BTF").
    pub btf_since: KernelVersion,
    /// Whether its Debian kernels are built with
    /// `CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS` (checked in each default
    /// kernel's config). Without it the verifier holds every access wider
    /// than a byte through any pointer to its size's alignment
    /// (`env->strict_alignment`): `misaligned value access off 0+3 size 8`.
    /// riscv64 selects it only with `RISCV_EFFICIENT_UNALIGNED_ACCESS`,
    /// which Debian's generic kernels leave off.
    pub efficient_unaligned_access: bool,
}

const BOOKWORM: DebianKernel = DebianKernel {
    release: "bookworm",
    version: KernelVersion(6, 1),
};
const TRIXIE: DebianKernel = DebianKernel {
    release: "trixie",
    version: KernelVersion(6, 12),
};

/// The table, one row per arch, in [`Arch::ALL`] order.
pub const ARCHS: [ArchInfo; 5] = [
    ArchInfo {
        arch: Arch::X86_64,
        name: "x86_64",
        aliases: &["amd64", "x86-64", "x64"],
        endian: Endian::Little,
        regs: PtRegs {
            // di, si, dx, cx, r8, r9
            args: &[112, 104, 96, 88, 72, 64],
            ret: 80,
            sp: 152,
            ip: 128,
            sizes: &[(KernelVersion(0, 0), 168)],
            // The user regs hold arg3 in r10 (the syscall ABI), not cx.
            syscall: SyscallAbi {
                prefix: "__x64_sys_",
                wrapper_since: KernelVersion(4, 17),
                args: [112, 104, 96, 56, 72, 64],
            },
        },
        debian_kernels: &[BOOKWORM, TRIXIE],
        kprobe_multi: &[multi("bookworm", false), multi("trixie", true)],
        libbpf_target_arch: "x86",
        debian_arch: "amd64",
        multiarch: "x86_64-linux-gnu",
        rust_target: "x86_64-unknown-linux-gnu",
        split_address_space: true,
        elf_machine: object::elf::EM_X86_64,
        text: TextRules {
            decoder: "iced-x86",
            decode: decode::x86_64,
            rules: &[
                rules::X86_64_ENDBR64,
                rules::X86_64_FENTRY,
                rules::X86_64_TRAPS,
            ],
        },
        // "bpf: Introduce BPF trampoline"; bookworm's 6.1 attaches fentry
        // and fexit to vfs_read and do_sys_openat2 (seen in QEMU).
        trampolines_since: Some(KernelVersion(5, 5)),
        atomic_add_loops: false,
        kprobe_ctx_struct: Some("pt_regs"),
        subprog_tailcalls_since: Some(KernelVersion(5, 10)),
        jit_by_default: true,
        btf_since: KernelVersion(6, 1),
        efficient_unaligned_access: true,
    },
    ArchInfo {
        arch: Arch::Arm64,
        name: "arm64",
        aliases: &["aarch64"],
        endian: Endian::Little,
        regs: PtRegs {
            args: &[0, 8, 16, 24, 32, 40, 48, 56],
            ret: 0,
            sp: 248,
            ip: 256,
            // 336 on 6.1 and 6.12, 320 on sid's 7.2 (each measured by the
            // matrix's table check in QEMU); the change lies between, and
            // is taken from 6.13 so that no read the kernel refuses is
            // accepted.
            sizes: &[(KernelVersion(0, 0), 336), (KernelVersion(6, 13), 320)],
            // arg0 from orig_x0, which keeps it after x0 takes the return value.
            syscall: SyscallAbi {
                prefix: "__arm64_sys_",
                wrapper_since: KernelVersion(4, 19),
                args: [272, 8, 16, 24, 32, 40],
            },
        },
        debian_kernels: &[BOOKWORM, TRIXIE],
        kprobe_multi: &[multi("bookworm", false), multi("trixie", false)],
        libbpf_target_arch: "arm64",
        debian_arch: "arm64",
        multiarch: "aarch64-linux-gnu",
        rust_target: "aarch64-unknown-linux-gnu",
        split_address_space: true,
        elf_machine: object::elf::EM_AARCH64,
        text: TextRules {
            decoder: "fixed 4 bytes",
            decode: decode::fixed4,
            rules: &[rules::ARM64_PATCH_SITE, rules::ARM64_BUG],
        },
        // Trampolines came in 6.0 ("bpf, arm64: Implement
        // bpf_arch_text_poke() and trampoline"), but ftrace's direct calls
        // only in 6.4 ("arm64: ftrace: Add direct call support",
        // 2aa6ac03516d): bookworm's 6.1 refuses fentry on vfs_read with
        // ENOTSUPP (seen in QEMU). 6.4 onward: not yet seen in QEMU.
        trampolines_since: Some(KernelVersion(6, 4)),
        atomic_add_loops: false,
        kprobe_ctx_struct: Some("user_pt_regs"),
        subprog_tailcalls_since: Some(KernelVersion(6, 0)),
        jit_by_default: true,
        btf_since: KernelVersion(6, 1),
        efficient_unaligned_access: true,
    },
    ArchInfo {
        arch: Arch::S390x,
        name: "s390x",
        aliases: &["s390"],
        endian: Endian::Big,
        regs: PtRegs {
            // gprs[] begins at 24 (after args[1] and the 16-byte psw): gpr2..gpr6.
            args: &[40, 48, 56, 64, 72],
            ret: 40,
            sp: 144,
            ip: 16,
            sizes: &[(KernelVersion(0, 0), 200)],
            // arg0 from orig_gpr2 (offset 152): entry overwrites gpr2. arg5 in gpr7.
            syscall: SyscallAbi {
                prefix: "__s390x_sys_",
                wrapper_since: KernelVersion(5, 18),
                args: [152, 48, 56, 64, 72, 80],
            },
        },
        debian_kernels: &[BOOKWORM, TRIXIE],
        kprobe_multi: &[multi("bookworm", false), multi("trixie", true)],
        libbpf_target_arch: "s390",
        debian_arch: "s390x",
        multiarch: "s390x-linux-gnu",
        rust_target: "s390x-unknown-linux-gnu",
        split_address_space: false,
        elf_machine: object::elf::EM_S390,
        text: TextRules {
            decoder: "2, 4 or 6 bytes from the opcode's high bits",
            decode: decode::s390x,
            rules: &[rules::S390X_FENTRY, rules::S390X_BUG],
        },
        // "s390/bpf: Implement arch_prepare_bpf_trampoline()"
        trampolines_since: Some(KernelVersion(6, 3)),
        atomic_add_loops: false,
        kprobe_ctx_struct: None,
        subprog_tailcalls_since: Some(KernelVersion(6, 3)),
        jit_by_default: false,
        btf_since: KernelVersion(6, 12),
        efficient_unaligned_access: true,
    },
    ArchInfo {
        arch: Arch::Ppc64le,
        name: "ppc64le",
        aliases: &["powerpc64le", "ppc64el"],
        endian: Endian::Little,
        regs: PtRegs {
            // gpr[3]..gpr[10]
            args: &[24, 32, 40, 48, 56, 64, 72, 80],
            ret: 24,
            sp: 8,
            ip: 256,
            sizes: &[(KernelVersion(0, 0), 384)],
            // arg0 from orig_gpr3 (offset 272). Since 6.1 the wrappers carry no
            // prefix; a kernel built with COMPAT=y has unwrapped `sys_*` instead,
            // which the QEMU matrix would show (Debian's ppc64el is wrapped).
            syscall: SyscallAbi {
                prefix: "sys_",
                wrapper_since: KernelVersion(6, 1),
                args: [272, 32, 40, 48, 56, 64],
            },
        },
        debian_kernels: &[BOOKWORM, TRIXIE],
        kprobe_multi: &[multi("bookworm", false), multi("trixie", true)],
        libbpf_target_arch: "powerpc",
        debian_arch: "ppc64el",
        multiarch: "powerpc64le-linux-gnu",
        rust_target: "powerpc64le-unknown-linux-gnu",
        split_address_space: true,
        elf_machine: object::elf::EM_PPC64,
        text: TextRules {
            decoder: "fixed 4 bytes",
            decode: decode::fixed4,
            rules: &[rules::PPC64LE_GLOBAL_ENTRY, rules::PPC64LE_BUG],
        },
        // "powerpc64/bpf: Add support for bpf trampolines"
        trampolines_since: Some(KernelVersion(6, 13)),
        atomic_add_loops: true,
        kprobe_ctx_struct: Some("user_pt_regs"),
        subprog_tailcalls_since: Some(KernelVersion(6, 13)),
        jit_by_default: true,
        btf_since: KernelVersion(6, 12),
        efficient_unaligned_access: true,
    },
    ArchInfo {
        arch: Arch::Riscv64,
        name: "riscv64",
        aliases: &["riscv"],
        endian: Endian::Little,
        regs: PtRegs {
            // a0..a7
            args: &[80, 88, 96, 104, 112, 120, 128, 136],
            ret: 80,
            sp: 16,
            ip: 0,
            sizes: &[(KernelVersion(0, 0), 288)],
            // arg0 from orig_a0 (offset 280): entry sets a0 to -ENOSYS. Wrapped since
            // 6.6; riscv64 objects target 6.12 by default (`Arch::default_kernel`).
            syscall: SyscallAbi {
                prefix: "__riscv_sys_",
                wrapper_since: KernelVersion(6, 6),
                args: [280, 88, 96, 104, 112, 120],
            },
        },
        // An official Debian arch from trixie on: bookworm has no kernel.
        debian_kernels: &[TRIXIE],
        kprobe_multi: &[multi("trixie", false), multi("sid", true)],
        libbpf_target_arch: "riscv",
        debian_arch: "riscv64",
        multiarch: "riscv64-linux-gnu",
        rust_target: "riscv64gc-unknown-linux-gnu",
        split_address_space: true,
        elf_machine: object::elf::EM_RISCV,
        text: TextRules {
            decoder: "2 or 4 bytes from the low bits",
            decode: decode::riscv64,
            rules: &[rules::RISCV64_BUG, rules::RISCV64_PATCH_SITE],
        },
        // "riscv, bpf: Add bpf trampoline support for RV64"
        trampolines_since: Some(KernelVersion(6, 3)),
        atomic_add_loops: false,
        kprobe_ctx_struct: Some("user_regs_struct"),
        // Not through 7.2, whose verifier refused one in QEMU ("mixing of
        // tail_calls and bpf-to-bpf calls is not supported").
        subprog_tailcalls_since: None,
        jit_by_default: true,
        btf_since: KernelVersion(6, 12),
        efficient_unaligned_access: false,
    },
];

impl Arch {
    pub const ALL: [Arch; 5] = [
        Arch::X86_64,
        Arch::Arm64,
        Arch::S390x,
        Arch::Ppc64le,
        Arch::Riscv64,
    ];

    /// This arch's row of [`ARCHS`].
    pub fn info(self) -> &'static ArchInfo {
        &ARCHS[self as usize]
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Accepts the canonical names and the aliases users type.
    pub fn parse(s: &str) -> Result<Arch, ArchError> {
        ARCHS
            .iter()
            .find(|i| i.name == s || i.aliases.contains(&s))
            .map(|i| i.arch)
            .ok_or_else(|| ArchError::Unknown(s.to_string()))
    }

    /// The architectures a command-line `--arch` value names: `all`, one
    /// name or alias, or a comma-separated list.
    pub fn parse_list(arg: &str) -> Result<Vec<Arch>, ArchError> {
        if arg == "all" {
            return Ok(Arch::ALL.to_vec());
        }
        arg.split(',').map(|a| Arch::parse(a.trim())).collect()
    }

    pub fn endian(self) -> Endian {
        self.info().endian
    }

    pub fn regs(self) -> &'static PtRegs {
        &self.info().regs
    }

    /// How many function arguments travel in registers.
    pub fn reg_args(self) -> usize {
        self.regs().args.len()
    }

    /// The `pt_regs` offset of the 8-byte slot of argument `index`.
    pub fn arg_offset(self, index: usize) -> Result<u16, ArchError> {
        let args = self.regs().args;
        args.get(index).copied().ok_or(ArchError::ArgOutOfRange {
            arch: self,
            index,
            max: args.len(),
        })
    }

    /// The offset to load `size` bytes holding the low-order part of the
    /// 8-byte register slot at `slot`: the same offset on little-endian
    /// targets, `slot + 8 - size` on big-endian s390x.
    pub fn low_part(self, slot: u16, size: Size) -> u16 {
        match self.endian() {
            Endian::Little => slot,
            Endian::Big => slot + 8 - size.bytes() as u16,
        }
    }

    /// The `pt_regs` offset of syscall argument `index` (0..5) in the regs
    /// that the syscall entry point sees.
    pub fn syscall_arg_offset(self, index: usize) -> Result<u16, ArchError> {
        self.regs()
            .syscall
            .args
            .get(index)
            .copied()
            .ok_or(ArchError::SyscallArgOutOfRange { index })
    }

    /// The kernel release objects target when none is named: the oldest
    /// Debian kernel for the arch (the first of
    /// [`ArchInfo::debian_kernels`]). It decides syscall wrappers (riscv64
    /// has them since 6.6) and the pt_regs size.
    pub fn default_kernel(self) -> KernelVersion {
        self.info()
            .debian_kernels
            .first()
            .map_or(KernelVersion(0, 0), |k| k.version)
    }

    /// Whether kernel `version` has BPF trampolines on this arch, so that
    /// fentry and fexit programs can attach (see
    /// [`ArchInfo::trampolines_since`]).
    pub fn has_trampolines(self, version: KernelVersion) -> bool {
        self.info()
            .trampolines_since
            .is_some_and(|since| version >= since)
    }

    /// Whether the kernel of Debian `release` for this arch offers the
    /// kprobe-multi link, as far as the table knows (`None`: a release it
    /// has no row for).
    pub fn kprobe_multi(self, release: &str) -> Option<bool> {
        self.info()
            .kprobe_multi
            .iter()
            .find(|k| k.release == release)
            .map(|k| k.supported)
    }

    /// Whether syscall entry points of kernel `version` are wrappers taking the
    /// user `pt_regs` (see [`SyscallAbi::wrapper_since`]).
    pub fn syscall_wrapped(self, version: KernelVersion) -> bool {
        version >= self.regs().syscall.wrapper_since
    }

    /// The kernel symbol of syscall `name`, e.g. `__arm64_sys_openat`.
    pub fn syscall_symbol(self, name: &str) -> String {
        format!("{}{}", self.regs().syscall.prefix, name)
    }

    /// sizeof(struct pt_regs) on kernel `version`.
    pub fn pt_regs_size(self, version: KernelVersion) -> u16 {
        let sizes = self.regs().sizes;
        sizes
            .iter()
            .rev()
            .find(|(from, _)| *from <= version)
            .or(sizes.first())
            .map_or(0, |(_, s)| *s)
    }

    /// sizeof(struct pt_regs) on the newest release the table knows.
    pub fn pt_regs_size_latest(self) -> u16 {
        self.regs().sizes.last().map_or(0, |(_, s)| *s)
    }

    /// clang's BPF target for this arch's objects.
    pub fn clang_target(self) -> &'static str {
        self.endian().bpf_target()
    }

    /// The `__TARGET_ARCH_*` macro value libbpf's `bpf_tracing.h` expects.
    pub fn libbpf_target_arch(self) -> &'static str {
        self.info().libbpf_target_arch
    }

    /// Debian's architecture name.
    pub fn debian_arch(self) -> &'static str {
        self.info().debian_arch
    }

    /// Debian's multiarch tuple: the directory (`/usr/lib/<tuple>`) that
    /// holds this arch's shared libraries.
    pub fn multiarch(self) -> &'static str {
        self.info().multiarch
    }

    /// The Rust target triple of a static guest binary.
    pub fn rust_target(self) -> &'static str {
        self.info().rust_target
    }

    /// The arch of a kernel image with ELF machine `machine` and byte
    /// order `endian`.
    pub fn from_elf(machine: u16, endian: Endian) -> Option<Arch> {
        ARCHS
            .iter()
            .find(|i| i.elf_machine == machine && i.endian == endian)
            .map(|i| i.arch)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = ArchError;
    fn from_str(s: &str) -> Result<Arch, ArchError> {
        Arch::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trampolines_by_arch_and_release() {
        let at = |arch: Arch, v: (u16, u16)| arch.has_trampolines(KernelVersion(v.0, v.1));
        assert!(at(Arch::X86_64, (6, 1)));
        assert!(!at(Arch::Arm64, (6, 1)) && at(Arch::Arm64, (6, 12)));
        assert!(!at(Arch::S390x, (6, 1)) && at(Arch::S390x, (6, 12)));
        assert!(!at(Arch::Ppc64le, (6, 12)) && at(Arch::Ppc64le, (6, 13)));
        assert!(at(Arch::Riscv64, (6, 12)));
    }

    #[test]
    fn each_row_is_its_arch_and_every_name_is_one_arch() {
        let mut names = std::collections::HashSet::new();
        for a in Arch::ALL {
            assert_eq!(a.info().arch, a);
            for n in std::iter::once(&a.name()).chain(a.info().aliases) {
                assert!(names.insert(*n), "{n} names two arches");
                assert_eq!(Arch::parse(n), Ok(a));
            }
        }
    }

    #[test]
    fn kprobe_multi_is_known_for_every_release_with_a_kernel() {
        for a in Arch::ALL {
            for k in a.info().debian_kernels {
                assert!(a.kprobe_multi(k.release).is_some(), "{a} {}", k.release);
            }
        }
        assert_eq!(Arch::X86_64.kprobe_multi("trixie"), Some(true));
        assert_eq!(Arch::X86_64.kprobe_multi("bookworm"), Some(false));
        assert_eq!(Arch::Arm64.kprobe_multi("trixie"), Some(false));
        assert_eq!(Arch::Riscv64.kprobe_multi("sid"), Some(true));
        assert_eq!(Arch::Riscv64.kprobe_multi("trixie"), Some(false));
        assert_eq!(Arch::S390x.kprobe_multi("buster"), None);
    }

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for a in Arch::ALL {
            assert_eq!(Arch::parse(a.name()), Ok(a));
        }
        assert_eq!(Arch::parse("aarch64"), Ok(Arch::Arm64));
        assert_eq!(Arch::parse("powerpc64le"), Ok(Arch::Ppc64le));
        assert!(matches!(Arch::parse("mips"), Err(ArchError::Unknown(_))));
        assert_eq!(Arch::parse_list("all"), Ok(Arch::ALL.to_vec()));
        assert_eq!(
            Arch::parse_list("aarch64, s390x"),
            Ok(vec![Arch::Arm64, Arch::S390x])
        );
        assert!(Arch::parse_list("arm64,vax").is_err());
    }

    #[test]
    fn only_s390x_is_big_endian() {
        for a in Arch::ALL {
            assert_eq!(a.endian() == Endian::Big, a == Arch::S390x, "{a}");
        }
    }

    #[test]
    fn design_table_offsets() {
        // DESIGN.md's table, row by row.
        let arg0: Vec<u16> = Arch::ALL.iter().map(|a| a.arg_offset(0).unwrap()).collect();
        assert_eq!(arg0, [112, 0, 40, 24, 80]);
        let ret: Vec<u16> = Arch::ALL.iter().map(|a| a.regs().ret).collect();
        assert_eq!(ret, [80, 0, 40, 24, 80]);
        let sp: Vec<u16> = Arch::ALL.iter().map(|a| a.regs().sp).collect();
        assert_eq!(sp, [152, 248, 144, 8, 16]);
        let ip: Vec<u16> = Arch::ALL.iter().map(|a| a.regs().ip).collect();
        assert_eq!(ip, [128, 256, 16, 256, 0]);
        let sys3: Vec<u16> = Arch::ALL
            .iter()
            .map(|a| a.syscall_arg_offset(3).unwrap())
            .collect();
        assert_eq!(sys3, [56, 24, 64, 48, 104]);
        assert_eq!(Arch::X86_64.pt_regs_size(KernelVersion(6, 1)), 168);
    }

    #[test]
    fn default_kernels_are_the_oldest_debian_ones() {
        // riscv64's first Debian kernel (trixie 6.12) has syscall wrappers:
        // its objects must read syscall arguments through them (the QEMU
        // matrix caught objects built for 6.1 reading the wrapper's pointer
        // as the first argument).
        let defaults: Vec<KernelVersion> = Arch::ALL.iter().map(|a| a.default_kernel()).collect();
        assert_eq!(
            defaults,
            [
                KernelVersion(6, 1),
                KernelVersion(6, 1),
                KernelVersion(6, 1),
                KernelVersion(6, 1),
                KernelVersion(6, 12)
            ]
        );
        assert!(Arch::Riscv64.syscall_wrapped(Arch::Riscv64.default_kernel()));
        assert!(!Arch::Riscv64.syscall_wrapped(KernelVersion(6, 1)));
    }

    #[test]
    fn offsets_lie_inside_pt_regs_and_are_aligned() {
        for a in Arch::ALL {
            let r = a.regs();
            let size = a.pt_regs_size_latest();
            let fixed = [r.ret, r.sp, r.ip];
            for &off in r.args.iter().chain(&fixed).chain(&r.syscall.args) {
                assert!(
                    off % 8 == 0 && off + 8 <= size,
                    "{a}: offset {off} in {size}"
                );
            }
        }
    }

    #[test]
    fn argument_beyond_registers_names_the_limit() {
        let e = Arch::S390x.arg_offset(5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "s390x passes 5 arguments in registers (arg0..arg4); arg5 is on the stack"
        );
    }

    #[test]
    fn low_half_of_a_register_is_at_plus_four_on_s390x() {
        assert_eq!(Arch::S390x.low_part(40, Size::W), 44);
        assert_eq!(Arch::S390x.low_part(40, Size::B), 47);
        assert_eq!(Arch::Arm64.low_part(8, Size::W), 8);
    }

    #[test]
    fn elf_machines_name_their_arch_in_its_byte_order() {
        for a in Arch::ALL {
            assert_eq!(Arch::from_elf(a.info().elf_machine, a.endian()), Some(a));
        }
        // ppc64 big-endian is not ppc64le.
        assert_eq!(Arch::from_elf(object::elf::EM_PPC64, Endian::Big), None);
        assert_eq!(Arch::from_elf(object::elf::EM_BPF, Endian::Little), None);
    }

    #[test]
    fn kernel_versions_parse() {
        assert_eq!("6.1.0-37-arm64".parse(), Ok(KernelVersion(6, 1)));
        assert_eq!("6.12".parse(), Ok(KernelVersion(6, 12)));
        assert!("linux".parse::<KernelVersion>().is_err());
    }
}
