//! The chapter's pure-DSL tracer: every `do_sys_openat2` call sends an
//! [`event layout`](layout) record (timestamp, pid, uid, comm) through a ring
//! buffer. The record's struct is in the object's BTF, so a consumer can
//! decode it.

use crate::arch::Arch;
use crate::asm::{self, regs::*};
use crate::ctype::CType;
use crate::event::EventLayout;
use crate::insn::Cond;
use crate::kprobe::{AttachPoint, KprobeProgram, EXIT_LABEL};
use crate::maps::MapDef;
use crate::program::Object;

use super::{program, ExampleError};

/// Length of `comm` (`TASK_COMM_LEN`).
pub const COMM_LEN: u32 = 16;

/// `struct open_event { u64 ts; u32 pid; u32 uid; char comm[16]; }`.
pub fn layout() -> EventLayout {
    EventLayout::new(
        "open_event",
        &[
            ("ts", CType::u64()),
            ("pid", CType::u32()),
            ("uid", CType::u32()),
            ("comm", CType::char_array(COMM_LEN)),
        ],
    )
}

pub fn object(arch: Arch) -> Result<Object, ExampleError> {
    let at = AttachPoint::kprobe("do_sys_openat2");
    let ev = layout();
    let comm = ev.field_offset("comm")? as i32;
    let body = vec![
        asm::ringbuf_reserve(asm::map("events"), ev.size() as i32),
        asm::jmp_imm(Cond::Eq, R0, 0, EXIT_LABEL),
        asm::mov_reg(R6, R0),
        asm::ktime_get_ns(),
        asm::raw(ev.store_field(R6, "ts", R0)?),
        asm::get_current_pid_tgid(),
        asm::rsh(R0, 32),
        asm::raw(ev.store_field(R6, "pid", R0)?),
        asm::get_current_uid_gid(),
        asm::raw(ev.store_field(R6, "uid", R0)?),
        asm::mov_reg(R1, R6),
        asm::add(R1, comm),
        asm::get_current_comm(R1, COMM_LEN as i32),
        asm::ringbuf_submit(R6),
    ];
    let mut obj = Object::new(arch);
    obj.maps.push(MapDef::ringbuf("events", 256 * 1024));
    obj.types.push(ev.ctype());
    obj.programs.push(program(
        arch,
        &at,
        KprobeProgram {
            body,
            ..Default::default()
        },
    )?);
    Ok(obj)
}
