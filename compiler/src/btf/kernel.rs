//! Kernel BTF as a type source: the kernel's own types (`vmlinux`: the raw
//! `/sys/kernel/btf/vmlinux`, or the `.BTF` section of a vmlinux ELF) and a
//! module's split BTF on top of them, read with [`parse`](super::parse) /
//! [`parse_split`](super::parse::parse_split), with a name index for the
//! lookups a spec makes (`struct task_struct`, `pid_t`) and the nearest
//! names for one that does not exist.
//!
//! Parsing checks every record like any BTF; this host's 6.18 vmlinux
//! (5.5 MB, 126k types) parses and indexes in about 80 ms even in the
//! unoptimised test build (the `parses_host_vmlinux` test prints it).

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use super::builder::Builder;
use super::core::access::{resolve_path, suggest_members, FieldAccess, Step};
use super::core::local::CoreTypes;
use super::core::CoreError;
use super::parse::{parse, parse_split, Btf};
use super::types::BtfType;
use crate::suggest::nearest;

/// Where the running kernel publishes its BTF.
pub const HOST_VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// The kinds of named type a spec can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NamedKind {
    Struct,
    Union,
    Enum,
    Typedef,
}

impl NamedKind {
    fn word(self) -> &'static str {
        match self {
            NamedKind::Struct => "struct",
            NamedKind::Union => "union",
            NamedKind::Enum => "enum",
            NamedKind::Typedef => "typedef",
        }
    }

    fn matches(self, t: &BtfType) -> bool {
        matches!(
            (self, t),
            (NamedKind::Struct, BtfType::Struct { .. })
                | (NamedKind::Union, BtfType::Union { .. })
                | (
                    NamedKind::Enum,
                    BtfType::Enum { .. } | BtfType::Enum64 { .. }
                )
                | (NamedKind::Typedef, BtfType::Typedef { .. })
        )
    }
}

/// A kernel's BTF (base, or base and a module's split BTF) with a name index.
#[derive(Clone, Debug)]
pub struct KernelBtf {
    btf: Btf,
    /// How many of the types come from the base (0 for a base itself).
    base_count: u32,
    /// Named types (struct, union, enum, typedef, fwd, int, float) by name,
    /// ids ascending.
    names: HashMap<String, Vec<u32>>,
    /// The enumerators of every enum by name (the first of a name), built
    /// on first use: most specs name none.
    enumerators: OnceLock<HashMap<String, i64>>,
    /// The FUNC records by name (the first of a name), built on first use:
    /// only fentry and fexit attach points look functions up.
    functions: OnceLock<HashMap<String, u32>>,
}

impl KernelBtf {
    /// Kernel BTF from raw BTF bytes, or from an ELF file's `.BTF` section.
    pub fn parse(bytes: &[u8]) -> Result<KernelBtf, CoreError> {
        let btf = parse(btf_bytes(bytes, "<bytes>")?)?;
        Ok(KernelBtf::index(btf, 0))
    }

    /// Split BTF (a module's, `/sys/kernel/btf/<module>`) on top of `base`.
    pub fn parse_split(bytes: &[u8], base: &KernelBtf) -> Result<KernelBtf, CoreError> {
        let btf = parse_split(btf_bytes(bytes, "<bytes>")?, &base.btf)?;
        Ok(KernelBtf::index(btf, base.btf.count()))
    }

    /// Reads `path` (raw BTF or an ELF with `.BTF`). Every error names
    /// the file and keeps its cause: the I/O error, the ELF reader's, or
    /// what is wrong with the BTF.
    pub fn from_file(path: impl AsRef<Path>) -> Result<KernelBtf, CoreError> {
        let (bytes, name) = read(path.as_ref())?;
        let btf = parse(btf_bytes(&bytes, &name)?)
            .map_err(|source| CoreError::Parse { path: name, source })?;
        Ok(KernelBtf::index(btf, 0))
    }

    /// Reads split BTF at `path` on top of `base`.
    pub fn from_split_file(
        path: impl AsRef<Path>,
        base: &KernelBtf,
    ) -> Result<KernelBtf, CoreError> {
        let (bytes, name) = read(path.as_ref())?;
        let raw = btf_bytes(&bytes, &name)?;
        let btf = parse_split(raw, &base.btf)
            .map_err(|source| CoreError::Parse { path: name, source })?;
        Ok(KernelBtf::index(btf, base.btf.count()))
    }

