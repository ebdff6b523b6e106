//! Optimisation patterns, filter early and per-CPU maps: count the
//! `vfs_read` calls of one process in a per-CPU array. The process id comes
//! from `config[0]`, which user space sets before attaching; 0 matches none.

use crate::arch::Arch;
use crate::asm::{self, regs::*};
use crate::ctype::CType;
use crate::insn::{Cond, Size};
use crate::kprobe::{AttachPoint, KprobeProgram, EXIT_LABEL};
use crate::maps::MapDef;
use crate::program::Object;

use super::{program, ExampleError};

pub fn object(arch: Arch) -> Result<Object, ExampleError> {
    let at = AttachPoint::kprobe("vfs_read");
    let body = vec![
        asm::store_imm(Size::W, R10, -4, 0),
        asm::map_lookup_elem(asm::map("config"), asm::stack(-4)),
        asm::jmp_imm(Cond::Eq, R0, 0, EXIT_LABEL),
        asm::load_mem(Size::W, R6, R0, 0),
        asm::jmp_imm(Cond::Eq, R6, 0, EXIT_LABEL),
        asm::get_current_pid_tgid(),
        asm::rsh(R0, 32),
        asm::jmp_reg(Cond::Ne, R0, R6, EXIT_LABEL),
        // Per-CPU values are private to this CPU: no atomic needed.
        asm::map_lookup_elem(asm::map("counts"), asm::stack(-4)),
        asm::jmp_imm(Cond::Eq, R0, 0, EXIT_LABEL),
        asm::load_mem(Size::DW, R1, R0, 0),
        asm::add(R1, 1),
        asm::store_mem(Size::DW, R0, 0, R1),
    ];
    let mut obj = Object::new(arch);
    obj.maps.push(MapDef::array("config", CType::u32(), 1));
    obj.maps
        .push(MapDef::percpu_array("counts", CType::u64(), 1));
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
