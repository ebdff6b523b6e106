//! Kprobe program building blocks over the per-arch `pt_regs` table: attach
//! points (kprobes, and the fentry/fexit tracing programs that can stand in
//! for them) and their section names, the prologue that loads function
//! arguments into registers, the kretprobe return value, syscall arguments
//! behind the syscall wrappers, and a whole-program builder. These are the
//! counterparts of clj-ebpf's `kprobe-prologue`,
//! `kretprobe-get-return-value` and `build-kprobe-program`, correct for every
//! arch in [`crate::arch`].

use std::fmt;

use crate::arch::{Arch, ArchError};
use crate::asm::{self, Op};
use crate::helpers::Helper;
use crate::insn::{Reg, Size};

/// Where a program attaches, or what runs it: the kprobes fire on their
/// function; the programs of `BEGIN`, `END` and `interval` blocks attach
/// nowhere (raw tracepoint programs in a bare `raw_tp` section, which
/// libbpf does not auto-attach) and are run by the loader with
/// `BPF_PROG_TEST_RUN`: `BEGIN` before any kprobe is attached, `interval`
/// ones at their period, `END` after the last kprobe is detached.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AttachPoint {
    /// Entry of `func`, or `offset` bytes into it.
    Kprobe { func: String, offset: u64 },
    /// Return of `func`.
    Kretprobe { func: String },
    /// Run once before any kprobe is attached.
    Begin,
    /// Run once after every kprobe is detached.
    End,
    /// Run every `period_ns` nanoseconds while the kprobes are attached.
    Interval { period_ns: u64 },
    /// Entry of `func` through its BPF trampoline (a tracing program).
    Fentry { func: String },
    /// Return of `func` through its BPF trampoline.
    Fexit { func: String },
}

/// The section of every program a loader runs rather than attaches.
pub const RUN_SECTION: &str = "raw_tp";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KprobeError {
    #[error(transparent)]
    Arch(#[from] ArchError),
    #[error("r10 is the read-only frame pointer; it cannot receive {what}")]
    FramePointer { what: String },
    #[error("{reg} is named twice in the prologue")]
    Duplicate { reg: Reg },
    #[error(
        "`{0}` is not a kprobe section (expected kprobe/FUNC, kprobe/FUNC+OFF, kretprobe/FUNC, fentry/FUNC or fexit/FUNC)"
    )]
    BadSection(String),
    #[error("`{0}` is not a kernel function name")]
    BadFunction(String),
    #[error("scratch stack slot r10{0:+} is outside the 512-byte frame or not 8-byte aligned")]
    BadScratch(i16),
}

impl AttachPoint {
    pub fn kprobe(func: &str) -> AttachPoint {
        AttachPoint::Kprobe {
            func: func.into(),
            offset: 0,
        }
    }

    pub fn kretprobe(func: &str) -> AttachPoint {
        AttachPoint::Kretprobe { func: func.into() }
    }

    /// The function probed; empty for the programs a loader runs.
    pub fn func(&self) -> &str {
        match self {
            AttachPoint::Kprobe { func, .. }
            | AttachPoint::Kretprobe { func }
            | AttachPoint::Fentry { func }
            | AttachPoint::Fexit { func } => func,
            AttachPoint::Begin | AttachPoint::End | AttachPoint::Interval { .. } => "",
        }
    }

    /// Whether this is a kprobe or kretprobe (not a program the loader runs).
    pub fn is_kprobe(&self) -> bool {
        matches!(
            self,
            AttachPoint::Kprobe { .. } | AttachPoint::Kretprobe { .. }
        )
    }

    pub fn is_return(&self) -> bool {
        matches!(
            self,
            AttachPoint::Kretprobe { .. } | AttachPoint::Fexit { .. }
        )
    }

    /// Whether this is a tracing program on a BPF trampoline, its ctx the
    /// function's arguments as u64 slots rather than `pt_regs`.
    pub fn is_tracing(&self) -> bool {
        matches!(self, AttachPoint::Fentry { .. } | AttachPoint::Fexit { .. })
    }

    /// The ELF section name libbpf and aya read the attach point from.
    pub fn section(&self) -> String {
        match self {
            AttachPoint::Kprobe { func, offset: 0 } => format!("kprobe/{func}"),
            AttachPoint::Kprobe { func, offset } => format!("kprobe/{func}+{offset}"),
            AttachPoint::Kretprobe { func } => format!("kretprobe/{func}"),
            AttachPoint::Begin | AttachPoint::End | AttachPoint::Interval { .. } => {
                RUN_SECTION.to_string()
            }
            AttachPoint::Fentry { func } => format!("fentry/{func}"),
            AttachPoint::Fexit { func } => format!("fexit/{func}"),
        }
    }

