//! Fuzz target `parse`: the body is `xtask::fuzz::parse`, which the corpus
//! replay in `cargo xtask test` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xtask::fuzz::parse(data));
