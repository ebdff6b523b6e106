//! Lowering tests: representative specs compile for all five arches and
//! write as ELF; the x86_64 objects load into the host kernel (the real
//! verifier), which needs bpftool, root and bpffs (`#[ignore]`d, and run
//! by `cargo xtask test`: `probecc_test_support`'s rule).

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::arch::Arch;
use crate::insn::Insn;
use crate::lang::{compile, diag, CompileOptions};
use probecc_test_support::{require, Need};

/// Specs covering every feature, by name.
pub const SPECS: &[(&str, &str)] = &[
    (
        "builtins",
        r#"kprobe:vfs_read {
    @pids[pid, tid] = count();
    @ids[uid, gid] = count();
    @comms[comm] = count();
    @cpus[cpu] = count();
    @t = nsecs;
    @r = rand;
    @f[func] = count();
    @p[probe] = count();
    @a = arg0 + arg1 + arg2 + arg3;
}"#,
    ),
    (
        "retval",
        r#"kretprobe:vfs_read /retval > 0/ { @bytes = sum(retval); @ret = hist(retval); }"#,
    ),
    (
        "aggregations",
        r#"kprobe:vfs_read {
    @c = count();
    @s[pid] = sum(arg2);
    @mn = min(arg2);
    @mx[comm] = max(arg2);
    @av = avg(arg2);
    @st = stats(arg2);
    @h = hist(arg2);
    @l[comm] = lhist(arg2, 0, 1000, 100);
    @big = lhist(arg2, -5000000000, 5000000000, 3000000000);
    @s1 = sum(1);
    @m1 = max(7);
}"#,
    ),
    (
        "printf",
        r#"kprobe:vfs_read {
    printf("%d %s %-10s %x %c %lu %5d %08x %p\n", pid, comm, str(arg1), arg2, 65, nsecs, -1, 0x12345678, arg0);
    printf("plain\n");
    printf("%s|%s|%s\n", "lit", func, probe);
}"#,
    ),
    (
        "strings",
        r#"kprobe:vfs_read {
    @s[str(arg0)] = count();
    $s = str(arg1, 32);
    @v = $s;
    @name[pid] = comm;
    $n = @name[pid];
    printf("%s %s\n", $n, @name[pid]);
    @short[str(arg0, 5)] = count();
    $t = tid > 5 ? comm : "none";
    @tern[$t] = count();
}"#,
    ),
    (
        "deref",
        r#"kprobe:vfs_read {
    @x = *(uint32 *)(arg0 + 8);
    @y = *(int8 *)arg1;
    @q = *(uint64 *)arg1;
    @z = (uint16)arg2;
    @w = (int32)arg3;
    @v = (uint8)(arg3 + 1) + (int16)arg2;
    @p = (uint64 *)arg0;
}"#,
    ),
    (
        "compare",
        r#"kprobe:vfs_read /comm == "dd"/ {
    if (comm != "bash") { @notbash = count(); }
    $b = str(arg0) == "x";
    @b = $b;
    if (str(arg1, 16) == "a_rather_long_string_x") { @long = count(); }
    if ("dd" == comm) { @rev = count(); }
    if (func == "vfs_read") { @f = count(); }
    @m[comm] = 1;
    if (@m[comm] == 1) { @one = count(); }
}"#,
    ),
    (
        "control",
        r#"kprobe:vfs_read /pid > 100 && (arg2 < 4096 || uid == 0)/ {
    if (arg2 > 10) {
        @big = count();
    } else if (arg2 == 0) {
        @zero = count();
    } else {
        @small = count();
    }
    $x = arg2 > 100 ? arg2 * 2 : arg2 / 2;
    @x = $x;
    @y = !(pid == 1) + (tid != 0 && cpu > 1) + (nsecs > 5 || rand < 2);
    @z = pid + tid * cpu - (nsecs % 7) / (rand | 1) + (uid << 2) + (gid >> 1) + (pid ^ 5) + (tid & 3) + ~cpu + -arg0;
    @w = (pid > tid) + (nsecs < rand);
}"#,
    ),
    (
        "unroll",
        r#"kprobe:vfs_read {
    $i = 0;
    unroll(5) {
        $i++;
        @u[$i] = count();
    }
    $j = 1;
    unroll(3) { $j *= 2; }
    @j = $j;
}"#,
    ),
    (
        "syscalls",
        r#"ksyscall:openat { @files[str(arg1)] = count(); @flags = arg2; @dfd[arg0] = count(); @mode = arg3 + arg4 + arg5; }
kretsyscall:openat { @ret = hist(retval); }"#,
    ),
    (
        "kstack",
        r#"kprobe:vfs_read { @stacks[kstack] = count(); @k[kstack, comm] = sum(arg2); }"#,
    ),
    (
        "delete",
        r#"kprobe:vfs_read { @start[tid] = nsecs; }
kretprobe:vfs_read /@start[tid]/ { @lat = hist(nsecs - @start[tid]); delete(@start[tid]); }"#,
    ),
    (
        "multi",
        r#"kprobe:vfs_read, kprobe:vfs_write, kretprobe:vfs_read { @[func] = count(); @p[probe] = count(); }
kprobe:vfs_read { @again = count(); }
kprobe:vfs_read+0 { @off = count(); }"#,
    ),
    (
        "keys",
        r#"kprobe:vfs_read { @m[pid, comm, arg0, str(arg1), cpu] = count(); @n[comm, 1, "x"] = arg2; @o[pid, arg2] = hist(arg2); }"#,
    ),
    (
        "user",
        r#"BEGIN { printf("start %d %s\n", 42, "x"); }
kprobe:vfs_read { @c[comm] = count(); }
END { print(@c); clear(@c); zero(@c); exit(); }"#,
    ),
    (
        "compound",
        r#"kprobe:vfs_read {
    @x += arg2;
    @y -= 1;
    @z++;
    @w--;
    @k[comm] += 5;
    @d /= 2;
    $a = 1;
    $a += 2;
    $a *= arg1;
    $a <<= 1;
    $a--;
    @a = $a;
}"#,
    ),
    (
        "pressure",
        r#"kprobe:vfs_read {
    @a = @x[pid] + (@y[tid] + (@z[cpu] + (@w[uid] + (@v[gid] + nsecs))));
    @x[pid] = 1; @y[tid] = 2; @z[cpu] = 3; @w[uid] = 4; @v[gid] = 5;
    printf("%d %d %d\n", @x[pid] + @y[tid], @z[cpu] * @w[uid], (@v[gid] + nsecs) - (rand + pid));
}"#,
    ),
    (
        "registers",
        r#"kprobe:vfs_read {
    $a = arg0; $b = arg1; $c = arg2; $d = arg3; $e = pid;
    @y[1] = 1; @z[2] = 2;
    @s = sum(@x[$a] + @y[$b] * (@z[$c] - $d));
    @m = max($a + $b + $c + $d + $e);
    @x[$a] += @y[$b] + $e;
    printf("%d %d %d %d %d %s\n", $a, $b, @x[$c], $d + @y[$e], $e, comm);
    $a = $a * 2 + $b;
    $b = $a > $b ? $b : $a;
    $c = $c == 0 ? 1 : $c;
    if ($a) { @t = $a; }
    @v[$a, $b, $c, $d, $e] = avg($a - $b);
    @k = *(uint16 *)$c + *(int32 *)$d + *(uint64 *)$a;
    @kk[*(uint32 *)$b, *(uint64 *)(arg0 + 8)] = count();
    printf("%d %d\n", *(uint8 *)$a, *(uint64 *)$b);
}"#,
    ),
    (
        "loops",
        r#"kprobe:vfs_read {
    $i = 0;
    while ($i < 8) {
        $i++;
        if ($i == 2) { continue; }
        @w[$i] = arg2 + $i;
        if (arg1 > 0 && $i > 5) { break; }
    }
    for ($j : 0..4) { @f[$j] = count(); }
    $n = arg2;
    for ($k : 0..$n) { if ($k >= 16) { break; } @g = sum($k); }
    $m = 0;
    while ($m < 3) { if (@w[1] > 0) { break; } @w[1] = 1; $m++; }
    if (pid == 1) { return; }
    @after = count();
}"#,
    ),
    (
        "tuples",
        r#"kprobe:vfs_read {
    $k = (pid, comm);
    @a[$k] = count();
    @b[(tid, "x")] = sum(arg2);
    $t = (arg2, str(arg1), 7);
    @c[$t.1] = max($t.0);
    if ($t.1 == "abc") { @d = $t.2; }
    printf("%d %s\n", $t.0, $t.1);
}"#,
    ),
    (
        "declarations",
        r#"config = { max_strlen = 48; max_map_keys = 1024; perf_rb_pages = 16 }
macro twice(x) { x * 2 }
macro count_into(@m, $v) { $v += 1; @m[$v] = count(); }
kprobe:vfs_read {
    let $a: uint16 = arg2;
    let $s: string;
    let $n;
    if $a > 100 { $n = 1; } else { $n = 2; }
    $s = str(arg1);
    @s[$s] = twice($n);
    count_into(@c, $n);
    printf("%s\n", $s);
}"#,
    ),
];