    /// The running kernel's BTF, if it publishes one.
    pub fn host() -> Option<Result<KernelBtf, CoreError>> {
        Path::new(HOST_VMLINUX)
            .exists()
            .then(|| KernelBtf::from_file(HOST_VMLINUX))
    }

    fn index(btf: Btf, base_count: u32) -> KernelBtf {
        let mut names: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, t) in btf.types.iter().enumerate() {
            let named = matches!(
                t,
                BtfType::Struct { .. }
                    | BtfType::Union { .. }
                    | BtfType::Enum { .. }
                    | BtfType::Enum64 { .. }
                    | BtfType::Typedef { .. }
                    | BtfType::Fwd { .. }
                    | BtfType::Int { .. }
                    | BtfType::Float { .. }
            );
            if !named || t.name_off() == 0 {
                continue;
            }
            if let Ok(name) = btf.string_at(t.name_off()) {
                names
                    .entry(name.to_string())
                    .or_default()
                    .push(i as u32 + 1);
            }
        }
        KernelBtf {
            btf,
            base_count,
            names,
            enumerators: OnceLock::new(),
            functions: OnceLock::new(),
        }
    }

    /// All types: the base's, then the split's.
    pub fn btf(&self) -> &Btf {
        &self.btf
    }

    /// How many types come from the base (0 when this is a base).
    pub fn base_count(&self) -> u32 {
        self.base_count
    }

    /// The named types called `name`, any kind, ids ascending.
    pub fn ids_named(&self, name: &str) -> &[u32] {
        self.names.get(name).map_or(&[], Vec::as_slice)
    }

    /// The type `kind name` (`struct sock`), preferring a definition with
    /// members over an empty one; `None` if there is none.
    pub fn find(&self, kind: NamedKind, name: &str) -> Option<u32> {
        let of_kind = self
            .ids_named(name)
            .iter()
            .copied()
            .filter(|&id| self.btf.type_by_id(id).is_ok_and(|t| kind.matches(t)));
        let mut first = None;
        for id in of_kind {
            first.get_or_insert(id);
            if self.btf.type_by_id(id).is_ok_and(|t| t.vlen() > 0) {
                return Some(id);
            }
        }
        first
    }

    /// Like [`find`](KernelBtf::find), or an error naming the nearest
    /// names of that kind.
    pub fn lookup(&self, kind: NamedKind, name: &str) -> Result<u32, CoreError> {
        self.find(kind, name).ok_or_else(|| CoreError::UnknownType {
            kind: kind.word(),
            name: name.to_string(),
            suggestions: self.suggest(kind, name),
        })
    }

    /// `struct name`, or an error with the nearest struct names.
    pub fn struct_id(&self, name: &str) -> Result<u32, CoreError> {
        self.lookup(NamedKind::Struct, name)
    }

    /// The struct or union `name` reaches: `struct name`, `union name`, or
    /// a typedef of one (`socket_lock_t`), with typedefs and qualifiers
    /// skipped.
    pub fn composite(&self, name: &str) -> Result<u32, CoreError> {
        if let Some(id) = self
            .find(NamedKind::Struct, name)
            .or_else(|| self.find(NamedKind::Union, name))
        {
            return Ok(id);
        }
        if let Some(td) = self.find(NamedKind::Typedef, name) {
            let id = self.btf.resolve(td)?;
            if matches!(
                self.btf.type_by_id(id),
                Ok(BtfType::Struct { .. } | BtfType::Union { .. })
            ) {
                return Ok(id);
            }
        }
        Err(CoreError::UnknownType {
            kind: "struct",
            name: name.to_string(),
            suggestions: self.suggest(NamedKind::Struct, name),
        })
    }

    /// The value of the enumerator `name` of any enum, named or not
    /// (`TCP_ESTABLISHED`, `BPF_MAP_TYPE_HASH`).
    pub fn enumerator(&self, name: &str) -> Option<i64> {
        self.enumerators().get(name).copied()
    }

    /// Every enumerator's name.
    pub fn enumerator_names(&self) -> impl Iterator<Item = &str> {
        self.enumerators().keys().map(String::as_str)
    }

    fn enumerators(&self) -> &HashMap<String, i64> {
        self.enumerators.get_or_init(|| {
            let mut all = HashMap::new();
            for t in &self.btf.types {
                if let BtfType::Enum { values, .. } | BtfType::Enum64 { values, .. } = t {
                    for v in values {
                        if let Ok(name) = self.btf.string_at(v.name_off) {
                            all.entry(name.to_string()).or_insert(v.value);
                        }
                    }
                }
            }
            all
        })
    }

    /// The FUNC record of the kernel function `name`, if the BTF has one.
    pub fn function(&self, name: &str) -> Option<u32> {
        self.functions().get(name).copied()
    }

    /// The nearest function names to `name`, best first (at most three).
    pub fn suggest_functions(&self, name: &str) -> Vec<String> {
        let mut candidates: Vec<&str> = self.functions().keys().map(String::as_str).collect();
        candidates.sort_unstable();
        nearest(name, candidates)
            .into_iter()
            .map(String::from)
            .collect()
    }

    fn functions(&self) -> &HashMap<String, u32> {
        self.functions.get_or_init(|| {
            let mut all = HashMap::new();
            for (i, t) in self.btf.types.iter().enumerate() {
                if let BtfType::Func { name_off, .. } = t {
                    if let Ok(name) = self.btf.string_at(*name_off) {
                        all.entry(name.to_string()).or_insert(i as u32 + 1);
                    }
                }
            }
            all
        })
    }

    /// The enum named `name`, or else the enum with an enumerator `name`
    /// (many kernel enums have no name: `TCP_ESTABLISHED`'s).
    pub fn enum_holding(&self, name: &str) -> Option<u32> {
        if let Some(id) = self.find(NamedKind::Enum, name) {
            return Some(id);
        }
        let id = self.btf.types.iter().position(|t| match t {
            BtfType::Enum { values, .. } | BtfType::Enum64 { values, .. } => values
                .iter()
                .any(|v| self.btf.string_at(v.name_off).is_ok_and(|n| n == name)),
            _ => false,
        })?;
        Some(id as u32 + 1)
    }

    /// The nearest names of types of `kind` to `name`, best first (at most
    /// three).
    pub fn suggest(&self, kind: NamedKind, name: &str) -> Vec<String> {
        let mut candidates: Vec<&str> = self
            .names
            .iter()
            .filter_map(|(n, ids)| {
                ids.iter()
                    .any(|&id| self.btf.type_by_id(id).is_ok_and(|t| kind.matches(t)))
                    .then_some(n.as_str())
            })
            .collect();
        // Alphabetical, so that equally near names come in a fixed order.
        candidates.sort_unstable();
        nearest(name, candidates)
            .into_iter()
            .map(String::from)
            .collect()
    }

    /// The nearest member names to `member` in composite `id` (members of
    /// anonymous members included, and `a.b` for members of embedded
    /// structs).
    pub fn suggest_members(&self, id: u32, member: &str) -> Vec<String> {
        suggest_members(&self.btf, id, member)
    }

    /// Resolves `root` (a struct name) and `path` in one call:
    /// `k.field("task_struct", &["comm".into(), 0.into()])`.
    pub fn field(&self, root: &str, path: &[Step]) -> Result<FieldAccess, CoreError> {
        let id = self.composite(root)?;
        resolve_path(&self.btf, id, path)
    }
}

