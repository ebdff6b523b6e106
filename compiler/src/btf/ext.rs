//! `.BTF.ext`: the function and line records that tie a program's
//! instructions to its BTF FUNC and to source lines, and the CO-RE
//! relocation records (`struct bpf_core_relo`) that tell a loader which
//! instruction holds which field fact, per ELF section.
//!
//! Layout: a 32-byte header (magic, version, flags, `hdr_len`, then offset
//! and length of the func_info, line_info and CO-RE subsections, relative to
//! the end of the header); each subsection is a record size followed, per
//! ELF section, by `{sec_name_off, num_info}` and `num_info` records. Every
//! instruction offset is in bytes; every string lives in `.BTF`'s string
//! table. Written in the object's byte order, like `.BTF`. An object with no
//! record to write (no program) gets no `.BTF.ext` at all
//! ([`ExtBuilder::is_empty`]), as from clang: libbpf refuses one that is only
//! a header, cilium/ebpf one whose func_info or line_info has no record size.

use std::collections::HashMap;

use super::builder::{Builder, MAGIC};
use super::bytes::{endian_of_magic, section, Reader, Writer};
use super::core::CoreKind;
use super::parse::Btf;
use super::BtfError;
use crate::insn::Endian;

/// Size of the header [`ExtBuilder`] writes (clang's: with the CO-RE fields).
pub const HEADER_LEN: u32 = 32;
/// `struct bpf_func_info`: insn_off, type_id.
pub const FUNC_INFO_REC_SIZE: u32 = 8;
/// `struct bpf_line_info`: insn_off, file_name_off, line_off, line_col.
pub const LINE_INFO_REC_SIZE: u32 = 16;
/// `struct bpf_core_relo`: insn_off, type_id, access_str_off, kind.
pub const CORE_RELO_REC_SIZE: u32 = 16;
/// The smallest header a reader accepts: up to the line_info fields.
const MIN_HEADER_LEN: u32 = 24;

/// The largest line and column `line_col` can hold.
const MAX_LINE: u32 = (1 << 22) - 1;
const MAX_COL: u32 = (1 << 10) - 1;

/// Records of one ELF section, in the order given.
#[derive(Clone, Debug, Default)]
struct SecRecords {
    name_off: u32,
    /// Each record's words.
    records: Vec<Vec<u32>>,
}

/// Where an instruction came from, for a line_info record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceLine<'a> {
    pub file: &'a str,
    /// The text of the line.
    pub text: &'a str,
    /// 1-based line and column.
    pub line: u32,
    pub col: u32,
}

/// One subsection's records, grouped by ELF section in the order the
/// sections first appear, with each section's place indexed: an object
/// has a section per program, and each program adds records to its own.
#[derive(Clone, Debug, Default)]
struct Subsection {
    secs: Vec<SecRecords>,
    /// `name_off` → index into `secs`.
    index: HashMap<u32, usize>,
}

impl Subsection {
    /// The records of the section named at `name_off`.
    fn records(&mut self, name_off: u32) -> &mut Vec<Vec<u32>> {
        let secs = &mut self.secs;
        let pos = *self.index.entry(name_off).or_insert_with(|| {
            secs.push(SecRecords {
                name_off,
                records: vec![],
            });
            secs.len() - 1
        });
        &mut secs[pos].records
    }

    fn is_empty(&self) -> bool {
        self.secs.iter().all(|s| s.records.is_empty())
    }
}

/// Collects func_info and line_info records; strings go to the [`Builder`]'s
/// table.
#[derive(Clone, Debug, Default)]
pub struct ExtBuilder {
    funcs: Subsection,
    lines: Subsection,
    cores: Subsection,
}

impl ExtBuilder {
    pub fn new() -> ExtBuilder {
        ExtBuilder::default()
    }

    /// A function of ELF section `section` starting `insn_off` bytes into it,
    /// described by FUNC `type_id`.
    pub fn func(
        &mut self,
        b: &mut Builder,
        section: &str,
        insn_off: u32,
        type_id: u32,
    ) -> Result<(), BtfError> {
        let sec = b.string(section)?;
        self.funcs.records(sec).push(vec![insn_off, type_id]);
        Ok(())
    }

