//! One fixture end to end through aya: load the object, attach every
//! program to its kprobe or kretprobe (the kprobe PMU), run the workload,
//! read the maps and the printf ring buffer, check the expectations.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

use aya::maps::{Map, RingBuf};
use aya::programs::KProbe;
use aya::{Btf, Ebpf, EbpfLoader};
use probecc::error::chain;
use probecc::lang::manifest::Manifest;
use probecc_guest::protocol::{FixturePlan, Report};
use serde_json::{json, Value};

use crate::expect::{self, Outcome};
use crate::ksyms::Ksyms;
use crate::{maps, printf, workload};

/// Runs one fixture and returns its report line.
pub fn run(f: &FixturePlan, ksyms: &Ksyms, cpus: usize) -> Report {
    let mut r = Run::new(f);
    if let Err(e) = r.go(f, ksyms, cpus) {
        r.errors.push(e);
    }
    r.report()
}

/// What a fixture run gathers for its report.
struct Run {
    name: String,
    loaded: bool,
    attached: usize,
    programs: usize,
    met: usize,
    expectations: usize,
    errors: Vec<String>,
    not_attached: Vec<String>,
    maps: Value,
}

impl Run {
    fn new(f: &FixturePlan) -> Run {
        Run {
            name: f.name.clone(),
            loaded: false,
            attached: 0,
            programs: 0,
            met: 0,
            expectations: f.expect.len(),
            errors: Vec::new(),
            not_attached: Vec::new(),
            maps: Value::Null,
        }
    }

    fn report(self) -> Report {
        Report::Fixture {
            ok: self.errors.is_empty() && self.loaded && self.met == self.expectations,
            name: self.name,
            loaded: self.loaded,
            attached: self.attached,
            programs: self.programs,
            expectations_met: self.met,
            expectations: self.expectations,
            errors: self.errors,
            not_attached: self.not_attached,
            maps: self.maps,
        }
    }

    fn go(&mut self, f: &FixturePlan, ksyms: &Ksyms, cpus: usize) -> Result<(), String> {
        let text =
            std::fs::read_to_string(&f.manifest).map_err(|e| format!("{}: {e}", f.manifest))?;
        let manifest = Manifest::from_json(&text).map_err(|e| format!("{}: {e}", f.manifest))?;
        let mut ebpf = load(&f.object)?;
        self.loaded = true;
        self.programs = manifest.programs.len();
        self.attach_all(&mut ebpf, &manifest, f);
        let mut pid = 0;
        for line in &f.workload {
            let ran = workload::spawn(line, Duration::from_secs(60))
                .map_err(|e| format!("workload `{line}`: {e}"))?;
            pid = ran.pid;
        }
        let printf = ring_buffer(&mut ebpf, &manifest);
        let decoded = read_maps(&ebpf, &manifest, ksyms, cpus, &mut self.errors);
        self.maps = maps_json(&decoded, &printf);
        if f.unsupported.is_some() {
            // Declared not to work on this arch: nothing to expect.
            self.expectations = 0;
            return Ok(());
        }
        let outcome = Outcome {
            maps: &decoded,
            printf: &printf,
            pid,
            uid: 0,
        };
        for e in &f.expect {
            match expect::check(e, &outcome) {
                Ok(()) => self.met += 1,
                Err(why) => self.errors.push(why),
            }
        }
        Ok(())
    }

    /// Loads and attaches every program of the manifest; a program that
    /// fails is an error unless the plan says the fixture is unsupported
    /// here.
    fn attach_all(&mut self, ebpf: &mut Ebpf, manifest: &Manifest, f: &FixturePlan) {
        for p in &manifest.programs {
            match attach(ebpf, &p.name, &p.section) {
                Ok(()) => self.attached += 1,
                Err(e) if f.unsupported.is_some() => {
                    self.not_attached.push(format!("{}: {e}", p.section));
                }
                Err(e) => self.errors.push(format!("{}: {e}", p.section)),
            }
        }
    }
}

/// Loads an object with aya. Only an object with CO-RE relocations (one
/// that reads kernel structs) has aya parse the kernel's BTF to relocate it
/// against: that costs seconds under emulation, and a kernel without BTF
/// cannot load such an object at all (said as such).
pub fn load(path: &str) -> Result<Ebpf, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let kernel_btf = if has_core_relocations(&bytes) {
        let btf = Btf::from_sys_fs().map_err(|e| {
            format!(
                "{path} reads kernel structs (CO-RE relocations), and this kernel has no BTF to relocate them against: /sys/kernel/btf/vmlinux: {}",
                chain(&e)
            )
        })?;
        Some(btf)
    } else {
        None
    };
    EbpfLoader::new()
        .btf(kernel_btf.as_ref())
        .load(&bytes)
        .map_err(|e| format!("aya load {path}: {}", chain(&e)))
}

