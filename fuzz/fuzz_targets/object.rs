//! Fuzz target `object`: the body is `probecc_fuzz_targets::object`, which the
//! corpus replay in `cargo xtask test` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| probecc_fuzz_targets::object(data));
