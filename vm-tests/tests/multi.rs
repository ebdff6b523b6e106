//! kprobe-multi programs in the offline runner, on every arch: one
//! program runs for events of any of its functions, the event says which
//! function fired, and `func` (the function's address there) is named
//! as that function; `retval` and `arg0` read as in one program per
//! function.

mod support;

use probecc::arch::Arch;
use probecc::lang::CompileOptions;
use probecc_runtime::decode::{Key, Value};
use vm_tests::{spec, Event, Options};

#[test]
fn one_program_runs_for_each_of_its_functions_and_func_names_the_one_that_fired() {
    for arch in Arch::ALL {
        let opts = CompileOptions {
            multi: true,
            ..probecc_fixtures::options(&probecc_fixtures::spec_path("wildcard_inline"))
                .expect("options")
        };
        let src = "kprobe:vfs_r* { @[func] = count(); }\n\
                   kretprobe:vfs_read, kretprobe:vfs_write { @r[func] = sum(retval); }";
        let a = spec::compile(src, arch, &opts).unwrap_or_else(|e| panic!("{arch}: {e}"));
        let p = support::load(&a, arch, Options::default());
        let sections: Vec<&str> = p
            .manifest
            .programs
            .iter()
            .map(|p| p.section.as_str())
            .collect();
        assert_eq!(
            sections,
            ["kprobe.multi/vfs_r*", "kretprobe.multi"],
            "{arch}"
        );
        let ret = |probe: &str, v: u64| {
            let mut e = Event::new(probe);
            e.retval = v;
            e
        };
        let events = [
            Event::new("kprobe:vfs_read"),
            Event::new("kprobe:vfs_readv"),
            Event::new("kprobe:vfs_read"),
            ret("kretprobe:vfs_read", 5),
            ret("kretprobe:vfs_write", 7),
            ret("kretprobe:vfs_read", 1),
        ];
        let out = p.run(&events).unwrap_or_else(|e| panic!("{arch}: {e}"));
        let entries = |map: &str| -> Vec<(Vec<Key>, Value)> {
            let m = out.maps.iter().find(|m| m.name == map).expect(map);
            let mut e: Vec<_> = m
                .entries
                .iter()
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect();
            e.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
            e
        };
        let s = |n: &str| vec![Key::Str(n.into())];
        assert_eq!(
            entries("@"),
            [
                (s("vfs_read"), Value::Int(2)),
                (s("vfs_readv"), Value::Int(1))
            ],
            "{arch}"
        );
        assert_eq!(
            entries("@r"),
            [
                (s("vfs_read"), Value::Int(6)),
                (s("vfs_write"), Value::Int(7))
            ],
            "{arch}"
        );
        let err = p
            .run(&[Event::new("kprobe:vfs_write")])
            .expect_err("vfs_write is not one of vfs_r*");
        assert!(err.to_string().contains("kprobe:vfs_r*"), "{arch}: {err}");
    }
}
