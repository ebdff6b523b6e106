//! `probecc build SPEC.bt --arch <arch|all> [-o DIR] [--symbols FILE]`:
//! compiles a spec into `NAME.o` and `NAME.manifest.json` per arch (in DIR
//! for one arch, in DIR/<arch>/ for `all`). Compile errors are printed with
//! their spans, every error of the file at once, and exit with status 2.
//! Every object is checked by verifier-sim first (`--no-check` skips it): a
//! program the kernel would reject is reported with its spec line and
//! nothing is written for that arch (exit status 1).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use probecc::arch::{Arch, KernelVersion};
use probecc::btf::kernel::HOST_VMLINUX;
use probecc::lang::check::TypeSource;
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
    /// Kernel release the objects are for (syscall wrappers, pt_regs size); default:
    /// the arch's oldest Debian kernel (6.1; riscv64 6.12)
    #[arg(long)]
    pub kernel: Option<String>,
    /// Skip verifier-sim (by default every program is checked and a
    /// program the kernel would reject fails the build)
    #[arg(long)]
    pub no_check: bool,
    /// Kernel types for struct casts, `->` and `curtask`: a vmlinux BTF
    /// (default: /sys/kernel/btf/vmlinux when present)
    #[arg(long)]
    pub btf: Option<PathBuf>,
    /// Allow actions that change what the probed task does (`signal()`);
    /// the manifest lists them under "unsafe"
    #[arg(long = "unsafe")]
    pub allow_unsafe: bool,
}

/// The spec had compile errors; they were printed already.
#[derive(Debug, thiserror::Error)]
#[error("{count} error{s} in {file}", s = if *.count == 1 { "" } else { "s" })]
pub struct CompileFailed {
    pub file: String,
    pub count: usize,
}

/// A spec read from disk with its compile options.
pub struct Spec {
    pub src: String,
    pub file: String,
    pub name: String,
    pub opts: CompileOptions,
}

impl Spec {
    pub fn load(
        path: &Path,
        symbols: Option<&Path>,
        kernel: Option<KernelVersion>,
        allow_unsafe: bool,
        btf: Option<&Path>,
    ) -> Result<Spec> {
        let src =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let symbols = match symbols {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                Some(
                    probecc::symbols::parse(&text)
                        .with_context(|| format!("reading symbols from {}", p.display()))?,
                )
            }
            None => None,
        };
        let file = path.display().to_string();
        Ok(Spec {
            src,
            name: stem(path)?,
            opts: CompileOptions {
                file: file.clone(),
                symbols,
                kernel,
                unsafe_actions: allow_unsafe,
                btf: type_source(btf),
            },
            file,
        })
    }

    /// The compiled spec, or its diagnostics printed and [`CompileFailed`].
    pub fn compile(&self, arch: Arch) -> Result<lang::Compiled> {
        lang::compile(&self.src, arch, &self.opts).map_err(|diags| {
            eprint!("{}", diag::render(&self.file, &self.src, &diags));
            CompileFailed {
                file: self.file.clone(),
                count: diags.len(),
            }
            .into()
        })
    }

    /// The object's bytes for `arch`.
    pub fn object_bytes(&self, arch: Arch) -> Result<Vec<u8>> {
        let compiled = self.compile(arch)?;
        probecc::elf::write(&compiled.object).with_context(|| format!("writing the {arch} object"))
    }
}

