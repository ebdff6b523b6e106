//! A live run, as bpftrace runs a script and as the manifest says a
//! runner makes it: the `begin` programs run once (`BPF_PROG_TEST_RUN`)
//! before any probe can fire; then, while the caller keeps the probes
//! attached, each `interval` program run at its period and every
//! ring-buffer record acted on as it arrives ([`Session::wait`]); at the
//! end the probes detached, the records still waiting acted on, the `end`
//! programs run and their records acted on, and every map read. A record
//! is acted on by the runtime's `exec`: its text shown, a map printed as
//! it is then, cleared or zeroed, `exit()` ending the run (END still
//! runs). What is shown goes to a [`Sink`]: a [`Printer`] writes
//! bpftrace's text or JSON lines as it happens (flushed after each
//! batch); a `Vec<Chunk>` keeps it for a caller that judges the run.

use std::io::Write;
use std::time::{Duration, Instant};

use probecc::lang::manifest::{Manifest, ProgramKind};

use super::{kernel, LiveError, Loaded};
use crate::decode::MapDump;
use crate::exec::{self, Step};
use crate::ksyms::Ksyms;
use crate::output::{Chunk, Output, Style};

/// Ring-buffer records acted on per batch at most, so that a flood of
/// records still lets the caller check its signals and deadlines.
const BATCH: usize = 4096;

/// Where what a run shows goes.
pub trait Sink {
    /// One thing shown, in order.
    fn chunk(&mut self, c: Chunk) -> Result<(), LiveError>;
    /// A batch ended: what was shown should be visible now.
    fn flush(&mut self) -> Result<(), LiveError> {
        Ok(())
    }
}

/// A run's output kept, in order.
impl Sink for Vec<Chunk> {
    fn chunk(&mut self, c: Chunk) -> Result<(), LiveError> {
        self.push(c);
        Ok(())
    }
}

/// A run's output written as bpftrace writes it.
pub struct Printer<W: Write> {
    pub style: Style,
    pub out: W,
}

impl<W: Write> Printer<W> {
    fn write(&mut self, text: &str) -> Result<(), LiveError> {
        self.out
            .write_all(text.as_bytes())
            .map_err(LiveError::Output)
    }
}

impl<W: Write> Sink for Printer<W> {
    fn chunk(&mut self, c: Chunk) -> Result<(), LiveError> {
        let text = self.style.chunk(&c);
        self.write(&text)
    }

    fn flush(&mut self) -> Result<(), LiveError> {
        self.out.flush().map_err(LiveError::Output)
    }
}

/// An object running in the kernel and where what it shows goes.
pub struct Session<S: Sink> {
    loaded: Loaded,
    manifest: Manifest,
    sink: S,
    /// Kernel symbols, read when first needed (a stack or a `ksym()`
    /// value to name), unless given.
    ksyms: Option<Ksyms>,
    /// `exit()`'s status, once a record asked for it.
    exit: Option<i64>,
    /// Each interval program, its period and when it runs next.
    intervals: Vec<(String, Duration, Instant)>,
}

impl<W: Write> Session<Printer<W>> {
    /// A session of an object loaded (its programs verified or not yet),
    /// printing to `out` in `style`.
    pub fn new(loaded: Loaded, manifest: Manifest, style: Style, out: W) -> Session<Printer<W>> {
        Session::with_sink(loaded, manifest, Printer { style, out })
    }

    /// The end of the run ([`Session::finish`]), then every map (by name)
    /// as bpftrace prints them when it exits, unless the spec's config
    /// turned that off. The writer, flushed.
    pub fn end(self) -> Result<W, LiveError> {
        let print = self.manifest.config.print_maps_on_exit;
        let (mut printer, maps) = self.finish()?;
        if print {
            let text = printer.style.exit(&maps);
            printer.write(&text)?;
        }
        printer.flush()?;
        Ok(printer.out)
    }
}

