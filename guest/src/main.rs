//! The guest agent: `/init` of every QEMU guest of the attach-and-measure
//! matrix. It mounts the pseudo filesystems, checks the compiler's per-arch
//! table against the kernel, loads every fixture object with the runtime's
//! loader (`probecc_runtime::live`, aya underneath), attaches its kprobes
//! and kretprobes, runs the fixture's workload, checks the declared
//! expectations against the maps it decodes, measures the overhead of a
//! probe hit, prints one `PROBECC <json>` line per result and powers off.
//! Workloads are real commands: the plan names the guest's busybox, whose
//! applets the agent links into `/bin` first. A plan may also ask what
//! each spec costs under its own workload (`cost`). A plan with parity
//! cases runs each spec under bpftrace, as probecc's object and under
//! `probecc trace` (`parity`, with its `pworkload` and `sh` applets,
//! links to `/init`, and `parity_trace`; `tool` measures a tool's run);
//! one with an attach scale times both tools attaching about a thousand
//! functions at once (`scale`).
//! A plan with verifier cases has the kernel verify each corpus program
//! and report its verdict (`verifier`).

mod cost;
mod expect;
mod fixture;
mod offsets;
mod overhead;
mod parity;
mod parity_trace;
mod scale;
mod sys;
mod tables;
mod tool;
mod verifier;
mod workload;

use probecc::arch::Arch;
use probecc_guest::protocol::{Plan, Report, PLAN_PATH};
use probecc_runtime::ksyms::Ksyms;
use probecc_runtime::live;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let called = args
        .first()
        .and_then(|a| a.rsplit('/').next())
        .unwrap_or_default()
        .to_string();
    if parity::APPLETS.contains(&called.as_str()) {
        std::process::exit(parity::applet(&called, &args[1..]));
    }
    agent();
}

fn agent() -> ! {
    let t0 = std::time::Instant::now();
    sys::mount_all();
    let plan = match read_plan() {
        Ok(p) => p,
        Err(e) => {
            sys::report(&Report::Error {
                what: "plan".into(),
                error: e,
            });
            sys::power_off();
        }
    };
    sys::start_watchdog(plan.watchdog_secs.max(10));
    workload::open_null();
    if let Some(busybox) = &plan.busybox {
        sys::install_busybox(busybox);
    }
    sys::report(&Report::Boot {
        arch: plan.arch.clone(),
        kernel: sys::kernel_release(),
        cpus: live::possible_cpus() as u32,
        jit: sys::enable_jit(),
        kprobe_multi: Some(live::kernel::has_kprobe_multi()),
    });
    // Without kallsyms (no such file), stack frames are addresses.
    let ksyms = Ksyms::read(std::path::Path::new("/proc/kallsyms")).unwrap_or_default();
    match Arch::parse(&plan.arch) {
        Ok(arch) => tables::check(arch, &ksyms).iter().for_each(sys::report),
        Err(e) => sys::report(&Report::Error {
            what: "arch".into(),
            error: e.to_string(),
        }),
    }
    for f in &plan.fixtures {
        sys::report(&fixture::run(f, &ksyms));
    }
    for c in &plan.parity {
        parity::run(c, &ksyms);
    }
    if let Some(s) = &plan.attach_scale {
        scale::run(s);
    }
    for c in &plan.verifier {
        verifier::run(c);
    }
    if let Some(o) = &plan.overhead {
        overhead::run(o);
    }
    if !plan.costs.is_empty() {
        sys::no_aslr();
    }
    for c in &plan.costs {
        cost::run(c);
    }
    sys::report(&Report::Done {
        secs: t0.elapsed().as_secs_f64(),
    });
    sys::power_off();
}

fn read_plan() -> Result<Plan, String> {
    let text = std::fs::read_to_string(PLAN_PATH).map_err(|e| format!("{PLAN_PATH}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{PLAN_PATH}: {e}"))
}
