//! The guest as a tiny Linux system: mounting the pseudo filesystems,
//! the files the workloads read, result lines on the console, the
//! watchdog, and powering off.

use std::ffi::CString;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use probecc_guest::protocol::{Report, MARK};

/// Mounts proc, sysfs, devtmpfs, tmpfs, tracefs, debugfs and bpffs; an error is
/// reported and the run goes on (a missing one shows up as a failure later).
pub fn mount_all() {
    let mounts = [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("devtmpfs", "/dev", "devtmpfs"),
        ("tmpfs", "/tmp", "tmpfs"),
        ("tracefs", "/sys/kernel/tracing", "tracefs"),
        // The kprobe blacklist, which wildcards leave out.
        ("debugfs", "/sys/kernel/debug", "debugfs"),
        ("bpf", "/sys/fs/bpf", "bpf"),
    ];
    for (src, target, fs) in mounts {
        let _ = std::fs::create_dir_all(target);
        if let Err(e) = mount(src, target, fs) {
            report(&Report::Error {
                what: format!("mount {fs} on {target}"),
                error: e.to_string(),
            });
        }
    }
    // What udev and systemd make on a device and the kernel's devtmpfs
    // does not: programs that name their descriptors by path (clang in
    // sid's bpftrace writes to /dev/fd/N) find them.
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        let _ = std::os::unix::fs::symlink(target, link);
    }
    let _ = std::fs::create_dir_all("/etc");
    let _ = std::fs::write("/etc/hostname", "probecc-guest\n");
    // A Debian system's root account, so that `username` names uid 0 as
    // it does on a device (bpftrace and the runtime read /etc/passwd).
    if !Path::new("/etc/passwd").exists() {
        let _ = std::fs::write("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    }
}

fn mount(src: &str, target: &str, fs: &str) -> std::io::Result<()> {
    let c = |s: &str| CString::new(s).map_err(std::io::Error::other);
    let (src, target, fs) = (c(src)?, c(target)?, c(fs)?);
    // SAFETY: valid NUL-terminated strings, no data argument.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fs.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EBUSY) {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Links each applet of the busybox at `busybox` into `/bin` (those not
/// there already: the agent's own applets stay), so that workloads are
/// real commands; an error is reported and the run goes on.
pub fn install_busybox(busybox: &str) {
    let listed = std::process::Command::new(busybox)
        .arg("--list")
        .stdin(std::process::Stdio::null())
        .output();
    let out = match listed {
        Ok(o) if o.status.success() => o.stdout,
        Ok(o) => {
            return report(&Report::Error {
                what: format!("{busybox} --list"),
                error: format!(
                    "{}: {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            })
        }
        Err(e) => {
            return report(&Report::Error {
                what: format!("{busybox} --list"),
                error: e.to_string(),
            })
        }
    };
    let _ = std::fs::create_dir_all("/bin");
    for applet in String::from_utf8_lossy(&out).split_whitespace() {
        let link = std::path::Path::new("/bin").join(applet);
        if !link.exists() && link.symlink_metadata().is_err() {
            let _ = std::os::unix::fs::symlink(busybox, &link);
        }
    }
}

/// Prints one result line on the console, in a single write.
pub fn report(r: &Report) {
    let json = serde_json::to_string(r).unwrap_or_else(|e| {
        format!("{{\"kind\":\"error\",\"what\":\"serialise\",\"error\":\"{e}\"}}")
    });
    let line = format!("{MARK}{json}\n");
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

/// The running kernel's release (`uname -r`).
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Turns the BPF JIT on, as production systems run it (Debian leaves it
/// off by default on ppc64le, s390x and riscv64, and the riscv64 7.x
/// verifier refuses programs calling `bpf_get_smp_processor_id` without
/// it); the setting in force afterwards, `None` without a JIT.
pub fn enable_jit() -> Option<u8> {
    const PATH: &str = "/proc/sys/net/core/bpf_jit_enable";
    let read = || {
        std::fs::read_to_string(PATH)
            .ok()?
            .trim()
            .parse::<u8>()
            .ok()
    };
    if read()? == 0 {
        let _ = std::fs::write(PATH, "1");
    }
    read()
}

/// Turns address-space randomisation off, so that runs of one workload
/// lay out their memory alike and count nearly the same instructions.
pub fn no_aslr() {
    let _ = std::fs::write("/proc/sys/kernel/randomize_va_space", "0");
}

/// Powers the machine off after `secs` seconds, whatever else is going on.
pub fn start_watchdog(secs: u64) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(secs));
        report(&Report::Watchdog { secs });
        power_off();
    });
}

/// Flushes and powers off; never returns.
pub fn power_off() -> ! {
    // SAFETY: plain syscalls; as pid 1 we may power off.
    unsafe {
        libc::sync();
        libc::reboot(libc::LINUX_REBOOT_CMD_POWER_OFF);
    }
    // If power-off failed, exiting pid 1 panics the kernel, and the host's
    // `panic=-1 -no-reboot` ends QEMU.
    std::process::exit(1)
}

/// Sets the calling thread's comm (what `comm` reads in probes).
pub fn set_comm(name: &str) {
    if let Ok(c) = CString::new(name) {
        // SAFETY: PR_SET_NAME with a NUL-terminated string.
        unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr() as libc::c_ulong, 0, 0, 0) };
    }
}

/// CLOCK_MONOTONIC in ns: under `-icount shift=0` one ns per guest
/// instruction.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes the timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