fn opts(name: &str) -> CompileOptions {
    CompileOptions {
        file: format!("{name}.bt"),
        ..CompileOptions::default()
    }
}

fn compile_ok(name: &str, src: &str, arch: Arch) -> crate::lang::Compiled {
    compile(src, arch, &opts(name)).unwrap_or_else(|d| {
        panic!(
            "{name} on {arch}:\n{}",
            diag::render(&format!("{name}.bt"), src, &d)
        )
    })
}

#[test]
fn every_spec_compiles_and_writes_for_every_arch() {
    for (name, src) in SPECS {
        for arch in Arch::ALL {
            let c = compile_ok(name, src, arch);
            assert_eq!(c.object.arch, arch);
            for p in &c.object.programs {
                assert!(
                    p.insns.last().is_some_and(Insn::is_exit),
                    "{name}/{arch}: {}",
                    p.name
                );
                assert!(!p.lines.is_empty(), "{name}/{arch}: no line info");
            }
            crate::elf::write(&c.object).unwrap_or_else(|e| panic!("{name} on {arch}: {e}"));
            let json = c.manifest.to_json();
            let back = crate::lang::manifest::Manifest::from_json(&json).unwrap();
            assert_eq!(back, c.manifest);
        }
    }
}

#[test]
#[ignore = "needs bpftool, root, bpffs"]
fn x86_64_objects_load_into_the_host_kernel() {
    let Some(loader) = Loader::new() else { return };
    let mut failures = Vec::new();
    for (name, src) in SPECS {
        let c = compile_ok(name, src, Arch::X86_64);
        let bytes = crate::elf::write(&c.object).unwrap();
        if let Err(log) = loader.load(name, &bytes, c.object.programs.len()) {
            failures.push(format!("== {name}\n{log}"));
        }
    }
    assert!(
        failures.is_empty(),
        "the kernel rejected:\n{}",
        failures.join("\n")
    );
}

