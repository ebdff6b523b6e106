//! What the workspace's tests repeat, in one place at the bottom of the
//! crate graph (it depends on no crate of the workspace, so every crate's
//! tests can use it): the prerequisites a test takes from the machine and
//! the one rule for a missing one (`need`), the skips `cargo xtask test`
//! lists (`skips`), bpffs mounted for tests that load into the host kernel
//! (`bpffs`), C compiled for BPF by clang (`clang`), and the seeded
//! generator of random streams (`xorshift`).

pub mod bpffs;
pub mod clang;
pub mod need;
pub mod skips;
pub mod xorshift;

pub use need::{in_ci, require, Need};
pub use xorshift::XorShift64Star;
