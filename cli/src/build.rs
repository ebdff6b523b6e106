//! `probecc build SPEC.bt [--arch <arch|all|a,b>] [-o FILE.o | -o DIR]`:
//! compiles a spec into an object and its manifest per arch. `-o FILE.o`
//! (one arch) writes that file and `FILE.manifest.json` beside it; any
//! other `-o`, or an existing directory, is a directory that gets
//! `NAME.o` and `NAME.manifest.json` (in `DIR/<arch>/` for several arches).
//! Compile errors are printed with their spans, every error of the file at
//! once, in colour on a terminal, and exit with status 2. Every object is
//! checked by verifier-sim first (`--no-check` skips it): a program the
//! kernel would reject is reported with its spec line and nothing is
//! written for that arch (exit status 1).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
use probecc::arch::{Arch, KernelVersion};
use probecc::btf::kernel::{KernelBtf, HOST_VMLINUX};
use probecc::lang::check::TypeSource;
use probecc::lang::{self, diag, AttachMode, CompileOptions};

use crate::input::{self, BadInput};
use crate::multi::Multi;
use crate::plural;
use crate::target::Target;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The probe specification (.bt)
    pub spec: PathBuf,
    #[command(flatten)]
    pub target: Target,
    /// Output: a file NAME.o (one arch; its manifest NAME.manifest.json
    /// beside it), or a directory (default: the current one)
    #[arg(short = 'o', long = "out", default_value = ".")]
    pub out: PathBuf,
    /// Skip verifier-sim (by default every program is checked and a
    /// program the kernel would reject fails the build)
    #[arg(long)]
    pub no_check: bool,
    /// Compile a block of several kprobe (or kretprobe) attach points
    /// into one kprobe-multi program: auto where the arch table says the
    /// target release's kernel has the link
    #[arg(long, value_enum, default_value_t = Multi::Never)]
    pub multi: Multi,
    /// Check `kprobe:FUNC+OFFSET` offsets against this kernel image (a
    /// vmlinux with its symbol table) ahead of time, for its arch, as they
    /// are checked against the running kernel
    #[arg(long, value_name = "FILE", visible_alias = "kernel-image")]
    pub vmlinux: Option<PathBuf>,
}

/// A spec read from disk with its compile options.
pub struct Spec {
    pub src: String,
    pub file: String,
    pub name: String,
    pub opts: CompileOptions,
    /// The options for this machine's own arch when the spec has
    /// wildcards and no `--symbols`: the running kernel's functions,
    /// read once, on first need.
    host: std::sync::OnceLock<Option<CompileOptions>>,
    /// `--multi`, decided per arch when compiling (on top of
    /// `opts.multi`, which a caller that knows its kernel sets itself).
    pub multi: Multi,
    /// Whether the notes of blocks kept out of one kprobe-multi program
    /// are printed: not where `--multi auto` chose the link, since
    /// nothing the user asked for is then left undone.
    pub notes: bool,
}

/// The arch this build of probecc runs on.
pub const HOST_ARCH: Option<Arch> = if cfg!(target_arch = "x86_64") {
    Some(Arch::X86_64)
} else if cfg!(target_arch = "aarch64") {
    Some(Arch::Arm64)
} else if cfg!(target_arch = "s390x") {
    Some(Arch::S390x)
} else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
    Some(Arch::Ppc64le)
} else if cfg!(target_arch = "riscv64") {
    Some(Arch::Riscv64)
} else {
    None
};

/// The running kernel's functions (`live::kernel::traceable`); `None` if
/// they cannot be read, or off Linux.
pub fn running_kernel_functions() -> Option<Vec<String>> {
    #[cfg(target_os = "linux")]
    return probecc_runtime::live::kernel::traceable()
        .ok()
        .map(|(_, names)| names);
    #[cfg(not(target_os = "linux"))]
    None
}

impl Spec {
    pub fn load(
        path: &Path,
        symbols: Option<Vec<String>>,
        kernel: Option<KernelVersion>,
        allow_unsafe: bool,
        btf: Option<&Path>,
        attach: AttachMode,
    ) -> Result<Spec, BadInput> {
        let src = input::text(path)?;
        let opts = CompileOptions {
            file: path.display().to_string(),
            symbols,
            kernel,
            unsafe_actions: allow_unsafe,
            btf: type_source(btf),
            params: None,
            attach,
            multi: false,
        };
        Ok(Spec::new(src, stem(path)?, opts))
    }

