//! What the objects are for: the arguments `build`, `check` and `run` share
//! (`--arch`, `--kernel`, `--btf`, `--symbols`, `--unsafe`, `--attach`), flattened into
//! each command, and the arch of an object read from disk — `--arch`, else
//! its manifest's, else its byte order's — refused when they contradict.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use clap::builder::{EnumValueParser, PossibleValue, TypedValueParser};
use clap::ValueEnum;
use probecc::arch::{Arch, KernelVersion};
use probecc::btf::kernel::KernelBtf;
use probecc::insn::Endian;
use probecc::lang::manifest::Manifest;
use probecc::lang::AttachMode;

use crate::build::Spec;
use crate::input::{self, BadInput};

#[derive(clap::Args, Debug, Default)]
pub struct Target {
    /// Target architecture: for a spec x86_64 unless given; for an object
    /// its manifest's, else its byte order's (s390x big-endian, x86_64
    /// little-endian). `build` also takes `all` or a comma-separated list.
    #[arg(long, value_name = "ARCH", value_delimiter = ',', value_parser = ArchParser)]
    pub arch: Vec<ArchName>,
    /// Kernel release the objects are for (syscall wrappers, pt_regs size);
    /// default: the arch's oldest Debian kernel
    #[arg(long, value_name = "RELEASE", long_help = kernel_help())]
    pub kernel: Option<KernelVersion>,
    /// A System.map or /proc/kallsyms of the target, for a spec's wildcard
    /// attach points
    #[arg(long, value_name = "FILE")]
    pub symbols: Option<PathBuf>,
    /// Kernel types (a vmlinux BTF): a spec's struct casts, `->` and
    /// `curtask` are typed by them (default: /sys/kernel/btf/vmlinux when
    /// present); an object's CO-RE relocations are applied for them (check,
    /// run; default: left as compiled), and `check` types its fentry/fexit
    /// programs by their functions' prototypes in them
    #[arg(long, value_name = "FILE")]
    pub btf: Option<PathBuf>,
    /// Allow actions that change what the probed task does (`signal()`);
    /// the manifest lists them under "unsafe"
    #[arg(long = "unsafe")]
    pub allow_unsafe: bool,
    /// What `kprobe:` and `kretprobe:` attach points compile to: kprobes
    /// (the default), fentry and fexit programs, or `auto`: fentry/fexit
    /// where the arch and `--kernel` release have BPF trampolines
    #[arg(long, value_name = "KIND", value_enum)]
    pub attach: Option<Attach>,
    /// Positional parameters for a spec's `$1`, `$2`... (`$#` is their
    /// count), after `--`: fixed in the object, as bpftrace fixes them.
    /// Without any, the object reads them from read-only globals a loader
    /// sets (`.rodata`, named in the manifest's `globals`)
    #[arg(last = true, value_name = "ARG")]
    pub params: Vec<String>,
}

/// `--attach`: [`AttachMode`] as the command line spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Attach {
    Kprobe,
    Fentry,
    Auto,
}

impl From<Attach> for AttachMode {
    fn from(a: Attach) -> AttachMode {
        match a {
            Attach::Kprobe => AttachMode::Kprobe,
            Attach::Fentry => AttachMode::Fentry,
            Attach::Auto => AttachMode::Auto,
        }
    }
}

/// `--kernel`'s full help, with every arch's default from the arch table.
fn kernel_help() -> String {
    let defaults: Vec<String> = Arch::ALL
        .iter()
        .map(|a| format!("{a} {}", a.default_kernel()))
        .collect();
    format!(
        "Kernel release the objects are for, such as 6.1, 6.6, 6.12, 6.18 or \
         6.12.57+deb13-arm64: it decides whether syscall probes read their arguments \
         through a syscall wrapper's pt_regs, the pt_regs size the checks use, and \
         which release's verifier rules they apply (constant-key array lookups, \
         callbacks, stack rounding, cpu v4 instructions...). Default: the arch's \
         oldest Debian kernel ({})",
        defaults.join(", ")
    )
}

/// One `--arch` value: an arch (by its name or an alias `Arch::parse`
/// knows) or `all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchName {
    One(Arch),
    All,
}

impl ValueEnum for ArchName {
    fn value_variants<'a>() -> &'a [Self] {
        static VARIANTS: LazyLock<Vec<ArchName>> = LazyLock::new(|| {
            Arch::ALL
                .iter()
                .map(|&a| ArchName::One(a))
                .chain([ArchName::All])
                .collect()
        });
        &VARIANTS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(match self {
            ArchName::One(a) => a.name(),
            ArchName::All => "all",
        }))
    }
}

/// Parses `--arch` values as a [`ValueEnum`] (help and completion list the
/// canonical names), accepting the aliases of `Arch::parse` too.
#[derive(Clone)]
pub struct ArchParser;

impl TypedValueParser for ArchParser {
    type Value = ArchName;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<ArchName, clap::Error> {
        let by_name = EnumValueParser::<ArchName>::new().parse_ref(cmd, arg, value);
        by_name.or_else(|e| {
            value
                .to_str()
                .and_then(|v| Arch::parse(v).ok())
                .map(ArchName::One)
                .ok_or(e)
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            ArchName::value_variants()
                .iter()
                .filter_map(ArchName::to_possible_value),
        ))
    }
}

