//! One object loaded through aya: maps created with the globals a
//! loader sets first, programs verified and attached by name and section,
//! detached on demand and on drop; programs that no event triggers run
//! once on demand (`BPF_PROG_TEST_RUN`); the ring buffer's records and the
//! maps read back and decoded by the manifest, and maps cleared or zeroed
//! as `clear()` and `zero()` do.

use std::collections::BTreeSet;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;

use aya::maps::{Map, MapData, RingBuf, StackTraceMap};
use aya::programs::kprobe::KProbeLinkId;
use aya::programs::{KProbe, ProgramError, RawTracePoint, RawTracePointRunOptions, TestRun};
use aya::{Btf, Ebpf, EbpfLoader};
use probecc::endian::Endian;
use probecc::lang::manifest::{Manifest, MapEntry};
use probecc::maps::MapKind;

use super::{bpf, kernel, possible_cpus, LiveError};
use crate::decode::{Decoder, MapDump, RawEntry};
use crate::ksyms::Ksyms;

/// The byte order of this machine, which is the kernel's.
const NATIVE: Endian = if cfg!(target_endian = "big") {
    Endian::Big
} else {
    Endian::Little
};

/// An object in the kernel, and the kprobes its programs are attached to.
pub struct Loaded {
    ebpf: Ebpf,
    /// Programs loaded (verified) so far.
    verified: BTreeSet<String>,
    /// Every attachment, by program.
    links: Vec<(String, KProbeLinkId)>,
    /// The ring buffer, once read.
    ring: Option<(String, RingBuf<MapData>)>,
}

/// What a loader sets before the kernel sees an object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Read-only globals (`.rodata`, `const volatile` in C) by symbol,
    /// each its bytes in the kernel's byte order: the values positional
    /// parameters and the traced command's pid take before load. A name
    /// the object lacks is an error.
    pub globals: Vec<(String, Vec<u8>)>,
}

/// `kprobe/FUNC[+OFF]` or `kretprobe/FUNC` → (FUNC, OFF).
pub fn target(section: &str) -> (String, u64) {
    let rest = section.split_once('/').map_or(section, |(_, r)| r);
    match rest.split_once('+') {
        Some((f, off)) => (f.to_string(), parse_offset(off)),
        None => (rest.to_string(), 0),
    }
}

/// Whether a program's ELF section makes it a kprobe or kretprobe, which
/// attaching places in the kernel (other programs run on demand).
pub fn is_probe(section: &str) -> bool {
    section.starts_with("kprobe/") || section.starts_with("kretprobe/")
}

fn parse_offset(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap_or(0),
        None => s.parse().unwrap_or(0),
    }
}

/// Whether the object's `.BTF.ext` holds CO-RE relocations.
fn has_core_relocations(bytes: &[u8]) -> bool {
    probecc::elf::read(bytes)
        .ok()
        .and_then(|obj| probecc::load::object_relocations(&obj).ok().flatten())
        .is_some_and(|(_, sections)| !sections.is_empty())
}

/// The object with the address of each kernel symbol it loads (an
/// `ld_imm64` relocated against an undefined `.ksyms` extern, as libbpf
/// resolves a typeless ksym) written into the instruction from
/// `/proc/kallsyms`, and its BTF made one the kernel takes
/// ([`sanitize_extern_vars`]); `None` if it loads none. aya leaves such
/// relocations alone.
fn resolve_ksyms(object: &[u8]) -> Result<Option<Vec<u8>>, LiveError> {
    let Ok(obj) = probecc::elf::read(object) else {
        return Ok(None);
    };
    let externs: Vec<(u64, &str)> = obj
        .programs
        .iter()
        .flat_map(|f| f.relocs.iter().map(move |r| (f.section_index, r)))
        .filter(|(_, r)| {
            obj.symbols
                .iter()
                .any(|s| s.name == r.symbol && s.section.is_none() && s.value == 0)
        })
        .filter_map(|(section, r)| {
            let base = obj.sections.get(section)?.offset;
            Some((base + r.offset, r.symbol.as_str()))
        })
        .collect();
    if externs.is_empty() {
        return Ok(None);
    }
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    let mut bytes = object.to_vec();
    if let Some(btf) = obj.section(".BTF") {
        let (start, size) = (btf.offset as usize, btf.size as usize);
        if let Some(section) = bytes.get_mut(start..start + size) {
            sanitize_extern_vars(section, obj.endian);
        }
    }
    for (at, name) in externs {
        let addr = crate::ksyms::address_in(&kallsyms, name)
            .filter(|&a| a != 0)
            .ok_or_else(|| LiveError::NoKsym(name.to_string()))?;
        let at = at as usize;
        // imm of the ld_imm64's two slots: the low, then the high half.
        for (slot, half) in [(at + 4, addr as u32), (at + 12, (addr >> 32) as u32)] {
            if let Some(imm) = bytes.get_mut(slot..slot + 4) {
                imm.copy_from_slice(&obj.endian.u32_bytes(half));
            }
        }
    }
    Ok(Some(bytes))
}

