//! helpers: the BPF helpers kprobe programs call, emulated with the
//! kernel's semantics over the runner's [`World`] — maps, the current
//! event, the ring-buffer records a run produces.
//!
//! rbpf calls helpers as plain `fn(u64, u64, u64, u64, u64) -> u64`, without
//! a context, so the world of the running program is moved into a
//! thread-local slot for the duration of one run ([`enter`] / [`leave`]).
//! Every pointer a program passes is checked against the memory it may use
//! (its stack, its ctx, map values, ring-buffer records); a bad one records
//! a [`Fault`], which ends the run with an error, and the helper fails as the
//! kernel's would (`-EFAULT`, NULL).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Range;

use probecc::helpers::Helper;
use probecc::insn::Endian;
use probecc_test_support::XorShift64Star;

use crate::abi::{HELPER_BUDGET, HELPER_FRAME, MAP_HANDLE};

mod callback;

use crate::events::COMM_LEN;
use crate::maps::{EmuMap, EAGAIN, EFAULT, EINVAL};
use crate::memory::{self, within};
use callback::for_each_map_elem;

/// rbpf's stack size.
const STACK: u64 = 512;

/// What went wrong inside a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The budget ran out in the loop closing at this object instruction.
    Budget {
        at: usize,
    },
    Helper {
        helper: Helper,
        reason: String,
    },
}

/// The event-dependent state helpers read.
#[derive(Clone, Debug, Default)]
pub struct Current {
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    pub comm: [u8; COMM_LEN],
    pub ns: u64,
    pub cpu: u32,
    /// Probe-readable memory: start address → bytes, non-overlapping.
    pub mem: BTreeMap<u64, Vec<u8>>,
    pub stack: Vec<u64>,
    pub func_ip: u64,
    /// What `bpf_get_current_task` returns.
    pub task: u64,
    pub cgroup: u64,
}

/// Everything a run can touch.
pub struct World {
    pub endian: Endian,
    /// Whether the arch's kernel and user addresses never overlap: a
    /// kernel read of a user address (the lower half) fails, and a user
    /// read of a kernel one, as they do in its kernel.
    pub split_address_space: bool,
    pub maps: Vec<EmuMap>,
    pub cur: Current,
    /// `bpf_get_prandom_u32`'s stream, seeded per session: reproducible.
    pub rng: XorShift64Star,
    /// r10 of the current run.
    pub frame: u64,
    pub ctx: Range<u64>,
    /// Map memory programs may point into.
    pub ranges: Vec<Range<u64>>,
    /// `(map index, bytes)` of every record output by the run.
    pub records: Vec<(usize, Vec<u8>)>,
    pub fault: Option<Fault>,
    /// By the object's program index, how to run each subprogram as a
    /// callback (`bpf_for_each_map_elem`'s); `None` for the others.
    pub callbacks: Vec<Option<Callback>>,
}

/// A subprogram run once as a callback: its ctx (the four arguments) and
/// the memory it may use besides its own stack; its return value, or why
/// it faulted.
pub type Callback = std::rc::Rc<dyn Fn(&mut [u8], &[Range<u64>]) -> Result<u64, String>>;

thread_local! {
    static WORLD: RefCell<Option<Box<World>>> = const { RefCell::new(None) };
}

/// Makes `world` the one helpers see on this thread.
pub fn enter(world: Box<World>) {
    WORLD.with(|w| *w.borrow_mut() = Some(world));
}

/// Takes the world back after a run.
pub fn leave() -> Option<Box<World>> {
    WORLD.with(|w| w.borrow_mut().take())
}

fn with(f: impl FnOnce(&mut World) -> u64) -> u64 {
    WORLD.with(|w| match w.try_borrow_mut() {
        Ok(mut g) => g.as_mut().map_or(0, |w| f(w)),
        Err(_) => 0,
    })
}

fn neg(errno: i64) -> u64 {
    (-errno) as u64
}

impl World {
    fn fail(&mut self, helper: Helper, reason: String) {
        if self.fault.is_none() {
            self.fault = Some(Fault::Helper { helper, reason });
        }
    }

    /// Whether `[addr, addr + n)` is memory the program may use.
    fn valid(&self, addr: u64, n: usize) -> bool {
        let stack = self.frame.saturating_sub(STACK)..self.frame;
        within(stack, addr, n)
            || within(self.ctx.clone(), addr, n)
            || self.ranges.iter().any(|r| within(r.clone(), addr, n))
    }

