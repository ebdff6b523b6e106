//! kprobe-multi programs (`kprobe.multi/PATTERN`, `kretprobe.multi/PATTERN`,
//! bare `kprobe.multi` for a list), which aya 0.14 does not read: the
//! object aya parses has those sections renamed (`kprobe/multi...`, the
//! same length, so aya keeps its maps and can still attach the program
//! as a plain kprobe to one function at a time), and each such program
//! is loaded here with the expected attach type the kernel's
//! kprobe-multi link requires, its map loads pointed at aya's maps, and
//! attached by one raw `BPF_LINK_CREATE` to every function its glob
//! matches in the kernel's traceable functions (as libbpf resolves it),
//! or to the manifest's list.

use std::borrow::Cow;
use std::io;
use std::os::fd::{OwnedFd, RawFd};

use probecc::endian::Endian;
use probecc::insn::{self, pseudo};

use super::bpf;
use super::kernel::{self, KernelError};

/// Whether a program's ELF section makes it a kprobe-multi program.
pub fn is_multi(section: &str) -> bool {
    kind_and_pattern(section).is_some()
}

/// Whether the section is `kretprobe.multi[/PATTERN]`.
pub fn is_return(section: &str) -> bool {
    section.starts_with("kretprobe.multi")
}

/// `kprobe.multi/PATTERN` → (`kprobe`, `Some(PATTERN)`); bare → `None`.
fn kind_and_pattern(section: &str) -> Option<(&str, Option<&str>)> {
    ["kprobe", "kretprobe"].into_iter().find_map(|kind| {
        let rest = section.strip_prefix(kind)?.strip_prefix(".multi")?;
        match rest {
            "" => Some((kind, None)),
            r => r.strip_prefix('/').map(|p| (kind, Some(p))),
        }
    })
}

/// The object's bytes as aya may read them: every `kprobe.multi` and
/// `kretprobe.multi` in a section name (and the BTF strings that repeat
/// it) spelled `kprobe/multi`, `kretprobe/multi`. Unchanged without such
/// sections.
pub fn for_aya(object: &[u8]) -> Cow<'_, [u8]> {
    const FROM: &[u8] = b"probe.multi";
    let at: Vec<usize> = object
        .windows(FROM.len() + 1)
        .enumerate()
        .filter(|(i, w)| {
            let before = &object[..*i];
            // A name starts after a NUL, or after `.rel` where the string
            // table shares a relocation section's name with its section.
            let starts = |kind: &[u8]| {
                before.ends_with(kind) && {
                    let b = &before[..before.len() - kind.len()];
                    b.is_empty() || b.ends_with(b"\0") || b.ends_with(b".rel")
                }
            };
            w.starts_with(FROM)
                && matches!(w[FROM.len()], b'/' | 0)
                && (starts(b"k") || starts(b"kret"))
        })
        .map(|(i, _)| i)
        .collect();
    if at.is_empty() {
        return Cow::Borrowed(object);
    }
    let mut out = object.to_vec();
    for i in at {
        out[i + "probe".len()] = b'/';
    }
    Cow::Owned(out)
}

/// The functions a kprobe-multi program attaches to: its section's glob
/// (the spec's wildcard: libbpf's `*`, the compiler never writes a `?`)
/// resolved against `traceable` (the running kernel's functions), or the
/// manifest's `listed` functions for a bare section; each once, in
/// order.
pub fn functions(section: &str, listed: &[String], traceable: &[String]) -> Vec<String> {
    let mut out: Vec<String> = match kind_and_pattern(section) {
        Some((_, Some(pattern))) => probecc::symbols::expand(pattern, traceable)
            .into_iter()
            .map(str::to_string)
            .collect(),
        _ => listed.to_vec(),
    };
    out.sort();
    out.dedup();
    out
}

/// [`functions`] on the running kernel: the traceable list (read once per
/// process) is asked for only when the section has a pattern to match.
pub fn functions_here(section: &str, listed: &[String]) -> Result<Vec<String>, KernelError> {
    let traceable = match kind_and_pattern(section) {
        Some((_, Some(_))) => kernel::traceable()?.1,
        _ => Vec::new(),
    };
    Ok(functions(section, listed, &traceable))
}

/// Program `name` of `object` (CO-RE relocations applied) loaded for the
/// kprobe-multi link, its map loads pointed at `map_fd(symbol)`, its
/// instructions in the kernel's byte order `native`. A rejection carries
/// the verifier's log.
pub fn load(
    object: &[u8],
    name: &str,
    map_fd: impl Fn(&str) -> Option<RawFd>,
    native: Endian,
) -> Result<OwnedFd, (io::Error, String)> {
    let none = |what: String| (io::Error::other(what), String::new());
    let programs = verifier_sim::program::programs(object).map_err(|e| none(e.to_string()))?;
    let mut prog = programs
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| none(format!("the object has no program {name}")))?;
    for i in &mut prog.insns {
        if i.is_ld_imm64() && i.src == pseudo::MAP_VALUE {
            return Err(none(format!(
                "{name} reads global data, which a kprobe-multi program loaded here cannot"
            )));
        }
        if i.is_ld_imm64() && i.src == pseudo::MAP_FD {
            let map = prog
                .maps
                .get(i.imm as usize)
                .ok_or_else(|| none(format!("{name} loads map {}, which it lacks", i.imm)))?;
            i.imm = map_fd(&map.name)
                .ok_or_else(|| none(format!("map {} was not created", map.name)))?;
        }
    }
    let bytes = insn::encode_all(&prog.insns, native);
    bpf::prog_load_for(&bytes, bpf::BPF_TRACE_KPROBE_MULTI, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_say_multi_and_their_pattern() {
        assert_eq!(
            kind_and_pattern("kprobe.multi/vfs_*"),
            Some(("kprobe", Some("vfs_*")))
        );
        assert_eq!(
            kind_and_pattern("kretprobe.multi"),
            Some(("kretprobe", None))
        );
        assert_eq!(kind_and_pattern("kprobe/vfs_read"), None);
        assert_eq!(kind_and_pattern("kprobe.multiple/x"), None);
        assert!(is_return("kretprobe.multi/a*"));
        assert!(!is_return("kprobe.multi/a*"));
    }

    #[test]
    fn a_glob_resolves_on_the_kernel_and_a_list_from_the_manifest() {
        let kernel: Vec<String> = ["vfs_write", "vfs_read", "do_sys_open", "vfs_read"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            functions("kprobe.multi/vfs_*", &[], &kernel),
            ["vfs_read", "vfs_write"]
        );
        let listed = ["b".to_string(), "a".to_string()];
        assert_eq!(functions("kretprobe.multi", &listed, &kernel), ["a", "b"]);
    }

    #[test]
    fn aya_sees_multi_sections_renamed_in_place() {
        let obj =
            b"\0kprobe.multi/vfs_*\0kretprobe.multi\0xkprobe.multi/\0kprobe.multiple\0.relkprobe.multi\0";
        let out = for_aya(obj);
        assert_eq!(
            &out[..],
            b"\0kprobe/multi/vfs_*\0kretprobe/multi\0xkprobe.multi/\0kprobe.multiple\0.relkprobe/multi\0"
        );
        assert!(matches!(for_aya(b"\0kprobe/vfs_read\0"), Cow::Borrowed(_)));
    }
}
