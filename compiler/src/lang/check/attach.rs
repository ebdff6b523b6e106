//! Attach points: `kprobe:F[+OFF]`, `kretprobe:F`, `ksyscall:NAME` and
//! `kretsyscall:NAME` become kprobe and kretprobe [`AttachPoint`]s (a
//! syscall on the arch's entry symbol, `__x64_sys_openat`), with `*`
//! wildcards expanded against the kernel symbol list (sorted, without
//! duplicates). `fentry:[MODULE:]F` and `fexit:[MODULE:]F` become fentry
//! and fexit attach points. `BEGIN`, `END` and `interval` become the
//! programs a loader runs itself ([`AttachPoint::Begin`] and the others).

use crate::arch::Arch;
use crate::kprobe::AttachPoint;
use crate::lang::ast::{AttachSpec, ProbeKind};
use crate::lang::diag::Diagnostic;
use crate::symbols;

/// One expanded attach point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expanded {
    pub attach: AttachPoint,
    /// bpftrace's spelling: `kprobe:vfs_read`, `ksyscall:openat`.
    pub probe: String,
}

/// The attach points `spec` stands for, in symbol order.
pub fn expand(
    spec: &AttachSpec,
    arch: Arch,
    symbols: Option<&[String]>,
) -> Result<Vec<Expanded>, Diagnostic> {
    let run = |attach: AttachPoint, probe: String| Ok(vec![Expanded { attach, probe }]);
    let (prefix, is_return) = match spec.kind {
        ProbeKind::Begin => return run(AttachPoint::Begin, spec.kind.name().into()),
        ProbeKind::End => return run(AttachPoint::End, spec.kind.name().into()),
        ProbeKind::Interval => {
            let period_ns = spec.period_ns.unwrap_or(1_000_000_000);
            let probe = format!("interval:{}", spec.target);
            return run(AttachPoint::Interval { period_ns }, probe);
        }
        ProbeKind::Kprobe => ("", false),
        ProbeKind::Kretprobe => ("", true),
        ProbeKind::Ksyscall => (arch.regs().syscall.prefix, false),
        ProbeKind::Kretsyscall => (arch.regs().syscall.prefix, true),
        ProbeKind::Fentry | ProbeKind::Fexit => ("", spec.kind == ProbeKind::Fexit),
    };
    let offset = spec.offset.unwrap_or(0);
    if offset != 0 && spec.kind != ProbeKind::Kprobe {
        return Err(Diagnostic::new(
            spec.span,
            format!("{} probes do not take an offset", spec.kind.name()),
        )
        .with_label("only kprobe:FUNC+OFFSET has one"));
    }
    let mut out = Vec::new();
    for func in functions(spec, prefix, symbols)? {
        let attach = if spec.kind.is_tracing() {
            super::fentry::attach_point(&func, is_return)
        } else if is_return {
            AttachPoint::Kretprobe { func: func.clone() }
        } else {
            AttachPoint::Kprobe {
                func: func.clone(),
                offset,
            }
        };
        valid_name(spec, &attach)?;
        let shown = func.strip_prefix(prefix).unwrap_or(&func);
        let probe = match offset {
            0 => format!("{}:{shown}", spec.kind.name()),
            off => format!("{}:{shown}+{off}", spec.kind.name()),
        };
        out.push(Expanded { attach, probe });
    }
    Ok(out)
}

/// The kernel functions an attach point names: itself, or its wildcard's
/// matches.
fn functions(
    spec: &AttachSpec,
    prefix: &str,
    symbols: Option<&[String]>,
) -> Result<Vec<String>, Diagnostic> {
    let pattern = format!("{prefix}{}", spec.target);
    if spec.target.is_empty() {
        return Err(Diagnostic::new(
            spec.span,
            format!(
                "{} needs a function: {}:NAME",
                spec.kind.name(),
                spec.kind.name()
            ),
        ));
    }
    if !spec.target.contains('*') {
        return Ok(vec![pattern]);
    }
    let Some(symbols) = symbols else {
        return Err(Diagnostic::new(
            spec.span,
            format!(
                "wildcard `{}` needs a symbol list: pass --symbols System.map",
                spec.target
            ),
        )
        .with_label("wildcard")
        .with_help(
            "the target kernel's System.map or /proc/kallsyms; for the machine's own arch, \
             probecc reads the running kernel's functions itself",
        ));
    };
    let mut found: Vec<String> = symbols::expand(&pattern, symbols)
        .into_iter()
        .map(String::from)
        .collect();
    found.sort();
    found.dedup();
    if found.is_empty() {
        return Err(Diagnostic::new(
            spec.span,
            format!(
                "wildcard `{}` matches no function in the symbol list",
                spec.target
            ),
        )
        .with_label(NO_MATCH));
    }
    Ok(found)
}

/// Whether `d` is [`expand`]'s refusal of `spec` as a wildcard that matched
/// no function of the symbol list.
pub fn is_unmatched_wildcard(spec: &AttachSpec, d: &Diagnostic) -> bool {
    spec.target.contains('*') && d.label == NO_MATCH
}

