//! Removing an object in an overlay: its reads there say it was removed, what read it there
//! is dirtied (and computed in the overlay from then on), and a commit removes it from the
//! base.

use crate::error::Error;
use crate::heap::parts::Core;
use crate::key::{ObjectId, ObjectKey, OverlayKey};

use std::any::Any;

/// What a removal in an overlay changed, to put back.
pub(crate) struct Removal {
    key: ObjectKey,
    /// The overlay's copy of the object, dropped by the removal.
    copy: Option<Box<dyn Any + Send + Sync>>,
}

impl Core {
    /// Marks the object removed in the overlay; nothing is checked.
    pub(crate) fn layer_mark_removed<T: crate::Object>(
        &mut self,
        overlay: OverlayKey,
        id: ObjectId,
    ) -> Result<Removal, Error> {
        let (slot, key) = self.layer_slot::<T>(&self.overlays.open[overlay], id)?;
        if slot.imm_refs > 0 {
            return Err(Error::Referenced {
                object: id,
                type_name: std::any::type_name::<T>(),
                holders: slot.imm_refs as usize,
            });
        }
        self.overlays.open[overlay].dirty_shadowed(&mut self.owner);
        let copy = self.unfork(overlay, key);
        // What the base computed from it is computed in the overlay from now on.
        self.take_over(&self.overlays.open[overlay], key);
        let state = &mut self.overlays.open[overlay];
        state.dirty_readers(&mut self.owner, key);
        // What read the base's values of the cells shadowed just now.
        state.dirty_shadowed(&mut self.owner);
        state.entry_mut(key).expect("made above").removed = true;
        Ok(Removal { key, copy })
    }

    /// Puts back what [`layer_mark_removed`](Core::layer_mark_removed) changed.
    pub(crate) fn layer_unremove(&mut self, overlay: OverlayKey, removal: Removal) {
        let key = removal.key;
        let state = &mut self.overlays.open[overlay];
        if let Some(entry) = state.entry_mut(key) {
            entry.removed = false;
        }
        state.dirty_readers(&mut self.owner, key);
        if let Some(copy) = removal.copy {
            let slot = &self.slots[key];
            slot.ops.attach_fork(&slot.obj, &mut self.owner, &*copy);
            let state = &mut self.overlays.open[overlay];
            state.entry_mut(key).expect("an entry").fork = Some(copy);
        }
    }

    /// [`LayerMut::revert`](crate::LayerMut::revert) of an object the overlay removed: an
    /// operation of the overlay, which reads the base's object again.
    pub(crate) fn layer_unremove_checked(
        &mut self,
        overlay: OverlayKey,
        id: ObjectId,
    ) -> Result<bool, Error> {
        let was_broken = self.overlays.open[overlay].broken.get_mut().clone();
        // The overlay no longer removes it: what the base wrote since is no conflict.
        let conflict = self.overlays.open[overlay].conflicts.remove(&id.key);
        let removal = Removal {
            key: id.key,
            copy: None,
        };
        self.layer_unremove(overlay, removal);
        let failure = match self.settle_layer(&self.overlays.open[overlay]) {
            Ok(()) => return Ok(true),
            Err(failure) => failure,
        };
        let error = self.layer_failure_error(overlay, failure);
        let state = &mut self.overlays.open[overlay];
        state.entry_mut(id.key).expect("an entry").removed = true;
        if conflict {
            state.conflicts.insert(id.key);
        }
        state.dirty_readers(&mut self.owner, id.key);
        *state.broken.get_mut() = was_broken;
        let _ = self.settle_layer(&self.overlays.open[overlay]);
        match error {
            Ok(error) => Err(error),
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }

    /// [`LayerMut::remove`](crate::LayerMut::remove): an operation of the overlay.
    pub(crate) fn layer_remove<T: crate::Object>(
        &mut self,
        overlay: OverlayKey,
        id: ObjectId,
    ) -> Result<(), Error> {
        let was_broken = self.overlays.open[overlay].broken.get_mut().clone();
        let removal = self.layer_mark_removed::<T>(overlay, id)?;
        let failure = match self.settle_layer(&self.overlays.open[overlay]) {
            Ok(()) => return Ok(()),
            Err(failure) => failure,
        };
        let error = self.layer_failure_error(overlay, failure);
        self.layer_unremove(overlay, removal);
        *self.overlays.open[overlay].broken.get_mut() = was_broken;
        let _ = self.settle_layer(&self.overlays.open[overlay]);
        match error {
            Ok(error) => Err(error),
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }
}
