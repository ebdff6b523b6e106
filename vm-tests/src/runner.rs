//! runner: an object and its manifest made runnable ([`Program`]), and one
//! run over a stream of events ([`Session`]): the `begin` programs, every
//! event through the programs of its probe (in manifest order: kprobes,
//! and `interval` programs for an event naming one, `interval:s:1`), the
//! `end` programs, then the [`Output`].
//!
//! Per run of a program: the helpers' world gets the event (ids, comm,
//! time, CPU, its memory and kernel stack; a `begin` program runs at time
//! 0 with the defaults of an event, an `end` one after the last event),
//! the per-CPU map memory for its CPU is made and allowed, the ctx is
//! built (a kprobe's `pt_regs` for the arch, for fentry/fexit the u64
//! argument slots the manifest lays out, a raw tracepoint's zeroed
//! arguments), the program runs, and each ring-buffer record it submitted
//! is acted on in order by the runtime's `exec` (text, maps printed as
//! they are then, cleared or zeroed, `exit`), against this runner's
//! [`Offline`] host.

use std::collections::HashSet;

use probecc::arch::{Arch, KernelVersion};
use probecc::btf::kernel::KernelBtf;

use probecc::insn::Endian;
use probecc::lang::manifest::{Manifest, ProgramKind, TracingCtx};
use probecc::load::{relocate_object, OnMissing};
use probecc_runtime::decode::{Decoder, MapDump};
use probecc_runtime::exec::{self, Step};
use probecc_runtime::output::{Chunk, Output};
use probecc_test_support::XorShift64Star;

use crate::error::{Error, Result, Site};
use crate::events::{Event, MemValue, COMM_LEN, NS_STEP};
use crate::helpers::{self, Current, Fault, World};
use crate::kaddr::Kaddr;
use crate::maps::EmuMap;
use crate::object::Object;
use crate::offline::Offline;
use crate::regs::{self, ProbeKind, USER_REGS};
use crate::rewrite::{self, Lowered};
use crate::rodata::Rodata;
use crate::vm::{Engine, Vm};

/// How a run goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// The kernel the object was built for: syscall wrappers, pt_regs size;
    /// `None` is the arch's [`Arch::default_kernel`], as when compiling.
    pub kernel: Option<KernelVersion>,
    /// Instructions one run may spend in loops.
    pub budget: u32,
    /// Seed of `bpf_get_prandom_u32`.
    pub seed: u64,
    pub engine: Engine,
    /// Check every program with verifier-sim before running it, as a kernel
    /// would at load (on by default; off only to test the runner's own
    /// guards against programs no kernel would run).
    pub verify: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            kernel: None,
            budget: 1_000_000,
            seed: 1,
            engine: Engine::Interpreter,
            verify: true,
        }
    }
}

impl Options {
    /// The kernel release the object for `arch` was built for.
    pub fn kernel_for(&self, arch: Arch) -> KernelVersion {
        self.kernel.unwrap_or_else(|| arch.default_kernel())
    }
}

/// One program of the spec: the probe it serves and what runs it.
struct Route {
    probe: String,
    /// A kprobe-multi program's functions' probes (`kprobe:vfs_read`),
    /// any of which an event may name; empty for other programs.
    multi: HashSet<String>,
    program: usize,
    trigger: Trigger,
    /// An fentry/fexit program's argument slots (from the manifest).
    tracing: Option<TracingCtx>,
}

impl Route {
    /// Whether an event of `probe` runs this route's program (never a
    /// `begin` or `end` one).
    fn fires_on(&self, probe: &str) -> bool {
        !matches!(self.trigger, Trigger::Begin | Trigger::End)
            && (self.probe == probe || self.multi.contains(probe))
    }
}

/// What runs a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    /// An event of its probe, with that kind of `pt_regs`.
    Probe(ProbeKind),
    /// The start of the run.
    Begin,
    /// The end of the run.
    End,
    /// An event naming its probe (`interval:s:1`): one tick.
    Interval,
}

/// The ctx a raw tracepoint program gets: `u64 args[12]`, all zero.
const RAW_TP_ARGS: usize = 96;

/// A loaded object, rewritten for rbpf.
pub struct Program {
    pub arch: Arch,
    pub object: Object,
    pub manifest: Manifest,
    pub options: Options,
    lowered: Vec<Lowered>,
    routes: Vec<Route>,
    /// For each manifest map, its index among the object's maps.
    map_of: Vec<usize>,
    /// The runner's copy of `.rodata`, which the code's loads of
    /// read-only globals point into.
    rodata: Rodata,
}

