//! Memory access (`check_mem_access`): loads, stores and atomics through a
//! pointer register — the ctx (`struct pt_regs`, read only, aligned, inside
//! the arch's size: `kprobe_prog_is_valid_access`; a tracing program's u64
//! slots, `tracing`; its pointers to kernel structs, `btf_ptr`), the stack (inside the frame, aligned, reads only of
//! written bytes, spills and fills; every access deepens its function's
//! stack), map values (global data included: `.rodata` read only, and its
//! bytes known constants when the loader's values are given), map keys,
//! memory and ring-buffer records (inside the object, including the range
//! of a variable offset). Messages are the kernel's.

use probecc::insn::{atomic, class, mode, size, Insn};

use crate::reg::{Ptr, PtrKind, RegState};
use crate::release::Change;
use crate::scalar::Scalar;
use crate::state::{Byte, Stack, State, STACK_SIZE};
use crate::tnum::Tnum;
use crate::verify::{err, Verifier};
use crate::VerifyError;

/// Largest variable offset the kernel tracks (`BPF_MAX_VAR_OFF`).
const MAX_VAR_OFF: u64 = 1 << 29;

/// One stack access: the base register, its frame and pointer, the
/// instruction's offset and the size.
#[derive(Clone, Copy)]
struct StackAccess {
    r: u8,
    frame: usize,
    ptr: Ptr,
    insn_off: i16,
    n: i64,
}

/// The stack bytes an access touches: exactly from one, or somewhere in a
/// range (a variable offset).
enum Span {
    Exact(usize),
    Range(usize, usize),
}

/// A tnum as the kernel prints it in messages: a constant in decimal, else
/// `(value; mask)`.
pub(crate) fn tnum_text(s: &Scalar) -> String {
    match s.as_const() {
        Some(c) => (c as i64).to_string(),
        None => format!("({:#x}; {:#x})", s.t.value, s.t.mask),
    }
}

/// The kernel's misaligned-access message (`check_generic_ptr_alignment`).
fn misaligned(
    desc: &str,
    var: &Scalar,
    reg_off: i64,
    insn_off: i16,
    n: i64,
    pc: usize,
) -> VerifyError {
    err(
        pc,
        format!(
            "misaligned {desc}access off {}+{reg_off}+{insn_off} size {n}",
            tnum_text(var)
        ),
    )
}

/// A load (`false`) or a store.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

fn bytes_of(insn: &Insn) -> i64 {
    match insn.size() {
        size::B => 1,
        size::H => 2,
        size::W => 4,
        _ => 8,
    }
}

/// An unknown value of `n` bytes, zero-extended.
pub(crate) fn loaded(n: i64) -> RegState {
    if n >= 8 {
        RegState::unknown()
    } else {
        RegState::Scalar(Scalar::up_to((1u64 << (8 * n)) - 1))
    }
}

