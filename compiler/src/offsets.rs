//! Kprobe offsets: where in a kernel function `kprobe:FUNC+OFFSET` may go.
//!
//! A function's bytes are split into instructions by its arch's decoder
//! (the `text` field of its [`crate::arch::ArchInfo`] row: `decode` for the
//! lengths, `rules` for the kernel's refusals), and each instruction
//! boundary gets a [`Verdict`]: `ok`, `ok` with a note (the kernel moves the
//! probe or runs it through ftrace), or refused with the reason
//! ([`Why`]). An offset that is not a boundary is refused by every kernel
//! (x86_64: `EILSEQ`; the others would patch the middle of an instruction).
//!
//! The decoders (`offsets::decode`) and the kernel's rules
//! (`offsets::rules`) are pure functions of the bytes; where the bytes come
//! from (`/proc/kallsyms` and `/proc/kcore` of the running kernel, or a
//! file) is `offsets::source`.

pub mod decode;
pub mod rules;
pub mod source;

use std::fmt;

use crate::arch::Arch;

/// One instruction of a function: where it begins, how long it is, and
/// its mnemonic where the arch's decoder names it (x86_64).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Insn {
    pub offset: u64,
    pub len: u8,
    pub mnemonic: Option<String>,
}

/// What an arch's decoder says of the bytes at one offset: the length of
/// the instruction that begins there and its mnemonic, or `None` where the
/// bytes are not an instruction (padding past the function's end, data,
/// or too few bytes left).
pub type DecodeFn = fn(&[u8]) -> Option<(u8, Option<String>)>;

/// A kernel rule over a decoded function: the verdicts it gives to some of
/// its boundaries (the others are `ok` unless another rule says otherwise).
pub type RuleFn = fn(&Text) -> Vec<(u64, Verdict)>;

/// One rule of where a kernel allows a kprobe, named for the docs and
/// tests.
#[derive(Clone, Copy)]
pub struct Rule {
    pub name: &'static str,
    pub apply: RuleFn,
}

/// How one arch's kernel text splits into instructions and where its
/// kernel refuses kprobes: part of the arch's [`crate::arch::ArchInfo`]
/// row.
#[derive(Clone, Copy)]
pub struct TextRules {
    /// The decoder, described: "iced-x86", "fixed 4 bytes".
    pub decoder: &'static str,
    pub decode: DecodeFn,
    pub rules: &'static [Rule],
}

impl PartialEq for TextRules {
    /// Rows compare by what they name: function pointers have no stable
    /// identity to compare.
    fn eq(&self, other: &Self) -> bool {
        self.decoder == other.decoder
            && self.rules.len() == other.rules.len()
            && self
                .rules
                .iter()
                .zip(other.rules)
                .all(|(a, b)| a.name == b.name)
    }
}
impl Eq for TextRules {}

impl fmt::Debug for TextRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: Vec<&str> = self.rules.iter().map(|r| r.name).collect();
        f.debug_struct("TextRules")
            .field("decoder", &self.decoder)
            .field("rules", &rules)
            .finish()
    }
}

/// Why the kernel treats a boundary specially. Each is read from the
/// kernel source (`kernel/kprobes.c`, `kernel/trace/ftrace.c` and the
/// arch's `kprobes.c`/`ftrace.c`); [`Why::evidence`] says which the QEMU
/// matrix has seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Why {
    /// x86_64: `endbr64` at +0. With IBT on, the kernel moves a probe at +0
    /// (and +4) to the instruction after it (`arch_adjust_kprobe_addr`).
    Endbr64,
    /// The ftrace call site itself (x86_64 `__fentry__`, s390x `brcl`): a
    /// kprobe there goes through ftrace (`KPROBES_ON_FTRACE`).
    FtraceCall,
    /// Inside the ftrace patch site (the `patchable-function-entry` NOPs
    /// of arm64 and riscv64) past its first instruction: the kernel
    /// refuses it (`check_ftrace_location`, `EINVAL`).
    FtraceSite,
    /// ppc64le: +0 is the global entry point; the kernel moves a probe
    /// there to the local entry point (`kprobe_lookup_name`).
    GlobalEntry,
    /// A `BUG()`/`WARN()` trap (x86_64 `ud2`, arm64 `brk #0x800`, ppc64le
    /// `twi 31,0,0` and `tdnei`, riscv64 `ebreak`, s390x `mc`): the kernel
    /// refuses a kprobe at an address of its bug table (`find_bug`), and
    /// arm64 and riscv64 refuse to step any break instruction.
    Trap,
    /// x86_64 `int3` (padding after a `ret` or `jmp` where straight-line
    /// speculation is mitigated): the kernel refuses to copy it
    /// (`__copy_instruction`: another debugger's breakpoint).
    Int3,
    /// ppc64le: between the global and the local entry point (the
    /// `addis r2,r12` / `addi r2,r2` pair): it attaches, but calls through
    /// the local entry, nearly all of them, never pass it.
    BeforeLocalEntry,
}

