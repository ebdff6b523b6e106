//! The spec text each side of a parity case runs, derived from the
//! fixture by editing its text at the parser's spans (nothing else of the
//! spec changes, so both sides compile what the fixture says):
//!
//! - `filter_comm`: `comm == "<workload comm>"` ANDed into the predicate
//!   of every kernel probe, on both sides, so that only the workload's
//!   own processes count (not the agent, bpftrace or kernel threads); the
//!   text may be a published tool's (`#!`, `#include`, `#define`): it is
//!   preprocessed to be parsed, and the edits land in the text as written;
//! - `for_bpftrace`: bpftrace 0.17 has no `ksyscall`/`kretsyscall`, so
//!   those attach points become (for every version alike)
//!   `kprobe`/`kretprobe` on the arch's syscall symbol
//!   (`__x64_sys_openat`); where syscalls have wrappers `argN` reads the
//!   syscall argument from the user `pt_regs` the wrapper gets
//!   (`*(uint64 *)(arg0 + 104)`), and in those blocks every `str()` reads
//!   user memory (`str(uptr(...))`): what probecc's syscall probes mean.
//!   `probe` names in bpftrace's output are renamed back (`renames`). A
//!   wildcard attach point becomes the list probecc expanded it to (from
//!   `--symbols`), so both attach to the same functions: bpftrace would
//!   expand against the running kernel.

use anyhow::{bail, Result};
use probecc::arch::Arch;
use probecc::lang::ast::{ProbeKind, Span, Spec};
use probecc::lang::lex::{tokenize, Tok, Token};
use probecc::lang::parse::{parse, parse_preprocessed};
use probecc::lang::preprocess::{self, HAVE_BTF};
use probecc::symbols::glob_match;

/// bpftrace's script and the renames that map its output back.
pub struct Shimmed {
    pub text: String,
    /// (bpftrace's probe name, probecc's): `kprobe:__x64_sys_read` →
    /// `ksyscall:read`.
    pub renames: Vec<(String, String)>,
}

/// One text edit: replace `span` by `text`.
struct Edit {
    span: Span,
    text: String,
}

/// The edits applied from the end; at one offset a replacement goes
/// before an insertion, so the insertion lands in front of it.
fn apply(src: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| std::cmp::Reverse((e.span.start, e.span.end)));
    let mut out = src.to_string();
    for e in edits {
        if e.span.start <= e.span.end && e.span.end <= out.len() {
            out.replace_range(e.span.start..e.span.end, &e.text);
        }
    }
    out
}

fn parsed(src: &str, what: &str) -> Result<Spec> {
    match parse(src) {
        Ok(s) => Ok(s),
        Err(d) => bail!("{what} does not parse: {d:?}"),
    }
}

/// BEGIN, END and interval blocks, which no workload process runs: the
/// comm filter leaves them alone.
fn is_user_space(kind: ProbeKind) -> bool {
    kind.runs_itself()
}

/// `src` preprocessed as bpftrace's guest preprocesses it (the kernel has
/// BTF) and parsed, with the map from the tree's spans to `src`'s.
fn parsed_as_written(src: &str, what: &str) -> Result<(Spec, preprocess::map::SourceMap)> {
    let opts = preprocess::Options {
        predefined: vec![(HAVE_BTF.to_string(), "1".to_string())],
    };
    let pre = match preprocess::preprocess(src, &opts) {
        Ok(p) => p,
        Err(d) => bail!("{what} does not preprocess: {d:?}"),
    };
    match parse_preprocessed(&pre, src) {
        Ok(spec) => Ok((spec, pre.map)),
        Err(d) => bail!("{what} does not parse: {d:?}"),
    }
}

/// The spec with `comm == "<comm>"` ANDed into every kernel probe's
/// predicate (a new predicate where there is none).
pub fn filter_comm(src: &str, comm: &str) -> Result<String> {
    let (spec, map) = parsed_as_written(src, "the spec")?;
    let cond = format!("comm == \"{comm}\"");
    let mut edits = Vec::new();
    for p in &spec.probes {
        if p.attach.iter().all(|a| is_user_space(a.kind)) {
            continue;
        }
        match &p.pred {
            Some(e) => {
                let e_span = map.span(e.span);
                // The text between the predicate's own slashes (the
                // expression's span may leave out outer parentheses).
                let open = src[..e_span.start].rfind('/');
                let close = src[e_span.end..].find('/').map(|c| c + e_span.end);
                let (Some(open), Some(close)) = (open, close) else {
                    bail!("cannot find the slashes of a predicate");
                };
                let inner = &src[open + 1..close];
                edits.push(Edit {
                    span: Span::new(open + 1, close),
                    text: format!("({}) && {cond}", inner.trim()),
                });
            }
            None => {
                let at = map.span(p.body.span).start;
                edits.push(Edit {
                    span: Span::new(at, at),
                    text: format!("/{cond}/\n"),
                })
            }
        }
    }
    let out = apply(src, edits);
    parsed_as_written(&out, "the comm-filtered spec")?;
    Ok(out)
}