/// The label of a wildcard that matched nothing.
const NO_MATCH: &str = "no match";

/// The name must make a section name loaders accept.
fn valid_name(spec: &AttachSpec, at: &AttachPoint) -> Result<(), Diagnostic> {
    match AttachPoint::from_section(&at.section()) {
        Ok(back) if back == *at => Ok(()),
        _ => Err(Diagnostic::new(
            spec.span,
            format!("`{}` is not a kernel function name", at.func()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::ast::Span;

    fn spec(kind: ProbeKind, target: &str, offset: Option<u64>) -> AttachSpec {
        AttachSpec {
            kind,
            period_ns: None,
            target: target.into(),
            offset,
            span: Span::new(0, 10),
        }
    }

    fn syms() -> Vec<String> {
        [
            "vfs_write",
            "vfs_read",
            "vfs_read",
            "ksys_read",
            "__x64_sys_openat",
            "__x64_sys_open",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn plain_kprobes_and_offsets() {
        let e = expand(
            &spec(ProbeKind::Kprobe, "vfs_read", Some(8)),
            Arch::Arm64,
            None,
        )
        .unwrap();
        assert_eq!(e[0].attach.section(), "kprobe/vfs_read+8");
        assert_eq!(e[0].probe, "kprobe:vfs_read+8");
        let e = expand(
            &spec(ProbeKind::Kretprobe, "vfs_read", None),
            Arch::Arm64,
            None,
        )
        .unwrap();
        assert_eq!(e[0].attach.section(), "kretprobe/vfs_read");
        let err = expand(&spec(ProbeKind::Kretprobe, "f", Some(4)), Arch::Arm64, None).unwrap_err();
        assert_eq!(err.message, "kretprobe probes do not take an offset");
        let begin = expand(&spec(ProbeKind::Begin, "", None), Arch::Arm64, None).unwrap();
        assert_eq!(begin[0].attach, AttachPoint::Begin);
        assert_eq!(begin[0].probe, "BEGIN");
        let mut every = spec(ProbeKind::Interval, "ms:100", None);
        every.period_ns = Some(100_000_000);
        let e = expand(&every, Arch::Arm64, None).unwrap();
        let period_ns = 100_000_000;
        assert_eq!(e[0].attach, AttachPoint::Interval { period_ns });
        assert_eq!(e[0].probe, "interval:ms:100");
    }

    #[test]
    fn syscalls_use_the_arch_symbol() {
        let want = [
            (Arch::X86_64, "kprobe/__x64_sys_openat"),
            (Arch::Arm64, "kprobe/__arm64_sys_openat"),
            (Arch::S390x, "kprobe/__s390x_sys_openat"),
            (Arch::Ppc64le, "kprobe/sys_openat"),
            (Arch::Riscv64, "kprobe/__riscv_sys_openat"),
        ];
        for (arch, section) in want {
            let e = expand(&spec(ProbeKind::Ksyscall, "openat", None), arch, None).unwrap();
            assert_eq!(e[0].attach.section(), section, "{arch}");
            assert_eq!(e[0].probe, "ksyscall:openat");
        }
        let e = expand(
            &spec(ProbeKind::Kretsyscall, "openat", None),
            Arch::X86_64,
            None,
        )
        .unwrap();
        assert_eq!(e[0].attach.section(), "kretprobe/__x64_sys_openat");
    }

    #[test]
    fn wildcards_expand_sorted_and_deduplicated() {
        let s = syms();
        let e = expand(
            &spec(ProbeKind::Kprobe, "vfs_*", None),
            Arch::X86_64,
            Some(&s),
        )
        .unwrap();
        let names: Vec<&str> = e.iter().map(|x| x.attach.func()).collect();
        assert_eq!(names, ["vfs_read", "vfs_write"]);
        let e = expand(
            &spec(ProbeKind::Ksyscall, "open*", None),
            Arch::X86_64,
            Some(&s),
        )
        .unwrap();
        let probes: Vec<&str> = e.iter().map(|x| x.probe.as_str()).collect();
        assert_eq!(probes, ["ksyscall:open", "ksyscall:openat"]);
    }

    #[test]
    fn wildcards_need_symbols_and_a_match() {
        let err = expand(&spec(ProbeKind::Kprobe, "vfs_*", None), Arch::X86_64, None).unwrap_err();
        assert_eq!(
            err.message,
            "wildcard `vfs_*` needs a symbol list: pass --symbols System.map"
        );
        assert_eq!(err.span, Span::new(0, 10));
        let s = syms();
        let err = expand(
            &spec(ProbeKind::Kprobe, "tcp_*", None),
            Arch::X86_64,
            Some(&s),
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "wildcard `tcp_*` matches no function in the symbol list"
        );
    }

    #[test]
    fn bad_names_are_errors() {
        let err = expand(&spec(ProbeKind::Kprobe, "a b", None), Arch::X86_64, None).unwrap_err();
        assert_eq!(err.message, "`a b` is not a kernel function name");
    }
}