impl Verifier<'_> {
    pub fn load(&mut self, s: &mut State, pc: usize, insn: &Insn) -> Result<(), VerifyError> {
        if !matches!(insn.mode(), mode::MEM | mode::MEMSX) {
            return Err(err(pc, format!("unknown opcode {:02x}", insn.code)));
        }
        let n = bytes_of(insn);
        // A privileged program may read `struct bpf_map` fields of a map.
        if let RegState::Ptr(Ptr {
            kind: PtrKind::Map { .. },
            ..
        }) = self.read(s, pc, insn.src)?
        {
            if !self.rules.btf {
                return Err(err(
                    pc,
                    "map_ptr access not supported without CONFIG_DEBUG_INFO_BTF",
                ));
            }
            return self.write(s, pc, insn.dst, loaded(n));
        }
        let base = self.pointer(s, pc, insn.src)?;
        self.aligned(pc, &base, insn.off, n, false)?;
        let v = match base.kind {
            PtrKind::Stack { frame } => {
                let a = StackAccess {
                    r: insn.src,
                    frame,
                    ptr: base,
                    insn_off: insn.off,
                    n,
                };
                self.stack_read(s, pc, &a)?
            }
            PtrKind::BtfId { .. } => self.btf_access(pc, insn.src, &base, insn.off, n, false)?,
            PtrKind::Ctx => {
                self.check_region(pc, insn.src, &base, insn.off, n, Access::Read)?;
                self.typed_ctx_read(pc, &base, insn.off, n)?
                    .unwrap_or_else(|| loaded(n))
            }
            _ => {
                self.check_region(pc, insn.src, &base, insn.off, n, Access::Read)?;
                self.frozen_value(&base, insn.off, n)
                    .unwrap_or_else(|| loaded(n))
            }
        };
        let v = if insn.mode() == mode::MEMSX {
            RegState::unknown()
        } else {
            v
        };
        self.write(s, pc, insn.dst, v)
    }

    pub fn store(&mut self, s: &mut State, pc: usize, insn: &Insn) -> Result<(), VerifyError> {
        let n = bytes_of(insn);
        let atomic = insn.class() == class::STX && insn.mode() == mode::ATOMIC;
        if !atomic && insn.mode() != mode::MEM {
            return Err(err(pc, format!("unknown opcode {:02x}", insn.code)));
        }
        let value = if insn.class() == class::STX {
            Some(self.read(s, pc, insn.src)?)
        } else {
            None
        };
        let base = self.pointer(s, pc, insn.dst)?;
        if atomic {
            return self.atomic(s, pc, insn, base, value.unwrap_or_default(), n);
        }
        self.aligned(pc, &base, insn.off, n, false)?;
        match base.kind {
            PtrKind::Stack { frame } => {
                let v = value.unwrap_or(RegState::constant(insn.imm as i64 as u64));
                let a = StackAccess {
                    r: insn.dst,
                    frame,
                    ptr: base,
                    insn_off: insn.off,
                    n,
                };
                self.stack_write(s, pc, &a, v, value.is_none())
            }
            PtrKind::BtfId { .. } => self
                .btf_access(pc, insn.dst, &base, insn.off, n, true)
                .map(|_| ()),
            _ => self.check_region(pc, insn.dst, &base, insn.off, n, Access::Write),
        }
    }

    /// `check_ptr_alignment`, before any other check of an access: wider
    /// than a byte, it must be aligned to its size on the stack always,
    /// elsewhere where the arch lacks efficient unaligned access
    /// (`strict_alignment`) or for atomics (`once`).
    fn aligned(
        &self,
        pc: usize,
        base: &Ptr,
        insn_off: i16,
        n: i64,
        once: bool,
    ) -> Result<(), VerifyError> {
        let strict = once
            || matches!(base.kind, PtrKind::Stack { .. })
            || !self.target.arch.info().efficient_unaligned_access;
        if !strict || n == 1 {
            return Ok(());
        }
        let fixed = Tnum::constant((base.off + i64::from(insn_off)) as u64);
        let at = base.var.t.add(fixed);
        if (at.value | at.mask) & (n as u64 - 1) == 0 {
            return Ok(());
        }
        let desc = match base.kind {
            PtrKind::MapValue { .. } => "value ",
            PtrKind::MapKey { .. } => "key ",
            PtrKind::Stack { .. } => "stack ",
            PtrKind::Ctx => "context ",
            _ => "",
        };
        Err(misaligned(desc, &base.var, base.off, insn_off, n, pc))
    }

    fn atomic(
        &mut self,
        s: &mut State,
        pc: usize,
        insn: &Insn,
        base: Ptr,
        value: RegState,
        n: i64,
    ) -> Result<(), VerifyError> {
        if n != 4 && n != 8 {
            return Err(err(pc, "invalid atomic operand size"));
        }
        let writes_src = insn.imm & atomic::FETCH != 0 && insn.imm != atomic::CMPXCHG;
        if writes_src && insn.src == 10 {
            return Err(err(pc, "frame pointer is read only"));
        }
        if !matches!(value, RegState::Scalar(_)) {
            return Err(err(pc, format!("R{} leaks addr into mem", insn.src)));
        }
        let imm = insn.imm;
        let known = [
            atomic::ADD,
            atomic::OR,
            atomic::AND,
            atomic::XOR,
            atomic::ADD | atomic::FETCH,
            atomic::OR | atomic::FETCH,
            atomic::AND | atomic::FETCH,
            atomic::XOR | atomic::FETCH,
            atomic::XCHG,
            atomic::CMPXCHG,
        ];
        if !known.contains(&imm) {
            return Err(err(
                pc,
                format!("BPF_ATOMIC uses invalid atomic opcode {imm:02x}"),
            ));
        }
        if imm == atomic::CMPXCHG {
            self.read(s, pc, 0)?;
        }
        // Atomics are aligned on every pointer (`strict_alignment_once`).
        self.aligned(pc, &base, insn.off, n, true)?;
        match base.kind {
            PtrKind::Stack { frame } => {
                let a = StackAccess {
                    r: insn.dst,
                    frame,
                    ptr: base,
                    insn_off: insn.off,
                    n,
                };
                self.stack_read(s, pc, &a)?;
                self.stack_write(s, pc, &a, RegState::unknown(), false)?;
            }
            PtrKind::Ctx => {
                return Err(err(
                    pc,
                    format!("BPF_ATOMIC stores into R{} ctx is not allowed", insn.dst),
                ))
            }
            PtrKind::BtfId { .. } => {
                self.btf_access(pc, insn.dst, &base, insn.off, n, true)?;
            }
            _ => self.check_region(pc, insn.dst, &base, insn.off, n, Access::Write)?,
        }
        let fetched = loaded(n);
        if imm == atomic::CMPXCHG {
            self.write(s, pc, 0, fetched)?;
        } else if imm & atomic::FETCH != 0 {
            self.write(s, pc, insn.src, fetched)?;
        }
        Ok(())
    }

    /// A load from a frozen read-only map (`.rodata`) at a known offset,
    /// where the loader's bytes are known: that constant
    /// (`bpf_map_direct_read`).
    fn frozen_value(&self, p: &Ptr, insn_off: i16, n: i64) -> Option<RegState> {
        let PtrKind::MapValue { map } = p.kind else {
            return None;
        };
        let g = self.prog.global(map).filter(|g| g.read_only)?;
        if self.target.rodata != crate::Rodata::Initial {
            return None;
        }
        let at = p.off + p.var.as_const()? as i64 + i64::from(insn_off);
        let at = usize::try_from(at).ok()?;
        let bytes = g.init.get(at..at + n as usize)?;
        let v = self.target.arch.endian().read_uint(bytes);
        Some(RegState::constant(v))
    }

    /// The pointer in register `r`, or the kernel's complaint about it.
    fn pointer(&self, s: &State, pc: usize, r: u8) -> Result<Ptr, VerifyError> {
        match self.read(s, pc, r)? {
            RegState::Ptr(p)
                if !p.or_null && !matches!(p.kind, PtrKind::Map { .. } | PtrKind::Func { .. }) =>
            {
                Ok(p)
            }
            other => Err(err(
                pc,
                format!("R{r} invalid mem access '{}'", other.type_name()),
            )),
        }
    }

    /// Bounds of a ctx, map value or ring-buffer access.
    fn check_region(
        &self,
        pc: usize,
        r: u8,
        p: &Ptr,
        insn_off: i16,
        n: i64,
        access: Access,
    ) -> Result<(), VerifyError> {
        let off = p.off + i64::from(insn_off);
        match p.kind {
            PtrKind::Ctx => {
                if p.var.as_const() != Some(0) {
                    return Err(err(
                        pc,
                        format!(
                            "variable ctx access var_off={} disallowed",
                            tnum_text(&p.var)
                        ),
                    ));
                }
                if p.off != 0 {
                    return Err(err(
                        pc,
                        format!(
                            "dereference of modified ctx ptr R{r} off={} disallowed",
                            p.off
                        ),
                    ));
                }
                let bad = off < 0
                    || off >= self.ctx_size
                    || access == Access::Write
                    || off % n != 0
                    || off + n > self.ctx_size
                    || (self.prog_type == crate::prog_type::ProgType::Tracing
                        && self.proto.is_none()
                        && !crate::tracing::ctx_read_ok(off, n));
                if bad {
                    return Err(err(
                        pc,
                        format!("invalid bpf_context access off={off} size={n}"),
                    ));
                }
                Ok(())
            }
            PtrKind::MapValue { map } => {
                let size = self
                    .prog
                    .maps
                    .get(map)
                    .map_or(0, |m| i64::from(m.value_size));
                let read_only = self.prog.global(map).is_some_and(|g| g.read_only);
                if read_only && access == Access::Write {
                    return Err(err(
                        pc,
                        format!("write into map forbidden, value_size={size} off={off} size={n}"),
                    ));
                }
                self.check_range(pc, r, p, off, n, size, "map value", "value_size")
            }
            PtrKind::MapKey { map } => {
                if access == Access::Write {
                    return Err(err(pc, format!("write to change key R{r} not allowed")));
                }
                let size = self.prog.maps.get(map).map_or(0, |m| i64::from(m.key_size));
                self.check_range(pc, r, p, off, n, size, "map key", "key_size")
            }
            PtrKind::Mem { size } => {
                self.check_range(pc, r, p, off, n, i64::from(size), "memory", "mem_size")
            }
            PtrKind::RingbufMem { size } => {
                self.check_range(pc, r, p, off, n, i64::from(size), "memory", "mem_size")
            }
            _ => Err(err(
                pc,
                format!(
                    "R{r} invalid mem access '{}'",
                    RegState::Ptr(*p).type_name()
                ),
            )),
        }
    }

    /// `off + var + [0, n)` inside `[0, size)` (`check_mem_region_access`).
    #[allow(clippy::too_many_arguments)]
    fn check_range(
        &self,
        pc: usize,
        r: u8,
        p: &Ptr,
        off: i64,
        n: i64,
        size: i64,
        what: &str,
        size_name: &str,
    ) -> Result<(), VerifyError> {
        let var = &p.var;
        if var.smin < 0 && var.as_const().is_none() {
            return Err(err(
                pc,
                format!("R{r} min value is negative, either use unsigned index or do a if (index >=0) check."),
            ));
        }
        if var.umax >= MAX_VAR_OFF {
            return Err(err(
                pc,
                format!("R{r} unbounded memory access, make sure to bounds check any such access"),
            ));
        }
        let lo = off + var.smin.max(0);
        let hi = off + var.umax as i64;
        if lo < 0 || hi + n > size {
            let at = if lo < 0 { lo } else { hi };
            return Err(err(
                pc,
                format!("invalid access to {what}, {size_name}={size} off={at} size={n}"),
            ));
        }
        Ok(())
    }

    /// The bytes a stack access may touch, or the kernel's complaint
    /// (`check_stack_access_within_bounds`; its alignment is `aligned`'s).
    fn stack_span(
        &self,
        s: &State,
        pc: usize,
        a: &StackAccess,
        access: Access,
    ) -> Result<Span, VerifyError> {
        let StackAccess {
            r,
            frame,
            ptr,
            insn_off,
            n,
        } = *a;
        if frame >= s.frames.len() {
            return Err(err(pc, format!("R{r} invalid mem access 'fp'")));
        }
        let base = ptr.off + i64::from(insn_off);
        let dir = if access == Access::Read {
            " read from"
        } else {
            " write to"
        };
        let var = &ptr.var;
        if let Some(c) = var.as_const() {
            let off = base + c as i64;
            let Some(at) = Stack::index(off).filter(|_| off + n <= 0) else {
                return Err(err(
                    pc,
                    format!("invalid{dir} stack R{r} off={off} size={n}"),
                ));
            };
            return Ok(Span::Exact(at));
        }
        if var.smin == i64::MIN || var.smax == i64::MAX {
            return Err(err(
                pc,
                format!("invalid unbounded variable-offset{dir} stack R{r}"),
            ));
        }
        let (lo, hi) = (
            base.saturating_add(var.smin),
            base.saturating_add(var.smax).saturating_add(n),
        );
        let (Some(first), true) = (Stack::index(lo), hi <= 0) else {
            return Err(err(
                pc,
                format!(
                    "invalid variable-offset{dir} stack R{r} var_off={} off={base} size={n}",
                    tnum_text(var)
                ),
            ));
        };
        Ok(Span::Range(first, (hi + STACK_SIZE as i64) as usize))
    }

    /// Records how deep an access at stack byte `first` of frame `frame` goes.
    fn deepen(&mut self, s: &State, frame: usize, first: usize) {
        if let Some(f) = s.frames.get(frame) {
            self.touch_stack(f.subprog, STACK_SIZE - first);
        }
    }

    fn stack_read(
        &mut self,
        s: &State,
        pc: usize,
        a: &StackAccess,
    ) -> Result<RegState, VerifyError> {
        let uninit_ok = self.rules.has(Change::UninitStackReads);
        let at = match self.stack_span(s, pc, a, Access::Read)? {
            Span::Exact(at) => at,
            // Privileged programs may read any stack byte, written or not
            // (`UninitStackReads`); before, only within the allocated stack.
            Span::Range(first, _) => {
                let st = &s.frames[a.frame].stack;
                if !uninit_ok && unallocated(st, first) {
                    return Err(err(
                        pc,
                        format!(
                            "invalid read from stack R{} var_off {}+0 size {}",
                            a.r,
                            tnum_text(&a.ptr.var),
                            a.n
                        ),
                    ));
                }
                self.deepen(s, a.frame, first);
                return Ok(loaded(a.n));
            }
        };
        self.deepen(s, a.frame, at);
        let st = &s.frames[a.frame].stack;
        let n = a.n as usize;
        if !uninit_ok && unallocated(st, at) {
            let off = at as i64 - STACK_SIZE as i64;
            return Err(err(
                pc,
                format!("invalid read from stack R{} off={off} size={n}", a.r),
            ));
        }
        if let Some(spilled) = st.spilled[at / 8] {
            if at % 8 == 0 && n == 8 {
                return Ok(spilled);
            }
            if !matches!(spilled, RegState::Scalar(_)) {
                return Err(err(pc, "invalid size of register fill"));
            }
        }
        // Bytes never written read as unknown (`allow_uninit_stack`).
        if st.bytes[at..at + n].iter().all(|b| *b == Byte::Zero) {
            return Ok(RegState::constant(0));
        }
        Ok(loaded(n as i64))
    }

    fn stack_write(
        &mut self,
        s: &mut State,
        pc: usize,
        a: &StackAccess,
        v: RegState,
        imm: bool,
    ) -> Result<(), VerifyError> {
        let span = self.stack_span(s, pc, a, Access::Write)?;
        let (first, end) = match span {
            Span::Exact(at) => (at, at + a.n as usize),
            Span::Range(lo, hi) => (lo, hi),
        };
        self.deepen(s, a.frame, first);
        let st = &mut s.frames[a.frame].stack;
        let n = a.n as usize;
        let Span::Exact(at) = span else {
            // A variable offset: every byte it may reach holds something unknown.
            st.write(first, end - first, Byte::Misc);
            return Ok(());
        };
        match v {
            RegState::Ptr(_) if n != 8 => Err(err(pc, "invalid size of register spill")),
            RegState::Ptr(_) => {
                st.spill(at, v);
                Ok(())
            }
            RegState::Scalar(sc) if n == 8 && !imm && sc.as_const() != Some(0) => {
                st.spill(at, v);
                Ok(())
            }
            RegState::Scalar(sc) => {
                let b = if sc.as_const() == Some(0) {
                    Byte::Zero
                } else {
                    Byte::Misc
                };
                st.write(at, n, b);
                Ok(())
            }
            RegState::NotInit => Err(err(pc, format!("R{} !read_ok", a.r))),
        }
    }

    /// A helper's memory argument: `[p, p + size)` writable or initialised.
    pub fn helper_mem(
        &mut self,
        s: &mut State,
        pc: usize,
        r: u8,
        p: Ptr,
        size: u64,
        init: bool,
    ) -> Result<(), VerifyError> {
        if size == 0 {
            return Ok(());
        }
        let n = i64::try_from(size).unwrap_or(i64::MAX);
        match p.kind {
            PtrKind::Stack { frame } => {
                let (lo, hi) = (
                    p.off.saturating_add(p.var.smin),
                    p.off.saturating_add(p.var.smax).saturating_add(n),
                );
                let Some(at) = Stack::index(lo).filter(|_| hi <= 0 && p.var.smin > i64::MIN) else {
                    let off = p.off + p.var.smin;
                    let dir = if init { "read from" } else { "write to" };
                    return Err(err(pc, format!("invalid {dir} stack R{r} off={off} size={n}")));
                };
                self.deepen(s, frame, at);
                // A helper reading stack bytes never written is allowed to a
                // privileged program (`UninitStackReads`); one writing
                // them leaves something unknown.
                let end = (hi + STACK_SIZE as i64) as usize;
                if init
                    && !self.rules.has(Change::UninitStackReads)
                    && unallocated(&s.frames[frame].stack, at)
                {
                    return Err(err(
                        pc,
                        format!("invalid indirect read from stack R{r} off {lo}+0 size {n}"),
                    ));
                }
                if !init {
                    s.frames[frame].stack.write(at, end - at, Byte::Misc);
                }
                Ok(())
            }
            PtrKind::MapValue { .. }
            | PtrKind::RingbufMem { .. }
            | PtrKind::Mem { .. }
            | PtrKind::MapKey { .. } => {
                let a = if init { Access::Read } else { Access::Write };
                self.check_region(pc, r, &p, 0, n, a)
            }
            PtrKind::Ctx if init => self.check_region(pc, r, &p, 0, n, Access::Read),
            _ => Err(err(
                pc,
                format!(
                    "R{r} type={} expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf",
                    RegState::Ptr(p).type_name()
                ),
            )),
        }
    }
}

/// Whether byte `at` lies below the stack the kernel has allocated for
/// the frame on this path: the slots (8 bytes) down to the deepest byte
/// written. Before `UninitStackReads`, reads there are refused; above it,
/// a privileged program may read bytes never written.
fn unallocated(st: &Stack, at: usize) -> bool {
    st.bytes
        .iter()
        .position(|b| *b != Byte::Invalid)
        .is_none_or(|d| at < d / 8 * 8)
}
