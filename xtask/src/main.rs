//! `cargo xtask`: the project's task runner. `build` compiles every example
//! (and, as the language lands, every fixture spec) into
//! `target/bpf/<arch>/<name>.o`; `test` installs what the tests need and runs
//! them all. Later issues add `kernels`, `qemu`, `matrix` and `bench`.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod build;
mod deps;
mod test;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "probecc's build and test tasks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Compile every example into target/bpf/<arch>/<name>.o
    Build(build::BuildArgs),
    /// Install the test prerequisites and run every test
    Test(test::TestArgs),
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Build(args) => build::run(&args),
        Cmd::Test(args) => test::run(&args),
    }
}

/// The workspace root (the parent of xtask/).
pub fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}
