//! The QEMU machines of the attach-and-measure matrix: for each arch, the
//! Debian kernel flavour and releases it is tested on, the QEMU binary and
//! the boot line that works under TCG (DESIGN.md, "verified"), and the host
//! packages the matrix needs for it. Per-arch compiler facts (pt_regs,
//! Debian arch names, Rust targets) stay in `probecc::arch`.

use probecc::arch::Arch;

/// A Debian release the matrix boots kernels of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Release {
    Bookworm,
    Trixie,
    /// Debian unstable: a moving target, used where the stable releases'
    /// kernels cannot run the matrix (riscv64, see `default_releases`).
    Sid,
}

impl Release {
    pub const ALL: [Release; 3] = [Release::Bookworm, Release::Trixie, Release::Sid];

    pub fn name(self) -> &'static str {
        match self {
            Release::Bookworm => "bookworm",
            Release::Trixie => "trixie",
            Release::Sid => "sid",
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<Release> {
        match s {
            "bookworm" | "12" => Ok(Release::Bookworm),
            "trixie" | "13" => Ok(Release::Trixie),
            "sid" | "unstable" => Ok(Release::Sid),
            _ => anyhow::bail!("unknown release `{s}` (expected bookworm, trixie or sid)"),
        }
    }

    /// `bookworm`, `trixie`, `sid`, a comma-separated list, or `all`.
    pub fn parse_list(s: &str) -> anyhow::Result<Vec<Release>> {
        if s == "all" {
            return Ok(Release::ALL.to_vec());
        }
        s.split(',').map(|r| Release::parse(r.trim())).collect()
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The Debian kernel flavour whose meta package (`linux-image-<flavour>`)
/// names the current kernel for `arch`.
pub fn kernel_flavour(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "cloud-amd64",
        Arch::Arm64 => "arm64",
        Arch::S390x => "s390x",
        Arch::Ppc64le => "powerpc64le",
        Arch::Riscv64 => "riscv64",
    }
}

/// Whether Debian `release` carries a kernel for `arch` (riscv64 is
/// official from trixie on).
pub fn has_kernel(arch: Arch, release: Release) -> bool {
    !(arch == Arch::Riscv64 && release == Release::Bookworm)
}

/// The releases tested when none is named, oldest first: bookworm (6.1)
/// and trixie (6.12), the two kernel versions objects must run on
/// unchanged (CO-RE included); for riscv64, which bookworm lacks, trixie
/// and sid, because trixie's riscv64 kernel refuses kprobes at function
/// entries (no KPROBES_ON_FTRACE) and sid's (7.x) takes them.
pub fn default_releases(arch: Arch) -> Vec<Release> {
    match arch {
        Arch::Riscv64 => vec![Release::Trixie, Release::Sid],
        _ => vec![Release::Bookworm, Release::Trixie],
    }
}

/// The one release `cargo xtask qemu` boots when none is named: the
/// oldest default one (bookworm), or for riscv64 sid, the first whose
/// kernel takes entry kprobes.
pub fn default_release(arch: Arch) -> Release {
    match arch {
        Arch::Riscv64 => Release::Sid,
        _ => Release::Bookworm,
    }
}

/// The QEMU system emulator for `arch`.
pub fn qemu_binary(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "qemu-system-x86_64",
        Arch::Arm64 => "qemu-system-aarch64",
        Arch::S390x => "qemu-system-s390x",
        Arch::Ppc64le => "qemu-system-ppc64",
        Arch::Riscv64 => "qemu-system-riscv64",
    }
}

/// The Debian package holding [`qemu_binary`].
pub fn qemu_package(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "qemu-system-x86",
        Arch::Arm64 => "qemu-system-arm",
        Arch::S390x | Arch::Riscv64 => "qemu-system-misc",
        Arch::Ppc64le => "qemu-system-ppc",
    }
}

/// The GNU triple of the Debian cross toolchain (`<triple>-gcc`), `None`
/// on the host arch.
pub fn cross_triple(arch: Arch) -> Option<&'static str> {
    match arch {
        Arch::X86_64 => None,
        Arch::Arm64 => Some("aarch64-linux-gnu"),
        Arch::S390x => Some("s390x-linux-gnu"),
        Arch::Ppc64le => Some("powerpc64le-linux-gnu"),
        Arch::Riscv64 => Some("riscv64-linux-gnu"),
    }
}

/// Machine and CPU options of the verified boot line (before `-kernel`).
pub fn machine_args(arch: Arch) -> &'static [&'static str] {
    match arch {
        Arch::X86_64 => &["-cpu", "max"],
        // pauth-impdef: QEMU's cheap pointer-authentication hash instead of
        // QARMA, which dominates TCG time otherwise; the guest sees no
        // difference.
        Arch::Arm64 => &["-M", "virt", "-cpu", "max,pauth-impdef=on"],
        Arch::S390x => &["-M", "s390-ccw-virtio", "-cpu", "max"],
        Arch::Ppc64le => &["-M", "pseries", "-cpu", "power9"],
        Arch::Riscv64 => &["-M", "virt", "-cpu", "rv64"],
    }
}

/// The kernel's console device.
pub fn console(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 | Arch::Riscv64 => "ttyS0",
        Arch::Arm64 => "ttyAMA0",
        Arch::S390x => "ttysclp0",
        Arch::Ppc64le => "hvc0",
    }
}

/// Whether `accel` is available for `arch` on this host: KVM only for the
/// host's own arch.
pub fn accel_ok(arch: Arch, accel: &str) -> bool {
    accel == "tcg" || (accel == "kvm" && arch == Arch::X86_64)
}
