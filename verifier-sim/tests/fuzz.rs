//! Fuzzing verifier-sim: random instruction streams, real programs with
//! mutated slots, and object files with corrupted bytes. Whatever the
//! input, the checker returns (a verdict, or an error for an unusable
//! object): it never panics and always terminates, every check under a
//! watchdog. CI runs proptest's default number of cases; a long run is
//!
//! ```sh
//! PROPTEST_CASES=200000 cargo test -p verifier-sim --release --test fuzz
//! ```

use std::sync::mpsc;
use std::time::Duration;

use probecc::arch::{Arch, KernelVersion};
use probecc::insn::{class, mode, pseudo, Insn};
use proptest::prelude::*;
use verifier_sim::{check_insns, check_object, MapSpec, Verdict};

/// Longer than a million processed instructions take in a debug build.
const WATCHDOG: Duration = Duration::from_secs(120);

const KERNEL: KernelVersion = KernelVersion(6, 1);

fn maps() -> Vec<MapSpec> {
    vec![
        MapSpec {
            name: "hash".into(),
            map_type: 1,
            key_size: 8,
            value_size: 8,
            max_entries: 64,
        },
        MapSpec {
            name: "array".into(),
            map_type: 2,
            key_size: 4,
            value_size: 48,
            max_entries: 4,
        },
        MapSpec {
            name: "rb".into(),
            map_type: 27,
            key_size: 0,
            value_size: 0,
            max_entries: 4096,
        },
    ]
}

/// Runs `f` on another thread and fails if it panics or outlives the
/// watchdog.
fn terminates<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("verifier-sim did not finish in {WATCHDOG:?} on {what}")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let e = handle.join().err();
            let msg = e
                .as_ref()
                .and_then(|e| {
                    e.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                })
                .unwrap_or_default();
            panic!("verifier-sim panicked on {what}: {msg}")
        }
    }
}

fn check(insns: Vec<Insn>, arch: Arch) -> Verdict {
    let what = format!("{arch}: {insns:?}");
    let v = terminates(&what, move || check_insns(&insns, &maps(), arch, KERNEL));
    // a rejection always says why and where
    if !v.accepted {
        assert!(v.message.is_some(), "rejected without a message: {v:?}");
    }
    v
}

/// Opcodes that exist, so that random streams get past the first
/// instruction often enough to reach the interesting rules.
const OPCODES: &[u8] = &[
    // ALU64 and ALU, K and X
    0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77, 0x7f,
    0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7, 0xbf, 0xc7, 0xcf, 0xd4, 0xdc, 0xd7, 0x04, 0x0c, 0x14, 0x1c,
    0x24, 0x34, 0x3c, 0x54, 0x64, 0x74, 0x84, 0x94, 0xa4, 0xb4, 0xbc, 0xc4,
    // loads and stores
    0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3,
    0xdb, // jumps, calls, exit
    0x05, 0x06, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d, 0x55, 0x5d, 0x65, 0x6d, 0x75, 0x7d,
    0xa5, 0xad, 0xb5, 0xbd, 0xc5, 0xcd, 0xd5, 0xdd, 0x16, 0x1e, 0x26, 0x56, 0x85, 0x95,
];

const HELPERS: &[i32] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 12, 14, 16, 25, 27, 35, 67, 113, 130, 131, 132, 133, 174, 0, 999,
];

/// One slot: mostly a real opcode with registers and small offsets,
/// sometimes anything at all.
fn slot() -> impl Strategy<Value = Insn> {
    let plausible = (
        prop::sample::select(OPCODES),
        prop_oneof![8 => 0u8..=10, 1 => 0u8..=15],
        prop_oneof![8 => 0u8..=10, 1 => 0u8..=15],
        prop_oneof![
            4 => -8i16..=8,
            2 => (-66i16..=0).prop_map(|o| o * 8),
            1 => any::<i16>()
        ],
        prop_oneof![
            4 => -16i32..=64,
            1 => prop::sample::select(HELPERS),
            1 => any::<i32>()
        ],
    )
        .prop_map(|(code, dst, src, off, imm)| {
            // helper calls take their id from imm and have src 0 (or 1, a
            // subprogram call)
            let src = if code == 0x85 { src & 1 } else { src };
            Insn::new(code, dst, src, off, imm)
        });
    let raw = (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<i16>(),
        any::<i32>(),
    )
        .prop_map(|(code, dst, src, off, imm)| Insn::new(code, dst & 15, src & 15, off, imm));
    prop_oneof![12 => plausible, 1 => raw]
}