/// The spec in bpftrace 0.17's spelling for `arch` (see the module
/// header); `expanded` are the probes probecc attached (the manifest's
/// `kprobe:vfs_read`...), which wildcards become.
pub fn for_bpftrace(src: &str, arch: Arch, expanded: &[String]) -> Result<Shimmed> {
    let spec = parsed(src, "the spec")?;
    let wrapped = arch.syscall_wrapped(arch.default_kernel());
    let mut edits = Vec::new();
    let mut renames = Vec::new();
    for a in spec.probes.iter().flat_map(|p| &p.attach) {
        if a.target.contains('*') {
            edits.push(Edit {
                span: a.span,
                text: wildcard(a.kind.name(), &a.target, expanded)?,
            });
        }
    }
    for p in &spec.probes {
        let syscalls = p
            .attach
            .iter()
            .filter(|a| matches!(a.kind, ProbeKind::Ksyscall | ProbeKind::Kretsyscall))
            .count();
        if syscalls == 0 {
            continue;
        }
        if syscalls != p.attach.len() {
            bail!("a block mixing ksyscall and other attach points has no bpftrace 0.17 spelling");
        }
        let mut entry = false;
        for a in &p.attach {
            let (kind, ours) = match a.kind {
                ProbeKind::Ksyscall => {
                    entry = true;
                    ("kprobe", "ksyscall")
                }
                _ => ("kretprobe", "kretsyscall"),
            };
            let theirs = format!("{kind}:{}", arch.syscall_symbol(&a.target));
            renames.push((theirs.clone(), format!("{ours}:{}", a.target)));
            edits.push(Edit {
                span: a.span,
                text: theirs,
            });
        }
        let from = p.pred.as_ref().map_or(p.body.span.start, |e| e.span.start);
        let region = src.get(from..p.body.span.end).unwrap_or_default();
        let (tokens, _) = tokenize(region);
        let at = |s: Span| Span::new(from + s.start, from + s.end);
        if entry && wrapped {
            edits.extend(syscall_args(&tokens, arch, at)?);
        }
        edits.extend(user_strings(&tokens, at));
    }
    let text = apply(src, edits);
    Ok(Shimmed { text, renames })
}

/// `kind:pattern` as the comma-separated probes of `expanded` it matches.
fn wildcard(kind: &str, pattern: &str, expanded: &[String]) -> Result<String> {
    let matching: Vec<&str> = expanded
        .iter()
        .filter(|p| {
            p.split_once(':')
                .is_some_and(|(k, f)| k == kind && glob_match(pattern, f))
        })
        .map(String::as_str)
        .collect();
    if matching.is_empty() {
        bail!("{kind}:{pattern} expanded to nothing");
    }
    Ok(matching.join(",\n"))
}

/// Every `argN` read through the wrapper's `pt_regs`.
fn syscall_args(tokens: &[Token], arch: Arch, at: impl Fn(Span) -> Span) -> Result<Vec<Edit>> {
    let mut edits = Vec::new();
    for t in tokens {
        let Tok::Ident(name) = &t.tok else { continue };
        let Some(n) = name
            .strip_prefix("arg")
            .and_then(|d| d.parse::<usize>().ok())
        else {
            continue;
        };
        let off = arch.syscall_arg_offset(n)?;
        edits.push(Edit {
            span: at(t.span),
            text: format!("(*(uint64 *)(arg0 + {off}))"),
        });
    }
    Ok(edits)
}

