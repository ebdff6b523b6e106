//! One object loaded through aya: maps created with the globals a
//! loader sets first, programs verified and attached by name and section,
//! detached on demand and on drop (kprobe-multi programs through
//! [`multi`](super::multi), one link each where the kernel has it, else
//! one attachment per function, and why); programs that no event triggers run
//! once on demand (`BPF_PROG_TEST_RUN`); the ring buffer's records and the
//! maps read back and decoded by the manifest, and maps cleared or zeroed
//! as `clear()` and `zero()` do.

use std::collections::{BTreeSet, HashMap};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use aya::maps::{Map, MapData, RingBuf, StackTraceMap};
use aya::programs::{KProbe, ProgramError, RawTracePoint, RawTracePointRunOptions, TestRun};
use aya::{Btf, Ebpf, EbpfLoader, VerifierLogLevel};
use probecc::lang::manifest::{Manifest, MapEntry};
use probecc::maps::MapKind;

use super::prepare::{has_core_relocations, resolve_ksyms};
use super::tracing::{self, is_tracing, Link};
use super::{bpf, kernel, multi, possible_cpus, LiveError, NATIVE};

mod multi_link;
use crate::decode::{Decoder, MapDump, RawEntry};
use crate::ksyms::Ksyms;

/// An object in the kernel, and the kprobes its programs are attached to.
pub struct Loaded {
    ebpf: Ebpf,
    /// Programs loaded (verified) so far.
    verified: BTreeSet<String>,
    /// Every attachment, by program.
    links: Vec<(String, Link)>,
    /// The object's programs' ELF sections, by name: an fentry/fexit
    /// program is loaded for the function its section names.
    sections: Vec<(String, String)>,
    /// The kernel's BTF, read once: CO-RE and tracing programs need it.
    kernel_btf: Option<Btf>,
    /// The object as compiled (CO-RE relocations applied), which
    /// kprobe-multi programs are loaded from.
    object: Vec<u8>,
    /// kprobe-multi programs loaded for the kprobe-multi link, by name.
    multi_progs: HashMap<String, OwnedFd>,
    /// kprobe-multi links: program, link, how many functions.
    multi_links: Vec<(String, OwnedFd, usize)>,
    /// kprobe-multi programs attached one function at a time instead,
    /// and why.
    fallbacks: Vec<(String, String)>,
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
    /// How much the verifier writes of a program it refuses.
    pub verifier_log: VerifierLog,
}

/// The verifier log a refused program comes back with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VerifierLog {
    /// Every instruction it walked, the state at each branch, its
    /// error and statistics (libbpf's and aya's default).
    #[default]
    Full,
    /// Its error and statistics alone. A refused program that walks
    /// a million instructions writes tens of megabytes at `Full`, and
    /// the loader verifies it again for each larger buffer it tries.
    Summary,
}

impl VerifierLog {
    fn level(self) -> VerifierLogLevel {
        match self {
            VerifierLog::Full => VerifierLogLevel::DEBUG | VerifierLogLevel::STATS,
            VerifierLog::Summary => VerifierLogLevel::STATS,
        }
    }
}

/// `kprobe/FUNC[+OFF]`, `kretprobe/FUNC`, `fentry/FUNC` or `fexit/FUNC` →
/// (FUNC, OFF).
pub fn target(section: &str) -> (String, u64) {
    let rest = section.split_once('/').map_or(section, |(_, r)| r);
    match rest.split_once('+') {
        Some((f, off)) => (f.to_string(), parse_offset(off)),
        None => (rest.to_string(), 0),
    }
}

/// Whether a program's ELF section makes it a kprobe, kretprobe (a kprobe-multi
/// one too), fentry or fexit program, which attaching places (others run on demand).
pub fn is_probe(section: &str) -> bool {
    section.starts_with("kprobe/")
        || section.starts_with("kretprobe/")
        || multi::is_multi(section)
        || is_tracing(section)
}

