//! Optimisation pattern, sampling: count one in [`N`] `vfs_read` calls,
//! chosen with `bpf_get_prandom_u32`.

use crate::arch::Arch;
use crate::asm::{self, regs::*};
use crate::ctype::CType;
use crate::insn::{Cond, Size};
use crate::kprobe::{AttachPoint, KprobeProgram, EXIT_LABEL};
use crate::maps::MapDef;
use crate::program::Object;

use super::{bump_existing, program, ExampleError};

/// One call in `N` is counted.
pub const N: i32 = 16;

pub fn object(arch: Arch) -> Result<Object, ExampleError> {
    let at = AttachPoint::kprobe("vfs_read");
    let body = [
        vec![
            asm::get_prandom_u32(),
            asm::mod32(R0, N),
            asm::jmp_imm(Cond::Ne, R0, 0, EXIT_LABEL),
            asm::store_imm(Size::W, R10, -4, 0),
        ],
        bump_existing("sampled", -4),
    ]
    .concat();
    let mut obj = Object::new(arch);
    obj.maps.push(MapDef::array("sampled", CType::u64(), 1));
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