/// The extern VARs of a BTF (`.ksyms`: type void, extern linkage, as
/// clang writes them and libbpf wants them) made static `int`s in place,
/// as libbpf does before it hands the BTF to the kernel, which refuses
/// extern VARs. aya does not, and a BTF the kernel refused leaves aya
/// creating the maps with its type ids and no BTF fd: every map fails.
/// A BTF that does not parse, or has no INT, is left as it is.
fn sanitize_extern_vars(btf: &mut [u8], endian: Endian) {
    const KIND_INT: u32 = 1;
    const KIND_VAR: u32 = 14;
    const EXTERN: u32 = 2;
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(match endian {
            Endian::Little => u32::from_le_bytes(w),
            Endian::Big => u32::from_be_bytes(w),
        })
    };
    let (Some(hdr_len), Some(type_off), Some(type_len)) =
        (u32_at(btf, 4), u32_at(btf, 8), u32_at(btf, 12))
    else {
        return;
    };
    let start = (hdr_len + type_off) as usize;
    let end = start + type_len as usize;
    let (mut at, mut id, mut int, mut vars) = (start, 1u32, None, Vec::new());
    while at + 12 <= end {
        let Some(info) = u32_at(btf, at + 4) else {
            return;
        };
        let (kind, vlen) = ((info >> 24) & 0x1f, info & 0xffff);
        let extra = match kind {
            KIND_INT | KIND_VAR | 17 => 4, // INT, VAR, DECL_TAG
            3 => 12,                       // ARRAY
            4 | 5 | 15 | 19 => 12 * vlen,  // STRUCT, UNION, DATASEC, ENUM64
            6 | 13 => 8 * vlen,            // ENUM, FUNC_PROTO
            2 | 7..=12 | 16 | 18 => 0,     // PTR, FWD, TYPEDEF, qualifiers, FUNC, FLOAT, TYPE_TAG
            _ => return,
        } as usize;
        if kind == KIND_INT && int.is_none() {
            int = Some(id);
        }
        if kind == KIND_VAR && u32_at(btf, at + 12) == Some(EXTERN) {
            vars.push(at);
        }
        at += 12 + extra;
        id += 1;
    }
    let Some(int) = int else { return };
    for var in vars {
        btf[var + 8..var + 12].copy_from_slice(&endian.u32_bytes(int));
        btf[var + 12..var + 16].copy_from_slice(&endian.u32_bytes(0));
    }
}

/// The data of a map aya holds as a hash, array or stack map.
fn map_data(m: &Map) -> Option<&MapData> {
    match m {
        Map::HashMap(d)
        | Map::PerCpuHashMap(d)
        | Map::LruHashMap(d)
        | Map::PerCpuLruHashMap(d)
        | Map::Array(d)
        | Map::PerCpuArray(d) => Some(d),
        _ => None,
    }
}

/// A map as the raw layer reads it: its descriptor, key size, and the
/// bytes of one value for every CPU slot.
struct RawMap {
    fd: RawFd,
    key_size: usize,
    /// One value's bytes, rounded up to 8 as the kernel copies per-CPU
    /// values.
    stride: usize,
    /// CPUs a value is kept for: 1 unless the map is per-CPU.
    slots: usize,
}

/// The kernel's log of a program it refused, when aya kept one.
fn rejection(name: &str, e: ProgramError) -> LiveError {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => LiveError::Rejected {
            name: name.to_string(),
            log: verifier_log.to_string(),
            source: io_error,
        },
        other => LiveError::ProgramLoad {
            name: name.to_string(),
            source: Box::new(other),
        },
    }
}

