//! rodata: the runner's copy of an object's `.rodata`, which the rewritten
//! code's loads of read-only globals point into (as the kernel points
//! `BPF_PSEUDO_MAP_VALUE` into the frozen map's value), and which a run's
//! loader sets before any run ([`Rodata::set`]). Its bytes are allocated
//! once and never resized, so their address holds while the program
//! lives; 8 guard bytes follow, as an [`Arena`](crate::memory::Arena)'s
//! do.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::object;

/// `.rodata` as a run sees it.
pub struct Rodata {
    bytes: Box<[u8]>,
    /// The section's size, without the guard.
    len: usize,
    /// `(name, offset, size)` of each global.
    symbols: Vec<(String, u64, u64)>,
}

impl Rodata {
    /// The object's section as it holds it (none: empty).
    pub fn new(section: Option<&object::Rodata>) -> Rodata {
        let (init, symbols) =
            section.map_or((&[][..], Vec::new()), |r| (&r.bytes[..], r.symbols.clone()));
        let mut bytes = vec![0u8; init.len() + 8].into_boxed_slice();
        bytes[..init.len()].copy_from_slice(init);
        Rodata {
            bytes,
            len: init.len(),
            symbols,
        }
    }

    /// Where its bytes are.
    pub fn addr(&self) -> u64 {
        self.bytes.as_ptr() as u64
    }

    /// The memory a run may read, if any.
    pub fn range(&self) -> Option<Range<u64>> {
        (self.len > 0).then(|| self.addr()..self.addr() + self.len as u64)
    }

    /// Sets globals, `(symbol, bytes)`, each the size of its symbol.
    pub fn set(&mut self, globals: &[(String, Vec<u8>)]) -> Result<()> {
        for (name, bytes) in globals {
            let &(_, off, size) = self
                .symbols
                .iter()
                .find(|(n, _, _)| n == name)
                .ok_or_else(|| Error::Object(format!("no read-only global `{name}`")))?;
            let at = usize::try_from(off)
                .ok()
                .filter(|&o| {
                    size == bytes.len() as u64
                        && o.checked_add(bytes.len()).is_some_and(|e| e <= self.len)
                })
                .ok_or_else(|| {
                    Error::Object(format!(
                        "the global `{name}` is {size} bytes at {off} of .rodata, given {}",
                        bytes.len()
                    ))
                })?;
            self.bytes[at..at + bytes.len()].copy_from_slice(bytes);
        }
        Ok(())
    }
}