/// `object` with its CO-RE relocations applied for `target` (a kernel's
/// BTF), as a loader applies them before the kernel sees the code, so that
/// verifier-sim and the run see what that kernel would. A field `target`
/// lacks is an error naming it. An object without relocations is returned
/// as it is.
pub fn relocate(object: &[u8], target: &KernelBtf) -> Result<Vec<u8>> {
    relocate_object(object, target, OnMissing::Error)
        .map(|(bytes, _)| bytes)
        .map_err(|e| Error::Object(probecc::error::chain(&e)))
}

/// verifier-sim on every program: what the kernel would refuse to load, the
/// runner refuses too. (rbpf's `set_verifier` hook takes a plain function
/// of the code alone, without the maps, arch and kernel the check needs, so
/// the check runs here, on the object as loaded, before the rewrite.)
fn verify(object: &[u8], arch: Arch, kernel: KernelVersion) -> Result<()> {
    let verdicts = verifier_sim::check_object(object, arch, kernel)
        .map_err(|e| Error::Object(e.to_string()))?;
    match verdicts.into_iter().find(|v| !v.accepted) {
        Some(v) => Err(Error::Rejected {
            section: v.section,
            insn: v.insn.unwrap_or(0),
            disasm: v.disasm.unwrap_or_default(),
            message: v.message.unwrap_or_default(),
        }),
        None => Ok(()),
    }
}

