//! The rules that differ for tracing programs (`BPF_PROG_TYPE_TRACING`,
//! sections `fentry/FUNC` and `fexit/FUNC`): the context is the
//! trampoline's array of u64 argument slots, read only, each read aligned
//! to its slot (`bpf_tracing_ctx_access`, `btf_ctx_access`), and the
//! program must return 0.
//!
//! The kernel sizes the context by the function's BTF prototype (the
//! arguments, and fexit's return value after them) and types pointer
//! slots as `PTR_TO_BTF_ID`. An object does not carry the prototype, so
//! this model bounds the context by the most slots any function has
//! (`MAX_BPF_FUNC_ARGS`) and reads every slot as a scalar; the compiler
//! holds reads to the prototype's slots.

use crate::reg::RegState;
use crate::verify::err;
use crate::VerifyError;

/// `MAX_BPF_FUNC_ARGS`: the most argument slots a tracing context has.
pub const MAX_BPF_FUNC_ARGS: i64 = 12;

/// Whether the program in `section` is a tracing program.
pub fn is_tracing(section: &str) -> bool {
    section.starts_with("fentry/") || section.starts_with("fexit/")
}

/// The context's size in bytes.
pub fn ctx_size() -> i64 {
    8 * MAX_BPF_FUNC_ARGS
}

/// Whether a context read of `n` bytes at `off` is one the kernel allows:
/// inside a slot, starting at its beginning.
pub fn ctx_read_ok(off: i64, n: i64) -> bool {
    (0..ctx_size()).contains(&off) && off % 8 == 0 && n <= 8
}

/// fentry and fexit programs must return 0 (`check_return_code`).
pub fn check_return(pc: usize, r0: &RegState) -> Result<(), VerifyError> {
    match r0 {
        RegState::Scalar(s) if s.as_const() == Some(0) => Ok(()),
        RegState::Scalar(s) => Err(err(
            pc,
            format!(
                "At program exit the register R0 has smin={} smax={} should have been in [0, 0]",
                s.smin, s.smax
            ),
        )),
        _ => Err(err(
            pc,
            "At program exit the register R0 is not a known value (ptr_)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::arch::{Arch, KernelVersion};
    use probecc::asm::{self, assemble};
    use probecc::insn::{Reg, Size};

    /// The verdict on `ops` as a program in `section`.
    fn verdict(section: &str, ops: &[asm::Op]) -> Option<String> {
        let prog = crate::Program {
            name: "p".into(),
            section: section.into(),
            insns: assemble(ops).unwrap().insns,
            maps: vec![],
            lines: vec![],
            gpl: true,
        };
        crate::check_program(&prog, Arch::X86_64, KernelVersion(6, 1)).message
    }

    fn read_then_return(off: i16, ret: i32) -> Vec<asm::Op> {
        vec![
            asm::load_mem(Size::DW, Reg::R2, Reg::R1, off),
            asm::mov(Reg::R0, ret),
            asm::exit(),
        ]
    }

    #[test]
    fn fentry_and_fexit_programs_follow_the_tracing_rules() {
        assert_eq!(verdict("fentry/vfs_read", &read_then_return(88, 0)), None);
        assert_eq!(verdict("fexit/vfs_read", &read_then_return(32, 0)), None);
        assert_eq!(
            verdict("fentry/vfs_read", &read_then_return(96, 0)).as_deref(),
            Some("invalid bpf_context access off=96 size=8")
        );
        assert_eq!(
            verdict("fexit/vfs_read", &read_then_return(0, 1)).as_deref(),
            Some("At program exit the register R0 has smin=1 smax=1 should have been in [0, 0]")
        );
        let store = [
            asm::store_imm(Size::DW, Reg::R1, 0, 1),
            asm::mov(Reg::R0, 0),
            asm::exit(),
        ];
        assert_eq!(
            verdict("fentry/vfs_read", &store).as_deref(),
            Some("invalid bpf_context access off=0 size=8")
        );
        // A kprobe may return anything, and reads pt_regs beyond 96 bytes.
        assert_eq!(verdict("kprobe/vfs_read", &read_then_return(112, 1)), None);
    }

    #[test]
    fn only_slot_aligned_reads_inside_the_slots() {
        assert!(ctx_read_ok(0, 8));
        assert!(ctx_read_ok(88, 8));
        assert!(ctx_read_ok(16, 4));
        assert!(!ctx_read_ok(96, 8));
        assert!(!ctx_read_ok(4, 4));
        assert!(!ctx_read_ok(-8, 8));
    }

    #[test]
    fn the_return_value_must_be_zero() {
        assert!(check_return(3, &RegState::constant(0)).is_ok());
        let e = check_return(3, &RegState::constant(1)).unwrap_err();
        assert_eq!(e.insn, 3);
        assert_eq!(
            e.message,
            "At program exit the register R0 has smin=1 smax=1 should have been in [0, 0]"
        );
        assert!(check_return(3, &RegState::unknown()).is_err());
    }
}
