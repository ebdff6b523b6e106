//! `probecc offsets FUNC [--json | --valid]`: every instruction boundary
//! of a kernel function with the kernel's verdict on a kprobe there
//! (`probecc::offsets`), from the running kernel (`/proc/kallsyms` and
//! `/proc/kcore`), from a vmlinux with symbols (`--vmlinux`), or from the
//! function's raw bytes (`--text FILE --arch ARCH`). One line per
//! boundary: the decimal offset, `ok` or the reason, the instruction.
//!
//! Also the check `trace` and `build` make of a spec's `kprobe:FUNC+OFFSET`
//! against the running kernel ([`check_spec`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use probecc::arch::Arch;
use probecc::insn::Endian;
use probecc::kprobe::AttachPoint;
use probecc::lang::ast::{ProbeKind, Span};
use probecc::lang::diag::Diagnostic;
use probecc::offsets::source::{self, SourceError};
use probecc::offsets::{OffsetError, Offsets, Text};

use crate::input::{self, BadInput};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The kernel function
    #[arg(value_name = "FUNC")]
    pub func: String,
    /// Print a JSON document instead of lines
    #[arg(long, conflicts_with = "valid")]
    pub json: bool,
    /// Print only the offsets where a kprobe may go, one a line
    #[arg(long)]
    pub valid: bool,
    /// Read the function from a vmlinux ELF with its symbol table instead
    /// of the running kernel
    #[arg(
        long,
        value_name = "FILE",
        visible_alias = "kernel",
        conflicts_with_all = ["text", "kcore"]
    )]
    pub vmlinux: Option<PathBuf>,
    /// Read the function's raw bytes, from its first, from FILE (with
    /// --arch)
    #[arg(long, value_name = "FILE", requires = "arch", conflicts_with = "kcore")]
    pub text: Option<PathBuf>,
    /// The arch of --text's bytes (default: the running kernel's)
    #[arg(long, value_name = "ARCH", value_parser = Arch::parse)]
    pub arch: Option<Arch>,
    /// The symbol list to find the function in (default /proc/kallsyms; a
    /// System.map works): with --vmlinux, where the image has no symbol
    /// table of its own
    #[arg(long, value_name = "FILE", visible_alias = "symbols")]
    pub kallsyms: Option<PathBuf>,
    /// The kernel memory to read it from (default /proc/kcore)
    #[arg(long, value_name = "FILE")]
    pub kcore: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<()> {
    let (arch, bytes) = function(args)?;
    let offsets = Text::decode(arch, &bytes).offsets();
    let out = if args.json {
        json(&args.func, &offsets)
    } else if args.valid {
        offsets.valid().map(|o| format!("{o}\n")).collect()
    } else {
        lines(&offsets)
    };
    print!("{out}");
    if !args.json && offsets.decoded < offsets.size {
        eprintln!(
            "note: the last {} of {}'s {} bytes are not instructions (padding or data)",
            offsets.size - offsets.decoded,
            args.func,
            offsets.size
        );
    }
    Ok(())
}

/// The function's arch and bytes, from where the arguments say.
fn function(args: &Args) -> Result<(Arch, Vec<u8>)> {
    if let Some(path) = &args.text {
        let arch = args.arch.ok_or_else(|| {
            BadInput::Arguments("--text needs --arch: raw bytes do not say their arch".into())
        })?;
        return Ok((arch, input::bytes(path)?));
    }
    if let Some(path) = &args.vmlinux {
        let data = input::bytes(path)?;
        let symbols = match &args.kallsyms {
            Some(list) => Some(input::text(list)?),
            None => None,
        };
        return image_function(&data, &args.func, symbols.as_deref())
            .map_err(|e| BadInput::file(format!("--vmlinux {}", path.display()), e).into());
    }
    let arch = args.arch.or_else(running_arch).ok_or_else(|| {
        BadInput::Arguments("no running kernel of a known arch here: give --arch".into())
    })?;
    let kallsyms = args
        .kallsyms
        .as_deref()
        .unwrap_or(Path::new(source::KALLSYMS));
    let kcore = args.kcore.as_deref().unwrap_or(Path::new(source::KCORE));
    let bytes = source::function(kallsyms, kcore, &args.func).map_err(|e| {
        let context = match hint(&e) {
            Some(h) => format!(
                "reading `{}`: {h}; --vmlinux or --text read a file",
                args.func
            ),
            None => format!("reading `{}`", args.func),
        };
        BadInput::file(context, e)
    })?;
    Ok((arch, bytes))
}

