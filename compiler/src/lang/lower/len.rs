//! `len(@m)`: the number of entries of a map, as bpftrace counts them —
//! `bpf_for_each_map_elem` calling a callback once per entry, which adds
//! one to a counter on the caller's stack. The callback is one static
//! subprogram of the object ([`MAP_LEN_CALLBACK`], in
//! [`SUBPROGRAMS`](crate::program::SUBPROGRAMS)), shared by every
//! program that counts: the kernel verifies it with r4 pointing at that
//! counter.

use crate::asm::{self, Arg, Op};
use crate::helpers::Helper;
use crate::insn::{Reg, Size};
use crate::lang::check::ir::{Checked, TKind};
use crate::lang::diag::Lines;
use crate::program::{Program, SUBPROGRAMS};

use super::gen::{Gen, R};

/// The callback's symbol.
pub const MAP_LEN_CALLBACK: &str = "map_len_callback";

impl Gen<'_> {
    /// `dst = len(@map)`.
    pub fn map_len(&mut self, map: usize, dst: Reg) -> R<()> {
        let counter = self.slot(8)?;
        self.emit(asm::store_imm(Size::DW, Reg::R10, counter, 0));
        self.walk_map(map, MAP_LEN_CALLBACK, counter)?;
        self.emit(asm::load_mem(Size::DW, dst, Reg::R10, counter));
        Ok(())
    }

    /// `bpf_for_each_map_elem(map, &func, r10 + ctx, 0)`: subprogram
    /// `func` called once per entry of map `map`.
    pub fn walk_map(&mut self, map: usize, func: &str, ctx: i16) -> R<()> {
        let map = self.map_info(map)?.symbol();
        self.emit_all([
            Op::LoadFunc {
                dst: Reg::R2,
                func: func.into(),
            },
            asm::helper_call(
                Helper::ForEachMapElem,
                vec![
                    Arg::Map(map),
                    Arg::Reg(Reg::R2),
                    Arg::Stack(ctx),
                    Arg::Imm(0),
                ],
            ),
        ]);
        Ok(())
    }
}

/// The counting callback, if a program counts a map's entries: `*r4 += 1`
/// and 0 (go on), its line info the first `len()` of the spec.
pub fn callback(checked: &Checked, file: &str) -> Option<Program> {
    let mut first = None;
    for b in &checked.bodies {
        let mut f = |e: &crate::lang::check::ir::TExpr| {
            if matches!(e.kind, TKind::MapLen(_)) && first.is_none() {
                first = Some(e.span);
            }
        };
        b.pred.iter().for_each(|p| p.visit(&mut f));
        b.stmts.iter().for_each(|s| s.visit_exprs(&mut f));
    }
    let span = first?;
    let mut ops = Vec::new();
    if !checked.source.is_empty() {
        let lines = Lines::new(&checked.source);
        let (line, col) = lines.line_col(checked.map.span(span).start);
        let text = lines.line(line).replace('\0', "\u{fffd}");
        ops.push(asm::source(file, line as u32, col as u32, &text));
    }
    ops.extend([
        asm::load_mem(Size::DW, Reg::R0, Reg::R4, 0),
        asm::add(Reg::R0, 1),
        asm::store_mem(Size::DW, Reg::R4, 0, Reg::R0),
        asm::mov(Reg::R0, 0),
        asm::exit(),
    ]);
    // Five fixed instructions without labels always assemble.
    let code = asm::assemble(&ops).ok()?;
    Some(code.into_program(MAP_LEN_CALLBACK, SUBPROGRAMS))
}