    /// The spec `src`, named `name` (its manifest's and objects' name),
    /// compiled with `opts` (whose `file` its messages cite).
    pub fn new(src: String, name: String, opts: CompileOptions) -> Spec {
        Spec {
            src,
            file: opts.file.clone(),
            name,
            opts,
            host: std::sync::OnceLock::new(),
            multi: Multi::Never,
            notes: true,
        }
    }

    /// The compiled spec, or its diagnostics printed to stderr (in colour
    /// on a terminal) and [`BadInput::Spec`].
    /// A wildcard of a spec built for this machine's own arch without
    /// `--symbols` expands against the running kernel's functions (as
    /// bpftrace's does); other arches need `--symbols`. Its notes (a block
    /// split from one kprobe-multi program, and why) go to stderr too.
    pub fn compile(&self, arch: Arch) -> Result<lang::Compiled, BadInput> {
        let multi_opts;
        let mut opts = match self.opts.symbols {
            None if Some(arch) == HOST_ARCH => self
                .host
                .get_or_init(|| {
                    if !lang::has_wildcards(&self.src, &self.opts) {
                        return None;
                    }
                    Some(CompileOptions {
                        symbols: running_kernel_functions(),
                        ..self.opts.clone()
                    })
                })
                .as_ref()
                .unwrap_or(&self.opts),
            _ => &self.opts,
        };
        if !opts.multi && self.multi.for_build(arch, opts.kernel_for(arch)) {
            multi_opts = CompileOptions {
                multi: true,
                ..opts.clone()
            };
            opts = &multi_opts;
        }
        let compiled = lang::compile(&self.src, arch, opts).map_err(|diags| self.report(&diags))?;
        for note in compiled.notes.iter().filter(|_| self.notes) {
            eprintln!("{note}");
        }
        Ok(compiled)
    }

    /// `diags` printed to stderr (in colour on a terminal), and the
    /// [`BadInput::Spec`] that counts them.
    fn report(&self, diags: &[diag::Diagnostic]) -> BadInput {
        let colour = if std::io::stderr().is_terminal() {
            ColorChoice::Auto
        } else {
            ColorChoice::Never
        };
        let mut stderr = StandardStream::stderr(colour);
        // Nowhere to report a failure to write to stderr.
        let _ = diag::emit(&mut stderr, &self.file, &self.src, diags);
        BadInput::Spec {
            file: self.file.clone(),
            count: diags.len(),
        }
    }

    /// The `kprobe:FUNC+OFFSET` offsets of the spec as `compiled` checked
    /// against the running kernel, whose arch is `arch`: an offset it
    /// would refuse is a compile error ([`crate::offsets::check_spec`]).
    pub fn check_offsets(&self, compiled: &lang::Compiled, arch: Arch) -> Result<(), BadInput> {
        let diags = crate::offsets::check_spec(&self.src, &sections(compiled), arch);
        self.refuse(&diags)
    }

    /// The offsets checked against a kernel image of `arch` instead
    /// (`build --vmlinux`), ahead of time.
    pub fn check_offsets_in(
        &self,
        compiled: &lang::Compiled,
        arch: Arch,
        image: &[u8],
    ) -> Result<(), BadInput> {
        let diags = crate::offsets::check_spec_image(&self.src, &sections(compiled), arch, image);
        self.refuse(&diags)
    }

    fn refuse(&self, diags: &[lang::diag::Diagnostic]) -> Result<(), BadInput> {
        if diags.is_empty() {
            Ok(())
        } else {
            Err(self.report(diags))
        }
    }

    /// The object's bytes and the manifest's JSON for `arch`.
    pub fn artifacts(&self, arch: Arch) -> Result<(Vec<u8>, String)> {
        let compiled = self.compile(arch)?;
        Ok((object_bytes(&compiled)?, compiled.manifest.to_json()))
    }
}

/// The ELF section names of `compiled`'s programs: their attach points.
fn sections(compiled: &lang::Compiled) -> Vec<&str> {
    let programs = &compiled.object.programs;
    programs.iter().map(|p| p.section.as_str()).collect()
}

