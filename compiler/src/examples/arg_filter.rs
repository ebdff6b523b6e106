//! Pattern 2, argument filtering: count only the `vfs_read` calls whose
//! `count` argument (arg2) equals [`VALUE`], e.g. `dd bs=7`.

use crate::arch::Arch;
use crate::asm::{self, regs::*};
use crate::ctype::CType;
use crate::insn::{Cond, Size};
use crate::kprobe::{self, AttachPoint, KprobeProgram, EXIT_LABEL};
use crate::maps::MapDef;
use crate::program::Object;

use super::{bump_existing, program, ExampleError};

/// The argument compared.
pub const ARG: usize = 2;
/// The value it must have.
pub const VALUE: i32 = 7;

pub fn object(arch: Arch) -> Result<Object, ExampleError> {
    let at = AttachPoint::kprobe("vfs_read");
    let body = [
        vec![
            kprobe::load_arg(arch, R1, ARG, R6, Size::DW)?,
            asm::jmp_imm(Cond::Ne, R6, VALUE, EXIT_LABEL),
            asm::store_imm(Size::W, R10, -4, 0),
        ],
        bump_existing("matches", -4),
    ]
    .concat();
    let mut obj = Object::new(arch);
    obj.maps.push(MapDef::array("matches", CType::u64(), 1));
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
