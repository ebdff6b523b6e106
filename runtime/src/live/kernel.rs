//! The running kernel, as a spec is compiled for it and attached to it:
//! its arch and release (`uname -m`, `uname -r`), the functions it can
//! trace (tracefs's `available_filter_functions`, else `/proc/kallsyms`),
//! whether it has kprobes at all (the kprobe PMU that attaching goes
//! through), and where its types are (`/sys/kernel/btf/vmlinux`).

use std::ffi::CStr;
use std::io;
use std::path::{Path, PathBuf};

use probecc::arch::{Arch, KernelVersion};

/// The kprobe PMU: a kernel without `CONFIG_KPROBES` has none, and no
/// kprobe can attach there.
pub const KPROBE_PMU: &str = "/sys/bus/event_source/devices/kprobe";

/// Where the kernel lists the functions kprobes can attach to, where
/// tracefs is mounted (its own mount, or under debugfs).
const TRACEABLE: [&str; 2] = [
    "/sys/kernel/tracing/available_filter_functions",
    "/sys/kernel/debug/tracing/available_filter_functions",
];

/// The functions no kprobe may attach to (`NOKPROBE_SYMBOL`, the kprobe
/// machinery's own), where debugfs is mounted: one
/// `0xSTART-0xEND\tNAME` line each.
const KPROBE_BLACKLIST: &str = "/sys/kernel/debug/kprobes/blacklist";

/// Every kernel symbol: the list of functions when tracefs is not
/// mounted.
pub(super) const KALLSYMS: &str = "/proc/kallsyms";

/// What `uname(2)` says of the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uname {
    /// `uname -m`: `x86_64`, `aarch64`, `s390x`, `ppc64le`, `riscv64`.
    pub machine: String,
    /// `uname -r`: `6.1.0-18-cloud-amd64`.
    pub release: String,
}