/// The object `compiled` holds, as ELF bytes.
pub fn object_bytes(compiled: &lang::Compiled) -> Result<Vec<u8>> {
    let arch = compiled.object.arch;
    probecc::elf::write(&compiled.object).with_context(|| format!("writing the {arch} object"))
}

/// Where `-o` puts what is built.
#[derive(Debug, PartialEq, Eq)]
enum Output {
    /// `NAME.o` and `NAME.manifest.json` in the directory (in
    /// `<dir>/<arch>/` when `per_arch`).
    Dir { dir: PathBuf, per_arch: bool },
    /// The object at this path, its manifest beside it.
    File(PathBuf),
}

impl Output {
    /// `-o PATH` for `arches` arches: a path ending in `.o` that is not an
    /// existing directory is the object file (one arch only); anything
    /// else a directory.
    fn new(out: &Path, arches: &[Arch]) -> Result<Output, BadInput> {
        let is_file = !out.is_dir() && out.extension().is_some_and(|e| e == "o");
        match (is_file, arches) {
            (true, [_]) => Ok(Output::File(out.to_path_buf())),
            (true, _) => Err(BadInput::Arguments(format!(
                "-o {} names one object file, but {} arches are built: give a directory",
                out.display(),
                arches.len(),
            ))),
            (false, _) => Ok(Output::Dir {
                dir: out.to_path_buf(),
                per_arch: arches.len() > 1,
            }),
        }
    }

    /// The object's and the manifest's paths for `arch`.
    fn paths(&self, name: &str, arch: Arch) -> (PathBuf, PathBuf) {
        match self {
            Output::File(obj) => (obj.clone(), input::manifest_path(obj)),
            Output::Dir { dir, per_arch } => {
                let dir = if *per_arch {
                    dir.join(arch.name())
                } else {
                    dir.clone()
                };
                let obj = dir.join(format!("{name}.o"));
                let manifest = input::manifest_path(&obj);
                (obj, manifest)
            }
        }
    }
}

/// `--vmlinux`'s bytes and arch, if given.
fn image(path: Option<&Path>) -> Result<Option<(Vec<u8>, Arch)>, BadInput> {
    let Some(path) = path else {
        return Ok(None);
    };
    let bytes = input::bytes(path)?;
    let arch = crate::offsets::image_arch(&bytes)
        .map_err(|why| BadInput::Arguments(format!("--vmlinux {}: {why}", path.display())))?;
    Ok(Some((bytes, arch)))
}

