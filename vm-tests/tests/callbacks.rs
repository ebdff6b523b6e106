//! Programs that pass a callback to `bpf_for_each_map_elem` (`len(@m)`,
//! `for ($kv : @m)`):
//! verifier-sim accepts them on every arch whose kernels JIT BPF (the
//! s390x ones run it in the interpreter, where the kernel refuses
//! callbacks, and the compiler says so), the runner calls the callback
//! once per entry, and every such arch prints the same, snapshotted in
//! bpftrace's text and JSON.

mod support;

use probecc::arch::Arch;
use probecc_runtime::output::Style;
use vm_tests::{events, Options};

/// `len()` of a map keyed by pid, of a per-CPU count keyed by comm, and
/// of a map that is still empty, from a probe and from END.
const LEN: &str = r#"
kprobe:vfs_read
{
	@readers[pid] = 1;
	@n = len(@readers);
	@by_comm[comm] = count();
	@comms = len(@by_comm);
	@none = len(@never);
}

kprobe:vfs_write
{
	@never[pid] = 1;
}

END
{
	printf("%d readers, %d comms\n", len(@readers), len(@by_comm));
}
"#;

/// Four reads by three processes of two names, one on another CPU.
const EVENTS: &str = r#"{"probe": "kprobe:vfs_read", "pid": 42, "comm": "cat"}
{"probe": "kprobe:vfs_read", "pid": 7, "comm": "dd"}
{"probe": "kprobe:vfs_read", "pid": 7, "comm": "dd"}
{"probe": "kprobe:vfs_read", "pid": 9, "comm": "dd", "cpu": 1}
"#;

/// `for` over three maps in END: `$kv.0` and `$kv.1`, an outer variable
/// read (`$limit`) and one summed in the body and read after the loop
/// (`$total`), a map assigned and `continue` in the body, `print()` of
/// the pair and `break`, and a per-CPU `count()` read as its total over
/// the CPUs.
const FOR: &str = r#"
kprobe:vfs_read
{
	@bytes[pid] = arg2;
	@names[comm] = pid;
	@reads[comm] = count();
}

END
{
	$total = 0;
	$limit = 50;
	for ($kv : @bytes) {
		$total += $kv.1;
		if ($kv.1 > $limit) {
			@large[$kv.0] = $kv.1;
			continue;
		}
		printf("pid %d read %d\n", $kv.0, $kv.1);
	}
	printf("%d bytes in all\n", $total);
	for ($n : @names) {
		print($n);
		break;
	}
	for ($r : @reads) {
		printf("%s read %d times\n", $r.0, $r.1);
	}
}
"#;

/// Reads of 100, 7 and 5 bytes by three processes of two names.
const FOR_EVENTS: &str = r#"{"probe": "kprobe:vfs_read", "pid": 42, "comm": "cat", "args": [0, 0, 100]}
{"probe": "kprobe:vfs_read", "pid": 7, "comm": "dd", "args": [0, 0, 7]}
{"probe": "kprobe:vfs_read", "pid": 9, "comm": "dd", "cpu": 1, "args": [0, 0, 5]}
"#;

fn jitted() -> impl Iterator<Item = Arch> {
    Arch::ALL.into_iter().filter(|a| a.info().jit_by_default)
}

/// `spec` over `events` on every arch that JITs: the same text and JSON on
/// each (x86_64's returned).
fn run_everywhere(spec: &str, events: &str) -> String {
    let evs = events::parse(events).expect("events");
    let mut outputs = jitted().map(|arch| {
        let p = support::load(&support::compile(spec, arch), arch, Options::default());
        let r = p.run(&evs).unwrap_or_else(|e| panic!("{arch}: {e}"));
        (arch, r.render(Style::Text), r.render(Style::Json))
    });
    let (_, text, json) = outputs.next().expect("an arch that JITs");
    for (arch, t, j) in outputs {
        assert_eq!((&t, &j), (&text, &json), "{arch} differs from x86_64");
    }
    format!("{text}\n--- json ---\n{json}")
}

#[test]
fn len_counts_a_map_s_entries_through_its_callback_on_every_jit_arch() {
    insta::assert_snapshot!(run_everywhere(LEN, EVENTS));
}

#[test]
fn for_runs_its_body_per_entry_with_the_outer_variables_on_every_jit_arch() {
    insta::assert_snapshot!(run_everywhere(FOR, FOR_EVENTS));
}

#[test]
fn s390x_refuses_callbacks_for_its_interpreter() {
    for src in [
        "kprobe:f { @m[1] = 1; @n = len(@m); }",
        "kprobe:f { @m[1] = 1; for ($kv : @m) { @n = $kv.1; } }",
    ] {
        let spec = probecc::lang::parse::parse(src).unwrap();
        let opts = probecc::lang::check::CompileOptions::default();
        let diags = probecc::lang::check::check(&spec, Arch::S390x, &opts).unwrap_err();
        assert!(
            diags[0].message.contains("which s390x's kernels refuse"),
            "{diags:?}"
        );
    }
}
