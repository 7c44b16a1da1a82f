//! Objects made in an overlay: they live in the base's slot map, hidden from the base (its
//! reads get [`Error::OverlayOnly`]) until a commit makes them the base's, and every cell of
//! them is the overlay's.

use crate::decl::object::Object;
use crate::decl::stored::Link;
use crate::error::Error;
use crate::heap::parts::Core;
use crate::key::{ObjectKey, OverlayKey, Tag};

use std::any::Any;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Core {
    /// Puts a new object in the base's slot map for the overlay: hidden from the base, every
    /// cell the overlay's. Nothing is checked but its type's declaration.
    pub(crate) fn layer_insert<T: Object>(
        &mut self,
        overlay: OverlayKey,
        value: T,
        tag: Tag,
    ) -> Result<(ObjectKey, Arc<Link<T>>), Error> {
        let (key, link) = self.insert(value, tag)?;
        self.slots[key].gone = true;
        self.overlays.hidden += 1;
        let state = &self.overlays.open[overlay];
        self.take_over(state, key);
        let entry = state.entry(key).expect("made by the take-over");
        for held in entry.shadowed.iter() {
            held.store(true, Ordering::Release);
        }
        let state = &mut self.overlays.open[overlay];
        state.entry_mut(key).expect("made above").created = true;
        self.owe_checks_of(overlay, key);
        Ok((key, link))
    }

    /// Takes back an object made in the overlay: what read it there is dirtied, and its value
    /// is returned.
    pub(crate) fn layer_uninsert(
        &mut self,
        overlay: OverlayKey,
        key: ObjectKey,
    ) -> Box<dyn Any + Send + Sync> {
        let state = &mut self.overlays.open[overlay];
        state.dirty_readers(&mut self.owner, key);
        state.forget(key);
        self.overlays.hidden -= 1;
        self.discard(key);
        let slot = self.take_slot(key);
        slot.ops.unwrap_value(slot.obj, &mut self.owner)
    }

    /// [`LayerMut::mutable`](crate::LayerMut::mutable) and the like: an operation of the
    /// overlay, its `now` and `eager` caches computed and its invariants checked; refused,
    /// the object is taken back and its value handed back inside the error.
    pub(crate) fn layer_create<T: Object>(
        &mut self,
        overlay: OverlayKey,
        value: T,
        tag: Tag,
    ) -> Result<(ObjectKey, Arc<Link<T>>), Error> {
        let was_broken = self.overlays.open[overlay].broken.get_mut().clone();
        let (key, link) = self.layer_insert(overlay, value, tag)?;
        let failure = match self.settle_layer(&self.overlays.open[overlay]) {
            Ok(()) => return Ok((key, link)),
            Err(failure) => failure,
        };
        let error = self.layer_failure_error(overlay, failure);
        let value = self.layer_uninsert(overlay, key);
        *self.overlays.open[overlay].broken.get_mut() = was_broken;
        let _ = self.settle_layer(&self.overlays.open[overlay]);
        match error {
            Ok(error) => Err(error.holding(value)),
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }
}
