//! The classes of structurally equal immutable objects: their members and
//! representative, and the indexes that find a class by signature or by the unfolding of
//! a cycle. How objects are sorted into classes is in `intern`.

use crate::key::ObjectKey;
use indexmap::IndexSet;
use rustc_hash::FxBuildHasher;
use rustc_hash::FxHashMap;
use rustc_hash::FxHashSet;
use rustc_hash::FxHasher;
use slotmap::SlotMap;
use std::hash::Hasher;

/// The class of structurally equal immutable objects an object belongs to: equal for two
/// objects of one heap exactly when they are structurally equal (cycles included), so it
/// is a map key for immutable graphs. Valid while any object of the class lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassId {
    pub(crate) class: u64,
    pub(crate) heap: u64,
}

slotmap::new_key_type! {
    /// A class of structurally equal immutable objects.
    pub(crate) struct ClassKey;
}

/// How deep the unfolding hash of a class looks.
pub(crate) const DEPTH: usize = 3;

/// Hashes of an object's unfolding to depths `0..=DEPTH`: its shape, then its shape with
/// its children's hashes one level less deep. Equal objects have equal unfoldings.
pub(crate) type Unfolding = [u64; DEPTH + 1];

/// The classes of one heap and the indexes that find them.
#[derive(Debug, Default)]
pub(crate) struct Classes {
    pub(crate) classes: SlotMap<ClassKey, Class>,
    /// Signature → a class with it; classes sharing a signature hash are chained.
    pub(crate) by_signature: FxHashMap<u64, ClassKey>,
    /// Deepest unfolding hash → a class founded on a cycle with it, chained likewise.
    pub(crate) on_cycles: FxHashMap<u64, ClassKey>,
}

#[derive(Debug)]
pub(crate) struct Class {
    /// The member whose cells hold the class's caches.
    pub(crate) rep: ObjectKey,
    /// The other members: a set, so that removing one of a million costs O(1).
    pub(crate) others: IndexSet<ObjectKey, FxBuildHasher>,
    /// `None` for a class that is never looked up: an object that cannot be compared.
    pub(crate) signature: Option<u64>,
    pub(crate) next: Option<ClassKey>,
    pub(crate) unfolding: Unfolding,
    /// Founded on a cycle: indexed in `on_cycles`, chained by `next_on_cycle`.
    pub(crate) cyclic: bool,
    pub(crate) next_on_cycle: Option<ClassKey>,
}

pub(crate) fn hash_of(f: impl FnOnce(&mut FxHasher)) -> u64 {
    let mut h = FxHasher::default();
    f(&mut h);
    h.finish()
}

impl Classes {
    /// The representative of a class.
    pub(crate) fn rep(&self, class: ClassKey) -> ObjectKey {
        self.classes[class].rep
    }

    pub(crate) fn index(&mut self, class: ClassKey, signature: u64) {
        let next = self.by_signature.insert(signature, class);
        let c = &mut self.classes[class];
        c.signature = Some(signature);
        c.next = next;
        if c.cyclic {
            let deepest = c.unfolding[DEPTH];
            let next = self.on_cycles.insert(deepest, class);
            self.classes[class].next_on_cycle = next;
        }
    }

    /// Unchains `class` from the chain starting at `head[hash]`.
    pub(crate) fn unchain(
        classes: &mut SlotMap<ClassKey, Class>,
        head: &mut FxHashMap<u64, ClassKey>,
        hash: u64,
        class: ClassKey,
        link: fn(&mut Class) -> &mut Option<ClassKey>,
    ) {
        let next = *link(&mut classes[class]);
        let mut at = head[&hash];
        if at == class {
            match next {
                Some(n) => head.insert(hash, n),
                None => head.remove(&hash),
            };
            return;
        }
        while let Some(n) = *link(&mut classes[at]) {
            if n == class {
                *link(&mut classes[at]) = next;
                return;
            }
            at = n;
        }
    }

    /// Takes a removed object out of its class; returns the class's new representative if
    /// the removed object was the representative of a class that lives on.
    pub(crate) fn forget(&mut self, class: ClassKey, key: ObjectKey) -> Option<ObjectKey> {
        let c = &mut self.classes[class];
        if c.rep != key {
            c.others.swap_remove(&key);
            return None;
        }
        if let Some(next) = c.others.pop() {
            c.rep = next;
            return Some(next);
        }
        let (signature, cyclic, deepest) = (c.signature, c.cyclic, c.unfolding[DEPTH]);
        if let Some(s) = signature {
            Self::unchain(&mut self.classes, &mut self.by_signature, s, class, |c| {
                &mut c.next
            });
            if cyclic {
                Self::unchain(
                    &mut self.classes,
                    &mut self.on_cycles,
                    deepest,
                    class,
                    |c| &mut c.next_on_cycle,
                );
            }
        }
        self.classes.remove(class);
        None
    }

    /// Makes `new`, a member of `class`, its representative in place of `old`.
    pub(crate) fn set_rep(&mut self, class: ClassKey, old: ObjectKey, new: ObjectKey) {
        let c = &mut self.classes[class];
        debug_assert_eq!(c.rep, old);
        c.others.swap_remove(&new);
        c.others.insert(old);
        c.rep = new;
    }

    /// A member of `class` other than its representative and not in `leaving`.
    pub(crate) fn survivor(
        &self,
        class: ClassKey,
        leaving: &FxHashSet<ObjectKey>,
    ) -> Option<ObjectKey> {
        self.classes[class]
            .others
            .iter()
            .copied()
            .find(|k| !leaving.contains(k))
    }

    pub(crate) fn found(
        &mut self,
        rep: ObjectKey,
        others: IndexSet<ObjectKey, FxBuildHasher>,
        unfolding: Unfolding,
    ) -> ClassKey {
        self.classes.insert(Class {
            rep,
            others,
            signature: None,
            next: None,
            unfolding,
            cyclic: false,
            next_on_cycle: None,
        })
    }
}