/// `str(x...)` → `str(uptr(x)...)`: the address is a user one.
fn user_strings(tokens: &[Token], at: impl Fn(Span) -> Span) -> Vec<Edit> {
    let mut edits = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let is_str = matches!(&t.tok, Tok::Ident(f) if f == "str")
            && tokens.get(i + 1).is_some_and(|n| n.tok == Tok::LParen);
        let (Some(first), true) = (tokens.get(i + 2), is_str) else {
            continue;
        };
        let mut depth = 0usize;
        let end = tokens[i + 2..].iter().find(|t| match t.tok {
            Tok::LParen | Tok::LBracket => {
                depth += 1;
                false
            }
            Tok::RParen | Tok::RBracket if depth > 0 => {
                depth -= 1;
                false
            }
            Tok::Comma | Tok::RParen if depth == 0 => true,
            Tok::Eof => true,
            _ => false,
        });
        let Some(end) = end else { continue };
        let start = at(Span::new(first.span.start, first.span.start));
        let stop = at(Span::new(end.span.start, end.span.start));
        edits.push(Edit {
            span: start,
            text: "uptr(".into(),
        });
        edits.push(Edit {
            span: stop,
            text: ")".into(),
        });
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_filter_joins_predicates_and_adds_missing_ones() {
        let src = "BEGIN { printf(\"hi\\n\"); }\nkprobe:vfs_read\n/(arg2 > 1) || pid == 1/\n{ @a = count(); }\nkprobe:vfs_write,\nkprobe:vfs_open\n{ @b = count(); }\n";
        let out = filter_comm(src, "dd").expect("filters");
        assert_eq!(
            out,
            "BEGIN { printf(\"hi\\n\"); }\nkprobe:vfs_read\n/((arg2 > 1) || pid == 1) && comm == \"dd\"/\n{ @a = count(); }\nkprobe:vfs_write,\nkprobe:vfs_open\n/comm == \"dd\"/\n{ @b = count(); }\n"
        );
    }

    #[test]
    fn comm_filter_edits_a_published_tool_as_written() {
        let src = "#!/usr/bin/env bpftrace\n#include <linux/fs.h>\n#define BIG 4096\n\
                   kprobe:vfs_read /arg2 > BIG/ { @big = count(); }\n\
                   kprobe:vfs_write { @w = count(); }\nEND { clear(@w); }\n";
        let out = filter_comm(src, "dd").expect("filters");
        assert_eq!(
            out,
            "#!/usr/bin/env bpftrace\n#include <linux/fs.h>\n#define BIG 4096\n\
             kprobe:vfs_read /(arg2 > BIG) && comm == \"dd\"/ { @big = count(); }\n\
             kprobe:vfs_write /comm == \"dd\"/\n{ @w = count(); }\nEND { clear(@w); }\n"
        );
    }

    #[test]
    fn ksyscall_becomes_a_kprobe_reading_the_wrappers_regs() {
        let src = "ksyscall:openat\n/arg2 != 0/\n{ @p[str(arg1)] = count(); @n = sum(arg2); }\nkretsyscall:openat { @r = count(); }\n";
        let s = for_bpftrace(src, Arch::X86_64, &[]).expect("shims");
        assert_eq!(
            s.text,
            "kprobe:__x64_sys_openat\n/(*(uint64 *)(arg0 + 96)) != 0/\n{ @p[str(uptr((*(uint64 *)(arg0 + 104))))] = count(); @n = sum((*(uint64 *)(arg0 + 96))); }\nkretprobe:__x64_sys_openat { @r = count(); }\n"
        );
        assert_eq!(
            s.renames,
            vec![
                ("kprobe:__x64_sys_openat".into(), "ksyscall:openat".into()),
                (
                    "kretprobe:__x64_sys_openat".into(),
                    "kretsyscall:openat".into()
                ),
            ]
        );
    }

    #[test]
    fn strings_in_syscall_probes_read_user_memory() {
        let src = "kretsyscall:openat { printf(\"%s\\n\", str(@f[tid], 5)); }\n";
        let s = for_bpftrace(src, Arch::X86_64, &[]).expect("shims");
        assert_eq!(
            s.text,
            "kretprobe:__x64_sys_openat { printf(\"%s\\n\", str(uptr(@f[tid]), 5)); }\n"
        );
    }

    #[test]
    fn wildcards_become_probeccs_expansion() {
        let src = "kprobe:vfs_read*,\nkprobe:vfs_write { @[func] = count(); }\n";
        let expanded =
            ["kprobe:vfs_read", "kprobe:vfs_readv", "kprobe:vfs_write"].map(String::from);
        let s = for_bpftrace(src, Arch::X86_64, &expanded).expect("shims");
        assert_eq!(
            s.text,
            "kprobe:vfs_read,\nkprobe:vfs_readv,\nkprobe:vfs_write { @[func] = count(); }\n"
        );
    }

    #[test]
    fn specs_without_syscalls_are_unchanged() {
        let src = "kprobe:vfs_read { @ = count(); }\n";
        let s = for_bpftrace(src, Arch::X86_64, &[]).expect("shims");
        assert_eq!(s.text, src);
        assert!(s.renames.is_empty());
    }
}
