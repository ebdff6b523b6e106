//! Example programs in the Rust DSL, the "pure Rust kprobe" lab: each module
//! is one pattern of the kprobes chapter, small enough to read as
//! documentation, and builds a loader-ready [`Object`] for any arch.
//! `cargo xtask build` writes each to `target/bpf/<arch>/<name>.o`.

use crate::arch::Arch;
use crate::asm::{self, regs::*, AsmError, Op};
use crate::insn::{Cond, Size};
use crate::kprobe::{AttachPoint, KprobeError, KprobeProgram, EXIT_LABEL};
use crate::program::{Object, Program};

pub mod arg_filter;
pub mod call_counter;
pub mod error_tracker;
pub mod event_tracer;
pub mod latency;
pub mod pid_filter;
pub mod sampling;

/// Why an example failed to build (it should not; tests build every one).
#[derive(Debug, thiserror::Error)]
pub enum ExampleError {
    #[error(transparent)]
    Asm(#[from] AsmError),
    #[error(transparent)]
    Kprobe(#[from] KprobeError),
    #[error(transparent)]
    Event(#[from] crate::event::EventError),
}

/// An example: its name (the object's file stem), what it shows, and its builder.
pub struct Example {
    pub name: &'static str,
    pub about: &'static str,
    pub build: fn(Arch) -> Result<Object, ExampleError>,
}

/// Every example, in the chapter's order.
pub const ALL: &[Example] = &[
    Example {
        name: "call_counter",
        about: "calls of vfs_read counted per process",
        build: call_counter::object,
    },
    Example {
        name: "arg_filter",
        about: "vfs_read calls whose count argument is 7",
        build: arg_filter::object,
    },
    Example {
        name: "error_tracker",
        about: "failed openat2 calls counted per errno",
        build: error_tracker::object,
    },
    Example {
        name: "latency",
        about: "vfs_read latency as a log2 histogram",
        build: latency::object,
    },
    Example {
        name: "event_tracer",
        about: "openat2 events (time, pid, uid, comm) through a ring buffer",
        build: event_tracer::object,
    },
    Example {
        name: "sampling",
        about: "1-in-16 sampling of vfs_read calls",
        build: sampling::object,
    },
    Example {
        name: "pid_filter",
        about: "vfs_read calls of one configured pid, per-CPU counters",
        build: pid_filter::object,
    },
];

/// Looks an example up by name.
pub fn find(name: &str) -> Option<&'static Example> {
    ALL.iter().find(|e| e.name == name)
}

/// Assembles a kprobe program body for `at` (prologue, body, `exit:` r0 = 0).
///
/// The program's line info points at the Rust line that built it, so that
/// loaders (libbpf warns about programs without line info) and verifier logs
/// lead back to the example's source.
#[track_caller]
pub(crate) fn program(
    arch: Arch,
    at: &AttachPoint,
    p: KprobeProgram,
) -> Result<Program, ExampleError> {
    let caller = std::panic::Location::caller();
    let mut ops = vec![asm::source(
        caller.file(),
        caller.line(),
        caller.column(),
        &at.to_string(),
    )];
    ops.extend(crate::kprobe::build_kprobe_program(arch, &p)?);
    Ok(asm::assemble(&ops)?.into_program(&at.symbol(), &at.section()))
}

/// `map[key]` += 1 for a map whose entries always exist (arrays): the key is
/// the u32 at `r10 + key_off`. Jumps to `exit` when the lookup fails.
pub(crate) fn bump_existing(map: &str, key_off: i16) -> Vec<Op> {
    vec![
        asm::map_lookup_elem(asm::map(map), asm::stack(key_off)),
        asm::jmp_imm(Cond::Eq, R0, 0, EXIT_LABEL),
        asm::mov(R1, 1),
        asm::atomic_add(Size::DW, R0, 0, R1),
    ]
}

/// `map[key]` += 1 for a hash map, creating the entry at 1 when missing. The
/// key is at `r10 + key_off`; `r10 + val_off` is an 8-byte scratch slot;
/// `tag` keeps the labels unique. A concurrent insert (the update fails with
/// -EEXIST under `BPF_NOEXIST`) falls back to incrementing that entry.
pub(crate) fn bump_hash(map: &str, key_off: i16, val_off: i16, tag: &str) -> Vec<Op> {
    let init = format!("{tag}_init");
    let add = format!("{tag}_add");
    vec![
        asm::map_lookup_elem(asm::map(map), asm::stack(key_off)),
        asm::jmp_imm(Cond::Ne, R0, 0, &add),
        asm::label(&init),
        asm::store_imm(Size::DW, R10, val_off, 1),
        asm::map_update_elem(
            asm::map(map),
            asm::stack(key_off),
            asm::stack(val_off),
            BPF_NOEXIST,
        ),
        asm::jmp_imm(Cond::Eq, R0, 0, EXIT_LABEL),
        asm::map_lookup_elem(asm::map(map), asm::stack(key_off)),
        asm::jmp_imm(Cond::Eq, R0, 0, EXIT_LABEL),
        asm::label(&add),
        asm::mov(R1, 1),
        asm::atomic_add(Size::DW, R0, 0, R1),
    ]
}

/// `BPF_NOEXIST`: create the element only if it does not exist.
pub const BPF_NOEXIST: i32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_builds_for_every_arch() {
        for e in ALL {
            for arch in Arch::ALL {
                let obj =
                    (e.build)(arch).unwrap_or_else(|err| panic!("{} on {arch}: {err}", e.name));
                assert!(!obj.programs.is_empty(), "{}", e.name);
                assert_eq!(obj.arch, arch);
                for p in &obj.programs {
                    assert!(
                        p.insns.last().is_some_and(|i| i.is_exit()),
                        "{}: {}",
                        e.name,
                        p.name
                    );
                    for r in &p.map_relocs {
                        assert!(
                            obj.map(&r.map).is_some(),
                            "{}: unknown map {}",
                            e.name,
                            r.map
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn names_are_unique() {
        for (i, e) in ALL.iter().enumerate() {
            assert!(ALL[i + 1..].iter().all(|o| o.name != e.name));
            assert!(find(e.name).is_some());
        }
    }
}