impl Session<Vec<Chunk>> {
    /// A session that keeps what the run shows, naming kernel symbols by
    /// `ksyms`.
    pub fn collecting(loaded: Loaded, manifest: Manifest, ksyms: Ksyms) -> Session<Vec<Chunk>> {
        let mut s = Session::with_sink(loaded, manifest, Vec::new());
        s.ksyms = Some(ksyms);
        s
    }

    /// The end of the run ([`Session::finish`]): everything it showed and
    /// its maps.
    pub fn output(self) -> Result<Output, LiveError> {
        let (chunks, maps) = self.finish()?;
        Ok(Output { chunks, maps })
    }
}

impl<S: Sink> Session<S> {
    /// A session of an object loaded, showing what it does to `sink`.
    pub fn with_sink(loaded: Loaded, manifest: Manifest, sink: S) -> Session<S> {
        let now = Instant::now();
        let intervals = manifest
            .programs
            .iter()
            .filter_map(|p| match p.kind {
                ProgramKind::Interval { period_ns } => {
                    let period = Duration::from_nanos(period_ns.max(1));
                    Some((p.name.clone(), period, now + period))
                }
                _ => None,
            })
            .collect();
        Session {
            loaded,
            manifest,
            sink,
            ksyms: None,
            exit: None,
            intervals,
        }
    }

