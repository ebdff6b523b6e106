//! Byte-order-aware reading and writing of the 16- and 32-bit words that BTF
//! and `.BTF.ext` are made of. The reader bounds-checks every access and
//! reports truncation as an error, so that no input can make a parser panic.

use super::BtfError;
use crate::insn::Endian;

/// The byte order a BTF magic number (`0xeB9F`) was written in.
pub(super) fn endian_of_magic(magic: [u8; 2]) -> Result<Endian, BtfError> {
    match magic {
        [0x9f, 0xeb] => Ok(Endian::Little),
        [0xeb, 0x9f] => Ok(Endian::Big),
        other => Err(BtfError::BadMagic(other)),
    }
}

/// Appends words in one byte order.
pub(super) struct Writer {
    buf: Vec<u8>,
    endian: Endian,
}

impl Writer {
    pub(super) fn new(endian: Endian) -> Writer {
        Writer {
            buf: Vec::new(),
            endian,
        }
    }

    pub(super) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(super) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&self.endian.u16_bytes(v));
    }

    pub(super) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&self.endian.u32_bytes(v));
    }

    pub(super) fn i32(&mut self, v: i32) {
        self.u32(v as u32);
    }

    pub(super) fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads words in one byte order from a slice, never past its end.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    endian: Endian,
    /// What is being read, for error messages.
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8], endian: Endian, what: &'static str) -> Reader<'a> {
        Reader {
            bytes,
            pos: 0,
            endian,
            what,
        }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next `n` bytes.
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], BtfError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let slice = end.and_then(|e| self.bytes.get(self.pos..e));
        match slice {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(BtfError::Truncated {
                what: self.what,
                offset: self.pos,
                need: n,
            }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BtfError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> Result<u8, BtfError> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u32(&mut self) -> Result<u32, BtfError> {
        Ok(self.endian.read_u32(self.array::<4>()?))
    }

    pub(super) fn i32(&mut self) -> Result<i32, BtfError> {
        Ok(self.u32()? as i32)
    }
}

/// The sub-slice `[base + off, base + off + len)` of `bytes`, or an error
/// naming `what` when it does not lie inside.
pub(super) fn section<'a>(
    bytes: &'a [u8],
    base: u32,
    off: u32,
    len: u32,
    what: &'static str,
) -> Result<&'a [u8], BtfError> {
    let start = u64::from(base) + u64::from(off);
    let end = start + u64::from(len);
    let out_of_bounds = || BtfError::SectionOutOfBounds {
        what,
        start,
        end,
        size: bytes.len(),
    };
    let start_us = usize::try_from(start).map_err(|_| out_of_bounds())?;
    let end_us = usize::try_from(end).map_err(|_| out_of_bounds())?;
    bytes.get(start_us..end_us).ok_or_else(out_of_bounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_and_reader_agree_in_both_orders() {
        for e in [Endian::Little, Endian::Big] {
            let mut w = Writer::new(e);
            w.u16(0xeb9f);
            w.u32(0x1234_5678);
            w.i32(-2);
            let bytes = w.into_bytes();
            let mut r = Reader::new(&bytes, e, "test");
            let magic = r.take(2).unwrap();
            assert_eq!(endian_of_magic([magic[0], magic[1]]).unwrap(), e);
            assert_eq!(r.u32().unwrap(), 0x1234_5678);
            assert_eq!(r.i32().unwrap(), -2);
            assert!(r.is_empty());
            assert!(matches!(
                r.u8(),
                Err(BtfError::Truncated {
                    what: "test",
                    offset: 10,
                    need: 1
                })
            ));
        }
    }

    #[test]
    fn magic_tells_the_byte_order() {
        assert_eq!(endian_of_magic([0x9f, 0xeb]).unwrap(), Endian::Little);
        assert_eq!(endian_of_magic([0xeb, 0x9f]).unwrap(), Endian::Big);
        assert!(matches!(
            endian_of_magic([0, 0]),
            Err(BtfError::BadMagic([0, 0]))
        ));
    }

    #[test]
    fn section_bounds_are_checked_without_overflow() {
        let b = [0u8; 16];
        assert_eq!(section(&b, 4, 4, 8, "x").unwrap().len(), 8);
        assert!(section(&b, 4, 4, 9, "x").is_err());
        assert!(section(&b, u32::MAX, u32::MAX, u32::MAX, "x").is_err());
    }
}
