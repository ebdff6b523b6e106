//! The functions of a program and the stack of its call chains
//! (`check_subprogs`, `check_max_stack_depth`). Functions start at the
//! entry, at every BPF-to-BPF call's target and at every function whose
//! address is loaded (a callback). After exploration, each function's
//! deepest stack use (over every path, rounded up as the release and the
//! JIT do) is summed along every static call chain, callbacks counted as
//! calls: more than 512 bytes is refused, except that frames on a private
//! stack count only towards their own 512; a function that tail-calls may
//! not be reached with 256 bytes or more of frames above it.

use probecc::insn::{pseudo, Insn};

use crate::program::Func;
use crate::release::Change;
use crate::state::STACK_SIZE;
use crate::verify::{err, Verifier, MAX_CALL_FRAMES};
use crate::VerifyError;

/// Frames of 64 bytes or more go on a private stack where the release
/// has them (`BPF_PRIV_STACK_MIN_SIZE`).
const PRIV_STACK_MIN: usize = 64;
/// Frames above a function that tail-calls stay under this
/// (the tail-call limit of 33 times 256 bytes fits the kernel stack).
const TAIL_CALL_FRAMES: usize = 256;

/// The target of a call or a function address at `i`, if it is one.
fn target(insns: &[Insn], i: usize) -> Option<usize> {
    let insn = &insns[i];
    let is_call = insn.is_call() && insn.src == pseudo::CALL;
    let is_addr = insn.is_ld_imm64() && insn.src == pseudo::FUNC;
    if !(is_call || is_addr) {
        return None;
    }
    usize::try_from(i as i64 + 1 + i64::from(insn.imm))
        .ok()
        .filter(|&t| t < insns.len())
}

/// The first instruction of every function, sorted, the entry's (0) first.
pub fn starts(insns: &[Insn], funcs: &[Func]) -> Vec<usize> {
    let mut out = vec![0];
    out.extend((0..insns.len()).filter_map(|i| target(insns, i)));
    out.extend(funcs.iter().map(|f| f.start).filter(|&s| s < insns.len()));
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether function `k` calls `bpf_tail_call`.
fn tail_calls(v: &Verifier, k: usize) -> bool {
    let end = v.subprogs.get(k + 1).copied().unwrap_or(v.insns.len());
    v.insns[v.subprogs[k]..end]
        .iter()
        .any(|i| i.is_call() && i.src == 0 && i.imm == crate::call::TAIL_CALL)
}

/// A function's stack as the combined size counts it (`round_up_stack_depth`).
fn rounded(v: &Verifier, depth: usize) -> usize {
    if v.rules.has(Change::JitStackRounding16) {
        depth.div_ceil(16) * 16
    } else {
        depth.max(1).div_ceil(32) * 32
    }
}

/// Checks every call chain from the entry.
pub fn check(v: &Verifier) -> Result<(), VerifyError> {
    let n = v.subprogs.len();
    let tail: Vec<bool> = (0..n).map(|k| tail_calls(v, k)).collect();
    let private = v.rules.has(Change::PrivateStack) && !tail.iter().any(|t| *t);
    let callees: Vec<Vec<usize>> = (0..n)
        .map(|k| {
            let end = v.subprogs.get(k + 1).copied().unwrap_or(v.insns.len());
            (v.subprogs[k]..end)
                .filter_map(|i| target(v.insns, i))
                .filter_map(|t| v.subprogs.binary_search(&t).ok())
                .collect::<std::collections::BTreeSet<usize>>()
                .into_iter()
                .collect()
        })
        .collect();
    walk(v, &callees, &tail, private, 0, 0, 1)
}

fn walk(
    v: &Verifier,
    callees: &[Vec<usize>],
    tail: &[bool],
    private: bool,
    k: usize,
    above: usize,
    frames: usize,
) -> Result<(), VerifyError> {
    if frames > MAX_CALL_FRAMES {
        return Err(err(
            v.subprogs[k],
            format!("the call stack of {} frames is too deep !", frames - 1),
        ));
    }
    if k != 0 && tail[k] && above >= TAIL_CALL_FRAMES {
        return Err(err(
            v.subprogs[k],
            format!(
                "tail_calls are not allowed when call stack of previous frames is {above} bytes. Too large"
            ),
        ));
    }
    let own = rounded(v, v.depth[k]);
    let depth = if private && own >= PRIV_STACK_MIN {
        if own > STACK_SIZE {
            return Err(err(
                v.subprogs[k],
                format!("stack size of subprog {k} is {own}. Too large"),
            ));
        }
        above
    } else {
        let depth = above + own;
        if depth > STACK_SIZE {
            return Err(err(
                v.subprogs[k],
                format!("combined stack size of {frames} calls is {depth}. Too large"),
            ));
        }
        depth
    };
    for &c in &callees[k] {
        walk(v, callees, tail, private, c, depth, frames + 1)?;
    }
    Ok(())
}
