//! The QEMU machines of the attach-and-measure matrix: for each arch, one
//! [`Machine`] row with the Debian kernel flavour, the QEMU binary and the
//! boot line that works under TCG (DESIGN.md, "verified"), and the host
//! packages the matrix needs for it; and the Debian releases it is tested
//! on. Per-arch compiler facts (pt_regs, Debian arch names, Rust targets,
//! which Debian releases ship a kernel for it) stay in `probecc::arch`.

use probecc::arch::Arch;

use crate::error::{bail, Result};

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

    pub fn parse(s: &str) -> Result<Release> {
        match s {
            "bookworm" | "12" => Ok(Release::Bookworm),
            "trixie" | "13" => Ok(Release::Trixie),
            "sid" | "unstable" => Ok(Release::Sid),
            _ => bail!("unknown release `{s}` (expected bookworm, trixie or sid)"),
        }
    }

    /// `bookworm`, `trixie`, `sid`, a comma-separated list, or `all`.
    pub fn parse_list(s: &str) -> Result<Vec<Release>> {
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

/// How the matrix runs one arch: one row of [`MACHINES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    pub arch: Arch,
    /// The Debian kernel flavour whose meta package
    /// (`linux-image-<flavour>`) names the current kernel.
    pub kernel_flavour: &'static str,
    /// The QEMU system emulator.
    pub qemu_binary: &'static str,
    /// The Debian package holding [`Machine::qemu_binary`].
    pub qemu_package: &'static str,
    /// The GNU triple of the Debian cross toolchain (`<triple>-gcc`),
    /// `None` on the host arch.
    pub cross_triple: Option<&'static str>,
    /// Machine and CPU options of the verified boot line (before `-kernel`).
    pub machine_args: &'static [&'static str],
    /// The kernel's console device.
    pub console: &'static str,
    /// The first release whose kernel takes kprobes at function entries
    /// (which needs KPROBES_ON_FTRACE on riscv64: trixie's kernel lacks it).
    pub entry_kprobes_since: Release,
}

/// The table, one row per arch, in [`Arch::ALL`] order.
pub const MACHINES: [Machine; 5] = [
    Machine {
        arch: Arch::X86_64,
        kernel_flavour: "cloud-amd64",
        qemu_binary: "qemu-system-x86_64",
        qemu_package: "qemu-system-x86",
        cross_triple: None,
        machine_args: &["-cpu", "max"],
        console: "ttyS0",
        entry_kprobes_since: Release::Bookworm,
    },
    Machine {
        arch: Arch::Arm64,
        kernel_flavour: "arm64",
        qemu_binary: "qemu-system-aarch64",
        qemu_package: "qemu-system-arm",
        cross_triple: Some("aarch64-linux-gnu"),
        // pauth-impdef: QEMU's cheap pointer-authentication hash instead of
        // QARMA, which dominates TCG time otherwise; the guest sees no
        // difference.
        machine_args: &["-M", "virt", "-cpu", "max,pauth-impdef=on"],
        console: "ttyAMA0",
        entry_kprobes_since: Release::Bookworm,
    },
    Machine {
        arch: Arch::S390x,
        kernel_flavour: "s390x",
        qemu_binary: "qemu-system-s390x",
        qemu_package: "qemu-system-misc",
        cross_triple: Some("s390x-linux-gnu"),
        machine_args: &["-M", "s390-ccw-virtio", "-cpu", "max"],
        console: "ttysclp0",
        entry_kprobes_since: Release::Bookworm,
    },
    Machine {
        arch: Arch::Ppc64le,
        kernel_flavour: "powerpc64le",
        qemu_binary: "qemu-system-ppc64",
        qemu_package: "qemu-system-ppc",
        cross_triple: Some("powerpc64le-linux-gnu"),
        machine_args: &["-M", "pseries", "-cpu", "power9"],
        console: "hvc0",
        entry_kprobes_since: Release::Bookworm,
    },
    Machine {
        arch: Arch::Riscv64,
        kernel_flavour: "riscv64",
        qemu_binary: "qemu-system-riscv64",
        qemu_package: "qemu-system-misc",
        cross_triple: Some("riscv64-linux-gnu"),
        machine_args: &["-M", "virt", "-cpu", "rv64"],
        console: "ttyS0",
        entry_kprobes_since: Release::Sid,
    },
];

