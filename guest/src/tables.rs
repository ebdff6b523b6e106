//! The compiler's per-arch table (`probecc::arch`) checked against the
//! running kernel:
//! - sizeof(pt_regs): the largest aligned 8-byte ctx load the verifier
//!   accepts, probed with one tiny program per offset;
//! - the syscall symbol prefix: `<prefix>read` must be in kallsyms;
//! - argument and return registers: a kprobe on `do_sys_openat2` and a
//!   kprobe and kretprobe on `vfs_read` copy the whole `pt_regs` of this
//!   process's call into a map; the calls have known arguments (a dirfd,
//!   a path pointer, a buffer pointer, a count) and a known return value,
//!   which must sit at the table's offsets.
//!
//! A mismatch reports the table's value and the kernel's side by side.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use probecc::arch::{Arch, KernelVersion};
use probecc::insn::{self, AluOp, Cond, Insn, Reg, Size};
use probecc_guest::protocol::Report;

use probecc_runtime::ksyms::Ksyms;
use probecc_runtime::live::bpf;

const MAX_CTX: u16 = 1024;

/// Every table check, one report each.
pub fn check(arch: Arch, ksyms: &Ksyms) -> Vec<Report> {
    let release = crate::sys::kernel_release();
    let version: KernelVersion = release.parse().unwrap_or(KernelVersion(0, 0));
    let mut out = Vec::new();
    let size = pt_regs_size(arch, version, &mut out);
    out.push(syscall_prefix(arch, ksyms));
    match Registers::capture(arch, size) {
        Ok(regs) => out.extend(regs.compare(arch)),
        Err(e) => out.push(table("argument registers", false, "", "", &e)),
    }
    out
}

fn table(check: &str, ok: bool, table: &str, kernel: &str, detail: &str) -> Report {
    Report::Table {
        check: check.into(),
        ok,
        table: table.into(),
        kernel: kernel.into(),
        detail: detail.into(),
    }
}

fn encode(arch: Arch, insns: &[Insn]) -> Vec<u8> {
    insn::encode_all(insns, arch.endian())
}

/// Probes ctx loads at every 8-byte offset; returns the size to use next.
fn pt_regs_size(arch: Arch, version: KernelVersion, out: &mut Vec<Report>) -> u16 {
    let want = arch.pt_regs_size(version);
    let accepted: Vec<u16> = (0..MAX_CTX)
        .step_by(8)
        .filter(|&off| {
            let prog = [
                insn::ldx(Size::DW, Reg::R0, Reg::R1, off as i16),
                insn::alu64_imm(AluOp::Mov, Reg::R0, 0),
                insn::exit(),
            ];
            bpf::prog_load(&encode(arch, &prog), false).is_ok()
        })
        .collect();
    let largest = accepted.last().map_or(0, |o| o + 8);
    let contiguous = accepted.len() as u16 * 8 == largest;
    let ok = largest == want && contiguous;
    let detail = if contiguous {
        format!("largest accepted 8-byte ctx load ends at {largest}")
    } else {
        format!("accepted ctx offsets are not contiguous: {accepted:?}")
    };
    out.push(table(
        "sizeof(pt_regs)",
        ok,
        &want.to_string(),
        &largest.to_string(),
        &detail,
    ));
    if largest > 0 && largest <= MAX_CTX {
        largest
    } else {
        want
    }
}

fn syscall_prefix(arch: Arch, ksyms: &Ksyms) -> Report {
    let symbol = arch.syscall_symbol("read");
    let ok = ksyms.contains(&symbol);
    let found = ksyms.ending_with("sys_read");
    let kernel = found
        .iter()
        .filter(|s| !s.contains("ksys") && !s.contains("compat"))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let detail = format!(
        "{symbol} {} kallsyms",
        if ok { "is in" } else { "is not in" }
    );
    table(
        "syscall prefix",
        ok,
        arch.regs().syscall.prefix,
        &kernel,
        &detail,
    )
}

/// The register images of three calls with known arguments.
struct Registers {
    size: u16,
    openat_entry: Vec<u8>,
    read_entry: Vec<u8>,
    read_return: Vec<u8>,
    dirfd: i32,
    path: u64,
    buf: u64,
    count: u64,
    got: u64,
}

impl Registers {
    fn capture(arch: Arch, size: u16) -> Result<Registers, String> {
        let tgid = std::process::id();
        let open_probe = Dump::new(arch, size, tgid, "do_sys_openat2", false)?;
        let read_probe = Dump::new(arch, size, tgid, "vfs_read", false)?;
        let ret_probe = Dump::new(arch, size, tgid, "vfs_read", true)?;
        let (dirfd, path, buf, count, got) = known_calls()?;
        Ok(Registers {
            size,
            openat_entry: open_probe.read()?,
            read_entry: read_probe.read()?,
            read_return: ret_probe.read()?,
            dirfd,
            path,
            buf,
            count,
            got,
        })
    }

