//! `probecc offsets` through the command: a function read from a symbol
//! list and an ELF core made here (what `/proc/kallsyms` and `/proc/kcore`
//! are), from raw bytes, and from a compiled object as a vmlinux; every
//! unusable input exits with status 2 naming it; `build` notes the offsets
//! it cannot check.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Status, stdout and stderr of `probecc args...` run from the workspace
/// root.
fn probecc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_probecc"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("running probecc");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{args:?}"
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The x86_64 fixture function's bytes (`fixtures/offsets`).
fn x86_bytes() -> Vec<u8> {
    let text = std::fs::read_to_string(root().join("fixtures/offsets/x86_64.txt")).unwrap();
    let hex = text.split("bytes:").nth(1).unwrap();
    let hex = hex.split("boundaries:").next().unwrap();
    hex.split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect()
}

const VADDR: u64 = 0xffff_ffff_8100_0000;

/// A little-endian ELF64 core with one `PT_LOAD` holding `bytes` at
/// [`VADDR`], as `/proc/kcore` maps kernel text.
fn core(bytes: &[u8]) -> Vec<u8> {
    let mut elf = vec![0u8; 0x1000];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4..7].copy_from_slice(&[2, 1, 1]); // 64-bit, little-endian, v1
    elf[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
    elf[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    elf[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    elf[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
    let ph = &mut elf[64..120];
    ph[..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    ph[8..16].copy_from_slice(&0x1000u64.to_le_bytes()); // p_offset
    ph[16..24].copy_from_slice(&VADDR.to_le_bytes()); // p_vaddr
    ph[32..40].copy_from_slice(&(bytes.len() as u64).to_le_bytes()); // p_filesz
    elf.extend_from_slice(bytes);
    elf
}

/// A scratch directory of its own for each test (`name`) with `kallsyms`, `kcore` (the x86_64 fixture at
/// `sample_read`), and `sample_read.bin`, its raw bytes.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = x86_bytes();
    let next = VADDR + bytes.len() as u64;
    let kallsyms = format!("{VADDR:016x} T sample_read\n{next:016x} t __pfx_next\n");
    std::fs::write(dir.join("kallsyms"), kallsyms).unwrap();
    std::fs::write(dir.join("kcore"), core(&bytes)).unwrap();
    std::fs::write(dir.join("sample_read.bin"), &bytes).unwrap();
    dir
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn a_function_of_a_kernel_core_is_listed_boundary_by_boundary() {
    let dir = scratch("offsets-core");
    let (kallsyms, kcore) = (dir.join("kallsyms"), dir.join("kcore"));
    let live = [
        "offsets",
        "sample_read",
        "--arch",
        "x86_64",
        "--kallsyms",
        path(&kallsyms),
        "--kcore",
        path(&kcore),
    ];
    let (code, out, err) = probecc(&live);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "0\tok (endbr64: where IBT is on, the kernel attaches after it)\tendbr64",
            "4\tok (the ftrace call site: the kprobe goes through ftrace)\tcall",
            "9\tok\tpush",
        ]
    );
    // llvm-objdump lists 49 instructions in the fixture.
    assert_eq!(lines.len(), 49);

    let (code, valid, _) = probecc(&[&live[..], &["--valid"]].concat());
    assert_eq!(code, 0);
    assert!(valid.starts_with("0\n4\n9\n11\n"), "{valid}");
    // The same bytes as a file give the same answer.
    let bin = dir.join("sample_read.bin");
    let raw = ["offsets", "f", "--text", path(&bin), "--arch", "x86_64"];
    let (code, same, _) = probecc(&[&raw[..], &["--valid"]].concat());
    assert_eq!((code, same), (0, valid));

    let (code, json, _) = probecc(&[&live[..], &["--json"]].concat());
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["function"], "sample_read");
    assert_eq!(doc["offsets"][0]["reason"], "endbr64");
    let evidence = doc["offsets"][0]["evidence"].as_str().unwrap_or_default();
    assert!(evidence.contains("seen sealed"), "{evidence}");
}

/// `fixtures/offsets/riscv64.o` is the object the riscv64 fixture's bytes
/// were taken from: its symbol table finds the function as a vmlinux's
/// does.
#[test]
fn a_vmlinux_gives_the_function_by_its_symbol() {
    let vmlinux = [
        "offsets",
        "sample_read",
        "--vmlinux",
        "fixtures/offsets/riscv64.o",
    ];
    let (code, out, err) = probecc(&[&vmlinux[..], &["--valid"]].concat());
    assert_eq!(code, 0, "{err}");
    let valid: Vec<&str> = out.lines().take(4).collect();
    assert_eq!(valid, ["0", "8", "10", "12"]);
    let (code, _, err) = probecc(&["offsets", "nothing", "--vmlinux", vmlinux[3]]);
    assert_eq!(code, 2);
    assert!(err.contains("it has no function symbol `nothing`"), "{err}");
    // An image without the function's symbol takes it from a System.map:
    // the same object with its .text placed at 0x1000, as a vmlinux places
    // its text (the ELF64 section header's sh_addr, 16 bytes in).
    let dir = scratch("offsets-map");
    let mut image = std::fs::read(root().join(vmlinux[3])).unwrap();
    let shoff = u64::from_le_bytes(image[0x28..0x30].try_into().unwrap()) as usize;
    let shentsize = u16::from_le_bytes(image[0x3a..0x3c].try_into().unwrap()) as usize;
    let text = shoff + 2 * shentsize + 16;
    image[text..text + 8].copy_from_slice(&0x1000u64.to_le_bytes());
    let placed = dir.join("vmlinux");
    std::fs::write(&placed, &image).unwrap();
    let map = dir.join("System.map");
    std::fs::write(
        &map,
        "0000000000001000 T renamed_read\n000000000000109e T next_fn\n",
    )
    .unwrap();
    let stripped = [
        "offsets",
        "renamed_read",
        "--kernel",
        path(&placed),
        "--symbols",
        path(&map),
    ];
    let (code, same, err) = probecc(&[&stripped[..], &["--valid"]].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(same, out, "the same bytes by the map's address and size");
    let absent = [
        "offsets",
        "absent",
        "--kernel",
        path(&placed),
        "--symbols",
        path(&map),
    ];
    let (code, _, err) = probecc(&absent);
    assert_eq!(code, 2);
    assert!(
        err.contains("no function `absent` in the symbol list"),
        "{err}"
    );
}

/// `build --vmlinux` checks a spec's offsets against an image ahead of
/// time: an offset inside riscv64's patch site is a compile error naming
/// the image, one past it builds; an image of another arch is refused.
#[test]
fn build_checks_offsets_against_a_kernel_image() {
    let dir = scratch("offsets-image");
    let spec = |offset: u32| {
        let p = dir.join(format!("at{offset}.bt"));
        std::fs::write(
            &p,
            format!("kprobe:sample_read+{offset} {{ @ = count(); }}\n"),
        )
        .unwrap();
        p
    };
    let image = "fixtures/offsets/riscv64.o";
    let build = |p: &Path, arch: &str| {
        let out = dir.join(format!("{arch}.o"));
        probecc(&[
            "build",
            path(p),
            "--arch",
            arch,
            "--vmlinux",
            image,
            "-o",
            path(&out),
        ])
    };
    let (code, _, err) = build(&spec(4), "riscv64");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("kprobe:sample_read+4: the kernel image takes no kprobe there"),
        "{err}"
    );
    assert!(err.contains("inside the ftrace patch site"), "{err}");
    let (code, _, err) = build(&spec(8), "riscv64");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = build(&spec(8), "arm64");
    assert_eq!(code, 2);
    assert!(
        err.contains("--vmlinux is a kernel of riscv64, and this build is for arm64"),
        "{err}"
    );
}

#[test]
fn unusable_input_exits_with_two_naming_it() {
    let dir = scratch("offsets-bad");
    let kallsyms = dir.join("kallsyms");
    let cases: [(Vec<&str>, &str); 4] = [
        (
            vec!["offsets", "sample_raed", "--arch", "x86_64"],
            "no function `sample_raed` in the symbol list (did you mean `sample_read`?)",
        ),
        (
            vec!["offsets", "sample_read", "--arch", "x86_64"],
            "reading /nonexistent/kcore: No such file",
        ),
        (
            vec!["offsets", "f", "--vmlinux", "Cargo.toml"],
            "--vmlinux Cargo.toml: ",
        ),
        (vec!["offsets", "f", "--text", "Cargo.toml"], "--arch"),
    ];
    for (mut args, expected) in cases {
        if args.len() == 4 && args[2] == "--arch" {
            args.extend([
                "--kallsyms",
                path(&kallsyms),
                "--kcore",
                "/nonexistent/kcore",
            ]);
        }
        let (code, _, err) = probecc(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn build_notes_the_offsets_it_cannot_check() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("offsets-build");
    let (code, _, err) = probecc(&[
        "build",
        "fixtures/specs/offset_probe.bt",
        "--arch",
        "arm64",
        "-o",
        path(&out),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("note: arm64: kprobe:vfs_read+4 not checked against the target kernel"),
        "{err}"
    );
}