/// Why the running kernel's text cannot be read, where the cause says
/// more than the error: no `/proc/kcore`, or no permission.
fn hint(e: &SourceError) -> Option<&'static str> {
    match e {
        SourceError::Read { path, source }
            if path == Path::new(source::KCORE)
                && source.kind() == std::io::ErrorKind::NotFound =>
        {
            Some("this kernel has no /proc/kcore (built without CONFIG_PROC_KCORE)")
        }
        SourceError::Read { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            Some("reading kernel memory takes root (CAP_SYS_RAWIO)")
        }
        _ => None,
    }
}

/// The running kernel's arch, where one runs that probecc knows.
#[cfg(target_os = "linux")]
pub fn running_arch() -> Option<Arch> {
    probecc_runtime::live::kernel::uname().ok()?.arch().ok()
}

#[cfg(not(target_os = "linux"))]
pub fn running_arch() -> Option<Arch> {
    None
}

/// What is wrong with a vmlinux.
#[derive(Debug, thiserror::Error)]
enum VmlinuxError {
    #[error(transparent)]
    Elf(#[from] object::Error),
    #[error(
        "it is not a 64-bit kernel of the five arches (x86_64, arm64, s390x, ppc64le, riscv64)"
    )]
    Machine,
    #[error("it has no function symbol `{0}`")]
    NoSymbol(String),
    #[error("`{0}`'s bytes are not in the file")]
    NoBytes(String),
    #[error("the symbol list")]
    Symbols(#[source] SourceError),
}

/// `func`'s arch and bytes in a kernel image: by the image's own symbols,
/// or, where it has none for `func` (a stripped image), by `symbols` (a
/// System.map or kallsyms copy of the same build): the address and size
/// there, the bytes from the image's section that holds them.
fn image_function(
    data: &[u8],
    func: &str,
    symbols: Option<&str>,
) -> Result<(Arch, Vec<u8>), VmlinuxError> {
    match (vmlinux(data, func), symbols) {
        (Err(VmlinuxError::NoSymbol(_)), Some(list)) => {
            let at = source::locate(list, func).map_err(VmlinuxError::Symbols)?;
            at_address(data, func, at.addr, at.size)
        }
        (found, _) => found,
    }
}

/// The `size` bytes at `addr` of a kernel image, from the section that
/// holds them.
fn at_address(
    data: &[u8],
    func: &str,
    addr: u64,
    size: u64,
) -> Result<(Arch, Vec<u8>), VmlinuxError> {
    use object::{Object, ObjectSection, SectionKind};
    let arch = elf_arch(data)?;
    let file = object::File::parse(data)?;
    let bytes = file
        .sections()
        .filter(|s| s.kind() == SectionKind::Text)
        .find_map(|s| s.data_range(addr, size).ok().flatten())
        .ok_or_else(|| VmlinuxError::NoBytes(func.to_string()))?;
    Ok((arch, bytes.to_vec()))
}

/// `func`'s arch and bytes in a vmlinux: its symbol's address and size,
/// the bytes from its section.
fn vmlinux(data: &[u8], func: &str) -> Result<(Arch, Vec<u8>), VmlinuxError> {
    use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
    let file = object::File::parse(data)?;
    let arch = elf_arch(data)?;
    let sym = file
        .symbols()
        .find(|s| s.kind() == SymbolKind::Text && s.name() == Ok(func))
        .ok_or_else(|| VmlinuxError::NoSymbol(func.to_string()))?;
    let no_bytes = || VmlinuxError::NoBytes(func.to_string());
    let section = sym
        .section_index()
        .and_then(|i| file.section_by_index(i).ok())
        .ok_or_else(no_bytes)?;
    let bytes = section
        .data_range(sym.address(), sym.size())?
        .ok_or_else(no_bytes)?;
    Ok((arch, bytes.to_vec()))
}

