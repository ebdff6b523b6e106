//! Fuzz target `events`: the body is `probecc_fuzz_targets::events`, which the
//! corpus replay in `cargo xtask test` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| probecc_fuzz_targets::events(data));
