//! Tests of the checker: every diagnostic with its span, map and variable
//! consistency, arch limits, attach point expansion, BEGIN/END actions.

use super::ir::{KeyTy, OutputKind, Sym, TStmtKind, Ty, ValueKind};
use super::*;
use crate::kprobe::AttachPoint;
use crate::lang::ast::Builtin;
use crate::lang::ast::ProbeKind;
use crate::lang::parse::parse;
use crate::maps::MapKind;

fn checked_with(src: &str, arch: Arch, opts: &CompileOptions) -> Result<Checked, Vec<Diagnostic>> {
    let spec = parse(src).unwrap_or_else(|d| panic!("parse: {d:?}"));
    check_source(&spec, src, arch, opts)
}

fn ok(src: &str) -> Checked {
    checked_with(src, Arch::X86_64, &CompileOptions::default()).unwrap_or_else(|d| panic!("{d:#?}"))
}

fn errors_on(src: &str, arch: Arch) -> Vec<Diagnostic> {
    match checked_with(src, arch, &CompileOptions::default()) {
        Ok(_) => panic!("checked without errors: {src}"),
        Err(d) => d,
    }
}

fn errors(src: &str) -> Vec<Diagnostic> {
    errors_on(src, Arch::X86_64)
}

/// The one error of `src`, and the text its span covers.
fn one_error(src: &str) -> (String, String) {
    let d = errors(src);
    assert_eq!(d.len(), 1, "{d:#?}");
    (
        d[0].message.clone(),
        src[d[0].span.start..d[0].span.end].to_string(),
    )
}

#[test]
fn retval_outside_return_probes() {
    let (msg, at) = one_error("kprobe:vfs_read { @x = retval; }");
    assert_eq!(
        msg,
        "retval is only available in kretprobe and kretsyscall probes"
    );
    assert_eq!(at, "retval");
    ok("kretprobe:vfs_read { @x = retval; } kretsyscall:openat { @y = retval; }");
    // One non-return attach point of a shared block is enough.
    let (msg, _) = one_error("kretprobe:vfs_read, kprobe:vfs_write { @x = retval; }");
    assert!(msg.starts_with("retval is only available"), "{msg}");
}

#[test]
fn argument_limits_follow_the_arch() {
    let d = errors_on("kprobe:f { @x = arg5; }", Arch::S390x);
    assert_eq!(
        d[0].message,
        "arg5 is not available on s390x: it passes 5 arguments in registers (arg0..arg4)"
    );
    assert_eq!(
        d[0].help.as_deref(),
        Some("s390x passes 5 arguments in registers (arg0..arg4); arg5 is on the stack")
    );
    for arch in [Arch::X86_64, Arch::Arm64, Arch::Ppc64le, Arch::Riscv64] {
        checked_with("kprobe:f { @x = arg5; }", arch, &CompileOptions::default()).unwrap();
    }
    let d = errors_on("kprobe:f { @x = arg6; }", Arch::X86_64);
    assert_eq!(
        d[0].message,
        "arg6 is not available on x86_64: it passes 6 arguments in registers (arg0..arg5)"
    );
    checked_with(
        "kprobe:f { @x = arg7; }",
        Arch::Arm64,
        &CompileOptions::default(),
    )
    .unwrap();
}

#[test]
fn syscall_arguments_stop_at_six_on_every_arch_and_kernel() {
    for arch in Arch::ALL {
        for kernel in [
            KernelVersion(4, 14),
            KernelVersion(6, 1),
            KernelVersion(6, 12),
        ] {
            let opts = CompileOptions {
                kernel: Some(kernel),
                ..CompileOptions::default()
            };
            let d = checked_with("ksyscall:openat { @x = arg6; }", arch, &opts).unwrap_err();
            assert!(
                d[0].message.contains("syscalls take at most 6"),
                "{arch} {kernel}: {}",
                d[0].message
            );
        }
        let c = checked_with(
            "ksyscall:openat { @x = arg2; }",
            arch,
            &CompileOptions::default(),
        )
        .unwrap();
        assert_eq!(
            c.programs[0].wrapped_syscall,
            arch.syscall_wrapped(arch.default_kernel())
        );
    }
    let (msg, _) = one_error("kretprobe:f { @x = arg0; }");
    assert!(
        msg.starts_with("arg0 is not available in kretprobe probes"),
        "{msg}"
    );
}

