//! The decoders against llvm-objdump on the same bytes (`fixtures/offsets`:
//! one function compiled by clang per arch with the kernel's entry flags),
//! hand-assembled encodings from each ISA's manual, the kernel's rules on
//! them, and a real kernel's text as a QEMU guest's `/proc/kcore` held it.

use super::*;

/// A fixture: the function's bytes and llvm-objdump's boundaries.
fn fixture(text: &str) -> (Vec<u8>, Vec<u64>) {
    let (head, tail) = text.split_once("boundaries:").expect("boundaries line");
    let hex = head.split_once("bytes:").expect("bytes line").1;
    let bytes = hex
        .split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).expect("hex byte"))
        .collect();
    let bounds = tail
        .split_whitespace()
        .map(|n| n.parse().expect("offset"))
        .collect();
    (bytes, bounds)
}

fn fixture_of(arch: Arch) -> (Vec<u8>, Vec<u64>) {
    let text = match arch {
        Arch::X86_64 => include_str!("../../../fixtures/offsets/x86_64.txt"),
        Arch::Arm64 => include_str!("../../../fixtures/offsets/arm64.txt"),
        Arch::S390x => include_str!("../../../fixtures/offsets/s390x.txt"),
        Arch::Ppc64le => include_str!("../../../fixtures/offsets/ppc64le.txt"),
        Arch::Riscv64 => include_str!("../../../fixtures/offsets/riscv64.txt"),
    };
    fixture(text)
}

fn boundaries(arch: Arch, bytes: &[u8]) -> Vec<u64> {
    Text::decode(arch, bytes)
        .insns
        .iter()
        .map(|i| i.offset)
        .collect()
}

#[test]
fn every_decoder_finds_the_boundaries_llvm_objdump_finds() {
    for arch in Arch::ALL {
        let (bytes, expected) = fixture_of(arch);
        let last = *expected.last().unwrap();
        let ours: Vec<u64> = boundaries(arch, &bytes)
            .into_iter()
            .filter(|&o| o <= last)
            .collect();
        assert_eq!(ours, expected, "{arch}");
    }
}

#[test]
fn the_kernels_rules_on_each_arch_entry() {
    let verdicts = |arch: Arch| {
        let (bytes, _) = fixture_of(arch);
        let offsets = Text::decode(arch, &bytes).offsets();
        let special: Vec<(u64, Verdict)> = offsets
            .entries
            .iter()
            .filter(|e| e.verdict != Verdict::Ok)
            .map(|e| (e.insn.offset, e.verdict))
            .collect();
        (special, offsets.first_plain())
    };
    // endbr64, then the __fentry__ call.
    assert_eq!(
        verdicts(Arch::X86_64),
        (
            vec![
                (0, Verdict::Note(Why::Endbr64)),
                (4, Verdict::Note(Why::FtraceCall))
            ],
            Some(9)
        )
    );
    // bti c, then the two patchable NOPs.
    assert_eq!(
        verdicts(Arch::Arm64),
        (
            vec![
                (4, Verdict::Refused(Why::FtraceSite)),
                (8, Verdict::Refused(Why::FtraceSite))
            ],
            Some(12)
        )
    );
    // Four c.nop.
    let refused = |o| (o, Verdict::Refused(Why::FtraceSite));
    assert_eq!(
        verdicts(Arch::Riscv64),
        (vec![refused(2), refused(4), refused(6)], Some(8))
    );
    assert_eq!(
        verdicts(Arch::S390x),
        (vec![(0, Verdict::Note(Why::FtraceCall))], Some(6))
    );
    assert_eq!(
        verdicts(Arch::Ppc64le),
        (
            vec![
                (0, Verdict::Note(Why::GlobalEntry)),
                (4, Verdict::Refused(Why::BeforeLocalEntry))
            ],
            Some(8)
        )
    );
}

#[test]
fn a_bad_offset_names_its_reason_and_the_nearest_valid_ones() {
    let (bytes, _) = fixture_of(Arch::X86_64);
    let offsets = Text::decode(Arch::X86_64, &bytes).offsets();
    let e = offsets.check(6).unwrap_err();
    assert_eq!(
        e.to_string(),
        "+6 is in the middle of the 5-byte instruction at +4; the nearest valid offsets are 4 and 9"
    );
    assert_eq!(offsets.check(9), Ok(Verdict::Ok));
    assert_eq!(offsets.check(0), Ok(Verdict::Note(Why::Endbr64)));
    let e = offsets.check(4000).unwrap_err();
    assert!(matches!(e, OffsetError::PastEnd { size: 152, .. }), "{e}");
    assert_eq!(e.nearest(), [150]);

    let (bytes, _) = fixture_of(Arch::Riscv64);
    let e = Text::decode(Arch::Riscv64, &bytes)
        .offsets()
        .check(4)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "+4 is refused: inside the ftrace patch site; the nearest valid offsets are 0 and 8"
    );
}