    /// Parses a section name back into an attach point.
    pub fn from_section(section: &str) -> Result<AttachPoint, KprobeError> {
        let bad = || KprobeError::BadSection(section.to_string());
        if let Some(func) = section.strip_prefix("fentry/") {
            return Ok(AttachPoint::Fentry {
                func: checked_func(func).map_err(|_| bad())?,
            });
        }
        if let Some(func) = section.strip_prefix("fexit/") {
            return Ok(AttachPoint::Fexit {
                func: checked_func(func).map_err(|_| bad())?,
            });
        }
        if let Some(func) = section.strip_prefix("kretprobe/") {
            return Ok(AttachPoint::Kretprobe {
                func: checked_func(func).map_err(|_| bad())?,
            });
        }
        let rest = section.strip_prefix("kprobe/").ok_or_else(bad)?;
        let (func, offset) = match rest.split_once('+') {
            Some((f, o)) => (f, parse_offset(o).ok_or_else(bad)?),
            None => (rest, 0),
        };
        Ok(AttachPoint::Kprobe {
            func: checked_func(func).map_err(|_| bad())?,
            offset,
        })
    }

    /// A C identifier for the program's function symbol: `kprobe_vfs_read`.
    pub fn symbol(&self) -> String {
        let base = match self {
            AttachPoint::Kprobe { func, offset: 0 } => format!("kprobe_{func}"),
            AttachPoint::Kprobe { func, offset } => format!("kprobe_{func}_{offset}"),
            AttachPoint::Kretprobe { func } => format!("kretprobe_{func}"),
            AttachPoint::Begin => "BEGIN".to_string(),
            AttachPoint::End => "END".to_string(),
            AttachPoint::Interval { period_ns } => format!("interval_{}", period_name(*period_ns)),
            AttachPoint::Fentry { func } => format!("fentry_{func}"),
            AttachPoint::Fexit { func } => format!("fexit_{func}"),
        };
        base.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    }
}

impl fmt::Display for AttachPoint {
    /// bpftrace's spelling: `kprobe:vfs_read`, `kprobe:f+8`, `kretprobe:f`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachPoint::Kprobe { func, offset: 0 } => write!(f, "kprobe:{func}"),
            AttachPoint::Kprobe { func, offset } => write!(f, "kprobe:{func}+{offset}"),
            AttachPoint::Kretprobe { func } => write!(f, "kretprobe:{func}"),
            AttachPoint::Begin => write!(f, "BEGIN"),
            AttachPoint::End => write!(f, "END"),
            AttachPoint::Interval { period_ns } => {
                write!(f, "interval:{}", period_name(*period_ns))
            }
            AttachPoint::Fentry { func } => write!(f, "fentry:{func}"),
            AttachPoint::Fexit { func } => write!(f, "fexit:{func}"),
        }
    }
}

/// A period in the largest unit that divides it: `1s`, `100ms`, `7us`.
fn period_name(ns: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    let (div, unit) = UNITS
        .into_iter()
        .find(|(d, _)| ns % d == 0 && ns > 0)
        .unwrap_or((1, "ns"));
    format!("{}{unit}", ns / div)
}