#[test]
fn ksyscall_attaches_to_the_arch_symbol() {
    for (arch, section) in [
        (Arch::X86_64, "kprobe/__x64_sys_openat"),
        (Arch::Arm64, "kprobe/__arm64_sys_openat"),
        (Arch::S390x, "kprobe/__s390x_sys_openat"),
        (Arch::Ppc64le, "kprobe/sys_openat"),
        (Arch::Riscv64, "kprobe/__riscv_sys_openat"),
    ] {
        let c = checked_with(
            "ksyscall:openat { @a = count(); } kretsyscall:openat { @b = count(); }",
            arch,
            &CompileOptions::default(),
        )
        .unwrap();
        assert_eq!(c.programs[0].attach.section(), section);
        assert_eq!(c.programs[0].probe, "ksyscall:openat");
        assert_eq!(
            c.programs[1].attach.section(),
            section.replace("kprobe/", "kretprobe/")
        );
        assert_eq!(c.programs[1].func, section.trim_start_matches("kprobe/"));
    }
}

#[test]
fn wildcards_expand_against_the_symbol_list() {
    let src = "kprobe:vfs_r*, kprobe:vfs_read { @[func] = count(); }";
    let d = errors(src);
    assert_eq!(
        d[0].message,
        "wildcard `vfs_r*` needs a symbol list: pass --symbols System.map"
    );
    assert_eq!(&src[d[0].span.start..d[0].span.end], "kprobe:vfs_r*");
    let symbols = ["vfs_readv", "vfs_read", "vfs_write", "vfs_readv"]
        .map(String::from)
        .to_vec();
    let opts = CompileOptions {
        symbols: Some(symbols),
        ..CompileOptions::default()
    };
    let c = checked_with(src, Arch::X86_64, &opts).unwrap();
    let names: Vec<&str> = c.programs.iter().map(|p| p.symbol.as_str()).collect();
    assert_eq!(names, ["kprobe_vfs_read", "kprobe_vfs_readv"]);
    assert!(c.programs.iter().all(|p| p.body == 0));
    let d = checked_with("kprobe:tcp_* { @x = 1; }", Arch::X86_64, &opts).unwrap_err();
    assert_eq!(
        d[0].message,
        "wildcard `tcp_*` matches no function in the symbol list"
    );
    // Beside other attach points an unmatched wildcard is left out; a
    // probe none of whose wildcards match is still refused.
    let c = checked_with(
        "kprobe:vfs_read, kprobe:tcp_* { @x = 1; }",
        Arch::X86_64,
        &opts,
    )
    .unwrap();
    let names: Vec<&str> = c.programs.iter().map(|p| p.symbol.as_str()).collect();
    assert_eq!(names, ["kprobe_vfs_read"]);
    let d = checked_with(
        "kprobe:udp_*, kprobe:tcp_* { @x = 1; }",
        Arch::X86_64,
        &opts,
    )
    .unwrap_err();
    assert_eq!(d.len(), 2, "{d:?}");
}

#[test]
fn program_symbols_are_unique() {
    let c =
        ok("kprobe:vfs_read { @a = 1; } kprobe:vfs_read { @b = 2; } kprobe:vfs_read+0 { @c = 3; }");
    let names: Vec<&str> = c.programs.iter().map(|p| p.symbol.as_str()).collect();
    assert_eq!(
        names,
        ["kprobe_vfs_read", "kprobe_vfs_read_2", "kprobe_vfs_read_3"]
    );
    let bodies: Vec<usize> = c.programs.iter().map(|p| p.body).collect();
    assert_eq!(bodies, [0, 1, 2]);
}