impl KernelBtf {
    /// The structs and unions named in `roots`, with every member (those
    /// of anonymous and of directly embedded named members too) and the
    /// types those need, and the enums of `enum NAME` roots (see
    /// [`KernelBtf::enum_holding`]), and the functions of `func NAME`
    /// roots with their prototypes, as raw BTF in this BTF's byte order:
    /// a small, fixed stand-in for a kernel's types that specs compile
    /// against the same way on any machine (`fixtures/btf`). Pointers to
    /// structs not copied become pointers to forward declarations, as in
    /// an object.
    pub fn subset(&self, roots: &[&str]) -> Result<Vec<u8>, CoreError> {
        let mut core = CoreTypes::new();
        for name in roots {
            if let Some(f) = name.strip_prefix("func ") {
                let id = self
                    .function(f.trim())
                    .ok_or_else(|| CoreError::UnknownType {
                        kind: "function",
                        name: f.trim().to_string(),
                        suggestions: self.suggest_functions(f.trim()),
                    })?;
                core.add_function(&self.btf, id)?;
                continue;
            }
            if let Some(e) = name.strip_prefix("enum ") {
                let id = self
                    .enum_holding(e.trim())
                    .ok_or_else(|| CoreError::UnknownType {
                        kind: "enum",
                        name: e.trim().to_string(),
                        suggestions: self.suggest(NamedKind::Enum, e.trim()),
                    })?;
                core.add_type(&self.btf, id)?;
                continue;
            }
            let root = self.composite(name)?;
            let mut paths = Vec::new();
            member_paths(&self.btf, root, &[], 0, &mut paths)?;
            for path in paths {
                let access = resolve_path(&self.btf, root, &path)?;
                core.add_types(&self.btf, &access)?;
            }
        }
        let mut b = Builder::new();
        core.emit(&mut b)?;
        Ok(b.finish(self.btf.endian))
    }
}