    /// Checks a pointer argument; records a fault if it is bad.
    fn check(&mut self, helper: Helper, what: &str, addr: u64, n: usize) -> bool {
        let ok = self.valid(addr, n);
        if !ok {
            self.fail(
                helper,
                format!("{what} {addr:#x} ({n} bytes) is outside the program's memory"),
            );
        }
        ok
    }

    fn read(&mut self, helper: Helper, what: &str, addr: u64, n: usize) -> Option<Vec<u8>> {
        // SAFETY: checked to lie in the stack, ctx or an arena, all alive
        // during the run.
        self.check(helper, what, addr, n)
            .then(|| unsafe { memory::read(addr, n) })
    }

    fn write(&mut self, helper: Helper, what: &str, addr: u64, data: &[u8]) -> bool {
        let ok = self.check(helper, what, addr, data.len());
        if ok {
            // SAFETY: as in `read`.
            unsafe { memory::write(addr, data) };
        }
        ok
    }

    fn map(&mut self, helper: Helper, handle: u64) -> Option<usize> {
        let i = handle.wrapping_sub(MAP_HANDLE) as usize;
        if i < self.maps.len() {
            Some(i)
        } else {
            self.fail(helper, format!("{handle:#x} is not a map"));
            None
        }
    }

    fn key(&mut self, helper: Helper, map: usize, addr: u64) -> Option<Vec<u8>> {
        let n = self.maps[map].def.key_size as usize;
        self.read(helper, "key pointer", addr, n)
    }

    /// Event memory at `[addr, addr + n)`, if one region holds all of it.
    fn event_mem(&self, addr: u64, n: usize) -> Option<&[u8]> {
        let (start, bytes) = self.cur.mem.range(..=addr).next_back()?;
        let off = (addr - start) as usize;
        bytes.get(off..off.checked_add(n)?)
    }

    /// The bytes from `addr` to the end of its event-memory region.
    fn event_tail(&self, addr: u64) -> Option<&[u8]> {
        let (start, bytes) = self.cur.mem.range(..=addr).next_back()?;
        bytes.get((addr - start) as usize..)
    }

    fn record(&mut self, map: usize, bytes: Vec<u8>) {
        self.records.push((map, bytes));
    }
}

/// rbpf's helper type.
pub type HelperFn = fn(u64, u64, u64, u64, u64) -> u64;