#[test]
fn map_keys_must_agree_and_strings_grow_to_the_largest() {
    let src = "kprobe:f { @m[comm, pid] = 1; }\nkprobe:g { @m[pid] = 2; }";
    let (msg, at) = one_error(src);
    assert_eq!(
        msg,
        "map @m used with key (int) here but (string, int) at 1:12: its key type cannot change"
    );
    assert_eq!(at, "@m[pid]");
    let c = ok("kprobe:f { @m[comm] = count(); } kprobe:g { @m[str(arg0)] = count(); @n = @o[comm]; @o[\"ab\"] = 1; }");
    assert_eq!(c.maps[0].keys, vec![KeyTy::Str { size: 64 }]);
    let o = c.maps.iter().find(|m| m.name == "o").unwrap();
    assert_eq!(o.keys, vec![KeyTy::Str { size: 16 }]);
    let (msg, _) = one_error("kprobe:f { @x = 1; @x[1] = 2; }");
    assert!(
        msg.starts_with("map @x used with key (int) here but no key at 1:12"),
        "{msg}"
    );
}

#[test]
fn map_values_must_agree() {
    let (msg, at) = one_error("kprobe:f { @x = count(); }\nkprobe:g { @x = sum(arg0); }");
    assert_eq!(msg, "map @x is assigned sum() here but count() at 1:12");
    assert_eq!(at, "@x");
    let (msg, _) = one_error("kprobe:f { @x = comm; @x = 1; }");
    assert_eq!(msg, "map @x is assigned int here but string at 1:12");
    let (msg, _) =
        one_error("kprobe:f { @x = lhist(arg0, 0, 10, 1); @x = lhist(arg0, 0, 20, 1); }");
    assert!(msg.contains("lhist() here but lhist()"), "{msg}");
    // Read in a probe written before the one that assigns it.
    let c = ok("kretprobe:f { @d = nsecs - @start[tid]; }\nkprobe:f { @start[tid] = nsecs; }");
    assert_eq!(c.maps[0].value, Some(ValueKind::Int { signed: true }));
    let (msg, _) = one_error("kprobe:f { @x = @never; }");
    assert_eq!(msg, "map @never is used but never assigned");
    let (msg, _) = one_error("kprobe:f { @h = hist(arg0); @y = @h; }");
    assert!(msg.starts_with("map @h holds hist() values"), "{msg}");
}

#[test]
fn aggregation_misuse() {
    let (msg, at) = one_error("kprobe:f { @h = hist(); }");
    assert_eq!(
        (msg.as_str(), at.as_str()),
        ("hist() takes 1 argument", "hist()")
    );
    let (msg, _) = one_error("kprobe:f { @h = count(1); }");
    assert_eq!(msg, "count() takes no arguments");
    let (msg, _) = one_error("kprobe:f { @h = lhist(arg0, 0, 10); }");
    assert!(msg.starts_with("lhist() takes 4 arguments"), "{msg}");
    let (msg, at) = one_error("kprobe:f { @h = lhist(arg0, 0, arg1, 1); }");
    assert!(
        msg.starts_with("lhist() bounds must be integer literals"),
        "{msg}"
    );
    assert_eq!(at, "arg1");
    let (msg, _) = one_error("kprobe:f { @h = lhist(arg0, 0, 10, 0); }");
    assert_eq!(msg, "lhist() step must be positive");
    let (msg, _) = one_error("kprobe:f { @h = lhist(arg0, 10, 0, 1); }");
    assert_eq!(msg, "lhist() min must be less than max");
    let (msg, _) = one_error("kprobe:f { $x = count(); }");
    assert!(
        msg.starts_with("count() can only be assigned to a map"),
        "{msg}"
    );
    let (msg, _) = one_error("kprobe:f { @x = 1 + count(); }");
    assert!(
        msg.starts_with("count() must be assigned to a map"),
        "{msg}"
    );
    let (msg, _) = one_error("kprobe:f { @s = sum(comm); }");
    assert_eq!(
        msg,
        "the argument of sum() must be an integer, found string[16]"
    );
    let c = ok("kprobe:f { @h = lhist(arg0, -10, 10, 5); }");
    assert_eq!(
        c.maps[0].value,
        Some(ValueKind::Lhist {
            min: -10,
            max: 10,
            step: 5
        })
    );
}