impl Why {
    /// The reason in a few words, as `probecc offsets` prints it.
    pub fn text(self) -> &'static str {
        match self {
            Why::Endbr64 => "endbr64: where IBT is on, the kernel attaches after it",
            Why::FtraceCall => "the ftrace call site: the kprobe goes through ftrace",
            Why::FtraceSite => "inside the ftrace patch site",
            Why::GlobalEntry => "the global entry point: the kernel attaches at the local one",
            Why::BeforeLocalEntry => "before the local entry point: it would never fire",
            Why::Trap => "a BUG/WARN trap",
            Why::Int3 => "an int3, which the kernel will not copy",
        }
    }

    /// A short stable name for JSON.
    pub fn key(self) -> &'static str {
        match self {
            Why::Endbr64 => "endbr64",
            Why::FtraceCall => "ftrace_call",
            Why::FtraceSite => "ftrace_site",
            Why::GlobalEntry => "global_entry",
            Why::BeforeLocalEntry => "before_local_entry",
            Why::Trap => "trap",
            Why::Int3 => "int3",
        }
    }

    /// What the rule rests on: the kernel source, and where the QEMU
    /// matrix has seen it hold (`fixtures/matrix/expectations.toml`: a
    /// kprobe at `vfs_read+4` on Debian's kernels).
    pub fn evidence(self) -> &'static str {
        match self {
            Why::FtraceSite => {
                "the kernel source; seen at vfs_read+4 in QEMU (arm64 6.1, riscv64 6.12: EINVAL)"
            }
            Why::BeforeLocalEntry => {
                "the kernel source; seen at vfs_read+4 in QEMU (ppc64le 6.1: attaches, never fires)"
            }
            Why::FtraceCall => {
                "the kernel source; seen in QEMU (x86_64 6.1 and 6.12, s390x 6.1 and 6.12: \
                 a kprobe at the site attaches and counts every call)"
            }
            Why::Endbr64 => {
                "the kernel source; seen sealed (66 0f 1f 00) at vfs_read+0 in QEMU (x86_64 6.12), \
                 where a kprobe at +0 attaches"
            }
            Why::GlobalEntry => {
                "the kernel source; seen in QEMU (ppc64le 6.1 and 6.12: a kprobe at +0 counts \
                 what one at the local entry, +8, counts)"
            }
            Why::Trap | Why::Int3 => "from the kernel source, not yet verified in QEMU",
        }
    }
}

/// What the kernel does with a kprobe at an instruction boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Allowed, with a note: the kernel moves it or runs it through ftrace.
    Note(Why),
    /// The kernel refuses it, or it would never fire.
    Refused(Why),
}

impl Verdict {
    pub fn allowed(self) -> bool {
        !matches!(self, Verdict::Refused(_))
    }

    pub fn why(self) -> Option<Why> {
        match self {
            Verdict::Ok => None,
            Verdict::Note(w) | Verdict::Refused(w) => Some(w),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Ok => f.write_str("ok"),
            Verdict::Note(w) => write!(f, "ok ({})", w.text()),
            Verdict::Refused(w) => write!(f, "refused: {}", w.text()),
        }
    }
}

/// A function's bytes decoded: its instructions, in order, from +0 up to
/// its end or the first bytes the decoder does not take.
#[derive(Clone, Debug)]
pub struct Text<'a> {
    pub arch: Arch,
    pub bytes: &'a [u8],
    pub insns: Vec<Insn>,
}

impl<'a> Text<'a> {
    /// The instructions of `bytes`, a function's text from its first byte.
    pub fn decode(arch: Arch, bytes: &'a [u8]) -> Text<'a> {
        let decode = arch.info().text.decode;
        let mut insns = Vec::new();
        let mut at = 0usize;
        while at < bytes.len() {
            let Some((len, mnemonic)) = decode(&bytes[at..]) else {
                break;
            };
            if len == 0 || at + usize::from(len) > bytes.len() {
                break;
            }
            insns.push(Insn {
                offset: at as u64,
                len,
                mnemonic,
            });
            at += usize::from(len);
        }
        Text { arch, bytes, insns }
    }

    /// The bytes of instruction `insn`.
    pub fn insn_bytes(&self, insn: &Insn) -> &'a [u8] {
        let start = insn.offset as usize;
        &self.bytes[start..start + usize::from(insn.len)]
    }

    /// The 32-bit word at `offset` in the arch's byte order, if there.
    pub fn word(&self, offset: u64) -> Option<u32> {
        let start = usize::try_from(offset).ok()?;
        let b: [u8; 4] = self.bytes.get(start..start + 4)?.try_into().ok()?;
        Some(match self.arch.endian() {
            crate::insn::Endian::Little => u32::from_le_bytes(b),
            crate::insn::Endian::Big => u32::from_be_bytes(b),
        })
    }

