//! Whether an instruction is well formed, before its meaning is checked:
//! the opcode is one the kernel knows (`bpf_opcode_in_insntable`, checked
//! for every instruction at load) and the fields the opcode does not use
//! are zero (the "uses reserved fields" checks of `do_check`).

use probecc::insn::{alu, class, jmp, mode, pseudo, size, src, Insn};

/// Whether the kernel knows `code` at all.
pub fn known_opcode(code: u8) -> bool {
    let op = code & 0xf0;
    match code & 0x07 {
        class::ALU | class::ALU64 => op <= alu::END,
        class::JMP => op != 0xf0,
        class::JMP32 => !matches!(op, jmp::CALL | jmp::EXIT | 0xe0 | 0xf0),
        class::LD => matches!(code & 0xf8, 0x18 | 0x20 | 0x28 | 0x30 | 0x40 | 0x48 | 0x50),
        class::LDX => {
            let m = code & 0xe0;
            m == mode::MEM || (m == mode::MEMSX && code & 0x18 != size::DW)
        }
        class::ST => code & 0xe0 == mode::MEM,
        _ => {
            let m = code & 0xe0;
            m == mode::MEM || m == mode::ATOMIC
        }
    }
}

/// The complaint of a kernel before cpu v4 (6.6) about an instruction only
/// cpu v4 has: sign-extending loads and moves, signed division and
/// modulo, unconditional byte swaps, 32-bit-offset jumps.
pub fn before_v4(insn: &Insn) -> Option<String> {
    let class = insn.class();
    let unknown = || Some(format!("unknown opcode {:02x}", insn.code));
    match class {
        class::LDX if insn.mode() == mode::MEMSX => unknown(),
        class::ALU64 if insn.op() == alu::END => unknown(),
        class::JMP32 if insn.op() == jmp::JA => unknown(),
        class::ALU | class::ALU64 if insn.op() == alu::MOV && insn.off != 0 => {
            Some("BPF_MOV uses reserved fields".into())
        }
        class::ALU | class::ALU64 if matches!(insn.op(), alu::DIV | alu::MOD) && insn.off != 0 => {
            Some("BPF_ALU uses reserved fields".into())
        }
        _ => None,
    }
}

/// The kernel's complaint about fields `insn`'s opcode leaves unused.
pub fn reserved(insn: &Insn) -> Option<&'static str> {
    let x = insn.source() == src::X;
    let (off, imm, s, d) = (insn.off, insn.imm, insn.src, insn.dst);
    let class = insn.class();
    match class {
        class::ALU | class::ALU64 => {
            let op = insn.op();
            let bad = match op {
                alu::END => {
                    s != 0
                        || off != 0
                        || !matches!(imm, 16 | 32 | 64)
                        || (class == class::ALU64 && x)
                }
                alu::NEG => x || s != 0 || off != 0 || imm != 0,
                alu::MOV if x => {
                    let widths: &[i16] = if class == class::ALU64 {
                        &[0, 8, 16, 32]
                    } else {
                        &[0, 8, 16]
                    };
                    imm != 0 || !widths.contains(&off)
                }
                alu::MOV => s != 0 || off != 0,
                _ => {
                    let signed_ok = matches!(op, alu::DIV | alu::MOD) && off == 1;
                    (if x { imm != 0 } else { s != 0 }) || (off != 0 && !signed_ok)
                }
            };
            bad.then_some(match op {
                alu::END => "BPF_END uses reserved fields",
                alu::NEG => "BPF_NEG uses reserved fields",
                alu::MOV => "BPF_MOV uses reserved fields",
                _ => "BPF_ALU uses reserved fields",
            })
        }
        class::LDX => (imm != 0).then_some("BPF_LDX uses reserved fields"),
        class::ST => (s != 0).then_some("BPF_ST uses reserved fields"),
        class::STX if insn.mode() == mode::MEM => {
            (imm != 0).then_some("BPF_STX uses reserved fields")
        }
        class::JMP | class::JMP32 => {
            let jmp32 = class == class::JMP32;
            match insn.op() {
                jmp::CALL => {
                    let bad = x
                        || (s != pseudo::KFUNC_CALL && off != 0)
                        || !matches!(s, 0 | pseudo::CALL | pseudo::KFUNC_CALL)
                        || d != 0;
                    bad.then_some("BPF_CALL uses reserved fields")
                }
                jmp::JA => {
                    let bad = x || s != 0 || d != 0 || (!jmp32 && imm != 0) || (jmp32 && off != 0);
                    bad.then_some("BPF_JA uses reserved fields")
                }
                jmp::EXIT => {
                    let bad = x || imm != 0 || s != 0 || d != 0;
                    bad.then_some("BPF_EXIT uses reserved fields")
                }
                _ => {
                    let bad = if x { imm != 0 } else { s != 0 };
                    bad.then_some("BPF_JMP/JMP32 uses reserved fields")
                }
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::insn::{self as i, AluOp, Reg};

    #[test]
    fn opcodes_and_reserved_fields() {
        assert!(known_opcode(0x07) && known_opcode(0x18) && known_opcode(0xdb));
        assert!(!known_opcode(0xff) && !known_opcode(0x00) && !known_opcode(0x8e));
        let mut div = i::alu64_imm(AluOp::Div, Reg::R0, 3);
        assert_eq!(reserved(&div), None);
        div.off = 2;
        assert_eq!(reserved(&div), Some("BPF_ALU uses reserved fields"));
        let mut ja = i::ja(0);
        ja.imm = 1;
        assert_eq!(reserved(&ja), Some("BPF_JA uses reserved fields"));
        let mut exit = i::exit();
        exit.dst = 1;
        assert_eq!(reserved(&exit), Some("BPF_EXIT uses reserved fields"));
        let mut movsx = i::alu64_reg(AluOp::Mov, Reg::R0, Reg::R1);
        movsx.off = 16;
        assert_eq!(reserved(&movsx), None);
        movsx.off = 7;
        assert_eq!(reserved(&movsx), Some("BPF_MOV uses reserved fields"));
    }
}
