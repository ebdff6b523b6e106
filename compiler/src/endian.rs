//! Byte order: [`Endian`], the order of every multi-byte field of an object
//! (instructions, BTF, ELF), and the one place integers are turned into
//! bytes and back in it. s390x objects are big-endian, every other arch's
//! little-endian (`Arch::endian`).

/// Byte order of an object and of every instruction in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endian {
    Little,
    Big,
}

impl Endian {
    /// `little-endian` or `big-endian`.
    pub fn name(self) -> &'static str {
        match self {
            Endian::Little => "little-endian",
            Endian::Big => "big-endian",
        }
    }

    /// clang's BPF target for objects of this byte order.
    pub fn bpf_target(self) -> &'static str {
        match self {
            Endian::Little => "bpfel",
            Endian::Big => "bpfeb",
        }
    }

    pub fn u16_bytes(self, v: u16) -> [u8; 2] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }

    pub fn u32_bytes(self, v: u32) -> [u8; 4] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }

    pub fn u64_bytes(self, v: u64) -> [u8; 8] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }

    pub fn read_u16(self, b: [u8; 2]) -> u16 {
        match self {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        }
    }

    pub fn read_u32(self, b: [u8; 4]) -> u32 {
        match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        }
    }

    pub fn read_u64(self, b: [u8; 8]) -> u64 {
        match self {
            Endian::Little => u64::from_le_bytes(b),
            Endian::Big => u64::from_be_bytes(b),
        }
    }

    /// The unsigned integer in `bytes` (the first 8 of them at most): a
    /// field of 1, 2, 4 or 8 bytes, or a shorter tail.
    pub fn read_uint(self, bytes: &[u8]) -> u64 {
        let b = &bytes[..bytes.len().min(8)];
        let fold = |v: u64, &x: &u8| v << 8 | u64::from(x);
        match self {
            Endian::Little => b.iter().rev().fold(0, fold),
            Endian::Big => b.iter().fold(0, fold),
        }
    }

    /// The low `n` bytes (8 at most) of `value`, in this order.
    pub fn uint_bytes(self, value: u64, n: usize) -> Vec<u8> {
        let n = n.min(8);
        match self {
            Endian::Little => value.to_le_bytes()[..n].to_vec(),
            Endian::Big => value.to_be_bytes()[8 - n..].to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_widths_are_the_standard_orders() {
        assert_eq!(Endian::Little.u16_bytes(0x0102), [2, 1]);
        assert_eq!(Endian::Big.u16_bytes(0x0102), [1, 2]);
        assert_eq!(Endian::Little.u32_bytes(0x0102_0304), [4, 3, 2, 1]);
        assert_eq!(Endian::Big.u32_bytes(0x0102_0304), [1, 2, 3, 4]);
        assert_eq!(Endian::Big.u64_bytes(1), [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(Endian::Little.u64_bytes(1), [1, 0, 0, 0, 0, 0, 0, 0]);
        for e in [Endian::Little, Endian::Big] {
            assert_eq!(e.read_u16(e.u16_bytes(0xbeef)), 0xbeef);
            assert_eq!(e.read_u32(e.u32_bytes(0xdead_beef)), 0xdead_beef);
            assert_eq!(e.read_u64(e.u64_bytes(u64::MAX - 5)), u64::MAX - 5);
        }
    }

    #[test]
    fn any_width_round_trips_and_keeps_the_low_bytes() {
        for e in [Endian::Little, Endian::Big] {
            for n in [1, 2, 3, 4, 8] {
                let v = 0x1122_3344_5566_7788u64 & (u64::MAX >> (64 - 8 * n));
                assert_eq!(e.read_uint(&e.uint_bytes(v, n)), v, "{e:?} {n}");
            }
            assert_eq!(e.uint_bytes(0x0102, 2), e.u16_bytes(0x0102));
            assert_eq!(e.read_uint(&e.u32_bytes(7)), 7);
        }
        assert_eq!(Endian::Big.uint_bytes(0x0102_0304, 2), [3, 4]);
        assert_eq!(Endian::Little.uint_bytes(0x0102_0304, 2), [4, 3]);
        assert_eq!(Endian::Big.read_uint(&[0; 0]), 0);
    }
}
