//! `--multi auto|always|never`: whether a block of several kprobe (or
//! kretprobe) attach points compiles into one kprobe-multi program
//! (`kprobe.multi/PATTERN`), and what `auto` decides for a target.

use probecc::arch::{Arch, KernelVersion};

/// The first kernel with the kprobe-multi link (it also needs
/// `CONFIG_FPROBE`: a kernel built without it refuses the link with
/// `EOPNOTSUPP`, as Debian's 6.1 kernels do).
const FIRST: KernelVersion = KernelVersion(5, 18);

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Multi {
    /// Where the target kernel has the kprobe-multi link
    Auto,
    /// Always (aya 0.14 and libbpf before 0.8 cannot attach the object)
    Always,
    /// Never: one program per attach point
    #[default]
    Never,
}

impl Multi {
    /// For an object built for `arch` and `kernel`: `auto` asks the arch
    /// table whether the Debian release with that kernel has the link.
    pub fn for_build(self, arch: Arch, kernel: KernelVersion) -> bool {
        match self {
            Multi::Always => true,
            Multi::Never => false,
            Multi::Auto => arch
                .info()
                .debian_kernels
                .iter()
                .find(|k| k.version == kernel)
                .and_then(|k| arch.kprobe_multi(k.release))
                .unwrap_or(false),
        }
    }

    /// For the running kernel of release `version`: `auto` from 5.18 on
    /// where `has_fprobe` finds the kernel built with fprobes (the
    /// runtime still falls back to one attachment per function, saying
    /// so, where the kernel then refuses the link).
    pub fn for_running(self, version: KernelVersion, has_fprobe: impl FnOnce() -> bool) -> bool {
        match self {
            Multi::Always => true,
            Multi::Never => false,
            Multi::Auto => version >= FIRST && has_fprobe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_the_arch_table_for_builds_and_the_release_for_traces() {
        let (bookworm, trixie) = (KernelVersion(6, 1), KernelVersion(6, 12));
        assert!(Multi::Auto.for_build(Arch::X86_64, trixie));
        assert!(!Multi::Auto.for_build(Arch::X86_64, bookworm));
        assert!(!Multi::Auto.for_build(Arch::Arm64, trixie));
        assert!(!Multi::Auto.for_build(Arch::X86_64, KernelVersion(6, 5)));
        assert!(Multi::Always.for_build(Arch::Arm64, bookworm));
        assert!(!Multi::Never.for_build(Arch::X86_64, trixie));
        let (yes, no) = (|| true, || false);
        assert!(Multi::Auto.for_running(KernelVersion(5, 18), yes));
        assert!(!Multi::Auto.for_running(KernelVersion(5, 17), yes));
        assert!(!Multi::Auto.for_running(KernelVersion(6, 1), no));
        assert!(Multi::Always.for_running(KernelVersion(6, 1), no));
        assert!(!Multi::Never.for_running(KernelVersion(6, 18), yes));
    }
}
