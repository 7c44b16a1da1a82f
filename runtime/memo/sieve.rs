//! The eviction queue of a memo's leaves: SIEVE (Zhang et al., NSDI '24). New leaves enter
//! at the head; a hand moves from the tail towards the head, clearing the mark of each leaf
//! hit since it last passed and evicting the first one that was not. Unlike LRU, a hit
//! moves nothing (it sets a flag in the leaf, with no lock), and unlike CLOCK, survivors stay
//! where they are, so that one-off runs leave before long-lived ones.
//!
//! A doubly linked list in a slab: push, evict and unlink are O(1) (an eviction passes each
//! marked leaf at most once).

/// A slot index (a memo holds fewer than 2^32 leaves).
type At = u32;

struct Slot<T> {
    item: Option<T>,
    /// Towards the head (pushed later).
    newer: Option<At>,
    /// Towards the tail (pushed earlier).
    older: Option<At>,
}

pub(crate) struct Sieve<T> {
    slots: Vec<Slot<T>>,
    free: Vec<At>,
    head: Option<At>,
    tail: Option<At>,
    /// Where the next eviction looks first; `None`: at the tail.
    hand: Option<At>,
}

impl<T> Default for Sieve<T> {
    fn default() -> Self {
        Sieve {
            slots: Vec::new(),
            free: Vec::new(),
            head: None,
            tail: None,
            hand: None,
        }
    }
}

impl<T> Sieve<T> {
    /// Adds an item at the head.
    pub(crate) fn push(&mut self, item: T) {
        let slot = Slot {
            item: Some(item),
            newer: None,
            older: self.head,
        };
        let at = match self.free.pop() {
            Some(at) => {
                self.slots[at as usize] = slot;
                at
            }
            None => {
                self.slots.push(slot);
                At::try_from(self.slots.len() - 1).expect("fewer than 2^32 leaves")
            }
        };
        match self.head {
            Some(head) => self.slots[head as usize].newer = Some(at),
            None => self.tail = Some(at),
        }
        self.head = Some(at);
    }

    /// Takes the next item to evict: from the hand towards the head (wrapping to the
    /// tail), the first for which `take_seen` (which clears its mark) says it was not hit
    /// since the hand last passed. `None` if the queue is empty.
    pub(crate) fn evict(&mut self, mut take_seen: impl FnMut(&T) -> bool) -> Option<T> {
        let mut at = self.hand.or(self.tail)?;
        loop {
            let slot = &self.slots[at as usize];
            if !take_seen(slot.item.as_ref().expect("a linked slot holds an item")) {
                self.hand = slot.newer;
                return self.unlink(at);
            }
            at = slot.newer.or(self.tail)?;
        }
    }

    /// Drops every item `keep` refuses.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let mut next = self.tail;
        while let Some(at) = next {
            next = self.slots[at as usize].newer;
            if !keep(
                self.slots[at as usize]
                    .item
                    .as_ref()
                    .expect("a linked slot holds an item"),
            ) {
                if self.hand == Some(at) {
                    self.hand = next;
                }
                self.unlink(at);
            }
        }
    }

    /// Drops every item.
    pub(crate) fn clear(&mut self) {
        *self = Sieve::default();
    }

    /// The items queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    fn unlink(&mut self, at: At) -> Option<T> {
        let Slot { item, newer, older } = std::mem::replace(
            &mut self.slots[at as usize],
            Slot {
                item: None,
                newer: None,
                older: None,
            },
        );
        match newer {
            Some(n) => self.slots[n as usize].older = older,
            None => self.head = older,
        }
        match older {
            Some(o) => self.slots[o as usize].newer = newer,
            None => self.tail = newer,
        }
        self.free.push(at);
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// SIEVE as its paper writes it, over a `VecDeque` (head at the back): the oracle.
    #[derive(Default)]
    struct Naive {
        queue: VecDeque<(u32, bool)>,
        /// Index of the hand from the front (the tail), or `None`.
        hand: Option<usize>,
    }

    impl Naive {
        fn evict(&mut self) -> Option<u32> {
            let mut at = self.hand.unwrap_or(0);
            if self.queue.is_empty() {
                return None;
            }
            loop {
                if at >= self.queue.len() {
                    at = 0;
                }
                if self.queue[at].1 {
                    self.queue[at].1 = false;
                    at += 1;
                } else {
                    let (item, _) = self.queue.remove(at).unwrap();
                    self.hand = (at < self.queue.len()).then_some(at);
                    return Some(item);
                }
            }
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push,
        Hit(usize),
        Evict,
        Drop(usize),
    }

    proptest! {
        /// The slab list evicts what the paper's SIEVE evicts, in the same order.
        #[test]
        fn evicts_as_the_paper_says(ops in prop::collection::vec(
            prop_oneof![
                3 => Just(Op::Push),
                3 => (0..16usize).prop_map(Op::Hit),
                2 => Just(Op::Evict),
                1 => (0..16usize).prop_map(Op::Drop),
            ],
            0..200,
        )) {
            let mut sieve: Sieve<u32> = Sieve::default();
            let mut seen = std::collections::HashMap::new();
            let mut naive = Naive::default();
            let mut next = 0;
            for op in ops {
                match op {
                    Op::Push => {
                        sieve.push(next);
                        seen.insert(next, false);
                        naive.queue.push_back((next, false));
                        next += 1;
                    }
                    Op::Hit(i) => {
                        if let Some((item, mark)) = naive.queue.get_mut(i) {
                            *mark = true;
                            seen.insert(*item, true);
                        }
                    }
                    Op::Evict => {
                        let got = sieve.evict(|item| {
                            std::mem::replace(seen.get_mut(item).unwrap(), false)
                        });
                        prop_assert_eq!(got, naive.evict());
                    }
                    Op::Drop(i) => {
                        if let Some(&(item, _)) = naive.queue.get(i) {
                            sieve.retain(|x| *x != item);
                            naive.queue.remove(i);
                            naive.hand = match naive.hand {
                                Some(h) if h > i => Some(h - 1),
                                Some(h) if h == i && h >= naive.queue.len() => None,
                                h => h,
                            };
                        }
                    }
                }
                prop_assert_eq!(sieve.len(), naive.queue.len());
            }
        }
    }
}