    /// The instruction `insn_off` bytes into `section` came from `line:col`
    /// of `file`, whose text is `text`. Line and column saturate at the
    /// widths `line_col` gives them (22 and 10 bits).
    pub fn line(
        &mut self,
        b: &mut Builder,
        section: &str,
        insn_off: u32,
        loc: SourceLine<'_>,
    ) -> Result<(), BtfError> {
        let SourceLine {
            file,
            text,
            line,
            col,
        } = loc;
        let sec = b.string(section)?;
        let file_off = b.string(file)?;
        let line_off = b.string(text)?;
        let line_col = line.min(MAX_LINE) << 10 | col.min(MAX_COL);
        self.lines
            .records(sec)
            .push(vec![insn_off, file_off, line_off, line_col]);
        Ok(())
    }

    /// A CO-RE relocation: the instruction `insn_off` bytes into `section`
    /// holds `kind` of the field that `access` (`0:3:1`) reaches from type
    /// `type_id` of this BTF.
    pub fn core_relo(
        &mut self,
        b: &mut Builder,
        section: &str,
        insn_off: u32,
        type_id: u32,
        access: &str,
        kind: CoreKind,
    ) -> Result<(), BtfError> {
        let sec = b.string(section)?;
        let access_off = b.string(access)?;
        self.cores
            .records(sec)
            .push(vec![insn_off, type_id, access_off, kind.raw()]);
        Ok(())
    }

    /// Whether no record was added: an object whose `.BTF.ext` would be
    /// only a header, which it must then not have.
    pub fn is_empty(&self) -> bool {
        [&self.funcs, &self.lines, &self.cores]
            .iter()
            .all(|sub| sub.is_empty())
    }

    /// The `.BTF.ext` section. A subsection without records is left empty
    /// (length 0), which libbpf and the kernel take as absent.
    pub fn finish(&self, endian: Endian) -> Vec<u8> {
        let funcs = subsection(&self.funcs.secs, FUNC_INFO_REC_SIZE, endian);
        let lines = subsection(&self.lines.secs, LINE_INFO_REC_SIZE, endian);
        let cores = subsection(&self.cores.secs, CORE_RELO_REC_SIZE, endian);
        let mut w = Writer::new(endian);
        w.u16(MAGIC);
        w.u8(1);
        w.u8(0);
        w.u32(HEADER_LEN);
        w.u32(0);
        w.u32(funcs.len() as u32);
        w.u32(funcs.len() as u32);
        w.u32(lines.len() as u32);
        w.u32((funcs.len() + lines.len()) as u32); // core_relo_off
        w.u32(cores.len() as u32);
        w.bytes(&funcs);
        w.bytes(&lines);
        w.bytes(&cores);
        w.into_bytes()
    }
}