#[test]
fn printf_arguments_match_the_format() {
    let (msg, at) = one_error("kprobe:f { printf(\"%d %s\\n\", pid); }");
    assert_eq!(
        msg,
        "printf format string has 2 conversions but 1 argument is given"
    );
    assert_eq!(at, "printf(\"%d %s\\n\", pid)");
    let (msg, at) = one_error("kprobe:f { printf(\"%s\\n\", pid); }");
    assert_eq!(
        (msg.as_str(), at.as_str()),
        ("%s expects a string, found int", "pid")
    );
    let (msg, _) = one_error("kprobe:f { printf(\"%-5d\\n\", comm); }");
    assert_eq!(msg, "%-5d expects an integer, found string[16]");
    let (msg, _) = one_error("kprobe:f { printf(\"%f\\n\", 1); }");
    assert!(msg.starts_with("`%f` is not a printf conversion"), "{msg}");
    let (msg, _) = one_error("kprobe:f { printf(comm); }");
    assert_eq!(
        msg,
        "printf() needs a format string literal as its first argument"
    );
    let c = ok("kprobe:f { printf(\"%d %s %s\\n\", pid, comm, str(arg0, 10)); printf(\"x\"); }");
    assert_eq!(c.outputs.len(), 2);
    assert_eq!(
        c.outputs[0].args,
        // str(s, 10): 10 bytes with the NUL, as in bpftrace.
        vec![Ty::INT, Ty::Str { size: 16 }, Ty::Str { size: 10 }]
    );
    assert_eq!(c.outputs[1].id, 1);
}

#[test]
fn strings_where_integers_are_needed() {
    let (msg, at) = one_error("kprobe:f { @x = comm + 1; }");
    assert_eq!(
        msg,
        "an operand of `+` must be an integer, found string[16]"
    );
    assert_eq!(at, "comm");
    let (msg, _) = one_error("kprobe:f /comm/ { @x = 1; }");
    assert_eq!(msg, "a predicate must be an integer, found string[16]");
    let (msg, _) = one_error("kprobe:f { @x = comm == 5; }");
    assert_eq!(msg, "cannot compare string[16] with int");
    let (msg, _) = one_error("kprobe:f { @x = comm == str(arg0); }");
    assert_eq!(
        msg,
        "comparing two strings needs one of them to be a literal"
    );
    let (msg, _) = one_error("kprobe:f { @x = (uint8)comm; }");
    assert!(msg.contains("must be an integer"), "{msg}");
    let (msg, _) = one_error("kprobe:f { @x = str(arg0, 500); }");
    assert_eq!(msg, "str() length must be an integer literal from 1 to 200");
    let (msg, _) = one_error("kprobe:f { @x = kstack + 1; }");
    assert_eq!(msg, "an operand of `+` must be an integer, found a kstack");
    let (msg, _) = one_error("kprobe:f { @x = 5 / 0; }");
    assert_eq!(msg, "division by zero");
    let (msg, at) = one_error("kprobe:f { @x = arg0 << 64; }");
    assert_eq!(
        (msg.as_str(), at.as_str()),
        ("shift amount must be from 0 to 63", "64")
    );
    let (msg, _) = one_error("kprobe:f { @x <<= 70; }");
    assert_eq!(msg, "shift amount must be from 0 to 63");
}

