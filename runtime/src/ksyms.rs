//! Kernel symbol tables: text symbols by address, as `/proc/kallsyms`
//! lists them (or as a caller makes them up), whether a name is there,
//! and an address named `symbol+offset` the way the kernel's `%pS` and
//! bpftrace's stacks name it — of several names at one address, the
//! first the table lists.

use std::path::Path;

/// Text symbols sorted by address; names at one address in the order
/// they were listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ksyms {
    syms: Vec<(u64, String)>,
}

impl Ksyms {
    /// The text symbols (`T`, `t`, `W`, `w`) of kallsyms' `ADDRESS TYPE
    /// NAME [MODULE]` lines; other lines are passed over.
    pub fn from_kallsyms(text: &str) -> Ksyms {
        Ksyms::from_symbols(text.lines().filter_map(|l| {
            let mut f = l.split_whitespace();
            let addr = u64::from_str_radix(f.next()?, 16).ok()?;
            let kind = f.next()?;
            let name = f.next()?;
            matches!(kind, "T" | "t" | "W" | "w").then(|| (addr, name.to_string()))
        }))
    }

    /// A table of `(address, name)` pairs; of several at one address,
    /// the first given names it.
    pub fn from_symbols(symbols: impl IntoIterator<Item = (u64, String)>) -> Ksyms {
        let mut syms: Vec<(u64, String)> = symbols.into_iter().collect();
        // Stable: aliases keep the order they were listed in.
        syms.sort_by_key(|(a, _)| *a);
        Ksyms { syms }
    }

    /// The table of a kallsyms file (`/proc/kallsyms`).
    pub fn read(path: &Path) -> std::io::Result<Ksyms> {
        Ok(Ksyms::from_kallsyms(&std::fs::read_to_string(path)?))
    }

    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.syms.iter().any(|(_, n)| n == name)
    }

    /// The names that end with `suffix`, sorted, each once.
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

    /// The symbol an address is in, without the offset (`ksym()`); the
    /// address in hex below every symbol, `0` for 0 (as bpftrace prints an
    /// unresolved one).
    pub fn name(&self, addr: u64) -> String {
        match self.function(addr) {
            Some(name) => name.to_string(),
            None if addr == 0 => "0".into(),
            None => format!("{addr:#x}"),
        }
    }

    /// `symbol+offset` (decimal) for an address, or the address in hex
    /// below every symbol. Where several symbols share the address below,
    /// the first of them in the table, as the kernel's `%pS` names it
    /// (kallsyms puts a function before the linker's `__*_text_start`
    /// aliases at its address).
    pub fn describe(&self, addr: u64) -> String {
        match self.holding(addr) {
            Some((start, name)) => format!("{name}+{}", addr - start),
            None => format!("{addr:#x}"),
        }
    }

    /// The name of the function holding `addr` (what [`describe`](Self::describe)
    /// names, without the offset): a `func` value that is an address.
    pub fn function(&self, addr: u64) -> Option<&str> {
        self.holding(addr).map(|(_, name)| name)
    }

    /// The start and name of the symbol at or below `addr`.
    fn holding(&self, addr: u64) -> Option<(u64, &str)> {
        let below = self.syms.partition_point(|(a, _)| *a <= addr);
        let start = below.checked_sub(1).map(|i| self.syms[i].0)?;
        let first = self.syms.partition_point(|(a, _)| *a < start);
        Some((start, self.syms[first].1.as_str()))
    }
}

/// The address kallsyms lists for `name`, of any type (data symbols too,
/// as a `.ksyms` extern may name them), if it lists one.
pub fn address_in(kallsyms: &str, name: &str) -> Option<u64> {
    kallsyms.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let addr = f.next()?;
        let _kind = f.next()?;
        (f.next()? == name)
            .then(|| u64::from_str_radix(addr, 16).ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_named_by_the_first_of_its_aliases_in_kallsyms() {
        let k = Ksyms::from_kallsyms(
            "ffffffff81000100 t __pfx_run_init_process\n\
             ffffffff81000100 T __split_text_end\n\
             ffffffff81000000 T _stext\n\
             ffffffff81000200 D some_data\n\
             ffffffff81000300 T do_open\t[ext4]\n\
             garbage line\n",
        );
        assert_eq!(k.describe(0xffffffff81000110), "__pfx_run_init_process+16");
        assert_eq!(k.describe(0xffffffff81000100), "__pfx_run_init_process+0");
        assert_eq!(k.describe(0xffffffff81000250), "__pfx_run_init_process+336");
        assert_eq!(k.describe(0xffffffff81000302), "do_open+2");
        assert_eq!(k.describe(0xffffffff81000001), "_stext+1");
        assert_eq!(k.describe(0x10), "0x10");
        assert_eq!(k.function(0xffffffff81000302), Some("do_open"));
        assert_eq!(k.function(0x10), None);
        assert_eq!(k.name(0xffffffff81000302), "do_open");
        assert_eq!(k.name(0x10), "0x10");
        assert_eq!(k.name(0), "0");
        let text = "ffffffff81000200 D some_data\nffffffff81000300 T do_open\t[ext4]\n";
        assert_eq!(address_in(text, "some_data"), Some(0xffffffff81000200));
        assert_eq!(address_in(text, "do_open"), Some(0xffffffff81000300));
        assert_eq!(address_in(text, "missing"), None);
        assert!(k.contains("__split_text_end"));
        assert!(!k.contains("some_data"));
        assert_eq!(k.ending_with("_open"), ["do_open"]);
    }

    #[test]
    fn made_up_symbols_name_addresses_alike() {
        let k = Ksyms::from_symbols([(0x2000, "b".to_string()), (0x1000, "a".to_string())]);
        assert_eq!(k.describe(0x1010), "a+16");
        assert_eq!(k.describe(0x2000), "b+0");
        assert_eq!(k.describe(0xfff), "0xfff");
        assert!(Ksyms::default().is_empty());
    }
}
