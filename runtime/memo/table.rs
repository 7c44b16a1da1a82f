//! A fork's children: a hash table whose entries sit in a vector grown a quarter at a time,
//! so that a child costs its entry and a few bytes of index, not the spare half of a
//! doubled table; and a hand, to evict the entries one at a time in a circle (SIEVE within
//! the table).

use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// A map from keys to values, by the key's hash, answers confirmed by equality (a poor hash
/// costs time, never a wrong entry).
pub(crate) struct Table<K, T> {
    entries: Vec<(K, T)>,
    /// Each entry's position, by its key's hash.
    index: HashTable<u32>,
    /// Where `sweep` looks first.
    hand: u32,
}

/// The hash a table keys an entry by.
pub(crate) fn hash<K: Hash>(key: &K) -> u64 {
    FxBuildHasher.hash_one(key)
}

impl<K, T> Default for Table<K, T> {
    fn default() -> Self {
        Table {
            entries: Vec::new(),
            index: HashTable::new(),
            hand: 0,
        }
    }
}

impl<K, T> Table<K, T> {
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(K, T)> {
        self.entries.iter()
    }
}

impl<K: Eq + Hash, T> Table<K, T> {
    fn position(&self, key: &K) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(hash(key), |&i| entries[i as usize].0 == *key)
            .map(|&i| i as usize)
    }

    pub(crate) fn get(&self, key: &K) -> Option<&T> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut T> {
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    /// Puts `value` under `key`, in place of what was there.
    pub(crate) fn insert(&mut self, key: K, value: T) {
        if let Some(i) = self.position(&key) {
            self.entries[i].1 = value;
            return;
        }
        if self.entries.len() == self.entries.capacity() {
            // A quarter more: amortized O(1) still, and at most a fifth of the vector idle.
            self.entries.reserve_exact(self.entries.len() / 4 + 4);
        }
        let at = u32::try_from(self.entries.len()).expect("fewer than 2^32 children");
        let h = hash(&key);
        self.entries.push((key, value));
        let entries = &self.entries;
        self.index
            .insert_unique(h, at, |&i| hash(&entries[i as usize].0));
    }

    /// Takes the entry of `key` out.
    pub(crate) fn remove(&mut self, key: &K) -> Option<T> {
        self.position(key).map(|i| self.remove_at(i).1)
    }

    /// Takes the entry at `i` out; the last entry takes its place.
    fn remove_at(&mut self, i: usize) -> (K, T) {
        let at = i as u32;
        if let Ok(slot) = self
            .index
            .find_entry(hash(&self.entries[i].0), |&j| j == at)
        {
            slot.remove();
        }
        let last = self.entries.len() - 1;
        let removed = self.entries.swap_remove(i);
        if i < last {
            let moved = hash(&self.entries[i].0);
            if let Some(slot) = self.index.find_mut(moved, |&j| j as usize == last) {
                *slot = at;
            }
        }
        if self.hand as usize >= self.entries.len() {
            self.hand = 0;
        }
        removed
    }

    /// Takes out the first entry from the hand on, in a circle, that `pick` chooses; `pick`
    /// may change the entries it passes (clear a mark, so that the next round chooses
    /// them). Looks at each entry at most twice; `None` if it chose none.
    pub(crate) fn sweep(&mut self, mut pick: impl FnMut(&mut T) -> bool) -> Option<(K, T)> {
        let n = self.entries.len();
        let mut i = self.hand as usize;
        for _ in 0..2 * n {
            if i >= n {
                i = 0;
            }
            if pick(&mut self.entries[i].1) {
                self.hand = i as u32;
                return Some(self.remove_at(i));
            }
            i += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, u32),
        Remove(u8),
        Sweep,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..40u8, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0..40u8).prop_map(Op::Remove),
            Just(Op::Sweep),
        ]
    }

    /// A key whose hash collides often: entries are told apart by equality.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    struct Key(u8);

    impl Hash for Key {
        fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
            h.write_u8(self.0 % 3);
        }
    }

    proptest! {
        /// The table agrees with a `HashMap` after every operation; a sweep takes out an
        /// odd value if there is one (the chosen ones), clearing nothing else.
        #[test]
        fn a_table_is_a_map(ops in prop::collection::vec(op(), 0..200)) {
            let mut table: Table<Key, u32> = Table::default();
            let mut model: HashMap<u8, u32> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        table.insert(Key(k), v);
                        model.insert(k, v);
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(table.remove(&Key(k)), model.remove(&k));
                    }
                    Op::Sweep => {
                        let taken = table.sweep(|v| *v % 2 == 1);
                        match taken {
                            Some((Key(k), v)) => {
                                prop_assert_eq!(v % 2, 1);
                                prop_assert_eq!(model.remove(&k), Some(v));
                            }
                            None => prop_assert!(model.values().all(|v| v % 2 == 0)),
                        }
                    }
                }
                prop_assert_eq!(table.len(), model.len());
                for (k, v) in &model {
                    prop_assert_eq!(table.get(&Key(*k)), Some(v));
                }
                for k in 0..40 {
                    prop_assert_eq!(table.get(&Key(k)).is_some(), model.contains_key(&k));
                }
            }
        }
    }

    #[test]
    fn a_sweep_clears_marks_and_comes_back_for_them() {
        // (value, mark): the sweep clears marks until it finds an unmarked entry.
        let mut table: Table<u8, (u32, bool)> = Table::default();
        for k in 0..4 {
            table.insert(k, (u32::from(k), true));
        }
        let pick = |e: &mut (u32, bool)| !std::mem::replace(&mut e.1, false);
        // Every mark is cleared in the first round; the second takes the first entry.
        assert_eq!(table.sweep(pick).map(|(k, _)| k), Some(0));
        table.get_mut(&2).unwrap().1 = true;
        // From the hand on: the entry moved into place 0 (3), then 1, ...
        let next = table.sweep(pick).map(|(k, _)| k);
        assert_eq!(next, Some(3));
        assert_eq!(table.sweep(pick).map(|(k, _)| k), Some(1));
        assert_eq!(table.sweep(pick).map(|(k, _)| k), Some(2));
        assert!(table.is_empty());
    }
}
