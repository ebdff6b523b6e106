//! `probecc run <SPEC.bt | OBJ.o> [--arch ARCH] --events FILE.jsonl
//! [-f text|json|report] [--jit] [-- ARG...]`: runs a spec (compiled on
//! the fly, its positional parameters fixed by the ARGs, or read from
//! read-only globals, all zero, without any) or a built object with its
//! `NAME.manifest.json` beside it (its read-only globals set from the ARGs
//! as a loader sets them before load), offline in rbpf,
//! over the events of a JSON Lines file, with `BEGIN` before and `END`
//! after them; prints the printf output and the maps as bpftrace prints
//! them, in its text (the default, whatever stdout is) or its JSON lines,
//! or as one report document of decoded entries (`probecc_runtime`). An
//! object runs as the arch its manifest names (`--arch`, if given, must
//! agree).

use std::path::{Path, PathBuf};

use anyhow::Result;
use probecc::arch::Arch;
use probecc_runtime::output::Style;
use probecc_runtime::{params, report};
use vm_tests::{events, Engine, Options, Program};

use crate::input::{self, BadInput};
use crate::target::{self, Target};

/// How `run` prints what the run printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// bpftrace's text output
    Text,
    /// bpftrace's JSON output (`bpftrace -f json`), one object a line
    Json,
    /// One JSON document: every map's entries by key parts, the printf lines
    Report,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A probe specification (.bt) or an object built by `probecc build`
    pub input: PathBuf,
    #[command(flatten)]
    pub target: Target,
    /// The events, one JSON object per line
    #[arg(long)]
    pub events: PathBuf,
    /// Output format
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Run with rbpf's x86_64 JIT instead of its interpreter
    #[arg(long)]
    pub jit: bool,
    /// Instructions one run may spend in loops
    #[arg(long, default_value_t = 1_000_000)]
    pub budget: u32,
    /// Seed of bpf_get_prandom_u32
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run even what verifier-sim says the kernel would reject
    #[arg(long)]
    pub no_verify: bool,
}

pub fn run(args: &Args) -> Result<()> {
    let Artifacts {
        object,
        manifest,
        arch,
    } = artifacts(&args.input, &args.target)?;
    let options = Options {
        kernel: args.target.kernel,
        budget: args.budget,
        seed: args.seed,
        verify: !args.no_verify,
        engine: if args.jit {
            Engine::Jit
        } else {
            Engine::Interpreter
        },
    };
    let mut program = Program::load(&object, &manifest, arch, options)
        .map_err(|e| BadInput::file(format!("loading {}", args.input.display()), e))?;
    // An object built without ARGs reads its positional parameters from
    // read-only globals, set from the ARGs after `--` as a loader sets
    // them (a spec's ARGs were fixed when it compiled: nothing to set).
    let globals = params::globals(&program.manifest, &args.target.params, arch.endian())
        .map_err(|e| BadInput::Arguments(e.to_string()))?;
    program
        .set_globals(&globals)
        .map_err(|e| BadInput::file(format!("loading {}", args.input.display()), e))?;
    let text = input::text(&args.events)?;
    let events = events::parse(&text)
        .map_err(|e| BadInput::file(format!("in {}", args.events.display()), e))?;
    // What the events drive the program into (a fault, a loop past the
    // budget) is the input's doing too.
    let output = program
        .run(&events)
        .map_err(|e| BadInput::file(format!("running {}", args.input.display()), e))?;
    match args.format {
        Format::Text => print!("{}", output.render(Style::Text)),
        Format::Json => print!("{}", output.render(Style::Json)),
        Format::Report => println!("{}", report::document(&output, false)),
    }
    Ok(())
}

/// What runs: the object's bytes and the manifest's JSON, and their arch.
#[derive(Debug)]
struct Artifacts {
    object: Vec<u8>,
    manifest: String,
    arch: Arch,
}

/// Compiled from a spec, or read from `NAME.o` and `NAME.manifest.json`.
fn artifacts(input: &Path, target: &Target) -> Result<Artifacts> {
    let given = target.one_arch("run")?;
    if input.extension().is_some_and(|e| e == "bt") {
        let arch = given.unwrap_or(Arch::X86_64);
        let (object, manifest) = target.spec(input)?.artifacts(arch)?;
        return Ok(Artifacts {
            object,
            manifest,
            arch,
        });
    }
    let object = input::bytes(input)?;
    let manifest_path = input::manifest_path(input);
    let (manifest, listed) = input::manifest(&manifest_path).map_err(|e| match e {
        BadInput::File { context, source } => BadInput::File {
            context: format!("{context} (the manifest `probecc build` writes beside the object)"),
            source,
        },
        other => other,
    })?;
    let arch = target::object_arch(given, input, &object, Some((&manifest_path, &listed)))?;
    let object = target.relocate(input, object)?;
    Ok(Artifacts {
        object,
        manifest,
        arch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::ArchName;

    fn fixture(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
    }

    fn target(arch: Option<Arch>) -> Target {
        Target {
            arch: arch.map(ArchName::One).into_iter().collect(),
            ..Target::default()
        }
    }

    #[test]
    fn a_spec_compiles_to_an_object_and_manifest() {
        let spec = fixture("fixtures/specs/vfscount.bt");
        let a = artifacts(&spec, &target(Some(Arch::S390x))).unwrap();
        assert_eq!(&a.object[..4], b"\x7fELF");
        assert!(a.manifest.contains("\"arch\": \"s390x\""));
        assert_eq!(a.arch, Arch::S390x);
    }

    #[test]
    fn an_object_runs_as_its_manifests_arch() {
        let dir = std::env::temp_dir().join(format!("probecc-run-arch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spec = target(Some(Arch::Ppc64le))
            .spec(&fixture("fixtures/specs/vfscount.bt"))
            .unwrap();
        let (object, manifest) = spec.artifacts(Arch::Ppc64le).unwrap();
        let obj = dir.join("vfscount.o");
        std::fs::write(&obj, object).unwrap();
        std::fs::write(dir.join("vfscount.manifest.json"), manifest).unwrap();
        assert_eq!(artifacts(&obj, &target(None)).unwrap().arch, Arch::Ppc64le);
        let e = artifacts(&obj, &target(Some(Arch::Arm64))).unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            format!(
                "{}: the manifest is for ppc64le, but --arch is arm64",
                dir.join("vfscount.manifest.json").display()
            )
        );
        assert!(e.is::<BadInput>());
    }

    #[test]
    fn an_object_without_its_manifest_is_bad_input() {
        let dir = std::env::temp_dir().join(format!("probecc-run-lonely-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let obj = dir.join("lonely.o");
        std::fs::write(&obj, b"\x7fELF").unwrap();
        let e = artifacts(&obj, &target(Some(Arch::X86_64))).unwrap_err();
        assert!(
            format!("{e:#}").contains("lonely.manifest.json (the manifest"),
            "{e:#}"
        );
        assert!(e.is::<BadInput>());
    }
}
