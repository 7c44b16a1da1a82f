//! Cache cells: a value published once per invalidation, and the stale value kept for
//! early cutoff and rollback.
//!
//! A hit is one acquire load (`OnceCell::get`) plus a relaxed load of the `seen` flag.
//! Publishing through `&self` costs the `OnceCell`'s own synchronisation and happens only
//! after the caller claimed the cell (see `track`); publishing through `&mut self` (the
//! barrier, which holds `&mut Heap`) is plain stores.

use std::any::Any;
use std::fmt;
use std::sync::atomic::Ordering;

use crate::sync::{Flag, Mutex, OnceCell};

/// How a cache compares values (early cutoff) and judges them (invariants). `eq` equates
/// only values that `hold`: a recheck that finds its value unchanged does not judge it again.
pub(crate) struct Rule<V> {
    pub(crate) eq: fn(&V, &V) -> bool,
    pub(crate) holds: fn(&V) -> bool,
}

impl<V> Clone for Rule<V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V> Copy for Rule<V> {}

/// The storage of one cached value: [`Object::Cells`](crate::Object::Cells) holds one per
/// cache, so that a cache's cell lies next to its object's value. Only the runtime reads
/// or writes it.
///
/// The field order is fixed: with the stale value's pointer first, a setter with an
/// invariant and a cache of the field measured 7.8–7.9 ns, against 8.7 ns in the order the
/// compiler picked (`cargo bench -p steadfast-benches --bench transactions`, k = 1).
#[repr(C)]
pub struct CacheCell<V> {
    /// The previous value while the cell is invalid (compared for early cutoff), and
    /// during a barrier until it commits (put back if it rolls back).
    stale: Stale<V>,
    value: OnceCell<V>,
    /// Read since it was last computed: the barrier recomputes such a cache at the end of
    /// the write that invalidates it (under `&mut Heap`, without atomics), so that a read
    /// after a write is a hit.
    seen: Flag,
}

/// Where a cell keeps its stale value: boxed, and only once the cell first needs one (an
/// invalidation through `&mut Heap` that keeps a value aside), so that a cell that is
/// never invalidated while valid costs one pointer here. Through `&Heap` a stale value is
/// only read or taken, never made, so the box is never created there. Once made it stays,
/// so that a cell invalidated again and again allocates once.
struct Stale<V>(Option<Box<Mutex<Option<V>>>>);

impl<V> Stale<V> {
    /// The stale value, exclusively; `None` also when no box was ever made.
    fn get_mut(&mut self) -> Option<&mut Option<V>> {
        self.0.as_deref_mut().map(Mutex::get_mut)
    }

    fn take_mut(&mut self) -> Option<V> {
        self.get_mut().and_then(Option::take)
    }

    fn is_none_mut(&mut self) -> bool {
        self.get_mut().is_none_or(|v| v.is_none())
    }

    fn clear(&mut self) {
        if let Some(v) = self.get_mut() {
            *v = None;
        }
    }

    fn put(&mut self, value: V) {
        match self.get_mut() {
            Some(v) => *v = Some(value),
            None => self.0 = Some(Box::new(Mutex::new(Some(value)))),
        }
    }
}

impl<V> Default for CacheCell<V> {
    fn default() -> Self {
        CacheCell {
            value: OnceCell::new(),
            seen: Flag::new(false),
            stale: Stale(None),
        }
    }
}

impl<V> fmt::Debug for CacheCell<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.value.get().is_some() {
            "CacheCell(valid)"
        } else {
            "CacheCell(invalid)"
        })
    }
}

impl<V: Send + Sync + 'static> CacheCell<V> {
    /// The value, if valid. Marks the cell as read.
    #[inline]
    pub(crate) fn get(&self) -> Option<&V> {
        let v = self.value.get()?;
        if !self.seen.load(Ordering::Relaxed) {
            self.seen.store(true, Ordering::Relaxed);
        }
        Some(v)
    }

    /// The value, if valid, without marking the cell as read: for cells no write can
    /// invalidate (an immutable object's), where the mark would be unused.
    #[inline]
    pub(crate) fn peek(&self) -> Option<&V> {
        self.value.get()
    }

    /// Whether it was read since it was last computed.
    pub(crate) fn seen_mut(&mut self) -> bool {
        self.seen.get()
    }

    /// Replaces a valid value by a fresh one (no early cutoff: for a cell without
    /// dependents, under `&mut Heap`).
    pub(crate) fn replace(&mut self, value: V) {
        self.value = OnceCell::with_value(value);
        self.seen.set(false);
    }

    pub(crate) fn take(&mut self) -> Option<V> {
        self.seen.set(false);
        self.value.take()
    }

    fn judge(new: &V, old: Option<&V>, rule: Rule<V>) -> Fresh {
        Fresh {
            changed: !old.is_some_and(|old| (rule.eq)(old, new)),
            failed: !(rule.holds)(new),
        }
    }

    pub(crate) fn publish_shared(&self, value: V, rule: Rule<V>, keep_stale: bool) -> Fresh {
        let fresh = match &self.stale.0 {
            Some(stale) => {
                let mut stale = stale.lock();
                let fresh = Self::judge(&value, stale.as_ref(), rule);
                if !keep_stale {
                    *stale = None;
                }
                fresh
            }
            None => Self::judge(&value, None, rule),
        };
        self.seen.store(true, Ordering::Relaxed);
        let _ = self.value.set(value);
        fresh
    }

    pub(crate) fn publish_owned(&mut self, value: V, rule: Rule<V>, keep_stale: bool) -> Fresh {
        let stale = self.stale.get_mut();
        let fresh = Self::judge(&value, stale.as_ref().and_then(|s| s.as_ref()), rule);
        if !keep_stale {
            self.stale.clear();
        }
        self.seen.set(false);
        self.value = OnceCell::with_value(value);
        fresh
    }

    /// Publishes `value` through `&mut self`, keeping the stale value aside (for a commit
    /// or a rollback) — unless that value is equal to `value`: then it is valid again,
    /// with nothing kept aside. Values that are found equal hold (see [`Rule`]).
    pub(crate) fn publish_or_revive(&mut self, value: V, rule: Rule<V>) -> Fresh {
        let equal = |old: &mut V| (rule.eq)(old, &value);
        match self.stale.get_mut().and_then(|s| s.take_if(equal)) {
            Some(old) => {
                debug_assert!((rule.holds)(&value), "a value found equal holds");
                self.value = OnceCell::with_value(old);
                self.seen.set(false);
                Fresh {
                    changed: false,
                    failed: false,
                }
            }
            None => self.publish_owned(value, rule, true),
        }
    }
}

