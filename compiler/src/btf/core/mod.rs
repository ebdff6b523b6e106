//! CO-RE (compile once, run everywhere): kernel struct accesses that a
//! loader re-targets to the running kernel's layout, as libbpf and aya do.
//!
//! - [`access`] resolves a member path (`sock` → `__sk_common` →
//!   `skc_dport`) on a BTF into libbpf's *spec*: the access string clang
//!   writes (`0:0:2:1:0`), bit offset, size, signedness, bitfield, and the
//!   value each relocation kind takes (`bpf_core_calc_field_relo`). The
//!   same spec is parsed back from an access string and matched, member by
//!   member name, against another BTF (`bpf_core_spec_match`).
//! - [`local`] copies the kernel types a program touches into the object's
//!   own `.BTF` (structs keep every member, so clang's member indices and
//!   access strings hold; members off the path become opaque bytes) and
//!   collects the relocation records that `ext` writes to `.BTF.ext`.
//!
//! Kernel BTF itself (vmlinux, split module BTF, lookups by name) is
//! [`KernelBtf`](super::kernel::KernelBtf); the loader's side, patching
//! instructions for a target BTF as libbpf does, is [`crate::load`].

pub mod access;
pub mod local;

#[cfg(test)]
pub(crate) mod clang_tests;

use super::BtfError;

/// `enum bpf_core_relo_kind` (libbpf's `relo_core.h`); the field kinds are
/// the ones a struct access needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CoreKind {
    FieldByteOffset = 0,
    FieldByteSize = 1,
    FieldExists = 2,
    FieldSigned = 3,
    FieldLshiftU64 = 4,
    FieldRshiftU64 = 5,
    TypeIdLocal = 6,
    TypeIdTarget = 7,
    TypeExists = 8,
    TypeSize = 9,
    EnumvalExists = 10,
    EnumvalValue = 11,
    TypeMatches = 12,
}

impl CoreKind {
    pub const ALL: [CoreKind; 13] = [
        CoreKind::FieldByteOffset,
        CoreKind::FieldByteSize,
        CoreKind::FieldExists,
        CoreKind::FieldSigned,
        CoreKind::FieldLshiftU64,
        CoreKind::FieldRshiftU64,
        CoreKind::TypeIdLocal,
        CoreKind::TypeIdTarget,
        CoreKind::TypeExists,
        CoreKind::TypeSize,
        CoreKind::EnumvalExists,
        CoreKind::EnumvalValue,
        CoreKind::TypeMatches,
    ];

    pub fn from_raw(raw: u32) -> Option<CoreKind> {
        CoreKind::ALL.get(raw as usize).copied()
    }

    pub fn raw(self) -> u32 {
        self as u32
    }

    /// Whether this kind relocates a field access (the kinds probecc
    /// supports); the others are reported as unsupported.
    pub fn is_field(self) -> bool {
        self.raw() <= CoreKind::FieldRshiftU64.raw()
    }

    /// libbpf's name, as `bpftool -d` prints it.
    pub fn name(self) -> &'static str {
        match self {
            CoreKind::FieldByteOffset => "byte_off",
            CoreKind::FieldByteSize => "byte_sz",
            CoreKind::FieldExists => "field_exists",
            CoreKind::FieldSigned => "signed",
            CoreKind::FieldLshiftU64 => "lshift_u64",
            CoreKind::FieldRshiftU64 => "rshift_u64",
            CoreKind::TypeIdLocal => "local_type_id",
            CoreKind::TypeIdTarget => "target_type_id",
            CoreKind::TypeExists => "type_exists",
            CoreKind::TypeSize => "type_size",
            CoreKind::EnumvalExists => "enumval_exists",
            CoreKind::EnumvalValue => "enumval_value",
            CoreKind::TypeMatches => "type_matches",
        }
    }
}

