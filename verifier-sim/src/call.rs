//! Helper calls (`check_helper_call`): the helper must be one a kprobe
//! program may call (the one table in `probecc::helpers`), GPL-only helpers
//! need a GPL-compatible license, each argument must match the prototype's
//! `ARG_*` kind, a released ring-buffer record invalidates every copy, and
//! the result is what the prototype's `RET_*` says, with a fresh id for
//! maybe-NULL pointers and a reference for ring-buffer records (and, on
//! releases that elide it, no NULL for an array lookup with a constant key
//! in bounds). A tail call may not leave a reference behind. Helpers that
//! call back (`bpf_loop`, `bpf_for_each_map_elem`) enter the callback in a
//! frame of its own, once or any number of times as the release does.

use probecc::helpers::{self, ArgKind, Helper, RetKind};

use crate::reg::{Ptr, PtrKind, RegState};
use crate::release::Change;
use crate::scalar::Scalar;
use crate::state::{Frame, Ref, State};
use crate::verify::{err, Step, Verifier};
use crate::VerifyError;

/// `bpf_tail_call`'s id.
pub const TAIL_CALL: i32 = 12;
/// `bpf_for_each_map_elem`, `bpf_loop`.
const FOR_EACH_MAP_ELEM: i32 = 164;
const LOOP: i32 = 181;
/// `bpf_map_lookup_elem`.
const MAP_LOOKUP_ELEM: i32 = 1;
/// `BPF_MAP_TYPE_ARRAY`, `_PERCPU_ARRAY`: lookups that cannot miss with a
/// key in bounds.
const ARRAY: u32 = 2;
const PERCPU_ARRAY: u32 = 6;

/// Helpers whose result is at most their size argument, or an errno:
/// `probe_read_str`, `get_stack`, `probe_read_user_str`, `probe_read_kernel_str`.
const SIZED_RESULT: [i32; 4] = [45, 67, 114, 115];
/// The largest errno (`MAX_ERRNO`).
const MAX_ERRNO: i64 = 4095;

/// Whether helper `id` calls a function it is given.
pub fn calls_back(id: i32) -> bool {
    helpers::proto(id).is_some_and(|p| p.args.contains(&ArgKind::Func))
}

/// The last helper id of the 6.1 kernel's `enum bpf_func_id`, plus one.
const FUNC_MAX_ID: i32 = 212;

/// `BPF_MAP_TYPE_RINGBUF`, `_PERF_EVENT_ARRAY`, `_STACK_TRACE`, `_PROG_ARRAY`.
const RINGBUF: u32 = 27;
const PERF_EVENT_ARRAY: u32 = 4;
const STACK_TRACE: u32 = 7;
const PROG_ARRAY: u32 = 3;