#[test]
fn typed_expressions() {
    let c = ok("kprobe:f { @a = (uint8)arg0; @b = -1; @c = 1 << 4; @d = comm == \"dd\"; @e = func; @f = probe; @g = \"x\" == \"x\"; }");
    let values: Vec<_> = c.maps.iter().map(|m| m.value).collect();
    assert_eq!(values[0], Some(ValueKind::Int { signed: false }));
    assert_eq!(values[4], Some(ValueKind::Sym(Sym::Func)));
    assert_eq!(values[5], Some(ValueKind::Sym(Sym::Probe)));
    let stmts = &c.bodies[0].stmts;
    let value = |i: usize| match &stmts[i].kind {
        TStmtKind::SetMap { value, .. } => value.kind.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(value(1), ir::TKind::Int(-1));
    assert_eq!(value(2), ir::TKind::Int(16));
    assert!(matches!(value(3), ir::TKind::StrEq { eq: true, .. }));
    assert_eq!(value(4), ir::TKind::Builtin(Builtin::Func));
    assert_eq!(value(6), ir::TKind::Int(1));
}

#[test]
fn func_and_probe_are_names_not_integers_or_strings() {
    let c = ok(
        "kprobe:f, kprobe:g { @k[func, probe] = count(); $f = func; \
         if ($f == \"g\") { printf(\"%s %s\\n\", func, probe); } }",
    );
    assert_eq!(
        c.maps[0].keys,
        vec![KeyTy::Sym(Sym::Func), KeyTy::Sym(Sym::Probe)]
    );
    assert_eq!(c.names(Sym::Func), ["f", "g"]);
    assert_eq!(c.names(Sym::Probe), ["kprobe:f", "kprobe:g"]);
    assert_eq!(c.sym_id(Sym::Probe, &c.programs[1]), 1);
    assert_eq!(
        c.outputs[0].args,
        vec![Ty::Sym(Sym::Func), Ty::Sym(Sym::Probe)]
    );
    let (msg, at) = one_error("kprobe:f { @x = func + 1; }");
    assert_eq!(
        (msg.as_str(), at.as_str()),
        ("an operand of `+` must be an integer, found func", "func")
    );
    let d = errors("kprobe:f { @m[func] = 1; @m[probe] = 2; }");
    assert!(d[0].message.contains("key"), "{d:#?}");
    // A map of names reads back names (xfsdist keys by the entry's func).
    let c = ok("kprobe:f { @name[tid] = func; } kretprobe:f { @us[@name[tid]] = count(); }");
    assert_eq!(c.maps[1].keys, vec![KeyTy::Sym(Sym::Func)]);
}

#[test]
fn variables_are_assigned_before_use_and_keep_their_kind() {
    let (msg, at) = one_error("kprobe:f { @x = $len; }");
    assert_eq!(
        msg,
        "undefined variable $len: it is used before it is assigned"
    );
    assert_eq!(at, "$len");
    let (msg, _) = one_error("kprobe:f { $x = 1; $x = comm; }");
    assert_eq!(msg, "variable $x holds int but is assigned string[16] here");
    let c = ok("kprobe:f { $s = comm; $s = str(arg0); $n = 1; if (arg0) { $m = 2; } else { $m = 3; } @m = $m + $n; @s = $s; }");
    let vars = &c.bodies[0].vars;
    assert_eq!(vars[0].ty, Ty::Str { size: 64 });
    assert!(!vars[1].needs_init, "assigned at the top level first");
    assert!(vars[2].needs_init, "assigned only inside if/else");
}

#[test]
fn unroll_limits() {
    let (msg, _) = one_error("kprobe:f { unroll(101) { @x++; } }");
    assert_eq!(msg, "unroll count must be from 1 to 100, found 101");
    ok("kprobe:f { unroll(100) { @x++; } }");
}

#[test]
fn begin_end_and_interval_blocks_are_programs_without_a_function() {
    let (msg, at) = one_error("BEGIN { printf(\"%d\\n\", arg0); }");
    assert_eq!(
        msg,
        "arg0 is not available in BEGIN probes: they probe no function"
    );
    assert_eq!(at, "arg0");
    let (msg, _) = one_error("END { @f = func; }");
    assert_eq!(
        msg,
        "func is not available in END probes: they probe no function"
    );
    let (msg, _) = one_error("interval:s:1 { @r = retval; }");
    assert!(
        msg.starts_with("retval is only available in kretprobe"),
        "{msg}"
    );
    let (msg, _) = one_error("BEGIN, kprobe:f { @x = arg0; }");
    assert_eq!(
        msg,
        "arg0 is not available in BEGIN probes: they probe no function"
    );
    let (msg, _) = one_error("END { printf(\"%s\\n\", 1); }");
    assert_eq!(msg, "%s expects a string, found int");
    let (msg, _) = one_error("END { print(@nothing); }");
    assert_eq!(msg, "map @nothing is never assigned");
    let c = ok("BEGIN /1/ { @start = nsecs; @pid = pid; } END { printf(\"%d\\n\", @start); }");
    let kinds: Vec<ProbeKind> = c.programs.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, [ProbeKind::Begin, ProbeKind::End]);
    assert_eq!(c.programs[0].attach, AttachPoint::Begin);
    assert!(c.names(Sym::Func).is_empty(), "no function is probed");
    assert_eq!(c.names(Sym::Probe), ["BEGIN", "END"]);
}

