//! A live run, as bpftrace runs a script: BEGIN first, before any probe
//! can fire; then, while the caller keeps the probes attached, every
//! ring-buffer record printed as it arrives ([`Session::wait`]); at the
//! end the probes detached, the records still waiting printed, END, and
//! every map printed as bpftrace prints it when it exits. Output goes to
//! a writer in bpftrace's text or JSON lines ([`Style`]), flushed after
//! each batch so that a reader sees it as it happens.
//!
//! Where BEGIN, END and interval blocks run: today BEGIN and END are the
//! manifest's user-space actions, executed by [`Session::begin`] and
//! [`Session::end`]; blocks compiled to programs run there too, through
//! `Loaded::run_once` (`BPF_PROG_TEST_RUN`), and interval blocks from the
//! caller's loop between calls to [`Session::wait`], whose timeout is the
//! time to the next period.

use std::io::Write;
use std::time::Duration;

use probecc::lang::manifest::{Action, Manifest, MapEntry};

use super::{is_probe, kernel, LiveError, Loaded};
use crate::decode::MapDump;
use crate::ksyms::Ksyms;
use crate::output::Style;
use crate::printf;

/// Ring-buffer records decoded at most per read, so that a flood of
/// records still lets the caller check its signals and deadlines.
const BATCH: usize = 4096;

/// An object running in the kernel and what it prints.
pub struct Session<W: Write> {
    loaded: Loaded,
    manifest: Manifest,
    style: Style,
    out: W,
    /// Kernel symbols, read when a stack is first printed.
    ksyms: Option<Ksyms>,
    /// An `exit()` ran.
    exited: bool,
}

impl<W: Write> Session<W> {
    /// A session of an object loaded (its programs verified or not yet),
    /// printing to `out` in `style`.
    pub fn new(loaded: Loaded, manifest: Manifest, style: Style, out: W) -> Session<W> {
        Session {
            loaded,
            manifest,
            style,
            out,
            ksyms: None,
            exited: false,
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
    /// kretprobe (each function of a kprobe-multi program), and BEGIN and
    /// END when they do something.
    pub fn probes(&self) -> usize {
        let kprobes: usize = self
            .manifest
            .programs
            .iter()
            .filter(|p| is_probe(&p.section))
            .map(|p| p.functions.len().max(1))
            .sum();
        kprobes
            + usize::from(!self.manifest.begin.is_empty())
            + usize::from(!self.manifest.end.is_empty())
    }

    /// Whether an `exit()` ran: the caller ends the run.
    pub fn exited(&self) -> bool {
        self.exited
    }

    /// BEGIN: run before the probes are attached, so that its effects
    /// come before anything a probe does.
    pub fn begin(&mut self) -> Result<(), LiveError> {
        let begin = std::mem::take(&mut self.manifest.begin);
        let ran = self.actions(&begin);
        self.manifest.begin = begin;
        ran
    }

    /// Waits up to `timeout` for ring-buffer records and prints those
    /// that came (all of them, in batches); a signal ends the wait early.
    /// How many were printed.
    pub fn wait(&mut self, timeout: Duration) -> Result<usize, LiveError> {
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let Some(ring) = self.manifest.ringbuf.clone() else {
            // Nothing prints from the kernel: only the time passes.
            // SAFETY: poll with no descriptors is a sleep a signal ends.
            unsafe { libc::poll(std::ptr::null_mut(), 0, ms) };
            return Ok(0);
        };
        let mut pfd = libc::pollfd {
            fd: self.loaded.ring_fd(&ring)?,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; EINTR (a signal) returns early, which
        // is what the caller wants.
        unsafe { libc::poll(&mut pfd, 1, ms) };
        self.drain()
    }

    /// Every record waiting in the ring buffer printed, in order.
    fn drain(&mut self) -> Result<usize, LiveError> {
        let mut total = 0;
        loop {
            let texts = self.loaded.printf(&self.manifest, BATCH)?;
            for t in &texts {
                self.write(&self.style.printf(t))?;
            }
            total += texts.len();
            if texts.len() < BATCH {
                break;
            }
        }
        self.out.flush().map_err(LiveError::Output)?;
        Ok(total)
    }

    /// The end of the run: every probe detached, the records still
    /// waiting printed, END, then every map (by name) as bpftrace prints
    /// them when it exits, unless the spec's config turned that off. The
    /// writer, flushed.
    pub fn end(mut self) -> Result<W, LiveError> {
        self.loaded.detach_all();
        self.drain()?;
        let end = std::mem::take(&mut self.manifest.end);
        self.exited = false;
        self.actions(&end)?;
        if self.manifest.config.print_maps_on_exit {
            let mut maps = Vec::new();
            for m in self.manifest.maps.clone() {
                maps.push(self.dump(&m)?);
            }
            maps.sort_by(|a, b| a.name.cmp(&b.name));
            self.write(&self.style.exit(&maps))?;
        }
        self.out.flush().map_err(LiveError::Output)?;
        Ok(self.out)
    }

    /// BEGIN's or END's actions, in order, up to an `exit()`.
    fn actions(&mut self, actions: &[Action]) -> Result<(), LiveError> {
        for a in actions {
            match a {
                Action::Printf { format, args } => {
                    let text = printf::format_literals(format, args);
                    self.write(&self.style.printf(&text))?;
                }
                Action::Print(name) => {
                    let dump = self.dump(&self.map_entry(name)?)?;
                    self.write(&self.style.print(&dump))?;
                }
                Action::Clear(name) => self.loaded.clear(&self.map_entry(name)?)?,
                Action::Zero(name) => self.loaded.zero(&self.map_entry(name)?)?,
                Action::Exit(()) => {
                    self.exited = true;
                    break;
                }
            }
        }
        self.out.flush().map_err(LiveError::Output)
    }

    fn map_entry(&self, name: &str) -> Result<MapEntry, LiveError> {
        self.manifest
            .maps
            .iter()
            .find(|m| m.name == name)
            .cloned()
            .ok_or_else(|| LiveError::NoSuchMap(name.to_string()))
    }

    /// Map `m` read and decoded, stack frames and `func` addresses named
    /// from kallsyms.
    fn dump(&mut self, m: &MapEntry) -> Result<MapDump, LiveError> {
        let named = self.manifest.stack_map.is_some() || self.manifest.func_ip;
        let ksyms = match &self.ksyms {
            Some(k) => k,
            None if named => self.ksyms.insert(kernel::symbols()),
            None => self.ksyms.insert(Ksyms::default()),
        };
        self.loaded.map(&self.manifest, m, ksyms)
    }

    fn write(&mut self, text: &str) -> Result<(), LiveError> {
        self.out
            .write_all(text.as_bytes())
            .map_err(LiveError::Output)
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

    fn session(name: &str, style: Style) -> Session<Vec<u8>> {
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
    fn write(s: &mut Session<Vec<u8>>, symbol: &str, key: &[u8], per_cpu: u64) {
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
        assert_eq!(s.out, b"counting vfs_open calls\n");
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
