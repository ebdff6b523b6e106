//! Kprobe-multi programs: a block of several kprobe (or several
//! kretprobe) attach points made one program, which the kernel's
//! kprobe-multi link attaches to all of its functions, and the uses that
//! force such a block back to one program per attach point (with why).

use super::ir::{Body, MultiTarget, ProbeProgram, Sym, TExpr, TKind, Ty};
use crate::kprobe::AttachPoint;
use crate::lang::ast::{AttachSpec, Builtin, ProbeKind, Span};

/// Longest name part of a kprobe-multi program's symbol, leaving room for
/// its prefix and a `_N` suffix within the BTF limit.
const MAX_NAME: usize = 96;

/// The one program of a block written as `attach` and expanded into
/// `programs`, if it can be one: two or more functions, all kprobes at
/// their entry or all kretprobes. Its symbol is `symbol(base)`.
pub fn group(
    attach: &[AttachSpec],
    programs: &[ProbeProgram],
    symbol: impl FnOnce(String) -> String,
) -> Option<ProbeProgram> {
    let first = programs.first()?;
    let kind = first.kind;
    let same_kind = programs.iter().all(|p| p.kind == kind);
    let at_entry = programs
        .iter()
        .all(|p| !matches!(p.attach, AttachPoint::Kprobe { offset, .. } if offset != 0));
    if programs.len() < 2
        || !same_kind
        || !at_entry
        || !matches!(kind, ProbeKind::Kprobe | ProbeKind::Kretprobe)
    {
        return None;
    }
    let pattern = match attach {
        [one] if one.target.contains('*') => Some(one.target.clone()),
        _ => None,
    };
    let name = pattern.as_deref().unwrap_or(&first.func);
    let base: String = format!("{}_multi_{name}", kind.name())
        .chars()
        .take(MAX_NAME)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let probe = match &pattern {
        Some(p) => format!("{}:{p}", kind.name()),
        None => programs
            .iter()
            .map(|p| p.probe.as_str())
            .collect::<Vec<_>>()
            .join(","),
    };
    Some(ProbeProgram {
        probe,
        symbol: symbol(base),
        span: attach.first().map_or(first.span, |a| a.span),
        multi: Some(MultiTarget {
            pattern,
            funcs: programs.iter().map(|p| p.func.clone()).collect(),
        }),
        ..first.clone()
    })
}

/// Why `body` needs one program per attach point, and where: a value
/// that differs per attach point and that one program cannot compute.
pub fn split_reason(body: &Body) -> Option<(Span, &'static str)> {
    let mut found = None;
    let mut f = |e: &TExpr| {
        if found.is_some() {
            return;
        }
        found = match &e.kind {
            TKind::Builtin(Builtin::Probe) => Some((
                e.span,
                "`probe` names each attach point, so the block is one program per attach point",
            )),
            TKind::StrEq { s, .. } if s.ty == Ty::Sym(Sym::Func) => Some((
                e.span,
                "`func` compared with a string is decided per attach point, so the block is \
                 one program per attach point",
            )),
            _ => None,
        };
    };
    body.pred.iter().for_each(|p| p.visit(&mut f));
    body.stmts.iter().for_each(|s| s.visit_exprs(&mut f));
    found
}

#[cfg(test)]
mod tests {
    use crate::arch::Arch;
    use crate::helpers::Helper;
    use crate::lang::{compile, CompileOptions, Compiled};

    fn compiled(src: &str, multi: bool) -> Compiled {
        let opts = CompileOptions {
            file: "m.bt".into(),
            symbols: Some(
                ["vfs_read", "vfs_readv", "vfs_write"]
                    .map(String::from)
                    .to_vec(),
            ),
            multi,
            ..CompileOptions::default()
        };
        compile(src, Arch::X86_64, &opts).unwrap_or_else(|d| panic!("{d:#?}"))
    }

    fn sections(c: &Compiled) -> Vec<&str> {
        c.manifest
            .programs
            .iter()
            .map(|p| p.section.as_str())
            .collect()
    }

    fn calls_func_ip(c: &Compiled, program: usize) -> bool {
        let insns = &c.object.programs[program].insns;
        insns
            .iter()
            .any(|i| i.is_call() && i.imm == Helper::GetFuncIp.id())
    }

    #[test]
    fn a_wildcard_block_is_one_program_in_libbpfs_section_with_its_functions() {
        let c = compiled("kprobe:vfs_* { @[func] = count(); }", true);
        assert_eq!(sections(&c), ["kprobe.multi/vfs_*"]);
        let p = &c.manifest.programs[0];
        assert_eq!(p.probe, "kprobe:vfs_*");
        assert_eq!(p.functions, ["vfs_read", "vfs_readv", "vfs_write"]);
        assert!(c.manifest.func_ip);
        assert!(calls_func_ip(&c, 0), "func is bpf_get_func_ip");
        assert!(c.notes.is_empty());
    }

    #[test]
    fn without_multi_nothing_changes() {
        let c = compiled("kprobe:vfs_* { @[func] = count(); }", false);
        assert_eq!(
            sections(&c),
            ["kprobe/vfs_read", "kprobe/vfs_readv", "kprobe/vfs_write"]
        );
        assert!(!c.manifest.func_ip);
        assert!(!calls_func_ip(&c, 0), "func is an id");
    }

    #[test]
    fn a_list_of_kretprobes_is_a_bare_section_and_single_or_offset_points_stay_apart() {
        let c = compiled(
            "kretprobe:vfs_read, kretprobe:vfs_write { @[retval] = count(); }\n\
             kprobe:vfs_read { @a = count(); }\n\
             kprobe:vfs_read+4, kprobe:vfs_write { @b = count(); }\n\
             kprobe:vfs_read, kretprobe:vfs_write { @c = count(); }",
            true,
        );
        assert_eq!(
            sections(&c),
            [
                "kretprobe.multi",
                "kprobe/vfs_read",
                "kprobe/vfs_read+4",
                "kprobe/vfs_write",
                "kprobe/vfs_read",
                "kretprobe/vfs_write"
            ]
        );
        assert_eq!(c.manifest.programs[0].functions, ["vfs_read", "vfs_write"]);
        // Every program of an object with a kprobe-multi one reads `func`
        // the same way; these read none.
        assert!(c.manifest.func_ip);
    }

    #[test]
    fn probe_and_func_compared_to_a_string_split_the_block_and_say_why() {
        let c = compiled("kprobe:vfs_* { @[probe] = count(); }", true);
        assert_eq!(sections(&c).len(), 3);
        assert_eq!(
            c.notes,
            ["m.bt:1:18: note: kprobe:vfs_* is not one kprobe-multi program: `probe` names each \
              attach point, so the block is one program per attach point"]
        );
        let c = compiled(
            "kprobe:vfs_* { if (func == \"vfs_read\") { @ = count(); } }\n\
             kprobe:vfs_r* { @f[func] = count(); }",
            true,
        );
        assert_eq!(
            sections(&c),
            [
                "kprobe/vfs_read",
                "kprobe/vfs_readv",
                "kprobe/vfs_write",
                "kprobe.multi/vfs_r*"
            ]
        );
        assert_eq!(c.notes.len(), 1);
        assert!(
            c.notes[0].contains("`func` compared with a string"),
            "{:?}",
            c.notes
        );
        // In the split programs the comparison is decided: only vfs_read's
        // program counts.
        let counts = |i: usize| {
            c.object.programs[i]
                .insns
                .iter()
                .filter(|i| i.is_call())
                .count()
        };
        assert!(counts(0) > counts(1), "{} {}", counts(0), counts(1));
    }
}