/// One line per boundary: offset, verdict, instruction.
fn lines(offsets: &Offsets) -> String {
    offsets
        .entries
        .iter()
        .map(|e| format!("{}\t{}\t{}\n", e.insn.offset, e.verdict, e.insn_text()))
        .collect()
}

fn json(func: &str, offsets: &Offsets) -> String {
    let entries: Vec<serde_json::Value> = offsets
        .entries
        .iter()
        .map(|e| {
            let why = e.verdict.why();
            serde_json::json!({
                "offset": e.insn.offset,
                "len": e.insn.len,
                "ok": e.verdict.allowed(),
                "reason": why.map(|w| w.key()),
                "text": why.map(|w| w.text()),
                "evidence": why.map(|w| w.evidence()),
                "mnemonic": e.insn.mnemonic,
                "bytes": probecc::offsets::hex(&e.bytes),
            })
        })
        .collect();
    let doc = serde_json::json!({
        "function": func,
        "arch": offsets.arch.name(),
        "decoder": offsets.arch.info().text.decoder,
        "size": offsets.size,
        "decoded": offsets.decoded,
        "offsets": entries,
    });
    format!("{doc:#}\n")
}

/// The `kprobe:FUNC+OFFSET` attach points (offset > 0) of a compiled
/// spec (`src`, its programs' `sections`) checked against the running
/// kernel of `arch`: a diagnostic for each offset the kernel would refuse,
/// with the reason and the nearest valid offsets. A function whose bytes
/// cannot be read (no `/proc/kcore`, no root) is left to the kernel, with
/// a note on stderr saying so.
pub fn check_spec(src: &str, sections: &[&str], arch: Arch) -> Vec<Diagnostic> {
    check_spec_with(src, sections, arch, RUNNING, |func| {
        source::function(Path::new(source::KALLSYMS), Path::new(source::KCORE), func)
    })
}

/// The kernel a check reads: the running one, or an image given.
const RUNNING: &str = "the running kernel";
const IMAGE: &str = "the kernel image";

/// A kernel image's arch, or why it is no vmlinux of the five arches.
pub fn image_arch(data: &[u8]) -> Result<Arch, String> {
    elf_arch(data).map_err(|e| match e {
        VmlinuxError::Elf(e) => format!("not a 64-bit ELF vmlinux: {e}"),
        e => e.to_string(),
    })
}

/// A 64-bit ELF's arch, by its machine and byte order.
fn elf_arch(data: &[u8]) -> Result<Arch, VmlinuxError> {
    use object::read::elf::FileHeader;
    use object::Endian as _;
    let header = object::elf::FileHeader64::<object::Endianness>::parse(data)?;
    let endian = header.endian()?;
    let order = if endian.is_little_endian() {
        Endian::Little
    } else {
        Endian::Big
    };
    Arch::from_elf(header.e_machine(endian), order).ok_or(VmlinuxError::Machine)
}

/// [`check_spec`] against a kernel image (`build --vmlinux`) instead of the
/// running kernel: the functions' bytes from the image's own symbols.
pub fn check_spec_image(src: &str, sections: &[&str], arch: Arch, image: &[u8]) -> Vec<Diagnostic> {
    check_spec_with(src, sections, arch, IMAGE, |func| {
        vmlinux(image, func)
            .map(|(_, bytes)| bytes)
            .map_err(|e| SourceError::Unknown {
                name: func.to_string(),
                suggestions: vec![e.to_string()],
            })
    })
}

/// The `kprobe:FUNC+OFFSET` points, offset > 0, of programs' sections
/// (after the preprocessor, macros and wildcards: what is attached).
fn offset_points<'a>(sections: impl IntoIterator<Item = &'a str>) -> Vec<(String, u64)> {
    let mut points: Vec<(String, u64)> = sections
        .into_iter()
        .filter_map(|s| match AttachPoint::from_section(s) {
            Ok(AttachPoint::Kprobe { func, offset }) if offset > 0 => Some((func, offset)),
            _ => None,
        })
        .collect();
    points.dedup();
    points
}