#[test]
fn limits_are_diagnostics() {
    let src = "kprobe:f {\n  @m[str(arg0, 200), str(arg1, 200), str(arg2, 200)] = count();\n}";
    let d = compile(src, Arch::X86_64, &opts("limits")).unwrap_err();
    assert!(
        d[0].message
            .contains("bytes of BPF stack; the kernel allows 512"),
        "{}",
        d[0].message
    );
    assert_eq!(diag::line_col(src, d[0].span.start), (2, 3));
    let many = vec!["str(arg0, 200)"; 170].join(", ");
    let fmt = "%s".repeat(170);
    let src = format!("kprobe:f {{ printf(\"{fmt}\", {many}); }}");
    let d = compile(&src, Arch::X86_64, &opts("limits")).unwrap_err();
    assert!(
        d[0].message.contains("at most 32767 fit"),
        "{}",
        d[0].message
    );
}

/// Loads objects with `bpftool prog loadall` into `/sys/fs/bpf`.
pub struct Loader;

static PIN: AtomicUsize = AtomicUsize::new(0);

impl Loader {
    /// A loader, or `None` when the test may not go on without bpftool,
    /// root or bpffs (`probecc_test_support::require`'s rule; bpffs is
    /// mounted if it is not).
    #[track_caller]
    pub fn new() -> Option<Loader> {
        let needs = [Need::Tool("bpftool"), Need::Root, Need::Bpffs];
        require(&needs).then_some(Loader)
    }

    /// Loads `bytes`; the verifier log tail when the kernel rejects it.
    pub fn load(&self, name: &str, bytes: &[u8], programs: usize) -> Result<(), String> {
        let n = PIN.fetch_add(1, Ordering::SeqCst);
        let id = format!("probecc-lang-{}-{n}", std::process::id());
        let obj = std::env::temp_dir().join(format!("{id}-{name}.o"));
        let pin = PathBuf::from("/sys/fs/bpf").join(&id);
        std::fs::write(&obj, bytes).map_err(|e| e.to_string())?;
        let out = Command::new("bpftool")
            .args(["-d", "prog", "loadall"])
            .arg(&obj)
            .arg(&pin)
            .output()
            .map_err(|e| e.to_string())?;
        let pinned = std::fs::read_dir(&pin).map(|d| d.count()).unwrap_or(0);
        let _ = std::fs::remove_dir_all(&pin);
        let _ = std::fs::remove_file(&obj);
        let log = String::from_utf8_lossy(&out.stderr);
        let verified = log.contains("processed") || log.contains("verification time");
        if !out.status.success() || pinned != programs || !verified {
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(60)..].join("\n");
            return Err(format!("{pinned} of {programs} programs pinned\n{tail}"));
        }
        Ok(())
    }
}

