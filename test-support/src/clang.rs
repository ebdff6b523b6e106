//! C compiled for BPF by clang, the way every test that compares with
//! clang compiles it: `clang -O2 -g -target TARGET [extra] -c SRC -o OBJ`.
//! A test calls these after `require(&[Need::Tool("clang")])`; a clang
//! that fails is a test failure, with clang's diagnostics.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Compiles `src` for `target` (`bpf`, `bpfel`, `bpfeb`) into `obj` and
/// returns the object's bytes; panics with clang's stderr if it fails.
pub fn compile(src: &Path, target: &str, extra: &[&str], obj: &Path) -> Vec<u8> {
    let out = Command::new("clang")
        .args(["-O2", "-g", "-target", target])
        .args(extra)
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(obj)
        .output()
        .unwrap_or_else(|e| panic!("running clang: {e}"));
    assert!(
        out.status.success(),
        "clang -target {target} {}: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(obj).unwrap_or_else(|e| panic!("reading clang's {}: {e}", obj.display()))
}

/// Compiles the C text `source` for `target` in a directory of its own
/// (removed afterwards) and returns the object's bytes.
pub fn compile_source(source: &str, target: &str, extra: &[&str]) -> Vec<u8> {
    let dir = scratch();
    let (src, obj) = (dir.join("source.c"), dir.join("source.o"));
    std::fs::write(&src, source).unwrap_or_else(|e| panic!("writing {}: {e}", src.display()));
    let bytes = compile(&src, target, extra, &obj);
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

/// A fresh directory under the system's temporary directory, unique to
/// this process and call.
fn scratch() -> PathBuf {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("probecc-clang-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{require, Need};

    #[test]
    #[ignore = "needs clang"]
    fn compiles_for_either_byte_order() {
        if !require(&[Need::Tool("clang")]) {
            return;
        }
        let source = "int f(int x) { return x + 1; }";
        for (target, data) in [("bpfel", 1u8), ("bpfeb", 2)] {
            let bytes = compile_source(source, target, &[]);
            assert_eq!(&bytes[..4], b"\x7fELF", "{target}");
            assert_eq!(bytes[5], data, "{target}: EI_DATA");
        }
    }

    #[test]
    #[ignore = "needs clang"]
    fn a_clang_error_fails_with_its_diagnostics() {
        if !require(&[Need::Tool("clang")]) {
            return;
        }
        let failed = std::panic::catch_unwind(|| compile_source("not C", "bpf", &[]));
        let payload = failed.expect_err("clang fails on text that is not C");
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(message.starts_with("clang -target bpf "), "{message}");
        assert!(message.contains("error:"), "clang's diagnostics: {message}");
    }
}
