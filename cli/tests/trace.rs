//! `probecc trace` as a user runs it, in the host kernel: BEGIN and END,
//! streaming, the end on `--duration`, SIGINT and the `-c` command, text
//! and JSON, exit statuses, and every failure saying what and where. The
//! host kernel loads kprobe programs but has no kprobes to attach them to
//! (`CONFIG_KPROBES` is off), which is itself the failure path of a probe
//! that cannot attach: that run must leave nothing behind and never start
//! its command. Attaching and tracing for real happens in the QEMU guests
//! (`cargo xtask parity`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use probecc::arch::Arch;
use probecc_test_support::{require, Need};

const DEADLINE: Duration = Duration::from_secs(60);

/// What one run printed and how it ended.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn start(program: &str, args: &[&str]) -> Child {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {program}: {e}"))
}

/// Waits for `child` (killed after [`DEADLINE`]) and collects its output.
fn finish(mut child: Child, what: &str) -> Ran {
    let t = Instant::now();
    while child.try_wait().expect("waiting").is_none() {
        if t.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("{what} still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("the output");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn trace(args: &[&str]) -> Ran {
    let mut all = vec!["trace"];
    all.extend(args);
    finish(start(env!("CARGO_BIN_EXE_probecc"), &all), "probecc trace")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("probecc-trace-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

const BEGIN_END: &str = r#"BEGIN { printf("hello %d\n", 42); } END { printf("bye\n"); }"#;

#[test]
#[ignore = "needs root"]
fn begin_and_end_print_as_bpftrace_prints_them() {
    if !require(&[Need::Root]) {
        return;
    }
    let r = trace(&["-e", BEGIN_END, "--duration", "0.2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // bpftrace 0.17 prints the same, "Attaching" on stdout.
    assert_eq!(r.stdout, "hello 42\nbye\n\n\n");
    assert_eq!(r.stderr, "Attaching 2 probes...\n");
    let r = trace(&["-f", "json", "-q", "-e", BEGIN_END, "--duration", "0.2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "{\"type\": \"printf\", \"data\": \"hello 42\\n\"}\n{\"type\": \"printf\", \"data\": \"bye\\n\"}\n"
    );
    assert_eq!(r.stderr, "");
    let r = trace(&["-f", "json", "-e", "BEGIN { exit(); }"]);
    assert_eq!(r.stdout, "{\"type\":\"attached_probes\", \"count\":1}\n");
}

/// An object built without ARGs reads its positional parameters from
/// read-only globals, which `trace OBJ ARG...` sets before the kernel
/// loads it (`$1` as a number, `str($2)`, `$#`); a spec's ARGs are fixed
/// when it compiles, with the same output.
#[test]
#[ignore = "needs root"]
fn an_objects_parameters_are_the_args_after_it() {
    if !require(&[Need::Root]) {
        return;
    }
    let dir = scratch("params");
    let spec = dir.join("params.bt");
    std::fs::write(
        &spec,
        r#"BEGIN { printf("%d %s %d\n", $1, str($2), $#); exit(); }"#,
    )
    .expect("writing the spec");
    let (spec, object) = (
        spec.display().to_string(),
        dir.join("params.o").display().to_string(),
    );
    let built = finish(
        start(
            env!("CARGO_BIN_EXE_probecc"),
            &["build", &spec, "-o", &object],
        ),
        "probecc build",
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    let r = trace(&["-q", &object, "42", "hello", "extra"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "42 hello 3\n\n\n"),
        "{}",
        r.stderr
    );
    let r = trace(&["-q", &object, "--", "-7"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "-7  1\n\n\n"),
        "{}",
        r.stderr
    );
    let r = trace(&["-q", &spec, "42", "hello", "extra"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "42 hello 3\n\n\n"),
        "{}",
        r.stderr
    );
    let r = trace(&["-q", &object, "nope"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("$1 used numerically but given \"nope\""),
        "{}",
        r.stderr
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// BEGIN's state, read and changed by an interval block at its period,
/// its `exit()` ending the trace, then END and the maps' dump.
#[test]
#[ignore = "needs root"]
fn interval_blocks_run_at_their_period_between_begin_and_end() {
    if !require(&[Need::Root]) {
        return;
    }
    let spec = "BEGIN { @n = 10; } interval:ms:50 { @n += 1; printf(\"tick %d\\n\", @n); \
                if (@n == 13) { exit(); } } END { printf(\"end %d\\n\", @n); }";
    let started = std::time::Instant::now();
    let r = trace(&["-q", "-e", spec, "--duration", "10"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "tick 11\ntick 12\ntick 13\nend 13\n\n\n@n: 13\n");
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(150) && took < std::time::Duration::from_secs(5),
        "three 50 ms periods took {took:?}"
    );
}

#[test]
#[ignore = "needs root"]
fn output_streams_and_sigint_ends_the_trace_with_end() {
    if !require(&[Need::Root]) {
        return;
    }
    let mut child = start(env!("CARGO_BIN_EXE_probecc"), &["trace", "-e", BEGIN_END]);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    // BEGIN's line arrives while the trace runs, not at its end.
    stdout.read_line(&mut first).expect("a line");
    assert_eq!(first, "hello 42\n");
    assert!(
        child.try_wait().expect("waiting").is_none(),
        "still tracing"
    );
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("the rest");
    let r = finish(child, "probecc trace");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(rest, "bye\n\n\n");
}

#[test]
#[ignore = "needs root"]
fn the_command_runs_once_attached_and_its_exit_ends_the_trace() {
    if !require(&[Need::Root]) {
        return;
    }
    let dir = scratch("command");
    let mark = dir.join("ran");
    let touch = format!("touch {}", mark.display());
    let t = Instant::now();
    let r = trace(&["-e", BEGIN_END, "-c", &touch]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(mark.exists(), "the command ran");
    assert_eq!(r.stdout, "hello 42\nbye\n\n\n");
    assert!(t.elapsed() < Duration::from_secs(20), "ended with it");
    let r = trace(&["-e", BEGIN_END, "-c", "no-such-command-anywhere"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("no-such-command-anywhere is not an executable file on PATH"),
        "{}",
        r.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// How many of the kernel's programs bpftool lists with `name`, and how
/// many links it lists in all.
fn kernel_objects(name: &str) -> (usize, usize) {
    let list = |what: &str| -> serde_json::Value {
        let out = Command::new("bpftool")
            .args(["-j", what, "show"])
            .output()
            .expect("bpftool");
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    };
    let progs = list("prog");
    let named = progs
        .as_array()
        .map_or(0, |a| a.iter().filter(|p| p["name"] == name).count());
    let links = list("link").as_array().map_or(0, Vec::len);
    (named, links)
}

/// Every entry under bpffs and every kprobe event tracefs lists.
fn pins_and_events() -> (Vec<PathBuf>, String) {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            out.push(e.path());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&e.path(), out);
            }
        }
    }
    let mut pins = Vec::new();
    walk(Path::new("/sys/fs/bpf"), &mut pins);
    let events = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .find_map(|t| std::fs::read_to_string(format!("{t}/kprobe_events")).ok())
        .unwrap_or_default();
    (pins, events)
}

#[test]
#[ignore = "needs root, bpftool"]
fn a_failed_attach_leaves_nothing_behind_and_never_starts_the_command() {
    if !require(&[Need::Root, Need::Tool("bpftool")]) {
        return;
    }
    let dir = scratch("left");
    let mark = dir.join("ran");
    // A function of its own, so that the program's name is this test's.
    let func = format!("pcc_left_{}", std::process::id());
    let name = &format!("kprobe_{func}")[..15];
    let spec =
        format!("kprobe:{func} {{ @c[comm] = count(); }} kretprobe:vfs_read {{ @r = count(); }}");
    let before = kernel_objects(name);
    let (pins, events) = pins_and_events();
    let sleeper = format!("sleep 29.{}", std::process::id());
    // Kprobes as written: `--attach auto` would try fentry first, and the
    // subject here is what a refused kprobe attach leaves behind.
    let r = trace(&[
        "--attach",
        "kprobe",
        "-e",
        &spec,
        "-c",
        &format!("touch {}", mark.display()),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let kprobes = Path::new("/sys/bus/event_source/devices/kprobe/type").exists();
    if !kprobes {
        assert_eq!(
            r.stderr,
            "probecc: error: this kernel has no kprobes (built without CONFIG_KPROBES: there is \
             no /sys/bus/event_source/devices/kprobe)\n"
        );
    } else {
        assert!(
            r.stderr.contains(&format!(
                "cannot attach kprobe:{func}: this kernel has no function"
            )),
            "{}",
            r.stderr
        );
    }
    assert!(!mark.exists(), "the command never ran");
    let r = trace(&["-e", &spec, "-c", &sleeper]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lingering = Command::new("pgrep")
        .args(["-f", &sleeper])
        .output()
        .expect("pgrep");
    assert!(lingering.stdout.is_empty(), "the held command was killed");
    assert_eq!(kernel_objects(name), (0, before.1), "no program, no link");
    assert_eq!(before.0, 0);
    assert_eq!(pins_and_events(), (pins, events), "no pin, no kprobe event");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs root"]
fn a_process_without_the_capabilities_is_told_which() {
    if !require(&[Need::Root, Need::Tool("setpriv")]) {
        return;
    }
    let run = |drop: &str| {
        let child = start(
            "setpriv",
            &[
                &format!("--bounding-set={drop}"),
                env!("CARGO_BIN_EXE_probecc"),
                "trace",
                "-e",
                BEGIN_END,
            ],
        );
        finish(child, "setpriv probecc trace")
    };
    let r = run("-sys_admin,-perfmon");
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "probecc: error: tracing needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN, or root); \
         this process lacks CAP_PERFMON\n"
    );
    let r = run("-sys_admin,-perfmon,-bpf");
    assert!(
        r.stderr
            .ends_with("this process lacks CAP_BPF and CAP_PERFMON\n"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "", "nothing ran");
}

#[test]
#[ignore = "needs root"]
fn a_verifier_rejection_shows_the_kernels_log_and_the_spec_line() {
    if !require(&[Need::Root]) {
        return;
    }
    use probecc::insn::class;
    use probecc::lang::{compile, CompileOptions};
    let opts = CompileOptions {
        file: "t.bt".into(),
        ..Default::default()
    };
    let src = "kprobe:vfs_read\n{\n\t@x = arg0;\n}\n";
    let mut c = compile(src, Arch::X86_64, &opts).expect("compiles");
    // The ctx read of arg0 past the end of pt_regs.
    let load = c.object.programs[0]
        .insns
        .iter_mut()
        .find(|i| i.class() == class::LDX && i.src == 1)
        .expect("a ctx load");
    load.off = 400;
    let dir = scratch("rejected");
    let obj = dir.join("t.o");
    std::fs::write(&obj, probecc::elf::write(&c.object).expect("an object")).unwrap();
    std::fs::write(dir.join("t.manifest.json"), c.manifest.to_json()).unwrap();
    let r = trace(&[obj.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.starts_with("the kernel's log"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("invalid bpf_context access off=400 size=8"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(", from t.bt:3: @x = arg0;\n"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.ends_with(
            "probecc: error: the kernel's verifier rejected kprobe_vfs_read: Permission denied (os error 13)\n"
        ),
        "{}",
        r.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_exits_with_two_and_says_what() {
    let r = trace(&["-e", "kprobe:vfs_read { @x = nosuch; }"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("stdin:1:24"), "{}", r.stderr);
    assert!(
        r.stderr.ends_with("probecc: error: 1 error in stdin\n"),
        "{}",
        r.stderr
    );
    let r = trace(&["/nonexistent/spec.bt"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("probecc: error: reading /nonexistent/spec.bt: "),
        "{}",
        r.stderr
    );
    let r = trace(&[]);
    assert_eq!(r.code, 2);
    let r = trace(&["-e", BEGIN_END, "--duration", "0"]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "probecc: error: --duration 0: not a positive number of seconds\n"
    );
    let dir = scratch("lonely");
    let obj = dir.join("lonely.o");
    std::fs::write(&obj, b"\x7fELF\x02\x01\x01").unwrap();
    let r = trace(&[obj.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("lonely.manifest.json"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}