fn parse_offset(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap_or(0),
        None => s.parse().unwrap_or(0),
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
        // Every program and attachment is a descriptor; where the limit
        // cannot be raised, the kernel names the shortage at the load.
        let _ = super::limits::raise_open_files();
        let resolved = resolve_ksyms(object)?;
        let object = resolved.as_deref().unwrap_or(object);
        let sections: Vec<(String, String)> = probecc::elf::read(object)
            .map(|o| {
                o.programs
                    .into_iter()
                    .map(|f| (f.name, f.section))
                    .collect()
            })
            .unwrap_or_default();
        let tracing = sections.iter().any(|(_, s)| is_tracing(s));
        let kernel_btf = if tracing || has_core_relocations(object) {
            Some(Btf::from_sys_fs().map_err(|e| LiveError::NoKernelBtf(Box::new(e)))?)
        } else {
            None
        };
        let mut loader = EbpfLoader::new();
        loader.btf(kernel_btf.as_ref());
        loader.verifier_log_level(options.verifier_log.level());
        for (name, bytes) in &options.globals {
            loader.override_global(name.as_str(), bytes.as_slice(), true);
        }
        let ebpf = loader
            .load(&multi::for_aya(object))
            .map_err(|e| LiveError::Load(Box::new(e)))?;
        Ok(Loaded {
            ebpf,
            verified: BTreeSet::new(),
            links: Vec::new(),
            sections,
            kernel_btf,
            object: object.to_vec(),
            multi_progs: HashMap::new(),
            multi_links: Vec::new(),
            fallbacks: Vec::new(),
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
        let func = self
            .sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| target(s).0);
        let prog = self
            .ebpf
            .program_mut(name)
            .ok_or_else(|| LiveError::NoProgram(name.to_string()))?;
        if let (Some(func), Some(btf)) = (&func, &self.kernel_btf) {
            if let Some(loaded) = tracing::load(prog, func, btf) {
                loaded.map_err(|e| rejection(name, e))?;
                self.verified.insert(name.to_string());
                return Ok(());
            }
        }
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
        manifest.programs.iter().try_for_each(|p| {
            if multi::is_multi(&p.section) {
                self.verify_multi(&p.name)
            } else {
                self.verify(&p.name)
            }
        })
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
        let (func, offset) = target(section);
        let failed = |source: ProgramError| LiveError::Attach {
            name: name.to_string(),
            func: func.clone(),
            offset,
            source: Box::new(source),
        };
        let link = if is_tracing(section) {
            // The trampoline was chosen when the kernel loaded the program.
            let prog = self.ebpf.program_mut(name);
            prog.and_then(tracing::attach)
                .ok_or_else(|| LiveError::Kind(name.to_string()))?
                .map_err(failed)?
        } else {
            if !kernel::has_kprobes() {
                return Err(LiveError::NoKprobes);
            }
            Link::Kprobe(self.kprobe(name)?.attach(&func, offset).map_err(failed)?)
        };
        self.links.push((name.to_string(), link));
        Ok(())
    }

    /// Every kprobe and kretprobe of the manifest attached (the programs
    /// it runs itself are not); the ones that failed, by section, with why.
    pub fn attach_all(&mut self, manifest: &Manifest) -> Vec<(String, LiveError)> {
        let mut failed = Vec::new();
        for p in &manifest.programs {
            if multi::is_multi(&p.section) {
                match multi::functions_here(&p.section, &p.functions) {
                    Ok(funcs) => failed.extend(self.attach_multi(&p.name, &p.section, &funcs)),
                    Err(e) => failed.push((p.section.clone(), e.into())),
                }
            } else if is_probe(&p.section) {
                if let Err(e) = self.attach(&p.name, &p.section) {
                    failed.push((p.section.clone(), e));
                }
            }
        }
        failed
    }

    /// How many attachments are in place (a kprobe-multi link is one).
    pub fn attached(&self) -> usize {
        self.links.len() + self.multi_links.len()
    }

    /// Every attachment undone; the programs stay loaded.
    pub fn detach_all(&mut self) {
        // Closing a kprobe-multi link detaches it.
        self.multi_links.clear();
        for (name, link) in std::mem::take(&mut self.links) {
            if let Some(p) = self.ebpf.program_mut(&name) {
                tracing::detach(p, link);
            }
        }
    }

    /// How many times the kernel ran the object's programs (with BPF run
    /// statistics on), the kprobe-multi programs aya does not hold
    /// included.
    pub fn run_count(&self) -> u64 {
        let aya: u64 = self
            .ebpf
            .programs()
            .filter_map(|(_, p)| p.info().ok())
            .map(|i| i.run_count())
            .sum();
        let multi: u64 = self
            .multi_progs
            .values()
            .filter_map(|fd| bpf::run_count(fd).ok())
            .sum();
        aya + multi
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
        self.fd_of(symbol).unwrap_or(-1)
    }

    /// The descriptor of the map with ELF symbol `symbol`.
    fn fd_of(&self, symbol: &str) -> Option<RawFd> {
        // The ring buffer leaves aya's maps once read (`ring`), which a
        // trace does before it attaches.
        if let Some((name, ring)) = &self.ring {
            if name == symbol {
                return Some(ring.as_raw_fd());
            }
        }
        let data = self.ebpf.map(symbol).and_then(map_data);
        data.map(|d| d.fd().as_fd().as_raw_fd())
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

/// kprobe-multi programs in the host kernel: loaded for the link by the
/// runtime itself (aya 0.14 cannot), attached by one link where the
/// kernel has `CONFIG_FPROBE`, else one function at a time, saying why.
#[cfg(all(test, target_arch = "x86_64"))]
mod host_multi {
    use probecc::arch::Arch;
    use probecc::lang::CompileOptions;
    use probecc_test_support::{require, Need};

    use super::*;

    /// `src` compiled with kprobe-multi programs over `symbols`, loaded.
    fn multi(src: &str, symbols: &[&str]) -> (Manifest, Loaded) {
        let opts = CompileOptions {
            symbols: Some(symbols.iter().map(|s| s.to_string()).collect()),
            multi: true,
            ..CompileOptions::default()
        };
        let compiled = probecc::lang::compile(src, Arch::X86_64, &opts).expect("compiles");
        let object = probecc::elf::write(&compiled.object).expect("an object");
        let loaded = Loaded::load(&object).expect("aya reads the renamed sections");
        (compiled.manifest, loaded)
    }

    #[test]
    #[ignore = "needs root"]
    fn a_kprobe_multi_program_loads_for_the_link_and_attaches_or_says_why_not() {
        if !require(&[Need::Root]) {
            return;
        }
        let src = "kprobe:vfs_read* { @[func] = count(); }";
        let (manifest, mut loaded) = multi(src, &["vfs_read", "vfs_readv", "vfs_write"]);
        assert_eq!(manifest.programs[0].section, "kprobe.multi/vfs_read*");
        loaded
            .verify_all(&manifest)
            .expect("the verifier accepts it");
        let name = &manifest.programs[0].name;
        assert!(
            loaded.multi_progs.contains_key(name),
            "loaded for the kprobe-multi link: {:?}",
            loaded.fallbacks()
        );
        let failed = loaded.attach_all(&manifest);
        let (links, _) = loaded.multi_links();
        if links == 0 {
            // No fprobe here: the link was refused, and that is said.
            assert!(
                loaded
                    .fallbacks()
                    .iter()
                    .any(|(p, why)| p == name && why.starts_with("the kprobe-multi link: ")),
                "{:?}",
                loaded.fallbacks()
            );
        } else {
            assert_eq!(links, 1);
            assert!(failed.is_empty(), "{failed:?}");
        }
        loaded.detach_all();
        assert_eq!(loaded.attached(), 0);
    }

    #[test]
    #[ignore = "needs root"]
    fn a_kprobe_multi_program_that_prints_loads_after_its_ring_buffer_is_read() {
        if !require(&[Need::Root]) {
            return;
        }
        // A trace reads the ring buffer before it attaches, which takes
        // the map out of aya's: the link's own load must still find it.
        let src = "kprobe:vfs_read, kprobe:vfs_write { printf(\"%d\\n\", pid); }";
        let (manifest, mut loaded) = multi(src, &["vfs_read", "vfs_write"]);
        let ring = manifest
            .ringbuf
            .clone()
            .expect("printf needs the ring buffer");
        loaded.ring_fd(&ring).expect("the ring buffer");
        loaded
            .verify_all(&manifest)
            .expect("the verifier accepts it");
        let _ = loaded.attach_all(&manifest);
        assert!(
            !loaded
                .fallbacks()
                .iter()
                .any(|(_, why)| why.contains("was not created")),
            "{:?}",
            loaded.fallbacks()
        );
        loaded.detach_all();
    }
}
