//! `probecc run <SPEC.bt | OBJ.o> --arch ARCH --events FILE.jsonl
//! [--format json|text] [--jit]`: runs a spec (compiled on the fly) or a
//! built object with its `NAME.manifest.json` beside it, offline in rbpf,
//! over the events of a JSON Lines file, with `BEGIN` before and `END`
//! after them; prints the maps and printf output as JSON (the default when
//! stdout is not a terminal) or as bpftrace prints them.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use probecc::arch::{Arch, KernelVersion};
use probecc::lang::CompileOptions;
use vm_tests::{events, spec, Engine, Options, Program};

use crate::build::CompileFailed;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A probe specification (.bt) or an object built by `probecc build`
    pub input: PathBuf,
    /// The architecture to run as (x86_64, arm64, s390x, ppc64le, riscv64)
    #[arg(long, default_value = "x86_64")]
    pub arch: String,
    /// The events, one JSON object per line
    #[arg(long)]
    pub events: PathBuf,
    /// Output format (default: json when stdout is not a terminal, else text)
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Run with rbpf's x86_64 JIT instead of its interpreter
    #[arg(long)]
    pub jit: bool,
    /// Kernel release the object is for (syscall wrappers, pt_regs size); default:
    /// the arch's oldest Debian kernel (6.1; riscv64 6.12)
    #[arg(long)]
    pub kernel: Option<String>,
    /// A System.map or /proc/kallsyms, for wildcard attach points of a spec
    #[arg(long)]
    pub symbols: Option<PathBuf>,
    /// Instructions one run may spend in loops
    #[arg(long, default_value_t = 1_000_000)]
    pub budget: u32,
    /// Seed of bpf_get_prandom_u32
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run even what verifier-sim says the kernel would reject
    #[arg(long)]
    pub no_verify: bool,
    /// Kernel types (a vmlinux BTF): a spec's struct casts, `->` and
    /// `curtask` are typed by them (default: /sys/kernel/btf/vmlinux when
    /// present); an object's CO-RE relocations are applied for them
    /// (default: left as compiled)
    #[arg(long)]
    pub btf: Option<PathBuf>,
    /// Allow a spec's unsafe actions (`signal()`), as `build --unsafe`
    #[arg(long = "unsafe")]
    pub allow_unsafe: bool,
}

pub fn run(args: &Args) -> Result<()> {
    let arch = Arch::parse(&args.arch)?;
    let kernel = crate::build::parse_kernel(args.kernel.as_deref())?;
    let (object, manifest) = artifacts(args, arch, kernel)?;
    let options = Options {
        kernel,
        budget: args.budget,
        seed: args.seed,
        verify: !args.no_verify,
        engine: if args.jit {
            Engine::Jit
        } else {
            Engine::Interpreter
        },
    };
    let program = Program::load(&object, &manifest, arch, options)
        .with_context(|| format!("loading {}", args.input.display()))?;
    let text = std::fs::read_to_string(&args.events)
        .with_context(|| format!("reading {}", args.events.display()))?;
    let events = events::parse(&text).with_context(|| format!("in {}", args.events.display()))?;
    let report = program
        .run(&events)
        .with_context(|| format!("running {}", args.input.display()))?;
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Text
    } else {
        Format::Json
    });
    match format {
        Format::Json => println!("{}", report.to_json(false)),
        Format::Text => print!("{}", report.to_text()),
    }
    Ok(())
}

/// The object's bytes and the manifest's JSON: compiled from a spec, or
/// read from `NAME.o` and `NAME.manifest.json`.
fn artifacts(args: &Args, arch: Arch, kernel: Option<KernelVersion>) -> Result<(Vec<u8>, String)> {
    let input = &args.input;
    if input.extension().is_some_and(|e| e == "bt") {
        let src = std::fs::read_to_string(input)
            .with_context(|| format!("reading {}", input.display()))?;
        let file = input.display().to_string();
        let opts = CompileOptions {
            file: file.clone(),
            symbols: symbols(args.symbols.as_deref())?,
            kernel,
            unsafe_actions: args.allow_unsafe,
            btf: crate::build::type_source(args.btf.as_deref()),
        };
        return match spec::compile(&src, arch, &opts) {
            Ok(a) => Ok((a.object, a.manifest)),
            Err(e) => {
                eprint!("{}", e.rendered);
                Err(CompileFailed {
                    file,
                    count: e.count,
                }
                .into())
            }
        };
    }
    let object = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let object = crate::build::relocate_for(object, args.btf.as_deref())?;
    let manifest_path = input.with_extension("manifest.json");
    let manifest = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "reading {} (the manifest `probecc build` writes beside the object)",
            manifest_path.display()
        )
    })?;
    Ok((object, manifest))
}

fn symbols(path: Option<&Path>) -> Result<Option<Vec<String>>> {
    let Some(p) = path else { return Ok(None) };
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    let table = probecc::symbols::parse(&text)
        .with_context(|| format!("reading symbols from {}", p.display()))?;
    Ok(Some(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(input: &str) -> Args {
        Args {
            input: PathBuf::from(input),
            arch: "s390x".into(),
            events: PathBuf::from("e.jsonl"),
            format: None,
            jit: false,
            kernel: None,
            symbols: None,
            budget: 1000,
            seed: 1,
            no_verify: false,
            allow_unsafe: false,
            btf: None,
        }
    }

    #[test]
    fn a_spec_compiles_to_an_object_and_manifest() {
        let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/specs/vfscount.bt");
        let (obj, manifest) =
            artifacts(&args(spec), Arch::S390x, Some(KernelVersion(6, 1))).unwrap();
        assert_eq!(&obj[..4], b"\x7fELF");
        assert!(manifest.contains("\"arch\": \"s390x\""));
    }

    #[test]
    fn an_object_without_its_manifest_is_bad_input() {
        let dir = std::env::temp_dir().join("probecc-run-test");
        std::fs::create_dir_all(&dir).unwrap();
        let obj = dir.join("lonely.o");
        std::fs::write(&obj, b"\x7fELF").unwrap();
        let e = artifacts(
            &args(obj.to_str().unwrap()),
            Arch::X86_64,
            Some(KernelVersion(6, 1)),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("lonely.manifest.json"), "{e:#}");
        assert!(e.chain().any(|c| c.is::<std::io::Error>()));
    }
}
