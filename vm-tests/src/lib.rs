//! vm-tests: runs BPF kprobe objects offline, in the rbpf userspace VM,
//! against synthetic `pt_regs` for each of probecc's five architectures.
//!
//! The data flow starts from the files, never from compiler internals:
//! [`object`] reads the `.o` with goblin, [`runner::Program`] pairs it with
//! its manifest and [`rewrite`]s every program into code rbpf runs with the
//! kernel's semantics (atomics, big-endian memory, an instruction budget);
//! a [`runner::Session`] feeds [`events`] through the programs with
//! [`regs`] built from `probecc::arch`, [`helpers`] and [`maps`] emulated
//! as the kernel implements them, and the maps and printf records are
//! decoded into the runtime's `Output` (`probecc_runtime`), which prints
//! them as bpftrace does.
//!
//! **Big-endian s390x objects** run with the same semantics as the
//! little-endian four: all program memory (stack, `pt_regs`, map values,
//! records, event memory) holds values in the target's byte order, as on a
//! real s390x; the rewrite adds a byte swap to every multi-byte load and
//! store, and everything the runner itself reads or writes in that memory
//! uses the object's order. The same spec and events thus give the same
//! output on all five arches.
//!
//! **Kernel structs**: an object's CO-RE relocations are applied for a
//! chosen kernel BTF with [`relocate`] before loading, and an event's
//! `mem` holds the struct bytes at the offsets that BTF gives (`task` is
//! where `curtask` points).

pub mod abi;
pub mod error;
pub mod events;
pub mod helpers;
pub mod kaddr;
pub mod maps;
pub mod memory;
pub mod object;
pub mod offline;
pub mod regs;
pub mod rewrite;
pub mod rodata;
pub mod runner;
pub mod spec;
pub mod vm;

pub use error::{Error, Result};
pub use events::Event;
pub use probecc_runtime::output::Output;
pub use runner::{relocate, Options, Program, Session};
pub use vm::Engine;
