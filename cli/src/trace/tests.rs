//! `probecc trace`'s own decisions, without a kernel: where the program
//! comes from and which arguments are parameters, the running kernel's
//! arch for specs and objects, when the function list is read, and the
//! arguments refused. The runs themselves are in `cli/tests/trace.rs`.

use super::*;

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn parse(words: &[&str]) -> Args {
    use clap::Parser as _;
    Cli::try_parse_from(std::iter::once("trace").chain(words.iter().copied()))
        .expect("the arguments parse")
        .args
}

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
        .display()
        .to_string()
}

#[test]
fn the_program_comes_from_e_a_file_or_an_object_and_the_rest_are_parameters() {
    let (s, params) = source(&parse(&["-e", "BEGIN { exit(); }", "a", "b"])).unwrap();
    assert!(matches!(s, Source::Spec { ref file, .. } if file == "stdin"));
    assert_eq!(params, ["a", "b"]);
    let spec = fixture("fixtures/specs/vfscount.bt");
    let (s, params) = source(&parse(&[&spec, "-c", "true", "x"])).unwrap();
    let Source::Spec { src, name, .. } = s else {
        panic!("a spec")
    };
    assert!(src.contains("kprobe:vfs_"), "{src}");
    assert_eq!(name, "vfscount");
    assert_eq!(params, ["x"]);
    let e = source(&parse(&[])).unwrap_err();
    assert!(e.to_string().starts_with("nothing to trace"), "{e}");
    let e = source(&parse(&["/nonexistent/x.bt"])).unwrap_err();
    assert!(
        e.to_string().starts_with("reading /nonexistent/x.bt"),
        "{e}"
    );
}

