//! The host kernel's own verifier accepts every little-endian object:
//! `bpftool prog loadall X.o /sys/fs/bpf/<dir>`, as root. The host kernel
//! has no CONFIG_KPROBES, but BPF_PROG_LOAD of kprobe programs works; the
//! pins are removed afterwards.

mod support;

use std::path::Path;
use std::process::Command;

use probecc_test_support::{require, Need};
use support::*;

/// bpftool, root and bpffs (mounted if it is not): what loading into the
/// host kernel takes.
const LOAD: [Need; 3] = [Need::Tool("bpftool"), Need::Root, Need::Bpffs];

#[test]
#[ignore = "needs bpftool, root, bpffs"]
fn host_kernel_verifier_accepts_every_little_endian_object() {
    if !require(&LOAD) {
        return;
    }
    for b in little_endian_objects() {
        let pin = format!(
            "/sys/fs/bpf/probecc-test-{}-{}-{}",
            std::process::id(),
            b.arch,
            b.name
        );
        let out = run(Command::new("bpftool")
            .args(["-d", "prog", "loadall"])
            .arg(&b.path)
            .arg(&pin));
        let pinned = std::fs::read_dir(&pin).map(|d| d.count()).unwrap_or(0);
        let _ = std::fs::remove_dir_all(Path::new(&pin));
        assert!(
            out.status.success(),
            "{}/{}: the kernel rejected the object:\n{}",
            b.arch,
            b.name,
            tail(&stderr(&out), 40)
        );
        let programs = b.obj.programs.len();
        assert_eq!(
            pinned, programs,
            "{}/{}: programs pinned by bpftool",
            b.arch, b.name
        );
        let log = stderr(&out);
        assert!(
            log.contains("processed") || log.contains("verification time"),
            "{}/{}: no verifier log in bpftool -d output; was the program loaded?\n{}",
            b.arch,
            b.name,
            tail(&log, 10)
        );
        // libbpf relocates every CO-RE record against the host's BTF.
        let relocs = b.obj.core.relocs().len();
        let patched = log
            .lines()
            .filter(|l| l.contains(": patched insn #"))
            .count();
        assert_eq!(
            patched,
            relocs,
            "{}/{}: CO-RE relocations libbpf patched\n{}",
            b.arch,
            b.name,
            tail(&log, 30)
        );
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `func` keys are ids that the object's BTF names (`enum func`), so a
/// third-party tool shows the function: `bpftool map dump` of vfscount's
/// map prints `"key": "ksys_read"` for the id of ksys_read.
#[test]
#[ignore = "needs bpftool, root, bpffs"]
fn bpftool_shows_func_keys_by_name() {
    if !require(&LOAD) {
        return;
    }
    let Some((_, spec)) = fixture_specs().into_iter().find(|(n, _)| n == "vfscount") else {
        panic!("fixtures/specs/vfscount.bt is missing");
    };
    let compiled =
        probecc_fixtures::compile(&spec, probecc::arch::Arch::X86_64).expect("vfscount compiles");
    let id = compiled
        .manifest
        .funcs
        .iter()
        .position(|f| f == "ksys_read");
    let id = id.expect("ksys_read is one of vfscount's functions") as u8;
    let dir = std::env::temp_dir().join(format!("probecc-func-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let obj = dir.join("vfscount.o");
    let bytes = probecc::elf::write(&compiled.object).expect("vfscount writes");
    std::fs::write(&obj, bytes).expect("writing the object");
    let base = format!("/sys/fs/bpf/probecc-func-{}", std::process::id());
    let (progs, maps) = (format!("{base}-progs"), format!("{base}-maps"));
    let _ = std::fs::create_dir_all(&maps);
    let load = run(Command::new("bpftool")
        .args(["prog", "loadall"])
        .arg(&obj)
        .arg(&progs)
        .args(["pinmaps", &maps]));
    let map = format!("{maps}/AT_");
    let key = format!("{id} 0 0 0 0 0 0 0");
    let update = run(Command::new("bpftool")
        .args(["map", "update", "pinned", &map, "key"])
        .args(key.split(' '))
        .args(["value", "7", "0", "0", "0", "0", "0", "0", "0"]));
    let dump = run(Command::new("bpftool").args(["-j", "map", "dump", "pinned", &map]));
    let _ = std::fs::remove_dir_all(&progs);
    let _ = std::fs::remove_dir_all(&maps);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(load.status.success(), "{}", stderr(&load));
    assert!(update.status.success(), "{}", stderr(&update));
    let dumped = stdout(&dump);
    assert!(
        dumped.contains(r#""key":"ksys_read""#),
        "the key should print as the function's name: {dumped}"
    );
}

/// libbpf loads kprobe-multi objects (`probecc build --multi`): a
/// `kprobe.multi/PATTERN` section and a bare `kretprobe.multi` one, each
/// loaded for `BPF_TRACE_KPROBE_MULTI` and verified by the host kernel.
#[test]
#[ignore = "needs bpftool, root, bpffs"]
fn libbpf_loads_kprobe_multi_objects() {
    if !require(&LOAD) {
        return;
    }
    let opts = probecc::lang::CompileOptions {
        symbols: Some(
            ["vfs_read", "vfs_readv", "vfs_write"]
                .map(String::from)
                .to_vec(),
        ),
        multi: true,
        ..Default::default()
    };
    let src = "kprobe:vfs_* { @[func] = count(); }\n\
               kretprobe:vfs_read, kretprobe:vfs_write { @r[func] = sum(retval); }";
    let compiled = probecc::lang::compile(src, probecc::arch::Arch::X86_64, &opts)
        .unwrap_or_else(|d| panic!("{d:#?}"));
    let dir = std::env::temp_dir().join(format!("probecc-multi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let obj = dir.join("multi.o");
    std::fs::write(
        &obj,
        probecc::elf::write(&compiled.object).expect("an object"),
    )
    .expect("writing the object");
    let pin = format!("/sys/fs/bpf/probecc-multi-{}", std::process::id());
    let out = run(Command::new("bpftool")
        .args(["-d", "prog", "loadall"])
        .arg(&obj)
        .arg(&pin));
    let pinned = std::fs::read_dir(&pin).map(|d| d.count()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&pin);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", tail(&stderr(&out), 40));
    assert_eq!(pinned, 2, "{}", tail(&stderr(&out), 40));
}