    fn compare(&self, arch: Arch) -> Vec<Report> {
        let r = arch.regs();
        let mut out = Vec::new();
        let low32 = |v: u64| v as u32 as u64;
        let checks: [(&str, &[u8], u16, u64, bool); 5] = [
            (
                "arg0 (do_sys_openat2 dfd)",
                &self.openat_entry,
                r.args[0],
                self.dirfd as u32 as u64,
                true,
            ),
            (
                "arg1 (do_sys_openat2 filename)",
                &self.openat_entry,
                r.args[1],
                self.path,
                false,
            ),
            (
                "arg1 (vfs_read buf)",
                &self.read_entry,
                r.args[1],
                self.buf,
                false,
            ),
            (
                "arg2 (vfs_read count)",
                &self.read_entry,
                r.args[2],
                self.count,
                false,
            ),
            (
                "return value (vfs_read)",
                &self.read_return,
                r.ret,
                self.got,
                false,
            ),
        ];
        for (what, image, off, want, is32) in checks {
            let slots = slots(image, self.size);
            let norm = |v: u64| if is32 { low32(v) } else { v };
            let at: Vec<String> = slots
                .iter()
                .filter(|(_, v)| norm(*v) == want)
                .map(|(o, _)| o.to_string())
                .collect();
            let here = slots.iter().find(|(o, _)| *o == off).map(|(_, v)| norm(*v));
            let ok = here == Some(want);
            let detail = format!(
                "known value {want:#x}; at the table's offset {off}: {}",
                here.map_or("nothing".into(), |v| format!("{v:#x}"))
            );
            let kernel = if at.is_empty() {
                "not found".into()
            } else {
                at.join(",")
            };
            out.push(table(what, ok, &off.to_string(), &kernel, &detail));
        }
        out
    }
}

/// (offset, value) of every 8-byte slot of a register image.
fn slots(image: &[u8], size: u16) -> Vec<(u16, u64)> {
    image
        .chunks(8)
        .take(size as usize / 8)
        .enumerate()
        .map(|(i, c)| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            (i as u16 * 8, u64::from_ne_bytes(a))
        })
        .collect()
}

/// An `openat` relative to a directory fd and a `read` of known length
/// from a file shorter than the count asked for.
fn known_calls() -> Result<(i32, u64, u64, u64, u64), String> {
    let content = b"probecc tables check\n";
    std::fs::write("/tmp/probecc-known", content).map_err(|e| e.to_string())?;
    let dir = std::fs::File::open("/tmp").map_err(|e| e.to_string())?;
    let name = CString::new("probecc-known").map_err(|e| e.to_string())?;
    let dirfd = dir.as_raw_fd();
    // SAFETY: openat/read/close on descriptors and buffers we own.
    unsafe {
        let fd = libc::openat(dirfd, name.as_ptr(), libc::O_RDONLY);
        if fd < 0 {
            return Err(format!("openat: {}", std::io::Error::last_os_error()));
        }
        let mut buf = vec![0u8; 4000];
        let count = 3000usize;
        let got = libc::read(fd, buf.as_mut_ptr().cast(), count);
        libc::close(fd);
        if got != content.len() as isize {
            return Err(format!("read returned {got}"));
        }
        Ok((
            dirfd,
            name.as_ptr() as u64,
            buf.as_ptr() as u64,
            count as u64,
            got as u64,
        ))
    }
}

/// A program copying the `pt_regs` of this process's calls of `func` into
/// an array map, attached as a kprobe or kretprobe.
struct Dump {
    map: OwnedFd,
    _prog: OwnedFd,
    _probe: bpf::Probe,
    size: u16,
}

impl Dump {
    fn new(arch: Arch, size: u16, tgid: u32, func: &str, ret: bool) -> Result<Dump, String> {
        let map = bpf::map_create(bpf::BPF_MAP_TYPE_ARRAY, 4, size as u32, 1)
            .map_err(|e| format!("map create: {e}"))?;
        let insns = dump_program(size, tgid, map.as_raw_fd());
        let prog = bpf::prog_load(&encode(arch, &insns), true)
            .map_err(|(e, log)| format!("loading the pt_regs dump: {e}\n{log}"))?;
        let probe = bpf::attach_kprobe(&prog, func, ret)
            .map_err(|e| format!("attaching to {func}: {e}"))?;
        Ok(Dump {
            map,
            _prog: prog,
            _probe: probe,
            size,
        })
    }

    fn read(&self) -> Result<Vec<u8>, String> {
        let mut v = vec![0u8; self.size as usize];
        bpf::map_lookup(self.map.as_raw_fd(), &0u32.to_ne_bytes(), &mut v)
            .map_err(|e| format!("map lookup: {e}"))?;
        Ok(v)
    }
}

/// `if (pid == tgid) { v = lookup(map, 0); if (v) *v = *ctx; }`.
fn dump_program(size: u16, tgid: u32, map: i32) -> Vec<Insn> {
    let mut p = vec![
        insn::alu64_reg(AluOp::Mov, Reg::R6, Reg::R1),
        insn::call_helper(14), // bpf_get_current_pid_tgid
        insn::alu64_imm(AluOp::Rsh, Reg::R0, 32),
    ];
    let pid_jump = p.len();
    p.push(insn::jmp_imm(Cond::Ne, Reg::R0, tgid as i32, 0));
    p.push(insn::st(Size::W, Reg::R10, -4, 0));
    p.push(insn::alu64_reg(AluOp::Mov, Reg::R2, Reg::R10));
    p.push(insn::alu64_imm(AluOp::Add, Reg::R2, -4));
    p.extend(insn::ld_imm64_pseudo(Reg::R1, 1, map as u32 as u64));
    p.push(insn::call_helper(1)); // bpf_map_lookup_elem
    let null_jump = p.len();
    p.push(insn::jmp_imm(Cond::Eq, Reg::R0, 0, 0));
    for off in (0..size as i16).step_by(8) {
        p.push(insn::ldx(Size::DW, Reg::R1, Reg::R6, off));
        p.push(insn::stx(Size::DW, Reg::R0, off, Reg::R1));
    }
    let exit = p.len();
    p.push(insn::alu64_imm(AluOp::Mov, Reg::R0, 0));
    p.push(insn::exit());
    for j in [pid_jump, null_jump] {
        p[j].off = (exit - j - 1) as i16;
    }
    p
}