impl Verifier<'_> {
    /// Whether the target's kernel offers `h` at all: `bpf_probe_read` and
    /// `bpf_probe_read_str`, which pick the memory by the address, only
    /// where kernel and user addresses never overlap
    /// (`CONFIG_ARCH_HAS_NON_OVERLAPPING_ADDRESS_SPACE`: not s390x).
    fn arch_offers(&self, h: Helper) -> bool {
        !matches!(h, Helper::ProbeRead | Helper::ProbeReadStr)
            || self.target.arch.info().split_address_space
    }

    pub fn call_helper(&mut self, s: &mut State, pc: usize, id: i32) -> Result<Step, VerifyError> {
        let Some(proto) = helpers::proto(id) else {
            let msg = if (0..FUNC_MAX_ID).contains(&id) {
                format!("unknown func #{id}")
            } else {
                format!("invalid func unknown#{id}")
            };
            return Err(err(pc, msg));
        };
        let helper = Helper::from_id(id);
        if helper.is_some_and(|h| !self.prog_type.allows(h) || !self.arch_offers(h)) {
            return Err(err(pc, format!("unknown func bpf_{}#{id}", proto.name)));
        }
        if proto.gpl_only && !self.prog.gpl {
            return Err(err(
                pc,
                "cannot call GPL-restricted function from non-GPL compatible program",
            ));
        }
        let mut map: Option<usize> = None;
        let mut mem: Option<(u8, Ptr, bool)> = None;
        let mut alloc: Option<u64> = None;
        let mut release: Option<u32> = None;
        let mut callback: Option<usize> = None;
        let mut size_max: Option<u64> = None;
        // Read before the arguments are checked, as the kernel does
        // (`get_constant_map_key`).
        let const_key = (id == MAP_LOOKUP_ELEM
            && self.rules.has(Change::ConstKeyArrayLookupNotNull))
        .then(|| self.constant_key(s))
        .flatten();
        for (i, kind) in proto.args.iter().enumerate() {
            let r = i as u8 + 1;
            if *kind == ArgKind::Unchecked {
                continue;
            }
            let v = self.read(s, pc, r)?;
            match kind {
                ArgKind::Anything | ArgKind::Unchecked => {}
                ArgKind::MapPtr => match v {
                    RegState::Ptr(Ptr {
                        kind: PtrKind::Map { map: m },
                        ..
                    }) => map = Some(m),
                    other => return Err(type_err(pc, r, &other, "map_ptr")),
                },
                ArgKind::MapKey | ArgKind::MapValue => {
                    let m = map.ok_or_else(|| err(pc, "invalid map_ptr to access map->key"))?;
                    let spec = &self.prog.maps[m];
                    let size = if *kind == ArgKind::MapKey {
                        spec.key_size
                    } else {
                        spec.value_size
                    };
                    let p = self.mem_ptr(pc, r, &v)?;
                    if size == 0 {
                        return Err(err(pc, "invalid zero-sized read"));
                    }
                    self.helper_mem(s, pc, r, p, u64::from(size), true)?;
                }
                ArgKind::UninitMem | ArgKind::ReadMem => {
                    let p = self.mem_ptr(pc, r, &v)?;
                    mem = Some((r, p, *kind == ArgKind::ReadMem));
                }
                ArgKind::ConstSize | ArgKind::ConstSizeOrZero => {
                    let size = self.size_arg(pc, r, &v, *kind == ArgKind::ConstSizeOrZero)?;
                    size_max = Some(size);
                    if let Some((mr, p, init)) = mem.take() {
                        // Before `UninitStackReads`, a stack buffer of a
                        // variable size must be initialised, as if read.
                        let variable = v.scalar().and_then(Scalar::as_const).is_none();
                        let init = init
                            || (variable
                                && matches!(p.kind, PtrKind::Stack { .. })
                                && !self.rules.has(Change::UninitStackReads));
                        self.helper_mem(s, pc, mr, p, size, init)?;
                    }
                }
                ArgKind::ConstAllocSize => match v.scalar().and_then(Scalar::as_const) {
                    Some(c) => alloc = Some(c),
                    None => return Err(err(pc, format!("R{r} is not a known constant'"))),
                },
                ArgKind::Ctx => match v {
                    RegState::Ptr(Ptr {
                        kind: PtrKind::Ctx,
                        off: 0,
                        ..
                    }) => {}
                    RegState::Ptr(Ptr {
                        kind: PtrKind::Ctx,
                        off,
                        ..
                    }) => {
                        return Err(err(
                            pc,
                            format!("dereference of modified ctx ptr R{r} off={off} disallowed"),
                        ))
                    }
                    other => return Err(type_err(pc, r, &other, "ctx")),
                },
                ArgKind::RingbufMemRelease => match v {
                    RegState::Ptr(
                        p @ Ptr {
                            kind: PtrKind::RingbufMem { .. },
                            or_null: false,
                            ..
                        },
                    ) if p.ref_id != 0 => {
                        if p.off != 0 || p.var.as_const() != Some(0) {
                            return Err(err(
                                pc,
                                format!("R{r} must have zero offset when passed to release func"),
                            ));
                        }
                        release = Some(p.ref_id);
                    }
                    other => return Err(type_err(pc, r, &other, "ringbuf_mem")),
                },
                ArgKind::Func => match v {
                    RegState::Ptr(Ptr {
                        kind: PtrKind::Func { start },
                        ..
                    }) => callback = Some(start),
                    other => return Err(type_err(pc, r, &other, "func")),
                },
                ArgKind::StackOrNull => match v {
                    RegState::Ptr(Ptr {
                        kind: PtrKind::Stack { .. },
                        or_null: false,
                        ..
                    }) => {}
                    RegState::Scalar(sc) if sc.as_const() == Some(0) => {}
                    other => return Err(type_err(pc, r, &other, "fp")),
                },
            }
        }
        if id == TAIL_CALL && !s.refs.is_empty() {
            return Err(err(pc, "tail_call would lead to reference leak"));
        }
        // After the arguments, as `check_map_func_compatibility` runs.
        if let Some(m) = map {
            self.compatible(pc, m, proto)?;
        }
        if let Some(id) = release {
            if !s.refs.iter().any(|r| r.id == id) {
                return Err(err(pc, "reference has not been acquired before"));
            }
            s.refs.retain(|r| r.id != id);
            s.each_reg(&mut |r| {
                if matches!(r, RegState::Ptr(p) if p.ref_id == id) {
                    *r = RegState::unknown();
                }
            });
        }
        let r0 = match proto.ret {
            // At most the size asked, or an errno (`do_refine_retval_range`).
            RetKind::Integer if SIZED_RESULT.contains(&id) => {
                let mut v = Scalar::UNKNOWN;
                v.smin = -MAX_ERRNO;
                v.smax = size_max.map_or(i64::MAX, |m| m.min(i64::MAX as u64) as i64);
                v.sync();
                RegState::Scalar(v)
            }
            RetKind::Integer => RegState::unknown(),
            RetKind::Void => RegState::NotInit,
            RetKind::MapValueOrNull => {
                let m = map.ok_or_else(|| err(pc, "map_value_or_null without a map"))?;
                let spec = &self.prog.maps[m];
                let found = matches!(spec.map_type, ARRAY | PERCPU_ARRAY)
                    && const_key.is_some_and(|k| k < u64::from(spec.max_entries));
                let mut p = Ptr::new(PtrKind::MapValue { map: m });
                if !found {
                    p.or_null = true;
                    p.id = self.fresh_id();
                }
                RegState::Ptr(p)
            }
            RetKind::RingbufMemOrNull => {
                let size = alloc.unwrap_or(0);
                let mut p = Ptr::new(PtrKind::RingbufMem {
                    size: u32::try_from(size).unwrap_or(u32::MAX),
                });
                p.or_null = true;
                p.id = self.fresh_id();
                p.ref_id = p.id;
                s.refs.push(Ref { id: p.id, insn: pc });
                RegState::Ptr(p)
            }
        };
        if let Some(start) = callback {
            return self.enter_callback(s, pc, id, start, map, r0);
        }
        let f = s.cur_mut();
        for r in 1..=5 {
            f.regs[r] = RegState::NotInit;
        }
        f.regs[0] = r0;
        Ok(Step::Next(pc + 1))
    }

    /// A helper that calls `start` back: the callback's frame with the
    /// arguments the helper gives it (`set_loop_callback_state`,
    /// `set_map_elem_callback_state`). Followed once, the callback returns
    /// after the call; called any number of times, the path also goes on
    /// after the call without it, and the callback's return comes back to
    /// the call (see [`Verifier`]'s `callback_exit`).
    fn enter_callback(
        &mut self,
        s: &mut State,
        pc: usize,
        id: i32,
        start: usize,
        map: Option<usize>,
        r0: RegState,
    ) -> Result<Step, VerifyError> {
        crate::verify::room_for_frame(s, pc)?;
        let caller = s.cur().regs;
        // No more calls than the helper makes: `nr_loops`, or the map's
        // entries (the kernel bounds `bpf_loop` alike, `callback_depth`).
        let bound = match id {
            LOOP => caller[1]
                .scalar()
                .map_or(u64::MAX, |n| n.umax.min(u64::from(u32::MAX))),
            _ => map.map_or(u64::MAX, |m| u64::from(self.prog.maps[m].max_entries)),
        };
        let done = u64::from(s.cur().iterations);
        let sub = self.subprog_of(start);
        let mut callee = Frame::new(s.frames.len(), pc + 1, sub);
        callee.callsite = Some(pc);
        match id {
            FOR_EACH_MAP_ELEM => {
                let m = map.unwrap_or(0);
                callee.regs[1] = RegState::Ptr(Ptr::new(PtrKind::Map { map: m }));
                callee.regs[2] = RegState::Ptr(Ptr::new(PtrKind::MapKey { map: m }));
                callee.regs[3] = RegState::Ptr(Ptr::new(PtrKind::MapValue { map: m }));
                callee.regs[4] = caller[3];
            }
            LOOP => {
                callee.regs[1] = RegState::unknown();
                callee.regs[2] = caller[3];
            }
            other => {
                return Err(err(
                    pc,
                    format!("callbacks of helper #{other} are not modelled"),
                ))
            }
        }
        let mut after = s.clone();
        let f = after.cur_mut();
        for r in 1..=5 {
            f.regs[r] = RegState::NotInit;
        }
        f.regs[0] = r0;
        f.iterations = 0;
        if self.rules.has(Change::CallbacksAnyNumberOfTimes) {
            if done >= bound {
                *s = after;
                return Ok(Step::Next(pc + 1));
            }
            // The caller's registers stay as they were at the call: the
            // callback's return calls again with them.
            s.frames.push(callee);
            return Ok(Step::Fork(start, Box::new(after), pc + 1));
        }
        *s = after;
        s.frames.push(callee);
        Ok(Step::Next(start))
    }

    /// The key `bpf_map_lookup_elem` is given in R2, when it is a known
    /// number: zero bytes, or an 8-byte spilled constant, on the stack at a
    /// known offset.
    fn constant_key(&self, s: &State) -> Option<u64> {
        let RegState::Ptr(p) = s.cur().regs[1] else {
            return None;
        };
        let PtrKind::Map { map } = p.kind else {
            return None;
        };
        let size = usize::try_from(self.prog.maps.get(map)?.key_size).ok()?;
        let RegState::Ptr(k) = s.cur().regs[2] else {
            return None;
        };
        let PtrKind::Stack { frame } = k.kind else {
            return None;
        };
        let off = k.off + k.var.as_const()? as i64;
        let at = crate::state::Stack::index(off)?;
        let stack = &s.frames.get(frame)?.stack;
        // Within one 8-byte slot, as the kernel looks.
        if size == 0 || at % 8 + size > 8 {
            return None;
        }
        let bytes = stack.bytes.get(at..at + size)?;
        if bytes.iter().all(|b| *b == crate::state::Byte::Zero) {
            return Some(0);
        }
        match stack.spilled[at / 8] {
            Some(RegState::Scalar(v)) if size == 8 => v.as_const(),
            _ => None,
        }
    }

    /// Whether map `m` may be passed to `proto` (`check_map_func_compatibility`):
    /// ring buffers, perf event arrays and stack-trace maps only to their
    /// own helpers, and those helpers only with them.
    fn compatible(&self, pc: usize, m: usize, proto: &helpers::Proto) -> Result<(), VerifyError> {
        let map_type = self.prog.maps[m].map_type;
        let own = |t: u32| match t {
            RINGBUF => Some(&["ringbuf_output", "ringbuf_reserve", "ringbuf_query"][..]),
            PERF_EVENT_ARRAY => Some(
                &[
                    "perf_event_output",
                    "perf_event_read",
                    "perf_event_read_value",
                ][..],
            ),
            STACK_TRACE => Some(&["get_stackid", "get_stack"][..]),
            PROG_ARRAY => Some(&["tail_call"][..]),
            _ => None,
        };
        let needs = [RINGBUF, PERF_EVENT_ARRAY, STACK_TRACE, PROG_ARRAY]
            .into_iter()
            .find(|t| own(*t).is_some_and(|f| f.contains(&proto.name)));
        let map_ok = own(map_type).is_none_or(|f| f.contains(&proto.name));
        if !map_ok || needs.is_some_and(|t| t != map_type) {
            return Err(err(
                pc,
                format!(
                    "cannot pass map_type {map_type} into func bpf_{}#{}",
                    proto.name, proto.id
                ),
            ));
        }
        if proto.name == "tail_call" && self.subprogs.len() > 1 && !self.jit_mixes_tail_calls() {
            return Err(err(
                pc,
                if self.rules.has(Change::TailCallMixingMessage) {
                    "mixing of tail_calls and bpf-to-bpf calls is not supported"
                } else {
                    "tail_calls are not allowed in non-JITed programs with bpf-to-bpf calls"
                },
            ));
        }
        Ok(())
    }

    /// A memory argument: a pointer to stack, a map value or a record.
    fn mem_ptr(&self, pc: usize, r: u8, v: &RegState) -> Result<Ptr, VerifyError> {
        match v {
            RegState::Ptr(
                p @ Ptr {
                    or_null: false,
                    kind:
                        PtrKind::Stack { .. } | PtrKind::MapValue { .. } | PtrKind::RingbufMem { .. },
                    ..
                },
            ) => Ok(*p),
            other => Err(type_err(
                pc,
                r,
                other,
                "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf",
            )),
        }
    }

    /// A size argument: a bounded scalar, positive unless `zero_ok`.
    fn size_arg(&self, pc: usize, r: u8, v: &RegState, zero_ok: bool) -> Result<u64, VerifyError> {
        let Some(sc) = v.scalar() else {
            return Err(type_err(pc, r, v, "scalar"));
        };
        if sc.smin < 0 {
            return Err(err(
                pc,
                format!("R{r} min value is negative, either use unsigned or 'var &= const'"),
            ));
        }
        if sc.umin == 0 && !zero_ok {
            return Err(err(pc, format!("R{r} invalid zero-sized read")));
        }
        if sc.umax >= 1 << 29 {
            return Err(err(
                pc,
                format!("R{r} unbounded memory access, use 'var &= const' or 'if (var < const)'"),
            ));
        }
        Ok(sc.umax)
    }
}

fn type_err(pc: usize, r: u8, v: &RegState, expected: &str) -> VerifyError {
    if matches!(v, RegState::NotInit) {
        return err(pc, format!("R{r} !read_ok"));
    }
    err(
        pc,
        format!("R{r} type={} expected={expected}", v.type_name()),
    )
}