#[test]
fn hand_assembled_encodings_decode_to_their_documented_lengths() {
    // x86_64 (Intel SDM): nop5, push %rbp, mov %rsp,%rbp, movabs $imm64,%rax
    // (10 bytes), ret.
    let x86 = hex_bytes("0f 1f 44 00 00 55 48 89 e5 48 b8 01 02 03 04 05 06 07 08 c3");
    assert_eq!(boundaries(Arch::X86_64, &x86), [0, 5, 6, 9, 19]);
    let mnemonics: Vec<Option<String>> = Text::decode(Arch::X86_64, &x86)
        .insns
        .into_iter()
        .map(|i| i.mnemonic)
        .collect();
    assert_eq!(mnemonics[0].as_deref(), Some("nop"));
    assert_eq!(mnemonics[4].as_deref(), Some("ret"));
    // No endbr64: the __fentry__ NOP is at +0.
    let offsets = Text::decode(Arch::X86_64, &x86).offsets();
    assert_eq!(offsets.entries[0].verdict, Verdict::Note(Why::FtraceCall));
    assert_eq!(offsets.first_plain(), Some(5));

    // s390x (Principles of Operation): br %r14 (RR, 2), lghi (RI, 4),
    // stmg (RSY, 6); 0x40.. is RX (4), 0x80.. SS-ish (4), 0xc0.. RIL (6).
    let s390 = hex_bytes("07 fe a7 09 ff f7 eb af f0 50 00 24 50 10 f0 00 c0 04 00 00 00 00");
    assert_eq!(boundaries(Arch::S390x, &s390), [0, 2, 6, 12, 16]);
    // A truncated 6-byte instruction ends the decode.
    assert_eq!(boundaries(Arch::S390x, &s390[..20]), [0, 2, 6, 12]);

    // riscv64: c.addi sp,-16 (2), auipc t0,0 (4), jalr t0,0(t0) (4),
    // c.nop (2); low bits 11111 (a 48-bit encoding) ends the decode.
    let rv = hex_bytes("41 11 97 02 00 00 e7 82 02 00 01 00 1f 00 00 00 00 00");
    assert_eq!(boundaries(Arch::Riscv64, &rv), [0, 2, 6, 10]);
    // The patched site (auipc t0; jalr t0) and the 4-byte-NOP site are
    // recognised as the unpatched c.nop one is.
    let patched = hex_bytes("97 02 00 00 e7 82 02 00 41 11");
    let nops = hex_bytes("13 00 00 00 13 00 00 00 41 11");
    // 6.16 on: the auipc stays, a NOP stands for the jalr while untraced.
    let auipc_nop = hex_bytes("97 02 00 00 13 00 00 00 41 11");
    // A kprobe armed at +0 has put ebreak (or c.ebreak) there.
    let armed = hex_bytes("73 00 10 00 13 00 00 00 41 11");
    let armed_c = hex_bytes("02 90 01 00 01 00 01 00 41 11");
    for site in [patched, nops, auipc_nop, armed, armed_c] {
        let offsets = Text::decode(Arch::Riscv64, &site).offsets();
        assert_eq!(
            offsets.check(4).unwrap_err().to_string(),
            "+4 is refused: inside the ftrace patch site; the nearest valid offsets are 0 and 8"
        );
    }

    // arm64 without BTI, the site patched: mov x9, x30; bl; then stp.
    let arm = hex_bytes("e9 03 1e aa 00 00 00 94 fd 7b bf a9");
    let offsets = Text::decode(Arch::Arm64, &arm).offsets();
    assert_eq!(offsets.valid().collect::<Vec<_>>(), [0, 8]);
    // The same site with a kprobe armed at +0 (brk #0x4 in place of the
    // mov), as vfs_read read in bookworm's arm64 kernel while probed.
    let armed = hex_bytes("80 00 20 d4 1f 20 03 d5 3f 23 03 d5");
    let offsets = Text::decode(Arch::Arm64, &armed).offsets();
    assert_eq!(offsets.valid().collect::<Vec<_>>(), [0, 8]);
    // A function without the site (notrace) has every boundary.
    let plain = hex_bytes("fd 7b bf a9 fd 03 00 91");
    let offsets = Text::decode(Arch::Arm64, &plain).offsets();
    assert_eq!(offsets.valid().collect::<Vec<_>>(), [0, 4]);

    // ppc64le: a function without a TOC prologue (no global entry).
    let ppc = hex_bytes("a6 02 08 7c 20 00 80 4e");
    let offsets = Text::decode(Arch::Ppc64le, &ppc).offsets();
    assert_eq!(offsets.valid().collect::<Vec<_>>(), [0, 4]);
    // Too few bytes for a whole instruction end the decode.
    assert_eq!(boundaries(Arch::Ppc64le, &ppc[..7]), [0]);
}