/// A map load: `ld_imm64 rN, map` in two slots.
fn map_load() -> impl Strategy<Value = Vec<Insn>> {
    (0u8..=9, 0i32..4).prop_map(|(dst, map)| {
        vec![
            Insn::new(class::LD | mode::IMM | 0x18, dst, pseudo::MAP_FD, 0, map),
            Insn::new(0, 0, 0, 0, 0),
        ]
    })
}

fn stream() -> impl Strategy<Value = Vec<Insn>> {
    prop::collection::vec(
        prop_oneof![10 => slot().prop_map(|i| vec![i]), 1 => map_load()],
        1..48,
    )
    .prop_map(|parts| {
        let mut insns: Vec<Insn> = parts.into_iter().flatten().collect();
        // most programs end as programs do
        insns.push(Insn::new(0xb7, 0, 0, 0, 0));
        insns.push(Insn::new(0x95, 0, 0, 0, 0));
        insns
    })
}

fn arch() -> impl Strategy<Value = Arch> {
    prop::sample::select(Arch::ALL.to_vec())
}

/// Real programs: the DSL examples, as probecc builds them for x86_64.
fn examples() -> Vec<Vec<Insn>> {
    probecc::examples::ALL
        .iter()
        .filter_map(|ex| (ex.build)(Arch::X86_64).ok())
        .flat_map(|obj| obj.programs.into_iter().map(|p| p.insns))
        .collect()
}

/// Example objects written out, for byte-level corruption.
fn example_objects() -> Vec<Vec<u8>> {
    probecc::examples::ALL
        .iter()
        .filter_map(|ex| (ex.build)(Arch::X86_64).ok())
        .filter_map(|obj| probecc::elf::write(&obj).ok())
        .collect()
}

proptest! {
    #[test]
    fn random_streams_get_a_verdict(insns in stream(), arch in arch()) {
        check(insns, arch);
    }

    #[test]
    fn mutated_programs_get_a_verdict(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), slot()), 1..6),
        arch in arch(),
    ) {
        let programs = examples();
        prop_assume!(!programs.is_empty());
        let mut insns = which.get(&programs).clone();
        for (at, new) in edits {
            let i = at.index(insns.len());
            insns[i] = new;
        }
        check(insns, arch);
    }

}

proptest! {
    // each case may run to the million-instruction limit: few cases
    #![proptest_config(ProptestConfig::with_cases(4))]

    #[test]
    fn loops_stop_at_the_instruction_limit(count in 1u32..3_000_000, step in 1i32..4) {
        // r0 = 0; loop: r0 += step; if r0 < count goto loop; exit
        let insns = vec![
            Insn::new(0xb7, 0, 0, 0, 0),
            Insn::new(0x07, 0, 0, 0, step),
            Insn::new(0xa5, 0, 0, -2, count as i32),
            Insn::new(0x95, 0, 0, 0, 0),
        ];
        let v = check(insns, Arch::X86_64);
        prop_assert!(v.processed <= 1_000_001, "processed {}", v.processed);
    }
}

proptest! {
    #[test]
    fn corrupted_objects_are_refused_or_checked(
        which in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        arch in arch(),
    ) {
        let objects = example_objects();
        prop_assume!(!objects.is_empty());
        let mut bytes = which.get(&objects).clone();
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let what = format!("a corrupted example object for {arch}");
        let _ = terminates(&what, move || check_object(&bytes, arch, KERNEL).map(|v| v.len()));
    }
}

#[test]
fn every_slot_of_every_example_can_be_anything() {
    // deterministic sweep: each slot of each example replaced by each
    // opcode in turn
    for insns in examples() {
        for i in 0..insns.len() {
            for &code in OPCODES.iter().step_by(7) {
                let mut m = insns.clone();
                m[i] = Insn::new(code, (i % 11) as u8, ((i + 3) % 11) as u8, -8, 1);
                check(m, Arch::X86_64);
            }
        }
    }
}
