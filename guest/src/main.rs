//! The guest agent: `/init` of every QEMU guest of the attach-and-measure
//! matrix. It mounts the pseudo filesystems, loads each object with a
//! third-party loader, attaches its programs, drives a workload and prints one
//! JSON line per result. The matrix (`cargo xtask qemu`/`matrix`) builds it
//! statically for each arch; until that lands this binary only reports that
//! it has nothing to run.

fn main() {
    eprintln!("probecc-guest: no objects to run (the QEMU matrix is not part of this build yet)");
    std::process::exit(1);
}
