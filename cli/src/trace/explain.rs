//! What the kernel refused, said so that the user can act on it: a program
//! the verifier rejected (the last lines of its log, and the instruction
//! they end at mapped to the spec's line through the object's `.BTF.ext`
//! line info), a probe that did not attach (the function, the kernel's
//! reason as its errno text, and the nearest functions this kernel can
//! trace).

use std::fmt::Write as _;

use probecc_runtime::live::LiveError;

/// The lines of a verifier log shown.
const LOG_TAIL: usize = 12;

/// A probe the kernel would not attach.
#[derive(Debug, thiserror::Error)]
#[error("cannot attach {probe}: {reason}{}", nearest(.near))]
pub struct NotAttached {
    /// bpftrace's spelling: `kprobe:vfs_read`.
    pub probe: String,
    /// What the kernel said, and what it means.
    pub reason: String,
    /// Functions this kernel can trace with names near the one refused.
    pub near: Vec<String>,
}

fn nearest(near: &[String]) -> String {
    match near {
        [] => String::new(),
        names => format!("; the nearest functions it can trace: {}", names.join(", ")),
    }
}

/// Why `probe` (on function `func`) did not attach, from the error `e`;
/// `traceable` (the functions this kernel can trace, if they could be
/// read) gives the nearest names when `func` is not among them.
pub fn not_attached(
    probe: &str,
    func: &str,
    e: &LiveError,
    traceable: Option<&[String]>,
) -> NotAttached {
    let reason = match e.os_error() {
        Some(io) => {
            let meaning = match io.raw_os_error() {
                Some(libc::ENOENT) => format!("this kernel has no function {func}"),
                Some(libc::EINVAL) => format!(
                    "this kernel cannot probe {func} (not a function, inlined, marked notrace, \
                     or on the kprobe blacklist)"
                ),
                Some(libc::EPERM | libc::EACCES) => "not permitted".to_string(),
                _ => "the kernel refused".to_string(),
            };
            format!("{meaning} ({io})")
        }
        None => probecc::error::chain(e),
    };
    let near = match traceable {
        Some(names) if !names.iter().any(|n| n == func) => {
            probecc::suggest::nearest(func, names.iter().map(String::as_str))
                .into_iter()
                .map(str::to_string)
                .collect()
        }
        _ => Vec::new(),
    };
    NotAttached {
        probe: probe.to_string(),
        reason,
        near,
    }
}

/// The instruction a verifier log ends at: the index of its last
/// instruction line (`12: (79) r1 = *(u64 *)(r1 +400)`).
fn last_insn(log: &str) -> Option<usize> {
    log.lines().rev().find_map(|l| {
        let (index, rest) = l.split_once(": (")?;
        rest.contains(')').then(|| index.trim().parse().ok())?
    })
}

/// The verifier's log of a program it rejected, its last lines, then
/// the spec line of the instruction they end at (`lines`, the object's
/// line info: `Program::line_of`).
pub fn rejection(log: &str, line_of: impl Fn(usize) -> Option<String>) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL)..];
    let mut out = String::new();
    if tail.is_empty() {
        out.push_str("the kernel gave no log\n");
    } else {
        let _ = writeln!(
            out,
            "the kernel's log{}:",
            if tail.len() < lines.len() {
                format!(" (its last {} lines)", tail.len())
            } else {
                String::new()
            }
        );
        for l in tail {
            let _ = writeln!(out, "  | {l}");
        }
    }
    if let Some(insn) = last_insn(log) {
        match line_of(insn) {
            Some(line) => {
                let _ = writeln!(out, "at instruction {insn}, from {line}");
            }
            None => {
                let _ = writeln!(out, "at instruction {insn}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "func#0 @0\n0: R1=ctx() R10=fp0\n; @x = arg0; @ t.bt:3\n\
                       0: (79) r1 = *(u64 *)(r1 +400)\n\
                       invalid bpf_context access off=400 size=8\n\
                       processed 1 insns (limit 1000000) max_states_per_insn 0\n";

    #[test]
    fn a_rejection_shows_the_logs_end_and_the_spec_line() {
        let text = rejection(LOG, |i| (i == 0).then(|| "t.bt:3: @x = arg0;".to_string()));
        assert_eq!(
            text,
            "the kernel's log:\n  | func#0 @0\n  | 0: R1=ctx() R10=fp0\n  | ; @x = arg0; @ t.bt:3\n  \
             | 0: (79) r1 = *(u64 *)(r1 +400)\n  | invalid bpf_context access off=400 size=8\n  \
             | processed 1 insns (limit 1000000) max_states_per_insn 0\n\
             at instruction 0, from t.bt:3: @x = arg0;\n"
        );
        let long: String = (0..40).map(|i| format!("{i}: (b7) r0 = {i}\n")).collect();
        let text = rejection(&long, |_| None);
        assert!(text.starts_with("the kernel's log (its last 12 lines):\n  | 28: "));
        assert!(text.ends_with("at instruction 39\n"), "{text}");
        assert_eq!(rejection("", |_| None), "the kernel gave no log\n");
    }

    #[test]
    fn a_refused_attach_says_why_and_what_is_near() {
        let e = LiveError::Rejected {
            name: "p".into(),
            log: String::new(),
            source: std::io::Error::from_raw_os_error(libc::ENOENT),
        };
        let names: Vec<String> = ["vfs_read", "vfs_readv", "vfs_write", "ksys_read"]
            .map(String::from)
            .to_vec();
        let n = not_attached("kprobe:vfs_reed", "vfs_reed", &e, Some(&names));
        assert_eq!(
            n.to_string(),
            "cannot attach kprobe:vfs_reed: this kernel has no function vfs_reed (No such file \
             or directory (os error 2)); the nearest functions it can trace: vfs_read, vfs_readv, \
             vfs_write"
        );
        // A function the kernel lists but would not probe: no suggestions.
        let e = LiveError::Rejected {
            name: "p".into(),
            log: String::new(),
            source: std::io::Error::from_raw_os_error(libc::EINVAL),
        };
        let n = not_attached("kprobe:vfs_read", "vfs_read", &e, Some(&names));
        assert!(n.near.is_empty());
        assert!(
            n.reason.starts_with("this kernel cannot probe vfs_read ("),
            "{n}"
        );
        let n = not_attached("kprobe:f", "f", &LiveError::NoKprobes, None);
        assert!(n.to_string().contains("CONFIG_KPROBES"), "{n}");
    }
}
