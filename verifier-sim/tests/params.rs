//! An object that reads its positional parameters from read-only globals
//! (`.rodata`) is linked as libbpf links it: each load of a global's
//! address becomes `BPF_PSEUDO_MAP_VALUE` into the one-element, read-only
//! array map of `.rodata`, at the global's offset. The kernel lets the
//! program read within the value and write nowhere in it; every arch's
//! object passes whatever a loader sets, and a read past the value fails.

use probecc::arch::{Arch, KernelVersion};
use probecc::insn::pseudo;
use probecc::lang::{compile, CompileOptions};
use verifier_sim::program::programs;
use verifier_sim::{check_object_for, check_program_for, Rodata, Target};

const SPEC: &str = "kprobe:vfs_read /arg2 > $1/ { @big[str($2)] = count(); @n = $#; }";

fn object(arch: Arch) -> Vec<u8> {
    let opts = CompileOptions::default();
    let compiled = compile(SPEC, arch, &opts).unwrap_or_else(|d| panic!("{d:#?}"));
    probecc::elf::write(&compiled.object).expect("an object")
}

#[test]
fn globals_become_values_of_the_read_only_rodata_map() {
    for arch in Arch::ALL {
        let bytes = object(arch);
        let progs = programs(&bytes).unwrap_or_else(|e| panic!("{arch}: {e}"));
        let p = &progs[0];
        let [g] = p.globals.as_slice() else {
            panic!("{arch}: one data section expected, got {:?}", p.globals)
        };
        assert_eq!((g.section.as_str(), g.read_only), (".rodata", true));
        assert_eq!(g.init, vec![0; 80]);
        let map = &p.maps[g.map];
        assert_eq!(
            (map.map_type, map.key_size, map.value_size, map.max_entries),
            (2, 4, 80, 1)
        );
        // $1 at 8, str($2) at 16, $# at 0, in the order the code reads them.
        let offsets: Vec<i32> = p
            .insns
            .windows(2)
            .filter(|w| w[0].is_ld_imm64() && w[0].src == pseudo::MAP_VALUE)
            .map(|w| {
                assert_eq!(w[0].imm, g.map as i32, "{arch}");
                w[1].imm
            })
            .collect();
        assert_eq!(offsets, [8, 16, 0], "{arch}");
        for rodata in [Rodata::Unknown, Rodata::Initial] {
            let target = Target {
                rodata,
                ..Target::new(arch, KernelVersion(6, 1))
            };
            let verdicts = check_object_for(&bytes, &target).expect("checked");
            assert!(verdicts.iter().all(|v| v.accepted), "{arch}: {verdicts:#?}");
        }
    }
}

#[test]
fn a_read_past_the_value_is_refused() {
    let bytes = object(Arch::X86_64);
    let mut p = programs(&bytes).expect("linked").remove(0);
    // The load of `str($2)`: point it at the last 8 bytes, whose 8-byte
    // copies then run past the value.
    let at = p
        .insns
        .windows(2)
        .position(|w| w[0].is_ld_imm64() && w[0].src == pseudo::MAP_VALUE && w[1].imm == 16)
        .expect("the load of str($2)");
    p.insns[at + 1].imm = 72;
    let v = check_program_for(&p, &Target::new(Arch::X86_64, KernelVersion(6, 1)));
    assert!(!v.accepted);
    assert!(
        v.message
            .as_deref()
            .is_some_and(|m| m.starts_with("invalid access to map value, value_size=80")),
        "{v:#?}"
    );
}
