//! Pattern 1, function call counting: every call of `vfs_read` increments a
//! per-process counter (`counts[tgid]`, what bpftrace calls `pid`).

use crate::arch::Arch;
use crate::asm::{self, regs::*};
use crate::ctype::CType;
use crate::insn::Size;
use crate::kprobe::{AttachPoint, KprobeProgram};
use crate::maps::MapDef;
use crate::program::Object;

use super::{bump_hash, program, ExampleError};

pub fn object(arch: Arch) -> Result<Object, ExampleError> {
    let at = AttachPoint::kprobe("vfs_read");
    let body = [
        vec![
            asm::get_current_pid_tgid(),
            asm::rsh(R0, 32),
            asm::store_mem(Size::W, R10, -4, R0),
        ],
        bump_hash("counts", -4, -16, "count"),
    ]
    .concat();
    let mut obj = Object::new(arch);
    obj.maps
        .push(MapDef::hash("counts", CType::u32(), CType::u64(), 10240));
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
