//! The change feed: watched caches are brought up to date by every operation that
//! invalidates them, as `now` caches are (but a failure to compute one vetoes nothing), and
//! each operation that changes one's value — early cutoff respected — leaves an entry for
//! [`Heap::take_changes`](crate::Heap::take_changes), once it commits. Jane Street
//! Incremental's observers, without callbacks inside the barrier.

use crate::diag::watch::{ChangeKind, Watch};
use crate::error::{CacheName, Error};
use crate::heap::parts::Core;
use crate::key::{CellId, ObjectId, ObjectKey, Tag};

impl Core {
    /// [`Heap::watch`](crate::Heap::watch): `id`'s cache at `index`, computed now.
    pub(crate) fn watch(&mut self, id: ObjectId, index: usize) -> Result<Watch, Error> {
        let (slot, key) = self.slot(id)?;
        let watch = Watch {
            name: CacheName {
                object: id,
                type_name: slot.ops.type_name(),
                cache: slot.ops.cache_name(index),
            },
            index: index as u32,
        };
        let tag = slot.tag;
        if self
            .watches
            .by_object
            .get(&key)
            .is_some_and(|w| w.contains(&watch))
        {
            return Ok(watch);
        }
        // An immutable object's caches never change: only its removal is news.
        if tag != Tag::Imm {
            let cell = CellId {
                key,
                index: index as u32,
            };
            self.refresh(cell, None)?;
            self.materialize(key);
            let slot = &mut self.slots[key];
            let node = &mut slot.graph.get_mut().nodes[index];
            node.watched = true;
            node.eager = true;
            let reads = node.reads;
            // The own path settles a write without visiting nodes: writes of what the
            // cache reads go through the barrier, which brings it up to date.
            self.make_loud(&self.slots[key], reads);
        }
        self.watches.by_object.entry(key).or_default().push(watch);
        Ok(watch)
    }

    /// [`Heap::unwatch`](crate::Heap::unwatch).
    pub(crate) fn unwatch(&mut self, watch: &Watch) -> bool {
        if watch.name.object.heap != self.id {
            return false;
        }
        let key = watch.name.object.key;
        let Some(watched) = self.watches.by_object.get_mut(&key) else {
            return false;
        };
        let Some(at) = watched.iter().position(|w| w == watch) else {
            return false;
        };
        watched.swap_remove(at);
        if watched.is_empty() {
            self.watches.by_object.remove(&key);
        }
        if let Some(slot) = self.slots.get_mut(key) {
            let eager = slot.ops.cache_kind(watch.index as usize).is_eager();
            if let Some(node) = slot.graph.get_mut().nodes.get_mut(watch.index as usize) {
                node.watched = false;
                node.eager = eager;
            }
        }
        true
    }

    /// A watched cell was brought up to date with a changed value by the running
    /// operation.
    #[cold]
    pub(crate) fn watched_changed(&mut self, id: CellId) {
        self.watches.pending.push(id);
    }

    /// The running operation committed: its changes join the feed.
    pub(crate) fn commit_changes(&mut self) {
        if self.watches.pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut self.watches.pending);
        let from = self.watches.feed.len();
        for id in pending.drain(..) {
            if let Some(w) = self.watches.find(id) {
                // Once per operation, however often it settled the cell.
                if !self.watches.feed[from..].iter().any(|(seen, _)| *seen == w) {
                    self.watches.feed.push((w, ChangeKind::Changed));
                }
            }
        }
        // Kept, empty, for its allocation.
        self.watches.pending = pending;
    }

    /// The running operation rolled back: its changes are no news.
    pub(crate) fn drop_changes(&mut self) {
        self.watches.pending.clear();
    }

    /// The object at `key` is gone: its watches end with an entry each.
    pub(crate) fn unwatch_removed(&mut self, key: ObjectKey) {
        if let Some(watched) = self.watches.by_object.remove(&key) {
            self.watches
                .feed
                .extend(watched.into_iter().map(|w| (w, ChangeKind::Removed)));
        }
    }

    /// [`Heap::take_changes`](crate::Heap::take_changes).
    pub(crate) fn take_changes(&mut self) -> Vec<(Watch, ChangeKind)> {
        std::mem::take(&mut self.watches.feed)
    }
}
