//! `probecc build SPEC.bt --arch <arch|all> [-o DIR] [--symbols FILE]`:
//! compiles a spec into `NAME.o` and `NAME.manifest.json` per arch (in DIR
//! for one arch, in DIR/<arch>/ for `all`). Compile errors are printed with
//! their spans, every error of the file at once, and exit with status 2.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use probecc::arch::{Arch, KernelVersion};
use probecc::lang::{self, diag, CompileOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The probe specification (.bt)
    pub spec: PathBuf,
    /// Target architecture (x86_64, arm64, s390x, ppc64le, riscv64; aliases
    /// aarch64, powerpc64le) or `all`
    #[arg(long, default_value = "x86_64")]
    pub arch: String,
    /// Output directory (default: the current directory)
    #[arg(short = 'o', long = "out", default_value = ".")]
    pub out: PathBuf,
    /// A System.map or /proc/kallsyms of the target, for wildcard attach points
    #[arg(long)]
    pub symbols: Option<PathBuf>,
    /// Kernel release the objects are for (syscall wrappers, pt_regs size)
    #[arg(long, default_value = "6.1")]
    pub kernel: String,
}

/// The spec had compile errors; they were printed already.
#[derive(Debug, thiserror::Error)]
#[error("{count} error{s} in {file}", s = if *.count == 1 { "" } else { "s" })]
pub struct CompileFailed {
    pub file: String,
    pub count: usize,
}

pub fn run(args: &Args) -> Result<()> {
    let src = std::fs::read_to_string(&args.spec)
        .with_context(|| format!("reading {}", args.spec.display()))?;
    let symbols = match &args.symbols {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Some(
                probecc::symbols::parse(&text)
                    .with_context(|| format!("reading symbols from {}", p.display()))?,
            )
        }
        None => None,
    };
    let kernel: KernelVersion = args.kernel.parse()?;
    let file = args.spec.display().to_string();
    let opts = CompileOptions {
        file: file.clone(),
        symbols,
        kernel,
    };
    let name = stem(&args.spec)?;
    let arches = Arch::parse_list(&args.arch)?;
    for &arch in &arches {
        let dir = if arches.len() > 1 {
            args.out.join(arch.name())
        } else {
            args.out.clone()
        };
        let compiled = match lang::compile(&src, arch, &opts) {
            Ok(c) => c,
            Err(diags) => {
                eprint!("{}", diag::render(&file, &src, &diags));
                return Err(CompileFailed {
                    file,
                    count: diags.len(),
                }
                .into());
            }
        };
        let bytes = probecc::elf::write(&compiled.object)
            .with_context(|| format!("writing the {arch} object"))?;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let obj_path = dir.join(format!("{name}.o"));
        std::fs::write(&obj_path, &bytes)
            .with_context(|| format!("writing {}", obj_path.display()))?;
        let man_path = dir.join(format!("{name}.manifest.json"));
        std::fs::write(&man_path, compiled.manifest.to_json())
            .with_context(|| format!("writing {}", man_path.display()))?;
        let insns: usize = compiled.object.programs.iter().map(|p| p.insns.len()).sum();
        println!(
            "{}: {} programs, {} instructions, {} maps, {} bytes",
            obj_path.display(),
            compiled.object.programs.len(),
            insns,
            compiled.object.maps.len(),
            bytes.len()
        );
    }
    Ok(())
}

fn stem(path: &Path) -> Result<String> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_string)
        .with_context(|| format!("{} has no file name", path.display()))
}
