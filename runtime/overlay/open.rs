//! Opening and closing overlays, and checking their handles.

use crate::error::Error;
use crate::heap::parts::Core;
use crate::key::Overlay;
use crate::overlay::state::OverlayState;

use std::sync::atomic::Ordering;

impl Core {
    /// [`Heap::overlay`](crate::Heap::overlay).
    pub(crate) fn open_overlay(&mut self) -> Overlay {
        let bit = self.overlays.take_bit();
        let key = self.overlays.open.insert(OverlayState::new(bit));
        Overlay { key, heap: self.id }
    }

    /// The state of an open overlay of this heap.
    pub(crate) fn overlay(&self, overlay: &Overlay) -> Result<&OverlayState, Error> {
        self.check_overlay(overlay)?;
        Ok(&self.overlays.open[overlay.key])
    }

    pub(crate) fn check_overlay(&self, overlay: &Overlay) -> Result<(), Error> {
        if overlay.heap != self.id {
            return Err(Error::ForeignOverlay {
                overlay: *overlay,
                heap: self.id,
            });
        }
        match self.overlays.open.contains_key(overlay.key) {
            true => Ok(()),
            false => Err(Error::OverlayClosed { overlay: *overlay }),
        }
    }

    /// [`Heap::discard`](crate::Heap::discard): drops everything the overlay held, and its
    /// marks on base objects.
    pub(crate) fn discard_overlay(&mut self, overlay: &Overlay) -> Result<(), Error> {
        self.check_overlay(overlay)?;
        // The objects it made, which the base never saw.
        let made: Vec<_> = self.overlays.open[overlay.key]
            .entries()
            .filter(|e| e.created)
            .map(|e| e.key)
            .collect();
        for key in made {
            drop(self.layer_uninsert(overlay.key, key));
        }
        let state = self
            .overlays
            .open
            .remove(overlay.key)
            .expect("checked to be open");
        // The copies it made, recorded on their objects.
        for entry in state.entries().filter(|e| e.fork.is_some()) {
            if let Some(slot) = self.slots.get(entry.key) {
                slot.ops
                    .detach_fork(&slot.obj, &mut self.owner, overlay.key);
            }
        }
        let bit = state.bit;
        // The last bit is cleared only with the last overlay sharing it.
        if self.overlays.free_bit(bit) {
            let graph = state.graph.lock();
            let keys = state
                .entries()
                .map(|e| e.key)
                .chain(graph.fields.keys().copied())
                .chain(graph.cells.keys().map(|c| c.key));
            for key in keys {
                if let Some(slot) = self.slots.get(key) {
                    slot.ops
                        .overlaid(slot.obj.get(&self.owner))
                        .fetch_and(!bit, Ordering::Relaxed);
                    let mut graph = slot.graph.lock();
                    graph.overlays &= !bit;
                }
            }
        }
        Ok(())
    }
}
