//! The name tables `func` and `probe` ids index: a [`NameTable`] holds
//! the distinct names in first-seen order and each name's id, so building
//! one is a single pass and a lookup is a hash probe. Wildcards expand to
//! tens of thousands of programs; every program looks its names up, and a
//! search of a list per lookup would make a spec's compile time grow with
//! the square of its attach points. The tables of a spec are its
//! programs' distinct `func` and `probe` values ([`Checked::sym_table`]).

use std::collections::HashMap;

use super::{Checked, ProbeProgram, Sym};

/// Distinct names, each with its id: its position in first-seen order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameTable {
    names: Vec<String>,
    ids: HashMap<String, usize>,
}

impl NameTable {
    /// The table of `names`, duplicates after the first dropped.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> NameTable {
        let mut t = NameTable::default();
        for n in names {
            t.insert(n);
        }
        t
    }

    /// `name`'s id, added at the end if it is new.
    pub fn insert(&mut self, name: &str) -> usize {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len();
        self.ids.insert(name.to_string(), id);
        self.names.push(name.to_string());
        id
    }

    /// The id of `name`, if the table holds it.
    pub fn id(&self, name: &str) -> Option<usize> {
        self.ids.get(name).copied()
    }

    /// The names, id k at index k.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn into_names(self) -> Vec<String> {
        self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

impl Checked {
    /// The names a [`Ty::Sym`] of `sym` indexes: the distinct `func` or
    /// `probe` values of the programs, in program order.
    pub fn names(&self, sym: Sym) -> Vec<String> {
        self.sym_table(sym).into_names()
    }

    /// The table of [`names`](Self::names) with each name's id, built in
    /// one pass over the programs: build it once where many programs look
    /// their ids up.
    pub fn sym_table(&self, sym: Sym) -> NameTable {
        // The programs a loader runs probe no function.
        let values = self.programs.iter().filter_map(|p| p.sym_value(sym));
        NameTable::new(values.filter(|v| !v.is_empty()))
    }

    /// The id `func` or `probe` has in program `p` (one pass over the
    /// programs: for many programs, look them up in one
    /// [`sym_table`](Self::sym_table)).
    pub fn sym_id(&self, sym: Sym, p: &ProbeProgram) -> i64 {
        match p.sym_value(sym) {
            Some(v) => {
                let table = self.sym_table(sym);
                table.id(v).unwrap_or(table.len()) as i64
            }
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_first_appearance_and_repeats_keep_theirs() {
        let t = NameTable::new(["b", "a", "b", "c", "a"]);
        assert_eq!(t.names(), ["b", "a", "c"]);
        assert_eq!(t.id("b"), Some(0));
        assert_eq!(t.id("a"), Some(1));
        assert_eq!(t.id("c"), Some(2));
        assert_eq!(t.id("d"), None);
        assert_eq!(t.len(), 3);
    }
}