impl Loaded {
    /// An object's bytes loaded: its maps created, no program verified
    /// yet. Only an object with CO-RE relocations (one that reads kernel
    /// structs) has aya parse the kernel's BTF to relocate it against:
    /// that costs seconds under emulation, and a kernel without BTF
    /// cannot load such an object at all.
    pub fn load(object: &[u8]) -> Result<Loaded, LiveError> {
        Loaded::load_with(object, &LoadOptions::default())
    }

    /// An object's bytes loaded with its globals set first (`options`).
    pub fn load_with(object: &[u8], options: &LoadOptions) -> Result<Loaded, LiveError> {
        let resolved = resolve_ksyms(object)?;
        let object = resolved.as_deref().unwrap_or(object);
        let kernel_btf = if has_core_relocations(object) {
            Some(Btf::from_sys_fs().map_err(|e| LiveError::NoKernelBtf(Box::new(e)))?)
        } else {
            None
        };
        let mut loader = EbpfLoader::new();
        loader.btf(kernel_btf.as_ref());
        for (name, bytes) in &options.globals {
            loader.override_global(name.as_str(), bytes.as_slice(), true);
        }
        let ebpf = loader
            .load(object)
            .map_err(|e| LiveError::Load(Box::new(e)))?;
        Ok(Loaded {
            ebpf,
            verified: BTreeSet::new(),
            links: Vec::new(),
            ring: None,
        })
    }