#[test]
fn signal_is_unsafe_and_sends_the_signal_it_names() {
    let src = "kprobe:vfs_read /comm == \"dd\"/ { signal(\"SIGKILL\"); signal(arg0 & 31); }";
    let safe = crate::lang::compile(src, Arch::X86_64, &opts("sig"));
    let d = safe.expect_err("signal() needs --unsafe");
    assert!(d[0].message.contains("unsafe action"), "{d:?}");
    let unsafe_opts = CompileOptions {
        unsafe_actions: true,
        ..opts("sig")
    };
    for arch in Arch::ALL {
        let c = crate::lang::compile(src, arch, &unsafe_opts).expect("compiles with --unsafe");
        assert_eq!(c.manifest.unsafe_actions, ["signal"]);
        let insns = &c.object.programs[0].insns;
        let calls: Vec<usize> = (0..insns.len())
            .filter(|&i| insns[i].is_call() && insns[i].imm == 109)
            .collect();
        assert_eq!(calls.len(), 2, "{arch}");
        // SIGKILL is 9 on every arch, passed in r1.
        let before = insns[calls[0] - 1];
        assert_eq!((before.dst, before.imm), (1, 9), "{arch}");
    }
}

/// `bpf_get_current_comm` leaves the bytes after the NUL as they were
/// (strscpy, 6.1): a comm key's 16 bytes are zeroed before the call, or one
/// comm would make many keys.
#[test]
fn comm_keys_are_zeroed_before_the_helper_fills_them() {
    let c = crate::lang::compile(
        "kprobe:vfs_read { @[comm] = count(); }",
        Arch::X86_64,
        &opts("comm"),
    )
    .expect("compiles");
    let insns = &c.object.programs[0].insns;
    let call = insns
        .iter()
        .position(|i| i.is_call() && i.imm == 16)
        .expect("a get_current_comm call");
    // The pointer argument: r1 = r10 + off.
    let off = insns[..call]
        .iter()
        .rev()
        .find(|i| i.dst == 1 && i.code == 0x07)
        .map(|i| i.imm as i16)
        .expect("r1 += off");
    for half in [off, off + 8] {
        assert!(
            insns[..call]
                .iter()
                .any(|i| i.code == 0x7a && i.dst == 10 && i.off == half && i.imm == 0),
            "*(u64 *)(r10 {half}) = 0 before the call:\n{insns:#?}"
        );
    }
}

/// Aggregations add to their per-CPU values atomically, except in a
/// kprobe-type program on an arch whose JIT makes the atomic a retry loop
/// (ppc64le), where a plain load, add and store is exact: no such program
/// runs nested on one CPU. A tracing program keeps the atomic add there.
#[test]
fn per_cpu_adds_are_plain_only_where_the_atomic_loops_and_nothing_nests() {
    // (atomic adds, plain stores to a value) of `src` for `arch`.
    let adds = |src: &str, arch: Arch, attach| {
        let o = CompileOptions {
            attach,
            btf: crate::lang::check::fentry::tests::opts().btf,
            ..opts("adds")
        };
        let c = crate::lang::compile(src, arch, &o).expect("compiles");
        let insns = &c.object.programs[0].insns;
        let atomic = insns.iter().filter(|i| i.code == 0xdb).count();
        let plain = insns
            .iter()
            .filter(|i| i.code == 0x7b && i.dst == 0)
            .count();
        (atomic, plain)
    };
    let src = "kprobe:vfs_read { @c = count(); @s = sum(arg2); @a = avg(arg2); }";
    let kprobe = crate::lang::AttachMode::Kprobe;
    let fentry = crate::lang::AttachMode::Fentry;
    // count, sum, and avg's total and count: four adds.
    assert_eq!(adds(src, Arch::Ppc64le, kprobe), (0, 4));
    assert_eq!(adds(src, Arch::Ppc64le, fentry), (4, 0));
    for arch in [Arch::X86_64, Arch::Arm64, Arch::S390x, Arch::Riscv64] {
        assert_eq!(adds(src, arch, kprobe), (4, 0), "{arch}");
    }
}

