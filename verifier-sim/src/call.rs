//! Helper calls (`check_helper_call`): the helper must be one a kprobe
//! program may call (the one table in `probecc::helpers`), GPL-only helpers
//! need a GPL-compatible license, each argument must match the prototype's
//! `ARG_*` kind, a released ring-buffer record invalidates every copy, and
//! the result is what the prototype's `RET_*` says, with a fresh id for
//! maybe-NULL pointers and a reference for ring-buffer records.

use probecc::helpers::{self, ArgKind, Helper, RetKind};

use crate::reg::{Ptr, PtrKind, RegState};
use crate::scalar::Scalar;
use crate::state::{Ref, State};
use crate::verify::{err, Verifier};
use crate::VerifyError;

/// The last helper id of the 6.1 kernel's `enum bpf_func_id`, plus one.
const FUNC_MAX_ID: i32 = 212;

/// `BPF_MAP_TYPE_RINGBUF`, `_PERF_EVENT_ARRAY`, `_STACK_TRACE`, `_PROG_ARRAY`.
const RINGBUF: u32 = 27;
const PERF_EVENT_ARRAY: u32 = 4;
const STACK_TRACE: u32 = 7;
const PROG_ARRAY: u32 = 3;

impl Verifier<'_> {
    pub fn call_helper(&mut self, s: &mut State, pc: usize, id: i32) -> Result<(), VerifyError> {
        let Some(proto) = helpers::proto(id) else {
            let msg = if (0..FUNC_MAX_ID).contains(&id) {
                format!("unknown func #{id}")
            } else {
                format!("invalid func unknown#{id}")
            };
            return Err(err(pc, msg));
        };
        if Helper::from_id(id).is_some_and(|h| !self.prog_type.allows(h)) {
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
                    if let Some((mr, p, init)) = mem.take() {
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
            }
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
            RetKind::Integer => RegState::unknown(),
            RetKind::Void => RegState::NotInit,
            RetKind::MapValueOrNull => {
                let m = map.ok_or_else(|| err(pc, "map_value_or_null without a map"))?;
                let mut p = Ptr::new(PtrKind::MapValue { map: m });
                p.or_null = true;
                p.id = self.fresh_id();
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
        let f = s.cur_mut();
        for r in 1..=5 {
            f.regs[r] = RegState::NotInit;
        }
        f.regs[0] = r0;
        Ok(())
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
