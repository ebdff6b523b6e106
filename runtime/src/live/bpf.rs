//! A minimal BPF layer of raw `bpf()` commands (map create, program load,
//! map lookup, update, delete and iteration, the ids of the kernel's
//! programs and links, the kprobe-multi link) and kprobe attachment
//! through the kprobe PMU with `perf_event_open`: the loader reads and clears maps byte for byte with
//! it (aya's typed maps want fixed key and value types), the QEMU guest
//! loads the probe programs it assembles itself with it, and counts what
//! a run left in the kernel. Every descriptor is owned: dropping a
//! [`Probe`] detaches it.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const BPF_MAP_CREATE: i32 = 0;
const BPF_MAP_LOOKUP_ELEM: i32 = 1;
const BPF_MAP_UPDATE_ELEM: i32 = 2;
const BPF_MAP_DELETE_ELEM: i32 = 3;
const BPF_MAP_GET_NEXT_KEY: i32 = 4;
const BPF_PROG_LOAD: i32 = 5;
const BPF_PROG_GET_NEXT_ID: i32 = 11;
const BPF_LINK_GET_NEXT_ID: i32 = 31;
const BPF_LINK_CREATE: i32 = 28;
/// `BPF_TRACE_KPROBE_MULTI` of `enum bpf_attach_type`.
pub const BPF_TRACE_KPROBE_MULTI: u32 = 42;
/// `BPF_F_KPROBE_MULTI_RETURN`: the link's functions' returns.
const BPF_F_KPROBE_MULTI_RETURN: u32 = 1;
pub const BPF_PROG_TYPE_KPROBE: u32 = 2;
pub const BPF_MAP_TYPE_ARRAY: u32 = 2;

const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `_IO('$', 0)` and `_IOW('$', 8, __u32)`: powerpc encodes the direction
/// bits differently (none = 1, write = 4, at bit 29).
#[cfg(target_arch = "powerpc64")]
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2000_2400;
#[cfg(target_arch = "powerpc64")]
const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x8004_2408;
#[cfg(not(target_arch = "powerpc64"))]
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
#[cfg(not(target_arch = "powerpc64"))]
const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;

fn sys_bpf(cmd: i32, attr: &mut [u64]) -> io::Result<i64> {
    let size = std::mem::size_of_val(attr);
    // SAFETY: `attr` is a zero-initialised buffer at least as large as the
    // kernel's `union bpf_attr` part this command reads.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), size) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn fd(r: i64) -> OwnedFd {
    // SAFETY: the kernel just returned this descriptor to us.
    unsafe { OwnedFd::from_raw_fd(r as RawFd) }
}

