//! Removing objects: what read them is invalidated and rechecked, and the removal is
//! refused if an invariant fails without them.

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
}