/// Every member path of composite `id`: named members, the members of
/// anonymous ones (reached by name, as C does), and one level into named
/// struct members (`sock.__sk_common.skc_dport`).
fn member_paths(
    btf: &Btf,
    id: u32,
    prefix: &[Step],
    depth: usize,
    out: &mut Vec<Vec<Step>>,
) -> Result<(), CoreError> {
    let members = match btf.type_by_id(btf.resolve(id)?)? {
        BtfType::Struct { members, .. } | BtfType::Union { members, .. } => members.clone(),
        _ => return Ok(()),
    };
    for m in &members {
        let name = btf.string_at(m.name_off)?;
        let inner = btf.resolve(m.type_id)?;
        let composite = matches!(
            btf.type_by_id(inner)?,
            BtfType::Struct { .. } | BtfType::Union { .. }
        );
        if name.is_empty() {
            if composite && depth < 8 {
                member_paths(btf, inner, prefix, depth + 1, out)?;
            }
            continue;
        }
        let mut path = prefix.to_vec();
        path.push(Step::Member(name.to_string()));
        if composite && prefix.is_empty() {
            member_paths(btf, inner, &path, depth + 1, out)?;
        }
        out.push(path);
    }
    Ok(())
}

/// The bytes of `path`, and its name for messages.
fn read(path: &Path) -> Result<(Vec<u8>, String), CoreError> {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => Ok((bytes, name)),
        Err(source) => Err(CoreError::Read { path: name, source }),
    }
}

/// `bytes` itself, or the `.BTF` section when `bytes` is an ELF file.
fn btf_bytes<'a>(bytes: &'a [u8], what: &str) -> Result<&'a [u8], CoreError> {
    use object::{Object, ObjectSection};
    if !bytes.starts_with(b"\x7fELF") {
        return Ok(bytes);
    }
    let elf = |source| CoreError::Elf {
        path: what.to_string(),
        source,
    };
    let file = object::File::parse(bytes).map_err(elf)?;
    let section = file
        .section_by_name(".BTF")
        .ok_or_else(|| CoreError::NoBtfSection {
            path: what.to_string(),
        })?;
    section.data().map_err(elf)
}

/// The host's kernel BTF for tests (`#[ignore = "needs
/// /sys/kernel/btf/vmlinux"]`), parsed once; `None` when the test may not
/// go on (`probecc_test_support::require`'s rule: a missing file fails
/// under CI).
#[cfg(test)]
#[track_caller]
pub(crate) fn host_for_test() -> Option<&'static KernelBtf> {
    use probecc_test_support::{require, Need};
    use std::sync::OnceLock;
    static HOST: OnceLock<KernelBtf> = OnceLock::new();
    if !require(&[Need::HostBtf]) {
        return None;
    }
    Some(HOST.get_or_init(|| KernelBtf::from_file(HOST_VMLINUX).expect("host vmlinux BTF parses")))
}

/// BTF of `int` (id 1) and an enum without a name holding `values` (id
/// 2), for tests of enumerators.
#[cfg(test)]
pub(crate) fn enum_builder(values: &[(&str, i64)]) -> Builder {
    use super::builder::IntEncoding;
    use super::types::EnumValue;
    let mut b = Builder::new();
    let _int = b.int("int", 4, IntEncoding::Signed);
    let values = values
        .iter()
        .filter_map(|(n, value)| {
            let name_off = b.string(n).ok()?;
            Some(EnumValue {
                name_off,
                value: *value,
            })
        })
        .collect();
    let _enum = b.add(BtfType::Enum {
        name_off: 0,
        size: 4,
        signed: false,
        values,
    });
    b
}

