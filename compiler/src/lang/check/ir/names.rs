//! The name tables `func` and `probe` ids index: a [`NameTable`] holds
//! the distinct names in first-seen order and each name's id, so building
//! one is a single pass and a lookup is a hash probe. Wildcards expand to
//! tens of thousands of programs; every program looks its names up, and a
//! search of a list per lookup would make a spec's compile time grow with
//! the square of its attach points.

use std::collections::HashMap;

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
