//! The helper wrappers of the DSL, clj-ebpf's `helper-*` functions: one
//! constructor per helper, each a [`helper_call`] that sets up the
//! arguments its prototype in `helpers::TABLE` takes and calls the helper;
//! the result is in r0 and r1..r5 are clobbered. Re-exported by
//! [`crate::asm`], so programs write `asm::map_lookup_elem(...)`.

use super::{helper_call, Arg, Op};
use crate::helpers::Helper;

/// `r0 = bpf_map_lookup_elem(map, key)`: a value pointer or NULL.
pub fn map_lookup_elem(map: impl Into<Arg>, key: impl Into<Arg>) -> Op {
    helper_call(Helper::MapLookupElem, vec![map.into(), key.into()])
}

/// `r0 = bpf_map_update_elem(map, key, value, flags)`.
pub fn map_update_elem(
    map: impl Into<Arg>,
    key: impl Into<Arg>,
    value: impl Into<Arg>,
    flags: impl Into<Arg>,
) -> Op {
    helper_call(
        Helper::MapUpdateElem,
        vec![map.into(), key.into(), value.into(), flags.into()],
    )
}

/// `r0 = bpf_map_delete_elem(map, key)`.
pub fn map_delete_elem(map: impl Into<Arg>, key: impl Into<Arg>) -> Op {
    helper_call(Helper::MapDeleteElem, vec![map.into(), key.into()])
}

/// `r0 = bpf_ktime_get_ns()`.
pub fn ktime_get_ns() -> Op {
    helper_call(Helper::KtimeGetNs, vec![])
}

/// `r0 = bpf_get_current_pid_tgid()`: tgid in the upper half, pid in the lower.
pub fn get_current_pid_tgid() -> Op {
    helper_call(Helper::GetCurrentPidTgid, vec![])
}

/// `r0 = bpf_get_current_uid_gid()`: gid in the upper half, uid in the lower.
pub fn get_current_uid_gid() -> Op {
    helper_call(Helper::GetCurrentUidGid, vec![])
}

/// `bpf_get_current_comm(buf, size)`.
pub fn get_current_comm(buf: impl Into<Arg>, size: impl Into<Arg>) -> Op {
    helper_call(Helper::GetCurrentComm, vec![buf.into(), size.into()])
}

/// `r0 = bpf_get_prandom_u32()`.
pub fn get_prandom_u32() -> Op {
    helper_call(Helper::GetPrandomU32, vec![])
}

/// `r0 = bpf_get_smp_processor_id()`.
pub fn get_smp_processor_id() -> Op {
    helper_call(Helper::GetSmpProcessorId, vec![])
}

/// `bpf_probe_read_kernel(dst, size, src)`.
pub fn probe_read_kernel(dst: impl Into<Arg>, size: impl Into<Arg>, src: impl Into<Arg>) -> Op {
    helper_call(
        Helper::ProbeReadKernel,
        vec![dst.into(), size.into(), src.into()],
    )
}

/// `bpf_probe_read_kernel_str(dst, size, src)`.
pub fn probe_read_kernel_str(dst: impl Into<Arg>, size: impl Into<Arg>, src: impl Into<Arg>) -> Op {
    helper_call(
        Helper::ProbeReadKernelStr,
        vec![dst.into(), size.into(), src.into()],
    )
}

/// `bpf_probe_read_user(dst, size, src)`.
pub fn probe_read_user(dst: impl Into<Arg>, size: impl Into<Arg>, src: impl Into<Arg>) -> Op {
    helper_call(
        Helper::ProbeReadUser,
        vec![dst.into(), size.into(), src.into()],
    )
}

/// `bpf_probe_read_user_str(dst, size, src)`.
pub fn probe_read_user_str(dst: impl Into<Arg>, size: impl Into<Arg>, src: impl Into<Arg>) -> Op {
    helper_call(
        Helper::ProbeReadUserStr,
        vec![dst.into(), size.into(), src.into()],
    )
}

/// `bpf_perf_event_output(ctx, map, flags, data, size)`.
pub fn perf_event_output(
    ctx: impl Into<Arg>,
    map: impl Into<Arg>,
    flags: impl Into<Arg>,
    data: impl Into<Arg>,
    size: impl Into<Arg>,
) -> Op {
    helper_call(
        Helper::PerfEventOutput,
        vec![
            ctx.into(),
            map.into(),
            flags.into(),
            data.into(),
            size.into(),
        ],
    )
}

/// `bpf_ringbuf_output(map, data, size, flags)`.
pub fn ringbuf_output(
    map: impl Into<Arg>,
    data: impl Into<Arg>,
    size: impl Into<Arg>,
    flags: impl Into<Arg>,
) -> Op {
    helper_call(
        Helper::RingbufOutput,
        vec![map.into(), data.into(), size.into(), flags.into()],
    )
}

/// `r0 = bpf_ringbuf_reserve(map, size, 0)`: a record pointer or NULL.
pub fn ringbuf_reserve(map: impl Into<Arg>, size: impl Into<Arg>) -> Op {
    helper_call(
        Helper::RingbufReserve,
        vec![map.into(), size.into(), Arg::Imm(0)],
    )
}

/// `bpf_ringbuf_submit(record, 0)`.
pub fn ringbuf_submit(record: impl Into<Arg>) -> Op {
    helper_call(Helper::RingbufSubmit, vec![record.into(), Arg::Imm(0)])
}

/// `bpf_ringbuf_discard(record, 0)`.
pub fn ringbuf_discard(record: impl Into<Arg>) -> Op {
    helper_call(Helper::RingbufDiscard, vec![record.into(), Arg::Imm(0)])
}

/// `r0 = bpf_get_func_ip(ctx)`.
pub fn get_func_ip(ctx: impl Into<Arg>) -> Op {
    helper_call(Helper::GetFuncIp, vec![ctx.into()])
}

/// `r0 = bpf_get_stackid(ctx, map, flags)`.
pub fn get_stackid(ctx: impl Into<Arg>, map: impl Into<Arg>, flags: impl Into<Arg>) -> Op {
    helper_call(
        Helper::GetStackid,
        vec![ctx.into(), map.into(), flags.into()],
    )
}

/// `r0 = bpf_send_signal(sig)`: `sig` to the current task.
pub fn send_signal(sig: impl Into<Arg>) -> Op {
    helper_call(Helper::SendSignal, vec![sig.into()])
}

/// `bpf_trace_printk(fmt, fmt_size, a, b, c)`.
pub fn trace_printk(
    fmt: impl Into<Arg>,
    fmt_size: impl Into<Arg>,
    a: impl Into<Arg>,
    b: impl Into<Arg>,
    c: impl Into<Arg>,
) -> Op {
    helper_call(
        Helper::TracePrintk,
        vec![fmt.into(), fmt_size.into(), a.into(), b.into(), c.into()],
    )
}