#[cfg(test)]
mod tests {
    use super::super::builder::{Builder, IntEncoding};
    use super::super::bytes::Writer;
    use super::super::types::{EnumValue, Member};
    use super::super::BtfError;
    use super::*;
    use crate::insn::Endian;

    /// A base (`int`, `struct base { int a; }`) and split BTF on it:
    /// `struct modst { struct base b; int *p; }` (ids 4.., strings after the
    /// base's), written record by record as pahole writes module BTF.
    fn base_and_split(e: Endian) -> (Vec<u8>, Vec<u8>) {
        let mut b = Builder::new();
        let int = b.int("int", 4, IntEncoding::Signed).unwrap();
        b.struct_type("base", 4, &[("a", int, 0)]).unwrap();
        let base = b.finish(e);
        let base_str_len = crate::btf::parse(&base).unwrap().strings.len() as u32;
        // Split strings: "\0modst\0b\0p\0", offsets from base_str_len.
        let strings = b"\0modst\0b\0p\0";
        let s = |local: u32| base_str_len + local;
        let types = [
            BtfType::Ptr { type_id: 1 }, // id 3: int *
            BtfType::Struct {
                name_off: s(1),
                size: 16,
                bitfields: false,
                members: vec![
                    Member {
                        name_off: s(7),
                        type_id: 2,
                        offset: 0,
                    },
                    Member {
                        name_off: s(9),
                        type_id: 3,
                        offset: 64,
                    },
                ],
            },
        ];
        let mut recs = Writer::new(e);
        for t in &types {
            t.encode(&mut recs);
        }
        let recs = recs.into_bytes();
        let mut w = Writer::new(e);
        w.u16(0xeb9f);
        w.u8(1);
        w.u8(0);
        w.u32(24);
        w.u32(0);
        w.u32(recs.len() as u32);
        w.u32(recs.len() as u32);
        w.u32(strings.len() as u32);
        w.bytes(&recs);
        w.bytes(strings);
        (base, w.into_bytes())
    }

    /// An enum without a name (`A_ONE = 1`, `A_TWO = 2`), `struct s {
    /// int a; }` and `enum color` (`RED`), in either byte order.
    fn with_enums(e: Endian) -> KernelBtf {
        let mut b = enum_builder(&[("A_ONE", 1), ("A_TWO", 2)]);
        b.struct_type("s", 4, &[("a", 1, 0)]).unwrap();
        let (name_off, red) = (b.string("color").unwrap(), b.string("RED").unwrap());
        b.add(BtfType::Enum {
            name_off,
            size: 4,
            signed: false,
            values: vec![EnumValue {
                name_off: red,
                value: 0,
            }],
        })
        .unwrap();
        KernelBtf::parse(&b.finish(e)).unwrap()
    }

    #[test]
    fn enumerators_by_name_and_enums_in_subsets() {
        for e in [Endian::Little, Endian::Big] {
            let k = with_enums(e);
            assert_eq!(k.enumerator("A_TWO"), Some(2));
            assert_eq!(k.enumerator("RED"), Some(0));
            assert_eq!(k.enumerator("BLUE"), None);
            let mut names: Vec<&str> = k.enumerator_names().collect();
            names.sort();
            assert_eq!(names, ["A_ONE", "A_TWO", "RED"]);
            assert_eq!(k.enum_holding("A_ONE"), Some(2));
            assert_eq!(k.enum_holding("color"), Some(4));
            assert_eq!(k.enum_holding("s"), None);
            let cut = KernelBtf::parse(&k.subset(&["s", "enum A_ONE"]).unwrap()).unwrap();
            assert_eq!(cut.enumerator("A_TWO"), Some(2));
            assert_eq!(cut.enumerator("RED"), None);
            assert!(cut.struct_id("s").is_ok());
            let err = k.subset(&["enum BLUE"]).unwrap_err().to_string();
            assert!(err.contains("BLUE"), "{err}");
        }
    }