/// What is wrong with the running kernel for tracing.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("uname")]
    Uname(#[source] io::Error),
    #[error("this machine is {0}, which probecc does not compile for")]
    Arch(String, #[source] probecc::arch::ArchError),
    #[error("the kernel release `{0}` has no version")]
    Release(String, #[source] probecc::arch::ArchError),
    #[error(
        "the kernel lists no functions it can trace: neither tracefs's \
         available_filter_functions nor {KALLSYMS} is readable"
    )]
    NoFunctions(#[source] io::Error),
    #[error("{}", path.display())]
    Functions {
        path: PathBuf,
        #[source]
        source: probecc::symbols::SymbolsError,
    },
}

/// `uname(2)`.
pub fn uname() -> Result<Uname, KernelError> {
    // SAFETY: utsname is plain data; uname fills it or fails.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid utsname to write.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(KernelError::Uname(io::Error::last_os_error()));
    }
    let field = |f: &[libc::c_char]| {
        // SAFETY: the kernel NUL-terminates every utsname field.
        unsafe { CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    Ok(Uname {
        machine: field(&u.machine),
        release: field(&u.release),
    })
}

impl Uname {
    /// The arch this kernel runs.
    pub fn arch(&self) -> Result<Arch, KernelError> {
        Arch::parse(&self.machine).map_err(|e| KernelError::Arch(self.machine.clone(), e))
    }

    /// The release's version (`6.1` of `6.1.0-18-cloud-amd64`).
    pub fn version(&self) -> Result<KernelVersion, KernelError> {
        self.release
            .parse()
            .map_err(|e| KernelError::Release(self.release.clone(), e))
    }
}

/// The running kernel's text symbols (`/proc/kallsyms`), for naming
/// stack frames and `func` addresses; empty where unreadable.
pub(crate) fn symbols() -> crate::ksyms::Ksyms {
    crate::ksyms::Ksyms::read(Path::new(KALLSYMS)).unwrap_or_default()
}

/// Whether kprobes can attach here: the kprobe PMU exists.
pub fn has_kprobes() -> bool {
    Path::new(KPROBE_PMU).join("type").exists()
}

/// Where a kernel built with a BPF JIT (`CONFIG_BPF_JIT`) says whether
/// it is on.
pub const JIT_SYSCTL: &str = "/proc/sys/net/core/bpf_jit_enable";

/// Whether this kernel has a BPF JIT, which fentry and fexit need: a BPF
/// trampoline is JIT-built code (Debian's s390x kernels have none, and
/// refuse an fentry program's load with `ENOMEM`).
pub fn has_jit() -> bool {
    Path::new(JIT_SYSCTL).exists()
}

/// Whether this kernel can attach a kprobe-multi link, asked of the
/// kernel as libbpf's and bpftrace's feature probes ask it: a
/// two-instruction program linked to a function no kernel has. A kernel
/// with the link looks the name up and says `ESRCH`
/// (`ftrace_lookup_symbols`); one built without
/// fprobes (`CONFIG_FPROBE`) says `EOPNOTSUPP`, and one before 5.18,
/// which has no such attach type, `EINVAL`. (Searching kallsyms for
/// `register_fprobe` costs a third of a second of guest time under
/// emulation.)
pub fn has_kprobe_multi() -> bool {
    use probecc::insn::{self, AluOp, Reg};
    let r0_is_0 = insn::alu64_imm(AluOp::Mov, Reg::R0, 0);
    let code = insn::encode_all(&[r0_is_0, insn::exit()], super::NATIVE);
    let Ok(prog) = super::bpf::prog_load_for(&code, super::bpf::BPF_TRACE_KPROBE_MULTI, false)
    else {
        return false;
    };
    let nowhere = ["probecc_feature_probe_no_such_function".to_string()];
    match super::bpf::link_kprobe_multi(&prog, &nowhere, false) {
        Ok(_link) => true,
        Err(e) => matches!(e.raw_os_error(), Some(libc::ESRCH | libc::ENOENT)),
    }
}

/// The functions this kernel can trace, sorted, and the file they come
/// from: `available_filter_functions` where tracefs is mounted (what
/// bpftrace expands wildcards against), else every function of
/// `/proc/kallsyms` (some of which the kernel refuses to probe). Read
/// once per process and kept: the kernel writes the whole list out on
/// every read (a quarter of a second of guest time under emulation for
/// 50,000 functions), and a trace asks for it when it compiles a wildcard
/// and again when it attaches.
pub fn traceable() -> Result<(PathBuf, Vec<String>), KernelError> {
    static READ: std::sync::OnceLock<(PathBuf, Vec<String>)> = std::sync::OnceLock::new();
    if let Some(read) = READ.get() {
        return Ok(read.clone());
    }
    let read = read_traceable()?;
    Ok(READ.get_or_init(|| read).clone())
}

fn read_traceable() -> Result<(PathBuf, Vec<String>), KernelError> {
    let mut last = None;
    for path in TRACEABLE.iter().chain([&KALLSYMS]) {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let mut names =
                    probecc::symbols::parse(&text).map_err(|source| KernelError::Functions {
                        path: PathBuf::from(path),
                        source,
                    })?;
                // kallsyms names the padding before each function (CFI,
                // call depth tracking) too, and it is no function.
                names.retain(|n| !n.starts_with("__pfx_") && !n.starts_with("__cfi_"));
                // ftrace may list what the kernel refuses any kprobe on
                // (an NMI handler, say): a wildcard leaves them out, as
                // bpftrace's does.
                if let Ok(list) = std::fs::read_to_string(KPROBE_BLACKLIST) {
                    let refused = blacklisted(&list);
                    names.retain(|n| refused.binary_search(&n.as_str()).is_err());
                }
                return Ok((PathBuf::from(path), names));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(KernelError::NoFunctions(last.unwrap_or_else(|| {
        io::Error::from(io::ErrorKind::NotFound)
    })))
}

/// The names of the kprobe blacklist's lines (`0xSTART-0xEND\tNAME`),
/// sorted.
fn blacklisted(list: &str) -> Vec<&str> {
    let mut names: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    names.sort_unstable();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc_test_support::need::{require, Need};

    /// Whether kallsyms' `text` has a function named `name`.
    fn lists_function(text: &str, name: &str) -> bool {
        text.lines().any(|l| {
            let mut f = l.split_whitespace();
            let (_, kind, sym) = (f.next(), f.next(), f.next());
            sym == Some(name) && kind.is_some_and(|k| k.eq_ignore_ascii_case("t"))
        })
    }

    #[test]
    #[ignore = "needs root"]
    fn the_feature_probe_agrees_with_the_kernels_own_symbols() {
        if !require(&[Need::Root]) {
            return;
        }
        // A kernel with fprobes, whose link the probe finds, lists
        // register_fprobe; one without lists none.
        let kallsyms = std::fs::read_to_string(KALLSYMS).expect("kallsyms");
        assert_eq!(
            has_kprobe_multi(),
            lists_function(&kallsyms, "register_fprobe")
        );
    }

    #[test]
    fn the_kprobe_blacklist_is_read_by_name() {
        let list = "0xffffffff81030d40-0xffffffff81030d90\tpci_serr_error\n\
                    0xffffffff81001000-0xffffffff81001100\tdo_int3\n\n";
        assert_eq!(blacklisted(list), ["do_int3", "pci_serr_error"]);
        assert!(blacklisted("").is_empty());
    }

    #[test]
    fn a_function_is_found_by_its_whole_name_and_kind() {
        let text = "ffffffff81000000 T register_fprobe\n\
                    ffffffff81000100 t unregister_fprobe_x\n";
        assert!(lists_function(text, "register_fprobe"));
        assert!(!lists_function(text, "unregister_fprobe"));
        assert!(!lists_function("0 D register_fprobe\n", "register_fprobe"));
        assert!(!lists_function("", "register_fprobe"));
    }

    #[test]
    fn this_kernel_is_one_probecc_compiles_for() {
        let u = uname().expect("uname");
        let arch = u.arch().expect("a known arch");
        let native = match std::env::consts::ARCH {
            "aarch64" => "arm64",
            "powerpc64" => "ppc64le",
            other => other,
        };
        assert_eq!(arch.name(), native);
        assert!(u.version().expect("a version").0 >= 4, "{u:?}");
    }

    #[test]
    fn an_unknown_machine_or_release_says_which() {
        let u = Uname {
            machine: "vax".into(),
            release: "unknown".into(),
        };
        let e = u.arch().unwrap_err();
        assert_eq!(
            e.to_string(),
            "this machine is vax, which probecc does not compile for"
        );
        let e = u.version().unwrap_err();
        assert_eq!(e.to_string(), "the kernel release `unknown` has no version");
    }
}
