//! abi: what the rewritten programs and the runner's helpers agree on —
//! the ids of the runner's own helpers, whose calls the rewrite inserts,
//! and the handles a map load and a callback's address become. `rewrite` emits these numbers and
//! `helpers` recognises them; both take them from here.

/// Runner helper: records the frame pointer (r1), returns the ctx pointer.
pub const HELPER_FRAME: u32 = 0x7fff_ff01;
/// Runner helper: the budget ran out in the loop closing at instruction r1.
pub const HELPER_BUDGET: u32 = 0x7fff_ff02;
/// Map `i` is loaded as `MAP_HANDLE + i`.
pub const MAP_HANDLE: u64 = 0xb9f0_0000_0000_0000;
/// The address of the object's program `i` (a subprogram passed as a
/// callback) is loaded as `FUNC_HANDLE + i`.
pub const FUNC_HANDLE: u64 = 0xb9f1_0000_0000_0000;
