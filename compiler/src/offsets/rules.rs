//! Where the kernel allows a kprobe, beyond instruction boundaries: one
//! [`Rule`] per fact, each recognising its instructions by their bytes (as
//! the kernel itself does: `is_endbr`, `ftrace_location`'s records of the
//! patch site, ppc64's local-entry offset). The arch rows of
//! [`crate::arch::ARCHS`] list which apply where.
//!
//! Every rule here is from the kernel source (6.1 to 6.12);
//! [`super::Why::evidence`] says which the QEMU matrix has seen hold (a
//! kprobe at `vfs_read+4`) and which are not yet verified there.
//!
//! - `ENDBR64` (x86_64): `arch_adjust_kprobe_addr` moves a probe at +0 or
//!   +4 of a function that begins with `endbr64` to +4; a sealed one (the
//!   4-byte NOP the kernel writes over it) is taken alike.
//! - `FENTRY` (x86_64): the 5-byte `__fentry__` call (a NOP until traced)
//!   at +0, or after `endbr64`: a kprobe there goes through ftrace.
//! - `ARM64_PATCH_SITE`: `-fpatchable-function-entry=2`'s two NOPs (after
//!   `bti c` where BTI is on), patched to `mov x9, x30; bl ftrace_caller`.
//!   arm64 has no `KPROBES_ON_FTRACE`: `check_ftrace_location` refuses the
//!   ftrace record's address (`EINVAL`); the rule refuses every boundary
//!   of the site past +0.
//! - `RISCV64_PATCH_SITE`: the 8 bytes of NOPs (four `c.nop`, or two
//!   `nop`), patched to `auipc t0; jalr t0` (from 6.16 the `auipc` stays
//!   and only the `jalr` and a NOP swap), or with an `ebreak` at +0
//!   where another kprobe is armed there: refused past +0 (it runs after
//!   `RISCV64_BUG`, so that such an `ebreak` is not taken for a trap).
//! - `S390X_FENTRY`: the 6-byte `brcl 0,0` (`-mnop-mcount`), patched to a
//!   branch to ftrace: at +0, through ftrace.
//! - Traps (`X86_64_TRAPS`, `ARM64_BUG`, `PPC64LE_BUG`, `RISCV64_BUG`,
//!   `S390X_BUG`): each arch's `BUG()`/`WARN()` instruction
//!   (`asm/bug.h`), refused where `check_kprobe_address_safe` finds it in
//!   the bug table (`find_bug`); x86_64's `int3`, refused by
//!   `__copy_instruction`.
//! - `PPC64LE_GLOBAL_ENTRY`: `addis r2,r12,..; addi r2,r2,..` at +0, the
//!   TOC set up for callers from another module; the local entry point is
//!   +8. `kprobe_lookup_name` moves +0 to +8; +4 attaches but calls through
//!   the local entry never reach it.

use super::{Rule, Text, Verdict, Why};

/// `endbr64`.
const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];
/// A sealed `endbr64`: where IBT is built in, the kernel overwrites the
/// `endbr64` of every function whose address is never taken with this
/// 4-byte NOP (`ENDBR_POISON`, `osp nopl (%rax)`; `apply_seal_endbr`), and
/// the `__fentry__` site still follows it at +4 (seen in Debian trixie's
/// x86_64 6.12: `vfs_read` begins `66 0f 1f 00`, then the call).
const ENDBR_POISON: [u8; 4] = [0x66, 0x0f, 0x1f, 0x00];

/// Whether a function begins with `endbr64`, sealed or not.
fn starts_with_endbr(bytes: &[u8]) -> bool {
    bytes.starts_with(&ENDBR64) || bytes.starts_with(&ENDBR_POISON)
}
/// The 5-byte NOP the kernel patches `__fentry__` calls into.
const NOP5: [u8; 5] = [0x0f, 0x1f, 0x44, 0x00, 0x00];
/// `call rel32`.
const CALL: u8 = 0xe8;

