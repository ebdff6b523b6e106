//! vm: one rewritten program loaded into rbpf — the interpreter on every
//! host, or rbpf's x86_64 JIT — with the runner's helpers registered and the
//! map memory allowed, and rbpf's errors turned into the object instruction
//! that caused them; and how a subprogram runs as a callback.
//!
//! The JIT checks no memory accesses (rbpf's JIT never does) and compiles
//! into one 4 KiB page; programs whose machine code could exceed it are
//! refused up front rather than overflowing it. The instruction budget holds
//! under the JIT too: it is part of the rewritten code.

use std::ops::Range;

use rbpf::EbpfVmMbuff;

use crate::helpers::{self, Callback};
use crate::object::ProgramCode;
use crate::rewrite::Lowered;

/// How programs execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Engine {
    #[default]
    Interpreter,
    /// rbpf's x86_64 JIT.
    Jit,
}

/// A program in rbpf.
pub struct Vm<'p> {
    vm: EbpfVmMbuff<'p>,
    engine: Engine,
    lowered: &'p Lowered,
}

/// What went wrong in rbpf: the rewritten slot, if rbpf named one.
#[derive(Debug)]
pub struct VmError {
    pub slot: Option<usize>,
    pub reason: String,
}

/// rbpf's JIT (x86_64 hosts only) writes machine code into one page.
#[cfg(target_arch = "x86_64")]
const JIT_PAGE: usize = 4096;

impl<'p> Vm<'p> {
    pub fn new(lowered: &'p Lowered, engine: Engine) -> Result<Vm<'p>, String> {
        let mut vm = EbpfVmMbuff::new(Some(&lowered.code)).map_err(|e| e.to_string())?;
        let table = match engine {
            Engine::Interpreter => helpers::table(),
            Engine::Jit => helpers::jit_table(),
        };
        for (id, f) in table {
            vm.register_helper(id, f).map_err(|e| e.to_string())?;
        }
        if engine == Engine::Jit {
            jit_compile(&mut vm, lowered)?;
        }
        Ok(Vm {
            vm,
            engine,
            lowered,
        })
    }

    /// Lets the interpreter access `r` (map values, ring records).
    pub fn allow(&mut self, r: Range<u64>) {
        self.vm.register_allowed_memory(r);
    }

    /// Runs once with `regs` as the ctx; the world must be entered.
    pub fn run(&self, regs: &mut [u8]) -> Result<u64, VmError> {
        let result = match self.engine {
            Engine::Interpreter => self.vm.execute_program(&[], regs),
            Engine::Jit => self.run_jit(regs),
        };
        result.map_err(|e| parse_error(&e.to_string()))
    }

    #[cfg(target_arch = "x86_64")]
    fn run_jit(&self, regs: &mut [u8]) -> std::io::Result<u64> {
        // SAFETY: the code was compiled from a program the rewrite checked;
        // `regs` outlives the call and nothing else uses it meanwhile (rbpf
        // asks for the VM's lifetime but does not keep the slice).
        unsafe {
            let ctx = std::slice::from_raw_parts_mut(regs.as_mut_ptr(), regs.len());
            self.vm.execute_program_jit(&mut [], ctx)
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn run_jit(&self, _regs: &mut [u8]) -> std::io::Result<u64> {
        Err(std::io::Error::other("rbpf's JIT is x86_64 only"))
    }

    pub fn lowered(&self) -> &Lowered {
        self.lowered
    }
}

/// How each subprogram of `programs` (rewritten as `lowered`) runs as a
/// callback: in an interpreter of its own (a JIT page per call would be
/// waste), with the memory it is given; `None` for the programs.
pub fn callbacks(programs: &[ProgramCode], lowered: &[Lowered]) -> Vec<Option<Callback>> {
    programs
        .iter()
        .zip(lowered)
        .map(|(code, lowered)| {
            if !code.is_subprogram() {
                return None;
            }
            let lowered = lowered.clone();
            let run: Callback = std::rc::Rc::new(move |args, ranges| {
                let mut vm = Vm::new(&lowered, Engine::Interpreter)?;
                ranges.iter().for_each(|r| vm.allow(r.clone()));
                vm.run(args).map_err(|e| e.reason)
            });
            Some(run)
        })
        .collect()
}

#[cfg(target_arch = "x86_64")]
fn jit_compile(vm: &mut EbpfVmMbuff<'_>, lowered: &Lowered) -> Result<(), String> {
    let need = jit_size_bound(&lowered.code);
    if need > JIT_PAGE {
        return Err(format!(
            "its machine code may need {need} bytes; rbpf's JIT has one {JIT_PAGE}-byte page (use the interpreter)"
        ));
    }
    vm.jit_compile().map_err(|e| e.to_string())
}

#[cfg(not(target_arch = "x86_64"))]
fn jit_compile(_vm: &mut EbpfVmMbuff<'_>, _lowered: &Lowered) -> Result<(), String> {
    Err("rbpf's JIT is x86_64 only".into())
}

/// An upper bound of the x86_64 code rbpf emits for `code`, from the
/// longest sequence each instruction class produces in rbpf 0.4's JIT.
pub fn jit_size_bound(code: &[u8]) -> usize {
    let prologue_epilogue = 64;
    let per_insn: usize = code
        .chunks_exact(8)
        .map(|b| match b[0] {
            0 => 0,
            op if matches!(op & 0x07, 0x04 | 0x07) && matches!(op & 0xf0, 0x20 | 0x30 | 0x90) => 64,
            0x85 => 24,
            _ => 16,
        })
        .sum();
    prologue_epilogue + per_insn
}

/// Reads rbpf's message: `... (insn #N) ...` names the slot after the
/// faulting one for memory errors.
fn parse_error(msg: &str) -> VmError {
    let first = msg.lines().next().unwrap_or(msg);
    let slot = first
        .split_once("insn #")
        .and_then(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<usize>().ok()
        })
        .map(|n| {
            if first.contains("out of bounds") {
                n.saturating_sub(1)
            } else {
                n
            }
        });
    let reason = if first.contains("out of bounds memory") {
        let kind = if first.contains("store") {
            "store"
        } else {
            "load"
        };
        let addr = field(first, "addr ");
        let size = field(first, "size ");
        format!("{kind} of {size} bytes at {addr} is outside the program's memory")
    } else {
        first.trim_start_matches("Error: ").to_string()
    };
    VmError { slot, reason }
}

fn field<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.split_once(name)
        .map(|(_, rest)| rest.split([',', ' ', '\n']).next().unwrap_or(rest))
        .unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbpf_memory_errors_name_the_faulting_slot() {
        let e = parse_error(
            "Error: out of bounds memory load (insn #12), addr 0x10, size 8\nmbuff: 0x0/0x0",
        );
        assert_eq!(e.slot, Some(11));
        assert_eq!(
            e.reason,
            "load of 8 bytes at 0x10 is outside the program's memory"
        );
        let e = parse_error("[Verifier] Error: jump out of code to #99 (insn #3)");
        assert_eq!(e.slot, Some(3));
    }
}
