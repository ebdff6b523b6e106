//! ksyms: synthetic kernel addresses for function names, so that
//! `bpf_get_func_ip`, the `ip` register and `bpf_get_stackid` frames carry
//! addresses, and output turns them back into `name+offset` as bpftrace
//! prints kernel stacks. Each name gets its own 64 KiB span above
//! `0xffffffff81000000`, in order of first use.

use std::collections::HashMap;

const BASE: u64 = 0xffff_ffff_8100_0000;
const SPAN: u64 = 0x1_0000;

#[derive(Clone, Debug, Default)]
pub struct Ksyms {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Ksyms {
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

    /// `name+offset` for an address made by [`Ksyms::addr`], hex otherwise.
    pub fn frame(&self, addr: u64) -> String {
        let i = addr.wrapping_sub(BASE) / SPAN;
        match self.names.get(i as usize) {
            Some(name) if addr >= BASE => format!("{name}+{}", (addr - BASE) % SPAN),
            _ => format!("{addr:#x}"),
        }
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
        let mut k = Ksyms::default();
        let a = k.addr("vfs_read");
        let b = k.addr("vfs_read+0x10");
        assert_eq!(b, a + 16);
        assert_eq!(k.frame(b), "vfs_read+16");
        let c = k.addr("do_sys_openat2+7");
        assert_eq!(k.frame(c), "do_sys_openat2+7");
        assert_eq!(k.frame(12), "0xc");
    }
}
