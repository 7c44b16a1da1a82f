//! Removing objects: what read them is invalidated and rechecked, and the removal is
//! refused if an invariant fails without them.

use crate::barrier::operate::raise;
use crate::diag::cause::Why;
use crate::error::Error;
use crate::track::graph::State;
use std::mem;

use crate::heap::parts::{Core, Slot};
use crate::key::{CellId, ObjectId, ObjectKey, Tag};

impl Core {
    /// Takes a removed object's slot out of the arena, with its class membership and the
    /// references it held.
    pub(crate) fn take_slot(&mut self, key: ObjectKey) -> Slot {
        let slot = self.slots.remove(key).expect("checked live");
        if slot.tag == Tag::Imm {
            slot.ops
                .handles(slot.obj.get(&self.owner), &mut |id: ObjectId| {
                    if let Some(s) = self.slots.get_mut(id.key).filter(|_| id.heap == self.id) {
                        s.imm_refs = s.imm_refs.saturating_sub(1);
                    }
                });
        }
        if let Some(class) = slot.class {
            if let Some(rep) = self.classes.forget(class, key) {
                // The new representative's eager caches were never started: its class's
                // were the old one's.
                let slot = &self.slots[rep];
                slot.ops.spawn_eager(&slot.obj);
            }
        }
        slot
    }

    /// Drops every back edge that the computations of `key`'s cells left on other objects.
    pub(crate) fn discard(&mut self, key: ObjectKey) {
        self.unwatch_removed(key);
        let deps: Vec<(CellId, Vec<crate::track::graph::Dep>)> = self.slots[key]
            .graph
            .get_mut()
            .nodes
            .iter_mut()
            .enumerate()
            .map(|(i, n)| {
                (
                    CellId {
                        key,
                        index: i as u32,
                    },
                    std::mem::take(&mut n.deps),
                )
            })
            .collect();
        for (id, deps) in deps {
            self.unlink(id, deps.iter());
        }
    }

    /// Removes `key` from view, invalidates what read it and rechecks; on failure the
    /// object comes back. The caller takes the slot out after success.
    pub(crate) fn remove_key(&mut self, key: ObjectKey) -> Result<(), Error> {
        self.remove_keys(&[key])
    }

    /// [`remove_key`](crate::heap::parts::Core::remove_key) for several objects at once, with one recheck.
    pub(crate) fn remove_keys(&mut self, keys: &[ObjectKey]) -> Result<(), Error> {
        self.hand_over_classes(keys);
        for &key in keys {
            self.slots[key].gone = true;
        }
        for &key in keys {
            self.mark_removed(key);
        }
        let settled = self.settle_journal();
        match settled {
            Ok(()) => {
                self.commit();
                for &key in keys {
                    self.discard(key);
                }
                Ok(())
            }
            Err(failure) => {
                self.rolled_back();
                let error = self.failure_error(failure);
                self.roll_back();
                for &key in keys {
                    self.slots[key].gone = false;
                }
                Err(raise(error))
            }
        }
    }

    pub(crate) fn mark_removed(&mut self, key: ObjectKey) {
        self.overlay_removed(key);
        let graph = self.slots[key].graph.get_mut();
        // The object's own cells that read its other cells go with it: nothing to recheck.
        let others = |c: &&CellId| c.key != key;
        let mut work = mem::take(&mut self.barrier.work);
        work.extend(
            graph
                .readers
                .keys()
                .filter(others)
                .map(|&c| (c, State::Dirty, Why::removed(key))),
        );
        for node in &graph.nodes {
            work.extend(
                node.dependents
                    .iter()
                    .filter(others)
                    .map(|&c| (c, State::Dirty, Why::removed(key))),
            );
        }
        self.mark(work);
    }
}