fn parse_offset(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Kernel symbols are C identifiers, with `.` for compiler-made clones
/// (`foo.isra.0`).
fn checked_func(func: &str) -> Result<String, KprobeError> {
    let ok = !func.is_empty()
        && !func.starts_with(|c: char| c.is_ascii_digit())
        && func
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if ok {
        Ok(func.to_string())
    } else {
        Err(KprobeError::BadFunction(func.to_string()))
    }
}

/// Loads function arguments 0.. into `args` from the ctx in r1, first
/// saving r1 into `ctx_save` if given: `kprobe-prologue`.
///
/// A target of r1 is loaded last, so the ctx stays readable until then.
pub fn prologue(arch: Arch, ctx_save: Option<Reg>, args: &[Reg]) -> Result<Vec<Op>, KprobeError> {
    let mut seen = Vec::new();
    for r in ctx_save.iter().chain(args) {
        if *r == Reg::R10 {
            return Err(KprobeError::FramePointer {
                what: "an argument".into(),
            });
        }
        if seen.contains(r) {
            return Err(KprobeError::Duplicate { reg: *r });
        }
        seen.push(*r);
    }
    let mut ops = Vec::with_capacity(args.len() + 1);
    if let Some(c) = ctx_save.filter(|c| *c != Reg::R1) {
        ops.push(asm::mov_reg(c, Reg::R1));
    }
    let mut last = None;
    for (i, &dst) in args.iter().enumerate() {
        let load = load_arg(arch, Reg::R1, i, dst, Size::DW)?;
        if dst == Reg::R1 {
            last = Some(load);
        } else {
            ops.push(load);
        }
    }
    ops.extend(last);
    Ok(ops)
}

/// `dst = argN`, reading `size` bytes: the low-order part of the register,
/// which on big-endian s390x is at the end of its 8-byte slot.
pub fn load_arg(
    arch: Arch,
    ctx: Reg,
    index: usize,
    dst: Reg,
    size: Size,
) -> Result<Op, KprobeError> {
    let slot = arch.arg_offset(index)?;
    Ok(asm::load_mem(
        size,
        dst,
        ctx,
        arch.low_part(slot, size) as i16,
    ))
}

/// `dst = return value` in a kretprobe: `kretprobe-get-return-value`.
pub fn kretprobe_return_value(arch: Arch, ctx: Reg, dst: Reg) -> Op {
    asm::load_mem(Size::DW, dst, ctx, arch.regs().ret as i16)
}

/// `dst = syscall argument N` in a kprobe on a syscall's entry symbol of a
/// kernel with syscall wrappers: the probed function's first argument points
/// at the user `pt_regs`, read with `bpf_probe_read_kernel` through the
/// 8-byte stack slot `scratch`. Clobbers r0..r5; `ctx` may be r1.
pub fn syscall_arg(
    arch: Arch,
    ctx: Reg,
    index: usize,
    dst: Reg,
    scratch: i16,
) -> Result<Vec<Op>, KprobeError> {
    if dst == Reg::R10 {
        return Err(KprobeError::FramePointer {
            what: "a syscall argument".into(),
        });
    }
    if !(-512..=-8).contains(&scratch) || scratch % 8 != 0 {
        return Err(KprobeError::BadScratch(scratch));
    }
    let user_regs = arch.arg_offset(0)? as i16;
    let off = arch.syscall_arg_offset(index)? as i32;
    Ok(vec![
        asm::load_mem(Size::DW, Reg::R3, ctx, user_regs),
        asm::add(Reg::R3, off),
        asm::helper_call(
            Helper::ProbeReadKernel,
            vec![asm::stack(scratch), asm::Arg::Imm(8), Reg::R3.into()],
        ),
        asm::load_mem(Size::DW, dst, Reg::R10, scratch),
    ])
}

/// A whole kprobe program: `build-kprobe-program`.
#[derive(Clone, Debug, Default)]
pub struct KprobeProgram {
    /// Registers receiving arguments 0, 1, ...
    pub args: Vec<Reg>,
    /// Where to keep the ctx pointer for later helper calls.
    pub ctx_reg: Option<Reg>,
    /// The program logic. It may jump to the label `exit` to finish.
    pub body: Vec<Op>,
    /// The value the program returns (0 for kprobes).
    pub return_value: i32,
}

/// The label a [`KprobeProgram`] body jumps to in order to return.
pub const EXIT_LABEL: &str = "exit";

/// Prologue, body, then `exit:` with `r0 = return_value; exit`.
pub fn build_kprobe_program(arch: Arch, p: &KprobeProgram) -> Result<Vec<Op>, KprobeError> {
    let mut ops = prologue(arch, p.ctx_reg, &p.args)?;
    ops.extend(p.body.iter().cloned());
    ops.extend([
        asm::label(EXIT_LABEL),
        asm::mov(Reg::R0, p.return_value),
        asm::exit(),
    ]);
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::assemble;
    use crate::insn::class;
    use proptest::prelude::*;

    #[test]
    fn sections_round_trip() {
        for s in [
            "kprobe/vfs_read",
            "kprobe/do_sys_openat2+4",
            "kretprobe/vfs_read",
            "kprobe/f.isra.0",
            "fentry/vfs_read",
            "fexit/vfs_read",
        ] {
            assert_eq!(AttachPoint::from_section(s).unwrap().section(), s);
        }
        assert_eq!(
            AttachPoint::from_section("kprobe/f+0x10").unwrap(),
            AttachPoint::Kprobe {
                func: "f".into(),
                offset: 16
            }
        );
        for bad in [
            "uprobe/x",
            "kprobe/",
            "kprobe/a b",
            "kprobe/f+x",
            "fentry/",
            "fexit/f+8",
        ] {
            assert!(AttachPoint::from_section(bad).is_err(), "{bad}");
        }
        assert_eq!(AttachPoint::kprobe("f.isra.0").symbol(), "kprobe_f_isra_0");
    }

    #[test]
    fn programs_a_loader_runs_share_the_raw_tp_section() {
        let every = AttachPoint::Interval {
            period_ns: 100_000_000,
        };
        for (at, symbol) in [
            (AttachPoint::Begin, "BEGIN"),
            (AttachPoint::End, "END"),
            (every.clone(), "interval_100ms"),
        ] {
            assert_eq!(at.section(), RUN_SECTION);
            assert_eq!(at.symbol(), symbol);
            assert!(!at.is_kprobe());
            assert_eq!(at.func(), "");
        }
        assert_eq!(every.to_string(), "interval:100ms");
        assert_eq!(period_name(1_000_000_000), "1s");
        assert_eq!(period_name(1_500), "1500ns");
        assert!(AttachPoint::kretprobe("f").is_kprobe());
    }

    #[test]
    fn prologue_saves_ctx_first_and_loads_r1_last() {
        let ops = prologue(Arch::X86_64, Some(Reg::R9), &[Reg::R1, Reg::R7]).unwrap();
        let code = assemble(&ops).unwrap().insns;
        assert_eq!((code[0].dst, code[0].src), (9, 1)); // r9 = r1
        assert_eq!((code[1].dst, code[1].off), (7, 104)); // r7 = arg1 (si)
        assert_eq!((code[2].dst, code[2].off), (1, 112)); // r1 = arg0 (di), last
    }

    #[test]
    fn prologue_rejects_frame_pointer_duplicates_and_excess_args() {
        assert!(matches!(
            prologue(Arch::Arm64, None, &[Reg::R10]),
            Err(KprobeError::FramePointer { .. })
        ));
        assert!(matches!(
            prologue(Arch::Arm64, Some(Reg::R6), &[Reg::R6]),
            Err(KprobeError::Duplicate { .. })
        ));
        let six: Vec<Reg> = (1..=6).map(|n| Reg::new(n).unwrap()).collect();
        let e = prologue(Arch::S390x, None, &six).unwrap_err();
        assert_eq!(
            e.to_string(),
            "s390x passes 5 arguments in registers (arg0..arg4); arg5 is on the stack"
        );
    }

    #[test]
    fn thirty_two_bit_argument_reads_are_at_plus_four_on_s390x() {
        let load = |arch| {
            assemble(&[load_arg(arch, Reg::R1, 0, Reg::R6, Size::W).unwrap()])
                .unwrap()
                .insns[0]
        };
        assert_eq!(load(Arch::S390x).off, 44);
        assert_eq!(load(Arch::X86_64).off, 112);
        assert_eq!(load(Arch::S390x).size(), crate::insn::size::W);
    }

    #[test]
    fn syscall_args_go_through_the_user_regs() {
        let ops = syscall_arg(Arch::X86_64, Reg::R1, 3, Reg::R6, -8).unwrap();
        let code = assemble(&ops).unwrap().insns;
        assert_eq!(code[0].off, 112); // r3 = regs pointer (arg0)
        assert_eq!(code[1].imm, 56); // += offsetof(r10): syscall arg3
        assert!(code
            .iter()
            .any(|i| i.is_call() && i.imm == Helper::ProbeReadKernel.id()));
        assert_eq!(
            (code.last().unwrap().dst, code.last().unwrap().off),
            (6, -8)
        );
        assert!(matches!(
            syscall_arg(Arch::X86_64, Reg::R1, 0, Reg::R6, -4),
            Err(KprobeError::BadScratch(-4))
        ));
        assert!(syscall_arg(Arch::X86_64, Reg::R1, 6, Reg::R6, -8).is_err());
    }

    #[test]
    fn built_program_ends_in_exit_with_the_return_value() {
        let p = KprobeProgram {
            args: vec![Reg::R6],
            body: vec![asm::jmp_imm(crate::insn::Cond::Eq, Reg::R6, 0, EXIT_LABEL)],
            return_value: 0,
            ..Default::default()
        };
        let code = assemble(&build_kprobe_program(Arch::Riscv64, &p).unwrap())
            .unwrap()
            .insns;
        assert_eq!(code[0].off, 80);
        assert_eq!(code[1].off, 0); // jumps to the exit label right after it
        assert!(code.last().unwrap().is_exit());
    }

    proptest! {
        /// For every arch and argument index, the prologue loads from the
        /// table's offset, with a DW load from r1.
        #[test]
        fn prologue_loads_from_the_table(arch_i in 0usize..5, n in 1usize..=8) {
            let arch = Arch::ALL[arch_i];
            let regs: Vec<Reg> = (0..n).map(|i| Reg::new(1 + (i as u8 % 9)).unwrap()).collect();
            let regs: Vec<Reg> = regs.into_iter().fold(Vec::new(), |mut v, r| { if !v.contains(&r) { v.push(r) } v });
            let res = prologue(arch, None, &regs);
            if regs.len() > arch.reg_args() {
                prop_assert!(res.is_err());
            } else {
                let code = assemble(&res.unwrap()).unwrap().insns;
                prop_assert_eq!(code.len(), regs.len());
                for ins in code {
                    prop_assert_eq!(ins.class(), class::LDX);
                    prop_assert_eq!(ins.src, 1);
                    let idx = regs.iter().position(|r| r.num() == ins.dst).unwrap();
                    prop_assert_eq!(ins.off as u16, arch.arg_offset(idx).unwrap());
                }
            }
        }
    }
}