    /// The object at `path`, loaded.
    pub fn load_file(path: &Path) -> Result<Loaded, LiveError> {
        let bytes = std::fs::read(path).map_err(|source| LiveError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Loaded::load(&bytes)
    }

    fn kprobe(&mut self, name: &str) -> Result<&mut KProbe, LiveError> {
        let prog = self
            .ebpf
            .program_mut(name)
            .ok_or_else(|| LiveError::NoProgram(name.to_string()))?;
        prog.try_into()
            .map_err(|_| LiveError::Kind(name.to_string()))
    }

    /// Program `name` loaded into the kernel (verified), once. A program
    /// the verifier refuses is [`LiveError::Rejected`], with its log.
    pub fn verify(&mut self, name: &str) -> Result<(), LiveError> {
        if self.verified.contains(name) {
            return Ok(());
        }
        let prog = self
            .ebpf
            .program_mut(name)
            .ok_or_else(|| LiveError::NoProgram(name.to_string()))?;
        let loaded = match prog {
            aya::programs::Program::KProbe(p) => p.load(),
            aya::programs::Program::RawTracePoint(p) => p.load(),
            _ => return Err(LiveError::Kind(name.to_string())),
        };
        loaded.map_err(|e| rejection(name, e))?;
        self.verified.insert(name.to_string());
        Ok(())
    }

    /// Every program of the manifest verified, in its order; the first
    /// the kernel refuses stops it.
    pub fn verify_all(&mut self, manifest: &Manifest) -> Result<(), LiveError> {
        manifest
            .programs
            .iter()
            .try_for_each(|p| self.verify(&p.name))
    }

    /// Program `name` (a raw tracepoint program, which no event
    /// triggers) verified and run once by the kernel
    /// (`BPF_PROG_TEST_RUN`, kernel 5.10 and later): how BEGIN, END and
    /// interval blocks compiled to programs run. Its return value.
    pub fn run_once(&mut self, name: &str) -> Result<u32, LiveError> {
        self.verify(name)?;
        let prog: &mut RawTracePoint = self
            .ebpf
            .program_mut(name)
            .ok_or_else(|| LiveError::NoProgram(name.to_string()))?
            .try_into()
            .map_err(|_| LiveError::Kind(name.to_string()))?;
        let run = prog
            .test_run(RawTracePointRunOptions::new())
            .map_err(|source| LiveError::Run {
                name: name.to_string(),
                source: Box::new(source),
            })?;
        Ok(run.return_value)
    }

    /// Program `name` verified and attached where its ELF `section`
    /// (`kprobe/vfs_read`, `kretprobe/vfs_read`, `kprobe/f+8`) says. On a
    /// kernel without kprobes, [`LiveError::NoKprobes`].
    pub fn attach(&mut self, name: &str, section: &str) -> Result<(), LiveError> {
        self.verify(name)?;
        if !kernel::has_kprobes() {
            return Err(LiveError::NoKprobes);
        }
        let (func, offset) = target(section);
        let link =
            self.kprobe(name)?
                .attach(&func, offset)
                .map_err(|source| LiveError::Attach {
                    name: name.to_string(),
                    func,
                    offset,
                    source: Box::new(source),
                })?;
        self.links.push((name.to_string(), link));
        Ok(())
    }

    /// Every kprobe and kretprobe of the manifest attached (the programs
    /// it runs itself are not); the ones that failed, by section, with why.
    pub fn attach_all(&mut self, manifest: &Manifest) -> Vec<(String, LiveError)> {
        manifest
            .programs
            .iter()
            .filter(|p| is_probe(&p.section))
            .filter_map(|p| {
                self.attach(&p.name, &p.section)
                    .err()
                    .map(|e| (p.section.clone(), e))
            })
            .collect()
    }

    /// How many attachments are in place.
    pub fn attached(&self) -> usize {
        self.links.len()
    }

    /// Every attachment undone; the programs stay loaded.
    pub fn detach_all(&mut self) {
        for (name, link) in std::mem::take(&mut self.links) {
            if let Ok(kp) = self.kprobe(&name) {
                // A link aya no longer knows is already gone.
                let _ = kp.detach(link);
            }
        }
    }

    /// How many times the kernel ran the object's programs (with BPF run
    /// statistics on).
    pub fn run_count(&self) -> u64 {
        self.ebpf
            .programs()
            .filter_map(|(_, p)| p.info().ok())
            .map(|i| i.run_count())
            .sum()
    }

    /// The ids the kernel gave the programs verified so far.
    pub fn program_ids(&self) -> Vec<u32> {
        self.ebpf
            .programs()
            .filter_map(|(_, p)| p.info().ok())
            .map(|i| i.id())
            .collect()
    }

    /// Ring buffer `name`, taken from aya's maps on first use.
    fn ring(&mut self, name: &str) -> Result<&mut RingBuf<MapData>, LiveError> {
        if self.ring.as_ref().is_none_or(|(n, _)| n != name) {
            let map = self
                .ebpf
                .take_map(name)
                .ok_or_else(|| LiveError::NoMap(name.to_string()))?;
            let ring =
                RingBuf::try_from(map).map_err(|_| LiveError::NotRingBuf(name.to_string()))?;
            self.ring = Some((name.to_string(), ring));
        }
        match self.ring.as_mut() {
            Some((_, ring)) => Ok(ring),
            None => Err(LiveError::NoMap(name.to_string())),
        }
    }

    /// The descriptor of ring buffer `name`, which `poll(2)` finds
    /// readable when records wait.
    pub fn ring_fd(&mut self, name: &str) -> Result<RawFd, LiveError> {
        Ok(self.ring(name)?.as_raw_fd())
    }

    /// The records waiting in ring buffer `name`, oldest first, at most
    /// `limit` of them.
    pub fn records(&mut self, name: &str, limit: usize) -> Result<Vec<Vec<u8>>, LiveError> {
        let ring = self.ring(name)?;
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(item) = ring.next() else { break };
            out.push(item.to_vec());
        }
        Ok(out)
    }

    /// `f` with a decoder of this object's maps, its stack maps read
    /// through aya and named by `ksyms`.
    pub fn with_decoder<T>(
        &self,
        manifest: &Manifest,
        ksyms: &Ksyms,
        f: impl FnOnce(&Decoder) -> T,
    ) -> T {
        let stacks = |name: &str, id: u32| -> Option<Vec<u64>> {
            let map = StackTraceMap::try_from(self.ebpf.map(name)?).ok()?;
            let trace = map.get(&id, 0).ok()?;
            Some(trace.frames().iter().map(|f| f.ip).collect())
        };
        f(&Decoder {
            manifest,
            endian: NATIVE,
            ksyms,
            stacks: &stacks,
            host: &super::System,
        })
    }

    /// Map `m` as the raw layer reads it.
    fn raw_map(&self, m: &MapEntry) -> Result<RawMap, LiveError> {
        let data = self
            .ebpf
            .map(&m.symbol)
            .and_then(map_data)
            .ok_or_else(|| LiveError::NoMap(m.symbol.clone()))?;
        let info = data.info().map_err(|source| LiveError::MapInfo {
            name: m.name.clone(),
            source: Box::new(source),
        })?;
        Ok(RawMap {
            fd: data.fd().as_fd().as_raw_fd(),
            key_size: info.key_size() as usize,
            stride: (info.value_size() as usize).div_ceil(8) * 8,
            slots: match m.kind {
                MapKind::PercpuHash | MapKind::PercpuArray => possible_cpus(),
                _ => 1,
            },
        })
    }