impl Program {
    /// An object's bytes and its manifest's JSON, for `arch`.
    pub fn load(object: &[u8], manifest: &str, arch: Arch, options: Options) -> Result<Program> {
        if options.verify {
            verify(object, arch, options.kernel_for(arch))?;
        }
        let object = Object::parse(object)?;
        if object.endian != arch.endian() {
            return Err(Error::Object(format!(
                "the object is {}, {arch} is {}",
                object.endian.name(),
                arch.endian().name()
            )));
        }
        let manifest = Manifest::from_json(manifest).map_err(|e| Error::Manifest(e.to_string()))?;
        if manifest.arch != arch.name() {
            return Err(Error::Manifest(format!(
                "it is for {}, not {arch}",
                manifest.arch
            )));
        }
        let rodata = Rodata::new(object.rodata.as_ref());
        let lowered = object
            .programs
            .iter()
            .map(|p| rewrite::lower(p, object.endian, options.budget, rodata.addr()))
            .collect::<Result<Vec<_>>>()?;
        let routes = routes(&object, &manifest)?;
        let map_of = manifest
            .maps
            .iter()
            .map(|m| {
                object.map_index(&m.symbol).ok_or_else(|| {
                    Error::Manifest(format!(
                        "map {} ({}) is not in the object",
                        m.name, m.symbol
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Program {
            arch,
            object,
            manifest,
            options,
            lowered,
            routes,
            map_of,
            rodata,
        })
    }

    /// Sets read-only globals before any run, as a loader sets them before
    /// load: `(symbol, bytes)`, each the size of its `.rodata` symbol.
    pub fn set_globals(&mut self, globals: &[(String, Vec<u8>)]) -> Result<()> {
        self.rodata.set(globals)
    }

    /// The probes events may name.
    pub fn probes(&self) -> Vec<&str> {
        let mut p: Vec<&str> = self
            .routes
            .iter()
            .filter(|r| matches!(r.trigger, Trigger::Probe(_) | Trigger::Interval))
            .map(|r| r.probe.as_str())
            .collect();
        p.dedup();
        p
    }

    pub fn session(&self) -> Result<Session<'_>> {
        Session::new(self)
    }

    /// BEGIN, every event, END.
    pub fn run(&self, events: &[Event]) -> Result<Output> {
        let mut s = self.session()?;
        s.begin()?;
        for ev in events {
            s.event(ev)?;
        }
        s.end()
    }
}

fn routes(object: &Object, manifest: &Manifest) -> Result<Vec<Route>> {
    manifest
        .programs
        .iter()
        .map(|p| {
            let program = object
                .programs
                .iter()
                .position(|o| o.symbol == p.name)
                .or_else(|| object.programs.iter().position(|o| o.section == p.section))
                .ok_or_else(|| {
                    Error::Manifest(format!("program {} is not in the object", p.name))
                })?;
            let trigger = match p.kind {
                ProgramKind::Begin => Trigger::Begin,
                ProgramKind::End => Trigger::End,
                ProgramKind::Interval { .. } => Trigger::Interval,
                ProgramKind::Kprobe
                | ProgramKind::Kretprobe
                | ProgramKind::Fentry
                | ProgramKind::Fexit => {
                    // The section says which program type runs: a
                    // `kprobe:` spec built as fentry (`--attach`) keeps
                    // its probe name.
                    let kind = match p.section.split_once('/') {
                        Some(("fentry", _)) => Some(ProbeKind::Fentry),
                        Some(("fexit", _)) => Some(ProbeKind::Fexit),
                        _ => ProbeKind::of(&p.probe),
                    }
                    .ok_or_else(|| {
                        Error::Manifest(format!("unknown probe type in `{}`", p.probe))
                    })?;
                    if matches!(kind, ProbeKind::Fentry | ProbeKind::Fexit) && p.tracing.is_none() {
                        return Err(Error::Manifest(format!(
                            "program {} is {}, and the manifest gives no argument slots",
                            p.name, p.section
                        )));
                    }
                    Trigger::Probe(kind)
                }
            };
            let prefix = p.probe.split_once(':').map_or("", |(k, _)| k);
            Ok(Route {
                probe: p.probe.clone(),
                multi: p
                    .functions
                    .iter()
                    .map(|f| format!("{prefix}:{f}"))
                    .collect(),
                program,
                trigger,
                tracing: p.tracing.clone(),
            })
        })
        .collect()
}

/// One run over events.
pub struct Session<'p> {
    prog: &'p Program,
    vms: Vec<Vm<'p>>,
    world: Option<Box<World>>,
    kaddr: Kaddr,
    chunks: Vec<Chunk>,
    exited: bool,
    host: Offline,
    /// The time of the last event.
    last_ns: u64,
}

impl<'p> Session<'p> {
    fn new(prog: &'p Program) -> Result<Session<'p>> {
        let vms = prog
            .lowered
            .iter()
            .zip(&prog.object.programs)
            .map(|(l, p)| {
                Vm::new(l, prog.options.engine).map_err(|reason| Error::Jit {
                    section: p.section.clone(),
                    reason,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let endian = prog.object.endian;
        let maps = prog
            .object
            .maps
            .iter()
            .map(|d| EmuMap::new(d, endian))
            .collect();
        let world = World {
            endian,
            split_address_space: prog.arch.info().split_address_space,
            maps,
            cur: Current::default(),
            rng: XorShift64Star::new(prog.options.seed),
            frame: 0,
            ctx: 0..0,
            ranges: Vec::new(),
            records: Vec::new(),
            fault: None,
            callbacks: crate::vm::callbacks(&prog.object.programs, &prog.lowered),
        };
        let mut s = Session {
            prog,
            vms,
            world: Some(Box::new(world)),
            kaddr: prog.object.ksyms.iter().fold(Kaddr::default(), |mut k, s| {
                k.addr(s);
                k
            }),
            chunks: Vec::new(),
            exited: false,
            host: Offline::default(),
            last_ns: 0,
        };
        let mut fixed: Vec<_> = s.world_mut().maps.iter().flat_map(EmuMap::ranges).collect();
        fixed.extend(prog.rodata.range());
        s.allow(fixed);
        s.ensure_cpu(0);
        Ok(s)
    }

    fn world_mut(&mut self) -> &mut World {
        self.world
            .get_or_insert_with(|| Box::new(unreachable_world()))
    }

    fn allow(&mut self, ranges: Vec<std::ops::Range<u64>>) {
        for r in ranges {
            for vm in &mut self.vms {
                vm.allow(r.clone());
            }
            self.world_mut().ranges.push(r);
        }
    }

    /// Per-CPU values for every CPU up to `cpu`: the CPUs a run has, as
    /// `bpf_map_lookup_percpu_elem` walks them.
    fn ensure_cpu(&mut self, cpu: u32) {
        let new: Vec<_> = self
            .world_mut()
            .maps
            .iter_mut()
            .flat_map(|m| (0..=cpu).flat_map(|c| m.ensure_cpu(c)).collect::<Vec<_>>())
            .collect();
        self.allow(new);
    }

    /// Runs the `begin` programs, in order, at time 0.
    pub fn begin(&mut self) -> Result<()> {
        let mut ev = Event::new("BEGIN");
        ev.ns = 0;
        self.run_all(Trigger::Begin, &ev)
    }

    /// Runs every program of `trigger` with `ev` as the current event.
    fn run_all(&mut self, trigger: Trigger, ev: &Event) -> Result<()> {
        let prog = self.prog;
        for r in prog.routes.iter().filter(|r| r.trigger == trigger) {
            self.run_one(ev, r, 0, 0, vec![])?;
        }
        Ok(())
    }

    /// Runs `ev` through every program of its probe. After an `exit()`,
    /// events are ignored.
    pub fn event(&mut self, ev: &Event) -> Result<()> {
        self.last_ns = self.last_ns.max(ev.ns);
        self.host
            .files
            .extend(ev.files.iter().map(|(p, t)| (p.clone(), t.clone())));
        if self.exited {
            return Ok(());
        }
        let routes: Vec<&Route> = self
            .prog
            .routes
            .iter()
            .filter(|r| r.fires_on(&ev.probe))
            .collect();
        if routes.is_empty() {
            return Err(Error::Event {
                line: ev.line,
                reason: format!(
                    "probe `{}` is not one of the spec's attach points ({})",
                    ev.probe,
                    self.prog.probes().join(", ")
                ),
            });
        }
        if ev.cpu >= 4096 {
            return Err(Error::Event {
                line: ev.line,
                reason: format!("cpu {} is beyond the 4096 the runner emulates", ev.cpu),
            });
        }
        self.ensure_cpu(ev.cpu);
        let Trigger::Probe(kind) = routes[0].trigger else {
            for r in routes {
                self.run_one(ev, r, 0, 0, vec![])?;
            }
            return Ok(());
        };
        let (func, offset) = attach_function(self.prog.arch, &ev.probe, kind);
        let func_ip = self.kaddr.addr(&func);
        let ip = func_ip + offset;
        let stack = match &ev.kstack {
            Some(frames) => frames.iter().map(|f| self.kaddr.addr(f)).collect(),
            None => vec![ip],
        };
        for r in routes {
            self.run_one(ev, r, func_ip, ip, stack.clone())?;
        }
        Ok(())
    }

    fn run_one(
        &mut self,
        ev: &Event,
        route: &Route,
        func_ip: u64,
        ip: u64,
        stack: Vec<u64>,
    ) -> Result<()> {
        let prog = self.prog;
        let image = match route.trigger {
            Trigger::Probe(kind) => match &route.tracing {
                Some(t) => {
                    let args = tracing_args(ev, t)?;
                    let slots: Vec<usize> = t.args.iter().map(|a| a.slot).collect();
                    regs::build_tracing(prog.arch, kind, &args, &slots, t.ret_slot, ev.retval)
                }
                None => {
                    if !ev.named_args.is_empty() {
                        return Err(Error::Event {
                            line: ev.line,
                            reason: "arguments by name need an fentry or fexit program".into(),
                        });
                    }
                    let limit = if kind.syscall() {
                        prog.arch.regs().syscall.args.len()
                    } else {
                        prog.arch.regs().args.len()
                    };
                    if ev.args.len() > limit && !kind.returns() {
                        return Err(Error::Event {
                            line: ev.line,
                            reason: format!(
                                "{} arguments, but {} passes {limit} in registers to {} probes",
                                ev.args.len(),
                                prog.arch,
                                if kind.syscall() { "syscall" } else { "kprobe" }
                            ),
                        });
                    }
                    regs::build(prog.arch, prog.options.kernel_for(prog.arch), kind, ev, ip)
                }
            },
            _ => regs::Image {
                regs: vec![0u8; RAW_TP_ARGS],
                user_regs: None,
            },
        };
        let (mut regs, user_regs) = (image.regs, image.user_regs);
        let endian = prog.object.endian;
        let mut world = self
            .world
            .take()
            .unwrap_or_else(|| Box::new(unreachable_world()));
        world.cur = current(ev, endian, user_regs, func_ip, stack);
        world.ctx = regs.as_ptr() as u64..regs.as_ptr() as u64 + regs.len() as u64;
        world.fault = None;
        helpers::enter(world);
        let result = self.vms[route.program].run(&mut regs);
        let mut world = helpers::leave().unwrap_or_else(|| Box::new(unreachable_world()));
        let fault = world.fault.take();
        let records = std::mem::take(&mut world.records);
        world.maps.iter_mut().for_each(EmuMap::drain_ring);
        self.world = Some(world);
        let code = &prog.object.programs[route.program];
        let lowered = &prog.lowered[route.program];
        if let Err(e) = result {
            let index = e
                .slot
                .and_then(|s| lowered.origin.get(s).copied().flatten());
            return Err(match index {
                Some(i) => Error::Fault {
                    line: ev.line,
                    site: rewrite::site(code, i),
                    reason: e.reason,
                },
                None => Error::Run {
                    line: ev.line,
                    section: code.section.clone(),
                    reason: e.reason,
                },
            });
        }
        if let Some(f) = fault {
            return Err(fault_error(ev.line, code, f, prog.options.budget));
        }
        self.host.ns = ev.ns;
        for (map, bytes) in records {
            self.record(ev.line, map, &bytes)?;
        }
        Ok(())
    }

    /// A ring-buffer record of the output ring, acted on; after `exit()`,
    /// none is.
    fn record(&mut self, line: usize, map: usize, bytes: &[u8]) -> Result<()> {
        let prog = self.prog;
        let m = &prog.manifest;
        let is_output = m.ringbuf.as_deref() == Some(prog.object.maps[map].name.as_str());
        if !is_output || self.exited {
            return Ok(());
        }
        let failed = |e: String| Error::Run {
            line,
            section: m.ringbuf.clone().unwrap_or_default(),
            reason: e,
        };
        let step = self
            .with_decoder(|d| exec::step(bytes, d))
            .map_err(|e| failed(e.to_string()))?;
        match step {
            Step::Print(c) => self.chunks.push(c),
            Step::PrintMap { map, top, div } => {
                let dump = self.dump(map)?;
                self.chunks.push(Chunk::Print(dump.shown(top, div)));
            }
            Step::Clear(map) => {
                let i = prog.map_of[map];
                self.world_mut().maps[i].clear();
            }
            Step::Zero(map) => {
                let i = prog.map_of[map];
                self.world_mut().maps[i].zero();
            }
            Step::Exit(_) => self.exited = true,
        }
        Ok(())
    }

    /// `f` with the decoder of this session's maps and kernel addresses.
    fn with_decoder<T>(&self, f: impl FnOnce(&Decoder) -> T) -> T {
        let prog = self.prog;
        let maps = self.world.as_ref().map(|w| &w.maps[..]).unwrap_or(&[]);
        let stacks = |name: &str, id: u32| {
            let map = prog.object.map_index(name).and_then(|i| maps.get(i))?;
            map.stack(id).map(<[u64]>::to_vec)
        };
        let ksyms = self.kaddr.symbols();
        f(&Decoder {
            manifest: &prog.manifest,
            endian: prog.object.endian,
            ksyms: &ksyms,
            stacks: &stacks,
            host: &self.host,
        })
    }

    /// Manifest map `i`, decoded.
    fn dump(&self, i: usize) -> Result<MapDump> {
        let entry = &self.prog.manifest.maps[i];
        let maps = self.world.as_ref().map(|w| &w.maps[..]).unwrap_or(&[]);
        let Some(map) = maps.get(self.prog.map_of[i]) else {
            return Ok(MapDump::empty(entry));
        };
        Ok(self.with_decoder(|d| d.map(entry, map.entries()))?)
    }

    /// Runs the `end` programs (after an `exit()` too), after the last
    /// event, and reports.
    pub fn end(mut self) -> Result<Output> {
        self.exited = false;
        let mut ev = Event::new("END");
        ev.ns = self.last_ns.saturating_add(NS_STEP);
        self.run_all(Trigger::End, &ev)?;
        let mut maps: Vec<MapDump> = (0..self.prog.manifest.maps.len())
            .map(|i| self.dump(i))
            .collect::<Result<_>>()?;
        maps.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Output {
            maps,
            chunks: self.chunks,
        })
    }
}

/// A world that only exists if a run lost the real one (a panic in rbpf);
/// it keeps the session from crashing on the next call.
fn unreachable_world() -> World {
    World {
        endian: Endian::Little,
        split_address_space: false,
        maps: Vec::new(),
        cur: Current::default(),
        rng: XorShift64Star::new(1),
        frame: 0,
        ctx: 0..0,
        ranges: Vec::new(),
        records: Vec::new(),
        fault: None,
        callbacks: Vec::new(),
    }
}

/// The kernel function a probe sits on and the offset into it.
fn attach_function(arch: Arch, probe: &str, kind: ProbeKind) -> (String, u64) {
    let target = probe.split_once(':').map_or(probe, |(_, t)| t);
    let (name, off) = match target.split_once('+') {
        Some((n, o)) => (n, o.parse().unwrap_or(0)),
        None => (target, 0),
    };
    if kind.syscall() {
        (arch.syscall_symbol(name), 0)
    } else {
        (name.to_string(), off)
    }
}

/// The arguments of `ev` in order for a tracing program: by position
/// (registers beyond the function's arguments, as a kprobe-style event
/// gives them, are not part of its context), or by name placed at the
/// manifest's positions (the rest 0).
fn tracing_args(ev: &Event, t: &TracingCtx) -> Result<Vec<u64>> {
    let bad = |reason: String| Error::Event {
        line: ev.line,
        reason,
    };
    let mut args = ev.args.clone();
    args.resize(t.args.len(), 0);
    for (name, v) in &ev.named_args {
        let i = t.args.iter().position(|a| a.name == *name).ok_or_else(|| {
            let names: Vec<&str> = t.args.iter().map(|a| a.name.as_str()).collect();
            bad(format!(
                "the function has no argument `{name}` (its arguments: {})",
                names.join(", ")
            ))
        })?;
        args[i] = *v;
    }
    Ok(args)
}

/// The helpers' view of `ev`.
fn current(
    ev: &Event,
    endian: Endian,
    user_regs: Option<Vec<u8>>,
    func_ip: u64,
    stack: Vec<u64>,
) -> Current {
    let mut comm = [0u8; COMM_LEN];
    let n = ev.comm.len().min(COMM_LEN - 1);
    comm[..n].copy_from_slice(&ev.comm.as_bytes()[..n]);
    let mut regions: Vec<(u64, Vec<u8>)> = ev
        .mem
        .iter()
        .map(|(addr, v)| {
            let bytes = match v {
                MemValue::Bytes(b) => b.clone(),
                MemValue::Ints { width, values } => values
                    .iter()
                    .flat_map(|&x| endian.uint_bytes(x, *width))
                    .collect(),
            };
            (*addr, bytes)
        })
        .collect();
    if let Some(u) = user_regs {
        regions.push((USER_REGS, u));
    }
    Current {
        pid: ev.pid,
        tid: ev.tid,
        uid: ev.uid,
        gid: ev.gid,
        comm,
        ns: ev.ns,
        cpu: ev.cpu,
        mem: merge(regions),
        stack,
        func_ip,
        task: ev.task,
        cgroup: ev.cgroup,
    }
}

/// Non-overlapping regions; adjacent ones joined, later bytes win.
fn merge(mut regions: Vec<(u64, Vec<u8>)>) -> std::collections::BTreeMap<u64, Vec<u8>> {
    regions.sort_by_key(|(a, _)| *a);
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    for (addr, bytes) in regions {
        match out.last_mut() {
            Some((start, prev)) if addr <= *start + prev.len() as u64 => {
                let off = (addr - *start) as usize;
                let end = off + bytes.len();
                if prev.len() < end {
                    prev.resize(end, 0);
                }
                prev[off..end].copy_from_slice(&bytes);
            }
            _ => out.push((addr, bytes)),
        }
    }
    out.into_iter().collect()
}

fn fault_error(line: usize, code: &crate::object::ProgramCode, f: Fault, budget: u32) -> Error {
    match f {
        Fault::Budget { at } => Error::Fault {
            line,
            site: rewrite::site(code, at),
            reason: format!(
                "the run's budget of {budget} instructions ran out in the loop closing here"
            ),
        },
        Fault::Helper { helper, reason } => {
            let calls: Vec<usize> = code
                .insns
                .iter()
                .enumerate()
                .filter(|(_, x)| x.is_call() && x.src == 0 && x.imm == helper.id())
                .map(|(i, _)| i)
                .collect();
            let site = calls.first().map_or_else(
                || Site {
                    section: code.section.clone(),
                    index: 0,
                    text: "?".into(),
                },
                |&i| rewrite::site(code, i),
            );
            let also = if calls.len() > 1 {
                format!(" (one of the calls at instructions {calls:?})")
            } else {
                String::new()
            };
            Error::Fault {
                line,
                site,
                reason: format!("{helper}: {reason}{also}"),
            }
        }
    }
}