#[test]
fn bug_traps_and_int3_are_refused_on_every_arch() {
    let refused = |arch: Arch, hex: &str| -> Vec<(u64, Why)> {
        let bytes = hex_bytes(hex);
        let offsets = Text::decode(arch, &bytes).offsets();
        offsets
            .entries
            .iter()
            .filter_map(|e| match e.verdict {
                Verdict::Refused(w) => Some((e.insn.offset, w)),
                _ => None,
            })
            .collect()
    };
    // push %rbp; ud2; int3; ret.
    assert_eq!(
        refused(Arch::X86_64, "55 0f 0b cc c3"),
        [(1, Why::Trap), (3, Why::Int3)]
    );
    // stp; brk #0x800 (arm64's BUG_BRK_IMM); ret.
    assert_eq!(
        refused(Arch::Arm64, "fd 7b bf a9 00 00 21 d4 c0 03 5f d6"),
        [(4, Why::Trap)]
    );
    // mflr r0; twi 31,0,0; tdnei r9,0; blr.
    assert_eq!(
        refused(
            Arch::Ppc64le,
            "a6 02 08 7c 00 00 e0 0f 00 00 09 0b 20 00 80 4e"
        ),
        [(4, Why::Trap), (8, Why::Trap)]
    );
    // c.addi sp,-16; ebreak; c.ebreak; ret.
    assert_eq!(
        refused(Arch::Riscv64, "41 11 73 00 10 00 02 90 82 80"),
        [(2, Why::Trap), (6, Why::Trap)]
    );
    // stmg; mc 0,0; br %r14.
    assert_eq!(
        refused(Arch::S390x, "eb af f0 50 00 24 af 00 00 00 07 fe"),
        [(6, Why::Trap)]
    );
}

#[test]
fn every_arch_row_has_a_decoder_and_its_rules() {
    let decoders: Vec<&str> = Arch::ALL.iter().map(|a| a.info().text.decoder).collect();
    assert_eq!(
        decoders,
        [
            "iced-x86",
            "fixed 4 bytes",
            "2, 4 or 6 bytes from the opcode's high bits",
            "fixed 4 bytes",
            "2 or 4 bytes from the low bits"
        ]
    );
    assert_eq!(Arch::Arm64.info().text, Arch::Arm64.info().text);
    assert_ne!(Arch::Arm64.info().text, Arch::Ppc64le.info().text);
    for arch in Arch::ALL {
        assert!(!arch.info().text.rules.is_empty(), "{arch}");
    }
}

/// A function as a real kernel holds it: bookworm's arm64 do_sys_openat2,
/// read from a QEMU guest's `/proc/kcore`. Its entry is the patch site of
/// vfs_read in the same kernel, which refused a kprobe at +4 and took +0,
/// +8, +12 and +16 (docs/offsets.md).
#[test]
fn a_real_kernels_function_gets_the_verdicts_its_kernel_gave() {
    let text = include_str!("../../../fixtures/offsets/arm64-6.1-do_sys_openat2.hex");
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ");
    let bytes = hex_bytes(&hex);
    assert_eq!(bytes.len(), 160);
    let offsets = Text::decode(Arch::Arm64, &bytes).offsets();
    assert_eq!(offsets.decoded, 160);
    for ok in [0, 8, 12, 16] {
        assert_eq!(offsets.check(ok), Ok(Verdict::Ok), "+{ok}");
    }
    assert!(offsets.check(4).is_err());
    assert_eq!(offsets.first_plain(), Some(8));
}

fn hex_bytes(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect()
}

/// `vfs_read` of every kernel of the QEMU matrix, as its guest read it
/// (`fixtures/offsets/ARCH-KERNEL-vfs_read.hex`): every byte decodes, +4
/// is refused where the matrix saw the kernel refuse it (or never fire),
/// and the first plain offset is the one the guest attached at and counted
/// as often as the entry probe (docs/offsets.md).
#[test]
fn every_matrix_kernels_vfs_read_decodes_and_gives_the_offset_its_guest_proved() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/offsets");
    // (file, arch, first plain offset, +4 refused)
    let kernels = [
        ("x86_64-6.1.0-50-cloud-amd64", Arch::X86_64, 5, true),
        ("x86_64-6.12.117+deb13-cloud-amd64", Arch::X86_64, 9, false),
        ("arm64-6.1.0-50-arm64", Arch::Arm64, 8, true),
        ("arm64-6.12.117+deb13-arm64", Arch::Arm64, 8, true),
        ("s390x-6.1.0-50-s390x", Arch::S390x, 6, true),
        ("s390x-6.12.107+deb13-s390x", Arch::S390x, 6, true),
        ("ppc64le-6.1.0-50-powerpc64le", Arch::Ppc64le, 8, true),
        ("ppc64le-6.12.107+deb13-powerpc64le", Arch::Ppc64le, 8, true),
        ("riscv64-6.12.117+deb13-riscv64", Arch::Riscv64, 8, true),
        ("riscv64-7.2.13+deb14-riscv64", Arch::Riscv64, 8, true),
    ];
    for (name, arch, first, four_refused) in kernels {
        let path = dir.join(format!("{name}-vfs_read.hex"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let hex: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        let bytes = hex_bytes(&hex.join(" "));
        let offsets = Text::decode(arch, &bytes).offsets();
        assert_eq!(
            offsets.decoded,
            bytes.len() as u64,
            "{name}: every byte decodes"
        );
        assert_eq!(offsets.first_plain(), Some(first), "{name}");
        assert_eq!(offsets.check(4).is_err(), four_refused, "{name}: +4");
        assert!(offsets.check(0).is_ok(), "{name}: +0 takes a kprobe");
    }
}
