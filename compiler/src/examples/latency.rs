//! Entry-exit pairing: a kprobe on `vfs_read` stores the entry time per
//! thread (`start[pid_tgid]`), the kretprobe turns the delta into a log2
//! bucket and counts it in `hist`, bpftrace's `hist()` buckets: 0 for a
//! delta of 0, else floor(log2(delta)) + 1.

use crate::arch::Arch;
use crate::asm::{self, regs::*, Op};
use crate::ctype::CType;
use crate::insn::{Cond, Size};
use crate::kprobe::{AttachPoint, KprobeProgram, EXIT_LABEL};
use crate::maps::MapDef;
use crate::program::Object;

use super::{bump_existing, program, ExampleError};

/// Buckets 0..=64.
pub const BUCKETS: u32 = 65;

pub fn object(arch: Arch) -> Result<Object, ExampleError> {
    let entry = AttachPoint::kprobe("vfs_read");
    let exit = AttachPoint::kretprobe("vfs_read");
    let entry_body = vec![
        asm::get_current_pid_tgid(),
        asm::store_mem(Size::DW, R10, -8, R0),
        asm::ktime_get_ns(),
        asm::store_mem(Size::DW, R10, -16, R0),
        asm::map_update_elem(asm::map("start"), asm::stack(-8), asm::stack(-16), 0),
    ];
    let exit_body = [
        vec![
            asm::get_current_pid_tgid(),
            asm::store_mem(Size::DW, R10, -8, R0),
            asm::map_lookup_elem(asm::map("start"), asm::stack(-8)),
            asm::jmp_imm(Cond::Eq, R0, 0, EXIT_LABEL),
            asm::load_mem(Size::DW, R6, R0, 0),
            asm::map_delete_elem(asm::map("start"), asm::stack(-8)),
            asm::ktime_get_ns(),
            asm::sub_reg(R0, R6),
            asm::mov_reg(R1, R0),
        ],
        log2_bucket(),
        vec![asm::store_mem(Size::W, R10, -4, R2)],
        bump_existing("hist", -4),
    ]
    .concat();
    let mut obj = Object::new(arch);
    obj.maps
        .push(MapDef::hash("start", CType::u64(), CType::u64(), 10240));
    obj.maps.push(MapDef::array("hist", CType::u64(), BUCKETS));
    obj.programs.push(program(
        arch,
        &entry,
        KprobeProgram {
            body: entry_body,
            ..Default::default()
        },
    )?);
    obj.programs.push(program(
        arch,
        &exit,
        KprobeProgram {
            body: exit_body,
            ..Default::default()
        },
    )?);
    Ok(obj)
}

/// r2 = log2 bucket of r1 (0 for 0, else floor(log2 r1) + 1), by binary
/// search without loops; clobbers r1 and r3.
pub fn log2_bucket() -> Vec<Op> {
    let mut ops = vec![
        asm::mov(R2, 0),
        asm::jmp_imm(Cond::Eq, R1, 0, "log2_done"),
        asm::mov(R2, 1),
    ];
    for shift in [32, 16, 8, 4, 2, 1] {
        let skip = format!("log2_skip{shift}");
        ops.extend([
            asm::mov_reg(R3, R1),
            asm::rsh(R3, shift),
            asm::jmp_imm(Cond::Eq, R3, 0, &skip),
            asm::mov_reg(R1, R3),
            asm::add(R2, shift),
            asm::label(&skip),
        ]);
    }
    ops.push(asm::label("log2_done"));
    ops
}
