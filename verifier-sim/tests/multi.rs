//! kprobe-multi programs (`kprobe.multi/PATTERN`, bare `kretprobe.multi`)
//! are kprobe programs to the verifier: their context is `pt_regs`, and
//! `bpf_get_func_ip` (their `func`) takes it. Each is checked and named by
//! its section, on every arch.

use probecc::arch::{Arch, KernelVersion};
use probecc::lang::{compile, CompileOptions};

#[test]
fn kprobe_multi_sections_are_checked_as_kprobe_programs() {
    let opts = CompileOptions {
        symbols: Some(["vfs_read", "vfs_write"].map(String::from).to_vec()),
        multi: true,
        ..CompileOptions::default()
    };
    let src = "kprobe:vfs_* { @[func, arg0] = count(); }\n\
               kretprobe:vfs_read, kretprobe:vfs_write { @r[func] = sum(retval); }";
    for arch in Arch::ALL {
        let compiled = compile(src, arch, &opts).unwrap_or_else(|d| panic!("{d:#?}"));
        let object = probecc::elf::write(&compiled.object).expect("an object");
        let verdicts = verifier_sim::check_object(&object, arch, KernelVersion(6, 12))
            .unwrap_or_else(|e| panic!("{arch}: {e}"));
        let got: Vec<(&str, bool)> = verdicts
            .iter()
            .map(|v| (v.section.as_str(), v.accepted))
            .collect();
        assert_eq!(
            got,
            [("kprobe.multi/vfs_*", true), ("kretprobe.multi", true)],
            "{arch}: {verdicts:#?}"
        );
    }
}
