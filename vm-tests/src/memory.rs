//! memory: the runner-owned memory programs may point into — arenas for
//! map values and ring-buffer records, allocated once and never moved, so
//! that their addresses can be handed to programs and registered with rbpf —
//! and the u64 slots read from it (all program memory holds values in the
//! target's order, see `rewrite`; `Endian` converts them).

use std::ops::Range;
use std::ptr::NonNull;

use probecc::insn::Endian;

/// Bytes past the end of every arena: rbpf checks only where an access
/// starts, so an 8-byte access at an arena's last byte stays in our memory.
const GUARD: usize = 8;

/// A zeroed, fixed block of memory.
pub struct Arena {
    ptr: NonNull<u8>,
    len: usize,
}

impl Arena {
    pub fn new(len: usize) -> Arena {
        let boxed: Box<[u8]> = vec![0u8; len + GUARD].into_boxed_slice();
        let raw = Box::into_raw(boxed) as *mut u8;
        // A Box is never null.
        let ptr = NonNull::new(raw).unwrap_or(NonNull::dangling());
        Arena { ptr, len }
    }

    pub fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn range(&self) -> Range<u64> {
        self.addr()..self.addr() + self.len as u64
    }

    /// Whether `[addr, addr + n)` lies inside.
    pub fn contains(&self, addr: u64, n: usize) -> bool {
        within(self.range(), addr, n)
    }

    /// `n` bytes at offset `off` (outside a run).
    pub fn bytes(&self, off: usize, n: usize) -> &[u8] {
        let n = n.min(self.len.saturating_sub(off));
        // SAFETY: in bounds of the allocation; no run is writing meanwhile.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(off.min(self.len)), n) }
    }

    pub fn write(&mut self, off: usize, data: &[u8]) {
        let n = data.len().min(self.len.saturating_sub(off));
        // SAFETY: in bounds of the allocation.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(off), n);
        }
    }

    pub fn zero(&mut self, off: usize, n: usize) {
        let n = n.min(self.len.saturating_sub(off));
        // SAFETY: in bounds of the allocation.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(off), 0, n) }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len + GUARD);
        // SAFETY: made by Box::into_raw in `new` with this length.
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// Whether `[addr, addr + n)` lies inside `r`.
pub fn within(r: Range<u64>, addr: u64, n: usize) -> bool {
    addr >= r.start && addr.checked_add(n as u64).is_some_and(|end| end <= r.end)
}

/// Copies `n` bytes of program memory at `addr`.
///
/// # Safety
/// `[addr, addr + n)` must lie in live memory the runner checked (its
/// stack, ctx or an arena).
pub unsafe fn read(addr: u64, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    unsafe { std::ptr::copy(addr as *const u8, v.as_mut_ptr(), n) };
    v
}

/// Writes `data` to program memory at `addr`.
///
/// # Safety
/// As for [`read`].
pub unsafe fn write(addr: u64, data: &[u8]) {
    unsafe { std::ptr::copy(data.as_ptr(), addr as *mut u8, data.len()) }
}

/// The u64 at `off` of `bytes`, 0 where the bytes end.
pub fn u64_at(bytes: &[u8], off: usize, endian: Endian) -> u64 {
    bytes.get(off..off + 8).map_or(0, |b| endian.read_uint(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arenas_are_zeroed_and_bounded() {
        let mut a = Arena::new(16);
        assert!(a.bytes(0, 16).iter().all(|&b| b == 0));
        a.write(14, &[1, 2, 3, 4]);
        assert_eq!(a.bytes(14, 8), [1, 2]);
        assert!(a.contains(a.addr() + 8, 8));
        assert!(!a.contains(a.addr() + 9, 8));
    }
}