/// Where `kprobe:func+offset` is written in `src`: its attach point in the
/// syntax tree, else the first place the text appears, else the start.
fn span_of(src: &str, func: &str, offset: u64) -> Span {
    let parsed = probecc::lang::parse::parse(src).ok();
    let attach = parsed
        .iter()
        .flat_map(|s| &s.probes)
        .flat_map(|p| &p.attach);
    let found = attach
        .filter(|a| a.kind == ProbeKind::Kprobe)
        .find(|a| a.target == func && a.offset == Some(offset));
    if let Some(a) = found {
        return a.span;
    }
    let text = format!("{func}+{offset}");
    let start = src.find(&text).unwrap_or(0);
    let end = if start == 0 && !src.starts_with(&text) {
        0
    } else {
        start + text.len()
    };
    Span { start, end }
}

/// [`check_spec`] with the functions' bytes from `read`.
fn check_spec_with(
    src: &str,
    sections: &[&str],
    arch: Arch,
    kernel: &str,
    read: impl FnMut(&str) -> Result<Vec<u8>, SourceError>,
) -> Vec<Diagnostic> {
    refused(sections, arch, read)
        .into_iter()
        .map(|(func, offset, e)| {
            Diagnostic::new(span_of(src, &func, offset), refusal(&func, offset, kernel))
                .with_label(e.to_string())
                .with_help(format!(
                    "`probecc offsets {func}` lists every offset of {func} with the kernel's verdict"
                ))
        })
        .collect()
}

fn refusal(func: &str, offset: u64, kernel: &str) -> String {
    format!("kprobe:{func}+{offset}: {kernel} takes no kprobe there")
}

/// The `kprobe:FUNC+OFFSET` points of `sections` that the kernel of `arch`
/// would refuse, by the functions' bytes from `read`; a function that
/// cannot be read is noted on stderr and left to the kernel.
fn refused(
    sections: &[&str],
    arch: Arch,
    mut read: impl FnMut(&str) -> Result<Vec<u8>, SourceError>,
) -> Vec<(String, u64, OffsetError)> {
    let mut seen: HashMap<String, Option<Offsets>> = HashMap::new();
    let mut out = Vec::new();
    for (func, offset) in offset_points(sections.iter().copied()) {
        let offsets = seen
            .entry(func.clone())
            .or_insert_with(|| match read(&func) {
                Ok(bytes) => Some(Text::decode(arch, &bytes).offsets()),
                Err(e) => {
                    let why = hint(&e).map(|h| format!("{h}: ")).unwrap_or_default();
                    eprintln!(
                        "note: kprobe:{func}+{offset}: the offset is not checked ({why}{}); \
                         the kernel decides when it attaches",
                        probecc::error::chain(&e)
                    );
                    None
                }
            });
        if let Some(Err(e)) = offsets.as_ref().map(|o| o.check(offset)) {
            out.push((func, offset, e));
        }
    }
    out
}

/// The offsets of an object's programs (`sections`) checked against the
/// running kernel of `arch`, as a spec's are: the first refused one as a
/// message.
pub fn check_object(sections: &[&str], arch: Arch) -> Result<(), String> {
    let read =
        |func: &str| source::function(Path::new(source::KALLSYMS), Path::new(source::KCORE), func);
    match refused(sections, arch, read).into_iter().next() {
        Some((func, offset, e)) => Err(format!("{}: {e}", refusal(&func, offset, RUNNING))),
        None => Ok(()),
    }
}

