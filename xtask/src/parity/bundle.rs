//! bpftrace for the guest: the binary and every shared library it loads
//! (with the dynamic loader), at the paths `ldd` names, so that it runs
//! in the initramfs as it runs on Debian. x86_64 takes the host's
//! `/usr/bin/bpftrace` (Debian 12's 0.17, installed through `deps` when
//! missing); other arches have no bundle yet (`unavailable` says why).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use probecc::arch::Arch;

use crate::deps;

/// The files of one bundle: (path in the guest, bytes on the host).
pub struct Bundle {
    pub version: String,
    pub files: Vec<(String, PathBuf)>,
}

pub const BPFTRACE: &str = "/usr/bin/bpftrace";

/// The tool that `deps` installs when the host lacks it.
pub const TOOL: deps::Tool = deps::Tool {
    command: "bpftrace",
    package: "bpftrace",
    why: "the parity run executes bpftrace 0.17 in the x86_64 guest",
};

/// Why there is no bundle for `arch`, or `None` when there is one.
pub fn unavailable(arch: Arch) -> Option<&'static str> {
    match arch {
        Arch::X86_64 => None,
        _ => Some(
            "not attempted yet: only the host's own bpftrace (x86_64) is packed. Debian's \
             bpftrace of this arch runs only with its ~25 shared libraries (LLVM 14, clang 14, \
             z3, icu...) and the arch's dynamic loader, i.e. a whole dependency closure \
             downloaded and unpacked through the private apt root, which fetches single \
             packages (kernels) today; and LLVM's start-up under TCG emulation of a foreign \
             arch would multiply the 2-4 s per spec measured on x86_64",
        ),
    }
}

/// The host's bpftrace and its libraries.
pub fn host() -> Result<Bundle> {
    deps::ensure(std::slice::from_ref(&TOOL))?;
    let binary = which("bpftrace")?;
    let version = output(Command::new(&binary).arg("--version"))?
        .trim()
        .to_string();
    let mut files = vec![(BPFTRACE.to_string(), binary.clone())];
    for lib in libraries(&binary)? {
        files.push((lib.display().to_string(), lib));
    }
    Ok(Bundle { version, files })
}

fn which(command: &str) -> Result<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(command))
                .find(|p| p.is_file())
        })
        .with_context(|| format!("`{command}` is not on PATH"))
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every absolute path in `ldd BINARY`'s answer (libraries and loader).
fn libraries(binary: &Path) -> Result<Vec<PathBuf>> {
    let text = output(Command::new("ldd").arg(binary))?;
    Ok(parse_ldd(&text))
}

/// `libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)` and
/// `/lib64/ld-linux-x86-64.so.2 (0x...)` → the paths.
fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = l.split_once("=> ").map_or(l, |(_, p)| p);
            let path = path.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_lines_give_their_paths() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x7f)\n\t/lib64/ld-linux-x86-64.so.2 (0x7f)\n\tlibmissing.so => not found\n";
        assert_eq!(
            parse_ldd(text),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libz.so.1"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }
}