    /// The object, to verify and attach its programs.
    pub fn loaded(&mut self) -> &mut Loaded {
        &mut self.loaded
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// How many probes bpftrace says it attaches: every kprobe and
    /// kretprobe (each function of a kprobe-multi program), and each
    /// BEGIN, END and interval block.
    pub fn probes(&self) -> usize {
        let programs = self.manifest.programs.iter();
        programs.map(|p| p.functions.len().max(1)).sum()
    }

    /// Whether an `exit()` ran: the caller ends the run.
    pub fn exited(&self) -> bool {
        self.exit.is_some()
    }

    /// `exit()`'s status, once a record asked for it.
    pub fn exit_status(&self) -> Option<i64> {
        self.exit
    }

    /// BEGIN: the `begin` programs run, in order, each one's records
    /// acted on before the next runs; call it before the probes are
    /// attached, so that its effects come before anything a probe does.
    /// The intervals' periods start now.
    pub fn begin(&mut self) -> Result<(), LiveError> {
        self.run_all(ProgramKind::Begin)?;
        let now = Instant::now();
        for (_, period, next) in &mut self.intervals {
            *next = now + *period;
        }
        Ok(())
    }

    /// Every kprobe and kretprobe attached; the ones that failed, by
    /// section, with why.
    pub fn attach(&mut self) -> Vec<(String, LiveError)> {
        self.loaded.attach_all(&self.manifest)
    }

    /// Waits up to `timeout` for ring-buffer records (less if an interval
    /// program is due sooner), runs the interval programs that are due,
    /// and acts on the records waiting; a signal ends the wait early.
    /// How many records were acted on.
    pub fn wait(&mut self, timeout: Duration) -> Result<usize, LiveError> {
        let timeout = match self.next_due() {
            Some(due) => timeout.min(due.saturating_duration_since(Instant::now())),
            None => timeout,
        };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        match self.manifest.ringbuf.clone() {
            None => {
                // Nothing comes from the kernel: only the time passes.
                // SAFETY: poll with no descriptors is a sleep a signal ends.
                unsafe { libc::poll(std::ptr::null_mut(), 0, ms) };
            }
            Some(ring) => {
                let mut pfd = libc::pollfd {
                    fd: self.loaded.ring_fd(&ring)?,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd; EINTR (a signal) returns
                // early, which is what the caller wants.
                unsafe { libc::poll(&mut pfd, 1, ms) };
            }
        }
        self.poll()
    }

    /// The interval programs that are due run (each once, however late),
    /// and the waiting records are acted on; how many.
    pub fn poll(&mut self) -> Result<usize, LiveError> {
        let now = Instant::now();
        let mut total = 0;
        for i in 0..self.intervals.len() {
            let (name, period, next) = self.intervals[i].clone();
            if next <= now && self.exit.is_none() {
                self.loaded.run_once(&name)?;
                self.intervals[i].2 = next.max(now - period) + period;
                total += self.drain()?;
            }
        }
        Ok(total + self.drain()?)
    }

    /// When the next interval program is due, if there is one.
    pub fn next_due(&self) -> Option<Instant> {
        self.intervals.iter().map(|(_, _, next)| *next).min()
    }

    /// The run ended: the probes detached, the waiting records acted on,
    /// the `end` programs run (after an `exit()` too, as bpftrace's END)
    /// and their records acted on; the sink and every map, by name.
    pub fn finish(mut self) -> Result<(S, Vec<MapDump>), LiveError> {
        self.loaded.detach_all();
        self.drain()?;
        self.exit = None;
        self.run_all(ProgramKind::End)?;
        self.ksyms();
        let ksyms = self.ksyms.take().unwrap_or_default();
        let mut maps: Vec<MapDump> = Vec::with_capacity(self.manifest.maps.len());
        for m in &self.manifest.maps {
            maps.push(self.loaded.map(&self.manifest, m, &ksyms)?);
        }
        maps.sort_by(|a, b| a.name.cmp(&b.name));
        self.sink.flush()?;
        Ok((self.sink, maps))
    }

    /// The programs of `kind` run in manifest order, each one's records
    /// acted on before the next runs; none after an `exit()`.
    fn run_all(&mut self, kind: ProgramKind) -> Result<(), LiveError> {
        let names: Vec<String> = self
            .manifest
            .programs
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| p.name.clone())
            .collect();
        for name in names {
            if self.exit.is_some() {
                break;
            }
            self.loaded.run_once(&name)?;
            self.drain()?;
        }
        Ok(())
    }

    /// The kernel symbols, read from kallsyms on first need: when the
    /// manifest names a stack or a value `ksym()` made, or its `func`
    /// values are addresses.
    fn ksyms(&mut self) -> &Ksyms {
        let needed = self.ksyms.is_none() && {
            let json = self.manifest.to_json();
            self.manifest.func_ip || json.contains(r#""stack""#) || json.contains(r#""ksym""#)
        };
        self.ksyms.get_or_insert_with(|| {
            if needed {
                kernel::symbols()
            } else {
                Ksyms::default()
            }
        })
    }

    /// Every record waiting in the ring buffer acted on, in order, in
    /// batches; after `exit()` they are dropped. How many.
    fn drain(&mut self) -> Result<usize, LiveError> {
        let Some(ring) = self.manifest.ringbuf.clone() else {
            return Ok(0);
        };
        self.ksyms();
        let ksyms = self.ksyms.take().unwrap_or_default();
        let acted = self.act(&ring, &ksyms);
        self.ksyms = Some(ksyms);
        let n = acted?;
        self.sink.flush()?;
        Ok(n)
    }

    fn act(&mut self, ring: &str, ksyms: &Ksyms) -> Result<usize, LiveError> {
        let mut total = 0;
        loop {
            let records = self.loaded.records(ring, BATCH)?;
            for record in &records {
                if self.exit.is_some() {
                    continue;
                }
                let step = self
                    .loaded
                    .with_decoder(&self.manifest, ksyms, |d| exec::step(record, d))?;
                match step {
                    Step::Print(c) => self.sink.chunk(c)?,
                    Step::PrintMap { map, top, div } => {
                        let m = &self.manifest.maps[map];
                        let dump = self.loaded.map(&self.manifest, m, ksyms)?;
                        self.sink.chunk(Chunk::Print(dump.shown(top, div)))?;
                    }
                    Step::Clear(map) => self.loaded.clear(&self.manifest.maps[map])?,
                    Step::Zero(map) => self.loaded.zero(&self.manifest.maps[map])?,
                    Step::Exit(code) => self.exit = Some(code),
                }
            }
            total += records.len();
            if records.len() < BATCH {
                return Ok(total);
            }
        }
    }
}

/// In the host kernel, which may have no kprobes (then attaching fails and
/// the maps hold what the test writes, as a probe would have): BEGIN
/// before anything, END's print, clear and zero on the live maps, the
/// exit dump; and a program that no event triggers run once.
#[cfg(all(test, target_arch = "x86_64"))]
mod host {
    use probecc::arch::Arch;
    use probecc_test_support::{clang, require, Need};

    use super::*;
    use crate::live::{bpf, possible_cpus};

    fn session(name: &str, style: Style) -> Session<Printer<Vec<u8>>> {
        let path = probecc_fixtures::spec_path(name);
        let compiled =
            probecc_fixtures::compile(&path, Arch::X86_64).expect("the fixture compiles");
        let object = probecc::elf::write(&compiled.object).expect("an object");
        let mut loaded = Loaded::load(&object).expect("the object loads");
        loaded
            .verify_all(&compiled.manifest)
            .expect("the kernel's verifier accepts it");
        Session::new(loaded, compiled.manifest, style, Vec::new())
    }

    /// Adds `per_cpu` to every CPU's u64 at `key` of map `symbol`, as
    /// `count()` and `sum()` do.
    fn write(s: &mut Session<Printer<Vec<u8>>>, symbol: &str, key: &[u8], per_cpu: u64) {
        let fd = s.loaded().map_fd(symbol);
        let values: Vec<u8> = (0..possible_cpus())
            .flat_map(|_| per_cpu.to_ne_bytes())
            .collect();
        bpf::map_update(fd, key, &values).expect("the entry is written");
    }

    #[test]
    #[ignore = "needs root"]
    fn begin_comes_first_and_end_prints_clears_and_dumps() {
        if !require(&[Need::Root]) {
            return;
        }
        let mut s = session("begin_end", Style::Text);
        assert_eq!(s.probes(), 3, "vfs_open, BEGIN and END");
        s.begin().expect("BEGIN runs");
        assert_eq!(s.sink.out, b"counting vfs_open calls\n");
        let manifest = s.manifest.clone();
        let failed = s.loaded().attach_all(&manifest);
        assert!(
            failed.is_empty() || matches!(failed[0].1, LiveError::NoKprobes),
            "{:?}",
            failed
                .iter()
                .map(|(_, e)| e.to_string())
                .collect::<Vec<_>>()
        );
        write(&mut s, "AT_opens", &0u64.to_ne_bytes(), 2);
        assert_eq!(s.wait(Duration::from_millis(1)).expect("a wait"), 0);
        let n = 2 * possible_cpus();
        let out = String::from_utf8(s.end().expect("the end")).unwrap();
        // END's print, then the exit dump of the map END cleared.
        assert_eq!(
            out,
            format!("counting vfs_open calls\ndone counting\n@opens: {n}\n\n\n\n")
        );
    }

    #[test]
    #[ignore = "needs root"]
    fn end_zeroes_and_clears_the_live_maps_in_json() {
        if !require(&[Need::Root]) {
            return;
        }
        let mut s = session("end_print", Style::Json);
        let mut comm = [0u8; 16];
        comm[..2].copy_from_slice(b"dd");
        write(&mut s, "AT_reads", &comm, 1);
        write(&mut s, "AT_bytes", &0u64.to_ne_bytes(), 100);
        write(&mut s, "AT_start", &7u64.to_ne_bytes(), 5);
        let n = possible_cpus();
        let out = String::from_utf8(s.end().expect("the end")).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                format!(r#"{{"type": "map", "data": {{"@reads": {{"dd": {n}}}}}}}"#),
                format!(r#"{{"type": "map", "data": {{"@bytes": {}}}}}"#, 100 * n),
                // The exit dump: @bytes zeroed, @reads kept, @start cleared.
                r#"{"type": "map", "data": {"@bytes": 0}}"#.to_string(),
                format!(r#"{{"type": "map", "data": {{"@reads": {{"dd": {n}}}}}}}"#),
            ]
        );
    }

    /// A kprobe-multi object's `func` keys are addresses, named from
    /// kallsyms at the exit dump.
    #[test]
    #[ignore = "needs root"]
    fn func_addresses_of_a_kprobe_multi_object_print_as_names() {
        if !require(&[Need::Root]) {
            return;
        }
        let kallsyms = std::fs::read_to_string("/proc/kallsyms").expect("kallsyms");
        let addr = kallsyms
            .lines()
            .find_map(|l| l.strip_suffix(" T vfs_read"))
            .and_then(|a| u64::from_str_radix(a, 16).ok())
            .filter(|&a| a != 0)
            .expect("vfs_read's address (as root)");
        let opts = probecc::lang::CompileOptions {
            symbols: Some(vec!["vfs_read".into(), "vfs_readv".into()]),
            multi: true,
            ..Default::default()
        };
        let compiled =
            probecc::lang::compile("kprobe:vfs_* { @[func] = count(); }", Arch::X86_64, &opts)
                .expect("compiles");
        let object = probecc::elf::write(&compiled.object).expect("an object");
        let mut loaded = Loaded::load(&object).expect("the object loads");
        loaded.verify_all(&compiled.manifest).expect("verified");
        let mut s = Session::new(loaded, compiled.manifest, Style::Text, Vec::new());
        write(&mut s, "AT_", &addr.to_ne_bytes(), 1);
        let out = String::from_utf8(s.end().expect("the end")).unwrap();
        let n = possible_cpus();
        assert_eq!(out.trim(), format!("@[vfs_read]: {n}"));
    }

    #[test]
    #[ignore = "needs root"]
    fn an_object_dropped_leaves_no_program_in_the_kernel() {
        if !require(&[Need::Root]) {
            return;
        }
        let mut s = session("map_ops", Style::Text);
        let manifest = s.manifest.clone();
        let _ = s.loaded().attach_all(&manifest);
        let ids = s.loaded().program_ids();
        assert_eq!(ids.len(), 2, "both programs verified");
        let listed = bpf::ids(bpf::Objects::Programs).expect("the kernel's programs");
        assert!(
            ids.iter().all(|i| listed.contains(i)),
            "{ids:?} in {listed:?}"
        );
        drop(s);
        let listed = bpf::ids(bpf::Objects::Programs).expect("the kernel's programs");
        assert!(ids.iter().all(|i| !listed.contains(i)), "{ids:?} gone");
    }

    const RAW_TP: &str = r#"
#define SEC(n) __attribute__((section(n), used))
struct {
    int (*type)[2];
    int (*max_entries)[1];
    unsigned int *key;
    unsigned long long *value;
} ran SEC(".maps");
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
SEC("raw_tp") int begin(void *ctx)
{
    unsigned int k = 0;
    unsigned long long *v = bpf_map_lookup_elem(&ran, &k);
    if (v)
        *v += 1;
    return 7;
}
char LICENSE[] SEC("license") = "GPL";
"#;

    #[test]
    #[ignore = "needs root, clang"]
    fn a_program_no_event_triggers_runs_once_on_demand() {
        if !require(&[Need::Root, Need::Tool("clang")]) {
            return;
        }
        let object = clang::compile_source(RAW_TP, "bpfel", &[]);
        let mut loaded = Loaded::load(&object).expect("the object loads");
        assert_eq!(loaded.run_once("begin").expect("it runs"), 7);
        assert_eq!(loaded.run_once("begin").expect("it runs again"), 7);
        let mut value = [0u8; 8];
        bpf::map_lookup(loaded.map_fd("ran"), &0u32.to_ne_bytes(), &mut value)
            .expect("the array's one entry");
        assert_eq!(u64::from_ne_bytes(value), 2, "the program ran twice");
        let e = loaded.run_once("nosuch").unwrap_err();
        assert_eq!(e.to_string(), "the object has no program nosuch");
    }
}