/// The note `build` prints for the offsets of programs' `sections` that
/// it cannot check: built for another arch or kernel than the running one.
pub fn unchecked_note(sections: &[&str], arch: Arch) -> Option<String> {
    let points: Vec<String> = offset_points(sections.iter().copied())
        .into_iter()
        .map(|(func, offset)| format!("kprobe:{func}+{offset}"))
        .collect();
    (!points.is_empty()).then(|| {
        format!(
            "note: {arch}: {} not checked against the target kernel (`probecc offsets FUNC` \
             on it lists the valid offsets)",
            points.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The x86_64 fixture's bytes: endbr64, the __fentry__ call, pushes.
    fn x86() -> Vec<u8> {
        let text = include_str!("../../fixtures/offsets/x86_64.txt");
        let hex = text.split("bytes:").nth(1).unwrap();
        let hex = hex.split("boundaries:").next().unwrap();
        hex.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    #[test]
    fn lines_give_offset_verdict_and_instruction() {
        let offsets = Text::decode(Arch::X86_64, &x86()).offsets();
        let out = lines(&offsets);
        let first: Vec<&str> = out.lines().take(3).collect();
        assert_eq!(
            first,
            [
                "0\tok (endbr64: where IBT is on, the kernel attaches after it)\tendbr64",
                "4\tok (the ftrace call site: the kprobe goes through ftrace)\tcall",
                "9\tok\tpush",
            ]
        );
        let doc: serde_json::Value = serde_json::from_str(&json("f", &offsets)).unwrap();
        assert_eq!(doc["offsets"][1]["reason"], "ftrace_call");
        assert_eq!(doc["offsets"][1]["bytes"], "e8 00 00 00 00");
        assert_eq!(doc["offsets"][2]["ok"], true);
        assert_eq!(doc["size"], 152);
    }

    #[test]
    fn a_refused_offset_is_a_compile_error_with_the_reason() {
        let src = "kprobe:sample_read+6,\nkprobe:sample_read+9 { @ = count(); }\n";
        let sections = ["kprobe/sample_read+6", "kprobe/sample_read+9"];
        let diags = check_spec_with(src, &sections, Arch::X86_64, RUNNING, |_| Ok(x86()));
        let text = probecc::lang::diag::render("t.bt", src, &diags);
        assert_eq!(diags.len(), 1, "{text}");
        assert!(
            text.contains("kprobe:sample_read+6: the running kernel takes no kprobe there"),
            "{text}"
        );
        assert!(
            text.contains(
                "+6 is in the middle of the 5-byte instruction at +4; the nearest valid \
                 offsets are 4 and 9"
            ),
            "{text}"
        );
        assert!(text.contains("t.bt:1:1"), "{text}");
        // Bytes that cannot be read leave the offset to the kernel.
        let unreadable = check_spec_with(src, &sections, Arch::X86_64, RUNNING, |f| {
            Err(SourceError::Unknown {
                name: f.into(),
                suggestions: vec![],
            })
        });
        assert!(unreadable.is_empty());
        // A spec the parser alone cannot read (a macro makes the attach
        // point) is checked by its sections; the span is found in the text.
        let src = "#define F sample_read+6\nkprobe:F { }\n";
        let diags = check_spec_with(
            src,
            &["kprobe/sample_read+6"],
            Arch::X86_64,
            RUNNING,
            |_| Ok(x86()),
        );
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].span, Span { start: 10, end: 23 });
    }

    #[test]
    fn an_objects_refused_offset_is_one_message() {
        let sections = ["kprobe/sample_read+9", "kprobe/sample_read+2"];
        let found = refused(&sections, Arch::X86_64, |_| Ok(x86()));
        let text: Vec<String> = found
            .iter()
            .map(|(f, o, e)| format!("{}: {e}", refusal(f, *o, RUNNING)))
            .collect();
        assert_eq!(
            text,
            [
                "kprobe:sample_read+2: the running kernel takes no kprobe there: +2 is in the \
              middle of the 4-byte instruction at +0; the nearest valid offsets are 0 and 4"
            ]
        );
    }

    #[test]
    fn notes_name_every_unchecked_offset() {
        let sections = [
            "kprobe/vfs_read+9",
            "kprobe/vfs_write",
            "kretprobe/vfs_read",
        ];
        assert_eq!(
            unchecked_note(&sections, Arch::Arm64).unwrap(),
            "note: arm64: kprobe:vfs_read+9 not checked against the target kernel \
             (`probecc offsets FUNC` on it lists the valid offsets)"
        );
        assert_eq!(unchecked_note(&["kprobe/vfs_read"], Arch::Arm64), None);
    }
}
