//! kaddr: synthetic kernel addresses for function names, so that
//! `bpf_get_func_ip`, the `ip` register and `bpf_get_stackid` frames carry
//! addresses, and a symbol table ([`Kaddr::symbols`]) that the runtime's
//! decoder names them back by, `name+offset`, as bpftrace prints kernel
//! stacks. Each name gets its own 64 KiB span above `0xffffffff81000000`,
//! in order of first use.

use std::collections::HashMap;

use probecc_runtime::ksyms::Ksyms;

const BASE: u64 = 0xffff_ffff_8100_0000;
const SPAN: u64 = 0x1_0000;

#[derive(Clone, Debug, Default)]
pub struct Kaddr {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Kaddr {
    /// The address of `frame`: `name` or `name+offset` (decimal or 0x hex).
    pub fn addr(&mut self, frame: &str) -> u64 {
        let (name, off) = split_frame(frame);
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.names.push(name.to_string());
                self.index.insert(name.to_string(), self.names.len() - 1);
                self.names.len() - 1
            }
        };
        BASE + i as u64 * SPAN + off.min(SPAN - 1)
    }

    /// Every name given an address so far, at the start of its span.
    pub fn symbols(&self) -> Ksyms {
        Ksyms::from_symbols(
            self.names
                .iter()
                .enumerate()
                .map(|(i, n)| (BASE + i as u64 * SPAN, n.clone())),
        )
    }
}

fn split_frame(frame: &str) -> (&str, u64) {
    match frame.rsplit_once('+') {
        Some((name, off)) => {
            let off = match off.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16).ok(),
                None => off.parse().ok(),
            };
            match off {
                Some(o) => (name, o),
                None => (frame, 0),
            }
        }
        None => (frame, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut k = Kaddr::default();
        let a = k.addr("vfs_read");
        let b = k.addr("vfs_read+0x10");
        assert_eq!(b, a + 16);
        let c = k.addr("do_sys_openat2+7");
        let table = k.symbols();
        assert_eq!(table.describe(b), "vfs_read+16");
        assert_eq!(table.describe(c), "do_sys_openat2+7");
        assert_eq!(table.describe(12), "0xc");
    }
}