pub fn run(args: &Args) -> Result<()> {
    let kernel = parse_kernel(args.kernel.as_deref())?;
    let spec = Spec::load(
        &args.spec,
        args.symbols.as_deref(),
        kernel,
        args.allow_unsafe,
        args.btf.as_deref(),
    )?;
    let arches = Arch::parse_list(&args.arch)?;
    for &arch in &arches {
        let dir = if arches.len() > 1 {
            args.out.join(arch.name())
        } else {
            args.out.clone()
        };
        let compiled = spec.compile(arch)?;
        let bytes = probecc::elf::write(&compiled.object)
            .with_context(|| format!("writing the {arch} object"))?;
        if !args.no_check {
            verify(&bytes, arch, spec.opts.kernel_for(arch))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let obj_path = dir.join(format!("{}.o", spec.name));
        std::fs::write(&obj_path, &bytes)
            .with_context(|| format!("writing {}", obj_path.display()))?;
        let man_path = dir.join(format!("{}.manifest.json", spec.name));
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

/// verifier-sim on a freshly built object: a rejection is printed with the
/// spec line and fails the build.
/// The kernel types `--btf` names, or the running kernel's when it
/// publishes them; read only if a spec uses struct types.
pub fn type_source(btf: Option<&Path>) -> Option<TypeSource> {
    match btf {
        Some(p) => Some(TypeSource::file(p)),
        None => {
            let host = Path::new(HOST_VMLINUX);
            host.exists().then(|| TypeSource::file(host))
        }
    }
}

/// An object's bytes with its CO-RE relocations applied for the kernel
/// types in `btf` (as a loader does for its kernel); unchanged without
/// `--btf` or relocations.
pub fn relocate_for(bytes: Vec<u8>, btf: Option<&Path>) -> Result<Vec<u8>> {
    let Some(path) = btf else {
        return Ok(bytes);
    };
    let target = probecc::btf::kernel::KernelBtf::from_file(path)
        .with_context(|| format!("--btf {}", path.display()))?;
    vm_tests::relocate(&bytes, &target)
        .with_context(|| format!("relocating for {}", path.display()))
}

/// `--kernel`: a release such as `6.1` or `6.12.57+deb13-arm64`, if given.
pub fn parse_kernel(arg: Option<&str>) -> Result<Option<KernelVersion>> {
    arg.map(|k| k.parse().with_context(|| format!("--kernel {k}")))
        .transpose()
}

fn verify(bytes: &[u8], arch: Arch, kernel: KernelVersion) -> Result<()> {
    let verdicts = crate::check::verdicts(bytes, arch, kernel)
        .with_context(|| format!("checking the {arch} object"))?;
    let rejected: Vec<_> = verdicts.iter().filter(|v| !v.accepted).cloned().collect();
    if rejected.is_empty() {
        return Ok(());
    }
    eprint!("{}", crate::check::report(&rejected));
    Err(crate::check::Rejected {
        rejected: rejected.len(),
        total: verdicts.len(),
    }
    .into())
}

fn stem(path: &Path) -> Result<String> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_string)
        .with_context(|| format!("{} has no file name", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
    }

    #[test]
    fn objects_are_relocated_only_for_a_named_btf() {
        let spec = Spec::load(
            &fixture("fixtures/specs/task_fields.bt"),
            None,
            None,
            false,
            Some(&fixture("fixtures/btf/kernel.btf")),
        )
        .unwrap();
        let bytes = spec.object_bytes(Arch::X86_64).unwrap();
        assert_eq!(relocate_for(bytes.clone(), None).unwrap(), bytes);
        // For the types it was compiled against: every value already right.
        let same = relocate_for(bytes.clone(), Some(&fixture("fixtures/btf/kernel.btf"))).unwrap();
        assert_eq!(same, bytes);
        let e = relocate_for(bytes, Some(Path::new("/nonexistent/vmlinux"))).unwrap_err();
        assert!(
            format!("{e:#}").starts_with("--btf /nonexistent/vmlinux: "),
            "{e:#}"
        );
    }

    #[test]
    fn a_spec_without_struct_types_never_reads_the_btf() {
        let spec = Spec::load(
            &fixture("fixtures/specs/vfscount.bt"),
            None,
            None,
            false,
            Some(Path::new("/nonexistent/vmlinux")),
        )
        .unwrap();
        spec.object_bytes(Arch::Arm64).unwrap();
    }
}