#[test]
fn an_object_must_be_for_this_kernels_arch() {
    let dir = std::env::temp_dir().join(format!("probecc-trace-arch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let opts = CompileOptions {
        file: "t.bt".into(),
        ..Default::default()
    };
    let here = running().expect("the running kernel");
    let other = Arch::ALL
        .into_iter()
        .find(|a| *a != here.arch && a.endian() == here.arch.endian())
        .expect("another arch of this byte order");
    let c = probecc::lang::compile("kprobe:vfs_read { @x = count(); }", other, &opts).unwrap();
    let obj = dir.join("t.o");
    std::fs::write(&obj, probecc::elf::write(&c.object).unwrap()).unwrap();
    std::fs::write(dir.join("t.manifest.json"), c.manifest.to_json()).unwrap();
    let (s, _) = source(&parse(&[obj.to_str().unwrap()])).unwrap();
    let Source::Object { bytes, path } = s else {
        panic!("an object")
    };
    let e = object(&here, bytes, &path).unwrap_err();
    assert!(e.is::<BadInput>(), "{e:#}");
    assert_eq!(
        format!("{e:#}"),
        format!(
            "{}: the object is for {other}, but this kernel runs {}",
            dir.join("t.manifest.json").display(),
            here.arch
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_spec_is_compiled_for_the_running_kernels_arch_and_checked() {
    let here = running().expect("the running kernel");
    let args = parse(&["-e", "x"]);
    let src = "ksyscall:openat { @[comm] = count(); }";
    let ready = compile(&args, AttachMode::Auto, &here, src, "stdin", "stdin", &[]).unwrap();
    assert_eq!(ready.manifest.arch, here.arch.name());
    let symbol = here.arch.syscall_symbol("openat");
    assert_eq!(
        ready.manifest.programs[0].section,
        format!("kprobe/{symbol}")
    );
    let bad = "kprobe:vfs_read { @x = nosuchbuiltin; }";
    let e = compile(&args, AttachMode::Auto, &here, bad, "stdin", "stdin", &[]).unwrap_err();
    assert!(e.is::<BadInput>(), "{e:#}");
}

#[test]
fn auto_makes_kprobes_fentry_where_this_kernel_has_trampolines_and_types() {
    let here = running().expect("the running kernel");
    let args = parse(&["-e", "x"]);
    let src = "kprobe:vfs_read { @[comm] = count(); }";
    let section = |attach| {
        let ready = compile(&args, attach, &here, src, "stdin", "stdin", &[]).unwrap();
        ready.manifest.programs[0].section.clone()
    };
    let fentry = here.arch.has_trampolines(here.version)
        && Path::new(probecc::btf::kernel::HOST_VMLINUX).exists();
    let expected = if fentry {
        "fentry/vfs_read"
    } else {
        "kprobe/vfs_read"
    };
    assert_eq!(section(AttachMode::Auto), expected);
    assert_eq!(section(AttachMode::Kprobe), "kprobe/vfs_read");
}

#[test]
fn a_duration_must_be_positive() {
    let args = parse(&["-e", "BEGIN { exit(); }", "--duration", "0"]);
    let e = run(&args).unwrap_err();
    assert!(e.is::<BadInput>(), "{e:#}");
}

#[test]
fn only_attach_points_make_wildcards() {
    assert!(has_wildcard("kprobe:vfs_* { @x = count(); }"));
    assert!(!has_wildcard("kprobe:vfs_read { @x = arg2 * 2; }"));
    assert!(
        has_wildcard("#define F vfs_*\nF { }"),
        "unparsed: may be one"
    );
}

/// An object built without ARGs gets the ARGs after it as its globals,
/// in the running arch's byte order; text for an integer parameter is
/// bad input naming it. A spec's ARGs were fixed when it compiled: its
/// manifest lists no global, and nothing is set.
#[test]
fn load_options_set_an_objects_globals_from_its_args() {
    use probecc::lang::{compile, CompileOptions};
    let src = "kprobe:vfs_read /arg2 > $1/ { @[str($2)] = count(); }";
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let built = |params: Option<Vec<String>>| {
        let opts = CompileOptions {
            params,
            ..CompileOptions::default()
        };
        compile(src, Arch::S390x, &opts).expect("compiles").manifest
    };
    let runtime = built(None);
    let o = load_options(&runtime, &args(&["7", "eth0"]), Arch::S390x, None).unwrap();
    assert_eq!(
        o.globals,
        [
            ("probecc_arg1".to_string(), 7u64.to_be_bytes().to_vec()),
            ("probecc_arg2_str".to_string(), {
                let mut s = b"eth0".to_vec();
                s.resize(64, 0);
                s
            }),
        ]
    );
    let e = load_options(&runtime, &args(&["eth0"]), Arch::S390x, None).unwrap_err();
    assert_eq!(e.to_string(), "$1 used numerically but given \"eth0\"");
    let fixed = built(Some(args(&["7", "eth0"])));
    let o = load_options(&fixed, &args(&["7", "eth0"]), Arch::S390x, None).unwrap();
    assert!(o.globals.is_empty());
}

#[test]
fn a_refused_match_of_a_wildcard_is_skipped_and_a_named_probe_is_not() {
    use probecc::lang::{compile, CompileOptions};
    let src = |config: &str| {
        format!(
            "{config}kprobe:vfs_* {{ @a = count(); }}\nkprobe:do_sys_openat2 {{ @b = count(); }}"
        )
    };
    let manifest = |text: &str| {
        let opts = CompileOptions {
            symbols: Some(
                ["vfs_read", "vfs_write", "do_sys_openat2"]
                    .map(String::from)
                    .to_vec(),
            ),
            ..CompileOptions::default()
        };
        compile(text, Arch::X86_64, &opts)
            .expect("compiles")
            .manifest
    };
    let m = manifest(&src(""));
    let failed = vec![
        ("kprobe/vfs_write", "EADDRNOTAVAIL".to_string()),
        ("kprobe/do_sys_openat2", "ENOENT".to_string()),
    ];
    let t = triage(&m, failed.clone());
    assert_eq!(
        t.skipped,
        ["EADDRNOTAVAIL (a match of kprobe:vfs_*), skipping"]
    );
    assert_eq!(t.reasons, ["ENOENT"]);
    // `missing_probes = "ignore"` leaves the match out without a word.
    let quiet = manifest(&src("config = { missing_probes = \"ignore\" }\n"));
    let t = triage(&quiet, failed);
    assert!(t.skipped.is_empty());
    assert_eq!(t.reasons, ["ENOENT"]);
}