impl Target {
    /// The arches `--arch` names, in table order, each once; x86_64 when
    /// none is given.
    pub fn arches(&self) -> Vec<Arch> {
        if self.arch.is_empty() {
            return vec![Arch::X86_64];
        }
        Arch::ALL
            .into_iter()
            .filter(|a| {
                self.arch
                    .iter()
                    .any(|n| *n == ArchName::All || *n == ArchName::One(*a))
            })
            .collect()
    }

    /// The one arch `--arch` names, if any, for a command that runs or
    /// checks one object.
    pub fn one_arch(&self, command: &str) -> Result<Option<Arch>, BadInput> {
        match self.arch.as_slice() {
            [] => Ok(None),
            [ArchName::One(a)] => Ok(Some(*a)),
            _ => Err(BadInput::Arguments(format!(
                "`{command}` takes one --arch, not a list or `all`"
            ))),
        }
    }

    /// The spec at `path` with these compile options.
    pub fn spec(&self, path: &Path) -> Result<Spec, BadInput> {
        let symbols = self.symbols.as_deref().map(input::symbols).transpose()?;
        let mut spec = Spec::load(
            path,
            symbols,
            self.kernel,
            self.allow_unsafe,
            self.btf.as_deref(),
            self.attach.map_or(AttachMode::Kprobe, AttachMode::from),
        )?;
        // No ARG: the parameters the spec reads are globals a loader sets.
        spec.opts.params = (!self.params.is_empty()).then(|| self.params.clone());
        Ok(spec)
    }