/// Writes `v` at byte `off` of an attr buffer in native order.
fn put32(attr: &mut [u64], off: usize, v: u32) {
    let bytes: &mut [u8] = bytemuck(attr);
    bytes[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put64(attr: &mut [u64], off: usize, v: u64) {
    let bytes: &mut [u8] = bytemuck(attr);
    bytes[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

fn bytemuck(attr: &mut [u64]) -> &mut [u8] {
    let len = std::mem::size_of_val(attr);
    // SAFETY: u64 has no padding; any byte pattern is a valid u64.
    unsafe { std::slice::from_raw_parts_mut(attr.as_mut_ptr().cast::<u8>(), len) }
}

pub fn map_create(kind: u32, key_size: u32, value_size: u32, max: u32) -> io::Result<OwnedFd> {
    let mut attr = [0u64; 16];
    put32(&mut attr, 0, kind);
    put32(&mut attr, 4, key_size);
    put32(&mut attr, 8, value_size);
    put32(&mut attr, 12, max);
    sys_bpf(BPF_MAP_CREATE, &mut attr).map(fd)
}

/// Loads a kprobe program; a rejection carries the verifier's log.
pub fn prog_load(insns: &[u8], want_log: bool) -> Result<OwnedFd, (io::Error, String)> {
    prog_load_for(insns, 0, want_log)
}

/// Loads a kprobe program for `expected_attach_type` (0, or
/// [`BPF_TRACE_KPROBE_MULTI`], which the kprobe-multi link requires).
pub fn prog_load_for(
    insns: &[u8],
    expected_attach_type: u32,
    want_log: bool,
) -> Result<OwnedFd, (io::Error, String)> {
    let license = b"GPL\0";
    let mut log = vec![0u8; if want_log { 1 << 16 } else { 0 }];
    let mut attr = [0u64; 20];
    put32(&mut attr, 0, BPF_PROG_TYPE_KPROBE);
    put32(&mut attr, 4, (insns.len() / 8) as u32);
    put64(&mut attr, 8, insns.as_ptr() as u64);
    put64(&mut attr, 16, license.as_ptr() as u64);
    if want_log {
        put32(&mut attr, 24, 1);
        put32(&mut attr, 28, log.len() as u32);
        put64(&mut attr, 32, log.as_mut_ptr() as u64);
    }
    put32(&mut attr, 68, expected_attach_type);
    sys_bpf(BPF_PROG_LOAD, &mut attr).map(fd).map_err(|e| {
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        (e, String::from_utf8_lossy(&log[..end]).into_owned())
    })
}

/// Looks `key` up; `value` receives the value (all CPUs' for per-CPU maps).
pub fn map_lookup(map: RawFd, key: &[u8], value: &mut [u8]) -> io::Result<()> {
    let mut attr = [0u64; 4];
    put32(&mut attr, 0, map as u32);
    put64(&mut attr, 8, key.as_ptr() as u64);
    put64(&mut attr, 16, value.as_mut_ptr() as u64);
    sys_bpf(BPF_MAP_LOOKUP_ELEM, &mut attr).map(|_| ())
}

/// Sets `key` to `value` (all CPUs' values, one after the other, for a
/// per-CPU map), creating it if need be.
pub fn map_update(map: RawFd, key: &[u8], value: &[u8]) -> io::Result<()> {
    let mut attr = [0u64; 4];
    put32(&mut attr, 0, map as u32);
    put64(&mut attr, 8, key.as_ptr() as u64);
    put64(&mut attr, 16, value.as_ptr() as u64);
    sys_bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(|_| ())
}

/// Removes `key`; a key that is not there is not an error (the map may
/// have lost it meanwhile).
pub fn map_delete(map: RawFd, key: &[u8]) -> io::Result<()> {
    let mut attr = [0u64; 4];
    put32(&mut attr, 0, map as u32);
    put64(&mut attr, 8, key.as_ptr() as u64);
    match sys_bpf(BPF_MAP_DELETE_ELEM, &mut attr) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        r => r.map(|_| ()),
    }
}

/// What the kernel holds that [`ids`] lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objects {
    Programs,
    Links,
}

/// The ids of every program or link in the kernel, ascending (what
/// `bpftool prog show` and `link show` list).
pub fn ids(what: Objects) -> io::Result<Vec<u32>> {
    let cmd = match what {
        Objects::Programs => BPF_PROG_GET_NEXT_ID,
        Objects::Links => BPF_LINK_GET_NEXT_ID,
    };
    let mut out = Vec::new();
    let mut at = 0u32;
    loop {
        let mut attr = [0u64; 2];
        put32(&mut attr, 0, at);
        match sys_bpf(cmd, &mut attr) {
            Ok(_) => {
                let bytes: &mut [u8] = bytemuck(&mut attr);
                at = u32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
                out.push(at);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(out),
            Err(e) => return Err(e),
        }
    }
}

/// Every key of a hash map, in the kernel's iteration order.
pub fn map_keys(map: RawFd, key_size: usize) -> io::Result<Vec<Vec<u8>>> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut next = vec![0u8; key_size];
        let mut attr = [0u64; 4];
        put32(&mut attr, 0, map as u32);
        put64(&mut attr, 8, keys.last().map_or(0, |k| k.as_ptr() as u64));
        put64(&mut attr, 16, next.as_mut_ptr() as u64);
        match sys_bpf(BPF_MAP_GET_NEXT_KEY, &mut attr) {
            Ok(_) => keys.push(next),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(keys),
            Err(e) => return Err(e),
        }
        if keys.len() > 1 << 20 {
            return Err(io::Error::other("map iteration does not end"));
        }
    }
}

/// A kprobe or kretprobe created through the kprobe PMU with a program
/// attached; dropping it detaches.
pub struct Probe {
    _event: OwnedFd,
}

/// The kprobe PMU's type and the config bit that makes a kretprobe.
fn kprobe_pmu() -> io::Result<(u32, u32)> {
    let dir = "/sys/bus/event_source/devices/kprobe";
    let ty = std::fs::read_to_string(format!("{dir}/type"))?;
    let ty = ty.trim().parse().map_err(io::Error::other)?;
    let fmt = std::fs::read_to_string(format!("{dir}/format/retprobe"))?;
    let bit = fmt
        .trim()
        .strip_prefix("config:")
        .and_then(|b| b.parse().ok())
        .ok_or_else(|| io::Error::other(format!("unexpected retprobe format {fmt}")))?;
    Ok((ty, bit))
}

pub fn attach_kprobe(prog: &OwnedFd, func: &str, retprobe: bool) -> io::Result<Probe> {
    let (ty, bit) = kprobe_pmu()?;
    let name = CString::new(func).map_err(io::Error::other)?;
    let mut attr = [0u64; 16]; // perf_event_attr, PERF_ATTR_SIZE_VER5 = 112 bytes
    put32(&mut attr, 0, ty);
    put32(&mut attr, 4, 112);
    put64(&mut attr, 8, if retprobe { 1 << bit } else { 0 });
    put64(&mut attr, 16, 1); // sample_period
    put64(&mut attr, 56, name.as_ptr() as u64); // kprobe_func
                                                // SAFETY: attr is a zeroed perf_event_attr with the fields above.
    let r = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            -1i32,
            0i32,
            -1i32,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let event = fd(r);
    // SAFETY: ioctls on the perf event fd we own.
    unsafe {
        if libc::ioctl(
            event.as_raw_fd(),
            PERF_EVENT_IOC_SET_BPF as _,
            prog.as_raw_fd(),
        ) < 0
        {
            return Err(io::Error::last_os_error());
        }
        if libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_ENABLE as _, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(Probe { _event: event })
}

/// How many times the kernel ran program `prog` (with BPF run statistics
/// on): the `run_cnt` line of its `/proc/self/fdinfo` entry (Linux 5.1
/// and later), which needs no layout of `struct bpf_prog_info`.
pub fn run_count(prog: &OwnedFd) -> io::Result<u64> {
    let path = format!("/proc/self/fdinfo/{}", prog.as_raw_fd());
    let text = std::fs::read_to_string(&path)?;
    text.lines()
        .find_map(|l| l.strip_prefix("run_cnt:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("{path} has no run_cnt line")))
}

/// One kprobe-multi link (`BPF_LINK_CREATE`, `BPF_TRACE_KPROBE_MULTI`,
/// Linux 5.18+ with `CONFIG_FPROBE`) of `prog` (loaded for that attach
/// type) on every function of `funcs` (their entries, or their returns);
/// closing it detaches them all.
pub fn link_kprobe_multi(prog: &OwnedFd, funcs: &[String], retprobe: bool) -> io::Result<OwnedFd> {
    let names = funcs
        .iter()
        .map(|f| CString::new(f.as_str()).map_err(io::Error::other))
        .collect::<io::Result<Vec<_>>>()?;
    let syms: Vec<u64> = names.iter().map(|n| n.as_ptr() as u64).collect();
    let mut attr = [0u64; 8];
    put32(&mut attr, 0, prog.as_raw_fd() as u32);
    put32(&mut attr, 8, BPF_TRACE_KPROBE_MULTI);
    put32(
        &mut attr,
        16,
        if retprobe {
            BPF_F_KPROBE_MULTI_RETURN
        } else {
            0
        },
    );
    put32(&mut attr, 20, syms.len() as u32);
    put64(&mut attr, 24, syms.as_ptr() as u64);
    sys_bpf(BPF_LINK_CREATE, &mut attr).map(fd)
}