impl std::fmt::Display for CoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How listings (`probecc disasm`, snapshots) show one relocation, in
/// libbpf's words: `CO-RE <byte_off> struct task_struct.tgid (0:64)`.
pub fn listing(kind: u32, field: &str, access: &str) -> String {
    let kind =
        CoreKind::from_raw(kind).map_or_else(|| format!("kind {kind}"), |k| k.name().to_string());
    format!("CO-RE <{kind}> {field} ({access})")
}

/// The field a relocation record names, resolved on the object's own BTF:
/// `struct task_struct.tgid`, or why it cannot be.
pub fn record_field(btf: &crate::btf::parse::Btf, type_id: u32, access: &str) -> String {
    match access::parse_access(btf, type_id, access) {
        Ok(a) => format!("{}.{}", access::type_name(btf, type_id), a.field_path()),
        Err(e) => format!("<{e}>"),
    }
}

/// `, did you mean `a`, `b`?` or nothing.
fn did_you_mean(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("; did you mean `{one}`?"),
        many => {
            let quoted: Vec<String> = many.iter().map(|n| format!("`{n}`")).collect();
            format!("; did you mean one of {}?", quoted.join(", "))
        }
    }
}

/// Everything that can go wrong resolving, copying or relocating kernel
/// struct accesses.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Types that do not hold together (what a BTF parse or lookup found).
    #[error(transparent)]
    Btf(#[from] BtfError),
    /// A file that cannot be read. The message leaves the path to the
    /// caller, which names the file in its own context.
    #[error("cannot read the file")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// An ELF file that the ELF reader refuses.
    #[error("not an ELF file the reader accepts")]
    Elf {
        path: String,
        #[source]
        source: object::read::Error,
    },
    /// A file whose bytes (or `.BTF` section) are not BTF.
    #[error("not BTF")]
    Parse {
        path: String,
        #[source]
        source: BtfError,
    },
    #[error("an ELF file without a .BTF section")]
    NoBtfSection { path: String },
    #[error("no {kind} `{name}` in the kernel's BTF{}", did_you_mean(.suggestions))]
    UnknownType {
        kind: &'static str,
        name: String,
        suggestions: Vec<String>,
    },
    #[error("{ty} has no member `{member}`{}", did_you_mean(.suggestions))]
    NoMember {
        ty: String,
        member: String,
        suggestions: Vec<String>,
    },
    #[error("{ty} is not a struct or union, so it has no member `{member}`")]
    NotComposite { ty: String, member: String },
    #[error("{ty} is not an array, so it cannot be indexed with [{index}]")]
    NotArray { ty: String, index: u32 },
    #[error("index [{index}] is outside {ty}")]
    IndexOutOfBounds { ty: String, index: u32 },
    #[error("access path of {ty} is longer than 64 steps")]
    TooDeep { ty: String },
    #[error("bad access string `{access}` for {ty}: {reason}")]
    BadAccessString {
        ty: String,
        access: String,
        reason: String,
    },
    #[error("bitfield `{member}` of {ty} cannot be read with one 64-bit load")]
    BitfieldTooWide { ty: String, member: String },
    #[error("relocation {kind} cannot be applied to {what}")]
    KindNotApplicable { kind: CoreKind, what: String },
    #[error("CO-RE relocation kind {0} is not supported (only field relocations)")]
    UnsupportedKind(u32),
    #[error("field `{field}` of {ty} does not exist in the target kernel's BTF")]
    MissingInTarget { ty: String, field: String },
    #[error("{ty} is not in the target kernel's BTF")]
    TypeMissingInTarget { ty: String },
    #[error("{ty} matches {count} types of the target BTF that disagree on `{field}`")]
    Ambiguous {
        ty: String,
        field: String,
        count: usize,
    },
    #[error("instruction {insn}: {reason}")]
    BadInstruction { insn: usize, reason: String },
    #[error("no CO-RE relocation target in section `{0}`")]
    NoSection(String),
}
