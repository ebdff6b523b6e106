//! The BPF helper functions kprobe programs call: one table of ids and
//! prototypes (argument and return kinds, GPL-only flag), as the kernel's
//! `bpf_func_proto` records describe them in `kernel/trace/bpf_trace.c` and
//! `kernel/bpf/helpers.c`. The DSL's helper wrappers, verifier-sim and the
//! offline runner all read this table.

use std::fmt;

/// What a helper accepts in one argument register (the kernel's `ARG_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgKind {
    /// Any scalar (`ARG_ANYTHING`).
    Anything,
    /// A map pointer from `ld_imm64` (`ARG_CONST_MAP_PTR`).
    MapPtr,
    /// Pointer to initialised memory of the map's key size (`ARG_PTR_TO_MAP_KEY`).
    MapKey,
    /// Pointer to initialised memory of the map's value size (`ARG_PTR_TO_MAP_VALUE`).
    MapValue,
    /// Pointer to memory the helper writes; size in the next argument
    /// (`ARG_PTR_TO_UNINIT_MEM`).
    UninitMem,
    /// Pointer to initialised memory the helper reads; size in the next
    /// argument (`ARG_PTR_TO_MEM | MEM_RDONLY`).
    ReadMem,
    /// The size of the preceding memory argument, > 0 (`ARG_CONST_SIZE`).
    ConstSize,
    /// The size of the preceding memory argument, >= 0 (`ARG_CONST_SIZE_OR_ZERO`).
    ConstSizeOrZero,
    /// A constant allocation size (`ARG_CONST_ALLOC_SIZE_OR_ZERO`).
    ConstAllocSize,
    /// The program's context (`ARG_PTR_TO_CTX`).
    Ctx,
    /// A ring-buffer record from `bpf_ringbuf_reserve`, released by the call
    /// (`ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE`).
    RingbufMemRelease,
    /// Passed but not checked (`ARG_DONTCARE`): `trace_printk`'s values,
    /// which the format may not use.
    Unchecked,
    /// A function's address, the callback the helper calls (`ARG_PTR_TO_FUNC`).
    Func,
    /// A stack pointer or NULL, handed to the callback (`ARG_PTR_TO_STACK_OR_NULL`).
    StackOrNull,
}

/// What a helper leaves in r0 (the kernel's `RET_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetKind {
    Integer,
    Void,
    /// `RET_PTR_TO_MAP_VALUE_OR_NULL`.
    MapValueOrNull,
    /// `RET_PTR_TO_RINGBUF_MEM_OR_NULL`: a referenced record of the size asked.
    RingbufMemOrNull,
}

/// A helper's prototype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proto {
    pub id: i32,
    /// The name without the `bpf_` prefix.
    pub name: &'static str,
    pub args: &'static [ArgKind],
    pub ret: RetKind,
    /// Callable only from programs with a GPL-compatible license.
    pub gpl_only: bool,
}

macro_rules! helpers {
    ($( $variant:ident = $id:literal, $name:literal, [$($arg:ident),*] -> $ret:ident, gpl = $gpl:literal; )*) => {
        /// A helper function by name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Helper { $( $variant, )* }

        /// Every helper probecc knows, in id order.
        pub const TABLE: &[Proto] = &[
            $( Proto {
                id: $id,
                name: $name,
                args: &[$(ArgKind::$arg),*],
                ret: RetKind::$ret,
                gpl_only: $gpl,
            }, )*
        ];

        impl Helper {
            pub const ALL: &'static [Helper] = &[ $( Helper::$variant, )* ];

            pub fn proto(self) -> &'static Proto {
                // The enum and TABLE are generated from the same list, in order.
                &TABLE[self as usize]
            }
        }
    };
}

