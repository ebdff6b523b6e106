//! For every arch and every register argument index, a spec recording
//! `argN` records exactly the value placed in that arch's register (all 64
//! bits, and the low half through a 4-byte read at `Arch::low_part`), and a
//! return probe's `retval` likewise.

mod support;

use probecc::arch::Arch;
use probecc_runtime::decode::Value;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use vm_tests::{Event, Options, Output, Program};

fn value(r: &Output, map: &str) -> u64 {
    let m = r
        .maps
        .iter()
        .find(|m| m.name == map)
        .unwrap_or_else(|| panic!("no {map}"));
    match &m.entries[..] {
        [e] => match e.value {
            Value::Int(v) => v as u64,
            ref other => panic!("{map} holds {other:?}"),
        },
        other => panic!("{map} has {} entries", other.len()),
    }
}

fn program(src: &str, arch: Arch) -> Program {
    support::load(&support::compile(src, arch), arch, Options::default())
}

#[test]
fn arg_n_reads_the_arch_s_register_n() {
    for arch in Arch::ALL {
        for n in 0..arch.reg_args() {
            let p = program(
                &format!("kprobe:vfs_read {{ @a = arg{n}; @w = (uint32)arg{n}; }}"),
                arch,
            );
            let mut runner = TestRunner::new(Config::with_cases(64));
            let args = vec(any::<u64>(), arch.reg_args());
            runner
                .run(&args, |args| {
                    let mut ev = Event::new("kprobe:vfs_read");
                    ev.args = args.clone();
                    let r = p
                        .run(&[ev])
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(value(&r, "@a"), args[n], "{} arg{}", arch, n);
                    prop_assert_eq!(
                        value(&r, "@w"),
                        args[n] & 0xffff_ffff,
                        "{} (uint32)arg{}",
                        arch,
                        n
                    );
                    Ok(())
                })
                .unwrap_or_else(|e| panic!("{arch} arg{n}: {e}"));
        }
    }
}

#[test]
fn retval_reads_the_arch_s_return_register() {
    for arch in Arch::ALL {
        let p = program(
            "kretprobe:vfs_read { @r = retval; @s = (int32)retval; }",
            arch,
        );
        let mut runner = TestRunner::new(Config::with_cases(128));
        runner
            .run(&(any::<u64>(), vec(any::<u64>(), 8)), |(ret, args)| {
                let mut ev = Event::new("kretprobe:vfs_read");
                ev.retval = ret;
                ev.args = args;
                let r = p
                    .run(&[ev])
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(value(&r, "@r"), ret, "{} retval", arch);
                prop_assert_eq!(
                    value(&r, "@s"),
                    ret as i32 as i64 as u64,
                    "{} (int32)retval",
                    arch
                );
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{arch} retval: {e}"));
    }
}

#[test]
fn syscall_arguments_come_through_the_user_regs() {
    for arch in Arch::ALL {
        let p = program(
            "ksyscall:openat { @a = arg2; } kretsyscall:openat { @r = retval; }",
            arch,
        );
        let mut ev = Event::new("ksyscall:openat");
        ev.args = vec![1, 2, 0o644];
        let mut ret = Event::new("kretsyscall:openat");
        ret.retval = (-2i64) as u64;
        let r = p.run(&[ev, ret]).unwrap_or_else(|e| panic!("{arch}: {e}"));
        assert_eq!(value(&r, "@a"), 0o644, "{arch}");
        assert_eq!(value(&r, "@r"), (-2i64) as u64, "{arch}");
    }
}
