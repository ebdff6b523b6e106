//! The parts of `cargo xtask` that its test suites share: the differential
//! check of verifier-sim against the kernel (`cargo xtask verifier-diff`
//! and its test).

pub mod verifier_diff;

/// The workspace root (the parent of xtask/).
pub fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}