#[test]
fn output_calls_are_records_in_any_probe() {
    let c = ok("BEGIN { printf(\"hi %d %s\\n\", -3, \"x\"); time(); }\n\
                kprobe:f { @c = count(); print(@c, 3); exit(); @d = 1; }\n\
                interval:ms:100 { time(\"%H\"); clear(@c); zero(@c); print(5); }");
    assert_eq!(c.programs.len(), 3);
    let kinds: Vec<&OutputKind> = c.outputs.iter().map(|o| &o.kind).collect();
    assert_eq!(
        kinds,
        [
            &OutputKind::Printf {
                format: "hi %d %s\n".into()
            },
            &OutputKind::Time {
                format: "%H:%M:%S\n".into()
            },
            &OutputKind::Print {
                map: 0,
                top: 3,
                div: 0
            },
            &OutputKind::Exit,
            &OutputKind::Time {
                format: "%H".into()
            },
            &OutputKind::Clear { map: 0 },
            &OutputKind::Zero { map: 0 },
            &OutputKind::Value,
        ]
    );
    assert_eq!(c.outputs[0].args, [Ty::INT, Ty::Str { size: 2 }]);
    // exit() ends the program: what follows it is not reached.
    let kprobe = &c.bodies[c.programs[1].body].stmts;
    assert!(matches!(kprobe[3].kind, TStmtKind::Return), "{kprobe:#?}");
    let (msg, _) = one_error("kprobe:f { system(\"ls\"); }");
    assert_eq!(
        msg,
        "system() is an unsafe action: it runs a command on this machine"
    );
    let (msg, _) = one_error("kprobe:f { @x = 1; print(@x, pid); }");
    assert_eq!(msg, "print()'s top and div must be integer literals");
}

#[test]
fn all_errors_of_a_file_are_reported_in_order() {
    let src =
        "kprobe:f { @x = retval; }\nkprobe:g { @y = arg9; @z = hist(); }\nkretprobe:h { @w = $v; }";
    let d = errors(src);
    let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(msgs.len(), 4, "{msgs:#?}");
    assert!(msgs[0].starts_with("retval"));
    assert!(msgs[1].starts_with("arg9"));
    assert!(msgs[2].starts_with("hist()"));
    assert!(msgs[3].starts_with("undefined variable $v"));
    assert!(d.windows(2).all(|w| w[0].span.start <= w[1].span.start));
}

#[test]
fn positions_fall_back_to_byte_offsets_without_source() {
    let src = "kprobe:f { @m[1] = 1; @m[comm] = 2; }";
    let spec = parse(src).unwrap();
    let d = check(&spec, Arch::X86_64, &CompileOptions::default()).unwrap_err();
    assert!(d[0].message.contains("at byte 11"), "{}", d[0].message);
}

