//! The fuzz targets' bodies, shared by `fuzz/` (cargo fuzz, nightly) and the
//! corpus replay that every `cargo xtask test` runs on stable
//! (`tests/corpus.rs`): each takes arbitrary bytes and must
//! return without panicking, whatever they hold. Besides "no panic", each
//! checks what must hold of any input: a spec that compiles yields an object
//! that reads back and that verifier-sim accepts (unless the spec's own
//! loop is one the verifier cannot prove bounded, which the kernel refuses
//! too); the object reader and verifier-sim terminate on any bytes; events
//! that parse run.

use std::sync::OnceLock;

use probecc::arch::Arch;
use probecc::insn::{decode_all, Endian};
use probecc::lang::{self, CompileOptions};

/// The arch an input picks with its first byte.
fn arch_of(data: &[u8]) -> Arch {
    let all = Arch::ALL;
    all[usize::from(data.first().copied().unwrap_or(0)) % all.len()]
}

/// The preprocessor, lexer and parser on any text; the preprocessor keeps
/// the line count and maps every byte into the text.
pub fn parse(data: &[u8]) {
    use lang::preprocess::{preprocess, Options, HAVE_BTF};
    let src = String::from_utf8_lossy(data);
    let _ = lang::parse::parse(&src);
    let opts = Options {
        predefined: vec![(HAVE_BTF.to_string(), "1".to_string())],
    };
    if let Ok(pre) = preprocess(&src, &opts) {
        assert_eq!(
            pre.text.matches('\n').count(),
            src.matches('\n').count(),
            "lines kept\n{src}"
        );
        let end = pre
            .map
            .span(probecc::lang::ast::Span::new(0, pre.text.len()));
        assert!(end.end <= src.len(), "mapped inside\n{src}");
        let _ = lang::parse::parse_preprocessed(&pre, &src);
    }
}

/// The whole pipeline: a spec that compiles writes an object that reads
/// back with the same programs and that verifier-sim accepts, unless the
/// spec loops (`while`, `for`) and the verifier cannot see the loop end:
/// whether a loop terminates is the program's, as in bpftrace.
pub fn compile(data: &[u8]) {
    let arch = arch_of(data);
    let src = String::from_utf8_lossy(data.get(1..).unwrap_or_default());
    let Ok(compiled) = lang::compile(&src, arch, &CompileOptions::default()) else {
        return;
    };
    let bytes = match probecc::elf::write(&compiled.object) {
        Ok(b) => b,
        Err(e) => panic!("a compiled spec does not write: {e}\n{src}"),
    };
    let back = probecc::elf::read(&bytes).unwrap_or_else(|e| panic!("unreadable: {e}\n{src}"));
    assert_eq!(back.programs.len(), compiled.object.programs.len(), "{src}");
    let verdicts = verifier_sim::check_object(&bytes, arch, arch.default_kernel())
        .unwrap_or_else(|e| panic!("verifier-sim cannot read it: {e}\n{src}"));
    for v in verdicts {
        let unbounded = v.message.as_deref().is_some_and(|m| {
            m.starts_with("infinite loop detected") || m.starts_with("BPF program is too large")
        });
        if unbounded && has_loop(&src) {
            continue;
        }
        assert!(
            v.accepted,
            "{arch}: the compiler emitted what the kernel rejects: {:?} at {:?} {:?}\n{src}",
            v.message, v.insn, v.disasm
        );
    }
}

/// Whether the spec holds a loop of its own.
fn has_loop(src: &str) -> bool {
    lang::lex::tokenize(src)
        .0
        .iter()
        .any(|t| matches!(&t.tok, lang::lex::Tok::Ident(w) if w == "while" || w == "for"))
}

/// Every reader of objects: the ELF and BTF readers, `disasm`'s listing,
/// verifier-sim and the runner's object reader.
pub fn object(data: &[u8]) {
    if let Ok(obj) = probecc::elf::read(data) {
        for p in &obj.programs {
            let _ = probecc::disasm::program_text(&p.insns, obj.endian);
        }
        if let Some(btf) = obj.btf.as_deref() {
            if let Ok(b) = probecc::btf::parse(btf) {
                let _ = b.maps();
                for id in 1..b.count().min(64) {
                    let _ = b.format_type(id);
                }
                if let Some(ext) = obj.btf_ext.as_deref() {
                    let _ = probecc::btf::ext::parse(ext, &b);
                }
            }
        }
    }
    for arch in [Arch::X86_64, Arch::S390x] {
        let _ = verifier_sim::check_object(data, arch, arch.default_kernel());
    }
    let _ = vm_tests::object::Object::parse(data);
}

/// verifier-sim on a raw instruction stream (little-endian slots) with a
/// hash map and a ring buffer to refer to; it must end, within its limit.
pub fn verifier(data: &[u8]) {
    let whole = data.len() / 8 * 8;
    let Ok(insns) = decode_all(&data[..whole], Endian::Little) else {
        return;
    };
    let maps = [
        verifier_sim::MapSpec {
            name: "hash".into(),
            map_type: 1,
            key_size: 8,
            value_size: 16,
            max_entries: 64,
        },
        verifier_sim::MapSpec {
            name: "rb".into(),
            map_type: 27,
            key_size: 0,
            value_size: 0,
            max_entries: 4096,
        },
    ];
    let arch = arch_of(data);
    let v = verifier_sim::check_insns(&insns, &maps, arch, arch.default_kernel());
    assert!(v.processed <= verifier_sim::verify::INSN_LIMIT + 1);
}

const EVENTS_SPEC: &str = r#"kprobe:vfs_read
{
	@calls[comm, pid] = count();
	@path = str(arg1);
	@word = *(uint64 *)arg0;
	@start[tid] = nsecs;
}
kretprobe:vfs_read
/@start[tid]/
{
	@bytes = hist(retval);
	@lat = stats(nsecs - @start[tid]);
	delete(@start[tid]);
}
"#;

/// The event reader, and the events that parse run through a program that
/// reads memory, the return value and the time.
pub fn events(data: &[u8]) {
    static PROGRAM: OnceLock<Option<vm_tests::Program>> = OnceLock::new();
    let text = String::from_utf8_lossy(data);
    let Ok(events) = vm_tests::events::parse(&text) else {
        return;
    };
    let program = PROGRAM.get_or_init(|| {
        let arch = Arch::X86_64;
        let compiled = lang::compile(EVENTS_SPEC, arch, &CompileOptions::default()).ok()?;
        let bytes = probecc::elf::write(&compiled.object).ok()?;
        let options = vm_tests::Options {
            budget: 100_000,
            ..vm_tests::Options::default()
        };
        vm_tests::Program::load(&bytes, &compiled.manifest.to_json(), arch, options).ok()
    });
    if let Some(p) = program {
        let _ = p.run(&events);
    }
}

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// The targets by name, for the corpus replay.
pub const TARGETS: &[(&str, Target)] = &[
    ("parse", parse),
    ("compile", compile),
    ("object", object),
    ("verifier", verifier),
    ("events", events),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_events_program_compiles_and_loads() {
        let compiled = lang::compile(EVENTS_SPEC, Arch::X86_64, &CompileOptions::default());
        assert!(compiled.is_ok(), "{:?}", compiled.err());
        events(br#"{"probe": "kprobe:vfs_read", "args": [4096, 8192], "mem": {"4096": "0102030405060708"}}"#);
    }
}