    /// Map `m`'s keys, and the map they were read from.
    fn keys(&self, m: &MapEntry) -> Result<(RawMap, Vec<Vec<u8>>), LiveError> {
        let raw = self.raw_map(m)?;
        let keys = bpf::map_keys(raw.fd, raw.key_size).map_err(|source| LiveError::ReadMap {
            name: m.name.clone(),
            source,
        })?;
        Ok((raw, keys))
    }

    /// Map `m`'s raw entries: each key and its value per CPU.
    fn raw_entries(&self, m: &MapEntry) -> Result<Vec<RawEntry>, LiveError> {
        let (raw, keys) = self.keys(m)?;
        let mut out = Vec::new();
        for key in keys {
            let mut value = vec![0u8; raw.stride * raw.slots];
            if bpf::map_lookup(raw.fd, &key, &mut value).is_err() {
                continue; // deleted meanwhile
            }
            let per_cpu = value.chunks(raw.stride).map(<[u8]>::to_vec).collect();
            out.push((key, per_cpu));
        }
        Ok(out)
    }

    /// Every entry of map `m` removed (`clear(@m)`).
    pub fn clear(&self, m: &MapEntry) -> Result<(), LiveError> {
        let (raw, keys) = self.keys(m)?;
        for key in keys {
            bpf::map_delete(raw.fd, &key).map_err(|source| LiveError::WriteMap {
                name: m.name.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Every value of map `m` set to zero on every CPU, its keys kept
    /// (`zero(@m)`).
    pub fn zero(&self, m: &MapEntry) -> Result<(), LiveError> {
        let (raw, keys) = self.keys(m)?;
        let zeros = vec![0u8; raw.stride * raw.slots];
        for key in keys {
            bpf::map_update(raw.fd, &key, &zeros).map_err(|source| LiveError::WriteMap {
                name: m.name.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// The descriptor of the map with ELF symbol `symbol`, for tests
    /// that write entries as a program would.
    #[cfg(test)]
    pub(crate) fn map_fd(&self, symbol: &str) -> RawFd {
        let data = self.ebpf.map(symbol).and_then(map_data);
        data.map_or(-1, |d| d.fd().as_fd().as_raw_fd())
    }

    /// Map `m` read and decoded; stack frames named by `ksyms`.
    pub fn map(
        &self,
        manifest: &Manifest,
        m: &MapEntry,
        ksyms: &Ksyms,
    ) -> Result<MapDump, LiveError> {
        let raw = self.raw_entries(m)?;
        Ok(self.with_decoder(manifest, ksyms, |d| d.map(m, raw))?)
    }
}

impl Drop for Loaded {
    /// Nothing stays attached: every kprobe this object made goes with
    /// it (aya closes the programs and maps after).
    fn drop(&mut self) {
        self.detach_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_name_the_function_and_offset() {
        assert_eq!(target("kprobe/vfs_read"), ("vfs_read".into(), 0));
        assert_eq!(target("kretprobe/vfs_read"), ("vfs_read".into(), 0));
        assert_eq!(target("kprobe/vfs_read+0x10"), ("vfs_read".into(), 16));
        assert_eq!(target("kprobe/vfs_read+8"), ("vfs_read".into(), 8));
    }
}

/// In the host kernel (which may have no kprobes to attach to: then the
/// attach fails, and either way nothing stays attached): every program of
/// a fixture verified, per-CPU entries written from user space read back
/// and combined, an empty ring buffer drained.
#[cfg(all(test, target_arch = "x86_64"))]
mod host {
    use probecc::arch::Arch;
    use probecc_test_support::{require, Need};

    use super::*;
    use crate::decode::{Key, Value};

    fn fixture(name: &str) -> (Vec<u8>, Manifest) {
        let path = probecc_fixtures::spec_path(name);
        let compiled =
            probecc_fixtures::compile(&path, Arch::X86_64).expect("the fixture compiles");
        let object = probecc::elf::write(&compiled.object).expect("an object");
        (object, compiled.manifest)
    }

    #[test]
    #[ignore = "needs root"]
    fn a_fixture_loads_and_its_per_cpu_maps_read_back() {
        if !require(&[Need::Root]) {
            return;
        }
        let (object, manifest) = fixture("aggregations");
        let mut loaded = Loaded::load(&object).expect("the object loads");
        for p in &manifest.programs {
            loaded
                .verify(&p.name)
                .expect("the kernel's verifier accepts it");
        }
        let failed = loaded.attach_all(&manifest);
        assert_eq!(loaded.attached() + failed.len(), manifest.programs.len());
        loaded.detach_all();
        assert_eq!(loaded.attached(), 0);
        let count = manifest
            .maps
            .iter()
            .find(|m| m.name == "@count")
            .expect("@count");
        let fd = loaded.map_fd(&count.symbol);
        let cpus = possible_cpus();
        let mut key = [0u8; 16];
        key[..2].copy_from_slice(b"dd");
        let values: Vec<u8> = (1..=cpus as u64).flat_map(u64::to_ne_bytes).collect();
        bpf::map_update(fd, &key, &values).expect("a per-CPU value for every CPU");
        let dump = loaded
            .map(&manifest, count, &Ksyms::default())
            .expect("@count reads");
        let total = (cpus * (cpus + 1) / 2) as i128;
        assert_eq!(dump.entries.len(), 1);
        assert_eq!(dump.entries[0].key, [Key::Str("dd".into())]);
        assert_eq!(dump.entries[0].value, Value::Int(total));
        loaded.zero(count).expect("@count zeroes");
        let dump = loaded.map(&manifest, count, &Ksyms::default()).unwrap();
        assert_eq!(dump.entries[0].value, Value::Int(0));
        loaded.clear(count).expect("@count clears");
        let dump = loaded.map(&manifest, count, &Ksyms::default()).unwrap();
        assert!(dump.entries.is_empty());
    }

    /// BEGIN and END are raw tracepoint programs the session runs with
    /// BPF_PROG_TEST_RUN, their records acted on in order: BEGIN's
    /// printf, then END's printf, its print of the map, its clear.
    #[test]
    #[ignore = "needs root"]
    fn begin_and_end_run_in_the_host_kernel_and_their_records_print() {
        use crate::live::Session;
        use crate::output::Chunk;
        if !require(&[Need::Root]) {
            return;
        }
        let (object, manifest) = fixture("begin_end");
        let loaded = Loaded::load(&object).expect("the object loads");
        let mut session = Session::collecting(loaded, manifest, Ksyms::default());
        session.begin().expect("BEGIN runs");
        // The host kernel may have no kprobes: the attach then fails,
        // which changes nothing here.
        let _ = session.attach();
        session
            .poll()
            .expect("no interval program, nothing waiting");
        let out = session.output().expect("END runs");
        let texts: Vec<&Chunk> = out.chunks.iter().collect();
        assert_eq!(
            texts[..2],
            [
                &Chunk::Printf("counting vfs_open calls\n".into()),
                &Chunk::Printf("done counting\n".into())
            ]
        );
        assert!(matches!(&out.chunks[2], Chunk::Print(m) if m.name == "@opens"));
        assert_eq!(out.chunks.len(), 3);
        assert!(out.maps[0].entries.is_empty(), "END cleared @opens");
    }

    /// An object that loads a kernel symbol's address (`kaddr()`, a
    /// `.ksyms` extern) loads through aya with the address written in
    /// from /proc/kallsyms: BEGIN prints the name `ksym()` gives it back.
    #[test]
    #[ignore = "needs root"]
    fn kernel_symbol_addresses_are_resolved_from_kallsyms() {
        use crate::live::Session;
        use crate::output::Chunk;
        if !require(&[Need::Root]) {
            return;
        }
        let (object, manifest) = fixture("named_values");
        let kallsyms = std::fs::read_to_string("/proc/kallsyms").expect("kallsyms");
        let loaded = Loaded::load(&object).expect("the object loads");
        let mut session = Session::collecting(loaded, manifest, Ksyms::from_kallsyms(&kallsyms));
        session.begin().expect("BEGIN runs");
        let out = session.output().expect("the run ends");
        assert_eq!(
            out.chunks.first(),
            Some(&Chunk::Printf("vfs_read is vfs_read\n".into()))
        );
    }
}