#[test]
fn unreadable_types_keep_their_cause() {
    let src = TypeSource::file("/nonexistent/vmlinux");
    let e = src.get().unwrap_err();
    assert!(matches!(e.cause(), CoreError::Read { .. }), "{e:?}");
    assert!(crate::error::caused_by::<CoreError>(&e));
    assert!(crate::error::caused_by::<std::io::Error>(&e));
    assert!(crate::error::chain(&e)
        .starts_with("reading kernel types from /nonexistent/vmlinux: cannot read the file: "));
    let again = src.clone().get().unwrap_err();
    assert!(
        std::ptr::eq(e.cause(), again.cause()),
        "clones share what was read"
    );
}

/// A declared map takes the declared kind and size; the kind must agree
/// with what the map holds, and be one probecc compiles.
#[test]
fn map_declarations_set_kind_and_size() {
    let c = ok(
        "let @a = lruhash(10);\nlet @b = percpuhash(20);\nlet @unused = hash(5);\n\
                kprobe:f { @a[tid] = 1; @b[comm] = count(); @c = 1; }",
    );
    let kinds: Vec<(String, MapKind, u32)> = c
        .maps
        .iter()
        .map(|m| (m.display(), m.kind(), m.max_entries(4096)))
        .collect();
    assert_eq!(
        kinds,
        [
            ("@a".to_string(), MapKind::LruHash, 10),
            ("@b".to_string(), MapKind::PercpuHash, 20),
            ("@c".to_string(), MapKind::Hash, 4096),
        ]
    );
    let msgs = |src: &str| -> Vec<String> { errors(src).into_iter().map(|d| d.message).collect() };
    assert_eq!(
        msgs("let @a = hash(4);\nkprobe:f { @a = count(); }"),
        ["`@a` is declared `hash` but holds a per-CPU aggregation"]
    );
    assert_eq!(
        msgs("let @a = percpuhash(4);\nkprobe:f { @a = 1; }"),
        ["`@a` is declared `percpuhash` but holds a value assigned to it"]
    );
    assert_eq!(
        msgs(
            "let @a = hash(4);\nlet @a = hash(5);\nlet @b = hashh(1);\nlet @c = hash(0);\n\
              kprobe:f { @a = 1; @b = 1; @c = 1; }"
        ),
        [
            "`@a` is declared twice",
            "unknown map kind `hashh`",
            "`@c`'s size must be 1 to 4294967295, not 0"
        ]
    );
    assert_eq!(
        errors("let @b = hashh(1);\nkprobe:f { @b = 1; }")[0]
            .help
            .as_deref(),
        Some("did you mean `hash`?")
    );
}

/// `strncmp(a, b, n)` compares the literal's first `n` bytes as a prefix,
/// or, past the literal's end, the whole string; literals fold.
#[test]
fn strncmp_compares_a_prefix_or_the_whole_string() {
    let c = ok(
        "kprobe:f { @a = strncmp(comm, \"bash\", 2); @b = strncmp(\"bash\", comm, 9); \
                @c = strncmp(\"abc\", \"abd\", 2); @d = strncmp(\"abc\", \"abd\", 3); }",
    );
    let value = |i: usize| match &c.bodies[0].stmts[i].kind {
        TStmtKind::SetMap { value, .. } => value.kind.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        matches!(value(0), ir::TKind::StrEq { ref lit, eq: false, nul: false, .. } if lit == b"ba")
    );
    assert!(
        matches!(value(1), ir::TKind::StrEq { ref lit, eq: false, nul: true, .. } if lit == b"bash")
    );
    assert_eq!(value(2), ir::TKind::Int(0));
    assert_eq!(value(3), ir::TKind::Int(1));
    let msgs: Vec<String> =
        errors("kprobe:f { @a = strncmp(comm, \"x\"); @b = strncmp(comm, \"x\", arg0); }")
            .into_iter()
            .map(|d| d.message)
            .collect();
    assert_eq!(
        msgs,
        [
            "strncmp() takes two strings and a length: strncmp(a, b, n)",
            "strncmp()'s length must be a non-negative integer literal"
        ]
    );
}