    #[test]
    fn split_btf_continues_the_base_ids_and_strings() {
        for e in [Endian::Little, Endian::Big] {
            let (base, split) = base_and_split(e);
            let base = KernelBtf::parse(&base).unwrap();
            let k = KernelBtf::parse_split(&split, &base).unwrap();
            assert_eq!((k.base_count(), k.btf().count()), (2, 4));
            let modst = k.struct_id("modst").unwrap();
            assert_eq!(modst, 4);
            assert_eq!(k.struct_id("base").unwrap(), 2, "base types stay visible");
            assert_eq!(k.btf().format_type(modst).unwrap(), "struct modst");
            let a = k.field("modst", &["b".into(), "a".into()]).unwrap();
            assert_eq!((a.access_string(), a.byte_offset()), ("0:0:0".into(), 0));
            let p = k.field("modst", &["p".into()]).unwrap();
            assert_eq!(k.btf().format_type(p.type_id).unwrap(), "int *");
            assert_eq!((p.byte_offset(), p.size), (8, 8));
            // The split blob alone refers to types it does not have.
            assert!(matches!(
                crate::btf::parse(&split),
                Err(BtfError::TypeIdOutOfRange { .. } | BtfError::StringOutOfRange { .. })
            ));
        }
        let (base, _) = base_and_split(Endian::Little);
        let (_, split_be) = base_and_split(Endian::Big);
        let base = KernelBtf::parse(&base).unwrap();
        assert!(matches!(
            KernelBtf::parse_split(&split_be, &base),
            Err(CoreError::Btf(BtfError::SplitByteOrder))
        ));
    }

    #[test]
    fn split_btf_errors_on_hostile_bytes_without_panicking() {
        let (base, split) = base_and_split(Endian::Little);
        let base = KernelBtf::parse(&base).unwrap();
        assert!(KernelBtf::parse_split(&split, &base).is_ok());
        for i in 0..split.len() {
            for v in [0u8, 0xff, 7] {
                let mut s = split.clone();
                s[i] = v;
                let _ = KernelBtf::parse_split(&s, &base);
            }
            assert!(
                KernelBtf::parse_split(&split[..i], &base).is_err(),
                "the first {i} of {} bytes parse",
                split.len()
            );
        }
    }

    #[test]
    fn unreadable_files_keep_their_cause() {
        use crate::error::{caused_by, chain};
        let dir = std::env::temp_dir().join(format!("probecc-kernel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.btf");
        let e = KernelBtf::from_file(&missing).unwrap_err();
        assert!(
            matches!(&e, CoreError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
        );
        assert!(caused_by::<std::io::Error>(&e));
        assert!(
            chain(&e).starts_with("cannot read the file: "),
            "{}",
            chain(&e)
        );

        let text = dir.join("not.btf");
        std::fs::write(&text, "[package]\nname = \"x\"\n").unwrap();
        let e = KernelBtf::from_file(&text).unwrap_err();
        assert!(matches!(&e, CoreError::Parse { .. }), "{e:?}");
        assert!(caused_by::<BtfError>(&e), "{}", chain(&e));

        let elf = dir.join("broken.o");
        std::fs::write(&elf, b"\x7fELF\x02\x01\x01 not really").unwrap();
        let e = KernelBtf::from_file(&elf).unwrap_err();
        assert!(matches!(&e, CoreError::Elf { .. }), "{e:?}");
        assert!(caused_by::<object::read::Error>(&e), "{}", chain(&e));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    #[ignore = "needs /sys/kernel/btf/vmlinux"]
    fn parses_host_vmlinux() {
        if host_for_test().is_none() {
            return;
        }
        let bytes = std::fs::read(HOST_VMLINUX).unwrap();
        let t = std::time::Instant::now();
        let k = KernelBtf::parse(&bytes).unwrap();
        eprintln!(
            "{HOST_VMLINUX}: {} bytes, {} types, parsed and indexed in {:?}",
            bytes.len(),
            k.btf().count(),
            t.elapsed()
        );
        assert!(k.btf().count() > 10_000);
        let task = k.struct_id("task_struct").unwrap();
        assert_eq!(k.btf().format_type(task).unwrap(), "struct task_struct");
        assert!(k.find(NamedKind::Typedef, "pid_t").is_some());
        assert!(k.find(NamedKind::Union, "task_struct").is_none());
        let lock = k.composite("socket_lock_t").unwrap();
        assert!(matches!(
            k.btf().type_by_id(lock),
            Ok(BtfType::Struct { .. })
        ));
        let err = k.struct_id("task_strct").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "no struct `task_strct` in the kernel's BTF; did you mean one of `task_struct`"
            ),
            "{err}"
        );
    }
}
