//! regs: the `struct pt_regs` image a probe sees, built from the one
//! per-arch table (`probecc::arch`): the event's arguments in the arch's
//! argument registers, the return value in its return register (for return
//! probes, after the arguments: on arm64, ppc64le and s390x they share a
//! register), `ip` at the probed address and a plausible `sp`. Every slot is
//! an 8-byte register written in the arch's byte order, so 4-byte reads of
//! a low half find it at `Arch::low_part` as on the real kernel.
//!
//! fentry and fexit programs see no `pt_regs`: their context is the
//! arguments' u64 slots and fexit's return value after them
//! ([`build_tracing`]).
//!
//! Syscall probes on kernels with syscall wrappers see one argument, a
//! pointer to the user `pt_regs`; that second image, holding the syscall's
//! arguments at the arch's syscall offsets, is placed in probe-readable
//! memory at [`USER_REGS`].

use probecc::arch::{Arch, KernelVersion};

use crate::events::Event;

/// Where the user `pt_regs` of a wrapped syscall lie.
pub const USER_REGS: u64 = 0xffff_c900_0000_0000;
/// The stack pointer every probe sees.
pub const STACK_POINTER: u64 = 0xffff_c900_0001_0000;

/// How the probed function was entered or left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    Kprobe,
    Kretprobe,
    Ksyscall,
    Kretsyscall,
    /// An fentry program: the context is the arguments' u64 slots.
    Fentry,
    /// An fexit program: the arguments' slots, then the return value's.
    Fexit,
}

impl ProbeKind {
    /// The kind of a probe spelled as bpftrace does (`kprobe:vfs_read`).
    pub fn of(probe: &str) -> Option<ProbeKind> {
        let (kind, _) = probe.split_once(':')?;
        Some(match kind {
            "kprobe" | "k" => ProbeKind::Kprobe,
            "kretprobe" | "kr" => ProbeKind::Kretprobe,
            "ksyscall" => ProbeKind::Ksyscall,
            "kretsyscall" => ProbeKind::Kretsyscall,
            "fentry" | "f" | "kfunc" => ProbeKind::Fentry,
            "fexit" | "fr" | "kretfunc" => ProbeKind::Fexit,
            _ => return None,
        })
    }

    pub fn returns(self) -> bool {
        matches!(
            self,
            ProbeKind::Kretprobe | ProbeKind::Kretsyscall | ProbeKind::Fexit
        )
    }

    pub fn syscall(self) -> bool {
        matches!(self, ProbeKind::Ksyscall | ProbeKind::Kretsyscall)
    }
}

/// The ctx image, and the user regs to map at [`USER_REGS`] if any.
pub struct Image {
    pub regs: Vec<u8>,
    pub user_regs: Option<Vec<u8>>,
}

/// Builds the registers of `ev` for a probe of `kind` at address `ip`.
pub fn build(arch: Arch, kernel: KernelVersion, kind: ProbeKind, ev: &Event, ip: u64) -> Image {
    let size = arch.pt_regs_size(kernel) as usize;
    let table = arch.regs();
    let mut regs = vec![0u8; size];
    let wrapped = kind.syscall() && arch.syscall_wrapped(kernel);
    let user_regs = wrapped.then(|| {
        let mut user = vec![0u8; size];
        for (i, &v) in ev.args.iter().enumerate().take(table.syscall.args.len()) {
            set(&mut user, arch, table.syscall.args[i], v);
        }
        user
    });
    if wrapped {
        set(&mut regs, arch, table.args[0], USER_REGS);
    } else {
        for (&off, &v) in table.args.iter().zip(&ev.args) {
            set(&mut regs, arch, off, v);
        }
    }
    if kind.returns() {
        set(&mut regs, arch, table.ret, ev.retval);
    }
    set(&mut regs, arch, table.sp, STACK_POINTER);
    set(&mut regs, arch, table.ip, ip);
    Image { regs, user_regs }
}

/// The context of an fentry/fexit program: `slots` u64 slots in the arch's
/// byte order, argument `i` at `arg_slots[i]` (from the manifest), and for
/// fexit the return value at `ret_slot`.
pub fn build_tracing(
    arch: Arch,
    kind: ProbeKind,
    args: &[u64],
    arg_slots: &[usize],
    ret_slot: usize,
    retval: u64,
) -> Image {
    let mut regs = vec![0u8; 8 * (ret_slot + 1)];
    for (&slot, &v) in arg_slots.iter().zip(args) {
        set(&mut regs, arch, (slot * 8) as u16, v);
    }
    if kind.returns() {
        set(&mut regs, arch, (ret_slot * 8) as u16, retval);
    }
    Image {
        regs,
        user_regs: None,
    }
}

fn set(regs: &mut [u8], arch: Arch, off: u16, value: u64) {
    let off = off as usize;
    if let Some(slot) = regs.get_mut(off..off + 8) {
        slot.copy_from_slice(&arch.endian().u64_bytes(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::insn::Size;

    #[test]
    fn tracing_contexts_hold_the_arguments_then_the_return_value() {
        for arch in [Arch::X86_64, Arch::S390x] {
            let img = build_tracing(arch, ProbeKind::Fexit, &[7, 8], &[0, 1], 2, 99);
            let slot = |i: usize| arch.endian().read_uint(&img.regs[8 * i..8 * i + 8]);
            assert_eq!((slot(0), slot(1), slot(2)), (7, 8, 99), "{arch}");
            let entry = build_tracing(arch, ProbeKind::Fentry, &[7, 8], &[0, 1], 2, 99);
            assert_eq!(entry.regs.len(), 24);
            assert_eq!(arch.endian().read_uint(&entry.regs[16..24]), 0);
        }
    }

    #[test]
    fn arguments_land_in_each_arch_s_registers() {
        let mut ev = Event::new("kprobe:vfs_read");
        ev.args = vec![10, 11, 12, 13, 14];
        for arch in Arch::ALL {
            let img = build(arch, KernelVersion(6, 1), ProbeKind::Kprobe, &ev, 0);
            for i in 0..5 {
                let off = arch.arg_offset(i).unwrap() as usize;
                let v = arch.endian().read_uint(&img.regs[off..off + 8]);
                assert_eq!(v, 10 + i as u64, "{arch} arg{i}");
                let low = arch.low_part(off as u16, Size::W) as usize;
                assert_eq!(
                    arch.endian().read_uint(&img.regs[low..low + 4]),
                    10 + i as u64
                );
            }
        }
    }

    #[test]
    fn return_probes_see_the_return_value_and_wrapped_syscalls_a_pointer() {
        let mut ev = Event::new("kretsyscall:openat");
        ev.args = vec![1, 2, 3];
        ev.retval = 99;
        let arch = Arch::Arm64;
        let img = build(arch, KernelVersion(6, 1), ProbeKind::Kretsyscall, &ev, 0);
        assert_eq!(
            arch.endian().read_uint(&img.regs[0..8]),
            99,
            "x0 holds the return value"
        );
        let img = build(arch, KernelVersion(6, 1), ProbeKind::Ksyscall, &ev, 0);
        assert_eq!(arch.endian().read_uint(&img.regs[0..8]), USER_REGS);
        let user = img.user_regs.unwrap();
        assert_eq!(arch.endian().read_uint(&user[272..280]), 1, "orig_x0");
        assert_eq!(arch.endian().read_uint(&user[16..24]), 3);
        let old = build(
            Arch::Riscv64,
            KernelVersion(6, 1),
            ProbeKind::Ksyscall,
            &ev,
            0,
        );
        assert!(
            old.user_regs.is_none(),
            "riscv64 wraps syscalls only since 6.6"
        );
    }
}
