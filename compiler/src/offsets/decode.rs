//! Instruction lengths per arch, the `decode` of each arch's
//! [`super::TextRules`]:
//!
//! - x86_64: iced-x86's decoder, built with its `decoder` feature alone
//!   (no formatter, encoder or instruction tables: the lengths and the
//!   mnemonic are all that is needed, and the rest would multiply its build
//!   time). x86_64 lengths run from 1 to 15 bytes and depend on prefixes,
//!   opcode maps, ModRM, SIB and immediates: a hand-written table would be
//!   a second, unchecked x86 decoder. iced-x86 is maintained, has no
//!   dependencies but `lazy_static`, and is tested against the Intel and
//!   AMD manuals' encodings.
//! - arm64 and ppc64le: every instruction is 4 bytes (ppc64le's prefixed
//!   8-byte instructions are Power10's and not in kernels built for
//!   Power8/9, Debian's baseline).
//! - riscv64: the two low bits of the first halfword: `11` is a 32-bit
//!   instruction, anything else a 16-bit compressed one (the C
//!   extension). Longer encodings (`xxx11111` low bits) no ratified
//!   extension uses; they end the decode.
//! - s390x: the two high bits of the first byte: `00` a 2-byte, `01` and
//!   `10` a 4-byte, `11` a 6-byte instruction (Principles of Operation,
//!   "Instruction formats").

use iced_x86::{Decoder, DecoderOptions};

/// x86_64: iced-x86's length and mnemonic (lower case); `None` for bytes
/// that are not an instruction.
pub fn x86_64(bytes: &[u8]) -> Option<(u8, Option<String>)> {
    let mut decoder = Decoder::new(64, bytes, DecoderOptions::NONE);
    let insn = decoder.decode();
    if insn.is_invalid() {
        return None;
    }
    let len = u8::try_from(insn.len()).ok()?;
    Some((len, Some(format!("{:?}", insn.mnemonic()).to_lowercase())))
}

/// arm64 and ppc64le: 4 bytes, if 4 are left.
pub fn fixed4(bytes: &[u8]) -> Option<(u8, Option<String>)> {
    (bytes.len() >= 4).then_some((4, None))
}

/// riscv64: 2 or 4 bytes, from the low bits of the first (little-endian)
/// byte.
pub fn riscv64(bytes: &[u8]) -> Option<(u8, Option<String>)> {
    let first = *bytes.first()?;
    let len = match (first & 0b11, first & 0b1_1100) {
        (0b11, 0b1_1100) => return None,
        (0b11, _) => 4,
        _ => 2,
    };
    (bytes.len() >= usize::from(len)).then_some((len, None))
}

/// s390x: 2, 4 or 6 bytes, from the two high bits of the opcode's first
/// byte.
pub fn s390x(bytes: &[u8]) -> Option<(u8, Option<String>)> {
    let first = *bytes.first()?;
    let len = [2, 4, 4, 6][usize::from(first >> 6)];
    (bytes.len() >= usize::from(len)).then_some((len, None))
}