/// A cast of a value that already fits emits nothing: the typed `let` of a
/// cast masks once, and a wider cast of a narrow one not at all.
#[test]
fn a_cast_of_a_value_that_fits_is_free() {
    let masks = |src: &str| {
        let c = crate::lang::compile(src, Arch::X86_64, &opts("casts")).expect("compiles");
        let insns = &c.object.programs[0].insns;
        insns
            .iter()
            .filter(|i| i.code == 0x57 && i.imm == 0xffff)
            .count()
    };
    assert_eq!(
        masks("kprobe:vfs_read { let $s: uint16 = (uint16)arg2; @m = max($s); }"),
        1
    );
    assert_eq!(
        masks("kprobe:vfs_read { @m = max((uint32)(uint16)arg2); }"),
        1
    );
    assert_eq!(
        masks("kprobe:vfs_read { @m = max((uint16)arg2 + (uint16)arg1); }"),
        2
    );
    // A signed cast of a value whose sign bit may be set still extends.
    let c = crate::lang::compile(
        "kprobe:vfs_read { @m = max((int16)(uint16)arg2); }",
        Arch::X86_64,
        &opts("casts"),
    )
    .expect("compiles");
    let arsh = c.object.programs[0]
        .insns
        .iter()
        .any(|i| i.code == 0xc7 && i.imm == 48);
    assert!(arsh, "int16 of a uint16 sign-extends");
}

/// Statements at the top of a body that key maps alike with invariant
/// parts share one key a hit; a histogram (whose bucket goes into the key)
/// and a statement that may not run build their own.
#[test]
fn keys_built_alike_at_the_top_of_a_body_are_built_once() {
    let comm_calls = |src: &str| {
        let c = crate::lang::compile(src, Arch::X86_64, &opts("shared")).expect("compiles");
        let insns = &c.object.programs[0].insns;
        insns.iter().filter(|i| i.is_call() && i.imm == 16).count()
    };
    let two = "kprobe:vfs_write { @count[comm] = count(); @sum[comm] = sum(arg2); }";
    assert_eq!(comm_calls(two), 1);
    let three = "kprobe:vfs_write { @a[comm] = count(); @b[comm] = 1; @c[comm] += arg2; }";
    assert_eq!(comm_calls(three), 1);
    let with_hist =
        "kprobe:vfs_write { @a[comm] = count(); @b[comm] = count(); @h[comm] = hist(arg2); }";
    assert_eq!(comm_calls(with_hist), 2);
    let nested = "kprobe:vfs_write { @a[comm] = count(); if (arg2 > 1) { @b[comm] = count(); } }";
    assert_eq!(comm_calls(nested), 2);
    // Different parts, or the same parts in maps keyed differently, share nothing.
    let differ = "kprobe:vfs_write { @a[comm, pid] = count(); @b[pid, comm] = count(); }";
    assert_eq!(comm_calls(differ), 2);
    // The shared key is built after the predicate: a filtered hit builds none.
    let c = crate::lang::compile(
        "kprobe:vfs_write /pid == 1/ { @a[comm] = count(); @b[comm] = count(); }",
        Arch::X86_64,
        &opts("shared"),
    )
    .expect("compiles");
    let insns = &c.object.programs[0].insns;
    let pid = insns
        .iter()
        .position(|i| i.is_call() && i.imm == 14)
        .expect("get_current_pid_tgid");
    let comm = insns
        .iter()
        .position(|i| i.is_call() && i.imm == 16)
        .expect("get_current_comm");
    assert!(pid < comm, "{insns:#?}");
}

/// A chain through many pointers needs one address register and one slot
/// in flight, whatever its length: every arch compiles it, verifier-sim
/// accepts it, and the host kernel loads it.
#[test]
fn member_chains_of_any_length_compile() {
    let hops = "->real_parent".repeat(12);
    let src = format!(
        "kprobe:vfs_read {{ $t = curtask; @p[curtask{hops}->pid, $t{hops}->tgid] = count(); \
         @c = curtask{hops}->comm; @d = curtask->real_parent->real_parent->real_parent->mm->mmap_base; }}"
    );
    let opts = CompileOptions {
        btf: Some(crate::lang::check::TypeSource::file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/btf/kernel.btf"
        ))),
        ..opts("chains")
    };
    for arch in Arch::ALL {
        let c = compile(&src, arch, &opts)
            .unwrap_or_else(|d| panic!("{arch}:\n{}", diag::render("chains.bt", &src, &d)));
        let bytes = crate::elf::write(&c.object).unwrap();
        if arch == Arch::X86_64 {
            if let Some(loader) = Loader::new() {
                loader
                    .load("chains", &bytes, 1)
                    .unwrap_or_else(|log| panic!("the kernel rejected it:\n{log}"));
            }
        }
    }
}