pub const X86_64_ENDBR64: Rule = Rule {
    name: "endbr64 at entry",
    apply: |text| {
        when(starts_with_endbr(text.bytes), || {
            vec![(0, Verdict::Note(Why::Endbr64))]
        })
    },
};

pub const X86_64_FENTRY: Rule = Rule {
    name: "__fentry__ call site",
    apply: |text| {
        let at = if starts_with_endbr(text.bytes) { 4 } else { 0 };
        let site = text.bytes.get(at..at + 5);
        let is_site = site.is_some_and(|s| s == NOP5 || s[0] == CALL);
        when(is_site, || {
            vec![(at as u64, Verdict::Note(Why::FtraceCall))]
        })
    },
};

/// arm64 `bti c` and `bti jc`.
const ARM64_BTI: [u32; 2] = [0xd503_245f, 0xd503_24df];
const ARM64_NOP: u32 = 0xd503_201f;
/// `mov x9, x30`: the patch site's first instruction when traced.
const ARM64_MOV_X9_LR: u32 = 0xaa1e_03e9;
/// `brk #0x4` (`KPROBES_BRK_IMM`): what a kprobe armed at +0 has put in
/// place of the site's first instruction, as `/proc/kcore` shows it.
const ARM64_KPROBE_BRK: u32 = 0xd420_0080;

pub const ARM64_PATCH_SITE: Rule = Rule {
    name: "patchable-function-entry NOPs",
    apply: |text| {
        let start = match text.word(0) {
            Some(w) if ARM64_BTI.contains(&w) => 4,
            _ => 0,
        };
        let first = text.word(start);
        let second = text.word(start + 4);
        let is_bl = |w: u32| w & 0xfc00_0000 == 0x9400_0000;
        let site = matches!(first, Some(w) if [ARM64_NOP, ARM64_MOV_X9_LR, ARM64_KPROBE_BRK].contains(&w))
            && matches!(second, Some(w) if w == ARM64_NOP || is_bl(w));
        when(site, || refuse_inside(text, start + 8))
    },
};

/// riscv64 `c.nop`, `nop` (`addi x0, x0, 0`).
const RISCV_C_NOP: [u8; 2] = [0x01, 0x00];
const RISCV_NOP: u32 = 0x0000_0013;
/// `ebreak` and `c.ebreak`: what a kprobe armed at +0 has put in place of
/// the site's first NOP, as `/proc/kcore` shows it (seen in Debian sid's
/// riscv64 7.2: `vfs_read` read `ebreak; nop` with a kprobe at +0).
const RISCV_EBREAK: u32 = 0x0010_0073;
const RISCV_C_EBREAK: [u8; 2] = [0x02, 0x90];
/// The patch site's 8 bytes.
const RISCV_SITE: u64 = 8;

pub const RISCV64_PATCH_SITE: Rule = Rule {
    name: "patchable-function-entry NOPs",
    apply: |text| {
        let is_auipc_t0 = |w: u32| w & 0xfff == 0x297;
        let is_jalr_t0 = |w: u32| w & 0x707f == 0x67 && (w >> 15) & 0x1f == 5;
        let c_nops = |b: &[u8]| b.chunks(2).all(|h| h == RISCV_C_NOP);
        let site = text.bytes.get(..8);
        let nops = site.is_some_and(c_nops)
            || (text.word(0) == Some(RISCV_NOP) && text.word(4) == Some(RISCV_NOP));
        // Patched, or (from 6.16, whose ftrace patches the `jalr` alone)
        // its `auipc` kept with a NOP after it while nothing traces it.
        let call = text.word(0).is_some_and(is_auipc_t0)
            && text
                .word(4)
                .is_some_and(|w| is_jalr_t0(w) || w == RISCV_NOP);
        let armed = (text.word(0) == Some(RISCV_EBREAK) && text.word(4) == Some(RISCV_NOP))
            || site.is_some_and(|b| b[..2] == RISCV_C_EBREAK && c_nops(&b[2..]));
        when(nops || call || armed, || {
            let mut v = refuse_inside(text, RISCV_SITE);
            // Another kprobe's breakpoint, not a BUG() trap: +0 stays open.
            v.push((0, Verdict::Ok));
            v
        })
    },
};