/// Declares every helper once: its id and function, and for the JIT a
/// trampoline (see [`jit`]).
macro_rules! helper_table {
    ($($id:expr => $f:ident),* $(,)?) => {
        /// Every helper to register with rbpf's interpreter: `(id, function)`.
        pub fn table() -> Vec<(u32, HelperFn)> {
            vec![$(($id, $f as HelperFn)),*]
        }

        /// Every helper to register with rbpf's x86_64 JIT: `(id,
        /// trampoline)`, each trampoline realigning the stack (below).
        #[cfg(target_arch = "x86_64")]
        pub fn jit_table() -> Vec<(u32, HelperFn)> {
            vec![$(($id, jit::$f::address())),*]
        }

        /// rbpf has no JIT on this host: no helpers for it.
        #[cfg(not(target_arch = "x86_64"))]
        pub fn jit_table() -> Vec<(u32, HelperFn)> {
            Vec::new()
        }

        /// rbpf's JIT calls helpers with the stack 8 bytes off the 16-byte
        /// alignment the x86_64 ABI promises (five pushes, 512 bytes, and a
        /// call before the program); compiled Rust then faults on aligned
        /// SSE stores. Each helper gets a trampoline that realigns the
        /// stack and calls a `sysv64` shim of it. Only its address is handed
        /// to rbpf: the JIT calls it natively, never through the Rust type.
        #[cfg(target_arch = "x86_64")]
        mod jit {
            $(
                pub mod $f {
                    use super::super::HelperFn;

                    extern "sysv64" fn shim(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
                        super::super::$f(a, b, c, d, e)
                    }

                    std::arch::global_asm!(
                        ".pushsection .text",
                        ".p2align 4",
                        concat!(".globl vm_tests_jit_", stringify!($f)),
                        concat!("vm_tests_jit_", stringify!($f), ":"),
                        "push rbp",
                        "mov rbp, rsp",
                        "and rsp, -16",
                        "call {shim}",
                        "mov rsp, rbp",
                        "pop rbp",
                        "ret",
                        ".popsection",
                        shim = sym shim,
                    );

                    unsafe extern "sysv64" {
                        #[link_name = concat!("vm_tests_jit_", stringify!($f))]
                        fn trampoline(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64;
                    }

                    pub fn address() -> HelperFn {
                        let f: unsafe extern "sysv64" fn(u64, u64, u64, u64, u64) -> u64 = trampoline;
                        // SAFETY: same size; rbpf's JIT only takes the
                        // address and calls it with the SysV convention.
                        unsafe { std::mem::transmute::<_, HelperFn>(f) }
                    }
                }
            )*
        }
    };
}

helper_table! {
    HELPER_FRAME => frame,
    HELPER_BUDGET => budget,
    Helper::MapLookupElem.id() as u32 => map_lookup_elem,
    Helper::MapUpdateElem.id() as u32 => map_update_elem,
    Helper::MapDeleteElem.id() as u32 => map_delete_elem,
    Helper::KtimeGetNs.id() as u32 => ktime_get_ns,
    Helper::GetPrandomU32.id() as u32 => get_prandom_u32,
    Helper::GetSmpProcessorId.id() as u32 => get_smp_processor_id,
    Helper::GetCurrentPidTgid.id() as u32 => get_current_pid_tgid,
    Helper::GetCurrentUidGid.id() as u32 => get_current_uid_gid,
    Helper::GetCurrentComm.id() as u32 => get_current_comm,
    Helper::PerfEventOutput.id() as u32 => perf_event_output,
    Helper::GetStackid.id() as u32 => get_stackid,
    Helper::ProbeReadUser.id() as u32 => probe_read_user,
    Helper::ProbeReadKernel.id() as u32 => probe_read_kernel,
    Helper::ProbeReadUserStr.id() as u32 => probe_read_user_str,
    Helper::ProbeReadKernelStr.id() as u32 => probe_read_kernel_str,
    Helper::ProbeReadStr.id() as u32 => probe_read_either_str,
    Helper::RingbufOutput.id() as u32 => ringbuf_output,
    Helper::RingbufReserve.id() as u32 => ringbuf_reserve,
    Helper::RingbufSubmit.id() as u32 => ringbuf_submit,
    Helper::RingbufDiscard.id() as u32 => ringbuf_discard,
    Helper::GetFuncIp.id() as u32 => get_func_ip,
    Helper::GetCurrentTask.id() as u32 => get_current_task,
    Helper::GetCurrentCgroupId.id() as u32 => get_current_cgroup_id,
    Helper::SendSignal.id() as u32 => send_signal,
    Helper::ForEachMapElem.id() as u32 => for_each_map_elem,
    Helper::MapLookupPercpuElem.id() as u32 => map_lookup_percpu_elem,
}

/// Whether the runner emulates `h`.
pub fn emulated(h: Helper) -> bool {
    table().iter().any(|(i, _)| *i == h.id() as u32)
}

/// `signal()` (`--unsafe`): there is no task to signal offline; the call
/// succeeds, as it does for a live task in the kernel.
fn send_signal(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    0
}

fn ktime_get_ns(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    with(|w| w.cur.ns)
}

fn get_prandom_u32(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    with(|w| w.rng.next_u32() as u64)
}

fn get_smp_processor_id(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    with(|w| w.cur.cpu as u64)
}

fn get_current_pid_tgid(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    with(|w| (w.cur.pid as u64) << 32 | w.cur.tid as u64)
}

fn get_current_uid_gid(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    with(|w| (w.cur.gid as u64) << 32 | w.cur.uid as u64)
}

fn get_current_task(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    with(|w| w.cur.task)
}

fn get_current_cgroup_id(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    with(|w| w.cur.cgroup)
}

fn get_func_ip(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    with(|w| w.cur.func_ip)
}

fn probe_read_user(d: u64, n: u64, s: u64, _: u64, _: u64) -> u64 {
    probe_read(Helper::ProbeReadUser, d, n, s)
}

fn probe_read_kernel(d: u64, n: u64, s: u64, _: u64, _: u64) -> u64 {
    probe_read(Helper::ProbeReadKernel, d, n, s)
}

fn probe_read_user_str(d: u64, n: u64, s: u64, _: u64, _: u64) -> u64 {
    probe_read_str(Helper::ProbeReadUserStr, d, n, s)
}

fn probe_read_kernel_str(d: u64, n: u64, s: u64, _: u64, _: u64) -> u64 {
    probe_read_str(Helper::ProbeReadKernelStr, d, n, s)
}

/// `bpf_probe_read_str`: the memory the address is in, either one.
fn probe_read_either_str(d: u64, n: u64, s: u64, _: u64, _: u64) -> u64 {
    probe_read_str(Helper::ProbeReadStr, d, n, s)
}

fn ringbuf_submit(p: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    ringbuf_release(Helper::RingbufSubmit, p)
}

fn ringbuf_discard(p: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    ringbuf_release(Helper::RingbufDiscard, p)
}

/// The prologue's call: remembers r10, hands back the ctx pointer.
fn frame(fp: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    with(|w| {
        w.frame = fp;
        w.ctx.start
    })
}

fn budget(at: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    with(|w| {
        w.fault.get_or_insert(Fault::Budget { at: at as usize });
        0
    })
}

fn map_lookup_elem(map: u64, key: u64, _: u64, _: u64, _: u64) -> u64 {
    const H: Helper = Helper::MapLookupElem;
    with(|w| {
        let Some(m) = w.map(H, map) else { return 0 };
        let Some(k) = w.key(H, m, key) else { return 0 };
        let cpu = w.cur.cpu;
        w.maps[m].lookup(&k, cpu).unwrap_or(0)
    })
}

fn map_lookup_percpu_elem(map: u64, key: u64, cpu: u64, _: u64, _: u64) -> u64 {
    const H: Helper = Helper::MapLookupPercpuElem;
    with(|w| {
        let Some(m) = w.map(H, map) else { return 0 };
        let Some(k) = w.key(H, m, key) else { return 0 };
        let cpu = u32::try_from(cpu).unwrap_or(u32::MAX);
        w.maps[m].lookup_percpu(&k, cpu).unwrap_or(0)
    })
}

fn map_update_elem(map: u64, key: u64, value: u64, flags: u64, _: u64) -> u64 {
    const H: Helper = Helper::MapUpdateElem;
    with(|w| {
        let Some(m) = w.map(H, map) else {
            return neg(EINVAL);
        };
        let Some(k) = w.key(H, m, key) else {
            return neg(EFAULT);
        };
        let n = w.maps[m].def.value_size as usize;
        let Some(v) = w.read(H, "value pointer", value, n) else {
            return neg(EFAULT);
        };
        let cpu = w.cur.cpu;
        w.maps[m].update(&k, &v, flags, cpu) as u64
    })
}

fn map_delete_elem(map: u64, key: u64, _: u64, _: u64, _: u64) -> u64 {
    const H: Helper = Helper::MapDeleteElem;
    with(|w| {
        let Some(m) = w.map(H, map) else {
            return neg(EINVAL);
        };
        let Some(k) = w.key(H, m, key) else {
            return neg(EFAULT);
        };
        w.maps[m].delete(&k) as u64
    })
}

/// `strscpy_pad`: at most `size - 1` characters, the rest NULs.
fn get_current_comm(buf: u64, size: u64, _: u64, _: u64, _: u64) -> u64 {
    with(|w| {
        let n = size as usize;
        if n == 0 || n > 1 << 16 {
            return neg(EINVAL);
        }
        let mut out = vec![0u8; n];
        let len = w.cur.comm.iter().position(|&c| c == 0).unwrap_or(COMM_LEN);
        let take = len.min(n - 1);
        out[..take].copy_from_slice(&w.cur.comm[..take]);
        if w.write(Helper::GetCurrentComm, "buffer", buf, &out) {
            0
        } else {
            neg(EFAULT)
        }
    })
}

/// Whether `h` cannot read `src` on this arch: the address is in the
/// other address space.
fn other_space(w: &World, h: Helper, src: u64) -> bool {
    let kernel_address = src >> 63 == 1;
    w.split_address_space
        && match h {
            Helper::ProbeReadKernel | Helper::ProbeReadKernelStr => !kernel_address,
            Helper::ProbeReadUser | Helper::ProbeReadUserStr => kernel_address,
            _ => false,
        }
}

/// The kernel zeroes the destination when the source faults.
fn probe_read(h: Helper, dst: u64, size: u64, src: u64) -> u64 {
    with(|w| {
        let n = size as usize;
        if n > 1 << 16 {
            return neg(EINVAL);
        }
        // The ctx is kernel memory too: an fentry program copies a slot
        // out of its trampoline's argument array this way.
        let data = if within(w.ctx.clone(), src, n) {
            // SAFETY: inside the ctx, alive during the run.
            Some(unsafe { memory::read(src, n) })
        } else if other_space(w, h, src) {
            None
        } else {
            w.event_mem(src, n).map(<[u8]>::to_vec)
        };
        let ok = data.is_some();
        let out = data.unwrap_or_else(|| vec![0; n]);
        if !w.write(h, "destination", dst, &out) {
            return neg(EFAULT);
        }
        if ok {
            0
        } else {
            neg(EFAULT)
        }
    })
}

/// Copies up to `size - 1` bytes and a NUL; returns the length with the
/// NUL. A fault before the NUL zeroes the whole destination.
fn probe_read_str(h: Helper, dst: u64, size: u64, src: u64) -> u64 {
    with(|w| {
        let n = size as usize;
        if n == 0 || n > 1 << 16 {
            return if n == 0 { 0 } else { neg(EINVAL) };
        }
        let mut out = vec![0u8; n];
        let tail = if other_space(w, h, src) {
            &[]
        } else {
            w.event_tail(src).unwrap_or(&[])
        };
        let limit = n - 1;
        let nul = tail.iter().take(limit).position(|&c| c == 0);
        let result = match nul {
            Some(len) => {
                out[..len].copy_from_slice(&tail[..len]);
                Some(len + 1)
            }
            None if tail.len() >= limit => {
                out[..limit].copy_from_slice(&tail[..limit]);
                Some(n)
            }
            None => None,
        };
        if !w.write(h, "destination", dst, &out) {
            return neg(EFAULT);
        }
        result.map_or(neg(EFAULT), |len| len as u64)
    })
}

fn perf_event_output(_ctx: u64, map: u64, _flags: u64, data: u64, size: u64) -> u64 {
    const H: Helper = Helper::PerfEventOutput;
    with(|w| {
        let Some(m) = w.map(H, map) else {
            return neg(EINVAL);
        };
        if !w.maps[m].is_perf() {
            return neg(EINVAL);
        }
        let Some(bytes) = w.read(H, "data pointer", data, size as usize) else {
            return neg(EFAULT);
        };
        w.record(m, bytes);
        0
    })
}

fn get_stackid(_ctx: u64, map: u64, flags: u64, _: u64, _: u64) -> u64 {
    with(|w| {
        let Some(m) = w.map(Helper::GetStackid, map) else {
            return neg(EINVAL);
        };
        let stack = std::mem::take(&mut w.cur.stack);
        let id = w.maps[m].stack_id(&stack, flags);
        w.cur.stack = stack;
        id as u64
    })
}

fn ringbuf_output(map: u64, data: u64, size: u64, flags: u64, _: u64) -> u64 {
    const H: Helper = Helper::RingbufOutput;
    with(|w| {
        let Some(m) = w.map(H, map) else {
            return neg(EINVAL);
        };
        if flags & !3 != 0 || !w.maps[m].is_ring() {
            return neg(EINVAL);
        }
        let Some(bytes) = w.read(H, "data pointer", data, size as usize) else {
            return neg(EFAULT);
        };
        if !w.maps[m].ring_room(size) {
            return neg(EAGAIN);
        }
        w.record(m, bytes);
        0
    })
}

fn ringbuf_reserve(map: u64, size: u64, flags: u64, _: u64, _: u64) -> u64 {
    with(|w| match w.map(Helper::RingbufReserve, map) {
        Some(m) => w.maps[m].reserve(size, flags),
        None => 0,
    })
}

fn ringbuf_release(h: Helper, rec: u64) -> u64 {
    with(|w| {
        let found = w
            .maps
            .iter_mut()
            .enumerate()
            .find_map(|(i, m)| m.release(rec).map(|n| (i, n)));
        match found {
            Some((m, n)) if h == Helper::RingbufSubmit => {
                // SAFETY: the record lies in the ring's arena.
                let bytes = unsafe { memory::read(rec, n) };
                w.record(m, bytes);
            }
            Some(_) => {}
            None => w.fail(h, format!("{rec:#x} is not a reserved ring-buffer record")),
        }
        0
    })
}