    /// An object's bytes with its CO-RE relocations applied for the kernel
    /// types of `--btf` (as a loader does for its kernel); unchanged
    /// without `--btf`. `path` names the object in errors.
    pub fn relocate(&self, path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, BadInput> {
        match self.kernel_types()? {
            Some(types) => self.relocate_with(path, bytes, &types),
            None => Ok(bytes),
        }
    }

    /// The kernel types `--btf` names, read; `None` without `--btf`.
    pub fn kernel_types(&self) -> Result<Option<KernelBtf>, BadInput> {
        self.btf.as_deref().map(input::kernel_btf).transpose()
    }

    /// An object's bytes with its CO-RE relocations applied for `types`,
    /// the kernel types of `--btf`, read already.
    pub fn relocate_with(
        &self,
        path: &Path,
        bytes: Vec<u8>,
        types: &KernelBtf,
    ) -> Result<Vec<u8>, BadInput> {
        vm_tests::relocate(&bytes, types).map_err(|e| {
            let btf = self.btf.as_deref().unwrap_or(Path::new("--btf"));
            BadInput::file(
                format!("relocating {} for {}", path.display(), btf.display()),
                e,
            )
        })
    }
}

/// The arch the object at `path` (its `bytes`) is for: `given` by
/// `--arch`, else its manifest's, else the arch of its byte order (s390x
/// for big-endian, x86_64 for little-endian). A manifest for another arch
/// than `--arch`, or an object in the other byte order, is refused.
pub fn object_arch(
    given: Option<Arch>,
    path: &Path,
    bytes: &[u8],
    manifest: Option<(&Path, &Manifest)>,
) -> Result<Arch, BadInput> {
    let endian =
        probecc::elf::byte_order(bytes).map_err(|e| BadInput::file(input::reading(path), e))?;
    let listed = match manifest {
        Some((at, m)) => {
            let arch = Arch::parse(&m.arch).map_err(|e| BadInput::file(input::reading(at), e))?;
            Some((at, arch))
        }
        None => None,
    };
    let arch = match (given, listed) {
        (Some(given), Some((at, listed))) if given != listed => {
            return Err(BadInput::Contradiction {
                path: at.to_path_buf(),
                problem: format!("the manifest is for {listed}, but --arch is {given}"),
            })
        }
        (Some(arch), _) | (None, Some((_, arch))) => arch,
        (None, None) => match endian {
            Endian::Little => Arch::X86_64,
            Endian::Big => Arch::S390x,
        },
    };
    if arch.endian() != endian {
        return Err(BadInput::Contradiction {
            path: path.to_path_buf(),
            problem: format!(
                "the object is {}, but {arch} is {}",
                order(endian),
                order(arch.endian())
            ),
        });
    }
    Ok(arch)
}

fn order(e: Endian) -> &'static str {
    match e {
        Endian::Little => "little-endian",
        Endian::Big => "big-endian",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::lang::{compile, CompileOptions};

    fn object(arch: Arch) -> (Vec<u8>, Manifest) {
        let opts = CompileOptions {
            file: "t.bt".into(),
            ..Default::default()
        };
        let c = compile("kprobe:vfs_read { @x = count(); }", arch, &opts).expect("compiles");
        (probecc::elf::write(&c.object).expect("writes"), c.manifest)
    }

    fn message(e: BadInput) -> String {
        format!("{:#}", anyhow::Error::from(e))
    }

    #[test]
    fn an_object_is_for_its_manifests_arch_or_its_byte_orders() {
        let path = Path::new("t.o");
        let at = Path::new("t.manifest.json");
        let (be, be_manifest) = object(Arch::S390x);
        let (le, arm_manifest) = object(Arch::Arm64);
        assert_eq!(object_arch(None, path, &be, None).unwrap(), Arch::S390x);
        assert_eq!(object_arch(None, path, &le, None).unwrap(), Arch::X86_64);
        let with = Some((at, &arm_manifest));
        assert_eq!(object_arch(None, path, &le, with).unwrap(), Arch::Arm64);
        let given = Some(Arch::Arm64);
        assert_eq!(object_arch(given, path, &le, with).unwrap(), Arch::Arm64);
        assert_eq!(
            object_arch(Some(Arch::S390x), path, &be, Some((at, &be_manifest))).unwrap(),
            Arch::S390x
        );
    }

    #[test]
    fn contradictions_are_refused_naming_the_file() {
        let path = Path::new("t.o");
        let at = Path::new("t.manifest.json");
        let (le, manifest) = object(Arch::X86_64);
        let e = object_arch(Some(Arch::S390x), path, &le, None).unwrap_err();
        assert_eq!(
            message(e),
            "t.o: the object is little-endian, but s390x is big-endian"
        );
        let e = object_arch(Some(Arch::Ppc64le), path, &le, Some((at, &manifest))).unwrap_err();
        assert_eq!(
            message(e),
            "t.manifest.json: the manifest is for x86_64, but --arch is ppc64le"
        );
        let mut s390x = manifest.clone();
        s390x.arch = "s390x".into();
        let e = object_arch(None, path, &le, Some((at, &s390x))).unwrap_err();
        assert_eq!(
            message(e),
            "t.o: the object is little-endian, but s390x is big-endian"
        );
        s390x.arch = "vax".into();
        let e = object_arch(None, path, &le, Some((at, &s390x))).unwrap_err();
        assert!(message(e).starts_with("reading t.manifest.json: unknown architecture `vax`"),);
        let e = object_arch(None, path, b"garbage", None).unwrap_err();
        assert_eq!(message(e), "reading t.o: not an ELF file (bad magic)");
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        target: Target,
    }

    fn parse(args: &[&str]) -> Result<Target, clap::Error> {
        use clap::Parser as _;
        Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied())).map(|c| c.target)
    }

    #[test]
    fn arch_takes_names_aliases_lists_and_all() {
        assert_eq!(parse(&[]).unwrap().arches(), [Arch::X86_64]);
        assert_eq!(
            parse(&["--arch", "aarch64"]).unwrap().arches(),
            [Arch::Arm64]
        );
        assert_eq!(
            parse(&["--arch", "s390x,amd64,x86_64"]).unwrap().arches(),
            [Arch::X86_64, Arch::S390x]
        );
        assert_eq!(parse(&["--arch", "all"]).unwrap().arches(), Arch::ALL);
        let e = parse(&["--arch", "vax"]).unwrap_err().to_string();
        assert!(
            e.contains("[possible values: x86_64, arm64, s390x, ppc64le, riscv64, all]"),
            "{e}"
        );
        assert_eq!(
            parse(&["--arch", "powerpc64le"])
                .unwrap()
                .one_arch("check")
                .unwrap(),
            Some(Arch::Ppc64le)
        );
        let all = parse(&["--arch", "all"]).unwrap().one_arch("check");
        assert!(matches!(all, Err(BadInput::Arguments(_))));
    }

    #[test]
    fn objects_are_relocated_only_for_a_named_btf() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let btf = root.join("fixtures/btf/kernel.btf");
        let with = |btf: &Path| Target {
            btf: Some(btf.to_path_buf()),
            ..Target::default()
        };
        let spec = with(&btf)
            .spec(&root.join("fixtures/specs/task_fields.bt"))
            .unwrap();
        let (bytes, _) = spec.artifacts(Arch::X86_64).unwrap();
        let obj = Path::new("t.o");
        let unchanged = Target::default().relocate(obj, bytes.clone()).unwrap();
        assert_eq!(unchanged, bytes);
        // For the types it was compiled against: every value already right.
        assert_eq!(with(&btf).relocate(obj, bytes.clone()).unwrap(), bytes);
        let e = with(Path::new("/nonexistent/vmlinux"))
            .relocate(obj, bytes)
            .unwrap_err();
        assert!(
            message(e).starts_with("--btf /nonexistent/vmlinux: "),
            "the file named"
        );
    }

    #[test]
    fn kernel_help_gives_every_arch_its_default() {
        let help = kernel_help();
        for a in Arch::ALL {
            assert!(
                help.contains(&format!("{a} {}", a.default_kernel())),
                "{help}"
            );
        }
        let k = parse(&["--kernel", "6.12.57+deb13-arm64"]).unwrap().kernel;
        assert_eq!(k, Some(KernelVersion(6, 12)));
        assert!(parse(&["--kernel", "six"]).is_err());
    }
}