fn subsection(secs: &[SecRecords], rec_size: u32, endian: Endian) -> Vec<u8> {
    let secs: Vec<&SecRecords> = secs.iter().filter(|s| !s.records.is_empty()).collect();
    if secs.is_empty() {
        return vec![];
    }
    let mut w = Writer::new(endian);
    w.u32(rec_size);
    for s in secs {
        w.u32(s.name_off);
        w.u32(s.records.len() as u32);
        for word in s.records.iter().flatten() {
            w.u32(*word);
        }
    }
    w.into_bytes()
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// A parsed `.BTF.ext`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtfExt {
    pub endian: Endian,
    pub func_info: Vec<FuncInfoSection>,
    pub line_info: Vec<LineInfoSection>,
    /// Empty when the header is too short to have the CO-RE fields.
    pub core_relo: Vec<CoreReloSection>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreReloSection {
    pub section: String,
    pub records: Vec<CoreRecord>,
}

/// One `struct bpf_core_relo`, its access string looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreRecord {
    /// Bytes from the start of the section.
    pub insn_off: u32,
    /// The root type in the object's `.BTF`.
    pub type_id: u32,
    /// `0:3:1`.
    pub access: String,
    /// `enum bpf_core_relo_kind`, raw (see [`CoreKind::from_raw`]).
    pub kind: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncInfoSection {
    /// The ELF section name.
    pub section: String,
    pub records: Vec<FuncRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncRecord {
    /// Bytes from the start of the section.
    pub insn_off: u32,
    /// The FUNC type.
    pub type_id: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineInfoSection {
    pub section: String,
    pub records: Vec<LineRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineRecord {
    /// Bytes from the start of the section.
    pub insn_off: u32,
    pub file: String,
    /// The source line's text.
    pub text: String,
    pub line: u32,
    pub col: u32,
}

/// The header fields a reader needs.
struct ExtHeader {
    endian: Endian,
    hdr_len: u32,
    func: (u32, u32),
    line: (u32, u32),
    core: (u32, u32),
}

fn read_header(bytes: &[u8]) -> Result<ExtHeader, BtfError> {
    let magic = bytes.get(..2).ok_or(BtfError::Truncated {
        what: ".BTF.ext header",
        offset: 0,
        need: 2,
    })?;
    let endian = endian_of_magic([magic[0], magic[1]])?;
    let mut r = Reader::new(bytes, endian, ".BTF.ext header");
    r.take(2)?;
    let version = r.u8()?;
    if version != 1 {
        return Err(BtfError::UnsupportedVersion(version));
    }
    r.u8()?; // flags
    let hdr_len = r.u32()?;
    if hdr_len < MIN_HEADER_LEN || hdr_len as usize > bytes.len() {
        return Err(BtfError::BadHeaderLen(hdr_len));
    }
    let func = (r.u32()?, r.u32()?);
    let line = (r.u32()?, r.u32()?);
    let core = if hdr_len >= HEADER_LEN {
        (r.u32()?, r.u32()?)
    } else {
        (0, 0)
    };
    Ok(ExtHeader {
        endian,
        hdr_len,
        func,
        line,
        core,
    })
}

/// Parses `.BTF.ext`, resolving section names and line strings in `btf`.
pub fn parse(bytes: &[u8], btf: &Btf) -> Result<BtfExt, BtfError> {
    let h = read_header(bytes)?;
    let funcs = section(bytes, h.hdr_len, h.func.0, h.func.1, "func_info")?;
    let lines = section(bytes, h.hdr_len, h.line.0, h.line.1, "line_info")?;
    let func_info = read_subsection(funcs, h.endian, "func_info", FUNC_INFO_REC_SIZE)?
        .into_iter()
        .map(|(name_off, recs)| func_section(btf, name_off, &recs))
        .collect::<Result<_, _>>()?;
    let line_info = read_subsection(lines, h.endian, "line_info", LINE_INFO_REC_SIZE)?
        .into_iter()
        .map(|(name_off, recs)| line_section(btf, name_off, &recs))
        .collect::<Result<_, _>>()?;
    let cores = section(bytes, h.hdr_len, h.core.0, h.core.1, "core_relo")?;
    let core_relo = read_subsection(cores, h.endian, "core_relo", CORE_RELO_REC_SIZE)?
        .into_iter()
        .map(|(name_off, recs)| core_section(btf, name_off, &recs))
        .collect::<Result<_, _>>()?;
    Ok(BtfExt {
        endian: h.endian,
        func_info,
        line_info,
        core_relo,
    })
}

/// Per section: its name offset and its records' first `min_rec / 4` words
/// (a record may be longer than this reader knows; the rest is skipped).
type RawSections = Vec<(u32, Vec<Vec<u32>>)>;

fn read_subsection(
    bytes: &[u8],
    endian: Endian,
    what: &'static str,
    min_rec: u32,
) -> Result<RawSections, BtfError> {
    if bytes.is_empty() {
        return Ok(vec![]);
    }
    let mut r = Reader::new(bytes, endian, what);
    let rec_size = r.u32()?;
    if rec_size < min_rec || rec_size % 4 != 0 {
        return Err(BtfError::BadRecordSize {
            what,
            size: rec_size,
        });
    }
    let mut out = vec![];
    while !r.is_empty() {
        let name_off = r.u32()?;
        let num = r.u32()?;
        let total = u64::from(num) * u64::from(rec_size);
        if total > r.remaining() as u64 {
            return Err(BtfError::Truncated {
                what,
                offset: r.pos(),
                need: total as usize,
            });
        }
        let mut recs = Vec::with_capacity(num as usize);
        for _ in 0..num {
            let mut rec = Reader::new(r.take(rec_size as usize)?, endian, what);
            recs.push(
                (0..min_rec / 4)
                    .map(|_| rec.u32())
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        out.push((name_off, recs));
    }
    Ok(out)
}

fn func_section(btf: &Btf, name_off: u32, recs: &[Vec<u32>]) -> Result<FuncInfoSection, BtfError> {
    let records = recs
        .iter()
        .map(|w| FuncRecord {
            insn_off: word(w, 0),
            type_id: word(w, 1),
        })
        .collect();
    Ok(FuncInfoSection {
        section: btf.string_at(name_off)?.to_string(),
        records,
    })
}

fn line_section(btf: &Btf, name_off: u32, recs: &[Vec<u32>]) -> Result<LineInfoSection, BtfError> {
    let records = recs
        .iter()
        .map(|w| {
            let line_col = word(w, 3);
            Ok(LineRecord {
                insn_off: word(w, 0),
                file: btf.string_at(word(w, 1))?.to_string(),
                text: btf.string_at(word(w, 2))?.to_string(),
                line: line_col >> 10,
                col: line_col & MAX_COL,
            })
        })
        .collect::<Result<_, BtfError>>()?;
    Ok(LineInfoSection {
        section: btf.string_at(name_off)?.to_string(),
        records,
    })
}

fn core_section(btf: &Btf, name_off: u32, recs: &[Vec<u32>]) -> Result<CoreReloSection, BtfError> {
    let records = recs
        .iter()
        .map(|w| {
            Ok(CoreRecord {
                insn_off: word(w, 0),
                type_id: word(w, 1),
                access: btf.string_at(word(w, 2))?.to_string(),
                kind: word(w, 3),
            })
        })
        .collect::<Result<_, BtfError>>()?;
    Ok(CoreReloSection {
        section: btf.string_at(name_off)?.to_string(),
        records,
    })
}

fn word(words: &[u32], i: usize) -> u32 {
    words.get(i).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse as parse_btf;
    use super::*;

    fn sample() -> (Builder, ExtBuilder) {
        let mut b = Builder::new();
        let mut x = ExtBuilder::new();
        x.func(&mut b, "kprobe/a", 0, 3).unwrap();
        x.func(&mut b, "kprobe/b", 0, 4).unwrap();
        x.line(
            &mut b,
            "kprobe/a",
            0,
            SourceLine {
                file: "a.bt",
                text: "x = 1;",
                line: 3,
                col: 5,
            },
        )
        .unwrap();
        x.line(
            &mut b,
            "kprobe/a",
            16,
            SourceLine {
                file: "a.bt",
                text: "exit",
                line: 4,
                col: 1,
            },
        )
        .unwrap();
        (b, x)
    }

    /// What a `.BTF.ext` header says of the layout: the first 8 bytes
    /// (magic, version, flags, header length), whether func_info, line_info
    /// and the CO-RE records follow each other from offset 0, and the
    /// func_info and line_info record sizes.
    fn layout(b: &[u8], e: Endian) -> (Vec<u8>, bool, u32, u32) {
        let word = |at: usize| {
            let w = [b[at], b[at + 1], b[at + 2], b[at + 3]];
            match e {
                Endian::Little => u32::from_le_bytes(w),
                Endian::Big => u32::from_be_bytes(w),
            }
        };
        let hdr = word(4) as usize;
        let [func_off, func_len, line_off, line_len, core_off] =
            [8, 12, 16, 20, 24].map(|at| word(at) as usize);
        let back_to_back =
            func_off == 0 && line_off == func_off + func_len && core_off == line_off + line_len;
        let records = (word(hdr + func_off), word(hdr + line_off));
        (b[..8].to_vec(), back_to_back, records.0, records.1)
    }

    /// The header and the layout are clang's (its `.BTF.ext` of
    /// `fixtures/btf/rich_*.btf.ext`), in both byte orders.
    #[test]
    fn header_and_layout_match_clang() {
        let clang: [(Endian, &[u8]); 2] = [
            (
                Endian::Little,
                include_bytes!("../../../fixtures/btf/rich_el.btf.ext"),
            ),
            (
                Endian::Big,
                include_bytes!("../../../fixtures/btf/rich_eb.btf.ext"),
            ),
        ];
        let (_, x) = sample();
        for (e, theirs) in clang {
            assert_eq!(layout(&x.finish(e), e), layout(theirs, e), "{e:?}");
        }
        let le = x.finish(Endian::Little);
        assert_eq!(&le[..8], &[0x9f, 0xeb, 1, 0, 32, 0, 0, 0]);
        // func_info: 4 + 2 * (8 + 8) = 36; line_info: 4 + 8 + 2 * 16 = 44.
        let words: Vec<u32> = le[8..32]
            .chunks(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(words, vec![0, 36, 36, 44, 80, 0]);
        assert_eq!(le.len(), 32 + 80);
        let be = x.finish(Endian::Big);
        assert_eq!(&be[..8], &[0xeb, 0x9f, 1, 0, 0, 0, 0, 32]);
    }

    #[test]
    fn records_round_trip_in_both_orders() {
        let (b, x) = sample();
        for e in [Endian::Little, Endian::Big] {
            let btf = parse_btf(&b.finish(e)).unwrap();
            let ext = parse(&x.finish(e), &btf).unwrap();
            assert_eq!(ext.endian, e);
            assert_eq!(ext.func_info.len(), 2);
            assert_eq!(ext.func_info[1].section, "kprobe/b");
            assert_eq!(
                ext.func_info[1].records,
                vec![FuncRecord {
                    insn_off: 0,
                    type_id: 4
                }]
            );
            let l = &ext.line_info[0];
            assert_eq!(l.section, "kprobe/a");
            assert_eq!(
                l.records[1],
                LineRecord {
                    insn_off: 16,
                    file: "a.bt".into(),
                    text: "exit".into(),
                    line: 4,
                    col: 1
                }
            );
        }
    }

    #[test]
    fn core_relo_records_round_trip_in_both_orders() {
        let (mut b, mut x) = sample();
        x.core_relo(&mut b, "kprobe/a", 8, 2, "0:1:0", CoreKind::FieldByteOffset)
            .unwrap();
        x.core_relo(&mut b, "kprobe/b", 0, 2, "0:3", CoreKind::FieldSigned)
            .unwrap();
        for e in [Endian::Little, Endian::Big] {
            let bytes = x.finish(e);
            let ext = parse(&bytes, &parse_btf(&b.finish(e)).unwrap()).unwrap();
            assert_eq!(ext.line_info.len(), 1, "line info still read");
            let got: Vec<(&str, &CoreRecord)> = ext
                .core_relo
                .iter()
                .flat_map(|s| s.records.iter().map(move |r| (s.section.as_str(), r)))
                .collect();
            assert_eq!(
                got,
                vec![
                    (
                        "kprobe/a",
                        &CoreRecord {
                            insn_off: 8,
                            type_id: 2,
                            access: "0:1:0".into(),
                            kind: 0
                        }
                    ),
                    (
                        "kprobe/b",
                        &CoreRecord {
                            insn_off: 0,
                            type_id: 2,
                            access: "0:3".into(),
                            kind: 3
                        }
                    ),
                ]
            );
        }
        // core_relo_len: 4 + 2 * (8 + 16).
        let le = x.finish(Endian::Little);
        assert_eq!(&le[28..32], &52u32.to_le_bytes());
    }

    #[test]
    fn empty_line_info_is_absent() {
        let mut b = Builder::new();
        let mut x = ExtBuilder::new();
        x.func(&mut b, "kprobe/a", 0, 1).unwrap();
        let bytes = x.finish(Endian::Little);
        assert_eq!(&bytes[20..24], &[0, 0, 0, 0], "line_info_len");
        let ext = parse(&bytes, &parse_btf(&b.finish(Endian::Little)).unwrap()).unwrap();
        assert!(ext.line_info.is_empty());
    }

    #[test]
    fn bad_record_size_and_overlong_count_are_errors() {
        let (b, x) = sample();
        let btf = parse_btf(&b.finish(Endian::Little)).unwrap();
        let mut bytes = x.finish(Endian::Little);
        bytes[32] = 4; // func_info rec_size
        assert!(matches!(
            parse(&bytes, &btf),
            Err(BtfError::BadRecordSize {
                what: "func_info",
                size: 4
            })
        ));
        let mut bytes = x.finish(Endian::Little);
        bytes[40] = 0xff; // num_info of the first section
        assert!(matches!(
            parse(&bytes, &btf),
            Err(BtfError::Truncated { .. })
        ));
    }
}

/// What libbpf (and cilium/ebpf) require of the `.BTF.ext` probecc writes.
#[cfg(test)]
mod loader_tests {
    use std::process::Command;

    use crate::arch::Arch;
    use crate::btf::core::clang_tests::scratch;
    use crate::lang::{compile, CompileOptions};
    use probecc_test_support::{require, Need};

    /// Specs whose objects have no program, and one with programs.
    const NO_PROGRAMS: [&str; 2] = ["", "config = { max_strlen = 8 }\n"];
    const PROGRAMS: &str = "kprobe:vfs_read { @calls[comm] = count(); }\n";

    fn object(spec: &str) -> Vec<u8> {
        let c = compile(spec, Arch::X86_64, &CompileOptions::default()).unwrap();
        crate::elf::write(&c.object).unwrap()
    }

    #[test]
    fn an_object_without_programs_has_no_btf_ext() {
        for spec in NO_PROGRAMS {
            let obj = crate::elf::read(&object(spec)).unwrap();
            assert!(obj.programs.is_empty(), "{spec:?}");
            assert!(obj.btf.is_some(), "{spec:?}");
            assert_eq!(obj.btf_ext, None, "{spec:?}: a .BTF.ext without records");
        }
        let obj = crate::elf::read(&object(PROGRAMS)).unwrap();
        assert!(obj.btf_ext.is_some());
    }

    /// libbpf opens each object (`bpftool gen skeleton` does
    /// `bpf_object__open`) and takes its `.BTF.ext`: a header-only one it
    /// drops with "Error loading ELF section .BTF.ext: -22".
    #[test]
    #[ignore = "needs bpftool"]
    fn libbpf_opens_objects_with_and_without_programs() {
        if !require(&[Need::Tool("bpftool")]) {
            return;
        }
        let dir = scratch("ext-libbpf");
        for (i, spec) in NO_PROGRAMS.iter().chain([&PROGRAMS]).enumerate() {
            let input = dir.join(format!("in{i}.o"));
            std::fs::write(&input, object(spec)).unwrap();
            let out = Command::new("bpftool")
                .args(["-d", "gen", "skeleton"])
                .arg(&input)
                .output()
                .unwrap();
            let log = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "{spec:?}: bpftool gen skeleton:\n{log}"
            );
            assert!(
                !log.contains("Error loading ELF section"),
                "{spec:?}: {log}"
            );
            // The debug log lists the sections libbpf read.
            let has_ext = log.contains(") .BTF.ext, size");
            assert_eq!(has_ext, spec == &PROGRAMS, "{spec:?}: {log}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// libbpf's linker (`bpftool gen object`, what libbpf-bootstrap-style
    /// builds use to combine objects) takes each object: it wants BTF for
    /// every global variable, `_license` included, and a `.BTF.ext` it can
    /// read.
    #[test]
    #[ignore = "needs bpftool"]
    fn libbpfs_linker_links_objects_with_and_without_programs() {
        if !require(&[Need::Tool("bpftool")]) {
            return;
        }
        let dir = scratch("ext-link");
        for (i, spec) in NO_PROGRAMS.iter().chain([&PROGRAMS]).enumerate() {
            let input = dir.join(format!("in{i}.o"));
            let output = dir.join(format!("out{i}.o"));
            std::fs::write(&input, object(spec)).unwrap();
            let out = Command::new("bpftool")
                .args(["gen", "object"])
                .arg(&output)
                .arg(&input)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{spec:?}: bpftool gen object:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let linked = crate::elf::read(&std::fs::read(&output).unwrap()).unwrap();
            assert_eq!(linked.license.as_deref(), Some(&b"GPL\0"[..]), "{spec:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