/// `arch`'s row of [`MACHINES`].
pub fn machine(arch: Arch) -> &'static Machine {
    &MACHINES[arch as usize]
}

/// The Debian kernel flavour whose meta package (`linux-image-<flavour>`)
/// names the current kernel for `arch`.
pub fn kernel_flavour(arch: Arch) -> &'static str {
    machine(arch).kernel_flavour
}

/// Whether Debian `release` carries a kernel for `arch`: a stable release
/// when `probecc::arch` lists it for the arch, and sid always.
pub fn has_kernel(arch: Arch, release: Release) -> bool {
    release == Release::Sid
        || arch
            .info()
            .debian_kernels
            .iter()
            .any(|k| k.release == release.name())
}

/// The oldest release with a kernel for `arch` (bookworm; riscv64 trixie).
pub fn first_release(arch: Arch) -> Release {
    Release::ALL
        .into_iter()
        .find(|&r| has_kernel(arch, r))
        .unwrap_or(Release::Sid)
}

/// The releases tested when none is named, oldest first: the two oldest
/// with a kernel for `arch`. Bookworm (6.1) and trixie (6.12) are the two
/// kernel versions objects must run on unchanged (CO-RE included); riscv64,
/// which bookworm lacks, gets trixie and sid, whose kernel (7.x) also takes
/// the entry kprobes that trixie's refuses.
pub fn default_releases(arch: Arch) -> Vec<Release> {
    Release::ALL
        .into_iter()
        .filter(|&r| has_kernel(arch, r))
        .take(2)
        .collect()
}

/// The one release `cargo xtask qemu` boots when none is named: the oldest
/// default one whose kernel takes entry kprobes (bookworm; riscv64 sid).
pub fn default_release(arch: Arch) -> Release {
    let since = machine(arch).entry_kprobes_since;
    default_releases(arch)
        .into_iter()
        .find(|&r| r >= since)
        .unwrap_or(since)
}

/// The QEMU system emulator for `arch`.
pub fn qemu_binary(arch: Arch) -> &'static str {
    machine(arch).qemu_binary
}

/// The Debian package holding [`qemu_binary`].
pub fn qemu_package(arch: Arch) -> &'static str {
    machine(arch).qemu_package
}

/// The GNU triple of the Debian cross toolchain (`<triple>-gcc`), `None`
/// on the host arch.
pub fn cross_triple(arch: Arch) -> Option<&'static str> {
    machine(arch).cross_triple
}

/// Machine and CPU options of the verified boot line (before `-kernel`).
pub fn machine_args(arch: Arch) -> &'static [&'static str] {
    machine(arch).machine_args
}

/// The kernel's console device.
pub fn console(arch: Arch) -> &'static str {
    machine(arch).console
}

/// Whether `accel` is available for `arch` on this host: KVM only for the
/// host's own arch.
pub fn accel_ok(arch: Arch, accel: &str) -> bool {
    accel == "tcg" || (accel == "kvm" && arch == Arch::X86_64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_is_its_arch() {
        for a in Arch::ALL {
            assert_eq!(machine(a).arch, a);
        }
    }

    #[test]
    fn releases_follow_the_kernels_debian_ships() {
        let bw = [Release::Bookworm, Release::Trixie];
        for a in [Arch::X86_64, Arch::Arm64, Arch::S390x, Arch::Ppc64le] {
            assert_eq!(default_releases(a), bw, "{a}");
            assert_eq!(first_release(a), Release::Bookworm, "{a}");
            assert_eq!(default_release(a), Release::Bookworm, "{a}");
            assert!(has_kernel(a, Release::Bookworm));
        }
        let rv = Arch::Riscv64;
        assert!(!has_kernel(rv, Release::Bookworm));
        assert!(has_kernel(rv, Release::Trixie) && has_kernel(rv, Release::Sid));
        assert_eq!(default_releases(rv), [Release::Trixie, Release::Sid]);
        assert_eq!(first_release(rv), Release::Trixie);
        assert_eq!(default_release(rv), Release::Sid);
    }

    #[test]
    fn the_default_kernel_is_that_of_the_first_default_release() {
        for a in Arch::ALL {
            let first = default_releases(a)[0];
            let k = a.info().debian_kernels[0];
            assert_eq!((first.name(), k.version), (k.release, a.default_kernel()));
        }
    }
}