helpers! {
    MapLookupElem = 1, "map_lookup_elem", [MapPtr, MapKey] -> MapValueOrNull, gpl = false;
    MapUpdateElem = 2, "map_update_elem", [MapPtr, MapKey, MapValue, Anything] -> Integer, gpl = false;
    MapDeleteElem = 3, "map_delete_elem", [MapPtr, MapKey] -> Integer, gpl = false;
    ProbeRead = 4, "probe_read", [UninitMem, ConstSizeOrZero, Anything] -> Integer, gpl = true;
    KtimeGetNs = 5, "ktime_get_ns", [] -> Integer, gpl = false;
    TracePrintk = 6, "trace_printk", [ReadMem, ConstSize, Unchecked, Unchecked, Unchecked] -> Integer, gpl = true;
    GetPrandomU32 = 7, "get_prandom_u32", [] -> Integer, gpl = false;
    GetSmpProcessorId = 8, "get_smp_processor_id", [] -> Integer, gpl = false;
    TailCall = 12, "tail_call", [Ctx, MapPtr, Anything] -> Void, gpl = false;
    GetCurrentPidTgid = 14, "get_current_pid_tgid", [] -> Integer, gpl = false;
    GetCurrentUidGid = 15, "get_current_uid_gid", [] -> Integer, gpl = false;
    GetCurrentComm = 16, "get_current_comm", [UninitMem, ConstSize] -> Integer, gpl = false;
    PerfEventOutput = 25, "perf_event_output", [Ctx, MapPtr, Anything, ReadMem, ConstSizeOrZero] -> Integer, gpl = true;
    GetStackid = 27, "get_stackid", [Ctx, MapPtr, Anything] -> Integer, gpl = true;
    GetCurrentTask = 35, "get_current_task", [] -> Integer, gpl = true;
    GetNumaNodeId = 42, "get_numa_node_id", [] -> Integer, gpl = false;
    ProbeReadStr = 45, "probe_read_str", [UninitMem, ConstSizeOrZero, Anything] -> Integer, gpl = true;
    GetStack = 67, "get_stack", [Ctx, UninitMem, ConstSizeOrZero, Anything] -> Integer, gpl = true;
    GetCurrentCgroupId = 80, "get_current_cgroup_id", [] -> Integer, gpl = false;
    SendSignal = 109, "send_signal", [Anything] -> Integer, gpl = false;
    ProbeReadUser = 112, "probe_read_user", [UninitMem, ConstSizeOrZero, Anything] -> Integer, gpl = true;
    ProbeReadKernel = 113, "probe_read_kernel", [UninitMem, ConstSizeOrZero, Anything] -> Integer, gpl = true;
    ProbeReadUserStr = 114, "probe_read_user_str", [UninitMem, ConstSizeOrZero, Anything] -> Integer, gpl = true;
    ProbeReadKernelStr = 115, "probe_read_kernel_str", [UninitMem, ConstSizeOrZero, Anything] -> Integer, gpl = true;
    SendSignalThread = 117, "send_signal_thread", [Anything] -> Integer, gpl = false;
    KtimeGetBootNs = 125, "ktime_get_boot_ns", [] -> Integer, gpl = false;
    RingbufOutput = 130, "ringbuf_output", [MapPtr, ReadMem, ConstSizeOrZero, Anything] -> Integer, gpl = false;
    RingbufReserve = 131, "ringbuf_reserve", [MapPtr, ConstAllocSize, Anything] -> RingbufMemOrNull, gpl = false;
    RingbufSubmit = 132, "ringbuf_submit", [RingbufMemRelease, Anything] -> Void, gpl = false;
    RingbufDiscard = 133, "ringbuf_discard", [RingbufMemRelease, Anything] -> Void, gpl = false;
    ForEachMapElem = 164, "for_each_map_elem", [MapPtr, Func, StackOrNull, Anything] -> Integer, gpl = false;
    GetFuncIp = 173, "get_func_ip", [Ctx] -> Integer, gpl = true;
    GetAttachCookie = 174, "get_attach_cookie", [Ctx] -> Integer, gpl = false;
    Loop = 181, "loop", [Anything, Func, StackOrNull, Anything] -> Integer, gpl = false;
    MapLookupPercpuElem = 195, "map_lookup_percpu_elem", [MapPtr, MapKey, Anything] -> MapValueOrNull, gpl = false;
}

impl Helper {
    pub fn id(self) -> i32 {
        self.proto().id
    }

    pub fn name(self) -> &'static str {
        self.proto().name
    }

    /// The helper with kernel id `id`, if probecc knows it.
    pub fn from_id(id: i32) -> Option<Helper> {
        Helper::ALL.iter().copied().find(|h| h.id() == id)
    }

    /// The helper named `name`, with or without the `bpf_` prefix.
    pub fn from_name(name: &str) -> Option<Helper> {
        let bare = name.strip_prefix("bpf_").unwrap_or(name);
        Helper::ALL.iter().copied().find(|h| h.name() == bare)
    }
}

impl fmt::Display for Helper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bpf_{}", self.name())
    }
}

/// The prototype of helper `id`.
pub fn proto(id: i32) -> Option<&'static Proto> {
    Helper::from_id(id).map(Helper::proto)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_and_table_agree() {
        assert_eq!(Helper::ALL.len(), TABLE.len());
        for (i, h) in Helper::ALL.iter().enumerate() {
            assert_eq!(h.proto(), &TABLE[i]);
            assert_eq!(Helper::from_id(h.id()), Some(*h));
            assert_eq!(Helper::from_name(&h.to_string()), Some(*h));
        }
    }

    #[test]
    fn ids_are_the_kernels() {
        // enum bpf_func_id in include/uapi/linux/bpf.h
        assert_eq!(Helper::MapLookupElem.id(), 1);
        assert_eq!(Helper::GetCurrentPidTgid.id(), 14);
        assert_eq!(Helper::GetCurrentComm.id(), 16);
        assert_eq!(Helper::PerfEventOutput.id(), 25);
        assert_eq!(Helper::ProbeReadKernel.id(), 113);
        assert_eq!(Helper::RingbufReserve.id(), 131);
        assert_eq!(Helper::GetFuncIp.id(), 173);
    }

    #[test]
    fn ids_ascend_and_are_unique() {
        assert!(TABLE.windows(2).all(|w| w[0].id < w[1].id));
    }

    #[test]
    fn at_most_five_arguments() {
        assert!(TABLE.iter().all(|p| p.args.len() <= 5));
    }
}