pub fn run(args: &Args) -> Result<()> {
    let mut spec = args.target.spec(&args.spec)?;
    spec.multi = args.multi;
    let arches = args.target.arches();
    let output = Output::new(&args.out, &arches)?;
    let running = (args.target.kernel.is_none() && args.target.symbols.is_none())
        .then(crate::offsets::running_arch)
        .flatten();
    let image = image(args.vmlinux.as_deref())?;
    if let Some((_, a)) = image.as_ref().filter(|(_, a)| !arches.contains(a)) {
        return Err(BadInput::Arguments(format!(
            "--vmlinux is a kernel of {a}, and this build is for {}",
            arches
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    for &arch in &arches {
        let compiled = spec.compile(arch)?;
        if let Some((bytes, _)) = image.as_ref().filter(|(_, a)| *a == arch) {
            spec.check_offsets_in(&compiled, arch, bytes)?;
        } else if running == Some(arch) {
            spec.check_offsets(&compiled, arch)?;
        } else if let Some(note) = crate::offsets::unchecked_note(&sections(&compiled), arch) {
            eprintln!("{note}");
        }
        let bytes = object_bytes(&compiled)?;
        if !args.no_check {
            let types = tracing_types(&bytes, spec.opts.btf.as_ref())?;
            verify(&bytes, arch, spec.opts.kernel_for(arch), types.as_deref())?;
        }
        let (obj_path, man_path) = output.paths(&spec.name, arch);
        if let Some(dir) = obj_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&obj_path, &bytes)
            .with_context(|| format!("writing {}", obj_path.display()))?;
        std::fs::write(&man_path, compiled.manifest.to_json())
            .with_context(|| format!("writing {}", man_path.display()))?;
        let object = &compiled.object;
        let insns: usize = object.programs.iter().map(|p| p.insns.len()).sum();
        let subs = object.programs.iter().filter(|p| p.is_subprogram()).count();
        let programs = match subs {
            0 => plural(object.programs.len(), "program"),
            n => format!(
                "{} and {}",
                plural(object.programs.len() - n, "program"),
                plural(n, "callback")
            ),
        };
        println!(
            "{}: {}, {}, {}, {} bytes",
            obj_path.display(),
            programs,
            plural(insns, "instruction"),
            plural(object.maps.len(), "map"),
            bytes.len()
        );
    }
    Ok(())
}

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

/// The kernel types an object's fentry/fexit programs are checked with:
/// `source`'s, which typed their prototypes when the spec compiled; read
/// only when the object has such programs.
pub fn tracing_types(bytes: &[u8], source: Option<&TypeSource>) -> Result<Option<Arc<KernelBtf>>> {
    match source {
        Some(s) if verifier_sim::tracing::in_object(bytes) => Ok(Some(s.get()?)),
        _ => Ok(None),
    }
}

/// verifier-sim on a freshly built object (with `types`, the kernel's, for
/// its fentry/fexit programs): a rejection is printed with the spec line
/// and fails the build.
pub fn verify(
    bytes: &[u8],
    arch: Arch,
    kernel: KernelVersion,
    types: Option<&KernelBtf>,
) -> Result<()> {
    let verdicts = crate::check::verdicts(bytes, arch, kernel, types)
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

fn stem(path: &Path) -> Result<String, BadInput> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_string)
        .ok_or_else(|| BadInput::Arguments(format!("{} has no file name", path.display())))
}

#[cfg(test)]
mod tests {
    use probecc::lang::manifest::Manifest;

    use super::*;

    fn fixture(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
    }

    #[test]
    fn a_spec_without_struct_types_never_reads_the_btf() {
        let spec = Spec::load(
            &fixture("fixtures/specs/vfscount.bt"),
            None,
            None,
            false,
            Some(Path::new("/nonexistent/vmlinux")),
            AttachMode::Kprobe,
        )
        .unwrap();
        spec.artifacts(Arch::Arm64).unwrap();
    }

    #[test]
    fn multi_auto_builds_kprobe_multi_only_where_the_arch_table_has_it() {
        let opts = CompileOptions {
            symbols: Some(vec!["vfs_read".into(), "vfs_write".into()]),
            kernel: Some(KernelVersion(6, 12)),
            ..CompileOptions::default()
        };
        let mut spec = Spec::new(
            "kprobe:vfs_* { @[func] = count(); }".into(),
            "m".into(),
            opts,
        );
        spec.multi = Multi::Auto;
        let section = |spec: &Spec, arch| {
            let (_, manifest) = spec.artifacts(arch).unwrap();
            Manifest::from_json(&manifest).unwrap().programs[0]
                .section
                .clone()
        };
        assert_eq!(section(&spec, Arch::X86_64), "kprobe.multi/vfs_*");
        assert_eq!(section(&spec, Arch::Arm64), "kprobe/vfs_read");
        spec.multi = Multi::Never;
        assert_eq!(section(&spec, Arch::X86_64), "kprobe/vfs_read");
    }

    #[test]
    fn o_names_a_file_for_one_arch_and_a_directory_otherwise() {
        let one = [Arch::Arm64];
        let out = Output::new(Path::new("out/vfs.o"), &one).unwrap();
        assert_eq!(
            out.paths("vfscount", Arch::Arm64),
            ("out/vfs.o".into(), "out/vfs.manifest.json".into())
        );
        let out = Output::new(Path::new("out"), &one).unwrap();
        assert_eq!(
            out.paths("vfscount", Arch::Arm64),
            ("out/vfscount.o".into(), "out/vfscount.manifest.json".into())
        );
        let out = Output::new(Path::new("out"), &Arch::ALL).unwrap();
        assert_eq!(
            out.paths("vfscount", Arch::S390x).0,
            Path::new("out/s390x/vfscount.o")
        );
        // An existing directory stays one, whatever its name.
        let dir = std::env::temp_dir().join(format!("probecc-build-{}.o", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Output::new(&dir, &one).unwrap();
        std::fs::remove_dir(&dir).unwrap();
        assert_eq!(out.paths("v", Arch::Arm64).0, dir.join("v.o"));
        let e = Output::new(Path::new("x.o"), &Arch::ALL).unwrap_err();
        assert_eq!(
            e.to_string(),
            "-o x.o names one object file, but 5 arches are built: give a directory"
        );
    }
}
