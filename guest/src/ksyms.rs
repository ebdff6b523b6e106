//! `/proc/kallsyms`: whether a symbol exists (the syscall prefix check)
//! and which function an address is in (kstack keys).

/// Text symbols sorted by address.
#[derive(Default)]
pub struct Ksyms {
    syms: Vec<(u64, String)>,
}

impl Ksyms {
    pub fn load() -> Ksyms {
        let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
        let mut syms: Vec<(u64, String)> = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let addr = u64::from_str_radix(f.next()?, 16).ok()?;
                let kind = f.next()?;
                let name = f.next()?;
                matches!(kind, "T" | "t" | "W" | "w").then(|| (addr, name.to_string()))
            })
            .collect();
        syms.sort();
        Ksyms { syms }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.syms.iter().any(|(_, n)| n == name)
    }

    /// Text symbols whose names end with `suffix`.
    pub fn ending_with(&self, suffix: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .syms
            .iter()
            .filter(|(_, n)| n.ends_with(suffix))
            .map(|(_, n)| n.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// `symbol+0xoff` for an address, or the address in hex.
    pub fn describe(&self, addr: u64) -> String {
        let i = self.syms.partition_point(|(a, _)| *a <= addr);
        match i.checked_sub(1).and_then(|i| self.syms.get(i)) {
            Some((a, n)) => format!("{n}+{}", addr - a),
            None => format!("{addr:#x}"),
        }
    }
}
