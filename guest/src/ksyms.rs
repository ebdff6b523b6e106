//! `/proc/kallsyms`: whether a symbol exists (the syscall prefix check)
//! and which function an address is in (kstack keys).

/// Text symbols sorted by address.
#[derive(Default)]
pub struct Ksyms {
    syms: Vec<(u64, String)>,
}

impl Ksyms {
    pub fn load() -> Ksyms {
        Ksyms::parse(&std::fs::read_to_string("/proc/kallsyms").unwrap_or_default())
    }

    /// Text symbols of kallsyms' `ADDRESS TYPE NAME` lines, sorted by
    /// address and otherwise in the file's order (a stable sort), so that
    /// of several names at one address the kernel's choice comes first.
    fn parse(text: &str) -> Ksyms {
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
        syms.sort_by_key(|(a, _)| *a);
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

    /// `symbol+off` for an address, or the address in hex. Where several
    /// symbols share the address below, the first of them in kallsyms,
    /// as the kernel's own `%pS` names it (kallsyms puts a function before
    /// the linker's `__*_text_start` aliases at its address).
    pub fn describe(&self, addr: u64) -> String {
        let below = self.syms.partition_point(|(a, _)| *a <= addr);
        let Some(start) = below.checked_sub(1).map(|i| self.syms[i].0) else {
            return format!("{addr:#x}");
        };
        let first = self.syms.partition_point(|(a, _)| *a < start);
        format!("{}+{}", self.syms[first].1, addr - start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_named_by_the_first_of_its_aliases_in_kallsyms() {
        let k = Ksyms::parse(
            "ffffffff81000100 t __pfx_run_init_process\n\
             ffffffff81000100 T __split_text_end\n\
             ffffffff81000000 T _stext\n\
             ffffffff81000200 D some_data\n\
             ffffffff81000300 T do_open\n",
        );
        assert_eq!(k.describe(0xffffffff81000110), "__pfx_run_init_process+16");
        assert_eq!(k.describe(0xffffffff81000100), "__pfx_run_init_process+0");
        assert_eq!(k.describe(0xffffffff81000250), "__pfx_run_init_process+336");
        assert_eq!(k.describe(0xffffffff81000302), "do_open+2");
        assert_eq!(k.describe(0xffffffff81000001), "_stext+1");
        assert_eq!(k.describe(0x10), "0x10");
        assert!(k.contains("__split_text_end"));
    }
}
