//! Pattern 3, return-value checking: a kretprobe on `do_sys_openat2` counts
//! failed opens per errno (`errors[-retval]` for negative return values).

use crate::arch::Arch;
use crate::asm::{self, regs::*};
use crate::ctype::CType;
use crate::insn::{Cond, Size};
use crate::kprobe::{self, AttachPoint, KprobeProgram, EXIT_LABEL};
use crate::maps::MapDef;
use crate::program::Object;

use super::{bump_hash, program, ExampleError};

pub fn object(arch: Arch) -> Result<Object, ExampleError> {
    let at = AttachPoint::kretprobe("do_sys_openat2");
    let body = [
        vec![
            kprobe::kretprobe_return_value(arch, R1, R6),
            asm::jmp_imm(Cond::SGe, R6, 0, EXIT_LABEL),
            asm::neg(R6),
            asm::store_mem(Size::W, R10, -4, R6),
        ],
        bump_hash("errors", -4, -16, "errno"),
    ]
    .concat();
    let mut obj = Object::new(arch);
    obj.maps
        .push(MapDef::hash("errors", CType::u32(), CType::u64(), 256));
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