    /// Every boundary with the kernel's verdict: the arch's rules applied
    /// in order (a later rule's verdict on an offset replaces an earlier
    /// one's).
    pub fn offsets(&self) -> Offsets {
        let mut verdicts = vec![Verdict::Ok; self.insns.len()];
        for rule in self.arch.info().text.rules {
            for (offset, verdict) in (rule.apply)(self) {
                if let Ok(i) = self.insns.binary_search_by_key(&offset, |n| n.offset) {
                    verdicts[i] = verdict;
                }
            }
        }
        let decoded = self.insns.last().map_or(0, |n| n.offset + u64::from(n.len));
        Offsets {
            arch: self.arch,
            size: self.bytes.len() as u64,
            decoded,
            entries: self
                .insns
                .iter()
                .zip(verdicts)
                .map(|(insn, verdict)| Offset {
                    insn: insn.clone(),
                    bytes: self.insn_bytes(insn).to_vec(),
                    verdict,
                })
                .collect(),
        }
    }
}

/// One boundary: the instruction that begins there and the verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offset {
    pub insn: Insn,
    pub bytes: Vec<u8>,
    pub verdict: Verdict,
}

impl Offset {
    /// The instruction as `probecc offsets` prints it: the mnemonic where
    /// the decoder gives one, the bytes in hex otherwise.
    pub fn insn_text(&self) -> String {
        match &self.insn.mnemonic {
            Some(m) => m.clone(),
            None => hex(&self.bytes),
        }
    }
}

/// Bytes as space-separated hex pairs.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A function's boundaries and verdicts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offsets {
    pub arch: Arch,
    /// The function's size in bytes.
    pub size: u64,
    /// How far the decoder went: `size` unless bytes past the last
    /// instruction were not instructions (padding, data).
    pub decoded: u64,
    pub entries: Vec<Offset>,
}

/// Why an offset cannot take a kprobe, with the valid offsets nearest to
/// it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OffsetError {
    #[error("+{offset} is in the middle of the {len}-byte instruction at +{start}{}", nearest_text(.nearest))]
    MidInstruction {
        offset: u64,
        start: u64,
        len: u8,
        nearest: Vec<u64>,
    },
    #[error("+{offset} is refused: {}{}", .why.text(), nearest_text(.nearest))]
    Refused {
        offset: u64,
        why: Why,
        nearest: Vec<u64>,
    },
    #[error("+{offset} is past the function's end ({size} bytes){}", nearest_text(.nearest))]
    PastEnd {
        offset: u64,
        size: u64,
        nearest: Vec<u64>,
    },
}

fn nearest_text(nearest: &[u64]) -> String {
    match nearest {
        [] => String::new(),
        [one] => format!("; the nearest valid offset is {one}"),
        many => {
            let list: Vec<String> = many.iter().map(u64::to_string).collect();
            format!("; the nearest valid offsets are {}", list.join(" and "))
        }
    }
}

impl OffsetError {
    pub fn nearest(&self) -> &[u64] {
        match self {
            OffsetError::MidInstruction { nearest, .. }
            | OffsetError::Refused { nearest, .. }
            | OffsetError::PastEnd { nearest, .. } => nearest,
        }
    }
}

impl Offsets {
    /// The offsets where a kprobe is allowed, ascending.
    pub fn valid(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries
            .iter()
            .filter(|e| e.verdict.allowed())
            .map(|e| e.insn.offset)
    }

    /// The valid offsets nearest `offset`: the last one below it and the
    /// first one above it, where they exist.
    pub fn nearest(&self, offset: u64) -> Vec<u64> {
        let below = self.valid().filter(|&o| o < offset).last();
        let above = self.valid().find(|&o| o > offset);
        below.into_iter().chain(above).collect()
    }

    /// Whether a kprobe may go at `offset`.
    pub fn check(&self, offset: u64) -> Result<Verdict, OffsetError> {
        let nearest = self.nearest(offset);
        match self
            .entries
            .binary_search_by_key(&offset, |e| e.insn.offset)
        {
            Ok(i) => match self.entries[i].verdict {
                Verdict::Refused(why) => Err(OffsetError::Refused {
                    offset,
                    why,
                    nearest,
                }),
                v => Ok(v),
            },
            Err(0) => Err(OffsetError::PastEnd {
                offset,
                size: self.size,
                nearest,
            }),
            Err(i) => {
                let prev = &self.entries[i - 1].insn;
                if offset < prev.offset + u64::from(prev.len) {
                    Err(OffsetError::MidInstruction {
                        offset,
                        start: prev.offset,
                        len: prev.len,
                        nearest,
                    })
                } else {
                    Err(OffsetError::PastEnd {
                        offset,
                        size: self.size,
                        nearest,
                    })
                }
            }
        }
    }

    /// The first valid offset past the entry's special instructions (the
    /// ftrace site, endbr64, the global entry): the first boundary > 0
    /// that is plain `ok`. The offset a test or a guest probes.
    pub fn first_plain(&self) -> Option<u64> {
        self.entries
            .iter()
            .find(|e| e.insn.offset > 0 && e.verdict == Verdict::Ok)
            .map(|e| e.insn.offset)
    }
}

#[cfg(test)]
mod tests;