/// The result of bringing a cell up to date by computing it.
#[derive(Clone, Copy, Debug)]
pub struct Fresh {
    /// The value differs from the one it replaces (or there was none).
    pub(crate) changed: bool,
    /// The value is an invariant's `Err`.
    pub(crate) failed: bool,
}

/// A cell with its value type erased, as the heap stores it.
pub trait ErasedCell: Send + Sync {
    /// Whether the cell holds a valid value.
    fn is_ready(&self) -> bool;
    /// Makes a valid value invalid, keeping it as the stale value if `keep` or if it was
    /// read since it was computed (else it is dropped); returns whether it had been read,
    /// or `None` if the cell held no valid value (its stale value, if any, stays as it
    /// is).
    fn invalidate(&mut self, keep: bool) -> Option<bool>;
    /// Makes the cell invalid and forgets its stale value: for a cell settled on its
    /// object's own path, which no other cell reads (no early cutoff to serve) and whose
    /// rollback is not the journal's.
    fn clear(&mut self);
    /// Makes the stale value valid again (a check found its inputs unchanged); returns
    /// whether the cell is valid (it is not if it had no stale value to take back).
    fn revalidate_shared(&self) -> bool;
    fn revalidate_owned(&mut self) -> bool;
    /// Returns to the state before a barrier began: valid with its old value, or invalid.
    fn roll_back(&mut self, was_valid: bool);
    /// Forgets the stale value of a valid cell once a barrier commits.
    fn commit(&mut self);
    /// Moves the valid value out, leaving the cell invalid (a class's caches handed to a
    /// new representative).
    fn take_value(&mut self) -> Option<Box<dyn Any + Send>>;
    /// Makes a value that [`take_value`](ErasedCell::take_value) took from a cell of the
    /// same type this cell's valid value.
    fn put_value(&mut self, value: Box<dyn Any + Send>);
}

impl<V: Send + Sync + 'static> ErasedCell for CacheCell<V> {
    fn is_ready(&self) -> bool {
        self.value.get().is_some()
    }

    fn invalidate(&mut self, keep: bool) -> Option<bool> {
        let seen = self.seen.set(false);
        let v = self.value.take()?;
        if keep || seen {
            self.stale.put(v);
        }
        Some(seen)
    }

    fn clear(&mut self) {
        self.value.take();
        self.stale.clear();
        self.seen.set(false);
    }

    fn revalidate_shared(&self) -> bool {
        if let Some(v) = self.stale.0.as_ref().and_then(|s| s.lock().take()) {
            let _ = self.value.set(v);
        }
        self.value.get().is_some()
    }

    fn revalidate_owned(&mut self) -> bool {
        if let Some(v) = self.stale.take_mut() {
            self.value = OnceCell::with_value(v);
        }
        self.value.get().is_some()
    }

    fn roll_back(&mut self, was_valid: bool) {
        if was_valid {
            if let Some(old) = self.stale.take_mut() {
                self.value = OnceCell::with_value(old);
            }
        } else if let Some(v) = self.value.take() {
            if self.stale.is_none_mut() {
                self.stale.put(v);
            }
            // Invalid: not read since computed.
            self.seen.set(false);
        }
    }

    fn commit(&mut self) {
        if self.value.get().is_some() {
            self.stale.clear();
        }
    }

    fn take_value(&mut self) -> Option<Box<dyn Any + Send>> {
        self.seen.set(false);
        self.value
            .take()
            .map(|v| Box::new(v) as Box<dyn Any + Send>)
    }

    fn put_value(&mut self, value: Box<dyn Any + Send>) {
        let value = value.downcast::<V>().expect("a value of the cell's type");
        self.value = OnceCell::with_value(*value);
        self.stale.clear();
    }
}
