//! `bpf_for_each_map_elem`: the callback, a subprogram of the object,
//! runs once per entry of the map (this CPU's value of a per-CPU map) as
//! the runner runs it (an rbpf interpreter of its own: [`Callback`]), with
//! the kernel's arguments — the map,
//! a pointer to a copy of the key, a pointer to the value, the caller's
//! ctx pointer — passed as four u64s in its ctx (the rewrite's prologue
//! of a subprogram loads them into r1..r4). It may use the caller's stack
//! through that pointer, the maps' memory and every helper; a return of 1
//! stops the walk. The count of entries visited is returned, as the
//! kernel's does. The world is free while the callback runs: its own
//! helpers take it in turn.

use std::ops::Range;

use probecc::helpers::Helper;

use super::{neg, Callback, World, STACK, WORLD};
use crate::abi::FUNC_HANDLE;
use crate::maps::EINVAL;

/// What a walk needs, taken from the world before the first callback.
struct Walk {
    run: Callback,
    /// Each entry's key and the address of its value on this CPU.
    entries: Vec<(Vec<u8>, u64)>,
    /// Memory the callback may use: the maps' and the caller's stack.
    ranges: Vec<Range<u64>>,
    frame: u64,
    ctx: Range<u64>,
}

fn prepare(w: &mut World, map: u64, cb: u64) -> Result<Walk, u64> {
    const H: Helper = Helper::ForEachMapElem;
    let Some(m) = w.map(H, map) else {
        return Err(neg(EINVAL));
    };
    let run = usize::try_from(cb.wrapping_sub(FUNC_HANDLE))
        .ok()
        .and_then(|i| w.callbacks.get(i))
        .cloned()
        .flatten();
    let Some(run) = run else {
        w.fail(H, format!("{cb:#x} is not a subprogram of the object"));
        return Err(neg(EINVAL));
    };
    let cpu = w.cur.cpu;
    let keys: Vec<Vec<u8>> = w.maps[m].entries().into_iter().map(|(k, _)| k).collect();
    let entries = keys
        .into_iter()
        .filter_map(|k| {
            let v = w.maps[m].lookup(&k, cpu)?;
            Some((k, v))
        })
        .collect();
    let mut ranges = w.ranges.clone();
    ranges.push(w.frame.saturating_sub(STACK)..w.frame);
    Ok(Walk {
        run,
        entries,
        ranges,
        frame: w.frame,
        ctx: w.ctx.clone(),
    })
}

/// Runs `f` on the world, if there is one and no helper holds it.
fn on_world<T>(f: impl FnOnce(&mut World) -> T) -> Option<T> {
    WORLD.with(|w| {
        let mut g = w.try_borrow_mut().ok()?;
        g.as_mut().map(|w| f(w))
    })
}

pub(super) fn for_each_map_elem(map: u64, cb: u64, ctx: u64, flags: u64, _: u64) -> u64 {
    const H: Helper = Helper::ForEachMapElem;
    if flags != 0 {
        return neg(EINVAL);
    }
    let walk = match on_world(|w| prepare(w, map, cb)) {
        Some(Ok(walk)) => walk,
        Some(Err(e)) => return e,
        None => return 0,
    };
    let mut visited = 0;
    for (key, value) in &walk.entries {
        visited += 1;
        let key = key.clone();
        let mut ranges = walk.ranges.clone();
        ranges.push(key.as_ptr() as u64..key.as_ptr() as u64 + key.len() as u64);
        let mut args: Vec<u8> = [map, key.as_ptr() as u64, *value, ctx]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let at = args.as_ptr() as u64;
        on_world(|w| w.ctx = at..at + args.len() as u64);
        let stop = match (walk.run)(&mut args, &ranges) {
            Ok(r) => r != 0,
            Err(reason) => {
                on_world(|w| w.fail(H, format!("the callback faults: {reason}")));
                true
            }
        };
        if stop {
            break;
        }
    }
    on_world(|w| {
        w.frame = walk.frame;
        w.ctx = walk.ctx.clone();
    });
    visited
}
