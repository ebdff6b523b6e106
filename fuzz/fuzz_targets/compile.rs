//! Fuzz target `compile`: the body is `xtask::fuzz::compile`, which the corpus
//! replay in `cargo xtask test` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xtask::fuzz::compile(data));