/// Whether the object's `.BTF.ext` holds CO-RE relocations.
fn has_core_relocations(bytes: &[u8]) -> bool {
    probecc::elf::read(bytes)
        .ok()
        .and_then(|obj| probecc::load::object_relocations(&obj).ok().flatten())
        .is_some_and(|(_, sections)| !sections.is_empty())
}

/// `kprobe/FUNC[+OFF]` or `kretprobe/FUNC` → (FUNC, OFF).
pub fn target(section: &str) -> (String, u64) {
    let rest = section.split_once('/').map_or(section, |(_, r)| r);
    match rest.split_once('+') {
        Some((f, off)) => (f.to_string(), parse_offset(off)),
        None => (rest.to_string(), 0),
    }
}

fn parse_offset(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap_or(0),
        None => s.parse().unwrap_or(0),
    }
}

/// Loads program `name` and attaches it where `section` says; the link
/// stays owned by the `Ebpf` (detached when it drops).
pub fn attach(ebpf: &mut Ebpf, name: &str, section: &str) -> Result<(), String> {
    let prog = ebpf
        .program_mut(name)
        .ok_or_else(|| format!("aya finds no program {name}"))?;
    let kp: &mut KProbe = prog
        .try_into()
        .map_err(|e| format!("{name}: {}", chain(&e)))?;
    kp.load()
        .map_err(|e| format!("aya load {name}: {}", chain(&e)))?;
    let (func, off) = target(section);
    kp.attach(&func, off)
        .map(|_| ())
        .map_err(|e| format!("aya attach {func}+{off}: {}", chain(&e)))
}

/// The descriptor of a map aya holds.
pub fn map_fd(m: &Map) -> Option<RawFd> {
    let d = match m {
        Map::HashMap(d)
        | Map::PerCpuHashMap(d)
        | Map::LruHashMap(d)
        | Map::PerCpuLruHashMap(d)
        | Map::Array(d)
        | Map::PerCpuArray(d)
        | Map::StackTraceMap(d)
        | Map::RingBuf(d) => d,
        _ => return None,
    };
    Some(d.fd().as_fd().as_raw_fd())
}

pub(crate) fn read_maps(
    ebpf: &Ebpf,
    manifest: &Manifest,
    ksyms: &Ksyms,
    cpus: usize,
    errors: &mut Vec<String>,
) -> BTreeMap<String, maps::Entries> {
    let stacks = manifest
        .stack_map
        .as_deref()
        .and_then(|s| ebpf.map(s))
        .and_then(map_fd);
    let mut out = BTreeMap::new();
    for m in &manifest.maps {
        let Some(fd) = ebpf.map(&m.symbol).and_then(map_fd) else {
            errors.push(format!("aya has no map {}", m.symbol));
            continue;
        };
        match maps::read(fd, m, manifest, stacks, ksyms, cpus) {
            Ok(entries) => {
                out.insert(m.name.clone(), entries);
            }
            Err(e) => errors.push(format!("reading {}: {e}", m.name)),
        }
    }
    out
}

/// Every printf record waiting in the ring buffer, rendered.
pub(crate) fn ring_buffer(ebpf: &mut Ebpf, manifest: &Manifest) -> Vec<String> {
    let Some(name) = &manifest.ringbuf else {
        return Vec::new();
    };
    let Some(Ok(mut rb)) = ebpf.take_map(name).map(RingBuf::try_from) else {
        return vec![format!("<ring buffer {name} unavailable>")];
    };
    let mut lines = Vec::new();
    while let Some(item) = rb.next() {
        lines.push(printf::render(&item, manifest).unwrap_or_else(|| "<unknown format>".into()));
        if lines.len() > 10_000 {
            break;
        }
    }
    lines
}

/// The decoded maps (at most 20 entries each) and printf lines, for the log.
fn maps_json(decoded: &BTreeMap<String, maps::Entries>, printf: &[String]) -> Value {
    let mut obj = serde_json::Map::new();
    for (name, entries) in decoded {
        let shown: Vec<Value> = entries
            .iter()
            .take(20)
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        obj.insert(name.clone(), Value::Array(shown));
    }
    if !printf.is_empty() {
        obj.insert(
            "printf".into(),
            json!(printf.iter().take(20).collect::<Vec<_>>()),
        );
    }
    Value::Object(obj)
}
