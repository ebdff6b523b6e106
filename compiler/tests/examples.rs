//! Snapshots of every example's disassembly on every arch, so that any
//! change to the code the DSL emits shows up in review. The bytes column
//! shows each arch's byte order; the text must be the same on the four
//! little-endian arches except where a pt_regs offset differs.

use probecc::arch::Arch;
use probecc::{disasm, examples};

fn listing(name: &str, arch: Arch) -> String {
    let ex = examples::find(name).expect("example exists");
    let obj = (ex.build)(arch).expect("example builds");
    let mut text = format!("; {} for {arch}: {}\n", ex.name, ex.about);
    for m in &obj.maps {
        text += &format!(
            "; map {}: {} key_size={} value_size={} max_entries={}\n",
            m.name,
            m.kind.name(),
            m.key_size(),
            m.value_size(),
            m.max_entries
        );
    }
    text + &disasm::object_text(&obj)
}

#[test]
fn disassembly_of_every_example_on_every_arch() {
    for ex in examples::ALL {
        for arch in Arch::ALL {
            insta::assert_snapshot!(format!("{}__{}", ex.name, arch), listing(ex.name, arch));
        }
    }
}
