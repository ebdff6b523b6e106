//! probecc: compiles kprobe and kretprobe programs into relocatable ELF BPF
//! objects for x86_64, arm64, s390x, ppc64le and riscv64, without LLVM.
//!
//! The data flow, one way: program text or the Rust DSL ([`asm`], [`kprobe`])
//! → instructions ([`insn`]) → [`program::Object`] (programs, [`maps`], record
//! types) → [`btf`] + [`elf`] → bytes a loader takes. [`arch`] is the one
//! table of per-architecture facts. See ARCHITECTURE.md for the map.

pub mod arch;
pub mod asm;
pub mod btf;
pub mod ctype;
pub mod disasm;
pub mod elf;
pub mod endian;
pub mod error;
pub mod event;
pub mod examples;
pub mod helpers;
pub mod insn;
pub mod kprobe;
pub mod lang;
pub mod load;
pub mod maps;
pub mod offsets;
pub mod program;
pub mod suggest;
pub mod symbols;

pub use arch::Arch;
pub use insn::{Endian, Insn, Reg};