/// Code after `break`, `continue`, `return` or a loop nothing leaves is
/// never reached and goes (the kernel refuses unreachable instructions);
/// a loop of a true condition that nothing leaves is an error.
#[test]
fn unreachable_code_goes_and_endless_loops_are_errors() {
    let src = "kprobe:vfs_read { if (pid == 1) { return; @y = 2; } \
               $i = 0; while ($i < 4) { $i++; if ($i == 2) { continue; @z = 1; } @w = 1; } \
               while (1) { if (arg0 > 5) { break; } if (arg1 > 5) { return; } @v = 1; break; @u = 1; } \
               if (arg2) { @t = 1; return; } else { @s = 1; } \
               while ($i < 8) { $i++; if (arg3) { continue; } else { break; } } \
               if (arg4) { return; } else { return; } }";
    for arch in Arch::ALL {
        let c = compile_ok("unreachable", src, arch);
        let bytes = crate::elf::write(&c.object).unwrap();
        if arch == Arch::X86_64 {
            if let Some(loader) = Loader::new() {
                loader
                    .load("unreachable", &bytes, 1)
                    .unwrap_or_else(|log| panic!("the kernel rejected it:\n{log}"));
            }
        }
    }
    let d = compile(
        "kprobe:f { $i = 0; while (1) { $i++; } @x = $i; }",
        Arch::X86_64,
        &opts("endless"),
    )
    .unwrap_err();
    assert_eq!(
        d[0].message,
        "this loop never ends: its condition is always true and no `break` or `return` leaves it"
    );
}

/// `len(@m)`'s callback is a static function of `.text`, its address
/// loaded as clang loads a static function's: `BPF_PSEUDO_FUNC`, its byte
/// offset in `.text` as the immediate, relocated against `.text` — the
/// one form libbpf takes. Two programs counting share the callback.
#[test]
fn len_loads_a_static_callback_of_text_as_clang_does() {
    let src = "kprobe:vfs_read { @m[pid] = 1; @n = len(@m); } END { @e = len(@m); }";
    for arch in Arch::ALL.into_iter().filter(|a| a.info().jit_by_default) {
        let c = compile_ok("len", src, arch);
        let bytes = crate::elf::write(&c.object).expect("writes");
        let obj = crate::elf::read(&bytes).expect("reads");
        let cb = obj.program("map_len_callback").expect("the callback");
        assert_eq!((cb.section.as_str(), cb.global), (".text", false));
        for name in ["kprobe_vfs_read", "END"] {
            let p = obj.program(name).expect("the program");
            let r = p
                .relocs
                .iter()
                .find(|r| r.symbol == ".text")
                .unwrap_or_else(|| panic!("{name} loads no function on {arch}"));
            let ld = p.insns[r.insn];
            assert_eq!(
                (ld.src, ld.imm as u64),
                (crate::insn::pseudo::FUNC, cb.offset)
            );
        }
    }
}

/// The host kernel's verifier takes `len()`'s and `for`'s callbacks as
/// libbpf appends them: static functions of `.text`, their addresses
/// relocated against the section; a `count()` read over the CPUs.
#[test]
#[ignore = "needs bpftool, root, bpffs"]
fn callbacks_load_into_the_host_kernel() {
    let Some(loader) = Loader::new() else { return };
    let src = "kprobe:vfs_read { @m[comm] = arg2; @c[comm] = count(); @n = len(@m); $t = 0; \
               for ($kv : @m) { $t += $kv.1; if ($kv.1 > 100) { break; } } @t = $t; \
               for ($kv : @c) { @u = $kv.1; } }";
    let c = compile_ok("callbacks", src, Arch::X86_64);
    let bytes = crate::elf::write(&c.object).unwrap();
    let programs = c
        .object
        .programs
        .iter()
        .filter(|p| !p.is_subprogram())
        .count();
    if let Err(log) = loader.load("callbacks", &bytes, programs) {
        panic!("the kernel rejected the callbacks:\n{log}");
    }
}
