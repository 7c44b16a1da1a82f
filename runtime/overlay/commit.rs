//! Committing an overlay: one operation on the base that writes every copy the overlay
//! made over its object, checked once (the base's invariants), rolled back whole on
//! failure with the overlay left as it was.

use crate::decl::field::FieldMask;
use crate::diag::cause::OpKind;
use crate::diag::trace::op;
use crate::error::Error;
use crate::heap::parts::Core;
use crate::key::{CellId, ObjectKey, Overlay, Tag};
use crate::overlay::read::LayerFailure;

use std::panic;

impl Core {
    /// [`Heap::commit`](crate::Heap::commit).
    pub(crate) fn commit_overlay(&mut self, overlay: &Overlay) -> Result<(), Error> {
        self.check_overlay(overlay)?;
        if self.barrier.in_barrier {
            return Err(Error::OverlayInTransaction { overlay: *overlay });
        }
        // A conflict first: whatever the overlay's state, the base moved under it.
        let state = &self.overlays.open[overlay.key];
        let written: Vec<ObjectKey> = state
            .entries()
            .filter(|e| e.fork.is_some())
            .map(|e| e.key)
            .collect();
        let removed: Vec<ObjectKey> = state
            .entries()
            .filter(|e| e.removed && !e.created)
            .map(|e| e.key)
            .collect();
        // Frozen since (`Heap::freeze`) counts as written: it may not be written any more.
        let moved = |k: &&ObjectKey| {
            state.conflicts.contains(k) || self.slots.get(**k).is_none_or(|s| s.tag == Tag::Imm)
        };
        if let Some(&key) = written.iter().chain(&removed).find(moved) {
            return Err(Error::Conflict {
                overlay: *overlay,
                object: self.id_of(key),
            });
        }
        // Held by immutable objects made since.
        if let Some(&key) = removed.iter().find(|&&k| self.slots[k].imm_refs > 0) {
            let slot = &self.slots[key];
            return Err(Error::Referenced {
                object: self.id_of(key),
                type_name: slot.ops.type_name(),
                holders: slot.imm_refs as usize,
            });
        }
        if let Err(LayerFailure::Panic(payload)) = self.settle_layer(state) {
            panic::resume_unwind(payload);
        }
        if let Some(&invariant) = state.broken.lock().first() {
            return Err(Error::OverlayBroken {
                overlay: *overlay,
                invariant: self.name_of(invariant),
            });
        }
        let made: Vec<ObjectKey> = state
            .entries()
            .filter(|e| e.created && !e.removed)
            .map(|e| e.key)
            .collect();
        self.clock.begin(OpKind::Commit);
        let _op = op(OpKind::Commit, None, "");
        self.reveal(&made, true);
        self.swap_forks(overlay, &written);
        for &key in &written {
            self.invalidate(key, FieldMask::ALL);
        }
        self.hand_over_classes(&removed);
        for &key in &removed {
            self.slots[key].gone = true;
        }
        for &key in &removed {
            self.mark_removed(key);
        }
        self.rev += 1;
        match self.settle_journal() {
            Ok(()) => {
                self.commit();
                // The base's objects now: not taken back with the overlay.
                let state = &mut self.overlays.open[overlay.key];
                for &key in &made {
                    state.entry_mut(key).expect("made in the overlay").created = false;
                }
                for &key in &written {
                    let count = self.slots[key].ops.field_names().len();
                    self.wrote(key, FieldMask::ALL, count);
                }
                for &key in &removed {
                    self.discard(key);
                    let slot = self.take_slot(key);
                    drop(slot.ops.unwrap_value(slot.obj, &mut self.owner));
                }
                self.discard_overlay(overlay)
            }
            Err(failure) => {
                let error = self.failure_error(failure);
                self.roll_back();
                self.rolled_back();
                for &key in &removed {
                    self.slots[key].gone = false;
                }
                self.swap_forks(overlay, &written);
                self.reveal(&made, false);
                match error {
                    Ok(error) => Err(error),
                    Err(payload) => panic::resume_unwind(payload),
                }
            }
        }
    }

    /// Shows the objects at `keys`, made in an overlay, to the base (`shown`), their `now`
    /// and `eager` caches journaled for the commit to settle; or hides them again.
    fn reveal(&mut self, keys: &[ObjectKey], shown: bool) {
        for &key in keys {
            self.slots[key].gone = !shown;
        }
        match shown {
            true => self.overlays.hidden -= keys.len(),
            false => {
                self.overlays.hidden += keys.len();
                return;
            }
        }
        let epoch = self.barrier.epoch;
        let journal = &mut self.barrier.journal.get_mut().records;
        for &key in keys {
            let nodes = &mut self.slots[key].graph.get_mut().nodes;
            for (index, node) in nodes.iter_mut().enumerate() {
                if node.eager {
                    let id = CellId {
                        key,
                        index: index as u32,
                    };
                    node.save(id, false, false, false, epoch, journal);
                    self.barrier.urgent += 1;
                }
            }
        }
    }

    /// Swaps the values of the objects at `keys` with the overlay's copies of them.
    fn swap_forks(&mut self, overlay: &Overlay, keys: &[ObjectKey]) {
        let state = &self.overlays.open[overlay.key];
        for &key in keys {
            let slot = &self.slots[key];
            let fork = state
                .entry(key)
                .and_then(|e| e.fork.as_deref())
                .expect("a copy the overlay made");
            slot.ops.swap_fork(&slot.obj, fork, &mut self.owner);
        }
    }
}