pub const S390X_FENTRY: Rule = Rule {
    name: "brcl ftrace site",
    apply: |text| {
        // brcl (c0x4) as the NOP, brasl (c0x5) once patched.
        let site = text
            .bytes
            .get(..2)
            .is_some_and(|b| b[0] == 0xc0 && matches!(b[1] & 0x0f, 4 | 5));
        when(site, || vec![(0, Verdict::Note(Why::FtraceCall))])
    },
};

pub const PPC64LE_GLOBAL_ENTRY: Rule = Rule {
    name: "global entry point",
    apply: |text| {
        let addis_r2_r12 = text.word(0).is_some_and(|w| w & 0xffff_0000 == 0x3c4c_0000);
        let addi_r2_r2 = text.word(4).is_some_and(|w| w & 0xffff_0000 == 0x3842_0000);
        when(addis_r2_r12 && addi_r2_r2, || {
            vec![
                (0, Verdict::Note(Why::GlobalEntry)),
                (4, Verdict::Refused(Why::BeforeLocalEntry)),
            ]
        })
    },
};

/// x86_64 `ud2`, `int3`.
const UD2: [u8; 2] = [0x0f, 0x0b];
const INT3: u8 = 0xcc;

pub const X86_64_TRAPS: Rule = Rule {
    name: "ud2 and int3",
    apply: |text| {
        let mut out = refuse_where(text, Why::Trap, |b| b == UD2);
        out.extend(refuse_where(text, Why::Int3, |b| b == [INT3]));
        out
    },
};

pub const ARM64_BUG: Rule = Rule {
    name: "brk #0x800",
    apply: |text| refuse_words(text, |w| w == 0xd421_0000),
};

pub const PPC64LE_BUG: Rule = Rule {
    name: "twi 31,0,0 and tdnei",
    // twi 31,0,0 (BUG, WARN); tdi 24,rA,0 (tdnei rA,0: BUG_ON, WARN_ON).
    apply: |text| refuse_words(text, |w| w == 0x0fe0_0000 || w & 0xffe0_ffff == 0x0b00_0000),
};

pub const RISCV64_BUG: Rule = Rule {
    name: "ebreak and c.ebreak",
    apply: |text| {
        refuse_where(text, Why::Trap, |b| {
            b == [0x73, 0, 0x10, 0] || b == [0x02, 0x90]
        })
    },
};

pub const S390X_BUG: Rule = Rule {
    name: "mc 0,0",
    apply: |text| refuse_where(text, Why::Trap, |b| b == [0xaf, 0, 0, 0]),
};

/// Every instruction whose bytes `is` takes, refused for `why`.
fn refuse_where(text: &Text, why: Why, is: impl Fn(&[u8]) -> bool) -> Vec<(u64, Verdict)> {
    text.insns
        .iter()
        .filter(|i| is(text.insn_bytes(i)))
        .map(|i| (i.offset, Verdict::Refused(why)))
        .collect()
}

/// Every 4-byte instruction whose word `is` takes, refused as a trap.
fn refuse_words(text: &Text, is: impl Fn(u32) -> bool) -> Vec<(u64, Verdict)> {
    text.insns
        .iter()
        .filter(|i| text.word(i.offset).is_some_and(&is))
        .map(|i| (i.offset, Verdict::Refused(Why::Trap)))
        .collect()
}

/// `verdicts()` where the rule's instructions are there, else none.
fn when(found: bool, verdicts: impl FnOnce() -> Vec<(u64, Verdict)>) -> Vec<(u64, Verdict)> {
    if found {
        verdicts()
    } else {
        Vec::new()
    }
}

/// Every boundary in `(0, end)` refused as inside the ftrace patch site.
fn refuse_inside(text: &Text, end: u64) -> Vec<(u64, Verdict)> {
    text.insns
        .iter()
        .map(|i| i.offset)
        .filter(|&o| o > 0 && o < end)
        .map(|o| (o, Verdict::Refused(Why::FtraceSite)))
        .collect()
}
